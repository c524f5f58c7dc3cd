#!/usr/bin/env bash
# Every test: installs the client libraries the emulator's compatibility tests drive (once),
# then the whole workspace on SQLite and on the PostgreSQL at SWITCHBOARD_TEST_POSTGRES_URL.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/compat/setup.sh
export SWITCHBOARD_TEST_POSTGRES_URL="${SWITCHBOARD_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
exec cargo test --workspace --locked "$@"
