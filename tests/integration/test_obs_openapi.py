"""The OpenAPI 3.1 document: generated from the routes and the models' signatures, valid for a
real validator (@apidevtools/swagger-parser), the same from GET /openapi.json and
`modelwrap openapi`, and in agreement with what the server really routes and answers."""
import json
import os
import subprocess

import requests

from conftest import BIN, ROOT, plugin_path, write_model
from obs_util import clean_env, node, start

NATIVE_PATHS = {
    "/": ["get"], "/api/v1/health": ["get"], "/api/v1/health/live": ["get"],
    "/api/v1/health/ready": ["get"], "/api/v1/models": ["get"], "/api/v1/models/{name}": ["get"],
    "/api/v1/models/{name}/predict": ["post"], "/api/v1/predict": ["post"],
    "/api": ["get"], "/api/": ["get"], "/api/health": ["get"], "/api/health/": ["get"],
    "/api/predict": ["post"],
    "/api/predict/": ["post"], "/metrics": ["get"], "/openapi.json": ["get"], "/docs": ["get"],
    "/docs/{file}": ["get"],
}
PARAMS = {"name": "iris", "model": "iris", "version": "1", "file": "docs-init.js",
          "model_name": "iris", "model_version": "1"}


def fetch(srv, key):
    r = requests.get(srv.url("/openapi.json"), headers={"X-API-Key": key})
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/json")
    return r.json()


def validate(tmpdir, doc):
    path = os.path.join(tmpdir, "openapi-%d.json" % id(doc))
    with open(path, "w") as f:
        json.dump(doc, f)
    return node("validate-openapi.mjs", path)


