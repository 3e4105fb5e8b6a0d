//! One partition: its storage [`Log`] and the producer state guarding appends to it, the
//! durability applied to it (`durability.rs`), and its producer state rebuilt on open.

use std::sync::{Arc, Mutex};

use weir_protocol::records::ValidatedBatch;
use weir_storage::{AppendOptions, Log};

use crate::config::TimestampType;
use crate::durability::{Durability, Flusher, ReadableMoved};
use crate::errors::PartitionError;
use crate::metrics::PartitionStats;
use crate::producer_state::{BatchIdentity, ProducerStates, Verdict};

/// One partition: its log and the idempotent-producer state guarding appends to it.
#[derive(Debug)]
pub struct Partition {
    /// Partition index.
    pub index: i32,
    /// The storage log.
    pub log: Arc<Log>,
    /// Checked and updated under this lock together with the append, so a resend can
    /// never race its original.
    pub(crate) producers: Mutex<ProducerStates>,
    /// The flush policy (`durability.rs`).
    pub(crate) durability: Arc<Durability>,
    /// Wakes the long polls reading this partition when its readable end moves.
    pub(crate) readable_moved: ReadableMoved,
    /// Syncs after appends nobody waits on (fsync policy): one task at a time.
    flusher: Arc<Flusher>,
    /// Records and bytes in and out, for the metrics.
    pub(crate) stats: PartitionStats,
}

/// Where an appended (or recognised as resent) batch is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    /// Offset of the batch's first record.
    pub base_offset: i64,
    /// Offset of its last record.
    pub last_offset: i64,
    /// Log-append time, or -1 under create time.
    pub log_append_time_ms: i64,
    /// Whether this was a resend answered from producer state (nothing written).
    pub duplicate: bool,
}

impl Partition {
    pub(crate) fn new(
        index: i32,
        log: Arc<Log>,
        durability: Arc<Durability>,
    ) -> Result<Self, PartitionError> {
        let producers = rebuild_producer_state(&log)?;
        Ok(Self {
            index,
            log,
            producers: Mutex::new(producers),
            durability,
            readable_moved: ReadableMoved::default(),
            flusher: Arc::default(),
            stats: PartitionStats::default(),
        })
    }

    /// Validates (against this log's `max_message_bytes`) and appends one record batch
    /// given as bytes (copied): [`Partition::append`] for the small batches the broker writes
    /// itself (`__consumer_offsets`) and for tests.
    pub fn append_bytes(
        &self,
        batch: &[u8],
        timestamp_type: TimestampType,
        now_ms: i64,
    ) -> Result<Appended, PartitionError> {
        let batch = ValidatedBatch::new(
            bytes::Bytes::copy_from_slice(batch),
            Some(self.log.max_message_bytes()),
        )?;
        self.append(&batch, timestamp_type, now_ms)
    }

    /// Appends one validated record batch, applying idempotent-producer rules; the header
    /// decoded by validation is the one used here and by the log. A transactional batch is
    /// appended like any idempotent one (the produce handler has checked with the
    /// transaction coordinator that its partition is in the producer's open transaction);
    /// a control batch from a client is refused, as Kafka refuses it: markers are the
    /// coordinator's ([`Partition::append_marker`]).
    pub fn append(
        &self,
        batch: &ValidatedBatch,
        timestamp_type: TimestampType,
        now_ms: i64,
    ) -> Result<Appended, PartitionError> {
        let header = batch.header();
        if header.is_control() {
            return Err(PartitionError::ClientControlBatch);
        }
        let ident = BatchIdentity::of(header);
        let mut producers = self.producers.lock().unwrap_or_else(|p| p.into_inner());
        match producers.check(&ident) {
            Verdict::Append => {}
            Verdict::Duplicate(b) => {
                return Ok(Appended {
                    base_offset: b.base_offset,
                    last_offset: b.base_offset + i64::from(header.last_offset_delta),
                    log_append_time_ms: b.log_append_time_ms,
                    duplicate: true,
                });
            }
            Verdict::OutOfOrder => return Err(PartitionError::OutOfOrderSequence),
            Verdict::StaleEpoch => return Err(PartitionError::StaleProducerEpoch),
        }
        let (appended, rolled) = self.write(batch, timestamp_type, now_ms)?;
        producers.record(
            &ident,
            appended.base_offset,
            appended.log_append_time_ms,
            header.max_timestamp,
        );
        self.snapshot_after_roll(&producers, rolled);
        Ok(appended)
    }

