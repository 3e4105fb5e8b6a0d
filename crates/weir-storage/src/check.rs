//! Properties of recovery and index loading over arbitrary file contents, shared by
//! the fuzz targets (`fuzz/fuzz_targets/segment_recovery.rs`, `index_load.rs`) and
//! their corpus replays (`tests/fuzz_corpus.rs`). Each returns `Err` with a
//! description when the property is violated; it never panics on any input.
//!
//! - [`segment_recovery`]: a `.log` file of arbitrary bytes (with optional arbitrary
//!   `.index`/`.timeindex` and optionally the clean-shutdown marker) opens or fails
//!   with a typed error; what opens is a valid prefix of the file (every batch
//!   CRC-valid, offsets contiguous from 0), the longest such prefix when recovery
//!   rescans, and it reopens to the same log, before and after an append.
//! - [`index_load`]: a valid multi-segment log whose index files are replaced by
//!   arbitrary bytes opens, and answers every offset and timestamp lookup exactly as
//!   it did with its own indexes.
//! - [`txn_index_load`]: a multi-segment log of transactions (a script from the input)
//!   whose `.txnindex` of one segment is replaced by arbitrary bytes (or deleted) opens,
//!   answers the ongoing transactions, first unstable offset and aborted transactions as
//!   it did, leaves every `.txnindex` holding exactly the entries it had (the batches'),
//!   and takes a further abort into the index.

use std::path::Path;
use std::sync::Arc;

use crate::checkpoint::CLEAN_SHUTDOWN_FILE;
use crate::config::LogConfig;
use crate::io::RealFs;
use crate::log::{AppendOptions, Log};
use crate::read::TimestampOffset;
use crate::segment::segment_path;
use weir_records::validate as validate_batch;

/// Small sizes so that inputs of a few KiB reach index entries, full indexes and rolls.
fn fuzz_config() -> LogConfig {
    LogConfig {
        segment_bytes: 4096,
        segment_index_bytes: 240,
        index_interval_bytes: 100,
        ..LogConfig::default()
    }
}

/// The parts of a [`segment_recovery`] input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecoveryInput<'a> {
    /// Whether the clean-shutdown marker is present (segments are trusted).
    pub clean: bool,
    /// Bytes of `00000000000000000000.index`, if present.
    pub index: Option<&'a [u8]>,
    /// Bytes of `00000000000000000000.timeindex`, if present.
    pub timeindex: Option<&'a [u8]>,
    /// Bytes of `00000000000000000000.log`.
    pub log: &'a [u8],
}

fn take_sized<'a>(data: &mut &'a [u8]) -> &'a [u8] {
    let (len, rest) = match data {
        [a, b, rest @ ..] => (usize::from(u16::from_be_bytes([*a, *b])), rest),
        _ => (0, &data[data.len()..]),
    };
    let n = len.min(rest.len());
    let (head, tail) = rest.split_at(n);
    *data = tail;
    head
}

impl<'a> RecoveryInput<'a> {
    /// Splits fuzz bytes: a flags byte (bit 0 clean marker, bit 1 index present, bit 2
    /// time index present), then per present index a big-endian u16 length and that
    /// many bytes, then the log bytes.
    pub fn parse(data: &'a [u8]) -> Self {
        let Some((&flags, mut rest)) = data.split_first() else {
            return RecoveryInput {
                clean: false,
                index: None,
                timeindex: None,
                log: &[],
            };
        };
        let index = (flags & 2 != 0).then(|| take_sized(&mut rest));
        let timeindex = (flags & 4 != 0).then(|| take_sized(&mut rest));
        RecoveryInput {
            clean: flags & 1 != 0,
            index,
            timeindex,
            log: rest,
        }
    }

