"""Every V2 datatype through the v2echo test plug-in (one [-1, -1] input and one output per dtype,
echoed): JSON and binary round trips with extreme values, the documented lossless conversions
(and the refused ones, naming the input), FP16/BF16 binary-only rules, and BYTES edge cases."""
import os

import numpy as np
import pytest

from conftest import Server, assert_error
from v2_util import (DTYPES, UNLIMITED, Client, Input, bf16_to_float32, echo_model,
                     float32_to_bf16)

NP = {"BOOL": np.bool_, "UINT8": np.uint8, "UINT16": np.uint16, "UINT32": np.uint32,
      "UINT64": np.uint64, "INT8": np.int8, "INT16": np.int16, "INT32": np.int32,
      "INT64": np.int64, "FP32": np.float32, "FP64": np.float64, "FP16": np.float16}


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("v2types"))
    echo_model(d)
    s = Server(["--models", d] + UNLIMITED)
    yield Client(s.base)
    assert s.stop() == 0, "".join(s.raw[-40:])


def extremes(dt):
    """A 2x3 array of edge values of dtype dt (BF16: raw bits; BYTES: a list of bytes)."""
    if dt == "BYTES":
        return [b"", b"\x00\xff binary", "h\u00e9llo".encode(), b"x" * 300, b"\n\"\\", b"z"]
    if dt == "BF16":
        return float32_to_bf16(np.array([[0, -1.5, 3.0e38], [1e-38, np.inf, -2.0]], np.float32))
    if dt == "BOOL":
        return np.array([[True, False, True], [False, False, True]])
    t = NP[dt]
    if np.issubdtype(t, np.integer):
        info = np.iinfo(t)
        return np.array([[info.min, info.max, 0], [1, info.max - 1, info.min + 1]], dtype=t)
    info = np.finfo(t)
    return np.array([[info.max, -info.max, info.tiny], [0.1, -0.0, info.eps]], dtype=t)


def full_inputs(binary=True, override=None):
    override = override or {}
    inputs = []
    for dt in DTYPES:
        name = "in_" + dt.lower()
        if name in override:
            inputs.append(override[name])
            continue
        data = extremes(dt)
        if dt == "BYTES":
            # the extremes are not all text, which JSON cannot carry: binary
            inputs.append(Input(name, data, shape=[2, 3], binary=True))
        elif dt == "BF16":
            inputs.append(Input(name, data, "BF16"))
        else:
            # JSON cannot carry FP16, nor (through jansson) UINT64 above 2^63 - 1: binary
            inputs.append(Input(name, data, binary=binary or dt in ("FP16", "UINT64")))
    return inputs


def check_echo(res, only=None):
    for dt in DTYPES:
        if only is not None and dt not in only:
            continue
        got = res.as_numpy("out_" + dt.lower())
        want = extremes(dt)
        if dt == "BYTES":
            assert got.shape == (2, 3)
            assert list(got.reshape(-1)) == want, dt
        else:
            assert got.shape == want.shape, dt
            assert got.dtype.itemsize == np.asarray(want).dtype.itemsize, dt
            assert got.tobytes() == np.ascontiguousarray(want).tobytes(), dt


def test_binary_round_trip_every_dtype(client):
    res = client.infer("echo", full_inputs(binary=True),
                       parameters={"binary_data_output": True})
    assert res.binary_len > 0
    assert len(res.json["outputs"]) == 14
    for out in res.json["outputs"]:
        assert "data" not in out and out["parameters"]["binary_data_size"] >= 0
    check_echo(res)
    # BF16 bits come back as sent, and mean what they meant
    assert bf16_to_float32(res.as_numpy("out_bf16"))[0, 1] == -1.5