    /// Appends a batch the broker's own coordinators built (`__consumer_offsets` commits
    /// inside a transaction): no sequence rules apply (Kafka's coordinator origin), and the
    /// producer state here is left alone.
    pub fn append_as_coordinator(
        &self,
        batch: &[u8],
        now_ms: i64,
    ) -> Result<Appended, PartitionError> {
        let batch = ValidatedBatch::new(
            bytes::Bytes::copy_from_slice(batch),
            Some(self.log.max_message_bytes()),
        )?;
        let producers = self.producers.lock().unwrap_or_else(|p| p.into_inner());
        let (appended, rolled) = self.write(&batch, TimestampType::CreateTime, now_ms)?;
        self.snapshot_after_roll(&producers, rolled);
        Ok(appended)
    }

    /// Writes the commit or abort marker of `producer_id`'s transaction (a control batch in
    /// Kafka's format), which ends its transaction here. A marker older than the producer's
    /// epoch here is refused (INVALID_PRODUCER_EPOCH); a newer one fences the older epoch.
    pub fn append_marker(
        &self,
        producer_id: i64,
        producer_epoch: i16,
        commit: bool,
        coordinator_epoch: i32,
        now_ms: i64,
    ) -> Result<Appended, PartitionError> {
        let batch = crate::txn::marker_batch(
            producer_id,
            producer_epoch,
            commit,
            coordinator_epoch,
            now_ms,
        )?;
        let batch = ValidatedBatch::new(batch, None)?;
        let mut producers = self.producers.lock().unwrap_or_else(|p| p.into_inner());
        if !producers.check_marker(producer_id, producer_epoch) {
            return Err(PartitionError::StaleProducerEpoch);
        }
        let (appended, rolled) = self.write(&batch, TimestampType::CreateTime, now_ms)?;
        producers.record_marker(producer_id, producer_epoch);
        self.snapshot_after_roll(&producers, rolled);
        Ok(appended)
    }

    /// The last stable offset: the high watermark, or the first offset of the earliest
    /// transaction still open here if that is lower (read_committed reads stop there).
    pub fn last_stable_offset(&self) -> i64 {
        let hw = self.high_watermark();
        self.log
            .first_unstable_offset()
            .map_or(hw, |first| first.min(hw))
    }

    /// The log write under the producer lock, and the partition's counters.
    fn write(
        &self,
        batch: &ValidatedBatch,
        timestamp_type: TimestampType,
        now_ms: i64,
    ) -> Result<(Appended, bool), PartitionError> {
        let log_append_time_ms = match timestamp_type {
            TimestampType::CreateTime => None,
            TimestampType::LogAppendTime => Some(now_ms),
        };
        let info = self.log.append_validated(
            batch,
            AppendOptions {
                leader_epoch: 0,
                log_append_time_ms,
            },
        )?;
        let records = u64::try_from(info.last_offset - info.base_offset + 1).unwrap_or(0);
        self.stats.appended(records, batch.len());
        let appended = Appended {
            base_offset: info.base_offset,
            last_offset: info.last_offset,
            log_append_time_ms: info.log_append_time_ms,
            duplicate: false,
        };
        // The first batch of a segment after the first one: a roll.
        let rolled = info.position == 0 && info.segment_base_offset > 0;
        Ok((appended, rolled))
    }

    /// After the first batch of a new segment (the producer lock held, the batch recorded):
    /// a producer snapshot at the log end, so a restart walks batch headers only from
    /// here. A failed snapshot costs only start-up time: it is logged, not answered.
    fn snapshot_after_roll(&self, producers: &ProducerStates, rolled: bool) {
        if rolled && let Err(e) = self.write_snapshot(producers) {
            tracing::warn!(dir = %self.log.dir().display(), error = %e, "producer snapshot not written");
        }
    }

