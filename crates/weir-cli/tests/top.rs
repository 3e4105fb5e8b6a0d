//! `weir top --once --json` against a real `weir serve` child: the topic and group numbers
//! it reads from the metrics endpoint are the ones the Kafka APIs give.

use std::process::Command;

use serde_json::Value;

mod support;
use support::Server;

fn top(server: &Server) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_weir"))
        .args([
            "top",
            "--once",
            "--json",
            "--interval-ms",
            "200",
            "--metrics",
            &server.http,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "weir top: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn top_shows_topic_totals_and_group_lag() {
    let server = Server::start();
    server.ok(&["topic", "create", "t", "--partitions", "1"], "");
    let lines: String = (0..100).map(|i| format!("record {i}\n")).collect();
    server.ok(&["produce", "t"], &lines);
    server.ok(&["consume", "t", "--group", "g", "--count", "40"], "");
    let v = top(&server);
    let topics = v["topics"].as_array().unwrap();
    assert_eq!(topics.len(), 1, "{v}");
    assert_eq!(topics[0]["topic"], "t");
    assert_eq!(topics[0]["records_in_total"], 100.0);
    let groups = v["groups"].as_array().unwrap();
    let g = groups
        .iter()
        .find(|g| g["group"] == "g")
        .unwrap_or_else(|| panic!("{v}"));
    assert_eq!(g["lag"], 60.0, "{v}");
    assert_eq!(g["lag_trend_per_s"], 0.0);
    assert!(v["fsyncs_per_s"].as_f64().unwrap() >= 0.0);
    // A wrong endpoint is a clear error, not a hang.
    let out = Command::new(env!("CARGO_BIN_EXE_weir"))
        .args([
            "top",
            "--once",
            "--metrics",
            &server.addr,
            "--interval-ms",
            "100",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
}
