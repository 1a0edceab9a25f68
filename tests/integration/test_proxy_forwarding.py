"""Trusted proxies: X-Forwarded-For, Forwarded and X-Forwarded-Proto are believed only from a
peer in MODELWRAP_TRUSTED_PROXIES, and the client address in logs (and limits) is then the first
untrusted hop. Clients here connect from 127.0.0.1 (the "gateway") or other loopback addresses
(plain clients). The tests run with MODELWRAP_AUTH=none, so they say MODELWRAP_AUTH_NONE_BEHIND_PROXY
(test_config_risks.py checks the refusal without it)."""
import uuid

from tls_util import http_request, wait_request_log


def get(server, headers=None, source=None):
    rid = uuid.uuid4().hex
    hdrs = dict(headers or {})
    hdrs["X-Request-Id"] = rid
    status, resp_headers, _ = http_request(server.port, "/api/v1/health", headers=hdrs,
                                           source=source)
    assert status == 200
    return wait_request_log(server, rid), resp_headers


def test_trusted_peer(make_server):
    s = make_server(["--auth-none-behind-proxy", "true", "--trusted-proxies", "127.0.0.1, ::1"])
    rec, hdrs = get(s, {"X-Forwarded-For": "203.0.113.7"})
    assert rec["client"] == "203.0.113.7"
    # what the client itself wrote stays to the left and is ignored
    rec, _ = get(s, {"X-Forwarded-For": "6.6.6.6, 203.0.113.7"})
    assert rec["client"] == "203.0.113.7"
    # a chain of trusted proxies is walked through
    rec, _ = get(s, {"X-Forwarded-For": "198.51.100.2, 127.0.0.1"})
    assert rec["client"] == "198.51.100.2"
    rec, _ = get(s, {"X-Forwarded-For": "[2001:db8::5]:4711"})
    assert rec["client"] == "2001:db8::5"
    rec, _ = get(s, {"X-Forwarded-For": "unknown"})
    assert rec["client"] == "127.0.0.1"
    rec, _ = get(s)
    assert rec["client"] == "127.0.0.1"
    # the scheme the client used: HSTS only when it was https
    _, hdrs = get(s, {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"})
    assert hdrs.get("strict-transport-security") == "max-age=31536000"
    _, hdrs = get(s, {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "http"})
    assert "strict-transport-security" not in hdrs
    # in x-forwarded-for mode a Forwarded header is not believed
    rec, _ = get(s, {"Forwarded": "for=192.0.2.9;proto=https"})
    assert rec["client"] == "127.0.0.1"


def test_untrusted_peer(make_server):
    """A peer outside the list (here 127.0.0.2; the list holds only 127.0.0.1) is the client,
    whatever it claims, and it cannot switch HSTS on."""
    s = make_server(["--auth-none-behind-proxy", "true", "--trusted-proxies", "127.0.0.1/32"])
    rec, hdrs = get(s, {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https",
                        "Forwarded": "for=203.0.113.8"}, source="127.0.0.2")
    assert rec["client"] == "127.0.0.2"
    assert "strict-transport-security" not in hdrs
    # and without any list, nobody is trusted
    s2 = make_server()
    rec, _ = get(s2, {"X-Forwarded-For": "203.0.113.7"})
    assert rec["client"] == "127.0.0.1"


def test_forwarded_mode(make_server):
    s = make_server(["--auth-none-behind-proxy", "true", "--trusted-proxies", "127.0.0.0/8", "--proxy-header", "forwarded"])
    rec, hdrs = get(s, {"Forwarded": 'for=192.0.2.60;proto=https, for="[2001:db8:cafe::17]"'},
                    source="127.0.0.3")
    assert rec["client"] == "2001:db8:cafe::17"
    rec, hdrs = get(s, {"Forwarded": "for=192.0.2.60;proto=https"}, source="127.0.0.3")
    assert rec["client"] == "192.0.2.60"
    assert hdrs.get("strict-transport-security") == "max-age=31536000"
    # X-Forwarded-For is ignored in this mode
    rec, _ = get(s, {"X-Forwarded-For": "203.0.113.7"})
    assert rec["client"] == "127.0.0.1"


def test_bad_trusted_list_refused():
    from tls_util import start_failure
    rc, err = start_failure(["--auth-none-behind-proxy", "true", "--trusted-proxies", "10.0.0.1/8"])
    assert rc != 0 and "MODELWRAP_TRUSTED_PROXIES" in err and "host bits" in err, err
    rc, err = start_failure(["--auth-none-behind-proxy", "true", "--trusted-proxies", "gateway.internal"])
    assert rc != 0 and "not an IP address or CIDR" in err, err
