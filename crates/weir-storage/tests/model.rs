//! Random operations against a model (a `Vec` of the batches appended).

mod common;

use std::path::Path;
use std::sync::Arc;

use common::expected_bytes;
use proptest::prelude::*;
use weir_storage::testing::BatchSpec;
use weir_storage::{AppendOptions, FaultFs, Log, LogConfig};

#[derive(Debug, Clone)]
enum Op {
    Append {
        records: usize,
        value_bytes: usize,
        ts_jitter: i64,
    },
    Read {
        at: u16,
        max_bytes: usize,
        upper_back: u8,
    },
    Timestamp {
        at: u16,
        delta: i64,
    },
    Sync,
    Retention {
        keep_bytes: u16,
    },
    DeleteRecords {
        at: u16,
    },
    CloseReopen,
    CrashReopen {
        keep: u16,
    },
    AlterConfig {
        segment_bytes: u16,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        10 => (1usize..6, 0usize..400, -30i64..60).prop_map(|(records, value_bytes, ts_jitter)| Op::Append { records, value_bytes, ts_jitter }),
        6 => (any::<u16>(), 1usize..3000, 0u8..4).prop_map(|(at, max_bytes, upper_back)| Op::Read { at, max_bytes, upper_back }),
        3 => (any::<u16>(), -20i64..20).prop_map(|(at, delta)| Op::Timestamp { at, delta }),
        2 => Just(Op::Sync),
        1 => any::<u16>().prop_map(|keep_bytes| Op::Retention { keep_bytes }),
        1 => any::<u16>().prop_map(|at| Op::DeleteRecords { at }),
        1 => Just(Op::CloseReopen),
        1 => any::<u16>().prop_map(|keep| Op::CrashReopen { keep }),
        1 => (300u16..6000).prop_map(|segment_bytes| Op::AlterConfig { segment_bytes }),
    ]
}

struct Model {
    /// (base offset, original bytes, max timestamp, record count)
    batches: Vec<(i64, Vec<u8>, i64, i64)>,
    log_start: i64,
    next_ts: i64,
}

impl Model {
    fn end(&self) -> i64 {
        self.batches.last().map_or(self.log_start, |b| b.0 + b.3)
    }
    fn live(&self) -> impl Iterator<Item = &(i64, Vec<u8>, i64, i64)> {
        self.batches.iter().filter(|b| b.0 + b.3 > self.log_start)
    }
}

fn cfg(segment_bytes: u64) -> LogConfig {
    LogConfig {
        segment_bytes,
        index_interval_bytes: 200,
        segment_index_bytes: 96,
        ..LogConfig::default()
    }
}

fn open(dir: &Path, fs: &FaultFs, c: LogConfig) -> Log {
    Log::open(dir, c, Arc::new(fs.clone())).unwrap()
}

fn check_all(log: &Log, m: &Model) {
    assert_eq!(log.log_end(), m.end());
    assert_eq!(log.log_start(), m.log_start);
    let got = common::read_all(log, m.log_start);
    let want: Vec<Vec<u8>> = m.live().map(|b| expected_bytes(&b.1, b.0)).collect();
    assert_eq!(got, want);
}

