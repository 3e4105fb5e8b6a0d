//! The topics this broker holds: each a set of partitions, each partition a storage [`Log`]
//! plus its idempotent-producer state. Topic metadata (partition count, config overrides,
//! topic id) is persisted in `__weir_meta/`; the logs themselves in the [`Store`].

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};

use tracing::{info, warn};
use weir_protocol::ErrorCode;
use weir_storage::{RealFs, Store, TopicPartition};

use crate::config::BrokerConfig;
use crate::durability::Durability;
pub use crate::errors::TopicError;
use crate::meta::{TopicMeta, TopicStore};
use crate::metrics::HistogramSnapshot;
pub use crate::partition::{Appended, Partition};
use crate::topic_config::{TopicConfigError, TopicDefaults, TopicSettings};
use crate::topic_id::{TopicId, TopicMap, is_reserved, random_topic_id};

/// A topic: immutable partition list (CreatePartitions swaps in a new `Topic`), mutable settings.
#[derive(Debug)]
pub struct Topic {
    /// Topic name.
    pub name: String,
    /// Kafka topic id (random, persisted, never reserved).
    pub id: TopicId,
    /// Partitions, index = position.
    pub partitions: Vec<Arc<Partition>>,
    /// Effective settings.
    pub settings: RwLock<TopicSettings>,
}

impl Topic {
    /// A snapshot of the settings.
    pub fn settings(&self) -> TopicSettings {
        self.settings
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// A partition by index.
    pub fn partition(&self, index: i32) -> Option<&Arc<Partition>> {
        usize::try_from(index)
            .ok()
            .and_then(|i| self.partitions.get(i))
    }
}

/// Partitions a topic may have at most.
pub const TOPIC_PARTITIONS_MAX: i32 = 10_000;

/// All topics.
#[derive(Debug)]
pub struct Topics {
    store: Store,
    meta: TopicStore,
    /// The broker-wide topic defaults, static and dynamic (changed under `admin`).
    defaults: RwLock<TopicDefaults>,
    topics: RwLock<TopicMap>,
    /// Serialises create/delete/alter so two admins cannot interleave half-done changes.
    admin: Mutex<()>,
    /// Shared by every partition: the flush policy, and the channel long-poll fetches wait on.
    durability: Arc<Durability>,
    /// What the cleaner threads did, for the metrics.
    cleaner_totals: crate::cleaner::CleanerTotals,
}

impl Topics {
    /// Opens the data directory: recovers every log, loads topic metadata, rebuilds producer
    /// state. Logs found without metadata (a crash between the two) are adopted, never dropped.
    pub fn open(config: &BrokerConfig) -> Result<Self, TopicError> {
        Self::open_with_fs(config, Arc::new(RealFs))
    }

    /// [`Topics::open`] with every partition log's file I/O going through `fs` (tests inject
    /// faults with [`weir_storage::FaultFs`]).
    pub fn open_with_fs(
        config: &BrokerConfig,
        fs: Arc<dyn weir_storage::FileSystem>,
    ) -> Result<Self, TopicError> {
        Self::open_with_defaults(config, fs, BTreeMap::new())
    }

