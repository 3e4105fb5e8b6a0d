"""Consumer-group scenario (issue #5) for kafka-python: phases in groups_common.py.

Each member is its own process running the loop a kafka-python application runs: `poll()` again
and again, nothing else in between. The scenario drives the members through JSON lines on their
stdin and learns what they processed from their stdout.

Why not several consumers polled in turn by one thread, as the other Python scenarios do:
kafka-python 3.0.12 finishes a JoinGroup/SyncGroup on its IO thread while the application is not
inside that consumer's `poll()`, and the next `poll()` then discards the finished join and sends
another JoinGroup (`join_group_async` restarts a join task that is already done). When that member
is the group leader, the extra join rebalances the group (as it would on Kafka), which makes the
other members rejoin with the same hazard, and one thread polling two consumers keeps hitting it.
A consumer that is polled continuously leaves the window open for microseconds, not for another
consumer's whole poll.
"""

import json
import logging
import os
import queue
import select
import subprocess
import sys
import threading

import compat_common as cc
import groups_common as gc

CLIENT = "kafka-python-groups"
WORKER_FLAG = "--member-worker"
WORKER_POLL_MS = 100  # each worker's poll timeout; commands are handled between polls
REPLY_TIMEOUT_S = 30  # a command's answer waits at most one poll plus a commit or lookup


