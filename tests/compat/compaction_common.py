"""Log compaction against real clients (issue #8): the phases, written once against a small
adapter that test_compaction_confluent.py and test_compaction_kafka_python.py implement.

    python test_compaction_X.py PHASE --bootstrap 127.0.0.1:PORT --prefix P --state FILE

Phases (runner.py's CLIENT_STEPS):
- `compaction-produce`: per codec (none, gzip, snappy, lz4, zstd) a 1-partition topic with
  cleanup.policy=compact, segment.bytes=2048 and min.cleanable.dirty.ratio=0.01; 20 keys are
  written in 8 rounds (each round its own produce call), the last round writing tombstones for
  2 of them, then 2 large "filler" records that roll the segment so every round is in a closed,
  cleanable segment. The acknowledged offsets go to the state file.
- `compaction-consume`: waits (60 s at most) until reading the topic from offset 0 returns one
  record per key, then checks it is exactly the latest value of every key at its original
  offset, the tombstones (null value) at theirs (delete.retention.ms is 24 h), offsets
  increasing, and the high watermark unchanged.
- `compaction-seek`: a consumer positioned on a removed offset (offset 0, and an offset of the
  fourth round) gets the next surviving record first.

The broker runs with `log_cleaner_backoff_ms` small (runner.py) so the cleaner picks the topics
up within a second.
"""

import os
import time

import compat_common as cc
from compat_common import Deadline, Rec, check

CODECS = (None, "gzip", "snappy", "lz4", "zstd")
KEYS = 20
ROUNDS = 8
TOMBSTONE_KEYS = (18, 19)
SEGMENT_BYTES = 2048
TOPIC_CONFIGS = {
    "cleanup.policy": "compact",
    "segment.bytes": str(SEGMENT_BYTES),
    "min.cleanable.dirty.ratio": "0.01",
}
PHASES = ("compaction-produce", "compaction-consume", "compaction-seek")


def topic_name(args, codec):
    return "%s-compact-%s" % (args.prefix, codec or "none")


def key(k):
    return b"key-%02d" % k


def value(rnd, k):
    return b"round-%d-key-%02d-" % (rnd, k) + b"v" * 40


def phase_produce(a, args):
    state = {}
    for codec in CODECS:
        topic = topic_name(args, codec)
        a.create_compacted(topic, TOPIC_CONFIGS)
        latest = {}
        for rnd in range(ROUNDS):
            recs = []
            for k in range(KEYS):
                tomb = rnd == ROUNDS - 1 and k in TOMBSTONE_KEYS
                recs.append((k, Rec(key(k), None if tomb else value(rnd, k), [], cc.now_ms())))
            for i, _p, off in a.produce(topic, recs, codec, False):
                latest[recs[i][1].key.decode()] = (off, None if recs[i][1].value is None
                                                    else recs[i][1].value.decode())
        # Incompressible fillers larger than a segment: the rounds end up in closed segments.
        fill = [(i, Rec(b"filler-%d" % i, os.urandom(SEGMENT_BYTES).hex().encode(), [],
                        cc.now_ms())) for i in range(2)]
        for i, _p, off in a.produce(topic, fill, codec, False):
            latest[fill[i][1].key.decode()] = (off, fill[i][1].value.decode())
        hw = a.end_offsets(topic, [0])[0]
        check(hw == KEYS * ROUNDS + 2, "%s: high watermark %d after %d records"
              % (topic, hw, KEYS * ROUNDS + 2))
        state[codec or "none"] = {"latest": latest, "hw": hw}
    cc.save_state(args.state, state)


def compacted_read(a, topic, hw, want):
    """Reads from offset 0 until the topic holds `want` records (the cleaner ran)."""
    deadline = Deadline(what="compaction of %s" % topic)
    while True:
        got = a.read_to_end(topic, 0, hw)
        if len(got) <= want:
            return got
        deadline.check("%d records still readable, %d expected" % (len(got), want))
        time.sleep(0.5)


def phase_consume(a, args):
    state = cc.load_state(args.state)
    for codec in CODECS:
        topic = topic_name(args, codec)
        s = state[codec or "none"]
        latest = s["latest"]
        got = compacted_read(a, topic, s["hw"], len(latest))
        offsets = [o for o, _k, _v in got]
        check(offsets == sorted(set(offsets)), "%s: offsets not increasing: %r" % (topic, offsets))
        seen = {k.decode(): (o, None if v is None else v.decode()) for o, k, v in got}
        check(len(seen) == len(got), "%s: a key appears twice after compaction" % topic)
        for k, (off, val) in latest.items():
            check(k in seen, "%s: key %s (latest at offset %d) is gone" % (topic, k, off))
            g_off, g_val = seen[k]
            check(g_off == off, "%s: key %s at offset %d, produced at %d" % (topic, k, g_off, off))
            check(g_val == val, "%s: key %s holds %r, latest produced %r"
                  % (topic, k, (g_val or "")[:40], (val or "")[:40]))
        check(a.end_offsets(topic, [0])[0] == s["hw"], "%s: high watermark moved" % topic)


def phase_seek(a, args):
    state = cc.load_state(args.state)
    for codec in CODECS:
        topic = topic_name(args, codec)
        s = state[codec or "none"]
        surviving = sorted(off for off, _v in s["latest"].values())
        compacted_read(a, topic, s["hw"], len(s["latest"]))
        # Offset 0 (key 0, round 0) and key 5 of round 3 were overwritten, so removed.
        for removed in (0, 3 * KEYS + 5):
            check(removed not in surviving, "offset %d unexpectedly survives" % removed)
            got = a.read_to_end(topic, removed, s["hw"])
            check(got, "%s: nothing read from removed offset %d" % (topic, removed))
            want = min(o for o in surviving if o > removed)
            check(got[0][0] == want, "%s: from removed offset %d the first record is at %d, "
                  "expected the next surviving one at %d" % (topic, removed, got[0][0], want))


PHASE_FNS = {
    "compaction-produce": phase_produce,
    "compaction-consume": phase_consume,
    "compaction-seek": phase_seek,
}


def main(make_adapter, client):
    cc.PHASES = PHASES
    cc.PHASE_FNS = PHASE_FNS
    cc.main(make_adapter, client)
