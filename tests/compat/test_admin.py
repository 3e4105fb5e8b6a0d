"""The admin clients of confluent-kafka, kafka-python and aiokafka against weir (issue #13):
what admin scripts and UIs call, with the answers Kafka gives.

    python test_admin.py --client NAME PHASE --bootstrap 127.0.0.1:PORT --prefix P --state FILE

Phases (runner.py's ADMIN_STEPS):
- `admin-topics`: create a topic with configs; DescribeConfigs shows them (with Kafka 4's
  whole list of topic configs); an alter changes one; CreatePartitions grows it; records are
  produced and DeleteRecords raises the log start; DeleteTopics removes it.
- `admin-groups`: a consumer group commits; the admin client lists it, describes it (Empty,
  no members), reads its committed offsets, and deletes it.
- `admin-broker-configs`: DescribeConfigs on the broker resource lists Kafka's names with
  their source and read-only flag; a dynamic change of this broker's `log.retention.ms`
  shows as DYNAMIC_BROKER_CONFIG and reaches a topic without an override; a read-only key is
  refused; the change is undone. (None of the three takes the cluster-wide resource name "":
  confluent-kafka refuses it as an invalid ConfigResource, the other two want an integer.)
"""

import argparse
import asyncio
import sys
import time

import compat_common as cc
from compat_common import Deadline, check

RECORDS = 10
DELETE_BEFORE = 4
KAFKA4_TOPIC_CONFIGS = 33
# Kafka's ConfigSource ids.
SOURCES = {1: "TOPIC", 2: "DYNAMIC_BROKER", 3: "DYNAMIC_DEFAULT_BROKER", 4: "STATIC_BROKER",
           5: "DEFAULT"}
# A log.retention.ms that changes nothing another step could notice (7 days + 1 ms).
RETENTION = "604800001"


def wait_for(what, fn):
    deadline = Deadline(what=what)
    last = None
    while True:
        last = fn()
        if last is True:
            return
        deadline.check("last: %r" % (last,))
        time.sleep(0.2)


# ---------------------------------------------------------------- confluent-kafka

