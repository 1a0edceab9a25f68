"""Helpers of the authentication tests: API keys through the real CLI, signing keys and tokens
minted with Debian's python3-jwt + python3-cryptography, a JWKS / OpenID discovery server on
loopback that records every request, and the checks every refusal must pass."""
import base64
import hashlib
import hmac
import json
import os
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

from conftest import BIN, ROOT

CLEAN_ENV = {k: v for k, v in os.environ.items() if not k.startswith("MODELWRAP_")}
CLEAN_ENV["MODELWRAP_ENV_FILE"] = "/dev/null"
AUDIENCE = "urn:modelwrap:test"
IRIS_BODY = {"data": [{"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4,
                       "petal_width": 0.2}]}


# ---- API keys ------------------------------------------------------------------------------------

def keys_cli(path, *args, check=True):
    """Runs `modelwrap keys ARGS --file path`; returns the CompletedProcess."""
    r = subprocess.run([BIN, "keys"] + list(args) + ["--file", path], cwd=ROOT, env=CLEAN_ENV,
                       capture_output=True, text=True, timeout=60)
    if check:
        assert r.returncode == 0, r.stderr
    return r


def create_key(path, key_id, scopes="predict,read", *extra):
    """Creates a key with the CLI and returns it (printed once on stdout)."""
    r = keys_cli(path, "create", "--id", key_id, "--scopes", scopes, *extra)
    key = r.stdout.strip()
    assert key.startswith("mw_") and len(key) == 46, r.stdout
    return key


def key_hash(key):
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


# ---- signing keys and tokens ---------------------------------------------------------------------

def b64url(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def raw_token(header, payload, signature=b""):
    """A compact JWS from a header dict, a payload dict (or bytes) and raw signature bytes."""
    h = b64url(json.dumps(header, separators=(",", ":")))
    p = b64url(payload if isinstance(payload, bytes) else json.dumps(payload, separators=(",", ":")))
    return "%s.%s.%s" % (h, p, b64url(signature))


class Signer:
    """A private key with its kid; mints tokens and gives its public JWK."""

    def __init__(self, kind, kid, curve=None):
        self.kid = kid
        if kind == "rsa":
            self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            self._jwk = RSAAlgorithm.to_jwk(self.key.public_key())
        elif kind == "ec":
            self.key = ec.generate_private_key(curve)
            self._jwk = ECAlgorithm.to_jwk(self.key.public_key())
        else:
            self.key = ed25519.Ed25519PrivateKey.generate()
            self._jwk = OKPAlgorithm.to_jwk(self.key.public_key())

    def public_jwk(self):
        j = json.loads(self._jwk)
        j.pop("key_ops", None)
        j["kid"] = self.kid
        j["use"] = "sig"
        return j

    def public_pem(self):
        return self.key.public_key().public_bytes(serialization.Encoding.PEM,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo)

    def mint(self, claims, alg, kid="default", headers=None):
        h = dict(headers or {})
        if kid == "default":
            h["kid"] = self.kid
        elif kid is not None:
            h["kid"] = kid
        return jwt.encode(claims, self.key, algorithm=alg, headers=h)


def claims(issuer, **overrides):
    """Claims valid now for issuer and AUDIENCE; overrides replace them (None removes one)."""
    now = int(time.time())
    c = {"iss": issuer, "aud": AUDIENCE, "sub": "alice", "iat": now, "exp": now + 600,
         "scope": "predict read", "client_id": "test-client"}
    for k, v in overrides.items():
        if v is None:
            c.pop(k, None)
        else:
            c[k] = v
    return c


def hs256(secret, header, payload):
    """A token HMAC-SHA256-signed with secret (bytes), whatever the secret is."""
    h = b64url(json.dumps(header, separators=(",", ":")))
    p = b64url(json.dumps(payload, separators=(",", ":")))
    sig = hmac.new(secret, ("%s.%s" % (h, p)).encode(), hashlib.sha256).digest()
    return "%s.%s.%s" % (h, p, b64url(sig))


# ---- a JWKS and OpenID discovery server --------------------------------------------------------

class JwksServer:
    """Serves /.well-known/openid-configuration (issuer = its own base URL) and /jwks on a free
    loopback port. `requests` records every path asked for; `down` makes every answer a 503."""

    def __init__(self, keys=()):
        self.keys = list(keys)
        self.down = False
        self.requests = []
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                with outer.lock:
                    outer.requests.append(self.path)
                    down = outer.down
                    keys = list(outer.keys)
                if down:
                    self._send(503, {"error": "down"})
                elif self.path == "/.well-known/openid-configuration":
                    self._send(200, {"issuer": outer.issuer, "jwks_uri": outer.issuer + "/jwks",
                                     "token_endpoint": outer.issuer + "/token"})
                elif self.path == "/jwks":
                    self._send(200, {"keys": keys})
                else:
                    self._send(404, {"error": "not found"})

            def _send(self, status, body):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.issuer = "http://127.0.0.1:%d" % self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def count(self, path):
        with self.lock:
            return sum(1 for p in self.requests if p == path)

    def paths(self):
        with self.lock:
            return list(self.requests)

    def set_keys(self, keys):
        with self.lock:
            self.keys = list(keys)

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


# ---- checks --------------------------------------------------------------------------------------

def wait_until(pred, timeout=10, interval=0.05):
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return True
        time.sleep(interval)
    return False


def call(server, path="/api/v1/models", method="GET", headers=None, **kw):
    h = dict(headers or {})
    if method == "POST":
        h.setdefault("Content-Type", "application/json")
        return requests.post(server.url(path), data=json.dumps(IRIS_BODY), headers=h, timeout=30,
                             **kw)
    return requests.get(server.url(path), headers=h, timeout=30, **kw)


def bearer(token):
    return {"Authorization": "Bearer " + token}


def assert_refused(server, resp, status, code, reason, secret=None):
    """A refusal: the status and error code, an RFC 6750 challenge on 401/403, the precise reason
    in the operational log (never the credential itself), a generic message to the client."""
    assert resp.status_code == status, (resp.status_code, resp.text)
    body = resp.json()
    assert set(body) == {"error", "code", "request_id"}, body
    assert body["code"] == code, body
    rid = resp.headers["X-Request-Id"]
    if status in (401, 403):
        challenge = resp.headers.get("WWW-Authenticate", "")
        assert challenge.startswith('Bearer realm="modelwrap"'), challenge
        if code == "invalid_token":
            assert 'error="invalid_token"' in challenge, challenge
        if status == 403:
            assert 'error="insufficient_scope"' in challenge, challenge
    rec = server.wait_log(lambda l: l.get("msg") == "authentication refused"
                          and l.get("request_id") == rid)
    assert rec["reason"] == reason, rec
    if secret:
        assert_not_logged(server, secret)
        assert secret not in resp.text
    return rec


def assert_not_logged(server, secret):
    """The credential appears nowhere in the operational log. A short malformed one ("abc") occurs
    by chance inside hexadecimal request ids, so it is looked for where a leak would put it: as a
    whole value, or after "Bearer "."""
    text = "".join(server.raw)
    if len(secret) >= 16:
        assert secret not in text, "a credential reached the log"
        return
    assert "Bearer " + secret not in text, "a credential reached the log"
    for rec in server.logs:
        assert secret not in [v for v in rec.values() if isinstance(v, str)], \
            ("a credential reached the log", rec)
