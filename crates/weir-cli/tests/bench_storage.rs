//! `weir bench storage` smoke run with tiny sizes: the report must be consistent.

use std::process::Command;

#[test]
fn tiny_storage_bench_reports_consistent_figures_and_cleans_up() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("bench");
    // 2 MiB page-cache, 512 KiB durable, 8 KiB batches of 512 B records, 256 KiB segments.
    let out = Command::new(env!("CARGO_BIN_EXE_weir"))
        .args([
            "bench",
            "storage",
            dir.to_str().unwrap(),
            "--record-size",
            "512",
            "--batch-bytes",
            "8192",
            "--total-bytes",
            "2097152",
            "--durable-bytes",
            "524288",
            "--segment-bytes",
            "262144",
            "--writers",
            "3",
            "--rounds",
            "2",
            "--json",
        ])
        .env("WEIR_LOG", "warn")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let u = |v: &serde_json::Value| v.as_u64().unwrap();
    let f = |v: &serde_json::Value| v.as_f64().unwrap();

    assert_eq!(u(&r["records_per_batch"]), 16);
    assert_eq!(u(&r["rounds"]), 2);
    let batches = 2 * 1024 * 1024 / 8192;
    assert_eq!(u(&r["records_written"]), batches * 16);
    assert_eq!(u(&r["append_page_cache"]["weir"]["records"]), batches * 16);
    assert_eq!(
        u(&r["append_page_cache"]["ceiling"]["records"]),
        batches * 16
    );
    // Everything appended is read back, byte for byte as much as the ceiling wrote.
    assert_eq!(u(&r["read_cached"]["weir"]["records"]), batches * 16);
    assert_eq!(
        u(&r["read_cached"]["weir"]["bytes"]),
        u(&r["read_cached"]["ceiling"]["bytes"])
    );
    assert_eq!(
        u(&r["read_cached"]["weir"]["bytes"]),
        batches * u(&r["batch_bytes_on_disk"])
    );
    assert!(u(&r["segments_rolled"]) >= 7, "{r}");

    let durable = 512 * 1024 / 8192;
    assert_eq!(u(&r["durable_batches"]), durable);
    assert_eq!(u(&r["append_durable"]["weir"]["records"]), durable * 16);
    let rounds = u(&r["durable_sync_rounds"]);
    assert!(rounds >= 1 && rounds <= durable, "{r}");
    for lat in ["durable_ack_latency", "fdatasync_latency"] {
        let l = &r[lat];
        // Every round's samples are kept.
        assert_eq!(u(&l["count"]), 2 * durable, "{lat}");
        assert!(u(&l["p50_us"]) >= 1, "{lat}");
        assert!(u(&l["p50_us"]) <= u(&l["p99_us"]), "{lat}");
        assert!(u(&l["p99_us"]) <= u(&l["p999_us"]), "{lat}");
        assert!(u(&l["p999_us"]) <= u(&l["max_us"]), "{lat}");
    }
    for pair in ["append_page_cache", "append_durable", "read_cached"] {
        let p = &r[pair];
        assert!(f(&p["ratio"]) > 0.0, "{pair}");
        assert!(f(&p["weir"]["mib_per_s"]) > 0.0, "{pair}");
        assert!(f(&p["ceiling"]["mib_per_s"]) > 0.0, "{pair}");
        let expect = f(&p["weir"]["mib_per_s"]) / f(&p["ceiling"]["mib_per_s"]);
        assert!(
            (f(&p["ratio"]) - expect).abs() < 1e-9 * expect.max(1.0),
            "{pair}"
        );
    }
    // The scratch files are gone; the directory given is left empty.
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
}
