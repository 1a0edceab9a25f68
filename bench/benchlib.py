"""The Python half of the benchmark scripts (bench/lib.sh is the shell half): free ports,
readiness, start-up timing, request bodies, answer checks, wrk output parsing and the reports of
bench/run.sh, bench/v2.sh, bench/https.sh, bench/batching.sh and bench/suite.sh.

Run with Debian's /usr/bin/python3: `python3 bench/benchlib.py COMMAND ARGS...` (see main())."""
import http.client
import json
import os
import re
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import time
import urllib.parse

HOST = "127.0.0.1"
IRIS_ROW = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}
IRIS_FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
TRIVIAL_ROW = {"a": 1.5, "b": 2.5}


# ---- processes, ports, readiness -----------------------------------------------------------------

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


def connection(url, timeout):
    """An HTTP(S) connection for url (certificates are not verified: loopback, self-signed)."""
    u = urllib.parse.urlsplit(url)
    if u.scheme == "https":
        return http.client.HTTPSConnection(u.hostname, u.port, timeout=timeout,
                                           context=ssl._create_unverified_context())
    return http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)


def request(url, method="GET", body=None, headers=None, timeout=5.0):
    """(status, headers, body) of one request."""
    c = connection(url, timeout)
    try:
        path = urllib.parse.urlsplit(url)
        target = path.path + ("?" + path.query if path.query else "")
        c.request(method, target or "/", body=body, headers=headers or {})
        r = c.getresponse()
        return r.status, r, r.read()
    finally:
        c.close()


def status_of(url):
    """Status of GET url, or None when nothing answers yet."""
    try:
        return request(url, timeout=1.0)[0]
    except (OSError, http.client.HTTPException):
        return None


def alive(pid):
    """True while pid runs (a zombie counts as dead)."""
    try:
        with open(f"/proc/{int(pid)}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def waitready(url, pid, timeout):
    """Waits (bounded) for a 200 on GET url while process pid runs."""
    deadline = time.monotonic() + float(timeout)
    while time.monotonic() < deadline:
        if status_of(url) == 200:
            return 0
        if not alive(pid):
            print(f"process {pid} exited before {url} answered 200", file=sys.stderr)
            return 1
        time.sleep(0.02)
    print(f"{url}: no 200 after {timeout} s", file=sys.stderr)
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


def free_port():
    s = socket.socket()
    s.bind((HOST, 0))
    port = s.getsockname()[1]
    s.close()
    return port


def startup(mw, models, io_model, n, outfile, *extra):
    """Starts modelwrap n times; each time measures the startup_us of its "listening" log line,
    the wall-clock time from exec to the first 200 on /api/v1/health/ready, and the idle RSS.
    In extra, @PORT@ becomes a fresh free port (for --metrics-port) and @N@ the sample number."""
    samples = []
    for i in range(int(n)):
        port = free_port()
        logpath = f"{outfile}.{io_model}.{i}.log"
        args = [str(free_port()) if a == "@PORT@" else a.replace("@N@", str(i)) for a in extra]
        argv = [mw, "serve", "--host", HOST, "--port", str(port), "--io-model", io_model,
                "--models", models, "--env-file", "/dev/null", "--log-level", "info", *args]
        with open(logpath, "wb") as log:
            t0 = time.monotonic()
            p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                 stderr=log)
        ready_ms = None
        url = f"http://{HOST}:{port}/api/v1/health/ready"
        try:
            deadline = t0 + 30
            while time.monotonic() < deadline and p.poll() is None:
                if status_of(url) == 200:
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


# ---- request bodies and answer checks ------------------------------------------------------------

def iris_reference(reference):
    """(rows, labels, probability dicts) of models/iris/reference.json, class names from
    model.json next to it."""
    ref = json.load(open(reference))
    meta = json.load(open(os.path.join(os.path.dirname(reference), "model.json")))
    classes = next(o["labels"] for o in meta["signature"]["outputs"] if o["name"] == "probabilities")
    probs = [dict(zip(classes, p)) for p in ref["probabilities"]]
    return ref["inputs"], ref["labels"], probs


def body(kind, out, reference):
    """Writes a request body: iris-N (N records: the rows of reference.json in turn, the first
    being the benchmark's record) or trivial (one testkit record)."""
    if kind == "trivial":
        doc = {"data": [TRIVIAL_ROW]}
    else:
        n = int(kind.split("-", 1)[1])
        rows, _, _ = iris_reference(reference)
        if dict(zip(IRIS_FEATURES, rows[0])) != IRIS_ROW:
            raise SystemExit(f"{reference}: the first row is not the benchmark's record")
        doc = {"data": [dict(zip(IRIS_FEATURES, rows[i % len(rows)])) for i in range(n)]}
    with open(out, "w") as f:
        f.write(json.dumps(doc, separators=(",", ":")))


