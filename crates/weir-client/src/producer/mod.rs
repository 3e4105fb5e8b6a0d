//! [`Producer`]: per-partition batches (linger / size), Kafka's partitioner, pipelined
//! produce requests, and Kafka's idempotent-producer rules.
//!
//! `send` hands a record to a background task (after taking its size from the buffer budget,
//! which is what makes a fast caller wait) and returns a [`DeliveryFuture`]. The task
//! partitions the record, appends it to the partition's open batch, and closes the batch when
//! it is full, when it has lingered `linger_ms`, or on `flush`. Closed batches are sent, one
//! batch per partition per request, up to `max_in_flight` requests per broker. Idempotent mode
//! (InitProducerId once, then a sequence per partition) resends a failed batch with the same
//! sequence, and only after every earlier batch of the partition is answered, so retries never
//! reorder or duplicate; a batch that fails for good fails the producer (see docs/cli.md for
//! this deviation from Kafka's epoch bump).
//!
//! Per partition, up to `max_in_flight` batches are in flight at once: the broker applies a
//! connection's requests in request order (Kafka does; weir does too), so pipelined batches are
//! appended in the order sent. Without idempotence a retried batch may land after later ones,
//! as with Kafka's own clients (`max.in.flight.requests.per.connection` > 1).

mod accumulator;
mod sender;
mod txn;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot};
use weir_protocol::records::Compression;

use crate::client::Client;
use crate::error::ClientError;

/// Default records bytes per batch before it is sent (Kafka's `batch.size`).
pub const BATCH_BYTES_DEFAULT: usize = 16 * 1024;
/// Default time a batch waits for more records, in ms (Kafka 4.0's `linger.ms`).
pub const LINGER_MS_DEFAULT: u64 = 5;
/// Most requests in flight per broker for an idempotent producer (Kafka's limit).
pub const IDEMPOTENT_IN_FLIGHT_MAX: usize = 5;
/// Default bytes of records waiting to be sent before `send` waits (Kafka's `buffer.memory`).
pub const BUFFER_BYTES_DEFAULT: usize = 32 * 1024 * 1024;
/// Default largest produce request, in bytes (Kafka's `max.request.size`: 1 MiB).
pub const REQUEST_BYTES_MAX_DEFAULT: usize = 1024 * 1024;
/// Default time a record may take from `send` to acknowledged, retries included, in ms
/// (Kafka's `delivery.timeout.ms`: 2 minutes).
pub const DELIVERY_TIMEOUT_MS_DEFAULT: u64 = 120_000;
/// Default pause before a retry, in ms (Kafka's `retry.backoff.ms`).
pub const RETRY_BACKOFF_MS_DEFAULT: u64 = 100;
/// Default `transaction.timeout.ms` (Kafka's: 1 minute).
pub const TRANSACTION_TIMEOUT_MS_DEFAULT: i32 = 60_000;
/// Fixed bytes counted per record on top of key, value and headers (varint lengths,
/// attributes, deltas), for batch sizing and the buffer budget.
pub(crate) const RECORD_OVERHEAD_BYTES: usize = 24;
/// Commands queued for the producer task before `send` waits.
const COMMANDS_QUEUED_MAX: usize = 1024;

/// Producer settings; `Default` gives Kafka's producer defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProducerConfig {
    /// −1 (all, default), 1 (leader) or 0 (none: delivery resolves with offset −1 once sent).
    pub acks: i16,
    /// Time a batch waits for more records, in ms (default 5).
    pub linger_ms: u64,
    /// Batch size that sends a batch at once, in bytes (default 16 KiB).
    pub batch_bytes: usize,
    /// Codec of every batch (default none).
    pub compression: Compression,
    /// Idempotent producer (default true). As in Kafka when it is not set explicitly, it is
    /// off when `acks` is not −1.
    pub idempotent: bool,
    /// Produce requests in flight per broker (default 5; at most 5 when idempotent).
    pub max_in_flight: usize,
    /// Broker-side wait for acks, and the client's wait for an answer, in ms (default 30 000).
    pub request_timeout_ms: u64,
    /// Time from `send` to a final answer, retries included, in ms (default 120 000).
    pub delivery_timeout_ms: u64,
    /// Pause before a retry, in ms (default 100).
    pub retry_backoff_ms: u64,
    /// Bytes of records buffered before `send` waits (default 32 MiB).
    pub buffer_bytes: usize,
    /// Largest produce request, in bytes (default 1 MiB); a larger record is refused.
    pub request_bytes_max: usize,
    /// Kafka's `transactional.id` (default none): a transactional producer, idempotent, whose
    /// records become visible to read_committed consumers only when
    /// [`Producer::commit_transaction`] commits them. A transaction begins with the first
    /// record sent after the previous commit or abort.
    pub transactional_id: Option<String>,
    /// Kafka's `transaction.timeout.ms` (default 60 000): the coordinator aborts a
    /// transaction open longer.
    pub transaction_timeout_ms: i32,
}

