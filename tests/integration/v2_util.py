"""Helpers for the Open Inference Protocol (V2) tests: a small client in the style of Triton's
tritonclient.http (JSON and binary tensors, raw bodies, binary outputs), and model repositories
(iris copies, versions, the v2echo test plug-in). Run with /usr/bin/python3 (Debian's numpy)."""
import json
import os
import shutil
import struct

import numpy as np
import requests

from conftest import BUILD, ROOT

IRIS_DIR = os.path.join(ROOT, "models", "iris")
# Most tests send far more than the default per-consumer throughput limit allows.
UNLIMITED = ["--rate-limit", "1000000/s", "--rate-burst", "1000000"]

NP_TO_V2 = {
    np.dtype(np.bool_): "BOOL", np.dtype(np.uint8): "UINT8", np.dtype(np.uint16): "UINT16",
    np.dtype(np.uint32): "UINT32", np.dtype(np.uint64): "UINT64", np.dtype(np.int8): "INT8",
    np.dtype(np.int16): "INT16", np.dtype(np.int32): "INT32", np.dtype(np.int64): "INT64",
    np.dtype(np.float16): "FP16", np.dtype(np.float32): "FP32", np.dtype(np.float64): "FP64",
}
V2_TO_NP = {v: k for k, v in NP_TO_V2.items()}
V2_TO_NP["BF16"] = np.dtype("<u2")  # raw bits; see bf16_to_float32
DTYPES = ["BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64",
          "FP32", "FP64", "BYTES", "FP16", "BF16"]


def float32_to_bf16(a):
    """The bfloat16 bits (uint16) of float32 values that are exactly bfloat16 (truncation)."""
    bits = np.asarray(a, dtype="<f4").view("<u4")
    return (bits >> 16).astype("<u2")


def bf16_to_float32(bits):
    return (np.asarray(bits, dtype="<u4") << 16).view("<f4")


def serialize_bytes(elems):
    """BYTES elements as the binary extension wants them: 4-byte little-endian length + bytes."""
    out = bytearray()
    for e in elems:
        e = e.encode() if isinstance(e, str) else bytes(e)
        out += struct.pack("<I", len(e)) + e
    return bytes(out)


def deserialize_bytes(buf, count):
    elems, pos = [], 0
    for _ in range(count):
        (n,) = struct.unpack_from("<I", buf, pos)
        elems.append(bytes(buf[pos + 4:pos + 4 + n]))
        pos += 4 + n
    assert pos == len(buf), "trailing bytes after %d BYTES elements" % count
    return elems


class Input:
    """One request input. data: a numpy array (datatype from its dtype unless given), or a list
    of bytes/str for BYTES. binary: send it as binary data after the JSON header."""

    def __init__(self, name, data, datatype=None, shape=None, binary=True):
        self.name = name
        self.binary = binary
        if datatype == "BYTES" or (datatype is None and isinstance(data, list)):
            self.datatype = "BYTES"
            self.elems = list(np.asarray(data, dtype=object).reshape(-1))
            self.shape = list(shape if shape is not None else np.asarray(data, dtype=object).shape)
            self.array = None
        else:
            self.array = np.ascontiguousarray(data)
            self.datatype = datatype or NP_TO_V2[self.array.dtype]
            self.shape = list(shape if shape is not None else self.array.shape)

    def raw(self):
        if self.datatype == "BYTES":
            return serialize_bytes(self.elems)
        return self.array.astype(self.array.dtype.newbyteorder("<"), copy=False).tobytes()

    def json_data(self):
        if self.datatype == "BYTES":
            return [e.decode() if isinstance(e, bytes) else e for e in self.elems]
        return self.array.reshape(-1).tolist()

    def header(self):
        h = {"name": self.name, "shape": self.shape, "datatype": self.datatype}
        if self.binary:
            h["parameters"] = {"binary_data_size": len(self.raw())}
        else:
            h["data"] = self.json_data()
        return h


