#!/usr/bin/env bash
# Benchmark case (f) of issue 9: 256 concurrent clients each posting one iris record
# (bench/post.lua) to modelwrap with dynamic batching off vs on (same workers), with wrk in
# interleaved rounds; medians and the on/off ratio of the same run. Usage: bash bench/batching.sh
# (after `make build`). Results: bench/results/batching.json and a Markdown table on stdout;
# docs/batching.md ("Measured") has the last reported run.
#
# Environment:
#   BATCH_ROUNDS=3 BATCH_DURATION=10 (seconds per wrk run) BATCH_CONNECTIONS=256 BATCH_WORKERS=2
#   BATCH_MAX=64 (max_batch_size) BATCH_DELAY_US=500 (max_queue_delay_us)
#   BATCH_OUT=path (default bench/results/batching.json)  MODELWRAP_BIN=path
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
PY=/usr/bin/python3
MW=${MODELWRAP_BIN:-$ROOT/build/release/modelwrap}
ROUNDS=${BATCH_ROUNDS:-3}
DURATION=${BATCH_DURATION:-10}
CONNS=${BATCH_CONNECTIONS:-256}
WORKERS=${BATCH_WORKERS:-2}
MAX=${BATCH_MAX:-64}
DELAY=${BATCH_DELAY_US:-500}
OUT=${BATCH_OUT:-$ROOT/bench/results/batching.json}
CORES=$(nproc)

die() {
    echo "batching bench: $*" >&2
    exit 1
}

for v in ROUNDS DURATION CONNS WORKERS MAX; do
    [[ ${!v} =~ ^[1-9][0-9]{0,5}$ ]] || die "$v must be a positive integer (got '${!v}')"
done
[[ $DELAY =~ ^[0-9]{1,7}$ ]] || die "BATCH_DELAY_US must be an integer (got '$DELAY')"
[ "$WORKERS" -le 256 ] || die "BATCH_WORKERS must be at most 256"
[ "$MAX" -le 4096 ] || die "BATCH_MAX must be at most 4096"
[ -x "$MW" ] || die "no $MW: run 'make build' first"
[ -f "$ROOT/models/iris/iris.ubj" ] || die "no models/iris/iris.ubj in $ROOT"
for tool in wrk curl; do
    command -v "$tool" >/dev/null || die "$tool is missing: run 'bash scripts/install-deps.sh test'"
done

# Only the settings this script passes may reach modelwrap.
while IFS= read -r v; do unset "$v"; done < <(compgen -e | grep '^MODELWRAP_' || true)
export MODELWRAP_ENV_FILE=

WORK=$(mktemp -d)
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do
        kill "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT

free_port() {
    "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_http URL: polls until it answers, at most 20 s.
wait_http() {
    local i
    for i in $(seq 1 400); do
        curl -fs -o /dev/null "$1" && return 0
        sleep 0.05
    done
    die "nothing answers at $1"
}

# A model repository holding iris with the given extra model.json members (JSON object text).
make_repo() {
    local dir=$1 extra=$2
    mkdir -p "$dir/iris"
    cp "$ROOT/models/iris/iris.ubj" "$dir/iris/"
    "$PY" - "$ROOT/models/iris/model.json" "$dir/iris/model.json" "$extra" <<'EOF'
import json, sys
src, dst, extra = sys.argv[1:4]
with open(src) as f:
    m = json.load(f)
m.update(json.loads(extra))
with open(dst, "w") as f:
    json.dump(m, f)
EOF
}

make_repo "$WORK/off" "{\"workers\": $WORKERS}"
make_repo "$WORK/on" "{\"workers\": $WORKERS, \"dynamic_batching\": {\"max_batch_size\": $MAX,
    \"max_queue_delay_us\": $DELAY}}"

echo "batching bench: $(date -u +%FT%TZ), $CORES cores, load $(cut -d' ' -f1-3 /proc/loadavg)," \
    "$CONNS connections, workers $WORKERS, max_batch_size $MAX, max_queue_delay_us $DELAY" >&2

# ---- interleaved rounds: off, on, off, on, ... ---------------------------------------------------
declare -A rps p99
for round in $(seq 1 "$ROUNDS"); do
    for mode in off on; do
        port=$(free_port)
        "$MW" serve --host 127.0.0.1 --port "$port" --auth none --log-level warn \
            --rate-limit off --models "$WORK/$mode" --default-model iris \
            >/dev/null 2>"$WORK/mw-$mode.log" &
        pid=$!
        PIDS+=("$pid")
        wait_http "http://127.0.0.1:$port/api/v1/health/ready"
        url="http://127.0.0.1:$port/api/v1/predict"
        wrk -t2 -c"$CONNS" -d2s -s bench/post.lua "$url" >/dev/null
        wrk -t2 -c"$CONNS" -d"${DURATION}s" --latency -s bench/post.lua "$url" >"$WORK/wrk.txt"
        r=$(awk '/^Requests\/sec:/ {print $2}' "$WORK/wrk.txt")
        l=$(awk '$1 == "99%" {print $2}' "$WORK/wrk.txt")
        if grep -q "Non-2xx" "$WORK/wrk.txt"; then
            die "$mode: some answers were not 2xx: $(grep Non-2xx "$WORK/wrk.txt")"
        fi
        kill "$pid"
        wait "$pid" || true
        rps[$mode]="${rps[$mode]:-} $r"
        p99[$mode]="${p99[$mode]:-} $l"
        echo "round $round batching $mode: $r requests/s, p99 $l" >&2
    done
done

# ---- results -------------------------------------------------------------------------------------
mkdir -p "$(dirname "$OUT")"
"$PY" - "$OUT" "$CORES" "$CONNS" "$WORKERS" "$MAX" "$DELAY" "${rps[off]}" "${rps[on]}" \
    "${p99[off]}" "${p99[on]}" <<'EOF'
import json, statistics, sys, time
out, cores, conns, workers, mx, delay, off, on, p_off, p_on = sys.argv[1:11]
tp = {"off": [float(x) for x in off.split()], "on": [float(x) for x in on.split()]}
lat = {"off": p_off.split(), "on": p_on.split()}
res = {"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "cores": int(cores),
       "connections": int(conns), "workers": int(workers), "max_batch_size": int(mx),
       "max_queue_delay_us": int(delay), "requests_per_s": tp, "p99": lat}
with open(out, "w") as f:
    json.dump(res, f, indent=1)
base = statistics.median(tp["off"])
print("| iris, 1 record, %s connections, %s workers | requests/s (median of %d) | p99 (per round) "
      "| vs off |" % (conns, workers, len(tp["off"])))
print("|---|---|---|---|")
for m in ("off", "on"):
    med = statistics.median(tp[m])
    name = "batching off" if m == "off" else "batching on (max %s, %s us)" % (mx, delay)
    print("| %s | %.0f | %s | %.2fx |" % (name, med, " / ".join(lat[m]), med / base))
EOF
echo "batching bench: results in $OUT" >&2
