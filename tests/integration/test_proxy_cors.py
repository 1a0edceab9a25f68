"""CORS: no origin is allowed unless MODELWRAP_CORS_ORIGINS lists it; preflight OPTIONS requests
are answered before routing (routes do not list OPTIONS) and without authentication; simple
requests from an allowed origin get Access-Control-Allow-Origin and Vary: Origin."""
import json
import os

from conftest import IRIS_ROW
from tls_util import http_request, tmp_path_str  # noqa: F401

APP = "https://app.example.org"
PREFLIGHT = {"Origin": APP, "Access-Control-Request-Method": "POST",
             "Access-Control-Request-Headers": "content-type, x-api-key"}


def test_no_cors_by_default(make_server):
    s = make_server()
    status, hdrs, _ = http_request(s.port, "/api/v1/models", headers={"Origin": APP})
    assert status == 200
    assert "access-control-allow-origin" not in hdrs
    # a preflight is just an OPTIONS request the routes do not take
    status, hdrs, body = http_request(s.port, "/api/v1/predict", method="OPTIONS",
                                      headers=PREFLIGHT)
    assert status == 405, body
    assert "access-control-allow-origin" not in hdrs
    assert json.loads(body)["code"] == "method_not_allowed"


def test_allowed_origin(make_server, tmp_path_str):
    s = make_server(["--cors-origins", APP + ", http://localhost:3000", "--api-keys-file",
                     os.path.join(tmp_path_str, "keys.json")], auth="required")
    # preflight: 204, no authentication needed, the path's methods and our request headers
    status, hdrs, body = http_request(s.port, "/api/v1/predict", method="OPTIONS",
                                      headers=PREFLIGHT)
    assert status == 204, body
    assert body == b""
    assert hdrs["access-control-allow-origin"] == APP
    assert hdrs["access-control-allow-methods"] == "POST"
    allow_headers = hdrs["access-control-allow-headers"].lower()
    for h in ("content-type", "x-api-key", "authorization"):
        assert h in allow_headers
    assert hdrs["access-control-max-age"] == "600"
    assert "origin" in hdrs["vary"].lower()
    assert "access-control-allow-credentials" not in hdrs
    status, hdrs, _ = http_request(s.port, "/api/v1/models/iris", method="OPTIONS",
                                   headers=dict(PREFLIGHT, **{"Access-Control-Request-Method":
                                                              "GET"}))
    assert status == 204
    assert hdrs["access-control-allow-methods"] == "GET, HEAD"
    # a preflight for a path that does not exist
    status, _, body = http_request(s.port, "/nope", method="OPTIONS", headers=PREFLIGHT)
    assert status == 404 and json.loads(body)["code"] == "not_found"

    # a simple request from the allowed origin: readable by the page, and still authenticated
    status, hdrs, body = http_request(s.port, "/api/v1/predict", method="POST",
                                      body=json.dumps({"data": [IRIS_ROW]}),
                                      headers={"Origin": APP})
    assert status == 401, body
    assert hdrs["access-control-allow-origin"] == APP
    assert "x-request-id" in hdrs["access-control-expose-headers"].lower()
    assert hdrs["vary"] == "Origin"
    status, hdrs, _ = http_request(s.port, "/api/v1/health", headers={"Origin":
                                                                       "http://localhost:3000"})
    assert status == 200 and hdrs["access-control-allow-origin"] == "http://localhost:3000"


def test_other_origins_refused(make_server):
    s = make_server(["--cors-origins", APP])
    for origin in ("https://evil.example", APP + ".evil.example", "https://APP.example.org",
                   APP + ":443", "null"):
        status, hdrs, body = http_request(s.port, "/api/v1/predict", method="OPTIONS",
                                          headers=dict(PREFLIGHT, Origin=origin))
        assert status == 403, (origin, body)
        assert json.loads(body)["code"] == "origin_not_allowed"
        assert "access-control-allow-origin" not in hdrs
        status, hdrs, _ = http_request(s.port, "/api/v1/health", headers={"Origin": origin})
        assert status == 200
        assert "access-control-allow-origin" not in hdrs
        assert hdrs["vary"] == "Origin"  # caches must not reuse an allowed origin's answer


def test_wildcard_and_credentials(make_server):
    s = make_server(["--cors-origins", "*"])
    status, hdrs, _ = http_request(s.port, "/api/v1/health", headers={"Origin": APP})
    assert hdrs["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in hdrs
    s2 = make_server(["--cors-origins", APP, "--cors-credentials"])
    status, hdrs, _ = http_request(s2.port, "/api/v1/health", headers={"Origin": APP})
    assert hdrs["access-control-allow-origin"] == APP
    assert hdrs["access-control-allow-credentials"] == "true"
    from tls_util import start_failure
    rc, err = start_failure(["--cors-origins", "*", "--cors-credentials"])
    assert rc != 0 and "MODELWRAP_CORS_CREDENTIALS" in err, err
    rc, err = start_failure(["--cors-origins", "https://app.example.org/"])
    assert rc != 0 and "is not an origin" in err, err
