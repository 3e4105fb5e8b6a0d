"""Transactions against real clients (issue #14): the phases, written once against a small
adapter that test_txn_confluent.py, test_txn_kafka_python.py and test_txn_aiokafka.py
implement (test_txn_kafkajs.js holds the same phases for kafkajs: keep the two in step).

    python test_txn_X.py PHASE --bootstrap 127.0.0.1:PORT --prefix P --state FILE

Phases (runner.py's CLIENT_STEPS):
- `txn-commit`: a transactional producer writes COMMIT_RECORDS records to two partitions in one
  transaction and commits; a read_committed and a read_uncommitted consumer both read exactly
  them, in order.
- `txn-abort`: a transaction of ABORT_RECORDS records is aborted, then a committed transaction
  writes a sentinel; read_committed readers see the sentinel and none of the aborted records,
  read_uncommitted readers see both.
- `txn-open`: a transaction is left open after its records are written, and another
  (non-transactional) producer writes after it: a read_committed reader gets nothing past the
  open transaction's first offset until it commits, then everything; a read_uncommitted one
  gets everything at once.
- `txn-restart` (after a broker restart): what the earlier phases committed and aborted reads
  the same.
- `txn-ctp`: consume-transform-produce: a group member reads INPUT_RECORDS records, and for
  each batch writes the transformed records and the group's offsets in one transaction
  (`send_offsets_to_transaction`); one transaction in the middle is written (flushed), aborted
  and redone. The group's committed offset is the input's end; the output holds every input
  exactly once for a read_committed reader, and the aborted round too, where it was written,
  for a read_uncommitted one.
- `txn-fence`: a second producer with the same transactional id fences the first: its next
  commit fails as fenced, and its open transaction is aborted (invisible to read_committed).
- `txn-timeout`: a transaction left open past `transaction.timeout.ms` (TIMEOUT_MS) is aborted
  by the broker (runner.py starts it with a short cleanup interval), so read_committed readers
  move past it; its producer is fenced.
"""

import time

import compat_common as cc
from compat_common import Deadline, check

COMMIT_RECORDS = 50
ABORT_RECORDS = 30
INPUT_RECORDS = 60
CTP_BATCH = 20
TIMEOUT_MS = 3000
QUIET_S = 2.0  # how long a read_committed reader is watched for records it must not get
PHASES = ("txn-commit", "txn-abort", "txn-open", "txn-restart", "txn-ctp", "txn-fence",
          "txn-timeout")


def topic(args, name):
    return "%s-txn-%s" % (args.prefix, name)


def values(prefix, n):
    return [b"%s-%03d" % (prefix.encode(), i) for i in range(n)]


def same(what, expected, got):
    """Exact comparison of two lists of values; reports where they first differ."""
    if expected == got:
        return
    at = next((i for i, (e, g) in enumerate(zip(expected, got)) if e != g),
              min(len(expected), len(got)))
    raise cc.CheckFailed("%s: expected %d values, read %d; first difference at %d: "
                         "expected %r, read %r" % (
                             what, len(expected), len(got), at, expected[at:at + 3],
                             got[at:at + 3]))


def read_both(a, t, partition, until):
    """(read_committed values, read_uncommitted values) of t/partition up to `until` (a value
    both must reach)."""
    rc = a.read_until(t, partition, "read_committed", until)
    ru = a.read_until(t, partition, "read_uncommitted", until)
    return rc, ru


def phase_commit(a, args):
    t = topic(args, "commit")
    a.create_topic(t, 2)
    p = a.txn_producer("%s-commit" % args.prefix)
    vals = values("c", COMMIT_RECORDS)
    p.begin()
    for i, v in enumerate(vals):
        p.send(t, i % 2, v)
    p.commit()
    p.close()
    for part in (0, 1):
        want = [v for i, v in enumerate(vals) if i % 2 == part]
        rc, ru = read_both(a, t, part, want[-1])
        same("read_committed of partition %d" % part, want, rc)
        same("read_uncommitted of partition %d" % part, want, ru)


def phase_abort(a, args):
    t = topic(args, "abort")
    a.create_topic(t, 1)
    p = a.txn_producer("%s-abort" % args.prefix)
    aborted = values("a", ABORT_RECORDS)
    p.begin()
    for v in aborted:
        p.send(t, 0, v)
    p.flush()
    p.abort()
    p.begin()
    p.send(t, 0, b"sentinel")
    p.commit()
    p.close()
    rc, ru = read_both(a, t, 0, b"sentinel")
    same("read_committed after an abort", [b"sentinel"], rc)
    same("read_uncommitted after an abort", aborted + [b"sentinel"], ru)


def phase_open(a, args):
    t = topic(args, "open")
    a.create_topic(t, 1)
    p = a.txn_producer("%s-open" % args.prefix)
    mine = values("o", 10)
    p.begin()
    for v in mine:
        p.send(t, 0, v)
    p.flush()
    a.plain_send(t, 0, b"after")
    ru = a.read_until(t, 0, "read_uncommitted", b"after")
    same("read_uncommitted with an open transaction", mine + [b"after"], ru)
    held = a.read_for(t, 0, "read_committed", QUIET_S)
    same("read_committed with an open transaction (held at its first offset)", [], held)
    p.commit()
    p.close()
    rc = a.read_until(t, 0, "read_committed", b"after")
    same("read_committed once it commits", mine + [b"after"], rc)


