"""Writes a synthetic audit trail in modelwrap's own record formats (docs/audit.md: the JSON
keys in encode.c's order, or the CEF line it writes) for bench/audit_report.sh and the access
review tests: N records from a few hundred consumers, with refusals, large requests, security
events, and optionally malformed lines.

usage: gen_audit.py FORMAT(json|cef) N OUT [--start EPOCH_MS] [--step-ms MS] [--malformed EVERY]
"""
import argparse
import json
import random


def records(n, start_ms, step_ms, seed=7):
    rnd = random.Random(seed)
    keys = ["key-%03d" % i for i in range(200)]
    subjects = ["user-%03d@example.gc.ca" % i for i in range(100)]
    models = ["iris", "churn", "fraud", "textclf"]
    t = start_ms
    for i in range(n):
        t += step_ms
        roll = rnd.random()
        if roll < 0.6:
            kind, pid, kid = "api-key", rnd.choice(keys), None
            kid = pid
        elif roll < 0.9:
            kind, pid, kid = "jwt", rnd.choice(subjects), "kid-1"
        else:
            kind, pid, kid = "none", None, None
        status, outcome, sig, name, sev = 200, "ok", 100, "Request served", 1
        if kind == "none":
            status, outcome, sig, name, sev = 401, rnd.choice(
                ["auth.missing", "auth.invalid_key"]), 101, "Authentication refused", 5
        elif rnd.random() < 0.05:
            status, outcome, sig, name, sev = 429, "limit.rate", 103, "Request over a limit", 4
        elif rnd.random() < 0.02:
            status, outcome, sig, name, sev = (403, "auth.insufficient_scope", 102,
                                               "Authorization refused", 5)
        big = rnd.random() < 0.01
        rec = {"type": "request", "time_ms": t, "signature": sig, "name": name, "severity": sev,
               "request_id": "%032x" % rnd.getrandbits(128),
               "client": "10.%d.%d.%d" % (rnd.randrange(4), rnd.randrange(256), rnd.randrange(256)),
               "principal_kind": kind, "principal_id": pid, "key_id": kid,
               "client_id": "app-1" if kind == "jwt" else None,
               "scope": "predict", "method": "POST", "path": "/api/v1/models/%s/predict",
               "route": "v1_model_predict", "model": rnd.choice(models) if status == 200 else None,
               "status": status, "outcome": outcome,
               "bytes_in": 600000 if big else rnd.randrange(80, 4000),
               "bytes_out": rnd.randrange(100, 2000), "records": 1500 if big else rnd.randrange(1, 50),
               "duration_us": rnd.randrange(200, 5000)}
        rec["path"] = rec["path"] % (rec["model"] or "iris")
        yield rec
        if big:
            ev = dict(rec, type="security_event", signature=220, name="Large request (bytes)",
                      severity=5, count=1, threshold=524288, window_s=300,
                      message="request body of 600000 bytes (threshold 524288)")
            yield ev


def iso(ms):
    import datetime
    d = datetime.datetime.fromtimestamp(ms / 1000, tz=datetime.timezone.utc)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (ms % 1000)


def to_json(r):
    out = {"type": r["type"], "time": iso(r["time_ms"]), "host": "mw-1",
           "signature": r["signature"], "name": r["name"], "severity": r["severity"],
           "request_id": r["request_id"], "trace_id": None, "client": r["client"], "peer": None,
           "principal_kind": r["principal_kind"], "principal_id": r["principal_id"],
           "client_id": r["client_id"], "key_id": r["key_id"], "scope": r["scope"],
           "method": r["method"], "path": r["path"], "route": r["route"], "model": r["model"],
           "model_version": "1" if r["model"] else None, "status": r["status"],
           "outcome": r["outcome"], "bytes_in": r["bytes_in"], "bytes_out": r["bytes_out"],
           "records": r["records"], "duration_us": r["duration_us"],
           "user_agent": "python-requests/2.28.1", "aborted": False, "truncated": False}
    if r["type"] == "security_event":
        out.update(count=r["count"], threshold=r["threshold"], window_s=r["window_s"],
                   message=r["message"])
    return json.dumps(out, separators=(",", ":"))


def cef_esc(v):
    return str(v).replace("\\", "\\\\").replace("=", "\\=").replace("\n", "\\n").replace("\r", "\\r")


def to_cef(r):
    act = "served" if r["status"] < 400 else "refused"
    ext = [("rt", r["time_ms"]), ("dvchost", "mw-1"), ("externalId", r["request_id"]),
           ("src", r["client"])]
    if r["principal_id"]:
        ext.append(("suser", r["principal_id"]))
    ext += [("cs1", r["principal_kind"]), ("cs1Label", "principalKind")]
    if r["client_id"]:
        ext += [("cs2", r["client_id"]), ("cs2Label", "clientId")]
    if r["key_id"]:
        ext += [("cs3", r["key_id"]), ("cs3Label", "keyId")]
    ext += [("cs4", r["scope"]), ("cs4Label", "scope")]
    if r["model"]:
        ext += [("cs5", r["model"]), ("cs5Label", "model"), ("cs6", "1"),
                ("cs6Label", "modelVersion")]
    ext += [("requestMethod", r["method"]), ("request", r["path"]),
            ("destinationServiceName", r["route"]), ("outcome", r["outcome"]), ("act", act),
            ("cn1", r["status"]), ("cn1Label", "httpStatus"), ("in", r["bytes_in"]),
            ("out", r["bytes_out"]), ("cn2", r["duration_us"]),
            ("cn2Label", "durationMicroseconds"), ("cn3", r["records"]), ("cn3Label", "records"),
            ("requestClientApplication", "python-requests/2.28.1")]
    if r["type"] == "security_event":
        ext += [("cnt", r["count"]), ("msg", r["message"])]
    return "CEF:0|modelwrap|modelwrap|0.1.0|%d|%s|%d|%s" % (
        r["signature"], r["name"], r["severity"], " ".join("%s=%s" % (k, cef_esc(v))
                                                           for k, v in ext))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("format", choices=["json", "cef"])
    ap.add_argument("n", type=int)
    ap.add_argument("out")
    ap.add_argument("--start", type=int, default=1796083200000)  # 2026-12-01T00:00:00Z
    ap.add_argument("--step-ms", type=int, default=250)
    ap.add_argument("--malformed", type=int, default=0, help="a broken line every N records")
    a = ap.parse_args()
    enc = to_json if a.format == "json" else to_cef
    with open(a.out, "w") as f:
        for i, r in enumerate(records(a.n, a.start, a.step_ms)):
            f.write(enc(r) + "\n")
            if a.malformed and i % a.malformed == a.malformed - 1:
                f.write('{"type":"request","time":"garbage' + "\n")


if __name__ == "__main__":
    main()
