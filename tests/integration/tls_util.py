"""Helpers of the transport-security tests: a test PKI made with openssl at run time, HTTPS and
raw-socket clients (optionally from another loopback source address), curl, nginx in front of
modelwrap with deploy/nginx/modelwrap.conf, and a start-up that is expected to fail."""
import http.client
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time

import pytest

from conftest import BIN, ROOT, SANITIZED

NGINX = "/usr/sbin/nginx"
TESTSSL = shutil.which("testssl") or shutil.which("testssl.sh") or "/usr/bin/testssl"


def need(path):
    """A tool the tests cannot do without: missing is a failure (CI installs it), not a skip."""
    assert path and os.path.exists(path), "required tool missing: %s (scripts/install-deps.sh)" % path
    return path


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)


class Pki:
    """CA-signed server certificates (RSA, ECDSA, a second one for reloads), an expired one, a
    client CA with good and bad client certificates. Files live in self.dir."""

    def __init__(self, d):
        self.dir = d
        need(shutil.which("openssl"))
        self._ca("ca", "modelwrap test CA")
        self._ca("client-ca", "modelwrap test client CA")
        self._ca("rogue-ca", "rogue CA")
        server_ext = ("subjectAltName=DNS:localhost,IP:127.0.0.1\n"
                      "extendedKeyUsage=serverAuth\nkeyUsage=digitalSignature,keyEncipherment\n")
        client_ext = ("subjectAltName=DNS:svc-a.example,URI:spiffe://example.org/svc-a\n"
                      "extendedKeyUsage=clientAuth\nkeyUsage=digitalSignature\n")
        self._leaf("server-rsa", "/CN=localhost", "rsa", "ca", server_ext)
        self._leaf("server-ec", "/CN=localhost", "ec", "ca", server_ext)
        self._leaf("server-next", "/O=Reloaded/CN=localhost", "ec", "ca", server_ext)
        self._leaf("client", "/O=Example/CN=svc-a", "ec", "client-ca", client_ext)
        self._leaf("client-rogue", "/O=Example/CN=svc-a", "ec", "rogue-ca", client_ext)
        self._leaf("client-wrong-eku", "/CN=svc-b", "ec", "client-ca",
                   "extendedKeyUsage=serverAuth\n")
        # expired yesterday: a self-signed certificate with a negative validity
        key, csr, crt = self.p("expired.key"), self.p("expired.csr"), self.p("expired.crt")
        run(["openssl", "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out",
             csr, "-subj", "/CN=localhost"])
        run(["openssl", "x509", "-req", "-in", csr, "-signkey", key, "-days", "-1", "-out", crt])

    def p(self, name):
        return os.path.join(self.dir, name)

    def _newkey(self, kind):
        return ["-newkey", "rsa:2048"] if kind == "rsa" else \
            ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]

    def _ca(self, name, cn):
        run(["openssl", "req", "-x509", *self._newkey("ec"), "-nodes", "-keyout",
             self.p(name + ".key"), "-out", self.p(name + ".crt"), "-days", "365", "-subj",
             "/CN=" + cn, "-addext", "basicConstraints=critical,CA:TRUE", "-addext",
             "keyUsage=critical,keyCertSign,cRLSign"])

    def _leaf(self, name, subj, kind, ca, ext):
        key, csr, crt = self.p(name + ".key"), self.p(name + ".csr"), self.p(name + ".crt")
        with open(self.p(name + ".ext"), "w") as f:
            f.write(ext)
        run(["openssl", "req", "-new", *self._newkey(kind), "-nodes", "-keyout", key, "-out", csr,
             "-subj", subj])
        run(["openssl", "x509", "-req", "-in", csr, "-CA", self.p(ca + ".crt"), "-CAkey",
             self.p(ca + ".key"), "-CAcreateserial", "-days", "365", "-extfile",
             self.p(name + ".ext"), "-out", crt])

    def server_args(self, name="server-rsa"):
        return ["--tls-cert", self.p(name + ".crt"), "--tls-key", self.p(name + ".key")]


