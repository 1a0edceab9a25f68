"""Model versions and hot reload: the versioned repository layout beside the flat one, version
policies, unversioned requests on the newest version (v1 API included), SIGHUP, the repository
extension (index, load, unload), a broken new version refused while the old one keeps serving,
requests in flight finishing on the version they started with, and a reload under load with zero
failed requests."""
import concurrent.futures
import os
import shutil
import signal
import threading
import time

import requests

from conftest import SANITIZED, Server, assert_error, plugin_path
from v2_util import UNLIMITED, iris_json, put_iris, write_json

ROW = [5.1, 3.5, 1.4, 0.2]
IRIS_ROW = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}
WAIT = 60 if SANITIZED else 20


def v2_req(rows=1):
    return {"inputs": [{"name": "features", "shape": [rows, 4], "datatype": "FP32",
                        "data": [ROW] * rows}]}


def infer(session, base, model="m", version=None):
    path = "/v2/models/%s%s/infer" % (model, "" if version is None else "/versions/" + version)
    return session.post(base + path, json=v2_req(), timeout=30)


def put_version(repo, version, extra=None, model="m"):
    put_iris(os.path.join(repo, model, version),
             dict({"description": "version " + version}, **(extra or {})))


def versions(srv, model="m"):
    r = requests.get(srv.url("/v2/models/%s" % model), timeout=30)
    return r.json().get("versions") if r.status_code == 200 else None


def wait_for(pred, what, timeout=WAIT):
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return
        time.sleep(0.02)
    raise AssertionError("timed out waiting for " + what)


def reloads(srv):
    return sum(1 for rec in list(srv.logs) if rec.get("msg") == "model repository reloaded")


def sighup(srv):
    """Sends SIGHUP and waits until the reload it causes has finished."""
    before = reloads(srv)
    srv.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: reloads(srv) > before or any(
        rec.get("msg") == "model repository not reloaded" for rec in list(srv.logs)[-5:]),
        "the reload after SIGHUP")


def repo_post(srv, path, body=None):
    return requests.post(srv.url("/v2/repository" + path), json=body, timeout=60)


def test_versioned_layout_and_routes(make_server, tmpdir_path):
    put_version(tmpdir_path, "1")
    put_version(tmpdir_path, "2")
    put_version(tmpdir_path, "10")
    write_json(os.path.join(tmpdir_path, "m", "model.json"),
               {"version_policy": {"latest": 2}, "description": "settings"})
    # a flat model beside it
    put_iris(os.path.join(tmpdir_path, "flat"), {"version": "4"})
    srv = make_server(["--models", tmpdir_path, "--default-model", "m"] + UNLIMITED)
    s = requests.Session()
    assert versions(srv) == ["10", "2"]
    assert versions(srv, "flat") == ["4"]
    r = infer(s, srv.base)
    assert r.status_code == 200 and r.json()["model_version"] == "10"
    r = infer(s, srv.base, version="2")
    assert r.status_code == 200 and r.json()["model_version"] == "2"
    assert_error(infer(s, srv.base, version="1"), 404, "model_not_found")
    assert requests.get(srv.url("/v2/models/m/versions/2/ready")).json()["ready"] is True
    # the v1 API uses the newest version
    r = s.post(srv.url("/api/v1/models/m/predict"), json={"data": [IRIS_ROW]})
    assert r.status_code == 200 and r.json()["model_version"] == "10"
    r = s.post(srv.url("/api/v1/predict"), json={"data": [IRIS_ROW]})
    assert r.status_code == 200 and r.json()["model"] == "m"
    assert s.get(srv.url("/api/v1/models/m")).json()["version"] == "10"
    idx = repo_post(srv, "/index").json()
    assert [(e["name"], e.get("version"), e["state"]) for e in idx] == [
        ("flat", "4", "READY"), ("m", "10", "READY"), ("m", "2", "READY")]


