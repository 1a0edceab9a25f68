"""The bad-input catalog: every hostile or broken request gets the right status and the one JSON
error shape, and the server keeps serving everyone else."""
import json
import socket
import time

import pytest
import requests

from conftest import IRIS_ROW, assert_error, post_json

PREDICT = "/api/v1/predict"


def raw_post(server, body, content_type="application/json"):
    return requests.post(server.url(PREDICT), data=body, headers={"Content-Type": content_type},
                         timeout=30)


def test_malformed_json(server):
    body = assert_error(raw_post(server, b'{"data": [ {"sepal_length": 5.1,'), 400, "invalid_json")
    assert "line 1" in body["error"]
    assert_error(raw_post(server, b""), 400, "invalid_json")
    assert_error(raw_post(server, b"\xff\xfe"), 400, "invalid_json")


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_non_finite_numbers(server, literal):
    text = '{"data":[{"sepal_length":%s,"sepal_width":1,"petal_length":1,"petal_width":1}]}' % literal
    r = raw_post(server, text.encode())
    assert r.status_code in (400, 422), r.text
    assert_error(r, r.status_code, "invalid_json" if r.status_code == 400 else "invalid_input")


def test_wrong_type_names_the_field(server):
    rows = [dict(IRIS_ROW), dict(IRIS_ROW), dict(IRIS_ROW), dict(IRIS_ROW, petal_width="wide")]
    body = assert_error(post_json(server.url(PREDICT), {"data": rows}), 422, "invalid_input")
    assert body["error"] == "data[3].petal_width: expected a number, got a string"


def test_missing_and_unknown_fields(server):
    row = dict(IRIS_ROW)
    del row["sepal_width"]
    body = assert_error(post_json(server.url(PREDICT), {"data": [row]}), 422, "invalid_input")
    assert "data[0]" in body["error"] and "sepal_width" in body["error"]
    body = assert_error(post_json(server.url(PREDICT), {"data": [dict(IRIS_ROW, colour="blue")]}),
                        422, "invalid_input")
    assert "data[0]" in body["error"] and "colour" in body["error"]
    body = assert_error(post_json(server.url(PREDICT), {"data": [IRIS_ROW], "extra": 1}), 422,
                        "invalid_input")
    assert "extra" in body["error"]


def test_shape_errors(server):
    assert_error(post_json(server.url(PREDICT), {"data": []}), 422, "invalid_input")
    assert_error(post_json(server.url(PREDICT), {"data": {}}), 422, "invalid_input")
    assert_error(post_json(server.url(PREDICT), {"rows": [IRIS_ROW]}), 422, "invalid_input")
    assert_error(post_json(server.url(PREDICT), [IRIS_ROW]), 400, "bad_request")
    assert_error(post_json(server.url(PREDICT), {"data": [[5.1, 3.5, 1.4, 0.2]]}), 422,
                 "invalid_input")
    assert_error(post_json(server.url(PREDICT), {"data": [dict(IRIS_ROW, sepal_length=None)]}),
                 422, "invalid_input")


def test_duplicate_keys_refused(server):
    text = b'{"data":[{"sepal_length":1,"sepal_length":2,"sepal_width":1,"petal_length":1,"petal_width":1}]}'
    assert_error(raw_post(server, text), 400, "invalid_json")


def test_too_many_records(make_server):
    s = make_server(["--max-records", "5"])
    assert post_json(s.url(PREDICT), {"data": [IRIS_ROW] * 5}).status_code == 200
    body = assert_error(post_json(s.url(PREDICT), {"data": [IRIS_ROW] * 6}), 422, "invalid_input")
    assert "at most 5" in body["error"]


def test_wrong_content_type(server):
    assert_error(raw_post(server, json.dumps({"data": [IRIS_ROW]}), "text/plain"), 415,
                 "unsupported_media_type")
    assert_error(raw_post(server, json.dumps({"data": [IRIS_ROW]}), "application/jsonx"), 415,
                 "unsupported_media_type")
    r = requests.post(server.url(PREDICT), data=json.dumps({"data": [IRIS_ROW]}))
    assert_error(r, 415, "unsupported_media_type")


def test_unknown_path_and_wrong_method(server):
    assert_error(requests.get(server.url("/nope")), 404, "not_found")
    assert_error(requests.get(server.url("/api/v1/models/iris/predict/extra")), 404, "not_found")
    r = requests.get(server.url(PREDICT))
    assert_error(r, 405, "method_not_allowed")
    assert r.headers["Allow"] == "POST"
    r = requests.delete(server.url("/api/v1/models"))
    assert_error(r, 405, "method_not_allowed")
    assert r.headers["Allow"] == "GET, HEAD"


def test_body_too_large_with_content_length(server):
    big = b'{"data":[' + b" " * (2 * 1024 * 1024) + b"]}"
    r = raw_post(server, big)
    body = assert_error(r, 413, "body_too_large")
    assert "1048576" in body["error"]
    # The server is fine afterwards.
    assert post_json(server.url(PREDICT), {"data": [IRIS_ROW]}).status_code == 200


