//! Crash recovery: torn tails at every byte, trailing garbage, flipped bits in closed segments
//! and damaged indexes.
mod common;

use std::fs;
use std::path::Path;

use common::*;
use weir_storage::testing::batch;
use weir_storage::{AppendOptions, CLEAN_SHUTDOWN_FILE, LogConfig, ReadError, segment_path};

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

fn active_log_file(dir: &Path) -> std::path::PathBuf {
    let mut logs: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    logs.sort();
    logs.pop().unwrap()
}

/// Builds a log of `n` batches without closing it (a crash: no marker); returns the
/// batches and the byte length of the active segment before the last batch.
fn crashed_log(dir: &Path, cfg: LogConfig, n: usize) -> (Vec<(i64, Vec<u8>)>, u64) {
    let log = open(dir, cfg);
    let mut batches = fill(&log, n - 1, 2, 40);
    let before = fs::metadata(active_log_file(dir)).unwrap().len();
    let b = batch(3, 30, 9999);
    let info = log.append(&b, AppendOptions::default()).unwrap();
    assert_eq!(
        info.position, before,
        "last batch must sit in the same segment"
    );
    batches.push((info.base_offset, b));
    drop(log);
    (batches, before)
}

fn check_prefix(dir: &Path, cfg: LogConfig, batches: &[(i64, Vec<u8>)], keep: usize) {
    let log = open(dir, cfg);
    let end = batches.get(keep).map_or_else(
        || batches.last().map_or(0, |(b, x)| b + x.len() as i64),
        |(b, _)| *b,
    );
    let expected_end = if keep == batches.len() {
        log.log_end()
    } else {
        end
    };
    assert_eq!(log.log_end(), expected_end, "keep {keep}");
    let got = read_all(&log, 0);
    assert_eq!(got.len(), keep);
    for (g, (base, b)) in got.iter().zip(batches) {
        assert_eq!(g, &expected_bytes(b, *base));
    }
    let info = log
        .append(&batch(1, 5, 1), AppendOptions::default())
        .unwrap();
    assert_eq!(info.base_offset, expected_end);
    assert!(log.verify().unwrap().problems.is_empty());
}

#[test]
fn torn_tail_at_every_byte_position() {
    let root = tempfile::tempdir().unwrap();
    let pristine = root.path().join("pristine");
    let cfg = small_config();
    let (batches, before) = crashed_log(&pristine, cfg, 6);
    let full = fs::metadata(active_log_file(&pristine)).unwrap().len();
    for cut in before..full {
        for marker in [false, true] {
            let dir = root.path().join(format!("cut-{cut}-{marker}"));
            copy_dir(&pristine, &dir);
            let f = fs::OpenOptions::new()
                .write(true)
                .open(active_log_file(&dir))
                .unwrap();
            f.set_len(cut).unwrap();
            if marker {
                fs::write(dir.join(CLEAN_SHUTDOWN_FILE), b"").unwrap();
            }
            {
                let log = open(&dir, cfg);
                assert_eq!(
                    fs::metadata(active_log_file(&dir)).unwrap().len(),
                    before,
                    "torn bytes cut from the file"
                );
                drop(log);
            }
            check_prefix(&dir, cfg, &batches, batches.len() - 1);
            fs::remove_dir_all(&dir).unwrap();
        }
    }
}

#[test]
fn garbage_after_the_last_batch_is_cut() {
    let root = tempfile::tempdir().unwrap();
    let pristine = root.path().join("pristine");
    let cfg = small_config();
    let (batches, _) = crashed_log(&pristine, cfg, 5);
    let mut seed = 0x1234_5678u64;
    let mut rand_byte = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed as u8
    };
    for (i, len) in [1usize, 7, 12, 61, 62, 300, 5000].into_iter().enumerate() {
        for zeros in [true, false] {
            let dir = root.path().join(format!("g-{i}-{zeros}"));
            copy_dir(&pristine, &dir);
            let path = active_log_file(&dir);
            let mut data = fs::read(&path).unwrap();
            data.extend((0..len).map(|_| if zeros { 0 } else { rand_byte() }));
            fs::write(&path, data).unwrap();
            check_prefix(&dir, cfg, &batches, batches.len());
        }
    }
}

