"""JWT bearer tokens against the real binary, minted with python3-jwt + python3-cryptography: the
catalog (each algorithm; expired, not yet valid, iat in the future, 24 h + 1 s, no
exp, wrong iss/aud, alg none, HS256 signed with the RSA public key, unknown kid, tampered parts,
malformed base64/JSON, keys or URLs in the header, a 16 KB token, missing scope), JWKS by OpenID
discovery, by URI and from a file, HS256 with a configured secret, and a provider that is down."""
import json
import os
import subprocess
import time

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from auth_util import (AUDIENCE, CLEAN_ENV, JwksServer, Signer, assert_refused, bearer, call,
                       claims, hs256, raw_token, wait_until)
from conftest import BIN, ROOT, START_TIMEOUT, Server


@pytest.fixture(scope="module")
def idp():
    rsa = Signer("rsa", "rsa-1")
    p256 = Signer("ec", "ec-256", ec.SECP256R1())
    p384 = Signer("ec", "ec-384", ec.SECP384R1())
    ed = Signer("ed", "ed-1")
    j = JwksServer([k.public_jwk() for k in (rsa, p256, p384, ed)])
    j.signers = {"rsa": rsa, "p256": p256, "p384": p384, "ed": ed}
    yield j
    j.close()


@pytest.fixture(scope="module")
def srv(idp):
    """JWKS by OpenID discovery from the issuer; header limit raised so that a 16 KB token reaches
    the authentication phase; blocking off (the catalog fails on purpose many times)."""
    s = Server(["--api-keys-file=", "--jwt-issuer", idp.issuer, "--jwt-audience", AUDIENCE,
                "--jwks-refresh-interval", "1", "--jwt-roles-claim", "realm_access.roles",
                "--auth-failure-limit", "0", "--max-header-bytes", "64k"], auth="required")
    yield s
    assert s.stop() == 0, "".join(s.raw[-40:])


def ok(srv, token, path="/api/v1/models", method="GET"):
    r = call(srv, path, method, bearer(token))
    assert r.status_code == 200, r.text
    return r


def refused(srv, token, reason, status=401, code="invalid_token", path="/api/v1/models",
            method="GET"):
    r = call(srv, path, method, bearer(token))
    return assert_refused(srv, r, status, code, reason, secret=token)


def test_discovery_was_used(idp, srv):
    paths = idp.paths()
    assert "/.well-known/openid-configuration" in paths and "/jwks" in paths
    srv.wait_log(lambda l: l.get("msg") == "JWKS loaded" and l.get("keys") == 4)


@pytest.mark.parametrize("alg,signer", [("RS256", "rsa"), ("RS384", "rsa"), ("RS512", "rsa"),
                                        ("PS256", "rsa"), ("ES256", "p256"), ("ES384", "p384"),
                                        ("EdDSA", "ed")])
def test_valid_token_per_algorithm(idp, srv, alg, signer):
    token = idp.signers[signer].mint(claims(idp.issuer), alg)
    ok(srv, token)
    r = ok(srv, token, "/api/v1/predict", "POST")
    assert r.json()["predictions"][0]["label"] == "setosa"
    assert token not in "".join(srv.raw)


def test_time_claims(idp, srv):
    rsa = idp.signers["rsa"]
    now = int(time.time())
    refused(srv, rsa.mint(claims(idp.issuer, iat=now - 700, exp=now - 120), "RS256"),
            "auth.expired_token")
    refused(srv, rsa.mint(claims(idp.issuer, nbf=now + 600), "RS256"), "auth.invalid_token")
    refused(srv, rsa.mint(claims(idp.issuer, iat=now + 600, exp=now + 1200), "RS256"),
            "auth.invalid_token")
    refused(srv, rsa.mint(claims(idp.issuer, iat=now, exp=now + 86401), "RS256"),
            "auth.token_lifetime")
    refused(srv, rsa.mint(claims(idp.issuer, iat=None, exp=now + 86500), "RS256"),
            "auth.token_lifetime")
    refused(srv, rsa.mint(claims(idp.issuer, exp=None), "RS256"), "auth.invalid_token")
    # Within limits: exactly 24 h; a small clock skew on nbf/iat; no iat at all.
    ok(srv, rsa.mint(claims(idp.issuer, iat=now, exp=now + 86400), "RS256"))
    ok(srv, rsa.mint(claims(idp.issuer, iat=now + 20, nbf=now + 20), "RS256"))
    ok(srv, rsa.mint(claims(idp.issuer, iat=None), "RS256"))


