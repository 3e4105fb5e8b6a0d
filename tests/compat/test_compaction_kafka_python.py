"""Compaction scenario for kafka-python. Phases: see compaction_common.py."""

from kafka import TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic

import compaction_common
from compat_common import Deadline
from test_kafka_python import Adapter as Base

CLIENT = "kafka-python-compaction"


class Adapter(Base):
    name = CLIENT

    def create_compacted(self, name, configs):
        admin = KafkaAdminClient(bootstrap_servers=self.bootstrap, request_timeout_ms=30_000)
        try:
            admin.create_topics([NewTopic(name, 1, 1, topic_configs=configs)], timeout_ms=30_000)
        finally:
            admin.close()

    def read_to_end(self, topic, start, hw):
        """[(offset, key, value)] from `start` until the record before `hw`."""
        c = self.consumer()
        tp = TopicPartition(topic, 0)
        c.assign([tp])
        c.seek(tp, start)
        got = []
        deadline = Deadline(what="reading %s" % topic)
        while not got or got[-1][0] < hw - 1:
            deadline.check("read up to %r of %d" % (got[-1][0] if got else None, hw))
            for _tp, msgs in c.poll(timeout_ms=500, max_records=500).items():
                for m in msgs:
                    got.append((m.offset, m.key, m.value))
        c.assign([])
        return got


if __name__ == "__main__":
    compaction_common.main(Adapter, CLIENT)
