"""Helpers of the SLA, limit and scale-out tests: a redis-server and an nginx gateway started on
free loopback ports in a temporary folder, modelwrap replicas whose stdout (the audit trail) goes
to a file, API keys made with `modelwrap keys create`, and an open-loop traffic generator."""
import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time

import requests

from conftest import BIN, ROOT, START_TIMEOUT

PORT_WAIT = 30 if os.environ.get("MW_SANITIZED") == "1" else 15


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc=None, timeout=PORT_WAIT):
    """Polls until something accepts connections on 127.0.0.1:port."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc is not None and proc.poll() is not None:
            raise AssertionError("process exited with %r before listening" % proc.returncode)
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.02)
    raise AssertionError("nothing listens on port %d" % port)


def need(tool):
    """The path of a required tool; a missing one fails the test loudly (never a skip)."""
    path = shutil.which(tool) or next((p for p in ("/usr/sbin/" + tool, "/usr/bin/" + tool)
                                       if os.path.exists(p)), None)
    assert path, "%s is not installed: run scripts/install-deps.sh test" % tool
    return path


# ---- Redis -----------------------------------------------------------------------------------


def _resp_encode(args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def _resp_read(f):
    line = f.readline()
    if not line:
        raise ConnectionError("redis closed the connection")
    kind, rest = line[:1], line[1:-2]
    if kind == b"+":
        return rest.decode()
    if kind == b"-":
        raise RuntimeError(rest.decode())
    if kind == b":":
        return int(rest)
    if kind == b"$":
        n = int(rest)
        if n < 0:
            return None
        data = f.read(n + 2)
        return data[:-2].decode()
    if kind == b"*":
        n = int(rest)
        return None if n < 0 else [_resp_read(f) for _ in range(n)]
    raise RuntimeError("unexpected reply %r" % line)


class Redis:
    """redis-server on a free loopback port, no persistence; stop() and start() keep the port."""

    def __init__(self, tmpdir):
        self.exe = need("redis-server")
        self.port = free_port()
        self.dir = os.path.join(tmpdir, "redis-%d" % self.port)
        os.makedirs(self.dir, exist_ok=True)
        self.proc = None
        self.start()

    @property
    def url(self):
        return "redis://127.0.0.1:%d" % self.port

    def start(self):
        self.proc = subprocess.Popen(
            [self.exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", self.dir],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        end = time.monotonic() + PORT_WAIT
        while True:
            try:
                if self.command("PING") == "PONG":
                    return
            except (OSError, RuntimeError):
                pass
            if self.proc.poll() is not None:
                raise AssertionError("redis-server exited with %r" % self.proc.returncode)
            if time.monotonic() >= end:
                self.proc.kill()
                self.proc.wait(5)
                raise AssertionError("redis-server did not answer on port %d" % self.port)
            time.sleep(0.02)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(15)
        self.proc = None

    def command(self, *args):
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
            s.sendall(_resp_encode(args))
            with s.makefile("rb") as f:
                return _resp_read(f)


# ---- nginx -----------------------------------------------------------------------------------

NGINX_CONF = """\
daemon off;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
{user}
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    upstream modelwrap {{
{servers}
        keepalive 32;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://modelwrap;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_next_upstream off;
        }}
    }}
}}
"""


class Nginx:
    """Debian's nginx as the gateway: round-robin over the given loopback ports."""

    def __init__(self, tmpdir, upstream_ports):
        self.exe = need("nginx")
        self.port = free_port()
        self.dir = os.path.join(tmpdir, "nginx-%d" % self.port)
        os.makedirs(self.dir, exist_ok=True)
        conf = os.path.join(self.dir, "nginx.conf")
        with open(conf, "w") as f:
            f.write(NGINX_CONF.format(
                dir=self.dir, port=self.port,
                user="user root;" if os.geteuid() == 0 else "",
                servers="\n".join("        server 127.0.0.1:%d;" % p for p in upstream_ports)))
        self.proc = subprocess.Popen([self.exe, "-p", self.dir, "-c", conf],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     stdin=subprocess.DEVNULL)
        try:
            wait_port(self.port, self.proc)
        except AssertionError:
            self.stop()
            raise AssertionError("nginx did not start: " + self.errors())

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def errors(self):
        try:
            with open(os.path.join(self.dir, "error.log")) as f:
                return f.read()[-2000:]
        except OSError:
            return ""

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


# ---- modelwrap -------------------------------------------------------------------------------


