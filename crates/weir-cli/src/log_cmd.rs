//! `weir log dump PATH` and `weir log verify DIR`: offline, read-only inspection of
//! partition files (the formats of `docs/format.md`), in the manner of Kafka's
//! `kafka-dump-log`.
//!
//! Nothing here opens a [`weir_storage::Log`]: opening runs recovery, which may
//! truncate segments and rewrite indexes. These commands only read the files, one
//! batch at a time, checking every length against the bytes left in the file before
//! reading it.

use std::fs::File;
use std::io::{self, Read as _, Seek as _, SeekFrom, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use bytes::Bytes;
use serde_json::json;
use weir_protocol::records::{
    BATCH_HEADER_BYTES, BATCH_LENGTH_MIN, DECOMPRESSED_BYTES_MAX_DEFAULT, LOG_OVERHEAD_BYTES,
    RecordBatch, TimestampType,
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
        LogCommand::Dump(a) => dump(&a)?,
        LogCommand::Verify(a) => verify(&a)?,
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
    if h.last_offset_delta < 0 || i64::from(h.record_count) != i64::from(h.last_offset_delta) + 1 {
        return Some(format!(
            "record count {} does not match last offset delta {}",
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

fn dump(args: &DumpArgs) -> anyhow::Result<bool> {
    let ext = args.path.extension().and_then(|e| e.to_str()).unwrap_or("");
    let out = io::stdout();
    let mut out = io::BufWriter::new(out.lock());
    let clean = match ext {
        "log" => dump_log(args, &mut out)?,
        "index" => dump_index(args, &mut out, false)?,
        "timeindex" => dump_index(args, &mut out, true)?,
        _ => anyhow::bail!(
            "{}: expected a .log, .index or .timeindex file",
            args.path.display()
        ),
    };
    out.flush()?;
    Ok(clean)
}

fn codec_name(batch: &RecordBatch) -> String {
    match batch.header().attributes.compression() {
        Ok(c) => c.name().to_string(),
        Err(_) => "unknown".to_string(),
    }
}

fn dump_log(args: &DumpArgs, out: &mut impl io::Write) -> anyhow::Result<bool> {
    let (mut file, len) = open_len(&args.path)?;
    if !args.json {
        writeln!(out, "Dumping {}", args.path.display())?;
        if let Some(base) = base_offset_of(&args.path) {
            writeln!(out, "Log starting offset: {base}")?;
        }
    }
    let mut pos = 0u64;
    let (mut batches, mut records) = (0u64, 0u64);
    let mut error: Option<String> = None;
    loop {
        let batch = match read_batch(&mut file, pos, len)
            .with_context(|| format!("reading {}", args.path.display()))?
        {
            Next::End => break,
            Next::Bad(why) => {
                error = Some(why);
                break;
            }
            Next::Batch(b) => b,
        };
        let h = *batch.header();
        let size = batch.as_bytes().len() as u64;
        let problem = batch_problem(&batch);
        let crc_valid = batch.verify_crc().is_ok();
        let ts_type = match h.attributes.timestamp_type() {
            TimestampType::CreateTime => "CreateTime",
            TimestampType::LogAppendTime => "LogAppendTime",
        };
        let last_offset = h.last_offset();
        let last_sequence = if h.base_sequence < 0 {
            -1
        } else {
            h.base_sequence.wrapping_add(h.last_offset_delta)
        };
        if args.json {
            let v = json!({
                "type": "batch", "baseOffset": h.base_offset, "lastOffset": last_offset,
                "count": h.record_count, "position": pos, "size": size,
                "timestampType": ts_type, "baseTimestamp": h.base_timestamp,
                "maxTimestamp": h.max_timestamp, "magic": h.magic,
                "compressCodec": codec_name(&batch), "crc": h.crc, "isValid": crc_valid,
                "partitionLeaderEpoch": h.partition_leader_epoch,
                "producerId": h.producer_id, "producerEpoch": h.producer_epoch,
                "baseSequence": h.base_sequence, "lastSequence": last_sequence,
                "isTransactional": h.attributes.is_transactional(),
                "isControl": h.attributes.is_control(),
            });
            writeln!(out, "{v}")?;
        } else {
            writeln!(
                out,
                "baseOffset: {} lastOffset: {} count: {} baseSequence: {} lastSequence: {} \
                 producerId: {} producerEpoch: {} partitionLeaderEpoch: {} isTransactional: {} \
                 isControl: {} position: {pos} {ts_type}: {} baseTimestamp: {} size: {size} \
                 magic: {} compresscodec: {} crc: {} isvalid: {crc_valid}",
                h.base_offset,
                last_offset.map_or("overflow".to_string(), |o| o.to_string()),
                h.record_count,
                h.base_sequence,
                last_sequence,
                h.producer_id,
                h.producer_epoch,
                h.partition_leader_epoch,
                h.attributes.is_transactional(),
                h.attributes.is_control(),
                h.max_timestamp,
                h.base_timestamp,
                h.magic,
                codec_name(&batch),
                h.crc,
            )?;
        }
        if let Some(why) = problem {
            error = Some(why);
            break;
        }
        batches += 1;
        if args.records {
            match dump_records(args, &batch, out)? {
                Ok(n) => records += n,
                Err(why) => {
                    error = Some(why);
                    break;
                }
            }
        } else {
            records += u64::try_from(h.record_count).unwrap_or(0);
        }
        pos += size;
    }
    if let Some(why) = &error {
        if args.json {
            writeln!(
                out,
                "{}",
                json!({"type": "error", "position": pos, "error": why})
            )?;
        } else {
            writeln!(out, "Corrupt batch at position {pos}: {why}")?;
        }
        eprintln!(
            "weir: {}: corrupt batch at position {pos}: {why}",
            args.path.display()
        );
    } else if args.json {
        writeln!(
            out,
            "{}",
            json!({"type": "summary", "batches": batches, "records": records, "bytes": pos})
        )?;
    }
    Ok(error.is_none())
}

/// Prints the records of one (CRC-checked) batch; the inner error is a record that
/// does not decode.
fn dump_records(
    args: &DumpArgs,
    batch: &RecordBatch,
    out: &mut impl io::Write,
) -> anyhow::Result<Result<u64, String>> {
    let h = batch.header();
    let iter = match batch.records(DECOMPRESSED_BYTES_MAX_DEFAULT) {
        Ok(i) => i,
        Err(e) => return Ok(Err(e.to_string())),
    };
    let mut n = 0u64;
    for record in iter {
        let r = match record {
            Ok(r) => r,
            Err(e) => return Ok(Err(format!("record {n}: {e}"))),
        };
        let key_size = r.key.as_ref().map_or(-1, |k| k.len() as i64);
        let value_size = r.value.as_ref().map_or(-1, |v| v.len() as i64);
        let sequence = if h.base_sequence < 0 {
            -1
        } else {
            h.base_sequence.wrapping_add(r.offset_delta)
        };
        let header_keys: Vec<String> = r
            .headers
            .iter()
            .map(|hd| String::from_utf8_lossy(&hd.key).into_owned())
            .collect();
        let lossy = |b: &Option<Bytes>| b.as_ref().map(|b| String::from_utf8_lossy(b).into_owned());
        let ts = r.effective_timestamp(h);
        if args.json {
            let mut v = json!({
                "type": "record", "offset": r.offset, "timestamp": ts,
                "keySize": key_size, "valueSize": value_size, "sequence": sequence,
                "headerKeys": header_keys,
            });
            if args.print_data {
                v["key"] = json!(lossy(&r.key));
                v["payload"] = json!(lossy(&r.value));
            }
            writeln!(out, "{v}")?;
        } else {
            write!(
                out,
                "| offset: {} timestamp: {ts} keySize: {key_size} valueSize: {value_size} \
                 sequence: {sequence} headerKeys: [{}]",
                r.offset,
                header_keys.join(",")
            )?;
            if args.print_data {
                let show = |b: Option<String>| b.unwrap_or_else(|| "null".to_string());
                write!(
                    out,
                    " key: {} payload: {}",
                    show(lossy(&r.key)),
                    show(lossy(&r.value))
                )?;
            }
            writeln!(out)?;
        }
        n += 1;
    }
    Ok(Ok(n))
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

fn dump_index(args: &DumpArgs, out: &mut impl io::Write, time: bool) -> anyhow::Result<bool> {
    let base = base_offset_of(&args.path).with_context(|| {
        format!(
            "{}: not a segment file name (20 digits)",
            args.path.display()
        )
    })?;
    let idx = read_index(&args.path, time)?;
    if !args.json {
        writeln!(out, "Dumping {}", args.path.display())?;
    }
    for &(a, b) in &idx.entries {
        let (ts, rel, position) = if time {
            (Some(a), b as i64, None)
        } else {
            (None, a, Some(b))
        };
        let offset = base + rel;
        match (args.json, ts, position) {
            (true, Some(ts), _) => writeln!(
                out,
                "{}",
                json!({"type": "entry", "timestamp": ts, "offset": offset})
            )?,
            (true, None, Some(p)) => writeln!(
                out,
                "{}",
                json!({"type": "entry", "offset": offset, "position": p})
            )?,
            (false, Some(ts), _) => writeln!(out, "timestamp: {ts} offset: {offset}")?,
            _ => writeln!(out, "offset: {offset} position: {}", position.unwrap_or(0))?,
        }
    }
    let mut problems = Vec::new();
    if idx.ragged_bytes != 0 {
        problems.push(format!(
            "{} bytes after the last whole entry",
            idx.ragged_bytes
        ));
    }
    if idx.after_padding != 0 {
        problems.push(format!(
            "{} non-zero entries after the zero padding",
            idx.after_padding
        ));
    }
    for why in &problems {
        if args.json {
            writeln!(out, "{}", json!({"type": "error", "error": why}))?;
        } else {
            writeln!(out, "Corrupt index: {why}")?;
        }
        eprintln!("weir: {}: {why}", args.path.display());
    }
    if problems.is_empty() && args.json {
        writeln!(
            out,
            "{}",
            json!({"type": "summary", "entries": idx.entries.len()})
        )?;
    }
    Ok(problems.is_empty())
}

/// A valid batch of a segment, as the index checks need it.
#[derive(Clone, Copy)]
struct BatchAt {
    position: u64,
    last_offset: i64,
    max_timestamp: i64,
}

#[derive(Default, serde::Serialize)]
struct VerifyReport {
    dir: String,
    segments: usize,
    batches: u64,
    records: u64,
    bytes: u64,
    first_offset: Option<i64>,
    next_offset: Option<i64>,
    index_entries: u64,
    time_index_entries: u64,
    notes: Vec<String>,
    problems: Vec<Problem>,
}

#[derive(serde::Serialize)]
struct Problem {
    file: String,
    position: Option<u64>,
    error: String,
}

fn verify(args: &VerifyArgs) -> anyhow::Result<bool> {
    let mut logs = Vec::new();
    for entry in
        std::fs::read_dir(&args.dir).with_context(|| format!("listing {}", args.dir.display()))?
    {
        let path = entry?.path();
        if path.extension().and_then(|e| e.to_str()) == Some("log")
            && let Some(base) = base_offset_of(&path)
        {
            logs.push((base, path));
        }
    }
    logs.sort();
    let mut report = VerifyReport {
        dir: args.dir.display().to_string(),
        segments: logs.len(),
        ..VerifyReport::default()
    };
    let mut expected: Option<i64> = None;
    for (base, path) in &logs {
        if let Some(exp) = expected
            && *base != exp
        {
            report.problems.push(Problem {
                file: path.display().to_string(),
                position: None,
                error: format!(
                    "segment base offset {base} where the previous segment ended at {exp}"
                ),
            });
        }
        let batches = verify_segment(*base, path, &mut report)?;
        let next = batches.last().map_or(*base, |b| b.last_offset + 1);
        report.first_offset.get_or_insert(*base);
        report.next_offset = Some(next);
        expected = Some(next);
        verify_offset_index(*base, &path.with_extension("index"), &batches, &mut report)?;
        verify_time_index(
            *base,
            &path.with_extension("timeindex"),
            &batches,
            &mut report,
        )?;
    }
    if logs.is_empty() {
        report.notes.push("no segment files".to_string());
    }
    let clean = report.problems.is_empty();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_verify(&report);
    }
    for p in &report.problems {
        eprintln!(
            "weir: {}{}: {}",
            p.file,
            p.position
                .map_or(String::new(), |x| format!(" at position {x}")),
            p.error
        );
    }
    Ok(clean)
}

fn print_verify(r: &VerifyReport) {
    println!("Verifying {}", r.dir);
    println!(
        "segments: {} batches: {} records: {} bytes: {} offsets: {}..{} index entries: {} time index entries: {}",
        r.segments,
        r.batches,
        r.records,
        r.bytes,
        r.first_offset.map_or("-".into(), |o| o.to_string()),
        r.next_offset.map_or("-".into(), |o| o.to_string()),
        r.index_entries,
        r.time_index_entries
    );
    for n in &r.notes {
        println!("note: {n}");
    }
    for p in &r.problems {
        match p.position {
            Some(pos) => println!("CORRUPT {} at position {pos}: {}", p.file, p.error),
            None => println!("CORRUPT {}: {}", p.file, p.error),
        }
    }
    if r.problems.is_empty() {
        println!("OK");
    }
}

/// Scans one segment; returns its valid batches (up to the first invalid one).
fn verify_segment(
    base: i64,
    path: &Path,
    report: &mut VerifyReport,
) -> anyhow::Result<Vec<BatchAt>> {
    let (mut file, len) = open_len(path)?;
    let mut pos = 0u64;
    let mut expected = base;
    let mut out = Vec::new();
    let file_name = path.display().to_string();
    loop {
        let batch = match read_batch(&mut file, pos, len)
            .with_context(|| format!("reading {file_name}"))?
        {
            Next::End => break,
            Next::Bad(why) => {
                report.problems.push(Problem {
                    file: file_name.clone(),
                    position: Some(pos),
                    error: why,
                });
                break;
            }
            Next::Batch(b) => b,
        };
        let h = *batch.header();
        let mut problem = batch_problem(&batch);
        if problem.is_none() && h.base_offset != expected {
            problem = Some(format!(
                "batch base offset {} where {expected} was expected",
                h.base_offset
            ));
        }
        if let Some(why) = problem {
            report.problems.push(Problem {
                file: file_name.clone(),
                position: Some(pos),
                error: why,
            });
            break;
        }
        // Counts were checked: record_count == last_offset_delta + 1 >= 1.
        let last_offset = h.base_offset + i64::from(h.last_offset_delta);
        let size = batch.as_bytes().len() as u64;
        out.push(BatchAt {
            position: pos,
            last_offset,
            max_timestamp: h.max_timestamp,
        });
        report.batches += 1;
        report.records += h.record_count as u64;
        report.bytes += size;
        expected = last_offset + 1;
        pos += size;
    }
    Ok(out)
}

fn index_problem(report: &mut VerifyReport, path: &Path, i: usize, why: String) {
    report.problems.push(Problem {
        file: path.display().to_string(),
        position: None,
        error: format!("entry {i}: {why}"),
    });
}

fn check_index_file(
    path: &Path,
    time: bool,
    report: &mut VerifyReport,
) -> anyhow::Result<Option<IndexEntries>> {
    if !path.exists() {
        report.notes.push(format!(
            "{}: missing (an index is a cache; weir rebuilds it on open)",
            path.display()
        ));
        return Ok(None);
    }
    let idx = read_index(path, time)?;
    if idx.ragged_bytes != 0 || idx.after_padding != 0 {
        report.problems.push(Problem {
            file: path.display().to_string(),
            position: None,
            error: format!(
                "{} bytes after the last whole entry, {} non-zero entries after the zero padding",
                idx.ragged_bytes, idx.after_padding
            ),
        });
    }
    Ok(Some(idx))
}

fn verify_offset_index(
    base: i64,
    path: &Path,
    batches: &[BatchAt],
    report: &mut VerifyReport,
) -> anyhow::Result<()> {
    let Some(idx) = check_index_file(path, false, report)? else {
        return Ok(());
    };
    let mut prev: Option<(i64, u64)> = None;
    for (i, &(rel, position)) in idx.entries.iter().enumerate() {
        report.index_entries += 1;
        if let Some((pr, pp)) = prev
            && (rel <= pr || position <= pp)
        {
            index_problem(
                report,
                path,
                i,
                format!(
                    "(offset {}, position {position}) does not increase",
                    base + rel
                ),
            );
            return Ok(());
        }
        prev = Some((rel, position));
        match batches.binary_search_by_key(&position, |b| b.position) {
            Ok(k) if batches[k].last_offset == base + rel => {}
            Ok(k) => {
                let last = batches[k].last_offset;
                index_problem(
                    report,
                    path,
                    i,
                    format!(
                        "offset {} but the batch at position {position} ends at offset {last}",
                        base + rel
                    ),
                );
                return Ok(());
            }
            Err(_) => {
                index_problem(
                    report,
                    path,
                    i,
                    format!("position {position} is not the start of a valid batch"),
                );
                return Ok(());
            }
        }
    }
    Ok(())
}

fn verify_time_index(
    base: i64,
    path: &Path,
    batches: &[BatchAt],
    report: &mut VerifyReport,
) -> anyhow::Result<()> {
    let Some(idx) = check_index_file(path, true, report)? else {
        return Ok(());
    };
    let mut prev: Option<(i64, u64)> = None;
    for (i, &(ts, rel)) in idx.entries.iter().enumerate() {
        report.time_index_entries += 1;
        let offset = base + rel as i64;
        if let Some((pt, pr)) = prev
            && (ts <= pt || rel < pr)
        {
            index_problem(
                report,
                path,
                i,
                format!("(timestamp {ts}, offset {offset}) does not increase"),
            );
            return Ok(());
        }
        prev = Some((ts, rel));
        match batches.binary_search_by_key(&offset, |b| b.last_offset) {
            Ok(k) if batches[k].max_timestamp == ts => {}
            Ok(k) => {
                let mt = batches[k].max_timestamp;
                index_problem(
                    report,
                    path,
                    i,
                    format!(
                        "timestamp {ts} but the batch ending at offset {offset} has max timestamp {mt}"
                    ),
                );
                return Ok(());
            }
            Err(_) => {
                index_problem(
                    report,
                    path,
                    i,
                    format!("offset {offset} is not the last offset of a valid batch"),
                );
                return Ok(());
            }
        }
    }
    Ok(())
}