def test_issuer_and_audience(idp, srv):
    rsa = idp.signers["rsa"]
    refused(srv, rsa.mint(claims(idp.issuer, iss=idp.issuer + "/other"), "RS256"),
            "auth.invalid_token")
    refused(srv, rsa.mint(claims(idp.issuer, aud="urn:someone-else"), "RS256"),
            "auth.invalid_token")
    refused(srv, rsa.mint(claims(idp.issuer, aud=None), "RS256"), "auth.invalid_token")
    ok(srv, rsa.mint(claims(idp.issuer, aud=["urn:other", AUDIENCE]), "RS256"))


def test_alg_none_and_algorithm_confusion(idp, srv):
    rsa = idp.signers["rsa"]
    c = claims(idp.issuer)
    for alg in ("none", "None", "NONE"):
        refused(srv, raw_token({"alg": alg, "kid": "rsa-1", "typ": "JWT"}, c),
                "auth.invalid_token")
        refused(srv, raw_token({"alg": alg, "kid": "rsa-1"}, c, b"sig"), "auth.invalid_token")
    # HS256 signed with the RSA public key (PEM, and the JWK text) as the HMAC secret.
    for secret in (rsa.public_pem(), json.dumps(rsa.public_jwk()).encode(),
                   rsa.public_jwk()["n"].encode()):
        refused(srv, hs256(secret, {"alg": "HS256", "kid": "rsa-1", "typ": "JWT"}, c),
                "auth.invalid_token")
    # An EC signature under the RSA key's kid, and the reverse.
    refused(srv, idp.signers["p256"].mint(c, "ES256", kid="rsa-1"), "auth.invalid_token")
    refused(srv, rsa.mint(c, "RS256", kid="ec-256"), "auth.invalid_token")


def test_tampered_and_malformed(idp, srv):
    rsa = idp.signers["rsa"]
    good = rsa.mint(claims(idp.issuer), "RS256")
    h, p, s = good.split(".")
    other = rsa.mint(claims(idp.issuer, sub="mallory", scope="predict read admin"), "RS256")
    refused(srv, "%s.%s.%s" % (h, other.split(".")[1], s), "auth.invalid_token")
    flipped = s[:10] + ("A" if s[10] != "A" else "B") + s[11:]
    refused(srv, "%s.%s.%s" % (h, p, flipped), "auth.invalid_token")
    refused(srv, "%s.%s.%s" % (h, p, s[:-8]), "auth.invalid_token")
    refused(srv, "%s.%s." % (h, p), "auth.invalid_token")
    for bad in ("abc", "a.b", "a.b.c.d", "%s.%s" % (h, p), "%s!.%s.%s" % (h, p, s),
                "%s.%s.%s" % (h, "bm90IGpzb24", s), "e30.e30.e30",
                raw_token({"alg": "RS256", "kid": "rsa-1"}, b"[1, 2"),
                "eyJhbGciOiJSUzI1NiIsImtpZCI6InJzYS0xIn0.%%%%.sig"):
        refused(srv, bad, "auth.invalid_token")
    ok(srv, good)


