#!/usr/bin/env bash
# modelwrap's main benchmark: modelwrap with its production features on (API-key auth, rate
# limiting, audit trail to a file, metrics listener) against nginx `return 200` and a FastAPI app
# serving the same XGBoost model, with wrk, in interleaved rounds on loopback; plus start-up time
# and idle RSS. Usage: bash bench/run.sh (or `make bench-main`; `make bench` runs the whole suite,
# bench/suite.sh); see docs/BENCHMARKS.md.
#
# Environment:
#   BENCH_ROUNDS=3 BENCH_DURATION=10 (seconds per target per round) BENCH_WARMUP=2 (seconds)
#   BENCH_CONNECTIONS=64 BENCH_WRK_THREADS=2 BENCH_STARTUPS=5 (start-up samples per I/O model)
#   BENCH_QUICK=1      smoke run: 1 round of 3 s, 2 start-up samples, results in build/bench-quick.json
#   BENCH_PROFILE=1    also `perf record -g` modelwrap-secure under load: profile.txt next to BENCH_OUT
#   BENCH_OUT=path     where the JSON results go (default bench/results/latest.json)
#   BENCH_TARGETS="id ..." only these targets (ids: see IDS below), e.g. the I/O models alone
#   MODELWRAP_BIN=path the binary (default build/release/modelwrap)
#   BENCH_TESTKIT=path the trivial plug-in (default build/release/plugins/testkit.so)
set -euo pipefail

# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ROOT=$BENCH_ROOT
cd "$ROOT"
BENCH_NAME=bench

bench_settings 64
if [ "$QUICK" = 1 ]; then
    STARTUPS=${BENCH_STARTUPS:-2}
    OUT=${BENCH_OUT:-$ROOT/build/bench-quick.json}
else
    STARTUPS=${BENCH_STARTUPS:-5}
    OUT=${BENCH_OUT:-$ROOT/bench/results/latest.json}
fi
PROFILE=${BENCH_PROFILE:-0}
check_int BENCH_STARTUPS "$STARTUPS" 1 100
TESTKIT=${BENCH_TESTKIT:-$ROOT/build/release/plugins/testkit.so}

# ---- tools ---------------------------------------------------------------------------------------

NGINX=$(command -v nginx 2>/dev/null || echo /usr/sbin/nginx)
need wrk "$NGINX"
need_py fastapi uvicorn xgboost uvloop httptools numpy
[ "$PROFILE" = 1 ] && need perf
need_mw
[ -f "$ROOT/models/iris/iris.ubj" ] || die "no models/iris/iris.ubj in $ROOT"
[ -f "$TESTKIT" ] || die "no trivial plug-in at $TESTKIT; build it with: make build"

bench_init bench

# ---- per-process counters, read with shell built-ins only (no forks while wrk runs) -------------

# Sets RSS_KB to VmRSS in kB summed over the given pids.
RSS_KB=0
rss_kb() {
    local p k v _ sum=0
    for p in "$@"; do
        [ -r "/proc/$p/status" ] || continue
        while read -r k v _; do
            if [ "$k" = "VmRSS:" ]; then
                sum=$((sum + v))
                break
            fi
        done <"/proc/$p/status"
    done
    RSS_KB=$sum
}

