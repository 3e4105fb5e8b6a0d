//! `weir acl add|list|remove` through the built binary against a `weir serve` child with the
//! authorizer on (PLAINTEXT: the caller is `User:ANONYMOUS`).

use std::process::{Command, Output};

use serde_json::Value;

#[allow(dead_code)] // Server::start is for the other test files
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
fn acls_are_added_listed_and_removed() {
    let server = Server::start_with(&["authorizer_enabled=true", "super_users=User:ANONYMOUS"]);
    let added = ok(
        &server,
        &[
            "acl",
            "add",
            "--allow-principal",
            "User:alice",
            "--operation",
            "Read",
            "--operation",
            "Describe",
            "--topic",
            "orders",
            "--group",
            "billing",
        ],
    );
    assert_eq!(added.lines().count(), 4, "{added}");
    ok(
        &server,
        &[
            "acl",
            "add",
            "--deny-principal",
            "User:bob",
            "--operation",
            "Write",
            "--topic",
            "ord",
            "--resource-pattern-type",
            "prefixed",
            "--host",
            "10.0.0.1",
        ],
    );
    let listed = ok(&server, &["acl", "list", "--topic", "orders"]);
    assert!(
        listed.contains("TOPIC:LITERAL:orders (principal=User:alice, host=*, operation=READ, permissionType=ALLOW)"),
        "{listed}"
    );
    assert!(!listed.contains("billing"), "{listed}");
    // MATCH finds the prefixed ACL that applies to the name too.
    let matched = ok(
        &server,
        &[
            "acl",
            "list",
            "--topic",
            "orders",
            "--resource-pattern-type",
            "match",
        ],
    );
    assert!(matched.contains("TOPIC:PREFIXED:ord (principal=User:bob, host=10.0.0.1, operation=WRITE, permissionType=DENY)"), "{matched}");
    let all: Value = serde_json::from_str(&ok(&server, &["acl", "list", "--json"])).unwrap();
    assert_eq!(all.as_array().unwrap().len(), 5, "{all}");
    let alice: Value = serde_json::from_str(&ok(
        &server,
        &["acl", "list", "--json", "--principal", "User:alice"],
    ))
    .unwrap();
    assert_eq!(alice.as_array().unwrap().len(), 4);
    assert_eq!(alice[0]["permission"], "ALLOW");

    // Remove one entry exactly, then every ACL of a resource.
    let removed = ok(
        &server,
        &[
            "acl",
            "remove",
            "--allow-principal",
            "User:alice",
            "--operation",
            "Read",
            "--topic",
            "orders",
        ],
    );
    assert_eq!(removed.lines().count(), 1, "{removed}");
    let removed = ok(&server, &["acl", "remove", "--group", "billing"]);
    assert_eq!(removed.lines().count(), 2, "{removed}");
    let left: Value = serde_json::from_str(&ok(&server, &["acl", "list", "--json"])).unwrap();
    assert_eq!(left.as_array().unwrap().len(), 2, "{left}");
}

#[test]
fn a_caller_without_the_acl_gets_a_clear_error() {
    let server = Server::start_with(&["authorizer_enabled=true"]);
    let out = weir(&server, &["acl", "list"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("CLUSTER_AUTHORIZATION_FAILED"), "{err}");
    let out = weir(
        &server,
        &["acl", "add", "--allow-principal", "User:x", "--cluster"],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("CLUSTER_AUTHORIZATION_FAILED"), "{err}");
}
