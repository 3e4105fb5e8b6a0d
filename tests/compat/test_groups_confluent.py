"""Consumer-group scenario (issue #5) for confluent-kafka (librdkafka), one process per phase:

    python test_groups_confluent.py PHASE --bootstrap HOST:PORT --prefix PREFIX --state FILE

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

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

import compat_common as cc
from compat_common import Deadline, check

CLIENT = "confluent-groups"
PARTITIONS = 4
PER_PARTITION = 500
RECORDS = PARTITIONS * PER_PARTITION
COMMIT_AT = 250
PHASES = ("groups-create", "groups-split", "groups-resume", "groups-pubsub", "groups-static")


def topic(args):
    return args.prefix + "-groups"


class Adapter:
    def __init__(self, bootstrap):
        self.base = {"bootstrap.servers": bootstrap, "socket.timeout.ms": 10_000}
        self.consumers = []

    def close(self):
        for c in self.consumers:
            try:
                c.close()
            except Exception:  # noqa: BLE001 - already closed
                pass

    def consumer(self, group, **extra):
        conf = dict(self.base, **{
            "group.id": group,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "session.timeout.ms": 10_000,
            "heartbeat.interval.ms": 300,
            "enable.partition.eof": False,
        })
        conf.update(extra)
        c = Consumer(conf)
        self.consumers.append(c)
        return c


def phase_create(a, args):
    admin = AdminClient(a.base)
    futures = admin.create_topics([NewTopic(topic(args), PARTITIONS, 1)], operation_timeout=30)
    futures[topic(args)].result(timeout=cc.PHASE_DEADLINE_S)
    p = Producer(dict(a.base, **{"acks": "all", "linger.ms": 5}))
    errors = []

    def cb(err, _msg):
        if err is not None:
            errors.append(str(err))

    for i in range(RECORDS):
        while True:
            try:
                p.produce(topic(args), key=b"k%d" % i, value=b"v%d" % i,
                          partition=i % PARTITIONS, on_delivery=cb)
                break
            except BufferError:
                p.poll(0.1)
    left = p.flush(cc.PHASE_DEADLINE_S)
    check(left == 0 and not errors, "produce: %d undelivered, errors %s" % (left, errors[:3]))


class Member:
    """One consumer and what it processed."""

    def __init__(self, a, group, name):
        self.name = name
        self.seen = set()
        self.commit_on_revoke = True
        self.c = a.consumer(group, **{"client.id": name})

    def subscribe(self, t):
        def on_revoke(c, parts):
            # Hand over exactly where this member stopped, so the next owner does not
            # process a record twice.
            if self.commit_on_revoke and parts:
                try:
                    c.commit(asynchronous=False)
                except Exception:  # noqa: BLE001 - nothing consumed yet: nothing to commit
                    pass

        self.c.subscribe([t], on_revoke=on_revoke)

    def poll(self):
        m = self.c.poll(0.05)
        if m is not None and m.error() is None:
            key = (m.partition(), m.offset())
            check(key not in self.seen, "%s got %s twice" % (self.name, key))
            self.seen.add(key)

    def assigned(self):
        return {tp.partition for tp in self.c.assignment()}


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
    c1, c2 = Member(a, g, "c1"), Member(a, g, "c2")
    started = time.monotonic()
    c1.subscribe(topic(args))
    c2.subscribe(topic(args))
    sets = settle([c1, c2], "two members to split the partitions")
    print("two-member join (subscribe to both assigned, initial delay 0): %.0f ms"
          % ((time.monotonic() - started) * 1000))
    deadline = Deadline(what="consuming every record with two members")
    while len(c1.seen) + len(c2.seen) < RECORDS:
        c1.poll()
        c2.poll()
        deadline.check("%d + %d records" % (len(c1.seen), len(c2.seen)))
    both = c1.seen & c2.seen
    check(not both, "records processed by both members: %s" % sorted(both)[:5])
    check(len(c1.seen | c2.seen) == RECORDS, "missed records")
    c3 = Member(a, g, "c3")
    c3.subscribe(topic(args))
    sets = settle([c1, c2, c3], "a third member to get partitions")
    print("with three members: %s" % sets)
    moved = sets[2]
    c3.commit_on_revoke = True
    c3.c.close()
    a.consumers.remove(c3.c)
    sets = settle([c1, c2], "the leaver's partitions to move")
    check(moved <= (sets[0] | sets[1]), "partitions %s did not move" % moved)
    for m in (c1, c2):
        m.commit_on_revoke = False
        parts = [TopicPartition(topic(args), p, COMMIT_AT) for p in m.assigned()]
        m.c.commit(offsets=parts, asynchronous=False)
    committed = c1.c.committed([TopicPartition(topic(args), p) for p in range(PARTITIONS)],
                               timeout=10)
    got = {tp.partition: tp.offset for tp in committed}
    check(got == {p: COMMIT_AT for p in range(PARTITIONS)}, "committed %s" % got)


def phase_resume(a, args):
    g = args.prefix + "-g1"
    m = Member(a, g, "resumer")
    m.commit_on_revoke = False
    committed = m.c.committed([TopicPartition(topic(args), p) for p in range(PARTITIONS)],
                              timeout=10)
    got = {tp.partition: tp.offset for tp in committed}
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
    m = Member(a, args.prefix + "-g2", "other-group")
    m.subscribe(topic(args))
    deadline = Deadline(what="a second group to read everything")
    while len(m.seen) < RECORDS:
        m.poll()
        deadline.check("%d of %d records" % (len(m.seen), RECORDS))
    check(len(m.seen) == RECORDS, "second group got %d records" % len(m.seen))


def phase_static(a, args):
    g = args.prefix + "-static"
    revoked = []

    def static(name):
        m = Member(a, g, name)
        a.consumers.remove(m.c)
        m.c.close()
        m.c = a.consumer(g, **{"client.id": name, "group.instance.id": name,
                                "session.timeout.ms": 10_000})
        return m

    s1, s2 = static("s1"), static("s2")
    s1.subscribe(topic(args))

    def on_revoke(_c, parts):
        revoked.extend(parts)

    s2.c.subscribe([topic(args)], on_revoke=on_revoke)
    sets = settle([s1, s2], "two static members to split the partitions")
    before_s1 = sets[0]
    revoked.clear()
    # s1 restarts: a static member's close sends no LeaveGroup; the new instance takes its
    # place with a fresh member id and no rebalance.
    s1.c.close()
    a.consumers.remove(s1.c)
    s1 = static("s1")
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
    check(not revoked, "the other static member saw a rebalance: revoked %s" % revoked)
    check(s2.assigned() == sets[1], "s2's partitions changed: %s" % s2.assigned())


cc.PHASES = PHASES
cc.PHASE_FNS = {
    "groups-create": phase_create,
    "groups-split": phase_split,
    "groups-resume": phase_resume,
    "groups-pubsub": phase_pubsub,
    "groups-static": phase_static,
}

if __name__ == "__main__":
    cc.main(Adapter, CLIENT)
