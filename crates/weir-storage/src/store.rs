//! A data directory of partition logs, one directory `<topic>-<partition>` each.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use crate::config::LogConfig;
use crate::error::StoreError;
use crate::io::FileSystem;
use crate::log::Log;
use crate::retention::RetentionOutcome;
use crate::segment::{read_lock, write_lock};

/// Longest legal topic name (Kafka's limit, leaving room for the partition suffix).
pub const TOPIC_NAME_BYTES_MAX: usize = 249;
/// Name of the lock file that keeps a second process (or `Store`) off a data directory.
pub const LOCK_FILE: &str = ".lock";
/// Suffix of a partition directory being deleted.
pub const DELETE_SUFFIX: &str = "-delete";
/// The most threads [`Store::open_with_threads`] opens logs with.
pub const RECOVERY_THREADS_MAX: usize = 64;

/// A topic-partition with a legal name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicPartition {
    topic: String,
    partition: i32,
}

impl TopicPartition {
    /// Validates Kafka's rules: 1..=249 characters of `[a-zA-Z0-9._-]`, not `.` or `..`;
    /// partition >= 0.
    pub fn new(topic: &str, partition: i32) -> Result<Self, StoreError> {
        let legal = !topic.is_empty()
            && topic.len() <= TOPIC_NAME_BYTES_MAX
            && topic != "."
            && topic != ".."
            && topic
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-');
        if !legal {
            return Err(StoreError::InvalidTopic(topic.to_string()));
        }
        if partition < 0 {
            return Err(StoreError::InvalidPartition(partition));
        }
        Ok(TopicPartition {
            topic: topic.to_string(),
            partition,
        })
    }
    /// The topic.
    pub fn topic(&self) -> &str {
        &self.topic
    }
    /// The partition.
    pub fn partition(&self) -> i32 {
        self.partition
    }
    /// Parses a directory name `<topic>-<partition>`.
    pub fn parse_dir_name(name: &str) -> Option<Self> {
        let (topic, part) = name.rsplit_once('-')?;
        if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        TopicPartition::new(topic, part.parse().ok()?).ok()
    }
}

impl fmt::Display for TopicPartition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.topic, self.partition)
    }
}

/// The logs of a data directory.
#[derive(Debug)]
pub struct Store {
    dir: PathBuf,
    fs: Arc<dyn FileSystem>,
    default_config: LogConfig,
    logs: RwLock<BTreeMap<TopicPartition, Arc<Log>>>,
    deletions: AtomicU64,
    /// Holds an exclusive advisory lock on `<dir>/.lock` for the store's life (Kafka
    /// locks its log directories the same way).
    _lock: std::fs::File,
}

impl Store {
    /// Opens every `<topic>-<partition>` log under `dir` (creating `dir`) with
    /// `default_config` (the broker applies per-topic configs afterwards with
    /// [`Log::set_config`]), and finishes interrupted deletions.
    pub fn open(
        dir: &Path,
        default_config: LogConfig,
        fs: Arc<dyn FileSystem>,
    ) -> Result<Store, StoreError> {
        Store::open_with_threads(dir, default_config, fs, 1)
    }

