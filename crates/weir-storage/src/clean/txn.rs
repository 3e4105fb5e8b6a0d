//! Transactional data in compaction (Kafka's `CleanedTransactionMetadata`). Everything
//! the cleaner reads lies below the first unstable offset, so every transaction there
//! has ended; the aborted ones are the `.txnindex` entries of the log.
//!
//! - Pass 1 maps the records of committed transactions like any others, and never those
//!   of aborted ones.
//! - Pass 2 removes every record of an aborted transaction whose marker is below the end
//!   of the clean (the batch is kept empty only as its producer's last data batch) —
//!   one whose marker lies past it keeps all of its records until a later clean reaches
//!   the marker (Kafka removes the part it reaches) —, deduplicates committed ones like
//!   any others,
//!   and decides each marker: it is needed while a batch of its transaction was read in
//!   this pass (which runs from the start of the log, so that is "while any data of the
//!   transaction remains"). A marker no longer needed first gets a delete horizon
//!   (`now + delete_retention_ms`, KIP-534's attribute bit 6, as Kafka piggybacks markers
//!   on the tombstone rule), and is removed by the first clean after it — kept empty if
//!   it is the last batch of a producer with no data batch left, so its epoch stays known.
//!
//! A transaction's records are therefore never half-removed: an aborted one loses all of
//! its records in one pass, and a committed one's marker outlives its last record.

use std::collections::{HashMap, HashSet};

use bytes::{Bytes, BytesMut};
use weir_records::raw::RawRecords;
use weir_records::{BatchHeader, Compression, ControlRecordType, compress, decompress_slice};

use crate::index::txn::AbortedTxn;

/// The transactions seen by one clean.
#[derive(Debug, Default)]
pub(crate) struct CleanTxns {
    /// Aborted ranges `(first, last)` by producer.
    aborted: HashMap<i64, Vec<(i64, i64)>>,
    /// The end of the clean: an aborted transaction whose marker is at or past it keeps
    /// its records.
    end: i64,
    /// Producers with a batch of a committed transaction read since its marker.
    committed_read: HashSet<i64>,
    /// Producers with a batch of an aborted transaction read since its marker.
    aborted_read: HashSet<i64>,
}

/// What pass 2 does with a marker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MarkerFate {
    /// Still needed (or not a marker the cleaner understands): kept as it is.
    Keep,
    /// No longer needed and without a delete horizon: rewritten with this one.
    Stamp(i64),
    /// No longer needed, its horizon `.0` not reached: kept as it is.
    Wait(i64),
    /// No longer needed and its horizon passed: removed.
    Remove,
}

impl CleanTxns {
    pub(crate) fn new(entries: impl IntoIterator<Item = AbortedTxn>, end: i64) -> CleanTxns {
        let mut aborted: HashMap<i64, Vec<(i64, i64)>> = HashMap::new();
        for e in entries {
            aborted
                .entry(e.producer_id)
                .or_default()
                .push((e.first_offset, e.last_offset));
        }
        CleanTxns {
            aborted,
            end,
            ..CleanTxns::default()
        }
    }

    /// The marker offset of the aborted transaction the batch `h` belongs to, if any.
    fn abort_of(&self, h: &BatchHeader) -> Option<i64> {
        if !h.is_transactional() || h.is_control() {
            return None;
        }
        let ranges = self.aborted.get(&h.producer_id)?;
        ranges
            .iter()
            .find(|&&(first, last)| first <= h.base_offset && h.base_offset <= last)
            .map(|&(_, last)| last)
    }

    /// Whether the transactional batch `h` belongs to an aborted transaction (pass 1
    /// never maps its records).
    pub(crate) fn is_aborted(&self, h: &BatchHeader) -> bool {
        self.abort_of(h).is_some()
    }

    /// Pass 2 reads the data batch `h`: returns whether its records are to be removed
    /// (aborted, and its marker below the end of the clean).
    pub(crate) fn on_data(&mut self, h: &BatchHeader) -> bool {
        if !h.is_transactional() || h.producer_id < 0 {
            return false;
        }
        match self.abort_of(h) {
            Some(marker) => {
                self.aborted_read.insert(h.producer_id);
                marker < self.end
            }
            None => {
                self.committed_read.insert(h.producer_id);
                false
            }
        }
    }

    /// Pass 2 reads the control batch `h` whose record is `kind` (`None`: emptied by an
    /// earlier clean; `Some(Unknown)`: not a marker, never removed).
    pub(crate) fn on_marker(
        &mut self,
        h: &BatchHeader,
        kind: Option<ControlRecordType>,
        now_ms: i64,
        delete_retention_ms: i64,
    ) -> MarkerFate {
        let needed = match kind {
            None => false,
            Some(ControlRecordType::Abort) => self.aborted_read.remove(&h.producer_id),
            Some(ControlRecordType::Commit) => self.committed_read.remove(&h.producer_id),
            Some(ControlRecordType::Unknown(_)) => true,
        };
        if needed {
            return MarkerFate::Keep;
        }
        match h
            .attributes
            .has_delete_horizon()
            .then_some(h.base_timestamp)
        {
            Some(horizon) if horizon <= now_ms => MarkerFate::Remove,
            Some(horizon) => MarkerFate::Wait(horizon),
            None => MarkerFate::Stamp(now_ms.saturating_add(delete_retention_ms)),
        }
    }
}

