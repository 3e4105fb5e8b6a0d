//! Committed offsets: an in-memory map rebuilt on start-up from `__consumer_offsets`, where
//! every commit is appended as a record batch and fsync'd before it is acknowledged.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tracing::{info, warn};
use weir_protocol::records::{BatchBuilder, BatchSettings, NewRecord};

use super::codec::{self, GroupValue, Key, OffsetValue};
use crate::clock::now_ms;
use crate::config::TimestampType;
use crate::errors::PartitionError;
use crate::internal_topic;
use crate::topics::Partition;

/// The internal topic holding committed offsets and group records (one partition).
pub const OFFSETS_TOPIC: &str = "__consumer_offsets";

/// One stored offset and the log offset of the record that set it (to apply concurrent
/// commits in log order).
#[derive(Debug, Clone)]
struct Entry {
    value: OffsetValue,
    log_offset: i64,
}

/// Offsets by group, then by (topic, partition).
type OffsetMap = HashMap<String, BTreeMap<(String, i32), Entry>>;

/// An offset committed inside a transaction, waiting for its marker.
#[derive(Debug, Clone)]
struct PendingOffset {
    value: OffsetValue,
    log_offset: i64,
}

/// Pending transactional offsets by producer id, then by key.
type PendingMap = HashMap<i64, HashMap<Key, PendingOffset>>;

/// What a replay found.
#[derive(Debug, Default)]
pub struct Replayed {
    /// Groups with a group record: (id, value).
    pub groups: Vec<(String, GroupValue)>,
    /// Groups that only have offsets.
    pub offset_groups: Vec<String>,
    /// Records read.
    pub records: u64,
}

/// A write to `__consumer_offsets`: a key and its value (`None`: delete).
pub type Write = (Key, Option<Bytes>);

/// Committed offsets of every group.
#[derive(Debug)]
pub struct OffsetStore {
    partition: Arc<Partition>,
    map: Mutex<OffsetMap>,
    /// Offsets of open transactions.
    pending: Mutex<PendingMap>,
    /// Taken around append + map update ordering decisions.
    append: Mutex<()>,
    /// Keys of writes appended but not yet applied to `map` (how many of each): offset
    /// expiry leaves them alone, so its tombstones never follow a commit it has not seen.
    unapplied: Mutex<HashMap<Key, usize>>,
}

/// One group's committed offsets as offset expiry sees them: (topic, partition, value,
/// busy), busy when a write of it is in flight or a transaction holds one pending.
pub type ExpiryGroup = (String, Vec<(String, i32, OffsetValue, bool)>);

/// Forgets `keys` in [`OffsetStore::unapplied`] when dropped (applied, or failed).
struct Unapplied<'a> {
    store: &'a OffsetStore,
    keys: Vec<Key>,
}

impl Drop for Unapplied<'_> {
    fn drop(&mut self) {
        let mut u = self
            .store
            .unapplied
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        for k in self.keys.drain(..) {
            if let Some(n) = u.get_mut(&k) {
                *n -= 1;
                if *n == 0 {
                    u.remove(&k);
                }
            }
        }
    }
}

impl OffsetStore {
    /// Replays `partition` (the offsets topic's only partition): the latest record per key
    /// wins; transactional commits count only once their commit marker is met.
    pub fn open(partition: Arc<Partition>) -> Result<(Self, Replayed), PartitionError> {
        let started = std::time::Instant::now();
        let mut map: OffsetMap = HashMap::new();
        let mut groups: BTreeMap<String, Option<GroupValue>> = BTreeMap::new();
        let mut pending: PendingMap = HashMap::new();
        let records = internal_topic::replay(&partition, |batch| {
            let header = batch.header;
            if header.is_control() {
                let commit = match batch.records.first().and_then(|r| r.key.as_deref()) {
                    Some(k) => crate::txn::control_is_commit(k),
                    None => None,
                };
                let Some(commit) = commit else {
                    warn!(
                        offset = header.base_offset,
                        "undecodable marker in __consumer_offsets"
                    );
                    return;
                };
                for (key, p) in pending.remove(&header.producer_id).unwrap_or_default() {
                    if commit {
                        let value = codec::encode_offset(&p.value);
                        apply(&mut map, &mut groups, key, Some(&value), p.log_offset);
                    }
                }
                return;
            }
            for rec in batch.records {
                let Some(key) = rec.key.as_deref().and_then(|k| codec::decode_key(k).ok()) else {
                    warn!(offset = rec.offset, "undecodable key in __consumer_offsets");
                    continue;
                };
                if header.is_transactional() {
                    let value = rec.value.as_deref().map(codec::decode_offset);
                    if let (Key::Offset { .. }, Some(Ok(value))) = (&key, value) {
                        pending.entry(header.producer_id).or_default().insert(
                            key,
                            PendingOffset {
                                value,
                                log_offset: rec.offset,
                            },
                        );
                    }
                    continue;
                }
                apply(&mut map, &mut groups, key, rec.value.as_deref(), rec.offset);
            }
        })?;
        let mut replayed = Replayed {
            records,
            ..Default::default()
        };
        for (g, v) in groups {
            if let Some(v) = v {
                replayed.groups.push((g, v));
            }
        }
        for g in map.keys() {
            if !replayed.groups.iter().any(|(id, _)| id == g) {
                replayed.offset_groups.push(g.clone());
            }
        }
        info!(
            records,
            groups = map.len(),
            pending_transactions = pending.len(),
            ms = started.elapsed().as_millis() as u64,
            "committed offsets loaded"
        );
        Ok((
            Self {
                partition,
                map: Mutex::new(map),
                pending: Mutex::new(pending),
                append: Mutex::new(()),
                unapplied: Mutex::new(HashMap::new()),
            },
            replayed,
        ))
    }

