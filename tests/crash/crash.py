"""Crash suite: kill -9 `weir serve` under load, restart, repeat; SIGSTOP a group member
past its session timeout; then check the whole history (checker.py). See docs/testing.md.

Usage: crash.py --weir PATH [--cycles N] [--seed S] [--work DIR] [--flush fsync|page-cache]
                [--group-protocol classic|consumer] [--no-stop]

Load: two producers (confluent-kafka, acks=all), one idempotent and one not, write records
tagged (producer, sequence) to 3 partitions; two group members (member.py, own processes)
consume and commit; an observer polls the group's committed offsets. Each cycle runs the
load for a random while, kills the broker (SIGKILL, by PID: our own child) at that random
moment, restarts it on the same data dir and port, and reads every partition from its log
start. After the last cycle the producers drain, the broker restarts once more, and a final
read feeds the checker. Exit 0 only if the checker finds no anomaly.
"""

import argparse
import json
import logging
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import checker  # noqa: E402

TOPIC = "crash"
GROUP = "crash-group"
PARTITIONS = 3
SESSION_TIMEOUT_MS = 6000  # weir's (and Kafka's) group.min.session.timeout.ms
# With --group-protocol consumer the broker's group_consumer_session_timeout_ms applies:
# Kafka's default, 45 s, is also the least Kafka's bounds allow.
CONSUMER_SESSION_TIMEOUT_MS = 45_000
BROKER_START_TIMEOUT_S = 30
CLEAN_STOP_EVERY = 4  # every 4th cycle stops the broker cleanly instead of kill -9
SEGMENT_BYTES = 256 << 10  # small segments, so the load rolls them (producer snapshots)
# Per cycle, the load runs this long (uniformly random) before the kill.
LOAD_S = (1.0, 4.0)
# Records each producer sends per second (spread over the partitions).
RATE = 150
HERE = os.path.dirname(os.path.abspath(__file__))


def now():
    return time.monotonic()


# librdkafka's connection-refused chatter during restarts goes to the work dir's clients.log.
CLIENT_LOG = logging.getLogger("clients")
CLIENT_LOG.propagate = False


class History:
    """The event log, appended from several threads, one JSON object a line."""

    def __init__(self, path):
        self.path = path
        self.f = open(path, "w", buffering=1)
        self.lock = threading.Lock()

    def add(self, **e):
        with self.lock:
            self.f.write(json.dumps(e) + "\n")


def port_open(port):
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


