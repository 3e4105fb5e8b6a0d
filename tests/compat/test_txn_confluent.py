"""Transaction scenario for confluent-kafka (librdkafka). Phases: see txn_common.py."""

import uuid

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition

import compat_common as cc
import txn_common
from test_confluent import Adapter as Base

CLIENT = "confluent-txn"
TXN_CALL_TIMEOUT_S = 30


class TxnProducer:
    def __init__(self, base, txn_id, timeout_ms):
        conf = dict(base, **{"transactional.id": txn_id, "linger.ms": 5})
        if timeout_ms is not None:
            conf["transaction.timeout.ms"] = timeout_ms
            # librdkafka requires socket.timeout.ms <= transaction.timeout.ms + 100.
            conf["socket.timeout.ms"] = min(conf["socket.timeout.ms"], timeout_ms)
        self.p = Producer(conf)
        self.errors = []
        self.p.init_transactions(TXN_CALL_TIMEOUT_S)

    def begin(self):
        self.p.begin_transaction()

    def _delivered(self, err, msg):
        if err is not None:
            self.errors.append(err)

    def send(self, topic, partition, value):
        self.p.produce(topic, value=value, partition=partition, on_delivery=self._delivered)
        self.p.poll(0)

    def flush(self):
        self.p.flush(TXN_CALL_TIMEOUT_S)
        if self.errors:
            raise KafkaException(self.errors[0])

    def send_offsets(self, member, offsets):
        tps = [TopicPartition(t, p, o) for (t, p), o in offsets.items()]
        self.p.send_offsets_to_transaction(tps, member.c.consumer_group_metadata(),
                                           TXN_CALL_TIMEOUT_S)

    def commit(self):
        self.p.commit_transaction(TXN_CALL_TIMEOUT_S)

    def abort(self):
        self.p.abort_transaction(TXN_CALL_TIMEOUT_S)

    def close(self):
        try:
            self.p.flush(1)
        except KafkaException as e:
            # A producer fenced or timed out by the coordinator is in a fatal state, where
            # flush raises that error again: it was checked where the phase expected it.
            if not e.args[0].fatal():
                raise


class Member:
    def __init__(self, base, group, t):
        self.c = Consumer(dict(base, **{
            "group.id": group,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "isolation.level": "read_committed",
        }))
        self.c.subscribe([t])

    def poll(self, n):
        out = []
        for m in self.c.consume(num_messages=n, timeout=1.0):
            if m.error() is not None:
                if m.error().code() == KafkaError._PARTITION_EOF:
                    continue
                raise KafkaException(m.error())
            out.append((m.offset(), m.value()))
        return out

    def seek(self, t, partition, offset):
        self.c.seek(TopicPartition(t, partition, offset))

    def committed(self, t, partition):
        return self.c.committed([TopicPartition(t, partition)], timeout=10)[0].offset

    def close(self):
        self.c.close()


class Adapter(Base):
    name = CLIENT

    def txn_producer(self, txn_id, timeout_ms=None):
        return TxnProducer(self.base, txn_id, timeout_ms)

    def plain_send(self, t, partition, value):
        p = Producer(dict(self.base, **{"acks": "all"}))
        p.produce(t, value=value, partition=partition)
        check_left = p.flush(cc.PHASE_DEADLINE_S)
        cc.check(check_left == 0, "plain produce to %s not delivered" % t)

    def group_member(self, group, t):
        return Member(self.base, group, t)

    def _reader(self, t, partition, isolation):
        c = Consumer(dict(self.base, **{
            "group.id": "weir-compat-txn-reader-%s" % uuid.uuid4().hex[:8],
            "enable.auto.commit": False,
            "isolation.level": isolation,
            "enable.partition.eof": False,
        }))
        c.assign([TopicPartition(t, partition, 0)])
        return c

    def _read(self, t, partition, isolation, until, seconds):
        c = self._reader(t, partition, isolation)

        def batch():
            out = []
            for m in c.consume(num_messages=500, timeout=0.3):
                if m.error() is not None:
                    raise KafkaException(m.error())
                out.append(m.value())
            return out

        try:
            return txn_common.poll_values(batch, until, seconds,
                                          "%s %s/%d" % (isolation, t, partition))
        finally:
            c.close()

    def read_until(self, t, partition, isolation, until, seconds=cc.PHASE_DEADLINE_S):
        return self._read(t, partition, isolation, until, seconds)

    def read_for(self, t, partition, isolation, seconds):
        return self._read(t, partition, isolation, None, seconds)

    def is_fenced(self, e):
        err = e.args[0] if e.args else None
        return isinstance(err, KafkaError) and err.code() in (
            KafkaError._FENCED, KafkaError.PRODUCER_FENCED, KafkaError.INVALID_PRODUCER_EPOCH)

    def is_aborted(self, e):
        err = e.args[0] if e.args else None
        return isinstance(err, KafkaError) and (err.txn_requires_abort() or err.code() in (
            KafkaError.INVALID_TXN_STATE, KafkaError.INVALID_PRODUCER_ID_MAPPING))


if __name__ == "__main__":
    txn_common.main(Adapter, CLIENT)