    /// The inverse of [`RecoveryInput::parse`] (index parts cut to 65535 bytes).
    pub fn encode(&self) -> Vec<u8> {
        let flags = u8::from(self.clean)
            | (u8::from(self.index.is_some()) << 1)
            | (u8::from(self.timeindex.is_some()) << 2);
        let mut out = vec![flags];
        for part in [self.index, self.timeindex].into_iter().flatten() {
            let n = part.len().min(usize::from(u16::MAX));
            out.extend_from_slice(&(n as u16).to_be_bytes());
            out.extend_from_slice(&part[..n]);
        }
        out.extend_from_slice(self.log);
        out
    }
}

/// Length of the longest prefix of `log` that is a chain of valid batches with
/// contiguous offsets from 0 (the recovery rules of `docs/format.md`), computed
/// independently of the engine.
pub fn valid_prefix_len(log: &[u8]) -> usize {
    let mut pos = 0usize;
    let mut next = 0i64;
    while pos < log.len() {
        let rest = &log[pos..];
        let Ok(h) = weir_records::BatchHeader::parse(rest) else {
            break;
        };
        let Some(total) = h.frame_bytes().filter(|&t| t <= rest.len()) else {
            break;
        };
        if h.base_offset != next || validate_batch(&rest[..total], None).is_err() {
            break;
        }
        let Some(n) = h.last_offset().and_then(|l| l.checked_add(1)) else {
            break;
        };
        next = n;
        pos += total;
    }
    pos
}

/// What [`segment_recovery`] observed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecoveryOutcome {
    /// Whether the log opened (else it failed with a typed error).
    pub opened: bool,
    /// Bytes kept of the input `.log`.
    pub kept_bytes: u64,
    /// Log end offset after recovery.
    pub log_end: i64,
}

/// Reads every batch from the log start to the log end, checking each is whole,
/// CRC-valid and contiguous; returns their concatenation. A typed corrupt error is
/// acceptable (never served), but only at or after `trusted_until` bytes would not be.
fn read_all(log: &Log) -> Result<Result<Vec<u8>, String>, String> {
    let mut out = Vec::new();
    let mut at = log.log_start();
    let end = log.log_end();
    let mut rounds = 0u32;
    while at < end {
        rounds += 1;
        if rounds > 100_000 {
            return Err(format!("read loop does not advance at offset {at}"));
        }
        let r = match log.read(at, 1 << 20, i64::MAX) {
            Ok(r) => r,
            Err(crate::error::ReadError::Corrupt { .. }) => {
                return Ok(Err(format!("corrupt at offset {at}")));
            }
            Err(e) => return Err(format!("read at {at} failed: {e}")),
        };
        if r.next_offset <= at {
            return Err(format!(
                "read at {at} returned next offset {}",
                r.next_offset
            ));
        }
        let mut b: &[u8] = &r.batches;
        let mut expected = r.first_offset;
        while !b.is_empty() {
            let h = weir_records::BatchHeader::parse(b)
                .map_err(|e| format!("served a bad header at {at}: {e}"))?;
            let total = h
                .frame_bytes()
                .filter(|&t| t <= b.len())
                .ok_or_else(|| format!("served a partial batch at {at}"))?;
            validate_batch(&b[..total], None)
                .map_err(|e| format!("served an invalid batch at {at}: {e}"))?;
            if h.base_offset != expected {
                return Err(format!(
                    "served base offset {} where {expected} was due",
                    h.base_offset
                ));
            }
            expected = h.last_offset().map_or(i64::MAX, |l| l.saturating_add(1));
            out.extend_from_slice(&b[..total]);
            b = &b[total..];
        }
        if expected != r.next_offset {
            return Err(format!(
                "batches end at {expected}, next offset says {}",
                r.next_offset
            ));
        }
        at = r.next_offset;
    }
    Ok(Ok(out))
}

