#!/usr/bin/python3
# Trains the bundled support-ticket classifier (models/tickets): a scikit-learn pipeline
# (TfidfVectorizer + LogisticRegression) on synthetic tickets this script generates from a fixed
# seed (no downloads), saved with joblib as models/tickets/tickets.joblib; then writes
# models/tickets/reference.json: example requests and the answers of Model().run called directly
# ("predictions": the body of /api/predict, the "predictions" member of /api/v1/.../predict),
# the way the server imports the model file. Run with Debian's python (scikit-learn 1.2):
#   /usr/bin/python3 scripts/train-tickets-model.py
import argparse
import importlib.util
import json
import os
import random
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the committed model folder

import joblib
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SEED = 20261207
PER_CATEGORY = 240

# Per category: sentence templates ({x} is filled from the category's words) and the
# configuration items (ci) its tickets usually name.
CATEGORIES = {
    "access": {
        "templates": ["I cannot log in to {x}", "my password for {x} expired",
                      "locked out of {x} after too many attempts", "please reset my {x} password",
                      "need access rights to {x}", "account disabled, cannot sign in to {x}",
                      "MFA code not accepted by {x}", "request permission for the {x} share"],
        "words": ["the portal", "my account", "the HR system", "Active Directory", "SSO",
                  "the shared drive", "the finance folder", "Outlook", "the intranet"],
        "ci": ["AD-ACCOUNT", "SSO-PORTAL", "MFA-SERVICE", "FILE-SHARE"],
    },
    "hardware": {
        "templates": ["my {x} will not turn on", "the {x} screen is cracked",
                      "{x} battery drains in an hour", "the {x} makes a loud noise",
                      "{x} keyboard keys are stuck", "need a replacement {x}",
                      "{x} overheats and shuts down", "the {x} is jammed"],
        "words": ["laptop", "monitor", "printer", "docking station", "desktop", "mouse",
                  "headset", "scanner", "phone"],
        "ci": ["LAPTOP-0412", "PRINTER-3F", "DESKTOP-118", "MONITOR-22"],
    },
    "network": {
        "templates": ["the {x} keeps dropping", "no internet through the {x}",
                      "{x} is very slow today", "cannot connect to the {x}",
                      "{x} times out from the office", "packet loss on the {x}",
                      "DNS does not resolve over the {x}", "the {x} connection is unstable"],
        "words": ["VPN", "wifi", "wireless network", "ethernet port", "proxy", "firewall",
                  "remote desktop gateway", "network drive", "LAN"],
        "ci": ["VPN-GW-01", "WIFI-FLOOR2", "PROXY-EDGE", "SWITCH-B3"],
    },
    "software": {
        "templates": ["{x} crashes when I open a file", "error message when starting {x}",
                      "please install {x} on my machine", "{x} update failed",
                      "{x} freezes after the latest patch", "licence expired for {x}",
                      "{x} shows a blank window", "cannot save documents in {x}"],
        "words": ["Excel", "Word", "Teams", "the browser", "the PDF reader", "Python",
                  "the ERP client", "the antivirus", "the statistics package"],
        "ci": ["EXCEL", "TEAMS", "ERP-CLIENT", "BROWSER"],
    },
    "billing": {
        "templates": ["I was charged twice for {x}", "the invoice for {x} is wrong",
                      "please refund {x}", "cost centre missing on {x}",
                      "need a quote for {x}", "payment for {x} was rejected",
                      "the budget code for {x} is incorrect", "who approves the purchase of {x}"],
        "words": ["the software licence", "the cloud subscription", "the mobile plan",
                  "the conference fee", "the new laptops", "the training course",
                  "the support contract", "the storage upgrade"],
        "ci": ["INVOICE-PORTAL", "PROCUREMENT", "FINANCE-ERP", "COST-CENTRE"],
    },
}
SUFFIXES = ["", "", " since this morning", " please help", " urgent", " again",
            " for the whole team", " since yesterday"]

# Requests of the reference file: tickets written by hand, not drawn from the training data.
REFERENCE_REQUESTS = [
    {"data": [{"description": "I forgot my password and the portal locked me out",
               "ci": "SSO-PORTAL"}]},
    {"data": [{"description": "The laptop screen flickers and the battery is swollen",
               "ci": "LAPTOP-0412"}]},
    {"data": [{"description": "VPN disconnects every ten minutes when working from home",
               "ci": "VPN-GW-01"}]},
    {"data": [{"description": "Excel crashes when I open the quarterly report",
               "ci": "EXCEL"}]},
    {"data": [{"description": "We were invoiced twice for the cloud subscription",
               "ci": "INVOICE-PORTAL"}]},
    {"data": [{"description": "need access to the finance shared drive", "ci": "FILE-SHARE"},
              {"description": "printer on the third floor is jammed again", "ci": "PRINTER-3F"},
              {"description": "wifi is very slow in the meeting room", "ci": "WIFI-FLOOR2"},
              {"description": "Teams update failed with an error", "ci": "TEAMS"},
              {"description": "please refund the training course fee", "ci": "PROCUREMENT"}]},
    {"data": [{"description": "", "ci": ""}]},
    {"data": [{"description": "écran noir après la mise à jour — rien ne marche", "ci": "DESKTOP-118"}]},
]


def tickets(rng):
    """(text, label) pairs: every category's templates filled with its words, a suffix and a ci
    (one in five from another category, so that the description carries the decision)."""
    names = sorted(CATEGORIES)
    out = []
    for label in names:
        c = CATEGORIES[label]
        for _ in range(PER_CATEGORY):
            text = rng.choice(c["templates"]).format(x=rng.choice(c["words"]))
            text += rng.choice(SUFFIXES)
            if rng.random() < 0.2:
                ci = rng.choice(CATEGORIES[rng.choice(names)]["ci"])
            else:
                ci = rng.choice(c["ci"])
            out.append((text + " " + ci, label))
    rng.shuffle(out)
    return out


def load_model_class(model_dir):
    """Imports model_dir/src/model.py the way modelwrap's python backend does (its folder first
    on sys.path) and returns its Model class."""
    src = os.path.join(model_dir, "src")
    sys.path.insert(0, src)
    spec = importlib.util.spec_from_file_location("model", os.path.join(src, "model.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.Model


def write_json(path, obj):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, ensure_ascii=False)
        f.write("\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default=os.path.join(ROOT, "models", "tickets"),
                    help="the model folder (default: models/tickets)")
    args = ap.parse_args()

    data = tickets(random.Random(SEED))
    texts = [t for t, _ in data]
    labels = [y for _, y in data]
    pipe = Pipeline([
        ("tfidf", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1)),
        ("clf", LogisticRegression(max_iter=2000, C=4.0)),
    ])
    pipe.fit(texts, labels)
    accuracy = pipe.score(texts, labels)
    joblib.dump(pipe, os.path.join(args.out, "tickets.joblib"), compress=3)

    model = load_model_class(args.out)()
    model.init()
    if not model.model:
        raise SystemExit("train-tickets-model: Model().init() left no model")
    cases = [{"request": req, "predictions": model.run(req)} for req in REFERENCE_REQUESTS]
    write_json(os.path.join(args.out, "reference.json"), {"cases": cases})
    print(f"tickets: {len(texts)} synthetic tickets, training accuracy {accuracy:.3f}, "
          f"{len(cases)} reference cases", file=sys.stderr)
    for c in cases:
        for rec, ans in zip(c["request"]["data"], c["predictions"]):
            print(f"  {ans['category']:9s} {ans['confidence']:.4f}  {rec['description']!r}",
                  file=sys.stderr)


if __name__ == "__main__":
    main()