class Result:
    """A parsed response: `json` (the JSON object) and the outputs as numpy arrays."""

    def __init__(self, resp):
        self.resp = resp
        self.status = resp.status_code
        body = resp.content
        hlen = resp.headers.get("Inference-Header-Content-Length")
        if hlen is not None:
            hlen = int(hlen)
            assert resp.headers["Content-Type"] == "application/octet-stream", resp.headers
        else:
            hlen = len(body)
            assert resp.headers["Content-Type"].startswith("application/json"), resp.headers
        self.json = json.loads(body[:hlen])
        self.binary_len = len(body) - hlen
        self.outputs = {}
        pos = hlen
        for out in self.json.get("outputs", []):
            size = out.get("parameters", {}).get("binary_data_size")
            count = int(np.prod(out["shape"])) if out["shape"] else 1
            if size is None:
                raw = out["data"]
                if out["datatype"] == "BYTES":
                    arr = np.array([s.encode() for s in raw], dtype=object)
                else:
                    arr = np.array(raw, dtype=V2_TO_NP[out["datatype"]])
            else:
                chunk = body[pos:pos + size]
                assert len(chunk) == size, "binary output cut short"
                pos += size
                if out["datatype"] == "BYTES":
                    arr = np.array(deserialize_bytes(chunk, count), dtype=object)
                else:
                    arr = np.frombuffer(chunk, dtype=V2_TO_NP[out["datatype"]].newbyteorder("<"))
            self.outputs[out["name"]] = arr.reshape(out["shape"])
        assert pos == len(body), "%d unexplained bytes after the outputs" % (len(body) - pos)

    def as_numpy(self, name):
        return self.outputs[name]


class Client:
    """A Triton-style V2 client for one server."""

    def __init__(self, base):
        self.base = base
        self.session = requests.Session()

    def url(self, model, version=None, suffix=""):
        path = "/v2/models/%s" % model
        if version is not None:
            path += "/versions/%s" % version
        return self.base + path + suffix

    def body(self, inputs, outputs=None, request_id=None, parameters=None):
        """(body bytes, JSON header length or None when there is no binary data)."""
        req = {"inputs": [i.header() for i in inputs]}
        if request_id is not None:
            req["id"] = request_id
        if parameters is not None:
            req["parameters"] = parameters
        if outputs is not None:
            req["outputs"] = [o if isinstance(o, dict) else {"name": o} for o in outputs]
        header = json.dumps(req).encode()
        blobs = b"".join(i.raw() for i in inputs if i.binary)
        if not any(i.binary for i in inputs):
            return header, None
        return header + blobs, len(header)

    def post(self, model, body, header_len=None, version=None, content_type=None, headers=None):
        h = dict(headers or {})
        if header_len is not None:
            h["Inference-Header-Content-Length"] = str(header_len)
            h.setdefault("Content-Type", content_type or "application/octet-stream")
        elif content_type is not None:
            h["Content-Type"] = content_type
        else:
            h["Content-Type"] = "application/json"
        return self.session.post(self.url(model, version, "/infer"), data=body, headers=h,
                                 timeout=60)

    def infer(self, model, inputs, outputs=None, version=None, request_id=None, parameters=None,
              expect=200):
        body, hlen = self.body(inputs, outputs, request_id, parameters)
        resp = self.post(model, body, hlen, version)
        assert resp.status_code == expect, resp.text[:2000]
        return Result(resp) if expect == 200 else resp

    def infer_raw(self, model, data, version=None):
        """Inference-Header-Content-Length: 0: the body is the one input's raw data."""
        return self.post(model, data, 0, version)


def iris_json(extra=None):
    """The bundled iris model.json (its "file" is iris.ubj in the model's own folder)."""
    with open(os.path.join(IRIS_DIR, "model.json")) as f:
        m = json.load(f)
    m.pop("name", None)
    m.pop("version", None)
    m.update(extra or {})
    return m


def put_iris(model_dir, extra=None):
    """A copy of iris in model_dir: iris.ubj first, model.json last (atomically), so that a
    reload scanning meanwhile sees either nothing or a complete model."""
    os.makedirs(model_dir, exist_ok=True)
    shutil.copy(os.path.join(IRIS_DIR, "iris.ubj"), os.path.join(model_dir, "iris.ubj"))
    write_json(os.path.join(model_dir, "model.json"), iris_json(extra))


def write_json(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f)
    os.replace(tmp, path)  # atomic: a reload never sees half a file


def built_test_plugin(name):
    path = os.path.join(BUILD, "test-plugins", name + ".so")
    assert os.path.exists(path), "test plug-in not built: " + path
    return path


def echo_model(models_dir, name="echo", extra=None):
    m = {"backend": "plugin", "file": built_test_plugin("v2echo")}
    m.update(extra or {})
    write_json(os.path.join(models_dir, name, "model.json"), m)


def reference():
    with open(os.path.join(IRIS_DIR, "reference.json")) as f:
        return json.load(f)


def copy_tree(src, dst):
    shutil.copytree(src, dst, dirs_exist_ok=True)
