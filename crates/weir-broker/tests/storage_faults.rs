//! Storage faults at the broker level, through the real wire, with the in-process broker
//! opened over `FaultFs` (`Broker::open_with_fs`): power loss under both durability policies,
//! disk full and fsync EIO, and damaged files on disk (torn and garbage tails, a flipped bit
//! in a closed segment, missing, short and scribbled indexes).

#[allow(dead_code)] // the shared helpers; this file uses only some
mod support;

use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use support::Client;
use support::node::start;
use weir_protocol::ErrorCode;
use weir_protocol::records::{
    BatchBuilder, BatchIter, BatchSettings, DECOMPRESSED_BYTES_MAX_DEFAULT, NewRecord,
};
use weir_storage::{FaultFs, RealFs};

fn record_batch(value: &str) -> Bytes {
    let mut b = BatchBuilder::new(BatchSettings::default());
    b.push(NewRecord {
        // Now, not a fixed date: retention (7 days by default) must not delete the test data.
        timestamp: weir_broker::broker::now_ms(),
        value: Some(Bytes::from(value.to_string())),
        ..Default::default()
    })
    .unwrap();
    b.build().unwrap()
}

/// (error code, base offset) of a one-record produce.
async fn produce(c: &mut Client, partition: i32, value: &str, acks: i16) -> (i16, i64) {
    c.produce("t", partition, acks, record_batch(value)).await
}

/// One fetch at `offset`: the error code, the high watermark and the records (offset, value).
async fn fetch(c: &mut Client, partition: i32, offset: i64) -> (i16, i64, Vec<(i64, String)>) {
    let part = c.fetch_partition("t", partition, offset).await;
    let mut out = Vec::new();
    for batch in BatchIter::new(part.records.clone().unwrap_or_default()) {
        let batch = batch.expect("a served batch parses");
        batch.verify_crc().expect("a served batch is CRC-valid");
        let base = batch.header().base_offset;
        for rec in batch.records(DECOMPRESSED_BYTES_MAX_DEFAULT).unwrap() {
            let rec = rec.unwrap();
            let value = String::from_utf8(rec.value.unwrap().to_vec()).unwrap();
            out.push((base + rec.offset_delta as i64, value));
        }
    }
    (part.error_code, part.high_watermark, out)
}

/// Every record of a partition from offset 0 to the high watermark; the error code of the
/// first failing fetch, if any.
async fn read_all(c: &mut Client, partition: i32) -> (Vec<(i64, String)>, Option<i16>) {
    let mut out = Vec::new();
    let mut at = 0;
    loop {
        let (code, hw, recs) = fetch(c, partition, at).await;
        if code != 0 {
            eprintln!(
                "partition {partition}: fetch at {at} answered {code} (hw {hw}) after {} records",
                out.len()
            );
            return (out, Some(code));
        }
        let recs: Vec<_> = recs.into_iter().filter(|(o, _)| *o >= at).collect();
        if recs.is_empty() {
            assert!(
                at >= hw,
                "no progress at {at} below the high watermark {hw}"
            );
            return (out, None);
        }
        at = recs.last().unwrap().0 + 1;
        out.extend(recs);
    }
}

/// A small deterministic generator (xorshift) for crash points.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }
}

/// The disk keeps a random part of each file's unsynced tail: a prefix, or a prefix then
/// zeros or garbage up to at most the length written (a file never grows past what was
/// written to it).
fn lose_unsynced(rng: &mut Rng, tail: &mut Vec<u8>) {
    let written = tail.len();
    let keep = rng.below(written as u64 + 1) as usize;
    tail.truncate(keep);
    let fill = rng.below((written - keep) as u64 + 1) as usize;
    match rng.below(3) {
        0 => {}
        1 => tail.extend(std::iter::repeat_n(0u8, fill)),
        _ => {
            for _ in 0..fill {
                tail.push(rng.next() as u8);
            }
        }
    }
}

