"""`modelwrap sbom`: a CycloneDX 1.5 document (validated against the schema that
@cyclonedx/cyclonedx-library ships, tests/sbom, installed by `make sbom-test-deps`) listing the
loaded libraries as the Debian packages dpkg says they come from, the docs page's npm packages
from web/package-lock.json, and each model with its backend, runtime version and the SHA-256 of
its files; the same at GET /api/v1/sbom (scope admin); `--check TRACKER.json` against a small
tracker written in the Debian security tracker's JSON format."""
import hashlib
import json
import os
import re
import shutil
import subprocess

import pytest
import requests

from auth_util import CLEAN_ENV, create_key
from conftest import BIN, ROOT, write_model
from v2_util import built_test_plugin

SBOM_DIR = os.path.join(ROOT, "tests", "sbom")


def validate(doc):
    node = shutil.which("node")
    assert node, "node is not installed: run `make deps-test`"
    assert os.path.isdir(os.path.join(SBOM_DIR, "node_modules", "@cyclonedx")), \
        "tests/sbom/node_modules is missing: run `make sbom-test-deps`"
    out = subprocess.run([node, os.path.join(SBOM_DIR, "validate.mjs")], input=json.dumps(doc),
                         cwd=SBOM_DIR, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "valid", out.stdout + out.stderr


def sbom(*args, env=None, check=True):
    e = dict(CLEAN_ENV, **(env or {}))
    out = subprocess.run([BIN, "sbom", "--auth", "none"] + list(args), env=e, cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    if check:
        assert out.returncode == 0, out.stderr
    return out


def prop(c, name):
    return [p["value"] for p in c.get("properties", []) if p["name"] == name]


def dpkg(fmt, pkg):
    return subprocess.run(["dpkg-query", "-W", "-f=" + fmt, pkg], capture_output=True, text=True,
                          check=True).stdout


@pytest.fixture(scope="module")
def doc():
    return json.loads(sbom().stdout)


def test_valid_cyclonedx_1_5(doc):
    assert doc["bomFormat"] == "CycloneDX" and doc["specVersion"] == "1.5"
    assert re.fullmatch(r"urn:uuid:[0-9a-f-]{36}", doc["serialNumber"])
    validate(doc)
    # The validator is not a rubber stamp.
    broken = json.loads(json.dumps(doc))
    broken["components"][0]["type"] = "lib"
    with pytest.raises(AssertionError):
        validate(broken)


def test_libraries_are_debian_packages(doc):
    debs = {c["name"]: c for c in doc["components"] if c.get("purl", "").startswith("pkg:deb/")}
    for pkg in ("libc6", "libjansson4", "libmicrohttpd12", "libgnutls30", "libxgboost0",
                "librhonabwy1.1", "libhiredis0.14"):
        match = [n for n in debs if n == pkg or n.startswith(pkg)]
        assert match, (pkg, sorted(debs))
        c = debs[match[0]]
        assert c["version"] == dpkg("${Version}", match[0]), c
        assert prop(c, "debian:source") == [dpkg("${source:Package}", match[0])]
        assert prop(c, "modelwrap:loaded_file"), c
    assert any(f.endswith("/libc.so.6") for f in prop(debs["libc6"], "modelwrap:loaded_file"))
    binary = doc["metadata"]["component"]
    with open(BIN, "rb") as f:
        assert binary["hashes"][0]["content"] == hashlib.sha256(f.read()).hexdigest()
    refs = {d["ref"]: d.get("dependsOn", []) for d in doc["dependencies"]}
    assert debs["libc6"]["bom-ref"] in refs["modelwrap"]


def test_npm_packages_of_the_docs_page(doc):
    with open(os.path.join(ROOT, "web", "package-lock.json")) as f:
        lock = json.load(f)["packages"]
    want = {k.split("node_modules/")[-1]: v["version"] for k, v in lock.items()
            if k and not v.get("dev")}
    got = {(c["group"] + "/" if c.get("group") else "") + c["name"]: c["version"]
           for c in doc["components"] if c.get("purl", "").startswith("pkg:npm/")}
    assert got == want and "swagger-ui-dist" in got


def test_models_with_runtime_and_file_hashes(doc):
    iris = next(c for c in doc["components"] if c["type"] == "machine-learning-model")
    assert iris["name"] == "iris" and iris["version"] == "1"
    assert prop(iris, "modelwrap:backend") == ["xgboost"]
    ver = re.search(r"xgboost (\d+\.\d+\.\d+)",
                    subprocess.run([BIN, "version"], capture_output=True, text=True).stdout)
    assert prop(iris, "modelwrap:runtime_version") == [ver.group(1)]
    files = {f["name"]: f["hashes"][0]["content"] for f in iris["components"]}
    for name in os.listdir(os.path.join(ROOT, "models", "iris")):
        with open(os.path.join(ROOT, "models", "iris", name), "rb") as f:
            assert files[name] == hashlib.sha256(f.read()).hexdigest(), name
    xgb = next(c for c in doc["components"] if c["name"] == "libxgboost0")
    deps = {d["ref"]: d.get("dependsOn", []) for d in doc["dependencies"]}
    assert deps[iris["bom-ref"]] == [xgb["bom-ref"]]


def test_plugin_model_and_its_library(tmpdir_path):
    models = os.path.join(tmpdir_path, "models")
    so = built_test_plugin("v2echo")
    write_model(models, "echo", {"backend": "plugin", "file": so})
    d = json.loads(sbom("--models", models, "--default-model", "echo").stdout)
    validate(d)
    with open(so, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    lib = next(c for c in d["components"] if c["bom-ref"] == "file:" + os.path.realpath(so))
    assert lib["hashes"][0]["content"] == digest
    echo = next(c for c in d["components"] if c["type"] == "machine-learning-model")
    assert prop(echo, "modelwrap:backend") == ["plugin"]
    assert [f["name"] for f in echo["components"]] == ["model.json"]


def test_python_model_interpreter(tmpdir_path):
    """A model whose model.json says backend "sklearn": once the Python backend serves it, its
    interpreter and distributions are in the inventory; until then the repository refuses it by
    its backend name (the inventory itself is unit-tested in tests/unit/api/test_sbom.c)."""
    models = os.path.join(tmpdir_path, "models")
    write_model(models, "skl", {"backend": "sklearn", "file": "model.joblib"},
                {"model.joblib": "x"})
    out = sbom("--models", models, "--default-model", "skl", check=False)
    if out.returncode != 0:
        assert "sklearn" in out.stderr, out.stderr
        return
    d = json.loads(out.stdout)
    validate(d)
    skl = next(c for c in d["components"] if c["type"] == "machine-learning-model")
    py = next(c for c in skl["components"] if c["type"] == "platform")
    assert py["name"] == "python" and prop(py, "modelwrap:interpreter") == ["/usr/bin/python3"]
    assert any(c["name"] == "numpy" for c in py["components"])


def test_endpoint_needs_admin(make_server, tmpdir_path, doc):
    keys = os.path.join(tmpdir_path, "keys.json")
    admin = create_key(keys, "ops", "admin")
    reader = create_key(keys, "reader", "read")
    s = make_server(["--api-keys-file", keys], auth="required")
    r = requests.get(s.url("/api/v1/sbom"), headers={"X-API-Key": admin}, timeout=60)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("application/vnd.cyclonedx+json")
    served = r.json()
    validate(served)
    names = lambda d: sorted(c["bom-ref"] for c in d["components"])  # noqa: E731
    assert names(served) == names(doc)
    again = requests.get(s.url("/api/v1/sbom"), headers={"X-API-Key": admin}, timeout=60).json()
    assert again == served  # cached for the same models
    assert requests.get(s.url("/api/v1/sbom"), headers={"X-API-Key": reader},
                        timeout=30).status_code == 403
    assert requests.get(s.url("/api/v1/sbom"), timeout=30).status_code == 401


# ---- --check ---------------------------------------------------------------------------------

def bump(version):
    """A Debian version just above `version` (what a security update would be)."""
    return version + "+deb12u99" if "deb12u" not in version else version + "1"


def test_check_against_a_tracker_export(doc, tmpdir_path):
    debs = {c["name"]: c for c in doc["components"] if c.get("purl", "").startswith("pkg:deb/")}
    jansson = next(c for n, c in debs.items() if n.startswith("libjansson"))
    glibc = debs["libc6"]
    j_src, j_ver = prop(jansson, "debian:source")[0], prop(jansson, "debian:source_version")[0]
    g_src, g_ver = prop(glibc, "debian:source")[0], prop(glibc, "debian:source_version")[0]
    rel = lambda **kw: {"releases": {"bookworm": kw}}  # noqa: E731
    tracker = {
        j_src: {"CVE-2099-0001": rel(status="resolved", fixed_version=bump(j_ver),
                                     urgency="medium"),
                "CVE-2099-0002": rel(status="resolved", fixed_version=j_ver, urgency="high"),
                "CVE-2099-0003": rel(status="open", urgency="unimportant")},
        g_src: {"CVE-2099-0004": rel(status="open", urgency="low"),
                "CVE-2099-0005": {"releases": {"trixie": {"status": "open", "urgency": "high"}}},
                "CVE-2099-0006": rel(status="resolved", fixed_version="0", urgency="high"),
                "CVE-2099-0007": rel(status="resolved", fixed_version=g_ver + "~pre1",
                                     urgency="high")},
        "not-installed": {"CVE-2099-0008": rel(status="open", urgency="high")},
    }
    path = os.path.join(tmpdir_path, "tracker.json")
    with open(path, "w") as f:
        json.dump(tracker, f)
    out = sbom("--check", path, check=False)
    assert out.returncode == 1, out.stdout + out.stderr
    lines = sorted(l for l in out.stdout.splitlines() if "CVE-" in l)
    assert len(lines) == 2, out.stdout
    want = sorted(["%s (source %s %s): CVE-2099-0001 resolved, fixed in %s (urgency medium)"
                   % (jansson["name"], j_src, j_ver, bump(j_ver)),
                   "libc6 (source %s %s): CVE-2099-0004 open, no fix yet (urgency low)"
                   % (g_src, g_ver)])
    assert lines == want, out.stdout
    assert "2 open vulnerabilities for bookworm" in out.stdout

    # Another release's view, and an inventory written earlier (--sbom).
    inv = os.path.join(tmpdir_path, "sbom.json")
    with open(inv, "w") as f:
        json.dump(doc, f)
    out = sbom("--check", path, "--release", "trixie", "--sbom", inv, check=False)
    assert out.returncode == 1 and "CVE-2099-0005" in out.stdout and out.stdout.count("CVE-") == 1

    clean = {j_src: {"CVE-2099-0002": tracker[j_src]["CVE-2099-0002"]}}
    with open(path, "w") as f:
        json.dump(clean, f)
    out = sbom("--check", path, "--sbom", inv, check=False)
    assert out.returncode == 0, out.stdout
    assert "no open vulnerability for bookworm" in out.stdout

    for bad in ("[1, 2]", "{not json"):
        with open(path, "w") as f:
            f.write(bad)
        out = sbom("--check", path, "--sbom", inv, check=False)
        assert out.returncode == 2 and "tracker" not in out.stdout
