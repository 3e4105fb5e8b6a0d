//! Topic ids (KIP-516): a random version-4 UUID per topic, made when the topic is created
//! and kept in its metadata file (`meta.rs`), so it survives restarts. Made as Kafka's
//! `Uuid.randomUuid` makes them: never one of the reserved ids (zero, and one, the KRaft
//! metadata topic's), never one whose base64 form starts with `-`. [`TopicMap`] finds a
//! topic by name or by id.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use thiserror::Error;

use crate::topics::Topic;

/// A topic id, as the 16 bytes of the wire's `uuid`.
pub type TopicId = [u8; 16];

/// Kafka's `Uuid.ZERO_UUID`: "no id" on the wire.
pub const ZERO_TOPIC_ID: TopicId = [0; 16];

/// Kafka's `Uuid.ONE_UUID`, the id of KRaft's metadata topic.
const ONE_TOPIC_ID: TopicId = {
    let mut id = [0; 16];
    id[15] = 1;
    id
};

/// The OS random source failed.
#[derive(Debug, Error)]
#[error("no random bytes for a topic id: {0}")]
pub struct RandomError(String);

/// True for the ids `Uuid.randomUuid` never returns (Kafka's `Uuid.RESERVED`).
pub fn is_reserved(id: &TopicId) -> bool {
    *id == ZERO_TOPIC_ID || *id == ONE_TOPIC_ID
}

/// The base64 form starts with `-` when the first six bits are 62 (url-safe alphabet).
fn starts_with_dash(id: &TopicId) -> bool {
    id[0] >> 2 == 62
}

/// A new random topic id.
pub fn random_topic_id() -> Result<TopicId, RandomError> {
    loop {
        let mut id = [0u8; 16];
        getrandom::fill(&mut id).map_err(|e| RandomError(e.to_string()))?;
        // java.util.UUID.randomUUID: version 4, IETF variant.
        id[6] = (id[6] & 0x0f) | 0x40;
        id[8] = (id[8] & 0x3f) | 0x80;
        if !is_reserved(&id) && !starts_with_dash(&id) {
            return Ok(id);
        }
    }
}

/// The id as Kafka prints it (`Uuid.toString`: url-safe base64 without padding), for logs.
pub fn display(id: &TopicId) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(22);
    let mut bits = 0u32;
    let mut have = 0u32;
    for &b in id {
        bits = (bits << 8) | u32::from(b);
        have += 8;
        while have >= 6 {
            have -= 6;
            out.push(char::from(ALPHABET[((bits >> have) & 63) as usize]));
        }
    }
    if have > 0 {
        out.push(char::from(ALPHABET[((bits << (6 - have)) & 63) as usize]));
    }
    out
}

/// The topics by name and by id, replaced together under one lock.
#[derive(Debug, Default)]
pub(crate) struct TopicMap {
    pub(crate) by_name: BTreeMap<String, Arc<Topic>>,
    pub(crate) by_id: HashMap<TopicId, Arc<Topic>>,
}

impl TopicMap {
    pub(crate) fn insert(&mut self, topic: Arc<Topic>) {
        if let Some(old) = self.by_name.insert(topic.name.clone(), Arc::clone(&topic)) {
            self.by_id.remove(&old.id);
        }
        self.by_id.insert(topic.id, topic);
    }

    pub(crate) fn remove_by_id(&mut self, id: &TopicId) -> Option<Arc<Topic>> {
        let topic = self.by_id.remove(id)?;
        self.by_name.remove(&topic.name);
        Some(topic)
    }

    pub(crate) fn remove(&mut self, name: &str) -> Option<Arc<Topic>> {
        let topic = self.by_name.remove(name)?;
        self.by_id.remove(&topic.id);
        Some(topic)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_ids_are_version_4_distinct_and_never_reserved() {
        let ids: Vec<TopicId> = (0..1000).map(|_| random_topic_id().unwrap()).collect();
        for id in &ids {
            assert_eq!(id[6] >> 4, 4, "version 4");
            assert_eq!(id[8] >> 6, 2, "IETF variant");
            assert!(!is_reserved(id));
            assert!(!display(id).starts_with('-'));
        }
        let distinct: std::collections::HashSet<_> = ids.iter().collect();
        assert_eq!(distinct.len(), ids.len());
    }

    #[test]
    fn display_is_kafkas_base64() {
        assert_eq!(display(&ZERO_TOPIC_ID), "AAAAAAAAAAAAAAAAAAAAAA");
        assert_eq!(display(&ONE_TOPIC_ID), "AAAAAAAAAAAAAAAAAAAAAQ");
        assert!(is_reserved(&ONE_TOPIC_ID));
        let mut dash = [0u8; 16];
        dash[0] = 0xf8;
        assert!(starts_with_dash(&dash));
        assert!(display(&dash).starts_with('-'));
    }
}
