"""Open Inference Protocol (KServe V2 REST): every endpoint against a repository of iris, the v2echo
test plug-in and the textclf example plug-in; JSON inference, requested outputs, id and parameters,
content types, and the errors with their status codes."""
import json
import os
import shutil

import pytest
import requests

from conftest import BUILD, ROOT, Server, assert_error
from v2_util import UNLIMITED, Client, Input, echo_model, put_iris, reference, write_json

import numpy as np


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("v2repo"))
    put_iris(os.path.join(d, "iris"), {"max_records": 50})
    echo_model(d)
    text = os.path.join(d, "text")
    os.makedirs(text)
    shutil.copy(os.path.join(ROOT, "plugins", "textclf", "vocabulary.tsv"), text)
    write_json(os.path.join(text, "model.json"),
               {"backend": "plugin", "file": os.path.join(BUILD, "plugins", "textclf.so"),
                "config": {"vocabulary": "vocabulary.tsv"}})
    return d


@pytest.fixture(scope="module")
def srv(repo):
    s = Server(["--models", repo, "--default-model", "iris"] + UNLIMITED)
    yield s
    assert s.stop() == 0, "".join(s.raw[-40:])


def get(srv, path, **kw):
    return requests.get(srv.url(path), timeout=30, **kw)


def post(srv, path, body, ctype="application/json", headers=None):
    h = {"Content-Type": ctype} if ctype else {}
    h.update(headers or {})
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return requests.post(srv.url(path), data=data, headers=h, timeout=30)


def iris_req(rows, **extra):
    req = {"inputs": [{"name": "features", "shape": [len(rows), 4], "datatype": "FP32",
                       "data": rows}]}
    req.update(extra)
    return req


def test_server_metadata(srv):
    for path in ("/v2", "/v2/"):
        r = get(srv, path)
        assert r.status_code == 200 and r.headers["Content-Type"] == "application/json"
        body = r.json()
        assert body["name"] == "modelwrap" and body["version"]
        assert set(body["extensions"]) == {"binary_tensor_data", "model_repository"}


def test_health(srv):
    r = get(srv, "/v2/health/live")
    assert r.status_code == 200 and r.json() == {"live": True}
    r = get(srv, "/v2/health/ready")
    assert r.status_code == 200 and r.json() == {"ready": True}
    assert requests.head(srv.url("/v2/health/ready"), timeout=30).status_code == 200
    r = requests.post(srv.url("/v2/health/live"), timeout=30)
    assert_error(r, 405, "method_not_allowed")
    assert "GET" in r.headers["Allow"]


def test_model_metadata(srv):
    want = {
        "name": "iris", "versions": ["1"], "platform": "xgboost",
        "inputs": [{"name": "features", "datatype": "FP32", "shape": [-1, 4]}],
        "outputs": [{"name": "label", "datatype": "BYTES", "shape": [-1]},
                    {"name": "probabilities", "datatype": "FP32", "shape": [-1, 3]}],
    }
    assert get(srv, "/v2/models/iris").json() == want
    assert get(srv, "/v2/models/iris/versions/1").json() == want
    echo = get(srv, "/v2/models/echo").json()
    assert echo["platform"] == "modelwrap_plugin"
    assert [i["datatype"] for i in echo["inputs"]] == [
        "BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64", "FP32",
        "FP64", "BYTES", "FP16", "BF16"]
    assert echo["inputs"][0] == {"name": "in_bool", "datatype": "BOOL", "shape": [-1, -1]}
    body = assert_error(get(srv, "/v2/models/nope"), 404, "model_not_found")
    assert body["error"] == "Unknown model: 'nope'."
    body = assert_error(get(srv, "/v2/models/iris/versions/9"), 404, "model_not_found")
    assert body["error"] == "Model 'iris' has no version '9' (loaded: 1)."


def test_model_ready(srv):
    for path in ("/v2/models/iris/ready", "/v2/models/iris/versions/1/ready"):
        r = get(srv, path)
        assert r.status_code == 200 and r.json() == {"name": "iris", "ready": True}
    assert_error(get(srv, "/v2/models/nope/ready"), 404, "model_not_found")
    assert_error(get(srv, "/v2/models/iris/versions/2/ready"), 404, "model_not_found")


