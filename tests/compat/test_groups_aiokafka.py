"""Consumer-group scenario (issue #5) for aiokafka: phases in groups_common.py. The phases are
synchronous; every member call runs on one private event loop (aiokafka's heartbeats and
rebalances progress while any member polls)."""

import asyncio

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.structs import OffsetAndMetadata

import compat_common as cc
import groups_common as gc
from test_aiokafka import Adapter as BaseAdapter

CLIENT = "aiokafka-groups"


class Listener(ConsumerRebalanceListener):
    def __init__(self, member):
        self.member = member

    async def on_partitions_revoked(self, revoked):
        m = self.member
        m.revoked.extend(revoked)
        if m.commit_on_revoke and revoked:
            # Hand over exactly where this member stopped.
            await m.c.commit({tp: OffsetAndMetadata(await m.c.position(tp), "")
                              for tp in revoked})

    async def on_partitions_assigned(self, assigned):
        pass


class Member:
    def __init__(self, a, group, name, static):
        self.a = a
        self.name = name
        self.seen = set()
        self.revoked = []
        self.commit_on_revoke = True
        extra = {"group_instance_id": name} if static else {}

        async def make():
            # aiokafka objects must be created inside the loop that runs them.
            c = AIOKafkaConsumer(bootstrap_servers=a.bootstrap, group_id=group, client_id=name,
                                 enable_auto_commit=False, auto_offset_reset="earliest",
                                 session_timeout_ms=gc.SESSION_TIMEOUT_MS,
                                 heartbeat_interval_ms=gc.HEARTBEAT_INTERVAL_MS, **extra)
            await c.start()
            return c

        self.c = a.run(make(), "starting %s" % name)
        self.closed = False

    def subscribe(self, t):
        self.c.subscribe([t], listener=Listener(self))

    def poll(self):
        got = self.a.run(self.c.getmany(timeout_ms=50), "poll")
        for tp, records in got.items():
            for r in records:
                gc.note(self, (tp.partition, r.offset))

    def assigned(self):
        return {tp.partition for tp in self.c.assignment()}

    def commit(self, t, parts, offset):
        from aiokafka.errors import CommitFailedError, RebalanceInProgressError
        try:
            self.a.run(self.c.commit({TopicPartition(t, p): OffsetAndMetadata(offset, "")
                                      for p in parts}), "commit")
            return True
        except (CommitFailedError, RebalanceInProgressError):
            return False

    def committed(self, t):
        out = {}
        for p in range(gc.PARTITIONS):
            o = self.a.run(self.c.committed(TopicPartition(t, p)), "committed")
            out[p] = -1 if o is None else o
        return out

    def close(self):
        if not self.closed:
            self.closed = True
            self.a.run(self.c.stop(), "stopping %s" % self.name)


class Adapter(BaseAdapter):
    def __init__(self, bootstrap):
        super().__init__(bootstrap)
        self.members = []

    def close(self):
        for m in self.members:
            m.close()
        super().close()

    def member(self, group, name, static=False):
        m = Member(self, group, name, static)
        self.members.append(m)
        return m

    def create_topic_with_records(self, t):
        self.create_topic(t, gc.PARTITIONS)
        self.run(self._produce_all(t), "producing to %s" % t)

    async def _produce_all(self, t):
        p = AIOKafkaProducer(bootstrap_servers=self.bootstrap, acks="all", linger_ms=5)
        await p.start()
        try:
            futures = [await p.send(t, key=b"k%d" % i, value=b"v%d" % i,
                                    partition=i % gc.PARTITIONS) for i in range(gc.RECORDS)]
            await asyncio.gather(*futures)
        finally:
            await p.stop()


if __name__ == "__main__":
    gc.main(Adapter, CLIENT)
