"""The bundled template-style Python model (models/tickets), served beside iris from the default
repository as `make run` serves it: the answers equal reference.json (Model().run called directly
by scripts/train-tickets-model.py) at the template's /api/predict, at the native API and through
V2; the template's `token` header works; its pydantic Record validates the input."""
import json
import os

import pytest
import requests

from auth_util import create_key
from conftest import ROOT, Server, assert_error, post_json

MODEL_DIR = os.path.join(ROOT, "models", "tickets")


def cases():
    with open(os.path.join(MODEL_DIR, "reference.json")) as f:
        return json.load(f)["cases"]


@pytest.fixture(scope="module")
def tickets_default():
    """The default repository, with tickets behind the template's routes."""
    s = Server(["--default-model", "tickets"])
    yield s
    assert s.stop() == 0, "".join(s.raw[-40:])


def test_make_run_serves_it_beside_iris(server):
    # `server` is the default repository and settings (what `make run` serves).
    r = requests.get(server.url("/api/v1/models"))
    assert r.status_code == 200
    assert sorted(m["name"] for m in r.json()["models"]) == ["iris", "tickets"]
    body = post_json(server.url("/api/predict"), {"data": [{"sepal_length": 5.1,
                                                            "sepal_width": 3.5,
                                                            "petal_length": 1.4,
                                                            "petal_width": 0.2}]}).json()
    assert body["model"] == "iris"  # the default model stays iris
    m = requests.get(server.url("/api/v1/models/tickets")).json()
    assert m["ready"] is True
    assert [i["name"] for i in m["inputs"]] == ["description", "ci"]  # from the pydantic Record


def test_template_route_answers_run_value(tickets_default):
    for case in cases():
        for path in ("/api/predict", "/api/predict/"):
            r = post_json(tickets_default.url(path), case["request"])
            assert r.status_code == 200, r.text
            assert r.json() == case["predictions"]


def test_native_route_wraps_run_value(server):
    for case in cases():
        r = post_json(server.url("/api/v1/models/tickets/predict"), case["request"])
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["model"] == "tickets" and body["model_version"]
        assert body["predictions"] == case["predictions"]


def test_v2_infer_one_answer_per_record(server):
    for case in cases():
        rows = case["request"]["data"]
        req = {"inputs": [
            {"name": "description", "datatype": "BYTES", "shape": [len(rows)],
             "data": [r["description"] for r in rows]},
            {"name": "ci", "datatype": "BYTES", "shape": [len(rows)],
             "data": [r["ci"] for r in rows]}]}
        r = post_json(server.url("/v2/models/tickets/infer"), req)
        assert r.status_code == 200, r.text
        out = r.json()["outputs"]
        assert len(out) == 1 and out[0]["datatype"] == "BYTES" and out[0]["shape"] == [len(rows)]
        assert [json.loads(x) for x in out[0]["data"]] == case["predictions"]


def test_validation_names_the_field(tickets_default):
    body = assert_error(post_json(tickets_default.url("/api/predict"),
                                  {"data": [{"description": "vpn is down"}]}), 422,
                        "invalid_input")
    assert "ci" in body["error"]
    body = assert_error(post_json(tickets_default.url("/api/predict"),
                                  {"data": [{"description": 12, "ci": "VPN-GW-01"}]}), 422,
                        "invalid_input")
    assert "description" in body["error"]


def test_template_token_header(tmp_path):
    keys = str(tmp_path / "keys.json")
    key = create_key(keys, "client", "predict,read")
    s = Server(["--api-keys-file", keys, "--default-model", "tickets"], auth="required")
    try:
        case = cases()[0]
        r = post_json(s.url("/api/predict"), case["request"])
        assert_error(r, 401, "unauthenticated")
        r = requests.post(s.url("/api/predict"), data=json.dumps(case["request"]), timeout=30,
                          headers={"Content-Type": "application/json", "token": key})
        assert r.status_code == 200, r.text
        assert r.json() == case["predictions"]
        r = requests.get(s.url("/api/"), headers={"token": key}, timeout=10)
        assert r.status_code == 200 and set(r.json()) == {"version"}
    finally:
        assert s.stop() == 0, "".join(s.raw[-40:])


def test_batched_answers_equal_reference(tmp_path):
    """The example batches: with dynamic batching on, concurrent requests merged into one run()
    still answer each client its own records' reference answers, and the model is never marked
    unbatchable (its run() returns one entry per record)."""
    import shutil
    from concurrent.futures import ThreadPoolExecutor

    repo = tmp_path / "repo"
    shutil.copytree(MODEL_DIR, repo / "tickets", ignore=shutil.ignore_patterns("__pycache__"))
    mj = json.loads((repo / "tickets" / "model.json").read_text())
    mj.update({"instances": 1, "dynamic_batching": {"max_batch_size": 64,
                                                    "max_queue_delay_us": 20000}})
    (repo / "tickets" / "model.json").write_text(json.dumps(mj))
    s = Server(["--models", str(repo), "--default-model", "tickets"])
    try:
        work = [c for _ in range(8) for c in cases()]

        def one(case):
            r = post_json(s.url("/api/predict"), case["request"])
            return r.status_code, r.json(), case["predictions"]

        with ThreadPoolExecutor(16) as pool:
            for status, got, want in pool.map(one, work):
                assert status == 200, got
                assert got == want
        assert not any("batching is off" in str(rec.get("msg")) for rec in s.logs)
    finally:
        assert s.stop() == 0, "".join(s.raw[-40:])