class Member:
    """The scenario's handle on one consumer process."""

    def __init__(self, bootstrap, group, name, static):
        self.name = name
        self.seen = set()
        self.revoked = []
        self.closed = False
        self._commit_on_revoke = True
        cmd = [sys.executable, os.path.abspath(__file__), WORKER_FLAG,
               json.dumps({"bootstrap": bootstrap, "group": group, "name": name,
                           "static": static})]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, bufsize=1)
        self.events = queue.Queue()
        self.replies = queue.Queue()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            msg = json.loads(line)
            (self.replies if "reply" in msg else self.events).put(msg)
        self.replies.put({"reply": None, "error": "member process %s exited" % self.name})

    def _call(self, op, **args):
        cc.check(not self.closed, "%s is closed" % self.name)
        self.proc.stdin.write(json.dumps(dict(args, op=op)) + "\n")
        self.proc.stdin.flush()
        try:
            msg = self.replies.get(timeout=REPLY_TIMEOUT_S)
        except queue.Empty:
            raise cc.CheckFailed("%s did not answer %s within %ss" % (self.name, op,
                                                                    REPLY_TIMEOUT_S))
        if "error" in msg:
            raise RuntimeError("%s: %s failed: %s" % (self.name, op, msg["error"]))
        return msg["reply"]

    def _drain(self, wait_s):
        try:
            msg = self.events.get(timeout=wait_s)
        except queue.Empty:
            return
        while True:
            if msg["event"] == "records":
                for key in msg["items"]:
                    gc.note(self, tuple(key))
            elif msg["event"] == "revoked":
                self.revoked.extend(msg["items"])
            try:
                msg = self.events.get_nowait()
            except queue.Empty:
                return

    @property
    def commit_on_revoke(self):
        return self._commit_on_revoke

    @commit_on_revoke.setter
    def commit_on_revoke(self, value):
        self._commit_on_revoke = value
        self._call("commit_on_revoke", value=value)

    def subscribe(self, t):
        self._call("subscribe", topic=t)

    def poll(self):
        # The worker polls on its own; this only collects what it processed so far.
        self._drain(0.02)

    def assigned(self):
        # Records reported before the answer are collected first, so that `seen` is never
        # behind the assignment the scenario acts on.
        got = set(self._call("assigned"))
        self._drain(0)
        return got

    def commit(self, t, parts, offset):
        return self._call("commit", topic=t, parts=sorted(parts), offset=offset)

    def committed(self, t):
        return {int(p): o for p, o in self._call("committed", topic=t).items()}

    def close(self):
        if self.closed:
            return
        try:
            self._call("close")
        finally:
            self.closed = True
            try:
                self.proc.wait(timeout=REPLY_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self._drain(0)


class Adapter:
    def __init__(self, bootstrap):
        self.bootstrap = bootstrap
        self.members = []

    def close(self):
        for m in self.members:
            try:
                m.close()
            except Exception:  # a member that already failed must not hide the first error
                pass

    def member(self, group, name, static=False):
        m = Member(self.bootstrap, group, name, static)
        self.members.append(m)
        return m

    def create_topic_with_records(self, t):
        from kafka import KafkaProducer
        from kafka.admin import KafkaAdminClient, NewTopic

        admin = KafkaAdminClient(bootstrap_servers=self.bootstrap)
        admin.create_topics([NewTopic(t, gc.PARTITIONS, 1)])
        admin.close()
        p = KafkaProducer(bootstrap_servers=self.bootstrap, acks="all", linger_ms=5)
        futures = [p.send(t, key=b"k%d" % i, value=b"v%d" % i, partition=i % gc.PARTITIONS)
                   for i in range(gc.RECORDS)]
        p.flush(cc.PHASE_DEADLINE_S)
        for f in futures:
            f.get(timeout=cc.PHASE_DEADLINE_S)
        p.close()


# --- the member process ----------------------------------------------------------------------


def worker(spec):
    """One kafka-python consumer polled continuously; commands arrive between polls."""
    from kafka import KafkaConsumer, TopicPartition
    from kafka.consumer.subscription_state import AsyncConsumerRebalanceListener
    from kafka.errors import RebalanceInProgressError
    from kafka.structs import OffsetAndMetadata

    # The client's own log goes to stderr, which the runner keeps in the step's log file.
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s " + spec["name"] + " %(name)s %(message)s")

    def emit(msg):
        sys.stdout.write(json.dumps(msg) + "\n")
        sys.stdout.flush()

    extra = {"group_instance_id": spec["name"]} if spec["static"] else {}
    c = KafkaConsumer(bootstrap_servers=spec["bootstrap"], group_id=spec["group"],
                      client_id=spec["name"], enable_auto_commit=False,
                      auto_offset_reset="earliest", session_timeout_ms=gc.SESSION_TIMEOUT_MS,
                      heartbeat_interval_ms=gc.HEARTBEAT_INTERVAL_MS, **extra)
    state = {"commit_on_revoke": True, "subscribed": False}

    class Listener(AsyncConsumerRebalanceListener):
        async def on_partitions_revoked(self, revoked):
            if revoked:
                emit({"event": "revoked", "items": sorted(tp.partition for tp in revoked)})
            if state["commit_on_revoke"] and revoked:
                # Hand over exactly where this member stopped. kafka-python 3 runs listeners
                # on its IO loop, where only the async commit may be awaited (an internal API:
                # the public commit() would block the loop).
                consumed = c._subscription.all_consumed_offsets()
                offsets = {tp: o for tp, o in consumed.items() if tp in revoked}
                await c._coordinator._commit_offsets_sync_async(offsets)

        async def on_partitions_assigned(self, assigned):
            pass

    def handle(cmd):
        op = cmd["op"]
        if op == "subscribe":
            c.subscribe([cmd["topic"]], listener=Listener())
            state["subscribed"] = True
        elif op == "commit_on_revoke":
            state["commit_on_revoke"] = cmd["value"]
        elif op == "assigned":
            return sorted(tp.partition for tp in c.assignment())
        elif op == "commit":
            offsets = {TopicPartition(cmd["topic"], p): OffsetAndMetadata(cmd["offset"], "", -1)
                       for p in cmd["parts"]}
            try:
                c.commit(offsets)
                return True
            except RebalanceInProgressError:
                # kafka-python refuses to commit until its own poll() has finished the join.
                return False
        elif op == "committed":
            out = {}
            for p in range(gc.PARTITIONS):
                o = c.committed(TopicPartition(cmd["topic"], p))
                out[p] = -1 if o is None else o
            return out
        elif op == "close":
            c.close(autocommit=False)
        else:
            raise ValueError("unknown command %r" % op)
        return None

    while True:
        if state["subscribed"]:
            items = []
            for tp, records in c.poll(timeout_ms=WORKER_POLL_MS).items():
                items.extend([tp.partition, r.offset] for r in records)
            if items:
                emit({"event": "records", "items": items})
            ready = select.select([sys.stdin], [], [], 0)[0]
        else:
            ready = select.select([sys.stdin], [], [], WORKER_POLL_MS / 1000)[0]
        if not ready:
            continue
        line = sys.stdin.readline()
        if not line:  # the scenario went away
            c.close(autocommit=False)
            return
        cmd = json.loads(line)
        try:
            emit({"reply": handle(cmd)})
        except Exception as e:  # reported to the scenario, which fails the step with it
            emit({"reply": None, "error": "%s: %s" % (type(e).__name__, e)})
        if cmd["op"] == "close":
            return


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == WORKER_FLAG:
        worker(json.loads(sys.argv[2]))
    else:
        gc.main(Adapter, CLIENT)
