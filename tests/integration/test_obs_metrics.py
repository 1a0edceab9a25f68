"""GET /metrics: every family present, requests move the right counters, promtool accepts a real
scrape, the `metrics` scope, and the separate listener of MODELWRAP_METRICS_PORT."""
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor

import requests

from conftest import IRIS_ROW, plugin_path, write_model
from obs_util import (free_port, post, promtool_check, scrape, scrape_settled, served, start,
                      value)

FAMILIES = {
    "modelwrap_http_requests_total": "counter",
    "modelwrap_http_request_duration_seconds": "histogram",
    "modelwrap_http_requests_in_flight": "gauge",
    "modelwrap_auth_failures_total": "counter",
    "modelwrap_rate_limited_requests_total": "counter",
    "modelwrap_requests_refused_total": "counter",
    "modelwrap_model_inferences_total": "counter",
    "modelwrap_model_queue_duration_seconds": "histogram",
    "modelwrap_model_compute_duration_seconds": "histogram",
    "modelwrap_model_batch_size": "histogram",
    "modelwrap_model_ready": "gauge",
    "modelwrap_model_queue_depth": "gauge",
    "modelwrap_build_info": "gauge",
    "modelwrap_process_cpu_seconds_total": "counter",
    "modelwrap_process_resident_memory_bytes": "gauge",
    "modelwrap_process_virtual_memory_bytes": "gauge",
    "modelwrap_process_open_fds": "gauge",
    "modelwrap_process_max_fds": "gauge",
    "modelwrap_process_threads": "gauge",
    "modelwrap_process_start_time_seconds": "gauge",
    # other modules' counters (src/auth, src/limit, src/audit)
    "modelwrap_auth_successes_total": "counter",
    "modelwrap_auth_blocks_total": "counter",
    "modelwrap_api_keys": "gauge",
    "modelwrap_api_key_reloads_total": "counter",
    "modelwrap_jwks_keys": "gauge",
    "modelwrap_jwks_refreshes_total": "counter",
    "modelwrap_rate_limit_decisions_total": "counter",
    "modelwrap_rate_limit_store_errors_total": "counter",
    "modelwrap_rate_limit_fallback_total": "counter",
    "modelwrap_rate_limit_evictions_total": "counter",
    "modelwrap_concurrency_in_use": "gauge",
    "modelwrap_concurrency_limit": "gauge",
    "modelwrap_audit_records_written_total": "counter",
    "modelwrap_audit_records_dropped_total": "counter",
    "modelwrap_audit_write_failures_total": "counter",
    "modelwrap_audit_records_pending": "gauge",
    "modelwrap_audit_sinks": "gauge",
    "modelwrap_security_events_total": "counter",
}
IRIS = {"model": "iris", "version": "1"}


def test_every_family_present(make_server, tmpdir_path):
    srv, key = start(make_server, tmpdir_path)
    text, m = scrape(srv.url("/metrics"), key)
    for name, typ in FAMILIES.items():
        assert m["families"].get(name) == typ, "family %s missing or not a %s" % (name, typ)
        assert m["help"].get(name), "family %s has no HELP" % name
    # Every name is in the modelwrap_ namespace.
    assert all(n.startswith("modelwrap_") for n in m["families"])
    # The loaded model's series exist before its first call.
    assert value(m, "modelwrap_model_ready", **IRIS) == 1
    for result in ("success", "invalid_input", "error", "deadline", "rejected"):
        assert ("modelwrap_model_inferences_total",
                frozenset(dict(IRIS, result=result).items())) in m["samples"]
    build = [dict(k[1]) for k in m["samples"] if k[0] == "modelwrap_build_info"]
    listening = srv.wait_log(lambda rec: rec.get("msg") == "listening")
    assert len(build) == 1 and build[0]["version"] == listening["version"]
    now = time.time()
    assert now - 600 < value(m, "modelwrap_process_start_time_seconds") <= now + 1
    assert value(m, "modelwrap_process_resident_memory_bytes") > 1 << 20
    assert value(m, "modelwrap_process_open_fds") >= 3
    assert value(m, "modelwrap_process_threads") >= 2
    # The scrape itself is in flight while it is answered.
    assert value(m, "modelwrap_http_requests_in_flight") >= 1
    assert value(m, "modelwrap_api_keys") == 1
    assert value(m, "modelwrap_api_key_reloads_total", result="success") >= 1
    assert value(m, "modelwrap_audit_sinks", state="ok") == 1
    assert value(m, "modelwrap_audit_sinks", state="failing") == 0
    rc, out = promtool_check(text)
    assert rc == 0, out


