"""Compat scenario for kafka-python. Phases: see compat_common.py."""

import time

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient

import compat_common as cc
from compat_common import Deadline, Rec, check

CLIENT = "kafka-python"


class Adapter:
    name = CLIENT

    def __init__(self, bootstrap):
        self.bootstrap = bootstrap
        self._consumer = None

    def consumer(self):
        if self._consumer is None:
            # No group: partitions are assigned by hand.
            self._consumer = KafkaConsumer(
                bootstrap_servers=self.bootstrap, group_id=None, enable_auto_commit=False,
                auto_offset_reset="none", request_timeout_ms=30_000)
        return self._consumer

    def close(self):
        if self._consumer is not None:
            self._consumer.close()

    def create_topic(self, name, partitions):
        admin = KafkaAdminClient(bootstrap_servers=self.bootstrap, request_timeout_ms=30_000)
        try:
            admin.create_topics({name: {"num_partitions": partitions, "replication_factor": 1}},
                                timeout_ms=30_000)
            deadline = Deadline(what="metadata for new topic %s" % name)
            while True:
                md = admin.describe_topics([name])
                t = md[0] if md else None
                parts = (t or {}).get("partitions") or []
                if (t and t.get("error_code") == 0 and len(parts) == partitions
                        and all(pm.get("leader_id", -1) >= 0 for pm in parts)):
                    return
                deadline.check("last metadata: %r" % (t,))
                time.sleep(0.2)
        finally:
            admin.close()

    def produce(self, topic, records, compression, idempotent):
        # kafka-python 3 turns idempotence on by default; the plain rounds turn it off so
        # that they do not depend on InitProducerId (the idempotent round checks that).
        p = KafkaProducer(bootstrap_servers=self.bootstrap, acks="all", linger_ms=20,
                          compression_type=compression, enable_idempotence=bool(idempotent),
                          delivery_timeout_ms=cc.PHASE_DEADLINE_S * 1000,
                          request_timeout_ms=30_000)
        try:
            futures = [(i, p.send(topic, key=r.key, value=r.value, headers=r.headers,
                                  timestamp_ms=r.timestamp)) for i, r in records]
            p.flush(timeout=cc.PHASE_DEADLINE_S)
            delivered, errors = [], []
            for i, f in futures:
                check(f.is_done, "record %d not acknowledged within %ss" % (i, cc.PHASE_DEADLINE_S))
                if f.failed():
                    errors.append("record %d: %r" % (i, f.exception))
                else:
                    md = f.value
                    delivered.append((i, md.partition, md.offset))
            check(not errors, "delivery failed: %s" % "; ".join(errors[:5]))
            return delivered
        finally:
            p.close(timeout=5)

    def end_offsets(self, topic, partitions):
        res = self.consumer().end_offsets([TopicPartition(topic, p) for p in partitions],
                                          timeout_ms=cc.PHASE_DEADLINE_S * 1000)
        return {tp.partition: off for tp, off in res.items()}

    def offsets_for_times(self, topic, partitions, ts):
        res = self.consumer().offsets_for_times({TopicPartition(topic, p): ts for p in partitions},
                                                timeout_ms=cc.PHASE_DEADLINE_S * 1000)
        return {tp.partition: (None if ot is None else ot.offset) for tp, ot in res.items()}

    def read(self, topic, start, end):
        c = self.consumer()
        want = {p: end[p] - start[p] for p in start if end[p] > start[p]}
        got = {p: [] for p in start}
        if not want:
            return got
        tps = {p: TopicPartition(topic, p) for p in want}
        c.assign(list(tps.values()))
        for p, tp in tps.items():
            c.seek(tp, start[p])
        deadline = Deadline(what="reading %s" % topic)
        while any(len(got[p]) < n for p, n in want.items()):
            deadline.check("read %r of %r" % ({p: len(v) for p, v in got.items()}, want))
            for tp, msgs in c.poll(timeout_ms=500, max_records=500).items():
                for m in msgs:
                    check(m.timestamp_type == 0, "%s/%d@%d: timestamp type %d, expected CreateTime"
                          % (topic, m.partition, m.offset, m.timestamp_type))
                    got[m.partition].append(
                        (m.offset, Rec(m.key, m.value, list(m.headers), m.timestamp)))
        c.assign([])
        return got


if __name__ == "__main__":
    cc.main(Adapter, CLIENT)
