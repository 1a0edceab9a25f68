"""What a misbehaving Python model can and cannot do: an exception is a 500 without its text (the
traceback goes to the log with the request id); a worker that exits or crashes fails only its
request (503 model_unavailable, Retry-After), raises security event 270 and is restarted; a worker
past its deadline gets 504 and is replaced; max_requests and max_rss recycle workers; the model
sees a scrubbed environment and no descriptor but its own; print() and logging reach the log;
no worker process outlives the server."""
import json
import os
import time

from conftest import assert_error, post_json
from py_util import alive, copy_model, descendants
from v2_util import UNLIMITED


def op(s, name, x=1.0):
    return post_json(s.url("/api/v1/models/faulty/predict"), {"data": [{"op": name, "x": x}]})


def ok(s, x=1.0):
    r = op(s, "ok", x)
    assert r.status_code == 200, r.text
    return r.json()["predictions"]


def until_ok(s, timeout=20):
    """The first 200 after a restart (the instance comes back after its backoff)."""
    end = time.time() + timeout
    while time.time() < end:
        r = op(s, "ok")
        if r.status_code == 200:
            return r.json()["predictions"]
        assert r.status_code == 503, r.text
        time.sleep(0.05)
    raise AssertionError("the model did not come back")


def security_events(s):
    out = []
    for line in s.stdout_lines:
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if rec.get("type") == "security_event" and rec.get("signature") == 270:
            out.append(rec)
    return out


def start(make_server, d, model_json=None, extra=()):
    copy_model("py_faulty", d, "faulty", model_json)
    return make_server(["--models", d] + UNLIMITED + list(extra))


def test_exception_is_500_without_text(make_server, tmpdir_path):
    s = start(make_server, tmpdir_path)
    r = op(s, "raise")
    body = assert_error(r, 500, "model_failed")
    assert "secret-exception-text" not in r.text and "Traceback" not in r.text
    rec = s.wait_log(lambda l: l.get("msg") == "python model raised an exception")
    assert rec["request_id"] == body["request_id"]
    assert rec["model"] == "faulty" and rec["instance"] == 0
    assert "ValueError: secret-exception-text 42" in rec["traceback"]
    assert ok(s)["predictions"] == [2.0]  # the same worker goes on


def test_crash_fails_one_request_then_recovers(make_server, tmpdir_path):
    s = start(make_server, tmpdir_path)
    pid0 = ok(s)["pid"]
    for what, sig in (("exit", 0), ("segv", 11)):
        r = op(s, what)
        assert_error(r, 503, "model_unavailable")
        assert r.headers["Retry-After"] == "1"
        pid1 = until_ok(s)["pid"]
        assert pid1 != pid0 and not alive(pid0)
        pid0 = pid1
    s.wait_log(lambda l: l.get("msg") == "python model instance exited" and l.get("signal") == 11)
    end = time.time() + 10
    while len(security_events(s)) < 2 and time.time() < end:
        time.sleep(0.05)
    ev = security_events(s)
    assert len(ev) == 2, ev
    assert all(e["model"] == "faulty" and e["outcome"] == "python_worker_died" for e in ev)
    assert "signal 11" in ev[1]["message"]


def test_deadline_kills_and_replaces_the_worker(make_server, tmpdir_path):
    s = start(make_server, tmpdir_path)
    pid0 = ok(s)["pid"]
    t0 = time.time()
    assert_error(op(s, "sleep"), 504, "deadline_exceeded")
    assert time.time() - t0 < 25  # the model sleeps 30 s: the server did not wait for it
    pid1 = until_ok(s)["pid"]
    assert pid1 != pid0
    end = time.time() + 10
    while alive(pid0) and time.time() < end:
        time.sleep(0.05)
    assert not alive(pid0)
    s.wait_log(lambda l: l.get("msg") == "python model instance missed the deadline: killed")


def test_max_requests_recycles(make_server, tmpdir_path):
    s = start(make_server, tmpdir_path, {"backend": "python", "file": "model.py",
                                         "max_requests": 3})
    # recycling answers every call: a call that comes while the replacement starts waits for it
    pids = [ok(s)["pid"] for _ in range(7)]
    assert pids[0] == pids[1] == pids[2]
    assert pids[3] == pids[4] == pids[5] != pids[0]
    assert pids[6] != pids[3]
    assert security_events(s) == []  # recycling is not a death


def test_max_rss_recycles(make_server, tmpdir_path):
    s = start(make_server, tmpdir_path, {"backend": "python", "file": "model.py",
                                         "max_rss": 100 << 20})
    pid0 = ok(s)["pid"]
    assert ok(s)["pid"] == pid0
    r = op(s, "grow")  # +128 MiB: answered, then the worker exits
    assert r.status_code == 200, r.text
    assert ok(s)["pid"] != pid0


