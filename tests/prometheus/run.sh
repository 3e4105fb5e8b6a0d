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

installed_here=0
if ! command -v prometheus >/dev/null || ! command -v promtool >/dev/null; then
  installed_here=1
  echo "installing Debian's prometheus package"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi
# The service the package just started is not wanted: this test runs its own Prometheus (one
# already installed and running on this machine is somebody else's, and is left alone).
if [[ $installed_here == 1 ]] && command -v systemctl >/dev/null \
  && systemctl is-active --quiet prometheus 2>/dev/null; then
  systemctl stop prometheus || true
fi

exec python3 tests/prometheus/check.py --weir "$weir"
