//! Transactions as the log sees them (KIP-98): record-format facts, not requests. A
//! transactional data batch from a producer with no ongoing transaction here starts one
//! at its base offset; a control batch (an end-transaction marker) ends it; an abort
//! adds an [`AbortedTxn`] entry to the `.txnindex` of the segment holding the marker
//! (Kafka's `ProducerStateManager` and `LogSegment.updateTxnIndex`). A marker for a
//! producer with no ongoing transaction is appended and changes nothing: as Kafka's
//! `ProducerAppendInfo.appendEndTxnMarker`, an empty transaction gets no index entry.
//!
//! The state is changed under the writer lock, before the batch's offsets are published,
//! so a reader that sees a transactional batch below the log end also sees its
//! transaction. On open it is rebuilt by one walk of every batch header ([`Log::open`]),
//! which also recomputes every segment's `.txnindex`.
//!
//! What is not known after a reopen: an ongoing transaction whose first batches were in
//! segments deleted since (retention, DeleteRecords) restarts at its first batch still in
//! the log (Kafka keeps producer-state snapshots for this; weir has none yet). An aborted
//! one keeps its stored entry (see [`reconcile`]). If that segment's `.txnindex` was lost
//! too, an earlier abort's rebuilt entry does not know the transaction was open and its
//! last stable offset may end [`Log::aborted_transactions`]' search before the kept
//! entry: only a transaction with no records left in the range is missed that way, and a
//! reader skips nothing of it.

use std::collections::HashMap;
use std::sync::Arc;

use crate::error::{LogError, ReadError};
use crate::index::txn::AbortedTxn;
use crate::log::Log;
use crate::segment::{Segment, read_lock, write_lock};
use crate::snapshot::LoadedSnapshot;
use bytes::Bytes;
use weir_records::{
    BatchHeader, ControlRecordError, ControlRecordType, RecordBatch, end_txn_marker,
};

/// A transaction written to this log and not yet ended by a marker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OngoingTxn {
    /// The transactional producer.
    pub producer_id: i64,
    /// The producer epoch of its latest batch.
    pub producer_epoch: i16,
    /// Offset of its first record here.
    pub first_offset: i64,
    /// Offset of the last record it wrote here so far.
    pub last_offset: i64,
}

/// The ongoing transactions of a log, by producer.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct TxnState {
    ongoing: HashMap<i64, OngoingTxn>,
}

/// What one batch does to the transaction state (computed before anything changes, so
/// a failed index write leaves the state as it was).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TxnStep {
    /// Nothing: not a transactional batch of a producer, or a marker with no data.
    None,
    /// Transactional data of `txn.producer_id`, starting or continuing `txn`.
    Data(OngoingTxn),
    /// A marker ending the producer's transaction; `Some` for an abort.
    End {
        producer_id: i64,
        aborted: Option<AbortedTxn>,
    },
}

impl TxnState {
    /// A state holding `ongoing` (a producer snapshot's).
    pub(crate) fn from_ongoing(ongoing: impl IntoIterator<Item = OngoingTxn>) -> TxnState {
        TxnState {
            ongoing: ongoing.into_iter().map(|t| (t.producer_id, t)).collect(),
        }
    }

    /// The step for the batch `h` written at `base..=last`; `marker` is the type of a
    /// control batch's record (`None` for a data batch or a control batch without one).
    pub(crate) fn step(
        &self,
        h: &BatchHeader,
        base: i64,
        last: i64,
        marker: Option<ControlRecordType>,
    ) -> TxnStep {
        let pid = h.producer_id;
        if pid < 0 {
            return TxnStep::None;
        }
        let ongoing = self.ongoing.get(&pid);
        if h.is_control() {
            let Some(kind) = marker.filter(|k| k.ends_transaction()) else {
                return TxnStep::None;
            };
            let Some(txn) = ongoing else {
                return TxnStep::None;
            };
            let aborted = (kind == ControlRecordType::Abort).then(|| AbortedTxn {
                producer_id: pid,
                first_offset: txn.first_offset,
                last_offset: base,
                last_stable_offset: self.last_stable_after(pid, base),
            });
            return TxnStep::End {
                producer_id: pid,
                aborted,
            };
        }
        if !h.is_transactional() {
            return TxnStep::None;
        }
        TxnStep::Data(OngoingTxn {
            producer_id: pid,
            producer_epoch: h.producer_epoch,
            first_offset: ongoing.map_or(base, |t| t.first_offset),
            last_offset: last,
        })
    }

    /// Kafka's `lastStableOffset(completedTxn)`: the first offset of the earliest
    /// transaction of another producer still ongoing, else the marker's offset + 1.
    fn last_stable_after(&self, producer_id: i64, marker_offset: i64) -> i64 {
        self.ongoing
            .values()
            .filter(|t| t.producer_id != producer_id)
            .map(|t| t.first_offset)
            .min()
            .unwrap_or(marker_offset.saturating_add(1))
    }