    /// [`Topics::open_with_fs`] with dynamic broker defaults (by topic config name) under
    /// every topic's overrides.
    pub fn open_with_defaults(
        config: &BrokerConfig,
        fs: Arc<dyn weir_storage::FileSystem>,
        dynamic: BTreeMap<String, String>,
    ) -> Result<Self, TopicError> {
        let data_dir: &Path = &config.data_dir;
        let defaults = TopicDefaults::of(config).with_dynamic(dynamic);
        let base =
            TopicSettings::new(&defaults, BTreeMap::new()).map_err(TopicError::InvalidConfig)?;
        let store = Store::open_with_threads(
            data_dir,
            base.log,
            Arc::clone(&fs),
            config.num_recovery_threads_per_data_dir as usize,
        )?;
        let meta = TopicStore::open(data_dir, fs)?;
        let mut metas = meta.load_all()?;
        // Adopt orphan logs.
        for tp in store.list() {
            let entry = metas.entry(tp.topic().to_string()).or_insert_with(|| {
                warn!(
                    topic = tp.topic(),
                    "adopting a partition log that has no topic metadata"
                );
                TopicMeta {
                    partitions: 0,
                    configs: BTreeMap::new(),
                    topic_id: crate::topic_id::ZERO_TOPIC_ID, // given one below
                }
            });
            entry.partitions = entry.partitions.max(tp.partition() + 1);
        }
        let durability = Arc::new(Durability::new(config.flush));
        let mut topics = TopicMap::default();
        for (name, mut m) in metas {
            if is_reserved(&m.topic_id) || topics.by_id.contains_key(&m.topic_id) {
                // Written before topic ids existed, or adopted: the id is made now and saved
                // below, so it is the same after every later restart.
                m.topic_id = random_topic_id()?;
                info!(topic = %name, id = %crate::topic_id::display(&m.topic_id), "topic given an id");
            }
            let settings = TopicSettings::new(&defaults, m.configs.clone())
                .map_err(TopicError::InvalidConfig)?;
            let mut partitions = Vec::new();
            for p in 0..m.partitions {
                let tp = TopicPartition::new(&name, p)?;
                let log = match store.get(&tp) {
                    Some(log) => log,
                    None => store.create(&tp, settings.applied_log_config())?,
                };
                log.set_config(settings.applied_log_config())
                    .map_err(|e| TopicError::InvalidConfig(TopicConfigError::Apply(e)))?;
                partitions.push(Arc::new(Partition::new(p, log, Arc::clone(&durability))?));
            }
            meta.save(&name, &m)?;
            topics.insert(Arc::new(Topic {
                name,
                id: m.topic_id,
                partitions,
                settings: RwLock::new(settings),
            }));
        }
        info!(topics = topics.by_name.len(), dir = %data_dir.display(), "topics loaded");
        Ok(Self {
            store,
            meta,
            defaults: RwLock::new(defaults),
            topics: RwLock::new(topics),
            admin: Mutex::new(()),
            durability,
            cleaner_totals: Default::default(),
        })
    }

    /// The data directory holding every partition log (Kafka's one log dir).
    pub fn data_dir(&self) -> &Path {
        self.store.dir()
    }

    /// The broker-wide topic defaults (a snapshot).
    pub fn defaults(&self) -> TopicDefaults {
        self.defaults
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Replaces the dynamic broker defaults (by topic config name): checked against every
    /// topic's overrides first, then applied at once to every open log, each topic's own
    /// overrides still winning. Nothing changes if any topic would refuse them.
    pub fn set_dynamic_defaults(
        &self,
        dynamic: BTreeMap<String, String>,
        validate_only: bool,
    ) -> Result<(), TopicError> {
        let _admin = self.admin.lock().unwrap_or_else(|p| p.into_inner());
        let defaults = self.defaults().with_dynamic(dynamic);
        TopicSettings::new(&defaults, BTreeMap::new()).map_err(TopicError::InvalidConfig)?;
        let mut next = Vec::new();
        for topic in self.all() {
            let settings = TopicSettings::new(&defaults, topic.settings().overrides)
                .map_err(TopicError::InvalidConfig)?;
            next.push((topic, settings));
        }
        if validate_only {
            return Ok(());
        }
        *self.defaults.write().unwrap_or_else(|p| p.into_inner()) = defaults;
        for (topic, settings) in next {
            for p in &topic.partitions {
                p.log
                    .set_config(settings.applied_log_config())
                    .map_err(|e| TopicError::InvalidConfig(TopicConfigError::Apply(e)))?;
            }
            *topic.settings.write().unwrap_or_else(|p| p.into_inner()) = settings;
        }
        Ok(())
    }

    /// A topic by name.
    pub fn get(&self, name: &str) -> Option<Arc<Topic>> {
        self.map().by_name.get(name).cloned()
    }

    fn map(&self) -> std::sync::RwLockReadGuard<'_, TopicMap> {
        self.topics.read().unwrap_or_else(|p| p.into_inner())
    }

    /// A topic by id.
    pub fn get_by_id(&self, id: &TopicId) -> Option<Arc<Topic>> {
        self.map().by_id.get(id).cloned()
    }

    /// The partition a request names: `UNKNOWN_TOPIC_OR_PARTITION` if the topic or the
    /// partition does not exist.
    pub fn partition(&self, topic: &str, index: i32) -> Result<Arc<Partition>, ErrorCode> {
        self.get(topic)
            .and_then(|t| t.partition(index).cloned())
            .ok_or(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION)
    }

    /// Every topic, by name.
    pub fn all(&self) -> Vec<Arc<Topic>> {
        self.map().by_name.values().cloned().collect()
    }

    /// Validates a topic name as Kafka does: 1..=249 of `[a-zA-Z0-9._-]`, not `.` or `..`.
    pub fn validate_name(name: &str) -> Result<(), TopicError> {
        let ok = !name.is_empty()
            && name.len() <= 249
            && name != "."
            && name != ".."
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-');
        if ok {
            Ok(())
        } else {
            Err(TopicError::InvalidName(name.to_string()))
        }
    }

