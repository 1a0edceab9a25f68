#!/usr/bin/env bash
# The Open Inference Protocol benchmark: POST /v2/models/iris/infer with JSON tensors against the
# binary tensor data extension, for a 1-row and a 1000-row request, with wrk on loopback, in
# interleaved rounds. Usage: bash bench/v2.sh; results in docs/BENCHMARKS.md ("V2: JSON vs binary").
#
# Environment:
#   BENCH_ROUNDS=3 BENCH_DURATION=10 (seconds per case per round) BENCH_WARMUP=2 (seconds)
#   BENCH_CONNECTIONS=32 BENCH_WRK_THREADS=2
#   BENCH_OUT=path     where the JSON results go (default bench/results/v2-latest.json)
#   MODELWRAP_BIN=path the binary (default build/release/modelwrap)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
PY=/usr/bin/python3
MW=${MODELWRAP_BIN:-$ROOT/build/release/modelwrap}
HOST=127.0.0.1

# Only the settings this script passes may reach modelwrap.
while IFS= read -r v; do unset "$v"; done < <(compgen -e | grep '^MODELWRAP_' || true)

ROUNDS=${BENCH_ROUNDS:-3}
DURATION=${BENCH_DURATION:-10}
WARMUP=${BENCH_WARMUP:-2}
CONNS=${BENCH_CONNECTIONS:-32}
WRK_THREADS=${BENCH_WRK_THREADS:-2}
OUT=${BENCH_OUT:-$ROOT/bench/results/v2-latest.json}

die() {
    echo "bench/v2: $*" >&2
    exit 1
}

check_int() {
    if ! [[ $2 =~ ^[0-9]{1,7}$ ]] || [ "$2" -lt "$3" ] || [ "$2" -gt "$4" ]; then
        die "$1 must be an integer from $3 to $4 (got '$2')"
    fi
}
check_int BENCH_ROUNDS "$ROUNDS" 1 100
check_int BENCH_DURATION "$DURATION" 1 3600
check_int BENCH_WARMUP "$WARMUP" 0 600
check_int BENCH_CONNECTIONS "$CONNS" 1 10000
check_int BENCH_WRK_THREADS "$WRK_THREADS" 1 64
[ "$CONNS" -ge "$WRK_THREADS" ] || die "BENCH_CONNECTIONS must be >= BENCH_WRK_THREADS"
command -v wrk >/dev/null 2>&1 || die "missing: wrk; install it with: bash scripts/install-deps.sh all"
"$PY" -c "import numpy" 2>/dev/null || die "missing: python3-numpy (bash scripts/install-deps.sh all)"
[ -x "$MW" ] || die "no modelwrap binary at $MW; build it with: make build"

TMP=$(mktemp -d /tmp/modelwrap-bench-v2.XXXXXX)
PIDS=()