def test_body_too_large_chunked(server):
    def chunks():
        yield b'{"data":['
        for _ in range(64):
            yield b" " * 32768

    r = requests.post(server.url(PREDICT), data=chunks(), headers={"Content-Type": "application/json"})
    assert_error(r, 413, "body_too_large")
    assert post_json(server.url(PREDICT), {"data": [IRIS_ROW]}).status_code == 200


def test_body_exactly_at_limit_is_read(make_server):
    s = make_server(["--max-body-bytes", "200"])
    body = json.dumps({"data": [IRIS_ROW]}).encode()
    padded = body[:-1] + b" " * (200 - len(body)) + b"}"
    assert len(padded) == 200
    assert raw_post(s, padded).status_code == 200
    assert_error(raw_post(s, padded[:-1] + b" }"), 413, "body_too_large")


def test_malformed_content_length(server):
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    sock.sendall(b"POST /api/v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 b"Content-Length: 12abc\r\n\r\n")
    data = sock.recv(4096)
    sock.close()
    assert data.startswith(b"HTTP/1.1 400"), data


def test_headers_too_large(server):
    r = requests.get(server.url("/api/v1/models"), headers={"X-Big": "a" * 20000})
    assert r.status_code == 431, r.text
    if r.text:
        assert_error(r, 431, "headers_too_large")


def test_headers_near_the_limit_are_served(server):
    """The connection's memory pool is sized from MODELWRAP_MAX_HEADER_BYTES (16 KiB): headers just
    under the limit, with a body, still get a full answer, not a 431 or a reset."""
    body = json.dumps({"data": [IRIS_ROW] * 50}).encode()
    r = requests.post(server.url("/api/v1/predict"), data=body,
                      headers={"Content-Type": "application/json", "X-Big": "a" * 15500})
    assert r.status_code == 200, r.text
    assert len(r.json()["predictions"]) == 50
    many = {f"X-H{i}": "b" * 100 for i in range(140)}  # 140 headers, about 15 KiB
    r = requests.get(server.url("/api/v1/models"), headers=many)
    assert r.status_code == 200, r.text


def test_stalled_client_does_not_block_others(make_server):
    s = make_server(["--idle-timeout", "2"])
    stalled = []
    for _ in range(8):
        sock = socket.create_connection(("127.0.0.1", s.port), timeout=10)
        sock.sendall(b"POST /api/v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 1000\r\n\r\n{\"data\":[")
        stalled.append(sock)
    for _ in range(20):
        assert post_json(s.url(PREDICT), {"data": [IRIS_ROW]}).status_code == 200
    # The idle timeout closes the stalled connections (recv returns b"" or an error).
    for sock in stalled:
        sock.settimeout(15)
        try:
            data = sock.recv(4096)
        except (ConnectionResetError, socket.timeout) as e:
            assert not isinstance(e, socket.timeout), "stalled connection was never closed"
            data = b""
        assert data == b"" or data.startswith(b"HTTP/1.1 4"), data
        sock.close()
    assert post_json(s.url(PREDICT), {"data": [IRIS_ROW]}).status_code == 200


def test_garbage_request_lines(make_server):
    """Malformed HTTP never reaches the pipeline: libmicrohttpd answers it (HTML 400/505) and
    closes, or waits for a request line until the idle timeout. Either way the server lives."""
    s = make_server(["--idle-timeout", "2"])
    for payload, expect in [(b"GARBAGE\r\n\r\n", (b"", b"HTTP/1.1 400")),
                            (b"GET /\r\n\r\n", (b"HTTP/1.1 400",)),
                            (b"GET / HTTP/9.9\r\nHost: x\r\n\r\n", (b"HTTP/1.1 505",)),
                            (b"\x00\x01\x02 garbage\r\n\r\n", (b"",))]:
        sock = socket.create_connection(("127.0.0.1", s.port), timeout=15)
        sock.sendall(payload)
        try:
            data = sock.recv(4096)
        except ConnectionResetError:
            data = b""
        sock.close()
        assert any(data.startswith(e) for e in expect), (payload, data)
    assert requests.get(s.url("/api/v1/health")).status_code == 200


@pytest.mark.parametrize("path", [PREDICT, "/api/v1/models/iris/predict", "/api/predict"])
def test_content_encoding_is_refused_like_v2(server, path):
    """No route decodes a compressed body: a gzip body is a 415, never parsed as plain JSON (here
    the "compressed" bytes are plain JSON, which the server used to answer 200)."""
    body = json.dumps({"data": [IRIS_ROW]}).encode()
    for enc in ("gzip", "deflate", "br", "identity, gzip"):
        r = requests.post(server.url(path), data=body, timeout=30,
                          headers={"Content-Type": "application/json", "Content-Encoding": enc})
        err = assert_error(r, 415, "unsupported_media_type")
        assert "Content-Encoding" in err["error"]
    r = requests.post(server.url(path), data=body, timeout=30,
                      headers={"Content-Type": "application/json", "Content-Encoding": "identity"})
    assert r.status_code == 200, r.text
