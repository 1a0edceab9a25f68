"""`modelwrap audit report`: the access review of trails the real server wrote, in JSON lines and
in CEF (the same numbers from both), per consumer: requests, denials by reason, addresses,
after-hours and large requests, models, first/last seen, and the period's security events;
gzip-rotated files; malformed and truncated lines skipped and counted; --since; CSV; and memory
that does not grow with the input."""
import csv
import datetime
import gzip
import io
import json
import os
import shutil
import subprocess
import sys

import requests

from auth_util import CLEAN_ENV, create_key
from conftest import BIN, IRIS_ROW, ROOT

GEN = os.path.join(ROOT, "bench", "gen_audit.py")


def report(*args, check=True, env=None):
    out = subprocess.run([BIN, "audit", "report"] + list(args), env=dict(CLEAN_ENV, **(env or {})),
                         capture_output=True, text=True, timeout=300)
    if check:
        assert out.returncode == 0, out.stderr
    return out


def report_json(*args, **kw):
    return json.loads(report("--format", "json", *args, **kw).stdout)


def closed_hours():
    """Business hours that exclude the next hour (so the test's requests are after hours)."""
    now = datetime.datetime.now(datetime.timezone.utc)
    start = (now + datetime.timedelta(hours=3)).strftime("%H:00")
    end = (now + datetime.timedelta(hours=4)).strftime("%H:00")
    return "Mon-Sun %s-%s" % (start, end)


def traffic(make_server, tmpdir, fmt):
    keys = os.path.join(tmpdir, "keys-%s.json" % fmt)
    alice = create_key(keys, "alice", "predict,read")
    bob = create_key(keys, "bob", "read")
    path = os.path.join(tmpdir, "audit.%s" % fmt)
    s = make_server(["--api-keys-file", keys, "--audit-log", path, "--audit-format", fmt,
                     "--audit-business-hours", closed_hours(), "--audit-large-request-bytes",
                     "200", "--auth-failure-limit", "0"], auth="required")
    body = json.dumps({"data": [IRIS_ROW]})
    big = json.dumps({"data": [IRIS_ROW] * 5})
    h = {"Content-Type": "application/json"}
    for data in (body, body, big):
        assert requests.post(s.url("/api/v1/predict"), data=data,
                             headers=dict(h, **{"X-API-Key": alice}), timeout=30).status_code == 200
    assert requests.get(s.url("/api/v1/models"), headers={"X-API-Key": bob},
                        timeout=30).status_code == 200
    assert requests.post(s.url("/api/v1/predict"), data=body,
                         headers=dict(h, **{"X-API-Key": bob}), timeout=30).status_code == 403
    assert requests.get(s.url("/api/v1/models"), timeout=30).status_code == 401
    assert requests.get(s.url("/api/v1/models"), headers={"X-API-Key": "mw_" + "x" * 43},
                        timeout=30).status_code == 401
    assert requests.get(s.url("/api/v1/health"), timeout=30).status_code == 200
    assert s.stop() == 0
    return path


def consumers(doc):
    return {c["consumer"]: c for c in doc["consumers"]}


def test_review_of_a_real_trail_json_and_cef(make_server, tmpdir_path):
    # The report reads the server's settings from the environment (or .env), as `serve` would.
    env = {"MODELWRAP_AUDIT_BUSINESS_HOURS": closed_hours(),
           "MODELWRAP_AUDIT_LARGE_REQUEST_BYTES": "200"}
    docs = {fmt: report_json(traffic(make_server, tmpdir_path, fmt), env=env)
            for fmt in ("json", "cef")}
    for fmt, doc in docs.items():
        assert doc["lines"]["malformed"] == 0, fmt
        assert doc["lines"]["requests"] == 8, (fmt, doc["lines"])
        c = consumers(doc)
        assert set(c) == {"api-key:alice", "api-key:bob", "unauthenticated"}, (fmt, set(c))
        a, b, u = c["api-key:alice"], c["api-key:bob"], c["unauthenticated"]
        assert (a["requests"], a["denials"], a["models"]) == (3, 0, ["iris"])
        assert a["distinct_addresses"] == 1 and a["distinct_addresses_estimated"] is False
        assert a["large_requests"] == 1
        assert a["after_hours_requests"] == 3
        assert a["first_seen"] <= a["last_seen"]
        assert (b["requests"], b["denials"]) == (2, 1)
        assert b["denials_by_reason"] == {"auth.insufficient_scope": 1}
        assert b["after_hours_requests"] == 1
        # Health probes need no credential: unauthenticated, but not a denial.
        assert (u["requests"], u["denials"]) == (3, 2)
        assert u["denials_by_reason"] == {"auth.missing": 1, "auth.invalid_key": 1}
        sigs = {e["signature"]: e for e in doc["security_events"]["by_signature"]}
        assert 220 in sigs and 210 in sigs and 240 in sigs, sigs
        assert any(e["signature"] == 220 and e["principal"] == "alice"
                   for e in doc["security_events"]["events"])
    strip = lambda d: [{k: v for k, v in c.items() if k not in ("first_seen", "last_seen")}  # noqa
                       for c in d["consumers"]]
    assert strip(docs["json"]) == strip(docs["cef"])

    # Without business hours, the server's 210 events (de-duplicated: a lower bound) say it;
    # flags override the settings.
    path = os.path.join(tmpdir_path, "audit.json")
    doc = report_json(path)
    assert doc["after_hours"]["source"] == "security events 210"
    assert 1 <= consumers(doc)["api-key:alice"]["after_hours_requests"] <= 3
    assert consumers(doc)["api-key:alice"]["large_requests"] == 0  # the default 512 KiB
    doc = report_json("--business-hours", closed_hours(), "--large-bytes", "200", path)
    assert consumers(doc)["api-key:alice"]["after_hours_requests"] == 3
    assert consumers(doc)["api-key:alice"]["large_requests"] == 1
    assert doc["after_hours"]["source"] == "business hours"
    assert report("--timezone", "Mars/Olympus", path, check=False).returncode == 2
    text = report(path).stdout
    assert "api-key:alice" in text and "auth.insufficient_scope 1" in text


