//! The watermark seen through a whole log: a batch damaged while above the watermark is
//! never served and never passed; truncation by recovery leaves the watermark within
//! what recovery checked; concurrent appends and reads serve only intact batches.

use std::collections::BTreeSet;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;

use proptest::prelude::*;

use crate::error::ReadError;
use crate::segment::read_lock;
use crate::testing::batch;
use crate::{AppendOptions, FileSystem, Log, LogConfig, RealFs};
use weir_records::{BATCH_HEADER_BYTES, validate_stored};

fn small() -> LogConfig {
    LogConfig {
        segment_bytes: 4096,
        index_interval_bytes: 256,
        segment_index_bytes: 240,
        ..LogConfig::default()
    }
}

fn open(dir: &Path) -> Log {
    Log::open(dir, small(), Arc::new(RealFs) as Arc<dyn FileSystem>).unwrap()
}

/// Every stored batch as (segment index, position, length, base offset).
fn layout(log: &Log) -> Vec<(usize, u64, u64, i64)> {
    let segs = read_lock(&log.segments).clone();
    let mut out = Vec::new();
    for (i, seg) in segs.iter().enumerate() {
        let size = seg.size();
        let view = seg.view(size).unwrap();
        let mut pos = 0;
        while pos < size {
            let (h, total) = seg.header_at(&view, pos, size).unwrap();
            out.push((i, pos, total, h.base_offset));
            pos += total;
        }
    }
    out
}

/// Flips one bit in the records of a stored batch, through the file (the mapping shares
/// the page cache, as a page re-read from a rotting disk would).
fn flip(log: &Log, seg: usize, pos: u64) {
    let path = read_lock(&log.segments)[seg].log_path.clone();
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .unwrap();
    let at = pos + BATCH_HEADER_BYTES as u64 + 2;
    let mut b = [0u8];
    f.read_exact_at(&mut b, at).unwrap();
    f.write_all_at(&[b[0] ^ 0x08], at).unwrap();
}

fn watermarks(log: &Log) -> Vec<(u64, u64)> {
    let e = log.verify_epoch();
    read_lock(&log.segments)
        .iter()
        .map(|s| (s.verified.upto(e), s.size()))
        .collect()
}

#[derive(Debug, Clone)]
enum Op {
    Append(usize),
    Read(usize, usize),
    Flip(usize),
    Forget,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (1usize..4).prop_map(Op::Append),
        4 => (0usize..1000, 1usize..3000).prop_map(|(a, b)| Op::Read(a, b)),
        2 => (0usize..1000).prop_map(Op::Flip),
        1 => Just(Op::Forget),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig {
        // WEIR_MODEL_CASES for a longer hunt.
        cases: std::env::var("WEIR_MODEL_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(48),
        ..ProptestConfig::default()
    })]

    /// A batch damaged while above its segment's watermark (unchecked this epoch) is
    /// never served, and the watermark never passes it; one damaged below it is served
    /// only until the checks are forgotten. Reopening (a clean open checks nothing)
    /// starts every segment from nothing.
    #[test]
    fn a_batch_damaged_above_the_watermark_is_never_served(
        ops in proptest::collection::vec(op(), 1..60),
        reopen_at in 0usize..60,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let mut log = open(dir.path());
        for _ in 0..12 {
            log.append(&batch(2, 40, 1000), AppendOptions::default()).unwrap();
        }
        // Damaged batches: base offset -> whether it was below the watermark then.
        let mut damaged: std::collections::BTreeMap<i64, bool> = Default::default();
        for (step, op) in ops.into_iter().enumerate() {
            if step == reopen_at {
                log.close().unwrap();
                drop(log);
                log = open(dir.path());
                // Opening CRC-checks the active segment's unindexed tail and cuts it at
                // damage: those batches are gone (and their offsets are reused).
                let end = log.log_end();
                damaged.retain(|&base, _| base < end);
                for below in damaged.values_mut() {
                    *below = false;
                }
                prop_assert!(watermarks(&log).iter().rev().skip(1).all(|&(w, _)| w == 0));
            }
            match op {
                Op::Append(n) => {
                    log.append(&batch(n, 40, 1000), AppendOptions::default()).unwrap();
                }
                Op::Forget => {
                    log.forget_verified();
                    for below in damaged.values_mut() {
                        *below = false;
                    }
                    prop_assert!(watermarks(&log).iter().all(|&(w, _)| w == 0));
                }
                Op::Flip(i) => {
                    let all = layout(&log);
                    // Reopening may have cut every batch off.
                    if all.is_empty() {
                        continue;
                    }
                    let (seg, pos, total, base) = all[i % all.len()];
                    if damaged.contains_key(&base) {
                        continue;
                    }
                    let (w, _) = watermarks(&log)[seg];
                    flip(&log, seg, pos);
                    damaged.insert(base, pos + total <= w);
                }
                Op::Read(i, max) => {
                    let all = layout(&log);
                    let from = all.get(i % all.len().max(1)).map_or(log.log_end(), |b| b.3);
                    match log.read(from, max, i64::MAX) {
                        Ok(r) => {
                            let mut b = &r.batches[..];
                            while !b.is_empty() {
                                let base = i64::from_be_bytes(b[..8].try_into().unwrap());
                                let len = i32::from_be_bytes(b[8..12].try_into().unwrap()) as usize + 12;
                                if let Some(&below) = damaged.get(&base) {
                                    prop_assert!(below, "served batch {base}, damaged above the watermark");
                                } else {
                                    prop_assert!(validate_stored(&b[..len]).is_ok());
                                }
                                b = &b[len..];
                            }
                        }
                        Err(ReadError::Corrupt { .. }) => {
                            prop_assert!(damaged.keys().any(|&d| d >= from - 3));
                        }
                        Err(e) => prop_assert!(false, "{e}"),
                    }
                }
            }
            // The watermark stays within the committed bytes and never covers a batch
            // damaged while above it.
            let marks = watermarks(&log);
            for &(w, size) in &marks {
                prop_assert!(w <= size);
            }
            for (seg, pos, total, base) in layout(&log) {
                if damaged.get(&base) == Some(&false) {
                    prop_assert!(marks[seg].0 < pos + total, "watermark passed damaged batch {base}");
                }
            }
        }
    }
}

