"""Shared pieces of the Python client scenarios (test_confluent.py, test_kafka_python.py,
test_aiokafka.py): the deterministic records, the state handed from `produce` to the later
phases, exact comparison, deadlines and the command line.

A scenario is one process per phase; the phases are written once here against a small adapter
that each test_*.py implements for its client:

    python test_X.py PHASE --bootstrap 127.0.0.1:PORT --prefix TOPIC_PREFIX --state FILE

It exits 0 when the phase's checks pass, 1 when a check fails (the reason on stderr) and 2 on
an unexpected error (a traceback on stderr). The runner (runner.py) restarts the broker between
`produce` and `consume`.
"""

import argparse
import json
import os
import sys
import time
import traceback

# Counts and limits of the scenarios. Every wait has a deadline.
MAIN_RECORDS_COUNT = 1000  # records in the main topic (issue #4: 1,000 keyed records)
MAIN_PARTITIONS_COUNT = 3  # partitions of the main topic
CODEC_RECORDS_COUNT = 200  # records produced per compression codec
IDEMPOTENT_RECORDS_COUNT = 300  # records produced by the idempotent producer
IDEMPOTENT_PARTITIONS_COUNT = 3
PHASE_DEADLINE_S = 60  # a single wait (delivery, fetch to the end, metadata) may take this long
BASE_TS_AGE_MS = 3_600_000  # timestamps start an hour in the past: inside any retention
REPLAY_TIME_INDEX = 500  # replay-time starts at the timestamp of record #500

CODECS = ("gzip", "snappy", "lz4", "zstd")
PHASES = (
    "create",
    "produce",
    "consume",
    "replay-offset",
    "replay-time",
    "idempotent",
) + tuple("codec-" + c for c in CODECS)


class CheckFailed(Exception):
    """A scenario check failed: the broker (or client) did not behave as Kafka does."""


def check(cond, msg):
    if not cond:
        raise CheckFailed(msg)


class Deadline:
    """A point in time every wait of one step must finish by."""

    def __init__(self, seconds=PHASE_DEADLINE_S, what="operation"):
        self.end = time.monotonic() + seconds
        self.seconds = seconds
        self.what = what

    def left_s(self):
        return max(0.0, self.end - time.monotonic())

    def expired(self):
        return time.monotonic() >= self.end

    def check(self, progress=""):
        if self.expired():
            raise CheckFailed(
                "%s did not finish within %ss%s"
                % (self.what, self.seconds, (": " + progress) if progress else "")
            )


def now_ms():
    return int(time.time() * 1000)


# --- the records ---------------------------------------------------------------------------


class Rec:
    """One record as produced (expected) or as read back (got)."""

    __slots__ = ("key", "value", "headers", "timestamp")

    def __init__(self, key, value, headers, timestamp):
        self.key = key
        self.value = value
        self.headers = headers
        self.timestamp = timestamp

    def as_tuple(self):
        # Clients hand header pairs back as tuples or lists; compare their contents.
        headers = tuple((k, v if v is None else bytes(v)) for k, v in self.headers)
        return (self.key, self.value, headers, self.timestamp)

    def __repr__(self):
        return "Rec(key=%r, value=%r, headers=%r, ts=%r)" % (
            self.key,
            self.value[:40] + (b"..." if len(self.value) > 40 else b""),
            self.headers,
            self.timestamp,
        )


def make_record(client, i, base_ts, compressible=False):
    """Record number `i` of a scenario: keyed, three headers (one binary), an explicit
    timestamp `base_ts + i`, a value mixing text and binary bytes."""
    key = ("%s-key-%04d" % (client, i)).encode()
    binary = bytes(((i * 7 + j * 13) % 256) for j in range(i % 97))
    value = ("%s value %04d " % (client, i)).encode() + binary + b" " + b"payload " * (i % 7)
    if compressible:
        value += b"compressible text for the codec round " * 16
    headers = [
        ("h-index", b"%d" % i),
        ("h-client", client.encode()),
        ("h-bin", bytes([i % 256, 0, 255, (i * 31) % 256])),
    ]
    return Rec(key, value, headers, base_ts + i)


def compare(what, expected, got):
    """Exact comparison of two lists of (offset, Rec); reports the first differences."""
    problems = []
    if len(expected) != len(got):
        problems.append("expected %d records, read %d" % (len(expected), len(got)))
    for (eo, er), (go, gr) in zip(expected, got):
        if eo != go or er.as_tuple() != gr.as_tuple():
            problems.append("offset %s: expected %r, read offset %s %r" % (eo, er, go, gr))
        if len(problems) >= 6:
            break
    check(not problems, "%s: %s" % (what, "; ".join(problems)))


