"""Consumer-group scenario (issue #5) for kafka-python: phases in groups_common.py."""

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.consumer.subscription_state import AsyncConsumerRebalanceListener
from kafka.errors import RebalanceInProgressError
from kafka.structs import OffsetAndMetadata

import compat_common as cc
import groups_common as gc

CLIENT = "kafka-python-groups"


class Member(AsyncConsumerRebalanceListener):
    """One consumer and what it processed."""

    def __init__(self, bootstrap, group, name, static):
        self.name = name
        self.seen = set()
        self.revoked = []
        self.commit_on_revoke = True
        extra = {"group_instance_id": name} if static else {}
        self.c = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, client_id=name,
                               enable_auto_commit=False, auto_offset_reset="earliest",
                               session_timeout_ms=gc.SESSION_TIMEOUT_MS,
                               heartbeat_interval_ms=gc.HEARTBEAT_INTERVAL_MS, **extra)
        self.closed = False

    async def on_partitions_revoked(self, revoked):
        self.revoked.extend(revoked)
        if self.commit_on_revoke and revoked:
            # Hand over exactly where this member stopped. kafka-python 3 runs listeners on its
            # IO loop, where only the async commit may be awaited (an internal API: the public
            # commit() would block the loop).
            consumed = self.c._subscription.all_consumed_offsets()
            offsets = {tp: o for tp, o in consumed.items() if tp in revoked}
            await self.c._coordinator._commit_offsets_sync_async(offsets)

    async def on_partitions_assigned(self, assigned):
        pass

    def subscribe(self, t):
        self.c.subscribe([t], listener=self)

    def poll(self):
        for tp, records in self.c.poll(timeout_ms=50).items():
            for r in records:
                gc.note(self, (tp.partition, r.offset))

    def assigned(self):
        return {tp.partition for tp in self.c.assignment()}

    def commit(self, t, parts, offset):
        try:
            self.c.commit({TopicPartition(t, p): OffsetAndMetadata(offset, "", -1) for p in parts})
            return True
        except RebalanceInProgressError:
            # kafka-python refuses to commit until its own poll() has finished the join.
            return False

    def committed(self, t):
        out = {}
        for p in range(gc.PARTITIONS):
            o = self.c.committed(TopicPartition(t, p))
            out[p] = -1 if o is None else o
        return out

    def close(self):
        if not self.closed:
            self.closed = True
            self.c.close(autocommit=False)


class Adapter:
    def __init__(self, bootstrap):
        self.bootstrap = bootstrap
        self.members = []

    def close(self):
        for m in self.members:
            m.close()

    def member(self, group, name, static=False):
        m = Member(self.bootstrap, group, name, static)
        self.members.append(m)
        return m

    def create_topic_with_records(self, t):
        admin = KafkaAdminClient(bootstrap_servers=self.bootstrap)
        admin.create_topics([NewTopic(t, gc.PARTITIONS, 1)])
        admin.close()
        p = KafkaProducer(bootstrap_servers=self.bootstrap, acks="all", linger_ms=5)
        futures = [p.send(t, key=b"k%d" % i, value=b"v%d" % i, partition=i % gc.PARTITIONS)
                   for i in range(gc.RECORDS)]
        p.flush(cc.PHASE_DEADLINE_S)
        for f in futures:
            f.get(timeout=cc.PHASE_DEADLINE_S)
        p.close()


if __name__ == "__main__":
    gc.main(Adapter, CLIENT)
