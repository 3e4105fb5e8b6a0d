//! The client's typed errors.

use thiserror::Error;
use weir_protocol::records::{BatchError, BuildError, RecordError, RecordsError};
use weir_protocol::{DecodeError, EncodeError, ErrorCode};

/// Everything a client operation can fail with.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ClientError {
    /// A bootstrap or option value is unusable.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// No TCP connection could be made.
    #[error("cannot connect to {addr}")]
    Connect {
        /// The address tried.
        addr: String,
        /// The socket error.
        #[source]
        source: std::io::Error,
    },
    /// Reading or writing a connection failed.
    #[error("connection to {addr} failed")]
    Io {
        /// The broker's address.
        addr: String,
        /// The socket error.
        #[source]
        source: std::io::Error,
    },
    /// The connection closed before the answer arrived (the request may or may not have been
    /// processed).
    #[error("connection to {addr} closed")]
    ConnectionClosed {
        /// The broker's address.
        addr: String,
    },
    /// No answer within the request timeout; the connection is dropped.
    #[error("{api} request to {addr} timed out after {timeout_ms} ms")]
    Timeout {
        /// The API's name.
        api: &'static str,
        /// The broker's address.
        addr: String,
        /// The timeout that expired.
        timeout_ms: u64,
    },
    /// The request could not be encoded.
    #[error("cannot encode a {api} request")]
    Encode {
        /// The API's name.
        api: &'static str,
        /// The encoder's error.
        #[source]
        source: EncodeError,
    },
    /// The broker's answer could not be decoded.
    #[error("cannot decode the {api} response from {addr}")]
    Decode {
        /// The API's name.
        api: &'static str,
        /// The broker's address.
        addr: String,
        /// The decoder's error.
        #[source]
        source: DecodeError,
    },
    /// A response carried another correlation id than the oldest request in flight.
    #[error("{addr} answered correlation id {got}, expected {expected}")]
    CorrelationMismatch {
        /// The broker's address.
        addr: String,
        /// The id expected (oldest request in flight).
        expected: i32,
        /// The id received.
        got: i32,
    },
    /// The broker and this client share no version of an API.
    #[error(
        "{addr} does not support {api} in a version this client speaks (client {client_min}..={client_max}, broker {broker})"
    )]
    UnsupportedVersion {
        /// The broker's address.
        addr: String,
        /// The API's name.
        api: &'static str,
        /// Lowest version this client speaks.
        client_min: i16,
        /// Highest version this client speaks.
        client_max: i16,
        /// The broker's range, or "none".
        broker: String,
    },
    /// The broker answered with a Kafka error code.
    #[error("{context}: {code}{}", message.as_deref().map(|m| format!(" ({m})")).unwrap_or_default())]
    Broker {
        /// What was asked (`"produce to t-0"`).
        context: String,
        /// Kafka's error code.
        code: ErrorCode,
        /// The broker's error message, if any.
        message: Option<String>,
    },
    /// A fetch position is outside the partition's log.
    #[error(
        "offset {offset} is out of range for {topic}-{partition} (log start {log_start_offset}, high watermark {high_watermark}; -1 = not reported)"
    )]
    OffsetOutOfRange {
        /// The topic.
        topic: String,
        /// The partition.
        partition: i32,
        /// The offset asked for.
        offset: i64,
        /// The log start the broker reported.
        log_start_offset: i64,
        /// The high watermark the broker reported.
        high_watermark: i64,
    },
    /// The cluster metadata names no such topic or partition.
    #[error("unknown topic or partition {topic}-{partition}")]
    UnknownPartition {
        /// The topic.
        topic: String,
        /// The partition (-1 for the whole topic).
        partition: i32,
    },
    /// A partition has no leader right now.
    #[error("no leader for {topic}-{partition}")]
    NoLeader {
        /// The topic.
        topic: String,
        /// The partition.
        partition: i32,
    },
    /// Metadata named a broker node that is not in its broker list.
    #[error("unknown broker node {node_id}")]
    UnknownNode {
        /// The node id.
        node_id: i32,
    },
    /// A fetched batch is malformed or fails its CRC.
    #[error("corrupt record batch in {topic}-{partition} at offset {offset}")]
    CorruptBatch {
        /// The topic.
        topic: String,
        /// The partition.
        partition: i32,
        /// The fetch position (or the batch's base offset).
        offset: i64,
        /// What is wrong.
        #[source]
        source: BatchError,
    },
    /// A fetched batch's records cannot be decompressed.
    #[error("cannot read the records of {topic}-{partition} at offset {offset}")]
    CorruptRecords {
        /// The topic.
        topic: String,
        /// The partition.
        partition: i32,
        /// The batch's base offset.
        offset: i64,
        /// What is wrong.
        #[source]
        source: RecordsError,
    },
    /// A record inside a fetched batch is malformed.
    #[error("corrupt record in {topic}-{partition} batch at offset {offset}")]
    CorruptRecord {
        /// The topic.
        topic: String,
        /// The partition.
        partition: i32,
        /// The batch's base offset.
        offset: i64,
        /// What is wrong.
        #[source]
        source: RecordError,
    },
    /// A fetch returned only part of a batch larger than the fetch limits.
    #[error(
        "{topic}-{partition}: the batch at offset {offset} is larger than the fetch limits ({partition_max_bytes} bytes)"
    )]
    BatchTooLarge {
        /// The topic.
        topic: String,
        /// The partition.
        partition: i32,
        /// The fetch position.
        offset: i64,
        /// The per-partition limit used.
        partition_max_bytes: i32,
    },
    /// A record batch could not be built.
    #[error("cannot build a record batch")]
    Build(#[source] BuildError),
    /// A record is larger than the producer's batch or buffer limits.
    #[error("a record of {bytes} bytes exceeds the producer's limit of {limit} bytes")]
    RecordTooLarge {
        /// The record's size estimate.
        bytes: usize,
        /// The limit it exceeds.
        limit: usize,
    },
    /// The producer was closed, or failed earlier and refuses more work.
    #[error("producer is closed{}", reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default())]
    ProducerClosed {
        /// Why, when it failed rather than being closed.
        reason: Option<String>,
    },
    /// A consumer-protocol assignment or subscription could not be decoded.
    #[error("cannot decode the consumer protocol {what} of member {member_id}")]
    ConsumerProtocol {
        /// `"assignment"` or `"subscription"`.
        what: &'static str,
        /// The member.
        member_id: String,
        /// The decoder's error.
        #[source]
        source: DecodeError,
    },
    /// A background task of the client ended abnormally (a bug).
    #[error("{what} task failed: {message}")]
    TaskFailed {
        /// Which task.
        what: &'static str,
        /// The join error.
        message: String,
    },
    /// The broker answered with another response type than asked (a bug on one side).
    #[error("unexpected response to {api}")]
    UnexpectedResponse {
        /// The API's name.
        api: &'static str,
    },
}

