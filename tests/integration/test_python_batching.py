"""Batching and reloading Python models: a template model with "dynamic_batching" merges the
records of concurrent requests into one run() and answers each request exactly what it answers
alone; a run() whose answer cannot be split by position turns batching off (a warning) and
still answers right; a tensor model batches along dimension 0; a reload under load fails no
request and the old workers exit."""
import concurrent.futures
import json
import os
import signal
import threading
import time

import requests

from conftest import post_json
from obs_util import parse_metrics, value
from py_util import copy_model, descendants, alive
from v2_util import UNLIMITED

CLIENTS = 32
WORDS = ["vpn", "printer", "password", "coffee", "laptop", "network"]


def bodies(n=CLIENTS * 3):
    out = []
    for i in range(n):
        k = 1 + i % 3
        out.append({"data": [{"description": "my %s broke %d" % (WORDS[(i + j) % 6], i),
                              "ci": "ci-%d-%d" % (i, j), "priority": (i + j) % 5}
                             for j in range(k)]})
    return out


def run_all(url, all_bodies):
    barrier = threading.Barrier(CLIENTS)
    res = [None] * len(all_bodies)

    def client(c):
        with requests.Session() as s:
            barrier.wait(30)
            for i in range(c, len(all_bodies), CLIENTS):
                r = s.post(url, data=json.dumps(all_bodies[i]),
                           headers={"Content-Type": "application/json"}, timeout=60)
                res[i] = (r.status_code, r.json())

    with concurrent.futures.ThreadPoolExecutor(CLIENTS) as pool:
        for f in [pool.submit(client, c) for c in range(CLIENTS)]:
            f.result()
    return res


def test_batched_equals_unbatched(make_server, tmpdir_path):
    plain = os.path.join(tmpdir_path, "plain")
    batched = os.path.join(tmpdir_path, "batched")
    copy_model("py_template", plain, "tickets")
    copy_model("py_template", batched, "tickets", {
        "backend": "python", "file": "src/model.py", "instances": 2,
        "dynamic_batching": {"max_batch_size": 64, "max_queue_delay_us": 5000}})
    a = make_server(["--models", plain] + UNLIMITED)
    b = make_server(["--models", batched] + UNLIMITED)
    all_bodies = bodies()
    want = run_all(a.url("/api/predict"), all_bodies)
    got = run_all(b.url("/api/predict"), all_bodies)
    assert all(s == 200 for s, _ in want)
    assert got == want
    m = parse_metrics(requests.get(b.url("/metrics")).text)
    rows = value(m, "modelwrap_model_batch_size_sum", model="tickets", version="1")
    runs = value(m, "modelwrap_model_batch_size_count", model="tickets", version="1")
    assert rows == sum(len(x["data"]) for x in all_bodies)
    assert runs < len(all_bodies)  # some requests ran merged
    assert not [l for l in b.logs if "batching is off" in l.get("msg", "")]


def test_unsplittable_answer_turns_batching_off(make_server, tmpdir_path):
    from conftest import write_model
    write_model(tmpdir_path, "sum", {"backend": "python", "file": "model.py",
                                     "dynamic_batching": {"max_batch_size": 64,
                                                          "max_queue_delay_us": 20000}}, {
        "model.py": "from typing import List\nfrom pydantic import BaseModel\n"
                    "class R(BaseModel):\n    x: int\n"
                    "class Rs(BaseModel):\n    data: List[R]\n"
                    "class Model:\n    model = 1\n    def run(self, records: Rs):\n"
                    "        return {'sum': sum(r['x'] for r in records['data'])}\n"})
    s = make_server(["--models", tmpdir_path] + UNLIMITED)
    all_bodies = [{"data": [{"x": i}, {"x": 1000}]} for i in range(CLIENTS * 2)]
    got = run_all(s.url("/api/predict"), all_bodies)
    assert got == [(200, {"sum": i + 1000}) for i in range(CLIENTS * 2)]
    s.wait_log(lambda l: "batching is off" in l.get("msg", "") and l.get("model") == "sum")


