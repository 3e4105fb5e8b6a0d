#!/usr/bin/env bash
# The one command that runs every test weir has. CI (.ci/run) calls exactly this.
# It installs what it needs itself, idempotently, so it works on a fresh machine.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo test (unit, property, integration, corpus replay)"
cargo test --workspace --all-targets --locked
cargo test --workspace --doc --locked
