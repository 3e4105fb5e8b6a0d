"""Transaction scenario for aiokafka. Phases: see txn_common.py.

The phases are synchronous; each call runs its coroutine on the adapter's one event loop (the
base adapter's, as in test_aiokafka.py) with a deadline around it. aiokafka's
`send_offsets_to_transaction` takes the group id only (no generation or member id).
"""

import asyncio

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka import errors as Errors
from aiokafka.structs import OffsetAndMetadata, TopicPartition

import compat_common as cc
import txn_common
from test_aiokafka import Adapter as Base

CLIENT = "aiokafka-txn"
REQUEST_TIMEOUT_MS = 30_000


class TxnProducer:
    def __init__(self, a, txn_id, timeout_ms):
        self.a = a
        conf = dict(bootstrap_servers=a.bootstrap, transactional_id=txn_id, linger_ms=5,
                    request_timeout_ms=REQUEST_TIMEOUT_MS)
        if timeout_ms is not None:
            conf["transaction_timeout_ms"] = timeout_ms
        self.futures = []

        async def start():
            # start() sends FindCoordinator and InitProducerId for the transactional id.
            self.p = AIOKafkaProducer(**conf)
            await self.p.start()
        a.run(start(), "starting the transactional producer %s" % txn_id)

    def begin(self):
        self.a.run(self.p.begin_transaction(), "begin_transaction")

    def send(self, topic, partition, value):
        fut = self.a.run(self.p.send(topic, value=value, partition=partition), "send")
        self.futures.append(fut)

    def flush(self):
        async def go():
            await self.p.flush()
            futures, self.futures = self.futures, []
            for f in futures:
                await f  # raises the record's delivery error
        self.a.run(go(), "flushing the transaction's records")

    def send_offsets(self, member, offsets):
        tps = {TopicPartition(t, p): OffsetAndMetadata(o, "") for (t, p), o in offsets.items()}
        self.a.run(self.p.send_offsets_to_transaction(tps, member.group),
                   "send_offsets_to_transaction")

    def commit(self):
        self.a.run(self.p.commit_transaction(), "commit_transaction")
        self.futures = []

    def abort(self):
        self.a.run(self.p.abort_transaction(), "abort_transaction")
        self.futures = []

    def close(self):
        self.a.run(self.p.stop(), "stopping the transactional producer")


class Member:
    def __init__(self, a, group, t):
        self.a = a
        self.group = group

        async def start():
            self.c = AIOKafkaConsumer(t, bootstrap_servers=a.bootstrap, group_id=group,
                                      enable_auto_commit=False, auto_offset_reset="earliest",
                                      isolation_level="read_committed",
                                      request_timeout_ms=REQUEST_TIMEOUT_MS)
            await self.c.start()
        a.run(start(), "starting group member of %s" % group)

    def poll(self, n):
        batch = self.a.run(self.c.getmany(timeout_ms=1000, max_records=n), "getmany")
        return sorted((m.offset, m.value) for msgs in batch.values() for m in msgs)

    def seek(self, t, partition, offset):
        self.c.seek(TopicPartition(t, partition), offset)

    def committed(self, t, partition):
        return self.a.run(self.c.committed(TopicPartition(t, partition)), "committed")

    def close(self):
        self.a.run(self.c.stop(), "stopping the group member")


class Adapter(Base):
    name = CLIENT

    def __init__(self, bootstrap):
        super().__init__(bootstrap)
        self._plain = None

    def txn_producer(self, txn_id, timeout_ms=None):
        return TxnProducer(self, txn_id, timeout_ms)

    def plain_send(self, t, partition, value):
        """One non-transactional record, acknowledged (acks=all) before this returns."""
        async def go():
            if self._plain is None:
                p = AIOKafkaProducer(bootstrap_servers=self.bootstrap, acks="all",
                                     enable_idempotence=False,
                                     request_timeout_ms=REQUEST_TIMEOUT_MS)
                await p.start()
                self._plain = p
            await self._plain.send_and_wait(t, value=value, partition=partition)
        self.run(go(), "plain produce to %s" % t)

    def close(self):
        if self._plain is not None:
            self.run(self._plain.stop(), "stopping the plain producer")
        super().close()

    def group_member(self, group, t):
        return Member(self, group, t)

    def _read(self, t, partition, isolation, until, seconds):
        tp = TopicPartition(t, partition)

        async def start():
            c = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, group_id=None,
                                 enable_auto_commit=False, auto_offset_reset="earliest",
                                 isolation_level=isolation,
                                 request_timeout_ms=REQUEST_TIMEOUT_MS)
            await c.start()
            c.assign([tp])
            c.seek(tp, 0)
            return c
        c = self.run(start(), "starting a %s reader" % isolation)

        def batch():
            got = self.run(c.getmany(tp, timeout_ms=300, max_records=500), "getmany")
            return [m.value for m in got.get(tp, [])]

        try:
            return txn_common.poll_values(batch, until, seconds,
                                          "%s %s/%d" % (isolation, t, partition))
        finally:
            self.run(c.stop(), "stopping the reader")

    def read_until(self, t, partition, isolation, until, seconds=cc.PHASE_DEADLINE_S):
        return self._read(t, partition, isolation, until, seconds)

    def read_for(self, t, partition, isolation, seconds):
        return self._read(t, partition, isolation, None, seconds)

    def is_fenced(self, e):
        return isinstance(e, (Errors.ProducerFenced, Errors.InvalidProducerEpoch))

    def is_aborted(self, e):
        return isinstance(e, (Errors.InvalidTxnState, Errors.InvalidProducerIdMapping))


if __name__ == "__main__":
    txn_common.main(Adapter, CLIENT)