fn clear_dir(dir: &Path) -> Result<(), String> {
    match std::fs::remove_dir_all(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(format!("cannot clear {}: {e}", dir.display())),
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), String> {
    std::fs::write(path, bytes).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// The recovery property on arbitrary file contents (see the module docs). `dir` is
/// a scratch directory, emptied first.
pub fn segment_recovery(dir: &Path, data: &[u8]) -> Result<RecoveryOutcome, String> {
    let input = RecoveryInput::parse(data);
    clear_dir(dir)?;
    write(&segment_path(dir, 0, "log"), input.log)?;
    if let Some(b) = input.index {
        write(&segment_path(dir, 0, "index"), b)?;
    }
    if let Some(b) = input.timeindex {
        write(&segment_path(dir, 0, "timeindex"), b)?;
    }
    if input.clean {
        write(&dir.join(CLEAN_SHUTDOWN_FILE), &[])?;
    }
    let config = fuzz_config();
    let log = match Log::open(dir, config, Arc::new(RealFs)) {
        Ok(log) => log,
        // A typed error is an acceptable outcome for arbitrary bytes.
        Err(_) => return Ok(RecoveryOutcome::default()),
    };
    let prefix = valid_prefix_len(input.log);
    let first = read_all(&log)?;
    let kept = log.size_bytes();
    if input.clean {
        // Trusted: the file is kept (a closed segment's damage is only detected when
        // read) or cut back to a valid prefix; whatever is served is valid (read_all).
        if kept != input.log.len() as u64 && kept != prefix as u64 {
            return Err(format!(
                "clean open kept {kept} bytes: neither the file ({}) nor its valid prefix ({prefix})",
                input.log.len()
            ));
        }
    } else if kept != prefix as u64 {
        return Err(format!(
            "recovery kept {kept} bytes, the longest valid prefix is {prefix}"
        ));
    }
    if let Ok(served) = &first
        && (served.len() as u64 != kept || input.log.get(..served.len()) != Some(&served[..]))
    {
        return Err(format!(
            "served {} bytes that are not the kept prefix of {kept} bytes",
            served.len()
        ));
    }
    let log_end = log.log_end();
    log.close()
        .map_err(|e| format!("close after recovery failed: {e}"))?;
    drop(log);
    // Reopening (clean) gives the same log.
    let again =
        Log::open(dir, config, Arc::new(RealFs)).map_err(|e| format!("reopen failed: {e}"))?;
    if again.log_end() != log_end || again.size_bytes() != kept {
        return Err(format!(
            "reopen changed the log: end {log_end} -> {}, bytes {kept} -> {}",
            again.log_end(),
            again.size_bytes()
        ));
    }
    let second = read_all(&again)?;
    if second != first {
        return Err("reopen serves different bytes".to_string());
    }
    // The recovered log takes appends at its end, and a crash (no close) keeps them.
    let batch = crate::testing::batch(3, 20, 1_700_000_000_000);
    if second.is_ok() {
        let info = again
            .append(&batch, AppendOptions::default())
            .map_err(|e| format!("append after recovery failed: {e}"))?;
        if info.base_offset != log_end {
            return Err(format!("append went to {} not {log_end}", info.base_offset));
        }
        again.sync().map_err(|e| format!("sync failed: {e}"))?;
        drop(again);
        let third = Log::open(dir, config, Arc::new(RealFs))
            .map_err(|e| format!("reopen after append failed: {e}"))?;
        if third.log_end() != log_end + 3 {
            return Err(format!("append lost over a crash: end {}", third.log_end()));
        }
        match read_all(&third)? {
            Ok(all)
                if all.len() == kept as usize + batch.len()
                    && all.starts_with(input.log.get(..kept as usize).unwrap_or(&[])) => {}
            _ => {
                return Err(
                    "log after append and crash is not the prefix plus the batch".to_string(),
                );
            }
        }
    }
    Ok(RecoveryOutcome {
        opened: true,
        kept_bytes: kept,
        log_end,
    })
}

/// The parts of an [`index_load`] input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexInput<'a> {
    /// Batches in the log (1..=40).
    pub batches: usize,
    /// Value bytes per record.
    pub value_bytes: usize,
    /// Which segment's indexes are replaced (modulo the segment count).
    pub segment: usize,
    /// Whether the log is opened without the clean-shutdown marker (then only the
    /// segments below the checkpointed recovery point are trusted).
    pub unclean: bool,
    /// Replacement `.index` bytes, if replaced.
    pub index: Option<&'a [u8]>,
    /// Replacement `.timeindex` bytes, if replaced.
    pub timeindex: Option<&'a [u8]>,
}

impl<'a> IndexInput<'a> {
    /// Splits fuzz bytes: flags (bit 0 unclean, bit 1 replace `.index`, bit 2 replace
    /// `.timeindex`), batch count, value size, segment choice, then per replaced index a
    /// big-endian u16 length and the bytes.
    pub fn parse(data: &'a [u8]) -> Self {
        let byte = |i: usize| data.get(i).copied().unwrap_or(0);
        let flags = byte(0);
        let mut rest = data.get(4..).unwrap_or(&[]);
        let index = (flags & 2 != 0).then(|| take_sized(&mut rest));
        let timeindex = (flags & 4 != 0).then(|| take_sized(&mut rest));
        IndexInput {
            batches: usize::from(byte(1)) % 40 + 1,
            value_bytes: usize::from(byte(2)) * 2,
            segment: usize::from(byte(3)),
            unclean: flags & 1 != 0,
            index,
            timeindex,
        }
    }

    /// The inverse of [`IndexInput::parse`].
    pub fn encode(&self) -> Vec<u8> {
        let flags = u8::from(self.unclean)
            | (u8::from(self.index.is_some()) << 1)
            | (u8::from(self.timeindex.is_some()) << 2);
        let mut out = vec![
            flags,
            (self.batches.saturating_sub(1) % 40) as u8,
            (self.value_bytes / 2).min(255) as u8,
            self.segment as u8,
        ];
        for part in [self.index, self.timeindex].into_iter().flatten() {
            let n = part.len().min(usize::from(u16::MAX));
            out.extend_from_slice(&(n as u16).to_be_bytes());
            out.extend_from_slice(&part[..n]);
        }
        out
    }
}

/// Every lookup answer of a log: for each offset the bytes of the first batch a read
/// returns, and for each probed timestamp the lookup's answer.
type Answers = (Vec<(i64, Vec<u8>)>, Vec<Option<TimestampOffset>>);

fn answers(log: &Log, probes: &[i64]) -> Result<Answers, String> {
    let mut reads = Vec::new();
    for o in log.log_start()..log.log_end() {
        let r = log
            .read(o, 1, i64::MAX)
            .map_err(|e| format!("read at {o} failed: {e}"))?;
        reads.push((r.first_offset, r.batches.to_vec()));
    }
    let mut times = Vec::new();
    for &ts in probes {
        times.push(
            log.offset_for_timestamp(ts)
                .map_err(|e| format!("timestamp lookup {ts} failed: {e}"))?,
        );
    }
    Ok((reads, times))
}

/// The index-loading property (see the module docs). `dir` is a scratch directory,
/// emptied first.
pub fn index_load(dir: &Path, data: &[u8]) -> Result<usize, String> {
    let input = IndexInput::parse(data);
    clear_dir(dir)?;
    let config = fuzz_config();
    let log =
        Log::open(dir, config, Arc::new(RealFs)).map_err(|e| format!("create failed: {e}"))?;
    let mut probes = vec![i64::MIN, -1, 0];
    for i in 0..input.batches {
        // Timestamps go up and back down, so that max-timestamp tracking matters.
        let ts = 1_700_000_000_000 + ((i as i64 * 37) % 11) * 1000;
        let n = i % 4 + 1;
        let b = crate::testing::batch(n, input.value_bytes, ts);
        log.append(&b, AppendOptions::default())
            .map_err(|e| format!("append failed: {e}"))?;
        probes.extend([ts - 1, ts, ts + n as i64 - 1, ts + n as i64]);
    }
    probes.push(i64::MAX);
    let before = answers(&log, &probes)?;
    let bases = log.segment_base_offsets();
    let end = log.log_end();
    log.close().map_err(|e| format!("close failed: {e}"))?;
    drop(log);
    let base = bases[input.segment % bases.len()];
    if let Some(b) = input.index {
        write(&segment_path(dir, base, "index"), b)?;
    }
    if let Some(b) = input.timeindex {
        write(&segment_path(dir, base, "timeindex"), b)?;
    }
    if input.unclean {
        let marker = dir.join(CLEAN_SHUTDOWN_FILE);
        std::fs::remove_file(&marker).map_err(|e| format!("cannot remove the marker: {e}"))?;
    }
    let log = Log::open(dir, config, Arc::new(RealFs))
        .map_err(|e| format!("open over replaced indexes failed: {e}"))?;
    if log.log_end() != end || log.segment_base_offsets() != bases {
        return Err(format!(
            "replaced indexes changed the log: end {end} -> {}, segments {bases:?} -> {:?}",
            log.log_end(),
            log.segment_base_offsets()
        ));
    }
    let after = answers(&log, &probes)?;
    if after.0 != before.0 {
        return Err("a read answers differently over replaced indexes".to_string());
    }
    if after.1 != before.1 {
        return Err(format!(
            "a timestamp lookup answers differently over replaced indexes: {:?} vs {:?}",
            before.1, after.1
        ));
    }
    let report = log.verify().map_err(|e| format!("verify failed: {e}"))?;
    if !report.problems.is_empty() {
        return Err(format!("verify after open: {:?}", report.problems));
    }
    Ok(bases.len())
}

/// The parts of a [`txn_index_load`] input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnIndexInput<'a> {
    /// The appends, one byte each: bits 0..=1 the producer, bits 2..=3 what (0, 1:
    /// transactional data of `bits 4..=5 + 1` records; 2: commit; 3: abort), bit 6 a
    /// plain batch instead.
    pub script: &'a [u8],
    /// Which segment's `.txnindex` is replaced (modulo the segment count).
    pub segment: usize,
    /// `None`: the file is deleted; else its replacement bytes.
    pub replacement: Option<&'a [u8]>,
}

