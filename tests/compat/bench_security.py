#!/usr/bin/env python3
"""What TLS and SASL cost, measured with confluent-kafka against one `weir serve` (issue #15's
closing note), all in the same run on the same machine:

- connection setup: a new AdminClient's first list_topics() (TCP, ApiVersions, the TLS
  handshake and SASL exchange where the listener has them, Metadata), median and p90 of N,
  on PLAINTEXT, SASL_PLAINTEXT (SCRAM-SHA-256, SCRAM-SHA-512, PLAIN), SSL and SASL_SSL
  (SCRAM-SHA-512);
- throughput: one consumer reading the same topic from the start over PLAINTEXT and SSL
  (plaintext keeps weir's zero-copy vectored writes; TLS encrypts through rustls), with the
  broker's CPU time for it (from /proc): one Python consumer is the limit on throughput, the
  broker's CPU per MB is what TLS costs it.

    tests/compat/.venv/bin/python tests/compat/bench_security.py --weir target/release/weir
"""

import argparse
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_security import Weir, confluent_conf, make_pki  # noqa: E402

SETUPS = [
    ("PLAINTEXT", "PLAINTEXT", None),
    ("SASL_PLAINTEXT", "SASL_PLAINTEXT", "SCRAM-SHA-256"),
    ("SASL_PLAINTEXT", "SASL_PLAINTEXT", "SCRAM-SHA-512"),
    ("SASL_PLAINTEXT", "SASL_PLAINTEXT", "PLAIN"),
    ("SSL", "SSL", None),
    ("SASL_SSL", "SASL_SSL", "SCRAM-SHA-512"),
]


def setup_ms(conf, n):
    from confluent_kafka.admin import AdminClient
    out = []
    for _ in range(n):
        started = time.perf_counter()
        AdminClient(conf).list_topics(timeout=30)
        out.append((time.perf_counter() - started) * 1000)
    out.sort()
    return statistics.median(out), out[int(len(out) * 0.9) - 1]


def cpu_s(pid):
    """User + system CPU seconds of a process, from /proc."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def consume_mb_s(conf, topic, total_bytes, group):
    from confluent_kafka import Consumer
    c = Consumer({**conf, "group.id": group, "auto.offset.reset": "earliest",
                  "enable.auto.commit": False, "fetch.max.bytes": 52428800, "fetch.min.bytes": 1048576,
                  "max.partition.fetch.bytes": 10485760})
    # Timed from the subscription (the group join of an empty group is a few ms of it).
    started = time.perf_counter()
    c.subscribe([topic])
    got = 0
    while got < total_bytes:
        for m in c.consume(10000, 5.0):
            if m.error() is None:
                got += len(m.value())
    elapsed = time.perf_counter() - started
    c.close()
    return got / elapsed / 1e6


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--weir", required=True)
    ap.add_argument("--connections", type=int, default=30)
    ap.add_argument("--mib", type=int, default=256)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="weir-bench-security-") as work:
        pki = make_pki(work)
        weir = Weir(os.path.abspath(args.weir), work, pki, {"ssl_client_auth": "none"})
        try:
            print(f"connection setup (new AdminClient to first Metadata), {args.connections} each:")
            for listener, proto, mech in SETUPS:
                conf = confluent_conf(weir.addrs[listener], proto, mech, False, pki)
                med, p90 = setup_ms(conf, args.connections)
                print(f"  {proto:<15} {mech or '':<14} median {med:6.1f} ms  p90 {p90:6.1f} ms")
            from confluent_kafka import Producer
            plain = confluent_conf(weir.addrs["PLAINTEXT"], "PLAINTEXT", None, False, pki)
            p = Producer({**plain, "linger.ms": 20, "batch.size": 1048576})
            value = os.urandom(64 * 1024)
            n = args.mib * 16
            for _ in range(n):
                while True:
                    try:
                        p.produce("bench-tls", value)
                        break
                    except BufferError:
                        p.poll(0.05)
            p.flush(120)
            total = n * len(value)
            print(f"consume {args.mib} MiB of 64 KiB records, one consumer:")
            for i, (listener, proto) in enumerate([("PLAINTEXT", "PLAINTEXT"), ("SSL", "SSL"),
                                                    ("PLAINTEXT", "PLAINTEXT"), ("SSL", "SSL")]):
                conf = confluent_conf(weir.addrs[listener], proto, None, False, pki)
                cpu = cpu_s(weir.proc.pid)
                rate = consume_mb_s(conf, "bench-tls", total, f"bench-{i}")
                cpu = cpu_s(weir.proc.pid) - cpu
                print(f"  {proto:<10} {rate:7.1f} MB/s, broker CPU {cpu:5.2f} s "
                      f"({cpu * 1e3 / (total / 1e6):.2f} ms per MB)")
        finally:
            weir.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
