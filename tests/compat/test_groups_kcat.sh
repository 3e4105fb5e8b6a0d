#!/usr/bin/env bash
# Consumer-group scenario (issue #5) for kcat's balanced consumer (`kcat -G`, librdkafka 2.0.2):
#
#   bash test_groups_kcat.sh PHASE --bootstrap 127.0.0.1:PORT --prefix PREFIX --state FILE
#
# groups-create  a 4-partition topic (admin_create.py) with 2,000 records, 500 per partition.
# groups-split   two `kcat -G` in one group at once, each to the end (-e): together they
#                print every record exactly once (auto-commit, commit on revoke).
# groups-resume  25 more records per partition are produced; `kcat -G` in the same group then
#                prints exactly those (it resumes at the committed offsets; run after a restart
#                and after kill -9). The state file keeps the expected next offset.
# groups-pubsub  a second group prints every record.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
python="$here/.venv/bin/python"
KCAT_TIMEOUT_S=60
PARTITIONS=4
PER_PARTITION=500
MORE_PER_PARTITION=25

phase="${1:-}"
shift || true
bootstrap="" prefix="" state=""
while (($# >= 2)); do
    case "$1" in
        --bootstrap) bootstrap="$2" ;;
        --prefix) prefix="$2" ;;
        --state) state="$2" ;;
        *) break ;;
    esac
    shift 2
done
[[ -n "$phase" && -n "$bootstrap" && -n "$prefix" && -n "$state" ]] || {
    echo "usage: test_groups_kcat.sh PHASE --bootstrap HOST:PORT --prefix PREFIX --state FILE" >&2
    exit 2
}
topic="$prefix-groups"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

fail() {
    echo "FAIL kcat-groups $phase: $*" >&2
    exit 1
}

produce() { # partition count first-value
    seq "$3" $(($3 + $2 - 1)) | timeout "$KCAT_TIMEOUT_S" kcat -b "$bootstrap" -P -t "$topic" -p "$1" \
        -X acks=all || fail "produce to partition $1"
}

consume() { # group outfile
    timeout "$KCAT_TIMEOUT_S" kcat -b "$bootstrap" -G "$1" -X auto.offset.reset=earliest \
        -X session.timeout.ms=10000 -e -q -f '%p %o\n' "$topic" >"$2" || fail "kcat -G $1"
}

expect_offsets() { # file from to (per partition: offsets from..to-1, each once)
    local want="$work/want"
    : >"$want"
    for ((p = 0; p < PARTITIONS; p++)); do
        seq "$2" $(($3 - 1)) | sed "s/^/$p /" >>"$want"
    done
    sort "$want" -o "$want"
    sort "$1" >"$work/got"
    diff -q "$want" "$work/got" >/dev/null || fail "records differ from offsets $2..$3 per partition: $(diff "$want" "$work/got" | head -5 | tr '\n' ' ')"
}

case "$phase" in
    groups-create)
        "$python" "$here/admin_create.py" --bootstrap "$bootstrap" --topic "$topic" --partitions "$PARTITIONS" \
            || fail "topic creation"
        for ((p = 0; p < PARTITIONS; p++)); do produce "$p" "$PER_PARTITION" 1; done
        echo "$PER_PARTITION" >"$state"
        ;;
    groups-split)
        consume "$prefix-g1" "$work/a" &
        a=$!
        consume "$prefix-g1" "$work/b" &
        b=$!
        wait "$a" || fail "first consumer"
        wait "$b" || fail "second consumer"
        both="$(sort "$work/a" | comm -12 - <(sort "$work/b") | head -3 | tr '\n' ' ')"
        [[ -z "$both" ]] || fail "records printed by both consumers: $both"
        cat "$work/a" "$work/b" >"$work/all"
        expect_offsets "$work/all" 0 "$PER_PARTITION"
        echo "split: $(wc -l <"$work/a") + $(wc -l <"$work/b") records"
        ;;
    groups-resume)
        next="$(cat "$state")"
        for ((p = 0; p < PARTITIONS; p++)); do produce "$p" "$MORE_PER_PARTITION" "$next"; done
        consume "$prefix-g1" "$work/r"
        expect_offsets "$work/r" "$next" $((next + MORE_PER_PARTITION))
        echo $((next + MORE_PER_PARTITION)) >"$state"
        ;;
    groups-pubsub)
        consume "$prefix-g2" "$work/p"
        end="$(cat "$state")"
        expect_offsets "$work/p" 0 "$end"
        ;;
    *)
        echo "unknown phase $phase" >&2
        exit 2
        ;;
esac
echo "ok kcat-groups $phase"
