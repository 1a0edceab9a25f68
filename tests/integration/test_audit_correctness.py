"""Audit correctness: a JWT refused after a valid signature names nobody (principal kind none),
C1 controls (NEL too) and U+2028/U+2029 never reach a JSON or CEF record raw, and an API key or a
token pasted into the URL path is redacted in the audit record and the request log."""
import json
import uuid

import pytest
import requests

from audit_util import cef_expected, live_lines, parse_cef, wait_for
from auth_util import AUDIENCE, Signer, bearer, claims, create_key

ISSUER = "urn:test:audit-correctness"
KEY_SHAPED = "mw_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8S9t0U1v"  # 46 characters, not a key


def rid(tag):
    return "audit-ok-%s-%s" % (tag, uuid.uuid4().hex[:12])


def records(path, request_id):
    lines = wait_for(lambda: [l for l in live_lines(path) if request_id in l],
                     what="the audit record of " + request_id)
    assert len(lines) == 1, lines
    return lines[0]


@pytest.fixture
def jwt_server(make_server, tmp_path):
    signer = Signer("rsa", "audit-rsa")
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": [signer.public_jwk()]}))
    audit = str(tmp_path / "audit.jsonl")
    s = make_server(["--api-keys-file=", "--jwt-issuer", ISSUER, "--jwt-audience", AUDIENCE,
                     "--jwks-file", str(jwks), "--auth-failure-limit", "0",
                     "--audit-log", audit], auth="required")
    return s, signer, audit


@pytest.mark.parametrize("tag,overrides", [
    ("sub-crlf", {"sub": "alice\r\nX-Injected: 1"}),
    ("sub-long", {"sub": "a" * 128}),
    ("sub-number", {"sub": 12345}),
    ("sub-object", {"sub": {"name": "alice"}}),
    ("no-sub-no-client", {"sub": None, "client_id": None}),
    ("client-crlf", {"sub": None, "client_id": "svc\nX: 1"}),
])
def test_token_refused_after_a_valid_signature_names_nobody(jwt_server, tag, overrides):
    s, signer, audit = jwt_server
    good = signer.mint(claims(ISSUER), "RS256")
    r_ok = rid("good")
    r = requests.get(s.url("/api/v1/models"), headers=dict(bearer(good), **{"X-Request-Id": r_ok}),
                     timeout=30)
    assert r.status_code == 200, r.text
    assert json.loads(records(audit, r_ok))["principal_kind"] == "jwt"

    token = signer.mint(claims(ISSUER, **overrides), "RS256")
    r_bad = rid(tag)
    r = requests.get(s.url("/api/v1/models"),
                     headers=dict(bearer(token), **{"X-Request-Id": r_bad}), timeout=30)
    assert r.status_code == 401, r.text
    rec = json.loads(records(audit, r_bad))
    assert rec["outcome"] == "auth.invalid_token", rec
    assert rec["principal_kind"] == "none", rec
    assert rec["principal_id"] is None and rec["client_id"] is None, rec


HOSTILE_UA = "ua \u0085nel \u0080c1 \u009fend \u2028ls \u2029ps \u00a0nbsp"
RAW_FORBIDDEN = [b"\xc2\x85", b"\xc2\x80", b"\xc2\x9f", b"\xe2\x80\xa8", b"\xe2\x80\xa9"]


@pytest.mark.parametrize("fmt", ["json", "cef"])
def test_c1_controls_and_separators_never_reach_a_record_raw(make_server, tmp_path, fmt):
    audit = str(tmp_path / "audit.log")
    s = make_server(["--audit-log", audit, "--audit-format", fmt])
    r_id = rid("c1-" + fmt)
    # requests would send a str header as Latin-1: the bytes are the UTF-8 the client chose
    r = requests.get(s.url("/no/such/%C2%85/%E2%80%A8"),
                     headers={"User-Agent": HOSTILE_UA.encode("utf-8"), "X-Request-Id": r_id},
                     timeout=30)
    assert r.status_code == 404
    line = records(audit, r_id)
    raw = line.encode("utf-8")
    for seq in RAW_FORBIDDEN:
        assert seq not in raw, (seq, line)
    if fmt == "json":
        rec = json.loads(line)
        assert rec["user_agent"] == HOSTILE_UA  # escaped as \uXXXX, read back exactly
        assert rec["path"] == "/no/such/\u0085/\u2028"
        assert "\\u0085" in line and "\\u2028" in line and "\\u2029" in line
    else:
        _, ext = parse_cef(line)
        assert ext["requestClientApplication"] == cef_expected(HOSTILE_UA), ext
        assert "\u00a0" in ext["requestClientApplication"]  # other characters pass untouched


def test_api_key_in_the_path_is_redacted(make_server, tmp_path):
    keys = str(tmp_path / "keys.json")
    key = create_key(keys, "pasted")
    audit = str(tmp_path / "audit.jsonl")
    s = make_server(["--api-keys-file", keys, "--audit-log", audit], auth="required")
    for secret in (key, KEY_SHAPED):
        r_id = rid("path-key")
        r = requests.get(s.url("/api/v1/models/" + secret),
                         headers={"X-API-Key": key, "X-Request-Id": r_id}, timeout=30)
        assert r.status_code == 404, r.text
        line = records(audit, r_id)
        assert secret not in line
        assert json.loads(line)["path"] == "/api/v1/models/mw_<redacted>"
        log = s.wait_log(lambda l: l.get("msg") == "request" and l.get("request_id") == r_id)
        assert log["path"] == "/api/v1/models/mw_<redacted>", log
    # a token-shaped segment too, and in a route that does not exist
    token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLWJ5dGVz"
    r_id = rid("path-jwt")
    r = requests.get(s.url("/v2/models/%s/ready" % token),
                     headers={"X-API-Key": key, "X-Request-Id": r_id}, timeout=30)
    assert r.status_code == 404
    line = records(audit, r_id)
    assert token not in line and json.loads(line)["path"] == "/v2/models/<redacted>/ready"
    s.wait_log(lambda l: l.get("msg") == "request" and l.get("request_id") == r_id)
    assert not any(key in l or KEY_SHAPED in l or token in l for l in s.raw)
    # an ordinary model name stays as it is
    r_id = rid("path-plain")
    requests.get(s.url("/api/v1/models/mw_model"), headers={"X-API-Key": key, "X-Request-Id": r_id},
                 timeout=30)
    assert json.loads(records(audit, r_id))["path"] == "/api/v1/models/mw_model"