/// Produces `n` one-record batches over two partitions (`acks` chosen by `acks_of(i)`),
/// returns (partition, value, acks, answer).
async fn load(
    c: &mut Client,
    n: usize,
    acks_of: impl Fn(usize) -> i16,
) -> Vec<(i32, String, i16, (i16, i64))> {
    let mut sent = Vec::new();
    for i in 0..n {
        let partition = (i % 2) as i32;
        let value = format!("v{i}");
        let acks = acks_of(i);
        let answer = produce(c, partition, &value, acks).await;
        sent.push((partition, value, acks, answer));
    }
    sent
}

/// After recovery: each partition holds a prefix of what was appended to it, in order, at
/// offsets 0.. (no gap, no reorder); returns the records read.
async fn check_prefix(
    c: &mut Client,
    sent: &[(i32, String, i16, (i16, i64))],
) -> Vec<Vec<(i64, String)>> {
    let mut parts = Vec::new();
    for partition in 0..2 {
        let (recs, err) = read_all(c, partition).await;
        assert_eq!(err, None, "partition {partition} reads fully");
        let appended: Vec<&String> = sent
            .iter()
            .filter(|s| s.0 == partition && s.3.0 == 0)
            .map(|s| &s.1)
            .collect();
        for (i, (offset, value)) in recs.iter().enumerate() {
            assert_eq!(
                *offset, i as i64,
                "partition {partition}: a gap before {offset}"
            );
            assert_eq!(
                Some(&value),
                appended.get(i),
                "partition {partition} offset {offset}: not the record appended there"
            );
        }
        parts.push(recs);
    }
    parts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn power_loss_under_the_fsync_policy_loses_nothing_acknowledged() {
    for seed in 1..=6u64 {
        let dir = tempfile::tempdir().unwrap();
        let fs = FaultFs::new();
        let node = start(dir.path(), Arc::new(fs.clone()), &[]).await;
        let mut c = Client::connect(node.addr).await;
        c.create_topic("t", 2, &[("segment.bytes", "2000")]).await;
        // acks=-1 mostly; every third acks=1 (answered before its fsync).
        let sent = load(&mut c, 60, |i| if i % 3 == 2 { 1 } else { -1 }).await;
        drop(c);
        node.crash().await;
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        fs.crash_with(|_, tail| lose_unsynced(&mut rng, tail))
            .unwrap();
        let node = start(dir.path(), Arc::new(RealFs), &[]).await;
        let mut c = Client::connect(node.addr).await;
        let parts = check_prefix(&mut c, &sent).await;
        for (partition, value, acks, (code, offset)) in &sent {
            if *acks == -1 {
                assert_eq!(*code, 0);
                let got = parts[*partition as usize].get(*offset as usize);
                assert_eq!(
                    got,
                    Some(&(*offset, value.clone())),
                    "seed {seed}: acknowledged {value} lost at {partition}/{offset}"
                );
            }
        }
        // The recovered log takes new appends right after what it kept.
        let kept = parts[0].len() as i64;
        assert_eq!(produce(&mut c, 0, "after", -1).await, (0, kept));
        drop(c);
        node.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn power_loss_under_the_page_cache_policy_loses_only_an_unsynced_tail() {
    let mut lost_some = false;
    for seed in 1..=6u64 {
        let dir = tempfile::tempdir().unwrap();
        let fs = FaultFs::new();
        // Kafka's policy: acknowledged at once, fsynced by the flusher (here: never).
        let settings = [("log_flush_interval_ms", "3600000")];
        let node = start(dir.path(), Arc::new(fs.clone()), &settings).await;
        let mut c = Client::connect(node.addr).await;
        c.create_topic("t", 2, &[("segment.bytes", "2000")]).await;
        let sent = load(&mut c, 60, |_| -1).await;
        assert!(sent.iter().all(|s| s.3.0 == 0));
        drop(c);
        node.crash().await;
        let mut rng = Rng(seed.wrapping_mul(0x2545_f491_4f6c_dd1d));
        fs.crash_with(|_, tail| lose_unsynced(&mut rng, tail))
            .unwrap();
        let node = start(dir.path(), Arc::new(RealFs), &settings).await;
        let mut c = Client::connect(node.addr).await;
        let parts = check_prefix(&mut c, &sent).await;
        lost_some |= parts.iter().map(Vec::len).sum::<usize>() < sent.len();
        drop(c);
        node.stop().await;
    }
    assert!(
        lost_some,
        "the simulated power loss never lost an unsynced tail"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disk_full_is_a_storage_error_never_an_ack_and_nothing_torn_survives() {
    let dir = tempfile::tempdir().unwrap();
    let fs = FaultFs::new();
    let node = start(dir.path(), Arc::new(fs.clone()), &[]).await;
    let mut c = Client::connect(node.addr).await;
    c.create_topic("t", 2, &[]).await;
    let mut acked = load(&mut c, 10, |_| -1).await;
    // Room for half a batch: the write is torn, then refused.
    fs.set_space_left(Some(40));
    let (code, offset) = produce(&mut c, 0, "no-room", -1).await;
    assert_eq!((code, offset), (ErrorCode::KAFKA_STORAGE_ERROR.0, -1));
    let (code, _) = produce(&mut c, 1, "no-room-either", -1).await;
    assert_eq!(
        code,
        ErrorCode::KAFKA_STORAGE_ERROR.0,
        "the disk is full for everyone"
    );
    // Nothing torn is visible, and space coming back lets writes continue.
    check_prefix(&mut c, &acked).await;
    fs.set_space_left(None);
    acked.extend(load(&mut c, 4, |_| -1).await);
    assert!(acked.iter().all(|s| s.3.0 == 0));
    drop(c);
    node.crash().await;
    fs.crash(0).unwrap();
    let node = start(dir.path(), Arc::new(RealFs), &[]).await;
    let mut c = Client::connect(node.addr).await;
    let parts = check_prefix(&mut c, &acked).await;
    assert_eq!(parts.iter().map(Vec::len).sum::<usize>(), acked.len());
    drop(c);
    node.stop().await;
    for partition in 0..2 {
        let log = weir_storage::Log::open(
            &dir.path().join(format!("t-{partition}")),
            weir_storage::LogConfig::default(),
            Arc::new(RealFs),
        )
        .unwrap();
        assert_eq!(log.verify().unwrap().problems, Vec::<String>::new());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fsync_eio_poisons_only_its_partition() {
    let dir = tempfile::tempdir().unwrap();
    let fs = FaultFs::new();
    let node = start(dir.path(), Arc::new(fs.clone()), &[]).await;
    let mut c = Client::connect(node.addr).await;
    c.create_topic("t", 2, &[]).await;
    let mut acked = load(&mut c, 10, |_| -1).await;
    fs.fail_next_syncs(1);
    let (code, offset) = produce(&mut c, 0, "eio", -1).await;
    assert_eq!((code, offset), (ErrorCode::KAFKA_STORAGE_ERROR.0, -1));
    // The partition is poisoned: after a failed fsync its page cache cannot be trusted.
    for i in 0..3 {
        let (code, _) = produce(&mut c, 0, &format!("refused-{i}"), -1).await;
        assert_eq!(code, ErrorCode::KAFKA_STORAGE_ERROR.0);
    }
    // The other partition keeps working.
    for i in 0..3 {
        let value = format!("p1-after-{i}");
        let answer = produce(&mut c, 1, &value, -1).await;
        assert_eq!(answer.0, 0);
        acked.push((1, value, -1, answer));
    }
    drop(c);
    node.crash().await;
    fs.crash(0).unwrap();
    let node = start(dir.path(), Arc::new(RealFs), &[]).await;
    let mut c = Client::connect(node.addr).await;
    for (partition, value, _, (_, offset)) in &acked {
        let (_, _, recs) = fetch(&mut c, *partition, *offset).await;
        assert_eq!(
            recs.first(),
            Some(&(*offset, value.clone())),
            "acknowledged {value} lost"
        );
    }
    // After the restart the partition takes writes again.
    assert_eq!(produce(&mut c, 0, "healed", -1).await.0, 0);
    drop(c);
    node.stop().await;
}

fn segment_logs(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut logs: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    logs.sort();
    logs
}

/// Writes 40 records to `t-0` in several segments, stops cleanly; returns what was written.
async fn written_log(dir: &Path) -> Vec<(i32, String, i16, (i16, i64))> {
    let node = start(dir, Arc::new(RealFs), &[]).await;
    let mut c = Client::connect(node.addr).await;
    c.create_topic(
        "t",
        2,
        &[("segment.bytes", "1000"), ("index.interval.bytes", "100")],
    )
    .await;
    let sent = load(&mut c, 80, |_| -1).await;
    drop(c);
    node.stop().await;
    assert!(segment_logs(&dir.join("t-0")).len() >= 3);
    sent
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn torn_and_garbage_tails_are_cut_and_the_rest_is_served() {
    for (clean, garbage) in [(true, false), (true, true), (false, false), (false, true)] {
        let dir = tempfile::tempdir().unwrap();
        let sent = written_log(dir.path()).await;
        let part = dir.path().join("t-0");
        if !clean {
            std::fs::remove_file(part.join(weir_storage::CLEAN_SHUTDOWN_FILE)).unwrap();
        }
        let last = segment_logs(&part).pop().unwrap();
        let mut bytes = std::fs::read(&last).unwrap();
        let cut = bytes.len() - 9; // the last batch loses its end
        bytes.truncate(cut);
        if garbage {
            bytes.extend((0..500u32).map(|i| (i * 151 + 7) as u8));
        }
        std::fs::write(&last, &bytes).unwrap();
        let node = start(dir.path(), Arc::new(RealFs), &[]).await;
        let mut c = Client::connect(node.addr).await;
        let parts = check_prefix(&mut c, &sent).await;
        let in_p0 = sent.iter().filter(|s| s.0 == 0).count();
        assert_eq!(
            parts[0].len(),
            in_p0 - 1,
            "clean {clean} garbage {garbage}: only the torn batch goes"
        );
        assert_eq!(parts[1].len(), sent.len() - in_p0);
        // The cut partition continues right after its last whole batch.
        assert_eq!(produce(&mut c, 0, "next", -1).await, (0, in_p0 as i64 - 1));
        drop(c);
        node.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flipped_bit_in_a_closed_segment_is_never_served() {
    let dir = tempfile::tempdir().unwrap();
    let sent = written_log(dir.path()).await;
    let part = dir.path().join("t-0");
    let first = &segment_logs(&part)[0];
    let mut bytes = std::fs::read(first).unwrap();
    // A bit inside the records of the segment's second batch (past its 61-byte header).
    let batch_len = i32::from_be_bytes(bytes[8..12].try_into().unwrap()) as usize + 12;
    let at = batch_len + 63;
    bytes[at] ^= 0x04;
    std::fs::write(first, &bytes).unwrap();
    let node = start(dir.path(), Arc::new(RealFs), &[]).await;
    let mut c = Client::connect(node.addr).await;
    // Offset 0 is intact and served; offset 1 (the damaged batch) is refused as corrupt,
    // never served; everything after the damaged batch is served.
    let (code, _, recs) = fetch(&mut c, 0, 0).await;
    assert_eq!(code, 0);
    assert_eq!(recs.first(), Some(&(0, sent[0].1.clone())));
    assert!(
        recs.iter().all(|(o, _)| *o == 0),
        "served past the damage: {recs:?}"
    );
    let (code, _, recs) = fetch(&mut c, 0, 1).await;
    assert_eq!(code, ErrorCode::CORRUPT_MESSAGE.0);
    assert!(recs.is_empty());
    let in_p0: Vec<&String> = sent.iter().filter(|s| s.0 == 0).map(|s| &s.1).collect();
    let (code, _, recs) = fetch(&mut c, 0, 2).await;
    assert_eq!(code, 0);
    assert_eq!(recs.first(), Some(&(2, in_p0[2].clone())));
    // The other partition is untouched.
    let (recs, err) = read_all(&mut c, 1).await;
    assert_eq!((recs.len(), err), (sent.len() - in_p0.len(), None));
    drop(c);
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_short_and_scribbled_indexes_change_nothing_served() {
    for clean in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let sent = written_log(dir.path()).await;
        let part = dir.path().join("t-0");
        if !clean {
            std::fs::remove_file(part.join(weir_storage::CLEAN_SHUTDOWN_FILE)).unwrap();
        }
        let logs = segment_logs(&part);
        let index = |i: usize, ext: &str| logs[i].with_extension(ext);
        std::fs::remove_file(index(0, "index")).unwrap();
        std::fs::remove_file(index(0, "timeindex")).unwrap();
        std::fs::write(index(1, "index"), [0u8, 0, 0, 7, 0]).unwrap();
        std::fs::write(index(1, "timeindex"), [1u8; 5]).unwrap();
        let scribble: Vec<u8> = (0..96u32).map(|i| (i * 37 + 11) as u8).collect();
        std::fs::write(index(2, "index"), &scribble).unwrap();
        std::fs::write(index(2, "timeindex"), &scribble).unwrap();
        let node = start(dir.path(), Arc::new(RealFs), &[]).await;
        let mut c = Client::connect(node.addr).await;
        let parts = check_prefix(&mut c, &sent).await;
        assert_eq!(
            parts.iter().map(Vec::len).sum::<usize>(),
            sent.len(),
            "clean {clean}"
        );
        // Random-access reads land on the right record.
        for (offset, value) in parts[0].iter().rev().step_by(3) {
            let (code, _, recs) = fetch(&mut c, 0, *offset).await;
            assert_eq!(code, 0);
            assert_eq!(
                recs.iter().find(|r| r.0 == *offset),
                Some(&(*offset, value.clone()))
            );
        }
        drop(c);
        node.stop().await;
    }
}

async fn create_topic_code(c: &mut Client, name: &str) -> i16 {
    use weir_protocol::messages::create_topics as ct;
    use weir_protocol::messages::{RequestBody, ResponseBody};
    let body = RequestBody::CreateTopics(ct::CreateTopicsRequest {
        topics: vec![ct::CreatableTopic {
            name: name.into(),
            num_partitions: 1,
            replication_factor: 1,
            ..Default::default()
        }],
        timeout_ms: 5000,
        ..Default::default()
    });
    let ResponseBody::CreateTopics(r) = c.call(5, body).await else {
        panic!("not a CreateTopics response")
    };
    r.topics[0].error_code
}

/// Topic metadata goes through the broker's file system too: a failed metadata fsync fails
/// CreateTopics with a storage error instead of being lost, and after power loss the topic is
/// either wholly there or wholly absent (here absent), so creating it again works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_topic_metadata_write_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let fs = FaultFs::new();
    let node = start(dir.path(), Arc::new(fs.clone()), &[]).await;
    let mut c = Client::connect(node.addr).await;
    fs.fail_next_syncs(1);
    assert_eq!(
        create_topic_code(&mut c, "m").await,
        ErrorCode::KAFKA_STORAGE_ERROR.0
    );
    c.create_topic("kept", 1, &[]).await;
    drop(c);
    node.crash().await;
    fs.crash(0).unwrap();
    let node = start(dir.path(), Arc::new(RealFs), &[]).await;
    let mut c = Client::connect(node.addr).await;
    // The topic created before the power loss survived it.
    assert_eq!(c.produce("kept", 0, -1, record_batch("v")).await.0, 0);
    assert_eq!(create_topic_code(&mut c, "m").await, 0);
    drop(c);
    node.stop().await;
}