def test_sighup_new_version_and_broken_version(make_server, tmpdir_path):
    put_version(tmpdir_path, "1")
    srv = make_server(["--models", tmpdir_path] + UNLIMITED)
    s = requests.Session()
    assert infer(s, srv.base).json()["model_version"] == "1"
    put_version(tmpdir_path, "2")
    sighup(srv)
    assert versions(srv) == ["2"]  # the default policy keeps the newest version
    assert infer(s, srv.base).json()["model_version"] == "2"
    assert_error(infer(s, srv.base, version="1"), 404, "model_not_found")
    # a broken version 3: refused with a clear log line, version 2 keeps serving
    write_json(os.path.join(tmpdir_path, "m", "3", "model.json"),
               iris_json({"file": "missing.ubj"}))
    sighup(srv)
    refused = srv.wait_log(lambda rec: rec.get("msg") ==
                           "model reload refused: the loaded versions keep serving")
    assert refused["model"] == "m" and refused["version"] == "3"
    assert "missing.ubj" in refused["error"]
    srv.wait_log(lambda rec: rec.get("msg") == "model repository reloaded, some models refused")
    assert infer(s, srv.base).json()["model_version"] == "2"
    idx = repo_post(srv, "/index").json()
    bad = [e for e in idx if e.get("version") == "3"]
    assert bad and bad[0]["state"] == "UNAVAILABLE" and "missing.ubj" in bad[0]["reason"]
    # fixed: the next reload takes it
    put_version(tmpdir_path, "3")
    sighup(srv)
    assert infer(s, srv.base).json()["model_version"] == "3"
    assert all(e["state"] == "READY" for e in repo_post(srv, "/index").json())


def test_repository_extension(make_server, tmpdir_path):
    put_version(tmpdir_path, "1")
    put_version(tmpdir_path, "1", model="other")
    srv = make_server(["--models", tmpdir_path] + UNLIMITED)
    s = requests.Session()
    r = repo_post(srv, "/index", {"ready": True})
    assert r.status_code == 200 and len(r.json()) == 2
    # unload: gone for requests, kept out by SIGHUP, reported by the index
    r = repo_post(srv, "/models/m/unload")
    assert r.status_code == 200 and r.json() == {"name": "m", "state": "UNAVAILABLE",
                                                  "versions": []}
    assert_error(infer(s, srv.base), 404, "model_not_found")
    sighup(srv)
    assert_error(infer(s, srv.base), 404, "model_not_found")
    idx = repo_post(srv, "/index").json()
    assert {"name": "m", "state": "UNAVAILABLE", "reason": "unloaded"} in idx
    assert [e["name"] for e in repo_post(srv, "/index", {"ready": True}).json()] == ["other"]
    assert requests.get(srv.url("/v2/health/ready")).status_code == 200
    # load: back again, with a version added meanwhile
    put_version(tmpdir_path, "2")
    r = repo_post(srv, "/models/m/load")
    assert r.status_code == 200 and r.json() == {"name": "m", "state": "READY",
                                                  "versions": ["2"]}
    assert infer(s, srv.base).json()["model_version"] == "2"
    # errors
    assert_error(repo_post(srv, "/models/nope/load"), 404, "model_not_found")
    assert_error(repo_post(srv, "/models/nope/unload"), 404, "model_not_found")
    err = assert_error(repo_post(srv, "/models/m/load", {"parameters": {"config": "{}"}}), 400,
                       "bad_request")
    assert err["error"] == "parameters.config: not supported by this server."
    assert repo_post(srv, "/models/other/unload",
                     {"parameters": {"unload_dependents": True}}).status_code == 200
    r = requests.post(srv.url("/v2/repository/models/other/load"), data="x",
                      headers={"Content-Type": "text/plain"})
    assert_error(r, 415, "unsupported_media_type")
    assert_error(repo_post(srv, "/index", {"ready": "yes"}), 400, "bad_request")
    r = requests.get(srv.url("/v2/repository/index"))
    assert_error(r, 405, "method_not_allowed")
    # a load that fails keeps what serves
    write_json(os.path.join(tmpdir_path, "m", "2", "model.json"), {"backend": "nope"})
    err = assert_error(repo_post(srv, "/models/m/load"), 400, "bad_request")
    assert "unknown backend 'nope'" in err["error"]
    assert infer(s, srv.base).json()["model_version"] == "2"


