"""GET /docs: the offline documentation page (strict CSP, files from the build's npm install, read
at start-up) and the end-to-end test in headless Chromium: it sees every route, enters an API key,
runs a prediction from the page and saves a screenshot in tests/artifacts/."""
import json
import os
import re

import requests

from obs_util import ARTIFACTS, node, start

ASSETS = {
    "docs-init.js": "text/javascript",
    "docs.css": "text/css",
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "favicon-32x32.png": "image/png",
}


def test_page_and_files(make_server, tmpdir_path):
    srv, _ = start(make_server, tmpdir_path)
    r = requests.get(srv.url("/docs"))  # public: the page holds no API data
    assert r.status_code == 200 and r.headers["Content-Type"] == "text/html; charset=utf-8"
    csp = r.headers["Content-Security-Policy"]
    for part in ("default-src 'none'", "script-src 'self'", "style-src 'self'",
                 "connect-src 'self'", "frame-ancestors 'none'"):
        assert part in csp, csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp and "http" not in csp
    assert "<script>" not in r.text  # no inline script: every script has a src
    # No CDN: every URL in our own files is a path on this server.
    for text in (r.text, requests.get(srv.url("/docs/docs-init.js")).text):
        assert not re.search(r"(?i)(https?:)?//[a-z0-9.-]+\.[a-z]", text.replace("://www.w3.org", "")), text
    for src in re.findall(r'(?:src|href)="([^"]+)"', r.text):
        assert src.startswith("/"), src
    for name, ctype in ASSETS.items():
        a = requests.get(srv.url("/docs/" + name))
        assert a.status_code == 200, name
        assert a.headers["Content-Type"].startswith(ctype), (name, a.headers["Content-Type"])
        assert a.headers["Cache-Control"] == "public, max-age=3600"
        assert len(a.content) > 100
    with open(os.path.join("web", "node_modules", "swagger-ui-dist", "swagger-ui-bundle.js"), "rb") as f:
        assert requests.get(srv.url("/docs/swagger-ui-bundle.js")).content == f.read()
    # Only the files of the page, by exact name: nothing else of the folder, no traversal.
    for bad in ("index.html", "swagger-initializer.js", "package.json", "..%2f..%2fMakefile",
                "%2e%2e", "swagger-ui.css.map", "DOCS-INIT.JS"):
        a = requests.get(srv.url("/docs/" + bad))
        assert a.status_code == 404 and a.json()["code"] == "not_found", bad
    assert requests.get(srv.url("/docs/a/b")).status_code == 404
    assert requests.post(srv.url("/docs")).status_code == 405


def test_missing_files_are_a_warning_and_503(make_server, tmpdir_path):
    srv, _ = start(make_server, tmpdir_path, ["--docs-dir", os.path.join(tmpdir_path, "nothing")])
    rec = srv.wait_log(lambda r: r.get("msg") == "the /docs page is not available")
    assert rec["level"] == "warn" and "index.html" in rec["error"]
    r = requests.get(srv.url("/docs"))
    assert r.status_code == 503 and "make build" in r.json()["error"]
    # The rest of the server works.
    assert requests.get(srv.url("/api/v1/health/live")).status_code == 200


def test_docs_page_in_chromium(make_server, tmpdir_path):
    srv, key = start(make_server, tmpdir_path, scopes="predict,read")
    doc = requests.get(srv.url("/openapi.json"), headers={"X-API-Key": key}).json()
    routes = sorted("%s %s" % (m.upper(), p) for p, item in doc["paths"].items() for m in item)
    routes_file = os.path.join(tmpdir_path, "routes.json")
    with open(routes_file, "w") as f:
        json.dump(routes, f)
    os.makedirs(ARTIFACTS, exist_ok=True)
    shot = os.path.join(ARTIFACTS, "docs-page.png")
    if os.path.exists(shot):
        os.remove(shot)
    out = node("docs-e2e.mjs", "--base", srv.base, "--key", key, "--routes", routes_file,
               "--screenshot", shot, timeout=240)
    assert out.returncode == 0, out.stdout + out.stderr
    summary = json.loads(out.stdout.strip().splitlines()[-1])
    assert summary["ok"] and summary["status"] == 200 and summary["routes"] >= len(routes)
    assert summary["key_form"] is True  # authentication is on: the page asked for the key
    with open(shot, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    # The server saw the page's prediction, authenticated with the key.
    rec = srv.wait_log(lambda r: r.get("msg") == "request" and r.get("path") == "/api/v1/predict")
    assert rec["status"] == 200
