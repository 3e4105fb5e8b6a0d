#!/usr/bin/env bash
# The one command that runs every test weir has. CI (.ci/run) calls exactly this.
# It installs what it needs itself, idempotently, so it works on a fresh machine:
# the real-client suite's installer sets up a Python venv, npm packages and kcat.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo test (unit, property, integration, golden bytes, corpus replay)"
cargo test --workspace --all-targets --locked
cargo test --workspace --doc --locked

echo "== real clients against weir serve (tests/compat)"
bash tests/compat/install.sh
# The harness checks itself against a stand-in broker; some of its inner runs fail on purpose,
# so their tallies stay in a log unless the self-test itself fails.
selftest_log=$(mktemp)
if bash tests/compat/selftest.sh >"$selftest_log" 2>&1; then
  grep -E '^(selftest|proxy_check):' "$selftest_log" || true
else
  cat "$selftest_log"; echo "compat self-test failed"; exit 1
fi
rm -f "$selftest_log"
cargo build --locked -p weir-cli
bash tests/compat/run.sh --weir target/debug/weir

echo "== real clients over TLS and SASL (tests/compat/test_security.py)"
tests/compat/.venv/bin/python tests/compat/test_security.py --weir target/debug/weir

echo "== Prometheus scraping weir serve's metrics endpoint (tests/prometheus)"
bash tests/prometheus/run.sh --weir target/debug/weir

echo "== crash suite: kill -9 cycles, SIGSTOP, Jepsen-style checker (tests/crash)"
bash tests/crash/run.sh --weir target/debug/weir
