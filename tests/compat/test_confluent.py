"""Compat scenario for confluent-kafka (librdkafka). Phases: see compat_common.py."""

import time

from confluent_kafka import OFFSET_END, Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka import TIMESTAMP_CREATE_TIME
from confluent_kafka.admin import AdminClient, NewTopic

import compat_common as cc
from compat_common import Deadline, Rec, check

CLIENT = "confluent"


class Adapter:
    name = CLIENT

    def __init__(self, bootstrap):
        self.bootstrap = bootstrap
        self.base = {"bootstrap.servers": bootstrap, "socket.timeout.ms": 10_000}
        self._consumer = None

    def consumer(self):
        if self._consumer is None:
            # Partitions are assigned by hand; the group id is only required by the API.
            self._consumer = Consumer(dict(self.base, **{
                "group.id": "weir-compat-confluent-reader",
                "enable.auto.commit": False,
                "enable.auto.offset.store": False,
                "auto.offset.reset": "error",
                "enable.partition.eof": False,
            }))
        return self._consumer

    def close(self):
        if self._consumer is not None:
            self._consumer.close()

    def create_topic(self, name, partitions):
        admin = AdminClient(self.base)
        futures = admin.create_topics([NewTopic(name, partitions, 1)],
                                      operation_timeout=30, request_timeout=30)
        futures[name].result(timeout=cc.PHASE_DEADLINE_S)
        deadline = Deadline(what="metadata for new topic %s" % name)
        while True:
            md = admin.list_topics(topic=name, timeout=max(1.0, deadline.left_s()))
            t = md.topics.get(name)
            if t is not None and t.error is None and len(t.partitions) == partitions and all(
                    pm.leader >= 0 for pm in t.partitions.values()):
                break
            deadline.check("last metadata: %r" % (t.partitions if t else None))
            time.sleep(0.2)
        # All topics, as admin scripts and UIs call it (librdkafka 2.16 sends this Metadata
        # v12 request with three stray bytes after the body, which Kafka ignores).
        while True:
            md = admin.list_topics(timeout=max(1.0, deadline.left_s()))
            t = md.topics.get(name)
            if t is not None and t.error is None and len(t.partitions) == partitions:
                return
            deadline.check("last metadata: %r" % (t.partitions if t else None))
            time.sleep(0.2)

    def produce(self, topic, records, compression, idempotent):
        conf = dict(self.base, **{"acks": "all", "linger.ms": 20,
                                  "enable.idempotence": bool(idempotent),
                                  "message.timeout.ms": cc.PHASE_DEADLINE_S * 1000})
        if compression:
            conf["compression.type"] = compression
        p = Producer(conf)
        delivered, errors = [], []

        def on_delivery(i):
            def cb(err, msg):
                if err is not None:
                    errors.append("record %d: %s" % (i, err))
                else:
                    delivered.append((i, msg.partition(), msg.offset()))
            return cb

        for i, r in records:
            while True:
                try:
                    p.produce(topic, key=r.key, value=r.value, headers=r.headers,
                              timestamp=r.timestamp, on_delivery=on_delivery(i))
                    break
                except BufferError:
                    p.poll(0.1)
        deadline = Deadline(what="delivery to %s" % topic)
        while len(delivered) + len(errors) < len(records):
            p.poll(0.1)
            deadline.check("%d delivered, %d failed" % (len(delivered), len(errors)))
        p.flush(1)
        check(not errors, "delivery failed: %s" % "; ".join(errors[:5]))
        return delivered

    def end_offsets(self, topic, partitions):
        c = self.consumer()
        return {p: c.get_watermark_offsets(TopicPartition(topic, p),
                                           timeout=cc.PHASE_DEADLINE_S)[1]
                for p in partitions}

    def offsets_for_times(self, topic, partitions, ts):
        c = self.consumer()
        res = c.offsets_for_times([TopicPartition(topic, p, ts) for p in partitions],
                                  timeout=cc.PHASE_DEADLINE_S)
        out = {}
        for tp in res:
            if tp.error is not None:
                raise KafkaException(tp.error)
            # librdkafka reports "no such record" (Kafka's -1) as OFFSET_END.
            out[tp.partition] = None if tp.offset in (OFFSET_END, -1) else tp.offset
        return out

    def read(self, topic, start, end):
        c = self.consumer()
        want = {p: end[p] - start[p] for p in start if end[p] > start[p]}
        got = {p: [] for p in start}
        if not want:
            return got
        c.assign([TopicPartition(topic, p, start[p]) for p in want])
        deadline = Deadline(what="reading %s" % topic)
        try:
            while any(len(got[p]) < n for p, n in want.items()):
                deadline.check("read %r of %r" % ({p: len(v) for p, v in got.items()}, want))
                for m in c.consume(num_messages=500, timeout=0.5):
                    if m.error() is not None:
                        raise KafkaException(m.error())
                    ts_type, ts = m.timestamp()
                    check(ts_type == TIMESTAMP_CREATE_TIME,
                          "%s/%d@%d: timestamp type %d, expected CreateTime"
                          % (topic, m.partition(), m.offset(), ts_type))
                    headers = [(k, v) for k, v in (m.headers() or [])]
                    got[m.partition()].append(
                        (m.offset(), Rec(m.key(), m.value(), headers, ts)))
        finally:
            c.unassign()
        return got


if __name__ == "__main__":
    cc.main(Adapter, CLIENT)
