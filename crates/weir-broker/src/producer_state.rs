//! Idempotent-producer state of one partition: each producer's epoch and its last
//! [`BATCHES_PER_PRODUCER_MAX`] batches, so a resend is answered with its original offsets and
//! never written twice, a gap is refused, and a stale epoch is fenced.
//!
//! The rules are Kafka's (its `ProducerStateManager`): sequences are per producer and partition,
//! start at 0 for each new epoch and wrap from `i32::MAX` to 0. The state is rebuilt on start-up
//! from the newest producer snapshot (Kafka's `<offset>.snapshot`: each producer's epoch and
//! last batch) and the batch headers after it, so it survives restarts and crashes.

use std::collections::{HashMap, VecDeque};

/// Batches remembered per producer, as Kafka does (clients keep at most 5 in flight).
pub const BATCHES_PER_PRODUCER_MAX: usize = 5;

/// Producer id of a batch written without idempotence.
pub const NO_PRODUCER_ID: i64 = -1;

/// The idempotence fields of a record batch header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchIdentity {
    /// `producerId`.
    pub producer_id: i64,
    /// `producerEpoch`.
    pub producer_epoch: i16,
    /// `baseSequence`.
    pub base_sequence: i32,
    /// `lastOffsetDelta` (the batch holds `last_offset_delta + 1` sequences).
    pub last_offset_delta: i32,
}

impl BatchIdentity {
    /// The fields of a batch header.
    pub fn of(header: &weir_protocol::records::BatchHeader) -> Self {
        Self {
            producer_id: header.producer_id,
            producer_epoch: header.producer_epoch,
            base_sequence: header.base_sequence,
            last_offset_delta: header.last_offset_delta,
        }
    }

    fn last_sequence(&self) -> i32 {
        wrapping_seq_add(self.base_sequence, self.last_offset_delta)
    }
}

/// Where a stored batch landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredBatch {
    /// First sequence of the batch.
    pub first_sequence: i32,
    /// Last sequence of the batch.
    pub last_sequence: i32,
    /// Offset assigned to its first record.
    pub base_offset: i64,
    /// The batch's log-append time, or -1.
    pub log_append_time_ms: i64,
}

/// What to do with an incoming batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Append it, then call [`ProducerStates::record`].
    Append,
    /// It is a resend of a stored batch: answer with these offsets, write nothing.
    Duplicate(StoredBatch),
    /// A gap or a non-zero first sequence for a new epoch: OUT_OF_ORDER_SEQUENCE_NUMBER.
    OutOfOrder,
    /// The epoch is older than the producer's current one: INVALID_PRODUCER_EPOCH.
    StaleEpoch,
}

#[derive(Debug, Clone, Default)]
struct ProducerEntry {
    epoch: i16,
    batches: VecDeque<StoredBatch>,
    /// The max timestamp of the last batch (its log-append time under that timestamp type).
    last_timestamp_ms: i64,
}

/// One producer's state as DescribeProducers reports it (Kafka's `ProducerStateEntry`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActiveProducer {
    /// The producer id.
    pub producer_id: i64,
    /// Its current epoch.
    pub producer_epoch: i16,
    /// The last sequence it wrote here.
    pub last_sequence: i32,
    /// The max timestamp of its last batch.
    pub last_timestamp_ms: i64,
}

/// Idempotent-producer state of one partition.
#[derive(Debug, Clone, Default)]
pub struct ProducerStates {
    producers: HashMap<i64, ProducerEntry>,
}

fn wrapping_seq_add(seq: i32, delta: i32) -> i32 {
    // Sequences wrap from i32::MAX to 0, as Kafka's do.
    let sum = i64::from(seq) + i64::from(delta);
    if sum > i64::from(i32::MAX) {
        (sum - i64::from(i32::MAX) - 1) as i32
    } else {
        sum as i32
    }
}

/// `a - b` in sequence space (sequences wrap from `i32::MAX` to 0).
fn wrapping_seq_sub(a: i32, b: i32) -> i32 {
    if a >= b {
        a - b
    } else {
        // a wrapped past i32::MAX: the distance is what is left to MAX, plus a, plus one.
        (i64::from(i32::MAX) - i64::from(b) + i64::from(a) + 1) as i32
    }
}

