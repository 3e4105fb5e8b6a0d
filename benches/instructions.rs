//! A fixed amount of produce-path work for instruction counting under
//! `valgrind --tool=callgrind` (instruction counts do not depend on what else the machine
//! is doing, unlike times on a shared 2-core box):
//! `instructions MODE N RECORDS VALUE_BYTES` appends N identical batches to a fresh log in
//! the system temp dir. Modes: `log_append` (`Log::append` of bytes), `produce_before` (the
//! produce path before `ValidatedBatch`: frame + CRC in the handler, records read, the
//! header parsed again, `Log::append` validating again) and `produce_after` (today's:
//! `ValidatedBatch::new`, records read, `Log::append_validated`). Run with N and with 0:
//! the difference over N is the per-batch count.
#![forbid(unsafe_code)]

use std::hint::black_box;
use std::sync::Arc;

use bytes::Bytes;
use weir_protocol::records::{BatchHeader, RecordBatch, ValidatedBatch};
use weir_storage::testing::BatchSpec;
use weir_storage::{AppendOptions, FileSystem, Log, LogConfig, RealFs};

const BUDGET_BYTES: usize = 16 << 20;

fn read_records(batch: &RecordBatch) {
    for r in batch.records(BUDGET_BYTES).expect("records") {
        black_box(r.expect("record"));
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: instructions log_append|produce_before|produce_after N RECORDS VALUE_BYTES";
    let [_, mode, n, records, value_bytes] = &args[..] else {
        panic!("{usage}");
    };
    let n: usize = n.parse().expect("N");
    let records: usize = records.parse().expect("RECORDS");
    let value_bytes: usize = value_bytes.parse().expect("VALUE_BYTES");
    let bytes = Bytes::from(BatchSpec::new(records, value_bytes, 1_700_000_000_000).build());
    let dir = tempfile::tempdir().expect("temp dir");
    let config = LogConfig {
        segment_bytes: 1 << 30,
        ..LogConfig::default()
    };
    let log = Log::open(dir.path(), config, Arc::new(RealFs) as Arc<dyn FileSystem>).expect("open");
    for _ in 0..n {
        match mode.as_str() {
            "log_append" => {
                black_box(
                    log.append(&bytes, AppendOptions::default())
                        .expect("append"),
                );
            }
            "produce_before" => {
                let batch = RecordBatch::parse_exact(bytes.clone()).expect("frames");
                batch.verify_crc().expect("crc");
                read_records(&batch);
                black_box(BatchHeader::parse(&bytes).expect("header").producer_id);
                black_box(
                    log.append(&bytes, AppendOptions::default())
                        .expect("append"),
                );
            }
            "produce_after" => {
                let batch = ValidatedBatch::new(bytes.clone(), Some(log.max_message_bytes()))
                    .expect("valid");
                read_records(batch.as_record_batch());
                black_box(batch.header().producer_id);
                black_box(
                    log.append_validated(&batch, AppendOptions::default())
                        .expect("append"),
                );
            }
            _ => panic!("{usage}"),
        }
    }
}
