#!/usr/bin/env bash
# Two modelwrap binaries in one run: the production configuration of bench/run.sh (API-key auth,
# rate limiter, audit file, metrics listener, log level info) serving iris (1 record), the trivial
# plug-in and GET /api/v1/health/live, interleaved round by round, medians and the after/before
# ratio per case. For a change that must not cost speed (a refactoring): run it with the binary of
# the commit before and the one after.
# Usage: bash bench/compare.sh BEFORE_BIN AFTER_BIN (each binary's own plug-ins are used: the
# plugins/ folder beside it); docs/BENCHMARKS.md, "Before and after".
#
# Environment:
#   BENCH_ROUNDS=3 BENCH_DURATION=10 BENCH_WARMUP=2 BENCH_CONNECTIONS=64 BENCH_WRK_THREADS=2
#   BENCH_QUICK=1      smoke run: 1 round of 3 s
#   BENCH_OUT=path     the JSON results (default bench/results/compare.json)
set -euo pipefail

# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ROOT=$BENCH_ROOT
cd "$ROOT"
BENCH_NAME="compare bench"

[ $# -eq 2 ] || die "usage: bash bench/compare.sh BEFORE_BIN AFTER_BIN"
bench_settings 64
if [ "$QUICK" = 1 ]; then
    OUT=${BENCH_OUT:-$ROOT/build/bench-compare-quick.json}
else
    OUT=${BENCH_OUT:-$ROOT/bench/results/compare.json}
fi
declare -A BIN
BIN[before]=$(realpath "$1")
BIN[after]=$(realpath "$2")
for side in before after; do
    [ -x "${BIN[$side]}" ] || die "no binary at ${BIN[$side]}"
    [ -f "$(dirname "${BIN[$side]}")/plugins/testkit.so" ] ||
        die "no plugins/testkit.so beside ${BIN[$side]}"
done
need wrk
bench_init bench-compare

lib body iris-1 "$TMP/iris-1.json" "$ROOT/models/iris/reference.json"
lib body trivial "$TMP/trivial.json" "$ROOT/models/iris/reference.json"
for side in before after; do
    mkdir -p "$TMP/trivial-$side/testkit"
    printf '{"backend": "plugin", "file": "%s", "version": "1"}\n' \
        "$(dirname "${BIN[$side]}")/plugins/testkit.so" >"$TMP/trivial-$side/testkit/model.json"
done

# The key file is written once, by the newer binary (the format did not change between them).
BENCH_API_KEY=$("${BIN[after]}" keys create --id bench --scopes predict,read \
    --file "$TMP/keys.json" 2>"$TMP/keys.log") || die "keys create failed: $(cat "$TMP/keys.log")"
export BENCH_API_KEY

# start_mw SIDE MODELS: sets PID and BASE.
start_mw() {
    local port mport
    port=$(free_port)
    mport=$(free_port)
    "${BIN[$1]}" serve --env-file /dev/null --host "$HOST" --port "$port" --log-level info \
        --auth required --api-keys-file "$TMP/keys.json" --rate-limit 1000000/s \
        --rate-burst 1000000 --models "$2" --audit-log "$TMP/audit-$1.log" \
        --metrics-port "$mport" </dev/null >>"$TMP/mw-$1.out" 2>>"$TMP/mw-$1.log" &
    PID=$!
    track "$PID"
    wait_ready "http://$HOST:$port/api/v1/health/ready" "$PID" 60
    BASE="http://$HOST:$port"
}

RUNS=()
# measure CASE ROUND URL [BODY]: warm-up, then one measured wrk run into RUNS (GET without BODY).
measure() {
    local out="$TMP/$1.$2.txt"
    local -a script=(-s bench/post.lua)
    [ -n "${4:-}" ] || script=() # a GET of an unauthenticated probe
    BENCH_BODY_FILE=${4:-} wrk -t"$WRK_THREADS" -c"$CONNS" -d"${WARMUP}s" "${script[@]}" "$3" \
        >/dev/null
    BENCH_BODY_FILE=${4:-} wrk -t"$WRK_THREADS" -c"$CONNS" -d"${DURATION}s" --latency \
        "${script[@]}" "$3" >"$out"
    RUNS+=("$1:$2:$out")
    echo "round $2 $1: $(lib wrk-field "$out" rps) requests/s, p50 $(lib wrk-field "$out" p50_ms)" \
        "ms, p99 $(lib wrk-field "$out" p99_ms) ms" >&2
}

echo "compare bench: $(date -u +%FT%TZ), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)," \
    "$CONNS connections; before ${BIN[before]}, after ${BIN[after]}" >&2
for round in $(seq 1 "$ROUNDS"); do
    # Alternate which side goes first, so that neither always runs on the warmer machine.
    sides="before after"
    [ $((round % 2)) -eq 0 ] && sides="after before"
    for side in $sides; do
        start_mw "$side" "$ROOT/models"
        measure "iris-$side" "$round" "$BASE/api/v1/predict" "$TMP/iris-1.json"
        measure "health-$side" "$round" "$BASE/api/v1/health/live"
        stop "$PID"
        start_mw "$side" "$TMP/trivial-$side"
        measure "trivial-$side" "$round" "$BASE/api/v1/predict" "$TMP/trivial.json"
        stop "$PID"
    done
done

lib compare-report "$OUT" "${RUNS[@]}"
echo "compare bench: results in $OUT" >&2
