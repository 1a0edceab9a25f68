"""`modelwrap test-model DIR`: a model folder's outputs against its reference.json (exit 0 when
everything matches within the file's tolerance, 1 on any mismatch, each printed, 2 when the model
or the file cannot be used)."""
import json
import os
import shutil
import subprocess

import pytest

from conftest import BIN, ROOT

IRIS = os.path.join(ROOT, "models", "iris")
CLEAN_ENV = {k: v for k, v in os.environ.items() if not k.startswith("MODELWRAP_")}


def test_model(*args):
    return subprocess.run([BIN, "test-model"] + list(args), cwd=ROOT, env=CLEAN_ENV,
                          capture_output=True, text=True, timeout=120)


# pytest must not collect the helper above as a test
test_model.__test__ = False


def copy_model(tmp_path, src):
    """A copy of a bundled model folder and its parsed reference.json (write it back with save)."""
    d = tmp_path / os.path.basename(src)
    shutil.copytree(src, d, ignore=shutil.ignore_patterns("__pycache__"))
    with open(d / "reference.json") as f:
        ref = json.load(f)

    def save(r):
        with open(d / "reference.json", "w") as f:
            json.dump(r, f)

    return d, ref, save


@pytest.fixture
def iris_copy(tmp_path):
    return copy_model(tmp_path, IRIS)


def test_bundled_iris_passes():
    r = test_model(IRIS)
    assert r.returncode == 0, r.stdout + r.stderr
    last = r.stdout.strip().splitlines()[-1]
    assert "30 inputs" in last and "label, probabilities" in last, last
    assert last.endswith("0 mismatches: OK"), last


def test_every_mismatch_is_printed_and_fails(iris_copy):
    d, ref, save = iris_copy
    ref["probabilities"][14][1] += 0.05
    ref["labels"][3] = "virginica"
    save(ref)
    r = test_model(str(d))
    assert r.returncode == 1, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    assert any(l.startswith("inputs[14]: probabilities[1]: got 0.52876943, expected ")
               for l in lines), r.stdout
    assert 'inputs[3]: label[0]: got "setosa", expected "virginica"' in lines, r.stdout
    assert lines[-1].endswith("2 mismatches: FAILED"), lines[-1]


def test_the_tolerance_of_the_file_decides(iris_copy):
    d, ref, save = iris_copy
    ref["probabilities"][0][0] += 1e-4
    ref["tolerance"] = {"absolute": 1e-3, "relative": 0}
    save(ref)
    r = test_model(str(d))
    assert r.returncode == 0, r.stdout
    ref["tolerance"] = {"absolute": 1e-5, "relative": 0}
    save(ref)
    r = test_model(str(d))
    assert r.returncode == 1 and "inputs[0]: probabilities[0]:" in r.stdout, r.stdout
    ref["tolerance"] = {"absolute": 0, "relative": 1e-3}
    save(ref)
    assert test_model(str(d)).returncode == 0


def test_records_as_objects_and_a_reference_elsewhere(iris_copy, tmp_path):
    d, ref, save = iris_copy
    names = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    ref["inputs"] = [dict(zip(names, row)) for row in ref["inputs"]]
    other = tmp_path / "elsewhere.json"
    with open(other, "w") as f:
        json.dump(ref, f)
    os.unlink(d / "reference.json")
    r = test_model(str(d), "--reference", str(other))
    assert r.returncode == 0, r.stdout + r.stderr


def test_an_input_the_model_refuses_is_a_failure(iris_copy):
    d, ref, save = iris_copy
    ref["inputs"][2] = [1.0, 2.0, 3.0]
    ref["inputs"][5] = {"sepal_length": "long", "sepal_width": 3.0, "petal_length": 1.6,
                        "petal_width": 0.2}
    save(ref)
    r = test_model(str(d))
    assert r.returncode == 1, r.stdout
    assert "inputs[2]: 3 values, but a record of this model has 4 members" in r.stdout, r.stdout
    assert "inputs[5]: the model refuses it: data[0].sepal_length" in r.stdout, r.stdout


