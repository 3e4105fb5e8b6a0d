#!/usr/bin/env python3
"""A librdkafka (confluent-kafka) producer benchmark, the counterpart of `weir bench produce`.

Sends N values of a given size to a topic as fast as librdkafka accepts them and times each
delivery report. It prints one JSON object with the same field names as `weir bench produce
--json`: records, throughput {records_per_s, mib_per_s, seconds}, latency {p50_us, p99_us,
p999_us, max_us} (produce-to-ack, uncorrected: the loop is closed) and client_cpu_s. Run it from
tests/compat/.venv, which has confluent-kafka pinned:

    tests/compat/.venv/bin/python benches/librdkafka_produce.py --bootstrap 127.0.0.1:9092 \
        --topic rdk-bench --records 1000000 --record-size 1024 --acks 1

The topic must exist (create it with `weir topic create` or the other broker's tool), so that
both brokers get the same partition count.
"""

import argparse
import json
import sys
import time

from confluent_kafka import Producer


def percentile(sorted_values, q):
    if not sorted_values:
        return 0
    i = min(len(sorted_values) - 1, int(q * len(sorted_values)))
    return sorted_values[i]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--bootstrap", default="127.0.0.1:9092")
    p.add_argument("--topic", default="rdk-bench")
    p.add_argument("--records", type=int, default=1_000_000)
    p.add_argument("--record-size", type=int, default=1024)
    p.add_argument("--acks", default="1")
    p.add_argument("--linger-ms", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=1_000_000)
    p.add_argument("--compression", default="none")
    p.add_argument("--warmup", type=int, default=0, help="records excluded from the figures")
    a = p.parse_args()

    producer = Producer({
        "bootstrap.servers": a.bootstrap,
        "acks": a.acks,
        "linger.ms": a.linger_ms,
        "batch.size": a.batch_size,
        "compression.type": a.compression,
        "queue.buffering.max.kbytes": 1024 * 1024,
        "queue.buffering.max.messages": 1_000_000,
        "enable.idempotence": a.acks in ("all", "-1"),
    })
    value = (b"ABCDEFGHIJKLMNOPQRSTUVWXYZ" * (a.record_size // 26 + 1))[: a.record_size]
    total = a.warmup + a.records
    sent_at = [0.0] * total
    latencies = []
    state = {"acked": 0, "errors": 0, "first": None, "last": None}

    def report(i):
        def cb(err, _msg):
            now = time.perf_counter()
            if err is not None:
                state["errors"] += 1
                return
            state["acked"] += 1
            if i >= a.warmup:
                latencies.append(int((now - sent_at[i]) * 1e6))
                state["last"] = now
        return cb

    cpu0 = time.process_time()
    for i in range(total):
        if i == a.warmup:
            state["first"] = time.perf_counter()
        while True:
            try:
                sent_at[i] = time.perf_counter()
                producer.produce(a.topic, value, on_delivery=report(i))
                break
            except BufferError:
                producer.poll(0.001)
        if i % 1000 == 0:
            producer.poll(0)
    producer.flush()
    cpu = time.process_time() - cpu0
    if state["errors"]:
        sys.exit(f"{state['errors']} records failed")
    seconds = max(1e-9, (state["last"] or time.perf_counter()) - (state["first"] or 0))
    lat = sorted(latencies)
    n = len(lat)
    print(json.dumps({
        "command": "librdkafka_produce",
        "records": n,
        "warmup_records": a.warmup,
        "throughput": {
            "records": n,
            "bytes": n * a.record_size,
            "seconds": seconds,
            "records_per_s": n / seconds,
            "mib_per_s": n * a.record_size / seconds / (1 << 20),
        },
        "latency_uncorrected": {
            "count": n,
            "p50_us": percentile(lat, 0.50),
            "p99_us": percentile(lat, 0.99),
            "p999_us": percentile(lat, 0.999),
            "max_us": lat[-1] if lat else 0,
        },
        "client_cpu_s": cpu,
    }, indent=2))


if __name__ == "__main__":
    main()