def test_inflight_requests_finish_on_their_version(make_server, tmpdir_path):
    so = plugin_path("testkit")
    for v, delay in (("1", 1500), ("2", 0)):
        write_json(os.path.join(tmpdir_path, "slow", v, "model.json"),
                   {"backend": "plugin", "file": so, "workers": 4, "config": {"delay_ms": delay}})
    write_json(os.path.join(tmpdir_path, "slow", "model.json"),
               {"version_policy": {"specific": ["1"]}})
    srv = make_server(["--models", tmpdir_path] + UNLIMITED)
    body = {"inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP32", "data": [1, 2]}]}

    def call():
        r = requests.post(srv.url("/v2/models/slow/infer"), json=body, timeout=60)
        return r.status_code, r.json().get("model_version"), time.time()

    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        futs = [pool.submit(call) for _ in range(3)]
        # They take 1.5 s on version 1: give them time to arrive before the reload.
        time.sleep(0.5)
        write_json(os.path.join(tmpdir_path, "slow", "model.json"),
                   {"version_policy": {"specific": ["2"]}})
        r = repo_post(srv, "/models/slow/load")
        t_loaded = time.time()
        assert r.status_code == 200 and r.json()["versions"] == ["2"], r.text
        new = requests.post(srv.url("/v2/models/slow/infer"), json=body, timeout=60)
        assert new.status_code == 200 and new.json()["model_version"] == "2"
        for f in futs:
            status, version, t_done = f.result()
            assert status == 200 and version == "1"
            assert t_done > t_loaded  # answered by version 1 after version 2 took over
    # the reload reported the version it retired (freed once its last request completed)
    srv.wait_log(lambda rec: rec.get("msg") == "model version unloaded" and
                 rec.get("version") == "1")


def test_reload_under_load_zero_failures(make_server, tmpdir_path):
    put_version(tmpdir_path, "1")
    so = plugin_path("testkit")
    write_json(os.path.join(tmpdir_path, "kit", "model.json"),
               {"backend": "plugin", "file": so, "workers": 2})
    srv = make_server(["--models", tmpdir_path, "--default-model", "m"] + UNLIMITED)
    stop = threading.Event()
    failures, seen, counts = [], set(), [0]
    lock = threading.Lock()
    kit_body = {"inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP32", "data": [1, 2]}]}

    def client(kind):
        s = requests.Session()
        while not stop.is_set():
            try:
                if kind == 0:
                    r = infer(s, srv.base)
                elif kind == 1:
                    r = s.post(srv.url("/api/v1/predict"), json={"data": [IRIS_ROW]}, timeout=30)
                else:
                    r = s.post(srv.url("/v2/models/kit/infer"), json=kit_body, timeout=30)
                ok = r.status_code == 200
                with lock:
                    counts[0] += 1
                    if not ok:
                        failures.append((kind, r.status_code, r.text[:200]))
                    elif kind == 0:
                        seen.add(r.json()["model_version"])
            except requests.RequestException as exc:  # a reset connection is a failure too
                with lock:
                    failures.append((kind, "exception", repr(exc)))

    threads = [threading.Thread(target=client, args=(k % 3,)) for k in range(6)]
    for t in threads:
        t.start()
    try:
        wait_for(lambda: counts[0] > 50, "the clients to get going")
        put_version(tmpdir_path, "2")                       # a new version: replaces 1
        sighup(srv)
        assert repo_post(srv, "/models/kit/load").status_code == 200  # forced reload of kit
        assert repo_post(srv, "/models/m/load").status_code == 200
        put_version(tmpdir_path, "3")                       # another one, and the old folders go
        shutil.rmtree(os.path.join(tmpdir_path, "m", "1"))
        shutil.rmtree(os.path.join(tmpdir_path, "m", "2"))
        sighup(srv)
        write_json(os.path.join(tmpdir_path, "m", "model.json"), {"version_policy": {"all": {}}})
        put_version(tmpdir_path, "4")
        sighup(srv)
        # and a few more rounds: each adds a version and retires the oldest but one
        for v in range(5, 11):
            put_version(tmpdir_path, str(v))
            shutil.rmtree(os.path.join(tmpdir_path, "m", str(v - 2)))
            if v % 2:
                sighup(srv)
            else:
                assert repo_post(srv, "/models/m/load").status_code == 200
        start = counts[0]
        wait_for(lambda: counts[0] > start + 50, "more requests after the last reload")
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    assert failures == [], failures[:5]
    assert {"1", "10"} <= seen, seen
    assert versions(srv) == ["10", "9"]
    assert counts[0] > 200