class Broker:
    """`weir serve`, our child, on a fixed port after the first start."""

    def __init__(self, weir, data_dir, log_path, extra):
        self.weir, self.data_dir, self.log_path, self.extra = weir, data_dir, log_path, extra
        self.port = 0
        self.proc = None
        self.starts = 0

    def start(self):
        self.starts += 1
        log = open(self.log_path, "ab")
        log.write(b"\n==== start #%d\n" % self.starts)
        log.flush()
        cmd = [self.weir, "serve", "--listen", f"127.0.0.1:{self.port}", "--data-dir",
               self.data_dir, "--set", "group_initial_rebalance_delay_ms=0",
               "--set", "http_listen="] + self.extra
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=log, start_new_session=True)
        log.close()
        deadline = now() + BROKER_START_TIMEOUT_S
        line = b""
        # The first start learns its ephemeral port from the one line weir prints.
        while self.port == 0 and now() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                raise SystemExit(f"weir exited before listening (see {self.log_path})")
            if line.startswith(b"weir: listening on "):
                self.port = int(line.rsplit(b":", 1)[1])
        threading.Thread(target=self._drain, args=(self.proc,), daemon=True).start()
        while now() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"weir exited with {self.proc.returncode} (see {self.log_path})")
            if port_open(self.port):
                return
            time.sleep(0.02)
        raise SystemExit(f"weir did not listen within {BROKER_START_TIMEOUT_S}s")

    def _drain(self, proc):
        for _ in proc.stdout:
            pass

    def kill9(self):
        """SIGKILL our child by PID and reap it."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    @property
    def bootstrap(self):
        return f"127.0.0.1:{self.port}"


class Generator(threading.Thread):
    """One producer sending tagged records at RATE per second until stopped."""

    def __init__(self, name, idem, bootstrap, history):
        super().__init__(daemon=True)
        self.name_, self.idem, self.history = name, idem, history
        self.bootstrap = bootstrap
        self.seq = 0
        self.running = True
        self.outstanding = 0
        self.lock = threading.Lock()
        self.producer = self._new_producer()
        self.fatal = 0
        self.fatal_total = 0

    def _new_producer(self):
        return Producer({
            "bootstrap.servers": self.bootstrap,
            "acks": "all",
            "enable.idempotence": self.idem,
            "linger.ms": 5,
            "message.timeout.ms": 20000,
            "request.timeout.ms": 5000,
            "retry.backoff.ms": 50,
            "reconnect.backoff.ms": 50,
            "reconnect.backoff.max.ms": 500,
            "max.in.flight.requests.per.connection": 5,
            "compression.type": "none",
            "client.id": self.name_,
        }, logger=CLIENT_LOG)

    def _report(self, seq, partition):
        def cb(err, msg):
            with self.lock:
                self.outstanding -= 1
            if err is None:
                self.history.add(type="ack", producer=self.name_, seq=seq,
                                 partition=msg.partition(), offset=msg.offset(), t=now())
            elif err.code() == KafkaError._MSG_TIMED_OUT:
                self.history.add(type="timeout", producer=self.name_, seq=seq, t=now())
            else:
                if err.fatal():
                    self.fatal += 1
                    self.fatal_total += 1
                # A retriable error reported at delivery may still have been written.
                kind = "timeout" if err.retriable() or err.fatal() else "fail"
                self.history.add(type=kind, producer=self.name_, seq=seq, error=str(err), t=now())
        return cb

    def run(self):
        interval = 1.0 / RATE
        next_t = now()
        while self.running:
            if self.fatal:
                # The idempotent producer is fenced for good: start a new one (new id).
                self.producer.flush(25)
                self.producer = self._new_producer()
                self.fatal = 0
            seq = self.seq
            self.seq += 1
            partition = seq % PARTITIONS
            self.history.add(type="invoke", producer=self.name_, seq=seq, partition=partition,
                             idem=self.idem, t=now())
            with self.lock:
                self.outstanding += 1
            value = bytes.fromhex(checker.value_of(self.name_, seq))
            while True:
                try:
                    self.producer.produce(TOPIC, value=value, key=self.name_.encode(),
                                          partition=partition, on_delivery=self._report(seq, partition))
                    break
                except BufferError:
                    self.producer.poll(0.05)
                except KafkaException as e:
                    # Not enqueued: the producer hit a fatal error (counted as a problem).
                    with self.lock:
                        self.outstanding -= 1
                    self.history.add(type="fail", producer=self.name_, seq=seq, error=str(e),
                                     t=now())
                    self.fatal += 1
                    self.fatal_total += 1
                    break
            self.producer.poll(0)
            next_t += interval
            delay = next_t - now()
            if delay > 0:
                time.sleep(delay)
            else:
                next_t = now()

    def drain(self, timeout):
        self.running = False
        self.join()
        deadline = now() + timeout
        while now() < deadline and self.producer.flush(1) > 0:
            pass
        return self.producer.flush(0)


class Observer(threading.Thread):
    """Polls the group's committed offsets (OffsetFetch) and logs each answer."""

    def __init__(self, bootstrap, history):
        super().__init__(daemon=True)
        self.history = history
        self.running = True
        self.consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": GROUP,
                                  "enable.auto.commit": False, "client.id": "observer"},
                                 logger=CLIENT_LOG)

    def run(self):
        tps = [TopicPartition(TOPIC, p) for p in range(PARTITIONS)]
        while self.running:
            try:
                t0 = now()
                for tp in self.consumer.committed(tps, timeout=2):
                    if tp.error is None and tp.offset >= 0:
                        self.history.add(type="committed", partition=tp.partition,
                                         offset=tp.offset, t=t0)
            except Exception:  # the broker is down: nothing observed
                pass
            time.sleep(0.2)

    def stop(self):
        self.running = False
        self.join()
        self.consumer.close()