    /// Checks a create request without doing it (CreateTopics' `validate_only`).
    pub fn validate_create(
        &self,
        name: &str,
        partitions: i32,
        configs: &BTreeMap<String, String>,
    ) -> Result<TopicSettings, TopicError> {
        Self::validate_name(name)?;
        if self.get(name).is_some() {
            return Err(TopicError::AlreadyExists(name.to_string()));
        }
        if !(1..=TOPIC_PARTITIONS_MAX).contains(&partitions) {
            return Err(TopicError::PartitionCount {
                requested: partitions,
                max: TOPIC_PARTITIONS_MAX,
            });
        }
        TopicSettings::new(&self.defaults(), configs.clone()).map_err(TopicError::InvalidConfig)
    }

    /// Creates a topic: metadata first (durably), then its partition logs.
    pub fn create(
        &self,
        name: &str,
        partitions: i32,
        configs: BTreeMap<String, String>,
    ) -> Result<Arc<Topic>, TopicError> {
        let _admin = self.admin.lock().unwrap_or_else(|p| p.into_inner());
        let settings = self.validate_create(name, partitions, &configs)?;
        let m = TopicMeta {
            partitions,
            configs,
            topic_id: random_topic_id()?,
        };
        self.meta.save(name, &m)?;
        let mut parts = Vec::with_capacity(partitions as usize);
        for p in 0..partitions {
            let log = self.store.create(
                &TopicPartition::new(name, p)?,
                settings.applied_log_config(),
            )?;
            parts.push(Arc::new(Partition::new(
                p,
                log,
                Arc::clone(&self.durability),
            )?));
        }
        let topic = Arc::new(Topic {
            name: name.to_string(),
            id: m.topic_id,
            partitions: parts,
            settings: RwLock::new(settings),
        });
        self.topics
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(Arc::clone(&topic));
        info!(topic = name, partitions, id = %crate::topic_id::display(&topic.id), "topic created");
        Ok(topic)
    }

    /// Deletes a topic and its logs.
    pub fn delete(&self, name: &str) -> Result<Arc<Topic>, TopicError> {
        let _admin = self.admin.lock().unwrap_or_else(|p| p.into_inner());
        let topic = self
            .topics
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(name)
            .ok_or_else(|| TopicError::NotFound(name.to_string()))?;
        self.delete_logs(&topic)?;
        Ok(topic)
    }

    /// Deletes the topic with this id (DeleteTopics v6+), whatever its name is by then.
    pub fn delete_by_id(&self, id: &TopicId) -> Result<Arc<Topic>, TopicError> {
        let _admin = self.admin.lock().unwrap_or_else(|p| p.into_inner());
        let mut map = self.topics.write().unwrap_or_else(|p| p.into_inner());
        let topic = map
            .remove_by_id(id)
            .ok_or_else(|| TopicError::UnknownId(crate::topic_id::display(id)))?;
        drop(map);
        self.delete_logs(&topic)?;
        Ok(topic)
    }

    /// The second half of a delete, under the admin lock: metadata, then the logs.
    fn delete_logs(&self, topic: &Topic) -> Result<(), TopicError> {
        let name = &topic.name;
        self.meta.remove(name)?;
        for p in &topic.partitions {
            self.store.delete(&TopicPartition::new(name, p.index)?)?;
        }
        for p in &topic.partitions {
            p.readable_moved.notify_waiters(); // wake fetches waiting on the deleted partitions
        }
        info!(topic = %name, id = %crate::topic_id::display(&topic.id), "topic deleted");
        Ok(())
    }

    /// Raises a topic's partition count (CreatePartitions).
    pub fn add_partitions(
        &self,
        name: &str,
        count: i32,
        validate_only: bool,
    ) -> Result<(), TopicError> {
        let _admin = self.admin.lock().unwrap_or_else(|p| p.into_inner());
        let old = self
            .get(name)
            .ok_or_else(|| TopicError::NotFound(name.to_string()))?;
        let have = old.partitions.len() as i32;
        if count <= have || count > TOPIC_PARTITIONS_MAX {
            return Err(TopicError::PartitionIncrease {
                have,
                requested: count,
            });
        }
        if validate_only {
            return Ok(());
        }
        let settings = old.settings();
        self.meta.save(
            name,
            &TopicMeta {
                partitions: count,
                configs: settings.overrides.clone(),
                topic_id: old.id,
            },
        )?;
        let mut parts = old.partitions.clone();
        for p in have..count {
            let log = self.store.create(
                &TopicPartition::new(name, p)?,
                settings.applied_log_config(),
            )?;
            parts.push(Arc::new(Partition::new(
                p,
                log,
                Arc::clone(&self.durability),
            )?));
        }
        let topic = Arc::new(Topic {
            name: name.to_string(),
            id: old.id,
            partitions: parts,
            settings: RwLock::new(settings),
        });
        self.topics
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(topic);
        Ok(())
    }

