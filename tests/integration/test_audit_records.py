"""Audit records end to end: every request (accepted, refused before or after its body, aborted)
leaves exactly one well-formed record with the right fields in every sink at once (a file,
stdout, and a real rsyslogd over TCP with octet counting and over UDP); CEF with hostile values
parses back with a CEF parser written in the tests; log rotation with SIGHUP."""
import http.client
import json
import os
import signal
import socket
import uuid

import requests

from audit_util import (Rsyslog, cef_expected, parse_cef, parse_syslog, read_json, read_lines,
                        wait_for)
from conftest import IRIS_ROW

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
FIELDS = {"type", "time", "host", "signature", "name", "severity", "request_id", "trace_id",
          "client", "peer", "principal_kind", "principal_id", "client_id", "key_id", "scope",
          "method", "path", "route", "model", "model_version", "status", "outcome", "bytes_in",
          "bytes_out", "records", "duration_us", "user_agent", "aborted", "truncated"}


def new_id(tag):
    return "audit-%s-%s" % (tag, uuid.uuid4().hex[:16])


def raw_request(port, data, read=True):
    """Sends raw bytes; returns what the server answered before closing (or b"")."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(data)
        if not read:
            return b""
        s.shutdown(socket.SHUT_WR)
        out = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return out
            out += chunk


def by_id(records):
    out = {}
    for r in records:
        out.setdefault(r["request_id"], []).append(r)
    return out


def test_every_request_leaves_one_record_in_every_sink(make_server, tmpdir_path):
    rs = Rsyslog(tmpdir_path)
    path = os.path.join(tmpdir_path, "audit.log")
    sinks = "%s,stdout,syslog+tcp://127.0.0.1:%d,syslog+udp://127.0.0.1:%d" % (
        path, rs.tcp_port, rs.udp_port)
    # A short idle timeout: libmicrohttpd notices a client that left mid-body when it expires.
    s = make_server(args=["--audit-log", sinks, "--max-body-bytes", "4096", "--idle-timeout", "2"])
    ua = "audit-test/1.0 (records)"
    expect = {}

    def req(tag, method, target, want, headers=None, **kw):
        rid = new_id(tag)
        h = {"X-Request-Id": rid, "User-Agent": ua}
        h.update(headers or {})
        r = requests.request(method, s.url(target), headers=h, timeout=30, **kw)
        assert r.status_code == want["status"], (tag, r.status_code, r.text)
        expect[rid] = dict(want, method=method, path=target)
        return r

    json_h = {"Content-Type": "application/json"}
    body = json.dumps({"data": [IRIS_ROW, IRIS_ROW]})
    req("models", "GET", "/api/v1/models", {"status": 200, "outcome": "ok", "route": "v1_models",
        "scope": "read", "principal_kind": "anonymous", "signature": 100,
        "trace_id": TRACEPARENT[3:35]}, {"traceparent": TRACEPARENT})
    req("predict", "POST", "/api/v1/predict", {"status": 200, "outcome": "ok", "records": 2,
        "model": "iris", "bytes_in": len(body), "route": "v1_predict", "scope": "predict"},
        json_h, data=body)
    req("head", "HEAD", "/api/v1/health", {"status": 200, "route": "v1_health", "scope": None})
    req("404", "GET", "/no/such/path", {"status": 404, "outcome": "not_found", "route": None,
        "principal_kind": "none", "principal_id": None, "signature": 104})
    req("405", "DELETE", "/api/v1/models", {"status": 405, "outcome": "method_not_allowed"})
    req("413", "POST", "/api/v1/predict", {"status": 413, "outcome": "body_too_large"}, json_h,
        data="x" * 5000)
    req("415", "POST", "/api/v1/predict", {"status": 415, "outcome": "unsupported_media_type"},
        {"Content-Type": "text/plain"}, data=body)
    req("400", "POST", "/api/v1/predict", {"status": 400, "outcome": "invalid_json"}, json_h,
        data="{not json")
    req("422", "POST", "/api/v1/models/iris/predict", {"status": 422, "outcome": "invalid_input",
        "model": "iris", "route": "v1_model_predict"}, json_h, data='{"data":[{"x":1}]}')
    # A request id the server refuses (it generates one): found by its user agent.
    bad_ua = "bad-id-" + uuid.uuid4().hex
    r = requests.get(s.url("/api/v1/models"), headers={"X-Request-Id": "has space",
                     "User-Agent": bad_ua}, timeout=30)
    assert r.status_code == 400
    generated = r.headers["X-Request-Id"]
    expect[generated] = {"status": 400, "outcome": "invalid_request_id", "user_agent": bad_ua,
                         "method": "GET", "path": "/api/v1/models"}
    # A client that gives up in the middle of its body: the record says aborted.
    aborted = new_id("aborted")
    raw_request(s.port, ("POST /api/v1/predict HTTP/1.1\r\nHost: x\r\nX-Request-Id: %s\r\n"
                         "User-Agent: %s\r\nContent-Type: application/json\r\n"
                         "Content-Length: 100\r\n\r\n{\"data\":" % (aborted, ua)).encode(),
                read=False)
    expect[aborted] = {"aborted": True, "signature": 106, "method": "POST",
                       "path": "/api/v1/predict", "bytes_out": 0}

    n = len(expect)
    wait_for(lambda: len(read_lines(path)) >= n, what="%d records in the file" % n)
    wait_for(lambda: len(s.stdout_lines) >= n, what="records on stdout")
    wait_for(lambda: len(rs.lines()) >= n, what="records at the TCP collector")
    wait_for(lambda: len(rs.lines(udp=True)) >= n, what="records at the UDP collector")
    assert s.stop() == 0

    syslog_tcp = [parse_syslog(l) for l in rs.lines()]
    syslog_udp = [parse_syslog(l) for l in rs.lines(udp=True)]
    for m in syslog_tcp + syslog_udp:
        assert m["app"] == "modelwrap" and m["msgid"] == "audit"
        assert m["procid"] == str(s.proc.pid)
        assert m["pri"] // 8 == 13  # facility: log audit
    sinks = {
        "file": read_json(path),
        "stdout": [json.loads(l) for l in s.stdout_lines],
        "tcp": [json.loads(m["msg"]) for m in syslog_tcp],
        "udp": [json.loads(m["msg"]) for m in syslog_udp],
    }
    for name, records in sinks.items():
        got = by_id(records)
        assert set(got) == set(expect), (name, set(got) ^ set(expect))
        for rid, want in expect.items():
            assert len(got[rid]) == 1, (name, rid, got[rid])
            rec = got[rid][0]
            assert set(rec) == FIELDS, (name, set(rec) ^ FIELDS)
            assert rec["type"] == "request"
            assert rec["client"] == "127.0.0.1" and rec["peer"] is None
            assert rec["time"].endswith("Z") and len(rec["time"]) == 24
            assert rec["duration_us"] >= 0
            if "user_agent" not in want:
                assert rec["user_agent"] == ua, (name, rid, rec)
            for k, v in want.items():
                assert rec[k] == v, (name, rid, k, rec[k], v)
            if not rec["aborted"]:
                assert rec["bytes_out"] > 0 or rec["method"] == "HEAD", rec
    # The same record reads the same in every sink.
    for rid in expect:
        variants = {json.dumps(by_id(r)[rid][0], sort_keys=True) for r in sinks.values()}
        assert len(variants) == 1, variants
    # The syslog severity follows the signature: 100 -> informational, 104 -> notice.
    for m in syslog_tcp:
        rec = json.loads(m["msg"])
        assert m["pri"] % 8 == {100: 6, 104: 5, 105: 4, 106: 5}[rec["signature"]], (m, rec)


HOSTILE_PATHS = [
    ("/p%7Cipe|x", b"/p|ipe|x"),
    ("/back%5Cslash", b"/back\\slash"),
    ("/eq%3Dsign=x", b"/eq=sign=x"),
    ("/new%0Aline", b"/new\nline"),
    ("/car%0Dreturn", b"/car\rreturn"),
    ("/caf%C3%A9/%E2%82%AC", "/café/€".encode()),
    ("/bad%FF%C0utf8", b"/bad\xff\xc0utf8"),
    ("/ctl%01%1B%7F", b"/ctl\x01\x1b\x7f"),
    ("/cs1%3Dfake%20suser%3Droot", b"/cs1=fake suser=root"),
]
HOSTILE_UA = "ua|pipe \\back=eq \\n café € 😀 \\".encode("utf-8")


def test_cef_with_hostile_values(make_server, tmpdir_path):
    rs = Rsyslog(tmpdir_path)
    path = os.path.join(tmpdir_path, "audit.cef")
    s = make_server(args=["--audit-log", "%s,syslog+tcp://127.0.0.1:%d" % (path, rs.tcp_port),
                          "--audit-format", "cef"])
    want = {}
    for target, decoded in HOSTILE_PATHS:
        rid = new_id("cef")
        conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=30)
        conn.putrequest("GET", target, skip_accept_encoding=True)
        conn.putheader("X-Request-Id", rid)
        conn.putheader("User-Agent", HOSTILE_UA)  # bytes: sent as they are (UTF-8)
        conn.endheaders()
        resp = conn.getresponse()
        resp.read()
        conn.close()
        assert resp.status in (400, 404), (target, resp.status)
        want[rid] = decoded
    wait_for(lambda: len(read_lines(path)) >= len(want), what="CEF records in the file")
    wait_for(lambda: len(rs.lines()) >= len(want), what="CEF records at the collector")
    assert s.stop() == 0

    file_lines = read_lines(path)
    tcp_lines = [parse_syslog(l)["msg"] for l in rs.lines()]
    assert sorted(file_lines) == sorted(tcp_lines)  # rsyslog received them unchanged (no #0xx)
    assert len(file_lines) == len(want)
    for line in file_lines:
        assert "\n" not in line and "\r" not in line
        header, ext = parse_cef(line)
        assert header[:3] == ["0", "modelwrap", "modelwrap"]
        assert header[4] == "104" and header[5] == "Request refused" and header[6] == "3"
        rid = ext["externalId"]
        assert ext["request"] == cef_expected(want.pop(rid)), (ext["request"], line)
        assert ext["requestClientApplication"] == cef_expected(HOSTILE_UA)
        assert ext["src"] == "127.0.0.1"
        assert ext["requestMethod"] == "GET"
        assert ext["cs1"] == "none" and ext["cs1Label"] == "principalKind"
        assert ext["cn1Label"] == "httpStatus" and ext["cn1"] in ("400", "404")
        assert ext["act"] == "refused"
        assert "suser" not in ext  # the fake "suser=root" in the path stayed in the path
        assert int(ext["rt"]) > 1700000000000
    assert not want


def test_stdout_is_the_default_sink(make_server):
    s = make_server()
    rid = new_id("stdout")
    assert requests.get(s.url("/api/v1/health"), headers={"X-Request-Id": rid},
                        timeout=30).status_code == 200
    rec = wait_for(lambda: next((json.loads(l) for l in s.stdout_lines if rid in l), None),
                   what="the record on stdout")
    assert rec["request_id"] == rid and rec["status"] == 200 and rec["path"] == "/api/v1/health"
    ready = s.wait_log(lambda l: l.get("msg") == "audit trail ready")
    assert ready["format"] == "json" and ready["policy"] == "block" and ready["sinks"] == 1


def test_sighup_reopens_files_for_rotation(make_server, tmpdir_path):
    path = os.path.join(tmpdir_path, "audit.log")
    s = make_server(args=["--audit-log", path])
    first, second = new_id("before"), new_id("after")
    requests.get(s.url("/api/v1/health"), headers={"X-Request-Id": first}, timeout=30)
    wait_for(lambda: len(read_lines(path)) == 1, what="the first record")
    os.rename(path, path + ".1")
    s.proc.send_signal(signal.SIGHUP)
    s.wait_log(lambda l: l.get("msg") == "audit file reopened")
    requests.get(s.url("/api/v1/health"), headers={"X-Request-Id": second}, timeout=30)
    wait_for(lambda: os.path.exists(path) and len(read_lines(path)) == 1, what="the new file")
    assert s.stop() == 0
    assert [r["request_id"] for r in read_json(path + ".1")] == [first]
    assert [r["request_id"] for r in read_json(path)] == [second]
