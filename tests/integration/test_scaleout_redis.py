"""The real topology: three modelwrap replicas behind nginx, sharing one consumer's limit through
Redis. Traffic for one API key at three times its limit must be accepted at the limit (within
10%) over the window, although nginx spreads it over the replicas; with Redis stopped each
replica falls back to its share of the limit (fail-open) or refuses (fail-closed); with Redis back
the shared limit holds again."""
import pytest

from limit_util import (Nginx, Redis, Replica, assert_within, blast, create_key, gcra_expected,
                        statuses)

LIMIT = 30.0  # requests/s for the key, all replicas together
BURST = 15
OFFERED = 3 * LIMIT


@pytest.fixture
def topology(tmpdir_path):
    started = []
    redis = Redis(tmpdir_path)
    keys = tmpdir_path + "/keys.json"
    env = {"MODELWRAP_API_KEYS_FILE": keys, "MODELWRAP_RATE_LIMIT": "%g/s" % LIMIT,
           "MODELWRAP_RATE_BURST": str(BURST), "MODELWRAP_REDIS_URL": redis.url,
           "MODELWRAP_REDIS_REPLICAS": "3", "MODELWRAP_REDIS_FAILURE_MODE": "fail-open",
           "MODELWRAP_REDIS_TIMEOUT_MS": "500", "MODELWRAP_THREADS": "2"}
    try:
        key = create_key(keys, "shared-consumer", scopes="read")
        for _ in range(3):
            started.append(Replica(tmpdir_path, env))
        replicas = list(started)
        nginx = Nginx(tmpdir_path, [r.port for r in replicas])
    except BaseException:
        for r in started:
            r.kill()
        redis.stop()
        raise
    yield redis, replicas, nginx, key
    nginx.stop()
    rcs = [r.stop() for r in replicas]
    redis.stop()
    for r, rc in zip(replicas, rcs):
        assert rc == 0, "modelwrap exited with %r:\n%s" % (rc, "".join(r.raw[-40:]))


def expected(res, shares=1):
    """What the limit allows for these send times (about BURST + LIMIT * window)."""
    return gcra_expected([r.t for r in res], LIMIT, BURST, shares)


def served(replica):
    return replica.settled_count("request", route="v1_models", status=200)


def test_shared_limit_failure_and_recovery(topology):
    redis, replicas, nginx, key = topology
    url = nginx.url("/api/v1/models")
    headers = {"X-API-Key": key}

    # 1. Redis up: one limit for the key across the three replicas.
    before = [served(r) for r in replicas]
    res = blast(url, headers, OFFERED, 4.0)
    codes = statuses(res)
    assert set(codes) <= {200, 429}, codes
    assert_within(codes.get(200, 0), expected(res), 0.10, "shared limit")
    # nginx did spread the accepted requests: every replica served some of them.
    per_replica = [served(r) - b for r, b in zip(replicas, before)]
    assert all(n > 0 for n in per_replica), per_replica
    ok = next(r for r in res if r.status == 200)
    assert ok.headers["RateLimit-Limit"] == str(BURST)
    assert 0 <= int(ok.headers["RateLimit-Remaining"]) < BURST
    limited = [r for r in res if r.status == 429]
    for r in limited[:20]:
        assert r.headers["RateLimit-Remaining"] == "0"
        assert int(r.headers["Retry-After"]) >= 1
        assert '"code":"rate_limited"' in r.body
    assert all(r.count("rate-limit store unavailable") == 0 for r in replicas)

    # 2. Redis stopped mid-run, fail-open: each replica enforces a third of the limit locally.
    redis.stop()
    res = blast(url, headers, OFFERED, 3.0)
    codes = statuses(res)
    assert set(codes) <= {200, 429}, codes  # never a 5xx in fail-open
    assert_within(codes.get(200, 0), expected(res, shares=3), 0.15, "fail-open local shares")
    # One log line per replica for the transition, not one per request.
    for r in replicas:
        r.wait_log("rate-limit store unavailable")
        assert r.count("rate-limit store unavailable") == 1

    # 3. Redis back: every replica reconnects (within its backoff) and logs it once.
    redis.start()
    for _ in range(200):
        if all(r.count("rate-limit store recovered") for r in replicas):
            break
        blast(url, headers, 30, 0.2)
    for r in replicas:
        assert r.count("rate-limit store recovered") == 1, "".join(r.raw[-20:])
    redis.command("FLUSHALL")  # what the recovery traffic consumed
    res = blast(url, headers, OFFERED, 3.0)
    codes = statuses(res)
    assert set(codes) <= {200, 429}, codes
    assert_within(codes.get(200, 0), expected(res), 0.10, "shared limit again")
    # The buckets live in Redis with an expiry: memory there follows active consumers.
    keys = redis.command("KEYS", "modelwrap:rl:*")
    assert len(keys) == 1, keys
    assert 0 < redis.command("PTTL", keys[0]) <= 1000 * (BURST / LIMIT) + 1000


def test_fail_closed(tmpdir_path):
    keys = tmpdir_path + "/keys.json"
    key = create_key(keys, "closed-consumer", scopes="read")
    redis = Redis(tmpdir_path)
    try:
        rep = Replica(tmpdir_path, {"MODELWRAP_API_KEYS_FILE": keys,
                                    "MODELWRAP_RATE_LIMIT": "50/s", "MODELWRAP_RATE_BURST": "50",
                                    "MODELWRAP_REDIS_URL": redis.url,
                                    "MODELWRAP_REDIS_FAILURE_MODE": "fail-closed"})
    except BaseException:
        redis.stop()
        raise
    try:
        url = rep.url("/api/v1/models")
        headers = {"X-API-Key": key}
        res = blast(url, headers, 20, 0.5, threads=2)
        assert statuses(res) == {200: len(res)}
        redis.stop()
        res = blast(url, headers, 20, 0.5, threads=2)
        assert statuses(res) == {503: len(res)}
        for r in res:
            assert '"code":"rate_limit_unavailable"' in r.body
            assert r.headers["Retry-After"] == "1"
        rep.wait_log("rate-limit store unavailable", failure_mode="fail-closed")
        assert rep.count("rate-limit store unavailable") == 1
        # Health probes keep answering truthfully.
        res = blast(rep.url("/api/v1/health/live"), {}, 20, 0.25, threads=1)
        assert statuses(res) == {200: len(res)}
        redis.start()
        ok = 0
        for _ in range(300):
            res = blast(url, headers, 20, 0.1, threads=1)
            ok = statuses(res).get(200, 0)
            if ok == len(res):
                break
        assert ok == len(res), statuses(res)
        rep.wait_log("rate-limit store recovered")
        assert rep.count("rate-limit store recovered") == 1
    finally:
        try:
            rep.check_stop()
        finally:
            redis.stop()