/// Appends a script may hold at most (keeps one run short).
pub const TXN_SCRIPT_OPS_MAX: usize = 96;

impl<'a> TxnIndexInput<'a> {
    /// Splits fuzz bytes: script length (modulo [`TXN_SCRIPT_OPS_MAX`] + 1), the script,
    /// the segment choice (bit 7: delete the file), then the replacement bytes.
    pub fn parse(data: &'a [u8]) -> Self {
        let n = usize::from(data.first().copied().unwrap_or(0)) % (TXN_SCRIPT_OPS_MAX + 1);
        let rest = data.get(1..).unwrap_or(&[]);
        let (script, rest) = rest.split_at(n.min(rest.len()));
        let choice = rest.first().copied().unwrap_or(0);
        TxnIndexInput {
            script,
            segment: usize::from(choice & 0x7f),
            replacement: (choice & 0x80 == 0).then(|| rest.get(1..).unwrap_or(&[])),
        }
    }

    /// The inverse of [`TxnIndexInput::parse`].
    pub fn encode(&self) -> Vec<u8> {
        let n = self.script.len().min(TXN_SCRIPT_OPS_MAX);
        let mut out = vec![n as u8];
        out.extend_from_slice(&self.script[..n]);
        let delete = if self.replacement.is_none() { 0x80 } else { 0 };
        out.push((self.segment as u8 & 0x7f) | delete);
        out.extend_from_slice(self.replacement.unwrap_or(&[]));
        out
    }
}

