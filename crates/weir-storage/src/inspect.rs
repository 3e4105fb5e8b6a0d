//! The one read-only inspector of a partition's files, behind both [`crate::Log::verify`]
//! (over an open log's committed bytes) and `weir log verify` (over a directory, with
//! nothing opened for writing; [`inspect_dir`]).
//!
//! For each segment, in base-offset order: every batch frames, passes the stored-batch
//! checks (magic, CRC-32C, `0 <= recordCount <= lastOffsetDelta + 1`, a known codec), and
//! has a base offset above the previous batch's last (a gap is records the cleaner
//! removed, allowed at or below `gaps_ok_below`); each segment starts at or after the
//! previous one's end; every offset-index entry points at the start of a valid batch and
//! names its last offset; every time-index entry names a valid batch's last offset and its
//! max timestamp; both indexes increase. After damage inside a segment, what follows it is
//! unknown, so neither the next segment's base nor index entries past the damage are
//! judged. An index that is missing is a note, not a problem (an index is a cache; the
//! engine rebuilds it on open). The `.txnindex` of each segment must hold exactly the
//! aborted transactions its markers end, as a walk of the batches from the first segment
//! computes them (the same state machine as appends, `txn.rs`); after damage the
//! transactions that follow are unknown and no later `.txnindex` is judged.

use std::fmt;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use weir_records::{BATCH_HEADER_BYTES, BATCH_LENGTH_MIN, BatchHeader, LOG_OVERHEAD_BYTES};

use crate::index::offset::OFFSET_ENTRY_BYTES;
use crate::index::time::TIME_ENTRY_BYTES;
use crate::index::txn::parse_entries;
use crate::io::StorageFile;
use crate::segment::{FILE_NAME_DIGITS, segment_path};
use crate::txn::{AbortSeen, TxnState, marker_of, observe, reconcile};
use bytes::Bytes;

/// What an inspection found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inspection {
    /// Segments inspected.
    pub segments: usize,
    /// Batches that passed every check.
    pub batches: u64,
    /// Records of those batches.
    pub records: u64,
    /// Bytes of those batches.
    pub bytes: u64,
    /// Base offset of the first segment.
    pub first_offset: Option<i64>,
    /// Offset after the last valid batch of the last segment.
    pub next_offset: Option<i64>,
    /// Offset-index entries checked.
    pub index_entries: u64,
    /// Time-index entries checked.
    pub time_index_entries: u64,
    /// Transaction-index entries checked.
    pub txn_index_entries: u64,
    /// Observations that are not damage (a missing index, no segment at all).
    pub notes: Vec<String>,
    /// Damage: at most one per file (the first).
    pub problems: Vec<Problem>,
}

/// One damaged file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file.
    pub file: PathBuf,
    /// Byte position in a segment file, if the problem has one.
    pub position: Option<u64>,
    /// What is wrong.
    pub error: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.position {
            Some(p) => write!(f, "{} at position {p}: {}", self.file.display(), self.error),
            None => write!(f, "{}: {}", self.file.display(), self.error),
        }
    }
}

/// Positional reads of a segment file: a plain read-only [`File`] or a log's
/// [`StorageFile`].
pub trait ReadAt {
    /// Fills `buf` from byte `pos`.
    fn read_exact_at(&self, buf: &mut [u8], pos: u64) -> io::Result<()>;
}

impl ReadAt for File {
    fn read_exact_at(&self, buf: &mut [u8], pos: u64) -> io::Result<()> {
        FileExt::read_exact_at(self, buf, pos)
    }
}

impl ReadAt for dyn StorageFile {
    fn read_exact_at(&self, buf: &mut [u8], pos: u64) -> io::Result<()> {
        StorageFile::read_exact_at(self, buf, pos)
    }
}

/// One segment's files, as the inspector reads them.
#[derive(Debug)]
pub struct SegmentFiles<'a, R: ReadAt + ?Sized> {
    /// The segment's base offset (from its file name).
    pub base: i64,
    /// The `.log` file's path (for the report; index paths are derived from it).
    pub log_path: &'a Path,
    /// The `.log` file.
    pub log: &'a R,
    /// Bytes of the `.log` file to inspect (an open log's committed size).
    pub log_len: u64,
    /// The `.index` file's bytes, `None` if it does not exist.
    pub index: Option<Vec<u8>>,
    /// The `.timeindex` file's bytes, `None` if it does not exist.
    pub time_index: Option<Vec<u8>>,
    /// The `.txnindex` file's bytes, `None` if it does not exist.
    pub txn_index: Option<Vec<u8>>,
    /// The offset after the segment, if the caller knows it (an open log does: a segment
    /// the cleaner emptied still covers its offsets); otherwise the last batch's end.
    pub next_offset: Option<i64>,
}

