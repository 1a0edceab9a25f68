#!/usr/bin/env bash
# Puts promtool (the Prometheus metrics linter, for `promtool check metrics`) in build/tools/:
# extracted from Debian's own `prometheus` package (apt-get download, no full install, ~48 MB
# binary), cached across runs. Prints the path. Usage: scripts/get-promtool.sh [DEST_DIR]
set -euo pipefail

dest=${1:-build/tools}
bin="$dest/promtool"

if [ -x "$bin" ] && "$bin" --version >/dev/null 2>&1; then
  echo "$bin"
  exit 0
fi

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
mkdir -p "$dest"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
chmod 0755 "$tmp" # apt's sandbox user must be able to write the download here

download() { (cd "$tmp" && apt-get download -qq prometheus >/dev/null 2>&1); }
if ! download; then
  # The package lists may be missing or stale (a fresh machine): refresh them once.
  $sudo apt-get update -qq
  download || { echo "get-promtool: apt-get download prometheus failed" >&2; exit 1; }
fi

deb=$(find "$tmp" -maxdepth 1 -name 'prometheus_*.deb' | head -n 1)
[ -n "$deb" ] || { echo "get-promtool: no prometheus .deb downloaded" >&2; exit 1; }
dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$tmp" ./usr/bin/promtool
install -m 0755 "$tmp/usr/bin/promtool" "$bin.tmp"
mv "$bin.tmp" "$bin"
"$bin" --version >/dev/null
echo "$bin"
