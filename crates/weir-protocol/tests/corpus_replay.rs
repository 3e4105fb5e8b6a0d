//! Replays the request_decode fuzz corpus as an ordinary test: every input must
//! satisfy the same round-trip property the fuzz target checks.

use std::path::PathBuf;

/// The corpus is seeded with one request per advertised API at its lowest and highest
/// version; fewer files means it went missing.
const CORPUS_FILES_MIN: usize = 40;

#[test]
fn request_decode_corpus_replays() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/request_decode");
    let mut n = 0;
    let mut failures = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        let input = std::fs::read(&path).unwrap();
        if let Err(violation) = weir_protocol::check::request_roundtrip(&input) {
            failures.push(format!("{}: {violation}", path.display()));
        }
        n += 1;
    }
    assert!(
        n >= CORPUS_FILES_MIN,
        "only {n} corpus files in {}",
        dir.display()
    );
    assert!(failures.is_empty(), "{failures:#?}");
}

/// The corpus reaches every API key at every version weir advertises: for each, at least
/// one input decodes (so the fuzzer's mutations start from a valid body of each).
#[test]
fn request_decode_corpus_covers_every_advertised_key_and_version() {
    use weir_protocol::{ADVERTISED, Decoder, RequestBody};
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/request_decode");
    let mut decoded = std::collections::BTreeSet::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let input = std::fs::read(entry.unwrap().path()).unwrap();
        let [k0, k1, v0, v1, body @ ..] = &input[..] else {
            continue;
        };
        let key = i16::from_be_bytes([*k0, *k1]);
        let version = i16::from_be_bytes([*v0, *v1]);
        let Some(api) = weir_protocol::ApiKey::from_i16(key) else {
            continue;
        };
        let mut d = Decoder::new(bytes::Bytes::copy_from_slice(body));
        if RequestBody::decode(api, &mut d, version).is_ok() {
            decoded.insert((key, version));
        }
    }
    let mut missing = Vec::new();
    for &(api, min, max) in ADVERTISED {
        for v in min..=max {
            if !decoded.contains(&(api.as_i16(), v)) {
                missing.push(format!("{api:?} v{v}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "no decodable corpus input for {missing:?}"
    );
}
