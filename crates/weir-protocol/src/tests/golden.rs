//! Byte tests computed by hand from the protocol specification, so a bug that is
//! symmetric in encode and decode cannot hide behind the round trips.

use crate::api::{decode_request, decode_response, encode_request, encode_response};
use crate::decoder::Decoder;
use crate::encoder::Encoder;
use crate::error::{DecodeError, EncodeError};
use crate::header::RequestHeader;
use crate::messages::api_versions::{ApiVersion, SupportedFeatureKey};
use crate::messages::metadata::MetadataRequestTopic;
use crate::messages::{
    ApiKey, ApiVersionsRequest, ApiVersionsResponse, MetadataRequest, RequestBody, ResponseBody,
};
use bytes::Bytes;

fn header(key: ApiKey, version: i16, cid: i32, client: Option<&str>) -> RequestHeader {
    RequestHeader {
        api_key: key.as_i16(),
        api_version: version,
        correlation_id: cid,
        client_id: client.map(str::to_owned),
        unknown_tagged_fields: Vec::new(),
    }
}

#[test]
fn api_versions_v0_request() {
    let expected: &[u8] = &[
        0, 0, 0, 12, // size
        0, 18, 0, 0, // api key 18, version 0
        0, 0, 0, 1, // correlation id
        0, 2, b'a', b'b', // client id, int16 length
    ];
    let body = RequestBody::ApiVersions(ApiVersionsRequest::default());
    let frame = encode_request(&header(ApiKey::ApiVersions, 0, 1, Some("ab")), &body).unwrap();
    assert_eq!(&frame.to_bytes()[..], expected);
    let req = decode_request(Bytes::from_static(&expected[4..])).unwrap();
    assert_eq!(req.body, body);
    assert_eq!(req.header.client_id.as_deref(), Some("ab"));
}

#[test]
fn api_versions_v3_request_keeps_int16_client_id_in_header_v2() {
    let expected: &[u8] = &[
        0, 0, 0, 20, // size
        0, 18, 0, 3, // api key 18, version 3
        0, 0, 0, 7, // correlation id
        0, 2, b'a', b'b', // client id: still an int16 length in header v2
        0,    // header tagged fields
        2, b'x', // compact string "x" (length + 1)
        4, b'1', b'.', b'0', // compact string "1.0"
        0,    // body tagged fields
    ];
    let body = RequestBody::ApiVersions(ApiVersionsRequest {
        client_software_name: "x".into(),
        client_software_version: "1.0".into(),
        unknown_tagged_fields: Vec::new(),
    });
    let frame = encode_request(&header(ApiKey::ApiVersions, 3, 7, Some("ab")), &body).unwrap();
    assert_eq!(&frame.to_bytes()[..], expected);
    assert_eq!(
        decode_request(Bytes::from_static(&expected[4..]))
            .unwrap()
            .body,
        body
    );
}

fn api_versions_response() -> ApiVersionsResponse {
    ApiVersionsResponse {
        error_code: 0,
        api_keys: vec![ApiVersion {
            api_key: 18,
            min_version: 0,
            max_version: 4,
            ..Default::default()
        }],
        ..Default::default()
    }
}

#[test]
fn api_versions_v0_response() {
    let expected: &[u8] = &[
        0, 0, 0, 16, // size
        0, 0, 0, 1, // correlation id (header v0)
        0, 0, // error code
        0, 0, 0, 1, // int32 array count
        0, 18, 0, 0, 0, 4, // key 18, 0..=4
    ];
    let body = ResponseBody::ApiVersions(api_versions_response());
    assert_eq!(
        &encode_response(1, 0, &body).unwrap().to_bytes()[..],
        expected
    );
    let (h, back) =
        decode_response(ApiKey::ApiVersions, 0, Bytes::from_static(&expected[4..])).unwrap();
    assert_eq!(h.correlation_id, 1);
    assert_eq!(back, body);
}

#[test]
fn api_versions_v3_response_uses_header_v0_and_omits_default_tags() {
    let expected: &[u8] = &[
        0, 0, 0, 19, // size
        0, 0, 0, 1, // correlation id, header v0 even though v3 is flexible
        0, 0, // error code
        2, // compact array: 1 element
        0, 18, 0, 0, 0, 4, 0, // key 18, 0..=4, no tags
        0, 0, 0, 0, // throttle time
        0, // no tagged fields: FinalizedFeaturesEpoch = -1 is the default and left out
    ];
    let body = ResponseBody::ApiVersions(api_versions_response());
    assert_eq!(
        &encode_response(1, 3, &body).unwrap().to_bytes()[..],
        expected
    );
    let (_, back) =
        decode_response(ApiKey::ApiVersions, 3, Bytes::from_static(&expected[4..])).unwrap();
    assert_eq!(back, body);
}

