"""Helpers of the observability tests (test_obs_*.py): a server with a real API key, a parser of
the Prometheus text format, promtool and the node tools of tests/browser/."""
import json
import os
import re
import shutil
import socket
import subprocess
import time

import requests

from audit_util import live_lines
from conftest import BIN, ROOT

PROMTOOL = os.environ.get("MW_PROMTOOL") or os.path.join(ROOT, "build", "tools", "promtool")
BROWSER_DIR = os.path.join(ROOT, "tests", "browser")
ARTIFACTS = os.path.join(ROOT, "tests", "artifacts")
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
IRIS_FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


def clean_env():
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELWRAP_")}
    env["MODELWRAP_ENV_FILE"] = "/dev/null"
    return env


def create_key(tmpdir, scopes="predict,read,metrics", key_id="obs"):
    """Adds a key to tmpdir/keys.json with `modelwrap keys create`; returns (path, key)."""
    path = os.path.join(tmpdir, "keys.json")
    out = subprocess.run([BIN, "keys", "create", "--id", key_id, "--scopes", scopes, "--file", path],
                         env=clean_env(), capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    keys = [w for w in out.stdout.split() if w.startswith("mw_")]
    assert len(keys) == 1, out.stdout
    return path, keys[0]


def start(make_server, tmpdir, args=(), scopes="predict,read,metrics"):
    """A server with authentication on, a key of the given scopes and the audit trail in a file
    (tmpdir/audit.log). Returns (server, key)."""
    keys, key = create_key(tmpdir, scopes)
    audit = os.path.join(tmpdir, "audit.log")
    srv = make_server(["--api-keys-file", keys, "--audit-log", audit] + list(args), auth="required")
    srv.audit_path = audit
    return srv, key


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?')


def parse_metrics(text):
    """{"families": {name: type}, "help": {name: text}, "samples": {(name, labels): value}} where
    labels is a frozenset of (label, value) pairs with the escapes undone."""
    fams, helps, samples = {}, {}, {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, typ = line.split(" ", 3)
            fams[name] = typ
        elif line.startswith("# HELP "):
            _, _, name, h = line.split(" ", 3)
            helps[name] = h
        elif line and not line.startswith("#"):
            m = _SAMPLE.match(line)
            assert m, "unparsable sample line: %r" % line
            labels = {}
            if m.group(2):
                for lm in _LABEL.finditer(m.group(2)):
                    v = lm.group(2).replace('\\"', '"').replace("\\n", "\n").replace("\\\\", "\\")
                    labels[lm.group(1)] = v
            samples[(m.group(1), frozenset(labels.items()))] = float(m.group(3))
    return {"families": fams, "help": helps, "samples": samples}


def value(parsed, name, **labels):
    """The value of one sample, 0.0 when the series does not exist (yet)."""
    return parsed["samples"].get((name, frozenset(labels.items())), 0.0)


def scrape(url, key=None):
    h = {"X-API-Key": key} if key else {}
    r = requests.get(url, headers=h, timeout=30)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    return r.text, parse_metrics(r.text)


def served(parsed):
    """Requests counted in modelwrap_http_requests_total, the scrapes themselves left out."""
    return sum(v for (name, labels), v in parsed["samples"].items()
               if name == "modelwrap_http_requests_total" and ("route", "metrics") not in labels)


def scrape_settled(url, key=None, served_at_least=0, timeout=20):
    """Scrapes until `served_at_least` requests are counted: a request is counted in its log
    phase, just after the client got the answer. Returns (text, parsed) of the last scrape."""
    end = time.time() + timeout
    while True:
        text, parsed = scrape(url, key)
        if served(parsed) >= served_at_least or time.time() > end:
            return text, parsed
        time.sleep(0.02)


def promtool_check(text):
    """Runs `promtool check metrics` on text: returns (exit code, output)."""
    assert os.access(PROMTOOL, os.X_OK), (
        "promtool not found at %s: run `make deps-test` (scripts/get-promtool.sh)" % PROMTOOL)
    out = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True, text=True,
                         timeout=60)
    return out.returncode, out.stdout + out.stderr


def node(script, *args, timeout=120):
    """Runs node tests/browser/<script> args; returns the CompletedProcess."""
    exe = shutil.which("node")
    assert exe, "node is not installed: run `make deps-test`"
    assert os.path.isdir(os.path.join(BROWSER_DIR, "node_modules")), (
        "tests/browser/node_modules is missing: run `make deps-test`")
    return subprocess.run([exe, os.path.join(BROWSER_DIR, script)] + list(args), cwd=BROWSER_DIR,
                          capture_output=True, text=True, timeout=timeout)


def audit_lines(srv):
    return [json.loads(line) for line in live_lines(srv.audit_path)
            if line.strip().startswith("{")]


def post(url, body, key=None, headers=None):
    """POST body as JSON, with the API key when given."""
    h = {"Content-Type": "application/json"}
    if key:
        h["X-API-Key"] = key
    h.update(headers or {})
    return requests.post(url, data=json.dumps(body), headers=h, timeout=30)
