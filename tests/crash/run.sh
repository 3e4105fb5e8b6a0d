#!/usr/bin/env bash
# The crash suite (docs/testing.md): the checker's own tests, then kill -9 cycles of a real
# `weir serve` under load with a consumer group (classic, then KIP-848's consumer protocol),
# and the SIGSTOP fault.
#   bash tests/crash/run.sh [--weir PATH] [--cycles N] [--seed S] [--flush fsync|page-cache]
# Defaults: target/debug/weir, WEIR_CRASH_CYCLES or 20 cycles (CI), a random seed (printed).
# Uses the compat suite's venv (confluent-kafka); tests/compat/install.sh sets it up.
set -euo pipefail
cd "$(dirname "$0")/../.."
python=tests/compat/.venv/bin/python
if [ ! -x "$python" ]; then
  bash tests/compat/install.sh
fi
weir=target/debug/weir
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --weir) weir="$2"; shift 2 ;;
    *) args+=("$1"); shift ;;
  esac
done
"$python" tests/crash/test_checker.py
"$python" tests/crash/test_eos_checker.py
"$python" tests/crash/crash.py --weir "$weir" "${args[@]}"
# The same with KIP-848's consumer protocol (group.protocol=consumer), kept short: 4 cycles
# (WEIR_CRASH_CONSUMER_CYCLES) and the SIGSTOP fault past the broker's 45 s session timeout,
# about 100 s on 2 cores.
"$python" tests/crash/crash.py --weir "$weir" --group-protocol consumer \
  --cycles "${WEIR_CRASH_CONSUMER_CYCLES:-4}" "${args[@]}"
# The exactly-once workload (eos.py): a transactional copier under kill -9 cycles.
exec "$python" tests/crash/eos.py --weir "$weir"