    pub(crate) fn apply(&mut self, step: TxnStep) {
        match step {
            TxnStep::None => {}
            TxnStep::Data(txn) => {
                self.ongoing.insert(txn.producer_id, txn);
            }
            TxnStep::End { producer_id, .. } => {
                self.ongoing.remove(&producer_id);
            }
        }
    }

    pub(crate) fn first_unstable_offset(&self) -> Option<i64> {
        self.ongoing.values().map(|t| t.first_offset).min()
    }

    pub(crate) fn ongoing(&self) -> Vec<OngoingTxn> {
        let mut v: Vec<OngoingTxn> = self.ongoing.values().copied().collect();
        v.sort_by_key(|t| (t.first_offset, t.producer_id));
        v
    }
}

/// The marker type of the control batch `bytes` (header `h`), or `None` for a data batch,
/// a batch of no producer, or an emptied control batch. A record that does not read as a
/// commit or abort marker is an error.
pub(crate) fn marker_of(
    h: &BatchHeader,
    bytes: impl FnOnce() -> Bytes,
) -> Result<Option<ControlRecordType>, ControlRecordError> {
    if !h.is_control() || h.producer_id < 0 || h.record_count == 0 {
        return Ok(None);
    }
    let batch =
        RecordBatch::parse_exact(bytes()).map_err(|e| ControlRecordError::Records(e.into()))?;
    end_txn_marker(&batch).map(|m| Some(m.kind))
}

/// An abort marker met by a walk: where it is, and the entry the walk computed for it
/// (`None` when it saw none of the transaction's data).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AbortSeen {
    pub(crate) producer_id: i64,
    pub(crate) offset: i64,
    pub(crate) computed: Option<AbortedTxn>,
}

/// Applies one valid batch to `state` as an append would, noting an abort marker.
pub(crate) fn observe(
    state: &mut TxnState,
    h: &BatchHeader,
    marker: Option<ControlRecordType>,
    aborts: &mut Vec<AbortSeen>,
) {
    let last = h.base_offset.saturating_add(i64::from(h.last_offset_delta));
    let step = state.step(h, h.base_offset, last, marker);
    if marker == Some(ControlRecordType::Abort) && h.producer_id >= 0 {
        let computed = match step {
            TxnStep::End { aborted, .. } => aborted,
            _ => None,
        };
        aborts.push(AbortSeen {
            producer_id: h.producer_id,
            offset: h.base_offset,
            computed,
        });
    }
    state.apply(step);
}

/// The entries a segment's `.txnindex` must hold, given the aborts a walk met in it and
/// the entries `stored` in its file. The walk starts at `start`, the first segment's
/// base: a transaction whose first records (or whose last stable offset) lie below it was
/// in segments deleted since (retention, DeleteRecords), so the walk cannot compute its
/// entry, and the stored one is kept if it names this marker. Otherwise an entry is the
/// one the walk computed.
pub(crate) fn reconcile(stored: &[AbortedTxn], seen: &[AbortSeen], start: i64) -> Vec<AbortedTxn> {
    seen.iter()
        .filter_map(|a| {
            let kept = stored.iter().find(|s| {
                s.producer_id == a.producer_id
                    && s.last_offset == a.offset
                    && (0..=a.offset).contains(&s.first_offset)
                    && s.last_stable_offset >= 0
                    && (s.first_offset < start || s.last_stable_offset < start)
            });
            kept.copied().or(a.computed)
        })
        .collect()
}

/// What a walk of a log's batches says about transactions: the state at its end and
/// the abort markers of each segment.
#[derive(Debug, Default)]
pub(crate) struct TxnWalk {
    pub(crate) state: TxnState,
    pub(crate) aborts: Vec<Vec<AbortSeen>>,
}

/// Walks every committed batch header of `segs` in order (reading a control batch's one
/// record), as appends would have updated the state, starting from `state` and from the
/// batch at offset `from` (earlier batches are passed over). A control record that does
/// not read is logged and ends nothing (appends never write one).
pub(crate) fn walk(
    segs: &[Arc<Segment>],
    state: TxnState,
    from: i64,
) -> Result<TxnWalk, ReadError> {
    let mut out = TxnWalk {
        state,
        aborts: Vec::new(),
    };
    for seg in segs {
        let size = seg.size();
        let view = seg.view(size)?;
        let mut aborts = Vec::new();
        // From a snapshot's offset: straight to its batch, through the offset index.
        let mut pos = if from > seg.base_offset {
            match seg.locate(&view, from, size) {
                Ok(found) => found.map_or(size, |(p, _, _)| p),
                Err(_) => 0,
            }
        } else {
            0
        };
        while pos < size {
            let (h, total) = match seg.header_at(&view, pos, size) {
                Ok(found) => found,
                Err(e) => {
                    // A damaged closed segment is kept (its reads fail); the walk goes on
                    // with the next segment.
                    tracing::error!(path = %seg.log_path.display(), position = pos, error = %e, "transactions not read past damage");
                    break;
                }
            };
            if h.base_offset < from {
                pos += total;
                continue;
            }
            let bytes = || view.slice(pos as usize..(pos + total) as usize);
            let marker = marker_of(&h, bytes).unwrap_or_else(|e| {
                tracing::warn!(path = %seg.log_path.display(), position = pos, error = %e, "control batch does not read; it ends no transaction");
                None
            });
            observe(&mut out.state, &h, marker, &mut aborts);
            pos += total;
        }
        out.aborts.push(aborts);
    }
    Ok(out)
}

