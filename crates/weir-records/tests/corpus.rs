//! Replays the `record_batch` fuzz corpus through the fuzz target's property,
//! as an ordinary test.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use weir_records::{BatchBuilder, BatchSettings, Compression, NewRecord, RecordHeader, check};

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/record_batch")
}

/// Seeds the corpus holds at least (fixtures plus built batches).
const SEEDS_MIN: usize = 15;

#[test]
fn corpus_replays_through_the_round_trip_property() {
    let mut count = 0;
    let mut checked_total = 0;
    for entry in std::fs::read_dir(corpus_dir()).unwrap() {
        let path = entry.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        match check::batch_roundtrip_count(&data) {
            Ok(checked) => checked_total += checked,
            Err(broken) => panic!("{}: {broken}", path.display()),
        }
        count += 1;
    }
    assert!(count >= SEEDS_MIN, "corpus has {count} files");
    // The seeds are valid batches: all but none may be skipped. (A fuzzer's
    // later additions may be invalid; they only need to not break the property.)
    assert!(
        checked_total >= SEEDS_MIN,
        "only {checked_total} batches fully checked"
    );
}

fn seed_batches() -> Vec<(String, Bytes)> {
    let record = |i: i64| NewRecord {
        timestamp: 1_700_000_000_000 - i * 7,
        key: (i % 3 != 0).then(|| Bytes::from(format!("key-{i}"))),
        value: (i % 4 != 1).then(|| Bytes::from(format!("value-{i}-").repeat(i as usize + 1))),
        headers: vec![RecordHeader {
            key: Bytes::from_static(b"h"),
            value: (i % 2 == 0).then(|| Bytes::from_static(b"v")),
        }],
        ..NewRecord::default()
    };
    let mut out = Vec::new();
    for codec in Compression::ALL {
        let mut builder = BatchBuilder::new(BatchSettings {
            compression: codec,
            base_offset: 100,
            producer_id: 9,
            producer_epoch: 0,
            base_sequence: 0,
            ..BatchSettings::default()
        });
        for i in 0..6 {
            builder.push(record(i)).unwrap();
        }
        out.push((format!("built-{}", codec.name()), builder.build().unwrap()));
    }
    // Compacted: offset gaps, kept lastOffsetDelta, delete horizon, LogAppendTime.
    let mut builder = BatchBuilder::new(BatchSettings {
        last_offset_delta: Some(20),
        delete_horizon: Some(1_700_000_100_000),
        log_append_time: Some(1_700_000_200_000),
        ..BatchSettings::default()
    });
    for (delta, i) in [(0, 0), (3, 1), (11, 2)] {
        builder.push_at(delta, record(i)).unwrap();
    }
    out.push(("built-compacted".to_string(), builder.build().unwrap()));
    // A transaction commit marker (control batch).
    let mut builder = BatchBuilder::new(BatchSettings {
        transactional: true,
        control: true,
        producer_id: 9,
        producer_epoch: 1,
        ..BatchSettings::default()
    });
    builder
        .push(NewRecord {
            timestamp: 1_700_000_000_000,
            key: Some(Bytes::from_static(&[0, 0, 0, 1])),
            value: Some(Bytes::from_static(&[0, 0, 0, 0, 0, 5])),
            ..NewRecord::default()
        })
        .unwrap();
    out.push(("built-control".to_string(), builder.build().unwrap()));
    out.push((
        "built-empty".to_string(),
        BatchBuilder::new(BatchSettings::default()).build().unwrap(),
    ));
    out
}

/// Writes the seeds: `WEIR_WRITE_CORPUS=1 cargo test -p weir-records --test corpus -- --ignored`.
#[test]
#[ignore]
fn write_corpus_seeds() {
    if std::env::var_os("WEIR_WRITE_CORPUS").is_none() {
        return;
    }
    let dir = corpus_dir();
    std::fs::create_dir_all(&dir).unwrap();
    for (name, bytes) in seed_batches() {
        std::fs::write(dir.join(name), &bytes).unwrap();
    }
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/records");
    for entry in std::fs::read_dir(fixtures).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "bin") {
            let name = format!("fixture-{}", path.file_stem().unwrap().to_string_lossy());
            std::fs::copy(&path, dir.join(name)).unwrap();
        }
    }
}

#[test]
fn seeds_satisfy_the_property() {
    for (name, bytes) in seed_batches() {
        // Each seed goes through the whole rebuild, not a skip.
        assert_eq!(check::batch_roundtrip_count(&bytes), Ok(1), "{name}");
    }
}

mod mutations {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Edit {
        Flip(usize, u8),
        Insert(usize, u8),
        Remove(usize),
        Truncate(usize),
        /// Overwrite 4 bytes with a big-endian i32 (lengths, counts, deltas).
        Int(usize, i32),
    }

    fn edit() -> impl Strategy<Value = Edit> {
        prop_oneof![
            (any::<usize>(), 1u8..).prop_map(|(at, x)| Edit::Flip(at, x)),
            (any::<usize>(), any::<u8>()).prop_map(|(at, x)| Edit::Insert(at, x)),
            any::<usize>().prop_map(Edit::Remove),
            any::<usize>().prop_map(Edit::Truncate),
            (
                any::<usize>(),
                prop_oneof![
                    Just(-1),
                    Just(0),
                    Just(i32::MAX),
                    Just(i32::MIN),
                    any::<i32>()
                ]
            )
                .prop_map(|(at, x)| Edit::Int(at, x)),
        ]
    }

    fn apply(bytes: &mut Vec<u8>, edit: &Edit) {
        if bytes.is_empty() {
            return;
        }
        let len = bytes.len();
        match *edit {
            Edit::Flip(at, x) => bytes[at % len] ^= x,
            Edit::Insert(at, x) => bytes.insert(at % (len + 1), x),
            Edit::Remove(at) => {
                bytes.remove(at % len);
            }
            Edit::Truncate(at) => bytes.truncate(at % len),
            Edit::Int(at, x) => {
                let at = at % len;
                let end = (at + 4).min(len);
                bytes[at..end].copy_from_slice(&x.to_be_bytes()[..end - at]);
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        /// A small in-CI fuzzer: mutated seeds never break the property.
        #[test]
        fn mutated_seeds_keep_the_property(seed in 0usize..64, edits in prop::collection::vec(edit(), 1..5)) {
            let seeds = seed_batches();
            let mut bytes = seeds[seed % seeds.len()].1.to_vec();
            for edit in &edits {
                apply(&mut bytes, edit);
            }
            prop_assert_eq!(check::batch_roundtrip(&bytes), Ok(()));
        }
    }
}
