"""HTTPS in-process: RSA and ECDSA certificates, TLS 1.2 and 1.3 only, forward-secret AEAD
suites only, the security headers, and clear start-up errors for bad certificates, keys and
priority strings."""
import json
import socket
import ssl

import pytest

from conftest import IRIS_ROW
from tls_util import (curl, https_connection, https_request, pki, renegotiation_probe,  # noqa
                      start_failure, subject_cn, tmp_path_str)

PREDICT = "/api/v1/predict"


def curl_url(pki, port, *args):
    return curl("--cacert", pki.p("ca.crt"), *args, "-o", "/dev/null", "-w", "%{http_code}",
                "https://localhost:%d/api/v1/health" % port)


@pytest.mark.parametrize("kind", ["server-rsa", "server-ec"])
def test_https_serves_with_security_headers(make_server, pki, kind):
    s = make_server(pki.server_args(kind))
    r = https_request(s.port, "/api/v1/health", pki)
    assert r.status == 200, r.body
    assert r.json()["is_alive"] is True
    assert subject_cn(r.cert) == "localhost"
    assert r.header("Strict-Transport-Security") == "max-age=31536000"
    assert r.header("X-Content-Type-Options") == "nosniff"
    assert r.header("Cache-Control") == "no-store"
    assert r.header("Server") is None or "modelwrap" not in r.header("Server")
    # a predict over HTTPS, on a keep-alive connection
    conn = https_connection(s.port, pki)
    for _ in range(3):
        r = https_request(s.port, PREDICT, pki, method="POST", body=json.dumps({"data": [IRIS_ROW]}),
                          conn=conn)
        assert r.status == 200, r.body
    conn.close()
    # the negotiated suite is forward secret and authenticated encryption
    name, version, _ = r.cipher
    assert version in ("TLSv1.2", "TLSv1.3")
    assert "GCM" in name or "CHACHA20" in name or "CCM" in name, name
    # the log knows the request came over TLS from 127.0.0.1
    s.wait_log(lambda rec: rec.get("msg") == "request" and rec.get("path") == PREDICT and
               rec.get("status") == 200)


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1:DeprecationWarning")
def test_protocol_versions(make_server, pki):
    s = make_server(pki.server_args("server-ec"))
    rc, out, err = curl_url(pki, s.port, "--tlsv1.3")
    assert (rc, out) == (0, "200"), err
    rc, out, err = curl_url(pki, s.port, "--tlsv1.2", "--tls-max", "1.2")
    assert (rc, out) == (0, "200"), err
    # TLS 1.1 and 1.0 are refused by the server during the handshake (curl's exit 35: SSL
    # connect error), even with a client that allows every old suite
    for maxv in ("1.1", "1.0"):
        rc, out, err = curl_url(pki, s.port, "--tlsv1", "--tls-max", maxv, "--ciphers",
                                "DEFAULT:@SECLEVEL=0")
        assert rc != 0 and out in ("", "000"), (maxv, rc, out, err)
    # the same with Python's ssl module, and the versions it actually negotiates
    assert https_request(s.port, "/api/v1/health", pki, tls_max=ssl.TLSVersion.TLSv1_2).version \
        == "TLSv1.2"
    assert https_request(s.port, "/api/v1/health", pki, tls_min=ssl.TLSVersion.TLSv1_3).version \
        == "TLSv1.3"
    with pytest.raises((ssl.SSLError, ConnectionError)):
        https_request(s.port, "/api/v1/health", pki, tls_min=ssl.TLSVersion.TLSv1,
                      tls_max=ssl.TLSVersion.TLSv1_1, ciphers="DEFAULT:@SECLEVEL=0")


def test_weak_suites_refused(make_server, pki):
    s = make_server(pki.server_args("server-rsa"))
    # TLS 1.2 without forward secrecy (static RSA key exchange) or without AEAD (CBC + HMAC)
    for suite in ("AES128-GCM-SHA256", "AES256-SHA256", "ECDHE-RSA-AES128-SHA256",
                  "ECDHE-RSA-AES256-SHA", "DHE-RSA-AES128-GCM-SHA256"):
        with pytest.raises((ssl.SSLError, ConnectionError)):
            https_request(s.port, "/api/v1/health", pki, tls_max=ssl.TLSVersion.TLSv1_2,
                          ciphers=suite)
    r = https_request(s.port, "/api/v1/health", pki, tls_max=ssl.TLSVersion.TLSv1_2,
                      ciphers="ECDHE-RSA-CHACHA20-POLY1305")
    assert r.status == 200
    assert r.cipher[0] == "ECDHE-RSA-CHACHA20-POLY1305"