@pytest.mark.parametrize("change,message", [
    (lambda ref: ref.pop("inputs"), 'expected a non-empty array "inputs"'),
    (lambda ref: ref.update(outputs={"proba": "probabilities"}),
     '"outputs"."proba": the model has no output of that name'),
    (lambda ref: ref.update(outputs={"label": "nothing"}),
     'no member "nothing" (the expected values of output \'label\')'),
    (lambda ref: ref.update(tolerance={"absolute": -1}), '"absolute" and "relative" must be'),
    (lambda ref: ref["labels"].pop(), '"labels": expected an array of 30 values'),
    (lambda ref: [ref.pop(k) for k in ("outputs", "labels", "probabilities")],
     "no expected values for any output"),
])
def test_an_unusable_reference_file_exits_2(iris_copy, change, message):
    d, ref, save = iris_copy
    change(ref)
    save(ref)
    r = test_model(str(d))
    assert r.returncode == 2, r.stdout + r.stderr
    assert message in r.stderr, r.stderr


def test_an_unusable_model_or_command_line_exits_2(iris_copy, tmp_path):
    d, ref, save = iris_copy
    os.unlink(d / "iris.ubj")
    r = test_model(str(d))
    assert r.returncode == 2 and "iris.ubj" in r.stderr, r.stderr
    r = test_model(str(tmp_path / "missing"))
    assert r.returncode == 2 and "reference.json" in r.stderr, r.stderr
    r = test_model()
    assert r.returncode == 2 and "usage: modelwrap test-model DIR" in r.stderr, r.stderr
    r = test_model(IRIS, "--tolerance", "1")
    assert r.returncode == 2 and "unexpected argument" in r.stderr, r.stderr


# ---- template-style Python models: {"cases": [{"request", "predictions"}]} ----

TICKETS = os.path.join(ROOT, "models", "tickets")


@pytest.fixture
def tickets_copy(tmp_path):
    """The bundled tickets folder: a template-style Python model."""
    return copy_model(tmp_path, TICKETS)


def test_bundled_tickets_cases_pass():
    r = test_model(TICKETS)
    assert r.returncode == 0, r.stdout + r.stderr
    last = r.stdout.strip().splitlines()[-1]
    assert "(python)" in last and "cases" in last, last
    assert last.endswith("0 mismatches: OK"), last


def test_case_mismatches_are_printed_and_fail(tickets_copy):
    d, ref, save = tickets_copy
    first = ref["cases"][0]["predictions"][0]
    first["category"] = "billing" if first["category"] != "billing" else "network"
    first["confidence"] += 0.5
    save(ref)
    r = test_model(str(d))
    assert r.returncode == 1, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    assert any(l.startswith("cases[0]: predictions[0].category: got ") for l in lines), r.stdout
    assert any(l.startswith("cases[0]: predictions[0].confidence: got ") for l in lines), r.stdout
    assert lines[-1].endswith("2 mismatches: FAILED"), lines[-1]


def test_case_compares_only_the_members_the_reference_lists(tickets_copy):
    d, ref, save = tickets_copy
    for case in ref["cases"]:
        for p in case["predictions"]:
            p.pop("confidence", None)
    save(ref)
    r = test_model(str(d))
    assert r.returncode == 0, r.stdout + r.stderr


def test_case_refused_by_the_signature_counts(tickets_copy):
    d, ref, save = tickets_copy
    ref["cases"][0]["request"]["data"][0]["description"] = 42
    save(ref)
    r = test_model(str(d))
    assert r.returncode == 1, r.stdout + r.stderr
    assert "cases[0]: the model refuses it: data[0].description" in r.stdout, r.stdout


def test_cases_for_a_tensor_model_are_unusable(iris_copy):
    d, ref, save = iris_copy
    save({"cases": [{"request": {"data": []}, "predictions": []}]})
    r = test_model(str(d))
    assert r.returncode == 2, r.stdout + r.stderr
    assert "template-style Python models" in r.stderr, r.stderr
