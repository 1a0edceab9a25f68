"""Abuse limits: clients that trickle a request (slowloris) or flood connections are cut off while
a normal client keeps getting answers; URI length (414) and JSON depth and size (400) limits.
Everything stays on loopback and is bounded (a few hundred sockets, a few seconds)."""
import json
import socket
import threading
import time

import pytest
import requests

from conftest import IRIS_ROW, SANITIZED, assert_error, post_json
from tls_util import http_request

PREDICT = "/api/v1/predict"


class Trickler(threading.Thread):
    """Sends `head` at once, then one byte of `tail` every `gap` seconds, and records when the
    server closed the connection and what it answered."""

    def __init__(self, port, head, tail=b"X" * 200, gap=0.4):
        super().__init__(daemon=True)
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.head, self.tail, self.gap = head, tail, gap
        self.t0 = time.time()
        self.closed_after = None
        self.answer = b""

    def run(self):
        try:
            self.sock.sendall(self.head)
            for b in self.tail:
                time.sleep(self.gap)
                self.sock.sendall(bytes([b]))
                self.sock.setblocking(False)
                try:
                    got = self.sock.recv(65536)
                    self.answer += got
                    if got == b"":
                        break
                except BlockingIOError:
                    pass
                finally:
                    self.sock.setblocking(True)
        except OSError:
            pass
        self.closed_after = time.time() - self.t0
        self.sock.close()


def test_slowloris_is_cut_off_while_others_are_served(make_server):
    s = make_server(["--receive-timeout", "2", "--idle-timeout", "2"])
    port = s.port
    slow = []
    for _ in range(5):  # headers that never end
        slow.append(("headers", Trickler(port, b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nX-A: ")))
    for _ in range(5):  # a request line that never ends
        slow.append(("line", Trickler(port, b"GET /api/v1/heal")))
    for _ in range(5):  # a body that trickles in
        slow.append(("body", Trickler(port, b"POST /api/v1/predict HTTP/1.1\r\nHost: x\r\n"
                                            b"Content-Type: application/json\r\n"
                                            b"Content-Length: 5000\r\n\r\n{\"data\":[")))
    for _, t in slow:
        t.start()
    # meanwhile a normal client is served, on new and on kept-alive connections
    served = 0
    session = requests.Session()
    t_end = time.time() + 3
    while time.time() < t_end:
        assert session.get(s.url("/api/v1/health"), timeout=10).status_code == 200
        assert post_json(s.url(PREDICT), {"data": [IRIS_ROW]}).status_code == 200
        served += 2
        time.sleep(0.05)
    assert served >= 20
    for kind, t in slow:
        t.join(30)
        assert not t.is_alive(), kind
        # cut at the deadline: receive timeout (2 s) plus the idle timeout for a request line
        # that never completes, plus the watchdog's period; never served to the end (80 s)
        limit = {"headers": 2, "line": 4, "body": 2}[kind] + (4 if SANITIZED else 2)
        assert t.closed_after < limit, (kind, t.closed_after)
        assert b"200 OK" not in t.answer
    # the trickled bodies are logged as 408 (the connection is closed without an answer:
    # libmicrohttpd would send one only after the whole body)
    s.wait_log(lambda r: r.get("msg") == "request" and r.get("status") == 408 and
               r.get("code") == "request_timeout")
    s.wait_log(lambda r: r.get("msg") == "connection closed: request not received in time")
    assert session.get(s.url("/api/v1/health"), timeout=10).status_code == 200


def test_connection_flood_from_one_address(make_server):
    s = make_server(["--max-connections-per-ip", "20", "--idle-timeout", "5"])
    held = []
    try:
        for _ in range(200):
            held.append(socket.create_connection(("127.0.0.1", s.port), timeout=10))
        time.sleep(0.3)
        # those over the limit are closed by the server at once: EOF or reset
        closed = 0
        for sock in held:
            sock.setblocking(False)
            try:
                if sock.recv(1) == b"":
                    closed += 1
            except BlockingIOError:
                pass
            except ConnectionError:
                closed += 1
        assert closed >= 170, closed
        # a client from another address is served meanwhile
        for _ in range(10):
            status, _, body = http_request(s.port, "/api/v1/health", source="127.0.0.2")
            assert status == 200, body
        s.wait_log(lambda r: r.get("msg") == "connection refused: per-address connection limit")
    finally:
        for sock in held:
            sock.close()
    # the address gets its places back when its connections close
    deadline = time.time() + 10
    while True:
        try:
            status, _, _ = http_request(s.port, "/api/v1/health")
            if status == 200:
                break
        except (ConnectionError, OSError):
            pass
        assert time.time() < deadline, "127.0.0.1 never got a connection back"
        time.sleep(0.1)


def test_uri_too_long(make_server):
    s = make_server(["--max-uri-bytes", "1024"])
    r = requests.get(s.url("/api/v1/health?pad=" + "a" * 1100), timeout=10)
    body = assert_error(r, 414, "uri_too_long")
    assert "1024" in body["error"]
    r = requests.get(s.url("/" + "a" * 1100), timeout=10)
    assert_error(r, 414, "uri_too_long")
    r = requests.get(s.url("/api/v1/health?pad=" + "a" * 900), timeout=10)
    assert r.status_code == 200


@pytest.mark.parametrize("depth", [33, 1000])
def test_json_too_deep(server, depth):
    body = '{"data":' + "[" * depth + "]" * depth + "}"
    r = requests.post(server.url(PREDICT), data=body, headers={"Content-Type": "application/json"},
                      timeout=10)
    err = assert_error(r, 400, "invalid_json")
    assert "deeper than 32" in err["error"]


def test_json_too_many_values(make_server):
    s = make_server(["--max-json-elements", "50"])
    assert post_json(s.url(PREDICT), {"data": [IRIS_ROW] * 9}).status_code == 200  # 47 values
    err = assert_error(post_json(s.url(PREDICT), {"data": [IRIS_ROW] * 10}), 400, "invalid_json")
    assert "more than 50 values" in err["error"]
    # a body of nothing but tiny values
    r = requests.post(s.url(PREDICT), data="[" + ",".join(["0"] * 100000) + "]",
                      headers={"Content-Type": "application/json"}, timeout=10)
    assert_error(r, 400, "invalid_json")