/// The most `.txnindex` entries a segment of `size` bytes can need: one per abort marker,
/// and a marker batch is at least this many bytes (a 61-byte header and one record).
const MARKER_BATCH_BYTES_MIN: u64 = 70;

impl Log {
    /// Walks every batch header and makes every segment's `.txnindex` (file and memory)
    /// hold the entries the walk computes, reconciled with those stored (a file that is
    /// missing, ragged, of an unknown version or different is rewritten atomically, or
    /// removed when empty). Returns the ongoing transactions the walk ends with. The
    /// caller keeps appends out (open, or the writer lock).
    ///
    /// With a producer snapshot (open), the walk starts at its offset from the ongoing
    /// transactions it records: the segments wholly below it keep their stored files as
    /// they are (Kafka trusts them too), and in the segment holding the offset the stored
    /// entries of markers below it are kept. A stored file below the snapshot that does not
    /// read makes it a full walk.
    pub(crate) fn reindex_txns(&self, snap: Option<&LoadedSnapshot>) -> Result<TxnState, LogError> {
        let segs: Vec<Arc<Segment>> = read_lock(&self.segments).clone();
        if let Some(snap) = snap {
            match self.reindex_from(&segs, snap)? {
                Some(state) => return Ok(state),
                None => {
                    tracing::warn!(dir = %self.dir.display(), offset = snap.offset, "a transaction index below the producer snapshot does not read; walking the whole log");
                }
            }
        }
        self.reindex_segments(&segs, &segs, TxnState::default(), i64::MIN, &[])
    }

    /// [`Log::reindex_txns`] from a snapshot; `None` when a stored file below it does not read.
    fn reindex_from(
        &self,
        segs: &[Arc<Segment>],
        snap: &LoadedSnapshot,
    ) -> Result<Option<TxnState>, LogError> {
        // The first segment not wholly below the snapshot (its last offset at or above it).
        let k = segs
            .iter()
            .position(|s| s.next_offset() > snap.offset)
            .unwrap_or(segs.len().saturating_sub(1));
        let mut kept_partial = Vec::new();
        for (i, seg) in segs[..=k.min(segs.len().saturating_sub(1))]
            .iter()
            .enumerate()
        {
            let mut txn = write_lock(&seg.txn);
            let path = txn.path().to_path_buf();
            let max =
                usize::try_from(seg.size() / MARKER_BATCH_BYTES_MIN + 1).unwrap_or(usize::MAX);
            let stored = match txn
                .read_stored(&*self.fs, max)
                .map_err(|e| LogError::io("read", &path, e))?
            {
                None => Vec::new(),
                Some(Ok(found)) => found,
                Some(Err(_)) => return Ok(None),
            };
            if i < k {
                txn.reset(&*self.fs, stored)
                    .map_err(|e| LogError::io("rewrite", &path, e))?;
            } else {
                kept_partial = stored
                    .into_iter()
                    .filter(|e| e.last_offset < snap.offset)
                    .collect();
            }
        }
        let state = self.reindex_segments(
            segs,
            &segs[k..],
            snap.txn_state(),
            snap.offset,
            &kept_partial,
        )?;
        Ok(Some(state))
    }

