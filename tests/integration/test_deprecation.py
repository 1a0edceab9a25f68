"""Version lifecycle of the template's unversioned routes: off by default; with
MODELWRAP_LEGACY_DEPRECATION (and _SUNSET) /api/predict and /api/health answer with Deprecation
(RFC 9745: @epoch-seconds), Sunset (RFC 8594: an HTTP-date) and a Link to their versioned
successor, refusals included; the versioned routes carry none; bad dates stop start-up."""
import calendar
import subprocess

import requests

from auth_util import CLEAN_ENV
from conftest import BIN, IRIS_ROW, post_json

LEGACY = ("/api/predict", "/api/predict/", "/api/health", "/api/health/")


def test_off_by_default(make_server):
    s = make_server()
    for path in LEGACY:
        r = post_json(s.url(path), {"data": [IRIS_ROW]}) if "predict" in path else \
            requests.get(s.url(path), timeout=30)
        assert r.status_code == 200, r.text
        assert "Deprecation" not in r.headers and "Sunset" not in r.headers
        assert "successor-version" not in r.headers.get("Link", "")
    paths = requests.get(s.url("/openapi.json"), timeout=30).json()["paths"]
    assert "deprecated" not in paths["/api/predict"]["post"]


def test_deprecated_routes_say_so(make_server):
    s = make_server(["--legacy-deprecation", "2026-01-01", "--legacy-sunset",
                     "2026-07-01T12:30:00Z"])
    dep = "@%d" % calendar.timegm((2026, 1, 1, 0, 0, 0))
    for path, successor in (("/api/predict", "/api/v1/predict"),
                            ("/api/predict/", "/api/v1/predict"),
                            ("/api/health", "/api/v1/health"),
                            ("/api/health/", "/api/v1/health")):
        r = post_json(s.url(path), {"data": [IRIS_ROW]}) if "predict" in path else \
            requests.get(s.url(path), timeout=30)
        assert r.status_code == 200, r.text
        assert r.headers["Deprecation"] == dep
        assert r.headers["Sunset"] == "Wed, 01 Jul 2026 12:30:00 GMT"
        assert r.headers["Link"] == '<%s>; rel="successor-version"' % successor
    # A refused request on a deprecated route still tells the client.
    r = requests.post(s.url("/api/predict"), data="{", headers={"Content-Type":
                                                                "application/json"}, timeout=30)
    assert r.status_code == 400 and r.headers["Deprecation"] == dep
    for path in ("/api/v1/health", "/v2/health/live"):
        r = requests.get(s.url(path), timeout=30)
        assert r.status_code == 200 and "Deprecation" not in r.headers
    r = post_json(s.url("/api/v1/predict"), {"data": [IRIS_ROW]})
    assert r.status_code == 200 and "Deprecation" not in r.headers and "Sunset" not in r.headers
    paths = requests.get(s.url("/openapi.json"), timeout=30).json()["paths"]
    assert paths["/api/predict"]["post"]["deprecated"] is True
    assert paths["/api/health"]["get"]["deprecated"] is True
    assert "deprecated" not in paths["/api/v1/predict"]["post"]


def test_deprecation_without_sunset(make_server):
    s = make_server(["--legacy-deprecation", "2025-03-04T05:06:07Z"])
    r = requests.get(s.url("/api/health"), timeout=30)
    assert r.headers["Deprecation"] == "@%d" % calendar.timegm((2025, 3, 4, 5, 6, 7))
    assert "Sunset" not in r.headers


def test_bad_dates_stop_start_up():
    for args, name in ((["--legacy-deprecation", "soon"], "MODELWRAP_LEGACY_DEPRECATION"),
                       (["--legacy-sunset", "2026-07-01"], "MODELWRAP_LEGACY_SUNSET"),
                       (["--legacy-deprecation", "2026-07-01", "--legacy-sunset", "2026-01-01"],
                        "MODELWRAP_LEGACY_SUNSET"),
                       (["--legacy-deprecation", "2026-13-01"], "MODELWRAP_LEGACY_DEPRECATION")):
        for cmd in ("check-config", "serve"):
            out = subprocess.run([BIN, cmd, "--auth", "none", "--port", "0"] + args,
                                 env=CLEAN_ENV, capture_output=True, text=True, timeout=60)
            assert out.returncode != 0, (cmd, args, out.stderr)
            assert name in out.stderr, (cmd, args, out.stderr)
