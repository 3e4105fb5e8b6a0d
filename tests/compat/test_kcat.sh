#!/usr/bin/env bash
# Compat scenario for kcat (librdkafka's command-line client): the same phases as the other
# scenarios, within what kcat can do.
#
#   bash test_kcat.sh PHASE --bootstrap 127.0.0.1:PORT --prefix TOPIC_PREFIX --state FILE
#
# Exit status 0 when the phase's checks pass, 1 when a check fails.
#
# What differs from the library clients, because of kcat itself:
#   - topics are created with admin_create.py (confluent-kafka's admin API): kcat has none;
#   - headers are per kcat invocation (-H), so records go in chunks of 100, one invocation each,
#     with headers h-chunk=<chunk> and h-client=kcat, to an explicit partition (chunk mod 3), so
#     every record's offset is known;
#   - kcat cannot set a record's timestamp: the producer stamps CreateTime, and the check is that
#     each read timestamp lies within the wall-clock window of its chunk's kcat invocation. The
#     replay timestamp is taken between chunks 4 and 5, so the expected offsets are exact.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
python="$here/.venv/bin/python"

KCAT_TIMEOUT_S=60          # one kcat invocation
CHUNK_RECORDS_COUNT=100    # records per kcat -P invocation
MAIN_CHUNKS_COUNT=10       # 1,000 records in the main topic
MAIN_PARTITIONS_COUNT=3
REPLAY_CHUNK=5             # replay-time starts at a timestamp taken just before this chunk
IDEMPOTENT_CHUNKS_COUNT=3
CODEC_CHUNKS_COUNT=2
FMT='%p\t%o\t%T\t%k\t%h\t%s\n'

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
if [[ -z "$phase" || -z "$bootstrap" || -z "$prefix" || -z "$state" || $# -ne 0 ]]; then
    echo "usage: test_kcat.sh PHASE --bootstrap HOST:PORT --prefix PREFIX --state FILE" >&2
    exit 2
fi
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

fail() {
    echo "FAIL kcat $phase: $*" >&2
    exit 1
}
now_ms() { date +%s%3N; }
# WEIR_KCAT_LIBRDKAFKA: a folder holding another librdkafka.so.1 for kcat to run on (install.sh
# links the confluent-kafka wheel's librdkafka 2.16 there); WEIR_KCAT_LIBRDKAFKA_VERSION: the
# version kcat must then report.
kc() {
    if [[ -n "${WEIR_KCAT_LIBRDKAFKA:-}" ]]; then
        LD_LIBRARY_PATH="$WEIR_KCAT_LIBRDKAFKA" timeout "$KCAT_TIMEOUT_S" kcat -b "$bootstrap" "$@"
    else
        timeout "$KCAT_TIMEOUT_S" kcat -b "$bootstrap" "$@"
    fi
}
if [[ -n "${WEIR_KCAT_LIBRDKAFKA:-}" ]]; then
    got="$(LD_LIBRARY_PATH="$WEIR_KCAT_LIBRDKAFKA" kcat -V 2>&1 | grep -m1 '^Version')"
    [[ "$got" == *"librdkafka ${WEIR_KCAT_LIBRDKAFKA_VERSION:-?} "* ]] \
        || fail "kcat does not run on librdkafka ${WEIR_KCAT_LIBRDKAFKA_VERSION:-?}: $got"
fi

create_topic() { # topic partitions
    "$python" "$here/admin_create.py" --bootstrap "$bootstrap" --topic "$1" --partitions "$2" \
        || fail "creating $1"
    kc -L -J -t "$1" >"$tmp/md.json" || fail "kcat -L on $1"
    "$python" - "$tmp/md.json" "$1" "$2" <<'PY' || fail "kcat metadata of $1 (see above)"
import json, sys
md = json.load(open(sys.argv[1]))
t = [t for t in md["topics"] if t["topic"] == sys.argv[2]]
parts = t[0]["partitions"] if t else []
ok = len(parts) == int(sys.argv[3]) and all(p["leader"] >= 0 for p in parts)
if not ok:
    print("kcat sees %s: %r" % (sys.argv[2], t), file=sys.stderr)
sys.exit(0 if ok else 1)
PY
    # All topics, as `kcat -L` and AdminClient.list_topics() ask for them (librdkafka 2.16 sends
    # this Metadata v12 request with three stray bytes after the body, which Kafka ignores).
    kc -L -J >"$tmp/all.json" || fail "kcat -L (all topics)"
    "$python" - "$tmp/all.json" "$1" <<'PY' || fail "kcat -L (all topics) lacks $1"
import json, sys
md = json.load(open(sys.argv[1]))
sys.exit(0 if any(t["topic"] == sys.argv[2] for t in md["topics"]) else 1)
PY
}

# Lines "key<TAB>value" of records first..first+count-1.
gen_lines() { # first count compressible(0|1)
    local i rep comp=""
    (($3)) && comp="$(printf 'compressible text for the codec round %.0s' {1..16})"
    for ((i = $1; i < $1 + $2; i++)); do
        printf -v rep 'payload %.0s' $(seq 1 $((i % 7)))
        ((i % 7 == 0)) && rep=""
        printf 'kcat-key-%04d\tkcat value %04d %s%s\n' "$i" "$i" "$rep" "$comp"
    done
}

# Produces one chunk with one kcat invocation; appends "chunk partition first count t0 t1" to
# the chunk list (t0/t1: wall clock around the invocation, ms).
produce_chunk() { # list topic partition chunk compressible [kcat options...]
    local list="$1" topic="$2" p="$3" c="$4" comp="$5" t0 t1
    shift 5
    gen_lines $((c * CHUNK_RECORDS_COUNT)) "$CHUNK_RECORDS_COUNT" "$comp" >"$tmp/in"
    t0="$(now_ms)"
    # kcat exits non-zero when any delivery failed.
    kc -P -t "$topic" -p "$p" -K $'\t' -H "h-chunk=$c" -H "h-client=kcat" \
        -X acks=all -X linger.ms=20 -X message.timeout.ms=50000 "$@" <"$tmp/in" 2>"$tmp/err" \
        || { cat "$tmp/err" >&2; fail "kcat -P of chunk $c to $topic/$p"; }
    t1="$(now_ms)"
    cat "$tmp/err" >&2
    echo "$c $p $((c * CHUNK_RECORDS_COUNT)) $CHUNK_RECORDS_COUNT $t0 $t1" >>"$list"
}

# Expected records of one partition, in offset order: "p o t0 t1 key headers value" (tabs).
expected() { # list partition compressible
    local c p first count t0 t1 n=0
    while read -r c p first count t0 t1; do
        [[ "$p" == "$2" ]] || continue
        gen_lines "$first" "$count" "$3" | while IFS=$'\t' read -r key value; do
            printf '%s\t%s\t%s\t%s\t%s\th-chunk=%s,h-client=kcat\t%s\n' \
                "$p" "$n" "$t0" "$t1" "$key" "$c" "$value"
            n=$((n + 1))
        done
        n=$((n + count))
    done <"$1"
}

# Compares kcat output ("p o T key headers value") with expected lines from offset `from` on.
compare() { # what expected_file got_file from
    awk -F'\t' -v what="$1" -v from="$4" '
        NR == FNR { if ($2 >= from) want[n++] = $0; next }
        { got[m++] = $0 }
        END {
            bad = 0
            if (n != m) { printf "%s: expected %d records, read %d\n", what, n, m; bad++ }
            for (i = 0; i < n && i < m && bad < 6; i++) {
                split(want[i], e, "\t"); split(got[i], g, "\t")
                if (e[1] != g[1] || e[2] != g[2] || e[5] != g[4] || e[6] != g[5] || e[7] != g[6] \
                    || g[3] + 0 < e[3] + 0 || g[3] + 0 > e[4] + 0) {
                    printf "%s: expected %s (timestamp in [%s, %s]), read %s\n", what, \
                        e[1] "/" e[2] " " e[5] " " e[6] " " e[7], e[3], e[4], got[i]
                    bad++
                }
            }
            exit bad ? 1 : 0
        }' "$2" "$3" >&2 || fail "$1: records differ (see above)"
}

high_watermark() { # topic partition
    kc -Q -t "$1:$2:-1" | awk -v t="$1 [$2]" 'index($0, t " offset ") == 1 && NF == 4 { print $4 }'
}

# Checks the high watermark, reads [from, end) of one partition and compares.
read_and_compare() { # list topic partition compressible from(offset|s@ts)
    local list="$1" topic="$2" p="$3" comp="$4" from="$5" hw n start
    expected "$list" "$p" "$comp" >"$tmp/exp.$p"
    n="$(wc -l <"$tmp/exp.$p")"
    hw="$(high_watermark "$topic" "$p")" || fail "kcat -Q for the high watermark of $topic/$p"
    [[ "$hw" == "$n" ]] || fail "$topic/$p: high watermark '$hw', expected $n"
    kc -C -t "$topic" -p "$p" -o "$from" -e -q -f "$FMT" >"$tmp/got.$p" 2>"$tmp/err" \
        || { cat "$tmp/err" >&2; fail "kcat -C of $topic/$p from $from"; }
    start="$from"
    [[ "$from" == s@* ]] && start="$(head -n1 "$tmp/got.$p" | cut -f2)"
    compare "$topic/$p from $from" "$tmp/exp.$p" "$tmp/got.$p" "${start:-$n}"
}

main_topic="$prefix-main"
case "$phase" in
    create)
        create_topic "$main_topic" "$MAIN_PARTITIONS_COUNT"
        ;;
    produce)
        : >"$state.chunks"
        for ((c = 0; c < MAIN_CHUNKS_COUNT; c++)); do
            if ((c == REPLAY_CHUNK)); then
                sleep 0.05
                echo "$(now_ms)" >"$state.replay_ts"
                sleep 0.05
            fi
            produce_chunk "$state.chunks" "$main_topic" $((c % MAIN_PARTITIONS_COUNT)) "$c" 0
        done
        mv "$state.chunks" "$state"
        ;;
    consume | replay-offset)
        [[ -f "$state" ]] || fail "no state from the produce phase; did produce fail?"
        for ((p = 0; p < MAIN_PARTITIONS_COUNT; p++)); do
            from=0
            if [[ "$phase" == replay-offset ]]; then
                from=$(($(expected "$state" "$p" 0 | wc -l) / 2))
            fi
            read_and_compare "$state" "$main_topic" "$p" 0 "$from"
        done
        ;;
    replay-time)
        [[ -f "$state" && -f "$state.replay_ts" ]] || fail "no state from the produce phase"
        ts="$(cat "$state.replay_ts")"
        first_t0="$(head -n1 "$state" | cut -d' ' -f5)"
        last_t1="$(tail -n1 "$state" | cut -d' ' -f6)"
        for q in "$ts" $((first_t0 - 1000)) $((last_t1 + 3600000)); do
            args=()
            for ((p = 0; p < MAIN_PARTITIONS_COUNT; p++)); do args+=(-t "$main_topic:$p:$q"); done
            kc -Q "${args[@]}" >"$tmp/q" || fail "kcat -Q at $q"
            for ((p = 0; p < MAIN_PARTITIONS_COUNT; p++)); do
                got="$(awk -v t="$main_topic [$p]" 'index($0, t " offset ") == 1 && NF == 4 { print $4 }' "$tmp/q")"
                # The first record stamped at or after q (chunks are wholly before or after it).
                # (awk reads all its input: an early exit would SIGPIPE the writer under pipefail)
                want="$(expected "$state" "$p" 0 | awk -F'\t' -v q="$q" '!found && $3 + 0 >= q + 0 { print $2; found = 1 }')"
                [[ -n "$want" ]] || want=-1
                [[ "$got" == "$want" ]] || fail "offset for timestamp $q of $main_topic/$p: '$got', expected $want ($(cat "$tmp/q"))"
            done
        done
        for ((p = 0; p < MAIN_PARTITIONS_COUNT; p++)); do
            read_and_compare "$state" "$main_topic" "$p" 0 "s@$ts"
        done
        ;;
    idempotent)
        topic="$prefix-idempotent"
        create_topic "$topic" "$IDEMPOTENT_CHUNKS_COUNT"
        : >"$tmp/chunks"
        for ((c = 0; c < IDEMPOTENT_CHUNKS_COUNT; c++)); do
            produce_chunk "$tmp/chunks" "$topic" "$c" "$c" 0 -X enable.idempotence=true
        done
        for ((p = 0; p < IDEMPOTENT_CHUNKS_COUNT; p++)); do
            read_and_compare "$tmp/chunks" "$topic" "$p" 0 0
        done
        ;;
    codec-gzip | codec-snappy | codec-lz4 | codec-zstd)
        codec="${phase#codec-}"
        topic="$prefix-$codec"
        create_topic "$topic" 1
        : >"$tmp/chunks"
        for ((c = 0; c < CODEC_CHUNKS_COUNT; c++)); do
            produce_chunk "$tmp/chunks" "$topic" 0 "$c" 1 -z "$codec"
        done
        read_and_compare "$tmp/chunks" "$topic" 0 1 0
        ;;
    *)
        echo "unknown phase $phase" >&2
        exit 2
        ;;
esac
echo "ok kcat $phase"
