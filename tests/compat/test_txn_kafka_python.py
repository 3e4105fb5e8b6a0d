"""Transaction scenario for kafka-python. Phases: see txn_common.py.

kafka-python's transactional calls (`init_transactions` excepted) wait without a deadline; each
runs here on a helper thread that is given TXN_CALL_TIMEOUT_S, so a broker that never answers
fails the phase instead of hanging it.
"""

import threading

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka import errors as Errors
from kafka.structs import OffsetAndMetadata

import compat_common as cc
import txn_common
from test_kafka_python import Adapter as Base

CLIENT = "kafka-python-txn"
TXN_CALL_TIMEOUT_S = 30
REQUEST_TIMEOUT_MS = 30_000


def bounded(fn, what):
    """fn() on a helper thread, waited for at most TXN_CALL_TIMEOUT_S; its exception re-raised."""
    out = {}

    def run():
        try:
            out["value"] = fn()
        except BaseException as e:  # noqa: BLE001 - handed to the caller
            out["error"] = e

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(TXN_CALL_TIMEOUT_S)
    if t.is_alive():
        raise cc.CheckFailed("%s did not finish within %ss" % (what, TXN_CALL_TIMEOUT_S))
    if "error" in out:
        raise out["error"]
    return out.get("value")


class TxnProducer:
    def __init__(self, bootstrap, txn_id, timeout_ms):
        conf = dict(bootstrap_servers=bootstrap, transactional_id=txn_id, linger_ms=5,
                    request_timeout_ms=REQUEST_TIMEOUT_MS,
                    max_block_ms=TXN_CALL_TIMEOUT_S * 1000)
        if timeout_ms is not None:
            conf["transaction_timeout_ms"] = timeout_ms
        self.p = KafkaProducer(**conf)
        self.futures = []
        self.p.init_transactions()

    def begin(self):
        self.p.begin_transaction()

    def send(self, topic, partition, value):
        self.futures.append(self.p.send(topic, value=value, partition=partition))

    def flush(self):
        self.p.flush(timeout=TXN_CALL_TIMEOUT_S)
        futures, self.futures = self.futures, []
        for f in futures:
            cc.check(f.is_done, "a transactional record was not acknowledged within %ss"
                     % TXN_CALL_TIMEOUT_S)
            if f.failed():
                raise f.exception

    def send_offsets(self, member, offsets):
        tps = {TopicPartition(t, p): OffsetAndMetadata(o, "", -1)
               for (t, p), o in offsets.items()}
        meta = member.c.group_metadata()
        bounded(lambda: self.p.send_offsets_to_transaction(tps, meta),
                "send_offsets_to_transaction")

    def commit(self):
        bounded(self.p.commit_transaction, "commit_transaction")
        self.futures = []

    def abort(self):
        bounded(self.p.abort_transaction, "abort_transaction")
        self.futures = []

    def close(self):
        self.p.close(timeout=5)


class Member:
    def __init__(self, bootstrap, group, t):
        self.c = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group,
                               enable_auto_commit=False, auto_offset_reset="earliest",
                               isolation_level="read_committed",
                               request_timeout_ms=REQUEST_TIMEOUT_MS)
        self.c.subscribe([t])

    def poll(self, n):
        out = []
        for _tp, msgs in self.c.poll(timeout_ms=1000, max_records=n).items():
            out.extend((m.offset, m.value) for m in msgs)
        return sorted(out)

    def seek(self, t, partition, offset):
        self.c.seek(TopicPartition(t, partition), offset)

    def committed(self, t, partition):
        return self.c.committed(TopicPartition(t, partition), timeout_ms=10_000)

    def close(self):
        self.c.close()


class Adapter(Base):
    name = CLIENT

    def txn_producer(self, txn_id, timeout_ms=None):
        return TxnProducer(self.bootstrap, txn_id, timeout_ms)

    _plain = None

    def plain_send(self, t, partition, value):
        """One non-transactional record, acknowledged (acks=all) before this returns."""
        if self._plain is None:
            self._plain = KafkaProducer(bootstrap_servers=self.bootstrap, acks="all",
                                        enable_idempotence=False,
                                        request_timeout_ms=REQUEST_TIMEOUT_MS)
        self._plain.send(t, value=value, partition=partition).get(timeout=cc.PHASE_DEADLINE_S)

    def close(self):
        if self._plain is not None:
            self._plain.close(timeout=5)
        super().close()

    def group_member(self, group, t):
        return Member(self.bootstrap, group, t)

    def _read(self, t, partition, isolation, until, seconds):
        c = KafkaConsumer(bootstrap_servers=self.bootstrap, group_id=None,
                          enable_auto_commit=False, auto_offset_reset="earliest",
                          isolation_level=isolation, request_timeout_ms=REQUEST_TIMEOUT_MS)
        tp = TopicPartition(t, partition)
        c.assign([tp])
        c.seek(tp, 0)

        def batch():
            return [m.value for m in c.poll(timeout_ms=300, max_records=500).get(tp, [])]

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
        return isinstance(e, (Errors.ProducerFencedError, Errors.InvalidProducerEpochError))

    def is_aborted(self, e):
        return isinstance(e, (Errors.InvalidTxnStateError, Errors.TransactionAbortedError,
                              Errors.InvalidProducerIdMappingError))


if __name__ == "__main__":
    txn_common.main(Adapter, CLIENT)
