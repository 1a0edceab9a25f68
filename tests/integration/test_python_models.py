"""Python models served from worker processes: the template's Model class (answers exactly what
run() returns on /api/predict, wrapped on the v1 routes, tensors on V2), a Triton-style tensor
class and a bare scikit-learn estimator, each answering what a direct Python call answers; the
signature derived from the pydantic annotation validates in the server (422 naming the field)
and shows in the model description and the OpenAPI document."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import assert_error, post_json
from py_util import MODELS, PY, copy_model, train_sklearn
from v2_util import UNLIMITED

TICKETS = [
    {"description": "VPN is down again", "ci": "net-01", "priority": 4},
    {"description": "forgot my password", "ci": "ad", "priority": None},
    {"description": "the printer jams", "ci": "prn-7"},
    {"description": "something else", "ci": "x", "priority": 1},
]


def direct_template(records):
    """What the template's own route returns: Model().init(); run(records) in this process."""
    code = ("import json, sys; sys.path.insert(0, %r); import model; m = model.Model(); m.init();"
            "print(json.dumps(m.run(json.loads(sys.stdin.read()))))"
            % os.path.join(MODELS, "py_template", "src"))
    out = subprocess.run([PY, "-c", code], input=json.dumps(records), capture_output=True,
                         text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def pysrv(tmp_path_factory):
    from conftest import Server
    d = str(tmp_path_factory.mktemp("pymodels"))
    copy_model("py_template", d, "tickets")
    copy_model("py_tensor", d, "scale")
    _, est, X = train_sklearn(d, "skl")
    s = Server(["--models", d, "--default-model", "tickets"] + UNLIMITED)
    s.est, s.X = est, X
    yield s
    assert s.stop() == 0, "".join(s.raw[-40:])


def test_template_routes_answer_like_the_template(pysrv):
    body = {"data": TICKETS}
    want = direct_template(body)
    for path in ("/api/predict", "/api/predict/"):
        r = post_json(pysrv.url(path), body)
        assert r.status_code == 200, r.text
        assert r.json() == want
    for path in ("/api/v1/predict", "/api/v1/models/tickets/predict"):
        r = post_json(pysrv.url(path), body)
        assert r.status_code == 200, r.text
        assert r.json() == {"model": "tickets", "model_version": "1", "predictions": want}


def test_template_print_lands_in_the_log(pysrv):
    rec = pysrv.wait_log(lambda r: r.get("msg") == "model output" and r.get("model") == "tickets")
    assert rec["text"] == "loading the ticket rules"
    assert rec["stream"] == "stdout"


def test_pydantic_signature_validates(pysrv):
    desc = pysrv and __import__("requests").get(pysrv.url("/api/v1/models/tickets")).json()
    assert desc["platform"] == "python"
    assert [(i["name"], i["datatype"]) for i in desc["inputs"]] == [
        ("description", "BYTES"), ("ci", "BYTES"), ("priority", "INT64")]
    cases = [
        ({"data": [{"description": 3, "ci": "x"}]}, "data[0].description"),
        ({"data": [{"ci": "x"}]}, "description"),
        ({"data": [TICKETS[0], {"description": "a", "ci": "b", "priority": "high"}]},
         "data[1].priority"),
        ({"data": [{"description": "a", "ci": "b", "colour": "red"}]}, "colour"),
        ({"data": []}, "data"),
    ]
    for body, field in cases:
        r = post_json(pysrv.url("/api/predict"), body)
        err = assert_error(r, 422, "invalid_input")
        assert field in err["error"], err
    # Optional: null or missing is accepted
    r = post_json(pysrv.url("/api/predict"), {"data": [{"description": "a", "ci": "b",
                                                          "priority": None}]})
    assert r.status_code == 200, r.text


def test_template_openapi_shows_fields(pysrv):
    import requests
    doc = requests.get(pysrv.url("/openapi.json")).json()
    schemas = doc["components"]["schemas"]
    rec = next(v for k, v in schemas.items() if k.startswith("Record_") and "tickets" in k)
    assert set(rec["properties"]) == {"description", "ci", "priority"}
    assert set(rec["required"]) == {"description", "ci"}
    # the template's route answers run()'s value unwrapped; the v1 route wraps it
    ans = doc["paths"]["/api/predict"]["post"]["responses"]["200"]["content"]["application/json"]
    assert ans["schema"]["$ref"].endswith("/Prediction_tickets")
    v1 = doc["paths"]["/api/v1/predict"]["post"]["responses"]["200"]["content"]["application/json"]
    assert v1["schema"]["$ref"].endswith("/Predictions_tickets")


def test_template_v2_infer(pysrv):
    body = {"inputs": [
        {"name": "description", "datatype": "BYTES", "shape": [2], "data": ["vpn down", "hi"]},
        {"name": "ci", "datatype": "BYTES", "shape": [2], "data": ["a", "b"]},
        {"name": "priority", "datatype": "INT64", "shape": [2], "data": [5, 0]}]}
    r = post_json(pysrv.url("/v2/models/tickets/infer"), body)
    assert r.status_code == 200, r.text
    out = r.json()["outputs"]
    assert [o["name"] for o in out] == ["predictions"]
    want = direct_template({"data": [{"description": "vpn down", "ci": "a", "priority": 5},
                                     {"description": "hi", "ci": "b", "priority": 0}]})
    assert [json.loads(x) for x in out[0]["data"]] == want


def test_tensor_model(pysrv):
    x = np.array([[1, 2, 3], [0.5, -1, 4]], dtype=np.float32)
    r = post_json(pysrv.url("/v2/models/scale/infer"), {"inputs": [
        {"name": "x", "datatype": "FP32", "shape": [2, 3], "data": x.ravel().tolist()}]})
    assert r.status_code == 200, r.text
    out = {o["name"]: o for o in r.json()["outputs"]}
    assert out["y"]["data"] == (x * 2).ravel().tolist()
    assert out["total"]["data"] == x.astype(np.float64).sum(axis=1).tolist()
    # the records API through the signature's names
    r = post_json(pysrv.url("/api/v1/models/scale/predict"),
                  {"data": [{"a": 1, "b": 2, "c": 3}]})
    assert r.status_code == 200, r.text
    assert r.json()["predictions"] == [{"y": [2, 4, 6], "total": 6}]


def test_sklearn_model(pysrv):
    X = pysrv.X[[0, 60, 120]]
    rows = [{"x%d" % j: float(v) for j, v in enumerate(row)} for row in X]
    r = post_json(pysrv.url("/api/v1/models/skl/predict"), {"data": rows})
    assert r.status_code == 200, r.text
    preds = r.json()["predictions"]
    assert [p["label"] for p in preds] == pysrv.est.predict(X).tolist()
    proba = pysrv.est.predict_proba(X)
    for p, row in zip(preds, proba):
        assert [p["probabilities"][str(c)] for c in pysrv.est.classes_] == row.tolist()
    r = post_json(pysrv.url("/api/v1/models/skl/predict"), {"data": [{"x0": 1}]})
    assert_error(r, 422, "invalid_input")
    r = post_json(pysrv.url("/v2/models/skl/infer"), {"inputs": [
        {"name": "input", "datatype": "FP64", "shape": [3, 4], "data": X.ravel().tolist()}]})
    assert r.status_code == 200, r.text
    out = {o["name"]: o for o in r.json()["outputs"]}
    assert out["label"]["data"] == pysrv.est.predict(X).tolist()


def test_bad_models_refuse_to_start(make_server, tmpdir_path):
    from conftest import BIN, write_model
    from obs_util import clean_env
    # init() that leaves `model` empty, as the template refused to start then too
    write_model(tmpdir_path, "empty", {"backend": "python", "file": "model.py"}, {
        "model.py": "class Model:\n    model = None\n    def init(self):\n        pass\n"
                    "    def run(self, records):\n        return 1\n"})
    p = subprocess.run([BIN, "serve", "--auth", "none", "--port", "0", "--models", tmpdir_path],
                       env=clean_env(), capture_output=True, text=True, timeout=60)
    assert p.returncode != 0
    assert "Could not initiate model" in p.stderr
    # an import error names the problem
    write_model(tmpdir_path, "empty", {"backend": "python", "file": "model.py"}, {
        "model.py": "import no_such_module_here\n"})
    p = subprocess.run([BIN, "serve", "--auth", "none", "--port", "0", "--models", tmpdir_path],
                       env=clean_env(), capture_output=True, text=True, timeout=60)
    assert p.returncode != 0
    assert "No module named 'no_such_module_here'" in p.stderr
    # busy_poll is a boolean
    write_model(tmpdir_path, "empty", {"backend": "python", "file": "model.py", "busy_poll": "no"},
                {"model.py": "class Model:\n    model = 1\n    def run(self, records):\n"
                             "        return 1\n"})
    p = subprocess.run([BIN, "serve", "--auth", "none", "--port", "0", "--models", tmpdir_path],
                       env=clean_env(), capture_output=True, text=True, timeout=60)
    assert p.returncode != 0
    assert '"busy_poll": expected true or false' in p.stderr


@pytest.mark.parametrize("busy_poll", [True, False])
def test_answers_with_and_without_busy_polling(make_server, tmpdir_path, busy_poll):
    # Polling for a fast answer changes how the threads wait, never what they answer.
    from conftest import write_model
    write_model(tmpdir_path, "double", {"backend": "python", "file": "model.py",
                                        "busy_poll": busy_poll}, {
        "model.py": "class Model:\n    model = 2\n    def run(self, records):\n"
                    "        return [self.model * r['x'] for r in records['data']]\n"})
    s = make_server(["--models", tmpdir_path])
    for i in range(50):
        r = post_json(s.url("/api/predict"), {"data": [{"x": i}, {"x": -i}]})
        assert r.status_code == 200, r.text
        assert r.json() == [2 * i, -2 * i]


def test_no_signature_accepts_any_object(make_server, tmpdir_path):
    from conftest import write_model
    write_model(tmpdir_path, "free", {"backend": "python", "file": "model.py"}, {
        "model.py": "class Model:\n    model = 1\n    def run(self, records):\n"
                    "        return {'keys': sorted(records)}\n"})
    s = make_server(["--models", tmpdir_path])
    s.wait_log(lambda r: "no signature" in r.get("msg", "") or "no signature" in
               str(r.get("warning", "")))
    r = post_json(s.url("/api/predict"), {"b": 1, "a": [2]})
    assert r.status_code == 200, r.text
    assert r.json() == {"keys": ["a", "b"]}
    assert_error(post_json(s.url("/api/predict"), [1, 2]), 400, "bad_request")


def test_tensor_finalize_runs_at_stop(make_server, tmpdir_path):
    cfg = json.load(open(os.path.join(MODELS, "py_tensor", "model.json")))
    marker = os.path.join(tmpdir_path, "finalized")
    cfg["config"] = {"factor": 3, "finalize_file": marker}
    copy_model("py_tensor", tmpdir_path, "scale", cfg)
    s = make_server(["--models", tmpdir_path])
    r = post_json(s.url("/api/v1/models/scale/predict"), {"data": [{"a": 1, "b": 2, "c": 3}]})
    assert r.json()["predictions"] == [{"y": [3, 6, 9], "total": 6}]
    assert not os.path.exists(marker)
    assert s.stop() == 0
    assert open(marker).read() == "finalized"


LOADER = """import os, sys
import helper_mod
class Model:
    model = None
    def init(self):
        self.model = os.getpid()
    def run(self, records):
        return {"loaded_in": self.model, "pid": os.getpid(), "prefix": sys.prefix,
                "helper": helper_mod.VALUE, "cwd": os.getcwd()}
"""


def test_venv_path_and_load_modes(make_server, tmpdir_path):
    import subprocess as sp
    from conftest import write_model
    venv = os.path.join(tmpdir_path, "venv")
    sp.run([PY, "-m", "venv", "--system-site-packages", "--without-pip", venv], check=True)
    models = os.path.join(tmpdir_path, "models")
    for name, load in (("forked", "fork"), ("own", "per-instance")):
        d = write_model(models, name, {"backend": "python", "file": "model.py", "instances": 2,
                                       "load": load,
                                       "python": {"venv": venv, "path": ["lib"]}},
                        {"model.py": LOADER})
        os.makedirs(os.path.join(d, "lib"))
        with open(os.path.join(d, "lib", "helper_mod.py"), "w") as f:
            f.write("VALUE = %r\n" % name)
    s = make_server(["--models", models, "--default-model", "forked"] + UNLIMITED)
    for name in ("forked", "own"):
        for _ in range(8):
            r = post_json(s.url("/api/v1/models/%s/predict" % name), {})
            assert r.status_code == 200, r.text
            got = r.json()["predictions"]
            assert got["prefix"] == venv  # the model's own interpreter
            assert got["helper"] == name  # "path" is on sys.path
            assert got["cwd"] == os.path.join(models, name)
            if name == "forked":
                assert got["loaded_in"] != got["pid"]  # loaded once, before the fork
            else:
                assert got["loaded_in"] == got["pid"]  # each instance loaded its own
    assert not [l for l in s.logs if l.get("level") == "error"]


def test_sklearn_names_from_the_signature(make_server, tmpdir_path):
    d, est, X = train_sklearn(tmpdir_path, "flowers")
    names = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    with open(os.path.join(d, "model.json"), "w") as f:
        json.dump({"backend": "sklearn", "file": "model.joblib", "signature": {"inputs": [
            {"name": "input", "datatype": "FP64", "shape": [-1, 4], "names": names}]}}, f)
    s = make_server(["--models", tmpdir_path])
    r = post_json(s.url("/api/v1/predict"), {"data": [dict(zip(names, map(float, X[100])))]})
    assert r.status_code == 200, r.text
    p = r.json()["predictions"][0]
    assert p["label"] == est.predict(X[100:101])[0]
    assert sorted(p["probabilities"]) == ["0", "1", "2"]