impl Default for ProducerConfig {
    fn default() -> ProducerConfig {
        ProducerConfig {
            acks: -1,
            linger_ms: LINGER_MS_DEFAULT,
            batch_bytes: BATCH_BYTES_DEFAULT,
            compression: Compression::None,
            idempotent: true,
            max_in_flight: IDEMPOTENT_IN_FLIGHT_MAX,
            request_timeout_ms: crate::client::REQUEST_TIMEOUT_MS_DEFAULT,
            delivery_timeout_ms: DELIVERY_TIMEOUT_MS_DEFAULT,
            retry_backoff_ms: RETRY_BACKOFF_MS_DEFAULT,
            buffer_bytes: BUFFER_BYTES_DEFAULT,
            request_bytes_max: REQUEST_BYTES_MAX_DEFAULT,
            transactional_id: None,
            transaction_timeout_ms: TRANSACTION_TIMEOUT_MS_DEFAULT,
        }
    }
}

/// A record to send.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProducerRecord {
    /// The topic.
    pub topic: String,
    /// The partition; `None` lets the partitioner choose (murmur2 of the key, or sticky
    /// round-robin per batch for keyless records).
    pub partition: Option<i32>,
    /// The key.
    pub key: Option<Bytes>,
    /// The value (`None`: a tombstone).
    pub value: Option<Bytes>,
    /// Headers, in order.
    pub headers: Vec<(String, Option<Bytes>)>,
    /// Create time in ms; `None`: now.
    pub timestamp_ms: Option<i64>,
}

impl ProducerRecord {
    /// Bytes this record counts for in batches and the buffer budget.
    pub(crate) fn size_estimate(&self) -> usize {
        let len = |b: &Option<Bytes>| b.as_ref().map_or(0, Bytes::len);
        RECORD_OVERHEAD_BYTES
            + len(&self.key)
            + len(&self.value)
            + self
                .headers
                .iter()
                .map(|(k, v)| k.len() + len(v) + 2)
                .sum::<usize>()
    }
}

/// Where an acknowledged record landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordMetadata {
    /// The partition.
    pub partition: i32,
    /// Its offset (−1 with acks=0).
    pub offset: i64,
    /// Its timestamp: the broker's append time for LogAppendTime topics, else the create time.
    pub timestamp_ms: i64,
}

/// Resolves when the record is acknowledged (or fails for good).
#[derive(Debug)]
pub struct DeliveryFuture {
    rx: oneshot::Receiver<Result<RecordMetadata, ClientError>>,
}