def check_iris(kind, data, n, reference):
    """The answer of a model server to an iris-n body: label and probabilities of every record as
    in reference.json to 1e-6, so every model server does the same work."""
    _, labels, probs = iris_reference(reference)
    j = json.loads(data)
    try:
        preds = j["predictions"]
        ok = (set(j) == {"model", "model_version", "predictions"} and j["model"] == "iris"
              and len(preds) == n)
        for i, p in enumerate(preds if ok else []):
            want = probs[i % len(probs)]
            ok = ok and (p["label"] == labels[i % len(labels)]
                         and set(p["probabilities"]) == set(want)
                         and all(abs(p["probabilities"][k] - v) <= 1e-6 for k, v in want.items()))
    except (KeyError, TypeError, IndexError, AttributeError):
        ok = False
    if not ok:
        raise SystemExit(f"{kind}: unexpected answer {data[:300]!r}, expected {n} predictions "
                         f"as in {reference}")


def check(kind, url, body_file, reference):
    """One request before the benchmark: the target answers 200 with the expected JSON. kind:
    nginx, health, trivial or iris-N (N records). With BENCH_API_KEY set, the request carries it
    as X-API-Key and a first request without it must get 401 (authentication really is on)."""
    key = os.environ.get("BENCH_API_KEY", "")
    headers = {"Content-Type": "application/json"}
    payload = open(body_file, "rb").read() if body_file else None
    if key:
        st, _, data = request(url if kind != "health" else url.replace(
            "/api/v1/health/live", "/api/v1/predict"), "POST", payload or b"{}", headers)
        if st != 401:
            raise SystemExit(f"{kind}: {st} without the API key, expected 401: {data[:200]!r}")
        headers["X-API-Key"] = key
    if kind == "health":
        st, _, data = request(url, "GET", headers=headers)
        if st != 200 or json.loads(data) != {"is_alive": True}:
            raise SystemExit(f"{kind}: unexpected answer {st} {data[:200]!r}")
        return
    st, _, data = request(url, "POST", payload, headers)
    if st != 200:
        raise SystemExit(f"{kind} {url}: status {st}: {data[:200]!r}")
    if kind == "nginx":
        if json.loads(data) != {"ok": True}:
            raise SystemExit(f"nginx: unexpected body {data[:200]!r}")
    elif kind == "trivial":
        # testkit: y = 2 * x, row by row
        want = [2 * TRIVIAL_ROW["a"], 2 * TRIVIAL_ROW["b"]]
        j = json.loads(data)
        try:
            ok = len(j["predictions"]) == 1 and j["predictions"][0]["y"] == want
        except (KeyError, TypeError, IndexError):
            ok = False
        if not ok:
            raise SystemExit(f"trivial: unexpected answer {data[:300]!r}, expected y = {want}")
    else:
        check_iris(kind, data, int(kind.split("-", 1)[1]), reference)


def metrics(url):
    """GET url (the metrics listener's /metrics) answers 200 with Prometheus text that counts
    predict requests."""
    st, _, data = request(url)
    text = data.decode("utf-8", "replace")
    if st != 200 or "modelwrap_http_requests_total" not in text:
        raise SystemExit(f"{url}: status {st}, no modelwrap_http_requests_total: {text[:200]!r}")


# ---- wrk output ----------------------------------------------------------------------------------

UNIT = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}


def ms(text):
    m = re.fullmatch(r"([0-9.]+)(us|ms|s|m|h)", text)
    if not m:
        raise ValueError(f"cannot read wrk latency {text!r}")
    return float(m.group(1)) * UNIT[m.group(2)]


def parse_wrk(path, latency=True):
    """rps, requests, p50_ms, p99_ms (with --latency), non_2xx and socket_errors of a wrk output."""
    text = open(path, encoding="utf-8", errors="replace").read()
    out = {}
    m = re.search(r"Requests/sec:\s+([0-9.]+)", text)
    if not m:
        raise SystemExit(f"no Requests/sec in {path}:\n{text}")
    out["rps"] = float(m.group(1))
    m = re.search(r"(\d+) requests in ([0-9.]+\w+)", text)
    out["requests"] = int(m.group(1)) if m else 0
    if latency:
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


def wrk_field(path, field):
    """Prints one field of parse_wrk (for shell scripts)."""
    r = parse_wrk(path, latency=field in ("p50_ms", "p99_ms"))
    print(r[field])


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(v, digits=2):
    return "-" if v is None else f"{v:,.{digits}f}"


