//! Smoke runs of `weir bench produce|consume|e2e|startup` with tiny sizes against a
//! real `weir serve` child on an ephemeral port: the reports' fields must agree with
//! each other (records counted = records sent, ordered percentiles, positive ratios,
//! a series summing to the totals).

use std::process::Command;

use serde_json::Value;

mod support;
use support::Server as Serve;

const WEIR: &str = env!("CARGO_BIN_EXE_weir");

fn bench(args: &[&str]) -> Value {
    let out = Command::new(WEIR).arg("bench").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "weir bench {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

fn u(v: &Value, path: &[&str]) -> u64 {
    let mut v = v;
    for p in path {
        v = &v[*p];
    }
    v.as_u64()
        .unwrap_or_else(|| panic!("{path:?} is not a count: {v}"))
}

fn f(v: &Value, path: &[&str]) -> f64 {
    let mut v = v;
    for p in path {
        v = &v[*p];
    }
    v.as_f64()
        .unwrap_or_else(|| panic!("{path:?} is not a number: {v}"))
}

/// Percentiles ordered, one sample per record.
fn check_latency(r: &Value, key: &str) {
    let l = &r[key];
    assert_eq!(u(l, &["count"]), u(r, &["records"]), "{key}");
    let (p50, p99, p999, max) = (
        u(l, &["p50_us"]),
        u(l, &["p99_us"]),
        u(l, &["p999_us"]),
        u(l, &["max_us"]),
    );
    assert!(
        0 < p50 && p50 <= p99 && p99 <= p999 && p999 <= max,
        "{key}: {l}"
    );
}

/// The series sums to the totals; the throughput agrees with the counts.
fn check_series(r: &Value) {
    let series = r["series"].as_array().unwrap();
    assert!(!series.is_empty());
    let records: u64 = series.iter().map(|p| u(p, &["records"])).sum();
    let bytes: u64 = series.iter().map(|p| u(p, &["bytes"])).sum();
    assert_eq!(records, u(r, &["records"]));
    assert_eq!(records, u(r, &["throughput", "records"]));
    assert_eq!(bytes, u(r, &["throughput", "bytes"]));
    assert!(f(r, &["throughput", "records_per_s"]) > 0.0);
    assert!(f(r, &["throughput", "seconds"]) > 0.0);
}

fn check_ceilings(r: &Value, names: &[&str]) {
    let ceilings = r["ceilings"].as_array().unwrap();
    let got: Vec<&str> = ceilings
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(got, names);
    for c in ceilings {
        assert!(f(c, &["ratio"]) > 0.0, "{c}");
        assert!(f(c, &["rate", "mib_per_s"]) > 0.0, "{c}");
        if c["name"] == "storage_append" {
            // Whole batches: the run's records rounded up to a batch.
            assert!(
                u(c, &["rate", "bytes"]) >= u(r, &["throughput", "bytes"]),
                "{c}"
            );
        } else {
            assert_eq!(u(c, &["rate", "bytes"]), u(r, &["throughput", "bytes"]));
        }
        let expected = f(r, &["throughput", "mib_per_s"]) / f(c, &["rate", "mib_per_s"]);
        assert!((f(c, &["ratio"]) - expected).abs() <= 1e-9 * expected.max(1.0));
    }
}

#[test]
fn produce_then_consume_reports_agree() {
    let serve = Serve::start();
    let b = serve.addr.as_str();
    let produce = bench(&[
        "produce",
        "--bootstrap",
        b,
        "--topic",
        "smoke",
        "--records",
        "3000",
        "--record-size",
        "64",
        "--partitions",
        "2",
        "--producers",
        "2",
        "--batch-size",
        "4096",
        "--linger-ms",
        "1",
        "--warmup",
        "200",
        "--json",
    ]);
    assert_eq!(produce["command"], "produce");
    assert_eq!(u(&produce, &["records"]), 3000);
    assert_eq!(u(&produce, &["warmup_records"]), 200);
    assert_eq!(u(&produce, &["records_sent"]), 3200);
    assert_eq!(u(&produce, &["throughput", "bytes"]), 3000 * 64);
    check_latency(&produce, "latency");
    check_latency(&produce, "latency_uncorrected");
    check_series(&produce);
    check_ceilings(&produce, &["loopback_tcp", "storage_append"]);
    assert!(f(&produce, &["client_cpu_s"]) > 0.0);

    // Reads what was produced (3200 records are there) from the start.
    let consume = bench(&[
        "consume",
        "--bootstrap",
        b,
        "--topic",
        "smoke",
        "--records",
        "2500",
        "--record-size",
        "64",
        "--warmup",
        "100",
        "--json",
    ]);
    assert_eq!(u(&consume, &["records"]), 2500);
    assert_eq!(u(&consume, &["warmup_records"]), 100);
    assert_eq!(u(&consume, &["records_sent"]), 2600);
    assert_eq!(u(&consume, &["throughput", "bytes"]), 2500 * 64);
    assert!(consume["latency"].is_null());
    check_series(&consume);
    check_ceilings(
        &consume,
        &["loopback_tcp", "page_cache_read", "min_loopback_page_cache"],
    );
}

#[test]
fn consume_fills_a_short_topic_first() {
    let serve = Serve::start();
    let consume = bench(&[
        "consume",
        "--bootstrap",
        &serve.addr,
        "--topic",
        "empty",
        "--partitions",
        "3",
        "--records",
        "1500",
        "--record-size",
        "100",
        "--no-ceilings",
        "--json",
    ]);
    assert_eq!(u(&consume, &["records"]), 1500);
    assert_eq!(u(&consume, &["throughput", "bytes"]), 1500 * 100);
    assert!(consume["ceilings"].as_array().unwrap().is_empty());
    check_series(&consume);
}

#[test]
fn e2e_rate_limited_is_corrected() {
    let serve = Serve::start();
    let e2e = bench(&[
        "e2e",
        "--bootstrap",
        &serve.addr,
        "--topic",
        "e2e",
        "--partitions",
        "2",
        "--records",
        "1000",
        "--record-size",
        "128",
        "--rate",
        "2000",
        "--warmup",
        "100",
        "--producers",
        "2",
        "--json",
    ]);
    assert_eq!(e2e["command"], "e2e");
    assert_eq!(u(&e2e, &["records"]), 1000);
    assert_eq!(u(&e2e, &["warmup_records"]), 100);
    assert_eq!(u(&e2e, &["records_sent"]), 1100);
    check_latency(&e2e, "latency");
    check_latency(&e2e, "latency_uncorrected");
    // Every corrected sample is at least its uncorrected one, so each percentile is too.
    for k in ["p50_us", "p99_us", "p999_us", "max_us"] {
        assert!(
            u(&e2e, &["latency", k]) >= u(&e2e, &["latency_uncorrected", k]),
            "{k}"
        );
    }
    check_series(&e2e);
    // 1000 measured records at 2000/s take about half a second, not much less.
    assert!(f(&e2e, &["throughput", "seconds"]) >= 0.45, "{e2e}");
    check_ceilings(&e2e, &["loopback_tcp"]);
}

#[test]
fn produce_by_duration() {
    let serve = Serve::start();
    let r = bench(&[
        "produce",
        "--bootstrap",
        &serve.addr,
        "--duration",
        "1s",
        "--warmup",
        "200ms",
        "--record-size",
        "100",
        "--rate",
        "3000",
        "--no-ceilings",
        "--json",
    ]);
    let records = u(&r, &["records"]);
    assert!(records > 0);
    assert_eq!(
        u(&r, &["records_sent"]),
        records + u(&r, &["warmup_records"])
    );
    // About 3000 measured records in 1 s: the schedule holds (wide bounds: CI is noisy).
    assert!((2000..=3100).contains(&records), "{records}");
    check_latency(&r, "latency");
    check_series(&r);
}

#[test]
fn startup_measures_time_and_rss() {
    let r = bench(&["startup", "--runs", "1", "--idle-ms", "200", "--json"]);
    let run = &r["runs"][0];
    assert!(f(run, &["first_metadata_ms"]) > 0.0);
    assert!(f(run, &["first_metadata_ms"]) >= f(run, &["listening_ms"]));
    assert!(u(run, &["idle_rss_kib"]) > 0);
    assert!(u(run, &["peak_rss_kib"]) >= u(run, &["idle_rss_kib"]));
    assert_eq!(u(&r, &["idle_rss_kib_target"]), 16 * 1024);
}

#[test]
fn bad_flags_are_one_line_errors() {
    for args in [
        &["produce", "--record-size", "8"][..],
        &["produce", "--acks", "2"],
        &["consume", "--records", "5", "--duration", "1s"],
        &["e2e", "--max-in-flight", "9"],
    ] {
        let out = Command::new(WEIR).arg("bench").args(args).output().unwrap();
        assert!(!out.status.success(), "{args:?}");
        assert!(!out.stderr.is_empty(), "{args:?}");
    }
}