impl ProducerStates {
    /// Decides what to do with a batch; changes nothing.
    pub fn check(&self, id: &BatchIdentity) -> Verdict {
        if id.producer_id == NO_PRODUCER_ID {
            return Verdict::Append;
        }
        let Some(entry) = self.producers.get(&id.producer_id) else {
            // Unknown producer (new, or its state was lost to retention): any sequence starts it.
            return Verdict::Append;
        };
        if id.producer_epoch < entry.epoch {
            return Verdict::StaleEpoch;
        }
        if id.producer_epoch > entry.epoch {
            return if id.base_sequence == 0 {
                Verdict::Append
            } else {
                Verdict::OutOfOrder
            };
        }
        let last = id.last_sequence();
        if let Some(b) = entry
            .batches
            .iter()
            .find(|b| b.first_sequence == id.base_sequence && b.last_sequence == last)
        {
            return Verdict::Duplicate(*b);
        }
        match entry.batches.back() {
            Some(b) if wrapping_seq_add(b.last_sequence, 1) != id.base_sequence => {
                Verdict::OutOfOrder
            }
            _ => Verdict::Append,
        }
    }

    /// Records a batch that was appended (or found in the log on recovery); `max_timestamp_ms`
    /// is its header's max timestamp, which the log-append time (when set) replaces.
    pub fn record(
        &mut self,
        id: &BatchIdentity,
        base_offset: i64,
        log_append_time_ms: i64,
        max_timestamp_ms: i64,
    ) {
        if id.producer_id == NO_PRODUCER_ID {
            return;
        }
        let entry = self.producers.entry(id.producer_id).or_default();
        if id.producer_epoch != entry.epoch {
            entry.epoch = id.producer_epoch;
            entry.batches.clear();
        }
        entry.last_timestamp_ms = if log_append_time_ms >= 0 {
            log_append_time_ms
        } else {
            max_timestamp_ms
        };
        if entry.batches.len() == BATCHES_PER_PRODUCER_MAX {
            entry.batches.pop_front();
        }
        entry.batches.push_back(StoredBatch {
            first_sequence: id.base_sequence,
            last_sequence: id.last_sequence(),
            base_offset,
            log_append_time_ms,
        });
    }

    /// Whether a transaction marker at `epoch` may be written for `producer_id`: not when
    /// the producer has moved to a newer epoch here (Kafka's marker epoch check).
    pub fn check_marker(&self, producer_id: i64, epoch: i16) -> bool {
        self.producers
            .get(&producer_id)
            .is_none_or(|e| epoch >= e.epoch)
    }

    /// Records a marker written (or found on recovery): a newer epoch replaces the
    /// producer's, and its sequences start again at 0.
    pub fn record_marker(&mut self, producer_id: i64, epoch: i16) {
        if producer_id == NO_PRODUCER_ID {
            return;
        }
        let entry = self.producers.entry(producer_id).or_default();
        if epoch != entry.epoch {
            entry.epoch = epoch;
            entry.batches.clear();
        }
    }

    /// Every producer with state here, by producer id (a read-only snapshot).
    pub fn active(&self) -> Vec<ActiveProducer> {
        let mut all: Vec<ActiveProducer> = self
            .producers
            .iter()
            .filter_map(|(&producer_id, e)| {
                let last = e.batches.back()?;
                Some(ActiveProducer {
                    producer_id,
                    producer_epoch: e.epoch,
                    last_sequence: last.last_sequence,
                    last_timestamp_ms: e.last_timestamp_ms,
                })
            })
            .collect();
        all.sort_by_key(|p| p.producer_id);
        all
    }

    /// The state as a producer snapshot (Kafka's `ProducerSnapshotEntry` per producer: its
    /// epoch and last batch; `ongoing` gives the first offset of each producer's ongoing
    /// transaction). Sorted by producer id.
    pub fn to_snapshot(
        &self,
        ongoing: &HashMap<i64, i64>,
    ) -> Vec<weir_storage::ProducerSnapshotEntry> {
        let mut v: Vec<_> = self
            .producers
            .iter()
            .map(|(&producer_id, e)| {
                let (last_sequence, last_offset, offset_delta) = match e.batches.back() {
                    Some(b) => {
                        let delta = wrapping_seq_sub(b.last_sequence, b.first_sequence);
                        (b.last_sequence, b.base_offset + i64::from(delta), delta)
                    }
                    None => (-1, -1, 0),
                };
                weir_storage::ProducerSnapshotEntry {
                    producer_id,
                    producer_epoch: e.epoch,
                    last_sequence,
                    last_offset,
                    offset_delta,
                    timestamp: e.last_timestamp_ms,
                    coordinator_epoch: -1,
                    current_txn_first_offset: ongoing.get(&producer_id).copied().unwrap_or(-1),
                }
            })
            .collect();
        v.sort_by_key(|e| e.producer_id);
        v
    }

