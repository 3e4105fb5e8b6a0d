"""Shared phases of the consumer-group scenarios (issue #5) for the Python clients
(test_groups_confluent.py, test_groups_kafka_python.py,
test_groups_aiokafka.py). Each client supplies an adapter with
`create_topic_with_records(topic)`, `member(group, name, static=False)` and `close()`; a member has
`seen`, `commit_on_revoke`, `subscribe(topic)`, `poll()`, `assigned()`, `commit(topic, parts,
offset)` (False: refused during a rebalance, retry), `committed(topic)` ({partition: offset}, -1 for none), `close()`.

    python test_groups_X.py PHASE --bootstrap HOST:PORT --prefix PREFIX --state FILE

groups-create  a 4-partition topic with 2,000 records (500 per partition).
groups-split   two consumers in one group split the partitions (no record processed by both,
               none missed; partitions handed over on rebalance commit their positions first);
               a third joins and gets partitions; it leaves and its partitions move; each
               member commits offset 250 of its partitions. Prints the 2-member join time.
groups-resume  (after a broker restart or kill -9) a new member of the group starts exactly at
               the committed offsets: it reads offsets 250..499 of every partition, nothing else.
groups-pubsub  a second group independently receives all 2,000 records.
groups-static  two static members (group.instance.id); one restarts within the session timeout
               and gets its partitions back while the other sees no rebalance (no revocation).
"""

import time

import compat_common as cc
from compat_common import Deadline, check

PARTITIONS = 4
PER_PARTITION = 500
RECORDS = PARTITIONS * PER_PARTITION
COMMIT_AT = 250
SESSION_TIMEOUT_MS = 10_000
HEARTBEAT_INTERVAL_MS = 300


def topic(args):
    return args.prefix + "-groups"


def note(m, key):
    """Records one processed record; a record processed twice by one member fails."""
    check(key not in m.seen, "%s got %s twice" % (m.name, key))
    m.seen.add(key)


def phase_create(a, args):
    a.create_topic_with_records(topic(args))


def settle(members, what):
    """Polls every member until their assignments are disjoint, non-empty and cover all."""
    deadline = Deadline(what=what)
    while True:
        for m in members:
            m.poll()
        sets = [m.assigned() for m in members]
        union = set().union(*sets)
        if all(sets) and len(union) == PARTITIONS and sum(len(s) for s in sets) == PARTITIONS:
            return sets
        deadline.check("assignments %s" % sets)


def phase_split(a, args):
    g = args.prefix + "-g1"
    c1, c2 = a.member(g, "c1"), a.member(g, "c2")
    started = time.monotonic()
    c1.subscribe(topic(args))
    c2.subscribe(topic(args))
    sets = settle([c1, c2], "two members to split the partitions")
    print("figure: two-member join (subscribe to both assigned, initial delay 0): %.0f ms"
          % ((time.monotonic() - started) * 1000))
    deadline = Deadline(what="consuming every record with two members")
    while len(c1.seen) + len(c2.seen) < RECORDS:
        c1.poll()
        c2.poll()
        deadline.check("%d + %d records" % (len(c1.seen), len(c2.seen)))
    both = c1.seen & c2.seen
    check(not both, "records processed by both members: %s" % sorted(both)[:5])
    check(len(c1.seen | c2.seen) == RECORDS, "missed records")
    c3 = a.member(g, "c3")
    c3.subscribe(topic(args))
    sets = settle([c1, c2, c3], "a third member to get partitions")
    print("with three members: %s" % sets)
    moved = sets[2]
    c3.close()
    sets = settle([c1, c2], "the leaver's partitions to move")
    check(moved <= (sets[0] | sets[1]), "partitions %s did not move" % moved)
    for m in (c1, c2):
        m.commit_on_revoke = False
    # A member may still be finishing a join (kafka-python then refuses to commit until its
    # poll() completes it): keep every member polling and commit again.
    deadline = Deadline(what="both members to commit")
    while True:
        settle([c1, c2], "a stable split before committing")
        if all([m.commit(topic(args), m.assigned(), COMMIT_AT) for m in (c1, c2)]):
            break
        deadline.check("commit refused during a rebalance")
    got = c1.committed(topic(args))
    check(got == {p: COMMIT_AT for p in range(PARTITIONS)}, "committed %s" % got)


def phase_resume(a, args):
    g = args.prefix + "-g1"
    m = a.member(g, "resumer")
    m.commit_on_revoke = False
    got = m.committed(topic(args))
    check(got == {p: COMMIT_AT for p in range(PARTITIONS)}, "committed after restart: %s" % got)
    m.subscribe(topic(args))
    want = {(p, o) for p in range(PARTITIONS) for o in range(COMMIT_AT, PER_PARTITION)}
    deadline = Deadline(what="resuming at the committed offsets")
    while len(m.seen) < len(want):
        m.poll()
        deadline.check("%d of %d records" % (len(m.seen), len(want)))
    end = time.monotonic() + 1.0
    while time.monotonic() < end:  # anything more would be a record before the commit
        m.poll()
    check(m.seen == want, "resumed records differ: extra %s, missing %s"
          % (sorted(m.seen - want)[:5], sorted(want - m.seen)[:5]))


def phase_pubsub(a, args):
    m = a.member(args.prefix + "-g2", "other-group")
    m.subscribe(topic(args))
    deadline = Deadline(what="a second group to read everything")
    while len(m.seen) < RECORDS:
        m.poll()
        deadline.check("%d of %d records" % (len(m.seen), RECORDS))
    check(len(m.seen) == RECORDS, "second group got %d records" % len(m.seen))


def phase_static(a, args):
    g = args.prefix + "-static"
    s1, s2 = a.member(g, "s1", static=True), a.member(g, "s2", static=True)
    s1.subscribe(topic(args))
    s2.subscribe(topic(args))
    sets = settle([s1, s2], "two static members to split the partitions")
    before_s1 = sets[0]
    s2.revoked.clear()
    # s1 restarts: a static member's close sends no LeaveGroup; the new instance takes its
    # place with a fresh member id and no rebalance.
    s1.close()
    s1 = a.member(g, "s1", static=True)
    s1.subscribe(topic(args))
    deadline = Deadline(what="the restarted static member to get its partitions back")
    while s1.assigned() != before_s1:
        s1.poll()
        s2.poll()
        deadline.check("s1 has %s, had %s" % (s1.assigned(), before_s1))
    end = time.monotonic() + 2.0
    while time.monotonic() < end:
        s1.poll()
        s2.poll()
    check(not s2.revoked, "the other static member saw a rebalance: revoked %s" % s2.revoked)
    check(s2.assigned() == sets[1], "s2's partitions changed: %s" % s2.assigned())


PHASE_FNS = {
    "groups-create": phase_create,
    "groups-split": phase_split,
    "groups-resume": phase_resume,
    "groups-pubsub": phase_pubsub,
    "groups-static": phase_static,
}


def main(make_adapter, client):
    cc.PHASES = tuple(PHASE_FNS)
    cc.PHASE_FNS = PHASE_FNS
    cc.main(make_adapter, client)