/// A valid batch of a segment, as the index checks need it.
#[derive(Debug, Clone, Copy)]
struct BatchAt {
    position: u64,
    last_offset: i64,
    max_timestamp: i64,
}

/// Inspects segments one after the other, carrying what each tells of the next.
#[derive(Debug)]
pub struct Inspector {
    report: Inspection,
    /// Offset the next segment may start at (`None` after damage: unknown).
    expected: Option<i64>,
    gaps_ok_below: i64,
    /// The transactions the batches so far leave ongoing; `None` after damage.
    txns: Option<TxnState>,
    /// The abort markers of the current segment.
    aborts: Vec<AbortSeen>,
    /// The first segment's base: the walk knows nothing of transactions before it.
    start: Option<i64>,
}

impl Inspector {
    /// A new inspection; gaps in the offsets are allowed at or below `gaps_ok_below`
    /// (`i64::MAX` when nothing is known of the cleaner's progress).
    pub fn new(gaps_ok_below: i64) -> Inspector {
        Inspector {
            report: Inspection::default(),
            expected: None,
            gaps_ok_below,
            txns: Some(TxnState::default()),
            aborts: Vec::new(),
            start: None,
        }
    }

    fn problem(&mut self, file: &Path, position: Option<u64>, error: String) {
        self.report.problems.push(Problem {
            file: file.to_path_buf(),
            position,
            error,
        });
    }

    fn gap_is_bad(&self, base: i64, expected: i64) -> bool {
        base > expected && base > self.gaps_ok_below
    }

    /// Inspects the next segment (segments must come in base-offset order).
    pub fn segment<R: ReadAt + ?Sized>(&mut self, seg: SegmentFiles<'_, R>) -> io::Result<()> {
        self.report.segments += 1;
        if let Some(exp) = self.expected {
            if seg.base < exp {
                self.problem(
                    seg.log_path,
                    None,
                    format!(
                        "segment base offset {} below the previous segment's end {exp}",
                        seg.base
                    ),
                );
            } else if self.gap_is_bad(seg.base, exp) {
                self.problem(
                    seg.log_path,
                    None,
                    format!("segment base offset {} where {exp} was expected", seg.base),
                );
            }
        }
        let before = self.report.problems.len();
        let batches = self.batches(&seg)?;
        let mut next = batches.last().map_or(seg.base, |b| b.last_offset + 1);
        if let Some(known) = seg.next_offset {
            if next > known {
                self.problem(
                    seg.log_path,
                    None,
                    format!("batches end at offset {next}, past the segment's end {known}"),
                );
            }
            next = known;
        }
        self.report.first_offset.get_or_insert(seg.base);
        self.report.next_offset = Some(next);
        let complete = self.report.problems.len() == before;
        self.expected = complete.then_some(next);
        let scope = Scope {
            base: seg.base,
            batches: &batches,
            complete,
        };
        let index_path = seg.log_path.with_extension("index");
        let time_path = seg.log_path.with_extension("timeindex");
        if let Some(idx) = self.index_file(&index_path, seg.index.as_deref(), false) {
            self.offset_index(&scope, &index_path, &idx);
        }
        if let Some(idx) = self.index_file(&time_path, seg.time_index.as_deref(), true) {
            self.time_index(&scope, &time_path, &idx);
        }
        let txn_path = seg.log_path.with_extension("txnindex");
        let aborts = std::mem::take(&mut self.aborts);
        let start = *self.start.get_or_insert(seg.base);
        if !complete {
            self.txns = None;
        }
        match (&self.txns, seg.txn_index.as_deref()) {
            (None, _) => {}
            (Some(_), None) => {
                let expected = reconcile(&[], &aborts, start);
                if !expected.is_empty() {
                    self.report.notes.push(format!(
                        "{}: missing, {} aborted transactions expected (weir rebuilds it on open)",
                        txn_path.display(),
                        expected.len()
                    ));
                }
            }
            (Some(_), Some(bytes)) => self.txn_index(&txn_path, bytes, &aborts, start),
        }
        Ok(())
    }

