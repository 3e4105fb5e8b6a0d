"""Compaction scenario for confluent-kafka (librdkafka). Phases: see compaction_common.py."""

from confluent_kafka import KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

import compaction_common
import compat_common as cc
from compat_common import Deadline
from test_confluent import Adapter as Base

CLIENT = "confluent-compaction"


class Adapter(Base):
    name = CLIENT

    def create_compacted(self, name, configs):
        admin = AdminClient(self.base)
        futures = admin.create_topics([NewTopic(name, 1, 1, config=configs)],
                                      operation_timeout=30, request_timeout=30)
        futures[name].result(timeout=cc.PHASE_DEADLINE_S)

    def read_to_end(self, topic, start, hw):
        """[(offset, key, value)] from `start` until the record before `hw`."""
        c = self.consumer()
        got = []
        c.assign([TopicPartition(topic, 0, start)])
        deadline = Deadline(what="reading %s" % topic)
        try:
            while not got or got[-1][0] < hw - 1:
                deadline.check("read up to %r of %d" % (got[-1][0] if got else None, hw))
                for m in c.consume(num_messages=500, timeout=0.5):
                    if m.error() is not None:
                        raise KafkaException(m.error())
                    got.append((m.offset(), m.key(), m.value()))
        finally:
            c.unassign()
        return got


if __name__ == "__main__":
    compaction_common.main(Adapter, CLIENT)
