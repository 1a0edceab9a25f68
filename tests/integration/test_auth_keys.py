"""Authentication with API keys against the real binary: secure by default, every route but
liveness/readiness needs a key, the headers that carry one, refusals (unknown, revoked, expired,
in the query string, missing scope) with RFC 6750 challenges and reason codes, reloads (file change,
SIGHUP, a broken file keeps the old keys), brute-force blocking, MODELWRAP_AUTH=none only on
loopback, and the development key of `make run`."""
import json
import os
import signal
import stat
import subprocess
import time

import pytest
import requests

from auth_util import (CLEAN_ENV, assert_refused, bearer, call, create_key, key_hash, keys_cli,
                       wait_until)
from conftest import BIN, ROOT, START_TIMEOUT, Server

SCOPED = [("GET", "/"), ("GET", "/api"), ("GET", "/api/"), ("GET", "/api/v1/models"), ("GET", "/api/v1/models/iris"),
          ("POST", "/api/v1/predict"), ("POST", "/api/v1/models/iris/predict"),
          ("POST", "/api/predict"), ("POST", "/api/predict/")]
MODELS = os.path.join(ROOT, "models")
OPEN = ["/api/v1/health", "/api/v1/health/live", "/api/v1/health/ready", "/api/health",
        "/api/health/"]


@pytest.fixture(scope="module")
def keyed(tmp_path_factory):
    """A server with auth required and a key file holding keys of several kinds."""
    d = tmp_path_factory.mktemp("keys")
    path = str(d / "keys.json")
    keys = {
        "full": create_key(path, "full", "predict,read", "--owner", "ops@example.org",
                           "--rate-limit", "1000/s", "--burst", "1000"),
        "reader": create_key(path, "reader", "read"),
        "revoked": create_key(path, "revoked", "predict,read"),
        "expiring": create_key(path, "expiring", "predict,read", "--expires", "2s"),
    }
    keys_cli(path, "revoke", "revoked")
    s = Server(["--api-keys-file", path, "--auth-failure-limit", "0"], auth="required")
    s.keys = keys
    s.key_path = path
    yield s
    assert s.stop() == 0, "".join(s.raw[-40:])


def test_every_scoped_route_needs_a_key(keyed):
    for method, path in SCOPED:
        r = call(keyed, path, method)
        assert_refused(keyed, r, 401, "unauthenticated", "auth.missing")
        assert r.headers["WWW-Authenticate"] == 'Bearer realm="modelwrap"'
    for path in OPEN:
        assert requests.get(keyed.url(path), timeout=10).status_code == 200, path


def test_valid_key_in_each_header(keyed):
    key = keyed.keys["full"]
    for headers in ({"X-API-Key": key}, {"token": key}, bearer(key), {"x-api-key": key}):
        for method, path in SCOPED:
            r = call(keyed, path, method, headers)
            assert r.status_code == 200, (headers, path, r.text)
    r = call(keyed, "/api/v1/predict", "POST", {"X-API-Key": key})
    assert r.json()["predictions"][0]["label"] == "setosa"
    assert key not in "".join(keyed.raw)


def test_unknown_and_malformed_keys(keyed):
    for bad in ("mw_" + "x" * 43, "mw_short", "not-a-key-at-all-but-long-enough", "x" * 300):
        r = call(keyed, headers={"X-API-Key": bad})
        assert_refused(keyed, r, 401, "invalid_token", "auth.invalid_key", secret=bad)
    # A key with one character changed.
    good = keyed.keys["full"]
    bad = good[:-1] + ("A" if good[-1] != "A" else "B")
    assert_refused(keyed, call(keyed, headers={"X-API-Key": bad}), 401, "invalid_token",
                   "auth.invalid_key", secret=bad)


def test_revoked_and_expired_keys(keyed):
    r = call(keyed, headers={"X-API-Key": keyed.keys["revoked"]})
    rec = assert_refused(keyed, r, 401, "invalid_token", "auth.revoked_key",
                         secret=keyed.keys["revoked"])
    assert rec["key_id"] == "revoked"
    exp = keyed.keys["expiring"]
    assert wait_until(lambda: call(keyed, headers={"X-API-Key": exp}).status_code == 401, 10)
    assert_refused(keyed, call(keyed, headers={"X-API-Key": exp}), 401, "invalid_token",
                   "auth.expired_key")


