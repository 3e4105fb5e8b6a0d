//! Helpers shared by the storage integration tests: a small config, opening a log, filling it
//! with batches and reading it back.
#![allow(dead_code)]
use std::path::Path;
use std::sync::Arc;

use weir_storage::testing::batch;
use weir_storage::{AppendOptions, FileSystem, Log, LogConfig, RealFs};

pub fn small_config() -> LogConfig {
    LogConfig {
        segment_bytes: 4096,
        index_interval_bytes: 256,
        segment_index_bytes: 240,
        ..LogConfig::default()
    }
}

pub fn open(dir: &Path, cfg: LogConfig) -> Log {
    Log::open(dir, cfg, Arc::new(RealFs) as Arc<dyn FileSystem>).unwrap()
}

/// What a stored batch must look like: the original with base offset patched.
pub fn expected_bytes(original: &[u8], base: i64) -> Vec<u8> {
    let mut b = original.to_vec();
    b[..8].copy_from_slice(&base.to_be_bytes());
    b
}

/// Appends `n` batches of `records` records, timestamps 1000 + 10*i; returns them.
pub fn fill(log: &Log, n: usize, records: usize, value_bytes: usize) -> Vec<(i64, Vec<u8>)> {
    let mut out = Vec::new();
    for i in 0..n {
        let b = batch(records, value_bytes, 1000 + 10 * i as i64);
        let info = log.append(&b, AppendOptions::default()).unwrap();
        out.push((info.base_offset, b));
    }
    out
}

/// Reads the whole log from `from` by repeated reads; returns batch bytes in order.
pub fn read_all(log: &Log, from: i64) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut at = from;
    let end = log.log_end();
    while at < end {
        let r = log.read(at, 1 << 20, i64::MAX).unwrap();
        assert!(!r.batches.is_empty(), "empty read at {at} < {end}");
        let mut b = &r.batches[..];
        while !b.is_empty() {
            let len = i32::from_be_bytes([b[8], b[9], b[10], b[11]]) as usize + 12;
            out.push(b[..len].to_vec());
            b = &b[len..];
        }
        at = r.next_offset;
    }
    out
}

/// Small segments, so a few transactions span several.
pub fn txn_cfg() -> LogConfig {
    LogConfig {
        segment_bytes: 700,
        index_interval_bytes: 200,
        segment_index_bytes: 120,
        ..LogConfig::default()
    }
}

/// The `.txnindex` files of `dir`, sorted.
pub fn txn_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<std::path::PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "txnindex"))
        .collect();
    v.sort();
    v
}

/// Appends `b`, returning its base offset.
pub fn append(log: &Log, b: &[u8]) -> i64 {
    log.append(b, AppendOptions::default()).unwrap().base_offset
}
