#!/usr/bin/env bash
# modelwrap's benchmark: modelwrap (two I/O models, two log levels, plus its HTTP layer alone)
# against nginx `return 200` and a FastAPI app serving the same XGBoost model, with wrk, in
# interleaved rounds on loopback. Usage: bash bench/run.sh (or `make bench`); see docs/BENCHMARKS.md.
#
# Environment:
#   BENCH_ROUNDS=3 BENCH_DURATION=10 (seconds per target per round) BENCH_WARMUP=2 (seconds)
#   BENCH_CONNECTIONS=64 BENCH_WRK_THREADS=2 BENCH_STARTUPS=5 (start-up samples per I/O model)
#   BENCH_QUICK=1      smoke run: 1 round of 3 s, 2 start-up samples, results in build/bench-quick.json
#   BENCH_PROFILE=1    also `perf record -g` modelwrap under load: profile.txt next to BENCH_OUT
#   BENCH_OUT=path     where the JSON results go (default bench/results/latest.json)
#   BENCH_TARGETS="id ..." only these targets (ids: see IDS below), e.g. the I/O models alone
#   MODELWRAP_BIN=path the binary (default build/release/modelwrap)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
PY=/usr/bin/python3
MW=${MODELWRAP_BIN:-$ROOT/build/release/modelwrap}
HOST=127.0.0.1

# Only the settings this script passes may reach modelwrap.
while IFS= read -r v; do unset "$v"; done < <(compgen -e | grep '^MODELWRAP_' || true)

if [ "${BENCH_QUICK:-0}" = 1 ]; then
    ROUNDS=${BENCH_ROUNDS:-1}
    DURATION=${BENCH_DURATION:-3}
    STARTUPS=${BENCH_STARTUPS:-2}
    OUT=${BENCH_OUT:-$ROOT/build/bench-quick.json}
else
    ROUNDS=${BENCH_ROUNDS:-3}
    DURATION=${BENCH_DURATION:-10}
    STARTUPS=${BENCH_STARTUPS:-5}
    OUT=${BENCH_OUT:-$ROOT/bench/results/latest.json}
fi
WARMUP=${BENCH_WARMUP:-2}
CONNS=${BENCH_CONNECTIONS:-64}
WRK_THREADS=${BENCH_WRK_THREADS:-2}
PROFILE=${BENCH_PROFILE:-0}

die() {
    echo "bench: $*" >&2
    exit 1
}

# check_int NAME VALUE MIN MAX
check_int() {
    if ! [[ $2 =~ ^[0-9]{1,7}$ ]] || [ "$2" -lt "$3" ] || [ "$2" -gt "$4" ]; then
        die "$1 must be an integer from $3 to $4 (got '$2')"
    fi
}
check_int BENCH_ROUNDS "$ROUNDS" 1 100
check_int BENCH_DURATION "$DURATION" 1 3600
check_int BENCH_WARMUP "$WARMUP" 0 600
check_int BENCH_CONNECTIONS "$CONNS" 1 10000
check_int BENCH_WRK_THREADS "$WRK_THREADS" 1 64
check_int BENCH_STARTUPS "$STARTUPS" 1 100
[ "$CONNS" -ge "$WRK_THREADS" ] || die "BENCH_CONNECTIONS must be >= BENCH_WRK_THREADS"

# ---- tools ---------------------------------------------------------------------------------------

missing=()
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
NGINX=$(command -v nginx 2>/dev/null || true)
[ -n "$NGINX" ] || { [ -x /usr/sbin/nginx ] && NGINX=/usr/sbin/nginx; } || missing+=(nginx)
[ -x "$PY" ] || missing+=("$PY")
if [ -x "$PY" ]; then
    for mod in fastapi uvicorn xgboost uvloop httptools numpy; do
        "$PY" -c "import $mod" >/dev/null 2>&1 || missing+=("python3 module $mod")
    done
fi
if [ "$PROFILE" = 1 ]; then
    command -v perf >/dev/null 2>&1 || missing+=(perf)