impl ClientError {
    /// True when retrying the same request may succeed: connection failures, timeouts and
    /// Kafka's retriable codes.
    pub fn is_retriable(&self) -> bool {
        match self {
            ClientError::Connect { .. }
            | ClientError::Io { .. }
            | ClientError::ConnectionClosed { .. }
            | ClientError::Timeout { .. }
            | ClientError::NoLeader { .. } => true,
            ClientError::Broker { code, .. } => code.is_retriable(),
            _ => false,
        }
    }

    /// The Kafka error code, when the broker answered with one.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            ClientError::Broker { code, .. } => Some(*code),
            ClientError::OffsetOutOfRange { .. } => Some(ErrorCode::OFFSET_OUT_OF_RANGE),
            _ => None,
        }
    }

    /// A [`ClientError::Broker`] for a non-zero code, `Ok` for `NONE`.
    pub(crate) fn check(
        code: i16,
        message: Option<&str>,
        context: impl FnOnce() -> String,
    ) -> Result<(), ClientError> {
        if code == 0 {
            return Ok(());
        }
        Err(ClientError::Broker {
            context: context(),
            code: ErrorCode(code),
            message: message.map(str::to_string),
        })
    }
}

impl Clone for ClientError {
    /// Errors are shared by every record of a failed batch; sources that are not `Clone`
    /// (I/O errors) are rebuilt from their kind and message.
    fn clone(&self) -> ClientError {
        use ClientError as E;
        let io = |e: &std::io::Error| std::io::Error::new(e.kind(), e.to_string());
        match self {
            E::Config(s) => E::Config(s.clone()),
            E::Connect { addr, source } => E::Connect {
                addr: addr.clone(),
                source: io(source),
            },
            E::Io { addr, source } => E::Io {
                addr: addr.clone(),
                source: io(source),
            },
            E::ConnectionClosed { addr } => E::ConnectionClosed { addr: addr.clone() },
            E::Timeout {
                api,
                addr,
                timeout_ms,
            } => E::Timeout {
                api,
                addr: addr.clone(),
                timeout_ms: *timeout_ms,
            },
            E::Encode { api, source } => E::Encode {
                api,
                source: source.clone(),
            },
            E::Decode { api, addr, source } => E::Decode {
                api,
                addr: addr.clone(),
                source: source.clone(),
            },
            E::CorrelationMismatch {
                addr,
                expected,
                got,
            } => E::CorrelationMismatch {
                addr: addr.clone(),
                expected: *expected,
                got: *got,
            },
            E::UnsupportedVersion {
                addr,
                api,
                client_min,
                client_max,
                broker,
            } => E::UnsupportedVersion {
                addr: addr.clone(),
                api,
                client_min: *client_min,
                client_max: *client_max,
                broker: broker.clone(),
            },
            E::Broker {
                context,
                code,
                message,
            } => E::Broker {
                context: context.clone(),
                code: *code,
                message: message.clone(),
            },
            E::OffsetOutOfRange {
                topic,
                partition,
                offset,
                log_start_offset,
                high_watermark,
            } => E::OffsetOutOfRange {
                topic: topic.clone(),
                partition: *partition,
                offset: *offset,
                log_start_offset: *log_start_offset,
                high_watermark: *high_watermark,
            },
            E::UnknownPartition { topic, partition } => E::UnknownPartition {
                topic: topic.clone(),
                partition: *partition,
            },
            E::NoLeader { topic, partition } => E::NoLeader {
                topic: topic.clone(),
                partition: *partition,
            },
            E::UnknownNode { node_id } => E::UnknownNode { node_id: *node_id },
            E::CorruptBatch {
                topic,
                partition,
                offset,
                source,
            } => E::CorruptBatch {
                topic: topic.clone(),
                partition: *partition,
                offset: *offset,
                source: source.clone(),
            },
            // RecordsError holds an I/O-like codec error that is not Clone: keep its text.
            E::CorruptRecords {
                topic,
                partition,
                offset,
                source,
            } => E::Broker {
                context: format!("{topic}-{partition} at offset {offset}: {source}"),
                code: ErrorCode::CORRUPT_MESSAGE,
                message: None,
            },
            E::CorruptRecord {
                topic,
                partition,
                offset,
                source,
            } => E::CorruptRecord {
                topic: topic.clone(),
                partition: *partition,
                offset: *offset,
                source: source.clone(),
            },
            E::BatchTooLarge {
                topic,
                partition,
                offset,
                partition_max_bytes,
            } => E::BatchTooLarge {
                topic: topic.clone(),
                partition: *partition,
                offset: *offset,
                partition_max_bytes: *partition_max_bytes,
            },
            E::Build(e) => E::Build(e.clone()),
            E::RecordTooLarge { bytes, limit } => E::RecordTooLarge {
                bytes: *bytes,
                limit: *limit,
            },
            E::ProducerClosed { reason } => E::ProducerClosed {
                reason: reason.clone(),
            },
            E::ConsumerProtocol {
                what,
                member_id,
                source,
            } => E::ConsumerProtocol {
                what,
                member_id: member_id.clone(),
                source: source.clone(),
            },
            E::TaskFailed { what, message } => E::TaskFailed {
                what,
                message: message.clone(),
            },
            E::UnexpectedResponse { api } => E::UnexpectedResponse { api },
        }
    }
}