def test_infer_matches_reference(srv):
    ref = reference()
    for path in ("/v2/models/iris/infer", "/v2/models/iris/versions/1/infer"):
        r = post(srv, path, iris_req(ref["inputs"], id="req-42",
                                     parameters={"team": "fraud", "n": 2, "flag": True}))
        assert r.status_code == 200, r.text
        assert r.headers["Content-Type"] == "application/json"
        assert "Inference-Header-Content-Length" not in r.headers
        body = r.json()
        assert body["model_name"] == "iris" and body["model_version"] == "1"
        assert body["id"] == "req-42"
        assert body["parameters"] == {"team": "fraud", "n": 2, "flag": True}
        n = len(ref["inputs"])
        label, probs = body["outputs"]
        assert label == {"name": "label", "datatype": "BYTES", "shape": [n],
                         "data": ref["labels"]}
        assert probs["name"] == "probabilities" and probs["datatype"] == "FP32"
        assert probs["shape"] == [n, 3]
        got = np.array(probs["data"]).reshape(n, 3)
        assert np.allclose(got, np.array(ref["probabilities"]), atol=1e-6)


def test_infer_requested_outputs(srv):
    row = [[5.1, 3.5, 1.4, 0.2]]
    body = post(srv, "/v2/models/iris/infer",
                iris_req(row, outputs=[{"name": "probabilities"}])).json()
    assert [o["name"] for o in body["outputs"]] == ["probabilities"]
    assert "id" not in body and "parameters" not in body
    body = post(srv, "/v2/models/iris/infer",
                iris_req(row, outputs=[{"name": "probabilities"}, {"name": "label"}])).json()
    assert [o["name"] for o in body["outputs"]] == ["probabilities", "label"]
    # nested or flat data: the same tensor
    flat = post(srv, "/v2/models/iris/infer", {"inputs": [
        {"name": "features", "shape": [1, 4], "datatype": "FP32", "data": row[0]}]}).json()
    assert flat["outputs"] == post(srv, "/v2/models/iris/infer", iris_req(row)).json()["outputs"]


def test_infer_content_types(srv):
    row = iris_req([[5.1, 3.5, 1.4, 0.2]])
    assert post(srv, "/v2/models/iris/infer", row, ctype="application/json; charset=utf-8"
                ).status_code == 200
    # tritonclient sends no Content-Type at all
    assert post(srv, "/v2/models/iris/infer", row, ctype=None).status_code == 200
    r = post(srv, "/v2/models/iris/infer", row, ctype="text/plain")
    body = assert_error(r, 415, "unsupported_media_type")
    assert "application/json" in body["error"]
    r = post(srv, "/v2/models/iris/infer", row, headers={"Content-Encoding": "gzip"})
    assert_error(r, 415, "unsupported_media_type")
    r = requests.get(srv.url("/v2/models/iris/infer"), timeout=30)
    assert_error(r, 405, "method_not_allowed")