fn run(ops: Vec<Op>) {
    let dir = tempfile::tempdir().unwrap();
    let fs = FaultFs::new();
    let mut c = cfg(1500);
    let mut log = open(dir.path(), &fs, c);
    let mut m = Model {
        batches: Vec::new(),
        log_start: 0,
        next_ts: 1_000,
    };
    for op in ops {
        match op {
            Op::Append {
                records,
                value_bytes,
                ts_jitter,
            } => {
                m.next_ts += 10;
                let spec = BatchSpec::new(records, value_bytes, m.next_ts + ts_jitter);
                let b = spec.build();
                let info = log.append(&b, AppendOptions::default()).unwrap();
                assert_eq!(info.base_offset, m.end());
                let max_ts = m.next_ts + ts_jitter + records as i64 - 1;
                m.batches
                    .push((info.base_offset, b, max_ts, records as i64));
            }
            Op::Read {
                at,
                max_bytes,
                upper_back,
            } => {
                let span = m.end() - m.log_start + 1;
                let from = m.log_start + i64::from(at) % span;
                let upper = m.end() - i64::from(upper_back);
                let r = log.read(from, max_bytes, upper).unwrap();
                let first = m.live().position(|b| b.0 + b.3 > from);
                let live: Vec<_> = m.live().collect();
                match first {
                    Some(i) if live[i].0 < upper && from < upper => {
                        let mut bytes = &r.batches[..];
                        assert!(!bytes.is_empty(), "read at {from} returned nothing");
                        let mut j = i;
                        while !bytes.is_empty() {
                            let want = expected_bytes(&live[j].1, live[j].0);
                            assert_eq!(&bytes[..want.len().min(bytes.len())], &want[..]);
                            bytes = &bytes[want.len()..];
                            assert!(live[j].0 < upper);
                            j += 1;
                        }
                        assert!(j == i + 1 || r.batches.len() <= max_bytes, "over max_bytes");
                        assert_eq!(r.next_offset, live[j - 1].0 + live[j - 1].3);
                    }
                    _ => assert!(r.batches.is_empty()),
                }
            }
            Op::Timestamp { at, delta } => {
                let live: Vec<_> = m.live().collect();
                let ts = if live.is_empty() {
                    0
                } else {
                    live[usize::from(at) % live.len()].2 + delta
                };
                let want = live
                    .iter()
                    .find(|b| b.2 >= ts)
                    .map(|b| b.0.max(m.log_start));
                let got = log.offset_for_timestamp(ts).unwrap().map(|t| t.offset);
                assert_eq!(got, want, "timestamp {ts}");
                let want_max =
                    live.iter()
                        .fold(None::<&&(i64, Vec<u8>, i64, i64)>, |a, b| match a {
                            Some(a) if a.2 >= b.2 => Some(a),
                            _ => Some(b),
                        });
                let got_max = log.max_timestamp().unwrap();
                assert_eq!(got_max.map(|t| t.timestamp), want_max.map(|b| b.2));
            }
            Op::Sync => {
                log.sync().unwrap();
                assert_eq!(log.durable_end(), m.end());
            }
            Op::Retention { keep_bytes } => {
                log.set_config(LogConfig {
                    retention_bytes: i64::from(keep_bytes % 4000),
                    ..c
                })
                .unwrap();
                log.run_retention(0).unwrap();
                log.set_config(c).unwrap();
                let start = log.log_start();
                assert!(start >= m.log_start);
                assert!(
                    start == m.log_start
                        || start == m.end()
                        || m.batches.iter().any(|b| b.0 == start),
                    "log start {start} not at a batch boundary"
                );
                m.log_start = start;
                m.batches.retain(|b| b.0 + b.3 > start);
            }
            Op::DeleteRecords { at } => {
                let span = m.end() - m.log_start + 1;
                let to = m.log_start + i64::from(at) % span;
                assert_eq!(log.delete_records_before(to).unwrap(), to);
                m.log_start = to;
            }
            Op::CloseReopen => {
                log.close().unwrap();
                drop(log);
                log = open(dir.path(), &fs, c);
                check_all(&log, &m);
            }
            Op::CrashReopen { keep } => {
                let durable = log.durable_end();
                drop(log);
                fs.crash(u64::from(keep % 300)).unwrap();
                log = open(dir.path(), &fs, c);
                let end = log.log_end();
                assert!(end >= durable, "lost durable data: {end} < {durable}");
                let first = m.batches.first().map_or(m.end(), |b| b.0);
                assert!(
                    end == first
                        || end == m.log_start
                        || m.batches.iter().any(|b| b.0 + b.3 == end),
                    "recovered end {end} not at a batch boundary"
                );
                m.batches.retain(|b| b.0 + b.3 <= end);
                if m.batches.last().is_none_or(|b| b.0 + b.3 < m.log_start) {
                    // Less than the log start survived: the log restarts empty there.
                    m.batches.clear();
                    assert_eq!(end, m.log_start);
                }
                check_all(&log, &m);
            }
            Op::AlterConfig { segment_bytes } => {
                c = cfg(u64::from(segment_bytes));
                log.set_config(c).unwrap();
            }
        }
    }
    check_all(&log, &m);
    assert!(log.verify().unwrap().problems.is_empty());
}

proptest! {
    // 48 cases keep CI short; set WEIR_MODEL_CASES for a longer hunt.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("WEIR_MODEL_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(48),
        max_shrink_iters: 200,
        ..ProptestConfig::default()
    })]
    #[test]
    fn log_matches_model(ops in proptest::collection::vec(op(), 1..120)) {
        run(ops);
    }
}