    fn txn_index(&mut self, path: &Path, bytes: &[u8], aborts: &[AbortSeen], start: i64) {
        let found = match parse_entries(bytes) {
            Ok(f) => f,
            Err(e) => return self.problem(path, None, e.to_string()),
        };
        let expected = &reconcile(&found, aborts, start);
        self.report.txn_index_entries += found.len() as u64;
        if let Some(i) =
            (0..found.len().max(expected.len())).find(|&i| found.get(i) != expected.get(i))
        {
            let why = match (found.get(i), expected.get(i)) {
                (Some(f), Some(e)) => format!("{f:?} where the batches say {e:?}"),
                (Some(f), None) => format!("{f:?} is not in the batches"),
                (None, e) => format!("missing {e:?}"),
            };
            self.index_problem(path, i, why);
        }
    }

    /// The transaction-state step of a valid batch (`None` once unknown).
    fn txn_step(&mut self, h: &BatchHeader, batch: &[u8]) -> Result<(), String> {
        let Some(txns) = &mut self.txns else {
            return Ok(());
        };
        let marker = marker_of(h, || Bytes::copy_from_slice(batch))
            .map_err(|e| format!("control batch is no transaction marker: {e}"))?;
        observe(txns, h, marker, &mut self.aborts);
        Ok(())
    }

    /// The inspection so far.
    pub fn finish(mut self) -> Inspection {
        if self.report.segments == 0 {
            self.report.notes.push("no segment files".to_string());
        }
        self.report
    }

    /// The segment's valid batches, up to the first invalid one.
    fn batches<R: ReadAt + ?Sized>(
        &mut self,
        seg: &SegmentFiles<'_, R>,
    ) -> io::Result<Vec<BatchAt>> {
        let mut pos = 0u64;
        let mut expected = seg.base;
        let mut out = Vec::new();
        while pos < seg.log_len {
            let batch = match read_batch(seg.log, pos, seg.log_len)? {
                Ok(b) => b,
                Err(why) => {
                    self.problem(seg.log_path, Some(pos), why);
                    break;
                }
            };
            let mut problem = stored_batch_problem(&batch).err();
            let h = BatchHeader::parse(&batch).ok();
            if let (None, Some(h)) = (&problem, h) {
                if h.base_offset < expected {
                    problem = Some(format!(
                        "batch base offset {} below {expected}",
                        h.base_offset
                    ));
                } else if self.gap_is_bad(h.base_offset, expected) {
                    problem = Some(format!(
                        "batch base offset {} where {expected} was expected",
                        h.base_offset
                    ));
                }
            }
            if let (None, Some(h)) = (&problem, &h) {
                problem = self.txn_step(h, &batch).err();
            }
            let (None, Some(h)) = (problem.as_ref(), h) else {
                let why = problem.unwrap_or_else(|| "unreadable header".to_string());
                self.problem(seg.log_path, Some(pos), why);
                break;
            };
            // Counts were checked: 0 <= record_count <= last_offset_delta + 1.
            let last_offset = h.base_offset + i64::from(h.last_offset_delta);
            let size = batch.len() as u64;
            out.push(BatchAt {
                position: pos,
                last_offset,
                max_timestamp: h.max_timestamp,
            });
            self.report.batches += 1;
            self.report.records += h.record_count as u64;
            self.report.bytes += size;
            expected = last_offset + 1;
            pos += size;
        }
        Ok(out)
    }

    fn index_file(&mut self, path: &Path, data: Option<&[u8]>, time: bool) -> Option<IndexEntries> {
        let Some(data) = data else {
            self.report.notes.push(format!(
                "{}: missing (an index is a cache; weir rebuilds it on open)",
                path.display()
            ));
            return None;
        };
        let idx = IndexEntries::parse(data, time);
        if idx.ragged_bytes != 0 || idx.after_padding != 0 {
            self.problem(
                path,
                None,
                format!(
                    "{} bytes after the last whole entry, {} non-zero entries after the zero padding",
                    idx.ragged_bytes, idx.after_padding
                ),
            );
        }
        Some(idx)
    }

