"""The SLA as configuration: GET /api/v1/sla publishes exactly the settings that the server
enforces (throughput, message size, concurrency, outage windows), with support hours,
availability, response time and the point of contact; scheduled outage windows answer 503 with
Retry-After at the end of the window while health keeps reporting; bad SLA settings stop start-up
with a message naming the setting."""
import datetime
import json
import subprocess

import requests

from conftest import BIN, IRIS_ROW, ROOT, assert_error
from limit_util import Replica, clean_env, create_key


def utc(dt):
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_document_is_what_is_enforced(tmpdir_path):
    keys = tmpdir_path + "/keys.json"
    key = create_key(keys, "reader", scopes="predict,read")
    env = {"MODELWRAP_API_KEYS_FILE": keys, "MODELWRAP_RATE_LIMIT": "6/m",
           "MODELWRAP_RATE_BURST": "5", "MODELWRAP_MAX_BODY_BYTES": "4k",
           "MODELWRAP_MAX_CONCURRENCY": "64", "MODELWRAP_SLA_AVAILABILITY": "99.95",
           "MODELWRAP_SLA_RESPONSE_TIME_MS": "250",
           "MODELWRAP_SLA_SUPPORT_HOURS": "Mon-Fri 08:00-18:00 UTC-05:00; Sat 10:00-12:00 UTC",
           "MODELWRAP_SLA_OUTAGES": "Sun 02:00-04:00 UTC;2031-01-01T00:00Z/2031-01-01T02:00Z",
           "MODELWRAP_SLA_CONTACT_NAME": "ML Platform Team",
           "MODELWRAP_SLA_CONTACT_EMAIL": "ml-platform@example.org",
           "MODELWRAP_SLA_CONTACT_URL": "https://example.org/ml-platform"}
    rep = Replica(tmpdir_path, env)
    try:
        # Like every route but the health probes, the document needs a principal (scope read).
        assert_error(requests.get(rep.url("/api/v1/sla"), timeout=30), 401, "unauthenticated")
        r = requests.get(rep.url("/api/v1/sla"), headers={"X-API-Key": key}, timeout=30)
        assert r.status_code == 200, r.text
        assert r.headers["Content-Type"].startswith("application/json")
        doc = r.json()
        assert doc["service"]["name"] == "modelwrap"
        assert doc["availability"]["target_percent"] == 99.95
        assert doc["response_time"] == {"target_ms": 250, "percentile": 99,
                                        "applies_to": "predict requests, measured at the server"}
        t = doc["throughput"]
        assert t["limit"] == "6/m" and t["requests_per_second"] == 0.1 and t["burst"] == 5
        assert t["shared_across_replicas"] is False
        assert doc["message_size"]["max_body_bytes"] == 4096
        assert doc["concurrency"]["max_in_flight"] == 64
        assert doc["contact"] == {"name": "ML Platform Team", "email": "ml-platform@example.org",
                                  "url": "https://example.org/ml-platform"}
        sup = doc["support_hours"]
        assert sup["schedule"] == "Mon-Fri 08:00-18:00 UTC-05:00; Sat 10:00-12:00 UTC"
        assert [w["window"] for w in sup["windows"]] == ["Mon-Fri 08:00-18:00 UTC-05:00",
                                                         "Sat 10:00-12:00 UTC"]
        assert isinstance(sup["open_now"], bool)
        out = doc["scheduled_outages"]
        assert out["in_outage_now"] is False and out["until"] is None
        weekly, dated = out["windows"]
        assert weekly["window"] == "Sun 02:00-04:00 UTC" and weekly["repeats"] == "weekly"
        start = datetime.datetime.fromisoformat(weekly["next_start"].replace("Z", "+00:00"))
        end = datetime.datetime.fromisoformat(weekly["next_end"].replace("Z", "+00:00"))
        assert start.weekday() == 6 and start.hour == 2 and end - start == datetime.timedelta(hours=2)
        assert dated == {"window": "2031-01-01T00:00Z/2031-01-01T02:00Z", "repeats": "once",
                         "next_start": "2031-01-01T00:00:00.000Z",
                         "next_end": "2031-01-01T02:00:00.000Z"}

        # What it says is what happens: the burst, then 429; the body limit + 1 byte, 413. The
        # document itself was one request of this key's burst (at 6/m no token comes back yet).
        url = rep.url("/api/v1/models")
        codes = [requests.get(url, headers={"X-API-Key": key}, timeout=30).status_code
                 for _ in range(t["burst"])]
        assert codes == [200] * (t["burst"] - 1) + [429], codes
        body = json.dumps({"data": [IRIS_ROW]})
        body += " " * (doc["message_size"]["max_body_bytes"] + 1 - len(body))
        r = requests.post(rep.url("/api/v1/predict"), data=body, timeout=30,
                          headers={"Content-Type": "application/json", "X-API-Key": key})
        assert_error(r, 413, "body_too_large")
    finally:
        rep.check_stop()