def test_json_round_trip(client):
    outputs = [{"name": "out_" + dt.lower()} for dt in DTYPES if dt not in ("FP16", "BF16")]
    outputs += [{"name": "out_fp16", "parameters": {"binary_data": True}},
                {"name": "out_bf16", "parameters": {"binary_data": True}}]
    res = client.infer("echo", full_inputs(binary=False, override={
        # BYTES as JSON must be text: binary junk goes as binary data
        "in_bytes": Input("in_bytes", ["", "h\u00e9llo", "tab\t\"q\"", "\u0000nul", "z", "é"],
                          shape=[2, 3], binary=False)}), outputs=outputs)
    kinds = {o["name"]: ("data" in o) for o in res.json["outputs"]}
    assert kinds["out_int64"] and kinds["out_bytes"] and not kinds["out_fp16"]
    check_echo(res, only={"BOOL", "UINT8", "UINT16", "UINT32", "INT8", "INT16", "INT32", "INT64",
                          "FP32", "FP64", "FP16", "BF16"})
    by_name = {o["name"]: o for o in res.json["outputs"]}
    assert by_name["out_bytes"]["data"] == ["", "h\u00e9llo", "tab\t\"q\"", "\u0000nul", "z", "é"]
    assert by_name["out_bool"]["data"] == [True, False, True, False, False, True]
    assert by_name["out_int64"]["data"][0] == -(2 ** 63)
    # FP32 prints the shortest decimal that reads back to the same float
    assert by_name["out_fp32"]["data"][3] == 0.1
    # UINT64 above 2^63 - 1 went as binary data; its JSON output carries it whole
    assert res.as_numpy("out_uint64").tolist() == extremes("UINT64").tolist()


@pytest.mark.parametrize("target,datatype,values,want", [
    ("in_int32", "INT8", [-128, 127], [-128, 127]),
    ("in_int64", "INT16", [-32768, 5], [-32768, 5]),
    ("in_int16", "UINT8", [255, 0], [255, 0]),
    ("in_int64", "UINT32", [4294967295, 1], [4294967295, 1]),
    ("in_uint64", "UINT16", [65535, 2], [65535, 2]),
    ("in_fp64", "FP32", [0.1, -2.5], [float(np.float32(0.1)), -2.5]),
    ("in_fp32", "FP16", [0.5, 65504], [0.5, 65504]),
    ("in_fp64", "FP16", [-0.25, 2 ** -24], [-0.25, 2 ** -24]),
])
def test_binary_lossless_conversions(client, target, datatype, values, want):
    arr = np.array([values], dtype=NP[datatype])
    res = client.infer("echo", full_inputs(override={target: Input(target, arr)}),
                       outputs=["out_" + target[3:]])
    assert res.as_numpy("out_" + target[3:]).reshape(-1).tolist() == want


def test_binary_bf16_to_fp32(client):
    bits = float32_to_bf16(np.array([[1.5, -3.0]], np.float32))
    res = client.infer("echo", full_inputs(override={"in_fp32": Input("in_fp32", bits, "BF16")}),
                       outputs=["out_fp32"])
    assert res.as_numpy("out_fp32").tolist() == [[1.5, -3.0]]


@pytest.mark.parametrize("target,datatype,accepted", [
    ("in_fp32", "FP64", "FP32, FP16, BF16"),
    ("in_int32", "INT64", "INT8, INT16, INT32, UINT8, UINT16"),
    ("in_int8", "UINT8", "INT8"),
    ("in_int64", "UINT64", "UINT8, UINT16, UINT32, INT8, INT16, INT32, INT64"),
    ("in_fp16", "FP32", "FP16"),
    ("in_bool", "UINT8", "BOOL"),
])
def test_binary_lossy_conversions_refused(client, target, datatype, accepted):
    arr = np.zeros((1, 2), dtype=NP[datatype])
    r = client.infer("echo", full_inputs(override={target: Input(target, arr)}), expect=400)
    err = assert_error(r, 400, "bad_request")
    assert target in err["error"] and datatype in err["error"], err
    assert "accepted as binary data:" in err["error"]
    for name in accepted.split(", "):
        assert name in err["error"].split("accepted as binary data:")[1], err


