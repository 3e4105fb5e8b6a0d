//! `weir log verify`: a read-only check of a partition directory.

use std::path::Path;

use anyhow::Context as _;

use super::{
    IndexEntries, Next, VerifyArgs, base_offset_of, batch_problem, open_len, read_batch, read_index,
};

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

pub(super) fn verify(args: &VerifyArgs) -> anyhow::Result<bool> {
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
        // A segment starts at or after the previous one's end (after a compaction, records
        // the cleaner removed leave a gap, and a cleaned segment may be empty).
        if let Some(exp) = expected
            && *base < exp
        {
            report.problems.push(Problem {
                file: path.display().to_string(),
                position: None,
                error: format!("segment base offset {base} below the previous segment's end {exp}"),
            });
        }
        let problems_before = report.problems.len();
        let batches = verify_segment(*base, path, &mut report)?;
        let next = batches.last().map_or(*base, |b| b.last_offset + 1);
        report.first_offset.get_or_insert(*base);
        report.next_offset = Some(next);
        // After damage inside a segment, what follows it is unknown: neither the next
        // segment's base nor index entries past the damage are judged.
        let complete = report.problems.len() == problems_before;
        expected = complete.then_some(next);
        let scope = Scope {
            base: *base,
            batches: &batches,
            complete,
        };
        verify_offset_index(&scope, &path.with_extension("index"), &mut report)?;
        verify_time_index(&scope, &path.with_extension("timeindex"), &mut report)?;
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
        // Offsets strictly increase; a gap is records the cleaner removed.
        if problem.is_none() && h.base_offset < expected {
            problem = Some(format!(
                "batch base offset {} below {expected}",
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
        // Counts were checked: 0 <= record_count <= last_offset_delta + 1.
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

/// A scanned segment, as its indexes are checked against it.
struct Scope<'a> {
    base: i64,
    /// The valid batches, in order.
    batches: &'a [BatchAt],
    /// False when the scan stopped at damage: entries past the last valid batch are
    /// then not judged.
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

fn verify_offset_index(
    scope: &Scope,
    path: &Path,
    report: &mut VerifyReport,
) -> anyhow::Result<()> {
    let (base, batches) = (scope.base, scope.batches);
    let Some(idx) = check_index_file(path, false, report)? else {
        return Ok(());
    };
    let mut prev: Option<(i64, u64)> = None;
    for (i, &(rel, position)) in idx.entries.iter().enumerate() {
        if scope.beyond_damage(Some(position), base + rel) {
            break;
        }
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

fn verify_time_index(scope: &Scope, path: &Path, report: &mut VerifyReport) -> anyhow::Result<()> {
    let (base, batches) = (scope.base, scope.batches);
    let Some(idx) = check_index_file(path, true, report)? else {
        return Ok(());
    };
    let mut prev: Option<(i64, u64)> = None;
    for (i, &(ts, rel)) in idx.entries.iter().enumerate() {
        let offset = base + rel as i64;
        if scope.beyond_damage(None, offset) {
            break;
        }
        report.time_index_entries += 1;
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