def rounds(specs):
    """specs: CASE:ROUND:PATH of wrk --latency outputs. Returns {case: {"runs": [...], "rps",
    "p50_ms", "p99_ms" (medians over rounds), "errors"}} in the order the cases first appear."""
    res = {}
    for spec in specs:
        case, rnd, path = spec.split(":", 2)
        r = parse_wrk(path)
        r["round"] = int(rnd)
        res.setdefault(case, {"runs": []})["runs"].append(r)
    for v in res.values():
        for k in ("rps", "p50_ms", "p99_ms"):
            v[k] = med([r[k] for r in v["runs"]])
        v["errors"] = sum(r["non_2xx"] + r["socket_errors"] for r in v["runs"])
    return res


def write_json(path, doc):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path + ".tmp", "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    os.replace(path + ".tmp", path)


# ---- bench/run.sh --------------------------------------------------------------------------------

def count_lines(path):
    n = 0
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            n += block.count(b"\n")
    return n


def audit_lines(path, expect_at_least=0, timeout=10.0):
    """Prints the audit file's line count once it stops growing (the writer is asynchronous)."""
    deadline = time.monotonic() + float(timeout)
    last = -1
    while True:
        n = count_lines(path) if os.path.exists(path) else 0
        if (n == last and n >= int(expect_at_least)) or time.monotonic() > deadline:
            print(n)
            return
        last = n
        time.sleep(0.3)


def audit_check(t, tmp, conns):
    """Audit records of a modelwrap target against the requests wrk sent it (warm-ups, measured
    runs, the profile run): a record per request, plus at most one per connection and wrk run for
    requests still in flight when wrk stopped (answered, but not counted by wrk)."""
    a = t.get("audit")
    if not a:
        return None
    sent, nruns = 0, 0
    for name in os.listdir(os.path.join(tmp, "wrk")):
        if name.startswith(t["id"] + "."):
            sent += parse_wrk(os.path.join(tmp, "wrk", name), latency=False)["requests"]
            nruns += 1
    records = a["lines_end"] - a["lines_start"]
    ok = sent <= records <= sent + conns * nruns
    return {"requests_sent": sent, "records": records, "wrk_runs": nruns, "ok": ok,
            "metrics_ok": a.get("metrics_ok", False)}


