"""The bad-input catalog, allocation-amplification family: a request that declares more than its
body carries (a huge "shape" with one element of data, a binary_data_size that cannot hold the
shape, ragged or over-nested "data") is a 400 with the JSON error and an audit record, for every
datatype and both encodings, and costs the server no memory proportional to the declaration: four
concurrent abusive clients stay within a stated budget of peak RSS (VmHWM) over idle."""
import json
import os
import struct
import threading

import pytest
import requests

from audit_util import live_lines, wait_for
from conftest import Server, assert_error
from v2_util import DTYPES, UNLIMITED, echo_model

# Bytes of one element of each datatype in the binary tensor data extension (BYTES: the 4-byte
# length of an empty element).
ELEM = {"BOOL": 1, "UINT8": 1, "UINT16": 2, "UINT32": 4, "UINT64": 8, "INT8": 1, "INT16": 2,
        "INT32": 4, "INT64": 8, "FP16": 2, "BF16": 2, "FP32": 4, "FP64": 8, "BYTES": 4}
ONE = {"BOOL": True, "BYTES": "a", "FP32": 1.5, "FP64": 1.5}
# A shape far beyond any per-call memory bound (2^31 elements) and one just under the bound the
# server had before the decoders checked the data first (about 28 MB of FP64).
HUGE = [1, 2 ** 31]
LARGE_FP64 = [1, 3500000]
# The stated budget: peak RSS over idle with four concurrent abusive clients.
RSS_BUDGET = 64 << 20


@pytest.fixture(scope="module")
def echo(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("amplify"))
    echo_model(d)
    audit = os.path.join(d, "audit.jsonl")
    s = Server(["--models", d, "--audit-log", audit, "--threads", "4"] + UNLIMITED)
    s.audit_path = audit
    yield s
    assert s.stop() == 0, "".join(s.raw[-40:])


def audit_record(server, rid):
    def find():
        for line in live_lines(server.audit_path):
            rec = json.loads(line)
            if rec.get("request_id") == rid:
                return rec
        return None
    return wait_for(find, what="the audit record of " + rid)


def json_request(dt, shape, data):
    return json.dumps({"inputs": [{"name": "in_" + dt.lower(), "datatype": dt, "shape": shape,
                                   "data": data}]}).encode()


def binary_request(dt, shape, blob, declared=None):
    header = json.dumps({"inputs": [{"name": "in_" + dt.lower(), "datatype": dt, "shape": shape,
                                     "parameters": {"binary_data_size":
                                                    len(blob) if declared is None else declared}}]})
    return header.encode() + blob, len(header)


def one_blob(dt):
    return struct.pack("<I", 0) if dt == "BYTES" else b"\x01" * ELEM[dt]


def post(server, body, hlen=None, rid=None):
    h = {"Content-Type": "application/json"}
    if hlen is not None:
        h = {"Content-Type": "application/octet-stream",
             "Inference-Header-Content-Length": str(hlen)}
    if rid is not None:
        h["X-Request-Id"] = rid
    return requests.post(server.url("/v2/models/echo/infer"), data=body, headers=h, timeout=60)


def cases():
    """(id, encoding, datatype, body builder) of the family, for every datatype."""
    out = []
    for dt in DTYPES:
        one = ONE.get(dt, 1)
        out.append(("json-huge-shape-" + dt, dt, lambda dt=dt, one=one:
                    (json_request(dt, HUGE, [one]), None)))
        out.append(("binary-huge-shape-" + dt, dt, lambda dt=dt:
                    binary_request(dt, HUGE, one_blob(dt))))
        out.append(("binary-declares-more-than-sent-" + dt, dt, lambda dt=dt:
                    binary_request(dt, HUGE, one_blob(dt), declared=ELEM[dt] * 2 ** 31)))
    return out


