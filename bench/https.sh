#!/usr/bin/env bash
# HTTPS keep-alive throughput, same certificate, same run, interleaved rounds, wrk on loopback:
#   modelwrap-https    modelwrap's in-process TLS (GnuTLS), POST /api/v1/predict
#   nginx-tls-proxy    nginx terminating TLS with deploy/nginx/modelwrap.conf, in front of a
#                      plain-HTTP modelwrap (the gateway deployment), same POST
#   nginx-tls-return   nginx terminating TLS and answering `return 200` itself: the TLS ceiling
#   modelwrap-http     the plain-HTTP modelwrap alone, same POST: what TLS costs
# Usage: bash bench/https.sh; results in docs/BENCHMARKS.md ("HTTPS").
#
# Environment: BENCH_ROUNDS=3 BENCH_DURATION=10 (seconds per target per round) BENCH_WARMUP=2
#   BENCH_CONNECTIONS=64 BENCH_WRK_THREADS=2 BENCH_KEY=ec|rsa (certificate key, default ec)
#   BENCH_OUT=path (JSON results, default build/bench-https.json) MODELWRAP_BIN=path
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
PY=/usr/bin/python3
MW=${MODELWRAP_BIN:-$ROOT/build/release/modelwrap}
ROUNDS=${BENCH_ROUNDS:-3}
DURATION=${BENCH_DURATION:-10}
WARMUP=${BENCH_WARMUP:-2}
CONNS=${BENCH_CONNECTIONS:-64}
WRK_THREADS=${BENCH_WRK_THREADS:-2}
KEY=${BENCH_KEY:-ec}
OUT=${BENCH_OUT:-$ROOT/build/bench-https.json}

die() {
    echo "bench-https: $*" >&2
    exit 1
}
for v in ROUNDS:1:100 DURATION:1:3600 WARMUP:0:600 CONNS:1:10000 WRK_THREADS:1:64; do
    IFS=: read -r name lo hi <<<"$v"
    val=${!name}
    [[ $val =~ ^[0-9]{1,7}$ ]] && [ "$val" -ge "$lo" ] && [ "$val" -le "$hi" ] ||
        die "BENCH_$name must be an integer from $lo to $hi (got '$val')"
done
[ "$KEY" = ec ] || [ "$KEY" = rsa ] || die "BENCH_KEY must be ec or rsa"
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
for tool in wrk openssl "$NGINX" "$PY"; do
    command -v "$tool" >/dev/null 2>&1 || die "missing $tool: bash scripts/install-deps.sh all"
done
[ -x "$MW" ] || die "no modelwrap binary at $MW; build it with: make build"

# Only the settings this script passes reach modelwrap.
while IFS= read -r v; do unset "$v"; done < <(compgen -e | grep '^MODELWRAP_' || true)

TMP=$(mktemp -d /tmp/modelwrap-bench-https.XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$TMP"
}
trap cleanup EXIT

free_port() {
    "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
wait_port() { # PORT PID
    for _ in $(seq 1 600); do
        kill -0 "$2" 2>/dev/null || return 1
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

# ---- one certificate for everyone ---------------------------------------------------------------
if [ "$KEY" = rsa ]; then newkey=(-newkey rsa:2048); else
    newkey=(-newkey ec -pkeyopt ec_paramgen_curve:P-256)
fi
openssl req -x509 "${newkey[@]}" -nodes -keyout "$TMP/tls.key" -out "$TMP/tls.crt" -days 7 \
    -subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" 2>/dev/null

# ---- the servers --------------------------------------------------------------------------------
MW_ARGS=(--env-file /dev/null --models "$ROOT/models" --log-level warn --host 127.0.0.1)
HELP=$("$MW" help 2>/dev/null) # (not piped into grep -q: with pipefail its early exit fails)
# No API keys and no rate limit: the point is the serving path (--auth none is loopback-only).
if grep -Eq -- '--auth([^-a-z_]|$)' <<<"$HELP"; then MW_ARGS+=(--auth none); fi
if grep -Eq -- '--rate-limit([^-a-z_]|$)' <<<"$HELP"; then MW_ARGS+=(--rate-limit off); fi
declare -A PORT URL
PORT[modelwrap-https]=$(free_port)
PORT[modelwrap-http]=$(free_port)
PORT[nginx-tls-proxy]=$(free_port)
PORT[nginx-tls-return]=$(free_port)

"$MW" serve "${MW_ARGS[@]}" --port "${PORT[modelwrap-https]}" --tls-cert "$TMP/tls.crt" \
    --tls-key "$TMP/tls.key" </dev/null >/dev/null 2>"$TMP/mw-https.log" &
PIDS+=($!)
wait_port "${PORT[modelwrap-https]}" "$!" || die "modelwrap (HTTPS) did not start: $(tail -5 "$TMP/mw-https.log")"
"$MW" serve "${MW_ARGS[@]}" --port "${PORT[modelwrap-http]}" --trusted-proxies 127.0.0.1 \
    </dev/null >/dev/null 2>"$TMP/mw-http.log" &
PIDS+=($!)
wait_port "${PORT[modelwrap-http]}" "$!" || die "modelwrap (HTTP) did not start: $(tail -5 "$TMP/mw-http.log")"

mkdir -p "$TMP/nginx/tmp"
NGINX_LISTEN="127.0.0.1:${PORT[nginx-tls-proxy]}" SERVER_NAME=localhost \
    TLS_CERT="$TMP/tls.crt" TLS_KEY="$TMP/tls.key" \
    MODELWRAP_UPSTREAM="127.0.0.1:${PORT[modelwrap-http]}" \
    "$PY" -c 'import os,re,sys; sys.stdout.write(re.sub(r"\$\{([A-Z_]+)\}", lambda m: os.environ[m.group(1)], open(sys.argv[1]).read()))' \
    "$ROOT/deploy/nginx/modelwrap.conf" >"$TMP/nginx/modelwrap.conf"
user_line=""
[ "$(id -u)" -eq 0 ] && user_line="user root $(id -gn);"
cat >"$TMP/nginx/nginx.conf" <<EOF
$user_line
worker_processes $(nproc);
daemon off;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    keepalive_requests 1000000;
    client_body_temp_path $TMP/nginx/tmp;
    proxy_temp_path $TMP/nginx/tmp;
    fastcgi_temp_path $TMP/nginx/tmp;
    uwsgi_temp_path $TMP/nginx/tmp;
    scgi_temp_path $TMP/nginx/tmp;
    include $TMP/nginx/modelwrap.conf;
    server {
        listen 127.0.0.1:${PORT[nginx-tls-return]} ssl;
        ssl_certificate $TMP/tls.crt;
        ssl_certificate_key $TMP/tls.key;
        ssl_protocols TLSv1.2 TLSv1.3;
        location / { default_type application/json; return 200 '{"ok":true}'; }
    }
}
EOF
"$NGINX" -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" </dev/null >/dev/null 2>"$TMP/nginx/stderr.log" &
PIDS+=($!)
wait_port "${PORT[nginx-tls-proxy]}" "$!" || die "nginx did not start: $(cat "$TMP/nginx/stderr.log")"

IDS=(modelwrap-https nginx-tls-proxy nginx-tls-return modelwrap-http)
for id in "${IDS[@]}"; do
    scheme=https
    [ "$id" = modelwrap-http ] && scheme=http
    URL[$id]="$scheme://127.0.0.1:${PORT[$id]}/api/v1/predict"
    body=$(curl -sS -k -X POST -H 'Content-Type: application/json' --data \
        '{"data":[{"sepal_length":5.1,"sepal_width":3.5,"petal_length":1.4,"petal_width":0.2}]}' \
        "${URL[$id]}") || die "$id does not answer"
    case $id in
    nginx-tls-return) [ "$body" = '{"ok":true}' ] || die "$id: unexpected answer $body" ;;
    *) [[ $body == *predictions* ]] || die "$id: unexpected answer $body" ;;
    esac