def test_requests_move_the_counters(make_server, tmpdir_path):
    srv, key = start(make_server, tmpdir_path)
    hdr = {"X-API-Key": key}
    _, before = scrape(srv.url("/metrics"), key)

    rows = [IRIS_ROW, IRIS_ROW, IRIS_ROW]
    assert post(srv.url("/api/v1/predict"), {"data": rows}, key).status_code == 200
    bad = dict(IRIS_ROW, petal_width="wide")
    assert post(srv.url("/api/v1/predict"), {"data": [bad]}, key).status_code == 422
    assert requests.get(srv.url("/nope"), headers=hdr).status_code == 404
    assert requests.get(srv.url("/api/v1/models")).status_code == 401
    assert requests.get(srv.url("/api/v1/models"), headers={"X-API-Key": "mw_wrong"}).status_code == 401
    assert requests.get(srv.url("/api/v1/health/live")).status_code == 200

    _, after = scrape_settled(srv.url("/metrics"), key, served(before) + 6)

    def delta(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    req = "modelwrap_http_requests_total"
    assert delta(req, route="v1_predict", method="POST", status="2xx") == 1
    assert delta(req, route="v1_predict", method="POST", status="4xx") == 1
    assert delta(req, route="none", method="GET", status="4xx") == 1
    assert delta(req, route="v1_models", method="GET", status="4xx") == 2
    assert delta(req, route="v1_health_live", method="GET", status="2xx") == 1
    assert delta(req, route="metrics", method="GET", status="2xx") >= 1  # the first scrape
    dur = "modelwrap_http_request_duration_seconds"
    assert delta(dur + "_count", route="v1_predict") == 2
    assert delta(dur + "_bucket", route="v1_predict", le="+Inf") == 2
    assert delta(dur + "_sum", route="v1_predict") > 0

    # The 422 was refused before the model ran: one inference, of three rows.
    inf = "modelwrap_model_inferences_total"
    assert delta(inf, result="success", **IRIS) == 1
    assert delta(inf, result="invalid_input", **IRIS) == 0
    assert delta("modelwrap_model_compute_duration_seconds_count", **IRIS) == 1
    assert delta("modelwrap_model_compute_duration_seconds_sum", **IRIS) > 0
    assert delta("modelwrap_model_queue_duration_seconds_count", **IRIS) == 1
    assert delta("modelwrap_model_batch_size_count", **IRIS) == 1
    assert delta("modelwrap_model_batch_size_sum", **IRIS) == 3
    assert delta("modelwrap_model_batch_size_bucket", le="2", **IRIS) == 0
    assert delta("modelwrap_model_batch_size_bucket", le="4", **IRIS) == 1

    assert delta("modelwrap_auth_failures_total", reason="missing") == 1
    assert delta("modelwrap_auth_failures_total", reason="invalid_key") == 1
    assert delta("modelwrap_auth_failures_total", reason="insufficient_scope") == 0
    # The other modules' counters: the 3 requests with the key before the 404 and the scrape
    # authenticated (the 404 never reached authentication), every request was audited.
    assert delta("modelwrap_auth_successes_total") == 3
    assert delta("modelwrap_rate_limit_decisions_total", result="allowed") == 3
    assert delta("modelwrap_rate_limit_decisions_total", result="limited") == 0
    assert value(after, "modelwrap_process_cpu_seconds_total") >= value(
        before, "modelwrap_process_cpu_seconds_total")


def test_audit_records_counted(make_server, tmpdir_path):
    srv, key = start(make_server, tmpdir_path)
    for _ in range(5):
        assert requests.get(srv.url("/api/v1/health/live")).status_code == 200
    # The audit writer is asynchronous: poll until the five (and the scrapes) are written.
    end = time.time() + 20
    while True:
        _, m = scrape(srv.url("/metrics"), key)
        if value(m, "modelwrap_audit_records_written_total") >= 5 or time.time() > end:
            break
        time.sleep(0.05)
    assert value(m, "modelwrap_audit_records_written_total") >= 5
    assert value(m, "modelwrap_audit_records_dropped_total") == 0
    assert value(m, "modelwrap_audit_write_failures_total") == 0


def test_queue_time_on_workers(make_server, tmpdir_path):
    # A model on worker threads: the queue histogram measures the wait for a worker.
    srv, key = start(make_server, tmpdir_path, ["--model-workers", "1"])
    for _ in range(3):
        assert post(srv.url("/api/v1/predict"), {"data": [IRIS_ROW]}, key).status_code == 200
    _, m = scrape_settled(srv.url("/metrics"), key, 3)
    assert value(m, "modelwrap_model_inferences_total", result="success", **IRIS) == 3
    assert value(m, "modelwrap_model_queue_duration_seconds_count", **IRIS) == 3
    assert value(m, "modelwrap_model_queue_duration_seconds_sum", **IRIS) > 0
    assert value(m, "modelwrap_model_queue_depth", **IRIS) == 0


def test_model_results(make_server, tmpdir_path):
    # The test plug-in: 13 is refused as invalid input, 666 fails, 42 takes 2 s more. One worker,
    # a queue of one, a 1.5 s deadline.
    models = os.path.join(tmpdir_path, "models")
    write_model(models, "testkit", {"backend": "plugin", "file": plugin_path("testkit"),
                                    "version": "3", "workers": 1, "queue_size": 1,
                                    "timeout_ms": 1500})
    srv, key = start(make_server, tmpdir_path, ["--models", models])
    url = srv.url("/api/v1/models/testkit/predict")

    def call(a):
        return post(url, {"data": [{"a": a, "b": 1}, {"a": 1, "b": 2}]}, key).status_code

    assert call(1) == 200
    assert call(13) == 422
    assert call(666) == 500
    assert call(42) == 504  # answered at 1.5 s; the worker stays busy until 2 s
    with ThreadPoolExecutor(2) as pool:  # one waits in the queue, the other finds it full
        codes = sorted(pool.map(call, [1, 1]))
    assert codes == [200, 503], codes
    _, m = scrape_settled(srv.url("/metrics"), key, 6)
    tk = {"model": "testkit", "version": "3"}
    inf = "modelwrap_model_inferences_total"
    assert value(m, inf, result="success", **tk) == 2
    assert value(m, inf, result="invalid_input", **tk) == 1
    assert value(m, inf, result="error", **tk) == 1
    assert value(m, inf, result="deadline", **tk) == 1
    assert value(m, inf, result="rejected", **tk) == 1
    # Started: all but the rejected one; finished: all but the rejected and the expired one.
    assert value(m, "modelwrap_model_queue_duration_seconds_count", **tk) == 5
    assert value(m, "modelwrap_model_compute_duration_seconds_count", **tk) == 4
    assert value(m, "modelwrap_model_batch_size_sum", **tk) == 10
    assert value(m, "modelwrap_model_ready", **tk) == 1


def test_rate_limited_requests_counted(make_server, tmpdir_path):
    # Scraped on the metrics listener, which the key's exhausted budget does not concern.
    port = free_port()
    srv, key = start(make_server, tmpdir_path,
                     ["--rate-limit", "1/m", "--rate-burst", "1", "--metrics-port", str(port)])
    srv.wait_log(lambda rec: rec.get("msg") == "metrics listening")
    hdr = {"X-API-Key": key}
    codes = [requests.get(srv.url("/api/v1/models"), headers=hdr).status_code for _ in range(3)]
    assert codes == [200, 429, 429], codes
    _, m = scrape_settled("http://127.0.0.1:%d/metrics" % port, None, 3)
    assert value(m, "modelwrap_rate_limited_requests_total", reason="rate") == 2
    assert value(m, "modelwrap_rate_limited_requests_total", reason="concurrency") == 0
    assert value(m, "modelwrap_http_requests_total", route="v1_models", method="GET",
                 status="4xx") == 2


def test_metrics_needs_the_metrics_scope(make_server, tmpdir_path):
    srv, key = start(make_server, tmpdir_path, scopes="predict,read")
    r = requests.get(srv.url("/metrics"))
    assert r.status_code == 401
    r = requests.get(srv.url("/metrics"), headers={"X-API-Key": key})
    assert r.status_code == 403 and r.json()["code"] == "insufficient_scope"


def test_separate_metrics_listener(make_server, tmpdir_path):
    port = free_port()
    srv, key = start(make_server, tmpdir_path, ["--metrics-port", str(port)])
    srv.wait_log(lambda rec: rec.get("msg") == "metrics listening" and rec.get("port") == port)
    assert post(srv.url("/api/v1/predict"), {"data": [IRIS_ROW]}, key).status_code == 200
    # No credentials on the metrics listener; the API listener still wants them.
    text, m = scrape_settled("http://127.0.0.1:%d/metrics" % port, None, 1)
    assert value(m, "modelwrap_model_inferences_total", result="success", **IRIS) == 1
    assert value(m, "modelwrap_http_requests_total", route="v1_predict", method="POST",
                 status="2xx") == 1
    rc, out = promtool_check(text)
    assert rc == 0, out
    assert requests.get(srv.url("/metrics")).status_code == 401
    # It serves nothing else.
    r = requests.get("http://127.0.0.1:%d/api/v1/models" % port)
    assert r.status_code == 404
    r = requests.post("http://127.0.0.1:%d/api/v1/predict" % port, data=json.dumps({"data": []}),
                      headers={"Content-Type": "application/json"})
    assert r.status_code == 404


def test_promtool_fails_on_bad_metrics():
    # The check used above can fail: a counter without _total and a family without HELP.
    rc, out = promtool_check("# TYPE bad counter\nbad 1\n")
    assert rc != 0, out


def test_configuration_logged_with_redaction(make_server, tmpdir_path):
    srv, _ = start(make_server, tmpdir_path,
                   ["--redis-url", "redis://:s3cret@127.0.0.1:1/0", "--redis-failure-mode",
                    "fail-open"])
    rec = srv.wait_log(lambda r: r.get("msg") == "configuration")
    assert rec["level"] == "info"
    assert rec["auth"] == "required" and rec["port"] == "0" and rec["max_body_bytes"] == "1048576"
    assert rec["redis_url"] == "<redacted>"
    assert "s3cret" not in "".join(srv.raw)
