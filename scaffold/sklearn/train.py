#!/usr/bin/python3
"""Trains the estimator this folder serves and writes model.joblib, then reference.json: example
requests and the predictions the estimator itself gives for them, which the served model must
repeat. The data is scikit-learn's bundled iris table (no download). Replace it with your own
training; keep model.json's "signature" (feature names, class labels) in step with it.
Run: /usr/bin/python3 train.py"""
import json
import os

import joblib
import numpy as np
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLES = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3], [5.9, 3.0, 4.2, 1.5]]


def main():
    with open(os.path.join(HERE, "model.json"), encoding="utf-8") as f:
        sig = json.load(f)["signature"]
    names = sig["inputs"][0]["names"]
    iris = load_iris()
    labels = np.asarray(iris.target_names)[iris.target]  # string classes: served as labels
    est = LogisticRegression(max_iter=1000).fit(iris.data, labels)
    if [str(c) for c in est.classes_] != sig["outputs"][1]["labels"]:
        raise SystemExit("train.py: the classes differ from model.json's labels")
    joblib.dump(est, os.path.join(HERE, "model.joblib"))

    x = np.asarray(EXAMPLES, dtype=np.float64)
    preds = [{"label": str(label), "probabilities": dict(zip(map(str, est.classes_),
                                                             map(float, p)))}
             for label, p in zip(est.predict(x), est.predict_proba(x))]
    request = {"data": [dict(zip(names, row)) for row in EXAMPLES]}
    with open(os.path.join(HERE, "reference.json"), "w", encoding="utf-8") as f:
        json.dump({"cases": [{"request": request, "predictions": preds}]}, f, indent=2)
        f.write("\n")
    print("wrote model.joblib and reference.json; serve this folder's parent with modelwrap")


if __name__ == "__main__":
    main()
