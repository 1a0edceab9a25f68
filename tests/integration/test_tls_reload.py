"""Certificate reload on SIGHUP: a new connection gets the new certificate, an open keep-alive
connection keeps working, and a broken replacement keeps the certificate in force."""
import os
import shutil
import signal

from tls_util import https_connection, https_request, pki, subject_org, tmp_path_str  # noqa: F401


def test_sighup_reloads_certificate(make_server, pki, tmp_path_str):
    cert, key = os.path.join(tmp_path_str, "tls.crt"), os.path.join(tmp_path_str, "tls.key")
    shutil.copy(pki.p("server-ec.crt"), cert)
    shutil.copy(pki.p("server-ec.key"), key)
    s = make_server(["--tls-cert", cert, "--tls-key", key])

    old = https_connection(s.port, pki)
    r = https_request(s.port, "/api/v1/health", pki, conn=old)
    assert r.status == 200
    assert subject_org(r.cert) is None  # the first certificate has no O=

    # Replace both files (as certbot or a secret mount does) and signal.
    shutil.copy(pki.p("server-next.crt"), cert + ".tmp")
    shutil.copy(pki.p("server-next.key"), key + ".tmp")
    os.replace(key + ".tmp", key)
    os.replace(cert + ".tmp", cert)
    s.proc.send_signal(signal.SIGHUP)
    s.wait_log(lambda rec: rec.get("msg") == "TLS certificate reloaded")

    fresh = https_request(s.port, "/api/v1/health", pki)
    assert fresh.status == 200
    assert subject_org(fresh.cert) == "Reloaded"
    # the open connection was not dropped and still talks with its handshake's certificate
    r = https_request(s.port, "/api/v1/health", pki, conn=old)
    assert r.status == 200
    assert subject_org(r.cert) is None
    old.close()

    # A broken replacement (key of another certificate) is refused; the server keeps serving
    # the certificate it had.
    shutil.copy(pki.p("server-rsa.key"), key)
    s.proc.send_signal(signal.SIGHUP)
    rec = s.wait_log(lambda rec: rec.get("msg") == "TLS certificate not reloaded")
    assert "does not match" in rec["error"]
    r = https_request(s.port, "/api/v1/health", pki)
    assert r.status == 200
    assert subject_org(r.cert) == "Reloaded"
    # and a later good pair is picked up again
    shutil.copy(pki.p("server-ec.key"), key)
    shutil.copy(pki.p("server-ec.crt"), cert)
    n_reloads = len([x for x in s.logs if x.get("msg") == "TLS certificate reloaded"])
    s.proc.send_signal(signal.SIGHUP)
    s.wait_log(lambda rec: rec.get("msg") == "TLS certificate reloaded" and
               len([x for x in s.logs if x.get("msg") == "TLS certificate reloaded"]) > n_reloads)
    assert subject_org(https_request(s.port, "/api/v1/health", pki).cert) is None
