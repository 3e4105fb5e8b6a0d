"""Consumer-group scenario (issue #5) for confluent-kafka (librdkafka 2.16) with KIP-848's
consumer protocol (`group.protocol=consumer`, issue #13 part 3): the phases of
groups_common.py through test_groups_confluent.py's adapter. librdkafka refuses the classic
protocol's member settings with this protocol (`session.timeout.ms`, `heartbeat.interval.ms`,
`partition.assignment.strategy`, ...), so none is set: the broker owns the session timeout
and heartbeat interval (`group_consumer_session_timeout_ms`,
`group_consumer_heartbeat_interval_ms`) and assigns the partitions itself."""

import groups_common as gc
import test_groups_confluent as tgc

CLIENT = "confluent-groups-consumer"

if __name__ == "__main__":
    gc.main(lambda bootstrap: tgc.Adapter(bootstrap, protocol="consumer"), CLIENT)
