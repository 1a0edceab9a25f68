"""A real forward proxy for the egress tests: Debian's tinyproxy on a free loopback port in a
temporary folder, with optional Basic authentication; its log shows every request it relayed."""
import os
import subprocess

from limit_util import free_port, need, wait_port


class Tinyproxy:
    def __init__(self, tmpdir, user=None, password=None):
        self.dir = os.path.join(tmpdir, "tinyproxy")
        os.makedirs(self.dir, exist_ok=True)
        self.port = free_port()
        self.log = os.path.join(self.dir, "tinyproxy.log")
        self.conf = os.path.join(self.dir, "tinyproxy.conf")
        lines = ["Port %d" % self.port, "Listen 127.0.0.1", "Timeout 30",
                 "LogFile \"%s\"" % self.log, "LogLevel Info", "MaxClients 20",
                 "Allow 127.0.0.1", "DisableViaHeader Yes"]
        if user:
            lines.append("BasicAuth %s %s" % (user, password))
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.proc = None
        self.start()

    def start(self):
        self.proc = subprocess.Popen([need("tinyproxy"), "-d", "-c", self.conf],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        wait_port(self.port, self.proc)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None

    def url(self, user=None, password=None):
        cred = "%s:%s@" % (user, password) if user else ""
        return "http://%s127.0.0.1:%d" % (cred, self.port)

    def requests(self):
        """The request lines tinyproxy logged ("GET http://127.0.0.1:N/jwks HTTP/1.1")."""
        try:
            with open(self.log, errors="replace") as f:
                text = f.read()
        except FileNotFoundError:
            return []
        out = []
        for line in text.splitlines():
            i = line.find("Request (file descriptor")
            if i >= 0:
                out.append(line[line.index("):", i) + 2:].strip())
        return out
