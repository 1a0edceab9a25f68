"""Mutual TLS: a client certificate signed by MODELWRAP_TLS_CLIENT_CA is accepted and becomes the
request's principal (scopes from MODELWRAP_TLS_CLIENT_SCOPES); no certificate, one from another CA
or one not meant for client authentication is refused during the handshake."""
import http.client
import json
import os
import ssl

import pytest

from conftest import IRIS_ROW
from tls_util import https_request, pki, tmp_path_str, wait_file_line  # noqa: F401

REFUSED = (ssl.SSLError, ConnectionError, http.client.HTTPException, OSError)


def mtls_args(pki, *extra):
    return pki.server_args("server-ec") + ["--tls-client-ca", pki.p("client-ca.crt"), *extra]


def refused(port, pki, cert, **kw):
    """The request fails in the handshake (TLS 1.2) or right after it (TLS 1.3 checks the client
    certificate after the server's Finished): either way no HTTP answer arrives."""
    with pytest.raises(REFUSED):
        https_request(port, "/api/v1/health", pki, cert=cert, **kw)


@pytest.mark.parametrize("tls_max", [None, ssl.TLSVersion.TLSv1_2])
def test_required_mode(make_server, pki, tls_max):
    s = make_server(mtls_args(pki))
    r = https_request(s.port, "/api/v1/health", pki, cert="client", tls_max=tls_max)
    assert r.status == 200, r.body
    refused(s.port, pki, None, tls_max=tls_max)
    refused(s.port, pki, "client-rogue", tls_max=tls_max)
    refused(s.port, pki, "client-wrong-eku", tls_max=tls_max)
    # the server keeps serving good clients
    assert https_request(s.port, "/api/v1/health", pki, cert="client").status == 200
    s.wait_log(lambda rec: rec.get("msg", "").startswith("TLS handshake refused"))


def test_certificate_is_the_principal(make_server, pki, tmp_path_str):
    audit = os.path.join(tmp_path_str, "audit.log")
    s = make_server(mtls_args(pki, "--api-keys-file", os.path.join(tmp_path_str, "keys.json"),
                              "--audit-log", audit), auth="required")
    # no API key, no token: the verified certificate authenticates (scopes predict, read)
    r = https_request(s.port, "/api/v1/models", pki, cert="client")
    assert r.status == 200, r.body
    r = https_request(s.port, "/api/v1/predict", pki, cert="client", method="POST",
                      body=json.dumps({"data": [IRIS_ROW]}))
    assert r.status == 200, r.body
    rid = r.header("X-Request-Id")
    # the audit record names the certificate's subject
    line = wait_file_line(audit, rid)
    assert "mtls" in line and "CN=svc-a" in line, line


def test_client_scopes(make_server, pki, tmp_path_str):
    s = make_server(mtls_args(pki, "--tls-client-scopes", "read", "--api-keys-file",
                              os.path.join(tmp_path_str, "keys.json")), auth="required")
    assert https_request(s.port, "/api/v1/models", pki, cert="client").status == 200
    r = https_request(s.port, "/api/v1/predict", pki, cert="client", method="POST",
                      body=json.dumps({"data": [IRIS_ROW]}))
    assert r.status == 403, r.body
    assert r.json()["code"] == "insufficient_scope"


def test_optional_mode(make_server, pki, tmp_path_str):
    s = make_server(mtls_args(pki, "--tls-client-auth", "optional", "--api-keys-file",
                              os.path.join(tmp_path_str, "keys.json")), auth="required")
    # without a certificate the handshake succeeds and the other credentials are required
    r = https_request(s.port, "/api/v1/models", pki)
    assert r.status == 401, r.body
    assert https_request(s.port, "/api/v1/health", pki).status == 200  # no scope needed
    assert https_request(s.port, "/api/v1/models", pki, cert="client").status == 200
    # a certificate that does not verify is still refused, never ignored
    refused(s.port, pki, "client-rogue")
