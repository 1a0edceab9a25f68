#!/usr/bin/env bash
# The Open Inference Protocol benchmark: POST /v2/models/iris/infer with JSON tensors against the
# binary tensor data extension, for a 1-row and a 1000-row request, with wrk on loopback, in
# interleaved rounds. Usage: bash bench/v2.sh; results in docs/BENCHMARKS.md ("V2: JSON vs binary").
#
# Environment:
#   BENCH_ROUNDS=3 BENCH_DURATION=10 (seconds per case per round) BENCH_WARMUP=2 (seconds)
#   BENCH_CONNECTIONS=32 BENCH_WRK_THREADS=2
#   BENCH_QUICK=1      smoke run: 1 round of 3 s, results in build/bench-v2-quick.json
#   BENCH_OUT=path     where the JSON results go (default bench/results/v2-latest.json)
#   MODELWRAP_BIN=path the binary (default build/release/modelwrap)
set -euo pipefail

# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$BENCH_ROOT"
BENCH_NAME=bench/v2

bench_settings 32
if [ "$QUICK" = 1 ]; then
    OUT=${BENCH_OUT:-$BENCH_ROOT/build/bench-v2-quick.json}
else
    OUT=${BENCH_OUT:-$BENCH_ROOT/bench/results/v2-latest.json}
fi
need wrk
need_py numpy
need_mw
bench_init bench-v2

# ---- the server ------------------------------------------------------------------------------------

mkdir -p "$TMP/models/iris"
cp models/iris/model.json models/iris/iris.ubj "$TMP/models/iris/"
lib v2-bodies "$TMP"
PORT=$(free_port)
"$MW" serve --host "$HOST" --port "$PORT" --models "$TMP/models" --env-file /dev/null \
    --auth none --log-level warn --rate-limit 1000000/s --rate-burst 1000000 \
    >"$TMP/audit.log" 2>"$TMP/server.log" &
track "$!"
wait_ready "http://$HOST:$PORT/v2/health/ready" "$!" 30
URL="http://$HOST:$PORT/v2/models/iris/infer"

CASES=(json-1 binary-1 json-1000 binary-1000)
for c in "${CASES[@]}"; do
    lib v2-check "$URL" "$TMP" "$c"
done

RUNS=()
for ((r = 1; r <= ROUNDS; r++)); do
    for c in "${CASES[@]}"; do
        set -a
        # shellcheck disable=SC1090
        . "$TMP/$c.env" # BENCH_CONTENT_TYPE, BENCH_IHCL for bench/post.lua
        set +a
        export BENCH_BODY_FILE="$TMP/$c.body"
        if [ "$WARMUP" -gt 0 ]; then
            wrk -t "$WRK_THREADS" -c "$CONNS" -d "${WARMUP}s" -s bench/post.lua "$URL" >/dev/null
        fi
        wrk -t "$WRK_THREADS" -c "$CONNS" -d "${DURATION}s" --latency -s bench/post.lua "$URL" \
            >"$TMP/$c.$r.txt"
        RUNS+=("$c:$r:$TMP/$c.$r.txt")
        echo "round $r $c: $(grep Requests/sec "$TMP/$c.$r.txt")"
    done
done
lib v2-report "$OUT" "${RUNS[@]}"
echo "results: $OUT"