def test_client_renegotiation_refused(make_server, pki):
    """TLS 1.2 client-initiated renegotiation (a DoS lever, CVE-2011-1473) ends the connection."""
    s = make_server(pki.server_args("server-rsa"))
    control = renegotiation_probe(s.port, renegotiate=False)
    assert "HTTP/1.1 200" in control, control[-2000:]
    out = renegotiation_probe(s.port)
    assert "RENEGOTIATING" in out, out[-2000:]
    assert "HTTP/1.1 200" not in out, out[-2000:]
    assert https_request(s.port, "/api/v1/health", pki).status == 200


def test_plain_http_gets_no_answer(make_server, pki):
    """No request is served in clear text on the HTTPS port."""
    s = make_server(pki.server_args("server-ec"))
    sock = socket.create_connection(("127.0.0.1", s.port), timeout=10)
    sock.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
    try:
        data = sock.recv(4096)
    except ConnectionResetError:
        data = b""
    sock.close()
    assert b"is_alive" not in data and not data.startswith(b"HTTP/1.1 200")
    assert https_request(s.port, "/api/v1/health", pki).status == 200


def test_hsts_setting(make_server, pki):
    s = make_server(pki.server_args("server-ec") + ["--hsts-max-age", "0"])
    assert https_request(s.port, "/api/v1/health", pki).header("Strict-Transport-Security") is None
    plain = make_server()
    import requests
    r = requests.get(plain.url("/api/v1/health"), timeout=10)
    assert "Strict-Transport-Security" not in r.headers  # not over plain HTTP
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Cache-Control"] == "no-store"


def test_startup_errors(pki, tmp_path_str):
    garbage = tmp_path_str + "/garbage.pem"
    with open(garbage, "w") as f:
        f.write("-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n")
    cases = [
        (["--tls-cert", tmp_path_str + "/none.crt", "--tls-key", pki.p("server-rsa.key")],
         ["MODELWRAP_TLS_CERT: cannot read", "none.crt", "No such file"]),
        (["--tls-cert", pki.p("server-rsa.crt"), "--tls-key", tmp_path_str],
         ["MODELWRAP_TLS_KEY", "not a regular file"]),
        (["--tls-cert", garbage, "--tls-key", pki.p("server-rsa.key")],
         ["MODELWRAP_TLS_CERT", "no usable PEM certificate"]),
        (["--tls-cert", pki.p("server-rsa.crt"), "--tls-key", pki.p("server-ec.key")],
         ["does not match the certificate", "server-rsa.crt"]),
        (["--tls-cert", pki.p("expired.crt"), "--tls-key", pki.p("expired.key")],
         ["MODELWRAP_TLS_CERT", "expired on"]),
        (["--tls-cert", pki.p("server-rsa.crt")],
         ["MODELWRAP_TLS_CERT is set but MODELWRAP_TLS_KEY is not"]),
        (pki.server_args() + ["--tls-priorities", "NORMAL:+VERS-TLS1.1"],
         ["MODELWRAP_TLS_PRIORITIES", "TLS 1.2 and 1.3 only"]),
        (pki.server_args() + ["--tls-priorities", "NORMAL:+BOGUS"],
         ["MODELWRAP_TLS_PRIORITIES: GnuTLS refuses it at '+BOGUS'"]),
        (pki.server_args() + ["--tls-client-ca", garbage], ["MODELWRAP_TLS_CLIENT_CA"]),
        (["--tls-client-ca", pki.p("client-ca.crt")], ["MODELWRAP_TLS_CLIENT_CA needs"]),
        (pki.server_args() + ["--tls-client-scopes", "predict,fly"],
         ["MODELWRAP_TLS_CLIENT_SCOPES", "fly"]),
    ]
    for args, fragments in cases:
        rc, err = start_failure(args)
        assert rc != 0, (args, err)
        last = [line for line in err.splitlines() if line.startswith("modelwrap: ")]
        assert last, err
        for frag in fragments:
            assert frag in last[-1], (frag, last[-1])
        assert '"msg":"listening"' not in err


def test_https_with_model_workers(make_server, pki):
    """Suspended connections (the model runs on worker threads) resume over TLS too."""
    s = make_server(pki.server_args("server-ec") + ["--model-workers", "2"])
    conn = https_connection(s.port, pki)
    for _ in range(20):
        r = https_request(s.port, PREDICT, pki, method="POST", conn=conn,
                          body=json.dumps({"data": [IRIS_ROW, IRIS_ROW]}))
        assert r.status == 200, r.body
        assert len(r.json()["predictions"]) == 2
    conn.close()
