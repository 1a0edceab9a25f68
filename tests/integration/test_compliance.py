"""`modelwrap compliance`: the documented production configuration (the block of
docs/compliance.md) meets every applicable item; each deliberately broken variant fails (exit 1)
naming its item and only it; GET /api/v1/compliance (scope admin) serves the same document; and
`serve` logs one warning per item not met."""
import json
import os
import re
import subprocess

import pytest
import requests

from auth_util import CLEAN_ENV, create_key
from conftest import BIN, ROOT, write_model
from v2_util import built_test_plugin

ITEMS = ["transport_security", "authentication", "token_lifetime", "input_schemas",
         "consumer_limits", "sla_contact", "central_audit", "security_events", "egress_proxy",
         "api_versioned"]


def production_env():
    with open(os.path.join(ROOT, "docs", "compliance.md")) as f:
        text = f.read()
    block = re.search(r"<!-- production-env -->\n```sh\n(.*?)```", text, re.S)
    assert block, "docs/compliance.md lost its production configuration block"
    env = {}
    for line in block.group(1).splitlines():
        k, v = line.split("=", 1)
        env[k] = v
    return env


def run(env_vars, *args, fmt="json"):
    env = {k: v for k, v in CLEAN_ENV.items()
           if k.lower() not in ("http_proxy", "https_proxy", "all_proxy", "no_proxy")}
    env.update(env_vars)
    out = subprocess.run([BIN, "compliance", "--format", fmt] + list(args), env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    return out


def statuses(out):
    doc = json.loads(out.stdout)
    assert [i["id"] for i in doc["items"]] == ITEMS
    return doc, {i["id"]: i["status"] for i in doc["items"]}


def test_documented_production_configuration_passes():
    out = run(production_env())
    assert out.returncode == 0, out.stdout + out.stderr
    doc, st = statuses(out)
    assert doc["result"] == "met"
    assert set(st.values()) == {"met"}, st
    assert doc["summary"] == {"met": 10, "not_met": 0, "not_applicable": 0}
    text = run(production_env(), fmt="text")
    assert text.returncode == 0 and "NOT MET" not in text.stdout
    assert "result: 10 met, 0 not met, 0 not applicable" in text.stdout


def echo_repo(tmpdir):
    d = os.path.join(tmpdir, "models")
    write_model(d, "echo", {"backend": "plugin", "file": built_test_plugin("v2echo")})
    return d


BROKEN = [
    ("transport_security", {"MODELWRAP_TRUSTED_PROXIES": ""}, "MODELWRAP_TRUSTED_PROXIES"),
    # Behind the production configuration's trusted gateway, `none` also needs the explicit,
    # logged override: the check must still report the item as not met.
    ("authentication", {"MODELWRAP_AUTH": "none", "MODELWRAP_HOST": "127.0.0.1",
                        "MODELWRAP_AUTH_NONE_BEHIND_PROXY": "true"}, "MODELWRAP_AUTH"),
    ("token_lifetime", {"MODELWRAP_JWT_MAX_LIFETIME": "86400"}, "MODELWRAP_JWT_MAX_LIFETIME"),
    ("input_schemas", "echo", "MODELWRAP_MODELS"),
    ("consumer_limits", {"MODELWRAP_RATE_LIMIT": "off"}, "MODELWRAP_RATE_LIMIT"),
    ("sla_contact", {"MODELWRAP_SLA_CONTACT_NAME": ""}, "MODELWRAP_SLA_CONTACT_NAME"),
    ("central_audit", {"MODELWRAP_AUDIT_LOG": "/var/log/modelwrap/audit.log"},
     "MODELWRAP_AUDIT_LOG"),
    ("security_events", {"MODELWRAP_AUDIT_BUSINESS_HOURS": ""},
     "MODELWRAP_AUDIT_BUSINESS_HOURS"),
    ("egress_proxy", {"MODELWRAP_EGRESS_PROXY": ""}, "MODELWRAP_EGRESS_PROXY"),
    ("api_versioned", {"MODELWRAP_LEGACY_DEPRECATION": "", "MODELWRAP_LEGACY_SUNSET": ""},
     "MODELWRAP_LEGACY_DEPRECATION"),
]


@pytest.mark.parametrize("item,change,setting", BROKEN, ids=[b[0] for b in BROKEN])
def test_each_broken_variant_fails_naming_its_item(item, change, setting, tmpdir_path):
    env = production_env()
    if change == "echo":
        env["MODELWRAP_MODELS"] = echo_repo(tmpdir_path)
        env["MODELWRAP_DEFAULT_MODEL"] = "echo"
    else:
        env.update(change)
    out = run(env)
    assert out.returncode == 1, out.stdout + out.stderr
    doc, st = statuses(out)
    assert doc["result"] == "not_met"
    assert [i for i, s in st.items() if s == "not_met"] == [item], st
    bad = next(i for i in doc["items"] if i["id"] == item)
    assert setting in bad["settings"], bad
    text = run(env, fmt="text")
    assert text.returncode == 1
    line = next(l for l in text.stdout.splitlines() if l.startswith("[NOT MET]"))
    assert "(%s)" % item in line


def test_not_applicable_items():
    env = production_env()
    env.update({"MODELWRAP_JWT_ISSUER": "", "MODELWRAP_JWT_AUDIENCE": "",
                "MODELWRAP_EGRESS_PROXY": ""})
    out = run(env)
    assert out.returncode == 0, out.stdout + out.stderr
    _, st = statuses(out)
    assert st["token_lifetime"] == "not_applicable" and st["egress_proxy"] == "not_applicable"
    # The standard variable counts as the egress proxy.
    env = production_env()
    env.update({"MODELWRAP_EGRESS_PROXY": "", "HTTPS_PROXY": "http://u:pw-Secret9@proxy:3128"})
    out = run(env)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "pw-Secret9" not in out.stdout
    _, st = statuses(out)
    assert st["egress_proxy"] == "met"


def test_bad_configuration_is_exit_2():
    out = run({"MODELWRAP_PORT": "abc"})
    assert out.returncode == 2 and "MODELWRAP_PORT" in out.stderr
    out = subprocess.run([BIN, "compliance", "--format", "yaml"], env=CLEAN_ENV,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "--format" in out.stderr


def test_endpoint_and_start_up_warnings(make_server, tmpdir_path):
    keys = os.path.join(tmpdir_path, "keys.json")
    admin = create_key(keys, "ops", "admin,read")
    reader = create_key(keys, "reader", "read")
    s = make_server(["--api-keys-file", keys], auth="required")
    r = requests.get(s.url("/api/v1/compliance"), headers={"X-API-Key": admin}, timeout=30)
    assert r.status_code == 200, r.text
    doc = r.json()
    cli = run({"MODELWRAP_API_KEYS_FILE": keys, "MODELWRAP_AUTH": "required"})
    assert cli.returncode == 1
    assert json.loads(cli.stdout) == doc
    unmet = [i["id"] for i in doc["items"] if i["status"] == "not_met"]
    assert unmet == ["transport_security", "sla_contact", "central_audit", "security_events",
                     "api_versioned"]
    warned = [l["item"] for l in s.logs if l.get("msg") == "compliance item not met"]
    assert warned == unmet
    assert requests.get(s.url("/api/v1/compliance"), headers={"X-API-Key": reader},
                        timeout=30).status_code == 403
    assert requests.get(s.url("/api/v1/compliance"), timeout=30).status_code == 401
