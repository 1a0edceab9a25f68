# shellcheck shell=bash
# The shell half of the benchmark scripts (bench/benchlib.py is the Python half), sourced by
# bench/run.sh, v2.sh, batching.sh, https.sh, limiter.sh and suite.sh:
#   bench_init NAME    error prefix, clean MODELWRAP_* environment, $TMP, clean-up traps
#   bench_settings C   ROUNDS DURATION WARMUP CONNS WRK_THREADS QUICK from BENCH_* (C: connections)
#   need / need_py / need_mw   fail loudly on a missing tool, Python module or binary
#   lib CMD ...        bench/benchlib.py CMD ... with /usr/bin/python3
#   track PID / stop PID / ours PID   every process started here stops with the script
#   free_port / wait_ready URL PID [SECONDS]
BENCH_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PY=/usr/bin/python3
MW=${MODELWRAP_BIN:-$BENCH_ROOT/build/release/modelwrap}
# shellcheck disable=SC2034 # used by the scripts that source this file
HOST=127.0.0.1
BENCH_NAME=bench
PIDS=() # servers and running load generators: children of this shell
TMP=

die() {
    echo "$BENCH_NAME: $*" >&2
    exit 1
}

# check_int NAME VALUE MIN MAX
check_int() {
    if ! [[ $2 =~ ^[0-9]{1,9}$ ]] || [ "$2" -lt "$3" ] || [ "$2" -gt "$4" ]; then
        die "$1 must be an integer from $3 to $4 (got '$2')"
    fi
}

# need TOOL...: every tool is on PATH (or an executable path), else exit naming them all.
need() {
    local t missing=()
    for t in "$@"; do
        command -v "$t" >/dev/null 2>&1 || missing+=("$t")
    done
    [ ${#missing[@]} -eq 0 ] ||
        die "missing: ${missing[*]}; install them with: bash scripts/install-deps.sh all"
}

# need_py MODULE...: /usr/bin/python3 imports every module.
need_py() {
    local m missing=()
    [ -x "$PY" ] || die "missing: $PY; install it with: bash scripts/install-deps.sh all"
    for m in "$@"; do
        "$PY" -c "import $m" >/dev/null 2>&1 || missing+=("python3 module $m")
    done
    [ ${#missing[@]} -eq 0 ] ||
        die "missing: ${missing[*]}; install them with: bash scripts/install-deps.sh all"
}

# need_mw: the modelwrap binary exists; waits up to a minute while it is being rebuilt.
need_mw() {
    local n
    for ((n = 0; n < 60; n++)); do
        [ -x "$MW" ] && return 0
        [ "$n" -eq 0 ] && echo "$BENCH_NAME: waiting for $MW (being rebuilt?)" >&2
        sleep 1
    done
    die "no modelwrap binary at $MW; build it with: make build"
}

lib() { "$PY" "$BENCH_ROOT/bench/benchlib.py" "$@"; }
free_port() { lib freeports 1; }

# wait_ready URL PID [SECONDS]: a 200 on GET URL while PID runs, else exit.
wait_ready() {
    lib waitready "$1" "$2" "${3:-60}" || die "nothing answers 200 at $1"
}

# True when pid $1 is still a running child of this shell (a recycled pid is never signalled).
ours() {
    local line rest
    local -a f
    read -r line 2>/dev/null <"/proc/$1/stat" || return 1
    rest=${line##*) }
    read -r -a f <<<"$rest"
    [ "${f[1]}" = "$$" ] && [ "${f[0]}" != Z ]
}

track() { PIDS+=("$1"); }

# stop PID...: SIGTERM, up to 5 s to exit, then SIGKILL; reaps them.
stop() {
    local p n
    for p in "$@"; do
        ours "$p" && kill -TERM "$p" 2>/dev/null
    done
    for p in "$@"; do
        for ((n = 0; n < 50; n++)); do
            ours "$p" || break
            sleep 0.1
        done
        ours "$p" && kill -KILL "$p" 2>/dev/null
        wait "$p" 2>/dev/null || true
    done
    return 0
}

bench_cleanup() {
    trap - EXIT INT TERM
    stop "${PIDS[@]}"
    [ -n "$TMP" ] && rm -rf "$TMP"
}

# bench_init NAME: the error prefix, only the settings the script passes reach modelwrap, a
# private temporary directory $TMP, and every tracked process stops when the script exits.
bench_init() {
    local v
    BENCH_NAME=$1
    while IFS= read -r v; do unset "$v"; done < <(compgen -e | grep '^MODELWRAP_' || true)
    TMP=$(mktemp -d "/tmp/modelwrap-$1.XXXXXX")
    trap bench_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

# bench_settings CONNECTIONS: the common knobs. BENCH_QUICK=1: 1 round of 3 s (smoke run).
bench_settings() {
    QUICK=${BENCH_QUICK:-0}
    if [ "$QUICK" = 1 ]; then
        ROUNDS=${BENCH_ROUNDS:-1}
        DURATION=${BENCH_DURATION:-3}
    else
        ROUNDS=${BENCH_ROUNDS:-3}
        DURATION=${BENCH_DURATION:-10}
    fi
    WARMUP=${BENCH_WARMUP:-2}
    CONNS=${BENCH_CONNECTIONS:-$1}
    WRK_THREADS=${BENCH_WRK_THREADS:-2}
    check_int BENCH_ROUNDS "$ROUNDS" 1 100
    check_int BENCH_DURATION "$DURATION" 1 3600
    check_int BENCH_WARMUP "$WARMUP" 0 600
    check_int BENCH_CONNECTIONS "$CONNS" 1 10000
    check_int BENCH_WRK_THREADS "$WRK_THREADS" 1 64
    [ "$CONNS" -ge "$WRK_THREADS" ] || die "BENCH_CONNECTIONS must be >= BENCH_WRK_THREADS"
}

# nginx_user_line: the `user` directive nginx needs when started as root (else a comment).
nginx_user_line() {
    if [ "$(id -u)" -eq 0 ]; then
        echo "user root $(id -gn);"
    else
        echo "# not root: nginx runs as the current user"
    fi
}