    /// The state a snapshot records: each producer's epoch and last batch (Kafka's
    /// snapshots keep one batch a producer, so only a resend of that one is recognised
    /// before new batches arrive; its log-append time is not recorded, -1).
    pub fn from_snapshot(entries: &[weir_storage::ProducerSnapshotEntry]) -> Self {
        let producers = entries
            .iter()
            .filter(|e| e.producer_id != NO_PRODUCER_ID)
            .map(|e| {
                let mut batches = VecDeque::new();
                if e.last_sequence >= 0 && e.last_offset >= 0 && e.offset_delta >= 0 {
                    batches.push_back(StoredBatch {
                        first_sequence: wrapping_seq_sub(e.last_sequence, e.offset_delta),
                        last_sequence: e.last_sequence,
                        base_offset: e.last_offset - i64::from(e.offset_delta),
                        log_append_time_ms: -1,
                    });
                }
                let entry = ProducerEntry {
                    epoch: e.producer_epoch,
                    batches,
                    last_timestamp_ms: e.timestamp,
                };
                (e.producer_id, entry)
            })
            .collect();
        Self { producers }
    }

    /// Number of producers with state here.
    pub fn len(&self) -> usize {
        self.producers.len()
    }

    /// Whether no producer has state here.
    pub fn is_empty(&self) -> bool {
        self.producers.is_empty()
    }
}

