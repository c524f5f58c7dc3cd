#!/usr/bin/env bash
# Cold start to the first 200 on /healthz, and resident memory once idle, of a release build on
# a fresh SQLite database. Usage: scripts/startup.sh [path/to/switchboard] (default: the release
# build under target/).
set -euo pipefail
bin="${1:-$(dirname "$0")/../target/release/switchboard}"
dir="$(mktemp -d)"
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$dir"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
start=$(date +%s%N)
SWITCHBOARD_DATABASE_URL="sqlite://$dir/sb.db" SWITCHBOARD_LISTEN="127.0.0.1:$port" \
  SWITCHBOARD_LOG=warn "$bin" serve &
pid=$!
until curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; do sleep 0.005; done
ready=$(date +%s%N)
echo "cold start to first 200 on /healthz: $(( (ready - start) / 1000000 )) ms"
sleep 5
echo "idle RSS after 5 s: $(awk '/VmRSS/ {printf "%.1f MB", $2/1024}' "/proc/$pid/status")"
