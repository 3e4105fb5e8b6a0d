//! Requests encoded by kafka-python 3.0.12's protocol encoder (an independent
//! implementation; see `tests/fixtures/kafka-python/generate.py`) must decode, and
//! re-encode to the very same bytes.

use bytes::Bytes;
use std::path::PathBuf;
use weir_protocol::{RequestBody, decode_request, encode_request};

/// Fixtures written by generate.py; fewer means some went missing.
const FIXTURES_MIN: usize = 45;

fn fixtures() -> Vec<(String, Bytes)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/kafka-python");
    let mut out: Vec<(String, Bytes)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "bin"))
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap().into(),
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn kafka_python_requests_decode_and_reencode_byte_identically() {
    let all = fixtures();
    assert!(all.len() >= FIXTURES_MIN, "only {} fixtures", all.len());
    for (name, bytes) in all {
        let req = decode_request(bytes.clone()).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            req.header.client_id.as_deref(),
            Some("kafka-python"),
            "{name}"
        );
        assert_eq!(
            req.header.correlation_id,
            i32::from(req.header.api_version) + 1,
            "{name}"
        );
        let again =
            encode_request(&req.header, &req.body).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            &again.to_bytes()[4..],
            &bytes[..],
            "{name}: re-encoding differs"
        );
    }
}

#[test]
fn kafka_python_values_are_read_correctly() {
    let all = fixtures();
    let get = |n: &str| {
        decode_request(all.iter().find(|(f, _)| f == n).unwrap().1.clone())
            .unwrap()
            .body
    };
    let RequestBody::Metadata(m) = get("MetadataRequest-v12.bin") else {
        panic!()
    };
    let topics = m.topics.unwrap();
    assert_eq!(topics[0].name.as_deref(), Some("orders"));
    assert!(m.allow_auto_topic_creation);
    let RequestBody::Metadata(m) = get("MetadataRequest-all-v9.bin") else {
        panic!()
    };
    assert_eq!(m.topics, None);
    let RequestBody::Produce(p) = get("ProduceRequest-v9.bin") else {
        panic!()
    };
    assert_eq!(p.acks, -1);
    assert_eq!(p.timeout_ms, 30000);
    let records = p.topic_data[0].partition_data[0].records.clone().unwrap();
    assert_eq!(records.len(), 512);
    assert_eq!(records[255], 255);
    let RequestBody::Fetch(f) = get("FetchRequest-v12.bin") else {
        panic!()
    };
    assert_eq!(f.max_wait_ms, 500);
    assert_eq!(f.isolation_level, 1);
    assert_eq!(f.topics[0].partitions[0].fetch_offset, 42);
    let RequestBody::JoinGroup(j) = get("JoinGroupRequest-v5.bin") else {
        panic!()
    };
    assert_eq!(j.protocol_type, "consumer");
    assert_eq!(j.protocols[0].name, "range");
    assert_eq!(j.group_instance_id, None);
    let RequestBody::ApiVersions(a) = get("ApiVersionsRequest-v3.bin") else {
        panic!()
    };
    assert_eq!(a.client_software_version, "3.0.12");
}

/// Response bodies encoded by kafka-python (what a client expects to read) decode, and
/// weir re-encodes them to the very same bytes.
#[test]
fn kafka_python_response_bodies_decode_and_reencode_byte_identically() {
    use weir_protocol::messages::ApiKey;
    use weir_protocol::{Decoder, Encoder, ResponseBody};
    let dir =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/kafka-python/responses");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let Some((msg, v)) = name.strip_suffix(".bin").and_then(|s| s.rsplit_once("-v")) else {
            continue;
        };
        let version: i16 = v.parse().unwrap();
        let api = msg.strip_suffix("Response").unwrap();
        let key = ApiKey::ALL.into_iter().find(|k| k.name() == api).unwrap();
        let bytes = Bytes::from(std::fs::read(&path).unwrap());
        let mut d = Decoder::new(bytes.clone());
        let body =
            ResponseBody::decode(key, &mut d, version).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(d.remaining(), 0, "{name}");
        let mut e = Encoder::new();
        body.encode(&mut e, version).unwrap();
        assert_eq!(e.finish().to_bytes(), bytes, "{name}: re-encoding differs");
        n += 1;
    }
    assert!(n >= 30, "only {n} response fixtures");
}
