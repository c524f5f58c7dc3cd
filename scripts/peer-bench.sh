#!/usr/bin/env bash
# Switchboard and Bottender 1.5.5 side by side: the same signed-webhook load (64 in flight), the
# same emulator as the Send API, the same work (one text reply per message), on this machine.
# Prints both runs and the ratio of their "stored and replied" rates. Needs node and npm.
set -euo pipefail
cd "$(dirname "$0")/.."
events="${EVENTS:-20000}"
peer=target/peer/bottender
mkdir -p "$peer"
cp scripts/peer/bottender/{package.json,bottender.config.js,index.js} "$peer/"
if [ ! -x "$peer/node_modules/.bin/bottender" ]; then
  (cd "$peer" && npm install --ignore-scripts --no-audit --no-fund --silent)
fi
cargo build --release --locked --quiet
rate() { awk '/stored and replied/ {print $4}'; }
echo "== Switchboard (SQLite, stored, answered through automations)"
ours=$(./target/release/switchboard bench --events "$events" --concurrency 64 | tee /dev/stderr | rate)
echo "== Bottender 1.5.5 (in memory, no persistence, no dedupe)"
theirs=$(./target/release/switchboard bench --events "$events" --concurrency 64 --peer-dir "$peer" | tee /dev/stderr | rate)
echo "stored-and-replied ratio, Switchboard / Bottender: $(awk -v a="$ours" -v b="$theirs" 'BEGIN {printf "%.2f", a / b}')"