def read_all(bootstrap, cycle, history):
    """Reads every partition from its log start to its high watermark; logs each record."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "crash-reader",
                  "enable.auto.commit": False, "enable.partition.eof": True,
                  "fetch.max.bytes": 4 << 20, "client.id": f"reader-{cycle}"},
                 logger=CLIENT_LOG)
    total = 0
    try:
        for p in range(PARTITIONS):
            low, high = c.get_watermark_offsets(TopicPartition(TOPIC, p), timeout=10)
            if high <= low:
                continue
            c.assign([TopicPartition(TOPIC, p, low)])
            deadline = now() + 60
            last = low - 1
            while last < high - 1:
                if now() > deadline:
                    raise SystemExit(f"cycle {cycle}: reading partition {p} stalled at {last}")
                for m in c.consume(num_messages=1000, timeout=1):
                    if m.error() is not None:
                        if m.error().code() == KafkaError._PARTITION_EOF:
                            continue
                        raise SystemExit(f"cycle {cycle}: read error {m.error()}")
                    history.add(type="read", cycle=cycle, partition=p, offset=m.offset(),
                                key=(m.key() or b"").decode(), value=m.value().hex())
                    last = m.offset()
                    total += 1
                    if last >= high - 1:
                        break
            c.unassign()
    finally:
        c.close()
    return total


def create_topic(bootstrap):
    admin = AdminClient({"bootstrap.servers": bootstrap}, logger=CLIENT_LOG)
    fs = admin.create_topics([NewTopic(TOPIC, num_partitions=PARTITIONS, replication_factor=1)])
    for f in fs.values():
        f.result(20)


def start_member(bootstrap, name, work, group_protocol):
    log = os.path.join(work, f"{name}.jsonl")
    err = open(os.path.join(work, f"{name}.stderr"), "ab")
    proc = subprocess.Popen([sys.executable, os.path.join(HERE, "member.py"), bootstrap, GROUP,
                             TOPIC, name, log, str(SESSION_TIMEOUT_MS), group_protocol],
                            stdin=subprocess.DEVNULL, stdout=err, stderr=err)
    return proc, log


def wait_for(pred, timeout, step=0.1):
    deadline = now() + timeout
    while now() < deadline:
        if pred():
            return True
        time.sleep(step)
    return False


def member_events(path):
    try:
        return checker.load(path)
    except (OSError, json.JSONDecodeError):
        return []


def assigned(path):
    """The partitions one member last published (its file is stale while it is stopped)."""
    try:
        with open(path + ".assigned") as f:
            return set(json.load(f))
    except (OSError, ValueError):
        return set()


def owners(paths):
    """{partition: member} from the assignments the members publish."""
    own = {}
    for name, path in paths.items():
        try:
            with open(path + ".assigned") as f:
                for p in json.load(f):
                    own[p] = name
        except (OSError, ValueError):
            pass
    return own


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--weir", required=True)
    ap.add_argument("--cycles", type=int, default=int(os.environ.get("WEIR_CRASH_CYCLES", "20")))
    ap.add_argument("--seed", type=int, default=int(os.environ.get("WEIR_CRASH_SEED", "0")) or None)
    ap.add_argument("--work", default=None)
    ap.add_argument("--flush", choices=("fsync", "page-cache"), default="fsync")
    ap.add_argument("--no-stop", action="store_true", help="skip the SIGSTOP fault")
    ap.add_argument("--group-protocol", choices=("classic", "consumer"), default="classic",
                    help="the members' librdkafka group.protocol (consumer: KIP-848)")
    args = ap.parse_args()
    seed = args.seed or random.randrange(1, 1 << 30)
    rng = random.Random(seed)
    work = args.work or tempfile.mkdtemp(prefix="weir-crash-")
    os.makedirs(work, exist_ok=True)
    print(f"crash: seed {seed}, {args.cycles} cycles, flush {args.flush}, "
          f"group protocol {args.group_protocol}, work dir {work}", flush=True)
    session_ms = (SESSION_TIMEOUT_MS if args.group_protocol == "classic"
                  else CONSUMER_SESSION_TIMEOUT_MS)
    extra = ["--set", "log_flush_interval_ms=1000"] if args.flush == "page-cache" else []
    # Small segments: rolls (and their producer snapshots) happen under the load.
    extra += ["--set", f"segment_bytes={SEGMENT_BYTES}",
              "--set", f"max_message_bytes={SEGMENT_BYTES}"]
    handler = logging.FileHandler(os.path.join(work, "clients.log"))
    CLIENT_LOG.addHandler(handler)
    CLIENT_LOG.setLevel(logging.INFO)
    history = History(os.path.join(work, "history.jsonl"))
    broker = Broker(os.path.abspath(args.weir), os.path.join(work, "data"),
                    os.path.join(work, "weir.log"), extra)
    broker.start()
    create_topic(broker.bootstrap)
    gens = [Generator("idem", True, broker.bootstrap, history),
            Generator("plain", False, broker.bootstrap, history)]
    for g in gens:
        g.start()
    members = {}
    member_logs = {}
    for name in ("m1", "m2"):
        members[name], member_logs[name] = start_member(broker.bootstrap, name, work,
                                                        args.group_protocol)
    observer = Observer(broker.bootstrap, history)
    observer.start()
    started = now()
    cycle = 0
    problems = []
    try:
        for cycle in range(1, args.cycles + 1):
            time.sleep(rng.uniform(*LOAD_S))
            # Every CLEAN_STOP_EVERY-th cycle is a clean stop (SIGTERM: producer snapshots
            # at the log end, clean-shutdown markers); the others are kill -9.
            if cycle % CLEAN_STOP_EVERY == 0:
                history.add(type="fault", kind="stop", cycle=cycle, t=now())
                broker.stop()
            else:
                history.add(type="fault", kind="kill", cycle=cycle, t=now())
                broker.kill9()
            time.sleep(rng.uniform(0.0, 0.5))
            broker.start()
            n = read_all(broker.bootstrap, cycle, history)
            how = "stopped" if cycle % CLEAN_STOP_EVERY == 0 else "killed"
            print(f"crash: cycle {cycle}: {how} and restarted, read back {n} records, "
                  f"{sum(g.seq for g in gens)} sends so far", flush=True)
        if not args.no_stop:
            # Fault 5: a member stopped past its session timeout loses its partitions to
            # the other; resumed, it is fenced and rejoins.
            wait_for(lambda: len(owners(member_logs)) == PARTITIONS, 30)
            victim = owners(member_logs).get(0, "m1")
            other = "m2" if victim == "m1" else "m1"
            history.add(type="fault", kind="stop", member=victim, t=now())
            os.kill(members[victim].pid, signal.SIGSTOP)
            took = now()
            # The stopped member cannot update its published assignment: judge by the
            # other's alone (owners() would let the victim's stale file win for m2).
            moved = wait_for(lambda: assigned(member_logs[other]) == set(range(PARTITIONS)),
                             session_ms / 1000 * 4)
            if not moved:
                problems.append(f"SIGSTOP: {other} did not get {victim}'s partitions within "
                                f"{session_ms * 4} ms")
            else:
                print(f"crash: SIGSTOP {victim}: group rebalanced to {other} in "
                      f"{now() - took:.1f}s", flush=True)
            time.sleep(2)
            history.add(type="fault", kind="cont", member=victim, t=now())
            os.kill(members[victim].pid, signal.SIGCONT)
            # Back when its own assignment is non-empty and no longer overlaps the other's
            # (its stale one, from before the stop, overlaps until it learns it was fenced).
            rejoined = wait_for(
                lambda: assigned(member_logs[victim])
                and not assigned(member_logs[victim]) & assigned(member_logs[other]), 40)
            print(f"crash: SIGCONT {victim}: " + ("rejoined and got partitions back"
                  if rejoined else "did not get partitions back"), flush=True)
            if not rejoined:
                problems.append(f"SIGCONT: {victim} did not rejoin the group")
            time.sleep(2)
        for g in gens:
            left = g.drain(30)
            if left:
                print(f"crash: {g.name_}: {left} sends still outstanding", flush=True)
        # Let the members consume everything and commit.
        time.sleep(3)
        observer.stop()
        for m in members.values():
            m.send_signal(signal.SIGTERM)
        for m in members.values():
            try:
                m.wait(30)
            except subprocess.TimeoutExpired:
                m.kill()
        broker.kill9()
        broker.start()
        cycle += 1
        n = read_all(broker.bootstrap, cycle, history)
        print(f"crash: final read after the last restart: {n} records", flush=True)
    finally:
        broker.stop()
        for m in members.values():
            if m.poll() is None:
                m.kill()
    events = checker.load(history.path)
    for path in member_logs.values():
        events.extend(member_events(path))
    anomalies = checker.check(events, final_cycle=cycle)
    print(f"crash: {args.cycles} kill -9 / clean-stop cycles in {now() - started:.0f}s "
          f"({broker.starts} broker starts)")
    print(checker.summary(events, anomalies))
    for a in anomalies[:50]:
        print("crash: ANOMALY " + json.dumps(a))
    for p in problems:
        print("crash: PROBLEM " + p)
    for g in gens:
        if g.fatal_total:
            problems.append(f"producer {g.name_} hit {g.fatal_total} fatal error(s) "
                            "(see clients.log)")
    acked = sum(1 for e in events if e["type"] == "ack")
    if acked == 0:
        problems.append("no send was acknowledged: the load did not run")
    if anomalies or problems:
        print(f"crash: FAILED (work dir kept: {work})")
        return 1
    print("crash: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
