#!/usr/bin/python3
# Trains the bundled default model (models/iris): an XGBoost classifier on scikit-learn's iris data,
# and writes its model.json and a reference.json of expected predictions that the C tests check.
# Deterministic and offline. Run with Debian's python: /usr/bin/python3 scripts/train-default-model.py
import argparse
import json
import os
import sys

import numpy as np
import xgboost
from sklearn.datasets import load_iris

FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
REFERENCE_STEP = 5  # every 5th row of the 150: 30 rows, 10 of each class


def model_json(n_features, labels):
    """The model.json of the bundled model (the signature the server publishes)."""
    return {
        "name": "iris",
        "version": "1",
        "backend": "xgboost",
        "file": "iris.ubj",
        "description": "Iris species classifier (XGBoost, 3 classes) trained on scikit-learn's "
                       "iris dataset.",
        "signature": {
            "inputs": [{"name": "features", "datatype": "FP32", "shape": [-1, n_features],
                        "names": FEATURES}],
            "outputs": [{"name": "label", "datatype": "BYTES", "shape": [-1]},
                        {"name": "probabilities", "datatype": "FP32",
                         "shape": [-1, len(labels)], "labels": labels}],
        },
    }


def write_json(path, obj):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser(
        description="Train the bundled iris model and write iris.ubj, model.json and "
                    "reference.json into models/iris.")
    ap.add_argument("--out", default=os.path.join(root, "models", "iris"),
                    help="output folder (default: models/iris of the repository)")
    ap.add_argument("--json-copy", metavar="PATH",
                    help="also save the booster in XGBoost's JSON format to PATH")
    args = ap.parse_args()

    iris = load_iris()
    x = iris.data.astype(np.float32)
    y = iris.target
    labels = [str(n) for n in iris.target_names]
    if x.shape[1] != len(FEATURES) or len(labels) != 3:
        sys.exit("unexpected iris dataset shape")

    clf = xgboost.XGBClassifier(objective="multi:softprob", n_estimators=20, max_depth=3,
                                learning_rate=0.3, tree_method="exact", n_jobs=1,
                                random_state=42)
    clf.fit(x, y)
    booster = clf.get_booster()

    os.makedirs(args.out, exist_ok=True)
    written = []
    model_path = os.path.join(args.out, "iris.ubj")
    booster.save_model(model_path)
    written.append(model_path)
    if args.json_copy:
        booster.save_model(args.json_copy)
        written.append(args.json_copy)

    meta_path = os.path.join(args.out, "model.json")
    write_json(meta_path, model_json(x.shape[1], labels))
    written.append(meta_path)

    # Expected outputs, computed from the saved file (what the server loads), on float32 inputs.
    saved = xgboost.Booster(model_file=model_path)
    saved.set_param({"nthread": 1})
    rows = iris.data[::REFERENCE_STEP]
    proba = saved.inplace_predict(rows.astype(np.float32))
    if proba.shape != (len(rows), len(labels)):
        sys.exit("unexpected prediction shape %r" % (proba.shape,))
    check = clf.predict_proba(rows.astype(np.float32))
    if not np.array_equal(proba, check):
        sys.exit("the saved booster disagrees with predict_proba")
    reference = {
        "inputs": [[float(v) for v in r] for r in rows],
        "probabilities": [[float(p) for p in r] for r in proba],
        "labels": [labels[int(i)] for i in np.argmax(proba, axis=1)],
    }
    ref_path = os.path.join(args.out, "reference.json")
    with open(ref_path, "w", encoding="utf-8") as f:  # one row per line: small and diffable
        # `modelwrap test-model` reads the tolerance and which member holds each output's values
        # (the output "label" is in "labels"); the other readers ignore both.
        f.write('{\n  "tolerance": {"absolute": 1e-6, "relative": 1e-6},\n'
                '  "outputs": {"label": "labels", "probabilities": "probabilities"},\n')
        for i, key in enumerate(("inputs", "probabilities", "labels")):
            rows_json = ",\n    ".join(json.dumps(r) for r in reference[key])
            f.write('  "%s": [\n    %s\n  ]%s\n' % (key, rows_json, "," if i < 2 else ""))
        f.write("}\n")
    written.append(ref_path)

    accuracy = float(np.mean(clf.predict(x) == y))
    for p in written:
        print("wrote %s (%d bytes)" % (os.path.relpath(p), os.path.getsize(p)))
    print("training accuracy %.4f, %d reference rows" % (accuracy, len(rows)))


if __name__ == "__main__":
    main()
