"""Start-up, configuration, plug-ins served over HTTP, the worker pool (503 when full, 504 after
the deadline) and graceful shutdown with requests in flight."""
import concurrent.futures
import json
import os
import shutil
import signal
import subprocess
import time

import requests

from conftest import BIN, ROOT, Server, assert_error, plugin_path, post_json, write_model

CLEAN_ENV = {k: v for k, v in os.environ.items() if not k.startswith("MODELWRAP_")}
CLEAN_ENV["MODELWRAP_ENV_FILE"] = "/dev/null"


def run_cli(*args, env=None):
    e = dict(CLEAN_ENV)
    e.update(env or {})
    return subprocess.run([BIN] + list(args), cwd=ROOT, env=e, capture_output=True, text=True,
                          timeout=60)


def make_testkit_models(tmp, **opts):
    model = {"backend": "plugin", "file": plugin_path("testkit"), "version": "3"}
    model.update(opts)
    write_model(tmp, "testkit", model)
    return tmp


def test_version_and_help():
    r = run_cli("version")
    assert r.returncode == 0 and r.stdout.startswith("modelwrap ")
    r = run_cli("--help")
    assert r.returncode == 0
    for flag in ("--host", "--port", "--models", "--default-model", "--max-body-bytes",
                 "--log-level", "--idle-timeout", "--max-records", "--threads", "--env-file"):
        assert flag in r.stdout, flag
    r = run_cli("frobnicate")
    assert r.returncode != 0 and "unknown command" in r.stderr


def test_check_config():
    r = run_cli("check-config")
    assert r.returncode == 0, r.stderr
    assert "MODELWRAP_PORT=8000" in r.stdout and "configuration OK" in r.stdout
    r = run_cli("check-config", env={"MODELWRAP_PORT": "abc"})
    assert r.returncode != 0 and "MODELWRAP_PORT" in r.stderr
    r = run_cli("check-config", "--log-level", "loud")
    assert r.returncode != 0 and "--log-level" in r.stderr and "debug" in r.stderr
    r = run_cli("check-config", "--models", "/nonexistent-models")
    assert r.returncode != 0 and "/nonexistent-models" in r.stderr


def test_dotenv_and_precedence(tmpdir_path):
    env_file = os.path.join(tmpdir_path, "test.env")
    with open(env_file, "w") as f:
        f.write("# comment\nMODELWRAP_PORT=9100\nMODELWRAP_MAX_RECORDS=7\n")
    r = run_cli("check-config", env={"MODELWRAP_ENV_FILE": env_file})
    assert "MODELWRAP_PORT=9100" in r.stdout and "MODELWRAP_MAX_RECORDS=7" in r.stdout
    r = run_cli("check-config", env={"MODELWRAP_ENV_FILE": env_file, "MODELWRAP_PORT": "9200"})
    assert "MODELWRAP_PORT=9200" in r.stdout
    r = run_cli("check-config", "--port", "9300",
                env={"MODELWRAP_ENV_FILE": env_file, "MODELWRAP_PORT": "9200"})
    assert "MODELWRAP_PORT=9300" in r.stdout


