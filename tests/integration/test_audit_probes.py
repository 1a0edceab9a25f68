"""Health probes while the audit trail is stuck: under fail-closed, liveness stays 200 (a restart
would not mend a collector) while readiness answers not ready with the reason; under block,
probes never wait for room in the audit queue (their records are dropped and counted when it is
full) and readiness says the queue is full."""
import requests

from audit_util import wait_for
from conftest import assert_error

LIVE = ["/api/v1/health/live", "/v2/health/live", "/api/health", "/api/health/"]


def get(s, path, timeout=10):
    return requests.get(s.url(path), timeout=timeout)


def test_fail_closed_liveness_stays_200_readiness_says_why(make_server):
    s = make_server(["--audit-log", "/dev/full", "--audit-policy", "fail-closed",
                     "--audit-flush-timeout", "1"])
    assert get(s, "/api/v1/health/ready").status_code == 200
    # the first record reveals the failure; from then on ordinary requests are refused
    wait_for(lambda: get(s, "/api/v1/models").status_code == 503, what="the fail-closed 503")
    assert_error(get(s, "/api/v1/models"), 503, "overloaded")
    for _ in range(3):
        for path in LIVE:
            r = get(s, path)
            assert r.status_code == 200, (path, r.status_code, r.text)
    r = get(s, "/api/v1/health/ready")
    assert r.status_code == 503, r.text
    body = r.json()
    assert body["ready"] is False and "audit" in body["reason"] and "fail-closed" in body["reason"]
    r = get(s, "/v2/health/ready")
    assert r.status_code == 400 and r.json()["ready"] is False
    assert "audit" in r.json()["reason"]
    r = get(s, "/api/v1/health")
    assert r.status_code == 200, r.text
    assert r.json()["is_alive"] is True and r.json()["ready"] is False and r.json()["reason"]
    assert s.stop() == 0


def test_block_probes_never_wait_for_the_audit_queue(make_server):
    # one I/O thread: requests are handled in order, so after 16 ordinary requests their 16
    # records fill the queue before the first probe is read
    s = make_server(["--audit-log", "/dev/full", "--audit-queue-size", "16", "--threads", "1",
                     "--audit-flush-timeout", "1", "--drain-timeout", "1"])
    sess = requests.Session()
    for _ in range(16):
        assert sess.get(s.url("/api/v1/models"), timeout=10).status_code == 200
    # before: the first probe was answered, then its record waited for room and the thread with
    # it, so the next probe hung
    for _ in range(5):
        for path in LIVE:
            r = sess.get(s.url(path), timeout=10)
            assert r.status_code == 200, (path, r.text)
    r = sess.get(s.url("/api/v1/health/ready"), timeout=10)
    assert r.status_code == 503, r.text
    assert "queue is full" in r.json()["reason"] and "block" in r.json()["reason"]
    r = sess.get(s.url("/v2/health/ready"), timeout=10)
    assert r.status_code == 400 and "queue is full" in r.json()["reason"]
    assert s.stop() == 0
    dropped = s.wait_log(lambda l: l.get("msg") == "audit record dropped: the queue is full")
    assert dropped["policy"] == "block"