/// What a log answers about transactions.
type TxnAnswers = (
    Option<i64>,
    Vec<crate::txn::OngoingTxn>,
    Vec<Vec<crate::index::txn::AbortedTxn>>,
);

fn txn_answers(log: &Log) -> Result<TxnAnswers, String> {
    let end = log.log_end();
    let mut aborted = Vec::new();
    for from in (0..=end).step_by(5) {
        for upto in [from, from + 1, from + 7, end, i64::MAX] {
            aborted.push(
                log.aborted_transactions(from, upto)
                    .map_err(|e| format!("aborted transactions failed: {e}"))?,
            );
        }
    }
    Ok((
        log.first_unstable_offset(),
        log.ongoing_transactions(),
        aborted,
    ))
}

fn txn_files(dir: &Path, bases: &[i64]) -> Result<Vec<Option<Vec<u8>>>, String> {
    bases
        .iter()
        .map(|&b| match std::fs::read(segment_path(dir, b, "txnindex")) {
            // An empty file and no file say the same (the log creates one lazily).
            Ok(bytes) if bytes.is_empty() => Ok(None),
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!("cannot read a txnindex: {e}")),
        })
        .collect()
}

/// The transaction-index property (see the module docs). `dir` is a scratch directory,
/// emptied first. Returns the number of aborted transactions in the log.
pub fn txn_index_load(dir: &Path, data: &[u8]) -> Result<usize, String> {
    let input = TxnIndexInput::parse(data);
    clear_dir(dir)?;
    let config = LogConfig {
        segment_bytes: 600,
        ..fuzz_config()
    };
    let log =
        Log::open(dir, config, Arc::new(RealFs)).map_err(|e| format!("create failed: {e}"))?;
    let append = |log: &Log, b: &[u8]| {
        log.append(b, AppendOptions::default())
            .map_err(|e| format!("append failed: {e}"))
    };
    for (i, &op) in input.script.iter().enumerate() {
        let pid = i64::from(op & 3);
        let ts = 1_700_000_000_000 + i as i64;
        let b = match (op & 0x40 != 0, (op >> 2) & 3) {
            (true, _) => crate::testing::batch(1, 20, ts),
            (false, 0 | 1) => crate::testing::txn_batch(pid, 0, usize::from((op >> 4) & 3) + 1, ts),
            (false, kind) => crate::testing::marker_batch(pid, 0, kind == 2, ts),
        };
        append(&log, &b)?;
    }
    let before = txn_answers(&log)?;
    let bases = log.segment_base_offsets();
    log.close().map_err(|e| format!("close failed: {e}"))?;
    drop(log);
    let files = txn_files(dir, &bases)?;
    let target = segment_path(dir, bases[input.segment % bases.len()], "txnindex");
    match input.replacement {
        Some(bytes) => write(&target, bytes)?,
        None => match std::fs::remove_file(&target) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(format!("cannot remove the txnindex: {e}"));
            }
            _ => {}
        },
    }
    let log = Log::open(dir, config, Arc::new(RealFs))
        .map_err(|e| format!("open over a replaced txnindex failed: {e}"))?;
    if txn_answers(&log)? != before {
        return Err("transactions answer differently over a replaced txnindex".to_string());
    }
    let rebuilt = txn_files(dir, &bases)?;
    if rebuilt != files {
        return Err(format!(
            "the txnindex files were not made what the batches say: {files:?} -> {rebuilt:?}"
        ));
    }
    let report = log.verify().map_err(|e| format!("verify failed: {e}"))?;
    if !report.problems.is_empty() {
        return Err(format!("verify after open: {:?}", report.problems));
    }
    // A further abort lands in the (reset) index of the active segment.
    let aborted = before.2.iter().map(Vec::len).max().unwrap_or(0);
    let started = append(&log, &crate::testing::txn_batch(9, 0, 1, 1))?;
    let marker = append(&log, &crate::testing::marker_batch(9, 0, false, 1))?;
    let got = log
        .aborted_transactions(started.base_offset, i64::MAX)
        .map_err(|e| format!("aborted transactions failed: {e}"))?;
    if !got.iter().any(|a| {
        a.producer_id == 9
            && a.first_offset == started.base_offset
            && a.last_offset == marker.base_offset
    }) {
        return Err(format!("the new abort is not indexed: {got:?}"));
    }
    log.close().map_err(|e| format!("close failed: {e}"))?;
    drop(log);
    let found = crate::inspect::inspect_dir(dir).map_err(|e| format!("inspect failed: {e}"))?;
    if !found.problems.is_empty() {
        return Err(format!("inspection after the abort: {:?}", found.problems));
    }
    Ok(aborted)
}
