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
