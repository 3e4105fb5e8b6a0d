"""The crash suite's exactly-once workload (issue #14): a transactional copier
(eos_copier.py, its own process) copies an input topic into an output topic in
consume-transform-produce transactions while the broker is killed with SIGKILL and restarted
again and again; a sampler reads every output partition's last stable offset (ListOffsets,
read_committed) all along. At the end a read_committed reader reads the output and the
checker (eos_checker.py) requires every input record exactly once, no aborted record, the
group's committed positions equal to what the output holds, and no LSO going backwards.

Usage: eos.py --weir PATH [--cycles N] [--seed S] [--records N] [--work DIR]
"""

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time

from confluent_kafka import Consumer, IsolationLevel, KafkaException, Producer
from confluent_kafka import TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic, OffsetSpec

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import eos_checker  # noqa: E402
from crash import CLIENT_LOG, Broker, now, wait_for  # noqa: E402

SRC, DST, GROUP, TXN_ID = "eos-in", "eos-out", "eos-copier", "eos-copier-0"
PARTITIONS = 3
# Per cycle, the copier runs this long (uniformly random) before the kill.
RUN_S = (0.5, 2.0)
COPY_DEADLINE_S = 180
HERE = os.path.dirname(os.path.abspath(__file__))


def create_topics(bootstrap):
    admin = AdminClient({"bootstrap.servers": bootstrap}, logger=CLIENT_LOG)
    fs = admin.create_topics([NewTopic(t, PARTITIONS, 1) for t in (SRC, DST)])
    for f in fs.values():
        f.result(30)


def write_input(bootstrap, records):
    """The input: `records` values spread over the partitions, every one acknowledged."""
    p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 5,
                  "enable.idempotence": True}, logger=CLIENT_LOG)
    failed = []
    for i in range(records):
        p.produce(SRC, key=b"k%d" % i, value=b"in-%06d" % i, partition=i % PARTITIONS,
                  on_delivery=lambda err, msg: failed.append(err) if err else None)
        p.poll(0)
    left = p.flush(60)
    if left or failed:
        raise SystemExit(f"eos: input not written ({left} left, {len(failed)} failed)")
    return {p_: [b"in-%06d" % i for i in range(records) if i % PARTITIONS == p_]
            for p_ in range(PARTITIONS)}