#[test]
fn a_batch_damaged_after_its_check_is_served_until_the_checks_are_forgotten() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    for _ in 0..40 {
        log.append(&batch(2, 100, 1000), AppendOptions::default())
            .unwrap();
    }
    let all = layout(&log);
    let (seg, pos, _, base) = all[3];
    assert_eq!(seg, 0, "{all:?}");
    // Appended in this process: already checked, so damage now is not seen ...
    flip(&log, seg, pos);
    let r = log.read(base, 1, i64::MAX).unwrap();
    assert_eq!(r.first_offset, base);
    assert!(
        validate_stored(&r.batches).is_err(),
        "the damaged bytes were served"
    );
    // ... until the checks are forgotten (or READ_REVERIFY_INTERVAL_MS passes).
    log.forget_verified();
    assert!(matches!(
        log.read(base, 1, i64::MAX),
        Err(ReadError::Corrupt { .. })
    ));
    // The intact batches before it are served, and checking them advanced the
    // watermark up to the damage, never past it.
    let r = log.read(0, 1 << 20, i64::MAX).unwrap();
    assert_eq!(r.next_offset, base);
    assert_eq!(watermarks(&log)[0].0, pos);
}

#[test]
fn recovery_cuts_and_reads_leave_the_watermark_within_checked_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    for _ in 0..30 {
        log.append(&batch(2, 100, 1000), AppendOptions::default())
            .unwrap();
    }
    let active = read_lock(&log.segments).last().unwrap().log_path.clone();
    drop(log); // no clean shutdown: the next open recovers the active segment
    let mut bytes = std::fs::read(&active).unwrap();
    let len = bytes.len();
    bytes.extend_from_slice(&[0x5a; 100]);
    std::fs::write(&active, &bytes).unwrap();
    let log = open(dir.path());
    let marks = watermarks(&log);
    let (w, size) = *marks.last().unwrap();
    // Recovery's scan CRC-checked the active segment and cut the garbage.
    assert_eq!((w, size), (len as u64, len as u64));
    // Nothing was synced, so recovery CRC-checked (and counts) every segment.
    assert!(marks.iter().all(|&(w, size)| w == size), "{marks:?}");
    // An append extends the checked prefix; a read from the middle catches up.
    log.append(&batch(2, 100, 1000), AppendOptions::default())
        .unwrap();
    let (w, size) = *watermarks(&log).last().unwrap();
    assert_eq!(w, size);
    log.forget_verified();
    let mid = layout(&log)
        .into_iter()
        .find(|&(s, pos, _, _)| s == 1 && pos > 0)
        .unwrap();
    log.read(mid.3, 1, i64::MAX).unwrap();
    let (w, size) = watermarks(&log)[1];
    assert!(w > mid.1 && w <= size, "{w} {size} {mid:?}");
}

#[test]
fn concurrent_appends_and_reads_serve_only_intact_batches() {
    let dir = tempfile::tempdir().unwrap();
    let log = Arc::new(open(dir.path()));
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let log = Arc::clone(&log);
        let done = Arc::clone(&done);
        std::thread::spawn(move || {
            for i in 0..400 {
                log.append(&batch(1 + i % 3, 50, 1000), AppendOptions::default())
                    .unwrap();
                if i % 50 == 0 {
                    log.forget_verified();
                }
            }
            done.store(true, std::sync::atomic::Ordering::Release);
        })
    };
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let log = Arc::clone(&log);
            let done = Arc::clone(&done);
            std::thread::spawn(move || {
                let mut at = 0i64;
                let mut seen = BTreeSet::new();
                loop {
                    // Done only once the writer finished and everything was read.
                    let finished = done.load(std::sync::atomic::Ordering::Acquire);
                    if finished && at >= log.log_end() {
                        break;
                    }
                    let r = log.read(at, 700, i64::MAX).unwrap();
                    let mut b = &r.batches[..];
                    while !b.is_empty() {
                        let len = i32::from_be_bytes(b[8..12].try_into().unwrap()) as usize + 12;
                        let h = validate_stored(&b[..len]).unwrap();
                        assert!(seen.insert(h.base_offset));
                        b = &b[len..];
                    }
                    at = r.next_offset;
                }
                assert_eq!(seen.len(), 400);
            })
        })
        .collect();
    writer.join().unwrap();
    for r in readers {
        r.join().unwrap();
    }
    for (w, size) in watermarks(&log) {
        assert!(w <= size);
    }
}