def report(tmp, meta_path, out_path):
    """Reads every run of bench/run.sh's rounds, writes the JSON results and prints the tables."""
    meta = json.load(open(meta_path))
    targets = meta["targets"]
    conns = meta["settings"]["connections"]
    runs = {t["id"]: [] for t in targets}
    audits = {}
    if os.path.exists(os.path.join(tmp, "audit.tsv")):
        with open(os.path.join(tmp, "audit.tsv")) as f:
            for line in f:
                tid, start, end, mok = line.split()
                audits[tid] = {"lines_start": int(start), "lines_end": int(end),
                               "metrics_ok": mok == "1"}
    hz = os.sysconf("SC_CLK_TCK")
    with open(os.path.join(tmp, "runs.tsv")) as f:
        for line in f:
            tid, rnd, cpu_ticks, rss_max, log_bytes, wrk_ms, busy, total, audit_bytes = line.split()
            r = parse_wrk(os.path.join(tmp, "wrk", f"{tid}.{rnd}.txt"))
            r["round"] = int(rnd)
            # CPU used on the machine by neither the server nor wrk, in % of all CPUs: other
            # processes (and the idle targets) competing with the measurement.
            other = int(busy) - int(cpu_ticks) - int(wrk_ms) * hz / 1000
            r["other_cpu_pct"] = round(max(0.0, other) * 100 / int(total), 1) if int(total) else None
            r["server_cpu_us_per_req"] = (round(int(cpu_ticks) / hz * 1e6 / r["requests"], 2)
                                          if r["requests"] else None)
            r["rss_max_kb"] = int(rss_max)
            for k, v in (("log_bytes_per_req", log_bytes), ("audit_bytes_per_req", audit_bytes)):
                r[k] = round(int(v) / r["requests"], 1) if r["requests"] and int(v) > 0 else None
            runs[tid].append(r)
    valid = True
    for t in targets:
        rs = runs[t["id"]]
        t["runs"] = rs
        t["median"] = {k: med([r[k] for r in rs]) for k in
                       ("rps", "p50_ms", "p99_ms", "server_cpu_us_per_req", "log_bytes_per_req",
                        "audit_bytes_per_req")}
        t["rss_load_max_kb"] = max((r["rss_max_kb"] for r in rs), default=None)
        t["errors"] = sum(r["non_2xx"] + r["socket_errors"] for r in rs)
        t["other_cpu_pct_max"] = max((r["other_cpu_pct"] or 0 for r in rs), default=None)
        if t["id"] in audits:
            t["audit"] = audits[t["id"]]
            t["audit_check"] = audit_check(t, tmp, conns)
            if not (t["audit_check"]["ok"] and t["audit_check"]["metrics_ok"]):
                valid = False
        if t["errors"]:
            valid = False
    by = {t["id"]: t for t in targets}
    rps = {k: by[k]["median"]["rps"] if k in by else None for k in by}

    def ratio(a, b, digits=3):
        return round(rps[a] / rps[b], digits) if rps.get(a) and rps.get(b) else None

    for t in targets:
        t["ratio_to_nginx"] = ratio(t["id"], "nginx")
        if t["id"].startswith("modelwrap") and "health" not in t["id"] and "trivial" not in t["id"]:
            suffix = "-100" if t["id"].endswith("-100") else ""
            t["ratio_to_fastapi"] = {k: ratio(t["id"], k + suffix, 2)
                                     for k in ("fastapi-h11", "fastapi-uvloop")}
    io = {}
    if "modelwrap-secure" in by and "modelwrap-secure-pool" in by:
        a, b = by["modelwrap-secure"], by["modelwrap-secure-pool"]
        io = {"reuseport_rps": rps["modelwrap-secure"], "pool_rps": rps["modelwrap-secure-pool"],
              "pool_over_reuseport": ratio("modelwrap-secure-pool", "modelwrap-secure"),
              "per_round_pool_over_reuseport": [
                  round(rb["rps"] / ra["rps"], 3) for ra, rb in
                  zip(sorted(a["runs"], key=lambda r: r["round"]),
                      sorted(b["runs"], key=lambda r: r["round"]))]}
        io["winner"] = "reuseport" if io["reuseport_rps"] >= io["pool_rps"] else "pool"
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
    write_json(out_path, meta)

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
    if io:
        print(f"\nI/O model (same rounds, secure config): pool/reuseport = "
              f"{fmt(io['pool_over_reuseport'], 3)} (per round "
              f"{io['per_round_pool_over_reuseport']}), {io['winner']} wins")
    else:
        print("\nI/O model: not compared (needs modelwrap-secure and modelwrap-secure-pool)")
    for t in targets:
        m = t["median"]
        if m["log_bytes_per_req"] or m["audit_bytes_per_req"]:
            print(f"{t['label']}: per request {fmt(m['log_bytes_per_req'], 0)} bytes of log "
                  f"(stderr), {fmt(m['audit_bytes_per_req'], 0)} bytes of audit (--audit-log file)")
        ac = t.get("audit_check")
        if ac:
            print(f"{t['label']}: {ac['records']} audit records for {ac['requests_sent']} requests "
                  f"in {ac['wrk_runs']} wrk runs: {'ok' if ac['ok'] else 'MISMATCH'}; /metrics "
                  f"{'ok' if ac['metrics_ok'] else 'FAILED'}")
    for k, v in st.items():
        print(f"start-up ({k}, {len(v['samples'])} samples): startup_us median "
              f"{v['median_startup_us']}, exec to first ready 200 median "
              f"{fmt(v['median_ready_ms'], 1)} ms, idle RSS {fmt(v['median_idle_rss_kb'] / 1024, 1)} MiB")
    if noisy:
        print("warning: other processes used more than 5% of the CPUs during: " + ", ".join(noisy))
    print(f"\nresults: {out_path}")
    if not valid:
        print("bench: some runs had non-2xx answers or socket errors, or the audit/metrics check "
              "failed: see 'errors' and 'audit_check'", file=sys.stderr)
        return 1
    return 0


# ---- bench/v2.sh ---------------------------------------------------------------------------------

V2_CASES = ("json-1", "binary-1", "json-1000", "binary-1000")


def v2_bodies(tmp):
    """tmp/<case>.body and tmp/<case>.env (BENCH_CONTENT_TYPE, BENCH_IHCL for bench/post.lua)."""
    import numpy as np
    rng = np.random.default_rng(1)
    row = [IRIS_ROW[k] for k in IRIS_FEATURES]
    for rows in (1, 1000):
        x = np.array([row], np.float32) if rows == 1 else (rng.random((rows, 4)) * 7).astype(
            np.float32)
        js = {"inputs": [{"name": "features", "shape": [rows, 4], "datatype": "FP32",
                          "data": x.reshape(-1).tolist()}]}
        v2_write(tmp, "json-%d" % rows, json.dumps(js).encode(), "application/json", "")
        hdr = {"inputs": [{"name": "features", "shape": [rows, 4], "datatype": "FP32",
                           "parameters": {"binary_data_size": x.nbytes}}],
               "parameters": {"binary_data_output": True}}
        h = json.dumps(hdr).encode()
        v2_write(tmp, "binary-%d" % rows, h + x.astype("<f4").tobytes(),
                 "application/octet-stream", str(len(h)))


