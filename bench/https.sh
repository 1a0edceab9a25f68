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
#   BENCH_QUICK=1 (smoke run: 1 round of 3 s, results in build/bench-https-quick.json)
#   BENCH_OUT=path (JSON results, default build/bench-https.json) MODELWRAP_BIN=path
set -euo pipefail

# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ROOT=$BENCH_ROOT
cd "$ROOT"
BENCH_NAME=bench-https

bench_settings 64
KEY=${BENCH_KEY:-ec}
if [ "$QUICK" = 1 ]; then
    OUT=${BENCH_OUT:-$ROOT/build/bench-https-quick.json}
else
    OUT=${BENCH_OUT:-$ROOT/build/bench-https.json}
fi
[ "$KEY" = ec ] || [ "$KEY" = rsa ] || die "BENCH_KEY must be ec or rsa"
NGINX=$(command -v nginx 2>/dev/null || echo /usr/sbin/nginx)
need wrk openssl curl "$NGINX" "$PY"
need_mw
bench_init bench-https

# ---- one certificate for everyone ---------------------------------------------------------------
if [ "$KEY" = rsa ]; then newkey=(-newkey rsa:2048); else
    newkey=(-newkey ec -pkeyopt ec_paramgen_curve:P-256)
fi
openssl req -x509 "${newkey[@]}" -nodes -keyout "$TMP/tls.key" -out "$TMP/tls.crt" -days 7 \
    -subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" 2>/dev/null

# ---- the servers --------------------------------------------------------------------------------
# No API keys and no rate limit: the point is the serving path (--auth none is loopback-only).
MW_ARGS=(--env-file /dev/null --models "$ROOT/models" --log-level warn --host "$HOST"
    --auth none --rate-limit off)
declare -A PORT URL
for id in modelwrap-https modelwrap-http nginx-tls-proxy nginx-tls-return; do
    PORT[$id]=$(free_port)
done

"$MW" serve "${MW_ARGS[@]}" --port "${PORT[modelwrap-https]}" --tls-cert "$TMP/tls.crt" \
    --tls-key "$TMP/tls.key" </dev/null >/dev/null 2>"$TMP/mw-https.log" &
track "$!"
wait_ready "https://$HOST:${PORT[modelwrap-https]}/api/v1/health/ready" "$!"
# the benchmark runs without authentication behind its own nginx: it says so explicitly
"$MW" serve "${MW_ARGS[@]}" --port "${PORT[modelwrap-http]}" --trusted-proxies 127.0.0.1 \
    --auth-none-behind-proxy true </dev/null >/dev/null 2>"$TMP/mw-http.log" &
track "$!"
wait_ready "http://$HOST:${PORT[modelwrap-http]}/api/v1/health/ready" "$!"

mkdir -p "$TMP/nginx/tmp"
NGINX_LISTEN="127.0.0.1:${PORT[nginx-tls-proxy]}" SERVER_NAME=localhost \
    TLS_CERT="$TMP/tls.crt" TLS_KEY="$TMP/tls.key" \
    MODELWRAP_UPSTREAM="127.0.0.1:${PORT[modelwrap-http]}" \
    "$PY" -c 'import os,re,sys; sys.stdout.write(re.sub(r"\$\{([A-Z_]+)\}", lambda m: os.environ[m.group(1)], open(sys.argv[1]).read()))' \
    "$ROOT/deploy/nginx/modelwrap.conf" >"$TMP/nginx/modelwrap.conf"
cat >"$TMP/nginx/nginx.conf" <<NGINXEOF
$(nginx_user_line)
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
NGINXEOF
"$NGINX" -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" </dev/null >/dev/null 2>"$TMP/nginx/stderr.log" &
track "$!"
lib waitready "https://$HOST:${PORT[nginx-tls-return]}/" "$!" 60 ||
    die "nginx did not start: $(cat "$TMP/nginx/stderr.log")"

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
RUNS=()
n=${#IDS[@]}
for ((r = 1; r <= ROUNDS; r++)); do
    for ((k = 0; k < n; k++)); do
        id=${IDS[$(((r - 1 + k) % n))]}
        if [ "$WARMUP" -gt 0 ]; then
            wrk -t"$WRK_THREADS" -c"$CONNS" -d"${WARMUP}s" -s "$ROOT/bench/post.lua" \
                "${URL[$id]}" >/dev/null
        fi
        wrk -t"$WRK_THREADS" -c"$CONNS" -d"${DURATION}s" --latency -s "$ROOT/bench/post.lua" \
            "${URL[$id]}" >"$TMP/wrk/$id.$r.txt"
        RUNS+=("$id:$r:$TMP/wrk/$id.$r.txt")
        printf '  round %d  %-18s %s\n' "$r" "$id" "$(grep 'Requests/sec' "$TMP/wrk/$id.$r.txt")"
    done
done

lib https-report "$OUT" "$KEY" "$CONNS" "$DURATION" "$ROUNDS" "${RUNS[@]}"
