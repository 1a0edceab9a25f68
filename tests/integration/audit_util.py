"""Helpers of the audit tests: a real rsyslogd (Debian) collecting on free loopback TCP and UDP
ports into a file (%rawmsg%), an RFC 5424 splitter, a Common Event Format parser written here
(header escapes \\| and \\\\, extension escapes \\= \\\\ \\n \\r), audit file readers, polling and
wrk (Debian) runs."""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time

SANITIZED = os.environ.get("MW_SANITIZED") == "1"
WAIT = 60 if SANITIZED else 20


def need(tool):
    """The path of a required tool; a missing one fails the test loudly (never a skip)."""
    path = shutil.which(tool) or next((p for p in ("/usr/sbin/" + tool, "/usr/bin/" + tool)
                                       if os.path.exists(p)), None)
    assert path, "%s is not installed: run scripts/install-deps.sh test" % tool
    return path


def free_port(kind=socket.SOCK_STREAM):
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(pred, timeout=WAIT, what="condition"):
    """Polls pred() until it returns a true value, which is returned."""
    end = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > end:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.02)


# ---- rsyslog ----------------------------------------------------------------------------------


class Rsyslog:
    """rsyslogd in the foreground with imtcp (octet counting is detected) and imudp on loopback,
    writing each message's %rawmsg% as one line of `path` (TCP) or `udp_path` (UDP). rsyslog
    escapes control characters on receive (#012): the audit lines never carry raw ones.

    Every instance is recorded in `live`; conftest's autouse fixture stops them all when the test
    ends, so a test that restarts its collector (or fails half-way) leaves no daemon behind."""

    live = []

    def __init__(self, tmpdir, tcp_port=None, udp_port=None):
        self.exe = need("rsyslogd")
        self.dir = os.path.join(tmpdir, "rsyslog")
        os.makedirs(os.path.join(self.dir, "work"), exist_ok=True)  # must exist before start
        self.path = os.path.join(self.dir, "audit.log")
        self.udp_path = os.path.join(self.dir, "audit-udp.log")
        self.tcp_port = tcp_port or free_port()
        self.udp_port = udp_port or free_port(socket.SOCK_DGRAM)
        self.conf = os.path.join(self.dir, "rsyslog.conf")
        self.pidfile = os.path.join(self.dir, "rsyslogd.pid")
        with open(self.conf, "w") as f:
            f.write("""
global(workDirectory="{d}/work" maxMessageSize="64k")
module(load="imtcp")
module(load="imudp")
template(name="raw" type="string" string="%rawmsg%\\n")
ruleset(name="tcp") {{
  action(type="omfile" file="{d}/audit.log" template="raw" asyncWriting="off" flushOnTXEnd="on")
}}
ruleset(name="udp") {{
  action(type="omfile" file="{d}/audit-udp.log" template="raw" asyncWriting="off" flushOnTXEnd="on")
}}
input(type="imtcp" address="127.0.0.1" port="{t}" ruleset="tcp")
input(type="imudp" address="127.0.0.1" port="{u}" ruleset="udp")
*.* action(type="omfile" file="{d}/self.log")
""".format(d=self.dir, t=self.tcp_port, u=self.udp_port))
        check = subprocess.run([self.exe, "-N1", "-f", self.conf], capture_output=True, text=True,
                               timeout=60)
        assert check.returncode == 0, "bad rsyslog config:\n" + check.stdout + check.stderr
        self.proc = None
        Rsyslog.live.append(self)
        self.start()

    def start(self):
        if os.path.exists(self.pidfile):
            os.unlink(self.pidfile)
        self.proc = subprocess.Popen([self.exe, "-n", "-f", self.conf, "-i", self.pidfile],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        end = time.monotonic() + WAIT
        while True:
            if self.proc.poll() is not None:
                raise AssertionError("rsyslogd exited: " + self.proc.stderr.read().decode())
            try:
                with socket.create_connection(("127.0.0.1", self.tcp_port), timeout=0.5):
                    break
            except OSError:
                if time.monotonic() > end:
                    raise AssertionError("rsyslogd does not listen on %d" % self.tcp_port)
                time.sleep(0.02)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(30)
        self.proc = None

    @classmethod
    def stop_all(cls):
        while cls.live:
            cls.live.pop().stop()

    def lines(self, udp=False):
        """The messages received so far over TCP (or UDP), raw, without the line end."""
        path = self.udp_path if udp else self.path
        if not os.path.exists(path):
            return []
        with open(path, "rb") as f:
            data = f.read()
        return [l.decode("utf-8") for l in data.split(b"\n")[:-1]]

    def messages(self, udp=False):
        return [parse_syslog(l) for l in self.lines(udp)]


SYSLOG_RE = re.compile(r"^<(\d{1,3})>1 (\S+) (\S+) (\S+) (\S+) (\S+) (-|\[.*?\]) (.*)$", re.S)


def parse_syslog(line):
    """Splits an RFC 5424 message; returns a dict with pri, timestamp, host, app, procid, msgid,
    msg. Fails the test on anything else."""
    m = SYSLOG_RE.match(line)
    assert m, "not an RFC 5424 message: %r" % line[:200]
    return {"pri": int(m.group(1)), "timestamp": m.group(2), "host": m.group(3),
            "app": m.group(4), "procid": m.group(5), "msgid": m.group(6), "msg": m.group(8)}


# ---- CEF ---------------------------------------------------------------------------------------

KEY_RE = re.compile(r"^[A-Za-z0-9_]+$")


def parse_cef(line):
    """Parses a CEF line into (header: list of 7 strings, extensions: dict). Fails the test on a
    malformed line, an unknown escape or a key given twice."""
    assert line.startswith("CEF:"), line[:80]
    i, header = 4, []
    while len(header) < 7:
        field = []
        while True:
            assert i < len(line), "CEF header ends early: %r" % line[:200]
            c = line[i]
            if c == "\\":
                assert line[i + 1] in "\\|", "bad header escape in %r" % line[:200]
                field.append(line[i + 1])
                i += 2
                continue
            i += 1
            if c == "|":
                break
            field.append(c)
        header.append("".join(field))
    ext = line[i:]
    # Every unescaped '=' ends a key, which begins after the last space before it.
    eqs, j = [], 0
    while j < len(ext):
        if ext[j] == "\\":
            j += 2
            continue
        if ext[j] == "=":
            start = ext.rfind(" ", 0, j) + 1
            assert start < j and (not eqs or start > eqs[-1][1]), "bad key at %d: %r" % (j, ext)
            assert KEY_RE.match(ext[start:j]), "bad key %r" % ext[start:j]
            eqs.append((start, j))
        j += 1
    assert not ext or (eqs and eqs[0][0] == 0), "extension does not start with a key: %r" % ext
    out = {}
    for n, (start, eq) in enumerate(eqs):
        end = eqs[n + 1][0] - 1 if n + 1 < len(eqs) else len(ext)
        key = ext[start:eq]
        assert key not in out, "key %s given twice" % key
        out[key] = _cef_unescape(ext[eq + 1:end])
    return header, out


def _cef_unescape(v):
    out, i = [], 0
    while i < len(v):
        c = v[i]
        if c == "\\":
            n = v[i + 1]
            assert n in "\\=nr", "bad extension escape \\%s in %r" % (n, v)
            out.append({"n": "\n", "r": "\r"}.get(n, n))
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


def cef_expected(raw):
    """What a byte string must read back as in CEF: invalid UTF-8 and controls other than LF/CR
    (DEL, the C1 controls and U+2028/U+2029 too) become U+FFFD."""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    return "".join("\ufffd" if (ord(c) < 0x20 and c not in "\n\r") or c == "\x7f" or
                   "\x80" <= c <= "\x9f" or c in "\u2028\u2029" else c for c in text)


# ---- audit files -------------------------------------------------------------------------------


def read_lines(path):
    """The lines of an audit file; asserts that it holds whole lines only."""
    if not os.path.exists(path):
        return []
    with open(path, "rb") as f:
        data = f.read()
    assert not data or data.endswith(b"\n"), "partial last line: %r" % data[-200:]
    return [l.decode("utf-8") for l in data.split(b"\n")[:-1]]


def live_lines(path):
    """The complete lines of an audit file a running server is still writing: a record is whole
    once its newline is written, so a last line without one is left for a later read."""
    if not os.path.exists(path):
        return []
    with open(path, "rb") as f:
        data = f.read()
    return [l.decode("utf-8") for l in data.split(b"\n")[:-1]]


def read_json(path):
    return [json.loads(l) for l in read_lines(path)]


def requests_only(records):
    return [r for r in records if r["type"] == "request"]


def events_only(records):
    return [r for r in records if r["type"] == "security_event"]


# ---- wrk ----------------------------------------------------------------------------------------

WRK_RE = re.compile(r"(\d+) requests in ([\d.]+)(m?s)")


def run_wrk(url, seconds, threads=2, connections=16, background=False):
    """Runs wrk against url; returns the Popen when background, else (requests completed,
    non-2xx/3xx responses, socket errors line, output)."""
    argv = [need("wrk"), "-t%d" % threads, "-c%d" % connections, "-d%ds" % seconds, url]
    if background:
        return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60).stdout
    return parse_wrk(out)


def parse_wrk(out):
    m = WRK_RE.search(out)
    assert m, "unexpected wrk output:\n" + out
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return int(m.group(1)), int(bad.group(1)) if bad else 0, out
