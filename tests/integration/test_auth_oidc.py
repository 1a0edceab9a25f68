"""End to end against a real OpenID Connect provider (npm oidc-provider, certified by the OpenID
Foundation; tests/oidc/provider.js, installed by `make deps-test`) on loopback: modelwrap finds the
keys through OpenID discovery, a client-credentials access token (a JWT) is accepted, a tampered
one is refused, and a token without the predict scope gets 403."""
import json
import os
import shutil
import subprocess
import threading

import pytest
import requests

from auth_util import IRIS_BODY, assert_refused, bearer, call
from conftest import ROOT, Server

OIDC_DIR = os.path.join(ROOT, "tests", "oidc")


@pytest.fixture(scope="module")
def provider():
    node = shutil.which("node")
    assert node, "node is missing: run `make deps-test` (scripts/install-deps.sh installs it)"
    assert os.path.isdir(os.path.join(OIDC_DIR, "node_modules", "oidc-provider")), \
        "tests/oidc/node_modules is missing: run `make deps-test` (npm ci in tests/oidc)"
    proc = subprocess.Popen([node, os.path.join(OIDC_DIR, "provider.js")], cwd=OIDC_DIR,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    first = {}
    reader = threading.Thread(target=lambda: first.update(line=proc.stdout.readline()),
                              daemon=True)
    reader.start()
    reader.join(60)
    if not first.get("line"):
        proc.kill()
        raise AssertionError("the OpenID provider did not start: " + proc.stderr.read())
    info = json.loads(first["line"])
    yield info
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


def token(provider, scope="predict read"):
    r = requests.post(provider["issuer"] + "/token",
                      auth=(provider["client_id"], provider["client_secret"]),
                      data={"grant_type": "client_credentials", "scope": scope}, timeout=30)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["token_type"].lower() == "bearer"
    assert body["access_token"].count(".") == 2, "the provider issued an opaque token"
    return body["access_token"]


def test_real_provider_end_to_end(make_server, provider):
    s = make_server(["--api-keys-file=", "--jwt-issuer", provider["issuer"], "--jwt-audience",
                     provider["audience"], "--auth-failure-limit", "0"], auth="required")
    s.wait_log(lambda l: l.get("msg") == "JWKS loaded" and l.get("source") == provider["issuer"])

    t = token(provider)
    r = requests.post(s.url("/api/v1/predict"), data=json.dumps(IRIS_BODY),
                      headers=dict(bearer(t), **{"Content-Type": "application/json"}), timeout=30)
    assert r.status_code == 200, r.text
    assert r.json()["predictions"][0]["label"] == "setosa"
    assert call(s, headers=bearer(t)).status_code == 200
    assert t not in "".join(s.raw)

    # The same token with one signature character changed, and with another payload.
    h, p, sig = t.split(".")
    bad = "%s.%s.%s" % (h, p, sig[:20] + ("A" if sig[20] != "A" else "B") + sig[21:])
    assert_refused(s, call(s, headers=bearer(bad)), 401, "invalid_token", "auth.invalid_token",
                   secret=bad)
    other = token(provider, "read")
    forged = "%s.%s.%s" % (h, other.split(".")[1], sig)
    assert_refused(s, call(s, headers=bearer(forged)), 401, "invalid_token", "auth.invalid_token")

    # A genuine token without the predict scope.
    assert call(s, headers=bearer(other)).status_code == 200
    assert_refused(s, call(s, "/api/v1/predict", "POST", bearer(other)), 403,
                   "insufficient_scope", "auth.insufficient_scope")
