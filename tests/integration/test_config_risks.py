"""MODELWRAP_AUTH=none with MODELWRAP_TRUSTED_PROXIES (a gateway on this host forwarding to the
loopback address would expose an unauthenticated API) is refused at start-up and by check-config
unless MODELWRAP_AUTH_NONE_BEHIND_PROXY=true says so, which is then warned about loudly."""
import os
import subprocess

import requests

from conftest import BIN, ROOT, START_TIMEOUT

ENV = {k: v for k, v in os.environ.items() if not k.startswith("MODELWRAP_")}
ENV["MODELWRAP_ENV_FILE"] = "/dev/null"


def run(*args, env=None):
    e = dict(ENV, **(env or {}))
    return subprocess.run([BIN] + list(args), cwd=ROOT, env=e, capture_output=True, text=True,
                          timeout=START_TIMEOUT)


def test_auth_none_behind_a_trusted_proxy_is_refused(make_server):
    for how in (["--trusted-proxies", "127.0.0.1"], ["--trusted-proxies", "10.0.0.0/8,::1"]):
        r = run("serve", "--host", "127.0.0.1", "--port", "0", "--auth", "none", *how)
        assert r.returncode != 0, r.stderr
        assert "MODELWRAP_AUTH_NONE_BEHIND_PROXY" in r.stderr, r.stderr
        r = run("check-config", "--auth", "none", *how)
        assert r.returncode == 2 and "MODELWRAP_AUTH_NONE_BEHIND_PROXY" in r.stderr, r.stderr
    # the same through the environment
    r = run("check-config", env={"MODELWRAP_AUTH": "none", "MODELWRAP_TRUSTED_PROXIES": "::1"})
    assert r.returncode == 2 and "MODELWRAP_TRUSTED_PROXIES" in r.stderr, r.stderr
    # auth none alone on loopback stays accepted
    assert run("check-config", "--auth", "none").returncode == 0


def test_explicit_override_is_accepted_and_warned(make_server):
    r = run("check-config", "--auth", "none", "--trusted-proxies", "127.0.0.1",
            "--auth-none-behind-proxy", "true")
    assert r.returncode == 0, r.stderr
    assert "MODELWRAP_AUTH_NONE_BEHIND_PROXY=true" in r.stdout  # the setting is listed
    assert "behind trusted proxies" in r.stderr and '"level":"warn"' in r.stderr, r.stderr
    s = make_server(["--trusted-proxies", "127.0.0.1", "--auth-none-behind-proxy", "true"])
    warn = s.wait_log(lambda l: "behind trusted proxies" in l.get("msg", ""))
    assert warn["level"] == "warn" and warn["trusted_proxies"] == "127.0.0.1"
    assert requests.get(s.url("/api/v1/models"), timeout=10).status_code == 200


def test_the_setting_is_documented_everywhere():
    assert "--auth-none-behind-proxy" in run("help").stdout
    assert "MODELWRAP_AUTH_NONE_BEHIND_PROXY=false" in run("env-example").stdout
    with open(os.path.join(ROOT, ".env.example")) as f:
        assert "MODELWRAP_AUTH_NONE_BEHIND_PROXY" in f.read()
    with open(os.path.join(ROOT, "docs", "configuration.md")) as f:
        assert "`MODELWRAP_AUTH_NONE_BEHIND_PROXY`" in f.read()