#[test]
fn tagged_fields_are_written_in_tag_order() {
    let mut r = api_versions_response();
    r.zk_migration_ready = true; // tag 3
    r.supported_features = vec![SupportedFeatureKey {
        name: "f".into(),
        min_version: 1,
        max_version: 2,
        ..Default::default()
    }]; // tag 0
    r.unknown_tagged_fields = vec![(2000, Bytes::from_static(&[9]))];
    let mut e = Encoder::new();
    r.encode(&mut e, 3).unwrap();
    let b = e.finish().to_bytes();
    let tail: &[u8] = &[
        3, // three tagged fields
        0, 8, 2, 2, b'f', 0, 1, 0, 2, 0, // tag 0, size 8: [ {"f", 1, 2} ]
        3, 1, 1, // tag 3, size 1: true
        0xd0, 0x0f, 1, 9, // tag 2000 (varint d0 0f), size 1, the unknown byte
    ];
    assert!(b.ends_with(tail), "{b:?}");
    let back = ApiVersionsResponse::decode(&mut Decoder::new(b), 3).unwrap();
    assert_eq!(back, r);
}

#[test]
fn metadata_v1_request_and_null_topics() {
    let expected: &[u8] = &[
        0, 0, 0, 17, // size
        0, 3, 0, 1, // api key 3, version 1
        0, 0, 0, 9, // correlation id
        0xff, 0xff, // null client id
        0, 0, 0, 1, // one topic
        0, 1, b't', // "t"
    ];
    let body = RequestBody::Metadata(MetadataRequest {
        topics: Some(vec![MetadataRequestTopic {
            name: Some("t".into()),
            ..Default::default()
        }]),
        ..Default::default()
    });
    assert_eq!(
        &encode_request(&header(ApiKey::Metadata, 1, 9, None), &body)
            .unwrap()
            .to_bytes()[..],
        expected
    );
    assert_eq!(
        decode_request(Bytes::from_static(&expected[4..]))
            .unwrap()
            .body,
        body
    );

    // Null topics ("all topics") is -1 in v1 and not allowed in v0.
    let all = MetadataRequest {
        topics: None,
        ..Default::default()
    };
    let mut e = Encoder::new();
    all.encode(&mut e, 1).unwrap();
    assert_eq!(&e.finish().to_bytes()[..], &[0xff, 0xff, 0xff, 0xff]);
    assert!(matches!(
        all.encode(&mut Encoder::new(), 0),
        Err(EncodeError::NullNotAllowed { .. })
    ));
    // And a null array in v0 is malformed on the way in.
    assert!(matches!(
        MetadataRequest::decode(&mut Decoder::new(Bytes::from_static(&[0xff; 4])), 0),
        Err(DecodeError::Malformed { .. })
    ));
}

#[test]
fn non_ignorable_field_missing_from_version_is_an_encode_error() {
    // AllowAutoTopicCreation (default true) only exists from v4 and is not ignorable.
    let m = MetadataRequest {
        topics: Some(Vec::new()),
        allow_auto_topic_creation: false,
        ..Default::default()
    };
    assert!(matches!(
        m.encode(&mut Encoder::new(), 3),
        Err(EncodeError::FieldNotInVersion { .. })
    ));
    assert!(m.encode(&mut Encoder::new(), 4).is_ok());
    // ThrottleTimeMs of ApiVersionsResponse is ignorable: dropped silently at v0.
    let r = ApiVersionsResponse {
        throttle_time_ms: 5,
        ..Default::default()
    };
    assert!(r.encode(&mut Encoder::new(), 0).is_ok());
}

#[test]
fn api_versions_at_an_unknown_version_decodes_as_v0() {
    let frame: &[u8] = &[
        0, 18, 0, 99, // ApiVersions v99
        0, 0, 0, 5, // correlation id
        0, 1, b'c', // client id
        0,    // header tagged fields (v99 is flexible)
        0xde, 0xad, // a body we do not understand
    ];
    let req = decode_request(Bytes::from_static(frame)).unwrap();
    assert_eq!(req.header.api_version, 99);
    assert_eq!(req.header.correlation_id, 5);
    assert_eq!(req.body_version, 0);
    assert!(req.is_unsupported_api_versions());
}

