"""Consumer-group scenario (issue #5) for confluent-kafka (librdkafka): phases in
groups_common.py. test_groups_confluent_consumer.py runs the same adapter with KIP-848's
`group.protocol=consumer`."""

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

import compat_common as cc
import groups_common as gc
from compat_common import check

CLIENT = "confluent-groups"


class Member:
    """One consumer and what it processed."""

    def __init__(self, base, group, name, static, protocol="classic"):
        self.name = name
        self.seen = set()
        self.revoked = []
        self.commit_on_revoke = True
        conf = dict(base, **{
            "group.id": group,
            "client.id": name,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "enable.partition.eof": False,
        })
        if protocol == "classic":
            conf["session.timeout.ms"] = gc.SESSION_TIMEOUT_MS
            conf["heartbeat.interval.ms"] = gc.HEARTBEAT_INTERVAL_MS
        else:
            # KIP-848: the broker owns the session timeout and heartbeat interval, and
            # librdkafka refuses the classic member settings with this protocol.
            conf["group.protocol"] = protocol
        if static:
            conf["group.instance.id"] = name
        self.c = Consumer(conf)
        self.closed = False

    def subscribe(self, t):
        def on_revoke(c, parts):
            self.revoked.extend(parts)
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
            gc.note(self, (m.partition(), m.offset()))

    def assigned(self):
        return {tp.partition for tp in self.c.assignment()}

    def commit(self, t, parts, offset):
        self.c.commit(offsets=[TopicPartition(t, p, offset) for p in parts], asynchronous=False)
        return True

    def committed(self, t):
        got = self.c.committed([TopicPartition(t, p) for p in range(gc.PARTITIONS)], timeout=10)
        return {tp.partition: (tp.offset if tp.offset >= 0 else -1) for tp in got}

    def close(self):
        if not self.closed:
            self.closed = True
            self.c.close()


class Adapter:
    def __init__(self, bootstrap, protocol="classic"):
        self.base = {"bootstrap.servers": bootstrap, "socket.timeout.ms": 10_000}
        self.protocol = protocol
        self.members = []

    def close(self):
        for m in self.members:
            m.close()

    def member(self, group, name, static=False):
        m = Member(self.base, group, name, static, self.protocol)
        self.members.append(m)
        return m

    def create_topic_with_records(self, t):
        admin = AdminClient(self.base)
        futures = admin.create_topics([NewTopic(t, gc.PARTITIONS, 1)], operation_timeout=30)
        futures[t].result(timeout=cc.PHASE_DEADLINE_S)
        p = Producer(dict(self.base, **{"acks": "all", "linger.ms": 5}))
        errors = []

        def cb(err, _msg):
            if err is not None:
                errors.append(str(err))

        for i in range(gc.RECORDS):
            while True:
                try:
                    p.produce(t, key=b"k%d" % i, value=b"v%d" % i,
                              partition=i % gc.PARTITIONS, on_delivery=cb)
                    break
                except BufferError:
                    p.poll(0.1)
        left = p.flush(cc.PHASE_DEADLINE_S)
        check(left == 0 and not errors, "produce: %d undelivered, errors %s" % (left, errors[:3]))


if __name__ == "__main__":
    gc.main(Adapter, CLIENT)
