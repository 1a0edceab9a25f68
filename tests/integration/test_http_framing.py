"""HTTP framing (RFC 9112 section 6), refusals made visible, NUL bytes, and the server-wide
connection limit, with raw sockets (curl and requests cannot send most of these).

CASES is the table: one row per request, the bytes sent, the status expected (0: closed without an
answer), whether the connection must close, who answers (modelwrap's JSON error, or libmicrohttpd's
own HTML, which docs/security.md lists) and the trace it must leave: an audit record of the request
with that outcome, or a connection-level security event (signature 271) with that reason; every
refusal also counts in modelwrap_requests_refused_total{reason}. fuzz/corpus/http_raw/ holds the
same requests as seeds (tests/integration/test_http_framing.py --write-seeds regenerates them)."""
import json
import os
import socket
import sys
import time

import pytest
import requests

from conftest import SANITIZED
from obs_util import parse_metrics, value

WAIT = 60 if SANITIZED else 20
# Every "at once" below is "well before the 30 s idle timeout": a generous bound, never a timing
# threshold.
AT_ONCE = 10
REFUSED = "modelwrap_requests_refused_total"
H = b"Host: x\r\n"
NEXT = b"GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n"  # pipelined after a smuggling attempt
JSON_ROW = b'{"data":[{"sepal_length":5.1,"sepal_width":3.5,"petal_length":1.4,"petal_width":0.2}]}'


def post(headers, body=b""):
    return b"POST /api/v1/predict HTTP/1.1\r\n" + H + b"Content-Type: application/json\r\n" + \
        headers + b"\r\n" + body


def chunked(data):
    return b"%x\r\n%s\r\n0\r\n\r\n" % (len(data), data)