def v2_write(tmp, case, data, ctype, ihcl):
    with open(os.path.join(tmp, case + ".body"), "wb") as f:
        f.write(data)
    with open(os.path.join(tmp, case + ".env"), "w") as f:
        f.write("BENCH_CONTENT_TYPE=%s\nBENCH_IHCL=%s\n" % (ctype, ihcl))


def v2_check(url, tmp, case):
    """One request: 200, and the probabilities of every row sum to 1 (same work for each case)."""
    import numpy as np
    data = open(os.path.join(tmp, case + ".body"), "rb").read()
    env = dict(l.split("=", 1) for l in open(os.path.join(tmp, case + ".env")).read().split("\n")
               if l)
    headers = {"Content-Type": env["BENCH_CONTENT_TYPE"]}
    if env["BENCH_IHCL"]:
        headers["Inference-Header-Content-Length"] = env["BENCH_IHCL"]
    st, r, answer = request(url, "POST", data, headers, timeout=10)
    if st != 200:
        raise SystemExit("%s: status %d: %r" % (case, st, answer[:300]))
    hlen = r.getheader("Inference-Header-Content-Length")
    hlen = int(hlen) if hlen else len(answer)
    head = json.loads(answer[:hlen])
    out = next(o for o in head["outputs"] if o["name"] == "probabilities")
    if "data" in out:
        p = np.array(out["data"], np.float32)
    else:
        pos = hlen
        for o in head["outputs"]:
            size = o["parameters"]["binary_data_size"]
            if o["name"] == "probabilities":
                p = np.frombuffer(answer[pos:pos + size], "<f4")
            pos += size
    rows = out["shape"][0]
    if not np.allclose(p.reshape(rows, 3).sum(axis=1), 1.0, atol=1e-5):
        raise SystemExit("%s: probabilities do not sum to 1" % case)
    print("%s: %d request bytes, %d response bytes" % (case, len(data), len(answer)))