    /// Replaces a topic's config overrides (applied to open logs at once, persisted).
    pub fn set_configs(
        &self,
        name: &str,
        overrides: BTreeMap<String, String>,
        validate_only: bool,
    ) -> Result<(), TopicError> {
        let _admin = self.admin.lock().unwrap_or_else(|p| p.into_inner());
        let topic = self
            .get(name)
            .ok_or_else(|| TopicError::NotFound(name.to_string()))?;
        let settings =
            TopicSettings::new(&self.defaults(), overrides).map_err(TopicError::InvalidConfig)?;
        if validate_only {
            return Ok(());
        }
        self.meta.save(
            name,
            &TopicMeta {
                partitions: topic.partitions.len() as i32,
                configs: settings.overrides.clone(),
                topic_id: topic.id,
            },
        )?;
        for p in &topic.partitions {
            p.log
                .set_config(settings.applied_log_config())
                .map_err(|e| TopicError::InvalidConfig(TopicConfigError::Apply(e)))?;
        }
        *topic.settings.write().unwrap_or_else(|p| p.into_inner()) = settings;
        Ok(())
    }

    /// Runs time and size retention on every log.
    pub fn run_retention(&self, now_ms: i64) -> Result<(), TopicError> {
        self.store.run_retention(now_ms)?;
        Ok(())
    }

    /// What the cleaner threads have done since start.
    pub fn cleaner_totals(&self) -> &crate::cleaner::CleanerTotals {
        &self.cleaner_totals
    }

    /// The waits of `acks=-1` produces and offset commits for their fsync, so far.
    pub(crate) fn ack_wait(&self) -> HistogramSnapshot {
        self.durability.ack_wait.snapshot()
    }

    /// Writes every partition's producer snapshot, then flushes and closes every log,
    /// leaving the clean-shutdown marker. A snapshot that fails is logged: the next start
    /// walks more of that log.
    pub fn close(&self) -> Result<(), TopicError> {
        for t in self.all() {
            for p in &t.partitions {
                if let Err(e) = p.snapshot_for_close() {
                    tracing::warn!(topic = %t.name, partition = p.index, error = %e, "producer snapshot not written at close");
                }
            }
        }
        self.store.close()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::TimestampType;
    use bytes::Bytes;
    use weir_protocol::records::{BatchBuilder, BatchSettings, NewRecord};

    fn config(dir: &Path) -> BrokerConfig {
        let mut c = BrokerConfig::from_settings([]).unwrap();
        c.data_dir = dir.to_path_buf();
        c
    }

    fn batch(pid: i64, epoch: i16, seq: i32, n: usize) -> Bytes {
        let mut b = BatchBuilder::new(BatchSettings {
            producer_id: pid,
            producer_epoch: epoch,
            base_sequence: seq,
            ..Default::default()
        });
        for i in 0..n {
            b.push(NewRecord {
                timestamp: 1_000 + i as i64,
                key: Some(Bytes::from(format!("k{i}"))),
                value: Some(Bytes::from_static(b"v")),
                ..Default::default()
            })
            .unwrap();
        }
        b.build().unwrap()
    }

    #[test]
    fn idempotent_resend_survives_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = config(dir.path());
        {
            let topics = Topics::open(&cfg).unwrap();
            let t = topics.create("orders", 2, BTreeMap::new()).unwrap();
            let p = t.partition(1).unwrap();
            assert_eq!(
                p.append_bytes(&batch(-1, -1, -1, 2), TimestampType::CreateTime, 0)
                    .unwrap()
                    .base_offset,
                0
            );
            let a = p
                .append_bytes(&batch(42, 0, 0, 3), TimestampType::CreateTime, 0)
                .unwrap();
            assert_eq!((a.base_offset, a.last_offset, a.duplicate), (2, 4, false));
            let again = p
                .append_bytes(&batch(42, 0, 0, 3), TimestampType::CreateTime, 0)
                .unwrap();
            assert_eq!(
                (again.base_offset, again.last_offset, again.duplicate),
                (2, 4, true)
            );
            assert_eq!(p.log.log_end(), 5);
            topics.close().unwrap();
        }
        // Reopen: the resend is still recognised, from the batch headers in the log.
        let topics = Topics::open(&cfg).unwrap();
        let t = topics.get("orders").unwrap();
        assert_eq!(t.partitions.len(), 2);
        let p = t.partition(1).unwrap();
        let again = p
            .append_bytes(&batch(42, 0, 0, 3), TimestampType::CreateTime, 0)
            .unwrap();
        assert!(again.duplicate);
        assert_eq!(again.base_offset, 2);
        let gap = p
            .append_bytes(&batch(42, 0, 9, 1), TimestampType::CreateTime, 0)
            .unwrap_err();
        assert_eq!(gap.code(), ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER);
        assert_eq!(
            p.append_bytes(&batch(42, 0, 3, 1), TimestampType::CreateTime, 0)
                .unwrap()
                .base_offset,
            5
        );
    }

