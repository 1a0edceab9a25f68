"""Security events against the real binary: each fires on its scenario (a burst of
authentication failures from one address and for one principal, a scope violation, a rate-limit
violation, a token with an over-long lifetime, path probing, large requests, use outside business
hours) exactly once per dedup window, and never on normal traffic; in JSON and CEF; to the audit
sinks and to a separate security sink."""
import datetime
import json
import os
import time
import uuid
import zoneinfo

import requests

from audit_util import events_only, parse_cef, read_json, read_lines, requests_only, wait_for
from auth_util import AUDIENCE, claims, create_key, hs256, keys_cli
from conftest import IRIS_ROW

DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


def predict(s, rows=1, headers=None):
    h = {"Content-Type": "application/json"}
    h.update(headers or {})
    return requests.post(s.url("/api/v1/predict"), data=json.dumps({"data": [IRIS_ROW] * rows}),
                         headers=h, timeout=30)


def sigs(records):
    return sorted(r["signature"] for r in events_only(records))


def settle(s, path, n_requests):
    """Waits until the n_requests records are in the file, then stops the server (flush)."""
    wait_for(lambda: len(requests_only(read_json(path))) >= n_requests, what="the records")
    assert s.stop() == 0
    return read_json(path)


def test_authentication_events(make_server, tmpdir_path):
    keys = os.path.join(tmpdir_path, "keys.json")
    full = create_key(keys, "full", "predict,read", "--rate-limit", "1000/s", "--burst", "1000")
    reader = create_key(keys, "reader", "read")
    limited = create_key(keys, "limited", "predict,read", "--rate-limit", "1/m", "--burst", "1")
    revoked = create_key(keys, "gone", "predict,read")
    keys_cli(keys, "revoke", "gone")
    secret = b"a-shared-secret-of-at-least-thirty-two-bytes"
    secret_path = os.path.join(tmpdir_path, "hs256.secret")
    with open(secret_path, "wb") as f:
        f.write(secret)
    os.chmod(secret_path, 0o600)
    path = os.path.join(tmpdir_path, "audit.log")
    s = make_server(["--api-keys-file", keys, "--auth-failure-limit", "0", "--jwt-issuer",
                     "urn:hs", "--jwt-audience", AUDIENCE, "--jwt-hs256-secret-file", secret_path,
                     "--audit-log", path, "--audit-auth-failures", "5"], auth="required")
    n = 0
    # Normal traffic: nothing.
    for _ in range(20):
        assert predict(s, headers={"X-API-Key": full}).status_code == 200
        n += 1
    assert requests.get(s.url("/api/v1/models"), headers={"X-API-Key": reader},
                        timeout=30).status_code == 200
    n += 1
    wait_for(lambda: len(read_json(path)) >= n, what="the normal records")
    assert sigs(read_json(path)) == []
    # A burst of unknown keys from one address: one event however long it goes on.
    for i in range(12):
        bad = "mw_" + uuid.uuid4().hex + uuid.uuid4().hex[:11]
        assert predict(s, headers={"X-API-Key": bad}).status_code == 401
        n += 1
    # A revoked key tried again and again: the principal's burst (the address already reported).
    for _ in range(6):
        assert predict(s, headers={"X-API-Key": revoked}).status_code == 401
        n += 1
    # A read-only key calling predict.
    assert predict(s, headers={"X-API-Key": reader}).status_code == 403
    n += 1
    # Over its rate.
    codes = [predict(s, headers={"X-API-Key": limited}).status_code for _ in range(3)]
    assert codes[0] == 200 and 429 in codes, codes
    n += 3
    # A token that would live two days.
    now = int(time.time())
    token = hs256(secret, {"alg": "HS256", "typ": "JWT"},
                  claims("urn:hs", iat=now, exp=now + 2 * 86400))
    r = predict(s, headers={"Authorization": "Bearer " + token})
    assert r.status_code == 401
    n += 1
    records = settle(s, path, n)
    ev = {e["signature"]: e for e in events_only(records)}
    assert sigs(records) == [200, 201, 230, 240, 250], sigs(records)
    assert ev[200]["client"] == "127.0.0.1" and ev[200]["count"] == 5
    assert ev[200]["threshold"] == 5 and ev[200]["window_s"] == 60 and ev[200]["severity"] == 7
    assert ev[201]["principal_id"] == "gone" and ev[201]["count"] == 5
    assert ev[230]["principal_id"] == "limited" and ev[230]["outcome"] == "limit.rate"
    assert ev[240]["principal_id"] == "reader" and ev[240]["outcome"] == "auth.insufficient_scope"
    assert ev[250]["outcome"] == "auth.token_lifetime"
    for e in ev.values():
        assert e["name"] and e["message"] and e["request_id"]
        # an event follows the record of the request that raised it
        ids = [r["request_id"] for r in records]
        assert ids.index(e["request_id"]) < records.index(e)
    # Never a key or a token in the trail.
    text = open(path).read()
    for secret_value in (full, reader, limited, revoked, token):
        assert secret_value not in text


