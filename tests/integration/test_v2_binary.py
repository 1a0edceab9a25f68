"""The binary tensor data extension over HTTP: a Triton-style client (v2_util.Client) against iris
and the textclf plug-in: binary inputs and outputs, the response framing headers, raw bodies
(Inference-Header-Content-Length: 0), large requests, and every length checked against the body."""
import json
import os
import shutil
import struct

import numpy as np
import pytest
import requests

from conftest import BUILD, ROOT, Server, assert_error
from v2_util import UNLIMITED, Client, Input, put_iris, reference, write_json


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("v2bin"))
    put_iris(os.path.join(d, "iris"))
    text = os.path.join(d, "text")
    os.makedirs(text)
    shutil.copy(os.path.join(ROOT, "plugins", "textclf", "vocabulary.tsv"), text)
    write_json(os.path.join(text, "model.json"),
               {"backend": "plugin", "file": os.path.join(BUILD, "plugins", "textclf.so"),
                "config": {"vocabulary": "vocabulary.tsv"}})
    s = Server(["--models", d] + UNLIMITED)
    yield s
    assert s.stop() == 0, "".join(s.raw[-40:])


def raw_post(srv, path, body, headers):
    return requests.post(srv.url(path), data=body, headers=headers, timeout=30)


def test_binary_matches_json_and_reference(srv):
    c = Client(srv.base)
    ref = reference()
    x = np.array(ref["inputs"], dtype=np.float32)
    binary = c.infer("iris", [Input("features", x)], parameters={"binary_data_output": True},
                     request_id="b-1")
    assert binary.resp.headers["Content-Type"] == "application/octet-stream"
    hlen = int(binary.resp.headers["Inference-Header-Content-Length"])
    assert int(binary.resp.headers["Content-Length"]) == hlen + binary.binary_len
    assert binary.json["id"] == "b-1" and binary.json["model_version"] == "1"
    assert all("data" not in o for o in binary.json["outputs"])
    probs = binary.as_numpy("probabilities")
    assert probs.dtype == np.float32 and probs.shape == (len(x), 3)
    assert np.allclose(probs, np.array(ref["probabilities"]), atol=1e-6)
    assert [b.decode() for b in binary.as_numpy("label")] == ref["labels"]
    # the same request in JSON gives the same numbers, bit for bit
    js = c.infer("iris", [Input("features", x, binary=False)])
    assert js.binary_len == 0
    assert np.array_equal(js.as_numpy("probabilities"), probs)
    # per-output binary_data overrides binary_data_output
    mixed = c.infer("iris", [Input("features", x)], parameters={"binary_data_output": True},
                    outputs=[{"name": "label", "parameters": {"binary_data": False}},
                             {"name": "probabilities"}])
    kinds = [("data" in o) for o in mixed.json["outputs"]]
    assert kinds == [True, False]
    assert np.array_equal(mixed.as_numpy("probabilities"), probs)


def test_thousand_rows(srv):
    c = Client(srv.base)
    rng = np.random.default_rng(7)
    x = (rng.random((1000, 4)) * 7).astype(np.float32)
    res = c.infer("iris", [Input("features", x)],
                  outputs=[{"name": "probabilities", "parameters": {"binary_data": True}}])
    assert res.as_numpy("probabilities").shape == (1000, 3)
    assert np.allclose(res.as_numpy("probabilities").sum(axis=1), 1.0, atol=1e-5)
    js = c.infer("iris", [Input("features", x, binary=False)], outputs=["probabilities"])
    assert np.array_equal(js.as_numpy("probabilities"), res.as_numpy("probabilities"))


def test_raw_body(srv):
    c = Client(srv.base)
    row = np.array([5.1, 3.5, 1.4, 0.2], dtype="<f4")
    r = c.infer_raw("iris", row.tobytes())
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"] == "application/octet-stream"
    hlen = int(r.headers["Inference-Header-Content-Length"])
    header = json.loads(r.content[:hlen])
    assert [o["name"] for o in header["outputs"]] == ["label", "probabilities"]
    assert header["outputs"][0]["shape"] == [1]
    assert header["outputs"][1]["parameters"]["binary_data_size"] == 12
    (n,) = struct.unpack_from("<I", r.content, hlen)
    assert r.content[hlen + 4:hlen + 4 + n] == b"setosa"
    # the textclf plug-in takes one BYTES input: the whole body is the text
    r = c.infer_raw("text", "I was charged twice, please refund me".encode())
    assert r.status_code == 200, r.text
    hlen = int(r.headers["Inference-Header-Content-Length"])
    (n,) = struct.unpack_from("<I", r.content, hlen)
    assert r.content[hlen + 4:hlen + 4 + n] == b"billing"
    # a size that is not a whole row
    err = assert_error(c.infer_raw("iris", row.tobytes()[:15]), 400, "bad_request")
    assert err["error"] == ("raw binary data: 15 bytes do not make the input 'features' (FP32 "
                            "[-1, 4], 16 bytes per request)")


