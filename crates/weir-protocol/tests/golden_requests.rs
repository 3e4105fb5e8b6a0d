//! Golden bytes: request frames that real clients sent to `weir serve`, captured by
//! `tests/compat/record_proxy.py` (`tests/compat/run.sh --record DIR`) from confluent-kafka
//! 2.16.1 (librdkafka 2.16.0), kafka-python 3.0.12, aiokafka 0.14.0, kafkajs 2.2.4 and kcat 1.7.1
//! (librdkafka 2.0.2) — including the group APIs (FindCoordinator, JoinGroup, SyncGroup,
//! Heartbeat, LeaveGroup, OffsetCommit, OffsetFetch) of confluent-kafka and kafkajs consumers,
//! and (`confluent-kip848`) the first ConsumerGroupHeartbeat v1 of a confluent-kafka consumer
//! with `group.protocol=consumer`, which carries an empty SubscribedTopicRegex beside its topic
//! names. Each must decode, and re-encode to the very same bytes.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use weir_protocol::{RequestBody, decode_request, encode_request};

fn fixtures() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/golden");
    let mut files = Vec::new();
    for client in std::fs::read_dir(&root).expect("golden fixtures dir") {
        for f in std::fs::read_dir(client.unwrap().path()).unwrap() {
            files.push(f.unwrap().path());
        }
    }
    files.sort();
    files
}

#[test]
fn real_client_requests_decode_and_reencode_byte_identically() {
    let files = fixtures();
    assert!(
        files.len() >= 30,
        "expected the captured fixtures, found {}",
        files.len()
    );
    let mut clients = std::collections::BTreeSet::new();
    for path in &files {
        let raw = std::fs::read(path).unwrap();
        let size = i32::from_be_bytes(raw[..4].try_into().unwrap()) as usize;
        assert_eq!(size + 4, raw.len(), "{}: size prefix", path.display());
        let request = decode_request(Bytes::copy_from_slice(&raw[4..]))
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        // The file name says which API and version the client sent.
        let name = path.file_stem().unwrap().to_str().unwrap();
        let (key, version) = name.split_once("-v").unwrap();
        assert_eq!(
            request.header.api_key,
            key.parse::<i16>().unwrap(),
            "{name}"
        );
        assert_eq!(
            request.header.api_version,
            version.parse::<i16>().unwrap(),
            "{name}"
        );
        let encoded = encode_request(&request.header, &request.body).unwrap();
        assert_eq!(
            &encoded.to_bytes()[..],
            &raw[..],
            "{}: re-encoding differs",
            path.display()
        );
        if let RequestBody::Produce(p) = &request.body {
            // The batch inside a real Produce stays a zero-copy slice and passes its CRC.
            let records = p.topic_data[0].partition_data[0].records.as_ref().unwrap();
            let (batch, _) = weir_protocol::records::RecordBatch::parse_first(records).unwrap();
            batch.verify_crc().unwrap();
        }
        clients.insert(path.parent().unwrap().file_name().unwrap().to_owned());
    }
    assert_eq!(
        clients.len(),
        6,
        "one folder per client (and confluent-kip848)"
    );
}

/// librdkafka 2.16's KIP-848 join: its own member id (v1), names, and `""` as the regex.
#[test]
fn librdkafka_consumer_group_heartbeat_sends_an_empty_regex() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/golden");
    let raw = std::fs::read(root.join("confluent-kip848/68-v1.bin")).unwrap();
    let request = decode_request(Bytes::copy_from_slice(&raw[4..])).unwrap();
    let RequestBody::ConsumerGroupHeartbeat(q) = request.body else {
        panic!("not a ConsumerGroupHeartbeat")
    };
    assert_eq!((q.member_epoch, q.rebalance_timeout_ms), (0, 300_000));
    assert_eq!(q.member_id.len(), 22, "a client-chosen Kafka uuid");
    assert_eq!(q.subscribed_topic_regex.as_deref(), Some(""));
    assert_eq!(q.subscribed_topic_names.map(|n| n.len()), Some(1));
    assert_eq!(q.topic_partitions.map(|t| t.len()), Some(0));
}