@pytest.mark.parametrize("case", cases(), ids=lambda c: c[0])
def test_declared_size_beyond_the_body_is_400(echo, case):
    name, dt, build = case
    body, hlen = build()
    rid = "amplify-" + name
    r = post(echo, body, hlen, rid)
    err = assert_error(r, 400, "bad_request")
    assert err["request_id"] == rid
    rec = audit_record(echo, rid)
    assert rec["status"] == 400 and rec["outcome"] == "bad_request", rec
    assert rec["model"] == "echo", rec


@pytest.mark.parametrize("dt", [d for d in DTYPES if d not in ("FP16", "BF16")])
def test_ragged_and_over_nested_data_refused(echo, dt):
    one = ONE.get(dt, 1)
    # ragged: the flattened count (4) matches the shape, the structure does not
    for n, (data, what) in enumerate([([[one], [one, one, one]], "entries"),
                       ([[one, one], one, one], "entries"),
                       ([one, one, [one, one]], "ragged"),
                       ([[[one], [one]], [[one], [one]]], "deeper"),
                       ([[one, [one]], [one, one]], "deeper")]):
        rid = "ragged-%s-%d" % (dt, n)
        err = assert_error(post(echo, json_request(dt, [2, 2], data), rid=rid), 400,
                           "bad_request")
        assert what in err["error"] and "inputs[0].data" in err["error"], (data, err)
    rec = audit_record(echo, rid)
    assert rec["status"] == 400, rec


def full_request(nested):
    """A valid request carrying every input of v2echo ([2, 3] each): JSON data, flat or nested
    exactly as the shape, and FP16/BF16 as binary data."""
    inputs = []
    for dt in DTYPES:
        if dt in ("FP16", "BF16"):
            continue
        one = ONE.get(dt, 1)
        inputs.append({"name": "in_" + dt.lower(), "datatype": dt, "shape": [2, 3],
                       "data": [[one] * 3] * 2 if nested else [one] * 6})
    for dt in ("FP16", "BF16"):
        inputs.append({"name": "in_" + dt.lower(), "datatype": dt, "shape": [2, 3],
                       "parameters": {"binary_data_size": 12}})
    header = json.dumps({"inputs": inputs, "parameters": {"binary_data_output": True}}).encode()
    return header + b"\0" * 24, len(header)


@pytest.mark.parametrize("nested", [False, True])
def test_data_flat_or_nested_as_the_shape_is_accepted(echo, nested):
    body, hlen = full_request(nested)
    r = post(echo, body, hlen)
    assert r.status_code == 200, r.text


def vm_hwm(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM in /proc/%d/status" % pid)


def test_peak_rss_with_four_abusive_clients(make_server, tmp_path):
    echo_model(str(tmp_path))
    s = make_server(["--models", str(tmp_path), "--threads", "4"] + UNLIMITED)
    # idle: after a few ordinary requests
    for nested in (False, True, False):
        body, hlen = full_request(nested)
        assert post(s, body, hlen).status_code == 200
    idle = vm_hwm(s.proc.pid)
    bodies = [(json_request("FP64", LARGE_FP64, [1.5]), None),
              binary_request("FP64", LARGE_FP64, b"\0" * 8),
              binary_request("UINT8", [1, 28000000], b"\0"),
              (json_request("INT64", LARGE_FP64, [1]), None)]
    failures = []

    def abuse(i):
        sess = requests.Session()
        body, hlen = bodies[i]
        h = {"Content-Type": "application/json"}
        if hlen is not None:
            h = {"Content-Type": "application/octet-stream",
                 "Inference-Header-Content-Length": str(hlen)}
        for _ in range(40):
            r = sess.post(s.url("/v2/models/echo/infer"), data=body, headers=h, timeout=60)
            if r.status_code != 400:
                failures.append((i, r.status_code, r.text[:200]))

    threads = [threading.Thread(target=abuse, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    peak = vm_hwm(s.proc.pid)
    assert not failures, failures[:4]
    assert peak - idle <= RSS_BUDGET, "peak RSS %d MiB over idle (budget %d MiB)" % (
        (peak - idle) >> 20, RSS_BUDGET >> 20)
