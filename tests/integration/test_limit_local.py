"""Per-consumer limits on one process: the RateLimit-* headers, 429 with Retry-After, per-key
overrides from the key file, anonymous consumers keyed by client address, the accepted total at
three times the limit, and overload kept apart from rate limiting: 429 (consumer over its limit)
vs 503 (model queue full, or the process's concurrency limit) vs 504 (deadline)."""
import concurrent.futures
import http.client
import json
import time

from conftest import IRIS_ROW, assert_error, plugin_path, write_model
from limit_util import Replica, assert_within, blast, create_key, gcra_expected, statuses


def get(url, key=None):
    import requests
    return requests.get(url, headers={"X-API-Key": key} if key else {}, timeout=30)


def test_headers_overrides_and_retry_after(tmpdir_path):
    keys = tmpdir_path + "/keys.json"
    plain = create_key(keys, "plain")
    small = create_key(keys, "small", rate="1/m", burst=2)
    big = create_key(keys, "big", rate="1000/s", burst=50)
    fast = create_key(keys, "fast", rate="4/s", burst=1)
    # Slow default rates keep the counts exact however slow the machine: one request per 10 s.
    rep = Replica(tmpdir_path, {"MODELWRAP_API_KEYS_FILE": keys, "MODELWRAP_RATE_LIMIT": "6/m",
                                "MODELWRAP_RATE_BURST": "4"})
    try:
        url = rep.url("/api/v1/models")
        # The default limit: 4 at once, the remaining count going down, then 429.
        for remaining in (3, 2, 1, 0):
            r = get(url, plain)
            assert r.status_code == 200, r.text
            assert r.headers["RateLimit-Limit"] == "4"
            assert r.headers["RateLimit-Remaining"] == str(remaining)
            full_in = 10 * (4 - remaining)  # seconds until the bucket is full again
            assert full_in - 1 <= int(r.headers["RateLimit-Reset"]) <= full_in
            assert "Retry-After" not in r.headers
        r = get(url, plain)
        body = assert_error(r, 429, "rate_limited")
        assert "0.1 per second with bursts of 4" in body["error"], body
        assert 9 <= int(r.headers["Retry-After"]) <= 10
        assert r.headers["RateLimit-Remaining"] == "0"
        assert r.headers["RateLimit-Limit"] == "4"
        # Each key has its own bucket and its own limit from the key file.
        for remaining in (1, 0):
            r = get(url, small)
            assert r.status_code == 200
            assert r.headers["RateLimit-Limit"] == "2"
            assert r.headers["RateLimit-Remaining"] == str(remaining)
        r = get(url, small)
        body = assert_error(r, 429, "rate_limited")
        assert "bursts of 2" in body["error"], body
        assert 55 <= int(r.headers["Retry-After"]) <= 60
        for _ in range(50):
            r = get(url, big)
            assert r.status_code == 200
            assert r.headers["RateLimit-Limit"] == "50"
        # Health probes are never limited and carry no RateLimit headers.
        for path in ("/api/v1/health", "/api/v1/health/live", "/api/v1/health/ready",
                     "/api/health"):
            for _ in range(10):
                r = get(rep.url(path))
                assert r.status_code == 200, (path, r.text)
                assert "RateLimit-Limit" not in r.headers
        # Honouring Retry-After is enough to be served again.
        for _ in range(100):
            r = get(url, fast)
            if r.status_code == 429:
                break
        assert r.status_code == 429
        assert r.headers["Retry-After"] == "1"
        time.sleep(int(r.headers["Retry-After"]))
        r = get(url, fast)
        assert r.status_code == 200, r.text
        # The log phase saw each refusal.
        assert rep.wait_count("request", 3, route="v1_models", status=429) >= 3
    finally:
        rep.check_stop()


def _get_from(port, path, source):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30, source_address=(source, 0))
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        r.read()
        return r.status, dict(r.getheaders())
    finally:
        conn.close()