    fn index_problem(&mut self, path: &Path, i: usize, why: String) {
        self.problem(path, None, format!("entry {i}: {why}"));
    }

    fn offset_index(&mut self, scope: &Scope<'_>, path: &Path, idx: &IndexEntries) {
        let (base, batches) = (scope.base, scope.batches);
        let mut prev: Option<(i64, u64)> = None;
        for (i, &(rel, position)) in idx.entries.iter().enumerate() {
            let offset = base + rel;
            if scope.beyond_damage(Some(position), offset) {
                break;
            }
            self.report.index_entries += 1;
            if let Some((pr, pp)) = prev
                && (rel <= pr || position <= pp)
            {
                let why = format!("(offset {offset}, position {position}) does not increase");
                return self.index_problem(path, i, why);
            }
            prev = Some((rel, position));
            match batches.binary_search_by_key(&position, |b| b.position) {
                Ok(k) if batches[k].last_offset == offset => {}
                Ok(k) => {
                    let last = batches[k].last_offset;
                    let why = format!(
                        "offset {offset} but the batch at position {position} ends at offset {last}"
                    );
                    return self.index_problem(path, i, why);
                }
                Err(_) => {
                    let why = format!("position {position} is not the start of a valid batch");
                    return self.index_problem(path, i, why);
                }
            }
        }
    }

    fn time_index(&mut self, scope: &Scope<'_>, path: &Path, idx: &IndexEntries) {
        let (base, batches) = (scope.base, scope.batches);
        let mut prev: Option<(i64, u64)> = None;
        for (i, &(ts, rel)) in idx.entries.iter().enumerate() {
            let offset = base + rel as i64;
            if scope.beyond_damage(None, offset) {
                break;
            }
            self.report.time_index_entries += 1;
            if let Some((pt, pr)) = prev
                && (ts <= pt || rel < pr)
            {
                let why = format!("(timestamp {ts}, offset {offset}) does not increase");
                return self.index_problem(path, i, why);
            }
            prev = Some((ts, rel));
            match batches.binary_search_by_key(&offset, |b| b.last_offset) {
                Ok(k) if batches[k].max_timestamp == ts => {}
                Ok(k) => {
                    let mt = batches[k].max_timestamp;
                    let why = format!(
                        "timestamp {ts} but the batch ending at offset {offset} has max timestamp {mt}"
                    );
                    return self.index_problem(path, i, why);
                }
                Err(_) => {
                    let why = format!("offset {offset} is not the last offset of a valid batch");
                    return self.index_problem(path, i, why);
                }
            }
        }
    }
}

/// A scanned segment, as its indexes are checked against it.
struct Scope<'a> {
    base: i64,
    /// The valid batches, in order.
    batches: &'a [BatchAt],
    /// False when the scan stopped at damage: entries past the last valid batch are then
    /// not judged.
    complete: bool,
}

impl Scope<'_> {
    fn beyond_damage(&self, position: Option<u64>, offset: i64) -> bool {
        if self.complete {
            return false;
        }
        match self.batches.last() {
            None => true,
            Some(b) => position.is_some_and(|p| p > b.position) || offset > b.last_offset,
        }
    }
}

/// Reads the whole batch at `pos` without trusting its length beyond the `len` bytes
/// present; `Ok(Err(why))` when it does not frame.
pub fn read_batch<R: ReadAt + ?Sized>(
    file: &R,
    pos: u64,
    len: u64,
) -> io::Result<Result<Vec<u8>, String>> {
    let left = len.saturating_sub(pos);
    if left < BATCH_HEADER_BYTES as u64 {
        return Ok(Err(format!(
            "partial batch header: {left} bytes left, {BATCH_HEADER_BYTES} needed"
        )));
    }
    let mut head = [0u8; LOG_OVERHEAD_BYTES];
    file.read_exact_at(&mut head, pos)?;
    let batch_length = i32::from_be_bytes([head[8], head[9], head[10], head[11]]);
    if batch_length < BATCH_LENGTH_MIN {
        return Ok(Err(format!(
            "batch length {batch_length} is below the minimum {BATCH_LENGTH_MIN}"
        )));
    }
    // batch_length >= BATCH_LENGTH_MIN > 0.
    let total = LOG_OVERHEAD_BYTES as u64 + batch_length as u64;
    if total > left {
        return Ok(Err(format!(
            "batch length claims {total} bytes but only {left} are left in the file"
        )));
    }
    // total <= left <= the file's length, so this allocation is bounded by the file.
    let mut buf = vec![0u8; total as usize];
    file.read_exact_at(&mut buf, pos)?;
    Ok(Ok(buf))
}