def expected_by_partition(records, delivered):
    """Groups the produced records by the partition they were delivered to.

    `delivered` is a list of (i, partition, offset). Returns {partition: [(offset, Rec)]}
    sorted by offset, after checking that a fresh topic's offsets are exactly 0..n-1."""
    by_p = {}
    for i, p, off in delivered:
        by_p.setdefault(p, []).append((off, records[i]))
    for p, lst in by_p.items():
        lst.sort(key=lambda x: x[0])
        offsets = [o for o, _ in lst]
        check(
            offsets == list(range(len(lst))),
            "partition %d: delivered offsets are not 0..%d: %s"
            % (p, len(lst) - 1, _summarise(offsets)),
        )
    return by_p


def _summarise(xs):
    return repr(xs) if len(xs) <= 12 else repr(xs[:6])[:-1] + ", ..., " + repr(xs[-6:])[1:]


def check_delivered(delivered, count, partitions):
    check(len(delivered) == count, "%d of %d records acknowledged" % (len(delivered), count))
    seen = set()
    for i, p, off in delivered:
        check(0 <= p < partitions, "record %d delivered to partition %d" % (i, p))
        check((p, off) not in seen, "two records acknowledged at %d/%d" % (p, off))
        seen.add((p, off))


# --- state between phases ------------------------------------------------------------------


def save_state(path, state):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(state, f)
    os.replace(tmp, path)


def load_state(path):
    check(os.path.exists(path), "no state from the produce phase (%s); did produce fail?" % path)
    with open(path) as f:
        return json.load(f)


# --- the phases, written once against a small client adapter ------------------------------
#
# An adapter (one per Python client) offers:
#   create_topic(name, partitions)              admin API; returns once metadata shows it
#   produce(topic, records, compression, idempotent) -> [(i, partition, offset)]
#       records is [(i, Rec)]; keys pick the partition through the client's own partitioner
#   end_offsets(topic, partitions) -> {p: high watermark}
#   offsets_for_times(topic, partitions, ts) -> {p: offset or None}
#   read(topic, start, end) -> {p: [(offset, Rec)]}  reads [start[p], end[p]) of each partition
#   close()


def phase_create(a, args):
    a.create_topic(main_topic(args), MAIN_PARTITIONS_COUNT)


def phase_produce(a, args):
    base_ts = (now_ms() - BASE_TS_AGE_MS) // 1000 * 1000
    records = [make_record(a.name, i, base_ts) for i in range(MAIN_RECORDS_COUNT)]
    delivered = a.produce(main_topic(args), list(enumerate(records)), None, False)
    check_delivered(delivered, MAIN_RECORDS_COUNT, MAIN_PARTITIONS_COUNT)
    expected_by_partition(records, delivered)
    save_state(args.state, {"base_ts": base_ts, "delivered": delivered})


def _load_main(a, args):
    state = load_state(args.state)
    base_ts = state["base_ts"]
    records = [make_record(a.name, i, base_ts) for i in range(MAIN_RECORDS_COUNT)]
    exp = expected_by_partition(records, [tuple(d) for d in state["delivered"]])
    return base_ts, {p: exp.get(p, []) for p in range(MAIN_PARTITIONS_COUNT)}


def _read_and_compare(a, topic, exp, start):
    """Checks the high watermarks, reads each partition from start[p] and compares."""
    parts = sorted(exp)
    ends = a.end_offsets(topic, parts)
    for p in parts:
        check(ends.get(p) == len(exp[p]),
              "%s/%d: high watermark %s, expected %d" % (topic, p, ends.get(p), len(exp[p])))
    got = a.read(topic, start, ends)
    for p in parts:
        compare("%s/%d from offset %d" % (topic, p, start[p]), exp[p][start[p]:], got.get(p, []))


def phase_consume(a, args):
    _, exp = _load_main(a, args)
    _read_and_compare(a, main_topic(args), exp, {p: 0 for p in exp})


