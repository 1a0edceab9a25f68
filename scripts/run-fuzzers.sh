#!/usr/bin/env bash
# Runs each libFuzzer target in BUILD_DIR for SECONDS on a scratch copy of fuzz/corpus/<name>/
# (the committed seeds stay untouched). Exits non-zero on the first crash, leak or timeout.
set -euo pipefail
build=${1:?build dir}
seconds=${2:-30}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Every target in fuzz/ must have been built and have seeds: a new one is never skipped quietly.
for src in "$root"/fuzz/fuzz_*.c; do
  name=$(basename "$src" .c)
  [ -x "$build/$name" ] || { echo "fuzz: $name is in fuzz/ but not built in $build"; exit 1; }
  [ -n "$(ls -A "$root/fuzz/corpus/${name#fuzz_}" 2>/dev/null)" ] ||
    { echo "fuzz: $name has no seeds in fuzz/corpus/${name#fuzz_}/"; exit 1; }
done
n=0
for bin in "$build"/fuzz_*; do
  [ -x "$bin" ] || continue
  name=$(basename "$bin"); name=${name#fuzz_}
  mkdir -p "$work/$name"
  if [ -d "$root/fuzz/corpus/$name" ]; then cp -r "$root/fuzz/corpus/$name/." "$work/$name/"; fi
  echo "fuzz: $name for ${seconds}s"
  "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
    -print_final_stats=1 -artifact_prefix="$work/crash-$name-" "$work/$name" 2>"$work/$name.log" || {
      tail -n 60 "$work/$name.log"; echo "fuzz: $name FAILED"; exit 1; }
  grep -E '^(stat::number_of_executed_units|#[0-9]+ +DONE)' "$work/$name.log" | tail -n 1 || true
  n=$((n + 1))
done
[ "$n" -gt 0 ] || { echo "fuzz: no fuzzers in $build"; exit 1; }
echo "fuzz: $n targets passed"