    /// [`Store::open`] with the partition logs opened (recovered) by `recovery_threads`
    /// threads at once (Kafka's `num.recovery.threads.per.data.dir`; clamped to
    /// 1..=[`RECOVERY_THREADS_MAX`]): a log's open is mostly waits for the disk (file opens,
    /// fsyncs), which overlap across logs.
    pub fn open_with_threads(
        dir: &Path,
        default_config: LogConfig,
        fs: Arc<dyn FileSystem>,
        recovery_threads: usize,
    ) -> Result<Store, StoreError> {
        let io = |what: &'static str, path: &Path| {
            let path = path.to_path_buf();
            move |source| StoreError::Io { what, path, source }
        };
        default_config.validate().map_err(|e| StoreError::Log {
            name: String::new(),
            source: e.into(),
        })?;
        fs.create_dir_all(dir).map_err(io("create", dir))?;
        let lock_path = dir.join(LOCK_FILE);
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io("open", &lock_path))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(StoreError::Locked(dir.to_path_buf()));
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(StoreError::Io {
                    what: "lock",
                    path: lock_path,
                    source: e,
                });
            }
        }
        let mut entries = fs.read_dir(dir).map_err(io("list", dir))?;
        entries.sort();
        let mut todo = Vec::new();
        for p in entries {
            let Some(name) = p.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            if name.ends_with(DELETE_SUFFIX) {
                fs.remove_dir_all(&p).map_err(io("remove", &p))?;
                continue;
            }
            let Some(tp) = TopicPartition::parse_dir_name(name) else {
                continue;
            };
            todo.push((tp, p));
        }
        let threads = recovery_threads
            .clamp(1, RECOVERY_THREADS_MAX)
            .min(todo.len().max(1));
        let open_one = |(tp, p): &(TopicPartition, PathBuf)| {
            Log::open(p, default_config, Arc::clone(&fs))
                .map(|log| (tp.clone(), Arc::new(log)))
                .map_err(|source| StoreError::Log {
                    name: tp.to_string(),
                    source,
                })
        };
        let opened: Vec<Result<(TopicPartition, Arc<Log>), StoreError>> = if threads == 1 {
            todo.iter().map(open_one).collect()
        } else {
            // Thread i opens every threads-th log from i: the work is spread evenly.
            std::thread::scope(|scope| {
                let handles: Vec<_> = (0..threads)
                    .map(|i| {
                        let todo = &todo;
                        let open_one = &open_one;
                        scope.spawn(move || {
                            todo.iter()
                                .skip(i)
                                .step_by(threads)
                                .map(open_one)
                                .collect::<Vec<_>>()
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .flat_map(|h| h.join().expect("a log-opening thread panicked"))
                    .collect()
            })
        };
        let mut logs = BTreeMap::new();
        for r in opened {
            let (tp, log) = r?;
            logs.insert(tp, log);
        }
        Ok(Store {
            dir: dir.to_path_buf(),
            fs,
            default_config,
            logs: RwLock::new(logs),
            deletions: AtomicU64::new(0),
            _lock: lock,
        })
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The config new logs get when none is given.
    pub fn default_config(&self) -> LogConfig {
        self.default_config
    }

    /// Creates a new, empty partition log.
    pub fn create(&self, tp: &TopicPartition, config: LogConfig) -> Result<Arc<Log>, StoreError> {
        let mut logs = write_lock(&self.logs);
        let path = self.dir.join(tp.to_string());
        if logs.contains_key(tp) || self.fs.exists(&path) {
            return Err(StoreError::AlreadyExists(tp.to_string()));
        }
        let log = Arc::new(
            Log::open(&path, config, Arc::clone(&self.fs)).map_err(|source| StoreError::Log {
                name: tp.to_string(),
                source,
            })?,
        );
        self.fs
            .sync_dir(&self.dir)
            .map_err(|source| StoreError::Io {
                what: "fsync",
                path: self.dir.clone(),
                source,
            })?;
        logs.insert(tp.clone(), Arc::clone(&log));
        Ok(log)
    }

    /// The open log of a partition.
    pub fn get(&self, tp: &TopicPartition) -> Option<Arc<Log>> {
        read_lock(&self.logs).get(tp).cloned()
    }

    /// The partitions, sorted.
    pub fn list(&self) -> Vec<TopicPartition> {
        read_lock(&self.logs).keys().cloned().collect()
    }

    /// Deletes a partition: closes its log, renames the directory to
    /// `<topic>-<partition>.<n>-delete` (so a crash mid-delete never resurrects a
    /// half-deleted log), then removes it. Readers holding `Bytes` keep their mappings.
    pub fn delete(&self, tp: &TopicPartition) -> Result<(), StoreError> {
        let log = write_lock(&self.logs)
            .remove(tp)
            .ok_or_else(|| StoreError::NotFound(tp.to_string()))?;
        if let Err(e) = log.close() {
            tracing::warn!(partition = %tp, error = %e, "closing a log being deleted failed");
        }
        let from = self.dir.join(tp.to_string());
        let n = self.deletions.fetch_add(1, Ordering::Relaxed);
        let to = self.dir.join(format!(
            "{tp}.{}{n}{DELETE_SUFFIX}",
            crate::log::wall_clock_ms()
        ));
        let io = |what: &'static str, path: &Path| {
            let path = path.to_path_buf();
            move |source| StoreError::Io { what, path, source }
        };
        self.fs.rename(&from, &to).map_err(io("rename", &from))?;
        self.fs
            .sync_dir(&self.dir)
            .map_err(io("fsync", &self.dir))?;
        self.fs.remove_dir_all(&to).map_err(io("remove", &to))?;
        Ok(())
    }

    /// Runs retention on every log; returns what each pass deleted (logs with nothing
    /// to delete are left out). Errors of one log do not stop the others; the first is
    /// returned after all ran.
    pub fn run_retention(
        &self,
        now_ms: i64,
    ) -> Result<Vec<(TopicPartition, RetentionOutcome)>, StoreError> {
        let logs: Vec<(TopicPartition, Arc<Log>)> = read_lock(&self.logs)
            .iter()
            .map(|(k, v)| (k.clone(), Arc::clone(v)))
            .collect();
        let mut out = Vec::new();
        let mut first_err = None;
        for (tp, log) in logs {
            match log.run_retention(now_ms) {
                Ok(o) if o.segments_deleted > 0 => out.push((tp, o)),
                Ok(_) => {}
                Err(source) => {
                    tracing::warn!(partition = %tp, error = %source, "retention failed");
                    first_err.get_or_insert(StoreError::Log {
                        name: tp.to_string(),
                        source,
                    });
                }
            }
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok(out),
        }
    }

    /// Closes every log cleanly (flush, trim indexes, marker). Tries all; returns the
    /// first error.
    pub fn close(&self) -> Result<(), StoreError> {
        let mut first_err = None;
        for (tp, log) in read_lock(&self.logs).iter() {
            if let Err(source) = log.close() {
                first_err.get_or_insert(StoreError::Log {
                    name: tp.to_string(),
                    source,
                });
            }
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}
