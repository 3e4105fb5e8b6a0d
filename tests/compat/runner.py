"""Runs the real-client compatibility suite against a `weir serve` it starts itself.

Invoked by run.sh (which installs the clients and builds weir first):

    runner.py --weir PATH [--only CLIENT[,CLIENT]] [--steps STEP[,STEP]]
              [--record DIR [--record-responses]] [--keep] [--suite-deadline-s N]

For every client it runs the scenario's phases in order, each as its own process with the
bootstrap address, and restarts the broker (same port, same data dir) between `produce` and
`consume`. It prints one line per step and closes with exactly `compat: N passed, N failed`;
the exit status is non-zero when anything failed.
"""

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))

BROKER_START_TIMEOUT_S = 30  # from spawn until the port accepts connections
BROKER_STOP_TIMEOUT_S = 30  # from SIGTERM until exit, before SIGKILL
PHASE_TIMEOUT_S = 150  # one scenario phase; the scenarios' own waits are shorter (60 s)
PHASE_TIMEOUT_MIN_S = 5  # a phase started just before the suite deadline still gets this
SUITE_DEADLINE_S = 900  # no phase runs past this; what is left counts as failed (15 min)
LOG_TAIL_LINES = 40

RESTART = "restart-broker"  # SIGTERM (must exit 0), then start on the same port and data dir
KILL = "kill-broker"  # SIGKILL (a crash), then start on the same port and data dir
# The order of one client's steps (--steps replaces it). Any other name is a scenario phase.
# Phases after RESTART read what `produce` wrote before it.
STEPS = (
    "create",
    "produce",
    RESTART,
    "consume",
    "replay-offset",
    "replay-time",
    "idempotent",
    "codec-gzip",
    "codec-snappy",
    "codec-lz4",
    "codec-zstd",
)


# Clients whose scenario has its own step list (the consumer-group scenarios, issue #5).
CLIENT_STEPS = {
    "confluent-groups": (
        "groups-create",
        "groups-split",
        RESTART,
        "groups-resume",
        KILL,
        "groups-resume",
        "groups-pubsub",
        "groups-static",
    ),
    "kafka-python-groups": (
        "groups-create",
        "groups-split",
        RESTART,
        "groups-resume",
        KILL,
        "groups-resume",
        "groups-pubsub",
        "groups-static",
    ),
    "aiokafka-groups": (
        "groups-create",
        "groups-split",
        RESTART,
        "groups-resume",
        KILL,
        "groups-resume",
        "groups-pubsub",
        "groups-static",
    ),
    "kcat-groups": (
        "groups-create",
        "groups-split",
        RESTART,
        "groups-resume",
        KILL,
        "groups-resume",
        "groups-pubsub",
    ),
    "kafkajs-groups": (
        "groups-create",
        "groups-split",
        RESTART,
        "groups-resume",
        KILL,
        "groups-resume",
        "groups-pubsub",
    ),
}


# The same scenario with KIP-848's consumer protocol (librdkafka's group.protocol=consumer).
# One more phase: a regex subscription (KIP-848's SubscribedTopicRegex).
CLIENT_STEPS["confluent-groups-consumer"] = CLIENT_STEPS["confluent-groups"] + ("groups-regex",)


# Log compaction (issue #8): compaction_common.py.
COMPACTION_STEPS = ("compaction-produce", "compaction-consume", RESTART, "compaction-seek")
CLIENT_STEPS["confluent-compaction"] = COMPACTION_STEPS
CLIENT_STEPS["kafka-python-compaction"] = COMPACTION_STEPS


# Transactions (issue #14): txn_common.py.
TXN_STEPS = ("txn-commit", "txn-abort", "txn-open", RESTART, "txn-restart", "txn-ctp",
             "txn-fence", "txn-timeout")
for _client in ("confluent-txn", "kafka-python-txn", "aiokafka-txn", "kafkajs-txn"):
    CLIENT_STEPS[_client] = TXN_STEPS