def test_bytes_inputs(srv):
    c = Client(srv.base)
    texts = ["my invoice is wrong", "the app crashes with a bug", "reset my password"]
    res = c.infer("text", [Input("description", texts)], outputs=[
        {"name": "label", "parameters": {"binary_data": True}}, {"name": "probabilities"}])
    assert [b.decode() for b in res.as_numpy("label")] == ["billing", "technical", "account"]
    assert res.as_numpy("probabilities").shape == (3, 3)


def header_and(json_obj, blob):
    h = json.dumps(json_obj).encode()
    return h + blob, str(len(h))


X_BIN = {"inputs": [{"name": "features", "shape": [1, 4], "datatype": "FP32",
                     "parameters": {"binary_data_size": 16}}]}


@pytest.mark.parametrize("case,status,code,message", [
    ("header_longer_than_body", 400, "bad_request",
     "Inference-Header-Content-Length is 100000 but the body has only"),
    ("header_not_a_number", 400, "bad_request",
     "Inference-Header-Content-Length must be a decimal number of bytes"),
    ("blob_short", 400, "bad_request", "16 bytes, but only 15 bytes of binary data are left"),
    ("blob_long", 400, "bad_request", "The body has 17 bytes of binary data after the JSON header"),
    ("bytes_length_past_end", 400, "bad_request", "BYTES element 0: its length 1000 is past the end"),
    ("header_cut", 400, "invalid_json", "Invalid JSON"),
    ("text_plain", 415, "unsupported_media_type", "application/octet-stream"),
])
def test_binary_errors(srv, case, status, code, message):
    blob16 = np.array([5.1, 3.5, 1.4, 0.2], dtype="<f4").tobytes()
    ctype = "application/octet-stream"
    if case == "header_longer_than_body":
        body, hlen = header_and(X_BIN, blob16)
        hlen = "100000"
    elif case == "header_not_a_number":
        body, hlen = header_and(X_BIN, blob16)
        hlen = "12a"
    elif case == "blob_short":
        body, hlen = header_and(X_BIN, blob16[:15])
    elif case == "blob_long":
        body, hlen = header_and(X_BIN, blob16 + b"!")
    elif case == "bytes_length_past_end":
        body, hlen = header_and({"inputs": [{"name": "description", "shape": [1],
                                             "datatype": "BYTES",
                                             "parameters": {"binary_data_size": 8}}]},
                                struct.pack("<I", 1000) + b"abcd")
    elif case == "header_cut":
        body, _ = header_and(X_BIN, blob16)
        hlen = "10"
    else:
        body, hlen = header_and(X_BIN, blob16)
        ctype = "text/plain"
    model = "text" if case == "bytes_length_past_end" else "iris"
    r = raw_post(srv, "/v2/models/%s/infer" % model, body,
                 {"Content-Type": ctype, "Inference-Header-Content-Length": hlen})
    err = assert_error(r, status, code)
    assert message in err["error"], err


def test_header_length_content_types(srv):
    blob16 = np.array([5.1, 3.5, 1.4, 0.2], dtype="<f4").tobytes()
    body, hlen = header_and(X_BIN, blob16)
    # without a Content-Type (tritonclient) the framing header decides
    r = raw_post(srv, "/v2/models/iris/infer", body, {"Inference-Header-Content-Length": hlen})
    assert r.status_code == 200, r.text
    # a JSON body with the header and no binary part is fine with application/json too
    js = json.dumps({"inputs": [{"name": "features", "shape": [1, 4], "datatype": "FP32",
                                 "data": [5.1, 3.5, 1.4, 0.2]}]}).encode()
    r = raw_post(srv, "/v2/models/iris/infer", js,
                 {"Content-Type": "application/json",
                  "Inference-Header-Content-Length": str(len(js))})
    assert r.status_code == 200, r.text
    r = raw_post(srv, "/v2/models/iris/infer", body,
                 {"Content-Type": "application/json", "Inference-Header-Content-Length": hlen})
    assert_error(r, 415, "unsupported_media_type")