def test_scrubbed_environment_and_descriptors(make_server, tmpdir_path):
    keys = os.path.join(tmpdir_path, "keys.json")
    with open(keys, "w") as f:
        f.write('{"keys": []}')
    d = os.path.join(tmpdir_path, "models")
    os.makedirs(d)
    s = start(make_server, d, extra=["--api-keys-file", keys])
    r = op(s, "env")
    assert r.status_code == 200, r.text
    got = r.json()["predictions"]
    assert not [k for k in got["env"] if k.startswith("MODELWRAP")]
    assert keys not in json.dumps(got)
    links = list(got["fds"].values())
    assert sum(1 for l in links if l.startswith("socket:")) == 1, links
    # its channel's shared memory (Python's mmap keeps a descriptor of it) is the only file
    assert not [l for l in links if l.startswith("/") and l != "/dev/null" and
                not l.startswith("/proc/") and not l.startswith("/memfd:modelwrap-faulty-")], links


def test_print_and_logging_reach_the_log(make_server, tmpdir_path):
    s = start(make_server, tmpdir_path)
    assert op(s, "print").status_code == 200
    out = s.wait_log(lambda l: l.get("msg") == "model output" and
                     l.get("text") == "hello from the model")
    assert out["model"] == "faulty" and out["instance"] == 0 and out["stream"] == "stdout"
    lg = s.wait_log(lambda l: l.get("msg") == "model output" and
                    l.get("text") == "a logging line")
    assert lg["level"] == "warn" and lg["stream"] == "logging"


def test_no_worker_survives_the_server(make_server, tmpdir_path):
    s = start(make_server, tmpdir_path, {"backend": "python", "file": "model.py",
                                         "instances": 3})
    ok(s)
    workers = descendants(s.proc.pid)
    assert len(workers) == 4, workers  # the master and 3 instances
    assert s.stop() == 0
    end = time.time() + 10
    while any(alive(p) for p in workers) and time.time() < end:
        time.sleep(0.05)
    assert not [p for p in workers if alive(p)]


def test_no_worker_survives_a_killed_server(make_server, tmpdir_path):
    s = start(make_server, tmpdir_path, {"backend": "python", "file": "model.py",
                                         "instances": 2})
    ok(s)
    workers = descendants(s.proc.pid)
    assert len(workers) == 3, workers
    s.kill()
    end = time.time() + 10
    while any(alive(p) for p in workers) and time.time() < end:
        time.sleep(0.05)
    assert not [p for p in workers if alive(p)]


def test_master_death_restarts_everything(make_server, tmpdir_path):
    import signal as sg
    from py_util import children
    s = start(make_server, tmpdir_path, {"backend": "python", "file": "model.py",
                                         "instances": 2})
    ok(s)
    (master,) = children(s.proc.pid)
    old = descendants(s.proc.pid)
    os.kill(master, sg.SIGKILL)
    end = time.time() + 10
    while any(alive(p) for p in old) and time.time() < end:
        time.sleep(0.05)
    assert not [p for p in old if alive(p)]  # the instances died with their parent
    until_ok(s)
    new = descendants(s.proc.pid)
    assert len(new) == 3 and not set(new) & set(old)
    s.wait_log(lambda l: l.get("msg") == "python worker master exited")


def test_not_ready_while_no_instance_lives(make_server, tmpdir_path):
    import requests
    d = copy_model("py_faulty", tmpdir_path, "faulty", {"backend": "python", "file": "model.py",
                                                        "load": "per-instance"})
    s = make_server(["--models", tmpdir_path] + UNLIMITED)
    ready = s.url("/api/v1/health/ready")
    assert requests.get(ready).status_code == 200
    ok(s)
    open(os.path.join(d, "broken"), "w").close()  # every restart fails from now on
    assert_error(op(s, "exit"), 503, "model_unavailable")
    end = time.time() + 20
    while requests.get(ready).status_code != 503 and time.time() < end:
        time.sleep(0.05)
    assert requests.get(ready).status_code == 503
    r = op(s, "ok")
    assert_error(r, 503, "not_ready")
    assert r.headers["Retry-After"] == "1"
    s.wait_log(lambda l: l.get("msg") == "python model instance failed to load" and
               "this model is broken for now" in l.get("traceback", ""))
    os.unlink(os.path.join(d, "broken"))
    until_ok(s)
    assert requests.get(ready).status_code == 200


def test_forged_reply_is_refused_and_the_worker_replaced(make_server, tmpdir_path):
    s = start(make_server, tmpdir_path)
    pid0 = ok(s)["pid"]
    r = op(s, "forge")
    assert_error(r, 500, "model_failed")
    s.wait_log(lambda l: l.get("msg") == "python model instance sent a malformed reply: killed")
    assert until_ok(s)["pid"] != pid0
