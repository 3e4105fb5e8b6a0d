//! The topics a classic consumer group subscribes to, read from its members' JoinGroup
//! metadata as Kafka's `ClassicGroup.computeSubscribedTopics` reads it: for protocol type
//! `consumer` only, each member's metadata of the chosen protocol as an int16 version then
//! the version-0 prefix of `ConsumerProtocolSubscription` (which every later version
//! extends), so no version is refused for being newer. Offset expiry and OffsetDelete use it.

use std::collections::BTreeSet;

use weir_protocol::Decoder;
use weir_protocol::messages::consumer_protocol_subscription::ConsumerProtocolSubscription;

use super::member::Group;

/// The classic consumer protocol's protocol type.
pub(crate) const CONSUMER_PROTOCOL_TYPE: &str = "consumer";

/// The topics of one member's subscription metadata, or `None` if it does not parse.
pub(crate) fn subscription_topics(metadata: &bytes::Bytes) -> Option<Vec<String>> {
    let mut d = Decoder::new(metadata.clone());
    let version = d.i16().ok()?;
    if version < 0 {
        return None;
    }
    ConsumerProtocolSubscription::decode(&mut d, 0)
        .ok()
        .map(|s| s.topics)
}

/// Kafka's `computeSubscribedTopics`: `None` unless the protocol type is `consumer`; the
/// empty set without members; `None` without a chosen protocol or if any member's
/// metadata does not parse.
pub(crate) fn subscribed_topics(g: &Group) -> Option<BTreeSet<String>> {
    if !g.uses_consumer_protocol() {
        return None;
    }
    if g.members.is_empty() {
        return Some(BTreeSet::new());
    }
    let protocol = g.protocol.as_deref()?;
    let mut all = BTreeSet::new();
    for m in &g.members {
        match subscription_topics(&m.metadata_for(protocol)) {
            Some(topics) => all.extend(topics),
            None => {
                tracing::warn!(group = %g.id, protocol, "consumer protocol metadata does not parse: subscribed topics unknown");
                return None;
            }
        }
    }
    Some(all)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::{BufMut, Bytes, BytesMut};

    fn metadata(version: i16, topics: &[&str], tail: &[u8]) -> Bytes {
        let mut b = BytesMut::new();
        b.put_i16(version);
        b.put_i32(topics.len() as i32);
        for t in topics {
            b.put_i16(t.len() as i16);
            b.put_slice(t.as_bytes());
        }
        b.put_i32(-1); // user data
        b.put_slice(tail);
        b.freeze()
    }

    #[test]
    fn every_version_is_read_by_its_v0_prefix() {
        assert_eq!(
            subscription_topics(&metadata(0, &["a", "b"], &[])),
            Some(vec!["a".to_string(), "b".to_string()])
        );
        // v3 (owned partitions, generation, rack) and a future v9: the prefix is enough.
        assert_eq!(
            subscription_topics(&metadata(9, &["c"], &[0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0xff])),
            Some(vec!["c".to_string()])
        );
        assert_eq!(subscription_topics(&metadata(-1, &["a"], &[])), None);
        assert_eq!(
            subscription_topics(&Bytes::from_static(&[0, 0, 0, 0, 0, 9])),
            None
        );
        assert_eq!(subscription_topics(&Bytes::new()), None);
    }
}
