//! Throughput figures for the report, not a pass/fail test:
//! `cargo test --release -p weir-records --test bench -- --ignored --nocapture`.
//!
//! For a 1 MiB batch (1024 records of ~1 KiB of log-like text) it prints,
//! per codec, the time to decompress and iterate every record, next to a
//! ceiling measured in the same run: copying 1 MiB.

use std::hint::black_box;
use std::time::{Duration, Instant};

use bytes::Bytes;
use weir_records::{
    BatchBuilder, BatchSettings, Compression, DECOMPRESSED_BYTES_MAX_DEFAULT, NewRecord,
    RecordBatch, decompress,
};

const RECORD_COUNT: usize = 1024;
const VALUE_BYTES: usize = 1000;

fn value(i: usize) -> Bytes {
    let words = [
        "user",
        "login",
        "ok",
        "GET",
        "/api/v1/items",
        "200",
        "latency_ms",
        "region",
        "eu-west",
        "trace",
    ];
    let mut out = String::with_capacity(VALUE_BYTES);
    let mut state = i as u64 * 0x9e37_79b9_7f4a_7c15 + 1;
    while out.len() < VALUE_BYTES {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.push_str(words[(state % words.len() as u64) as usize]);
        out.push_str(if state.is_multiple_of(5) { "=" } else { " " });
        out.push_str(&(state % 10_000).to_string());
        out.push(' ');
    }
    out.truncate(VALUE_BYTES);
    Bytes::from(out)
}

/// Best of a few rounds of `iterations` runs of `f`, per run.
fn time(iterations: u32, mut f: impl FnMut()) -> Duration {
    (0..5)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..iterations {
                f();
            }
            start.elapsed() / iterations
        })
        .min()
        .unwrap_or_default()
}

fn gib_per_s(bytes: usize, per_run: Duration) -> f64 {
    bytes as f64 / per_run.as_secs_f64() / f64::from(1u32 << 30)
}

#[test]
#[ignore]
fn decompression_throughput_of_a_1_mib_batch() {
    let mut builder_input = Vec::new();
    for i in 0..RECORD_COUNT {
        builder_input.push(NewRecord {
            timestamp: 1_700_000_000_000 + i as i64,
            key: Some(Bytes::from(format!("key-{i}"))),
            value: Some(value(i)),
            ..NewRecord::default()
        });
    }
    let source = vec![7u8; 1 << 20];
    let mut sink = vec![0u8; 1 << 20];
    let copy = time(200, || {
        sink.copy_from_slice(black_box(&source));
        black_box(&sink);
    });
    println!(
        "ceiling: memcpy 1 MiB: {:?} ({:.2} GiB/s)",
        copy,
        gib_per_s(1 << 20, copy)
    );

    for codec in Compression::ALL {
        let mut builder = BatchBuilder::new(BatchSettings {
            compression: codec,
            ..BatchSettings::default()
        });
        for record in &builder_input {
            builder.push(record.clone()).unwrap();
        }
        let bytes = builder.build().unwrap();
        let batch = RecordBatch::parse_exact(bytes.clone()).unwrap();
        let section = batch.records_section();
        let plain = decompress(codec, &section, DECOMPRESSED_BYTES_MAX_DEFAULT).unwrap();
        let decompress_only = time(20, || {
            black_box(
                decompress(codec, black_box(&section), DECOMPRESSED_BYTES_MAX_DEFAULT).unwrap(),
            );
        });
        let full = time(20, || {
            let batch = RecordBatch::parse_exact(black_box(bytes.clone())).unwrap();
            batch.verify_crc().unwrap();
            let count = batch
                .records(DECOMPRESSED_BYTES_MAX_DEFAULT)
                .unwrap()
                .map(|r| black_box(r.unwrap()))
                .fold(0, |n, _| n + 1);
            assert_eq!(count, RECORD_COUNT);
        });
        if codec == Compression::None {
            // Nothing to decompress: the section is iterated in place.
            println!(
                "{:>6}: {:>8} B, no decompression (zero-copy); parse+crc+iterate {:?} = {:.2} GiB/s",
                codec.name(),
                section.len(),
                full,
                gib_per_s(plain.len(), full),
            );
            continue;
        }
        println!(
            "{:>6}: {:>8} B compressed ({:.1}x); decompress {:?} = {:.2} GiB/s of output ({:.0}x memcpy); \
             parse+crc+decompress+iterate {:?} = {:.2} GiB/s",
            codec.name(),
            section.len(),
            plain.len() as f64 / section.len() as f64,
            decompress_only,
            gib_per_s(plain.len(), decompress_only),
            decompress_only.as_secs_f64() / copy.as_secs_f64(),
            full,
            gib_per_s(plain.len(), full),
        );
    }
}