# True when pid $1 is still a running child of this shell (a recycled pid is never signalled).
ours() {
    local line rest
    local -a f
    read -r line 2>/dev/null <"/proc/$1/stat" || return 1
    rest=${line##*) }
    read -r -a f <<<"$rest"
    [ "${f[1]}" = "$$" ] && [ "${f[0]}" != Z ]
}

cleanup() {
    local p n
    trap - EXIT INT TERM
    for p in "${PIDS[@]}"; do
        ours "$p" && kill -TERM "$p" 2>/dev/null
    done
    for p in "${PIDS[@]}"; do
        for ((n = 0; n < 50; n++)); do
            ours "$p" || break
            sleep 0.1
        done
        ours "$p" && kill -KILL "$p" 2>/dev/null
        wait "$p" 2>/dev/null || true
    done
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- request bodies, checks and the report (Python) ----------------------------------------------

cat >"$TMP/v2lib.py" <<'PYEOF'
"""Helper of bench/v2.sh: writes the four request bodies, checks each answer once, summarises."""
import http.client
import json
import os
import re
import socket
import statistics
import sys
import time

import numpy as np

HOST = "127.0.0.1"
ROW = [5.1, 3.5, 1.4, 0.2]


def freeport():
    s = socket.socket()
    s.bind((HOST, 0))
    port = s.getsockname()[1]
    s.close()
    print(port)


def bodies(tmp):
    """tmp/<case>.body and tmp/<case>.env (Content-Type, Inference-Header-Content-Length)."""
    rng = np.random.default_rng(1)
    for rows in (1, 1000):
        x = np.array([ROW], np.float32) if rows == 1 else (rng.random((rows, 4)) * 7).astype(
            np.float32)
        js = {"inputs": [{"name": "features", "shape": [rows, 4], "datatype": "FP32",
                          "data": x.reshape(-1).tolist()}]}
        write(tmp, "json-%d" % rows, json.dumps(js).encode(), "application/json", "")
        hdr = {"inputs": [{"name": "features", "shape": [rows, 4], "datatype": "FP32",
                           "parameters": {"binary_data_size": x.nbytes}}],
               "parameters": {"binary_data_output": True}}
        h = json.dumps(hdr).encode()
        write(tmp, "binary-%d" % rows, h + x.astype("<f4").tobytes(),
              "application/octet-stream", str(len(h)))


def write(tmp, case, body, ctype, ihcl):
    with open(os.path.join(tmp, case + ".body"), "wb") as f:
        f.write(body)
    with open(os.path.join(tmp, case + ".env"), "w") as f:
        f.write("V2_CTYPE=%s\nV2_IHCL=%s\n" % (ctype, ihcl))


def waitready(port, timeout):
    end = time.monotonic() + float(timeout)
    while time.monotonic() < end:
        try:
            c = http.client.HTTPConnection(HOST, int(port), timeout=1)
            c.request("GET", "/v2/health/ready")
            if c.getresponse().status == 200:
                return
        except (OSError, http.client.HTTPException):
            pass
        time.sleep(0.02)
    raise SystemExit("modelwrap not ready on port %s" % port)


def check(port, tmp, case):
    """One request: 200, and the probabilities of every row sum to 1 (same work for each case)."""
    body = open(os.path.join(tmp, case + ".body"), "rb").read()
    env = dict(l.split("=", 1) for l in open(os.path.join(tmp, case + ".env")).read().split("\n")
               if l)
    headers = {"Content-Type": env["V2_CTYPE"]}
    if env["V2_IHCL"]:
        headers["Inference-Header-Content-Length"] = env["V2_IHCL"]
    c = http.client.HTTPConnection(HOST, int(port), timeout=10)
    c.request("POST", "/v2/models/iris/infer", body=body, headers=headers)
    r = c.getresponse()
    data = r.read()
    if r.status != 200:
        raise SystemExit("%s: status %d: %r" % (case, r.status, data[:300]))
    hlen = r.getheader("Inference-Header-Content-Length")
    hlen = int(hlen) if hlen else len(data)
    head = json.loads(data[:hlen])
    out = next(o for o in head["outputs"] if o["name"] == "probabilities")
    if "data" in out:
        p = np.array(out["data"], np.float32)
    else:
        pos = hlen
        for o in head["outputs"]:
            size = o["parameters"]["binary_data_size"]
            if o["name"] == "probabilities":
                p = np.frombuffer(data[pos:pos + size], "<f4")
            pos += size
    rows = out["shape"][0]
    if not np.allclose(p.reshape(rows, 3).sum(axis=1), 1.0, atol=1e-5):
        raise SystemExit("%s: probabilities do not sum to 1" % case)
    print("%s: %d request bytes, %d response bytes" % (case, len(body), len(data)))


UNIT = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def ms(text):
    m = re.fullmatch(r"([0-9.]+)(us|ms|s)", text)
    return float(m.group(1)) * UNIT[m.group(2)]


def report(out, *runs):
    """runs: case:round:path triples of wrk outputs; writes out (JSON) and prints a table."""
    res = {}
    for spec in runs:
        case, _, path = spec.split(":", 2)
        text = open(path, encoding="utf-8", errors="replace").read()
        if "Non-2xx" in text or "Socket errors" in text:
            raise SystemExit("%s: wrk saw errors:\n%s" % (case, text))
        rps = float(re.search(r"Requests/sec:\s+([0-9.]+)", text).group(1))
        p50 = ms(re.search(r"\n\s+50%\s+(\S+)", text).group(1))
        p99 = ms(re.search(r"\n\s+99%\s+(\S+)", text).group(1))
        res.setdefault(case, []).append({"rps": rps, "p50_ms": p50, "p99_ms": p99})
    summary = {c: {"rps": statistics.median(r["rps"] for r in v),
                   "p50_ms": statistics.median(r["p50_ms"] for r in v),
                   "p99_ms": statistics.median(r["p99_ms"] for r in v), "rounds": v}
               for c, v in res.items()}
    with open(out, "w") as f:
        json.dump({"cases": summary, "cpus": os.cpu_count()}, f, indent=1)
    print("| case | requests/s (median) | p50 ms | p99 ms |")
    print("|---|---:|---:|---:|")
    for c in ("json-1", "binary-1", "json-1000", "binary-1000"):
        s = summary[c]
        print("| %s | %.0f | %.2f | %.2f |" % (c, s["rps"], s["p50_ms"], s["p99_ms"]))


if __name__ == "__main__":
    globals()[sys.argv[1]](*sys.argv[2:])
PYEOF

cat >"$TMP/v2.lua" <<'LUAEOF'
-- wrk script of bench/v2.sh: the body and headers of one case, from files the script wrote.
local f = assert(io.open(os.getenv("V2_BODY"), "rb"))
wrk.body = f:read("*a")
f:close()
wrk.method = "POST"
wrk.headers["Content-Type"] = os.getenv("V2_CTYPE")
local ihcl = os.getenv("V2_IHCL")
if ihcl ~= nil and ihcl ~= "" then
    wrk.headers["Inference-Header-Content-Length"] = ihcl
end
LUAEOF

# ---- the server ------------------------------------------------------------------------------------

mkdir -p "$TMP/models/iris"
cp models/iris/model.json models/iris/iris.ubj "$TMP/models/iris/"
"$PY" "$TMP/v2lib.py" bodies "$TMP"
PORT=$("$PY" "$TMP/v2lib.py" freeport)
"$MW" serve --host "$HOST" --port "$PORT" --models "$TMP/models" --env-file /dev/null \
    --auth none --log-level warn --rate-limit 1000000/s --rate-burst 1000000 \
    >"$TMP/audit.log" 2>"$TMP/server.log" &
PIDS+=($!)
"$PY" "$TMP/v2lib.py" waitready "$PORT" 30

CASES=(json-1 binary-1 json-1000 binary-1000)
for c in "${CASES[@]}"; do
    "$PY" "$TMP/v2lib.py" check "$PORT" "$TMP" "$c"
done

RUNS=()
for ((r = 1; r <= ROUNDS; r++)); do
    for c in "${CASES[@]}"; do
        set -a
        # shellcheck disable=SC1090
        . "$TMP/$c.env"
        set +a
        export V2_BODY="$TMP/$c.body"
        if [ "$WARMUP" -gt 0 ]; then
            wrk -t "$WRK_THREADS" -c "$CONNS" -d "${WARMUP}s" -s "$TMP/v2.lua" \
                "http://$HOST:$PORT/v2/models/iris/infer" >/dev/null
        fi
        wrk -t "$WRK_THREADS" -c "$CONNS" -d "${DURATION}s" --latency -s "$TMP/v2.lua" \
            "http://$HOST:$PORT/v2/models/iris/infer" >"$TMP/$c.$r.txt" &
        PIDS+=($!)
        wait "${PIDS[-1]}"
        RUNS+=("$c:$r:$TMP/$c.$r.txt")
        echo "round $r $c: $(grep Requests/sec "$TMP/$c.$r.txt")"
    done
done
mkdir -p "$(dirname "$OUT")"
"$PY" "$TMP/v2lib.py" report "$OUT" "${RUNS[@]}"
echo "results: $OUT"
