"""Every endpoint of the native v1 API and the template's aliases, against the bundled iris model."""
import http.client
import json
import os

import requests

from conftest import IRIS_ROW, ROOT, assert_error, post_json

FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


def reference():
    with open(os.path.join(ROOT, "models", "iris", "reference.json")) as f:
        return json.load(f)


def test_root(server):
    r = requests.get(server.url("/"))
    assert r.status_code == 200
    body = r.json()
    assert body["name"] == "modelwrap" and body["version"]


def test_template_version_route(server):
    # The template's router root: {"version": APP_VERSION} at /api/ and /api, here the server's.
    version = requests.get(server.url("/")).json()["version"]
    for path in ("/api/", "/api"):
        r = requests.get(server.url(path))
        assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/json")
        assert r.json() == {"version": version}
        assert r.headers["X-Request-Id"]
    assert_error(requests.post(server.url("/api/"), json={}), 405, "method_not_allowed")


def test_health_endpoints(server):
    r = requests.get(server.url("/api/v1/health"))
    assert r.status_code == 200 and r.json() == {"is_alive": True, "ready": True}
    assert requests.get(server.url("/api/v1/health/live")).json() == {"is_alive": True}
    r = requests.get(server.url("/api/v1/health/ready"))
    assert r.status_code == 200 and r.json() == {"ready": True}
    for path in ("/api/health", "/api/health/"):
        r = requests.get(server.url(path))
        assert r.status_code == 200 and r.json() == {"is_alive": True}


def test_models(server):
    r = requests.get(server.url("/api/v1/models"))
    assert r.status_code == 200
    models = r.json()["models"]
    assert [m["name"] for m in models] == ["iris", "tickets"]  # the bundled models
    r = requests.get(server.url("/api/v1/models/iris"))
    assert r.status_code == 200
    m = r.json()
    assert m["name"] == "iris" and m["version"] == "1" and m["platform"] == "xgboost"
    assert m["ready"] is True and m["description"]
    assert m["inputs"][0]["names"] == FEATURES
    assert m["inputs"][0]["shape"] == [-1, 4] and m["inputs"][0]["datatype"] == "FP32"
    outs = {o["name"]: o for o in m["outputs"]}
    assert outs["probabilities"]["labels"] == ["setosa", "versicolor", "virginica"]


def test_unknown_model(server):
    assert_error(requests.get(server.url("/api/v1/models/nope")), 404, "model_not_found")
    assert_error(post_json(server.url("/api/v1/models/nope/predict"), {"data": [IRIS_ROW]}), 404,
                 "model_not_found")


def test_predict_matches_reference(server):
    ref = reference()
    rows = [dict(zip(FEATURES, x)) for x in ref["inputs"]]
    for path in ("/api/v1/predict", "/api/v1/models/iris/predict", "/api/predict", "/api/predict/"):
        r = post_json(server.url(path), {"data": rows})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["model"] == "iris" and body["model_version"] == "1"
        assert len(body["predictions"]) == len(rows)
        for pred, probs, label in zip(body["predictions"], ref["probabilities"], ref["labels"]):
            assert pred["label"] == label
            got = [pred["probabilities"][k] for k in ("setosa", "versicolor", "virginica")]
            for g, w in zip(got, probs):
                assert abs(g - w) <= 1e-6, (got, probs)


def test_predict_single_record(server):
    r = post_json(server.url("/api/v1/predict"), {"data": [IRIS_ROW]})
    assert r.status_code == 200
    pred = r.json()["predictions"][0]
    assert pred["label"] == "setosa"
    assert abs(sum(pred["probabilities"].values()) - 1.0) < 1e-5


def test_content_type_with_charset(server):
    r = requests.post(server.url("/api/v1/predict"), data=json.dumps({"data": [IRIS_ROW]}),
                      headers={"Content-Type": "Application/JSON; charset=utf-8"})
    assert r.status_code == 200, r.text


def test_request_id(server):
    r = requests.get(server.url("/api/v1/models"), headers={"X-Request-Id": "abc-123"})
    assert r.headers["X-Request-Id"] == "abc-123"
    a = requests.get(server.url("/")).headers["X-Request-Id"]
    b = requests.get(server.url("/")).headers["X-Request-Id"]
    assert a and b and a != b
    for bad in ("x" * 129, "has space", "tab\there"):
        assert_error(requests.get(server.url("/"), headers={"X-Request-Id": bad}), 400,
                     "invalid_request_id")
    assert requests.get(server.url("/"), headers={"X-Request-Id": "y" * 128}).status_code == 200


def test_keep_alive_reuses_the_connection(server):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.connect()
    sock = conn.sock
    body = json.dumps({"data": [IRIS_ROW]})
    for i in range(5):
        conn.request("POST", "/api/v1/predict", body, {"Content-Type": "application/json"})
        resp = conn.getresponse()
        assert resp.status == 200
        resp.read()
        conn.request("GET", "/nope")
        resp = conn.getresponse()
        assert resp.status == 404
        resp.read()
        assert conn.sock is sock, "the server closed a keep-alive connection"
    conn.close()


def test_head_and_security_of_server_header(server):
    r = requests.head(server.url("/api/v1/health"))
    assert r.status_code == 200
    assert "Server" not in r.headers or "modelwrap/" not in r.headers["Server"]


def test_request_is_logged(server):
    r = requests.get(server.url("/api/v1/models"), headers={"X-Request-Id": "log-me-1"})
    assert r.status_code == 200
    rec = server.wait_log(lambda l: l.get("msg") == "request" and l.get("request_id") == "log-me-1")
    assert rec["method"] == "GET" and rec["path"] == "/api/v1/models" and rec["status"] == 200
    assert rec["level"] == "info" and rec["time"].endswith("Z")
    assert isinstance(rec["duration_us"], int)