def test_outage_window_now(tmpdir_path):
    keys = tmpdir_path + "/keys.json"
    key = create_key(keys, "operator", scopes="predict,read,admin,metrics")
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    end = now + datetime.timedelta(minutes=10)
    # A dated window that holds now, and a weekly one that starts where it ends: the outage
    # lasts until the end of the second (Retry-After follows touching windows).
    weekly_end = end + datetime.timedelta(minutes=5)
    weekly = "%s %s-%s UTC" % (end.strftime("%a"), end.strftime("%H:%M"),
                               weekly_end.strftime("%H:%M"))
    dated = "%s/%s" % (utc(now - datetime.timedelta(minutes=1)), utc(end.replace(second=0)))
    rep = Replica(tmpdir_path, {"MODELWRAP_API_KEYS_FILE": keys,
                                "MODELWRAP_SLA_OUTAGES": dated + "; " + weekly})
    try:
        headers = {"X-API-Key": key}
        for path in ("/api/v1/models", "/api/v1/models/iris", "/"):
            r = requests.get(rep.url(path), headers=headers, timeout=30)
            body = assert_error(r, 503, "scheduled_outage")
            assert "/api/v1/sla" in body["error"]
            retry = int(r.headers["Retry-After"])
            until = end.replace(second=0) + datetime.timedelta(minutes=5)
            left = (until - datetime.datetime.now(datetime.timezone.utc)).total_seconds()
            assert left - 5 <= retry <= left + 1, (retry, left)
        r = requests.post(rep.url("/api/v1/predict"), data=json.dumps({"data": [IRIS_ROW]}),
                          headers={"Content-Type": "application/json", "X-API-Key": key},
                          timeout=30)
        assert_error(r, 503, "scheduled_outage")
        # Even without credentials the answer is the outage, not a 401.
        assert_error(requests.get(rep.url("/api/v1/models"), timeout=30), 503,
                     "scheduled_outage")
        # Health keeps reporting the truth; the SLA document says why.
        assert requests.get(rep.url("/api/v1/health/live"), timeout=30).status_code == 200
        r = requests.get(rep.url("/api/v1/health/ready"), timeout=30)
        assert r.status_code == 200 and r.json() == {"ready": True}
        doc = requests.get(rep.url("/api/v1/sla"), headers={"X-API-Key": key},
                           timeout=30).json()["scheduled_outages"]
        assert doc["in_outage_now"] is True
        assert doc["until"].startswith(utc(until)[:16])
        assert rep.wait_count("request", 2, route="v1_models", status=503) >= 2
    finally:
        rep.check_stop()