    /// The `__consumer_offsets` partition (the transaction coordinator writes its markers).
    pub fn partition(&self) -> &Arc<Partition> {
        &self.partition
    }

    /// TxnOffsetCommit: appends the offsets as a transactional batch of `producer_id`, waits
    /// until it is durable, and holds them as pending until the transaction's marker
    /// ([`OffsetStore::complete_transaction`]).
    pub async fn write_transactional(
        &self,
        producer_id: i64,
        producer_epoch: i16,
        group: &str,
        entries: Vec<(String, i32, OffsetValue)>,
    ) -> Result<(), PartitionError> {
        if entries.is_empty() {
            return Ok(());
        }
        let now = now_ms();
        let mut builder = BatchBuilder::new(BatchSettings {
            producer_id,
            producer_epoch,
            transactional: true,
            ..BatchSettings::default()
        });
        let keys: Vec<Key> = entries
            .iter()
            .map(|(topic, partition, _)| Key::Offset {
                group: group.to_string(),
                topic: topic.clone(),
                partition: *partition,
            })
            .collect();
        for (key, (_, _, v)) in keys.iter().zip(&entries) {
            builder
                .push(NewRecord {
                    timestamp: now,
                    key: Some(codec::encode_key(key)),
                    value: Some(codec::encode_offset(v)),
                    ..Default::default()
                })
                .map_err(PartitionError::OffsetsBatch)?;
        }
        let batch = builder.build().map_err(PartitionError::OffsetsBatch)?;
        let appended = {
            let _g = self.append.lock().unwrap_or_else(|p| p.into_inner());
            self.partition.append_as_coordinator(&batch, now)?
        };
        self.partition.sync_to(appended.last_offset + 1).await?;
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        let mine = pending.entry(producer_id).or_default();
        for (i, (key, (_, _, value))) in keys.into_iter().zip(entries).enumerate() {
            let log_offset = appended.base_offset + i as i64;
            mine.insert(key, PendingOffset { value, log_offset });
        }
        Ok(())
    }