impl Future for DeliveryFuture {
    type Output = Result<RecordMetadata, ClientError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match Pin::new(&mut self.rx).poll(cx) {
            Poll::Ready(Ok(result)) => Poll::Ready(result),
            Poll::Ready(Err(_)) => Poll::Ready(Err(ClientError::ProducerClosed { reason: None })),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// One record handed to the task, with its reply slot and its share of the buffer.
#[derive(Debug)]
pub(crate) struct Pending {
    pub record: ProducerRecord,
    pub size: usize,
    pub reply: oneshot::Sender<Result<RecordMetadata, ClientError>>,
    pub permit: Option<OwnedSemaphorePermit>,
}

#[derive(Debug)]
pub(crate) enum Command {
    Send(Pending),
    Flush(oneshot::Sender<Result<(), ClientError>>),
    Close(oneshot::Sender<Result<(), ClientError>>),
    /// EndTxn (commit when true), after a flush.
    EndTxn(bool, oneshot::Sender<Result<(), ClientError>>),
    /// AddOffsetsToTxn + TxnOffsetCommit: (group, [(topic, partition, next offset)]).
    SendOffsets(
        String,
        Vec<(String, i32, i64)>,
        oneshot::Sender<Result<(), ClientError>>,
    ),
}

/// A Kafka producer. Cheap to clone; the task stops when every clone is dropped or closed.
#[derive(Debug, Clone)]
pub struct Producer {
    tx: mpsc::Sender<Command>,
    buffer: Arc<Semaphore>,
    config: Arc<ProducerConfig>,
}

impl Producer {
    /// Starts a producer on `client` (needs a tokio runtime). Errors for an invalid config.
    pub fn new(client: Client, mut config: ProducerConfig) -> Result<Producer, ClientError> {
        if ![-1, 0, 1].contains(&config.acks) {
            return Err(ClientError::Config(format!(
                "acks must be -1, 0 or 1, not {}",
                config.acks
            )));
        }
        if config.transactional_id.is_some() && (config.acks != -1 || !config.idempotent) {
            return Err(ClientError::Config(
                "a transactional producer is idempotent and uses acks=-1".into(),
            ));
        }
        if config.acks != -1 && config.idempotent {
            tracing::debug!(acks = config.acks, "idempotence off: it needs acks=-1");
            config.idempotent = false;
        }
        if config.max_in_flight == 0
            || (config.idempotent && config.max_in_flight > IDEMPOTENT_IN_FLIGHT_MAX)
        {
            return Err(ClientError::Config(format!(
                "max_in_flight must be 1..={IDEMPOTENT_IN_FLIGHT_MAX} for an idempotent producer (got {})",
                config.max_in_flight
            )));
        }
        if config.batch_bytes == 0 || config.buffer_bytes == 0 || config.request_bytes_max == 0 {
            return Err(ClientError::Config(
                "batch_bytes, buffer_bytes and request_bytes_max must be positive".into(),
            ));
        }
        let permits = config.buffer_bytes.min(Semaphore::MAX_PERMITS);
        let buffer = Arc::new(Semaphore::new(permits));
        let (tx, rx) = mpsc::channel(COMMANDS_QUEUED_MAX);
        let config = Arc::new(config);
        tokio::spawn(sender::run(client, config.clone(), rx));
        Ok(Producer { tx, buffer, config })
    }

    /// Queues a record; waits only while the buffer is full. The future resolves when the
    /// record is acknowledged.
    pub async fn send(&self, record: ProducerRecord) -> Result<DeliveryFuture, ClientError> {
        let size = record.size_estimate();
        let limit = self
            .config
            .request_bytes_max
            .min(self.config.buffer_bytes)
            .min(u32::MAX as usize);
        if size + weir_protocol::records::BATCH_HEADER_BYTES > limit {
            return Err(ClientError::RecordTooLarge { bytes: size, limit });
        }
        let permit = self
            .buffer
            .clone()
            .acquire_many_owned(size as u32)
            .await
            .map_err(|_| ClientError::ProducerClosed { reason: None })?;
        let (reply, rx) = oneshot::channel();
        let pending = Pending {
            record,
            size,
            reply,
            permit: Some(permit),
        };
        self.tx
            .send(Command::Send(pending))
            .await
            .map_err(|_| ClientError::ProducerClosed { reason: None })?;
        Ok(DeliveryFuture { rx })
    }

    /// Sends every buffered record now and waits until all records sent before this call are
    /// answered. Errs only when the producer failed or was closed (each record's own outcome
    /// is in its [`DeliveryFuture`]).
    pub async fn flush(&self) -> Result<(), ClientError> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Command::Flush(tx))
            .await
            .map_err(|_| ClientError::ProducerClosed { reason: None })?;
        rx.await
            .unwrap_or(Err(ClientError::ProducerClosed { reason: None }))
    }

    /// Flushes, then stops the producer; later sends fail with
    /// [`ClientError::ProducerClosed`].
    pub async fn close(&self) -> Result<(), ClientError> {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Command::Close(tx)).await.is_err() {
            return Ok(());
        }
        rx.await.unwrap_or(Ok(()))
    }

    /// Commits the open transaction: sends every buffered record, waits for their answers,
    /// then EndTxn. An error (a record that failed, a fenced producer) leaves the transaction
    /// to be aborted with [`Producer::abort_transaction`].
    pub async fn commit_transaction(&self) -> Result<(), ClientError> {
        self.flush().await?;
        self.txn_command(|r| Command::EndTxn(true, r)).await
    }

    /// Aborts the open transaction (what was sent is written, then aborted).
    pub async fn abort_transaction(&self) -> Result<(), ClientError> {
        // Records still buffered are sent first: the abort marker then covers them.
        let _ = self.flush().await;
        self.txn_command(|r| Command::EndTxn(false, r)).await
    }

    /// Makes `offsets` (topic, partition, next offset to read) the committed offsets of
    /// `group_id` when the open transaction commits (consume-transform-produce).
    pub async fn send_offsets_to_transaction(
        &self,
        group_id: &str,
        offsets: Vec<(String, i32, i64)>,
    ) -> Result<(), ClientError> {
        let group = group_id.to_string();
        self.txn_command(|r| Command::SendOffsets(group, offsets, r))
            .await
    }

    async fn txn_command(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<(), ClientError>>) -> Command,
    ) -> Result<(), ClientError> {
        if self.config.transactional_id.is_none() {
            return Err(ClientError::Config(
                "not a transactional producer (no transactional_id)".into(),
            ));
        }
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(make(tx))
            .await
            .map_err(|_| ClientError::ProducerClosed { reason: None })?;
        rx.await
            .unwrap_or(Err(ClientError::ProducerClosed { reason: None }))
    }

    /// The configuration in force (idempotence possibly turned off, see
    /// [`ProducerConfig::idempotent`]).
    pub fn config(&self) -> &ProducerConfig {
        &self.config
    }
}