#[test]
fn flipped_bit_in_a_closed_segment_is_never_served() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = small_config();
    let log = open(dir.path(), cfg);
    let batches = fill(&log, 60, 2, 100);
    let bases = log.segment_base_offsets();
    assert!(bases.len() >= 3);
    log.close().unwrap();
    // Flip a bit inside a record of the second batch of segment 1 (closed).
    let seg = segment_path(dir.path(), bases[1], "log");
    let mut data = fs::read(&seg).unwrap();
    let first_len = i32::from_be_bytes(data[8..12].try_into().unwrap()) as usize + 12;
    let victim = first_len + 100;
    data[victim] ^= 0x10;
    fs::write(&seg, data).unwrap();
    for marker in [true, false] {
        if !marker {
            fs::remove_file(dir.path().join(CLEAN_SHUTDOWN_FILE)).ok();
        }
        let log = open(dir.path(), cfg);
        let bad = bases[1] + 2;
        match log.read(bad, 1 << 20, i64::MAX) {
            Err(ReadError::Corrupt { .. }) => {}
            other => panic!("corrupt batch served: {other:?}"),
        }
        // Reading from the segment start serves the intact batch before the bad one and
        // stops there, never past it.
        match log.read(bases[1], 1 << 20, i64::MAX) {
            Ok(r) => assert_eq!(
                (r.first_offset, r.next_offset, r.batches.len()),
                (bases[1], bad, first_len),
                "read went past a corrupt batch"
            ),
            Err(e) => panic!("{e}"),
        }
        assert!(matches!(
            log.batch_headers(bad).unwrap().next(),
            Some(Err(ReadError::Corrupt { .. }))
        ));
        let rep = log.verify().unwrap();
        assert_eq!(rep.problems.len(), 1, "{:?}", rep.problems);
        // Other segments still read exactly.
        let r = log.read(bases[2], 1 << 20, i64::MAX).unwrap();
        let i = batches.iter().position(|(b, _)| *b == bases[2]).unwrap();
        assert_eq!(
            &r.batches[..batches[i].1.len()],
            &expected_bytes(&batches[i].1, bases[2])[..]
        );
        assert_eq!(log.log_end(), 120);
        log.close().unwrap();
    }
}

#[derive(Clone, Copy, Debug)]
enum Damage {
    Delete,
    Empty,
    Half,
    Ragged,
    Scribble,
    ZeroTail,
}

#[test]
fn damaged_indexes_are_rebuilt_and_lookups_stay_exact() {
    let root = tempfile::tempdir().unwrap();
    let pristine = root.path().join("pristine");
    let cfg = LogConfig {
        index_interval_bytes: 128,
        ..small_config()
    };
    let log = open(&pristine, cfg);
    let mut stamps = Vec::new();
    for i in 0..80i64 {
        let ts = 1000 + 10 * i + if i % 7 == 0 { 500 } else { 0 };
        log.append(&batch(2, 60, ts), AppendOptions::default())
            .unwrap();
        stamps.push(ts + 1);
    }
    let bases = log.segment_base_offsets();
    let expect_ts: Vec<(i64, Option<i64>)> = (900..2400)
        .step_by(7)
        .map(|t| (t, stamps.iter().position(|&m| m >= t).map(|i| i as i64 * 2)))
        .collect();
    let expected_all = read_all(&log, 0);
    log.close().unwrap();
    let mut n = 0;
    for damage in [
        Damage::Delete,
        Damage::Empty,
        Damage::Half,
        Damage::Ragged,
        Damage::Scribble,
        Damage::ZeroTail,
    ] {
        for ext in ["index", "timeindex"] {
            for which in [0, bases.len() / 2, bases.len() - 1] {
                for marker in [true, false] {
                    n += 1;
                    let dir = root.path().join(format!("d{n}"));
                    copy_dir(&pristine, &dir);
                    if !marker {
                        fs::remove_file(dir.join(CLEAN_SHUTDOWN_FILE)).unwrap();
                    }
                    let p = segment_path(&dir, bases[which], ext);
                    let data = fs::read(&p).unwrap();
                    match damage {
                        Damage::Delete => fs::remove_file(&p).unwrap(),
                        Damage::Empty => fs::write(&p, b"").unwrap(),
                        Damage::Half => fs::write(&p, &data[..data.len() / 2]).unwrap(),
                        Damage::Ragged => {
                            fs::write(&p, &data[..data.len().saturating_sub(3)]).unwrap()
                        }
                        Damage::Scribble => {
                            let s: Vec<u8> =
                                (0..data.len()).map(|i| (i * 167 + 13) as u8).collect();
                            fs::write(&p, s).unwrap();
                        }
                        Damage::ZeroTail => {
                            let mut d = data.clone();
                            let h = d.len() / 2;
                            d[h..].fill(0);
                            fs::write(&p, d).unwrap();
                        }
                    }
                    let log = open(&dir, cfg);
                    assert_eq!(
                        read_all(&log, 0),
                        expected_all,
                        "{damage:?} {ext} seg {which} marker {marker}"
                    );
                    for off in 0..log.log_end() {
                        let r = log.read(off, 1, i64::MAX).unwrap();
                        assert_eq!(r.first_offset, off - off % 2, "{damage:?} {ext} read {off}");
                    }
                    for &(t, want) in &expect_ts {
                        let got = log.offset_for_timestamp(t).unwrap().map(|x| x.offset);
                        assert_eq!(
                            got, want,
                            "{damage:?} {ext} seg {which} marker {marker} ts {t}"
                        );
                    }
                    assert!(p.exists(), "index rebuilt");
                    assert!(log.verify().unwrap().problems.is_empty());
                    log.close().unwrap();
                    fs::remove_dir_all(&dir).unwrap();
                }
            }
        }
    }
}
