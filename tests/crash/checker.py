"""Jepsen-style checker of a crash-suite history (see docs/testing.md).

A history is a list of events (dicts, one JSON object a line in the run's history file),
each with a "type":

  invoke    producer, seq, partition, idem (bool)      a send was started
  ack       producer, seq, partition, offset            the broker acknowledged it at offset
  fail      producer, seq, error                         the client gave up with an error
  timeout   producer, seq                                the send's outcome is unknown
  read      cycle, partition, offset, key, value         one record of a full read of a
                                                         partition from its log start
  committed partition, offset, t                         a committed group offset observed
  commit    member, partition, offset, status, t0, t1   a commit sent at t0, answered at t1
                                                         with status ok | fail | unknown
  assign    member, partition, t                         a partition assigned to a member
  consume   member, partition, offset, t                 a member received a record
  fault     kind, ...                                    informational (kill, stop, cont)

Values are hex strings. Every record's value is `value_of(producer, seq)`, so the checker
can tell a record's identity and bytes apart.

check(history, final_cycle) returns a list of anomalies: dicts with "kind" and details.
Kinds: lost-write, duplicate, reorder (an idempotent producer's records of one partition
stored out of send order), inconsistent-offset, nonmonotonic-offset, offset-gap,
commit-backwards, bad-resume, consumer-skip.
"""

import json
from collections import defaultdict

KINDS = (
    "lost-write",
    "duplicate",
    "reorder",
    "inconsistent-offset",
    "nonmonotonic-offset",
    "offset-gap",
    "commit-backwards",
    "bad-resume",
    "consumer-skip",
)

# Bytes of filler after the (producer, sequence) tag, so records have some weight.
FILLER_BYTES = 64


def value_of(producer, seq):
    """The exact bytes of record (producer, seq), as a hex string."""
    tag = f"{producer}:{seq:010d}:".encode()
    filler = bytes((seq * 31 + i + len(producer)) % 251 for i in range(FILLER_BYTES))
    return (tag + filler).hex()


def identity(value_hex):
    """(producer, seq) of a record's value, or None if it carries no tag."""
    try:
        raw = bytes.fromhex(value_hex)
        producer, seq, _ = raw.split(b":", 2)
        return producer.decode(), int(seq)
    except (ValueError, UnicodeDecodeError):
        return None


def load(path):
    """The events of a history file; a torn last line (a writer still running) is skipped."""
    events = []
    with open(path) as f:
        for line in f:
            try:
                events.append(json.loads(line))
            except json.JSONDecodeError:
                pass
    return events


def _reads_by_cycle(history):
    """{cycle: {partition: [(offset, key, value), ...] in read order}}."""
    reads = defaultdict(lambda: defaultdict(list))
    for e in history:
        if e["type"] == "read":
            reads[e["cycle"]][e["partition"]].append((e["offset"], e.get("key"), e["value"]))
    return reads


