//! Protocol codec throughput: decoding a Produce request and encoding a Fetch response
//! whose records are 64 KiB, 1 MiB and 16 MiB. Record bytes are never copied, so the
//! time per message is flat and the "throughput" grows with payload size; the ceiling
//! printed beside them is a plain copy of the same bytes (what a copying codec would
//! at best reach).
#![forbid(unsafe_code)]

use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use weir_protocol::messages::fetch::{FetchableTopicResponse, PartitionData};
use weir_protocol::messages::produce::{PartitionProduceData, TopicProduceData};
use weir_protocol::messages::{ApiKey, FetchResponse, ProduceRequest};
use weir_protocol::{
    RequestBody, RequestHeader, ResponseBody, decode_request, encode_request, encode_response,
};

const PAYLOAD_SIZES_BYTES: [usize; 3] = [64 * 1024, 1024 * 1024, 16 * 1024 * 1024];

fn produce_frame(records: Bytes) -> Bytes {
    let body = RequestBody::Produce(ProduceRequest {
        acks: -1,
        timeout_ms: 30_000,
        topic_data: vec![TopicProduceData {
            name: "bench".into(),
            partition_data: vec![PartitionProduceData {
                index: 0,
                records: Some(records),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    });
    let header = RequestHeader {
        api_key: ApiKey::Produce.as_i16(),
        api_version: 9,
        correlation_id: 1,
        client_id: Some("bench".into()),
        unknown_tagged_fields: Vec::new(),
    };
    encode_request(&header, &body)
        .unwrap()
        .to_bytes()
        .slice(4..)
}

fn fetch_response(records: Bytes) -> ResponseBody {
    ResponseBody::Fetch(FetchResponse {
        responses: vec![FetchableTopicResponse {
            topic: "bench".into(),
            partitions: vec![PartitionData {
                partition_index: 0,
                high_watermark: 1000,
                last_stable_offset: 1000,
                records: Some(records),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    })
}

fn protocol(c: &mut Criterion) {
    let mut g = c.benchmark_group("protocol");
    for size in PAYLOAD_SIZES_BYTES {
        let records = Bytes::from(vec![0x5a; size]);
        g.throughput(Throughput::Bytes(size as u64));

        let frame = produce_frame(records.clone());
        g.bench_with_input(
            BenchmarkId::new("produce_v9_decode", size),
            &frame,
            |b, f| b.iter(|| black_box(decode_request(f.clone()).unwrap())),
        );

        let body = fetch_response(records.clone());
        g.bench_with_input(
            BenchmarkId::new("fetch_v12_encode", size),
            &body,
            |b, body| b.iter(|| black_box(encode_response(1, 12, body).unwrap())),
        );

        // Ceiling for a copying codec: one memcpy of the payload.
        let mut dst = vec![0u8; size];
        g.bench_with_input(
            BenchmarkId::new("ceiling_memcpy", size),
            &records,
            |b, r| {
                b.iter(|| {
                    dst.copy_from_slice(r);
                    black_box(&dst);
                })
            },
        );
    }
    g.finish();
}

criterion_group!(benches, protocol);
criterion_main!(benches);