    /// Walks `walked` (the tail of `all`) from `state` and offset `from`, and makes each of
    /// their `.txnindex` files hold what the walk says, after `kept_first` (entries of the
    /// first walked segment below `from`, kept as they are).
    fn reindex_segments(
        &self,
        all: &[Arc<Segment>],
        walked: &[Arc<Segment>],
        state: TxnState,
        from: i64,
        kept_first: &[AbortedTxn],
    ) -> Result<TxnState, LogError> {
        let walk = walk(walked, state, from).map_err(|e| {
            LogError::io(
                "read transactions of",
                &self.dir,
                std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()),
            )
        })?;
        let start = all.first().map_or(0, |s| s.base_offset);
        let mut rewritten = false;
        for (i, (seg, aborts)) in walked.iter().zip(walk.aborts).enumerate() {
            let mut txn = write_lock(&seg.txn);
            let path = txn.path().to_path_buf();
            let io = |e| LogError::io("rewrite", &path, e);
            let kept: &[AbortedTxn] = if i == 0 { kept_first } else { &[] };
            let stored = match txn
                .read_stored(&*self.fs, aborts.len() + kept.len())
                .map_err(io)?
            {
                Some(Ok(found)) => found,
                _ => Vec::new(),
            };
            // What memory holds counts as stored too (entries of deleted data).
            let mut known = txn.entries().to_vec();
            known.extend(stored);
            let mut entries = kept.to_vec();
            entries.extend(reconcile(&known, &aborts, start));
            rewritten |= txn
                .reset(&*self.fs, entries)
                .map_err(|e| LogError::io("rewrite", &path, e))?;
        }
        if rewritten {
            self.dir_dirty
                .store(true, std::sync::atomic::Ordering::Release);
        }
        Ok(walk.state)
    }

    /// The first offset of the earliest ongoing transaction (Kafka's first unstable
    /// offset), raised to the log start when its first records were deleted (as Kafka's
    /// `maybeIncrementFirstUnstableOffset` does); `None` when no transaction is ongoing.
    /// The last stable offset is this, or the high watermark when lower or `None`.
    pub fn first_unstable_offset(&self) -> Option<i64> {
        let first = read_lock(&self.txns).first_unstable_offset()?;
        Some(first.max(self.log_start()))
    }

    /// The ongoing transactions, sorted by first offset.
    pub fn ongoing_transactions(&self) -> Vec<OngoingTxn> {
        read_lock(&self.txns).ongoing()
    }

    /// Every aborted transaction overlapping `[from_offset, upto_offset)` (last offset ≥
    /// `from_offset`, first offset < `upto_offset`), in marker order: Kafka's
    /// `collectAbortedTransactions`, which reads the transaction index of the segment
    /// holding `from_offset` and of each later one until an entry's last stable offset
    /// reaches `upto_offset` (no transaction ongoing then started before it, so no later
    /// entry overlaps).
    pub fn aborted_transactions(
        &self,
        from_offset: i64,
        upto_offset: i64,
    ) -> Result<Vec<AbortedTxn>, ReadError> {
        let segs = read_lock(&self.segments);
        let start = segs
            .partition_point(|s| s.base_offset <= from_offset)
            .saturating_sub(1);
        let mut out = Vec::new();
        for seg in &segs[start..] {
            let idx = read_lock(&seg.txn);
            for e in idx.entries() {
                if e.overlaps(from_offset, upto_offset) {
                    out.push(*e);
                }
                if e.last_stable_offset >= upto_offset {
                    return Ok(out);
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(pid: i64, transactional: bool, control: bool) -> BatchHeader {
        let mut b = weir_records::BatchBuilder::new(weir_records::BatchSettings {
            producer_id: pid,
            producer_epoch: 1,
            transactional,
            control,
            ..Default::default()
        });
        b.push(weir_records::NewRecord::default()).unwrap();
        *RecordBatch::parse_exact(b.build().unwrap())
            .unwrap()
            .header()
    }

    #[test]
    fn last_stable_offset_is_the_earliest_other_ongoing_transaction() {
        let mut st = TxnState::default();
        for (pid, at) in [(1, 0), (2, 5), (3, 7)] {
            let s = st.step(&header(pid, true, false), at, at, None);
            st.apply(s);
        }
        let abort = Some(ControlRecordType::Abort);
        let s = st.step(&header(2, true, true), 9, 9, abort);
        assert_eq!(
            s,
            TxnStep::End {
                producer_id: 2,
                aborted: Some(AbortedTxn {
                    producer_id: 2,
                    first_offset: 5,
                    last_offset: 9,
                    last_stable_offset: 0,
                })
            }
        );
        st.apply(s);
        let s = st.step(
            &header(1, true, true),
            10,
            10,
            Some(ControlRecordType::Commit),
        );
        st.apply(s);
        assert_eq!(st.first_unstable_offset(), Some(7));
        let s = st.step(&header(3, true, true), 11, 11, abort);
        let TxnStep::End {
            aborted: Some(a), ..
        } = s
        else {
            panic!("{s:?}")
        };
        assert_eq!(a.last_stable_offset, 12);
        st.apply(s);
        assert_eq!(st.first_unstable_offset(), None);
        // A marker with no data: no entry.
        assert_eq!(
            st.step(&header(3, true, true), 12, 12, abort),
            TxnStep::None
        );
        // Non-transactional batches of a producer change nothing.
        assert_eq!(
            st.step(&header(4, false, false), 13, 13, None),
            TxnStep::None
        );
    }
}
