#!/usr/bin/env bash
# The whole benchmark suite with one command: bench/run.sh (items a-d, h, i),
# bench/v2.sh (e), bench/batching.sh (f), bench/https.sh (g) and bench/python.sh (j, k: Python
# models), each with its own defaults, one after the other; then ONE summary table of items
# (a)-(k), each with its target, the measured
# value and met/missed, read from the JSON results of this run, also written to suite.json.
# Usage: bash bench/suite.sh (or `make bench`); see docs/BENCHMARKS.md.
#
# Environment:
#   BENCH_QUICK=1   smoke run of every script (1 round of 3 s); all results under build/bench-quick/
#                   instead of bench/results/ (a full run writes bench/results/suite.json)
#   BENCH_SUITE="main v2 batching https python"   only these parts (the others show as "not run")
#   Everything else goes to the scripts unchanged (BENCH_ROUNDS, BENCH_DURATION, MODELWRAP_BIN...);
#   BENCH_OUT and BATCH_OUT are set here per script.
set -euo pipefail

# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ROOT=$BENCH_ROOT
cd "$ROOT"
BENCH_NAME=bench-suite
PARTS=${BENCH_SUITE:-main v2 batching https python}
for p in $PARTS; do
    case $p in main | v2 | batching | https | python) ;; *) die "BENCH_SUITE: unknown part '$p'" ;; esac
done

if [ "${BENCH_QUICK:-0}" = 1 ]; then
    DIR=$ROOT/build/bench-quick
    MAIN=$DIR/main.json V2=$DIR/v2.json BATCH=$DIR/batching.json HTTPS=$DIR/https.json
    PYB=$DIR/python.json
else
    DIR=$ROOT/bench/results
    MAIN=$DIR/latest.json V2=$DIR/v2-latest.json BATCH=$DIR/batching.json HTTPS=$DIR/https.json
    PYB=$DIR/python.json
fi
mkdir -p "$DIR"
SINCE=$(date +%s)
FAILED=()

# part NAME SCRIPT VAR=VALUE...: runs one script (its own process: its own clean-up) if wanted.
part() {
    local name=$1 script=$2
    shift 2
    [[ " $PARTS " == *" $name "* ]] || return 0
    echo
    echo "==== bench/suite: $name (bash bench/$script) ===="
    if ! env "$@" bash "$ROOT/bench/$script"; then
        echo "bench/suite: $script FAILED" >&2
        FAILED+=("$script")
    fi
}
part main run.sh BENCH_OUT="$MAIN"
part v2 v2.sh BENCH_OUT="$V2"
part batching batching.sh BATCH_OUT="$BATCH"
part https https.sh BENCH_OUT="$HTTPS"
part python python.sh BENCH_OUT="$PYB"

echo
echo "==== bench/suite: summary ===="
lib suite "$DIR/suite.json" "$SINCE" "$MAIN" "$V2" "$BATCH" "$HTTPS" "$PYB"
[ ${#FAILED[@]} -eq 0 ] || die "failed: ${FAILED[*]} (their items show as 'not run')"
