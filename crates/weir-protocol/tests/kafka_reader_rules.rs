//! weir reads requests exactly as leniently, and exactly as strictly, as Kafka's own
//! generated readers (`MessageDataGenerator`'s output over `ByteBufferAccessor` and
//! `ByteUtils`) and `RequestContext.parseRequest` do. Each test names the Kafka behaviour
//! it copies; docs/protocol.md ("Reading like Kafka") lists the same rules.

use bytes::Bytes;
use weir_protocol::messages::{FetchRequest, MetadataRequest};
use weir_protocol::{Decoder, RequestBody, decode_request, decode_response};

/// A flexible Metadata v12 request frame (after the size prefix): header v2 with client id
/// "c", then `body`.
fn metadata_v12(body: &[u8]) -> Vec<u8> {
    let mut f = vec![0, 3, 0, 12, 0, 0, 0, 7, 0, 1, b'c', 0];
    f.extend_from_slice(body);
    f
}

fn metadata(frame: Vec<u8>) -> MetadataRequest {
    match decode_request(Bytes::from(frame)).expect("decodes").body {
        RequestBody::Metadata(m) => m,
        other => panic!("not Metadata: {other:?}"),
    }
}

/// librdkafka 2.16's all-topics Metadata request, captured from confluent-kafka 2.16.1's
/// `AdminClient.list_topics()` through tests/compat/record_proxy.py. librdkafka reserves four
/// bytes for the topics count, writes the compact null (`00`) in the first and leaves the
/// other three in place, so the body Kafka reads (null topics, allow_auto_topic_creation
/// false, include_topic_authorized_operations false, no tags) is followed by `01 00 00`.
/// Kafka's `RequestContext.parseRequest` reads the body and ignores what follows.
#[test]
fn librdkafka_2_16_all_topics_metadata_decodes_as_kafka_reads_it() {
    let raw = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/quirks/librdkafka-2.16.0-metadata-v12-all-topics.bin"
    ))
    .unwrap();
    let size = i32::from_be_bytes(raw[..4].try_into().unwrap()) as usize;
    assert_eq!(size + 4, raw.len());
    let request = decode_request(Bytes::copy_from_slice(&raw[4..])).expect("Kafka answers it");
    assert_eq!(request.header.api_version, 12);
    assert_eq!(request.header.client_id.as_deref(), Some("rdkafka"));
    assert_eq!(request.trailing_bytes, 3);
    let RequestBody::Metadata(m) = request.body else {
        panic!("not Metadata")
    };
    assert_eq!(m.topics, None, "all topics");
    assert!(!m.allow_auto_topic_creation);
    assert!(!m.include_topic_authorized_operations);
}

/// `RequestContext.parseRequest` → `AbstractRequest.parseRequest` reads the body and never
/// checks that the buffer is exhausted; `AbstractResponse.parseResponse` likewise.
#[test]
fn bytes_after_a_body_are_ignored_in_requests_and_responses() {
    let m = metadata(metadata_v12(&[1, 0, 0, 0, 0xde, 0xad, 0xbe, 0xef]));
    assert_eq!(m.topics, Some(Vec::new()));
    // A Heartbeat v0 response (error code 0) with two stray bytes.
    let frame = Bytes::from_static(&[0, 0, 0, 9, 0, 0, 0x55, 0x55]);
    let (header, _) =
        decode_response(weir_protocol::messages::ApiKey::Heartbeat, 0, frame).expect("decodes");
    assert_eq!(header.correlation_id, 9);
}

/// `ByteUtils.readUnsignedVarint`: up to five bytes, non-minimal forms accepted, a fifth
/// byte's bits past bit 31 dropped, a fifth byte with the continuation bit refused.
#[test]
fn unsigned_varints_are_read_as_byte_utils_reads_them() {
    use weir_protocol::primitives::unsigned_varint;
    assert_eq!(unsigned_varint(&[0x96, 0x01]).unwrap().1, 150);
    assert_eq!(unsigned_varint(&[0x80, 0x00]).unwrap().1, 0);
    assert_eq!(unsigned_varint(&[0x81, 0x80, 0x80, 0x00]).unwrap().1, 1);
    assert_eq!(
        unsigned_varint(&[0xff, 0xff, 0xff, 0xff, 0x0f]).unwrap().1,
        u32::MAX
    );
    assert_eq!(
        unsigned_varint(&[0xff, 0xff, 0xff, 0xff, 0x7f]).unwrap().1,
        u32::MAX
    );
    assert_eq!(
        unsigned_varint(&[0x80, 0x80, 0x80, 0x80, 0x10]).unwrap().1,
        0
    );
    assert!(unsigned_varint(&[0xff, 0xff, 0xff, 0xff, 0x80, 0x01]).is_err());
    assert!(unsigned_varint(&[0x80]).is_err());
    // An overlong compact count inside a request: `81 80 00` is an array of 0 topics.
    let m = metadata(metadata_v12(&[0x81, 0x80, 0x00, 0, 0, 0]));
    assert_eq!(m.topics, Some(Vec::new()));
}

/// The generated readers read a bool as `readByte() != 0`.
#[test]
fn any_non_zero_bool_byte_is_true() {
    let m = metadata(metadata_v12(&[1, 2, 0xff, 0]));
    assert!(m.allow_auto_topic_creation);
    assert!(m.include_topic_authorized_operations);
}

