//! `weir log verify`: a read-only check of a partition directory, by the storage engine's
//! inspector (`weir_storage::inspect`, the same checks as `Log::verify`), printed as text
//! or JSON.

use anyhow::Context as _;
use weir_storage::inspect::{self, Inspection};

use super::VerifyArgs;

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
    txn_index_entries: u64,
    notes: Vec<String>,
    problems: Vec<Problem>,
}

#[derive(serde::Serialize)]
struct Problem {
    file: String,
    position: Option<u64>,
    error: String,
}

impl VerifyReport {
    fn of(dir: String, i: Inspection) -> VerifyReport {
        VerifyReport {
            dir,
            segments: i.segments,
            batches: i.batches,
            records: i.records,
            bytes: i.bytes,
            first_offset: i.first_offset,
            next_offset: i.next_offset,
            index_entries: i.index_entries,
            time_index_entries: i.time_index_entries,
            txn_index_entries: i.txn_index_entries,
            notes: i.notes,
            problems: i
                .problems
                .into_iter()
                .map(|p| Problem {
                    file: p.file.display().to_string(),
                    position: p.position,
                    error: p.error,
                })
                .collect(),
        }
    }
}

pub(super) fn verify(args: &VerifyArgs) -> anyhow::Result<bool> {
    let found = inspect::inspect_dir(&args.dir)
        .with_context(|| format!("inspecting {}", args.dir.display()))?;
    let report = VerifyReport::of(args.dir.display().to_string(), found);
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
        "segments: {} batches: {} records: {} bytes: {} offsets: {}..{} index entries: {} time index entries: {} txn index entries: {}",
        r.segments,
        r.batches,
        r.records,
        r.bytes,
        r.first_offset.map_or("-".into(), |o| o.to_string()),
        r.next_offset.map_or("-".into(), |o| o.to_string()),
        r.index_entries,
        r.time_index_entries,
        r.txn_index_entries
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