def test_insufficient_scope(keyed):
    key = keyed.keys["reader"]
    assert call(keyed, "/api/v1/models", headers={"X-API-Key": key}).status_code == 200
    r = call(keyed, "/api/v1/predict", "POST", {"X-API-Key": key})
    assert_refused(keyed, r, 403, "insufficient_scope", "auth.insufficient_scope")
    assert r.headers["WWW-Authenticate"] == \
        'Bearer realm="modelwrap", error="insufficient_scope", scope="predict"'


def test_key_in_query_string_refused(keyed):
    key = keyed.keys["full"]
    for query in ("api_key=" + key, "token=" + key, "key=" + key, "access_token=abc",
                  "anything=" + key):
        r = requests.get(keyed.url("/api/v1/models?" + query), timeout=10)
        assert_refused(keyed, r, 400, "bad_request", "auth.key_in_query")
        assert 'error="invalid_request"' in r.headers["WWW-Authenticate"]
    # Even with a valid header key too: the key leaked into a URL.
    r = requests.get(keyed.url("/api/v1/models?api_key=" + key), headers={"X-API-Key": key},
                     timeout=10)
    assert r.status_code == 400


def test_bad_authorization_headers(keyed):
    for value in ("Basic dXNlcjpwYXNz", "Bearer", "Bearer ", "Bearer a b", "bearerx abc"):
        r = call(keyed, headers={"Authorization": value})
        assert_refused(keyed, r, 401, "invalid_token", "auth.invalid_token")


def test_keys_list_never_shows_keys(keyed):
    r = keys_cli(keyed.key_path, "list")
    for name in ("full", "reader", "revoked", "expiring"):
        assert name in r.stdout
    assert "revoked" in r.stdout and "1000/s,burst=1000" in r.stdout
    assert "mw_" not in r.stdout and "sha256" not in r.stdout
    for key in keyed.keys.values():
        assert key not in r.stdout
    with open(keyed.key_path) as f:
        text = f.read()
    for key in keyed.keys.values():
        assert key not in text and key_hash(key) in text
    assert stat.S_IMODE(os.stat(keyed.key_path).st_mode) == 0o600


def test_reload_on_change_sighup_and_broken_file(make_server, tmp_path):
    path = str(tmp_path / "keys.json")
    first = create_key(path, "first")
    s = make_server(["--api-keys-file", path, "--auth-failure-limit", "0"], auth="required")
    assert call(s, headers={"X-API-Key": first}).status_code == 200

    # A key created while the server runs works without a restart; a revoked one stops working.
    second = create_key(path, "second")
    assert wait_until(lambda: call(s, headers={"X-API-Key": second}).status_code == 200)
    keys_cli(path, "revoke", "first")
    assert wait_until(lambda: call(s, headers={"X-API-Key": first}).status_code == 401)

    # A broken file keeps the keys in force, and the log says why.
    with open(path, "w") as f:
        f.write('{"version": 1, "keys": [{"id": "x"')
    s.wait_log(lambda l: l.get("msg") == "API key file refused; the keys in force stay")
    s.proc.send_signal(signal.SIGHUP)
    assert wait_until(lambda: sum(1 for l in list(s.logs) if l.get("msg") ==
                                  "API key file refused; the keys in force stay") >= 2)
    assert call(s, headers={"X-API-Key": second}).status_code == 200

    # A good file again, through SIGHUP.
    os.unlink(path)
    third = create_key(path, "third")
    s.proc.send_signal(signal.SIGHUP)
    assert wait_until(lambda: call(s, headers={"X-API-Key": third}).status_code == 200)
    assert call(s, headers={"X-API-Key": second}).status_code == 401


def test_requests_keep_succeeding_during_reloads(make_server, tmp_path):
    path = str(tmp_path / "keys.json")
    key = create_key(path, "steady")
    s = make_server(["--api-keys-file", path, "--auth-failure-limit", "0"], auth="required")
    sess = requests.Session()
    statuses = []
    for i in range(20):
        create_key(path, "extra%d" % i, "read")
        for _ in range(5):
            statuses.append(sess.get(s.url("/api/v1/models"), headers={"X-API-Key": key},
                                     timeout=10).status_code)
    assert statuses == [200] * len(statuses)
    assert wait_until(lambda: any(l.get("msg") == "API keys loaded" and l.get("keys") == 21
                                  for l in list(s.logs)))