def v2_report(out, *specs):
    res = rounds(specs)
    bad = [c for c, v in res.items() if v["errors"]]
    write_json(out, {"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                     "cases": res, "cpus": os.cpu_count()})
    print("| case | requests/s (median) | p50 ms | p99 ms |")
    print("|---|---:|---:|---:|")
    for c in V2_CASES:
        s = res[c]
        print("| %s | %.0f | %.2f | %.2f |" % (c, s["rps"], s["p50_ms"], s["p99_ms"]))
    if bad:
        print("bench/v2: wrk saw non-2xx answers or socket errors in: " + ", ".join(bad),
              file=sys.stderr)
        return 1
    return 0


# ---- bench/https.sh ------------------------------------------------------------------------------

def https_report(out, key, conns, duration, nrounds, *specs):
    res = rounds(specs)
    base = res["nginx-tls-proxy"]["rps"]
    doc = {"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "key": key,
           "connections": int(conns), "duration_s": int(duration), "rounds": int(nrounds),
           "cpus": os.cpu_count(), "targets": res}
    write_json(out, doc)
    print("\n| target | req/s (median) | p99 ms | vs nginx proxy |")
    print("|---|---|---|---|")
    for tid, r in res.items():
        print("| %s | %.0f | %.2f | %.2fx |%s" % (tid, r["rps"], r["p99_ms"], r["rps"] / base,
                                                 "  (%d errors!)" % r["errors"] if r["errors"]
                                                 else ""))
    print("\nresults: " + out)
    return 1 if any(r["errors"] for r in res.values()) else 0


# ---- bench/batching.sh ---------------------------------------------------------------------------

def batching_report(out, conns, workers, mx, delay, *specs):
    res = rounds(specs)
    off, on = res["off"], res["on"]
    doc = {"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "cores": os.cpu_count(),
           "connections": int(conns), "workers": int(workers), "max_batch_size": int(mx),
           "max_queue_delay_us": int(delay),
           "requests_per_s": {m: [r["rps"] for r in res[m]["runs"]] for m in ("off", "on")},
           "p99_ms": {m: [r["p99_ms"] for r in res[m]["runs"]] for m in ("off", "on")},
           "median_rps": {"off": off["rps"], "on": on["rps"]},
           "on_over_off": round(on["rps"] / off["rps"], 3) if off["rps"] else None}
    write_json(out, doc)
    print("| iris, 1 record, %s connections, %s workers | requests/s (median of %d) "
          "| p99 ms (per round) | vs off |" % (conns, workers, len(off["runs"])))
    print("|---|---|---|---|")
    for m in ("off", "on"):
        name = "batching off" if m == "off" else "batching on (max %s, %s us)" % (mx, delay)
        print("| %s | %.0f | %s | %.2fx |" % (name, res[m]["rps"], " / ".join(
            "%.2f" % r["p99_ms"] for r in res[m]["runs"]), res[m]["rps"] / off["rps"]))
    if off["errors"] or on["errors"]:
        print("batching bench: wrk saw non-2xx answers or socket errors", file=sys.stderr)
        return 1
    return 0


# ---- bench/python.sh -----------------------------------------------------------------------------

PY_TARGET_RATIO = 10.0  # modelwrap with batching on vs the template's app, requests/s
PY_TARGET_ADDED_US = 30.0  # p50 the Python path adds to the same trivial work as a C plug-in


def python_report(out, conns, instances, mx, delay, *specs):
    res = rounds(specs)
    tpl = res["template"]["rps"]
    off, on = res["modelwrap-batching-off"], res["modelwrap-batching-on"]
    # The target is judged on batching's own configuration, one instance (docs/python.md,
    # "Batching and instances"); the PY_INSTANCES row is reported beside it.
    on1 = res["modelwrap-batching-on1"]
    pyt, ct = res["pytrivial-1conn"], res["ctrivial-1conn"]
    added_us = (pyt["p50_ms"] - ct["p50_ms"]) * 1000.0
    per_round = sorted({r["round"] for v in res.values() for r in v["runs"]})

    def round_of(case, n):
        return next(r for r in res[case]["runs"] if r["round"] == n)

    ratios_on = [round_of("modelwrap-batching-on1", n)["rps"] / round_of("template", n)["rps"]
                 for n in per_round]
    added = [(round_of("pytrivial-1conn", n)["p50_ms"] - round_of("ctrivial-1conn", n)["p50_ms"])
             * 1000.0 for n in per_round]
    doc = {"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "cores": os.cpu_count(),
           "load": open("/proc/loadavg").read().split()[:3],
           "connections": int(conns), "instances": int(instances),
           "max_batch_size": int(mx), "max_queue_delay_us": int(delay),
           "cases": res,
           "on_over_template": round(on1["rps"] / tpl, 3) if tpl else None,
           "on_instances_over_template": round(on["rps"] / tpl, 3) if tpl else None,
           "off_over_template": round(off["rps"] / tpl, 3) if tpl else None,
           "on_over_template_per_round": [round(r, 3) for r in ratios_on],
           "p50_added_us": round(added_us, 1),
           "p50_added_us_per_round": [round(a, 1) for a in added],
           "targets": {"on_over_template": PY_TARGET_RATIO, "p50_added_us": PY_TARGET_ADDED_US}}
    doc["met"] = {"on_over_template": doc["on_over_template"] is not None
                  and doc["on_over_template"] >= PY_TARGET_RATIO,
                  "p50_added_us": added_us <= PY_TARGET_ADDED_US}
    write_json(out, doc)
    n = len(per_round)
    print("| tickets model.py, 1 record, %s connections | requests/s (median of %d) | p50 ms "
          "| p99 ms | vs template |" % (conns, n))
    print("|---|---|---|---|---|")
    for case, name in (("template", "template app: FastAPI + uvicorn, 2 workers"),
                       ("modelwrap-batching-off", "modelwrap python, %s instances, batching off"
                        % instances),
                       ("modelwrap-batching-on", "modelwrap python, %s instances, batching on "
                        "(max %s, %s us)" % (instances, mx, delay)),
                       ("modelwrap-batching-on1", "modelwrap python, 1 instance, batching on "
                        "(max %s, %s us)" % (mx, delay))):
        r = res[case]
        print("| %s | %.0f | %.2f | %.2f | %.2fx |" % (name, r["rps"], r["p50_ms"], r["p99_ms"],
                                                      r["rps"] / tpl))
    print("\n| trivial work (y = 2x), 1 record, 1 connection | requests/s | p50 us | p99 us |")
    print("|---|---|---|---|")
    for case, name in (("ctrivial-1conn", "C plug-in (testkit), 1 worker thread"),
                       ("pytrivial-1conn", "template-style model.py, 1 instance")):
        r = res[case]
        print("| %s | %.0f | %.1f | %.1f |" % (name, r["rps"], r["p50_ms"] * 1000,
                                              r["p99_ms"] * 1000))
    print("\nbatching on (1 instance) vs template: %.2fx (target >= %.0fx: %s; %s instances: "
          "%.2fx); p50 added by the Python path: %.1f us (target <= %.0f us: %s)" % (
              doc["on_over_template"], PY_TARGET_RATIO,
              "met" if doc["met"]["on_over_template"] else "missed", instances,
              doc["on_instances_over_template"], added_us,
              PY_TARGET_ADDED_US, "met" if doc["met"]["p50_added_us"] else "missed"))
    if res["template"]["errors"]:
        # The baseline's own failures (wrk's 2 s timeout under 64 connections) are part of what
        # is measured, not a failure of this run.
        print("python bench: the template app had %d non-2xx answers or socket errors (timeouts)"
              % res["template"]["errors"], file=sys.stderr)
    if any(v["errors"] for k, v in res.items() if k != "template"):
        print("python bench: wrk saw non-2xx answers or socket errors from modelwrap",
              file=sys.stderr)
        return 1
    return 0


# ---- bench/compare.sh ----------------------------------------------------------------------------

def compare_report(out, *specs):
    """Two binaries, the same cases: medians per side and the after/before ratios (per round too,
    so a reader sees whether a difference is larger than the rounds' own spread)."""
    res = rounds(specs)
    cases = []
    for name in res:
        base = name.rsplit("-", 1)[0]
        if base not in cases:
            cases.append(base)
    doc = {"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "cores": os.cpu_count(),
           "load": open("/proc/loadavg").read().split()[:3], "runs": res, "cases": {}}
    print("| case | before req/s | after req/s | after/before | per round | before p99 ms | after p99 ms |")
    print("|---|---|---|---|---|---|---|")
    for c in cases:
        b, a = res[c + "-before"], res[c + "-after"]
        per = []
        for rb in b["runs"]:
            ra = next((r for r in a["runs"] if r["round"] == rb["round"]), None)
            if ra is not None and rb["rps"]:
                per.append(round(ra["rps"] / rb["rps"], 3))
        ratio = round(a["rps"] / b["rps"], 3) if b["rps"] else None
        doc["cases"][c] = {"before_rps": b["rps"], "after_rps": a["rps"], "ratio": ratio,
                           "ratio_per_round": per, "before_p99_ms": b["p99_ms"],
                           "after_p99_ms": a["p99_ms"]}
        print("| %s | %.0f | %.0f | %.3f | %s | %.2f | %.2f |" % (
            c, b["rps"], a["rps"], ratio or 0, " / ".join("%.3f" % x for x in per),
            b["p99_ms"], a["p99_ms"]))
    write_json(out, doc)
    if any(v["errors"] for v in res.values()):
        print("compare bench: wrk saw non-2xx answers or socket errors", file=sys.stderr)
        return 1
    return 0


# ---- bench/suite.sh ------------------------------------------------------------------------------

def fresh(path, since):
    """The JSON document at path when it was written after time since, else None."""
    try:
        if os.path.getmtime(path) < float(since):
            return None
        return json.load(open(path))
    except (OSError, ValueError):
        return None


def suite(out, since, main_path, v2_path, batching_path, https_path, python_path=""):
    """The summary of items (a)-(i) of the batching suite and (j)-(k) of the Python models, from the
    results of one suite run."""
    pyb = fresh(python_path, since) if python_path else None
    main = fresh(main_path, since)
    v2 = fresh(v2_path, since)
    bat = fresh(batching_path, since)
    tls = fresh(https_path, since)
    by = {t["id"]: t for t in main["targets"]} if main else {}

    def rps(tid):
        return by[tid]["median"]["rps"] if tid in by else None

    def div(a, b):
        return a / b if a is not None and b else None

    items = []

    def item(key, what, target, value, shown, ok=None):
        status = ("not run" if value is None else
                  "measured" if ok is None else "met" if ok(value) else "missed")
        items.append({"item": key, "what": what, "target": target, "value": value,
                      "measured": shown if value is not None else "-", "status": status})

    sec = by.get("modelwrap-secure")
    p99 = sec["median"]["p99_ms"] if sec else None
    item("a", "iris 1 record, 64 conns, auth+rate limit+audit file+metrics: p99", "<= 2 ms", p99,
         f"{fmt(p99, 3)} ms at {fmt(rps('modelwrap-secure'), 0)} req/s", lambda v: v <= 2.0)
    r = div(rps("modelwrap-trivial"), rps("nginx"))
    item("b", "trivial plug-in, same config, vs nginx return 200", ">= 0.75x nginx", r,
         f"{fmt(r, 3)}x ({fmt(rps('modelwrap-trivial'), 0)} / {fmt(rps('nginx'), 0)} req/s)",
         lambda v: v >= 0.75)
    rh = div(rps("modelwrap-secure"), rps("fastapi-h11"))
    ru = div(rps("modelwrap-secure"), rps("fastapi-uvloop"))
    best = max((v for v in (rh, ru) if v is not None), default=None)
    item("c", "(a) vs FastAPI+uvicorn, same XGBoost model", ">= 30x on either stack", best,
         f"{fmt(rh, 1)}x h11, {fmt(ru, 1)}x uvloop", lambda v: v >= 30)
    dh = div(rps("modelwrap-secure-100"), rps("fastapi-h11-100"))
    du = div(rps("modelwrap-secure-100"), rps("fastapi-uvloop-100"))
    item("d", "100-record requests vs FastAPI", "-", rps("modelwrap-secure-100"),
         f"{fmt(rps('modelwrap-secure-100'), 0)} req/s; {fmt(dh, 1)}x h11, {fmt(du, 1)}x uvloop")
    c = v2["cases"] if v2 else {}
    e = div(c.get("binary-1000", {}).get("rps"), c.get("json-1000", {}).get("rps"))
    e1 = div(c.get("binary-1", {}).get("rps"), c.get("json-1", {}).get("rps"))
    item("e", "V2 binary vs JSON tensors", "-", e,
         f"1000 rows: binary/JSON {fmt(e, 2)}x; 1 row: {fmt(e1, 2)}x")
    b = bat["on_over_off"] if bat else None
    item("f", "256 clients, batching on vs off", ">= 2x", b,
         f"{fmt(b, 2)}x ({fmt(bat['median_rps']['on'], 0)} / {fmt(bat['median_rps']['off'], 0)}"
         f" req/s)" if bat else "-", lambda v: v >= 2)
    t = tls["targets"] if tls else {}
    g = t.get("modelwrap-https", {}).get("rps")
    item("g", "HTTPS (modelwrap TLS)", "-", g,
         f"{fmt(g, 0)} req/s; {fmt(div(g, t.get('nginx-tls-proxy', {}).get('rps')), 2)}x nginx "
         f"TLS proxy, {fmt(div(g, t.get('modelwrap-http', {}).get('rps')), 2)}x plain HTTP")
    st = (main or {}).get("startup", {}).get("reuseport")
    idle = st["median_idle_rss_kb"] / 1024 if st and st["median_idle_rss_kb"] else None
    load = sec["rss_load_max_kb"] / 1024 if sec and sec.get("rss_load_max_kb") else None
    item("h", "RSS idle, default model (and under load of (a))", "<= 32 MiB idle", idle,
         f"{fmt(idle, 1)} MiB idle, {fmt(load, 1)} MiB under load", lambda v: v <= 32)
    ready = st["median_ready_ms"] if st else None
    item("i", "start to ready (exec to first 200 on /health/ready)", "<= 100 ms", ready,
         f"{fmt(ready, 1)} ms (main() to listening {fmt((st or {}).get('median_startup_us'), 0)} us)",
         lambda v: v <= 100)
    j = pyb["on_over_template"] if pyb else None
    item("j", "python model.py, 64 conns, batching on vs the template's FastAPI app",
         ">= 10x", j,
         f"{fmt(j, 1)}x (batching off {fmt(pyb['off_over_template'], 1)}x)" if pyb else "-",
         lambda v: v >= 10)
    k = pyb["p50_added_us"] if pyb else None
    item("k", "p50 the Python path adds to a C plug-in's trivial work", "<= 30 us", k,
         f"{fmt(k, 1)} us", lambda v: v <= 30)
    doc = {"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
           "sources": {"main": main_path, "v2": v2_path, "batching": batching_path,
                       "https": https_path, "python": python_path},
           "valid": bool(main and main.get("valid")), "items": items}
    write_json(out, doc)
    print("\n| item | what | target | measured | status |")
    print("|---|---|---|---|---|")
    for i in items:
        print(f"| ({i['item']}) | {i['what']} | {i['target']} | {i['measured']} | {i['status']} |")
    if main and not main.get("valid"):
        print("warning: bench/run.sh saw errors or a failed audit/metrics check in this run: "
              f"see {main_path}")
    print(f"\nsuite results: {out}")
    return 0


def main(argv):
    cmds = {
        "freeports": freeports, "waitready": waitready, "tree": tree, "startup": startup,
        "body": body, "check": check, "metrics": metrics, "audit-lines": audit_lines,
        "wrk-field": wrk_field, "report": report, "v2-bodies": v2_bodies, "v2-check": v2_check,
        "v2-report": v2_report, "https-report": https_report,
        "batching-report": batching_report, "python-report": python_report, "suite": suite,
        "compare-report": compare_report,
    }
    if len(argv) < 2 or argv[1] not in cmds:
        raise SystemExit(f"benchlib: unknown command; one of {' '.join(cmds)}")
    return cmds[argv[1]](*argv[2:]) or 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