def test_anonymous_consumers_keyed_by_address(tmpdir_path):
    rep = Replica(tmpdir_path, {"MODELWRAP_AUTH": "none", "MODELWRAP_RATE_LIMIT": "1/m",
                                "MODELWRAP_RATE_BURST": "3"})
    try:
        got = [_get_from(rep.port, "/api/v1/models", "127.0.0.1")[0] for _ in range(4)]
        assert got == [200, 200, 200, 429], got
        # Another address is another consumer.
        got = [_get_from(rep.port, "/api/v1/models", "127.0.0.2")[0] for _ in range(4)]
        assert got == [200, 200, 200, 429], got
        # One request per minute: the next in about 60 s, the whole burst back in about 180 s.
        status, headers = _get_from(rep.port, "/api/v1/models", "127.0.0.1")
        assert status == 429
        assert 50 <= int(headers["Retry-After"]) <= 60, headers
        assert 170 <= int(headers["RateLimit-Reset"]) <= 180, headers
        # The SLA document is public and counts against the same consumer.
        status, _ = _get_from(rep.port, "/api/v1/sla", "127.0.0.3")
        assert status == 200
    finally:
        rep.check_stop()


def test_accepted_at_three_times_the_limit(tmpdir_path):
    keys = tmpdir_path + "/keys.json"
    key = create_key(keys, "steady", scopes="read")
    rep = Replica(tmpdir_path, {"MODELWRAP_API_KEYS_FILE": keys, "MODELWRAP_RATE_LIMIT": "20/s",
                                "MODELWRAP_RATE_BURST": "10"})
    try:
        res = blast(rep.url("/api/v1/models"), {"X-API-Key": key}, 60, 3.0, threads=4)
        codes = statuses(res)
        assert set(codes) <= {200, 429}, codes
        assert_within(codes.get(200, 0), gcra_expected([r.t for r in res], 20, 10), 0.10,
                      "one process")
    finally:
        rep.check_stop()


def _slow_models(tmpdir_path, workers, queue_size, timeout_ms, delay_ms):
    sig = {"inputs": [{"name": "x", "datatype": "FP32", "shape": [-1, 2], "names": ["a", "b"]}],
           "outputs": [{"name": "y", "datatype": "FP32", "shape": [-1, 2]}]}
    write_model(tmpdir_path + "/models", "testkit",
                {"backend": "plugin", "file": plugin_path("testkit"), "version": "1",
                 "workers": workers, "queue_size": queue_size, "timeout_ms": timeout_ms,
                 "config": {"delay_ms": delay_ms}, "signature": sig})
    return tmpdir_path + "/models"


def _predict(url, key, a=1):
    import requests
    return requests.post(url, data=json.dumps({"data": [{"a": a, "b": 1}]}), timeout=30,
                         headers={"Content-Type": "application/json", "X-API-Key": key})


def test_429_vs_503_vs_504(tmpdir_path):
    keys = tmpdir_path + "/keys.json"
    key = create_key(keys, "busy", scopes="predict")
    tiny = create_key(keys, "tiny", scopes="predict", rate="1/m", burst=1)
    models = _slow_models(tmpdir_path, workers=1, queue_size=1, timeout_ms=1000, delay_ms=300)
    rep = Replica(tmpdir_path, {"MODELWRAP_API_KEYS_FILE": keys, "MODELWRAP_RATE_LIMIT": "1000/s",
                                "MODELWRAP_RATE_BURST": "1000"}, ["--models", models])
    try:
        url = rep.url("/api/v1/predict")
        # 504: the model misses the deadline (testkit sleeps 2 s more for a = 42).
        assert_error(_predict(url, key, 42), 504, "deadline_exceeded")
        # The worker finishes the abandoned call in about 2 s: poll until the model answers.
        for _ in range(20):
            r = _predict(url, key)
            if r.status_code == 200:
                break
            assert r.status_code in (503, 504), r.text
        assert r.status_code == 200, r.text
        # 503: the model's queue is full (one worker, one queued call, 300 ms each).
        with concurrent.futures.ThreadPoolExecutor(6) as ex:
            rs = list(ex.map(lambda _: _predict(url, key), range(6)))
        codes = sorted(r.status_code for r in rs)
        assert 200 in codes and 503 in codes, codes
        for r in rs:
            if r.status_code == 503:
                body = assert_error(r, 503, "overloaded")
                assert "queue" in body["error"]
                assert r.headers["Retry-After"] == "1"
                assert r.headers["RateLimit-Limit"] == "1000"  # the limit was not the reason
        # 429: this consumer is over its own limit, whatever the server's load.
        assert _predict(url, tiny).status_code == 200
        r = _predict(url, tiny)
        assert_error(r, 429, "rate_limited")
        assert int(r.headers["Retry-After"]) >= 50
    finally:
        rep.check_stop()