def test_brute_force_blocks_the_address(make_server, tmp_path):
    path = str(tmp_path / "keys.json")
    key = create_key(path, "k")
    s = make_server(["--api-keys-file", path, "--auth-failure-limit", "5",
                     "--auth-failure-window", "60", "--auth-block-time", "120"], auth="required")
    # Missing credentials and scope refusals do not count.
    for _ in range(8):
        assert call(s).status_code == 401
    for i in range(5):
        r = call(s, headers={"X-API-Key": "mw_wrong%040d" % i})
        assert r.status_code == 401
    r = call(s, headers={"X-API-Key": key})
    assert_refused(s, r, 429, "rate_limited", "auth.blocked")
    assert 100 <= int(r.headers["Retry-After"]) <= 120
    s.wait_log(lambda l: l.get("msg") == "address blocked after repeated authentication failures")
    # Liveness and readiness still answer.
    assert requests.get(s.url("/api/v1/health/ready"), timeout=10).status_code == 200


def test_auth_none_only_on_loopback(make_server, tmp_path):
    r = subprocess.run([BIN, "serve", "--host", "0.0.0.0", "--port", "0", "--auth", "none",
                        "--models", MODELS], cwd=str(tmp_path), env=CLEAN_ENV,
                       capture_output=True, text=True, timeout=START_TIMEOUT + 30)
    assert r.returncode != 0
    assert "MODELWRAP_AUTH" in r.stderr and "loopback" in r.stderr
    r = subprocess.run([BIN, "check-config", "--host", "0.0.0.0", "--auth", "none"],
                       cwd=ROOT, env=CLEAN_ENV, capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "loopback" in r.stderr
    s = make_server(["--host", "::1", "--models", MODELS], auth="none", cwd=str(tmp_path))
    s.wait_log(lambda l: l.get("msg", "").startswith("MODELWRAP_AUTH=none"))
    r = requests.get("http://[::1]:%d/api/v1/models" % s.port, timeout=10)
    assert r.status_code == 200
    assert not os.path.exists(tmp_path / "keys.json")


def test_make_run_creates_a_development_key(make_server, tmp_path):
    s = make_server(["--models", MODELS], auth=None, cwd=str(tmp_path))
    path = tmp_path / "keys.json"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    text = "".join(s.raw)
    line = next(l for l in s.raw if l.strip().startswith("mw_"))
    key = line.strip()
    assert len(key) == 46
    assert "curl -s -H 'X-API-Key: %s' http://127.0.0.1:" % key in text
    assert key not in path.read_text()
    # The key appears in no JSON log line.
    for rec in s.logs:
        assert key not in json.dumps(rec)
    assert call(s, headers={"X-API-Key": key}).status_code == 200
    assert call(s, "/api/v1/predict", "POST", {"X-API-Key": key}).status_code == 200
    assert call(s).status_code == 401
    keys = json.loads(path.read_text())["keys"]
    assert [k["id"] for k in keys] == ["dev"] and keys[0]["scopes"] == ["predict", "read"]
    s.stop()
    # The next start prints nothing: the file exists.
    s2 = make_server(["--models", MODELS], auth=None, cwd=str(tmp_path))
    assert not any(l.strip().startswith("mw_") for l in s2.raw)
    assert call(s2, headers={"X-API-Key": key}).status_code == 200


def test_broken_key_file_stops_startup(tmp_path):
    path = tmp_path / "keys.json"
    path.write_text('{"version": 1, "keys": [{"id": "a", "scopes": ["reed"], "hash": "x"}]}')
    os.chmod(path, 0o600)
    r = subprocess.run([BIN, "serve", "--port", "0", "--api-keys-file", str(path)], cwd=ROOT,
                       env=CLEAN_ENV, capture_output=True, text=True, timeout=START_TIMEOUT + 30)
    assert r.returncode != 0
    assert "MODELWRAP_API_KEYS_FILE" in r.stderr and "keys[0].scopes[0]" in r.stderr
    os.chmod(path, 0o666)
    r = subprocess.run([BIN, "serve", "--port", "0", "--api-keys-file", str(path)], cwd=ROOT,
                       env=CLEAN_ENV, capture_output=True, text=True, timeout=START_TIMEOUT + 30)
    assert r.returncode != 0 and "writable by other users" in r.stderr
