"""Consumer-group scenario (issue #5) for confluent-kafka (librdkafka 2.16) with KIP-848's
consumer protocol (`group.protocol=consumer`, issue #13 part 3): the phases of
groups_common.py through test_groups_confluent.py's adapter. librdkafka refuses the classic
protocol's member settings with this protocol (`session.timeout.ms`, `heartbeat.interval.ms`,
`partition.assignment.strategy`, ...), so none is set: the broker owns the session timeout
and heartbeat interval (`group_consumer_session_timeout_ms`,
`group_consumer_heartbeat_interval_ms`) and assigns the partitions itself.

One more phase, `groups-regex`: a member subscribed to a regex (`^PREFIX-rx-.*`, which
librdkafka sends as ConsumerGroupHeartbeat's SubscribedTopicRegex) gets every partition of the
two matching topics and none of a third, then also the partition of a matching topic created
while it runs."""

import re
import time

from confluent_kafka import Consumer
from confluent_kafka.admin import AdminClient, NewTopic

import compat_common as cc
import groups_common as gc
import test_groups_confluent as tgc
from compat_common import Deadline

CLIENT = "confluent-groups-consumer"


def phase_regex(a, args):
    admin = AdminClient(a.base)

    def create(topics):
        fs = admin.create_topics([NewTopic(t, n, 1) for t, n in topics])
        for f in fs.values():
            f.result(timeout=cc.PHASE_DEADLINE_S)

    rx = args.prefix + "-rx-"
    create([(rx + "a", 2), (rx + "b", 1), (args.prefix + "-other", 1)])
    c = Consumer(dict(a.base, **{"group.id": args.prefix + "-regex", "group.protocol": "consumer",
                                 "enable.auto.commit": False, "auto.offset.reset": "earliest"}))
    try:
        c.subscribe(["^" + re.escape(rx) + ".*"])

        def wait_for(want, what):
            deadline = Deadline(what=what)
            while True:
                c.poll(0.05)
                got = {(tp.topic, tp.partition) for tp in c.assignment()}
                if got == want:
                    return
                deadline.check("assignment %s" % sorted(got))

        want = {(rx + "a", 0), (rx + "a", 1), (rx + "b", 0)}
        wait_for(want, "the regex member to get the matching topics")
        started = time.monotonic()
        create([(rx + "c", 1)])
        wait_for(want | {(rx + "c", 0)}, "a new matching topic to be assigned")
        print("figure: regex subscription: a new matching topic assigned %.0f ms after its "
              "creation" % ((time.monotonic() - started) * 1000))
    finally:
        c.close()


if __name__ == "__main__":
    gc.PHASE_FNS["groups-regex"] = phase_regex
    gc.main(lambda bootstrap: tgc.Adapter(bootstrap, protocol="consumer"), CLIENT)