    /// A producer snapshot of `producers` at the log end (the producer lock held).
    fn write_snapshot(&self, producers: &ProducerStates) -> Result<(), weir_storage::LogError> {
        let ongoing = self
            .log
            .ongoing_transactions()
            .into_iter()
            .map(|t| (t.producer_id, t.first_offset))
            .collect();
        self.log
            .write_producer_snapshot(self.log.log_end(), &producers.to_snapshot(&ongoing))
    }

    /// Before a clean close: a producer snapshot at the log end, so the next start walks
    /// nothing. Appends after it (there should be none) are walked from it.
    pub fn snapshot_for_close(&self) -> Result<(), weir_storage::LogError> {
        let producers = self.producers.lock().unwrap_or_else(|p| p.into_inner());
        self.write_snapshot(&producers)
    }
}

/// Durability, applied to this partition's log (`durability.rs`).
impl Partition {
    /// The offset up to which consumers may read: the durable end under the fsync policy,
    /// the log end under the page-cache policy.
    pub fn high_watermark(&self) -> i64 {
        self.durability.high_watermark(&self.log)
    }

    /// Whether an `acks=-1` answer waits for [`Partition::sync_to`] (the fsync policy).
    pub fn acks_all_waits_for_sync(&self) -> bool {
        self.durability.acks_all_waits_for_sync()
    }

    /// Makes everything below `upto` durable (group commit), then wakes long-poll fetches.
    pub async fn sync_to(&self, upto: i64) -> Result<(), PartitionError> {
        self.durability
            .sync_to(&self.log, &self.readable_moved, upto)
            .await
    }

    /// Syncs every `(partition, upto)` concurrently (one group-commit round for all of
    /// them); the results in the same order.
    pub async fn sync_all(
        waits: impl IntoIterator<Item = (Arc<Partition>, i64)>,
    ) -> Vec<Result<(), PartitionError>> {
        crate::durability::sync_all(
            waits
                .into_iter()
                .map(|(p, upto)| async move { p.sync_to(upto).await }),
        )
        .await
    }

    /// After an append nobody waits on: a background sync (fsync policy) or the page-cache
    /// policy's message-count flush.
    pub fn after_append(&self, upto: i64) {
        self.durability.after_append(
            &self.log,
            &self.readable_moved,
            &self.flusher,
            self.index,
            upto,
        );
    }
}

/// Rebuilds producer state from the producer snapshot the log opened with, then the batch
/// headers after it (headers only: 61 bytes a batch, no record is decoded); without a
/// snapshot, from every batch header in the log.
///
/// A corrupt batch (a damaged closed segment, whose reads fail as corrupt) must not keep the
/// broker from starting: the rest of its segment is skipped and the rebuild goes on with the
/// next segment.
fn rebuild_producer_state(log: &Log) -> Result<ProducerStates, PartitionError> {
    let (mut states, mut from) = match log.take_opened_snapshot() {
        Some(snap) => (
            ProducerStates::from_snapshot(&snap.entries),
            snap.offset.max(log.log_start()),
        ),
        None => (ProducerStates::default(), log.log_start()),
    };
    let bases = log.segment_base_offsets();
    while let Some(damaged_at) = rebuild_from(log, from, &mut states)? {
        tracing::warn!(dir = %log.dir().display(), offset = damaged_at, "corrupt batch; producer state rebuilt without the rest of its segment");
        match bases.iter().copied().find(|&b| b > damaged_at) {
            Some(next) => from = next,
            None => break,
        }
    }
    Ok(states)
}

/// Records every batch header from `from` on; `Some(offset)` where a corrupt batch stopped it.
fn rebuild_from(
    log: &Log,
    from: i64,
    states: &mut ProducerStates,
) -> Result<Option<i64>, PartitionError> {
    let mut next = from;
    for header in log.batch_headers(from)? {
        let header = match header {
            Ok(h) => h,
            Err(weir_storage::ReadError::Corrupt { .. }) => return Ok(Some(next)),
            Err(e) => return Err(e.into()),
        };
        next = header.last_offset().map_or(next, |l| l.saturating_add(1));
        if header.is_control() {
            states.record_marker(header.producer_id, header.producer_epoch);
            continue;
        }
        let ident = BatchIdentity::of(&header);
        let append_time = header.log_append_time().unwrap_or(-1);
        let ts = header.max_timestamp;
        states.record(&ident, header.base_offset, append_time, ts);
    }
    Ok(None)
}
