#!/usr/bin/env bash
# Benchmark case (f): 256 concurrent clients each posting one iris record
# (bench/post.lua) to modelwrap with dynamic batching off vs on (same workers), with wrk in
# interleaved rounds; medians and the on/off ratio of the same run. Usage: bash bench/batching.sh
# (after `make build`). Results: bench/results/batching.json and a Markdown table on stdout;
# docs/batching.md ("Measured") has the last reported run.
#
# Environment:
#   BATCH_ROUNDS=3 BATCH_DURATION=10 (seconds per wrk run) BATCH_CONNECTIONS=256 BATCH_WORKERS=2
#   BATCH_MAX=64 (max_batch_size) BATCH_DELAY_US=500 (max_queue_delay_us)
#   BENCH_QUICK=1 (smoke run: 1 round of 3 s, results in build/bench-batching-quick.json)
#   BATCH_OUT=path (default bench/results/batching.json)  MODELWRAP_BIN=path
set -euo pipefail

# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ROOT=$BENCH_ROOT
cd "$ROOT"
BENCH_NAME="batching bench"

if [ "${BENCH_QUICK:-0}" = 1 ]; then
    ROUNDS=${BATCH_ROUNDS:-1}
    DURATION=${BATCH_DURATION:-3}
    OUT=${BATCH_OUT:-$ROOT/build/bench-batching-quick.json}
else
    ROUNDS=${BATCH_ROUNDS:-3}
    DURATION=${BATCH_DURATION:-10}
    OUT=${BATCH_OUT:-$ROOT/bench/results/batching.json}
fi
CONNS=${BATCH_CONNECTIONS:-256}
WORKERS=${BATCH_WORKERS:-2}
MAX=${BATCH_MAX:-64}
DELAY=${BATCH_DELAY_US:-500}
check_int BATCH_ROUNDS "$ROUNDS" 1 100
check_int BATCH_DURATION "$DURATION" 1 3600
check_int BATCH_CONNECTIONS "$CONNS" 2 10000
check_int BATCH_WORKERS "$WORKERS" 1 256
check_int BATCH_MAX "$MAX" 1 4096
check_int BATCH_DELAY_US "$DELAY" 0 9999999
need wrk
need_mw
[ -f "$ROOT/models/iris/iris.ubj" ] || die "no models/iris/iris.ubj in $ROOT"
bench_init bench-batching

# A model repository holding iris with the given extra model.json members (JSON object text).
make_repo() {
    local dir=$1 extra=$2
    mkdir -p "$dir/iris"
    cp "$ROOT/models/iris/iris.ubj" "$dir/iris/"
    "$PY" - "$ROOT/models/iris/model.json" "$dir/iris/model.json" "$extra" <<'PYEOF'
import json, sys
src, dst, extra = sys.argv[1:4]
with open(src) as f:
    m = json.load(f)
m.update(json.loads(extra))
with open(dst, "w") as f:
    json.dump(m, f)
PYEOF
}

make_repo "$TMP/off" "{\"workers\": $WORKERS}"
make_repo "$TMP/on" "{\"workers\": $WORKERS, \"dynamic_batching\": {\"max_batch_size\": $MAX,
    \"max_queue_delay_us\": $DELAY}}"

echo "batching bench: $(date -u +%FT%TZ), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)," \
    "$CONNS connections, workers $WORKERS, max_batch_size $MAX, max_queue_delay_us $DELAY" >&2

# ---- interleaved rounds: off, on, off, on, ... ---------------------------------------------------
RUNS=()
for round in $(seq 1 "$ROUNDS"); do
    for mode in off on; do
        port=$(free_port)
        "$MW" serve --host "$HOST" --port "$port" --env-file /dev/null --auth none \
            --log-level warn --rate-limit off --models "$TMP/$mode" --default-model iris \
            >/dev/null 2>"$TMP/mw-$mode.log" &
        pid=$!
        track "$pid"
        wait_ready "http://$HOST:$port/api/v1/health/ready" "$pid" 20
        url="http://$HOST:$port/api/v1/predict"
        wrk -t2 -c"$CONNS" -d2s -s bench/post.lua "$url" >/dev/null
        wrk -t2 -c"$CONNS" -d"${DURATION}s" --latency -s bench/post.lua "$url" \
            >"$TMP/$mode.$round.txt"
        stop "$pid"
        RUNS+=("$mode:$round:$TMP/$mode.$round.txt")
        echo "round $round batching $mode: $(lib wrk-field "$TMP/$mode.$round.txt" rps) requests/s," \
            "p99 $(lib wrk-field "$TMP/$mode.$round.txt" p99_ms) ms" >&2
    done
done

# ---- results -------------------------------------------------------------------------------------
lib batching-report "$OUT" "$CONNS" "$WORKERS" "$MAX" "$DELAY" "${RUNS[@]}"
echo "batching bench: results in $OUT" >&2