class Confluent:
    def __init__(self, bootstrap):
        from confluent_kafka.admin import AdminClient
        self.bootstrap = bootstrap
        self.a = AdminClient({"bootstrap.servers": bootstrap})

    def create_topic(self, name, partitions, configs):
        from confluent_kafka.admin import NewTopic
        f = self.a.create_topics([NewTopic(name, partitions, 1, config=configs)])
        f[name].result(cc.PHASE_DEADLINE_S)

    def topic_configs(self, name):
        from confluent_kafka.admin import ConfigResource
        r = self.a.describe_configs([ConfigResource("topic", name)])
        cfg = list(r.values())[0].result(cc.PHASE_DEADLINE_S)
        return {k: v.value for k, v in cfg.items()}

    def set_config(self, name, key, value):
        from confluent_kafka.admin import (AlterConfigOpType, ConfigEntry, ConfigResource)
        res = ConfigResource("topic", name, incremental_configs=[
            ConfigEntry(key, value, incremental_operation=AlterConfigOpType.SET)])
        for f in self.a.incremental_alter_configs([res]).values():
            f.result(cc.PHASE_DEADLINE_S)

    def broker_configs(self, name):
        from confluent_kafka.admin import ConfigResource
        r = self.a.describe_configs([ConfigResource("broker", name)])
        cfg = list(r.values())[0].result(cc.PHASE_DEADLINE_S)
        return {k: (v.value, SOURCES.get(int(v.source), v.source), v.is_read_only,
                    v.is_sensitive) for k, v in cfg.items()}

    def alter_broker(self, name, key, value):
        """SET (value) or DELETE (None); returns the error, or None."""
        from confluent_kafka.admin import (AlterConfigOpType, ConfigEntry, ConfigResource)
        op = AlterConfigOpType.DELETE if value is None else AlterConfigOpType.SET
        res = ConfigResource("broker", name, incremental_configs=[
            ConfigEntry(key, value, incremental_operation=op)])
        try:
            list(self.a.incremental_alter_configs([res]).values())[0].result(cc.PHASE_DEADLINE_S)
        except Exception as e:  # noqa: BLE001 - the client's KafkaException
            return e
        return None

    def partitions(self, name):
        md = self.a.list_topics(topic=name, timeout=cc.PHASE_DEADLINE_S)
        t = md.topics.get(name)
        return None if t is None or t.error is not None else len(t.partitions)

    def grow(self, name, total):
        from confluent_kafka.admin import NewPartitions
        for f in self.a.create_partitions([NewPartitions(name, total)]).values():
            f.result(cc.PHASE_DEADLINE_S)

    def produce(self, name, n):
        from confluent_kafka import Producer
        p = Producer({"bootstrap.servers": self.bootstrap, "acks": "all"})
        for i in range(n):
            p.produce(name, value=b"v%d" % i, partition=0)
        check(p.flush(cc.PHASE_DEADLINE_S) == 0, "records left unsent")

    def delete_records(self, name, before):
        from confluent_kafka import TopicPartition
        fs = self.a.delete_records([TopicPartition(name, 0, before)])
        return list(fs.values())[0].result(cc.PHASE_DEADLINE_S).low_watermark

    def delete_topic(self, name):
        self.a.delete_topics([name])[name].result(cc.PHASE_DEADLINE_S)

    def topics(self):
        return set(self.a.list_topics(timeout=cc.PHASE_DEADLINE_S).topics)

    def commit_in_group(self, group, name, offset):
        from confluent_kafka import Consumer, TopicPartition
        c = Consumer({"bootstrap.servers": self.bootstrap, "group.id": group,
                      "enable.auto.commit": False})
        c.commit(offsets=[TopicPartition(name, 0, offset)], asynchronous=False)
        c.close()

    def groups(self):
        r = self.a.list_consumer_groups().result(cc.PHASE_DEADLINE_S)
        return {g.group_id for g in r.valid}

    def describe_group(self, group):
        d = self.a.describe_consumer_groups([group])[group].result(cc.PHASE_DEADLINE_S)
        return str(d.state).rsplit(".", 1)[-1].upper(), len(d.members)

    def group_offsets(self, group, name):
        from confluent_kafka import ConsumerGroupTopicPartitions
        fs = self.a.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group)])
        r = fs[group].result(cc.PHASE_DEADLINE_S)
        return {(tp.topic, tp.partition): tp.offset for tp in r.topic_partitions}

    def delete_group(self, group):
        self.a.delete_consumer_groups([group])[group].result(cc.PHASE_DEADLINE_S)

    def close(self):
        pass


# ---------------------------------------------------------------- kafka-python