def phase_restart(a, args):
    c = values("c", COMMIT_RECORDS)
    for part in (0, 1):
        want = [v for i, v in enumerate(c) if i % 2 == part]
        rc = a.read_until(topic(args, "commit"), part, "read_committed", want[-1])
        same("read_committed after a restart, partition %d" % part, want, rc)
    rc, ru = read_both(a, topic(args, "abort"), 0, b"sentinel")
    same("read_committed of the aborted topic after a restart", [b"sentinel"], rc)
    same("read_uncommitted of the aborted topic after a restart",
               values("a", ABORT_RECORDS) + [b"sentinel"], ru)


def phase_ctp(a, args):
    src, dst = topic(args, "in"), topic(args, "out")
    a.create_topic(src, 1)
    a.create_topic(dst, 1)
    inputs = values("in", INPUT_RECORDS)
    for v in inputs:
        a.plain_send(src, 0, v)
    group = "%s-ctp" % args.prefix
    p = a.txn_producer("%s-ctp" % args.prefix)
    member = a.group_member(group, src)
    done = 0
    aborted_once = False
    deadline = Deadline(what="consume-transform-produce")
    while done < INPUT_RECORDS:
        deadline.check("%d of %d copied" % (done, INPUT_RECORDS))
        batch = member.poll(CTP_BATCH)
        if not batch:
            continue
        p.begin()
        for off, v in batch:
            p.send(dst, 0, b"copy-" + v)
        last = batch[-1][0]
        p.send_offsets(member, {(src, 0): last + 1})
        if not aborted_once and done > 0:
            # Abort this one: its output must never be seen, and its input is read again.
            # Flushed first, so that its records are in the log before the abort marker (some
            # clients, librdkafka among them, drop records still queued when they abort).
            p.flush()
            p.abort()
            aborted_once = True
            aborted_at, aborted = done, [b"copy-" + v for _, v in batch]
            member.seek(src, 0, batch[0][0])
            continue
        p.commit()
        done += len(batch)
    p.close()
    check(aborted_once, "no transaction was aborted (inputs came in one batch?)")
    committed = member.committed(src, 0)
    member.close()
    check(committed == INPUT_RECORDS,
          "group's committed offset %r, expected %d" % (committed, INPUT_RECORDS))
    want = [b"copy-" + v for v in inputs]
    ru = a.read_until(dst, 0, "read_uncommitted", want[-1])
    same("the copy for a read_uncommitted reader (the aborted round included)",
         want[:aborted_at] + aborted + want[aborted_at:], ru)
    rc = a.read_until(dst, 0, "read_committed", want[-1])
    same("the copy for a read_committed reader", want, rc)


def phase_fence(a, args):
    t = topic(args, "fence")
    a.create_topic(t, 1)
    txn_id = "%s-fence" % args.prefix
    old = a.txn_producer(txn_id)
    old.begin()
    old.send(t, 0, b"zombie")
    old.flush()
    new = a.txn_producer(txn_id)  # InitProducerId: aborts the zombie's transaction
    new.begin()
    new.send(t, 0, b"fresh")
    new.commit()
    new.close()
    try:
        old.send(t, 0, b"zombie-2")
        old.commit()
        raise cc.CheckFailed("the fenced producer's commit succeeded")
    except cc.CheckFailed:
        raise
    except Exception as e:  # noqa: BLE001 - each client has its own fenced exception
        check(a.is_fenced(e), "the old producer failed with %r, not as fenced" % (e,))
    old.close()
    rc = a.read_until(t, 0, "read_committed", b"fresh")
    same("read_committed after fencing", [b"fresh"], rc)


def phase_timeout(a, args):
    t = topic(args, "timeout")
    a.create_topic(t, 1)
    p = a.txn_producer("%s-timeout" % args.prefix, timeout_ms=TIMEOUT_MS)
    p.begin()
    p.send(t, 0, b"forgotten")
    p.flush()
    a.plain_send(t, 0, b"later")
    # The broker aborts the transaction after its timeout; read_committed readers then see
    # what follows it.
    rc = a.read_until(t, 0, "read_committed", b"later", seconds=TIMEOUT_MS / 1000 + 30)
    same("read_committed after the timeout abort", [b"later"], rc)
    try:
        p.commit()
        raise cc.CheckFailed("a commit after the timeout abort succeeded")
    except cc.CheckFailed:
        raise
    except Exception as e:  # noqa: BLE001 - the client reports fencing or an invalid state
        check(a.is_fenced(e) or a.is_aborted(e),
              "commit after the timeout failed with %r, not as fenced/aborted" % (e,))
    p.close()


PHASE_FNS = {
    "txn-commit": phase_commit,
    "txn-abort": phase_abort,
    "txn-open": phase_open,
    "txn-restart": phase_restart,
    "txn-ctp": phase_ctp,
    "txn-fence": phase_fence,
    "txn-timeout": phase_timeout,
}


def main(make_adapter, client):
    cc.PHASES = PHASES
    cc.PHASE_FNS = PHASE_FNS
    cc.main(make_adapter, client)


def poll_values(fetch_batch, until, seconds, what):
    """Values from repeated `fetch_batch()` calls (each a list of values) until `until` is
    among them (`until=None`: for `seconds`, whatever comes)."""
    got = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        got.extend(fetch_batch())
        if until is not None and until in got:
            return got
    if until is not None:
        raise cc.CheckFailed("%s: %r not read within %.0fs (got %d records, last %r)"
                             % (what, until, seconds, len(got), got[-3:]))
    return got
