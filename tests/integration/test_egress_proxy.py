"""Outbound requests through a real forward proxy (Debian's tinyproxy on loopback): with
MODELWRAP_EGRESS_PROXY (or the standard HTTPS_PROXY) the OpenID discovery and JWKS fetches go
through the proxy and appear in its log, tokens verify, the proxy's credentials never appear in
modelwrap's output; with the proxy down a refresh fails as docs/security.md says and the cached
keys keep verifying tokens; NO_PROXY sends the fetches direct."""
import os
import signal
import subprocess

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from auth_util import AUDIENCE, CLEAN_ENV, JwksServer, Signer, bearer, call, claims
from conftest import BIN
from proxy_util import Tinyproxy

USER, PASSWORD = "mwproxy", "pr0xy-S3cret-pw"


@pytest.fixture
def idp():
    signer = Signer("ec", "ec-1", ec.SECP256R1())
    j = JwksServer([signer.public_jwk()])
    j.signer = signer
    yield j
    j.close()


@pytest.fixture
def proxy(tmpdir_path):
    p = Tinyproxy(tmpdir_path, USER, PASSWORD)
    yield p
    p.stop()


def jwt_args(idp, *extra):
    return ["--api-keys-file=", "--jwt-issuer", idp.issuer, "--jwt-audience", AUDIENCE,
            "--jwks-refresh-interval", "1", "--auth-failure-limit", "0"] + list(extra)


def proxied_paths(proxy, idp):
    return [line.split()[1][len(idp.issuer):] for line in proxy.requests()
            if len(line.split()) > 1 and line.split()[1].startswith(idp.issuer)]


PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


def no_proxy_env(extra=None):
    env = {k: v for k, v in CLEAN_ENV.items() if k.lower() not in PROXY_VARS}
    env.update(extra or {})
    return env


def start(make_server, idp, env, *extra):
    # The Server passes os.environ on: the machine's own proxy settings must not take part.
    saved = {k: os.environ.pop(k) for k in list(os.environ) if k.lower() in PROXY_VARS}
    try:
        return make_server(jwt_args(idp, *extra), env=env, auth="required")
    finally:
        os.environ.update(saved)


def test_fetches_go_through_the_proxy(make_server, idp, proxy):
    s = start(make_server, idp, {"MODELWRAP_EGRESS_PROXY": proxy.url(USER, PASSWORD)})
    s.wait_log(lambda l: l.get("msg") == "JWKS loaded" and l.get("keys") == 1)
    paths = proxied_paths(proxy, idp)
    assert "/.well-known/openid-configuration" in paths and "/jwks" in paths, proxy.requests()
    line = s.wait_log(lambda l: l.get("msg") == "outbound requests")
    assert line["source"] == "MODELWRAP_EGRESS_PROXY"
    assert line["egress_proxy"] == "http://<redacted>@127.0.0.1:%d" % proxy.port

    token = idp.signer.mint(claims(idp.issuer), "ES256")
    assert call(s, headers=bearer(token)).status_code == 200

    # The proxy goes away: a refresh (SIGHUP refetches the JWKS) fails and says so; the cached
    # key keeps verifying tokens.
    proxy.stop()
    before = len(idp.paths())
    s.proc.send_signal(signal.SIGHUP)
    failed = s.wait_log(lambda l: l.get("msg") ==
                        "JWKS refresh failed; the cached keys stay in force", timeout=30)
    assert "egress proxy" in failed["error"]
    assert len(idp.paths()) == before  # nothing went direct behind the proxy's back
    assert call(s, headers=bearer(idp.signer.mint(claims(idp.issuer), "ES256"))).status_code == 200
    assert PASSWORD not in "".join(s.raw) and PASSWORD not in "\n".join(s.stdout_lines)


def test_wrong_proxy_password_is_a_failed_fetch_not_a_leak(make_server, idp, proxy):
    bad = "wr0ng-Pass-word"
    s = start(make_server, idp, {"MODELWRAP_EGRESS_PROXY": proxy.url(USER, bad)})
    s.wait_log(lambda l: l.get("msg") == "JWKS refresh failed; the cached keys stay in force")
    assert idp.paths() == []
    token = idp.signer.mint(claims(idp.issuer), "ES256")
    assert call(s, headers=bearer(token)).status_code == 401
    assert bad not in "".join(s.raw)


def test_standard_https_proxy_variable(make_server, idp, proxy):
    s = start(make_server, idp, {"HTTPS_PROXY": proxy.url(USER, PASSWORD)})
    s.wait_log(lambda l: l.get("msg") == "JWKS loaded" and l.get("keys") == 1)
    assert "/jwks" in proxied_paths(proxy, idp)
    assert s.wait_log(lambda l: l.get("msg") == "outbound requests")["source"] == "HTTPS_PROXY"
    assert call(s, headers=bearer(idp.signer.mint(claims(idp.issuer), "ES256"))).status_code == 200


def test_no_proxy_goes_direct(make_server, idp, proxy):
    s = start(make_server, idp, {"MODELWRAP_EGRESS_PROXY": proxy.url(USER, PASSWORD),
                                 "NO_PROXY": "127.0.0.1"})
    s.wait_log(lambda l: l.get("msg") == "JWKS loaded" and l.get("keys") == 1)
    assert "/jwks" in idp.paths()
    assert proxied_paths(proxy, idp) == []


def test_check_config_redacts_and_validates(tmpdir_path):
    env = no_proxy_env({"MODELWRAP_EGRESS_PROXY": "http://u:%s@127.0.0.1:3128" % PASSWORD})
    out = subprocess.run([BIN, "check-config", "--api-keys-file=", "--jwt-issuer",
                          "https://idp.example", "--jwt-audience", AUDIENCE], env=env,
                         capture_output=True, text=True, timeout=60)
    assert "MODELWRAP_EGRESS_PROXY=http://<redacted>@127.0.0.1:3128" in out.stdout
    assert PASSWORD not in out.stdout + out.stderr
    env["MODELWRAP_EGRESS_PROXY"] = "ftp://u:%s@proxy" % PASSWORD
    out = subprocess.run([BIN, "check-config", "--api-keys-file=", "--jwt-issuer",
                          "https://idp.example", "--jwt-audience", AUDIENCE], env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert "MODELWRAP_EGRESS_PROXY" in out.stderr and "not a proxy URL" in out.stderr
    assert PASSWORD not in out.stdout + out.stderr
