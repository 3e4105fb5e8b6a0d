//! Replays the `segment_recovery`, `index_load` and `txn_index_load` fuzz corpora through the fuzz
//! targets' properties as ordinary tests, and checks that the properties can fail.

use std::path::{Path, PathBuf};

use weir_storage::check::{
    IndexInput, RecoveryInput, TxnIndexInput, index_load, segment_recovery, txn_index_load,
    valid_prefix_len,
};
use weir_storage::testing::{BatchSpec, batch};

fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target)
}

/// Seeds each corpus holds at least.
const SEEDS_MIN: usize = 8;

fn replay(target: &str, property: impl Fn(&Path, &[u8]) -> Result<(), String>) {
    let scratch = tempfile::tempdir().unwrap();
    let mut n = 0;
    let mut failures = Vec::new();
    for entry in std::fs::read_dir(corpus_dir(target)).unwrap() {
        let path = entry.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        if let Err(broken) = property(&scratch.path().join("log"), &data) {
            failures.push(format!("{}: {broken}", path.display()));
        }
        n += 1;
    }
    assert!(n >= SEEDS_MIN, "only {n} files in the {target} corpus");
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn segment_recovery_corpus_replays() {
    replay("segment_recovery", |dir, data| {
        segment_recovery(dir, data).map(|_| ())
    });
}

#[test]
fn index_load_corpus_replays() {
    replay("index_load", |dir, data| index_load(dir, data).map(|_| ()));
}

#[test]
fn txn_index_load_corpus_replays() {
    replay("txn_index_load", |dir, data| {
        txn_index_load(dir, data).map(|_| ())
    });
}

/// A script of transactions over several segments: producers 0..=3 writing, committing
/// and aborting, plain batches between (see [`TxnIndexInput`]).
fn txn_script() -> Vec<u8> {
    let mut s = Vec::new();
    for round in 0..6u8 {
        s.extend_from_slice(&[0x30, 0x31, 0x40, 0x12, 0x0c, 0x40, 0x09]);
        s.push(0x0c | (round & 3));
        s.extend_from_slice(&[0x33, 0x40, 0x0f]);
    }
    s.truncate(weir_storage::check::TXN_SCRIPT_OPS_MAX);
    s
}

fn txn_seeds() -> Vec<(String, Vec<u8>)> {
    let script = txn_script();
    let entry = weir_storage::AbortedTxn {
        producer_id: 0,
        first_offset: 0,
        last_offset: 5,
        last_stable_offset: 1,
    }
    .encode();
    let mut wrong_version = entry;
    wrong_version[1] = 1;
    let garbage: Vec<u8> = (0..102u32).map(|i| (i * 53 + 11) as u8).collect();
    let mut out = Vec::new();
    for (name, segment, replacement) in [
        ("untouched-empty", 0usize, None),
        ("deleted-first", 0, None),
        ("deleted-last", 127, None),
        ("one-entry", 1, Some(&entry[..])),
        ("ragged", 2, Some(&entry[..20])),
        ("unknown-version", 3, Some(&wrong_version[..])),
        ("garbage", 0, Some(&garbage[..])),
        ("empty", 1, Some(&[][..])),
        ("twice", 4, Some(&[entry, entry].concat()[..])),
    ] {
        let script = if name == "untouched-empty" {
            &[][..]
        } else {
            &script[..]
        };
        let input = TxnIndexInput {
            script,
            segment,
            replacement,
        };
        out.push((name.to_string(), input.encode()));
    }
    out
}

#[test]
fn txn_seeds_reach_aborts_in_several_segments() {
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path().join("log");
    for (name, data) in txn_seeds() {
        let aborted = txn_index_load(&dir, &data).unwrap_or_else(|e| panic!("{name}: {e}"));
        if name != "untouched-empty" {
            assert!(aborted >= 3, "{name}: {aborted} aborts");
        }
    }
    let seeds = txn_seeds();
    let input = TxnIndexInput::parse(&seeds[3].1);
    assert_eq!(input.script, &txn_script()[..]);
    assert_eq!(input.segment, 1);
}

/// A chain of `n` valid batches with contiguous offsets from 0.
fn chain(n: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut next = 0i64;
    for i in 0..n {
        let mut b = BatchSpec::new(i % 3 + 1, 30 + i, 1_000 + i as i64).build();
        b[..8].copy_from_slice(&next.to_be_bytes());
        next += (i % 3 + 1) as i64;
        out.extend_from_slice(&b);
    }
    out
}

fn recovery_seeds() -> Vec<(String, Vec<u8>)> {
    let log = chain(12);
    let mut flipped = log.clone();
    flipped[log.len() / 2] ^= 0x10;
    let plain = |clean: bool, bytes: &[u8]| {
        RecoveryInput {
            clean,
            index: None,
            timeindex: None,
            log: bytes,
        }
        .encode()
    };
    let zero_index = [0u8; 48];
    let garbage: Vec<u8> = (0..96u32).map(|i| (i * 97 + 13) as u8).collect();
    vec![
        ("empty".into(), plain(false, &[])),
        ("valid".into(), plain(false, &log)),
        ("valid-clean".into(), plain(true, &log)),
        ("torn-tail".into(), plain(false, &log[..log.len() - 7])),
        ("torn-tail-clean".into(), plain(true, &log[..log.len() - 7])),
        ("flipped-bit".into(), plain(false, &flipped)),
        ("flipped-bit-clean".into(), plain(true, &flipped)),
        (
            "zero-tail".into(),
            plain(false, &[&log[..], &[0u8; 200][..]].concat()),
        ),
        (
            "garbage-indexes-clean".into(),
            RecoveryInput {
                clean: true,
                index: Some(&garbage),
                timeindex: Some(&garbage[..60]),
                log: &log,
            }
            .encode(),
        ),
        (
            "zero-indexes".into(),
            RecoveryInput {
                clean: false,
                index: Some(&zero_index),
                timeindex: Some(&zero_index),
                log: &log,
            }
            .encode(),
        ),
    ]
}

fn index_seeds() -> Vec<(String, Vec<u8>)> {
    let garbage: Vec<u8> = (0..120u32).map(|i| (i * 31 + 7) as u8).collect();
    let mut out = Vec::new();
    for (name, unclean, index, timeindex, segment) in [
        ("untouched", false, None, None, 0usize),
        (
            "garbage-both",
            false,
            Some(&garbage[..]),
            Some(&garbage[..]),
            0,
        ),
        ("garbage-index-last", false, Some(&garbage[..]), None, 9),
        ("zero-time-unclean", true, None, Some(&[0u8; 36][..]), 1),
        ("short-index", false, Some(&garbage[..5]), None, 1),
        ("empty-both", true, Some(&[][..]), Some(&[][..]), 0),
        ("ragged-time", false, None, Some(&garbage[..29]), 2),
        (
            "garbage-unclean",
            true,
            Some(&garbage[..]),
            Some(&garbage[..]),
            0,
        ),
    ] {
        out.push((
            name.to_string(),
            IndexInput {
                batches: 30,
                value_bytes: 120,
                segment,
                unclean,
                index,
                timeindex,
            }
            .encode(),
        ));
    }
    out
}

#[test]
fn seeds_satisfy_the_properties_and_reach_the_interesting_cases() {
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path().join("log");
    let mut cut = 0;
    for (name, data) in recovery_seeds() {
        let out = segment_recovery(&dir, &data).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(out.opened, "{name} did not open");
        let input = RecoveryInput::parse(&data);
        cut += usize::from(out.kept_bytes < input.log.len() as u64);
    }
    assert!(cut >= 3, "the seeds must exercise truncation");
    for (name, data) in index_seeds() {
        let segments = index_load(&dir, &data).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(segments >= 2, "{name}: {segments} segments");
    }
}

#[test]
fn the_oracle_finds_the_valid_prefix() {
    let log = chain(5);
    assert_eq!(valid_prefix_len(&log), log.len());
    assert!(valid_prefix_len(&log[..log.len() - 1]) < log.len() - 1);
    // A batch whose base offset does not continue the chain ends the prefix.
    let mut gap = log.clone();
    gap.extend_from_slice(&batch(1, 10, 5)); // base offset 0, not the next offset
    assert_eq!(valid_prefix_len(&gap), log.len());
}

/// Writes the seeds: `WEIR_WRITE_CORPUS=1 cargo test -p weir-storage --test fuzz_corpus -- --ignored`.
#[test]
#[ignore]
fn write_corpus_seeds() {
    if std::env::var_os("WEIR_WRITE_CORPUS").is_none() {
        return;
    }
    for (target, seeds) in [
        ("segment_recovery", recovery_seeds()),
        ("index_load", index_seeds()),
        ("txn_index_load", txn_seeds()),
    ] {
        let dir = corpus_dir(target);
        std::fs::create_dir_all(&dir).unwrap();
        for (name, bytes) in seeds {
            std::fs::write(dir.join(format!("seed-{name}")), bytes).unwrap();
        }
    }
}