class KafkaPython:
    def __init__(self, bootstrap):
        from kafka import KafkaAdminClient
        self.bootstrap = bootstrap
        self.a = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=30_000)

    def create_topic(self, name, partitions, configs):
        from kafka.admin import NewTopic
        self.a.create_topics([NewTopic(name, partitions, 1, topic_configs=configs)])

    def topic_configs(self, name):
        from kafka.admin import ConfigResource, ConfigResourceType
        r = self.a.describe_configs([ConfigResource(ConfigResourceType.TOPIC, name)],
                                    config_filter="all")
        return {k: v["value"] for k, v in r["topic"][name].items()}

    def set_config(self, name, key, value):
        from kafka.admin import ConfigResource, ConfigResourceType
        # AlterConfigs (not incremental): the whole set of overrides.
        current = {"retention.ms": "3600000", "compression.type": "zstd"}
        current[key] = value
        self.a.alter_configs([ConfigResource(ConfigResourceType.TOPIC, name, configs=current)])

    def broker_configs(self, name):
        from kafka.admin import ConfigResource, ConfigResourceType
        r = self.a.describe_configs([ConfigResource(ConfigResourceType.BROKER, name)],
                                    config_filter="all")
        out = {}
        for k, v in r["broker"][name].items():
            src = v["config_source"].replace("_CONFIG", "")
            out[k] = (v["value"], src, v["read_only"], v["is_sensitive"])
        return out

    def alter_broker(self, name, key, value):
        from kafka.admin import AlterConfigOp, ConfigResource, ConfigResourceType
        op = (AlterConfigOp.DELETE, None) if value is None else (AlterConfigOp.SET, value)
        try:
            r = self.a.alter_configs(
                [ConfigResource(ConfigResourceType.BROKER, name, configs={key: op})],
                raise_on_unknown=False)
        except Exception as e:  # noqa: BLE001
            return e
        # {"broker": {name: "OK" or the error}}.
        result = r["broker"][name]
        return None if result == "OK" else result

    def partitions(self, name):
        from kafka import KafkaConsumer
        c = KafkaConsumer(bootstrap_servers=self.bootstrap)
        try:
            ps = c.partitions_for_topic(name)
            return None if ps is None else len(ps)
        finally:
            c.close()

    def grow(self, name, total):
        from kafka.admin import NewPartitions
        self.a.create_partitions({name: NewPartitions(total)})

    def produce(self, name, n):
        from kafka import KafkaProducer
        p = KafkaProducer(bootstrap_servers=self.bootstrap, acks="all")
        for i in range(n):
            p.send(name, value=b"v%d" % i, partition=0)
        p.flush(cc.PHASE_DEADLINE_S)
        p.close()

    def delete_records(self, name, before):
        from kafka import TopicPartition
        r = self.a.delete_records({TopicPartition(name, 0): before})
        v = list(r.values())[0]
        return v["low_watermark"] if isinstance(v, dict) else v

    def delete_topic(self, name):
        self.a.delete_topics([name])

    def topics(self):
        return set(self.a.list_topics())

    def commit_in_group(self, group, name, offset):
        from kafka import KafkaConsumer, TopicPartition
        from kafka.structs import OffsetAndMetadata
        c = KafkaConsumer(bootstrap_servers=self.bootstrap, group_id=group,
                          enable_auto_commit=False)
        tp = TopicPartition(name, 0)
        c.assign([tp])
        c.commit({tp: OffsetAndMetadata(offset, "", -1)})
        c.close()

    def groups(self):
        return {g["group_id"] for g in self.a.list_groups()}

    def describe_group(self, group):
        d = self.a.describe_groups([group])[group]
        return d["group_state"].upper(), len(d["members"])

    def group_offsets(self, group, name):
        r = self.a.list_group_offsets({group: None})[group]
        return {(tp.topic, tp.partition): om.offset for tp, om in r.items()}

    def delete_group(self, group):
        r = self.a.delete_groups([group])
        items = r.items() if isinstance(r, dict) else r
        for g, err in items:
            check(err is None or getattr(err, "errno", 0) == 0, "delete %s: %r" % (g, err))

    def close(self):
        self.a.close()


# ---------------------------------------------------------------- aiokafka

