"""modelwrap behind a TLS-terminating gateway: Debian's nginx with deploy/nginx/modelwrap.conf in
front of modelwrap's plain-HTTP listener; and the start-up rule that refuses plain HTTP on a
non-loopback address unless the deployment says a gateway is in front."""
import json
import signal
import subprocess

from conftest import IRIS_ROW, Server
from tls_util import (Nginx, free_port, https_connection, https_request, key_file,  # noqa: F401
                      pki, start_failure, subject_cn, tmp_path_str, wait_request_log)


def any_address_args(directory):
    """MODELWRAP_AUTH=none is refused off loopback: authentication with a real key file."""
    return ["--auth", "required", "--api-keys-file", key_file(directory)]


def test_behind_nginx(make_server, pki, tmp_path_str):
    # modelwrap trusts exactly the address nginx connects from; clients use 127.0.0.5
    s = make_server(["--auth-none-behind-proxy", "true", "--trusted-proxies", "127.0.0.1/32"])
    gw = Nginx(tmp_path_str, free_port(), s.port, pki.p("server-rsa.crt"), pki.p("server-rsa.key"))
    try:
        conn = https_connection(gw.port, pki, source="127.0.0.5")
        for i in range(3):  # keep-alive through the gateway
            r = https_request(gw.port, "/api/v1/predict", pki, method="POST", conn=conn,
                              body=json.dumps({"data": [IRIS_ROW]}),
                              headers={"X-Request-Id": "via-nginx-%d" % i,
                                       "X-Forwarded-For": "6.6.6.6",
                                       "Forwarded": "for=6.6.6.7"})
            assert r.status == 200, r.body
            assert r.json()["predictions"], r.body
        conn.close()
        assert subject_cn(r.cert) == "localhost"
        assert r.version in ("TLSv1.2", "TLSv1.3")
        # modelwrap's headers pass through; HSTS because nginx says the client used https
        assert r.header("Strict-Transport-Security") == "max-age=31536000"
        assert r.header("X-Content-Type-Options") == "nosniff"
        assert r.header("X-Request-Id") == "via-nginx-2"
        # the client address is the one nginx saw, not what the client claimed
        rec = wait_request_log(s, "via-nginx-2")
        assert rec["client"] == "127.0.0.5", rec
        # errors keep their JSON shape through the gateway
        r = https_request(gw.port, "/api/v1/models/nope", pki, source="127.0.0.5")
        assert r.status == 404 and r.json()["code"] == "model_not_found"
    finally:
        gw.stop()


def test_plaintext_refused_on_any_address(tmp_path_str):
    auth = any_address_args(tmp_path_str)
    rc, err = start_failure(["--host", "0.0.0.0"] + auth)
    assert rc != 0
    assert "refusing to serve plain HTTP on 0.0.0.0" in err, err
    assert "MODELWRAP_ALLOW_PLAINTEXT" in err
    assert '"msg":"listening"' not in err
    rc, err = start_failure(["--host", "::"] + auth)
    assert rc != 0 and "refusing to serve plain HTTP" in err, err


def test_plaintext_allowed_behind_gateway(tmp_path_str):
    """With the opt-in the server starts on 0.0.0.0 and warns; the test only talks to
    127.0.0.1 and stops it at once."""
    s = Server(["--host", "0.0.0.0", "--allow-plaintext"] + any_address_args(tmp_path_str),
               auth=None)
    try:
        rec = s.wait_log(lambda r: "plain HTTP on a non-loopback address" in r.get("msg", ""))
        assert rec["level"] == "warn"
        out = subprocess.run(["curl", "-sS", "http://127.0.0.1:%d/api/v1/health" % s.port],
                             stdout=subprocess.PIPE, timeout=20)
        assert b"is_alive" in out.stdout
    finally:
        assert s.stop(signal.SIGTERM) == 0


def test_tls_on_any_address_needs_no_opt_in(pki, tmp_path_str):
    s = Server(["--host", "0.0.0.0"] + pki.server_args("server-ec") +
               any_address_args(tmp_path_str), auth=None)
    try:
        assert https_request(s.port, "/api/v1/health", pki).status == 200
        assert not [r for r in s.logs if "plain HTTP" in r.get("msg", "")]
    finally:
        assert s.stop() == 0