def check(history, final_cycle=None):
    anomalies = []
    reads = _reads_by_cycle(history)
    if final_cycle is None:
        final_cycle = max(reads) if reads else None
    idem = {}
    for e in history:
        if e["type"] == "invoke":
            idem[e["producer"]] = e.get("idem", False)

    # Every read: offsets strictly increasing and contiguous; one record per offset
    # across every read of every cycle.
    seen_at = {}
    for cycle in sorted(reads):
        for partition, recs in sorted(reads[cycle].items()):
            prev = None
            for offset, key, value in recs:
                if prev is not None and offset <= prev:
                    anomalies.append({"kind": "nonmonotonic-offset", "cycle": cycle,
                                      "partition": partition, "offset": offset, "after": prev})
                elif prev is not None and offset != prev + 1:
                    anomalies.append({"kind": "offset-gap", "cycle": cycle,
                                      "partition": partition, "from": prev, "to": offset})
                prev = offset
                rec = (key, value)
                first = seen_at.setdefault((partition, offset), (cycle, rec))
                if first[1] != rec:
                    anomalies.append({"kind": "inconsistent-offset", "partition": partition,
                                      "offset": offset, "cycle": cycle, "first_cycle": first[0],
                                      "first": identity(first[1][1]), "now": identity(value)})

    # Acknowledged writes are in the final read at their offset with their bytes.
    final = {}
    if final_cycle is not None:
        for partition, recs in reads[final_cycle].items():
            for offset, key, value in recs:
                final[(partition, offset)] = value
    for e in history:
        if e["type"] != "ack":
            continue
        got = final.get((e["partition"], e["offset"]))
        want = value_of(e["producer"], e["seq"])
        if got != want:
            anomalies.append({"kind": "lost-write", "producer": e["producer"], "seq": e["seq"],
                              "partition": e["partition"], "offset": e["offset"],
                              "found": None if got is None else identity(got)})

    # An idempotent producer's record is stored once.
    where = defaultdict(list)
    for (partition, offset), value in final.items():
        ident = identity(value)
        if ident is not None and idem.get(ident[0]):
            where[ident].append((partition, offset))
    for ident, places in sorted(where.items()):
        if len(places) > 1:
            anomalies.append({"kind": "duplicate", "producer": ident[0], "seq": ident[1],
                              "at": sorted(places)})

    # An idempotent producer's records of one partition are stored in the order sent.
    order = defaultdict(list)
    for (partition, offset), value in sorted(final.items()):
        ident = identity(value)
        if ident is not None and idem.get(ident[0]):
            order[(ident[0], partition)].append((offset, ident[1]))
    for (producer, partition), recs in sorted(order.items()):
        for (o1, s1), (o2, s2) in zip(recs, recs[1:]):
            if s2 < s1:
                anomalies.append({"kind": "reorder", "producer": producer,
                                  "partition": partition, "offset": o2, "seq": s2,
                                  "after_seq": s1})

    # Committed offsets never go backwards: neither what was observed nor below a commit
    # the broker acknowledged earlier.
    floor = {}
    events = sorted((e for e in history if e["type"] in ("committed", "commit")),
                    key=lambda e: e.get("t", e.get("t1", 0)))
    for e in events:
        p = e["partition"]
        if e["type"] == "commit":
            if e["status"] == "ok":
                floor[p] = max(floor.get(p, -1), e["offset"])
            continue
        if e["offset"] < floor.get(p, -1):
            anomalies.append({"kind": "commit-backwards", "partition": p,
                              "offset": e["offset"], "was": floor[p], "t": e["t"]})
        floor[p] = max(floor.get(p, -1), e["offset"])

    # A member resumes a newly assigned partition at its committed offset: the last
    # acknowledged commit before the assignment, or one sent since then (its outcome may
    # have landed); with no commit at all, the log start (offset 0 here).
    commits = defaultdict(list)
    for e in history:
        if e["type"] == "commit":
            commits[e["partition"]].append(e)
    assigned = {}
    last_consumed = {}
    for e in sorted((e for e in history if e["type"] in ("assign", "consume", "revoke")),
                    key=lambda e: e["t"]):
        key = (e["member"], e["partition"])
        if e["type"] == "assign":
            assigned[key] = e["t"]
            last_consumed.pop(key, None)
            continue
        if e["type"] == "revoke":
            assigned.pop(key, None)
            last_consumed.pop(key, None)
            continue
        at = assigned.get(key)
        prev = last_consumed.get(key)
        last_consumed[key] = e["offset"]
        if at is None:
            continue
        if prev is not None:
            if e["offset"] > prev + 1:
                anomalies.append({"kind": "consumer-skip", "member": e["member"],
                                  "partition": e["partition"], "from": prev, "to": e["offset"]})
            continue
        acked = [c["offset"] for c in commits[e["partition"]] if c["status"] == "ok" and c["t1"] <= at]
        base = max(acked) if acked else 0
        # Any commit sent before the read counts, even one reported failed: a client retries
        # a commit whose answer was lost, and the retry's refusal (say UNKNOWN_MEMBER_ID
        # after a broker restart) hides that the first attempt was stored.
        later = {c["offset"] for c in commits[e["partition"]]
                 if c["t0"] <= e["t"] and c["offset"] >= base}
        if e["offset"] != base and e["offset"] not in later:
            anomalies.append({"kind": "bad-resume", "member": e["member"],
                              "partition": e["partition"], "offset": e["offset"],
                              "committed": base})
    # The group as a whole skips nothing: every offset below the highest acknowledged
    # commit of a partition was delivered to some member.
    consumed = defaultdict(set)
    for e in history:
        if e["type"] == "consume":
            consumed[e["partition"]].add(e["offset"])
    for p, cs in sorted(commits.items()):
        acked = [c["offset"] for c in cs if c["status"] == "ok"]
        if not acked:
            continue
        missing = [o for o in range(max(acked)) if o not in consumed[p]]
        if missing:
            anomalies.append({"kind": "consumer-skip", "partition": p, "member": None,
                              "never_delivered": missing[:10], "count": len(missing)})
    return anomalies


def summary(history, anomalies):
    counts = defaultdict(int)
    for e in history:
        counts[e["type"]] += 1
    by_kind = defaultdict(int)
    for a in anomalies:
        by_kind[a["kind"]] += 1
    lines = [
        f"sends invoked {counts['invoke']}, acked {counts['ack']}, failed {counts['fail']}, "
        f"timed out {counts['timeout']}",
        f"records read back {counts['read']} (all cycles), consumed {counts['consume']}, "
        f"commits {counts['commit']}, committed-offset observations {counts['committed']}",
        "anomalies: " + (", ".join(f"{k} {by_kind[k]}" for k in KINDS if by_kind[k]) or "none"),
    ]
    return "\n".join(lines)