    /// After `producer_id`'s marker here is durable: a commit makes its pending offsets the
    /// committed ones (each at the log offset of its record, so a later plain commit still
    /// wins), an abort drops them.
    pub fn complete_transaction(&self, producer_id: i64, commit: bool) {
        let done = self
            .pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&producer_id)
            .unwrap_or_default();
        if !commit {
            return;
        }
        let mut map = self.lock();
        let mut groups = BTreeMap::new();
        for (key, p) in done {
            let value = codec::encode_offset(&p.value);
            apply(&mut map, &mut groups, key, Some(&value), p.log_offset);
        }
    }

    /// Whether a transaction holds an offset of (group, topic, partition) not yet committed
    /// or aborted (OffsetFetch's `require_stable`).
    pub fn has_pending(&self, group: &str, topic: &str, partition: i32) -> bool {
        let key = Key::Offset {
            group: group.to_string(),
            topic: topic.to_string(),
            partition,
        };
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .any(|m| m.contains_key(&key))
    }

    /// Pending transactional offsets of `producer_id` (a bound's check).
    pub fn pending_count(&self, producer_id: i64) -> usize {
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&producer_id)
            .map_or(0, HashMap::len)
    }

    /// Appends `writes` as one batch, waits until it is durable, then applies it. Nothing is
    /// visible (or acknowledged) before the fsync.
    pub async fn write(&self, writes: Vec<Write>) -> Result<(), PartitionError> {
        if writes.is_empty() {
            return Ok(());
        }
        let (appended, unapplied) = {
            let _g = self.append.lock().unwrap_or_else(|p| p.into_inner());
            self.append_writes(&writes)?
        };
        self.finish(writes, appended, unapplied).await
    }

    /// Offset expiry: under the append lock, `decide` is shown every group's offsets (busy
    /// ones marked) and returns the tombstones to write; they are appended before the lock
    /// is released (so a later commit follows them in the log), then made durable and
    /// applied. Returns how many writes were made.
    pub async fn expire_with(
        &self,
        decide: impl FnOnce(Vec<ExpiryGroup>) -> Vec<Write>,
    ) -> Result<usize, PartitionError> {
        let (writes, appended, unapplied) = {
            let _g = self.append.lock().unwrap_or_else(|p| p.into_inner());
            let snapshot: Vec<ExpiryGroup> = {
                let map = self.lock();
                let unapplied = self.unapplied.lock().unwrap_or_else(|p| p.into_inner());
                let pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
                map.iter()
                    .map(|(g, m)| {
                        let entries = m
                            .iter()
                            .map(|((t, p), e)| {
                                let key = Key::Offset {
                                    group: g.clone(),
                                    topic: t.clone(),
                                    partition: *p,
                                };
                                let busy = unapplied.contains_key(&key)
                                    || pending.values().any(|m| m.contains_key(&key));
                                (t.clone(), *p, e.value.clone(), busy)
                            })
                            .collect();
                        (g.clone(), entries)
                    })
                    .collect()
            };
            let writes = decide(snapshot);
            if writes.is_empty() {
                return Ok(0);
            }
            let (appended, unapplied) = self.append_writes(&writes)?;
            (writes, appended, unapplied)
        };
        let n = writes.len();
        self.finish(writes, appended, unapplied).await?;
        Ok(n)
    }

    /// Appends `writes` as one batch (the caller holds `append`) and notes them unapplied.
    fn append_writes(
        &self,
        writes: &[Write],
    ) -> Result<(crate::topics::Appended, Unapplied<'_>), PartitionError> {
        let now = now_ms();
        let mut builder = BatchBuilder::new(BatchSettings::default());
        for (key, value) in writes {
            builder
                .push(NewRecord {
                    timestamp: now,
                    key: Some(codec::encode_key(key)),
                    value: value.clone(),
                    ..Default::default()
                })
                .map_err(PartitionError::OffsetsBatch)?;
        }
        let batch = builder.build().map_err(PartitionError::OffsetsBatch)?;
        let appended = crate::offload::run(batch.len(), || {
            self.partition
                .append_bytes(&batch, TimestampType::CreateTime, now)
        })?;
        let keys: Vec<Key> = writes.iter().map(|(k, _)| k.clone()).collect();
        {
            let mut u = self.unapplied.lock().unwrap_or_else(|p| p.into_inner());
            for k in &keys {
                *u.entry(k.clone()).or_default() += 1;
            }
        }
        Ok((appended, Unapplied { store: self, keys }))
    }

    /// Waits until an appended batch is durable, then applies it.
    async fn finish(
        &self,
        writes: Vec<Write>,
        appended: crate::topics::Appended,
        unapplied: Unapplied<'_>,
    ) -> Result<(), PartitionError> {
        self.partition.sync_to(appended.last_offset + 1).await?;
        let mut map = self.lock();
        let mut groups = BTreeMap::new();
        for (i, (key, value)) in writes.into_iter().enumerate() {
            let log_offset = appended.base_offset + i as i64;
            apply(&mut map, &mut groups, key, value.as_deref(), log_offset);
        }
        drop(map);
        drop(unapplied);
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, OffsetMap> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The committed offset of (group, topic, partition).
    pub fn get(&self, group: &str, topic: &str, partition: i32) -> Option<OffsetValue> {
        self.lock()
            .get(group)
            .and_then(|m| m.get(&(topic.to_string(), partition)))
            .map(|e| e.value.clone())
    }

    /// Every committed offset of a group, by (topic, partition).
    pub fn all(&self, group: &str) -> Vec<((String, i32), OffsetValue)> {
        self.lock()
            .get(group)
            .map(|m| {
                m.iter()
                    .map(|(k, e)| (k.clone(), e.value.clone()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Every committed offset: (group, topic, partition, offset), for the metrics.
    pub fn snapshot(&self) -> Vec<(String, String, i32, i64)> {
        self.lock()
            .iter()
            .flat_map(|(g, m)| {
                m.iter()
                    .map(move |((t, p), e)| (g.clone(), t.clone(), *p, e.value.offset))
            })
            .collect()
    }

    /// Whether the group has any committed offset.
    pub fn has_group(&self, group: &str) -> bool {
        self.lock().get(group).is_some_and(|m| !m.is_empty())
    }
}

fn apply(
    map: &mut OffsetMap,
    groups: &mut BTreeMap<String, Option<GroupValue>>,
    key: Key,
    value: Option<&[u8]>,
    log_offset: i64,
) {
    match key {
        Key::Offset {
            group,
            topic,
            partition,
        } => {
            let k = (topic, partition);
            match value {
                None => {
                    if let Some(m) = map.get_mut(&group) {
                        if m.get(&k).is_some_and(|e| e.log_offset < log_offset) {
                            m.remove(&k);
                        }
                        if m.is_empty() {
                            map.remove(&group);
                        }
                    }
                }
                Some(v) => match codec::decode_offset(v) {
                    Ok(value) => {
                        let m = map.entry(group).or_default();
                        if m.get(&k).is_none_or(|e| e.log_offset < log_offset) {
                            m.insert(k, Entry { value, log_offset });
                        }
                    }
                    Err(e) => warn!(error = %e, log_offset, "undecodable offset record"),
                },
            }
        }
        Key::Group { group } => match value {
            None => {
                groups.insert(group, None);
            }
            Some(v) => match codec::decode_group(v) {
                Ok(v) => {
                    groups.insert(group, Some(v));
                }
                Err(e) => warn!(error = %e, log_offset, "undecodable group record"),
            },
        },
    }
}