    #[test]
    fn corrupt_batches_are_refused_with_kafka_codes() {
        let dir = tempfile::tempdir().unwrap();
        let topics = Topics::open(&config(dir.path())).unwrap();
        let t = topics.create("t", 1, BTreeMap::new()).unwrap();
        let p = t.partition(0).unwrap();
        let mut bad = batch(-1, -1, -1, 1).to_vec();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert_eq!(
            p.append_bytes(&bad, TimestampType::CreateTime, 0)
                .unwrap_err()
                .code(),
            ErrorCode::CORRUPT_MESSAGE
        );
        assert_eq!(
            p.append_bytes(&bad[..30], TimestampType::CreateTime, 0)
                .unwrap_err()
                .code(),
            ErrorCode::CORRUPT_MESSAGE
        );
        assert_eq!(p.log.log_end(), 0);
    }

    #[test]
    fn admin_operations_persist() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = config(dir.path());
        {
            let topics = Topics::open(&cfg).unwrap();
            topics.create("a", 1, BTreeMap::new()).unwrap();
            assert_eq!(
                topics.create("a", 1, BTreeMap::new()).unwrap_err().code(),
                ErrorCode::TOPIC_ALREADY_EXISTS
            );
            assert_eq!(
                topics
                    .create("bad/name", 1, BTreeMap::new())
                    .unwrap_err()
                    .code(),
                ErrorCode::INVALID_TOPIC_EXCEPTION
            );
            assert_eq!(
                topics.create("z", 0, BTreeMap::new()).unwrap_err().code(),
                ErrorCode::INVALID_PARTITIONS
            );
            let bad_cfg = BTreeMap::from([("retention.ms".to_string(), "x".to_string())]);
            assert_eq!(
                topics.create("c", 1, bad_cfg).unwrap_err().code(),
                ErrorCode::INVALID_CONFIG
            );
            topics.add_partitions("a", 3, false).unwrap();
            assert_eq!(
                topics.add_partitions("a", 2, false).unwrap_err().code(),
                ErrorCode::INVALID_PARTITIONS
            );
            topics
                .set_configs(
                    "a",
                    BTreeMap::from([("retention.ms".to_string(), "1234".to_string())]),
                    false,
                )
                .unwrap();
            topics.create("gone", 1, BTreeMap::new()).unwrap();
            topics.delete("gone").unwrap();
            assert_eq!(
                topics.delete("gone").unwrap_err().code(),
                ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
            );
            topics.close().unwrap();
        }
        let topics = Topics::open(&cfg).unwrap();
        let a = topics.get("a").unwrap();
        assert_eq!(a.partitions.len(), 3);
        assert_eq!(a.settings().log.retention_ms, 1234);
        assert_eq!(a.partitions[0].log.config().retention_ms, 1234);
        assert!(topics.get("gone").is_none());
        assert!(topics.get("c").is_none());
    }

    #[test]
    fn orphan_logs_are_adopted_not_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = config(dir.path());
        {
            let topics = Topics::open(&cfg).unwrap();
            let t = topics.create("orphan", 2, BTreeMap::new()).unwrap();
            t.partition(1)
                .unwrap()
                .append_bytes(&batch(-1, -1, -1, 4), TimestampType::CreateTime, 0)
                .unwrap();
            topics.close().unwrap();
        }
        std::fs::remove_file(
            dir.path()
                .join(crate::meta::META_DIR_NAME)
                .join("topics")
                .join("orphan.json"),
        )
        .unwrap();
        let topics = Topics::open(&cfg).unwrap();
        let t = topics.get("orphan").unwrap();
        assert_eq!(t.partitions.len(), 2);
        assert_eq!(t.partition(1).unwrap().log.log_end(), 4);
    }
}