class AioKafka:
    def __init__(self, bootstrap):
        self.bootstrap = bootstrap
        self.loop = asyncio.new_event_loop()
        from aiokafka.admin import AIOKafkaAdminClient

        async def make():
            a = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=30_000)
            await a.start()
            return a
        self.a = self.run(make())

    def run(self, coro):
        return self.loop.run_until_complete(coro)

    def create_topic(self, name, partitions, configs):
        from aiokafka.admin import NewTopic
        self.run(self.a.create_topics([NewTopic(name, partitions, 1, topic_configs=configs)]))

    def topic_configs(self, name):
        from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
        r = self.run(self.a.describe_configs([ConfigResource(ConfigResourceType.TOPIC, name)]))
        out = {}
        for resp in r:
            for res in resp.resources:
                for e in res[4]:
                    out[e[0]] = e[1]
        return out

    def set_config(self, name, key, value):
        from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
        current = {"retention.ms": "3600000", "compression.type": "zstd"}
        current[key] = value
        self.run(self.a.alter_configs(
            [ConfigResource(ConfigResourceType.TOPIC, name, configs=current)]))

    def broker_configs(self, name):
        from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
        r = self.run(self.a.describe_configs(
            [ConfigResource(ConfigResourceType.BROKER, name)]))
        out = {}
        for resp in r:
            for res in resp.resources:
                for e in res[4]:
                    # (name, value, read_only, config_source, is_sensitive, ...) from v1.
                    out[e[0]] = (e[1], SOURCES.get(e[3], e[3]), e[2], e[4])
        return out

    def alter_broker(self, name, key, value):
        """AlterConfigs (aiokafka has no incremental one): this level becomes {key: value}."""
        from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
        configs = {} if value is None else {key: value}
        r = self.run(self.a.alter_configs(
            [ConfigResource(ConfigResourceType.BROKER, name, configs=configs)]))
        for resp in r if isinstance(r, list) else [r]:
            for res in resp.resources:
                if res[0] != 0:
                    return "error %d: %s" % (res[0], res[1])
        return None

    def partitions(self, name):
        for t in self.run(self.a.describe_topics([name])):
            if t.get("error_code", 0) == 0:
                return len(t["partitions"])
        return None

    def grow(self, name, total):
        from aiokafka.admin import NewPartitions
        self.run(self.a.create_partitions({name: NewPartitions(total)}))

    def produce(self, name, n):
        from aiokafka import AIOKafkaProducer

        async def go():
            p = AIOKafkaProducer(bootstrap_servers=self.bootstrap, acks="all")
            await p.start()
            try:
                for i in range(n):
                    await p.send_and_wait(name, b"v%d" % i, partition=0)
            finally:
                await p.stop()
        self.run(go())

    def delete_records(self, name, before):
        from aiokafka.admin import RecordsToDelete
        from aiokafka.structs import TopicPartition
        r = self.run(self.a.delete_records(
            {TopicPartition(name, 0): RecordsToDelete(before)}))
        return list(r.values())[0]

    def delete_topic(self, name):
        self.run(self.a.delete_topics([name]))

    def topics(self):
        return set(self.run(self.a.list_topics()))

    def commit_in_group(self, group, name, offset):
        from aiokafka import AIOKafkaConsumer
        from aiokafka.structs import TopicPartition

        async def go():
            c = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, group_id=group,
                                 enable_auto_commit=False)
            await c.start()
            try:
                tp = TopicPartition(name, 0)
                c.assign([tp])
                await c.commit({tp: offset})
            finally:
                await c.stop()
        self.run(go())

    def groups(self):
        return {g[0] for g in self.run(self.a.list_consumer_groups())}

    def describe_group(self, group):
        r = self.run(self.a.describe_consumer_groups([group]))
        g = r[0].groups[0]
        return g[2].upper(), len(g[5])

    def group_offsets(self, group, name):
        r = self.run(self.a.list_consumer_group_offsets(group))
        return {(tp.topic, tp.partition): om.offset for tp, om in r.items()}

    def delete_group(self, group):
        # aiokafka 0.14 has no DeleteGroups: the group is left.
        return False

    def close(self):
        self.run(self.a.close())
        self.loop.close()


CLIENTS = {"confluent": Confluent, "kafka-python": KafkaPython, "aiokafka": AioKafka}


def phase_topics(a, args):
    name = "%s-admin-topic" % args.prefix
    a.create_topic(name, 2, {"retention.ms": "3600000", "compression.type": "zstd"})
    wait_for("topic %s in metadata" % name, lambda: a.partitions(name) == 2 or a.partitions(name))
    cfg = a.topic_configs(name)
    check(cfg.get("retention.ms") == "3600000", "retention.ms: %r" % cfg.get("retention.ms"))
    check(cfg.get("compression.type") == "zstd", "compression.type: %r" % cfg.get("compression.type"))
    check(len(cfg) == KAFKA4_TOPIC_CONFIGS,
          "%d topic configs, Kafka 4 lists %d" % (len(cfg), KAFKA4_TOPIC_CONFIGS))
    a.set_config(name, "retention.ms", "7200000")
    cfg = a.topic_configs(name)
    check(cfg.get("retention.ms") == "7200000", "after alter: %r" % cfg.get("retention.ms"))
    check(cfg.get("compression.type") == "zstd", "alter kept compression.type")
    a.grow(name, 3)
    wait_for("3 partitions", lambda: a.partitions(name) == 3 or a.partitions(name))
    a.produce(name, RECORDS)
    low = a.delete_records(name, DELETE_BEFORE)
    check(low == DELETE_BEFORE, "low watermark %r after deleting before %d" % (low, DELETE_BEFORE))
    a.delete_topic(name)
    wait_for("topic deleted", lambda: name not in a.topics() or "still listed")
    print("ok: create (configs), describe (%d configs), alter, grow, delete records, delete"
          % KAFKA4_TOPIC_CONFIGS)


