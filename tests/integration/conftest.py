"""Integration-test harness: starts the real modelwrap binary on an ephemeral loopback port and
talks HTTP to it. Run with /usr/bin/python3 (Debian's python3-pytest, python3-requests)."""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time

import pytest
import requests

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ.get("MODELWRAP_BIN", os.path.join(ROOT, "build", "release", "modelwrap"))
BUILD = os.environ.get("MW_BUILD_DIR", os.path.join(ROOT, "build", "release"))
SANITIZED = os.environ.get("MW_SANITIZED") == "1"
START_TIMEOUT = 60 if SANITIZED else 20


def _off_loopback(args):
    """Whether args name a --host that is not loopback (MODELWRAP_AUTH=none is refused
    there, so the default `--auth none` is left out)."""
    args = list(args)
    host = "127.0.0.1"
    for i, a in enumerate(args):
        if a == "--host" and i + 1 < len(args):
            host = args[i + 1]
        elif a.startswith("--host="):
            host = a[len("--host="):]
    return not (host.startswith("127.") or host in ("::1", "localhost"))


class Server:
    """One modelwrap process. `logs` collects its stderr JSON lines (parsed)."""

    # ---- authentication ----
    # `auth` is prepended as `--auth <value>` ("none" by default: tests that are not about
    # authentication run without credentials; tests/integration/test_auth_*.py pass "required").
    # None leaves the setting to args, env and the defaults.
    def __init__(self, args=(), env=None, cwd=None, auth="none"):
        self.logs = []
        self.raw = []
        self.port = None
        self._ready = threading.Event()
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("MODELWRAP_")}
        # A developer's own .env must not leak into tests.
        full_env.update({"MODELWRAP_LOG_LEVEL": "info", "MODELWRAP_ENV_FILE": "/dev/null"})
        full_env.update(env or {})
        argv = [BIN, "serve", "--host", "127.0.0.1", "--port", "0"]
        argv += ["--auth", auth] if auth and not (auth == "none" and _off_loopback(args)) else []
        argv += list(args)
        self.proc = subprocess.Popen(argv, cwd=cwd or ROOT, env=full_env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        # ---- audit trail ----
        # The audit records go to stdout by default: read them (a full pipe would block the
        # writer) into `stdout_lines` (decoded text lines, without the line end).
        self.stdout_lines = []
        self._out_reader = threading.Thread(target=self._read_stdout, daemon=True)
        self._out_reader.start()
        if not self._ready.wait(START_TIMEOUT):
            self.kill()
            raise RuntimeError("modelwrap did not start:\n" + "".join(self.raw))

    def _read(self):
        for line in iter(self.proc.stderr.readline, b""):
            text = line.decode("utf-8", "replace")
            self.raw.append(text)
            try:
                rec = json.loads(text)
            except ValueError:
                continue
            self.logs.append(rec)
            if rec.get("msg") == "listening":
                self.port = rec["port"]
                self._ready.set()
        self._ready.set()

    def _read_stdout(self):
        for line in iter(self.proc.stdout.readline, b""):
            self.stdout_lines.append(line.decode("utf-8", "replace").rstrip("\n"))

    @property
    def base(self):
        return "http://127.0.0.1:%d" % self.port

    def url(self, path):
        return self.base + path

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise
        self._reader.join(5)
        return rc

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def wait_log(self, pred, timeout=10):
        end = time.time() + timeout
        while time.time() < end:
            for rec in list(self.logs):
                if pred(rec):
                    return rec
            time.sleep(0.02)
        raise AssertionError("no matching log line in:\n" + "".join(self.raw[-30:]))


@pytest.fixture
def make_server():
    servers = []

    def start(*args, **kw):
        s = Server(*args, **kw)
        servers.append(s)
        return s

    yield start
    # Stop every server before judging any, so a failed assertion leaves no process behind.
    failed = []
    for s in servers:
        if s.proc.poll() is None:
            rc = s.stop()
            if rc != 0:
                failed.append("server exited with %r:\n%s" % (rc, "".join(s.raw[-40:])))
    assert not failed, "\n".join(failed)


@pytest.fixture(autouse=True)
def _stop_collectors():
    """Stops every rsyslogd a test started, after the servers that write to it have stopped
    (autouse fixtures are torn down after the fixtures a test asks for)."""
    yield
    from audit_util import Rsyslog
    Rsyslog.stop_all()


def _children(pid):
    """(pid, command line) of the live child processes of pid (zombies excluded)."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                stat = f.read()
            fields = stat[stat.rindex(")") + 2:].split()
            if int(fields[1]) != pid or fields[0] == "Z":
                continue
            with open("/proc/%s/cmdline" % entry, "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode("utf-8", "replace").strip()
        except (OSError, ValueError):
            continue
        out.append((int(entry), cmd))
    return out


def pytest_configure(config):
    """Makes this process the child subreaper of everything the tests start: a process whose parent
    exits (a daemon that forked, a model worker that outlived its server) is re-parented here
    instead of to init, so the check below sees it."""
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        pass


def pytest_sessionfinish(session, exitstatus):
    """A test that leaves a process running is a defect: list the culprits, stop them and fail
    the run, so the leak is fixed where it is made rather than piling up on the machine."""
    left = _children(os.getpid())
    if not left:
        return
    lines = ["processes started by the tests are still running after them:"]
    lines += ["  pid %d: %s" % (p, cmd) for p, cmd in left]
    for p, _ in left:
        try:
            os.kill(p, signal.SIGKILL)
        except OSError:
            pass
    session.config.get_terminal_writer().line("\n".join(lines), red=True)
    session.exitstatus = 1


@pytest.fixture(scope="module")
def server():
    s = Server()
    yield s
    assert s.stop() == 0, "".join(s.raw[-40:])


@pytest.fixture
def tmpdir_path():
    d = tempfile.mkdtemp(prefix="mw-test-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def assert_error(resp, status, code):
    """Every error is JSON {"error","code","request_id"} with the right status."""
    assert resp.status_code == status, resp.text
    assert resp.headers["Content-Type"].startswith("application/json")
    body = resp.json()
    assert set(body) == {"error", "code", "request_id"}, body
    assert body["code"] == code, body
    assert body["error"]
    assert body["request_id"] == resp.headers["X-Request-Id"]
    return body


def plugin_path(name):
    path = os.path.join(BUILD, "plugins", name + ".so")
    assert os.path.exists(path), "plug-in not built: " + path
    return path


def write_model(models_dir, name, model_json, files=None):
    d = os.path.join(models_dir, name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "model.json"), "w") as f:
        json.dump(model_json, f)
    for fname, content in (files or {}).items():
        with open(os.path.join(d, fname), "w") as f:
            f.write(content)
    return d


IRIS_ROW = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}


def post_json(url, body, **kw):
    return requests.post(url, data=json.dumps(body), headers={"Content-Type": "application/json"},
                         timeout=30, **kw)
