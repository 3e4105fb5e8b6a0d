//! The one place where storage and broker errors become Kafka error codes: every error a
//! handler answers with is one of these enums, and its `code()` here is the only mapping
//! (the handlers' own refusals are rules of the protocol, such as an unknown API version,
//! and name their code where they apply the rule).

use thiserror::Error;
use weir_protocol::ErrorCode;
use weir_protocol::records::{self, RecordError, RecordsError};
use weir_storage::{AppendError, BatchError, BatchErrorKind, LogError, ReadError, SyncError};

use crate::meta::MetaError;

/// Why an operation on one partition failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum PartitionError {
    /// The batch was refused by validation (framing, size, magic, CRC-32C, counts: one
    /// error type, `weir-records`', for the produce handler and the storage engine).
    #[error("batch refused: {0}")]
    Batch(#[from] BatchError),
    /// The storage engine failed to append.
    #[error("append failed: {0}")]
    Append(#[from] AppendError),
    /// The storage engine failed to make data durable.
    #[error("sync failed: {0}")]
    Sync(#[from] SyncError),
    /// The storage engine failed to read.
    #[error("read failed: {0}")]
    Read(#[from] ReadError),
    /// DeleteRecords could not raise the log start offset.
    #[error("delete records failed: {0}")]
    DeleteRecords(#[source] LogError),
    /// A produced batch's records section does not open (unknown codec, bad compression).
    #[error(transparent)]
    RecordsFormat(#[from] RecordsError),
    /// A produced record does not parse, or the records do not match the header's count.
    #[error(transparent)]
    Record(#[from] RecordError),
    /// A stored batch a lookup needs does not decode.
    #[error("batch at offset {offset} does not decode")]
    Undecodable {
        /// The batch's offset.
        offset: i64,
    },
    /// A sequence gap of an idempotent producer.
    #[error("out-of-order sequence number")]
    OutOfOrderSequence,
    /// A batch from an older epoch of an idempotent producer.
    #[error("stale producer epoch")]
    StaleProducerEpoch,
    /// A control batch sent by a client (only the transaction coordinator writes markers).
    #[error("a client may not write control batches")]
    ClientControlBatch,
    /// A transactional batch for a partition not in its producer's open transaction
    /// (KIP-890's check), or from a producer with no open transaction.
    #[error("the partition is not in the producer's open transaction")]
    NotInTransaction,
    /// A record without a key sent to a compacted topic.
    #[error("compacted topic cannot accept a record without a key")]
    KeylessRecord,
    /// A `__consumer_offsets` batch could not be built (too many records in one commit).
    #[error("offsets batch does not build: {0}")]
    OffsetsBatch(#[source] records::BuildError),
    /// A CreateTime record's timestamp outside the topic's
    /// `message.timestamp.before.max.ms` / `.after.max.ms` of the broker's clock.
    #[error(
        "timestamp {timestamp} of the record at offset delta {offset_delta} is out of range: \
         it must be within [{low}, {high}]"
    )]
    TimestampOutOfRange {
        /// The record's timestamp.
        timestamp: i64,
        /// Its offset delta in the batch.
        offset_delta: i32,
        /// Lowest timestamp accepted now.
        low: i64,
        /// Highest.
        high: i64,
    },
    /// `acks=all` to a topic whose `min.insync.replicas` exceeds the one replica here.
    #[error(
        "min.insync.replicas is {min_insync_replicas}, but the partition has 1 in-sync replica"
    )]
    NotEnoughReplicas {
        /// The topic's `min.insync.replicas`.
        min_insync_replicas: i32,
    },
    /// The batch could not be recompressed to the topic's `compression.type`.
    #[error("recompression failed: {0}")]
    Recompress(#[from] records::RecompressError),
    /// The task waiting for a sync ended without an answer (it panicked).
    #[error("sync task failed: {0}")]
    SyncTask(#[source] tokio::task::JoinError),
}

impl PartitionError {
    /// The Kafka error code a client gets for this failure.
    pub fn code(&self) -> ErrorCode {
        use PartitionError as E;
        match self {
            E::Batch(e) | E::Append(AppendError::Batch(e)) => batch_code(e),
            E::Append(AppendError::Closed) | E::Sync(SyncError::Closed) => {
                ErrorCode::NOT_LEADER_OR_FOLLOWER
            }
            // A control batch that is not a commit or abort marker (Kafka: InvalidRecord).
            E::Append(AppendError::ControlBatch { .. }) => ErrorCode::INVALID_RECORD,
            E::Append(_) | E::Sync(_) | E::SyncTask(_) | E::DeleteRecords(_) => {
                ErrorCode::KAFKA_STORAGE_ERROR
            }
            E::Read(ReadError::OffsetOutOfRange { .. }) => ErrorCode::OFFSET_OUT_OF_RANGE,
            E::Read(ReadError::Corrupt { .. }) | E::Undecodable { .. } => {
                ErrorCode::CORRUPT_MESSAGE
            }
            E::Read(_) => ErrorCode::KAFKA_STORAGE_ERROR,
            E::RecordsFormat(_) => ErrorCode::CORRUPT_MESSAGE,
            // A count mismatch is Kafka's INVALID_RECORD; a record that does not parse is
            // corrupt.
            E::Record(RecordError::TooFewRecords { .. } | RecordError::TrailingBytes { .. }) => {
                ErrorCode::INVALID_RECORD
            }
            E::Record(_) => ErrorCode::CORRUPT_MESSAGE,
            E::OutOfOrderSequence => ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER,
            E::StaleProducerEpoch => ErrorCode::INVALID_PRODUCER_EPOCH,
            E::ClientControlBatch | E::KeylessRecord | E::OffsetsBatch(_) => {
                ErrorCode::INVALID_RECORD
            }
            E::NotInTransaction => ErrorCode::INVALID_TXN_STATE,
            E::TimestampOutOfRange { .. } => ErrorCode::INVALID_TIMESTAMP,
            E::NotEnoughReplicas { .. } => ErrorCode::NOT_ENOUGH_REPLICAS,
            E::Recompress(records::RecompressError::Batch(e)) => batch_code(e),
            E::Recompress(records::RecompressError::Decompress(_)) => ErrorCode::CORRUPT_MESSAGE,
            E::Recompress(_) => ErrorCode::UNKNOWN_SERVER_ERROR,
        }
    }
}

fn batch_code(e: &BatchError) -> ErrorCode {
    match e.kind() {
        BatchErrorKind::Corrupt => ErrorCode::CORRUPT_MESSAGE,
        BatchErrorKind::Invalid => ErrorCode::INVALID_RECORD,
        BatchErrorKind::TooLarge => ErrorCode::MESSAGE_TOO_LARGE,
    }
}

/// Why a topic-level operation failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum TopicError {
    /// The topic exists already.
    #[error("topic `{0}` already exists")]
    AlreadyExists(String),
    /// No such topic.
    #[error("topic `{0}` does not exist")]
    NotFound(String),
    /// No topic has this id.
    #[error("no topic has id {0}")]
    UnknownId(String),
    /// A new topic could not be given an id.
    #[error("{0}")]
    Random(#[from] crate::topic_id::RandomError),
    /// A name Kafka would refuse.
    #[error("invalid topic name: {0}")]
    InvalidName(String),
    /// A new topic's partition count outside `1..=max`.
    #[error("invalid partitions: {requested} is outside 1..={max}")]
    PartitionCount {
        /// The count asked for.
        requested: i32,
        /// The most a topic may have.
        max: i32,
    },
    /// CreatePartitions asked for no increase, or past the most a topic may have.
    #[error(
        "invalid partitions: topic has {have} partitions; {requested} is not a valid new count"
    )]
    PartitionIncrease {
        /// The partitions the topic has.
        have: i32,
        /// The count asked for.
        requested: i32,
    },
    /// A config name or value refused.
    #[error("invalid config: {0}")]
    InvalidConfig(#[from] crate::topic_config::TopicConfigError),
    /// The storage engine failed.
    #[error("storage: {0}")]
    Storage(#[from] weir_storage::StoreError),
    /// Topic metadata could not be written.
    #[error("metadata: {0}")]
    Meta(#[from] MetaError),
    /// A partition's log failed while being opened.
    #[error("partition: {0}")]
    Partition(#[from] PartitionError),
}

impl TopicError {
    /// The Kafka error code an admin request gets for this failure.
    pub fn code(&self) -> ErrorCode {
        use TopicError as E;
        match self {
            E::AlreadyExists(_) => ErrorCode::TOPIC_ALREADY_EXISTS,
            E::NotFound(_) => ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
            E::UnknownId(_) => ErrorCode::UNKNOWN_TOPIC_ID,
            E::Random(_) => ErrorCode::UNKNOWN_SERVER_ERROR,
            E::InvalidName(_) => ErrorCode::INVALID_TOPIC_EXCEPTION,
            E::PartitionCount { .. } | E::PartitionIncrease { .. } => ErrorCode::INVALID_PARTITIONS,
            E::InvalidConfig(_) => ErrorCode::INVALID_CONFIG,
            E::Storage(_) => ErrorCode::KAFKA_STORAGE_ERROR,
            E::Meta(e) => e.code(),
            E::Partition(p) => p.code(),
        }
    }
}

impl MetaError {
    /// The Kafka error code a request gets when broker metadata fails (a topic's metadata
    /// file, the producer-id block).
    pub fn code(&self) -> ErrorCode {
        ErrorCode::KAFKA_STORAGE_ERROR
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_refusals_map_to_kafkas_codes() {
        let crc = PartitionError::Batch(BatchError::CrcMismatch {
            stored: 1,
            computed: 2,
        });
        assert_eq!(crc.code(), ErrorCode::CORRUPT_MESSAGE);
        let big = PartitionError::Append(AppendError::Batch(BatchError::TooLarge {
            size: 10,
            max: 5,
        }));
        assert_eq!(big.code(), ErrorCode::MESSAGE_TOO_LARGE);
        assert_eq!(
            PartitionError::Batch(BatchError::BadMagic { magic: 1 }).code(),
            ErrorCode::INVALID_RECORD
        );
        assert_eq!(
            PartitionError::Append(AppendError::Poisoned).code(),
            ErrorCode::KAFKA_STORAGE_ERROR
        );
        assert_eq!(
            PartitionError::Sync(SyncError::Poisoned).code(),
            ErrorCode::KAFKA_STORAGE_ERROR
        );
        assert_eq!(PartitionError::OutOfOrderSequence.code().0, 45);
        assert_eq!(
            PartitionError::Record(RecordError::TooFewRecords {
                declared: 2,
                found: 1
            })
            .code(),
            ErrorCode::INVALID_RECORD
        );
        assert_eq!(
            PartitionError::ClientControlBatch.code(),
            ErrorCode::INVALID_RECORD
        );
        assert_eq!(
            PartitionError::NotInTransaction.code(),
            ErrorCode::INVALID_TXN_STATE
        );
        assert_eq!(
            PartitionError::Undecodable { offset: 3 }.code(),
            ErrorCode::CORRUPT_MESSAGE
        );
    }
}