/// The stored-batch checks (framing, magic, CRC-32C, counts), plus a known codec.
pub fn stored_batch_problem(batch: &[u8]) -> Result<(), String> {
    let h = weir_records::validate_stored(batch).map_err(|e| e.to_string())?;
    h.attributes.compression().map_err(|e| e.to_string())?;
    Ok(())
}

/// Index entries, as read: `(first field, second field)` = `(relative offset, position)`
/// for `.index`, `(timestamp, relative offset)` for `.timeindex`. Reading stops at the
/// first zero relative offset after the first entry: the zeroed preallocation of an active
/// segment's index (Kafka's dump tool does the same).
#[derive(Debug)]
pub struct IndexEntries {
    /// The entries before the padding.
    pub entries: Vec<(i64, u64)>,
    /// Bytes after the last whole entry (a ragged file).
    pub ragged_bytes: u64,
    /// Non-zero entries found after the zero padding began.
    pub after_padding: usize,
}

impl IndexEntries {
    /// Reads the entries of an `.index` (`time` false) or `.timeindex` file's bytes.
    pub fn parse(data: &[u8], time: bool) -> IndexEntries {
        let eb = if time {
            TIME_ENTRY_BYTES
        } else {
            OFFSET_ENTRY_BYTES
        };
        let mut entries = Vec::new();
        let mut after_padding = 0;
        let mut padding = false;
        for (i, e) in data.chunks_exact(eb).enumerate() {
            let (a, b) = if time {
                let mut ts = [0u8; 8];
                ts.copy_from_slice(&e[..8]);
                let rel = u32::from_be_bytes([e[8], e[9], e[10], e[11]]);
                (i64::from_be_bytes(ts), u64::from(rel))
            } else {
                let rel = u32::from_be_bytes([e[0], e[1], e[2], e[3]]);
                let p = u32::from_be_bytes([e[4], e[5], e[6], e[7]]);
                (i64::from(rel), u64::from(p))
            };
            let rel = if time { b as i64 } else { a };
            if padding {
                if e.iter().any(|&x| x != 0) {
                    after_padding += 1;
                }
                continue;
            }
            if i > 0 && rel == 0 {
                padding = true;
                if e.iter().any(|&x| x != 0) {
                    after_padding += 1;
                }
                continue;
            }
            entries.push((a, b));
        }
        IndexEntries {
            entries,
            ragged_bytes: (data.len() % eb) as u64,
            after_padding,
        }
    }
}

/// A segment file name's (`<20 digits>.<ext>`) base offset.
pub fn base_offset_of(path: &Path) -> Option<i64> {
    let stem = path.file_stem()?.to_str()?;
    if stem.len() != FILE_NAME_DIGITS || !stem.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    stem.parse().ok()
}

fn read_if_exists(path: &Path) -> io::Result<Option<Vec<u8>>> {
    match std::fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Inspects the partition directory `dir` with plain read-only file handles (nothing is
/// opened for writing, nothing recovered), allowing offset gaps anywhere (the cleaner's
/// progress is not consulted).
pub fn inspect_dir(dir: &Path) -> io::Result<Inspection> {
    let mut logs = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().and_then(|e| e.to_str()) == Some("log")
            && let Some(base) = base_offset_of(&path)
        {
            logs.push(base);
        }
    }
    logs.sort_unstable();
    let mut inspector = Inspector::new(i64::MAX);
    for base in logs {
        let log_path = segment_path(dir, base, "log");
        let file = File::open(&log_path)?;
        let log_len = file.metadata()?.len();
        inspector.segment(SegmentFiles {
            base,
            log_path: &log_path,
            log: &file,
            log_len,
            index: read_if_exists(&segment_path(dir, base, "index"))?,
            time_index: read_if_exists(&segment_path(dir, base, "timeindex"))?,
            txn_index: read_if_exists(&segment_path(dir, base, "txnindex"))?,
            next_offset: None,
        })?;
    }
    Ok(inspector.finish())
}
