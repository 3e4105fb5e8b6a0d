//! Typed errors, one small enum per operation area.

use std::io;
use std::path::PathBuf;

use thiserror::Error;

use crate::config::ConfigError;
use weir_records::BatchError;

/// Errors of [`crate::Log::append`].
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum AppendError {
    /// The batch was refused before anything was written.
    #[error("batch refused")]
    Batch(#[from] BatchError),
    /// A previous fsync failed; the log refuses writes until reopened.
    #[error("log is poisoned by an earlier fsync failure; reopen it")]
    Poisoned,
    /// The log was closed.
    #[error("log is closed")]
    Closed,
    /// The next offset would overflow i64.
    #[error("offset overflow")]
    OffsetOverflow,
    /// A control batch of a producer whose record is not a commit or abort marker;
    /// nothing was written.
    #[error("control batch refused")]
    ControlBatch(#[from] weir_records::ControlRecordError),
    /// Writing failed; nothing of the batch is visible (the tail was cut back).
    #[error("write to {path} failed")]
    Io {
        /// The segment file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
}

/// Errors of [`crate::Log::sync`] and [`crate::Log::sync_to`].
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum SyncError {
    /// An fsync failed (now or earlier); nothing past the durable end is acknowledged.
    #[error("log is poisoned by an fsync failure; reopen it")]
    Poisoned,
    /// The log was closed.
    #[error("log is closed")]
    Closed,
    /// The fsync that failed (reported to the caller that ran it and its waiters).
    #[error("fsync of {path} failed")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
}

/// Errors of reads: [`crate::Log::read`], timestamp lookups, header iteration.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ReadError {
    /// The offset is below the log start or above the log end.
    #[error("offset {offset} out of range [{log_start}, {log_end}]")]
    OffsetOutOfRange {
        /// Requested offset.
        offset: i64,
        /// Log start offset.
        log_start: i64,
        /// Log end offset.
        log_end: i64,
    },
    /// Stored bytes fail their check: never served as data.
    #[error("corrupt data in {path} at byte {position}: {reason}")]
    Corrupt {
        /// Segment file.
        path: PathBuf,
        /// Byte position of the bad batch.
        position: u64,
        /// What is wrong.
        reason: String,
    },
    /// Mapping the segment failed.
    #[error("cannot map {path}")]
    Io {
        /// Segment file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
}

/// Errors of opening (and recovering) a log, closing it, and log-level admin
/// (DeleteRecords, retention, config changes).
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum LogError {
    /// File-system failure.
    #[error("{what} {path}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The configuration is out of bounds.
    #[error("invalid log config")]
    Config(#[from] ConfigError),
    /// A requested offset is out of range.
    #[error("offset {offset} out of range [{log_start}, {log_end}]")]
    OffsetOutOfRange {
        /// Requested offset.
        offset: i64,
        /// Log start offset.
        log_start: i64,
        /// Log end offset.
        log_end: i64,
    },
    /// A previous fsync failed.
    #[error("log is poisoned by an fsync failure; reopen it")]
    Poisoned,
    /// Syncing during close failed.
    #[error("sync failed")]
    Sync(#[from] SyncError),
    /// The log was closed.
    #[error("log is closed")]
    Closed,
}

impl LogError {
    pub(crate) fn io(what: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        LogError::Io {
            what,
            path: path.into(),
            source,
        }
    }
}

/// Errors of the [`crate::Store`] (a data directory of logs).
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StoreError {
    /// Topic name not legal in Kafka (1..=249 of `[a-zA-Z0-9._-]`, not `.` or `..`).
    #[error("illegal topic name {0:?}")]
    InvalidTopic(String),
    /// Negative partition.
    #[error("illegal partition {0}")]
    InvalidPartition(i32),
    /// Another `Store` (in this or another process) holds the data directory.
    #[error("data directory {0} is in use by another store")]
    Locked(PathBuf),
    /// The partition already exists.
    #[error("partition {0} already exists")]
    AlreadyExists(String),
    /// The partition does not exist.
    #[error("partition {0} does not exist")]
    NotFound(String),
    /// A log failed.
    #[error("log {name}")]
    Log {
        /// `<topic>-<partition>`.
        name: String,
        /// The cause.
        #[source]
        source: LogError,
    },
    /// File-system failure on the data directory.
    #[error("{what} {path}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
}
