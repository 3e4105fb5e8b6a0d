"""Join time of a 2-member group, classic protocol beside KIP-848's consumer protocol, measured
the same way (run by hand, not in CI):

    tests/compat/.venv/bin/python tests/compat/bench_join.py --weir target/release/weir [--runs 7]

It starts its own `weir serve` (free port, fresh data dir, `group_initial_rebalance_delay_ms=0`),
creates a 4-partition topic, and per run and protocol makes a fresh group of two confluent-kafka
(librdkafka 2.16) consumers: the clock starts just before the first `subscribe` and stops when
both members' assignments are non-empty, disjoint and cover the 4 partitions, polling both in
turn every 10 ms (what groups_common.settle checks, at a finer step). The members then close
(leave the group) before the next run. Each configuration prints every run, the median and the
spread (min..max).

Configurations: `classic` with librdkafka's defaults (heartbeat.interval.ms 3000), `classic-hb300`
with heartbeat.interval.ms 300 (what tests/compat's group scenario uses), and `consumer`
(group.protocol=consumer; the heartbeat interval is the broker's
group_consumer_heartbeat_interval_ms, 5,000 ms by default, and Kafka's bounds keep it at 5,000 ms
or more).
"""

import argparse
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

from confluent_kafka import Consumer
from confluent_kafka.admin import AdminClient, NewTopic

PARTITIONS = 4
BROKER_START_TIMEOUT_S = 30
JOIN_DEADLINE_S = 60  # one run's join; a run past it fails the benchmark
POLL_S = 0.01

CONFIGS = {
    "classic": {},
    "classic-hb300": {"heartbeat.interval.ms": 300},
    "consumer": {"group.protocol": "consumer"},
}


def start_broker(weir, data_dir, log_path):
    log = open(log_path, "ab")
    proc = subprocess.Popen([weir, "serve", "--listen", "127.0.0.1:0", "--data-dir", data_dir,
                             "--set", "group_initial_rebalance_delay_ms=0",
                             "--set", "http_listen="],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log,
                            start_new_session=True)
    deadline = time.monotonic() + BROKER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        line = proc.stdout.readline().decode("utf-8", "replace")
        if not line:
            break
        m = re.match(r"weir: listening on (\S+)", line)
        if m:
            # Keep draining its stdout so the broker never blocks on a full pipe.
            threading.Thread(target=lambda: proc.stdout.read(), daemon=True).start()
            return proc, m.group(1)
    proc.kill()
    sys.exit("bench_join: the broker did not report its address (log: %s)" % log_path)


def one_join(bootstrap, topic, group, extra):
    base = {"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False,
            "auto.offset.reset": "earliest"}
    members = [Consumer(dict(base, **extra, **{"client.id": "m%d" % i})) for i in (1, 2)]
    try:
        started = time.monotonic()
        for c in members:
            c.subscribe([topic])
        while True:
            for c in members:
                c.poll(POLL_S)
            sets = [{tp.partition for tp in c.assignment()} for c in members]
            if all(sets) and not (sets[0] & sets[1]) and len(sets[0] | sets[1]) == PARTITIONS:
                return (time.monotonic() - started) * 1000
            if time.monotonic() - started > JOIN_DEADLINE_S:
                sys.exit("bench_join: %s did not settle within %ds: %s"
                         % (group, JOIN_DEADLINE_S, sets))
    finally:
        for c in members:
            c.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--weir", required=True)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--only", help="comma-separated configurations (%s)" % ", ".join(CONFIGS))
    args = ap.parse_args()
    configs = [c for c in (args.only or ",".join(CONFIGS)).split(",") if c]
    work = tempfile.mkdtemp(prefix="weir-bench-join-")
    proc, bootstrap = start_broker(os.path.abspath(args.weir), os.path.join(work, "data"),
                                   os.path.join(work, "broker.log"))
    try:
        topic = "bench-join"
        admin = AdminClient({"bootstrap.servers": bootstrap})  # alive until the topic exists
        fs = admin.create_topics([NewTopic(topic, PARTITIONS, 1)])
        fs[topic].result(30)
        results = {c: [] for c in configs}
        # Interleaved, so a slow moment of the shared machine hits every configuration.
        for run in range(args.runs):
            for c in configs:
                ms = one_join(bootstrap, topic, "bench-%s-%d" % (c, run), CONFIGS[c])
                results[c].append(ms)
                print("run %d %-14s %7.0f ms" % (run + 1, c, ms), flush=True)
        print()
        for c in configs:
            xs = results[c]
            print("figure: %-14s 2-member join, %d runs: median %.0f ms, min %.0f, max %.0f"
                  % (c, len(xs), statistics.median(xs), min(xs), max(xs)))
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
