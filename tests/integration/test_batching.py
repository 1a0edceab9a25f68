"""Dynamic batching through HTTP: 64 concurrent clients get the same predictions from a
server whose iris model merges calls (workers + "dynamic_batching") as from one that runs every
call alone; the batch-size histogram shows merged runs; a faulty request in a batch fails alone;
bad "dynamic_batching" options are refused at start."""
import concurrent.futures
import json
import os
import subprocess
import threading

import requests

from conftest import BIN, ROOT, post_json, write_model
from obs_util import clean_env, parse_metrics, value
from v2_util import UNLIMITED, put_iris

IRIS_DIR = os.path.join(ROOT, "models", "iris")
FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
CLIENTS = 64
ROUNDS = 4


def reference_rows():
    with open(os.path.join(IRIS_DIR, "reference.json")) as f:
        ref = json.load(f)
    return [dict(zip(FEATURES, x)) for x in ref["inputs"]]


def bodies():
    """CLIENTS * ROUNDS request bodies of 1 to 5 reference rows each (varying row counts)."""
    rows = reference_rows()
    out = []
    for i in range(CLIENTS * ROUNDS):
        n = 1 + i % 5
        start = (i * 7) % (len(rows) - n)
        out.append({"data": rows[start:start + n]})
    return out


def run_clients(url, all_bodies):
    """CLIENTS threads, released together, each posting its ROUNDS bodies in turn; returns the
    response bodies in the order of all_bodies."""
    results = [None] * len(all_bodies)
    barrier = threading.Barrier(CLIENTS)

    def client(c):
        with requests.Session() as s:
            barrier.wait(30)
            for r in range(ROUNDS):
                i = r * CLIENTS + c
                resp = s.post(url, data=json.dumps(all_bodies[i]),
                              headers={"Content-Type": "application/json"}, timeout=60)
                results[i] = (resp.status_code, resp.text)

    with concurrent.futures.ThreadPoolExecutor(CLIENTS) as pool:
        for f in [pool.submit(client, c) for c in range(CLIENTS)]:
            f.result()
    return results


def batching_server(make_server, repo, batching, workers=2):
    extra = {"workers": workers}
    if batching is not None:
        extra["dynamic_batching"] = batching
    put_iris(os.path.join(repo, "iris"), extra)
    return make_server(["--models", repo, "--default-model", "iris"] + UNLIMITED)


def test_batched_predictions_equal_unbatched(make_server, tmpdir_path):
    plain = batching_server(make_server, os.path.join(tmpdir_path, "plain"), None, workers=0)
    batched = batching_server(make_server, os.path.join(tmpdir_path, "batched"),
                              {"max_batch_size": 32, "max_queue_delay_us": 20000,
                               "preferred_batch_size": [16, 32]})
    all_bodies = bodies()
    want = run_clients(plain.url("/api/v1/predict"), all_bodies)
    got = run_clients(batched.url("/api/v1/predict"), all_bodies)
    for i, (w, g) in enumerate(zip(want, got)):
        assert w[0] == 200, w
        assert g[0] == 200, g
        assert json.loads(g[1]) == json.loads(w[1]), "request %d differs" % i

    # Every row went through a model run, in fewer runs than requests, none past max_batch_size.
    m = parse_metrics(requests.get(batched.url("/metrics"), timeout=10).text)
    lab = {"model": "iris", "version": "1"}
    rows = sum(len(b["data"]) for b in all_bodies)
    assert value(m, "modelwrap_model_batch_size_sum", **lab) == rows
    runs = value(m, "modelwrap_model_batch_size_count", **lab)
    assert 0 < runs < len(all_bodies)
    assert value(m, "modelwrap_model_batch_size_bucket", le="64", **lab) == runs
    assert value(m, "modelwrap_model_batch_size_bucket", le="+Inf", **lab) == runs


def test_faulty_request_fails_alone(make_server, tmpdir_path):
    """testkit refuses rows holding 13 with invalid input: in a merged batch only that request
    gets 422, the others their doubled rows."""
    repo = os.path.join(tmpdir_path, "repo")
    so = os.path.join(os.environ.get("MW_BUILD_DIR", os.path.join(ROOT, "build", "release")),
                      "plugins", "testkit.so")
    assert os.path.exists(so), "plug-in not built: " + so
    write_model(repo, "tk", {"backend": "plugin", "file": os.path.abspath(so), "workers": 1,
                             "dynamic_batching": {"max_batch_size": 64,
                                                  "max_queue_delay_us": 50000}})
    srv = make_server(["--models", repo, "--default-model", "tk"] + UNLIMITED)
    n = 24
    barrier = threading.Barrier(n)

    def client(i):
        rows = [{"a": 100.0 + i, "b": 13.0 if i == 5 else 200.0 + i}]
        barrier.wait(30)
        return post_json(srv.url("/api/v1/predict"), {"data": rows})

    with concurrent.futures.ThreadPoolExecutor(n) as pool:
        resps = list(pool.map(client, range(n)))
    for i, r in enumerate(resps):
        if i == 5:
            assert r.status_code == 422, r.text
        else:
            assert r.status_code == 200, r.text
            assert r.json()["predictions"] == [{"y": [200 + 2 * i, 400 + 2 * i]}], r.text
    # The requests were merged (fewer model runs than requests), the faulty one included.
    m = parse_metrics(requests.get(srv.url("/metrics"), timeout=10).text)
    runs = value(m, "modelwrap_model_batch_size_count", model="tk", version="1")
    assert 0 < runs < n
    assert value(m, "modelwrap_model_batch_size_sum", model="tk", version="1") == n


def test_bad_options_refused(tmpdir_path):
    for i, (extra, frag) in enumerate([
            ({"dynamic_batching": {"max_batch_size": 8}}, "workers"),
            ({"workers": 1, "dynamic_batching": {"max_batch_size": 0}}, "max_batch_size"),
            ({"workers": 1, "dynamic_batching": {"max_batch_size": 8, "delay": 1}},
             "unknown member")]):
        repo = os.path.join(tmpdir_path, "r%d" % i)
        put_iris(os.path.join(repo, "iris"), extra)
        env = clean_env()
        out = subprocess.run([BIN, "serve", "--host", "127.0.0.1", "--port", "0", "--auth", "none",
                              "--models", repo], env=env, capture_output=True, text=True,
                             timeout=60)
        assert out.returncode != 0
        assert "dynamic_batching" in out.stderr and frag in out.stderr, out.stderr