# Admin clients (issue #13): test_admin.py.
ADMIN_STEPS = ("admin-topics", "admin-groups", "admin-broker-configs")
for _client in ("confluent-admin", "kafka-python-admin", "aiokafka-admin", "kafkajs-admin"):
    CLIENT_STEPS[_client] = ADMIN_STEPS


# Output lines of a passing step that start with this are echoed (measured figures).
FIGURE_PREFIX = "figure: "

# @platformatic/kafka has no zstd on Node 20 (it takes zstd from Node's zlib): every other step.
CLIENT_STEPS["platformatic"] = tuple(s for s in STEPS if s != "codec-zstd")

# Clients run only when named with --only. @platformatic/kafka was one until
# weir served Fetch v13+: it supports only brokers with topic-id fetches (Kafka 3.5 on), and
# against Fetch 4-12 it sent v12 with the topic id in the topic-name field (issue #13).
OPT_IN = set()


def client_commands(python):
    return {
        "confluent-groups": [python, os.path.join(HERE, "test_groups_confluent.py")],
        "confluent-groups-consumer": [python,
                                      os.path.join(HERE, "test_groups_confluent_consumer.py")],
        "kafka-python-groups": [python, os.path.join(HERE, "test_groups_kafka_python.py")],
        "aiokafka-groups": [python, os.path.join(HERE, "test_groups_aiokafka.py")],
        "kcat-groups": ["bash", os.path.join(HERE, "test_groups_kcat.sh")],
        "kafkajs-groups": ["node", os.path.join(HERE, "test_groups_kafkajs.js")],
        "confluent": [python, os.path.join(HERE, "test_confluent.py")],
        "kafka-python": [python, os.path.join(HERE, "test_kafka_python.py")],
        "aiokafka": [python, os.path.join(HERE, "test_aiokafka.py")],
        "kafkajs": ["node", os.path.join(HERE, "test_kafkajs.js")],
        "confluent-js": ["node", os.path.join(HERE, "test_confluent_js.js")],
        "platformatic": ["node", os.path.join(HERE, "test_platformatic.js")],
        "kcat": ["bash", os.path.join(HERE, "test_kcat.sh")],
        # The same kcat on the librdkafka of the confluent-kafka wheel (install.sh links it).
        "kcat-rdkafka-2.16": ["env", "WEIR_KCAT_LIBRDKAFKA=" + os.path.join(HERE, ".librdkafka-wheel"),
                              "WEIR_KCAT_LIBRDKAFKA_VERSION=2.16.0", "bash",
                              os.path.join(HERE, "test_kcat.sh")],
        "confluent-compaction": [python, os.path.join(HERE, "test_compaction_confluent.py")],
        "confluent-txn": [python, os.path.join(HERE, "test_txn_confluent.py")],
        "kafka-python-txn": [python, os.path.join(HERE, "test_txn_kafka_python.py")],
        "aiokafka-txn": [python, os.path.join(HERE, "test_txn_aiokafka.py")],
        "kafkajs-txn": ["node", os.path.join(HERE, "test_txn_kafkajs.js")],
        "confluent-admin": [python, os.path.join(HERE, "test_admin.py"), "--client=confluent"],
        "kafka-python-admin": [python, os.path.join(HERE, "test_admin.py"),
                               "--client=kafka-python"],
        "aiokafka-admin": [python, os.path.join(HERE, "test_admin.py"), "--client=aiokafka"],
        "kafkajs-admin": ["node", os.path.join(HERE, "test_admin_kafkajs.js")],
        "kafka-python-compaction": [python,
                                    os.path.join(HERE, "test_compaction_kafka_python.py")],
    }


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def tail(path, n=LOG_TAIL_LINES):
    try:
        with open(path, "rb") as f:
            lines = f.read().decode("utf-8", "replace").splitlines()
    except OSError as e:
        return "(cannot read %s: %s)" % (path, e)
    return "\n".join(lines[-n:])