def test_concurrency_limit(tmpdir_path):
    keys = tmpdir_path + "/keys.json"
    key = create_key(keys, "conc", scopes="predict,read")
    models = _slow_models(tmpdir_path, workers=4, queue_size=16, timeout_ms=10000, delay_ms=1500)
    rep = Replica(tmpdir_path, {"MODELWRAP_API_KEYS_FILE": keys, "MODELWRAP_MAX_CONCURRENCY": "1"},
                  ["--models", models])
    try:
        url = rep.url("/api/v1/predict")
        with concurrent.futures.ThreadPoolExecutor(3) as ex:
            futs = [ex.submit(_predict, url, key) for _ in range(3)]
            rs = [f.result() for f in futs]
        codes = sorted(r.status_code for r in rs)
        assert codes == [200, 503, 503], codes
        for r in rs:
            if r.status_code == 503:
                body = assert_error(r, 503, "overloaded")
                assert "in progress" in body["error"]
                assert r.headers["Retry-After"] == "1"
        # The slot is given back when the response is done (the log phase may run a moment
        # after the client has its answer: poll); health is never counted.
        for _ in range(50):
            r = _predict(url, key)
            if r.status_code == 200:
                break
            time.sleep(0.05)
        assert r.status_code == 200, r.text
        with concurrent.futures.ThreadPoolExecutor(2) as ex:
            slow = ex.submit(_predict, url, key)
            rep_health = [get(rep.url("/api/v1/health/ready")).status_code for _ in range(5)]
            assert slow.result().status_code == 200
        assert rep_health == [200] * 5
    finally:
        rep.check_stop()


def _post_raw(port, path, body, key):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("POST", path, body=body, headers={"Content-Type": "application/json",
                                                       "X-API-Key": key})
        r = conn.getresponse()
        return r.status, json.loads(r.read() or b"{}")
    finally:
        conn.close()


def test_413_at_exactly_the_limit_plus_one(tmpdir_path):
    keys = tmpdir_path + "/keys.json"
    key = create_key(keys, "sizes", scopes="predict,read")
    rep = Replica(tmpdir_path, {"MODELWRAP_API_KEYS_FILE": keys,
                                "MODELWRAP_MAX_BODY_BYTES": "2000"})
    try:
        doc = get(rep.url("/api/v1/sla"), key).json()
        limit = doc["message_size"]["max_body_bytes"]
        assert limit == 2000  # the document shows what is enforced
        body = json.dumps({"data": [IRIS_ROW]}).encode()
        at_limit = body + b" " * (limit - len(body))
        assert len(at_limit) == limit
        status, reply = _post_raw(rep.port, "/api/v1/predict", at_limit, key)
        assert status == 200, reply
        status, reply = _post_raw(rep.port, "/api/v1/predict", at_limit + b" ", key)
        assert status == 413, reply
        assert reply["code"] == "body_too_large"
        assert "2000" in reply["error"]
    finally:
        rep.check_stop()
