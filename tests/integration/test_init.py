"""`modelwrap init KIND NAME`: the model folder it writes serves at once (after the kind's one
build step), answers what its reference.json says, and init never overwrites anything or writes
outside the folder it names."""
import json
import os
import shutil
import subprocess
import sys

import pytest
import requests

from conftest import BIN, Server, post_json

CLEAN = {k: v for k, v in os.environ.items() if not k.startswith("MODELWRAP_")}
CLEAN["MODELWRAP_ENV_FILE"] = "/dev/null"


def init(*args, cwd):
    return subprocess.run([BIN, "init", *args], cwd=cwd, env=CLEAN, capture_output=True,
                          text=True, timeout=30)


def files_under(d):
    return sorted(os.path.relpath(os.path.join(p, f), d) for p, _, fs in os.walk(d) for f in fs
                  if "__pycache__" not in p)


def reference(folder):
    with open(os.path.join(folder, "reference.json")) as f:
        cases = json.load(f)["cases"]
    assert cases
    return cases


def check_config(models):
    r = subprocess.run([BIN, "check-config", "--models", models], env=CLEAN, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "# configuration OK" in r.stdout


def assert_close(got, want, path="$"):
    """Equal JSON, floats within 1e-9 (the server re-encodes them; the model computed them)."""
    if isinstance(want, float) or isinstance(got, float):
        assert isinstance(got, (int, float)) and abs(got - want) <= 1e-9, (path, got, want)
    elif isinstance(want, dict):
        assert isinstance(got, dict) and set(got) == set(want), (path, got, want)
        for k in want:
            assert_close(got[k], want[k], path + "." + k)
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), (path, got, want)
        for i, (g, w) in enumerate(zip(got, want)):
            assert_close(g, w, "%s[%d]" % (path, i))
    else:
        assert got == want, (path, got, want)


def serve_and_compare(models, name, cases, template):
    """Every reference case at the model's v1 route (and, for the template interface, the
    template's own /api/predict answers exactly run()'s value)."""
    s = Server(["--models", models, "--default-model", name])
    try:
        for case in cases:
            r = post_json(s.url("/api/v1/models/%s/predict" % name), case["request"])
            assert r.status_code == 200, r.text
            body = r.json()
            assert body["model"] == name
            assert_close(body["predictions"], case["predictions"])
            r = post_json(s.url("/api/predict"), case["request"])
            assert r.status_code == 200, r.text
            assert_close(r.json() if template else r.json()["predictions"], case["predictions"])
    finally:
        assert s.stop() == 0, "".join(s.raw[-40:])


def test_plugin_builds_and_serves(tmpdir_path):
    r = init("plugin", "scorer", cwd=tmpdir_path)
    assert r.returncode == 0, r.stderr
    folder = os.path.join(tmpdir_path, "scorer")
    assert files_under(folder) == ["include/modelwrap/model.h", "model.c", "model.json",
                                   "reference.json"]
    with open(os.path.join(folder, "model.c")) as f:
        src = f.read()
    assert '.name = "scorer"' in src and "@NAME@" not in src
    # The build line init printed, run as printed.
    line = next(ln.strip() for ln in r.stdout.splitlines() if ln.strip().startswith("cc "))
    b = subprocess.run(line + " -Werror", shell=True, cwd=tmpdir_path, capture_output=True,
                       text=True, timeout=120)
    assert b.returncode == 0, b.stderr
    check_config(tmpdir_path)
    serve_and_compare(tmpdir_path, "scorer", reference(folder), template=False)


def test_python_serves_and_matches_direct_calls(tmpdir_path):
    r = init("python", "triage", cwd=tmpdir_path)
    assert r.returncode == 0, r.stderr
    folder = os.path.join(tmpdir_path, "triage")
    assert files_under(folder) == ["model.json", "reference.json", "src/helpers/__init__.py",
                                   "src/helpers/blueprint.py", "src/helpers/messages.py",
                                   "src/model.py"]
    with open(os.path.join(folder, "model.json")) as f:
        mj = json.load(f)
    assert mj["backend"] == "python" and mj["file"] == "src/model.py" and mj["class"] == "Model"
    cases = reference(folder)
    # reference.json is what the model file itself answers, called the template's way.
    probe = ("import json, sys; sys.path.insert(0, sys.argv[1]); import model; m = model.Model(); "
             "m.init(); cases = json.load(open(sys.argv[2]))['cases']; "
             "print(json.dumps([m.run(c['request']) for c in cases]))")
    d = subprocess.run(["/usr/bin/python3", "-B", "-c", probe, os.path.join(folder, "src"),
                        os.path.join(folder, "reference.json")], capture_output=True, text=True,
                       timeout=60)
    assert d.returncode == 0, d.stderr
    assert json.loads(d.stdout) == [c["predictions"] for c in cases]
    check_config(tmpdir_path)
    serve_and_compare(tmpdir_path, "triage", cases, template=True)


