//! The broker's own small durable state, beside the partition logs:
//! `<data_dir>/__weir_meta/` holds one JSON file per topic (partition count, config
//! overrides and topic id) and the producer-id high mark. Every file is replaced atomically with
//! storage's `write_atomic`, and all of it goes through the broker's [`FileSystem`], so
//! fault injection (`FaultFs`) reaches topic metadata and producer ids too.

use std::collections::BTreeMap;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use thiserror::Error;
use weir_storage::FileSystem;
use weir_storage::io::{read_file, write_atomic};

/// Directory under `data_dir` holding broker metadata.
pub const META_DIR_NAME: &str = "__weir_meta";

/// Producer ids are reserved in blocks of this many, so InitProducerId does not fsync each time.
pub const PRODUCER_ID_BLOCK_SIZE: i64 = 1000;

/// An error reading or writing broker metadata.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum MetaError {
    /// The file system failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A metadata file does not parse.
    #[error("corrupt metadata file {path}: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

fn io(op: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> MetaError + use<> {
    let path = path.to_path_buf();
    move |source| MetaError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

/// Replaces `path` with `bytes` atomically and durably through `fs`.
fn replace(fs: &dyn FileSystem, path: &Path, bytes: &[u8]) -> Result<(), MetaError> {
    write_atomic(fs, path, bytes).map_err(io("replace", path))
}

/// What the broker remembers of a topic besides its partition logs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicMeta {
    /// Number of partitions.
    pub partitions: i32,
    /// Topic config overrides, with Kafka's dotted names (`retention.ms`).
    pub configs: BTreeMap<String, String>,
    /// The topic's id (Kafka's topic UUID), as 16 bytes. A file written before topic ids
    /// existed has none (all zero): the broker gives the topic one when it opens it.
    #[serde(default)]
    pub topic_id: [u8; 16],
}

/// The topic files under `__weir_meta/topics/`.
#[derive(Debug)]
pub struct TopicStore {
    dir: PathBuf,
    fs: Arc<dyn FileSystem>,
}

impl TopicStore {
    /// Opens (creating if needed) the topic metadata directory under `data_dir`.
    pub fn open(data_dir: &Path, fs: Arc<dyn FileSystem>) -> Result<Self, MetaError> {
        let dir = data_dir.join(META_DIR_NAME).join("topics");
        fs.create_dir_all(&dir).map_err(io("create dir", &dir))?;
        Ok(Self { dir, fs })
    }

    fn path(&self, topic: &str) -> PathBuf {
        self.dir.join(format!("{topic}.json"))
    }

    /// Loads every topic.
    pub fn load_all(&self) -> Result<BTreeMap<String, TopicMeta>, MetaError> {
        let mut out = BTreeMap::new();
        for path in self
            .fs
            .read_dir(&self.dir)
            .map_err(io("read dir", &self.dir))?
        {
            let Some(name) = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".json"))
            else {
                continue; // a leftover .tmp from a crash mid-write: the old file is still whole
            };
            let text = read_file(&*self.fs, &path).map_err(io("read", &path))?;
            let meta: TopicMeta =
                serde_json::from_slice(&text).map_err(|e| MetaError::Corrupt {
                    path: path.clone(),
                    reason: e.to_string(),
                })?;
            out.insert(name.to_string(), meta);
        }
        Ok(out)
    }

    /// Writes a topic's metadata durably.
    pub fn save(&self, topic: &str, meta: &TopicMeta) -> Result<(), MetaError> {
        let bytes = serde_json::to_vec_pretty(meta).map_err(|e| MetaError::Corrupt {
            path: self.path(topic),
            reason: e.to_string(),
        })?;
        replace(&*self.fs, &self.path(topic), &bytes)
    }

    /// Forgets a topic.
    pub fn remove(&self, topic: &str) -> Result<(), MetaError> {
        let path = self.path(topic);
        match self.fs.remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(io("remove", &path)(e)),
        }
        self.fs
            .sync_dir(&self.dir)
            .map_err(io("fsync dir", &self.dir))
    }
}

/// Hands out producer ids that are unique across restarts and crashes: a block is reserved
/// durably (its end written to disk) before any id in it is handed out.
#[derive(Debug)]
pub struct ProducerIdAllocator {
    path: PathBuf,
    fs: Arc<dyn FileSystem>,
    state: Mutex<(i64, i64)>, // (next id, end of the reserved block, exclusive)
}

impl ProducerIdAllocator {
    /// Opens the allocator; the next id is the end of the last reserved block.
    pub fn open(data_dir: &Path, fs: Arc<dyn FileSystem>) -> Result<Self, MetaError> {
        let dir = data_dir.join(META_DIR_NAME);
        fs.create_dir_all(&dir).map_err(io("create dir", &dir))?;
        let path = dir.join("producer_id_block");
        let start = match read_file(&*fs, &path) {
            Ok(b) => std::str::from_utf8(&b)
                .map_err(|e| e.to_string())
                .and_then(|s| s.trim().parse::<i64>().map_err(|e| e.to_string()))
                .map_err(|reason| MetaError::Corrupt {
                    path: path.clone(),
                    reason,
                })?,
            Err(e) if e.kind() == ErrorKind::NotFound => 0,
            Err(e) => return Err(io("read", &path)(e)),
        };
        if start < 0 {
            return Err(MetaError::Corrupt {
                path,
                reason: format!("negative producer id mark {start}"),
            });
        }
        Ok(Self {
            path,
            fs,
            state: Mutex::new((start, start)),
        })
    }

