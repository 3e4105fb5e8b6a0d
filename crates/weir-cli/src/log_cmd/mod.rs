//! `weir log dump PATH` and `weir log verify DIR`: offline, read-only inspection of
//! partition files (the formats of `docs/format.md`), in the manner of Kafka's
//! `kafka-dump-log`.
//!
//! Nothing here opens a [`weir_storage::Log`]: opening runs recovery, which may
//! truncate segments and rewrite indexes. These commands only read the files, one
//! batch at a time, checking every length against the bytes left in the file before
//! reading it.

use std::fs::File;
use std::io::{self, Read as _, Seek as _, SeekFrom};
use std::path::{Path, PathBuf};

mod dump;
mod verify;
use std::process::ExitCode;

use anyhow::Context as _;
use bytes::Bytes;
use weir_protocol::records::{
    BATCH_HEADER_BYTES, BATCH_LENGTH_MIN, LOG_OVERHEAD_BYTES, RecordBatch,
};
use weir_storage::{FILE_NAME_DIGITS, OFFSET_ENTRY_BYTES, TIME_ENTRY_BYTES};

/// `weir log ...`
#[derive(Debug, clap::Args)]
pub struct LogArgs {
    #[command(subcommand)]
    command: LogCommand,
}

#[derive(Debug, clap::Subcommand)]
enum LogCommand {
    /// Print the batches of a `.log` segment, or the entries of a `.index`/`.timeindex`.
    Dump(DumpArgs),
    /// Check a partition directory offline (CRCs, offsets, indexes); exit 1 on corruption.
    Verify(VerifyArgs),
}

#[derive(Debug, clap::Args)]
struct DumpArgs {
    /// A `.log`, `.index` or `.timeindex` file.
    path: PathBuf,
    /// Also print each record of each batch.
    #[arg(long)]
    records: bool,
    /// With `--records`, print keys and values (UTF-8, invalid bytes replaced).
    #[arg(long, requires = "records")]
    print_data: bool,
    /// One JSON object per line instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Args)]
struct VerifyArgs {
    /// A partition directory (`<data_dir>/<topic>-<partition>`).
    dir: PathBuf,
    /// Print the report as one JSON object.
    #[arg(long)]
    json: bool,
}

/// Runs `weir log ...`; the exit code is 1 when corruption was found.
pub fn run(args: LogArgs) -> anyhow::Result<ExitCode> {
    let clean = match args.command {
        LogCommand::Dump(a) => dump::dump(&a)?,
        LogCommand::Verify(a) => verify::verify(&a)?,
    };
    Ok(if clean {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Base offset from a segment file name (`<20 digits>.<ext>`).
fn base_offset_of(path: &Path) -> Option<i64> {
    let stem = path.file_stem()?.to_str()?;
    if stem.len() != FILE_NAME_DIGITS || !stem.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    stem.parse().ok()
}

/// One batch read from a segment file, or why none could be.
enum Next {
    End,
    Batch(Box<RecordBatch>),
    Bad(String),
}

/// Reads the batch at `pos` (framing, magic, header) without trusting its length
/// beyond the bytes the file holds. CRC and counts are checked by the caller.
fn read_batch(file: &mut File, pos: u64, file_len: u64) -> io::Result<Next> {
    let left = file_len.saturating_sub(pos);
    if left == 0 {
        return Ok(Next::End);
    }
    if left < BATCH_HEADER_BYTES as u64 {
        return Ok(Next::Bad(format!(
            "partial batch header: {left} bytes left, {BATCH_HEADER_BYTES} needed"
        )));
    }
    let mut head = [0u8; LOG_OVERHEAD_BYTES];
    file.seek(SeekFrom::Start(pos))?;
    file.read_exact(&mut head)?;
    let batch_length = i32::from_be_bytes([head[8], head[9], head[10], head[11]]);
    if batch_length < BATCH_LENGTH_MIN {
        return Ok(Next::Bad(format!(
            "batch length {batch_length} is below the minimum {BATCH_LENGTH_MIN}"
        )));
    }
    // batch_length >= BATCH_LENGTH_MIN > 0.
    let total = LOG_OVERHEAD_BYTES as u64 + batch_length as u64;
    if total > left {
        return Ok(Next::Bad(format!(
            "batch length claims {total} bytes but only {left} are left in the file"
        )));
    }
    // total <= left <= file length, so this allocation is bounded by the file.
    let mut buf = vec![0u8; total as usize];
    buf[..LOG_OVERHEAD_BYTES].copy_from_slice(&head);
    file.read_exact(&mut buf[LOG_OVERHEAD_BYTES..])?;
    Ok(match RecordBatch::parse_exact(Bytes::from(buf)) {
        Ok(b) => Next::Batch(Box::new(b)),
        Err(e) => Next::Bad(e.to_string()),
    })
}

/// Checks of a framed batch beyond its framing: CRC and counts.
fn batch_problem(batch: &RecordBatch) -> Option<String> {
    if let Err(e) = batch.verify_crc() {
        return Some(e.to_string());
    }
    let h = batch.header();
    // A compacted batch keeps its offset range but may hold fewer records (none, for a
    // producer's emptied last batch): the storage engine's rule for stored batches.
    if h.last_offset_delta < 0
        || h.record_count < 0
        || i64::from(h.record_count) > i64::from(h.last_offset_delta) + 1
    {
        return Some(format!(
            "record count {} does not fit last offset delta {}",
            h.record_count, h.last_offset_delta
        ));
    }
    if let Err(e) = h.attributes.compression() {
        return Some(e.to_string());
    }
    None
}

fn open_len(path: &Path) -> anyhow::Result<(File, u64)> {
    let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let len = file
        .metadata()
        .with_context(|| format!("reading metadata of {}", path.display()))?
        .len();
    Ok((file, len))
}

/// Index entries, as read: `(first field, second field)` = `(relative offset,
/// position)` for `.index`, `(timestamp, relative offset)` for `.timeindex`. Reading
/// stops at the first zero relative offset after the first entry: the zeroed
/// preallocation of an active segment's index (Kafka's dump tool does the same).
struct IndexEntries {
    entries: Vec<(i64, u64)>,
    /// Bytes after the last whole entry (a ragged file).
    ragged_bytes: u64,
    /// Non-zero entries found after the zero padding began.
    after_padding: usize,
}

fn read_index(path: &Path, time: bool) -> anyhow::Result<IndexEntries> {
    let data = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
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
    Ok(IndexEntries {
        entries,
        ragged_bytes: (data.len() % eb) as u64,
        after_padding,
    })
}
