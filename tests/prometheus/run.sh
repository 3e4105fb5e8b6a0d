#!/usr/bin/env bash
# Prometheus itself against weir's metrics endpoint (issue #16): installs Debian's `prometheus`
# package if missing (idempotent), starts `weir serve` (HTTP endpoint on an ephemeral port) and a
# Prometheus scraping it every second, produces and consumes with weir's own client commands,
# then queries Prometheus's HTTP API and checks the series against what the Kafka API says
# (check.py). Usage: bash tests/prometheus/run.sh [--weir PATH]   (default target/debug/weir)
set -euo pipefail
cd "$(dirname "$0")/../.."

weir=target/debug/weir
if [[ "${1:-}" == "--weir" ]]; then weir=$2; fi
[[ -x "$weir" ]] || { echo "no weir binary at $weir (cargo build -p weir-cli)"; exit 1; }
weir=$(realpath "$weir")

if ! command -v prometheus >/dev/null || ! command -v promtool >/dev/null; then
  echo "installing Debian's prometheus package"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi
# The package's service is not wanted: this test runs its own Prometheus.
if command -v systemctl >/dev/null && systemctl is-active --quiet prometheus 2>/dev/null; then
  systemctl stop prometheus || true
fi

exec python3 tests/prometheus/check.py --weir "$weir"
