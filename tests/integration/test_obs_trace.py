"""W3C Trace Context: valid traceparent/tracestate are echoed and carried into the operational log
and the audit record; invalid ones are ignored (none is invented)."""
import time

import requests

from conftest import IRIS_ROW
from obs_util import TRACEPARENT, audit_lines, post, start

STATE = "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"


def request_log(srv, request_id):
    return srv.wait_log(lambda rec: rec.get("msg") == "request" and
                        rec.get("request_id") == request_id)


def test_valid_context_echoed_and_logged(make_server, tmpdir_path):
    srv, key = start(make_server, tmpdir_path)
    r = post(srv.url("/api/v1/predict"), {"data": [IRIS_ROW]}, key,
             {"traceparent": TRACEPARENT, "tracestate": STATE, "X-Request-Id": "trace-1"})
    assert r.status_code == 200
    assert r.headers["traceparent"] == TRACEPARENT
    assert r.headers["tracestate"] == STATE
    rec = request_log(srv, "trace-1")
    assert rec["traceparent"] == TRACEPARENT and rec["tracestate"] == STATE
    # The audit record names the trace too.
    end = time.time() + 10
    while time.time() < end:
        recs = [a for a in audit_lines(srv) if a.get("request_id") == "trace-1"]
        if recs:
            break
        time.sleep(0.05)
    assert recs, "no audit record for trace-1"
    assert recs[0].get("trace_id") == TRACEPARENT.split("-")[1]


def test_refused_requests_carry_the_context(make_server, tmpdir_path):
    srv, _ = start(make_server, tmpdir_path)
    # Refused by authentication (after the trace phase): echoed and logged.
    r = requests.get(srv.url("/api/v1/models"),
                     headers={"traceparent": TRACEPARENT, "X-Request-Id": "trace-401"})
    assert r.status_code == 401 and r.headers["traceparent"] == TRACEPARENT
    assert request_log(srv, "trace-401")["traceparent"] == TRACEPARENT
    # No route: answered before the application sees it, but still logged with the context.
    r = requests.get(srv.url("/nowhere"),
                     headers={"traceparent": TRACEPARENT, "X-Request-Id": "trace-404"})
    assert r.status_code == 404
    assert request_log(srv, "trace-404")["traceparent"] == TRACEPARENT


BAD_PARENTS = [
    "00-00000000000000000000000000000000-00f067aa0ba902b7-01",  # zero trace id
    "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",  # zero parent id
    "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",  # upper case
    "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  # version
    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
    "garbage",
    "x" * 4000,
]


def test_invalid_context_ignored(make_server, tmpdir_path):
    srv, key = start(make_server, tmpdir_path)
    for i, tp in enumerate(BAD_PARENTS):
        rid = "bad-tp-%d" % i
        r = requests.get(srv.url("/api/v1/models"),
                         headers={"X-API-Key": key, "traceparent": tp, "tracestate": STATE,
                                  "X-Request-Id": rid})
        assert r.status_code == 200, r.text
        assert "traceparent" not in r.headers and "tracestate" not in r.headers
        rec = request_log(srv, rid)
        assert "traceparent" not in rec and "tracestate" not in rec
    # A valid parent with a broken state: the parent alone goes on.
    for i, ts in enumerate(["Bad=1", "a=1,a=2", "k=" + "v" * 600, "k=a\tb",
                            ",".join("k%d=v" % n for n in range(33))]):
        rid = "bad-ts-%d" % i
        r = requests.get(srv.url("/api/v1/models"),
                         headers={"X-API-Key": key, "traceparent": TRACEPARENT, "tracestate": ts,
                                  "X-Request-Id": rid})
        assert r.status_code == 200
        assert r.headers["traceparent"] == TRACEPARENT and "tracestate" not in r.headers
        rec = request_log(srv, rid)
        assert rec["traceparent"] == TRACEPARENT and "tracestate" not in rec
    # Without any context nothing is invented.
    r = requests.get(srv.url("/api/v1/models"), headers={"X-API-Key": key, "X-Request-Id": "none"})
    assert "traceparent" not in r.headers
    assert "traceparent" not in request_log(srv, "none")