    /// Returns a producer id never handed out before.
    pub fn next(&self) -> Result<i64, MetaError> {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if st.0 >= st.1 {
            let end =
                st.1.checked_add(PRODUCER_ID_BLOCK_SIZE)
                    .ok_or_else(|| MetaError::Corrupt {
                        path: self.path.clone(),
                        reason: "producer ids exhausted".into(),
                    })?;
            replace(&*self.fs, &self.path, end.to_string().as_bytes())?;
            st.1 = end;
        }
        let id = st.0;
        st.0 += 1;
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use weir_storage::{FaultFs, RealFs};

    fn real() -> Arc<dyn FileSystem> {
        Arc::new(RealFs)
    }

    #[test]
    fn topics_round_trip_and_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let store = TopicStore::open(dir.path(), real()).unwrap();
        let mut configs = BTreeMap::new();
        configs.insert("retention.ms".to_string(), "1000".to_string());
        let meta = TopicMeta {
            partitions: 3,
            configs,
            topic_id: [7; 16],
        };
        store.save("orders", &meta).unwrap();
        store
            .save(
                "other",
                &TopicMeta {
                    partitions: 1,
                    configs: BTreeMap::new(),
                    topic_id: [1; 16],
                },
            )
            .unwrap();
        // A crash mid-write leaves a .tmp beside the whole old file: it is ignored.
        fs::write(
            dir.path()
                .join(META_DIR_NAME)
                .join("topics")
                .join("orders.tmp"),
            b"{garbage",
        )
        .unwrap();
        let store = TopicStore::open(dir.path(), real()).unwrap();
        let all = store.load_all().unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all["orders"], meta);
        store.remove("orders").unwrap();
        store.remove("orders").unwrap();
        assert_eq!(store.load_all().unwrap().len(), 1);
    }

    #[test]
    fn corrupt_topic_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let store = TopicStore::open(dir.path(), real()).unwrap();
        fs::write(
            dir.path()
                .join(META_DIR_NAME)
                .join("topics")
                .join("bad.json"),
            b"{nope",
        )
        .unwrap();
        assert!(matches!(store.load_all(), Err(MetaError::Corrupt { .. })));
    }

    #[test]
    fn producer_ids_never_repeat_across_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let a = ProducerIdAllocator::open(dir.path(), real()).unwrap();
        let first: Vec<i64> = (0..5).map(|_| a.next().unwrap()).collect();
        assert_eq!(first, vec![0, 1, 2, 3, 4]);
        drop(a); // a crash: the rest of the block is skipped, never reused
        let b = ProducerIdAllocator::open(dir.path(), real()).unwrap();
        let next = b.next().unwrap();
        assert_eq!(next, PRODUCER_ID_BLOCK_SIZE);
        for _ in 0..PRODUCER_ID_BLOCK_SIZE {
            b.next().unwrap();
        }
        let c = ProducerIdAllocator::open(dir.path(), real()).unwrap();
        assert_eq!(c.next().unwrap(), 3 * PRODUCER_ID_BLOCK_SIZE);
    }

    fn meta(partitions: i32) -> TopicMeta {
        TopicMeta {
            partitions,
            configs: BTreeMap::new(),
            topic_id: [3; 16],
        }
    }

    /// A failed metadata write under `FaultFs` is reported, and the old file stays whole
    /// through a power loss: nothing is silently lost or half-written.
    #[test]
    fn failed_topic_write_is_reported_and_the_old_file_survives() {
        let dir = tempfile::tempdir().unwrap();
        let faults = FaultFs::new();
        let store = TopicStore::open(dir.path(), Arc::new(faults.clone())).unwrap();
        store.save("orders", &meta(1)).unwrap();
        faults.fail_next_syncs(1);
        let err = store.save("orders", &meta(2)).unwrap_err();
        assert!(matches!(err, MetaError::Io { .. }), "{err:?}");
        faults.set_space_left(Some(3));
        let err = store.save("orders", &meta(3)).unwrap_err();
        assert!(matches!(err, MetaError::Io { .. }), "{err:?}");
        faults.set_space_left(None);
        faults.crash(0).unwrap();
        let store = TopicStore::open(dir.path(), Arc::new(FaultFs::new())).unwrap();
        assert_eq!(store.load_all().unwrap()["orders"], meta(1));
    }

    /// A topic file whose directory entry was never fsync'd is gone after power loss, and a
    /// save that returned `Ok` is not.
    #[test]
    fn acknowledged_topic_writes_survive_power_loss() {
        let dir = tempfile::tempdir().unwrap();
        let faults = FaultFs::new();
        let store = TopicStore::open(dir.path(), Arc::new(faults.clone())).unwrap();
        // Create, truncate and write the temporary file, then its fsync fails.
        faults.fail_ops_from(Some(faults.ops() + 3));
        assert!(store.save("lost", &meta(1)).is_err());
        faults.fail_ops_from(None);
        store.save("kept", &meta(2)).unwrap();
        faults.crash(0).unwrap();
        let all = TopicStore::open(dir.path(), real())
            .unwrap()
            .load_all()
            .unwrap();
        assert_eq!(all.len(), 1, "{all:?}");
        assert_eq!(all["kept"], meta(2));
    }

    /// A producer-id block that cannot be reserved durably hands out no id, and the ids
    /// handed out later are still above every id a crashed allocator could have used.
    #[test]
    fn failed_producer_id_reservation_hands_out_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let faults = FaultFs::new();
        let a = ProducerIdAllocator::open(dir.path(), Arc::new(faults.clone())).unwrap();
        faults.fail_next_syncs(1);
        assert!(matches!(a.next(), Err(MetaError::Io { .. })));
        assert_eq!(a.next().unwrap(), 0);
        drop(a);
        faults.crash(0).unwrap();
        let b = ProducerIdAllocator::open(dir.path(), Arc::new(FaultFs::new())).unwrap();
        assert_eq!(b.next().unwrap(), PRODUCER_ID_BLOCK_SIZE);
    }
}
