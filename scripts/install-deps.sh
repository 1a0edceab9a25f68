#!/usr/bin/env bash
# Installs the Debian packages modelwrap needs, one set per purpose, so that each of the README's
# two commands installs exactly what it uses:
#   build  building modelwrap and serving the bundled models (`make run`), plus curl for the
#          README's examples; no test framework
#   test   build + everything the test suite runs (`make test`)
#   all    test + the benchmarks (`make bench`)
# Idempotent: packages already present are skipped; `apt-get update` runs at most once.
# Usage: scripts/install-deps.sh [build|test|all]   (default: all)
set -euo pipefail

what=${1:-all}

# The oldest Node.js major that every npm package pinned in a package-lock.json supports
# (web/, tests/browser/, tests/oidc/): Debian 12's own nodejs is 18.
NODE_MIN_MAJOR=18

build_pkgs=(
  build-essential cmake pkg-config
  libmicrohttpd-dev libgnutls28-dev libjansson-dev librhonabwy-dev
  libcurl4-gnutls-dev libhiredis-dev libxgboost-dev zlib1g-dev
  curl ca-certificates
)
test_pkgs=(
  clang libclang-rt-14-dev libcmocka-dev
  python3-pytest python3-requests python3-jwt python3-cryptography python3-numpy
  python3-sklearn python3-xgboost
  openssl redis-server rsyslog nginx-light testssl.sh
  chromium
  wrk tzdata
  tinyproxy  # a real forward proxy for the egress tests
)
bench_pkgs=(wrk python3-fastapi python3-uvicorn python3-uvloop python3-httptools linux-perf time)

# Node.js and npm: the build installs the /docs page's renderer with npm (web/package-lock.json),
# the tests a browser driver and an OpenID provider. A machine that already has both keeps them
# (another vendor's npm conflicts with Debian's npm package); else Debian's.
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
  sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    if ! command -v sudo >/dev/null 2>&1; then
      echo "install-deps: these Debian packages are missing and this is not root (no sudo either):" >&2
      echo "  ${missing[*]}" >&2
      echo "install-deps: have an administrator run: apt-get install --no-install-recommends ${missing[*]}" >&2
      exit 1
    fi
    sudo=(sudo)
  fi
  echo "install-deps ($what): installing ${missing[*]}"
  # apt's progress goes to a log that is shown when something fails, so the failing package and
  # apt's reason stay on the screen without burying the build's output on success.
  aptlog=$(mktemp)
  if ! { "${sudo[@]}" apt-get update -qq &&
         "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
           "${missing[@]}"; } >"$aptlog" 2>&1; then
    tail -n 60 "$aptlog" >&2
    rm -f "$aptlog"
    echo "install-deps: apt-get failed installing: ${missing[*]}" >&2
    exit 1
  fi
  rm -f "$aptlog"
  echo "install-deps ($what): installed ${#missing[@]} packages"
fi

node_version=$(node --version 2>/dev/null || true)
node_major=${node_version#v}
node_major=${node_major%%.*}
if ! [[ "$node_major" =~ ^[0-9]+$ ]] || [ "$node_major" -lt "$NODE_MIN_MAJOR" ]; then
  echo "install-deps: Node.js ${node_version:-(none)} found at $(command -v node || echo '(nowhere)');" \
       "the pinned npm packages need Node.js $NODE_MIN_MAJOR or newer (Debian 12's nodejs is 18)." >&2
  exit 1
fi
