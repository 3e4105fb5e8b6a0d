"""Prometheus scraping `weir serve`: the series it stored equal what the Kafka API says.

Started by run.sh (which installs Prometheus). Steps: `weir serve` on ephemeral ports (Kafka and
HTTP), a Prometheus (scrape interval 1 s) on a free port with its own data directory, a topic
produced to and consumed by a group with weir's client commands, then queries of Prometheus's
HTTP API compared with `weir group describe --json` (OffsetFetch + ListOffsets) and with the
records produced; then series_used.py: the series of docs/grafana/weir.json and
docs/prometheus/alerts.yml are all in /metrics, and promtool accepts the rules. Prints one line
per check and a closing `N passed, N failed` line; exits non-zero on any failure. Every process
it starts is stopped by its pid.
"""

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

import series_used

RECORDS = 300
CONSUMED = 120
GROUP = "billing"
TOPIC = "orders"
DLQ_TOPICS = ["orders.dlq", "orders-dlq", "orders.DLT", "orders-dead-letter"]
NOT_DLQ_TOPICS = ["dlq-orders", "orders.dlqx", "ordersdlq"]
DLQ_RECORDS = 5


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status, r.read().decode()


class Checks:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, name, ok, detail=""):
        if ok:
            self.passed += 1
            print(f"ok   {name} {detail}")
        else:
            self.failed += 1
            print(f"FAIL {name} {detail}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--weir", required=True)
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="weir-prometheus-")
    procs = []
    checks = Checks()
    try:
        weir_log = open(os.path.join(work, "weir.log"), "wb")
        weir = subprocess.Popen(
            [args.weir, "serve", "--listen", "127.0.0.1:0", "--data-dir",
             os.path.join(work, "data"), "--set", "http_listen=127.0.0.1:0",
             "--set", "group_initial_rebalance_delay_ms=0"],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=weir_log)
        procs.append(weir)
        kafka = weir.stdout.readline().decode().strip().removeprefix("weir: listening on ")
        http = weir.stdout.readline().decode().strip().removeprefix("weir: http on ")
        print(f"weir: kafka {kafka}, http {http}")

        status, body = http_get(f"http://{http}/readyz")
        checks.check("readyz", status == 200 and body == "ready\n", repr(body))

        prom_port = free_port()
        config = os.path.join(work, "prometheus.yml")
        with open(config, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                    "scrape_configs:\n  - job_name: weir\n"
                    f"    static_configs:\n      - targets: ['{http}']\n")
        prom_log = open(os.path.join(work, "prometheus.log"), "wb")
        prom = subprocess.Popen(
            ["prometheus", f"--config.file={config}",
             f"--storage.tsdb.path={os.path.join(work, 'tsdb')}",
             f"--web.listen-address=127.0.0.1:{prom_port}"],
            stdin=subprocess.DEVNULL, stdout=prom_log, stderr=prom_log)
        procs.append(prom)
        api = f"http://127.0.0.1:{prom_port}/api/v1"

        def query(q):
            url = f"{api}/query?" + urllib.parse.urlencode({"query": q})
            _, body = http_get(url)
            data = json.loads(body)
            assert data["status"] == "success", data
            return {json.dumps(r["metric"], sort_keys=True): float(r["value"][1])
                    for r in data["data"]["result"]}

        def wait_for(what, fn, timeout=30):
            deadline = time.time() + timeout
            last = None
            while time.time() < deadline:
                try:
                    last = fn()
                    if last[0]:
                        return last
                except Exception as e:  # Prometheus still starting
                    last = (False, repr(e))
                time.sleep(0.5)
            return last

        cli = [args.weir]
        bootstrap = ["--bootstrap", kafka]
        subprocess.run(cli + ["topic", "create", TOPIC, "-p", "2"] + bootstrap,
                       check=True, stdout=subprocess.DEVNULL)
        values = "".join(f"record {i}\n" for i in range(RECORDS)).encode()
        subprocess.run(cli + ["produce", TOPIC] + bootstrap, input=values, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        out = subprocess.run(cli + ["consume", TOPIC, "-G", GROUP, "-c", str(CONSUMED)]
                             + bootstrap, check=True, capture_output=True, timeout=60)
        checks.check("consumed", out.stdout.count(b"\n") == CONSUMED)
        described = json.loads(subprocess.run(
            cli + ["group", "describe", GROUP, "--json"] + bootstrap,
            check=True, capture_output=True).stdout)
        want_lag = {str(p["partition"]): p["lag"] for p in described["partitions"]
                    if p["committed_offset"] is not None}
        want_end = {str(p["partition"]): p["log_end_offset"] for p in described["partitions"]}
        print(f"weir group describe: lag {want_lag}, log end {want_end}")

        # Dead-letter topics for the rule's pattern; records only once Prometheus holds their
        # series at 0 (an increase() starts from the first sample it has).
        for t in DLQ_TOPICS + NOT_DLQ_TOPICS:
            subprocess.run(cli + ["topic", "create", t, "-p", "1"] + bootstrap,
                           check=True, stdout=subprocess.DEVNULL)

        ok, detail = wait_for("target up", lambda: (
            query('up{job="weir"}') and list(query('up{job="weir"}').values()) == [1.0],
            "up"))
        checks.check("prometheus scrapes weir", ok, detail)
        _, body = http_get(f"{api}/targets")
        targets = json.loads(body)["data"]["activeTargets"]
        checks.check("scrape has no error", all(t["lastError"] == "" for t in targets),
                     repr([t["lastError"] for t in targets]))

        def dlq_series():
            got = query('weir_topic_records_in_total')
            names = {json.loads(k)["topic"] for k in got}
            return set(DLQ_TOPICS + NOT_DLQ_TOPICS) <= names, f"{sorted(names)}"
        checks.check("new topics have records-in series", *wait_for("dlq series", dlq_series))
        time.sleep(2)
        for t in DLQ_TOPICS + NOT_DLQ_TOPICS:
            subprocess.run(cli + ["produce", t] + bootstrap, input=b"bad\n" * DLQ_RECORDS,
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        dlq_rule = series_used.alert_expr("WeirDeadLetterTopicReceiving")

        def dlq_fires():
            got = {json.loads(k)["topic"]: v for k, v in query(dlq_rule).items()}
            return (set(got) == set(DLQ_TOPICS) and all(v >= DLQ_RECORDS for v in got.values()),
                    f"{got}")
        checks.check("dead-letter rule: the .dlq/-dlq/.DLT/-dead-letter topics, no other",
                     *wait_for("dlq rule", dlq_fires))
        poisoned = query(series_used.alert_expr("WeirPartitionPoisoned"))
        checks.check("poisoned-partition rule: quiet", poisoned == {}, f"{poisoned}")

        def lag_matches():
            got = {json.loads(k)["partition"]: v
                   for k, v in query(f'weir_group_lag{{group="{GROUP}",topic="{TOPIC}"}}').items()}
            return got == {k: float(v) for k, v in want_lag.items()}, f"prometheus {got}"
        checks.check("weir_group_lag = describe's lag", *wait_for("lag", lag_matches))

        def total_lag():
            got = query(f'sum(weir_group_lag{{group="{GROUP}"}})')
            return list(got.values()) == [float(RECORDS - CONSUMED)], f"{got}"
        checks.check("total lag = produced - consumed", *wait_for("total lag", total_lag))

        def ends():
            got = {json.loads(k)["partition"]: v for k, v in
                   query(f'weir_partition_high_watermark{{topic="{TOPIC}"}}').items()}
            # describe lists the partitions with a commit; the others are empty here.
            shown = {k: v for k, v in got.items() if k in want_end}
            rest = {k: v for k, v in got.items() if k not in want_end}
            return (shown == {k: float(v) for k, v in want_end.items()}
                    and sum(rest.values()) + sum(shown.values()) == RECORDS, f"{got}")
        checks.check("high watermark = describe's log end", *wait_for("ends", ends))

        def records_in():
            got = query(f'weir_topic_records_in_total{{topic="{TOPIC}"}}')
            return list(got.values()) == [float(RECORDS)], f"{got}"
        checks.check("records in = produced", *wait_for("records", records_in))

        def bytes_in():
            got = query(f'sum(weir_topic_bytes_in_total{{topic="{TOPIC}"}})')
            size = query(f'sum(weir_partition_size_bytes{{topic="{TOPIC}"}})')
            return (got == size and list(got.values())[0] > RECORDS * 8,
                    f"bytes in {got}, segment bytes {size}")
        checks.check("bytes in = the batches stored", *wait_for("bytes", bytes_in))

        def produce_requests():
            got = query('sum(weir_requests_total{api="Produce",error="NONE"})')
            return bool(got) and list(got.values())[0] >= 1, f"{got}"
        checks.check("produce requests counted", *wait_for("requests", produce_requests))

        def fsync_p99():
            got = query("histogram_quantile(0.99, sum by (le) (weir_fsync_duration_seconds_bucket))")
            return bool(got) and 0 < list(got.values())[0] < 10, f"{got}"
        checks.check("fsync p99 computable", *wait_for("fsync", fsync_p99))

        subprocess.run(["promtool", "--version"], check=True, capture_output=True)
        _, metrics_text = http_get(f"http://{http}/metrics")
        lint = subprocess.run(["promtool", "check", "metrics"], input=metrics_text.encode(),
                              capture_output=True)
        # Exit 1: a parse error; 3: lint advice (names, help text). weir's output has neither.
        lint_out = (lint.stdout + lint.stderr).decode()
        checks.check("promtool check metrics: clean", lint.returncode == 0,
                     f"exit {lint.returncode} {lint_out.strip()[:500]}")

        # The shipped dashboard and alert rules use only series this endpoint has.
        series_used.run(checks, metrics_text, query)
    finally:
        for p in reversed(procs):
            p.terminate()
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        if checks.failed:
            print(f"logs kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(f"prometheus: {checks.passed} passed, {checks.failed} failed")
    sys.exit(1 if checks.failed else 0)


if __name__ == "__main__":
    main()
