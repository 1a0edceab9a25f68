"""Helpers of the Python-model tests: copies of the model folders under tests/models/, a small
scikit-learn model trained on the spot, and the worker processes of a server (found through
/proc, so that a test can check none survives)."""
import os
import shutil

from conftest import ROOT

MODELS = os.path.join(ROOT, "tests", "models")
PY = "/usr/bin/python3"


def copy_model(src_name, dst_dir, name=None, model_json=None):
    """Copies tests/models/<src_name> to dst_dir/<name> (default: src_name), optionally with
    another model.json (a dict). Returns the folder."""
    dst = os.path.join(dst_dir, name or src_name)
    shutil.copytree(os.path.join(MODELS, src_name), dst)
    if model_json is not None:
        import json
        with open(os.path.join(dst, "model.json"), "w") as f:
            json.dump(model_json, f)
    return dst


def train_sklearn(dst_dir, name="skl"):
    """A LogisticRegression on iris, saved with joblib in dst_dir/<name>/model.joblib, with a
    model.json naming the features. Returns (folder, estimator, X)."""
    import joblib
    import numpy as np
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    X, y = load_iris(return_X_y=True)
    est = LogisticRegression(max_iter=1000).fit(X, y)
    d = os.path.join(dst_dir, name)
    os.makedirs(d, exist_ok=True)
    joblib.dump(est, os.path.join(d, "model.joblib"))
    import json
    with open(os.path.join(d, "model.json"), "w") as f:
        json.dump({"backend": "sklearn", "file": "model.joblib"}, f)
    return d, est, np.asarray(X)


def children(pid):
    """Pids whose parent is pid."""
    out = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % p) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(p))
    return out


def descendants(pid):
    pending, out = [pid], []
    while pending:
        for c in children(pending.pop()):
            out.append(c)
            pending.append(c)
    return out


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except OSError:
        return False
