"""Compat scenario for aiokafka. Phases: see compat_common.py.

The phases are synchronous; each adapter call runs one coroutine on a private event loop, with
a deadline (asyncio.wait_for) around it.
"""

import asyncio

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.structs import TopicPartition

import compat_common as cc
from compat_common import Deadline, Rec, check

CLIENT = "aiokafka"


class Adapter:
    name = CLIENT

    def __init__(self, bootstrap):
        self.bootstrap = bootstrap
        self.loop = asyncio.new_event_loop()
        self._consumer = None

    def run(self, coro, what):
        try:
            return self.loop.run_until_complete(asyncio.wait_for(coro, cc.PHASE_DEADLINE_S))
        except asyncio.TimeoutError:
            raise cc.CheckFailed("%s did not finish within %ss" % (what, cc.PHASE_DEADLINE_S))

    async def consumer(self):
        if self._consumer is None:
            c = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, group_id=None,
                                 enable_auto_commit=False, auto_offset_reset="none",
                                 request_timeout_ms=30_000)
            await c.start()
            self._consumer = c
        return self._consumer

    def close(self):
        if self._consumer is not None:
            self.run(self._consumer.stop(), "closing the consumer")
        self.loop.close()

    def create_topic(self, name, partitions):
        self.run(self._create_topic(name, partitions), "creating %s" % name)

    async def _create_topic(self, name, partitions):
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap, request_timeout_ms=30_000)
        await admin.start()
        try:
            resp = await admin.create_topics([NewTopic(name, partitions, 1)], timeout_ms=30_000)
            errors = [e for e in resp.to_object()["topic_errors"] if e["error_code"] != 0]
            check(not errors, "CreateTopics failed: %r" % errors)
            deadline = Deadline(what="metadata for new topic %s" % name)
            while True:
                topics = await admin.describe_topics([name])
                t = topics[0] if topics else {}
                parts = t.get("partitions") or []
                if (t.get("error_code") == 0 and len(parts) == partitions
                        and all(pm["leader"] >= 0 for pm in parts)):
                    return
                deadline.check("last metadata: %r" % (t,))
                await asyncio.sleep(0.2)
        finally:
            await admin.close()

    def produce(self, topic, records, compression, idempotent):
        return self.run(self._produce(topic, records, compression, idempotent),
                        "producing to %s" % topic)

    async def _produce(self, topic, records, compression, idempotent):
        p = AIOKafkaProducer(bootstrap_servers=self.bootstrap, acks="all", linger_ms=20,
                             compression_type=compression, enable_idempotence=bool(idempotent),
                             request_timeout_ms=30_000)
        await p.start()
        try:
            futures = []
            for i, r in records:
                fut = await p.send(topic, key=r.key, value=r.value, headers=r.headers,
                                   timestamp_ms=r.timestamp)
                futures.append((i, fut))
            delivered, errors = [], []
            for i, fut in futures:
                try:
                    md = await fut
                    delivered.append((i, md.partition, md.offset))
                except Exception as e:  # noqa: BLE001 - reported as a failed delivery
                    errors.append("record %d: %r" % (i, e))
            check(not errors, "delivery failed: %s" % "; ".join(errors[:5]))
            return delivered
        finally:
            await p.stop()

    def end_offsets(self, topic, partitions):
        async def go():
            c = await self.consumer()
            res = await c.end_offsets([TopicPartition(topic, p) for p in partitions])
            return {tp.partition: off for tp, off in res.items()}
        return self.run(go(), "end offsets of %s" % topic)

    def offsets_for_times(self, topic, partitions, ts):
        async def go():
            c = await self.consumer()
            res = await c.offsets_for_times({TopicPartition(topic, p): ts for p in partitions})
            return {tp.partition: (None if ot is None else ot.offset) for tp, ot in res.items()}
        return self.run(go(), "offsets for times of %s" % topic)

    def read(self, topic, start, end):
        return self.run(self._read(topic, start, end), "reading %s" % topic)

    async def _read(self, topic, start, end):
        c = await self.consumer()
        want = {p: end[p] - start[p] for p in start if end[p] > start[p]}
        got = {p: [] for p in start}
        if not want:
            return got
        tps = {p: TopicPartition(topic, p) for p in want}
        c.assign(list(tps.values()))
        for p, tp in tps.items():
            c.seek(tp, start[p])
        while any(len(got[p]) < n for p, n in want.items()):
            batch = await c.getmany(timeout_ms=500, max_records=500)
            for tp, msgs in batch.items():
                for m in msgs:
                    check(m.timestamp_type == 0, "%s/%d@%d: timestamp type %d, expected CreateTime"
                          % (topic, m.partition, m.offset, m.timestamp_type))
                    got[m.partition].append(
                        (m.offset, Rec(m.key, m.value, list(m.headers), m.timestamp)))
        c.assign([])
        return got


if __name__ == "__main__":
    cc.main(Adapter, CLIENT)
