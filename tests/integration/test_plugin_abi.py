"""Plug-in ABI 2 over the real binary: what run() sees of its call (the request id the client
sees, the deadline, cancellation after it) and the plug-in's own log lines in the operational log
tagged with the model and the request; a failed init's message in the start-up error; the minimal
example plug-in served with its config value."""
import json
import os
import subprocess

import requests

from conftest import BIN, ROOT, assert_error, plugin_path, post_json, write_model
from v2_util import built_test_plugin

CLEAN_ENV = {k: v for k, v in os.environ.items() if not k.startswith("MODELWRAP_")}
CLEAN_ENV.update({"MODELWRAP_ENV_FILE": "/dev/null", "MODELWRAP_LOG_LEVEL": "info"})


def post_with_id(url, body, request_id):
    return requests.post(url, data=json.dumps(body), timeout=30,
                         headers={"Content-Type": "application/json", "X-Request-Id": request_id})


def make_testkit(tmp, **opts):
    model = {"backend": "plugin", "file": plugin_path("testkit"), "version": "1"}
    model.update(opts)
    write_model(tmp, "testkit", model)
    return tmp


def test_run_sees_request_id_and_deadline_and_logs(make_server, tmpdir_path):
    s = make_server(["--models", make_testkit(tmpdir_path, workers=1, timeout_ms=30000)])
    url = s.url("/api/v1/models/testkit/predict")
    r = post_with_id(url, {"data": [{"a": 99, "b": 5}]}, "abi-probe-1")
    assert r.status_code == 200, r.text
    assert r.headers["X-Request-Id"] == "abi-probe-1"
    # testkit answers y[0] = 1 when run() saw a deadline (a queued call has one).
    assert r.json()["predictions"][0]["y"] == [1, 1]
    rec = s.wait_log(lambda x: x.get("msg", "").startswith("testkit: request"))
    assert rec["msg"] == "testkit: request abi-probe-1, deadline set"
    assert rec["level"] == "info"
    assert rec["model"] == "testkit" and rec["source"] == "plugin"
    assert rec["request_id"] == "abi-probe-1"


def test_run_sees_cancellation_after_the_deadline(make_server, tmpdir_path):
    s = make_server(["--models", make_testkit(tmpdir_path, workers=1, timeout_ms=300)])
    url = s.url("/api/v1/models/testkit/predict")
    # 55: testkit waits until host->is_cancelled, which the deadline makes true.
    r = post_with_id(url, {"data": [{"a": 55, "b": 1}]}, "abi-cancel-1")
    assert_error(r, 504, "deadline_exceeded")
    rec = s.wait_log(lambda x: x.get("msg", "").startswith("testkit: cancelled"))
    assert rec["msg"] == "testkit: cancelled=1, giving up on request abi-cancel-1"
    assert rec["level"] == "warn" and rec["model"] == "testkit"
    assert rec["request_id"] == "abi-cancel-1"
    # The worker is free again.
    r = post_json(url, {"data": [{"a": 1, "b": 2}]})
    assert r.status_code == 200, r.text
    assert r.json()["predictions"][0]["y"] == [2, 4]


def test_failed_init_message_is_the_startup_error(tmpdir_path):
    so = built_test_plugin("failmsg")
    write_model(tmpdir_path, "broken", {"backend": "plugin", "file": so,
                                        "config": {"s": "weights.bin", "n": 2}})
    r = subprocess.run([BIN, "serve", "--host", "127.0.0.1", "--port", "0", "--auth", "none",
                        "--models", tmpdir_path], cwd=ROOT, env=CLEAN_ENV, capture_output=True,
                       text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert r.returncode != 0
    assert so + ": plug-in init failed with status -2: s=weights.bin(ok) n=2(ok)" in r.stderr
    # The plug-in's own log line during init is tagged with the model.
    assert '"msg":"failmsg: about to fail in ' in r.stderr
    assert '"model":"broken"' in r.stderr


def test_minimal_plugin_served(make_server, tmpdir_path):
    write_model(tmpdir_path, "minimal", {"backend": "plugin", "file": plugin_path("minimal"),
                                         "config": {"scale": 0.5}})
    s = make_server(["--models", tmpdir_path])
    r = post_json(s.url("/v2/models/minimal/infer"),
                  {"inputs": [{"name": "x", "datatype": "FP64", "shape": [3],
                               "data": [2.0, -4.0, 1.0]}]})
    assert r.status_code == 200, r.text
    out = r.json()["outputs"][0]
    assert out["name"] == "y" and out["shape"] == [3] and out["data"] == [1.0, -2.0, 0.5]