done

# ---- the rounds ---------------------------------------------------------------------------------
read -r LOAD _ </proc/loadavg
echo "bench-https: load average $LOAD before the runs; $ROUNDS round(s) of ${DURATION} s per target"
mkdir -p "$TMP/wrk"
n=${#IDS[@]}
for ((r = 1; r <= ROUNDS; r++)); do
    for ((k = 0; k < n; k++)); do
        id=${IDS[$(((r - 1 + k) % n))]}
        [ "$WARMUP" -gt 0 ] && wrk -t"$WRK_THREADS" -c"$CONNS" -d"${WARMUP}s" \
            -s "$ROOT/bench/post.lua" "${URL[$id]}" >/dev/null
        wrk -t"$WRK_THREADS" -c"$CONNS" -d"${DURATION}s" --latency -s "$ROOT/bench/post.lua" \
            "${URL[$id]}" >"$TMP/wrk/$id.$r.txt"
        printf '  round %d  %-18s %s\n' "$r" "$id" "$(grep 'Requests/sec' "$TMP/wrk/$id.$r.txt")"
    done
done

mkdir -p "$(dirname "$OUT")"
"$PY" - "$TMP/wrk" "$OUT" "$KEY" "$CONNS" "$DURATION" "$ROUNDS" "${IDS[@]}" <<'EOF'
import json, os, re, statistics, sys
wrk_dir, out, key, conns, duration, rounds, ids = sys.argv[1], sys.argv[2], sys.argv[3], \
    int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]), sys.argv[7:]

def ms(text):
    v, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()
    return float(v) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

res = {}
for tid in ids:
    runs = []
    for r in range(1, rounds + 1):
        t = open(os.path.join(wrk_dir, "%s.%d.txt" % (tid, r))).read()
        rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
        p50 = ms(re.search(r"\n\s+50%\s+(\S+)", t).group(1))
        p99 = ms(re.search(r"\n\s+99%\s+(\S+)", t).group(1))
        errors = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
        runs.append({"round": r, "rps": rps, "p50_ms": p50, "p99_ms": p99,
                     "non_2xx": int(errors.group(1)) if errors else 0})
    res[tid] = {"runs": runs, "median_rps": statistics.median(x["rps"] for x in runs),
                "median_p99_ms": statistics.median(x["p99_ms"] for x in runs)}
base = res["nginx-tls-proxy"]["median_rps"]
doc = {"key": key, "connections": conns, "duration_s": duration, "rounds": rounds,
       "cpus": os.cpu_count(), "targets": res}
json.dump(doc, open(out, "w"), indent=1)
print("\n| target | req/s (median) | p99 ms | vs nginx proxy |")
print("|---|---|---|---|")
for tid in ids:
    r = res[tid]
    bad = sum(x["non_2xx"] for x in r["runs"])
    print("| %s | %.0f | %.2f | %.2fx |%s" % (tid, r["median_rps"], r["median_p99_ms"],
                                             r["median_rps"] / base,
                                             "  (%d non-2xx!)" % bad if bad else ""))
print("\nresults: " + out)
EOF