def test_header_keys_and_urls_are_never_used(idp, srv):
    attacker = Signer("rsa", "rsa-1")  # the real kid, the attacker's own key
    c = claims(idp.issuer, scope="predict read admin")
    before = idp.paths()
    evil = idp.issuer + "/evil"
    cases = [{"jwk": attacker.public_jwk()},
             {"jku": evil + "/jku"},
             {"x5u": evil + "/x5u"},
             {"jwk": attacker.public_jwk(), "jku": evil + "/jku2"}]
    for extra in cases:
        refused(srv, attacker.mint(c, "RS256", headers=extra), "auth.invalid_token")
    # The same attacker token without the header tricks: refused by the signature.
    refused(srv, attacker.mint(c, "RS256"), "auth.invalid_token")
    time.sleep(0.3)
    assert not [p for p in idp.paths() if p.startswith("/evil")], idp.paths()
    assert len(idp.paths()) == len(before), "a header key or URL caused a fetch"


def test_large_token(idp, srv):
    token = idp.signers["rsa"].mint(claims(idp.issuer, padding="x" * 12000), "RS256")
    assert len(token) > 16000
    refused(srv, token, "auth.invalid_token")


def test_scopes(idp, srv):
    rsa = idp.signers["rsa"]
    reader = rsa.mint(claims(idp.issuer, scope="read openid"), "RS256")
    ok(srv, reader)
    refused(srv, reader, "auth.insufficient_scope", 403, "insufficient_scope", "/api/v1/predict",
            "POST")
    scp = rsa.mint(claims(idp.issuer, scope=None, scp=["predict", "read"]), "RS256")
    ok(srv, scp, "/api/v1/predict", "POST")
    roles = rsa.mint(claims(idp.issuer, scope=None, realm_access={"roles": ["predict"]}),
                     "RS256")
    ok(srv, roles, "/api/v1/predict", "POST")
    refused(srv, roles, "auth.insufficient_scope", 403, "insufficient_scope")
    nothing = rsa.mint(claims(idp.issuer, scope="openid profile"), "RS256")
    refused(srv, nothing, "auth.insufficient_scope", 403, "insufficient_scope")


def test_unknown_kid_refreshes_then_refuses(idp, srv):
    rotated = Signer("rsa", "rotated-1")
    token = rotated.mint(claims(idp.issuer), "RS256")
    time.sleep(1.1)  # past the minimum refresh interval of this server
    fetches = idp.count("/jwks")
    refused(srv, token, "auth.invalid_token")
    assert wait_until(lambda: idp.count("/jwks") == fetches + 1, 10)
    # Many more unknown kids at once: at most one more fetch per interval.
    for _ in range(10):
        refused(srv, token, "auth.invalid_token")
    time.sleep(0.5)
    assert idp.count("/jwks") <= fetches + 2
    # The provider rotates its keys: the new kid works after the refresh it triggers.
    idp.set_keys(idp.keys + [rotated.public_jwk()])
    try:
        assert wait_until(lambda: call(srv, headers=bearer(token)).status_code == 200, 15, 0.3)
        srv.wait_log(lambda l: l.get("msg") == "JWKS loaded" and l.get("keys") == 5)
    finally:
        idp.set_keys([k for k in idp.keys if k["kid"] != "rotated-1"])


def test_provider_down_keeps_cached_keys(idp, srv):
    token = idp.signers["p256"].mint(claims(idp.issuer), "ES256")
    ok(srv, token)
    idp.down = True
    try:
        time.sleep(1.1)
        refused(srv, Signer("ec", "other", ec.SECP256R1()).mint(claims(idp.issuer), "ES256"),
                "auth.invalid_token")
        srv.wait_log(lambda l: l.get("msg") == "JWKS refresh failed; the cached keys stay in force")
        ok(srv, token)
        ok(srv, token, "/api/v1/predict", "POST")
    finally:
        idp.down = False


