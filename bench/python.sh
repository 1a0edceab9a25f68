#!/usr/bin/env bash
# Python models: modelwrap's python backend against the Python template's own app (FastAPI +
# uvicorn, 2 workers: bench/template_app/main.py) on the SAME template-style model.py
# (models/tickets/src/model.py: TF-IDF + logistic regression), 64 connections, one record per
# request, POST /api/predict/ on both, with modelwrap's dynamic batching off and on (on with
# PY_INSTANCES instances and with one: merged batches replace process parallelism, and one
# instance gets batches twice as large); and what the
# Python path adds to a request's p50 (1 connection) against a C plug-in doing the same trivial
# work (bench/python_trivial: y = 2 * x in Python; plugins/testkit: the same in C). Interleaved
# rounds, medians, ratios against the template measured in the same run.
# Usage: bash bench/python.sh (after `make build`); docs/BENCHMARKS.md, "Python models".
#
# Environment:
#   BENCH_ROUNDS=3 BENCH_DURATION=10 BENCH_WARMUP=2 BENCH_CONNECTIONS=64 BENCH_WRK_THREADS=2
#   BENCH_QUICK=1        smoke run: 1 round of 3 s, results in build/bench-python-quick.json
#   BENCH_OUT=path       the JSON results (default bench/results/python.json)
#   PY_INSTANCES=2       modelwrap's worker instances (the template runs 2 uvicorn workers)
#   PY_BATCH_MAX=64 PY_BATCH_DELAY_US=500   dynamic batching of the "on" case
#   MODELWRAP_BIN=path   BENCH_TESTKIT=path (default build/release/plugins/testkit.so)
set -euo pipefail

# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ROOT=$BENCH_ROOT
cd "$ROOT"
BENCH_NAME="python bench"

bench_settings 64
if [ "$QUICK" = 1 ]; then
    OUT=${BENCH_OUT:-$ROOT/build/bench-python-quick.json}
else
    OUT=${BENCH_OUT:-$ROOT/bench/results/python.json}
fi
INSTANCES=${PY_INSTANCES:-2}
MAX=${PY_BATCH_MAX:-64}
DELAY=${PY_BATCH_DELAY_US:-500}
check_int PY_INSTANCES "$INSTANCES" 1 64
check_int PY_BATCH_MAX "$MAX" 1 4096
check_int PY_BATCH_DELAY_US "$DELAY" 0 9999999
TESTKIT=${BENCH_TESTKIT:-$ROOT/build/release/plugins/testkit.so}

need wrk
need_py fastapi uvicorn sklearn joblib pydantic numpy
need_mw
[ -f "$ROOT/models/tickets/tickets.joblib" ] || die "no models/tickets/tickets.joblib in $ROOT"
[ -f "$TESTKIT" ] || die "no trivial plug-in at $TESTKIT; build it with: make build"
bench_init bench-python

# ---- model repositories and bodies ---------------------------------------------------------------

# repo DIR NAME SRC EXTRA: DIR/NAME is a copy of the model folder SRC with the members of the JSON
# object text EXTRA added to its model.json.
repo() {
    local dir=$1 name=$2 src=$3 extra=$4
    mkdir -p "$dir"
    cp -r "$src" "$dir/$name"
    find "$dir/$name" -name __pycache__ -prune -exec rm -rf {} +
    "$PY" - "$dir/$name/model.json" "$extra" <<'PYEOF'
import json, sys
path, extra = sys.argv[1:3]
with open(path) as f:
    m = json.load(f)
m.update(json.loads(extra))
with open(path, "w") as f:
    json.dump(m, f)
PYEOF
}
repo "$TMP/off" tickets "$ROOT/models/tickets" "{\"instances\": $INSTANCES}"
repo "$TMP/on" tickets "$ROOT/models/tickets" "{\"instances\": $INSTANCES,
    \"dynamic_batching\": {\"max_batch_size\": $MAX, \"max_queue_delay_us\": $DELAY}}"
repo "$TMP/on1" tickets "$ROOT/models/tickets" "{\"instances\": 1,
    \"dynamic_batching\": {\"max_batch_size\": $MAX, \"max_queue_delay_us\": $DELAY}}"
repo "$TMP/pytrivial" trivial "$ROOT/bench/python_trivial" '{"instances": 1}'
mkdir -p "$TMP/ctrivial/trivial"
printf '{"backend": "plugin", "file": "%s", "workers": 1}\n' "$TESTKIT" \
    >"$TMP/ctrivial/trivial/model.json"
printf '%s' '{"data":[{"description":"VPN disconnects every ten minutes when working from home","ci":"VPN-GW-01"}]}' \
    >"$TMP/tickets.json"