def phase_groups(a, args):
    name = "%s-admin-gtopic" % args.prefix
    group = "%s-admin-group" % args.prefix
    a.create_topic(name, 1, {})
    wait_for("topic %s in metadata" % name, lambda: a.partitions(name) == 1 or a.partitions(name))
    a.produce(name, RECORDS)
    a.commit_in_group(group, name, 7)
    wait_for("group listed", lambda: group in a.groups() or sorted(a.groups()))
    state, members = a.describe_group(group)
    check(state == "EMPTY" and members == 0, "group %s: %s with %d members" % (group, state, members))
    offsets = a.group_offsets(group, name)
    check(offsets.get((name, 0)) == 7, "committed offsets: %r" % offsets)
    if a.delete_group(group) is not False:
        wait_for("group deleted", lambda: group not in a.groups() or "still listed")
        print("ok: list, describe, offsets, delete")
    else:
        print("ok: list, describe, offsets (this client has no DeleteGroups)")


def phase_broker_configs(a, args):
    cfg = a.broker_configs("0")
    for key, want in [("log.retention.ms", (False,)), ("num.partitions", (True,)),
                      ("log.segment.bytes", (False,)), ("listeners", (True,))]:
        check(key in cfg, "broker config %s not listed" % key)
        check(cfg[key][2] == want[0], "%s read_only %r" % (key, cfg[key][2]))
    check(cfg["log.dirs"][1] == "STATIC_BROKER", "log.dirs source %r" % (cfg["log.dirs"][1],))
    check(cfg["num.partitions"][1] in ("DEFAULT", "STATIC_BROKER"), "num.partitions source")
    check(cfg["ssl.key.password"][3] and cfg["ssl.key.password"][0] is None,
          "ssl.key.password: %r" % (cfg["ssl.key.password"],))
    err = a.alter_broker("0", "log.retention.ms", RETENTION)
    check(err is None, "setting log.retention.ms: %s" % err)
    cfg = a.broker_configs("0")
    check(cfg["log.retention.ms"][:2] == (RETENTION, "DYNAMIC_BROKER"),
          "after the change: %r" % (cfg["log.retention.ms"],))
    name = "%s-admin-bctopic" % args.prefix
    a.create_topic(name, 1, {})
    wait_for("topic %s in metadata" % name, lambda: a.partitions(name) == 1 or a.partitions(name))
    tcfg = a.topic_configs(name)
    check(tcfg.get("retention.ms") == RETENTION, "topic retention.ms %r" % tcfg.get("retention.ms"))
    err = a.alter_broker("0", "num.partitions", "3")
    check(err is not None, "num.partitions changed at run time")
    err = a.alter_broker("0", "log.retention.ms", None)
    check(err is None, "undoing: %s" % err)
    cfg = a.broker_configs("0")
    check(cfg["log.retention.ms"][1] != "DYNAMIC_BROKER", "still dynamic: %r" % (cfg["log.retention.ms"],))
    a.delete_topic(name)
    print("ok: describe (%d broker configs), alter this broker's level, read-only refused, undone"
          % len(cfg))


PHASES = {"admin-topics": phase_topics, "admin-groups": phase_groups,
          "admin-broker-configs": phase_broker_configs}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--client", required=True, choices=sorted(CLIENTS))
    ap.add_argument("phase", choices=sorted(PHASES))
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--prefix", required=True)
    ap.add_argument("--state", required=True)
    args = ap.parse_args()
    a = CLIENTS[args.client](args.bootstrap)
    try:
        PHASES[args.phase](a, args)
    finally:
        a.close()


if __name__ == "__main__":
    sys.exit(main())