@pytest.fixture(scope="session")
def pki():
    d = tempfile.mkdtemp(prefix="mw-pki-")
    yield Pki(d)
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def tmp_path_str():
    d = tempfile.mkdtemp(prefix="mw-tls-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def ssl_context(pki, cert=None, tls_min=None, tls_max=None, ciphers=None):
    ctx = ssl.create_default_context(cafile=pki.p("ca.crt"))
    if cert:
        ctx.load_cert_chain(pki.p(cert + ".crt"), pki.p(cert + ".key"))
    if tls_min:
        ctx.minimum_version = tls_min
    if tls_max:
        ctx.maximum_version = tls_max
    if ciphers:
        ctx.set_ciphers(ciphers)
    return ctx


class Response:
    def __init__(self, status, headers, body, cert, cipher, version):
        self.status, self.headers, self.body = status, headers, body
        self.cert, self.cipher, self.version = cert, cipher, version

    def json(self):
        return json.loads(self.body)

    def header(self, name):
        return self.headers.get(name.lower())


def https_request(port, path, pki, cert=None, method="GET", body=None, headers=None,
                  source=None, conn=None, timeout=20, **ctx_kw):
    """One HTTPS request to localhost:port (certificate checked against the test CA). With conn,
    reuses that keep-alive connection. Returns a Response."""
    if conn is None:
        conn = https_connection(port, pki, cert=cert, source=source, timeout=timeout, **ctx_kw)
    hdrs = dict(headers or {})
    if body is not None and "Content-Type" not in hdrs:
        hdrs["Content-Type"] = "application/json"
    conn.request(method, path, body=body, headers=hdrs)
    resp = conn.getresponse()
    data = resp.read()
    sock = conn.sock
    return Response(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data,
                    sock.getpeercert() if sock else None, sock.cipher() if sock else None,
                    sock.version() if sock else None)


def https_connection(port, pki, cert=None, source=None, timeout=20, **ctx_kw):
    conn = http.client.HTTPSConnection("localhost", port, timeout=timeout,
                                       context=ssl_context(pki, cert=cert, **ctx_kw),
                                       source_address=(source, 0) if source else None)
    conn.connect()
    return conn


def subject_cn(cert):
    for rdn in cert.get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                return value
    return None


def subject_org(cert):
    for rdn in cert.get("subject", ()):
        for key, value in rdn:
            if key == "organizationName":
                return value
    return None


def http_request(port, path, method="GET", body=None, headers=None, source=None, timeout=20):
    """Plain HTTP to 127.0.0.1:port, optionally from another loopback address. Returns
    (status, headers dict with lower-case names, body bytes)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout,
                                      source_address=(source, 0) if source else None)
    hdrs = dict(headers or {})
    if body is not None and "Content-Type" not in hdrs:
        hdrs["Content-Type"] = "application/json"
    conn.request(method, path, body=body, headers=hdrs)
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data


def curl(*args, timeout=30):
    """Runs curl; returns (exit code, stdout text, stderr text)."""
    p = subprocess.run([need(shutil.which("curl")), "-sS", *args], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=timeout)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def renegotiation_probe(port, renegotiate=True):
    """TLS 1.2 with openssl s_client: optionally asks for a client-initiated renegotiation ("R"),
    then sends a request on the same connection. Returns s_client's output: it holds the
    answer only if the connection survived. Deterministic, unlike testssl.sh's check, which
    reads s_client's exit status (0 whether or not the server closed the connection)."""
    # (no -ign_eof: s_client takes "R" as a command only without it; stdin stays open until the
    # answer had time to arrive, since s_client closes the connection at the end of its input)
    pause = 3.0 if SANITIZED else 1.5
    p = subprocess.Popen([need(shutil.which("openssl")), "s_client", "-tls1_2", "-connect",
                          "127.0.0.1:%d" % port, "-servername", "localhost"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        time.sleep(pause)  # the handshake
        if renegotiate:
            p.stdin.write(b"R\n")
            p.stdin.flush()
            time.sleep(pause)
        p.stdin.write(b"GET /api/v1/health HTTP/1.1\r\nHost: localhost\r\n\r\n")
        p.stdin.flush()
        time.sleep(pause)
        p.stdin.close()
    except BrokenPipeError:
        pass  # s_client already exited: the server closed the connection
    timer = threading.Timer(30, p.kill)
    timer.start()
    out = p.stdout.read()
    timer.cancel()
    p.wait(10)
    return out.decode("utf-8", "replace")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, host="127.0.0.1", timeout=20):
    end = time.time() + timeout
    while time.time() < end:
        try:
            socket.create_connection((host, port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("nothing listens on %s:%d" % (host, port))


def start_failure(args, timeout=None):
    """Runs `modelwrap serve` expected to refuse to start; returns (exit code, stderr text)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELWRAP_")}
    env.update({"MODELWRAP_ENV_FILE": "/dev/null", "MODELWRAP_LOG_LEVEL": "info"})
    argv = [BIN, "serve", "--port", "0", "--auth", "none"] + list(args)
    p = subprocess.run(argv, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=timeout or (60 if SANITIZED else 20))
    return p.returncode, p.stderr.decode("utf-8", "replace")


def wait_file_line(path, needle, timeout=10):
    """The first line of a file (written by another process) that contains needle."""
    end = time.time() + timeout
    while time.time() < end:
        if os.path.exists(path):
            with open(path, errors="replace") as f:
                for line in f:
                    if needle in line:
                        return line
        time.sleep(0.05)
    raise AssertionError("no line with %r in %s" % (needle, path))


def key_file(directory):
    """A key file with one read-only key, made with `modelwrap keys create` (needed where
    MODELWRAP_AUTH=none is refused: any non-loopback address). Returns its path."""
    path = os.path.join(directory, "keys.json")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELWRAP_")}
    env["MODELWRAP_ENV_FILE"] = "/dev/null"
    subprocess.run([BIN, "keys", "create", "--id", "tls-test", "--scopes", "read", "--file",
                    path], check=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                   cwd=ROOT, timeout=60)
    return path


def wait_request_log(server, request_id, timeout=10):
    return server.wait_log(lambda r: r.get("msg") == "request" and r.get("request_id") == request_id,
                           timeout)


class Nginx:
    """Debian's nginx in front of modelwrap, configured with deploy/nginx/modelwrap.conf: the
    template's ${...} placeholders are filled in, and a minimal main configuration includes it."""

    def __init__(self, workdir, listen_port, upstream_port, cert, key):
        need(NGINX)
        self.port = listen_port
        self.dir = workdir
        with open(os.path.join(ROOT, "deploy", "nginx", "modelwrap.conf")) as f:
            template = f.read()
        values = {"NGINX_LISTEN": "127.0.0.1:%d" % listen_port,
                  "SERVER_NAME": "localhost",
                  "TLS_CERT": cert, "TLS_KEY": key,
                  "MODELWRAP_UPSTREAM": "127.0.0.1:%d" % upstream_port}
        site = re.sub(r"\$\{([A-Z_]+)\}", lambda m: values[m.group(1)], template)
        assert "${" not in site
        with open(os.path.join(workdir, "modelwrap.conf"), "w") as f:
            f.write(site)
        for sub in ("body", "proxy", "logs"):
            os.makedirs(os.path.join(workdir, sub), exist_ok=True)
        main = """
worker_processes 1;
pid %(d)s/nginx.pid;
error_log %(d)s/logs/error.log warn;
events { worker_connections 256; }
http {
    access_log %(d)s/logs/access.log;
    client_body_temp_path %(d)s/body;
    proxy_temp_path %(d)s/proxy;
    fastcgi_temp_path %(d)s/proxy;
    uwsgi_temp_path %(d)s/proxy;
    scgi_temp_path %(d)s/proxy;
    include %(d)s/modelwrap.conf;
}
""" % {"d": workdir}
        conf = os.path.join(workdir, "nginx.conf")
        with open(conf, "w") as f:
            f.write(main)
        check = subprocess.run([NGINX, "-t", "-p", workdir, "-c", conf, "-g", "daemon off;"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert check.returncode == 0, check.stderr.decode()
        self.proc = subprocess.Popen([NGINX, "-p", workdir, "-c", conf, "-g", "daemon off;"],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        wait_port(listen_port)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