# Sets CPU_TICKS to user+system CPU clock ticks summed over the given pids (all their threads).
CPU_TICKS=0
cpu_ticks() {
    local p line rest sum=0
    local -a f
    for p in "$@"; do
        [ -r "/proc/$p/stat" ] || continue
        read -r line <"/proc/$p/stat"
        rest=${line##*) }
        read -r -a f <<<"$rest"
        sum=$((sum + f[11] + f[12]))
    done
    CPU_TICKS=$sum
}

# Sets BUSY_TICKS and TOTAL_TICKS from the machine-wide counters of /proc/stat.
BUSY_TICKS=0
TOTAL_TICKS=0
machine_ticks() {
    local _cpu user nice sys idle iowait irq softirq steal _rest
    read -r _cpu user nice sys idle iowait irq softirq steal _rest </proc/stat
    BUSY_TICKS=$((user + nice + sys + irq + softirq + steal))
    TOTAL_TICKS=$((BUSY_TICKS + idle + iowait))
}

# Sets CHILDREN_MS to the CPU milliseconds of this shell's finished children (wrk, mostly), from
# the `times` built-in (written to a file: a command substitution would run in a subshell).
CHILDREN_MS=0
children_ms() {
    local _l1 _l2 cu cs ms=0 v m sec
    times >"$TMP/times"
    { read -r _l1 _l2 && read -r cu cs; } <"$TMP/times"
    for v in "$cu" "$cs"; do # like 1m2.345s
        m=${v%%m*}
        sec=${v#*m}
        sec=${sec%s}
        ms=$((ms + 10#$m * 60000 + 10#${sec%.*} * 1000 + 10#${sec#*.}))
    done
    CHILDREN_MS=$ms
}

# ---- the targets ---------------------------------------------------------------------------------

mkdir -p "$TMP/wrk" "$TMP/nginx" "$TMP/models-trivial/testkit"
: >"$TMP/runs.tsv"
: >"$TMP/audit.tsv"
# id -> what it answers: nginx, iris-N (N iris records), trivial (testkit), health (GET live)
IDS=(nginx modelwrap-secure modelwrap-secure-pool modelwrap-trivial modelwrap-health
    modelwrap-secure-100 fastapi-h11 fastapi-uvloop fastapi-h11-100 fastapi-uvloop-100)
declare -A KIND=(
    [nginx]=nginx [modelwrap-secure]=iris-1 [modelwrap-secure-pool]=iris-1
    [modelwrap-trivial]=trivial [modelwrap-health]=health [modelwrap-secure-100]=iris-100
    [fastapi-h11]=iris-1 [fastapi-uvloop]=iris-1 [fastapi-h11-100]=iris-100
    [fastapi-uvloop-100]=iris-100)
read -r -a PORTS <<<"$(lib freeports $((2 * ${#IDS[@]})))"
[ ${#PORTS[@]} -eq $((2 * ${#IDS[@]})) ] || die "could not find enough free ports"
declare -A PORT MPORT PID TREE LABEL CMD LOG AUDIT IDLE_RSS URLPATH BODYF
for i in "${!IDS[@]}"; do
    id=${IDS[$i]}
    PORT[$id]=${PORTS[$i]}
    MPORT[$id]=${PORTS[$((i + ${#IDS[@]}))]}
    URLPATH[$id]=/api/v1/predict
    BODYF[$id]=$TMP/${KIND[$id]}.json
done
URLPATH[modelwrap-health]=/api/v1/health/live
BODYF[modelwrap-health]=
BODYF[nginx]=$TMP/iris-1.json # the same request as modelwrap-secure
# BENCH_TARGETS: a subset of the ids above, for a focused comparison (for example the I/O models
# over more rounds); ratios whose reference is left out are not computed.
if [ -n "${BENCH_TARGETS:-}" ]; then
    read -r -a want_ids <<<"$BENCH_TARGETS"
    for w in "${want_ids[@]}"; do
        [ -n "${PORT[$w]:-}" ] || die "BENCH_TARGETS: unknown target '$w' (known: ${IDS[*]})"
    done
    sub=()
    for id in "${IDS[@]}"; do
        [[ " ${want_ids[*]} " == *" $id "* ]] && sub+=("$id")
    done
    IDS=("${sub[@]}")
fi
want() { [[ " ${IDS[*]} " == *" $1 "* ]]; }
if [ "$PROFILE" = 1 ] && ! want modelwrap-secure; then
    die "BENCH_PROFILE=1 profiles modelwrap-secure: keep it in BENCH_TARGETS"
fi

for kind in iris-1 iris-100 trivial; do
    lib body "$kind" "$TMP/$kind.json" "$ROOT/models/iris/reference.json"
done
printf '{"backend": "plugin", "file": "%s", "version": "1"}\n' "$TESTKIT" \
    >"$TMP/models-trivial/testkit/model.json"

# The production configuration of every modelwrap target: an API key required on every request
# (a fresh key file; the key goes to wrk and the checks through BENCH_API_KEY), the per-consumer
# rate limiter on at a rate it never reaches (no 429), the audit record of every request to a
# file (--audit-log), the metrics listener on, the default log level (info: a JSON line per
# request on stderr, to a file). Everything else is the default.
BENCH_API_KEY=$("$MW" keys create --id bench --scopes predict,read --file "$TMP/keys.json" \
    2>"$TMP/keys.log") || die "modelwrap keys create failed: $(cat "$TMP/keys.log")"
[[ $BENCH_API_KEY == mw_* ]] || die "modelwrap keys create printed no key: $BENCH_API_KEY"
export BENCH_API_KEY
SECURE=(--env-file /dev/null --host "$HOST" --log-level info --auth required
    --api-keys-file "$TMP/keys.json" --rate-limit 1000000/s --rate-burst 1000000)

# start ID LABEL LOGFILE COMMAND... : starts a target in the background (stdout and stderr
# appended to LOGFILE, stdout to LOGFILE.out for modelwrap) and waits until it is ready.
start() {
    local id=$1 label=$2 log=$3 out=$3
    shift 3
    want "$id" || return 0
    LABEL[$id]=$label
    CMD[$id]="$*"
    LOG[$id]=$log
    case $id in modelwrap-*) out=$log.out ;; esac
    "$@" </dev/null >>"$out" 2>>"$log" &
    PID[$id]=$!
    track "$!"
    lib waitready "http://$HOST:${PORT[$id]}/api/v1/health/ready" "${PID[$id]}" 60 || {
        tail -n 20 "$log" >&2
        die "$label did not start"
    }
}

# start_mw ID LABEL IO-MODEL MODELS: a modelwrap target in the production configuration.
start_mw() {
    AUDIT[$1]=$TMP/$1.audit.log
    start "$1" "$2" "$TMP/$1.log" "$MW" serve "${SECURE[@]}" --port "${PORT[$1]}" \
        --io-model "$3" --models "$4" --audit-log "${AUDIT[$1]}" --metrics-port "${MPORT[$1]}"
}

# start_fastapi ID LABEL LOOP HTTP
start_fastapi() {
    start "$1" "$2" "$TMP/$1.log" "$PY" -m uvicorn fastapi_app:app --app-dir "$ROOT/bench" \
        --host "$HOST" --port "${PORT[$1]}" --workers 1 --loop "$3" --http "$4" --no-access-log \
        --log-level warning
}

read -r LOAD_START _ </proc/loadavg
if [ "${LOAD_START%%.*}" -ge 1 ]; then
    echo "bench: warning: load average $LOAD_START before starting: something else is using the CPUs" >&2
fi
echo "bench: modelwrap start-up (default model, production configuration), ${STARTUPS} sample(s) per I/O model"
for io in reuseport pool; do
    lib startup "$MW" "$ROOT/models" "$io" "$STARTUPS" "$TMP/startup-$io.json" "${SECURE[@]}" \
        --audit-log "$TMP/startup-audit-@N@.log" --metrics-port @PORT@
done

echo "bench: starting the targets"
sed -e "s|@TMPDIR@|$TMP/nginx|g" -e "s|@PORT@|${PORT[nginx]}|g" \
    -e "s|@USER_LINE@|$(nginx_user_line)|" "$ROOT/bench/nginx.conf.in" >"$TMP/nginx/nginx.conf"
start nginx "nginx return 200" "$TMP/nginx/stderr.log" \
    "$NGINX" -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf"
start_mw modelwrap-secure "modelwrap secure (reuseport)" reuseport "$ROOT/models"
start_mw modelwrap-secure-pool "modelwrap secure (pool)" pool "$ROOT/models"
start_mw modelwrap-trivial "modelwrap secure, trivial plug-in" reuseport "$TMP/models-trivial"
start_mw modelwrap-health "modelwrap secure, GET health/live" reuseport "$ROOT/models"
start_mw modelwrap-secure-100 "modelwrap secure, 100 records" reuseport "$ROOT/models"
start_fastapi fastapi-h11 "FastAPI uvicorn asyncio+h11" asyncio h11
start_fastapi fastapi-uvloop "FastAPI uvicorn uvloop+httptools" uvloop httptools
start_fastapi fastapi-h11-100 "FastAPI uvicorn asyncio+h11, 100 records" asyncio h11
start_fastapi fastapi-uvloop-100 "FastAPI uvicorn uvloop+httptools, 100 records" uvloop httptools

sleep 1
for id in "${IDS[@]}"; do
    read -r -a t <<<"$(lib tree "${PID[$id]}")"
    TREE[$id]="${t[*]}"
    rss_kb "${t[@]}"
    IDLE_RSS[$id]=$RSS_KB
done

echo "bench: checking every target's answer (and 401 without the API key on modelwrap)"
for id in "${IDS[@]}"; do
    case $id in
    modelwrap-*) key=$BENCH_API_KEY ;;
    *) key= ;;
    esac
    BENCH_API_KEY=$key lib check "${KIND[$id]}" "http://$HOST:${PORT[$id]}${URLPATH[$id]}" \
        "${BODYF[$id]}" "$ROOT/models/iris/reference.json"
done
declare -A AUDIT_START
for id in "${IDS[@]}"; do
    [ -n "${AUDIT[$id]:-}" ] && AUDIT_START[$id]=$(lib audit-lines "${AUDIT[$id]}")
done

# ---- the rounds ----------------------------------------------------------------------------------

# wrk_to ID OUTFILE SECONDS [wrk options]: one wrk run against target ID (its body, the API key).
wrk_to() {
    local id=$1 out=$2 secs=$3
    local -a script=(-s "$ROOT/bench/post.lua")
    shift 3
    [ -n "${BODYF[$id]}" ] || script=()
    BENCH_BODY_FILE=${BODYF[$id]} wrk -t"$WRK_THREADS" -c"$CONNS" -d"${secs}s" "$@" \
        "${script[@]}" "http://$HOST:${PORT[$id]}${URLPATH[$id]}" >"$out" 2>&1
}

# run_one ID ROUND: warm-up, then the measured wrk run with RSS samples and CPU counters.
run_one() {
    local id=$1 rnd=$2
    local c0 k0 b0 t0 a0=0 max=0 wpid n log_bytes=0 audit_bytes=0
    local -a pids
    read -r -a pids <<<"${TREE[$id]}"
    if [ "$WARMUP" -gt 0 ]; then
        wrk_to "$id" "$TMP/wrk/$id.$rnd.warm.txt" "$WARMUP" ||
            die "wrk failed on $id: $(cat "$TMP/wrk/$id.$rnd.warm.txt")"
    fi
    case $id in modelwrap-*)
        : >"${LOG[$id]}"
        a0=$(stat -c %s "${AUDIT[$id]}")
        ;;
    esac
    cpu_ticks "${pids[@]}"
    c0=$CPU_TICKS
    children_ms
    k0=$CHILDREN_MS
    machine_ticks
    b0=$BUSY_TICKS
    t0=$TOTAL_TICKS
    wrk_to "$id" "$TMP/wrk/$id.$rnd.txt" "$DURATION" --latency &
    wpid=$!
    track "$wpid"
    for ((n = 0; n < 2 * (DURATION + 30); n++)); do
        kill -0 "$wpid" 2>/dev/null || break
        rss_kb "${pids[@]}"
        [ "$RSS_KB" -gt "$max" ] && max=$RSS_KB
        sleep 0.5
    done
    ours "$wpid" && kill -TERM "$wpid" 2>/dev/null
    wait "$wpid" || die "wrk failed on $id: $(cat "$TMP/wrk/$id.$rnd.txt")"
    unset 'PIDS[-1]'
    cpu_ticks "${pids[@]}"
    children_ms
    machine_ticks
    case $id in
    modelwrap-*) # what the run wrote: operational log (stderr) and audit records (the file)
        log_bytes=$(stat -c %s "${LOG[$id]}")
        audit_bytes=$(($(stat -c %s "${AUDIT[$id]}") - a0))
        : >"${LOG[$id]}"
        ;;
    esac
    printf '%s %s %s %s %s %s %s %s %s\n' "$id" "$rnd" $((CPU_TICKS - c0)) "$max" "$log_bytes" \
        $((CHILDREN_MS - k0)) $((BUSY_TICKS - b0)) $((TOTAL_TICKS - t0)) "$audit_bytes" >>"$TMP/runs.tsv"
    printf '  %-46s %s\n' "${LABEL[$id]}" "$(grep -E 'Requests/sec' "$TMP/wrk/$id.$rnd.txt")"
}

n_ids=${#IDS[@]}
for ((r = 1; r <= ROUNDS; r++)); do
    echo "bench: round $r of $ROUNDS (${DURATION} s per target)"
    # The starting target moves by one each round so that no target always runs first or last.
    for ((k = 0; k < n_ids; k++)); do
        run_one "${IDS[$(((r - 1 + k) % n_ids))]}" "$r"
    done
done

# ---- optional profile ----------------------------------------------------------------------------

if [ "$PROFILE" = 1 ]; then
    id=modelwrap-secure
    echo "bench: perf record -g of ${LABEL[$id]} under wrk for ${DURATION} s"
    wrk_to "$id" "$TMP/wrk/$id.profile.txt" $((DURATION + 2)) &
    wpid=$!
    track "$wpid"
    sleep 1
    perf record -F 999 -g -p "${PID[$id]}" -o "$TMP/perf.data" -- sleep "$DURATION" \
        >"$TMP/perf.log" 2>&1 || die "perf record failed: $(cat "$TMP/perf.log")"
    wait "$wpid" || true
    unset 'PIDS[-1]'
    profile_out=$(dirname "$OUT")/profile.txt
    mkdir -p "$(dirname "$OUT")"
    {
        echo "# perf record -F 999 -g -p <modelwrap> (${LABEL[$id]}) for ${DURATION} s under"
        echo "# wrk -t$WRK_THREADS -c$CONNS POST /api/v1/predict; $(grep -E 'Requests/sec' "$TMP/wrk/$id.profile.txt")"
        echo "# perf report --no-children --sort dso,symbol (self time, entries >= 0.5%)"
        perf report -i "$TMP/perf.data" --no-children --sort dso,symbol --stdio -g none \
            --percent-limit 0.5 2>/dev/null | grep -v '^#' | sed -E 's/ +$//; s/ +- +-$//' | grep -v '^$' |
            head -n 60
        echo "# the same samples by shared object"
        perf report -i "$TMP/perf.data" --no-children --sort dso --stdio -g none \
            --percent-limit 0.1 2>/dev/null | grep -v '^#' | sed -E 's/ +$//; s/ +- +-$//' | grep -v '^$'
        echo "# system calls, time including callees (perf report --children), entries >= 0.3%"
        perf report -i "$TMP/perf.data" --children --sort symbol --stdio -g none \
            --percent-limit 0.3 2>/dev/null | grep -E '\] (__x64_sys|__sys_|ksys_)' |
            sed -E 's/ +$//; s/ +- +-$//'
    } >"$profile_out"
    echo "bench: profile in $profile_out"
fi

# ---- audit trail and metrics of every modelwrap target -------------------------------------------

echo "bench: audit records against requests, and /metrics, of every modelwrap target"
for id in "${IDS[@]}"; do
    [ -n "${AUDIT[$id]:-}" ] || continue
    mok=1
    lib metrics "http://$HOST:${MPORT[$id]}/metrics" || mok=0
    printf '%s %s %s %s\n' "$id" "${AUDIT_START[$id]}" "$(lib audit-lines "${AUDIT[$id]}")" \
        "$mok" >>"$TMP/audit.tsv"
done

# ---- report --------------------------------------------------------------------------------------

read -r LOAD_END _ </proc/loadavg
json_str() { "$PY" -c 'import json,sys; print(json.dumps(sys.stdin.read().strip()))'; }
pyver() { "$PY" -c "import $1; print($1.__version__)" 2>/dev/null || echo unknown; }
{
    echo "{"
    echo "\"schema\": 2,"
    echo "\"date\": \"$(date -u +%Y-%m-%dT%H:%M:%SZ)\","
    echo "\"git_commit\": \"$(git -C "$ROOT" rev-parse HEAD 2>/dev/null || echo none)\","
    echo "\"git_dirty\": $(if [ -n "$(git -C "$ROOT" status --porcelain 2>/dev/null)" ]; then echo true; else echo false; fi),"
    echo "\"machine\": {"
    echo "  \"nproc\": $(nproc),"
    echo "  \"cpu_model\": $(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | json_str),"
    echo "  \"mem_total_kb\": $(awk '/^MemTotal:/ {print $2}' /proc/meminfo),"
    echo "  \"kernel\": \"$(uname -r)\","
    echo "  \"debian\": \"$(cat /etc/debian_version 2>/dev/null || echo unknown)\","
    echo "  \"loadavg_1min_before\": $LOAD_START, \"loadavg_1min_after\": $LOAD_END"
    echo "},"
    echo "\"versions\": {"
    echo "  \"modelwrap\": $("$MW" version | json_str),"
    echo "  \"modelwrap_sha256\": \"$(sha256sum "$MW" | cut -d' ' -f1)\","
    echo "  \"wrk\": \"$(wrk -v 2>&1 | head -n1 | awk '{print $2}')\","
    echo "  \"nginx\": \"$("$NGINX" -v 2>&1 | sed 's|.*nginx/||')\","
    echo "  \"python\": \"$("$PY" -c 'import platform; print(platform.python_version())')\","
    for m in fastapi uvicorn pydantic xgboost numpy uvloop httptools; do
        echo "  \"$m\": \"$(pyver $m)\","
    done
    echo "  \"h11\": \"$(pyver h11)\""
    echo "},"
    echo "\"settings\": {\"rounds\": $ROUNDS, \"duration_s\": $DURATION, \"warmup_s\": $WARMUP,"
    echo "  \"connections\": $CONNS, \"wrk_threads\": $WRK_THREADS,"
    echo "  \"request\": \"POST /api/v1/predict with X-API-Key (bench/post.lua), keep-alive; body per target\","
    echo "  \"modelwrap\": $(printf '%s ' "${SECURE[@]//$TMP/<tmp>}" | json_str),"
    echo "  \"order\": \"round r starts at target r-1 of the list and goes round\"},"
    echo "\"startup\": {\"reuseport\": $(cat "$TMP/startup-reuseport.json"), \"pool\": $(cat "$TMP/startup-pool.json")},"
    echo "\"targets\": ["
    for i in "${!IDS[@]}"; do
        id=${IDS[$i]}
        sep=","
        [ "$i" -eq $((n_ids - 1)) ] && sep=""
        printf '  {"id": "%s", "label": "%s", "body": "%s", "idle_rss_kb": %s, "command": %s}%s\n' \
            "$id" "${LABEL[$id]}" "${KIND[$id]}" "${IDLE_RSS[$id]}" \
            "$(printf '%s' "${CMD[$id]//$TMP/<tmp>}" | json_str)" "$sep"
    done
    echo "]"
    echo "}"
} >"$TMP/meta.json"

lib report "$TMP" "$TMP/meta.json" "$OUT"