def clean_env(extra=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELWRAP_")}
    env.update({"MODELWRAP_LOG_LEVEL": "info", "MODELWRAP_ENV_FILE": ""})
    env.update(extra or {})
    return env


def create_key(keys_file, key_id, scopes="predict,read", rate=None, burst=None):
    """`modelwrap keys create`; returns the key (shown once)."""
    args = [BIN, "keys", "create", "--id", key_id, "--scopes", scopes, "--file", keys_file]
    if rate:
        args += ["--rate-limit", rate]
    if burst:
        args += ["--burst", str(burst)]
    r = subprocess.run(args, cwd=ROOT, env=clean_env(), capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    key = r.stdout.strip().splitlines()[0].strip()
    assert key, r.stdout
    return key


class Replica:
    """One modelwrap process on a free loopback port. Its stderr (JSON lines) is parsed into
    `logs`; its stdout (the audit trail) goes to a file so that it never blocks the server."""

    def __init__(self, tmpdir, env=None, args=()):
        self.logs = []
        self.raw = []
        self.port = None
        self._ready = threading.Event()
        self.audit_path = os.path.join(tmpdir, "audit-%d-%d.jsonl" % (os.getpid(), id(self)))
        self._audit = open(self.audit_path, "wb")
        argv = [BIN, "serve", "--host", "127.0.0.1", "--port", "0"] + list(args)
        self.proc = subprocess.Popen(argv, cwd=ROOT, env=clean_env(env), stdin=subprocess.DEVNULL,
                                     stdout=self._audit, stderr=subprocess.PIPE)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        if not self._ready.wait(START_TIMEOUT) or self.port is None:
            self.kill()
            raise AssertionError("modelwrap did not start:\n" + "".join(self.raw[-40:]))

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

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def count(self, msg, **fields):
        return sum(1 for r in list(self.logs)
                   if r.get("msg") == msg and all(r.get(k) == v for k, v in fields.items()))

    def wait_count(self, msg, n, timeout=10, **fields):
        """Waits (bounded) until at least n log lines match; returns how many do. Request lines
        reach stderr up to 100 ms after the answer (per-thread log buffers)."""
        end = time.monotonic() + timeout
        while self.count(msg, **fields) < n and time.monotonic() < end:
            time.sleep(0.02)
        return self.count(msg, **fields)

    def settled_count(self, msg, **fields):
        """count() once the request lines of answers already received have been written: the
        server writes its per-thread log buffers at least every 100 ms."""
        time.sleep(0.3)
        return self.count(msg, **fields)

    def wait_log(self, msg, timeout=10, **fields):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.count(msg, **fields):
                return
            time.sleep(0.02)
        raise AssertionError("no log line %r %r in:\n%s" % (msg, fields, "".join(self.raw[-30:])))

    def stop(self, timeout=30):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise
        self._reader.join(5)
        self._audit.close()
        return rc

    def check_stop(self):
        """Stops the replica and asserts a clean exit (status 0: drained, no sanitizer report)."""
        rc = self.stop()
        assert rc == 0, "modelwrap exited with %r:\n%s" % (rc, "".join(self.raw[-40:]))

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self._audit.close()


# ---- traffic ---------------------------------------------------------------------------------


class Result:
    def __init__(self, t, status, headers, body):
        self.t = t
        self.status = status
        self.headers = headers
        self.body = body


def blast(url, headers, rate, duration, threads=8):
    """Sends GET url at `rate` requests/s for `duration` s, open loop (request i is due at
    i / rate, whatever the answers), from `threads` keep-alive sessions. Returns the results
    in send order."""
    n = int(rate * duration)
    results = [None] * n
    counter = itertools.count()
    lock = threading.Lock()
    t0 = time.monotonic() + 0.05

    def run():
        s = requests.Session()
        while True:
            with lock:
                i = next(counter)
            if i >= n:
                break
            delay = t0 + i / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            t = time.monotonic()
            r = s.get(url, headers=headers, timeout=30)
            results[i] = Result(t, r.status_code, r.headers, r.text)
        s.close()

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return results


def window(results):
    """Seconds between the first and the last request sent."""
    return results[-1].t - results[0].t if len(results) > 1 else 0.0


def statuses(results):
    out = {}
    for r in results:
        out[r.status] = out.get(r.status, 0) + 1
    return out


def gcra_expected(times, rate, burst, shares=1):
    """How many requests sent at `times` (seconds) a perfect limiter of `rate`/s with `burst`
    accepts; with shares > 1, request i goes to share i % shares (round robin), each with its
    part of the rate and ceil(burst / shares). Modelling the actual send times keeps client-side
    stalls (a busy CI machine) out of the comparison."""
    interval = shares / rate
    span = -(-burst // shares) * interval
    tat = [None] * shares
    accepted = 0
    for i, t in enumerate(sorted(times)):
        k = i % shares
        cur = t if tat[k] is None or tat[k] < t else tat[k]
        if cur + interval - t <= span + 1e-9:
            tat[k] = cur + interval
            accepted += 1
    return accepted


def assert_within(accepted, expected, tolerance, what):
    assert abs(accepted - expected) <= tolerance * expected, \
        "%s: %d accepted, expected %.1f +- %d%%" % (what, accepted, expected, tolerance * 100)