fi
[ ${#missing[@]} -eq 0 ] ||
    die "missing: ${missing[*]}; install them with: bash scripts/install-deps.sh all"
[ -x "$MW" ] || die "no modelwrap binary at $MW; build it with: make build"
[ -f "$ROOT/models/iris/iris.ubj" ] || die "no models/iris/iris.ubj in $ROOT"

# ---- clean-up: everything started here stops with the script -------------------------------------

TMP=$(mktemp -d /tmp/modelwrap-bench.XXXXXX)
PIDS=() # servers and the running wrk: children of this shell

# True when pid $1 is still a child of this shell (so a recycled pid is never signalled).
ours() {
    local line rest
    local -a f
    read -r line 2>/dev/null <"/proc/$1/stat" || return 1
    rest=${line##*) }
    read -r -a f <<<"$rest"
    [ "${f[1]}" = "$$" ] && [ "${f[0]}" != Z ]
}

cleanup() {
    local p n
    trap - EXIT INT TERM
    for p in "${PIDS[@]}"; do
        ours "$p" && kill -TERM "$p" 2>/dev/null
    done
    for p in "${PIDS[@]}"; do
        for ((n = 0; n < 50; n++)); do
            ours "$p" || break
            sleep 0.1
        done
        ours "$p" && kill -KILL "$p" 2>/dev/null
        wait "$p" 2>/dev/null || true
    done
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- the Python helper: ports, readiness, start-up timing, checks and the report -----------------

cat >"$TMP/benchlib.py" <<'PYEOF'
"""Helper of bench/run.sh (written into its temp dir): small jobs that are easier in Python."""
import http.client
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import time

HOST = "127.0.0.1"
BODY = (b'{"data":[{"sepal_length":5.1,"sepal_width":3.5,'
        b'"petal_length":1.4,"petal_width":0.2}]}')


def freeports(n):
    """Prints n distinct free loopback ports (bound together, then released)."""
    socks = []
    for _ in range(int(n)):
        s = socket.socket()
        s.bind((HOST, 0))
        socks.append(s)
    print(" ".join(str(s.getsockname()[1]) for s in socks))
    for s in socks:
        s.close()


def ready_status(port):
    """Status of GET /api/v1/health/ready, or None when nothing answers yet."""
    try:
        c = http.client.HTTPConnection(HOST, int(port), timeout=1.0)
        c.request("GET", "/api/v1/health/ready")
        st = c.getresponse().status
        c.close()
        return st
    except (OSError, http.client.HTTPException):
        return None


def alive(pid):
    try:
        os.kill(int(pid), 0)
    except OSError:
        return False
    # a zombie counts as dead
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def waitready(port, pid, timeout):
    """Waits (bounded) for a 200 on /api/v1/health/ready from the process pid."""
    deadline = time.monotonic() + float(timeout)
    while time.monotonic() < deadline:
        if ready_status(port) == 200:
            return 0
        if not alive(pid):
            print(f"process {pid} exited before it was ready", file=sys.stderr)
            return 1
        time.sleep(0.02)
    print(f"port {port} not ready after {timeout} s", file=sys.stderr)
    return 1


def tree(pid):
    """Prints pid and its direct children (nginx: master and workers)."""
    pid = int(pid)
    out = [pid]
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if ppid == pid:
            out.append(int(d))
    print(" ".join(str(p) for p in out))


def vmrss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def startup(mw, models, io_model, n, outfile, *extra):
    """Starts modelwrap n times; each time measures the startup_us of its "listening" log line,
    the wall-clock time from exec to the first 200 on /api/v1/health/ready, and the idle RSS."""
    samples = []
    for i in range(int(n)):
        s = socket.socket()
        s.bind((HOST, 0))
        port = s.getsockname()[1]
        s.close()
        logpath = f"{outfile}.{io_model}.{i}.log"
        argv = [mw, "serve", "--host", HOST, "--port", str(port), "--io-model", io_model,
                "--models", models, "--env-file", "/dev/null", "--log-level", "info", *extra]
        with open(logpath, "wb") as log:
            t0 = time.monotonic()
            p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                 stderr=log)
        ready_ms = None
        try:
            deadline = t0 + 30
            while time.monotonic() < deadline and p.poll() is None:
                if ready_status(port) == 200:
                    ready_ms = (time.monotonic() - t0) * 1000
                    break
                time.sleep(0.001)
            if ready_ms is None:
                raise SystemExit(f"modelwrap ({io_model}) did not become ready; log: {logpath}")
            time.sleep(0.5)
            rss = vmrss_kb(p.pid)
        finally:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        startup_us = None
        with open(logpath, encoding="utf-8", errors="replace") as f:
            for line in f:
                try:
                    j = json.loads(line)
                except ValueError:
                    continue
                if j.get("msg") == "listening":
                    startup_us = j.get("startup_us")
                    break
        samples.append({"startup_us": startup_us, "ready_ms": round(ready_ms, 2),
                        "idle_rss_kb": rss})
    with open(outfile, "w") as f:
        json.dump(samples, f)


def post(port):
    c = http.client.HTTPConnection(HOST, int(port), timeout=5)
    c.request("POST", "/api/v1/predict", body=BODY, headers={"Content-Type": "application/json"})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, data


def check(kind, port, reference):
    """One request before the benchmark: the target answers 200 with the expected JSON. A model
    server must give the label and probabilities of models/iris/reference.json (first row, which is
    the benchmark's record; class names from model.json) to 1e-6: every target does the same work."""
    if "health" in kind:
        c = http.client.HTTPConnection(HOST, int(port), timeout=5)
        c.request("GET", "/api/v1/health/live")
        r = c.getresponse()
        st, data = r.status, r.read()
        c.close()
        if st != 200 or json.loads(data) != {"is_alive": True}:
            raise SystemExit(f"{kind}: unexpected answer {st} {data[:200]!r}")
        return
    st, data = post(port)
    if st != 200:
        raise SystemExit(f"{kind} on port {port}: status {st}: {data[:200]!r}")
    j = json.loads(data)
    if kind == "nginx":
        if j != {"ok": True}:
            raise SystemExit(f"nginx: unexpected body {data[:200]!r}")
        return
    ref = json.load(open(reference))
    if ref["inputs"][0] != [5.1, 3.5, 1.4, 0.2]:
        raise SystemExit(f"{reference}: the first row is not the benchmark's record")
    meta = json.load(open(os.path.join(os.path.dirname(reference), "model.json")))
    classes = next(o["labels"] for o in meta["signature"]["outputs"] if o["name"] == "probabilities")
    probs = dict(zip(classes, ref["probabilities"][0]))
    label = ref["labels"][0]
    try:
        ok = (set(j) == {"model", "model_version", "predictions"} and j["model"] == "iris"
              and len(j["predictions"]) == 1 and j["predictions"][0]["label"] == label
              and set(j["predictions"][0]["probabilities"]) == set(probs)
              and all(abs(j["predictions"][0]["probabilities"][k] - v) <= 1e-6
                      for k, v in probs.items()))
    except (KeyError, TypeError, IndexError):
        ok = False
    if not ok:
        raise SystemExit(f"{kind}: unexpected answer {data[:300]!r}, expected {label} {probs}")


UNIT = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}


def ms(text):
    m = re.fullmatch(r"([0-9.]+)(us|ms|s|m|h)", text)
    if not m:
        raise ValueError(f"cannot read wrk latency {text!r}")
    return float(m.group(1)) * UNIT[m.group(2)]


def parse_wrk(path):
    text = open(path, encoding="utf-8", errors="replace").read()
    out = {}
    m = re.search(r"Requests/sec:\s+([0-9.]+)", text)
    if not m:
        raise SystemExit(f"no Requests/sec in {path}:\n{text}")
    out["rps"] = float(m.group(1))
    m = re.search(r"(\d+) requests in ([0-9.]+\w+)", text)
    out["requests"] = int(m.group(1)) if m else 0
    for pct, key in (("50", "p50_ms"), ("99", "p99_ms")):
        m = re.search(rf"^\s+{pct}%\s+(\S+)\s*$", text, re.M)
        if not m:
            raise SystemExit(f"no {pct}% latency in {path} (wrk --latency?)")
        out[key] = ms(m.group(1))
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    out["non_2xx"] = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    out["socket_errors"] = sum(int(g) for g in m.groups()) if m else 0
    return out


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(v, digits=2):
    return "-" if v is None else f"{v:,.{digits}f}"


def report(tmp, meta_path, out_path):
    """Reads every run of the rounds, writes the JSON results and prints the tables."""
    meta = json.load(open(meta_path))
    targets = meta["targets"]
    runs = {t["id"]: [] for t in targets}
    with open(os.path.join(tmp, "runs.tsv")) as f:
        for line in f:
            tid, rnd, cpu_ticks, rss_max, log_bytes, wrk_ms, busy, total, out_bytes = line.split()
            r = parse_wrk(os.path.join(tmp, "wrk", f"{tid}.{rnd}.txt"))
            r["round"] = int(rnd)
            hz = os.sysconf("SC_CLK_TCK")
            # CPU used on the machine by neither the server nor wrk, in % of all CPUs: other
            # processes (and the idle targets) competing with the measurement.
            other = int(busy) - int(cpu_ticks) - int(wrk_ms) * hz / 1000
            r["other_cpu_pct"] = round(max(0.0, other) * 100 / int(total), 1) if int(total) else None
            r["server_cpu_us_per_req"] = (round(int(cpu_ticks) / hz * 1e6 / r["requests"], 2)
                                          if r["requests"] else None)
            r["rss_max_kb"] = int(rss_max)
            r["log_bytes_per_req"] = (round(int(log_bytes) / r["requests"], 1)
                                      if r["requests"] and int(log_bytes) > 0 else None)
            r["stdout_bytes_per_req"] = (round(int(out_bytes) / r["requests"], 1)
                                         if r["requests"] and int(out_bytes) > 0 else None)
            runs[tid].append(r)
    valid = True
    for t in targets:
        rs = runs[t["id"]]
        t["runs"] = rs
        t["median"] = {k: med([r[k] for r in rs]) for k in
                       ("rps", "p50_ms", "p99_ms", "server_cpu_us_per_req", "log_bytes_per_req",
                        "stdout_bytes_per_req")}
        t["rss_load_max_kb"] = max((r["rss_max_kb"] for r in rs), default=None)
        t["errors"] = sum(r["non_2xx"] + r["socket_errors"] for r in rs)
        t["other_cpu_pct_max"] = max((r["other_cpu_pct"] or 0 for r in rs), default=None)
        if t["errors"]:
            valid = False
    by = {t["id"]: t for t in targets}
    nginx = by["nginx"]["median"]["rps"] if "nginx" in by else None
    fa = {k: by[k]["median"]["rps"] for k in ("fastapi-h11", "fastapi-uvloop") if k in by}
    for t in targets:
        rps = t["median"]["rps"]
        t["ratio_to_nginx"] = round(rps / nginx, 3) if nginx else None
        if t["id"].startswith("modelwrap") and "health" not in t["id"]:
            t["ratio_to_fastapi"] = {k: round(rps / v, 2) if v else None for k, v in fa.items()}
    io = {}
    for lvl in ("info", "warn"):
        if f"modelwrap-reuseport-{lvl}" not in by or f"modelwrap-pool-{lvl}" not in by:
            continue
        a = by[f"modelwrap-reuseport-{lvl}"]["median"]["rps"]
        b = by[f"modelwrap-pool-{lvl}"]["median"]["rps"]
        io[f"log_{lvl}"] = {
            "reuseport_rps": a, "pool_rps": b,
            "pool_over_reuseport": round(b / a, 3) if a else None,
            "winner": "reuseport" if a >= b else "pool",
            "per_round_pool_over_reuseport": [
                round(rb["rps"] / ra["rps"], 3) for ra, rb in
                zip(sorted(by[f"modelwrap-reuseport-{lvl}"]["runs"], key=lambda r: r["round"]),
                    sorted(by[f"modelwrap-pool-{lvl}"]["runs"], key=lambda r: r["round"]))],
        }
    meta["io_model"] = io
    st = meta.get("startup", {})
    for k, samples in st.items():
        st[k] = {"samples": samples,
                 "median_startup_us": med([s["startup_us"] for s in samples]),
                 "median_ready_ms": med([s["ready_ms"] for s in samples]),
                 "median_idle_rss_kb": med([s["idle_rss_kb"] for s in samples])}
    meta["valid"] = valid
    noisy = [f"{t['label']} round {r['round']} ({r['other_cpu_pct']}%)" for t in targets
             for r in t["runs"] if (r["other_cpu_pct"] or 0) > 5]
    meta["noisy_runs"] = noisy
    os.makedirs(os.path.dirname(out_path), exist_ok=True)
    with open(out_path + ".tmp", "w") as f:
        json.dump(meta, f, indent=2)
        f.write("\n")
    os.replace(out_path + ".tmp", out_path)

    s = meta["settings"]
    print(f"\n{s['rounds']} interleaved round(s) x {s['duration_s']} s per target "
          f"(+{s['warmup_s']} s warm-up), wrk -t{s['wrk_threads']} -c{s['connections']}, "
          f"medians over rounds; server and wrk share {meta['machine']['nproc']} CPU(s).\n")
    print("| target | req/s | p50 ms | p99 ms | vs nginx | vs FastAPI h11 | vs FastAPI uvloop "
          "| server CPU us/req | RSS idle MiB | RSS load MiB | errors | other CPU % max |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for t in targets:
        m = t["median"]
        rf = t.get("ratio_to_fastapi", {})
        print(f"| {t['label']} | {fmt(m['rps'], 0)} | {fmt(m['p50_ms'], 3)} | "
              f"{fmt(m['p99_ms'], 3)} | {fmt(t['ratio_to_nginx'], 3)} | "
              f"{fmt(rf.get('fastapi-h11'), 1)} | {fmt(rf.get('fastapi-uvloop'), 1)} | "
              f"{fmt(m['server_cpu_us_per_req'], 1)} | {fmt(t['idle_rss_kb'] / 1024, 1)} | "
              f"{fmt(t['rss_load_max_kb'] / 1024 if t['rss_load_max_kb'] else None, 1)} | "
              f"{t['errors']} | {fmt(t['other_cpu_pct_max'], 1)} |")
    io_text = "; ".join(f"log={k[4:]}: pool/reuseport = {fmt(v['pool_over_reuseport'], 3)} "
                        f"(per round {v['per_round_pool_over_reuseport']}), {v['winner']} wins"
                        for k, v in io.items())
    print("\nI/O model (same rounds): " + (io_text or "not compared"))
    for t in targets:
        m = t["median"]
        if m["log_bytes_per_req"] or m["stdout_bytes_per_req"]:
            print(f"{t['label']}: per request {fmt(m['log_bytes_per_req'], 0)} bytes on stderr "
                  f"(log), {fmt(m['stdout_bytes_per_req'], 0)} bytes on stdout (audit), to files")
    for k, v in st.items():
        print(f"start-up ({k}, {len(v['samples'])} samples): startup_us median "
              f"{v['median_startup_us']}, exec to first ready 200 median "
              f"{fmt(v['median_ready_ms'], 1)} ms, idle RSS {fmt(v['median_idle_rss_kb'] / 1024, 1)} MiB")
    if noisy:
        print("warning: other processes used more than 5% of the CPUs during: " + ", ".join(noisy))
    print(f"\nresults: {out_path}")
    if not valid:
        print("bench: some runs had non-2xx answers or socket errors: see 'errors'", file=sys.stderr)
        return 1
    return 0


def main(argv):
    cmd = argv[1]
    if cmd == "freeports":
        freeports(argv[2])
    elif cmd == "waitready":
        return waitready(argv[2], argv[3], argv[4])
    elif cmd == "tree":
        tree(argv[2])
    elif cmd == "startup":
        startup(*argv[2:])
    elif cmd == "check":
        check(*argv[2:5])
    elif cmd == "report":
        return report(argv[2], argv[3], argv[4])
    else:
        raise SystemExit(f"benchlib: unknown command {cmd}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
PYEOF
lib() { "$PY" "$TMP/benchlib.py" "$@"; }

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

mkdir -p "$TMP/wrk" "$TMP/nginx"
: >"$TMP/runs.tsv"
# modelwrap-health-warn is the HTTP layer alone: GET /api/v1/health/live, no body, no model.
IDS=(nginx modelwrap-reuseport-info modelwrap-pool-info modelwrap-reuseport-warn
    modelwrap-pool-warn modelwrap-health-warn fastapi-h11 fastapi-uvloop)
read -r -a PORTS <<<"$(lib freeports ${#IDS[@]})"
[ ${#PORTS[@]} -eq ${#IDS[@]} ] || die "could not find ${#IDS[@]} free ports"
declare -A PORT PID TREE LABEL CMD OUTF LOG IDLE_RSS URLPATH
for i in "${!IDS[@]}"; do
    PORT[${IDS[$i]}]=${PORTS[$i]}
    URLPATH[${IDS[$i]}]=/api/v1/predict
done
URLPATH[modelwrap-health-warn]=/api/v1/health/live
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
if [ "$PROFILE" = 1 ] && ! want modelwrap-reuseport-warn; then
    die "BENCH_PROFILE=1 profiles modelwrap-reuseport-warn: keep it in BENCH_TARGETS"
fi

# Settings that would turn the benchmark into a test of something else, set only when the binary
# has them: no credentials (--auth none, accepted on loopback only) and no per-consumer rate limit
# (the default 100/s would answer 429). Everything else, the audit trail included, is the default.
MW_EXTRA=()
MW_HELP=$("$MW" help 2>/dev/null || true)
if grep -Eq -- '--auth([^-a-z_]|$)' <<<"$MW_HELP"; then
    MW_EXTRA+=(--auth none)
fi
if grep -Eq -- '--rate-limit([^-a-z_]|$)' <<<"$MW_HELP"; then
    MW_EXTRA+=(--rate-limit off)
fi

# start ID LABEL OUTFILE ERRFILE COMMAND... : starts a target in the background (stdout and stderr
# appended to the files, which may be the same) and waits until it is ready.
start() {
    local id=$1 label=$2 out=$3 log=$4
    shift 4
    want "$id" || return 0
    LABEL[$id]=$label
    CMD[$id]="$*"
    OUTF[$id]=$out
    LOG[$id]=$log
    "$@" </dev/null >>"$out" 2>>"$log" &
    PID[$id]=$!
    PIDS+=("$!")
    lib waitready "${PORT[$id]}" "${PID[$id]}" 60 || {
        tail -n 20 "$log" >&2
        die "$label did not start"
    }
}

read -r LOAD_START _ </proc/loadavg
if [ "${LOAD_START%%.*}" -ge 1 ]; then
    echo "bench: warning: load average $LOAD_START before starting: something else is using the CPUs" >&2
fi
echo "bench: modelwrap start-up, ${STARTUPS} sample(s) per I/O model"
for io in reuseport pool; do
    lib startup "$MW" "$ROOT/models" "$io" "$STARTUPS" "$TMP/startup-$io.json" "${MW_EXTRA[@]}"
done

echo "bench: starting the targets"
user_line="# not root: nginx runs as the current user"
if [ "$(id -u)" -eq 0 ]; then
    user_line="user root $(id -gn);"
fi
sed -e "s|@TMPDIR@|$TMP/nginx|g" -e "s|@PORT@|${PORT[nginx]}|g" -e "s|@USER_LINE@|$user_line|" \
    "$ROOT/bench/nginx.conf.in" >"$TMP/nginx/nginx.conf"
start nginx "nginx return 200" "$TMP/nginx/stderr.log" "$TMP/nginx/stderr.log" \
    "$NGINX" -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf"

for io in reuseport pool; do
    for lvl in info warn; do
        id=modelwrap-$io-$lvl
        start "$id" "modelwrap $io, log $lvl" "$TMP/$id.out" "$TMP/$id.log" \
            "$MW" serve --host "$HOST" --port "${PORT[$id]}" --io-model "$io" --log-level "$lvl" \
            --models "$ROOT/models" --env-file /dev/null "${MW_EXTRA[@]}"
    done
done
start modelwrap-health-warn "modelwrap reuseport, log warn, GET health/live" \
    "$TMP/modelwrap-health-warn.out" "$TMP/modelwrap-health-warn.log" \
    "$MW" serve --host "$HOST" --port "${PORT[modelwrap-health-warn]}" --io-model reuseport \
    --log-level warn --models "$ROOT/models" --env-file /dev/null "${MW_EXTRA[@]}"

start fastapi-h11 "FastAPI uvicorn asyncio+h11" "$TMP/fastapi-h11.log" "$TMP/fastapi-h11.log" \
    "$PY" -m uvicorn fastapi_app:app --app-dir "$ROOT/bench" --host "$HOST" \
    --port "${PORT[fastapi-h11]}" --workers 1 --loop asyncio --http h11 --no-access-log \
    --log-level warning
start fastapi-uvloop "FastAPI uvicorn uvloop+httptools" "$TMP/fastapi-uvloop.log" \
    "$TMP/fastapi-uvloop.log" \
    "$PY" -m uvicorn fastapi_app:app --app-dir "$ROOT/bench" --host "$HOST" \
    --port "${PORT[fastapi-uvloop]}" --workers 1 --loop uvloop --http httptools --no-access-log \
    --log-level warning

sleep 1
for id in "${IDS[@]}"; do
    read -r -a t <<<"$(lib tree "${PID[$id]}")"
    TREE[$id]="${t[*]}"
    rss_kb "${t[@]}"
    IDLE_RSS[$id]=$RSS_KB
done

echo "bench: checking every target's answer"
for id in "${IDS[@]}"; do
    lib check "$id" "${PORT[$id]}" "$ROOT/models/iris/reference.json"
done

# ---- the rounds ----------------------------------------------------------------------------------

# run_one ID ROUND: warm-up, then the measured wrk run with RSS samples and CPU counters.
run_one() {
    local id=$1 rnd=$2 url="http://$HOST:${PORT[$1]}${URLPATH[$1]}"
    local c0 k0 b0 t0 max=0 wpid n log_bytes=0 out_bytes=0
    local -a pids script=(-s "$ROOT/bench/post.lua")
    [ "${URLPATH[$id]}" = /api/v1/predict ] || script=()
    read -r -a pids <<<"${TREE[$id]}"
    if [ "$WARMUP" -gt 0 ]; then
        wrk -t"$WRK_THREADS" -c"$CONNS" -d"${WARMUP}s" "${script[@]}" "$url" >/dev/null
    fi
    case $id in modelwrap-*) : >"${LOG[$id]}" && : >"${OUTF[$id]}" ;; esac
    cpu_ticks "${pids[@]}"
    c0=$CPU_TICKS
    children_ms
    k0=$CHILDREN_MS
    machine_ticks
    b0=$BUSY_TICKS
    t0=$TOTAL_TICKS
    wrk -t"$WRK_THREADS" -c"$CONNS" -d"${DURATION}s" --latency "${script[@]}" "$url" \
        >"$TMP/wrk/$id.$rnd.txt" 2>&1 &
    wpid=$!
    PIDS+=("$wpid")
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
    modelwrap-*) # what the run wrote: operational log (stderr) and audit records (stdout)
        log_bytes=$(stat -c %s "${LOG[$id]}")
        out_bytes=$(stat -c %s "${OUTF[$id]}")
        : >"${LOG[$id]}"
        : >"${OUTF[$id]}"
        ;;
    esac
    printf '%s %s %s %s %s %s %s %s %s\n' "$id" "$rnd" $((CPU_TICKS - c0)) "$max" "$log_bytes" \
        $((CHILDREN_MS - k0)) $((BUSY_TICKS - b0)) $((TOTAL_TICKS - t0)) "$out_bytes" >>"$TMP/runs.tsv"
    printf '  %-28s %s\n' "${LABEL[$id]}" "$(grep -E 'Requests/sec' "$TMP/wrk/$id.$rnd.txt")"
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
    id=modelwrap-reuseport-warn
    echo "bench: perf record -g of ${LABEL[$id]} under wrk for ${DURATION} s"
    wrk -t"$WRK_THREADS" -c"$CONNS" -d"$((DURATION + 2))s" -s "$ROOT/bench/post.lua" \
        "http://$HOST:${PORT[$id]}/api/v1/predict" >"$TMP/wrk-profile.txt" 2>&1 &
    wpid=$!
    PIDS+=("$wpid")
    sleep 1
    perf record -F 999 -g -p "${PID[$id]}" -o "$TMP/perf.data" -- sleep "$DURATION" \
        >"$TMP/perf.log" 2>&1 || die "perf record failed: $(cat "$TMP/perf.log")"
    wait "$wpid" || true
    unset 'PIDS[-1]'
    profile_out=$(dirname "$OUT")/profile.txt
    mkdir -p "$(dirname "$OUT")"
    {
        echo "# perf record -F 999 -g -p <modelwrap> (${LABEL[$id]}) for ${DURATION} s under"
        echo "# wrk -t$WRK_THREADS -c$CONNS POST /api/v1/predict; $(grep -E 'Requests/sec' "$TMP/wrk-profile.txt")"
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

# ---- report --------------------------------------------------------------------------------------

read -r LOAD_END _ </proc/loadavg
pyver() { "$PY" -c "import $1; print($1.__version__)" 2>/dev/null || echo unknown; }
{
    echo "{"
    echo "\"schema\": 1,"
    echo "\"date\": \"$(date -u +%Y-%m-%dT%H:%M:%SZ)\","
    echo "\"git_commit\": \"$(git -C "$ROOT" rev-parse HEAD 2>/dev/null || echo none)\","
    echo "\"machine\": {"
    echo "  \"nproc\": $(nproc),"
    echo "  \"cpu_model\": $(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//' | "$PY" -c 'import json,sys; print(json.dumps(sys.stdin.read().strip()))'),"
    echo "  \"mem_total_kb\": $(awk '/^MemTotal:/ {print $2}' /proc/meminfo),"
    echo "  \"kernel\": \"$(uname -r)\","
    echo "  \"debian\": \"$(cat /etc/debian_version 2>/dev/null || echo unknown)\","
    echo "  \"loadavg_1min_before\": $LOAD_START, \"loadavg_1min_after\": $LOAD_END"
    echo "},"
    echo "\"versions\": {"
    echo "  \"modelwrap\": $("$MW" version | "$PY" -c 'import json,sys; print(json.dumps(sys.stdin.read().strip()))'),"
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
    echo "  \"request\": \"POST /api/v1/predict, one iris record (bench/post.lua), keep-alive\","
    echo "  \"order\": \"round r starts at target r-1 of the list and goes round\"},"
    echo "\"startup\": {\"reuseport\": $(cat "$TMP/startup-reuseport.json"), \"pool\": $(cat "$TMP/startup-pool.json")},"
    echo "\"targets\": ["
    for i in "${!IDS[@]}"; do
        id=${IDS[$i]}
        sep=","
        [ "$i" -eq $((n_ids - 1)) ] && sep=""
        printf '  {"id": "%s", "label": "%s", "idle_rss_kb": %s, "command": %s}%s\n' \
            "$id" "${LABEL[$id]}" "${IDLE_RSS[$id]}" \
            "$(printf '%s' "${CMD[$id]//$TMP/<tmp>}" | "$PY" -c 'import json,sys; print(json.dumps(sys.stdin.read()))')" \
            "$sep"
    done
    echo "]"
    echo "}"
} >"$TMP/meta.json"

lib report "$TMP" "$TMP/meta.json" "$OUT"