impl crate::topics::Partition {
    /// A snapshot of this partition's active idempotent producers, by producer id.
    pub fn active_producers(&self) -> Vec<ActiveProducer> {
        self.producers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .active()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(pid: i64, epoch: i16, seq: i32, n: i32) -> BatchIdentity {
        BatchIdentity {
            producer_id: pid,
            producer_epoch: epoch,
            base_sequence: seq,
            last_offset_delta: n - 1,
        }
    }

    #[test]
    fn resend_of_any_of_the_last_five_gets_original_offsets() {
        let mut s = ProducerStates::default();
        let mut offset = 0;
        for i in 0..8 {
            let b = id(7, 0, i * 10, 10);
            assert_eq!(s.check(&b), Verdict::Append);
            s.record(&b, offset, -1, -1);
            offset += 10;
        }
        for i in 3..8 {
            match s.check(&id(7, 0, i * 10, 10)) {
                Verdict::Duplicate(b) => assert_eq!(b.base_offset, i64::from(i) * 10),
                v => panic!("batch {i}: {v:?}"),
            }
        }
        // Older than the last five: no longer known, and not the next sequence either.
        assert_eq!(s.check(&id(7, 0, 20, 10)), Verdict::OutOfOrder);
        // A gap.
        assert_eq!(s.check(&id(7, 0, 90, 10)), Verdict::OutOfOrder);
        // The next one.
        assert_eq!(s.check(&id(7, 0, 80, 10)), Verdict::Append);
    }

    #[test]
    fn a_snapshot_keeps_each_producers_epoch_and_last_batch() {
        let mut s = ProducerStates::default();
        // Producer 7 wraps its sequences: its last batch is MAX-1, MAX, 0, 1.
        s.record(&id(7, 3, i32::MAX - 11, 10), 100, -1, 5_000);
        s.record(&id(7, 3, i32::MAX - 1, 4), 110, -1, 6_000);
        s.record(&id(8, 1, 0, 5), 114, -1, 7_000);
        // Producer 9 only had a marker at a new epoch: no batch.
        s.record_marker(9, 4);
        let ongoing = HashMap::from([(8, 114)]);
        let snap = s.to_snapshot(&ongoing);
        assert_eq!(snap.len(), 3);
        let e7 = snap[0];
        assert_eq!(
            (
                e7.producer_epoch,
                e7.last_sequence,
                e7.last_offset,
                e7.offset_delta
            ),
            (3, 1, 113, 3)
        );
        assert_eq!((e7.timestamp, e7.current_txn_first_offset), (6_000, -1));
        assert_eq!(snap[1].current_txn_first_offset, 114);
        assert_eq!((snap[2].last_sequence, snap[2].last_offset), (-1, -1));
        let back = ProducerStates::from_snapshot(&snap);
        // The last batch is recognised; the one before is not known any more (as in Kafka).
        match back.check(&id(7, 3, i32::MAX - 1, 4)) {
            Verdict::Duplicate(b) => assert_eq!(b.base_offset, 110),
            v => panic!("{v:?}"),
        }
        assert_eq!(back.check(&id(7, 3, 2, 1)), Verdict::Append);
        assert_eq!(back.check(&id(7, 3, 3, 1)), Verdict::OutOfOrder);
        assert_eq!(back.check(&id(7, 2, 2, 1)), Verdict::StaleEpoch);
        assert_eq!(back.check(&id(9, 3, 0, 1)), Verdict::StaleEpoch);
        assert_eq!(back.check(&id(9, 4, 0, 1)), Verdict::Append);
        assert_eq!(
            back.active(),
            s.active()
                .into_iter()
                .filter(|p| p.producer_id != 9)
                .collect::<Vec<_>>()
        );
        assert_eq!(back.to_snapshot(&ongoing), snap, "a round trip");
    }

    #[test]
    fn epochs_fence_and_restart_sequences() {
        let mut s = ProducerStates::default();
        s.record(&id(1, 3, 0, 5), 0, -1, -1);
        assert_eq!(s.check(&id(1, 2, 5, 1)), Verdict::StaleEpoch);
        assert_eq!(s.check(&id(1, 4, 5, 1)), Verdict::OutOfOrder);
        assert_eq!(s.check(&id(1, 4, 0, 1)), Verdict::Append);
        s.record(&id(1, 4, 0, 1), 5, -1, -1);
        assert_eq!(s.check(&id(1, 3, 5, 1)), Verdict::StaleEpoch);
        assert_eq!(s.check(&id(1, 4, 1, 1)), Verdict::Append);
    }

    #[test]
    fn unknown_producers_and_non_idempotent_batches_append() {
        let s = ProducerStates::default();
        assert_eq!(s.check(&id(NO_PRODUCER_ID, -1, -1, 3)), Verdict::Append);
        assert_eq!(s.check(&id(9, 0, 42, 3)), Verdict::Append);
        let mut s = s;
        s.record(&id(NO_PRODUCER_ID, -1, -1, 3), 0, -1, -1);
        assert!(s.is_empty());
    }

    #[test]
    fn active_reports_epoch_last_sequence_and_timestamp() {
        let mut s = ProducerStates::default();
        assert!(s.active().is_empty());
        s.record(&id(9, 1, 0, 3), 0, -1, 1_000);
        s.record(&id(4, 0, 0, 1), 3, -1, 1_500);
        s.record(&id(9, 1, 3, 2), 4, -1, 2_000);
        s.record(&id(NO_PRODUCER_ID, -1, -1, 3), 6, -1, 3_000);
        let p = |producer_id, producer_epoch, last_sequence, last_timestamp_ms| ActiveProducer {
            producer_id,
            producer_epoch,
            last_sequence,
            last_timestamp_ms,
        };
        assert_eq!(s.active(), vec![p(4, 0, 0, 1_500), p(9, 1, 4, 2_000)]);
        // A new epoch restarts the sequence.
        s.record(&id(9, 2, 0, 1), 6, -1, 2_500);
        assert_eq!(s.active()[1], p(9, 2, 0, 2_500));
        // Under log-append time the append time is the batch's timestamp.
        s.record(&id(9, 2, 1, 1), 7, 9_000, 2_600);
        assert_eq!(s.active()[1], p(9, 2, 1, 9_000));
    }

    #[test]
    fn sequences_wrap_at_i32_max() {
        let mut s = ProducerStates::default();
        let b = id(5, 0, i32::MAX - 1, 2); // sequences MAX-1, MAX
        s.record(&b, 0, -1, -1);
        assert_eq!(s.check(&id(5, 0, 0, 1)), Verdict::Append);
        assert_eq!(s.check(&id(5, 0, 1, 1)), Verdict::OutOfOrder);
        let wrapped = id(5, 0, i32::MAX, 3); // MAX, 0, 1
        assert_eq!(wrapped.last_sequence(), 1);
    }
}
