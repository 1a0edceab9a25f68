#!/usr/bin/env bash
# The rate limiter's cost: per decision (bench/limiter_bench.c: p50/p99 of limit_take, local and
# through Redis on loopback, one thread and one per core) and the throughput of one replica with
# limiting off, local and in Redis (wrk on GET /api/v1/models/iris, interleaved rounds).
# Usage: bash bench/limiter.sh   (after `make build`). Results: bench/results/limiter.json and a
# Markdown table on stdout; docs/BENCHMARKS.md ("Rate limiter") has the last reported run.
#
# Environment:
#   LIMITER_ROUNDS=3 LIMITER_DURATION=10 (seconds per wrk run) LIMITER_CONNECTIONS=64
#   LIMITER_DECISIONS=2000000 (local, per thread) LIMITER_REDIS_DECISIONS=50000 (per thread)
#   LIMITER_OUT=path (default bench/results/limiter.json)  MODELWRAP_BIN, LIMITER_BENCH_BIN
set -euo pipefail

# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ROOT=$BENCH_ROOT
cd "$ROOT"
BENCH_NAME="limiter bench"
LB=${LIMITER_BENCH_BIN:-$ROOT/build/release/limiter_bench}
ROUNDS=${LIMITER_ROUNDS:-3}
DURATION=${LIMITER_DURATION:-10}
CONNS=${LIMITER_CONNECTIONS:-64}
DECISIONS=${LIMITER_DECISIONS:-2000000}
REDIS_DECISIONS=${LIMITER_REDIS_DECISIONS:-50000}
OUT=${LIMITER_OUT:-$ROOT/bench/results/limiter.json}
CORES=$(nproc)

check_int LIMITER_ROUNDS "$ROUNDS" 1 100
check_int LIMITER_DURATION "$DURATION" 1 3600
check_int LIMITER_CONNECTIONS "$CONNS" 2 10000
check_int LIMITER_DECISIONS "$DECISIONS" 1 999999999
check_int LIMITER_REDIS_DECISIONS "$REDIS_DECISIONS" 1 999999999
need redis-server redis-cli wrk curl
need_mw
[ -x "$LB" ] || die "no $LB: run 'make build' first"
bench_init bench-limiter

echo "limiter bench: $(date -u +%FT%TZ), $CORES cores, load $(cut -d' ' -f1-3 /proc/loadavg)" >&2

# ---- 1. cost per decision ----------------------------------------------------------------------
REDIS_PORT=$(free_port)
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
    --dir "$TMP" >/dev/null 2>&1 &
track "$!"
for _ in $(seq 1 200); do
    redis-cli -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG && break
    sleep 0.05
done
redis-cli -p "$REDIS_PORT" ping | grep -q PONG || die "redis-server did not start"
REDIS_URL="redis://127.0.0.1:$REDIS_PORT"

decisions=()
for t in 1 "$CORES"; do
    decisions+=("$("$LB" --threads "$t" --decisions "$DECISIONS" --keys 10000)")
    decisions+=("$("$LB" --threads "$t" --decisions "$REDIS_DECISIONS" --keys 10000 \
        --redis "$REDIS_URL")")
done

# ---- 2. one replica: limiting off, local, Redis ------------------------------------------------
# One consumer (wrk from 127.0.0.1, no authentication) under a limit it never reaches, so every
# request pays for a decision and none is refused.
declare -A rps
for round in $(seq 1 "$ROUNDS"); do
    for mode in off local redis; do
        port=$(free_port)
        args=(serve --host 127.0.0.1 --port "$port" --env-file /dev/null --auth none --log-level warn)
        case $mode in
        off) args+=(--rate-limit off) ;;
        local) args+=(--rate-limit 100000000/s --rate-burst 1000000) ;;
        redis) args+=(--rate-limit 100000000/s --rate-burst 1000000 --redis-url "$REDIS_URL"
                      --redis-timeout-ms 1000) ;;
        esac
        "$MW" "${args[@]}" >/dev/null 2>"$TMP/mw-$mode.log" &
        pid=$!
        track "$pid"
        wait_ready "http://127.0.0.1:$port/api/v1/health/ready" "$pid" 20
        wrk -t2 -c"$CONNS" -d2s "http://127.0.0.1:$port/api/v1/models/iris" >/dev/null
        wrk -t2 -c"$CONNS" -d"${DURATION}s" "http://127.0.0.1:$port/api/v1/models/iris" \
            >"$TMP/wrk.txt"
        r=$(lib wrk-field "$TMP/wrk.txt" rps)
        [ "$(lib wrk-field "$TMP/wrk.txt" non_2xx)" = 0 ] ||
            die "$mode: some answers were not 2xx (limited?): $(cat "$TMP/wrk.txt")"
        non2xx=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/api/v1/models/iris")
        [ "$non2xx" = 200 ] || die "$mode: the replica answered $non2xx (limited?)"
        stop "$pid"
        rps[$mode]="${rps[$mode]:-} $r"
        echo "round $round $mode: $r requests/s" >&2
    done
done

# ---- results -----------------------------------------------------------------------------------
mkdir -p "$(dirname "$OUT")"
"$PY" - "$OUT" "$CORES" "${rps[off]}" "${rps[local]}" "${rps[redis]}" "${decisions[@]}" <<'EOF'
import json, statistics, sys, time
out, cores, off, local, redis = sys.argv[1:6]
runs = [json.loads(x) for x in sys.argv[6:]]
tp = {m: [float(x) for x in v.split()] for m, v in (("off", off), ("local", local), ("redis", redis))}
res = {"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "cores": int(cores),
       "decisions": runs, "replica_requests_per_s": tp}
with open(out, "w") as f:
    json.dump(res, f, indent=1)
print("| store | threads | p50 | p99 | p99.9 | decisions/s (all threads) |")
print("|---|---|---|---|---|---|")
for r in runs:
    fmt = lambda ns: "%.0f ns" % ns if ns < 10000 else "%.1f us" % (ns / 1000)
    print("| %s | %d | %s | %s | %s | %.0f |" % (r["store"], r["threads"], fmt(r["p50_ns"]),
          fmt(r["p99_ns"]), fmt(r["p999_ns"]), r["decisions_per_s"]))
print()
print("| one replica, GET /api/v1/models/iris | requests/s (median of %d) | vs off |"
      % len(tp["off"]))
print("|---|---|---|")
base = statistics.median(tp["off"])
for m in ("off", "local", "redis"):
    med = statistics.median(tp[m])
    print("| limiting %s | %.0f | %+.1f%% |" % (m, med, 100 * (med - base) / base))
EOF
echo "limiter bench: results in $OUT" >&2