def test_rotated_gzip_malformed_and_truncated(make_server, tmpdir_path):
    path = traffic(make_server, tmpdir_path, "json")
    whole = report_json(path)
    with open(path, "rb") as f:
        lines = f.read().splitlines(keepends=True)
    half = len(lines) // 2
    rotated = os.path.join(tmpdir_path, "audit.json.1.gz")
    with gzip.open(rotated, "wb") as f:
        f.writelines(lines[:half])
    current = os.path.join(tmpdir_path, "audit.json.current")
    with open(current, "wb") as f:
        f.writelines(lines[half:])
        f.write(b"not a record\n")
        f.write(b'{"type":"request","time":"2026-12-01T00:00:00Z"' + b"\n")  # cut JSON
        f.write(b"\n")
        f.write(b"CEF:0|modelwrap|modelwrap|0.1.0|100|x|1|rt=" + b"9" * 70000 + b"\n")
        f.write(lines[0].rstrip(b"\n")[:50])  # a torn last line, no line end
    out = report("--format", "json", rotated, current)
    doc = json.loads(out.stdout)
    assert doc["lines"]["malformed"] == 4
    assert "4 malformed lines skipped" in out.stderr
    assert [f["records"] for f in doc["files"]] == [half, len(lines) - half]
    assert doc["consumers"] == whole["consumers"]
    assert report("/nonexistent/audit.log", check=False).returncode == 2


def test_since_and_csv(tmpdir_path):
    old = os.path.join(tmpdir_path, "old.json")
    new = os.path.join(tmpdir_path, "new.cef")
    now_ms = int(datetime.datetime.now(datetime.timezone.utc).timestamp() * 1000)
    subprocess.run([sys.executable, GEN, "json", "500", old, "--start",
                    str(now_ms - 30 * 86400 * 1000), "--step-ms", "1000"], check=True)
    subprocess.run([sys.executable, GEN, "cef", "300", new, "--start",
                    str(now_ms - 86400 * 1000), "--step-ms", "1000"], check=True)
    doc = report_json("--since", "7d", old, new)
    assert doc["lines"]["requests"] == 300
    assert doc["lines"]["outside_period"] >= 500
    everything = report_json(old, new)
    assert everything["lines"]["requests"] == 800
    assert sum(c["requests"] for c in everything["consumers"]) == 800
    until = report_json("--until", datetime.datetime.fromtimestamp(
        (now_ms - 7 * 86400 * 1000) / 1000, datetime.timezone.utc).strftime("%Y-%m-%d"), old, new)
    assert until["lines"]["requests"] == 500

    rows = list(csv.DictReader(io.StringIO(report("--format", "csv", old, new).stdout)))
    assert sorted(r["consumer"] for r in rows) == sorted(c["consumer"]
                                                          for c in everything["consumers"])
    by = {r["consumer"]: r for r in rows}
    for c in everything["consumers"]:
        assert int(by[c["consumer"]]["requests"]) == c["requests"]
        assert int(by[c["consumer"]]["denials"]) == c["denials"]
    assert report("--since", "yesterday", old, check=False).returncode == 2
    assert report("--format", "xml", old, check=False).returncode == 2
    assert report(check=False).returncode == 2


def test_csv_cells_cannot_be_formulas(tmpdir_path):
    path = os.path.join(tmpdir_path, "a.json")
    rec = {"type": "request", "time": "2026-12-01T00:00:00.000Z", "signature": 100,
           "principal_kind": "jwt", "principal_id": '=HYPERLINK("x")', "status": 200,
           "client": "10.0.0.1", "model": "iris", "outcome": "ok"}
    with open(path, "w") as f:
        f.write(json.dumps(rec) + "\n")
    rows = list(csv.reader(io.StringIO(report("--format", "csv", path).stdout)))
    assert rows[1][0] == "'jwt:=HYPERLINK(\"x\")" or rows[1][0].startswith("jwt:")
    assert rows[1][2] == "'=HYPERLINK(\"x\")"


def peak_rss_kib(*args):
    """Peak resident memory of one report run, from a wrapper process's RUSAGE_CHILDREN."""
    code = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, "
            "stdout=subprocess.DEVNULL); "
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    out = subprocess.run([sys.executable, "-c", code, BIN, "audit", "report", "--format",
                          "json"] + list(args), capture_output=True, text=True, timeout=600,
                         env=CLEAN_ENV, check=True)
    return int(out.stdout)


def test_memory_does_not_grow_with_the_input(tmpdir_path):
    small = os.path.join(tmpdir_path, "small.cef")
    large = os.path.join(tmpdir_path, "large.cef")
    subprocess.run([sys.executable, GEN, "cef", "5000", small], check=True)
    subprocess.run([sys.executable, GEN, "cef", "100000", large], check=True)
    a, b = peak_rss_kib(small), peak_rss_kib(large)
    # 20x the records (about 58 MB more input) may not cost more than a few MiB of tables.
    assert b - a < 8 * 1024, (a, b)
    assert os.path.getsize(large) > 50 * 1024 * 1024
    shutil.rmtree(tmpdir_path, ignore_errors=True)
