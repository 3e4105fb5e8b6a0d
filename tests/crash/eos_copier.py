"""The exactly-once workload's copier (eos.py), run as its own process so that it lives on
while the broker is killed: a consume-transform-produce loop with confluent-kafka. It reads
the input topic read_committed in a group, and for every batch writes each record's copy to
the same partition of the output topic and the group's next positions in one transaction
(`send_offsets_to_transaction`), then commits. A failed transaction is aborted and the
consumer rewound to the group's committed positions; a fenced or fatally failed producer is
replaced (its InitProducerId aborts what the old one left open). Every transaction's outcome
is logged as a JSON line. Exits 0 once the group's committed positions reach the input's end.

Usage: eos_copier.py BOOTSTRAP INPUT OUTPUT GROUP TRANSACTIONAL_ID LOG_PATH INPUT_ENDS_JSON
"""

import faulthandler
import json
import signal
import sys
import threading
import time

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition

bootstrap, src, dst, group, txn_id, log_path, ends_json = sys.argv[1:8]
ends = {int(p): int(o) for p, o in json.loads(ends_json).items()}
out = open(log_path, "a", buffering=1)
# The harness asks for a traceback (SIGUSR1) when the copier stops making progress.
faulthandler.register(signal.SIGUSR1, file=sys.stderr)
BATCH = 20
# A pause after each commit, so the copy spans the harness's kill cycles.
PACE_S = 0.03
CALL_TIMEOUT_S = 10
# A transaction's calls that have not returned after this long are abandoned (see below).
HUNG_S = 30
DEADLINE_S = 600


def now():
    return time.monotonic()


def log(**e):
    out.write(json.dumps(e) + "\n")


def new_producer():
    p = Producer({
        "bootstrap.servers": bootstrap,
        "transactional.id": txn_id,
        "transaction.timeout.ms": 10000,
        "socket.timeout.ms": 10000,
        "linger.ms": 5,
        "reconnect.backoff.ms": 50,
        "reconnect.backoff.max.ms": 500,
        "client.id": "eos-copier",
    })
    while True:
        try:
            p.init_transactions(CALL_TIMEOUT_S)
            log(type="init", t=now())
            return p
        except KafkaException as e:
            log(type="init-retry", error=str(e), t=now())
            time.sleep(0.2)


consumer = Consumer({
    "bootstrap.servers": bootstrap,
    "group.id": group,
    "client.id": "eos-copier",
    "enable.auto.commit": False,
    "auto.offset.reset": "earliest",
    "isolation.level": "read_committed",
    "reconnect.backoff.ms": 50,
    "reconnect.backoff.max.ms": 500,
})
parts = [TopicPartition(src, p) for p in sorted(ends)]
consumer.assign(parts)


def rewind():
    """Seeks every partition to the group's committed position (the start if none)."""
    while True:
        try:
            committed = consumer.committed(parts, timeout=CALL_TIMEOUT_S)
            break
        except KafkaException as e:
            log(type="rewind-retry", error=str(e), t=now())
            time.sleep(0.2)
    for tp in committed:
        offset = tp.offset if tp.offset >= 0 else 0
        consumer.seek(TopicPartition(src, tp.partition, offset))
    return {tp.partition: tp.offset for tp in committed}


def done():
    try:
        committed = consumer.committed(parts, timeout=CALL_TIMEOUT_S)
    except KafkaException:
        return False
    return all(tp.offset >= ends[tp.partition] for tp in committed)


producer = new_producer()
rewind()
started = now()
idle_since = now()
while now() - started < DEADLINE_S:
    msgs = [m for m in consumer.consume(num_messages=BATCH, timeout=0.5)
            if m.error() is None or m.error().code() != KafkaError._PARTITION_EOF]
    errors = [m for m in msgs if m.error() is not None]
    msgs = [m for m in msgs if m.error() is None]
    if errors:
        log(type="consume-error", error=str(errors[0].error()), t=now())
    if not msgs:
        if now() - idle_since > 1.0:
            idle_since = now()
            if done():
                log(type="done", t=now())
                sys.exit(0)
        continue
    idle_since = now()
    positions = {}
    for m in msgs:
        positions[m.partition()] = m.offset() + 1
    # librdkafka 2.16's send_offsets_to_transaction can hang past its timeout when the
    # broker restarts between its AddOffsetsToTxn and its group coordinator lookup (seen
    # here: the TxnOffsetCommit is never sent). The transaction runs on a worker thread; one
    # that hangs is abandoned with its producer, and a new producer with the same
    # transactional id fences it and aborts what it left open: the zombie-fencing path
    # exactly-once relies on.
    outcome = {}

    def transaction(p=producer, msgs=msgs, positions=positions, outcome=outcome):
        try:
            p.begin_transaction()
            for m in msgs:
                p.produce(dst, key=m.key(), value=b"copy-of-" + m.value(),
                          partition=m.partition())
            offsets = [TopicPartition(src, q, o) for q, o in sorted(positions.items())]
            p.send_offsets_to_transaction(offsets, consumer.consumer_group_metadata(),
                                          CALL_TIMEOUT_S)
            p.commit_transaction(CALL_TIMEOUT_S)
            outcome["ok"] = True
        except KafkaException as e:
            outcome["error"] = e

    worker = threading.Thread(target=transaction, daemon=True)
    worker.start()
    worker.join(HUNG_S)
    if worker.is_alive():
        log(type="hung", positions=positions, t=now())
        producer = new_producer()
        log(type="rewind", committed=rewind(), t=now())
        continue
    try:
        if "error" in outcome:
            raise outcome["error"]
        log(type="commit", positions=positions, records=len(msgs), t=now())
        time.sleep(PACE_S)
    except KafkaException as e:
        err = e.args[0] if e.args else None
        log(type="txn-error", error=str(e), positions=positions, t=now())
        fatal = isinstance(err, KafkaError) and err.fatal()
        if fatal:
            producer = new_producer()
        else:
            try:
                producer.abort_transaction(CALL_TIMEOUT_S)
                log(type="abort", positions=positions, t=now())
            except KafkaException as e2:
                log(type="abort-error", error=str(e2), t=now())
                producer = new_producer()
        log(type="rewind", committed=rewind(), t=now())
log(type="deadline", t=now())
sys.exit(1)