@pytest.mark.parametrize("body,status,code,message", [
    ("{\"inputs\": [", 400, "invalid_json", "Invalid JSON at line 1"),
    ({"inputs": []}, 400, "bad_request", "inputs: expected a non-empty array"),
    ({"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP32", "data": [1, 2, 3, 4]}]},
     400, "bad_request", "inputs[0].name: the model has no input 'x' (its inputs: features)"),
    ({"inputs": [{"name": "features", "shape": [1, 3], "datatype": "FP32",
                  "data": [1, 2, 3]}]}, 400, "bad_request",
     "inputs[0].shape[1]: expected 4 (the model's input 'features' is [-1, 4]), got 3"),
    ({"inputs": [{"name": "features", "shape": [2, 4], "datatype": "FP32",
                  "data": [1, 2, 3, 4]}]}, 400, "bad_request",
     "inputs[0].data: 4 elements, but shape [2, 4] holds 8"),
    (iris_req([[1, 2, 3, 4]] * 51), 400, "bad_request",
     "inputs[0].shape[0]: a batch of 51; the model takes 1 to 50"),
    ({"inputs": [{"name": "features", "shape": [1, 4], "datatype": "BYTES",
                  "data": ["a", "b", "c", "d"]}]}, 400, "bad_request",
     "inputs[0].datatype: BYTES cannot be converted to the model's FP32 for input 'features'"),
    ({"inputs": [{"name": "features", "shape": [1, 4], "datatype": "FP64",
                  "data": [0.1, 1, 2, 3]}]}, 400, "bad_request",
     "inputs[0].data[0]: 0.1 is not exactly representable as the model's FP32"),
    (iris_req([[1, 2, 3, 4]], outputs=[{"name": "nope"}]), 400, "bad_request",
     "outputs[0].name: the model has no output 'nope' (its outputs: label, probabilities)"),
    (iris_req([[1, 2, 3, 4]], id=7), 400, "bad_request", "id: expected a string"),
])
def test_infer_errors(srv, body, status, code, message):
    r = post(srv, "/v2/models/iris/infer", body)
    err = assert_error(r, status, code)
    assert message in err["error"], err


def test_infer_unknown_model_or_version(srv):
    row = iris_req([[5.1, 3.5, 1.4, 0.2]])
    assert_error(post(srv, "/v2/models/nope/infer", row), 404, "model_not_found")
    assert_error(post(srv, "/v2/models/iris/versions/2/infer", row), 404, "model_not_found")


def test_model_errors_map_to_status(srv):
    """The model's own refusal is 400 with its message; a failing model is 500."""
    c = Client(srv.base)

    def echo_inputs(int32):
        inputs = []
        for dt in ("BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32",
                   "INT64", "FP32", "FP64", "BYTES", "FP16", "BF16"):
            name = "in_" + dt.lower()
            if dt == "BYTES":
                inputs.append(Input(name, [b"x"], shape=[1, 1], binary=False))
            elif dt == "INT32":
                inputs.append(Input(name, np.array([[int32]], dtype=np.int32), binary=False))
            elif dt == "BF16":
                inputs.append(Input(name, np.array([[0]], dtype=np.uint16), "BF16"))
            elif dt == "FP16":
                inputs.append(Input(name, np.array([[0]], dtype=np.float16)))
            else:
                inputs.append(Input(name, np.zeros((1, 1), dtype=np.dtype(
                    {"BOOL": "bool"}.get(dt, dt.lower().replace("fp", "float"))))))
        return inputs

    r = c.infer("echo", echo_inputs(13), outputs=["out_int32"], expect=400)
    err = assert_error(r, 400, "bad_request")
    assert err["error"] == "in_int32: 13 is an unlucky number"
    r = c.infer("echo", echo_inputs(666), outputs=["out_int32"], expect=500)
    assert_error(r, 500, "model_failed")
    res = c.infer("echo", echo_inputs(7), outputs=["out_int32"])
    assert res.as_numpy("out_int32").tolist() == [[7]]


def test_body_limit(repo):
    s = Server(["--models", repo, "--max-body-bytes", "2048"] + UNLIMITED)
    try:
        big = iris_req([[1.25, 2.5, 3.75, 4.5]] * 100)
        assert_error(post(s, "/v2/models/iris/infer", big), 413, "body_too_large")
        assert post(s, "/v2/models/iris/infer", iris_req([[1, 2, 3, 4]])).status_code == 200
    finally:
        assert s.stop() == 0


def test_json_limits_apply(srv):
    """MODELWRAP_MAX_JSON_DEPTH (32 by default) is checked before the body is parsed."""
    deep = '{"inputs": [{"name": "features", "shape": [1, 4], "datatype": "FP32", "data": ' + \
        "[" * 40 + "1" + "]" * 40 + "}]}"
    assert_error(post(srv, "/v2/models/iris/infer", deep), 400, "invalid_json")
    assert_error(post(srv, "/v2/repository/index", '{"a":' + "[" * 40 + "]" * 40 + "}"), 400,
                 "invalid_json")
