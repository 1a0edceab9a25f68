"""Failing sinks trigger the configured policy and nothing is lost silently: /dev/full with
fail-closed (503 until it recovers) and with block (back-pressure), and a real rsyslogd stopped
and restarted under both policies (records wait in the queue and are re-sent; every request made,
refused ones included, reaches the collector exactly once)."""
import json
import time
import uuid

import requests

from audit_util import SANITIZED, Rsyslog, wait_for
from conftest import assert_error


def get(s, ids=None, timeout=30):
    rid = "fail-" + uuid.uuid4().hex
    r = requests.get(s.url("/api/v1/models"), headers={"X-Request-Id": rid}, timeout=timeout)
    if ids is not None:
        ids.append(rid)
    return r


def until_refused(s, ids=None):
    """Sends requests until one is refused with 503 (polling); returns that response."""
    got = []
    wait_for(lambda: got.append(get(s, ids)) or got[-1].status_code == 503,
             what="a 503 from the fail-closed policy")
    return got[-1]


def assert_audit_refusal(r):
    assert_error(r, 503, "overloaded")
    assert "audit" in r.json()["error"]
    assert r.headers["Retry-After"] == "1"


def test_dev_full_fail_closed(make_server):
    s = make_server(["--audit-log", "/dev/full", "--audit-policy", "fail-closed",
                     "--audit-flush-timeout", "1"])
    # The first record reveals the failure; from then on every request is refused.
    r = until_refused(s)
    assert_audit_refusal(r)
    for _ in range(3):
        assert_audit_refusal(get(s))
    failing = s.wait_log(lambda l: l.get("msg", "").startswith("audit sink failing"))
    assert failing["sink"] == "/dev/full" and failing["policy"] == "fail-closed"
    assert s.stop() == 0
    lost = s.wait_log(lambda l: l.get("msg") == "audit records not written before the flush "
                                                "timeout")
    assert lost["lost"] >= 5  # never silent: counted and logged


def test_dev_full_block_is_back_pressure(make_server):
    s = make_server(["--audit-log", "/dev/full", "--audit-queue-size", "16", "--threads", "1",
                     "--audit-flush-timeout", "1", "--drain-timeout", "1"])
    served = 0
    blocked = False
    for _ in range(40):
        try:
            assert get(s, timeout=3).status_code == 200
            served += 1
        except requests.exceptions.RequestException:
            blocked = True
            break
    # 16 records fill the queue; the 17th request is answered, then its I/O thread waits for
    # room for its record, and nothing more is served.
    assert blocked and 16 <= served <= 17, served
    t0 = time.monotonic()
    assert s.stop() == 0
    assert time.monotonic() - t0 < (40 if SANITIZED else 20)
    lost = s.wait_log(lambda l: l.get("msg") == "audit records not written before the flush "
                                                "timeout")
    assert lost["lost"] == 16
    closed = s.wait_log(lambda l: l.get("msg") == "audit trail closed")
    # The record that waited is given up at the deadline, the 16 queued ones at the flush.
    assert closed["written"] == 0 and closed["dropped"] == served


def collected_ids(rs):
    out = {}
    for m in rs.messages():
        rec = json.loads(m["msg"])
        out.setdefault(rec["request_id"], []).append(rec)
    return out


def test_stopped_collector_fail_closed(make_server, tmpdir_path):
    rs = Rsyslog(tmpdir_path)
    s = make_server(["--audit-log", "syslog+tcp://127.0.0.1:%d" % rs.tcp_port,
                     "--audit-policy", "fail-closed"])
    ids = []
    for _ in range(5):
        assert get(s, ids).status_code == 200
    wait_for(lambda: len(rs.lines()) == 5, what="5 records at the collector")
    rs.stop()
    r = until_refused(s, ids)
    assert_audit_refusal(r)
    s.wait_log(lambda l: l.get("msg", "").startswith("audit sink failing"))
    rs.start()  # the same port: the writer reconnects (backoff) and re-sends
    wait_for(lambda: get(s, ids).status_code == 200, what="service after the collector is back")
    s.wait_log(lambda l: l.get("msg") == "audit sink recovered")
    wait_for(lambda: len(collected_ids(rs)) >= len(ids), what="every record at the collector")
    assert s.stop() == 0
    got = collected_ids(rs)
    assert set(got) == set(ids)
    refused = 0
    for rid in ids:
        assert len(got[rid]) == 1, (rid, got[rid])
        refused += got[rid][0]["outcome"] == "audit.unavailable"
    assert refused >= 1


def test_stopped_collector_block(make_server, tmpdir_path):
    rs = Rsyslog(tmpdir_path)
    s = make_server(["--audit-log", "syslog+tcp://127.0.0.1:%d" % rs.tcp_port])
    ids = []
    for _ in range(5):
        assert get(s, ids).status_code == 200
    wait_for(lambda: len(rs.lines()) == 5, what="5 records at the collector")
    rs.stop()
    # The queue holds the records while the collector is away; requests go on.
    for _ in range(30):
        assert get(s, ids).status_code == 200
    s.wait_log(lambda l: l.get("msg", "").startswith("audit sink failing"))
    rs.start()
    wait_for(lambda: len(collected_ids(rs)) >= len(ids), what="the queued records re-sent")
    assert s.stop() == 0
    got = collected_ids(rs)
    assert set(got) == set(ids)
    assert all(len(v) == 1 for v in got.values())