#[test]
fn unadvertised_versions_and_keys_are_typed_errors() {
    // Fetch v3 is in the schema but not advertised.
    let f: &[u8] = &[0, 1, 0, 3, 0, 0, 0, 1, 0xff, 0xff];
    assert_eq!(
        decode_request(Bytes::from_static(f)),
        Err(DecodeError::UnsupportedVersion {
            api_key: 1,
            version: 3
        })
    );
    // ControlledShutdown (7), a broker-to-controller API, is not spoken.
    let s: &[u8] = &[0, 7, 0, 1, 0, 0, 0, 1, 0xff, 0xff];
    assert_eq!(
        decode_request(Bytes::from_static(s)),
        Err(DecodeError::UnsupportedApiKey { api_key: 7 })
    );
}

#[test]
fn records_are_shared_not_copied() {
    use crate::messages::ProduceRequest;
    use crate::messages::produce::{PartitionProduceData, TopicProduceData};
    let payload = Bytes::from(vec![7u8; 64 * 1024]);
    let req = ProduceRequest {
        acks: -1,
        timeout_ms: 1000,
        topic_data: vec![TopicProduceData {
            name: "t".into(),
            partition_data: vec![PartitionProduceData {
                index: 0,
                records: Some(payload.clone()),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    let frame = encode_request(
        &header(ApiKey::Produce, 9, 1, None),
        &RequestBody::Produce(req),
    )
    .unwrap();
    // The payload is its own chunk, pointing at the same memory.
    assert!(
        frame
            .chunks()
            .iter()
            .any(|c| c.as_ptr() == payload.as_ptr() && c.len() == payload.len())
    );
    // And decoding slices the frame rather than copying.
    let bytes = frame.to_bytes().slice(4..);
    let decoded = decode_request(bytes.clone()).unwrap();
    let RequestBody::Produce(p) = decoded.body else {
        panic!("not produce")
    };
    let rec = p.topic_data[0].partition_data[0].records.clone().unwrap();
    let start = rec.as_ptr() as usize - bytes.as_ptr() as usize;
    assert!(start + rec.len() <= bytes.len());
}

#[test]
fn unsigned_varints_are_bounded_as_kafka_bounds_them() {
    // Kafka's ByteUtils: overlong forms are read, bits past 32 dropped, a sixth byte refused
    // (tests/kafka_reader_rules.rs has the whole rule).
    use crate::primitives::unsigned_varint;
    assert_eq!(unsigned_varint(&[0x96, 0x01]).unwrap().1, 150);
    assert_eq!(unsigned_varint(&[0x80, 0x00]).unwrap().1, 0); // overlong zero
    assert!(unsigned_varint(&[0xff, 0xff, 0xff, 0xff, 0x0f]).is_ok()); // u32::MAX
    assert_eq!(
        unsigned_varint(&[0xff, 0xff, 0xff, 0xff, 0x1f]).unwrap().1,
        u32::MAX
    );
    assert!(unsigned_varint(&[0xff, 0xff, 0xff, 0xff, 0xff, 0x01]).is_err()); // 6 bytes
    // The signed (zigzag) forms are records' only: weir-records' varint tests.
}

#[test]
fn unsupported_api_versions_answer_is_a_v0_body_with_error_35() {
    let frame: &[u8] = &[0, 18, 0, 42, 0, 0, 0, 9, 0xff, 0xff, 0];
    let req = decode_request(Bytes::from_static(frame)).unwrap();
    assert!(req.is_unsupported_api_versions());
    let body = ResponseBody::ApiVersions(crate::api::api_versions_response(true));
    let out = encode_response(req.header.correlation_id, req.body_version, &body).unwrap();
    let expected: &[u8] = &[
        0, 0, 0, 16, // size
        0, 0, 0, 9, // correlation id, header v0
        0, 35, // UNSUPPORTED_VERSION
        0, 0, 0, 1, // one range: ApiVersions' own
        0, 18, 0, 0, 0, 4,
    ];
    assert_eq!(&out.to_bytes()[..], expected);
    // The normal answer lists every advertised API.
    let all = crate::api::api_versions_response(false);
    assert_eq!(all.error_code, 0);
    assert_eq!(all.api_keys.len(), crate::api::ADVERTISED.len());
}
