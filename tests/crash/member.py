"""One consumer-group member of the crash suite, run as its own process (so the harness can
SIGSTOP it). It consumes, commits synchronously after every batch (and on revocation), and
logs every assignment, revocation, record and commit as a JSON line for the checker.

Usage: member.py BOOTSTRAP GROUP TOPIC NAME LOG_PATH SESSION_TIMEOUT_MS [GROUP_PROTOCOL]
GROUP_PROTOCOL is librdkafka's `group.protocol`, `classic` (the default) or `consumer`
(KIP-848: the broker owns the session timeout, heartbeat interval and assignment, and
librdkafka refuses those classic settings, so SESSION_TIMEOUT_MS is then unused).
Runs until SIGTERM.
"""

import json
import os
import signal
import sys
import time

from confluent_kafka import Consumer, KafkaException, TopicPartition

bootstrap, group, topic, name, log_path, session_ms = sys.argv[1:7]
group_protocol = sys.argv[7] if len(sys.argv) > 7 else "classic"
out = open(log_path, "a", buffering=1)
running = True


def now():
    return time.monotonic()


def log(**e):
    out.write(json.dumps(e) + "\n")


def stop(*_):
    global running
    running = False


signal.signal(signal.SIGTERM, stop)

conf = {
    "bootstrap.servers": bootstrap,
    "group.id": group,
    "client.id": name,
    "enable.auto.commit": False,
    "auto.offset.reset": "earliest",
    "max.poll.interval.ms": 300000,
    "reconnect.backoff.ms": 50,
    "reconnect.backoff.max.ms": 500,
}
if group_protocol == "classic":
    conf.update({
        "session.timeout.ms": int(session_ms),
        "heartbeat.interval.ms": 1000,
        "partition.assignment.strategy": "range",
    })
else:
    conf["group.protocol"] = group_protocol
consumer = Consumer(conf)
positions = {}
state_path = log_path + ".assigned"


def publish_assignment():
    """The current assignment, for the harness (rewritten atomically)."""
    tmp = state_path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(sorted(owned), f)
    os.replace(tmp, state_path)


owned = set()


def commit(offsets):
    """Commits {partition: next offset}; logs each with its outcome."""
    if not offsets:
        return
    tps = [TopicPartition(topic, p, o) for p, o in offsets.items()]
    t0 = now()
    status, error = "ok", None
    try:
        result = consumer.commit(offsets=tps, asynchronous=False)
        for tp in result or []:
            if tp.error is not None:
                status, error = "fail", str(tp.error)
    except KafkaException as e:
        err = e.args[0]
        # A definite refusal (the broker answered with an error) versus an unknown outcome.
        retriable = getattr(err, "retriable", lambda: True)()
        status = "unknown" if retriable or err.code() < 0 else "fail"
        error = str(err)
    t1 = now()
    for p, o in offsets.items():
        log(type="commit", member=name, partition=p, offset=o, status=status, t0=t0, t1=t1,
            error=error)


def on_assign(c, parts):
    t = now()
    for tp in parts:
        log(type="assign", member=name, partition=tp.partition, t=t)
        owned.add(tp.partition)
    publish_assignment()


def on_revoke(c, parts):
    mine = {tp.partition: positions[tp.partition] for tp in parts if tp.partition in positions}
    commit(mine)
    t = now()
    for tp in parts:
        positions.pop(tp.partition, None)
        log(type="revoke", member=name, partition=tp.partition, t=t)
        owned.discard(tp.partition)
    publish_assignment()


def on_lost(c, parts):
    t = now()
    for tp in parts:
        positions.pop(tp.partition, None)
        log(type="revoke", member=name, partition=tp.partition, t=t, lost=True)
        owned.discard(tp.partition)
    publish_assignment()


consumer.subscribe([topic], on_assign=on_assign, on_revoke=on_revoke, on_lost=on_lost)
while running:
    msgs = consumer.consume(num_messages=200, timeout=0.3)
    batch = {}
    for m in msgs:
        if m.error() is not None:
            continue
        t = now()
        log(type="consume", member=name, partition=m.partition(), offset=m.offset(), t=t)
        batch[m.partition()] = m.offset() + 1
    positions.update(batch)
    commit(batch)
consumer.close()
out.close()