/// `Readable.readString` is `new String(bytes, UTF_8)`, which replaces malformed input with
/// U+FFFD instead of failing.
#[test]
fn invalid_utf8_becomes_the_replacement_character() {
    // One topic (compact count 2), topic id zero, name "a\xffb" (compact length 4), no tags.
    let mut body = vec![2];
    body.extend_from_slice(&[0; 16]);
    body.extend_from_slice(&[4, b'a', 0xff, b'b', 0]);
    body.extend_from_slice(&[0, 0, 0]);
    let m = metadata(metadata_v12(&body));
    let topics = m.topics.unwrap();
    assert_eq!(topics[0].name.as_deref(), Some("a\u{fffd}b"));
}

/// The generated readers refuse a string whose length is above `0x7fff` before reading it
/// ("string field ... had invalid length").
#[test]
fn a_compact_string_longer_than_32767_bytes_is_refused() {
    let build = |len: usize| {
        let mut body = vec![2];
        body.extend_from_slice(&[0; 16]);
        let mut n = (len + 1) as u32;
        while n >= 0x80 {
            body.push((n as u8) | 0x80);
            n >>= 7;
        }
        body.push(n as u8);
        body.extend(std::iter::repeat_n(b'x', len));
        body.extend_from_slice(&[0, 0, 0, 0]);
        metadata_v12(&body)
    };
    assert!(decode_request(Bytes::from(build(0x7fff))).is_ok());
    let err = decode_request(Bytes::from(build(0x8000))).unwrap_err();
    assert!(err.to_string().contains("32767"), "{err}");
}

/// The generated readers hold lengths in a Java `int` and take every negative one as null:
/// a classic length below -1, and a compact varint of 2^31 or more (negative once held in an
/// `int`, then minus one). A non-nullable field refuses that null.
#[test]
fn every_negative_length_is_null() {
    // Compact topics count 0x8000_0001 (an int of i32::MIN + 1, minus one: negative): null.
    let m = metadata(metadata_v12(&[0x81, 0x80, 0x80, 0x80, 0x08, 0, 0, 0]));
    assert_eq!(m.topics, None);
    // Metadata v1 (classic): topics count -2 is null too.
    let f = vec![0, 3, 0, 1, 0, 0, 0, 7, 0, 1, b'c', 0xff, 0xff, 0xff, 0xfe];
    assert_eq!(metadata(f).topics, None);
    // Metadata v0's topics are not nullable: -2 is refused there.
    let f = vec![0, 3, 0, 0, 0, 0, 0, 7, 0, 1, b'c', 0xff, 0xff, 0xff, 0xfe];
    assert!(decode_request(Bytes::from(f)).is_err());
}

/// The generated readers loop `for (i = 0; i < numTaggedFields; i++)` over an `int`: a count
/// of 2^31 or more is negative there and reads no field.
#[test]
fn a_tag_count_of_two_to_the_31_or_more_reads_no_field() {
    let m = metadata(metadata_v12(&[1, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f]));
    assert!(m.unknown_tagged_fields.is_empty());
}

/// The generated readers take tagged fields in any order (a `switch` per field, no order
/// check): a repeated known tag keeps the last value; unknown ones are all kept
/// (`readUnknownTaggedField`). weir keeps the unknown ones sorted by tag, stably, so they
/// re-encode in the order Kafka's writers use.
#[test]
fn tagged_fields_are_taken_in_any_order() {
    // Metadata v12 body: empty topics, two bools, then tags 9, 3, 9 (unknown to Metadata).
    let m = metadata(metadata_v12(&[
        1, 0, 0, 3, 9, 1, 0xaa, 3, 1, 0xbb, 9, 1, 0xcc,
    ]));
    let tags: Vec<(u32, &[u8])> = m
        .unknown_tagged_fields
        .iter()
        .map(|(t, b)| (*t, &b[..]))
        .collect();
    assert_eq!(
        tags,
        vec![(3, &[0xbb][..]), (9, &[0xaa][..]), (9, &[0xcc][..])]
    );

    // Fetch v12's cluster_id (tag 0), sent twice after an unknown tag: the last one wins.
    let mut body = fetch_v12_fixed();
    body.extend_from_slice(&[3, 7, 0, 0, 2, 2, b'a', 0, 2, 2, b'b']);
    let f = decode_fetch_v12(&body).expect("decodes");
    assert_eq!(f.cluster_id.as_deref(), Some("b"));
    assert_eq!(f.unknown_tagged_fields.len(), 1);
}

/// A known tag outside its tagged versions is refused, as the generated readers refuse it
/// ("Tag 1 is not valid for version 12"): Fetch's replica_state is tag 1 from v15 only.
#[test]
fn a_known_tag_outside_its_versions_is_refused() {
    let mut body = fetch_v12_fixed();
    body.extend_from_slice(&[1, 1, 1, 0]);
    let err = decode_fetch_v12(&body).unwrap_err();
    assert!(err.to_string().contains("tag not valid"), "{err}");
}

/// A Fetch v12 body up to (not including) its top-level tagged-field section: replica -1,
/// max wait 0, min bytes 0, max bytes 0, isolation 0, session 0, epoch -1, no topics, no
/// forgotten topics, empty rack id.
fn fetch_v12_fixed() -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&(-1i32).to_be_bytes());
    b.extend_from_slice(&0i32.to_be_bytes());
    b.extend_from_slice(&0i32.to_be_bytes());
    b.extend_from_slice(&0i32.to_be_bytes());
    b.push(0);
    b.extend_from_slice(&0i32.to_be_bytes());
    b.extend_from_slice(&(-1i32).to_be_bytes());
    b.extend_from_slice(&[1, 1, 1]);
    b
}

fn decode_fetch_v12(body: &[u8]) -> Result<FetchRequest, weir_protocol::DecodeError> {
    let mut d = Decoder::new(Bytes::copy_from_slice(body));
    FetchRequest::decode(&mut d, 12)
}