def test_json_numbers_convert_when_exact(client):
    inputs = full_inputs(binary=False, override={
        "in_fp16": Input("in_fp16", np.array([[0.5, -2048.0, 2 ** -14]]), "FP64", binary=False),
        "in_bf16": Input("in_bf16", np.array([[1.5, -256]]), "FP32", binary=False),
        "in_fp32": Input("in_fp32", np.array([[16777216, -3]], dtype=np.int64), binary=False),
        "in_uint8": Input("in_uint8", np.array([[200.0, 3.0]]), "FP64", binary=False),
    })
    outputs = ["out_uint8", "out_fp32", {"name": "out_fp16", "parameters": {"binary_data": True}},
               {"name": "out_bf16", "parameters": {"binary_data": True}}]
    res = client.infer("echo", inputs, outputs=outputs)
    assert res.as_numpy("out_fp16").tolist() == [[0.5, -2048.0, 2 ** -14]]
    assert bf16_to_float32(res.as_numpy("out_bf16")).tolist() == [[1.5, -256.0]]
    assert res.as_numpy("out_fp32").tolist() == [[16777216.0, -3.0]]
    assert res.as_numpy("out_uint8").tolist() == [[200, 3]]
    for target, datatype, value, msg in [
        ("in_fp16", "FP64", 0.1, "0.1 is not exactly representable as the model's FP16"),
        ("in_fp32", "INT64", 16777217, "16777217 is not exactly representable as the model's FP32"),
        ("in_uint8", "FP64", 2.5, "2.5 is not exactly representable as the model's UINT8"),
        ("in_int8", "INT16", 40000, "40000 is out of range for INT16"),
    ]:
        bad = full_inputs(binary=False, override={
            target: Input(target, np.array([[value]]), datatype, binary=False)})
        r = client.infer("echo", bad, expect=400)
        err = assert_error(r, 400, "bad_request")
        assert msg in err["error"] and "data[0]" in err["error"], err


def test_half_precision_is_binary_only(client):
    r = client.infer("echo", full_inputs(binary=False, override={
        "in_fp16": Input("in_fp16", np.zeros((1, 1), np.float16), binary=False)}), expect=400)
    err = assert_error(r, 400, "bad_request")
    assert "FP16 data cannot be sent as JSON" in err["error"]
    # an FP16 output asked as JSON is refused before the model runs
    r = client.infer("echo", full_inputs(), outputs=["out_bf16"], expect=400)
    err = assert_error(r, 400, "bad_request")
    assert "output 'out_bf16' is BF16, which JSON cannot carry" in err["error"]


def test_bytes_that_are_not_text(client):
    """Binary BYTES come back as binary; asked as JSON they are refused, not mangled."""
    res = client.infer("echo", full_inputs(), outputs=[
        {"name": "out_bytes", "parameters": {"binary_data": True}}])
    assert list(res.as_numpy("out_bytes").reshape(-1)) == extremes("BYTES")
    r = client.infer("echo", full_inputs(), outputs=["out_bytes"], expect=400)
    err = assert_error(r, 400, "bad_request")
    assert "not UTF-8 text" in err["error"]


def test_shapes_and_counts(client):
    # a zero-sized dimension is a valid (empty) tensor
    empty = Input("in_int16", np.zeros((1, 0), np.int16))
    res = client.infer("echo", full_inputs(override={"in_int16": empty}), outputs=["out_int16"])
    assert res.as_numpy("out_int16").shape == (1, 0)
    # the shape's product must not overflow, and must match the data
    huge = Input("in_uint8", np.zeros((1, 1), np.uint8), shape=[2 ** 62, 2 ** 62])
    err = assert_error(client.infer("echo", full_inputs(override={"in_uint8": huge}), expect=400),
                       400, "bad_request")
    assert "too many elements" in err["error"] or "binary_data_size" in err["error"], err
    wrong = Input("in_int8", np.zeros((2, 2), np.int8), shape=[2, 3])
    err = assert_error(client.infer("echo", full_inputs(override={"in_int8": wrong}), expect=400),
                       400, "bad_request")
    assert "binary_data_size: 4 bytes, but 6 INT8 elements take 6" in err["error"], err
    rank = Input("in_int8", np.zeros((4,), np.int8))
    err = assert_error(client.infer("echo", full_inputs(override={"in_int8": rank}), expect=400),
                       400, "bad_request")
    assert "1 dimensions, but the model's input 'in_int8' has 2: [-1, -1]" in err["error"], err
