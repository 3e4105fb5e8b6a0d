//! `weir topic|produce|consume|replay|group` run through the built binary against a real
//! `weir serve` child process on an ephemeral port.

use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};

mod support;
use support::Server;

impl Server {
    fn json_lines(&self, args: &[&str]) -> Vec<Value> {
        self.ok(args, "")
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

/// Fails with one line on stderr and exit code 1.
fn assert_one_line_error(out: &Output, needle: &str) {
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains(needle), "{err}");
}

#[test]
fn topic_create_list_describe_alter_delete() {
    let s = Server::start();
    s.ok(
        &[
            "topic",
            "create",
            "orders",
            "-p",
            "3",
            "-c",
            "retention.ms=3600000",
        ],
        "",
    );
    let list: Value = serde_json::from_str(&s.ok(&["topic", "list", "--json"], "")).unwrap();
    assert!(
        list["topics"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["name"] == "orders" && t["partitions"] == 3)
    );
    s.ok(&["produce", "orders", "-p", "1"], "a\nb\n");
    let d: Value =
        serde_json::from_str(&s.ok(&["topic", "describe", "orders", "--json"], "")).unwrap();
    let parts = d["partitions"].as_array().unwrap();
    assert_eq!(parts.len(), 3);
    assert_eq!(parts[1]["log_start_offset"], 0);
    assert_eq!(parts[1]["log_end_offset"], 2);
    assert_eq!(parts[0]["log_end_offset"], 0);
    assert_eq!(parts[0]["leader"], 0);
    assert_eq!(d["configs"]["retention.ms"], "3600000");
    let text = s.ok(&["topic", "describe", "orders"], "");
    assert!(text.contains("retention.ms=3600000"), "{text}");

    s.ok(
        &[
            "topic",
            "alter-config",
            "orders",
            "--set",
            "retention.ms=60000",
            "--partitions",
            "4",
        ],
        "",
    );
    let d: Value =
        serde_json::from_str(&s.ok(&["topic", "describe", "orders", "--json"], "")).unwrap();
    assert_eq!(d["configs"]["retention.ms"], "60000");
    assert_eq!(d["partitions"].as_array().unwrap().len(), 4);
    s.ok(
        &[
            "topic",
            "alter-config",
            "orders",
            "--delete",
            "retention.ms",
        ],
        "",
    );
    let d: Value =
        serde_json::from_str(&s.ok(&["topic", "describe", "orders", "--json"], "")).unwrap();
    assert!(d["configs"].get("retention.ms").is_none(), "{d}");

    assert_one_line_error(
        &s.run(&["topic", "create", "orders"], ""),
        "TOPIC_ALREADY_EXISTS",
    );
    s.ok(&["topic", "delete", "orders"], "");
    assert_one_line_error(
        &s.run(&["topic", "describe", "orders"], ""),
        "UNKNOWN_TOPIC_OR_PARTITION",
    );
    assert_one_line_error(&s.run(&["consume", "orders", "-e"], ""), "orders");
}

#[test]
fn produce_and_consume_from_offsets_times_and_bounds() {
    let s = Server::start();
    s.ok(&["topic", "create", "ev", "-p", "2"], "");
    // Plain lines: one key and two headers on each.
    s.ok(
        &[
            "produce",
            "ev",
            "-k",
            "user-1",
            "-H",
            "src=cli",
            "-H",
            "v=2",
            "--timestamp",
            "1000",
        ],
        "one\ntwo\n",
    );
    // JSON lines, with explicit partitions and timestamps, compressed.
    let mut input = String::new();
    for i in 0..10 {
        input.push_str(&format!(
            "{}\n",
            json!({"key": format!("k{i}"), "value": format!("v{i}"), "partition": 1, "timestamp": 2_000_000 + i * 1000, "headers": [["n", i.to_string()]]})
        ));
    }
    s.ok(
        &[
            "produce",
            "ev",
            "--json",
            "--compression",
            "zstd",
            // acks=all: with acks=1 the high watermark (what `-e` stops at) may still be
            // below the records until the broker's next fsync.
            "--acks",
            "all",
        ],
        &input,
    );

    let all = s.json_lines(&["consume", "ev", "-e", "--json"]);
    let keyed: Vec<&Value> = all.iter().filter(|r| r["key"] == "user-1").collect();
    assert_eq!(keyed.len(), 2);
    assert_eq!(keyed[0]["value"], "one");
    assert_eq!(keyed[1]["value"], "two");
    assert_eq!(keyed[0]["partition"], keyed[1]["partition"]);
    assert_eq!(keyed[0]["headers"], json!([["src", "cli"], ["v", "2"]]));
    assert_eq!(keyed[0]["timestamp"], 1000);

    assert_eq!(all.len(), 12);
    let p1: Vec<&Value> = all
        .iter()
        .filter(|r| r["key"].as_str().unwrap().starts_with('k'))
        .collect();
    for (i, r) in p1.iter().enumerate() {
        assert_eq!(r["partition"], 1);
        assert_eq!(r["value"], format!("v{i}"));
        assert_eq!(r["timestamp"], 2_000_000 + i as i64 * 1000);
        assert_eq!(r["headers"], json!([["n", i.to_string()]]));
    }
    let base = p1[0]["offset"].as_i64().unwrap();

    // Raw output and a kcat-style template.
    let raw = s.ok(
        &[
            "consume",
            "ev",
            "-p",
            "1",
            "-o",
            &(base + 8).to_string(),
            "-e",
        ],
        "",
    );
    assert_eq!(raw, "v8\nv9\n");
    let fmt = s.ok(
        &[
            "consume",
            "ev",
            "-p",
            "1",
            "-o",
            "-2",
            "-e",
            "-f",
            "%k:%s@%p/%o %T [%h]\\n",
        ],
        "",
    );
    assert_eq!(
        fmt,
        format!(
            "k8:v8@1/{} 2008000 [n=8]\nk9:v9@1/{} 2009000 [n=9]\n",
            base + 8,
            base + 9
        )
    );
    // By time: RFC 3339 (2_005_000 ms = 1970-01-01T00:33:25Z) and epoch ms, to a time bound.
    let by_time = s.json_lines(&[
        "consume",
        "ev",
        "-p",
        "1",
        "--timestamp",
        "1970-01-01T00:33:25Z",
        "--until-timestamp",
        "2007000",
        "--json",
    ]);
    let values: Vec<&str> = by_time
        .iter()
        .map(|r| r["value"].as_str().unwrap())
        .collect();
    assert_eq!(values, ["v5", "v6"]);
    let by_ms = s.json_lines(&[
        "consume",
        "ev",
        "-p",
        "1",
        "--timestamp",
        "2008500",
        "-e",
        "--json",
    ]);
    assert_eq!(by_ms.len(), 1);
    assert_eq!(by_ms[0]["value"], "v9");
    // Offset bound and count.
    let bounded = s.json_lines(&[
        "consume",
        "ev",
        "-p",
        "1",
        "--until-offset",
        &(base + 3).to_string(),
        "--json",
    ]);
    assert_eq!(bounded.len(), 3);
    let counted = s.json_lines(&["consume", "ev", "-c", "5", "--json"]);
    assert_eq!(counted.len(), 5);
    assert_one_line_error(
        &s.run(&["consume", "ev", "-p", "1", "-o", "99", "-e"], ""),
        "offset 99 is out of range for ev-1",
    );
    // From the end, stopping at the end: nothing.
    let latest = s.json_lines(&["consume", "ev", "-p", "1", "-o", "latest", "-e", "--json"]);
    assert!(latest.is_empty());
}

#[test]
fn replay_three_partitions_by_time_range_record_by_record() {
    let s = Server::start();
    s.ok(&["topic", "create", "src", "-p", "3"], "");
    s.ok(&["topic", "create", "dst", "-p", "3"], "");
    const T0: i64 = 1_700_000_000_000;
    let mut input = String::new();
    for p in 0..3 {
        for i in 0..10i64 {
            input.push_str(&format!(
                "{}\n",
                json!({
                    "key": format!("key-{p}-{i}"),
                    "value": format!("value-{p}-{i}"),
                    "partition": p,
                    "timestamp": T0 + i * 1000 + p,
                    "headers": [["trace", format!("t{p}{i}")], ["empty", null]],
                })
            ));
        }
    }
    s.ok(&["produce", "src", "--json"], &input);
    // [T0+3000, T0+7000): records 3..=6 of each partition (T0 = 2023-11-14T22:13:20Z).
    let report: Value = serde_json::from_str(&s.ok(
        &[
            "replay",
            "src",
            "dst",
            "--from-time",
            "2023-11-14T22:13:23Z",
            "--to-time",
            &(T0 + 7000).to_string(),
            "--json",
        ],
        "",
    ))
    .unwrap();
    assert_eq!(report["records"], 12);
    assert_eq!(report["partitioning"], "same");
    for (p, part) in report["partitions"].as_array().unwrap().iter().enumerate() {
        assert_eq!(part["partition"], p);
        assert_eq!(part["from_offset"], 3);
        assert_eq!(part["to_offset"], 7);
        assert_eq!(part["records"], 4);
    }
    let copied = s.json_lines(&["consume", "dst", "-e", "--json"]);
    assert_eq!(copied.len(), 12);
    let mut by_partition: [Vec<&Value>; 3] = Default::default();
    for r in &copied {
        by_partition[r["partition"].as_u64().unwrap() as usize].push(r);
    }
    for (p, records) in by_partition.iter().enumerate() {
        assert_eq!(records.len(), 4, "partition {p}");
        for (j, r) in records.iter().enumerate() {
            let i = j as i64 + 3;
            assert_eq!(r["offset"], j as i64);
            assert_eq!(r["key"], format!("key-{p}-{i}"));
            assert_eq!(r["value"], format!("value-{p}-{i}"));
            assert_eq!(r["timestamp"], T0 + i * 1000 + p as i64);
            assert_eq!(
                r["headers"],
                json!([["trace", format!("t{p}{i}")], ["empty", null]])
            );
        }
    }

    // A destination with fewer partitions is written by key; an offset range of one partition.
    s.ok(&["topic", "create", "narrow", "-p", "1"], "");
    let text = s.ok(
        &["replay", "src", "narrow", "-p", "2", "--from-offset", "8"],
        "",
    );
    assert!(
        text.contains("src-2 [8, 10) -> narrow (by key): 2 record(s)"),
        "{text}"
    );
    let narrow = s.json_lines(&["consume", "narrow", "-e", "--json"]);
    let values: Vec<&str> = narrow
        .iter()
        .map(|r| r["value"].as_str().unwrap())
        .collect();
    assert_eq!(values, ["value-2-8", "value-2-9"]);

    assert_one_line_error(&s.run(&["replay", "src", "missing"], ""), "does not exist");
}

#[test]
fn group_consume_commits_and_describe_shows_lag() {
    let s = Server::start();
    s.ok(&["topic", "create", "jobs", "-p", "1"], "");
    let lines: String = (0..10).map(|i| format!("job{i}\n")).collect();
    s.ok(&["produce", "jobs"], &lines);
    assert_eq!(
        s.ok(&["consume", "jobs", "-G", "workers", "-c", "4"], ""),
        "job0\njob1\njob2\njob3\n"
    );

    let d: Value =
        serde_json::from_str(&s.ok(&["group", "describe", "workers", "--json"], "")).unwrap();
    assert_eq!(d["state"], "Empty");
    let parts = d["partitions"].as_array().unwrap();
    assert_eq!(parts.len(), 1);
    assert_eq!(parts[0]["committed_offset"], 4);
    assert_eq!(parts[0]["log_end_offset"], 10);
    assert_eq!(parts[0]["lag"], 6);
    assert_eq!(d["total_lag"], 6);
    let text = s.ok(&["group", "describe", "workers"], "");
    assert!(text.contains("jobs\t0\t4\t10\t6\t-"), "{text}");
    let list = s.ok(&["group", "list"], "");
    assert!(list.lines().any(|l| l.starts_with("workers")), "{list}");

    // The group resumes where it committed.
    assert_eq!(
        s.ok(&["consume", "jobs", "-G", "workers", "-e"], ""),
        "job4\njob5\njob6\njob7\njob8\njob9\n"
    );
    let d: Value =
        serde_json::from_str(&s.ok(&["group", "describe", "workers", "--json"], "")).unwrap();
    assert_eq!(d["total_lag"], 0);

    // With --partition there is no membership: standalone commits (generation -1).
    s.ok(
        &["consume", "jobs", "-p", "0", "-G", "solo", "-e", "-c", "7"],
        "",
    );
    let solo: Value =
        serde_json::from_str(&s.ok(&["group", "describe", "solo", "--json"], "")).unwrap();
    assert_eq!(solo["members"], json!([]));
    assert_eq!(solo["partitions"][0]["committed_offset"], 7);
    assert_eq!(solo["partitions"][0]["lag"], 3);

    // A following consumer is a live member: describe shows it, its assignment, and lag 0 once
    // it has caught up.
    let mut follower = Command::new(env!("CARGO_BIN_EXE_weir"))
        .args(["consume", "jobs", "-G", "live", "--bootstrap", &s.addr])
        .env("WEIR_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let d = loop {
        let out = s.run(&["group", "describe", "live", "--json"], "");
        if out.status.success() {
            let d: Value = serde_json::from_slice(&out.stdout).unwrap();
            if d["state"] == "Stable"
                && d["total_lag"] == 0
                && d["partitions"][0]["committed_offset"] == 10
            {
                break d;
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the follower never caught up"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    // SIGINT ends it cleanly: it leaves the group.
    let sent = Command::new("kill")
        .args(["-INT", &follower.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    assert!(follower.wait().unwrap().success());
    let after: Value =
        serde_json::from_str(&s.ok(&["group", "describe", "live", "--json"], "")).unwrap();
    assert_eq!(after["state"], "Empty");
    assert_eq!(after["partitions"][0]["committed_offset"], 10);
    assert_eq!(d["protocol"], "range");
    let members = d["members"].as_array().unwrap();
    assert_eq!(members.len(), 1);
    assert_eq!(members[0]["assignment"], json!({"jobs": [0]}));
    assert_eq!(d["partitions"][0]["member_id"], members[0]["member_id"]);
    assert_eq!(d["partitions"][0]["log_end_offset"], 10);
}

/// Two following `weir consume -G` processes share a topic's partitions (the second join
/// rebalances the first), and together print every record once.
#[test]
fn two_group_consumers_split_the_partitions() {
    let s = Server::start();
    s.ok(&["topic", "create", "duo", "-p", "2"], "");
    let dir = tempfile::tempdir().unwrap();
    let spawn = |name: &str| {
        let out = std::fs::File::create(dir.path().join(name)).unwrap();
        Command::new(env!("CARGO_BIN_EXE_weir"))
            .args([
                "consume",
                "duo",
                "-G",
                "pair",
                "--json",
                "--max-wait-ms",
                "100",
            ])
            .args(["--bootstrap", &s.addr])
            .env("WEIR_LOG", "warn")
            .stdout(out)
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let describe = || -> Value {
        serde_json::from_str(&s.ok(&["group", "describe", "pair", "--json"], "")).unwrap()
    };
    let wait_for = |what: &str, ok: &dyn Fn(&Value) -> bool| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let d = describe();
            if ok(&d) {
                return d;
            }
            assert!(std::time::Instant::now() < deadline, "{what}: {d}");
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    };
    let mut a = spawn("a.json");
    wait_for("first member", &|d| {
        d["state"] == "Stable" && d["members"].as_array().unwrap().len() == 1
    });
    let mut b = spawn("b.json");
    let d = wait_for("second member", &|d| {
        d["state"] == "Stable" && d["members"].as_array().unwrap().len() == 2
    });
    let mut owned: Vec<Value> = d["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["assignment"]["duo"].clone())
        .collect();
    owned.sort_by_key(|v| v.to_string());
    assert_eq!(owned, vec![json!([0]), json!([1])]);

    let lines: String = (0..20)
        .map(|i| {
            format!(
                "{}\n",
                json!({"value": format!("m{i}"), "partition": i % 2})
            )
        })
        .collect();
    s.ok(&["produce", "duo", "--json"], &lines);
    wait_for("both caught up", &|d| {
        d["total_lag"] == 0
            && d["partitions"]
                .as_array()
                .unwrap()
                .iter()
                .all(|p| p["committed_offset"] == 10)
    });
    for child in [&mut a, &mut b] {
        let sent = Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        assert!(child.wait().unwrap().success());
    }
    let mut seen = Vec::new();
    for name in ["a.json", "b.json"] {
        let text = std::fs::read_to_string(dir.path().join(name)).unwrap();
        let records: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let partitions: std::collections::BTreeSet<i64> = records
            .iter()
            .map(|r| r["partition"].as_i64().unwrap())
            .collect();
        assert_eq!(
            partitions.len(),
            1,
            "{name} read one partition: {partitions:?}"
        );
        seen.extend(
            records
                .iter()
                .map(|r| r["value"].as_str().unwrap().to_string()),
        );
    }
    seen.sort();
    let mut expected: Vec<String> = (0..20).map(|i| format!("m{i}")).collect();
    expected.sort();
    assert_eq!(seen, expected);
    assert_eq!(describe()["state"], "Empty");
}

/// A compacted topic's describe shows each partition's dirty ratio and last clean time
/// (weir's cleaner-state entry), and they change once the cleaner has run.
#[test]
fn topic_describe_shows_the_cleaner_state_of_a_compacted_topic() {
    let s = Server::start_with(&["log_cleaner_backoff_ms=50"]);
    s.ok(
        &[
            "topic",
            "create",
            "table",
            "-p",
            "2",
            "-c",
            "cleanup.policy=compact",
            "-c",
            "segment.bytes=1024",
            "-c",
            "min.cleanable.dirty.ratio=0.01",
        ],
        "",
    );
    let describe = || -> Value {
        serde_json::from_str(&s.ok(&["topic", "describe", "table", "--json"], "")).unwrap()
    };
    let d = describe();
    for p in d["partitions"].as_array().unwrap() {
        assert_eq!(p["last_clean_ms"], -1, "{d}");
        assert_eq!(p["dirty_ratio"], 0.0, "{d}");
    }
    // 400 overwrites of 4 keys in 10 runs (10 batches a partition at least): many closed
    // segments of superseded records.
    for run in 0..10 {
        let lines: String = (0..40)
            .map(|i| {
                format!(
                    "{}\n",
                    json!({"key": format!("k{}", i % 4), "value": format!("value {run}-{i} {}", "x".repeat(40))})
                )
            })
            .collect();
        s.ok(&["produce", "table", "--json", "--acks", "all"], &lines);
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let d = loop {
        let d = describe();
        let parts = d["partitions"].as_array().unwrap().clone();
        if parts
            .iter()
            .all(|p| p["last_clean_ms"].as_i64().unwrap() > 0)
        {
            break d;
        }
        assert!(std::time::Instant::now() < deadline, "never cleaned: {d}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    for p in d["partitions"].as_array().unwrap() {
        let ratio = p["dirty_ratio"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&ratio), "{d}");
    }
    // The entry is given only when asked for by name, never among "all configs".
    let all: Value = serde_json::from_str(&s.ok(
        &["topic", "describe", "table", "--json", "--all-configs"],
        "",
    ))
    .unwrap();
    assert!(all["configs"].get("weir.cleaner.stats").is_none(), "{all}");
    assert_eq!(all["configs"]["cleanup.policy"], "compact", "{all}");
    let text = s.ok(&["topic", "describe", "table"], "");
    assert!(text.contains("dirty_ratio\tlast_clean"), "{text}");
    // A delete-policy topic has no cleaner columns.
    s.ok(&["topic", "create", "plain"], "");
    let text = s.ok(&["topic", "describe", "plain"], "");
    assert!(!text.contains("dirty_ratio"), "{text}");
}

#[test]
fn exactly_once_replay_resumes_where_it_stopped_and_txn_shows_it() {
    let s = Server::start();
    s.ok(&["topic", "create", "src", "-p", "1"], "");
    s.ok(&["topic", "create", "dst", "-p", "1"], "");
    let input: String = (0..30).map(|i| format!("v{i}\n")).collect();
    s.ok(&["produce", "src"], &input);
    // The first run stops at offset 12 (as an interrupted replay would have committed).
    let first: Value = serde_json::from_str(&s.ok(
        &[
            "replay",
            "src",
            "dst",
            "--exactly-once",
            "--transaction-records",
            "5",
            "--to-offset",
            "12",
            "--json",
        ],
        "",
    ))
    .unwrap();
    assert_eq!(first["records"], 12);
    // Started again over the whole range, it resumes from the group's committed position.
    let second: Value = serde_json::from_str(&s.ok(
        &[
            "replay",
            "src",
            "dst",
            "--exactly-once",
            "--transaction-records",
            "5",
            "--json",
        ],
        "",
    ))
    .unwrap();
    assert_eq!(second["records"], 18);
    assert_eq!(second["partitions"][0]["from_offset"], 12);
    let copied: Vec<String> = s
        .json_lines(&["consume", "dst", "-e", "--json"])
        .iter()
        .map(|r| r["value"].as_str().unwrap().to_string())
        .collect();
    let want: Vec<String> = (0..30).map(|i| format!("v{i}")).collect();
    assert_eq!(copied, want);
    // A third run has nothing left to copy.
    let third: Value =
        serde_json::from_str(&s.ok(&["replay", "src", "dst", "--exactly-once", "--json"], ""))
            .unwrap();
    assert_eq!(third["records"], 0);

    let listed: Value = serde_json::from_str(&s.ok(&["txn", "list", "--json"], "")).unwrap();
    let ids: Vec<&str> = listed["transactions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["transactional_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["weir-replay-src-dst"]);
    let d: Value =
        serde_json::from_str(&s.ok(&["txn", "describe", "weir-replay-src-dst", "--json"], ""))
            .unwrap();
    assert_eq!(d["state"], "CompleteCommit");
    assert_eq!(d["partitions"], json!({}));
    assert_one_line_error(
        &s.run(&["txn", "describe", "nobody"], ""),
        "TRANSACTIONAL_ID_NOT_FOUND",
    );
}