def test_bad_model_stops_startup(tmpdir_path):
    d = write_model(tmpdir_path, "broken", {"backend": "xgboost", "file": "missing.ubj",
                                             "signature": {"inputs": [], "outputs": []}})
    r = subprocess.run([BIN, "serve", "--port", "0", "--models", tmpdir_path], cwd=ROOT,
                       env=CLEAN_ENV, capture_output=True, text=True, timeout=60)
    assert r.returncode != 0
    assert "broken" in r.stderr and "model.json" in r.stderr or d in r.stderr
    with open(os.path.join(d, "model.json"), "w") as f:
        f.write("{not json")
    r = subprocess.run([BIN, "serve", "--port", "0", "--models", tmpdir_path], cwd=ROOT,
                       env=CLEAN_ENV, capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "model.json" in r.stderr and "line 1" in r.stderr


def test_textclf_plugin_served(make_server, tmpdir_path):
    src = os.path.join(ROOT, "plugins", "textclf")
    d = os.path.join(tmpdir_path, "textclf")
    os.makedirs(d)
    with open(os.path.join(src, "model.json")) as f:
        model = json.load(f)
    model["file"] = plugin_path("textclf")
    with open(os.path.join(d, "model.json"), "w") as f:
        json.dump(model, f)
    shutil.copy(os.path.join(src, "vocabulary.tsv"), d)
    s = make_server(["--models", tmpdir_path])
    meta = requests.get(s.url("/api/v1/models/textclf")).json()
    assert meta["platform"] == "modelwrap_plugin"
    r = post_json(s.url("/api/v1/predict"), {"data": [
        {"description": "I was charged twice on my invoice, please refund"},
        {"description": "the server crashes with an error after the update"},
        {"description": "I cannot log in, please reset my password"}]})
    assert r.status_code == 200, r.text
    labels = [p["label"] for p in r.json()["predictions"]]
    assert labels == ["billing", "technical", "account"]
    assert_error(post_json(s.url("/api/v1/predict"), {"data": [{"description": 5}]}), 422,
                 "invalid_input")


def test_plugin_errors_map_to_statuses(make_server, tmpdir_path):
    s = make_server(["--models", make_testkit_models(tmpdir_path)])
    r = post_json(s.url("/api/v1/predict"), {"data": [{"x": [1, 2]}]})
    # testkit's records have members a and b: a member named after the input is unknown.
    assert_error(r, 422, "invalid_input")


def test_worker_pool_deadline_and_overload(make_server, tmpdir_path):
    models = make_testkit_models(tmpdir_path, workers=1, queue_size=2, timeout_ms=1000,
                            config={"delay_ms": 300},
                            signature={"inputs": [{"name": "x", "datatype": "FP32", "shape": [-1, 2],
                                                   "names": ["a", "b"]}],
                                       "outputs": [{"name": "y", "datatype": "FP32", "shape": [-1, 2]}]})
    s = make_server(["--models", models])
    url = s.url("/api/v1/predict")
    r = post_json(url, {"data": [{"a": 1, "b": 2}]})
    assert r.status_code == 200, r.text
    assert r.json()["predictions"][0]["y"] == [2, 4]
    assert_error(post_json(url, {"data": [{"a": 13, "b": 2}]}), 422, "invalid_input")
    assert_error(post_json(url, {"data": [{"a": 666, "b": 2}]}), 500, "model_failed")
    assert_error(post_json(url, {"data": [{"a": 777, "b": 2}]}), 500, "model_failed")
    # 42 sleeps 2 s more than the 1 s deadline: 504, and the server stays healthy.
    assert_error(post_json(url, {"data": [{"a": 42, "b": 2}]}), 504, "deadline_exceeded")
    time.sleep(2.5)
    # One worker, queue of 2, 300 ms per call: of 8 simultaneous calls some must be refused
    # with 503 + Retry-After, and none may fail in any other way.
    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        rs = list(ex.map(lambda _: post_json(url, {"data": [{"a": 1, "b": 1}]}), range(8)))
    codes = sorted(r.status_code for r in rs)
    assert set(codes) <= {200, 503, 504}, codes
    assert 503 in codes and 200 in codes, codes
    for r in rs:
        if r.status_code == 503:
            assert_error(r, 503, "overloaded")
            assert r.headers["Retry-After"] == "1"


def test_graceful_shutdown_finishes_in_flight(tmpdir_path):
    models = make_testkit_models(tmpdir_path, workers=2, queue_size=64, timeout_ms=10000,
                            config={"delay_ms": 400},
                            signature={"inputs": [{"name": "x", "datatype": "FP32", "shape": [-1, 2],
                                                   "names": ["a", "b"]}],
                                       "outputs": [{"name": "y", "datatype": "FP32", "shape": [-1, 2]}]})
    s = Server(["--models", models])
    url = s.url("/api/v1/predict")
    with concurrent.futures.ThreadPoolExecutor(6) as ex:
        futs = [ex.submit(post_json, url, {"data": [{"a": i, "b": 1}]}) for i in range(6)]
        time.sleep(0.2)
        s.proc.send_signal(signal.SIGTERM)
        results = [f.result() for f in futs]
    assert [r.status_code for r in results] == [200] * 6
    assert [r.json()["predictions"][0]["y"][0] for r in results] == [2 * i for i in range(6)]
    assert s.proc.wait(30) == 0
    assert any(l.get("msg") == "stopped" and l.get("drained") == "true" for l in s.logs)