def test_probing_and_large_requests(make_server, tmpdir_path):
    path = os.path.join(tmpdir_path, "audit.log")
    security = os.path.join(tmpdir_path, "security.log")
    s = make_server(["--audit-log", path, "--audit-security-log", security,
                     "--audit-probe-404s", "5", "--audit-large-request-records", "5",
                     "--audit-large-request-bytes", "3000"])
    n = 0
    for rows in (1, 4, 1, 2):
        assert predict(s, rows).status_code == 200
        n += 1
    for i in range(4):
        assert requests.get(s.url("/wp-admin/%d.php" % i), timeout=30).status_code == 404
        n += 1
    wait_for(lambda: len(read_json(path)) >= n, what="the normal records")
    assert sigs(read_json(path)) == []
    assert requests.get(s.url("/.env"), timeout=30).status_code == 404  # the 5th
    for i in range(10):
        requests.get(s.url("/admin/%d" % i), timeout=30)
    n += 11
    assert predict(s, 6).status_code == 200  # 6 records, ~600 bytes
    assert predict(s, 40).status_code == 200  # 40 records, ~3600 bytes (records: deduped)
    n += 2
    records = settle(s, path, n)
    assert sigs(records) == [220, 221, 260]
    ev = {e["signature"]: e for e in events_only(records)}
    assert ev[260]["count"] == 5 and ev[260]["path"] == "/.env" and ev[260]["threshold"] == 5
    assert ev[221]["records"] == 6 and ev[221]["threshold"] == 5
    assert ev[220]["records"] == 40 and ev[220]["bytes_in"] >= 3000
    # The security sink has the events and nothing else.
    assert sorted(r["signature"] for r in read_json(security)) == [220, 221, 260]
    assert all(r["type"] == "security_event" for r in read_json(security))


def test_events_in_cef(make_server, tmpdir_path):
    path = os.path.join(tmpdir_path, "audit.cef")
    s = make_server(["--audit-log", path, "--audit-format", "cef", "--audit-probe-404s", "3"])
    for i in range(3):
        requests.get(s.url("/probe/%d" % i), headers={"User-Agent": "scanner|x=1"}, timeout=30)
    wait_for(lambda: len(read_lines(path)) >= 4, what="3 records and an event")
    assert s.stop() == 0
    events = [parse_cef(l) for l in read_lines(path) if "|260|" in l]
    assert len(events) == 1
    header, ext = events[0]
    assert header == ["0", "modelwrap", "modelwrap", header[3], "260", "Path probing", "6"]
    # The event names the request whose completion counted third: the answer goes out before
    # the completion phase runs, so the last two completions may run in either order on two
    # I/O threads.
    assert ext["cnt"] == "3" and ext["src"] == "127.0.0.1"
    assert ext["request"] in ("/probe/1", "/probe/2")
    assert ext["requestClientApplication"] == "scanner|x=1"
    assert "3 requests for unknown paths" in ext["msg"]


def test_after_hours(make_server, tmpdir_path):
    zone = "Pacific/Auckland"
    local = datetime.datetime.now(zoneinfo.ZoneInfo(zone))
    if local.hour == 23 and local.minute >= 58 or local.hour == 0 and local.minute < 2:
        zone = "UTC"  # stay clear of a day boundary during the test
        local = datetime.datetime.now(zoneinfo.ZoneInfo(zone))
    today = DAYS[local.weekday()]
    others = ",".join(d for d in DAYS if d != today)

    def run(hours, tag):
        path = os.path.join(tmpdir_path, tag + ".log")
        s = make_server(["--audit-log", path, "--audit-business-hours", hours,
                         "--audit-timezone", zone])
        assert predict(s).status_code == 200
        assert requests.get(s.url("/api/v1/health"), timeout=30).status_code == 200
        return settle(s, path, 2)

    # Business hours on every other day: now is after hours.
    records = run(others + " 00:00-24:00", "after")
    assert sigs(records) == [210]
    ev = events_only(records)[0]
    assert ev["path"] == "/api/v1/predict" and ev["severity"] == 5  # not the health probe
    # Today is a business day: nothing.
    assert sigs(run(today + " 00:00-24:00", "during")) == []