def test_sklearn_trains_and_serves(tmpdir_path):
    r = init("sklearn", "flowers", cwd=tmpdir_path)
    assert r.returncode == 0, r.stderr
    folder = os.path.join(tmpdir_path, "flowers")
    assert files_under(folder) == ["model.json", "train.py"]
    assert os.access(os.path.join(folder, "train.py"), os.X_OK)
    t = subprocess.run(["/usr/bin/python3", "-B", os.path.join(folder, "train.py")],
                       capture_output=True, text=True, timeout=300)
    assert t.returncode == 0, t.stderr
    assert files_under(folder) == ["model.joblib", "model.json", "reference.json", "train.py"]
    check_config(tmpdir_path)
    serve_and_compare(tmpdir_path, "flowers", reference(folder), template=False)


def test_refuses_existing_folder_and_keeps_it(tmpdir_path):
    os.makedirs(os.path.join(tmpdir_path, "taken"))
    with open(os.path.join(tmpdir_path, "taken", "mine.txt"), "w") as f:
        f.write("keep me")
    with open(os.path.join(tmpdir_path, "afile"), "w") as f:
        f.write("x")
    os.symlink("/tmp", os.path.join(tmpdir_path, "alink"))
    for name in ("taken", "afile", "alink"):
        r = init("python", name, cwd=tmpdir_path)
        assert r.returncode == 2 and "already exists" in r.stderr, (name, r.stderr)
    assert files_under(os.path.join(tmpdir_path, "taken")) == ["mine.txt"]
    with open(os.path.join(tmpdir_path, "afile")) as f:
        assert f.read() == "x"
    assert sorted(os.listdir(tmpdir_path)) == ["afile", "alink", "taken"]


@pytest.mark.parametrize("name", ["../up", "a/b", "/abs", ".", "..", ".hidden", "-rf", "",
                                  "x" * 65, "sp ace", "t\u00e9", "semi;colon", "new\nline"])
def test_refuses_unsafe_names(tmpdir_path, name):
    r = init("python", name, cwd=tmpdir_path)
    assert r.returncode == 2, r.stdout
    assert os.listdir(tmpdir_path) == []


def test_usage_errors_write_nothing(tmpdir_path):
    for args in (("tensorflow", "m"), ("python",), (), ("python", "a", "b"),
                 ("python", "m", "--bogus")):
        r = init(*args, cwd=tmpdir_path)
        assert r.returncode == 2, (args, r.stdout)
        assert "usage" in r.stderr or "unknown" in r.stderr, (args, r.stderr)
    assert os.listdir(tmpdir_path) == []
    r = init("--help", cwd=tmpdir_path)
    assert r.returncode == 0 and "python" in r.stdout and "sklearn" in r.stdout


def test_dir_option_and_missing_parent(tmpdir_path):
    r = init("plugin", "p1", "--dir", os.path.join(tmpdir_path, "repo"), cwd=tmpdir_path)
    assert r.returncode == 2 and "cannot create" in r.stderr
    os.makedirs(os.path.join(tmpdir_path, "repo"))
    r = init("plugin", "p1", "--dir", os.path.join(tmpdir_path, "repo"), cwd="/")
    assert r.returncode == 0, r.stderr
    assert os.path.isfile(os.path.join(tmpdir_path, "repo", "p1", "model.c"))
    assert "--models %s" % os.path.join(tmpdir_path, "repo") in r.stdout


def test_next_steps_work_as_printed(tmpdir_path):
    """`modelwrap serve --models <parent>` as init prints it: a relative repository path (".",
    the default "./models") must work for Python models too."""
    r = init("python", "rel", cwd=tmpdir_path)
    assert r.returncode == 0, r.stderr
    assert "modelwrap serve --models .\n" in r.stdout
    s = Server(["--models", ".", "--default-model", "rel"], cwd=tmpdir_path)
    try:
        case = reference(os.path.join(tmpdir_path, "rel"))[0]
        r = post_json(s.url("/api/predict"), case["request"])
        assert r.status_code == 200, r.text
        assert r.json() == case["predictions"]
    finally:
        assert s.stop() == 0, "".join(s.raw[-40:])