class Broker:
    """One `weir serve` process on a fixed port and data dir, restartable."""

    def __init__(self, weir, port, data_dir, log_path):
        self.weir = weir
        self.port = port
        self.data_dir = data_dir
        self.log_path = log_path
        self.proc = None
        self.starts = 0

    def start(self):
        """Spawns the broker and waits for its port. Returns None or a failure reason."""
        assert self.proc is None
        self.starts += 1
        log = open(self.log_path, "ab")
        log.write(b"\n==== weir serve start #%d\n" % self.starts)
        log.flush()
        # Groups form at once, as in Kafka's own tests (the default delay is 3 s).
        cmd = [self.weir, "serve", "--listen", "127.0.0.1:%d" % self.port,
               "--data-dir", self.data_dir, "--set", "group_initial_rebalance_delay_ms=0"]
        # No metrics endpoint: its fixed default port would clash with a weir already running.
        cmd += ["--set", "http_listen="]
        # The log cleaner looks for dirty logs every 100 ms (Kafka's default is 15 s), so the
        # compaction scenarios see their topics compacted at once.
        cmd += ["--set", "log_cleaner_backoff_ms=100"]
        # Timed-out transactions are looked for every 200 ms (Kafka's default is 10 s), so
        # the transaction scenarios' timeout abort comes within a second of the timeout.
        cmd += ["--set", "transaction_abort_timed_out_transaction_cleanup_interval_ms=200"]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                     start_new_session=True)
        log.close()
        deadline = time.monotonic() + BROKER_START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                code = self.proc.returncode
                self.proc = None
                return "broker exited with status %s before accepting connections" % code
            if port_open(self.port):
                return None
            time.sleep(0.05)
        return "broker did not accept connections on port %d within %ds" % (
            self.port, BROKER_START_TIMEOUT_S)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        """SIGTERM by PID, wait, SIGKILL if it hangs. Returns None or a failure reason."""
        if self.proc is None:
            return "broker was not running"
        proc, self.proc = self.proc, None
        if proc.poll() is not None:
            return "broker had already exited with status %s" % proc.returncode
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(BROKER_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            return "broker did not exit within %ds of SIGTERM (killed)" % BROKER_STOP_TIMEOUT_S
        if code != 0:
            return "broker exited with status %d after SIGTERM, expected 0" % code
        return None

    def restart(self):
        why = self.stop()
        if port_open(self.port):
            return why or "port %d still accepts connections after the broker stopped" % self.port
        start_why = self.start()
        return "; ".join(w for w in (why, start_why) if w) or None

    def crash_restart(self):
        """SIGKILL by PID (no chance to flush), then start again. None or a failure reason."""
        if self.proc is None or self.proc.poll() is not None:
            why = "broker was not running"
        else:
            why = None
            self.proc.kill()
            self.proc.wait()
        self.proc = None
        if port_open(self.port):
            return why or "port %d still accepts connections after SIGKILL" % self.port
        start_why = self.start()
        return "; ".join(w for w in (why, start_why) if w) or None

    def kill_if_running(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None


class Proxy:
    """record_proxy.py between the clients and the broker, one per client."""

    def __init__(self, python, upstream_port, out_dir, responses, log_path):
        self.port = free_port()
        cmd = [python, os.path.join(HERE, "record_proxy.py"), "--listen-port", str(self.port),
               "--upstream", "127.0.0.1:%d" % upstream_port, "--dir", out_dir]
        if responses:
            cmd.append("--responses")
        self.log_path = log_path
        with open(log_path, "ab") as log:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                         start_new_session=True)

    def wait_ready(self):
        deadline = time.monotonic() + BROKER_START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return "record proxy exited with status %s" % self.proc.returncode
            if port_open(self.port):
                return None
            time.sleep(0.05)
        return "record proxy did not listen within %ds" % BROKER_START_TIMEOUT_S

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Suite:
    def __init__(self, args, work):
        self.args = args
        self.work = work
        self.passed = 0
        self.failed = 0
        self.failures = []
        self.log_size_shown = None
        self.deadline = time.monotonic() + args.suite_deadline_s
        self.broker = Broker(args.weir, free_port(), os.path.join(work, "data"),
                             os.path.join(work, "broker.log"))
        os.makedirs(self.broker.data_dir)

    def result(self, name, ok, secs, why="", output=""):
        if ok:
            self.passed += 1
            print("PASS %-36s %6.1fs" % (name, secs), flush=True)
            return
        self.failed += 1
        self.failures.append(name)
        print("FAIL %-36s %6.1fs  %s" % (name, secs, why), flush=True)
        if output.strip():
            print("  ---- output of %s (tail)" % name)
            print("\n".join("  " + ln for ln in output.strip().splitlines()[-LOG_TAIL_LINES:]))
        # The broker log's tail, unless nothing was logged since it was last shown.
        try:
            size = os.path.getsize(self.broker.log_path)
        except OSError:
            size = -1
        if size != self.log_size_shown:
            self.log_size_shown = size
            print("  ---- broker log %s (tail)" % self.broker.log_path)
            print("\n".join("  " + ln for ln in tail(self.broker.log_path).splitlines()))
        sys.stdout.flush()

    def run_phase(self, client, cmd, phase, bootstrap):
        name = "%s %s" % (client, phase)
        state = os.path.join(self.work, "%s.state.json" % client)
        out_path = os.path.join(self.work, "%s.%s.log" % (client, phase))
        full = cmd + [phase, "--bootstrap", bootstrap, "--prefix", self.prefix(client),
                      "--state", state]
        started = time.monotonic()
        with open(out_path, "wb") as out:
            proc = subprocess.Popen(full, stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=subprocess.STDOUT, cwd=HERE, start_new_session=True)
            # A phase never outlives the suite deadline (but always gets a few seconds).
            left_s = int(self.deadline - time.monotonic())
            timeout_s = min(self.args.phase_timeout_s, max(PHASE_TIMEOUT_MIN_S, left_s))
            try:
                code = proc.wait(timeout_s)
                why = "" if code == 0 else "exit status %d" % code
            except subprocess.TimeoutExpired:
                # The phase runs in its own process group, which we created: end all of it.
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                code, why = None, "timed out after %ds" % timeout_s
        secs = time.monotonic() - started
        output = tail(out_path, 200)
        if code == 0 and not self.broker.alive():
            code, why = 1, "broker died during the phase"
        self.result(name, code == 0, secs, why, output)
        if code == 0:
            # A scenario reports what it measured on lines starting with FIGURE_PREFIX.
            with open(out_path, "rb") as f:
                for line in f.read().decode("utf-8", "replace").splitlines():
                    if line.startswith(FIGURE_PREFIX):
                        print("  " + line, flush=True)
        return code == 0

    def prefix(self, client):
        return "compat-%s-%s" % (client, self.run_id)

    def ensure_broker(self, client):
        """Restarts a broker that died, so one crash does not fail every later client."""
        if self.broker.alive():
            return True
        self.broker.kill_if_running()
        why = self.broker.start()
        self.result("%s broker-start" % client, why is None, 0.0, why or "")
        return why is None

    def run_client(self, client, cmd):
        if not self.ensure_broker(client):
            return
        bootstrap = "127.0.0.1:%d" % self.broker.port
        proxy = None
        if self.args.record:
            out_dir = os.path.join(self.args.record, client)
            os.makedirs(out_dir, exist_ok=True)
            proxy = Proxy(self.args.python, self.broker.port, out_dir,
                          self.args.record_responses, os.path.join(self.work, "proxy.log"))
            why = proxy.wait_ready()
            if why:
                self.result("%s record-proxy" % client, False, 0.0, why, tail(proxy.log_path))
                proxy.stop()
                return
            bootstrap = "127.0.0.1:%d" % proxy.port
        try:
            create_ok = True
            steps = self.steps if self.args.steps else CLIENT_STEPS.get(client, self.steps)
            for step in steps:
                if time.monotonic() > self.deadline:
                    self.result("%s %s" % (client, step), False, 0.0,
                                "not run: suite deadline of %ds passed" % self.args.suite_deadline_s)
                    continue
                if not create_ok:
                    self.result("%s %s" % (client, step), False, 0.0,
                                "not run: topic creation failed")
                    continue
                if step in (RESTART, KILL):
                    started = time.monotonic()
                    why = self.broker.restart() if step == RESTART else self.broker.crash_restart()
                    self.result("%s %s" % (client, step), why is None,
                                time.monotonic() - started, why or "")
                    if why and not self.ensure_broker(client):
                        create_ok = False
                    continue
                if not self.ensure_broker(client):
                    create_ok = False
                    continue
                ok = self.run_phase(client, cmd, step, bootstrap)
                if step == "create" and not ok:
                    create_ok = False
        finally:
            if proxy is not None:
                proxy.stop()

    def run(self):
        self.run_id = "%x" % int(time.time())
        self.steps = [s for s in self.args.steps.split(",") if s] if self.args.steps else STEPS
        commands = client_commands(self.args.python)
        for spec in self.args.client:
            name, sep, cmd = spec.partition("=")
            if not sep or not name or not cmd.split():
                sys.exit("--client wants NAME=COMMAND, got %r" % spec)
            commands[name] = cmd.split()
        only = [c for c in (self.args.only or "").split(",") if c]
        unknown = [c for c in only if c not in commands]
        if unknown:
            sys.exit("unknown client(s) %s; known: %s" % (unknown, ", ".join(commands)))
        print("compat: broker %s on 127.0.0.1:%d, data dir %s, logs in %s" % (
            self.args.weir, self.broker.port, self.broker.data_dir, self.work), flush=True)
        why = self.broker.start()
        self.result("broker start", why is None, 0.0, why or "")
        try:
            if why is None:
                for client, cmd in commands.items():
                    if (not only and client not in OPT_IN) or client in only:
                        self.run_client(client, cmd)
        finally:
            if self.broker.alive():
                why = self.broker.stop()
                self.result("broker clean shutdown", why is None, 0.0, why or "")
            self.broker.kill_if_running()
        if self.failures:
            print("compat: failed: %s" % ", ".join(self.failures))
        return 1 if self.failed else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--weir", required=True, help="the weir binary (run as `weir serve ...`)")
    ap.add_argument("--only", help="comma-separated clients to run (default: all)")
    ap.add_argument("--record", help="route clients through record_proxy.py, writing to DIR")
    ap.add_argument("--record-responses", action="store_true",
                    help="with --record, also write each response frame")
    ap.add_argument("--keep", action="store_true", help="keep the work dir (data, logs)")
    ap.add_argument("--suite-deadline-s", type=int, default=SUITE_DEADLINE_S)
    ap.add_argument("--phase-timeout-s", type=int, default=PHASE_TIMEOUT_S)
    ap.add_argument("--steps", help="comma-separated steps replacing the default list (%s); "
                    "%s and %s are broker actions, anything else a scenario phase"
                    % (",".join(STEPS), RESTART, KILL))
    ap.add_argument("--client", action="append", default=[], metavar="NAME=COMMAND",
                    help="add or replace a client scenario (COMMAND split on spaces); "
                    "used by selftest.sh")
    ap.add_argument("--python", default=sys.executable, help=argparse.SUPPRESS)
    args = ap.parse_args()
    args.weir = os.path.abspath(args.weir) if os.sep in args.weir else args.weir
    if args.record:
        args.record = os.path.abspath(args.record)
    work = tempfile.mkdtemp(prefix="weir-compat-")
    suite = Suite(args, work)
    code = 1
    try:
        code = suite.run()
    except BaseException:
        suite.failed += 1  # the runner itself broke: never report a clean result
        raise
    finally:
        if args.keep or code != 0:
            print("compat: work dir kept at %s" % work)
        else:
            shutil.rmtree(work, ignore_errors=True)
        # The closing line, always last.
        print("compat: %d passed, %d failed" % (suite.passed, suite.failed), flush=True)
    sys.exit(code)


if __name__ == "__main__":
    main()
