//! A damaged batch in a closed segment: reads serve the intact batches before it, refuse
//! the damaged batch itself as corrupt, and serve what follows it. Found by the broker-level
//! fault tests: a read from an intact offset failed as a whole because a later batch in
//! the same read was damaged, so a consumer could not get past intact data.

mod common;

use common::*;
use weir_storage::{ReadError, segment_path};

#[test]
fn reads_stop_before_a_damaged_batch_and_refuse_only_it() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), small_config());
    let batches = fill(&log, 80, 2, 30);
    assert!(log.segment_count() >= 2);
    log.close().unwrap();
    drop(log);
    // Flip a bit in the records of the first segment's third batch.
    let path = segment_path(dir.path(), 0, "log");
    let mut bytes = std::fs::read(&path).unwrap();
    let third = batches[0].1.len() + batches[1].1.len();
    bytes[third + 64] ^= 0x20;
    std::fs::write(&path, &bytes).unwrap();
    let log = open(dir.path(), small_config());
    // From offset 0: the two intact batches, not an error.
    let r = log.read(0, 1 << 20, i64::MAX).unwrap();
    assert_eq!(
        r.batches.to_vec(),
        [
            expected_bytes(&batches[0].1, 0),
            expected_bytes(&batches[1].1, batches[1].0)
        ]
        .concat()
    );
    assert_eq!(r.next_offset, batches[2].0);
    // The damaged batch: corrupt, never served.
    match log.read(batches[2].0, 1 << 20, i64::MAX) {
        Err(ReadError::Corrupt { position, .. }) => assert_eq!(position, third as u64),
        other => panic!("damaged batch read as {other:?}"),
    }
    // After it: served.
    let r = log.read(batches[3].0, 1 << 20, i64::MAX).unwrap();
    assert_eq!(r.first_offset, batches[3].0);
}