printf '%s' '{"data":[{"a":1.5,"b":2.5}]}' >"$TMP/trivial.json"

# ---- servers -------------------------------------------------------------------------------------

# Sets PID and URL: modelwrap on the repository $1, default model $2, POST URL the template's route.
start_mw() {
    local port
    port=$(free_port)
    "$MW" serve --host "$HOST" --port "$port" --env-file /dev/null --auth none --log-level warn \
        --rate-limit off --models "$1" --default-model "$2" >/dev/null 2>"$TMP/mw-$3.log" &
    PID=$!
    track "$PID"
    wait_ready "http://$HOST:$port/api/v1/health/ready" "$PID" 60
    URL="http://$HOST:$port/api/predict/"
}

# Sets PID and URL: the template's app under uvicorn, 2 workers, the model's src/ on PYTHONPATH.
start_template() {
    local port
    port=$(free_port)
    PYTHONPATH="$TMP/off/tickets/src" PYTHONDONTWRITEBYTECODE=1 "$PY" -m uvicorn main:app \
        --app-dir "$ROOT/bench/template_app" --host "$HOST" --port "$port" --workers 2 \
        --log-level warning --no-access-log >/dev/null 2>"$TMP/template.log" &
    PID=$!
    track "$PID"
    wait_ready "http://$HOST:$port/api/health/" "$PID" 60
    URL="http://$HOST:$port/api/predict/"
}

# check URL BODY_FILE EXPECTED_FILE [predictions]: one POST answers 200 with the JSON of
# EXPECTED_FILE (written by the first check when it does not exist yet): every server answers the
# same for the same work. "predictions": compare the answer's predictions member (a plug-in's
# template route wraps them; a template-style model's answers run()'s value as it is).
check() {
    "$PY" - "$1" "$2" "$3" "${4:-}" <<'PYEOF' || die "wrong answer from $1"
import json, os, sys, urllib.request
url, body, expected, member = sys.argv[1:5]
req = urllib.request.Request(url, data=open(body, "rb").read(),
                             headers={"Content-Type": "application/json"})
with urllib.request.urlopen(req, timeout=30) as r:
    got = json.loads(r.read())
if member:
    got = got[member]
if os.path.exists(expected):
    want = json.load(open(expected))
    if got != want:
        sys.exit(f"{url}: {got!r} != {want!r}")
else:
    json.dump(got, open(expected, "w"))
PYEOF
}

# measure CASE ROUND CONNS THREADS BODY: warm-up, then one measured wrk run into RUNS.
RUNS=()
measure() {
    local out="$TMP/$1.$2.txt"
    BENCH_BODY_FILE=$5 wrk -t"$4" -c"$3" -d"${WARMUP}s" -s bench/post.lua "$URL" >/dev/null
    BENCH_BODY_FILE=$5 wrk -t"$4" -c"$3" -d"${DURATION}s" --latency -s bench/post.lua "$URL" \
        >"$out"
    RUNS+=("$1:$2:$out")
    echo "round $2 $1: $(lib wrk-field "$out" rps) requests/s, p50 $(lib wrk-field "$out" p50_ms)" \
        "ms, p99 $(lib wrk-field "$out" p99_ms) ms" >&2
}

echo "python bench: $(date -u +%FT%TZ), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)," \
    "$CONNS connections, $INSTANCES instances, batching max $MAX / ${DELAY} us" >&2

# ---- interleaved rounds --------------------------------------------------------------------------
for round in $(seq 1 "$ROUNDS"); do
    start_template
    check "$URL" "$TMP/tickets.json" "$TMP/tickets.expected"
    measure template "$round" "$CONNS" "$WRK_THREADS" "$TMP/tickets.json"
    stop "$PID"
    for mode in off on on1; do
        start_mw "$TMP/$mode" tickets "$mode"
        check "$URL" "$TMP/tickets.json" "$TMP/tickets.expected"
        measure "modelwrap-batching-$mode" "$round" "$CONNS" "$WRK_THREADS" "$TMP/tickets.json"
        stop "$PID"
    done
    for kind in pytrivial ctrivial; do
        start_mw "$TMP/$kind" trivial "$kind"
        check "$URL" "$TMP/trivial.json" "$TMP/trivial.expected" \
            "$([ "$kind" = ctrivial ] && echo predictions)"
        measure "$kind-1conn" "$round" 1 1 "$TMP/trivial.json"
        stop "$PID"
    done
done

# ---- results -------------------------------------------------------------------------------------
lib python-report "$OUT" "$CONNS" "$INSTANCES" "$MAX" "$DELAY" "${RUNS[@]}"
echo "python bench: results in $OUT" >&2
