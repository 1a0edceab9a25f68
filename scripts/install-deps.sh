#!/usr/bin/env bash
# Installs every Debian package modelwrap needs to build, run, test and benchmark.
# Idempotent: packages already present are skipped; `apt-get update` runs at most once.
# Usage: scripts/install-deps.sh [build|test|all]   (default: all)
set -euo pipefail

what=${1:-all}

build_pkgs=(
  build-essential cmake pkg-config
  libmicrohttpd-dev libgnutls28-dev libjansson-dev librhonabwy-dev
  libcurl4-gnutls-dev libhiredis-dev libxgboost-dev
  # the "python" and "sklearn" backends' worker processes (docs/python-workers.md)
  python3 python3-numpy python3-pydantic python3-joblib python3-sklearn
)
test_pkgs=(
  clang libclang-rt-14-dev libcmocka-dev
  python3-pytest python3-requests python3-jwt python3-cryptography python3-numpy
  python3-sklearn python3-xgboost python3-venv  # python3-venv: a Python model in its own venv
  curl openssl redis-server rsyslog nginx-light testssl.sh
  chromium
  wrk tzdata  # issue 7: the audit load test; business hours in a named time zone
)
bench_pkgs=(wrk python3-fastapi python3-uvicorn python3-uvloop python3-httptools linux-perf)

# Node.js: use the machine's own when it has one (its npm conflicts with Debian's npm package).
command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || test_pkgs+=(nodejs npm)
# ---- metrics, OpenAPI, docs (issue 8): the build installs the /docs page's renderer with npm
# (web/package-lock.json); promtool comes from scripts/get-promtool.sh (apt-get download). ----
command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || build_pkgs+=(nodejs npm)

case "$what" in
  build) pkgs=("${build_pkgs[@]}") ;;
  test) pkgs=("${build_pkgs[@]}" "${test_pkgs[@]}") ;;
  all) pkgs=("${build_pkgs[@]}" "${test_pkgs[@]}" "${bench_pkgs[@]}") ;;
  *) echo "usage: $0 [build|test|all]" >&2; exit 2 ;;
esac

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "install-deps: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