def test_tensor_model_batches_along_dim0(make_server, tmpdir_path):
    cfg = json.load(open(os.path.join(os.path.dirname(__file__), "..", "models", "py_tensor",
                                      "model.json")))
    cfg["dynamic_batching"] = {"max_batch_size": 64, "max_queue_delay_us": 5000}
    copy_model("py_tensor", tmpdir_path, "scale", cfg)
    s = make_server(["--models", tmpdir_path] + UNLIMITED)
    all_bodies = [{"data": [{"a": i, "b": -i, "c": 0.5}] * (1 + i % 2)} for i in range(CLIENTS * 2)]
    got = run_all(s.url("/api/v1/models/scale/predict"), all_bodies)
    for i, (status, body) in enumerate(got):
        assert status == 200, body
        assert body["predictions"] == [{"y": [2 * i, -2 * i, 1], "total": 0.5}] * (1 + i % 2)
    m = parse_metrics(requests.get(s.url("/metrics")).text)
    assert value(m, "modelwrap_model_batch_size_count", model="scale", version="1") < len(got)


def test_reload_under_load_fails_nothing(make_server, tmpdir_path):
    d = copy_model("py_template", tmpdir_path, "tickets", {
        "backend": "python", "file": "src/model.py", "instances": 2})
    s = make_server(["--models", tmpdir_path] + UNLIMITED)
    old = descendants(s.proc.pid)
    assert len(old) == 3
    stop = threading.Event()
    results = []

    def load():
        with requests.Session() as sess:
            while not stop.is_set():
                r = sess.post(s.url("/api/predict"),
                              data=json.dumps({"data": [{"description": "coffee", "ci": "x"}]}),
                              headers={"Content-Type": "application/json"}, timeout=60)
                results.append((r.status_code, r.json()[0]["category"] if r.ok else r.text))

    threads = [threading.Thread(target=load) for _ in range(8)]
    for t in threads:
        t.start()
    time.sleep(0.5)
    src = os.path.join(d, "src", "model.py")
    with open(src) as f:
        text = f.read()
    with open(src, "w") as f:
        f.write(text.replace('"laptop": "hardware"}', '"laptop": "hardware", "coffee": "kitchen"}'))
    s.proc.send_signal(signal.SIGHUP)
    end = time.time() + 30
    while time.time() < end and not (results and results[-1][1] == "kitchen"):
        time.sleep(0.05)
    time.sleep(0.3)
    stop.set()
    for t in threads:
        t.join(60)
    assert results and all(st == 200 for st, _ in results), [r for r in results if r[0] != 200][:5]
    assert {c for _, c in results} == {"other", "kitchen"}
    end = time.time() + 10
    while any(alive(p) for p in old) and time.time() < end:
        time.sleep(0.05)
    assert not [p for p in old if alive(p)]
    assert len(descendants(s.proc.pid)) == 3


def test_exception_in_a_batch_fails_only_its_request(make_server, tmpdir_path):
    copy_model("py_faulty", tmpdir_path, "faulty", {
        "backend": "python", "file": "model.py",
        "dynamic_batching": {"max_batch_size": 64, "max_queue_delay_us": 20000}})
    s = make_server(["--models", tmpdir_path] + UNLIMITED)
    all_bodies = [{"data": [{"op": "raise" if i % 8 == 3 else "ok", "x": i}]}
                  for i in range(CLIENTS * 2)]
    got = run_all(s.url("/api/v1/models/faulty/predict"), all_bodies)
    for i, (status, body) in enumerate(got):
        if i % 8 == 3:
            assert status == 500 and body["code"] == "model_failed", body
        else:
            assert status == 200, body
            assert body["predictions"]["predictions"] == [2.0 * i]
    m = parse_metrics(requests.get(s.url("/metrics")).text)
    assert value(m, "modelwrap_model_batch_size_count", model="faulty", version="1") < len(got)
    assert not [l for l in s.logs if "batching is off" in l.get("msg", "")]
