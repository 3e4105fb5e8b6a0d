//! `weir log dump`: a segment's batches (and records), or an index file's entries (a
//! `.txnindex`'s aborted transactions included), or a producer snapshot's producers.

use std::io::{self, Write as _};

use anyhow::Context as _;
use bytes::Bytes;
use serde_json::json;
use weir_protocol::records::{
    ControlRecordType, DECOMPRESSED_BYTES_MAX_DEFAULT, RecordBatch, TimestampType,
    parse_end_txn_marker,
};

use weir_storage::{TXN_ENTRY_BYTES, TXN_INDEX_VERSION, decode_snapshot, parse_txn_index};

use super::{DumpArgs, Next, base_offset_of, batch_problem, open_len, read_batch, read_index};

pub(super) fn dump(args: &DumpArgs) -> anyhow::Result<bool> {
    let ext = args.path.extension().and_then(|e| e.to_str()).unwrap_or("");
    let out = io::stdout();
    let mut out = io::BufWriter::new(out.lock());
    let clean = match ext {
        "log" => dump_log(args, &mut out)?,
        "index" => dump_index(args, &mut out, false)?,
        "timeindex" => dump_index(args, &mut out, true)?,
        "txnindex" => dump_txn_index(args, &mut out)?,
        "snapshot" => dump_snapshot(args, &mut out)?,
        _ => anyhow::bail!(
            "{}: expected a .log, .index, .timeindex, .txnindex or .snapshot file",
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
    let (file, len) = open_len(&args.path)?;
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
        let batch = match read_batch(&file, pos, len)
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
        // A control batch's record, read as Kafka's dump tool shows it.
        let marker = h
            .attributes
            .is_control()
            .then(|| {
                r.key
                    .as_deref()
                    .map(|k| parse_end_txn_marker(k, r.value.as_deref()))
            })
            .flatten()
            .and_then(Result::ok)
            .map(|m| {
                let kind = match m.kind {
                    ControlRecordType::Abort => "ABORT",
                    _ => "COMMIT",
                };
                (kind, m.coordinator_epoch)
            });
        if args.json {
            let mut v = json!({
                "type": "record", "offset": r.offset, "timestamp": ts,
                "keySize": key_size, "valueSize": value_size, "sequence": sequence,
                "headerKeys": header_keys,
            });
            if let Some((kind, epoch)) = marker {
                v["endTxnMarker"] = json!(kind);
                v["coordinatorEpoch"] = json!(epoch);
            }
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
            if let Some((kind, epoch)) = marker {
                write!(out, " endTxnMarker: {kind} coordinatorEpoch: {epoch}")?;
            }
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

/// Prints a `.txnindex`'s aborted transactions as Kafka's dump tool does; a ragged file or an
/// entry of an unknown version is corrupt (the entries before it are printed).
fn dump_txn_index(args: &DumpArgs, out: &mut impl io::Write) -> anyhow::Result<bool> {
    let data =
        std::fs::read(&args.path).with_context(|| format!("reading {}", args.path.display()))?;
    if !args.json {
        writeln!(out, "Dumping {}", args.path.display())?;
    }
    let whole = data.len() - data.len() % TXN_ENTRY_BYTES;
    let mut problem = None;
    let mut entries = 0usize;
    for (i, chunk) in data[..whole].chunks_exact(TXN_ENTRY_BYTES).enumerate() {
        let e = match parse_txn_index(chunk) {
            Ok(e) => e[0],
            Err(_) => {
                let version = i16::from_be_bytes([chunk[0], chunk[1]]);
                problem = Some(format!("entry {i} has unknown version {version}"));
                break;
            }
        };
        entries += 1;
        if args.json {
            let v = json!({
                "type": "entry", "version": TXN_INDEX_VERSION, "producerId": e.producer_id,
                "firstOffset": e.first_offset, "lastOffset": e.last_offset,
                "lastStableOffset": e.last_stable_offset,
            });
            writeln!(out, "{v}")?;
        } else {
            writeln!(
                out,
                "version: {TXN_INDEX_VERSION} producerId: {} firstOffset: {} lastOffset: {} \
                 lastStableOffset: {}",
                e.producer_id, e.first_offset, e.last_offset, e.last_stable_offset
            )?;
        }
    }
    if problem.is_none() && whole != data.len() {
        problem = Some(format!(
            "{} bytes after the last whole entry",
            data.len() - whole
        ));
    }
    match &problem {
        Some(why) => {
            if args.json {
                writeln!(out, "{}", json!({"type": "error", "error": why}))?;
            } else {
                writeln!(out, "Corrupt index: {why}")?;
            }
            eprintln!("weir: {}: {why}", args.path.display());
        }
        None if args.json => {
            writeln!(out, "{}", json!({"type": "summary", "entries": entries}))?;
        }
        None => {}
    }
    Ok(problem.is_none())
}

/// A `<offset>.snapshot`: one line per producer (Kafka's `DumpLogSegments` prints the same
/// fields for a snapshot), or why it does not decode.
fn dump_snapshot(args: &DumpArgs, out: &mut impl io::Write) -> anyhow::Result<bool> {
    let data =
        std::fs::read(&args.path).with_context(|| format!("reading {}", args.path.display()))?;
    if !args.json {
        writeln!(out, "Dumping {}", args.path.display())?;
        if let Some(offset) = base_offset_of(&args.path) {
            writeln!(out, "Producer state below offset: {offset}")?;
        }
    }
    let entries = match decode_snapshot(&data) {
        Ok(e) => e,
        Err(why) => {
            if args.json {
                writeln!(
                    out,
                    "{}",
                    json!({"type": "error", "error": why.to_string()})
                )?;
            } else {
                writeln!(out, "Corrupt snapshot: {why}")?;
            }
            eprintln!("weir: {}: {why}", args.path.display());
            return Ok(false);
        }
    };
    for e in &entries {
        if args.json {
            let v = json!({
                "type": "producer", "producerId": e.producer_id, "producerEpoch": e.producer_epoch,
                "lastSequence": e.last_sequence, "lastOffset": e.last_offset,
                "offsetDelta": e.offset_delta, "timestamp": e.timestamp,
                "coordinatorEpoch": e.coordinator_epoch,
                "currentTxnFirstOffset": e.current_txn_first_offset,
            });
            writeln!(out, "{v}")?;
        } else {
            writeln!(
                out,
                "producerId: {} producerEpoch: {} lastSequence: {} lastOffset: {} \
                 offsetDelta: {} timestamp: {} coordinatorEpoch: {} currentTxnFirstOffset: {}",
                e.producer_id,
                e.producer_epoch,
                e.last_sequence,
                e.last_offset,
                e.offset_delta,
                e.timestamp,
                e.coordinator_epoch,
                e.current_txn_first_offset
            )?;
        }
    }
    if args.json {
        writeln!(
            out,
            "{}",
            json!({"type": "summary", "producers": entries.len()})
        )?;
    }
    Ok(true)
}
