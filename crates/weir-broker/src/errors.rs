//! The one place where storage and broker errors become Kafka error codes.

use thiserror::Error;
use weir_protocol::ErrorCode;
use weir_storage::{AppendError, BatchError, BatchErrorKind, ReadError, SyncError};

/// Why an operation on one partition failed.
#[derive(Debug, Error)]
pub enum PartitionError {
    /// The batch was refused by validation.
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
    /// A sequence gap of an idempotent producer.
    #[error("out-of-order sequence number")]
    OutOfOrderSequence,
    /// A batch from an older epoch of an idempotent producer.
    #[error("stale producer epoch")]
    StaleProducerEpoch,
    /// Something weir does not do (yet).
    #[error("unsupported: {0}")]
    Unsupported(&'static str),
    /// A record without a key sent to a compacted topic.
    #[error("compacted topic cannot accept a record without a key")]
    KeylessRecord,
}

impl PartitionError {
    /// The Kafka error code a client gets for this failure.
    pub fn code(&self) -> ErrorCode {
        match self {
            PartitionError::Batch(e) | PartitionError::Append(AppendError::Batch(e)) => {
                batch_code(e)
            }
            PartitionError::Append(AppendError::Closed)
            | PartitionError::Sync(SyncError::Closed) => ErrorCode::NOT_LEADER_OR_FOLLOWER,
            PartitionError::Append(_) | PartitionError::Sync(_) => ErrorCode::KAFKA_STORAGE_ERROR,
            PartitionError::Read(ReadError::OffsetOutOfRange { .. }) => {
                ErrorCode::OFFSET_OUT_OF_RANGE
            }
            PartitionError::Read(ReadError::Corrupt { .. }) => ErrorCode::CORRUPT_MESSAGE,
            PartitionError::Read(_) => ErrorCode::KAFKA_STORAGE_ERROR,
            PartitionError::OutOfOrderSequence => ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER,
            PartitionError::StaleProducerEpoch => ErrorCode::INVALID_PRODUCER_EPOCH,
            PartitionError::Unsupported(_) | PartitionError::KeylessRecord => {
                ErrorCode::INVALID_RECORD
            }
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

impl crate::topics::TopicError {
    /// The Kafka error code an admin request gets for this failure.
    pub fn code(&self) -> ErrorCode {
        use crate::topics::TopicError as E;
        match self {
            E::AlreadyExists(_) => ErrorCode::TOPIC_ALREADY_EXISTS,
            E::NotFound(_) => ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
            E::InvalidName(_) => ErrorCode::INVALID_TOPIC_EXCEPTION,
            E::InvalidPartitions(_) => ErrorCode::INVALID_PARTITIONS,
            E::InvalidConfig(_) => ErrorCode::INVALID_CONFIG,
            E::Storage(_) | E::Meta(_) => ErrorCode::KAFKA_STORAGE_ERROR,
            E::Partition(p) => p.code(),
        }
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
            PartitionError::Batch(BatchError::UnsupportedMagic(1)).code(),
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
    }
}
