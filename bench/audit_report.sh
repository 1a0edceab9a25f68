#!/usr/bin/env bash
# The access review's speed and memory: `modelwrap audit report` on a generated audit trail
# (bench/gen_audit.py: modelwrap's own JSON-lines and CEF record formats), pinned to one core,
# plain and gzip-compressed. Reports records per second of CPU time and of wall time, and the
# peak resident memory (it must not grow with the file: a run on twice the records shows it).
# Usage: bash bench/audit_report.sh   (after `make build`). Results:
# bench/results/audit-report.json and a Markdown table on stdout; docs/BENCHMARKS.md ("Access
# review") has the last reported run.
#
# Environment: AUDIT_RECORDS=1000000 AUDIT_ROUNDS=3 AUDIT_OUT=path MODELWRAP_BIN
set -euo pipefail

# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ROOT=$BENCH_ROOT
cd "$ROOT"
BENCH_NAME="audit report bench"
N=${AUDIT_RECORDS:-1000000}
ROUNDS=${AUDIT_ROUNDS:-3}
OUT=${AUDIT_OUT:-$ROOT/bench/results/audit-report.json}
check_int AUDIT_RECORDS "$N" 1000 100000000
check_int AUDIT_ROUNDS "$ROUNDS" 1 100
need taskset gzip /usr/bin/time
need_mw
bench_init bench-audit-report

echo "audit report bench: $(date -u +%FT%TZ), $N records, load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
rows=()
for fmt in cef json; do
    for size in 1 2; do
        f=$TMP/audit-$size.$fmt
        $PY bench/gen_audit.py "$fmt" $((N * size)) "$f"
        for comp in plain gzip; do
            input=$f
            if [ "$comp" = gzip ]; then
                [ -f "$f.gz" ] || gzip -k -1 "$f"
                input=$f.gz
            fi
            [ "$size" = 2 ] && [ "$comp" = gzip ] && continue
            for _ in $(seq "$ROUNDS"); do
                # GNU time's format: CPU seconds (user + sys), wall seconds, max RSS (KiB).
                /usr/bin/time -f '%U %S %e %M' -o "$TMP/time" \
                    taskset -c 0 "$MW" audit report --format json "$input" >"$TMP/report.json"
                read -r user sys wall rss <"$TMP/time"
                recs=$($PY -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["lines"]["requests"] + d["lines"]["security_events"])' "$TMP/report.json")
                rows+=("$fmt $comp $size $recs $user $sys $wall $rss $(stat -c %s "$input")")
            done
        done
        rm -f "$f" "$f.gz"
    done
done
printf '%s\n' "${rows[@]}" | $PY -c '
import json, statistics, sys
runs = [l.split() for l in sys.stdin if l.strip()]
out, groups = [], {}
for fmt, comp, size, recs, user, sys_, wall, rss, nbytes in runs:
    groups.setdefault((fmt, comp, size), []).append(
        (int(recs), float(user) + float(sys_), float(wall), int(rss), int(nbytes)))
print("| format | file | records | bytes | records/s (CPU) | records/s (wall) | peak RSS |")
print("|---|---|---|---|---|---|---|")
for (fmt, comp, size), rs in groups.items():
    recs = rs[0][0]
    cpu = statistics.median(r[1] for r in rs)
    wall = statistics.median(r[2] for r in rs)
    rss = max(r[3] for r in rs)
    row = {"format": fmt, "compression": comp, "records": recs, "bytes": rs[0][4],
           "cpu_s": cpu, "wall_s": wall, "records_per_cpu_s": round(recs / max(cpu, 1e-3)),
           "records_per_wall_s": round(recs / max(wall, 1e-3)), "peak_rss_kib": rss,
           "rounds": len(rs)}
    out.append(row)
    print("| %s | %s | %d | %d | %d | %d | %.1f MiB |" % (fmt, comp, recs, rs[0][4],
          row["records_per_cpu_s"], row["records_per_wall_s"], rss / 1024))
json.dump({"runs": out}, open(sys.argv[1], "w"), indent=2)
' "$OUT"
echo "audit report bench: results in $OUT" >&2
