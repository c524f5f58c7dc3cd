#!/usr/bin/env bash
# Installs the client libraries the emulator's compatibility tests drive into target/compat:
# python-telegram-bot in a virtual environment (PyPI) and a Node Messenger client (npm), at the
# versions pinned beside this script. Safe to run again: it reinstalls only what changed.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
dest="${SWITCHBOARD_COMPAT_DIR:-$here/../../target/compat}"
mkdir -p "$dest"
dest="$(cd "$dest" && pwd)"

if [ ! -x "$dest/venv/bin/python" ]; then
  python3 -m venv "$dest/venv"
fi
if ! cmp -s "$here/requirements.txt" "$dest/venv/requirements.txt"; then
  "$dest/venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
  cp "$here/requirements.txt" "$dest/venv/requirements.txt"
fi

mkdir -p "$dest/node"
if ! cmp -s "$here/package-lock.json" "$dest/node/package-lock.json"; then
  cp "$here/package.json" "$here/package-lock.json" "$dest/node/"
  (cd "$dest/node" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
fi
echo "client libraries ready in $dest"
