#!/usr/bin/env bash
# Real-client compatibility suite: installs the pinned clients (install.sh), builds weir unless
# --weir is given, then runs runner.py, which starts `weir serve` on a free port with a fresh
# data dir and drives every client's scenario against it.
#
#   tests/compat/run.sh [--weir PATH] [--only CLIENT[,CLIENT]] [--steps STEP[,STEP]]
#                       [--record DIR [--record-responses]] [--keep] [--suite-deadline-s N]
#
# Clients: confluent, kafka-python, aiokafka, kafkajs, platformatic, kcat, kcat-rdkafka-2.16,
# and the group and compaction scenarios (runner.py lists them).
# The last line printed is exactly `compat: N passed, N failed`; exit status 1 on any failure.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"

have_weir=0
for arg in "$@"; do
    case "$arg" in
        --weir | --weir=*) have_weir=1 ;;
        -h | --help) exec python3 "$here/runner.py" --help ;;
    esac
done

# Setup failures still end with the closing line, so that a log reader always finds it.
setup_failed() {
    echo "compat: $1 failed"
    echo "compat: 0 passed, 1 failed"
    exit 1
}

bash "$here/install.sh" || setup_failed "installing the clients (install.sh)"

extra=()
if ((have_weir == 0)); then
    echo "compat: building weir (cargo build --locked -p weir-cli)" >&2
    (cd "$root" && cargo build --locked -p weir-cli) || setup_failed "building weir"
    extra=(--weir "$root/target/debug/weir")
fi

exec "$here/.venv/bin/python" "$here/runner.py" "${extra[@]}" "$@"