# (id, bytes, status, closes, answer, trace)
#   answer: "json" (modelwrap's error body), "mhd" (libmicrohttpd's own HTML), None (no answer)
#   trace: ("audit", outcome) | ("event", reason) | None for requests that are served
CASES = [
    # ---- request smuggling: ambiguous framing is refused and the connection closed ----
    ("cl_conflict", post(b"Content-Length: 5\r\nContent-Length: 45\r\n", b"hello" + NEXT),
     400, True, "json", ("audit", "http.content_length_conflict")),
    ("cl_with_te", post(b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", b"0\r\n\r\n" + NEXT),
     400, True, "json", ("audit", "http.content_length_with_transfer_encoding")),
    ("te_space_before_colon_with_cl",
     post(b"Transfer-Encoding : chunked\r\nContent-Length: 3\r\n", b"abc" + NEXT),
     400, True, "json", ("audit", "http.header_name")),
    ("te_obs_fold", post(b"Transfer-Encoding: chu\r\n nked\r\n", b"0\r\n\r\n" + NEXT),
     400, True, "json", ("audit", "http.header_line")),
    ("te_gzip_chunked", post(b"Transfer-Encoding: gzip, chunked\r\n", b"0\r\n\r\n" + NEXT),
     400, True, "json", ("audit", "http.transfer_encoding")),
    ("te_not_chunked_last", post(b"Transfer-Encoding: chunked, gzip\r\n", b"0\r\n\r\n" + NEXT),
     400, True, "json", ("audit", "http.transfer_encoding")),
    ("te_twice", post(b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
                      b"0\r\n\r\n" + NEXT),
     400, True, "json", ("audit", "http.transfer_encoding")),
    ("te_in_http10", b"POST /api/v1/predict HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"
                     b"0\r\n\r\n",
     400, True, "json", ("audit", "http.transfer_encoding")),
    # libmicrohttpd does not report a header with an empty name: the accounting finds its bytes
    ("empty_header_name", b"GET /api/health HTTP/1.1\r\n" + H + b": empty\r\n\r\n",
     400, True, "json", ("audit", "http.header_line")),
    ("bad_char_in_name", b"GET /api/health HTTP/1.1\r\n" + H + b"X(A): b\r\n\r\n",
     400, True, "json", ("audit", "http.header_name")),
    ("nul_starts_a_line", b"GET /api/health HTTP/1.1\r\n" + H + b"\x00X: y\r\n\r\n" + NEXT,
     400, True, "json", ("audit", "http.header_line")),
    ("nul_in_header_value", b"GET /api/health HTTP/1.1\r\n" + H + b"X-A: a\x00b\r\n\r\n",
     400, True, "json", ("audit", "http.header_line")),
    # a NUL before the colon hides the colon from libmicrohttpd, which refuses the line itself
    ("nul_in_header_name", b"GET /api/health HTTP/1.1\r\n" + H + b"X-\x00A: b\r\n\r\n",
     400, True, "mhd", ("audit", "http.malformed")),
    ("cr_in_header_value", b"GET /api/health HTTP/1.1\r\n" + H + b"X-A: a\rb\r\n\r\n",
     400, True, "json", ("audit", "http.header_value")),
    ("no_host_http11", b"GET /api/health HTTP/1.1\r\n\r\n",
     400, True, "json", ("audit", "http.host")),
    ("two_hosts", b"GET /api/health HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
     400, True, "json", ("audit", "http.host")),
    ("space_in_uri", b"GET /api/health x HTTP/1.1\r\n" + H + b"\r\n",
     400, True, "json", ("audit", "http.uri_bytes")),
    # ---- NUL in the URI: refused, never truncated ----
    ("uri_pct00_docs", b"GET /docs/docs.css%00.png HTTP/1.1\r\n" + H + b"\r\n",
     400, True, "json", ("audit", "http.uri_nul")),
    ("uri_pct00_query", b"GET /api/health?a=%00 HTTP/1.1\r\n" + H + b"\r\n",
     400, True, "json", ("audit", "http.uri_nul")),
    ("uri_raw_nul", b"GET /docs/docs.css\x00.png HTTP/1.1\r\n" + H + b"\r\n",
     400, True, "json", ("audit", "http.uri_nul")),
    # ---- refusals inside libmicrohttpd (its HTML answer), now traced ----
    ("cl_2_pow_64", post(b"Content-Length: 18446744073709551616\r\n"),
     413, True, "mhd", ("audit", "http.content_length_too_large")),
    ("cl_malformed", post(b"Content-Length: 12abc\r\n"),
     400, True, "mhd", ("audit", "http.content_length_malformed")),
    ("chunk_size_overflow", post(b"Transfer-Encoding: chunked\r\n", b"FFFFFFFFFFFFFFFFFFFF\r\n"),
     413, True, "mhd", ("audit", "http.chunk_too_large")),
    ("chunk_malformed", post(b"Transfer-Encoding: chunked\r\n", b"zz\r\n"),
     400, True, "mhd", ("audit", "http.chunked_malformed")),
    ("header_line_without_colon", b"GET /api/health HTTP/1.1\r\n" + H + b"NoColon\r\n\r\n",
     400, True, "mhd", ("audit", "http.malformed")),
    ("headers_over_the_pool", b"GET /api/health HTTP/1.1\r\n" + H + b"X-Big: " + b"a" * 40000 +
     b"\r\n\r\n", 431, True, "mhd", ("audit", "http.headers_too_large")),
    ("thousands_of_tiny_headers", b"GET /api/health HTTP/1.1\r\n" + H + b"a:1\r\n" * 3000 +
     b"\r\n", 431, True, "mhd", ("audit", "http.headers_too_large")),
    ("request_line_over_the_pool", b"GET /" + b"a" * 40000 + b" HTTP/1.1\r\n" + H + b"\r\n",
     414, True, "mhd", ("event", "http.uri_too_long")),
    ("http_0_9", b"GET /\r\n", 400, True, "mhd", ("event", "http.malformed")),
    ("http_2_0", b"GET / HTTP/2.0\r\n" + H + b"\r\n",
     505, True, "mhd", ("event", "http.version_unsupported")),
    ("http_0_9_version", b"GET / HTTP/0.9\r\n" + H + b"\r\n",
     505, True, "mhd", ("event", "http.version_unsupported")),
    ("garbage_line", b"GARBAGE\r\n\r\n", 0, True, None, ("event", "conn.bad_request_line")),
    # ---- what must keep working ----
    ("plain", b"GET /api/health HTTP/1.1\r\n" + H + b"\r\n", 200, False, "ok", None),
    ("bare_lf", b"GET /api/health HTTP/1.1\n" + H.replace(b"\r", b"") + b"\n", 200, False, "ok",
     None),
    ("whitespace_values", b"GET /api/health HTTP/1.1\r\n" + H +
     b"X-A: a \r\nX-B:\r\nX-C: \t \r\n\r\n", 200, False, "ok", None),
    ("big_header", b"GET /api/health HTTP/1.1\r\n" + H + b"X-Big: " + b"b" * 15000 + b"\r\n\r\n",
     200, False, "ok", None),
    ("same_cl_twice", b"GET /api/health HTTP/1.1\r\n" + H +
     b"Content-Length: 0\r\nContent-Length: 0\r\n\r\n", 200, False, "ok", None),
    ("http10_no_host", b"GET /api/health HTTP/1.0\r\n\r\n", 200, True, "ok", None),
    ("chunked_predict", post(b"Transfer-Encoding: chunked\r\n", chunked(JSON_ROW)),
     200, False, "ok", None),
    ("cookie_and_utf8", b"GET /api/health?x=1&y=%41 HTTP/1.1\r\nCookie: a=b; c=d\r\n" + H +
     b"User-Agent: caf\xc3\xa9\r\n\r\n", 200, False, "ok", None),
    ("empty_line_first", b"\r\n" + NEXT, 200, False, "ok", None),
    ("pct_encoded_space", b"GET /api/health?a=%20b HTTP/1.1\r\n" + H + b"\r\n", 200, False, "ok",
     None),
]


def parse_response(data):
    """(status, headers dict (lower-case names), body, rest) of the first response in data, or
    None when data does not start with a complete HTTP/1.1 response."""
    end = data.find(b"\r\n\r\n")
    if not data.startswith(b"HTTP/1.1 ") or end < 0:
        return None
    lines = data[:end].split(b"\r\n")
    status = int(lines[0].split(b" ")[1])
    headers = {}
    for line in lines[1:]:
        name, _, v = line.partition(b":")
        headers[name.strip().lower().decode()] = v.strip().decode("latin-1")
    n = int(headers.get("content-length", "0"))
    body = data[end + 4:end + 4 + n]
    return status, headers, body, data[end + 4 + n:]


def exchange(port, raw, wait=AT_ONCE):
    """Sends raw, reads until the server closes or goes quiet for 1 s. (bytes, closed)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=wait)
    data = b""
    closed = False
    try:
        s.sendall(raw)
        deadline = time.monotonic() + wait
        s.settimeout(1.0)
        while time.monotonic() < deadline:
            try:
                d = s.recv(65536)
            except socket.timeout:
                if data:
                    break
                continue
            except ConnectionResetError:
                closed = True
                break
            if not d:
                closed = True
                break
            data += d
    finally:
        s.close()
    return data, closed


def metrics(srv):
    r = requests.get(srv.url("/metrics"), timeout=30)
    assert r.status_code == 200
    return parse_metrics(r.text)


def audit(srv):
    out = []
    for line in list(srv.stdout_lines):
        try:
            out.append(json.loads(line))
        except ValueError:
            pass
    return out


def wait_for(pred, what):
    end = time.monotonic() + WAIT
    while True:
        v = pred()
        if v:
            return v
        assert time.monotonic() < end, "timed out waiting for " + what
        time.sleep(0.05)


@pytest.fixture(scope="module")
def framing_server():
    from conftest import Server
    s = Server(["--max-connections-per-ip", "1000"])
    yield s
    assert s.stop() == 0, "".join(s.raw[-40:])


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_framing_case(framing_server, case):
    name, raw, status, closes, answer, trace = case
    s = framing_server
    reason = trace[1] if trace else None
    before = value(metrics(s), REFUSED, reason=reason) if reason else 0
    data, closed = exchange(s.port, raw)
    if status == 0:
        assert data == b"", data[:200]
    else:
        resp = parse_response(data)
        assert resp, data[:300]
        got, headers, body, rest = resp
        assert got == status, data[:400]
        if answer == "json":
            err = json.loads(body)
            assert set(err) == {"error", "code", "request_id"}, err
            assert err["request_id"] == headers["x-request-id"]
            assert headers["content-type"].startswith("application/json")
            assert headers["x-content-type-options"] == "nosniff"
            assert headers.get("connection") == "close"
            assert rest == b"", rest[:200]  # the pipelined request was not read as a request
        elif answer == "ok":
            assert b"HTTP/1.1 4" not in rest and b"HTTP/1.1 5" not in rest
    if closes:
        assert closed, "connection left open"
    elif status:
        assert not closed, "a keep-alive connection was closed"
    if trace is None:
        return
    kind, reason = trace
    # the counter of refusals by reason moves by exactly one
    wait_for(lambda: value(metrics(s), REFUSED, reason=reason) == before + 1,
             "%s{reason=%s} to reach %d" % (REFUSED, reason, before + 1))
    if kind == "audit":
        wait_for(lambda: [r for r in audit(s) if r.get("type") == "request" and
                          r.get("outcome") == reason and r.get("status") == status],
                 "an audit record with outcome " + reason)
    else:
        ev = wait_for(lambda: [r for r in audit(s) if r.get("type") == "security_event" and
                               r.get("signature") == 271 and r.get("outcome") == reason],
                      "a security event 271 with reason " + reason)
        assert ev[0]["client"] == "127.0.0.1"


def test_docs_css_nul_is_not_served(framing_server):
    """The NUL case of the issue: the truncated name must not be served."""
    data, _ = exchange(framing_server.port, b"GET /docs/docs.css%00.png HTTP/1.1\r\n" + H + b"\r\n")
    assert parse_response(data)[0] == 400


def test_garbage_after_a_request_on_a_kept_alive_connection(framing_server):
    s = framing_server
    before = value(metrics(s), REFUSED, reason="conn.bad_request_line")
    data, closed = exchange(s.port, NEXT + b"GARBAGE\r\n\r\n")
    assert parse_response(data)[0] == 200
    assert closed
    wait_for(lambda: value(metrics(s), REFUSED, reason="conn.bad_request_line") == before + 1,
             "the dropped request line to be counted")


def refused_total(srv):
    m = metrics(srv)
    return sum(v for (name, _), v in m["samples"].items() if name == REFUSED)


def test_normal_traffic_raises_no_refusal(framing_server):
    """Keep-alive requests, a client that closes between requests, connects and leaves, pipelines
    after Connection: close, speaks HTTP/1.0, uploads a chunked body: nothing is counted as
    refused and no security event 271 is written."""
    s = framing_server
    before = refused_total(s)
    events = len([r for r in audit(s) if r.get("signature") == 271])
    exchange(s.port, NEXT * 3)
    exchange(s.port, b"")
    exchange(s.port, b"GET /api/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" + NEXT)
    exchange(s.port, b"GET /api/health HTTP/1.0\r\n\r\n" + NEXT)
    exchange(s.port, post(b"Transfer-Encoding: chunked\r\n", chunked(JSON_ROW)) + NEXT)
    exchange(s.port, b"\r\n" + NEXT)
    sess = requests.Session()
    for _ in range(3):
        assert sess.get(s.url("/api/health"), timeout=10).status_code == 200
    sess.close()
    time.sleep(0.5)
    assert refused_total(s) == before
    assert len([r for r in audit(s) if r.get("signature") == 271]) == events


# ---- connection limits ----------------------------------------------------------------------


def idle_connections(port, n, source="127.0.0.1", request=True):
    """n connections; each has had one request answered (keep-alive) when request is True."""
    socks = []
    for _ in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(AT_ONCE)
        s.bind((source, 0))
        s.connect(("127.0.0.1", port))
        if request:
            s.sendall(NEXT)
            got = b""
            while b"\r\n\r\n" not in got:
                got += s.recv(4096)
            assert got.startswith(b"HTTP/1.1 200"), got
        socks.append(s)
    return socks


def closed_count(socks):
    n = 0
    for s in socks:
        s.setblocking(False)
        try:
            while True:
                d = s.recv(65536)
                if d == b"":
                    n += 1
                    break
        except BlockingIOError:
            pass
        except ConnectionError:
            n += 1
    return n


def get_from(port, source="127.0.0.1"):
    """One GET on a new connection from source; (status, body). Fails on a hang (AT_ONCE)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(AT_ONCE)
    try:
        s.bind((source, 0))
        s.connect(("127.0.0.1", port))
        s.sendall(b"GET /api/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            d = s.recv(65536)
            if not d:
                break
            data += d
    finally:
        s.close()
    resp = parse_response(data)
    assert resp, data[:200]
    return resp[0], resp[2]


def wait_served(port):
    """Until a new client is served again: connections the client closed still count until the
    server has seen them close."""
    end = time.monotonic() + WAIT
    while True:
        try:
            if get_from(port)[0] == 200:
                return
        except (OSError, AssertionError):
            pass
        assert time.monotonic() < end, "never served again"
        time.sleep(0.05)


def test_idle_keepalive_connections_make_room(make_server):
    """With 90 % of the limit held by idle keep-alive connections (more than one I/O thread's
    share), every new client is served at once; at the limit, the longest-idle one is closed."""
    s = make_server(["--max-connections", "40", "--max-connections-per-ip", "1000",
                     "--threads", "2"])
    held = idle_connections(s.port, 36)
    try:
        for _ in range(10):
            assert get_from(s.port)[0] == 200
        held += idle_connections(s.port, 4)
        for _ in range(10):
            assert get_from(s.port)[0] == 200
        assert closed_count(held) >= 1
    finally:
        for c in held:
            c.close()


def test_five_addresses_cannot_lock_everyone_out(make_server):
    s = make_server(["--max-connections", "50", "--max-connections-per-ip", "10",
                     "--threads", "2"])
    held = []
    try:
        for i in range(5):
            held += idle_connections(s.port, 10, source="127.0.0.%d" % (2 + i))
        for _ in range(5):
            assert get_from(s.port, source="127.0.0.9")[0] == 200
    finally:
        for c in held:
            c.close()


def test_over_the_limit_with_no_idle_connection_is_refused_at_once(make_server):
    """Connections busy receiving a request are not idle: the next one gets a JSON 503 with
    Retry-After (or is closed) at once, is counted and leaves a security event."""
    s = make_server(["--max-connections", "10", "--max-connections-per-ip", "1000",
                     "--threads", "2", "--receive-timeout", "60", "--idle-timeout", "60"])
    busy = []
    try:
        for _ in range(10):
            c = socket.create_connection(("127.0.0.1", s.port), timeout=AT_ONCE)
            c.sendall(b"GET /api/health HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            busy.append(c)
        time.sleep(0.3)
        t0 = time.monotonic()
        c = socket.create_connection(("127.0.0.1", s.port), timeout=AT_ONCE)
        data = b""
        try:
            while True:
                d = c.recv(65536)
                if not d:
                    break
                data += d
        except ConnectionResetError:
            pass
        c.close()
        assert time.monotonic() - t0 < AT_ONCE
        if data:
            status, headers, body, _ = parse_response(data)
            assert status == 503
            assert headers["retry-after"] == "1"
            err = json.loads(body)
            assert err["code"] == "overloaded" and err["request_id"] == headers["x-request-id"]
        for c in busy:  # the busy ones were not touched
            c.setblocking(False)
            with pytest.raises(BlockingIOError):
                c.recv(1)
    finally:
        for c in busy:
            c.close()
    # the refusal is counted and leaves a security event; the places come back
    wait_served(s.port)
    wait_for(lambda: value(metrics(s), REFUSED, reason="conn.limit") >= 1, "conn.limit counted")
    wait_for(lambda: [r for r in audit(s) if r.get("signature") == 271 and
                      r.get("outcome") == "conn.limit"], "a conn.limit security event")
    for _ in range(20):
        assert get_from(s.port)[0] == 200


def test_the_count_is_exact(make_server):
    """Open and close many connections on every thread: the limit still admits exactly its
    number of busy connections afterwards (nothing leaked, nothing double-counted): all eight are
    kept, the ninth is refused."""
    s = make_server(["--max-connections", "8", "--max-connections-per-ip", "1000",
                     "--threads", "2", "--receive-timeout", "60", "--idle-timeout", "60"])
    for _ in range(5):
        socks = idle_connections(s.port, 20, request=False)
        for c in socks:
            c.close()
    wait_served(s.port)
    for _ in range(30):
        assert get_from(s.port)[0] == 200
    time.sleep(0.5)
    before = value(metrics(s), REFUSED, reason="conn.limit")
    busy = []
    try:
        for _ in range(8):
            c = socket.create_connection(("127.0.0.1", s.port), timeout=AT_ONCE)
            c.sendall(b"GET /api/health HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            busy.append(c)
        time.sleep(0.3)
        for c in busy:
            c.setblocking(False)
            with pytest.raises(BlockingIOError):
                c.recv(1)
            c.setblocking(True)
        extra = socket.create_connection(("127.0.0.1", s.port), timeout=AT_ONCE)
        got = b""
        try:
            while True:
                d = extra.recv(65536)
                if not d:
                    break
                got += d
        except ConnectionResetError:
            pass
        extra.close()
        assert got == b"" or got.startswith(b"HTTP/1.1 503")
    finally:
        for c in busy:
            c.close()
    wait_served(s.port)  # (its retries may be refused too while the busy ones close)
    wait_for(lambda: value(metrics(s), REFUSED, reason="conn.limit") >= before + 1,
             "the ninth connection counted as a conn.limit refusal")


def write_seeds(d):
    os.makedirs(d, exist_ok=True)
    for name, raw, *_ in CASES:
        with open(os.path.join(d, name + ".http"), "wb") as f:
            f.write(raw)


if __name__ == "__main__" and "--write-seeds" in sys.argv:
    write_seeds(os.path.join(os.path.dirname(__file__), "..", "..", "fuzz", "corpus", "http_raw"))
