"""KServe's model-server flags (--model_name, --model_dir, --http_port, as a
ClusterServingRuntime passes them) and MODELWRAP_MODEL_DIR / MODELWRAP_MODEL_NAME: one model folder
served under a given name."""
import os
import shutil
import signal
import subprocess

import requests

from conftest import BIN, IRIS_ROW, ROOT, post_json

IRIS = os.path.join(ROOT, "models", "iris")
CLEAN_ENV = {k: v for k, v in os.environ.items() if not k.startswith("MODELWRAP_")}
CLEAN_ENV["MODELWRAP_ENV_FILE"] = "/dev/null"
V2_ROW = {"inputs": [{"name": "features", "datatype": "FP32", "shape": [1, 4],
                      "data": [5.1, 3.5, 1.4, 0.2]}]}


def run_cli(*args, env=None):
    e = dict(CLEAN_ENV)
    e.update(env or {})
    return subprocess.run([BIN] + list(args), cwd=ROOT, env=e, capture_output=True, text=True,
                          timeout=60)


def test_kserve_arguments_serve_one_folder_under_the_given_name(make_server):
    s = make_server(["--model_name=flowers", "--model_dir=" + IRIS, "--http_port=0"])
    index = requests.post(s.url("/v2/repository/index"), json={}, timeout=10).json()
    assert [m["name"] for m in index] == ["flowers"], index
    assert requests.get(s.url("/v2/models/flowers/ready"), timeout=10).status_code == 200
    assert requests.get(s.url("/v2/models/iris/ready"), timeout=10).status_code == 404
    r = post_json(s.url("/v2/models/flowers/infer"), V2_ROW)
    assert r.status_code == 200 and r.json()["model_name"] == "flowers", r.text
    r = post_json(s.url("/api/v1/predict"), {"data": [IRIS_ROW]})
    assert r.status_code == 200, r.text
    assert r.json()["model"] == "flowers"
    assert r.json()["predictions"][0]["label"] == "setosa"


def test_the_separate_value_forms_and_a_reload_keep_the_name(make_server, tmp_path):
    folder = tmp_path / "mnt-models"
    shutil.copytree(IRIS, folder)
    s = make_server(["--model_name", "flowers", "--model_dir", str(folder)])
    assert requests.get(s.url("/v2/models/flowers/ready"), timeout=10).status_code == 200
    s.proc.send_signal(signal.SIGHUP)
    s.wait_log(lambda rec: rec.get("msg") == "SIGHUP received: reloading")
    index = requests.post(s.url("/v2/repository/index"), json={}, timeout=10).json()
    assert [(m["name"], m["state"]) for m in index] == [("flowers", "READY")], index


def test_without_a_name_the_folder_serves_under_its_model_json_name(make_server, tmp_path):
    folder = tmp_path / "models"
    shutil.copytree(IRIS, folder)
    s = make_server(env={"MODELWRAP_MODEL_DIR": str(folder)})
    assert requests.get(s.url("/v2/models/iris/ready"), timeout=10).status_code == 200


def test_refused_combinations(tmp_path):
    r = run_cli("check-config", "--model-name", "flowers")
    assert r.returncode == 2 and "MODELWRAP_MODEL_NAME: names the model of MODELWRAP_MODEL_DIR" \
        in r.stderr, r.stderr
    r = run_cli("check-config", "--model_dir=" + IRIS, "--model_name=flowers",
                "--default-model", "iris")
    assert r.returncode == 2 and "MODELWRAP_DEFAULT_MODEL: 'iris' but MODELWRAP_MODEL_DIR" \
        in r.stderr, r.stderr
    # a repository is not one model folder: its model folders read as versions of one model,
    # whose names (model.json's "name") then disagree with the folder's
    repo = tmp_path / "models"
    shutil.copytree(IRIS, repo / "iris")
    r = run_cli("check-config", "--model_dir=" + str(repo))
    assert r.returncode == 2 and "but the model folder makes it 'models'" in r.stderr, r.stderr
    r = run_cli("check-config", "--model_dir=" + os.path.join(ROOT, "deploy"))
    assert r.returncode == 2 and "no model.json and no version folder" in r.stderr, r.stderr
    r = run_cli("check-config", "--model_dir=/nonexistent/models")
    assert r.returncode == 2 and "/nonexistent/models: No such file or directory" in r.stderr
    r = run_cli("check-config", "--model_dir=" + IRIS, "--model_name=not/a/name")
    assert r.returncode == 2 and "invalid model name" in r.stderr, r.stderr
    # only KServe's three flags take underscores: a typo stays an error
    r = run_cli("check-config", "--max_body_bytes=10")
    assert r.returncode == 2 and "--max_body_bytes" in r.stderr, r.stderr


def test_check_config_names_the_folder():
    r = run_cli("check-config", "--model_dir=" + IRIS, "--model_name=flowers")
    assert r.returncode == 0, r.stderr
    assert "# models: 1 loaded from %s, default 'flowers'" % IRIS in r.stdout, r.stdout