def test_jwks_file(make_server, tmp_path):
    rsa = Signer("rsa", "file-rsa")
    ed = Signer("ed", "file-ed")
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [rsa.public_jwk()]}))
    s = make_server(["--api-keys-file=", "--jwt-issuer", "urn:test:issuer", "--jwt-audience",
                     AUDIENCE, "--jwks-file", str(path)], auth="required")
    ok(s, rsa.mint(claims("urn:test:issuer"), "RS256"))
    token = ed.mint(claims("urn:test:issuer"), "EdDSA")
    refused(s, token, "auth.invalid_token")
    # The file changes: the server picks the new key up without a restart.
    path.write_text(json.dumps({"keys": [rsa.public_jwk(), ed.public_jwk()]}))
    assert wait_until(lambda: call(s, headers=bearer(token)).status_code == 200)
    # A broken file keeps the keys in force.
    path.write_text("{not json")
    s.wait_log(lambda l: l.get("msg") == "JWKS file refused; the keys in force stay")
    ok(s, token)


def test_jwks_uri(make_server, idp):
    s = make_server(["--api-keys-file=", "--jwt-issuer", "urn:by:uri", "--jwt-audience",
                     AUDIENCE, "--jwks-uri", idp.issuer + "/jwks"], auth="required")
    ok(s, idp.signers["p384"].mint(claims("urn:by:uri"), "ES384"))
    refused(s, idp.signers["p384"].mint(claims(idp.issuer), "ES384"), "auth.invalid_token")


def test_hs256_with_a_configured_secret(make_server, tmp_path):
    secret = b"a-shared-secret-of-at-least-thirty-two-bytes"
    path = tmp_path / "hs256.secret"
    path.write_bytes(secret + b"\n")
    os.chmod(path, 0o600)
    s = make_server(["--api-keys-file=", "--jwt-issuer", "urn:hs", "--jwt-audience", AUDIENCE,
                     "--jwt-hs256-secret-file", str(path)], auth="required")
    c = claims("urn:hs")
    ok(s, hs256(secret, {"alg": "HS256", "typ": "JWT"}, c))
    refused(s, hs256(secret + b"x", {"alg": "HS256"}, c), "auth.invalid_token")
    refused(s, hs256(secret, {"alg": "HS384"}, c), "auth.invalid_token")
    refused(s, Signer("rsa", "r").mint(c, "RS256"), "auth.invalid_token")
    refused(s, raw_token({"alg": "none"}, c), "auth.invalid_token")
    # check-config redacts the secret file's name.
    r = subprocess.run([BIN, "check-config", "--jwt-issuer", "urn:hs", "--jwt-audience", "a",
                        "--jwt-hs256-secret-file", str(path)], cwd=ROOT, env=CLEAN_ENV,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "MODELWRAP_JWT_HS256_SECRET_FILE=<redacted>" in r.stdout


@pytest.mark.parametrize("args,message", [
    (["--jwt-issuer", "urn:x", "--jwt-audience", "a", "--jwks-uri", "http://192.0.2.1/jwks"],
     "must use https"),
    (["--jwt-issuer", "http://192.0.2.1/realm", "--jwt-audience", "a"], "must use https"),
    (["--jwt-issuer", "urn:x"], "MODELWRAP_JWT_AUDIENCE"),
    (["--jwt-issuer", "urn:x", "--jwt-audience", "a", "--jwks-file", "/nonexistent/jwks.json"],
     "MODELWRAP_JWKS_FILE"),
    (["--jwt-issuer", "urn:x", "--jwt-audience", "a", "--jwks-file", "/x",
      "--jwt-hs256-secret-file", "/y"], "never combined"),
    (["--jwt-issuer", "urn:x", "--jwt-audience", "a", "--jwks-file", "/x", "--jwt-algorithms",
      "RS256,none"], "MODELWRAP_JWT_ALGORITHMS"),
    (["--jwt-issuer", "urn:x", "--jwt-audience", "a"], "is not a URL"),
])
def test_bad_jwt_settings_stop_startup(tmp_path, args, message):
    r = subprocess.run([BIN, "serve", "--port", "0", "--api-keys-file="] + args, cwd=ROOT,
                       env=CLEAN_ENV, capture_output=True, text=True, timeout=START_TIMEOUT + 30)
    assert r.returncode != 0
    assert message in r.stderr, r.stderr
