"""The audit trail under load: after seconds of wrk (Debian) traffic the file holds one record per
request wrk made, and a SIGKILL in the middle of the load leaves whole lines only (a torn last
line, possible when the kill lands inside a write(2) that spans two pages, is cut off by the next
start)."""
import json
import os
import signal

import requests

from audit_util import SANITIZED, read_json, read_lines, run_wrk, parse_wrk, wait_for

LOAD_SECONDS = 3
CONNECTIONS = 8


def test_records_equal_requests_under_wrk_load(make_server, tmpdir_path):
    path = os.path.join(tmpdir_path, "audit.log")
    s = make_server(args=["--audit-log", path, "--threads", "2"])
    done, non_2xx, out = run_wrk(s.url("/api/v1/health/live"), LOAD_SECONDS,
                                 connections=CONNECTIONS)
    assert done > (200 if SANITIZED else 2000), out
    assert non_2xx == 0, out
    assert s.stop() == 0  # flushes every queued record
    records = read_json(path)
    # wrk counts the responses it read; when its time is up it closes its connections, and a
    # request in flight on each may have been answered (and recorded) without being counted.
    assert done <= len(records) <= done + CONNECTIONS, (done, len(records), out)
    assert len({r["request_id"] for r in records}) == len(records)
    assert all(r["path"] == "/api/v1/health/live" for r in records)
    # a response cut short when wrk closed its connections is recorded as aborted
    assert all(r["status"] == 200 or r["aborted"] for r in records)
    assert sum(r["aborted"] for r in records) <= CONNECTIONS
    closed = s.wait_log(lambda l: l.get("msg") == "audit trail closed")
    assert closed["written"] == len(records) and closed["dropped"] == 0


def test_sigkill_under_load_leaves_whole_lines(make_server, tmpdir_path):
    path = os.path.join(tmpdir_path, "audit.log")
    s = make_server(args=["--audit-log", path, "--threads", "2", "--audit-fsync", "never"])
    wrk = run_wrk(s.url("/api/v1/health/live"), 3, connections=CONNECTIONS, background=True)
    try:
        wait_for(lambda: os.path.getsize(path) > 200000 if os.path.exists(path) else False,
                 what="records being written")
        s.proc.send_signal(signal.SIGKILL)
        s.proc.wait(10)
    finally:
        out = wrk.communicate(timeout=60)[0].decode()
    parse_wrk(out)
    with open(path, "rb") as f:
        data = f.read()
    lines = data.split(b"\n")
    torn = lines.pop()  # b"" when the file ends with a line end
    assert len(lines) > 100
    for line in lines:
        rec = json.loads(line)  # every complete line is a whole record
        assert rec["type"] == "request" and (rec["status"] == 200 or rec["aborted"])
    # A torn tail can only be the beginning of one record.
    assert torn == b"" or (torn.startswith(b'{"type":"request"') and b"\n" not in torn)

    # The next start cuts a torn tail off and appends after the last whole line.
    s2 = make_server(args=["--audit-log", path])
    requests.get(s2.url("/api/v1/health"), timeout=30)
    assert s2.stop() == 0
    after = read_lines(path)  # asserts whole lines only
    assert len(after) == len(lines) + 1
    assert after[-1].startswith('{"type":"request"') and '"path":"/api/v1/health"' in after[-1]
    if torn:
        assert any(l.get("msg", "").startswith("audit file ended with a partial line")
                   for l in s2.logs)