def test_document_valid_and_complete(make_server, tmpdir_path):
    srv, key = start(make_server, tmpdir_path)
    assert requests.get(srv.url("/openapi.json")).status_code == 401  # scope read
    doc = fetch(srv, key)
    assert doc["openapi"] == "3.1.0"
    listening = srv.wait_log(lambda rec: rec.get("msg") == "listening")
    assert doc["info"]["version"] == listening["version"]
    assert "iris" in doc["info"]["description"] and "1048576" in doc["info"]["description"]
    for path, methods in NATIVE_PATHS.items():
        assert path in doc["paths"], path
        for m in methods:
            assert m in doc["paths"][path], (path, m)
    ids = [op["operationId"] for item in doc["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids)), "operationIds are not unique"

    # The model's records schema: its feature names and types.
    schemas = doc["components"]["schemas"]
    rec = schemas["Record_iris"]
    assert rec["required"] == ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    assert all(p == {"type": "number", "format": "float"} for p in rec["properties"].values())
    assert rec["additionalProperties"] is False
    assert schemas["Records_iris"]["properties"]["data"]["maxItems"] == 10000
    pred = schemas["Prediction_iris"]["properties"]
    assert pred["label"]["type"] == "string"
    assert set(pred["probabilities"]["properties"]) == {"setosa", "versicolor", "virginica"}
    assert set(schemas["Error"]["required"]) == {"error", "code", "request_id"}

    predict = doc["paths"]["/api/v1/predict"]["post"]
    body = predict["requestBody"]["content"]["application/json"]
    assert body["schema"] == {"$ref": "#/components/schemas/Records_iris"}
    assert set(body["example"]["data"][0]) == set(rec["required"])
    for code in ("200", "400", "401", "403", "413", "415", "422", "429", "500", "503", "504"):
        assert code in predict["responses"], code
    assert {"ApiKeyHeader": []} in predict["security"] and {"BearerJWT": []} in predict["security"]
    assert predict["x-required-scope"] == "predict"
    assert doc["paths"]["/api/v1/health/live"]["get"]["security"] == []  # public probe
    assert "401" not in doc["paths"]["/api/v1/health/live"]["get"]["responses"]
    by_name = doc["paths"]["/api/v1/models/{name}/predict"]["post"]
    name_param = [p for p in by_name["parameters"] if p.get("name") == "name"][0]
    assert name_param["schema"]["enum"] == ["iris", "tickets"] and name_param["in"] == "path"
    schemes = doc["components"]["securitySchemes"]
    assert schemes["ApiKeyHeader"] == dict(schemes["ApiKeyHeader"], type="apiKey", name="X-API-Key",
                                           **{"in": "header"})
    assert schemes["TemplateToken"]["name"] == "token"
    assert schemes["BearerJWT"]["scheme"] == "bearer"
    assert "OpenIdConnect" not in schemes  # no issuer configured

    out = validate(tmpdir_path, doc)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["valid"] is True

    # The validator does fail: a dangling $ref.
    broken = json.loads(json.dumps(doc))
    broken["paths"]["/api/v1/predict"]["post"]["responses"]["200"] = {
        "$ref": "#/components/responses/Nope"}
    out = validate(tmpdir_path, broken)
    assert out.returncode == 1 and "Nope" in out.stderr


def test_document_matches_the_router(make_server, tmpdir_path):
    # Every documented operation is routed (no 404 not_found, no 405) and answers a status the
    # document lists for it, with and without credentials.
    srv, key = start(make_server, tmpdir_path, scopes="predict,read,metrics")
    doc = fetch(srv, key)
    for path, item in doc["paths"].items():
        url = path
        for name, val in PARAMS.items():
            url = url.replace("{%s}" % name, val)
        assert "{" not in url, "unknown path parameter in " + path
        for method, op in item.items():
            if path.startswith("/v2/repository") and method == "post":
                continue  # would unload models
            for creds in ({"X-API-Key": key}, {}):
                hdr = dict(creds)
                data = None
                if method == "post":
                    hdr["Content-Type"] = "application/json"
                    data = "{}"
                r = requests.request(method.upper(), srv.url(url), headers=hdr, data=data,
                                     timeout=30)
                assert r.status_code != 405, (method, path)
                assert not (r.status_code == 404 and r.json().get("code") == "not_found"), path
                assert str(r.status_code) in op["responses"], (method, path, r.status_code)


def test_cli_prints_the_served_document(make_server, tmpdir_path):
    srv, key = start(make_server, tmpdir_path)
    served = fetch(srv, key)
    keys = os.path.join(tmpdir_path, "keys.json")
    out = subprocess.run([BIN, "openapi", "--auth", "required", "--api-keys-file", keys], cwd=ROOT,
                         env=clean_env(), capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == served
    # A bad setting is an error, not a document.
    out = subprocess.run([BIN, "openapi", "--port", "nope"], cwd=ROOT, env=clean_env(),
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "--port" in out.stderr and out.stdout == ""


def test_openid_connect_and_several_models(tmpdir_path):
    models = os.path.join(tmpdir_path, "models")
    write_model(models, "testkit", {"backend": "plugin", "file": plugin_path("testkit"),
                                    "version": "3"})
    iris = os.path.join(ROOT, "models", "iris")
    os.makedirs(os.path.join(models, "iris"))
    for f in os.listdir(iris):
        os.symlink(os.path.join(iris, f), os.path.join(models, "iris", f))
    out = subprocess.run([BIN, "openapi", "--models", models, "--default-model", "testkit",
                          "--jwt-issuer", "https://id.example.test/realms/mw/",
                          "--jwt-audience", "modelwrap", "--sla-contact-name", "ML ops",
                          "--sla-contact-email", "mlops@example.org"],
                         cwd=ROOT, env=clean_env(), capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["info"]["contact"] == {"name": "ML ops", "email": "mlops@example.org"}
    assert "`testkit` version 3 (default)" in doc["info"]["description"]
    oidc = doc["components"]["securitySchemes"]["OpenIdConnect"]
    assert oidc["type"] == "openIdConnect"
    assert oidc["openIdConnectUrl"] == (
        "https://id.example.test/realms/mw/.well-known/openid-configuration")
    predict = doc["paths"]["/api/v1/models/{name}/predict"]["post"]
    assert {"OpenIdConnect": ["predict"]} in predict["security"]
    name = [p for p in predict["parameters"] if p.get("name") == "name"][0]
    assert sorted(name["schema"]["enum"]) == ["iris", "testkit"]
    media = predict["requestBody"]["content"]["application/json"]
    assert sorted(r["$ref"] for r in media["schema"]["anyOf"]) == [
        "#/components/schemas/Records_iris", "#/components/schemas/Records_testkit"]
    assert set(media["examples"]) == {"iris", "testkit"}
    assert media["examples"]["testkit"]["value"]["data"][0] == {"a": 1.0, "b": 1.0}
    # The default model's routes take the default model's records.
    default = doc["paths"]["/api/v1/predict"]["post"]["requestBody"]["content"]["application/json"]
    assert default["schema"] == {"$ref": "#/components/schemas/Records_testkit"}
    assert doc["components"]["schemas"]["Record_testkit"]["required"] == ["a", "b"]
    out = validate(tmpdir_path, doc)
    assert out.returncode == 0, out.stderr