def test_window_elsewhere_changes_nothing(tmpdir_path):
    keys = tmpdir_path + "/keys.json"
    key = create_key(keys, "reader", scopes="read")
    now = datetime.datetime.now(datetime.timezone.utc)
    other = (now + datetime.timedelta(days=3)).strftime("%a")
    rep = Replica(tmpdir_path, {"MODELWRAP_API_KEYS_FILE": keys,
                                "MODELWRAP_SLA_OUTAGES": "%s 00:00-24:00 UTC;"
                                "2020-01-01T00:00Z/2020-01-02T00:00Z" % other})
    try:
        r = requests.get(rep.url("/api/v1/models"), headers={"X-API-Key": key}, timeout=30)
        assert r.status_code == 200, r.text
        doc = requests.get(rep.url("/api/v1/sla"), headers={"X-API-Key": key},
                           timeout=30).json()["scheduled_outages"]
        assert doc["in_outage_now"] is False
        assert doc["windows"][1]["next_start"] is None  # over
    finally:
        rep.check_stop()


BAD = [
    ({"MODELWRAP_SLA_OUTAGES": "Sunday 02:00-04:00 UTC"}, "MODELWRAP_SLA_OUTAGES: window 1"),
    ({"MODELWRAP_SLA_OUTAGES": "Sun 02:00-04:00 UTC;Sun 05:00-04:00 CET"},
     "MODELWRAP_SLA_OUTAGES: window 2"),
    ({"MODELWRAP_SLA_OUTAGES": "2026-02-30T00:00Z/2026-03-01T00:00Z"}, "MODELWRAP_SLA_OUTAGES"),
    ({"MODELWRAP_SLA_SUPPORT_HOURS": "2026-01-01T00:00Z/2026-01-02T00:00Z"},
     "MODELWRAP_SLA_SUPPORT_HOURS: window 1"),
    ({"MODELWRAP_SLA_AVAILABILITY": "101"}, "MODELWRAP_SLA_AVAILABILITY: '101'"),
    ({"MODELWRAP_SLA_AVAILABILITY": "99.9%"}, "MODELWRAP_SLA_AVAILABILITY"),
    ({"MODELWRAP_SLA_CONTACT_EMAIL": "not an address"}, "MODELWRAP_SLA_CONTACT_EMAIL"),
    ({"MODELWRAP_SLA_CONTACT_URL": "ftp://example.org"}, "MODELWRAP_SLA_CONTACT_URL"),
    ({"MODELWRAP_RATE_LIMIT": "100 per second"}, "MODELWRAP_RATE_LIMIT: '100 per second'"),
    ({"MODELWRAP_REDIS_URL": "redis://:hunter2@127.0.0.1:0"}, "MODELWRAP_REDIS_URL"),
]


def test_bad_sla_settings_stop_startup():
    for env, expect in BAD:
        for cmd in (["check-config"], ["serve", "--port", "0"]):
            full = dict(env, MODELWRAP_AUTH="none")
            r = subprocess.run([BIN] + cmd, cwd=ROOT, env=clean_env(full), capture_output=True,
                               text=True, timeout=60)
            assert r.returncode != 0, (cmd, env, r.stdout[-500:], r.stderr[-500:])
            assert "listening" not in r.stderr
            assert expect in r.stderr, (env, r.stderr)
            assert "hunter2" not in r.stderr + r.stdout


def test_configured_numbers_printed_as_configured(tmpdir_path):
    """The document's reals are the configured text, not the nearest double's 17 digits
    ("target_percent":99.900000000000006 for a configured 99.9)."""
    keys = tmpdir_path + "/keys.json"
    key = create_key(keys, "reader", scopes="read")
    rep = Replica(tmpdir_path, {"MODELWRAP_API_KEYS_FILE": keys,
                                "MODELWRAP_SLA_AVAILABILITY": "99.9",
                                "MODELWRAP_RATE_LIMIT": "0.1/s"})
    try:
        r = requests.get(rep.url("/api/v1/sla"), headers={"X-API-Key": key}, timeout=30)
        assert r.status_code == 200, r.text
        assert '"target_percent":99.9,' in r.text or '"target_percent":99.9}' in r.text, r.text
        assert '"requests_per_second":0.1,' in r.text, r.text
        assert r.json()["availability"]["target_percent"] == 99.9
    finally:
        rep.check_stop()