/// The control batch `bytes` (header `h`) with delete horizon `horizon`: attribute bit 6
/// set, `baseTimestamp = horizon`, each record's timestamp delta moved so its timestamp
/// is unchanged. `None` if the records do not read (the batch is then kept as it is).
pub(crate) fn stamp_horizon(h: &BatchHeader, bytes: &[u8], horizon: i64) -> Option<Vec<u8>> {
    let codec = h.attributes.compression().ok()?;
    let raw = bytes.get(weir_records::BATCH_HEADER_BYTES..)?;
    let section = match codec {
        Compression::None => raw.to_vec(),
        c => decompress_slice(c, raw, weir_records::CONTROL_BATCH_DECOMPRESSED_BYTES_MAX).ok()?,
    };
    let mut out = BytesMut::with_capacity(section.len() + 8);
    let mut count = 0usize;
    for r in RawRecords::new(&section) {
        let r = r.ok()?;
        let ts = h.base_timestamp.saturating_add(r.timestamp_delta);
        r.encode_with_timestamp_delta(&mut out, ts.saturating_sub(horizon));
        count += 1;
    }
    if i64::try_from(count).ok()? != i64::from(h.record_count) {
        return None;
    }
    let records = compress(codec, &out).ok()?;
    let frame = BatchHeader {
        attributes: h.attributes.with_delete_horizon(),
        base_timestamp: horizon,
        record_count: i32::try_from(count).ok()?,
        ..*h
    };
    weir_records::assemble_batch(&frame, &records)
        .ok()
        .map(|b| b.to_vec())
}

/// The marker type of the control batch `bytes`, for the cleaner: `None` when it holds no
/// record, `Unknown` when its record does not read as a marker.
pub(crate) fn marker_kind(h: &BatchHeader, bytes: &[u8]) -> Option<ControlRecordType> {
    if h.record_count == 0 {
        return None;
    }
    let kind = weir_records::RecordBatch::parse_exact(Bytes::copy_from_slice(bytes))
        .ok()
        .and_then(|b| weir_records::end_txn_marker(&b).ok())
        .map_or(ControlRecordType::Unknown(-1), |m| m.kind);
    Some(kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(bytes: &[u8]) -> BatchHeader {
        BatchHeader::parse(bytes).unwrap()
    }

    #[test]
    fn a_marker_waits_for_its_data_then_for_its_horizon() {
        let data = crate::testing::txn_batch(1, 0, 1, 10);
        let mut data_h = header(&data);
        data_h.base_offset = 5;
        let marker = crate::testing::marker_batch(1, 0, true, 20);
        let mut m = header(&marker);
        m.base_offset = 6;
        let mut t = CleanTxns::new([], i64::MAX);
        assert!(!t.on_data(&data_h), "committed");
        let commit = Some(ControlRecordType::Commit);
        assert_eq!(t.on_marker(&m, commit, 100, 50), MarkerFate::Keep);
        // The next pass read no data of it.
        assert_eq!(t.on_marker(&m, commit, 100, 50), MarkerFate::Stamp(150));
        let stamped = stamp_horizon(&m, &marker, 150).unwrap();
        let sh = weir_records::validate(&stamped, None).unwrap();
        assert!(sh.attributes.has_delete_horizon());
        assert_eq!(sh.base_timestamp, 150);
        assert_eq!(marker_kind(&sh, &stamped), commit);
        let batch = weir_records::RecordBatch::parse_exact(Bytes::from(stamped)).unwrap();
        let rec = batch.records(1 << 16).unwrap().next().unwrap().unwrap();
        assert_eq!(rec.timestamp, 20, "the record keeps its timestamp");
        assert_eq!(t.on_marker(&sh, commit, 149, 50), MarkerFate::Wait(150));
        assert_eq!(t.on_marker(&sh, commit, 150, 50), MarkerFate::Remove);
    }

    #[test]
    fn aborted_ranges_are_per_producer() {
        let entry = AbortedTxn {
            producer_id: 1,
            first_offset: 10,
            last_offset: 20,
            last_stable_offset: 21,
        };
        let mut t = CleanTxns::new([entry], 21);
        let data = crate::testing::txn_batch(1, 0, 1, 10);
        let mut h = header(&data);
        for (pid, at, aborted) in [(1, 10, true), (1, 19, true), (1, 21, false), (2, 15, false)] {
            h.producer_id = pid;
            h.base_offset = at;
            assert_eq!(t.is_aborted(&h), aborted, "{pid} at {at}");
        }
        h.producer_id = 1;
        h.base_offset = 12;
        assert!(t.on_data(&h), "removed: its marker is below the end");
        let mut short = CleanTxns::new([entry], 20);
        assert!(!short.on_data(&h), "kept whole: its marker is at the end");
        assert!(short.is_aborted(&h), "but never mapped");
        let plain = crate::testing::batch(1, 1, 1);
        let mut h = header(&plain);
        h.producer_id = 1;
        h.base_offset = 15;
        assert!(!t.is_aborted(&h), "not transactional");
    }
}
