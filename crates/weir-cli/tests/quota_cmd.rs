//! `weir quota set|list|remove` through the built binary against a `weir serve` child.

use std::process::{Command, Output};

use serde_json::Value;

#[allow(dead_code)] // Server::start_with is for the other test files
mod support;
use support::Server;

fn weir(server: &Server, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_weir"))
        .args(args)
        .args(["--bootstrap", &server.addr])
        .env("WEIR_LOG", "warn")
        .output()
        .unwrap()
}

fn ok(server: &Server, args: &[&str]) -> String {
    let out = weir(server, args);
    assert!(
        out.status.success(),
        "weir {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn quotas_are_set_listed_and_removed() {
    let server = Server::start();
    let set = ok(
        &server,
        &[
            "quota",
            "set",
            "--user",
            "alice",
            "--client-id-default",
            "--add",
            "producer_byte_rate=1048576,consumer_byte_rate=2097152",
        ],
    );
    assert_eq!(set.lines().count(), 2, "{set}");
    ok(
        &server,
        &[
            "quota",
            "set",
            "--user-default",
            "--add",
            "request_percentage=12.5",
        ],
    );
    ok(
        &server,
        &[
            "quota",
            "set",
            "--ip",
            "10.0.0.1",
            "--add",
            "connection_creation_rate=5",
        ],
    );
    let listed = ok(&server, &["quota", "list"]);
    assert_eq!(
        listed,
        "ip=10.0.0.1 connection_creation_rate=5\n\
         user=<default> request_percentage=12.5\n\
         user=alice,client-id=<default> consumer_byte_rate=2097152\n\
         user=alice,client-id=<default> producer_byte_rate=1048576\n"
    );
    // An entity named: that entity only.
    let one = ok(&server, &["quota", "list", "--user-default"]);
    assert_eq!(one, "user=<default> request_percentage=12.5\n");
    let json: Value = serde_json::from_str(&ok(&server, &["quota", "list", "--json"])).unwrap();
    let rows = json.as_array().unwrap();
    assert_eq!(rows.len(), 4, "{json}");
    assert!(rows.iter().any(|r| r["entity"]["user"] == "alice"
        && r["entity"]["client-id"].is_null()
        && r["key"] == "producer_byte_rate"
        && r["value"] == 1048576.0));

    let removed = ok(
        &server,
        &[
            "quota",
            "remove",
            "--user",
            "alice",
            "--client-id-default",
            "--key",
            "producer_byte_rate",
        ],
    );
    assert_eq!(
        removed,
        "removed user=alice,client-id=<default> producer_byte_rate\n"
    );
    let listed = ok(
        &server,
        &["quota", "list", "--user", "alice", "--client-id-default"],
    );
    assert_eq!(
        listed,
        "user=alice,client-id=<default> consumer_byte_rate=2097152\n"
    );
}

#[test]
fn an_unknown_key_is_refused_with_kafkas_error() {
    let server = Server::start();
    let out = weir(
        &server,
        &["quota", "set", "--user", "bob", "--add", "bogus_rate=10"],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("INVALID_REQUEST"), "{err}");
    assert!(
        err.contains("Invalid configuration key bogus_rate"),
        "{err}"
    );
    // Nothing was stored.
    assert_eq!(ok(&server, &["quota", "list"]), "");
    // No entity: refused before connecting.
    let out = weir(&server, &["quota", "set", "--add", "producer_byte_rate=1"]);
    assert!(!out.status.success());
}

#[test]
fn command_config_is_taken() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("client.properties");
    std::fs::write(&config, "security.protocol=PLAINTEXT\n").unwrap();
    let config = config.to_str().unwrap();
    ok(
        &server,
        &[
            "quota",
            "set",
            "--command-config",
            config,
            "--client-id",
            "app",
            "--add",
            "producer_byte_rate=1000",
        ],
    );
    let listed = ok(&server, &["quota", "list", "--command-config", config]);
    assert_eq!(listed, "client-id=app producer_byte_rate=1000\n");
}