def read_committed(bootstrap, topic, ends):
    """Every partition of `topic` read read_committed up to `ends` (the LSO)."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "eos-reader",
                  "enable.auto.commit": False, "isolation.level": "read_committed"},
                 logger=CLIENT_LOG)
    out = {p: [] for p in range(PARTITIONS)}
    c.assign([TopicPartition(topic, p, 0) for p in range(PARTITIONS)])
    deadline = now() + 60
    pos = {p: 0 for p in range(PARTITIONS)}
    while any(pos[p] < ends[p] for p in pos) and now() < deadline:
        for m in c.consume(num_messages=1000, timeout=0.5):
            if m.error() is not None:
                continue
            out[m.partition()].append(m.value())
            pos[m.partition()] = m.offset() + 1
        # Markers take offsets too: a partition is read once its position passes them.
        for p in pos:
            tp = c.position([TopicPartition(topic, p)])[0]
            if tp.offset >= 0:
                pos[p] = max(pos[p], tp.offset)
    c.close()
    return out


def lso(admin, topic):
    req = {TopicPartition(topic, p): OffsetSpec.latest() for p in range(PARTITIONS)}
    fs = admin.list_offsets(req, isolation_level=IsolationLevel.READ_COMMITTED,
                            request_timeout=5)
    return {tp.partition: f.result(5).offset for tp, f in fs.items()}


class Sampler(threading.Thread):
    """Samples every output partition's last stable offset until stopped."""

    def __init__(self, broker):
        super().__init__(daemon=True)
        self.broker = broker
        self.samples = {p: [] for p in range(PARTITIONS)}
        self.running = True

    def run(self):
        admin = AdminClient({"bootstrap.servers": self.broker.bootstrap,
                             "reconnect.backoff.ms": 50, "reconnect.backoff.max.ms": 500},
                            logger=CLIENT_LOG)
        while self.running:
            try:
                for p, o in lso(admin, DST).items():
                    # A partition answered with an error has no offset (-1001).
                    if o >= 0:
                        self.samples[p].append(o)
            except KafkaException:
                pass
            except Exception:  # noqa: BLE001 - a future may fail in other ways mid-restart
                pass
            time.sleep(0.1)

    def stop(self):
        self.running = False
        self.join(10)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weir", required=True)
    ap.add_argument("--cycles", type=int, default=int(os.environ.get("WEIR_EOS_CYCLES", "10")))
    ap.add_argument("--records", type=int, default=4000)
    ap.add_argument("--seed", type=int, default=random.randrange(1 << 30))
    ap.add_argument("--work")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    work = args.work or tempfile.mkdtemp(prefix="weir-eos-")
    print(f"eos: seed {args.seed}, {args.cycles} cycles, {args.records} records, work {work}",
          flush=True)
    broker = Broker(args.weir, os.path.join(work, "data"), os.path.join(work, "weir.log"),
                    ["--set", "transaction_abort_timed_out_transaction_cleanup_interval_ms=500"])
    broker.start()
    copier = None
    started = now()
    try:
        create_topics(broker.bootstrap)
        inputs = write_input(broker.bootstrap, args.records)
        ends = {p: len(v) for p, v in inputs.items()}
        copier_log = os.path.join(work, "copier.log")
        copier = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "eos_copier.py"), broker.bootstrap, SRC, DST,
             GROUP, TXN_ID, copier_log, json.dumps(ends)],
            stdin=subprocess.DEVNULL, stderr=open(os.path.join(work, "copier.err"), "wb"))
        sampler = Sampler(broker)
        sampler.start()
        for cycle in range(1, args.cycles + 1):
            time.sleep(rng.uniform(*RUN_S))
            broker.kill9()
            time.sleep(rng.uniform(0.0, 0.3))
            broker.start()
            print(f"eos: cycle {cycle}: killed and restarted", flush=True)
        finished = wait_for(lambda: copier.poll() is not None, COPY_DEADLINE_S, step=0.2)
        sampler.stop()
        if not finished:
            copier.send_signal(signal.SIGUSR1)
            time.sleep(1)
        if not finished or copier.returncode != 0:
            print(f"eos: FAILED: the copier did not finish (status {copier.poll()}); "
                  f"see {copier_log}")
            return 1
        # One more crash and restart before the final read.
        broker.kill9()
        broker.start()
        admin = AdminClient({"bootstrap.servers": broker.bootstrap}, logger=CLIENT_LOG)
        out_ends = lso(admin, DST)
        outputs = read_committed(broker.bootstrap, DST, out_ends)
        c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": GROUP},
                     logger=CLIENT_LOG)
        committed = {tp.partition: (tp.offset if tp.offset >= 0 else None) for tp in
                     c.committed([TopicPartition(SRC, p) for p in range(PARTITIONS)], 30)}
        c.close()
        events = [json.loads(line) for line in open(copier_log)]
    finally:
        broker.stop()
        if copier is not None and copier.poll() is None:
            copier.kill()
    anomalies = eos_checker.check(inputs, outputs, committed, sampler.samples)
    commits = sum(1 for e in events if e["type"] == "commit")
    aborts = sum(1 for e in events if e["type"] in ("abort", "txn-error", "hung"))
    samples = sum(len(s) for s in sampler.samples.values())
    print(f"eos: {args.cycles} kill -9 cycles in {now() - started:.0f}s; {commits} transactions "
          f"committed, {aborts} failed, aborted or abandoned; {sum(map(len, outputs.values()))} copies "
          f"read read_committed; {samples} LSO samples")
    for a in anomalies[:20]:
        print("eos: ANOMALY " + json.dumps(a))
    if anomalies:
        print(f"eos: FAILED (work dir kept: {work})")
        return 1
    print("eos: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