def phase_replay_offset(a, args):
    _, exp = _load_main(a, args)
    _read_and_compare(a, main_topic(args), exp, {p: len(exp[p]) // 2 for p in exp})


def phase_replay_time(a, args):
    base_ts, exp = _load_main(a, args)
    topic = main_topic(args)
    parts = sorted(exp)

    def first_at_or_after(p, ts):
        for off, r in exp[p]:
            if r.timestamp >= ts:
                return off
        return None

    for label, ts in (
        ("middle", base_ts + REPLAY_TIME_INDEX),
        ("before the first record", base_ts - 1000),
        ("after the last record", base_ts + MAIN_RECORDS_COUNT + 3_600_000),
    ):
        got = a.offsets_for_times(topic, parts, ts)
        want = {p: first_at_or_after(p, ts) for p in parts}
        check(got == want, "offsets for timestamp %d (%s): got %r, expected %r"
              % (ts, label, got, want))
    start = a.offsets_for_times(topic, parts, base_ts + REPLAY_TIME_INDEX)
    start = {p: (len(exp[p]) if o is None else o) for p, o in start.items()}
    _read_and_compare(a, topic, exp, start)


def phase_idempotent(a, args):
    topic = idempotent_topic(args)
    a.create_topic(topic, IDEMPOTENT_PARTITIONS_COUNT)
    base_ts = now_ms() - 60_000
    records = [make_record(a.name, i, base_ts) for i in range(IDEMPOTENT_RECORDS_COUNT)]
    delivered = a.produce(topic, list(enumerate(records)), None, True)
    check_delivered(delivered, IDEMPOTENT_RECORDS_COUNT, IDEMPOTENT_PARTITIONS_COUNT)
    exp = expected_by_partition(records, delivered)
    exp = {p: exp.get(p, []) for p in range(IDEMPOTENT_PARTITIONS_COUNT)}
    # An idempotent producer keeps each partition in send order.
    by_offset = {p: [int(r.headers[0][1]) for _, r in exp[p]] for p in exp}
    for p, idx in by_offset.items():
        check(idx == sorted(idx), "partition %d: idempotent producer reordered: %s"
              % (p, _summarise(idx)))
    _read_and_compare(a, topic, exp, {p: 0 for p in exp})


def make_codec_phase(codec):
    def phase(a, args):
        topic = codec_topic(args, codec)
        a.create_topic(topic, 1)
        base_ts = now_ms() - 60_000
        records = [make_record(a.name, i, base_ts, compressible=True)
                   for i in range(CODEC_RECORDS_COUNT)]
        delivered = a.produce(topic, list(enumerate(records)), codec, False)
        check_delivered(delivered, CODEC_RECORDS_COUNT, 1)
        exp = expected_by_partition(records, delivered)
        _read_and_compare(a, topic, {0: exp.get(0, [])}, {0: 0})
    return phase


PHASE_FNS = {
    "create": phase_create,
    "produce": phase_produce,
    "consume": phase_consume,
    "replay-offset": phase_replay_offset,
    "replay-time": phase_replay_time,
    "idempotent": phase_idempotent,
}
PHASE_FNS.update({"codec-" + c: make_codec_phase(c) for c in CODECS})
assert set(PHASE_FNS) == set(PHASES)


# --- command line --------------------------------------------------------------------------


def main(make_adapter, client):
    """Runs the phase named on the command line with the adapter `make_adapter(bootstrap)`."""
    ap = argparse.ArgumentParser(description="weir compat scenario for %s" % client)
    ap.add_argument("phase", choices=PHASES)
    ap.add_argument("--bootstrap", required=True, help="HOST:PORT of the broker")
    ap.add_argument("--prefix", required=True, help="prefix of this run's topic names")
    ap.add_argument("--state", required=True, help="file handed from produce to later phases")
    args = ap.parse_args()
    started = time.monotonic()
    code = 0
    adapter = None
    try:
        adapter = make_adapter(args.bootstrap)
        PHASE_FNS[args.phase](adapter, args)
    except CheckFailed as e:
        print("FAIL %s %s: %s" % (client, args.phase, e), file=sys.stderr)
        code = 1
    except Exception:  # noqa: BLE001 - any client error fails the phase, with its traceback
        traceback.print_exc()
        print("ERROR %s %s: unexpected exception" % (client, args.phase), file=sys.stderr)
        code = 2
    if adapter is not None:
        try:
            adapter.close()
        except Exception:  # noqa: BLE001 - closing is best effort; the verdict stands
            traceback.print_exc()
    if code == 0:
        print("ok %s %s (%.1fs)" % (client, args.phase, time.monotonic() - started))
    sys.stdout.flush()
    sys.stderr.flush()
    # Some clients leave non-daemon threads behind after errors: never hang the runner.
    os._exit(code)


def main_topic(args):
    return args.prefix + "-main"


def idempotent_topic(args):
    return args.prefix + "-idempotent"


def codec_topic(args, codec):
    return args.prefix + "-" + codec
