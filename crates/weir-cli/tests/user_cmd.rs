//! `weir user add|delete|list` on a data directory, and `weir serve` refusing listener
//! settings that cannot work (a wildcard bind with nothing to advertise, a TLS listener
//! without a keystore), each with an error naming the problem and never a password.

use std::io::Write as _;
use std::process::{Command, Output, Stdio};

fn weir(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_weir"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn users_are_added_listed_and_deleted_without_their_passwords() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let out = weir(
        &["user", "add", "alice", "--data-dir", d],
        "correct horse\n",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let pw = dir.path().join("pw");
    std::fs::write(&pw, "battery staple\nignored second line\n").unwrap();
    let out = weir(
        &[
            "user",
            "add",
            "bob",
            "--data-dir",
            d,
            "--mechanism",
            "SCRAM-SHA-512",
            "--iterations",
            "4096",
            "--password-file",
            pw.to_str().unwrap(),
        ],
        "",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = weir(&["user", "list", "--data-dir", d], "");
    assert_eq!(
        text(&out.stdout),
        "alice SCRAM-SHA-256 iterations=8192\nalice SCRAM-SHA-512 iterations=8192\n\
         bob SCRAM-SHA-512 iterations=4096\n"
    );
    let out = weir(&["user", "list", "--data-dir", d, "--json"], "");
    let first: serde_json::Value =
        serde_json::from_str(text(&out.stdout).lines().next().unwrap()).unwrap();
    assert_eq!(
        first,
        serde_json::json!({"user": "alice", "mechanism": "SCRAM-SHA-256", "iterations": 8192})
    );
    let stored =
        std::fs::read_to_string(dir.path().join("__weir_meta/scram_credentials.json")).unwrap();
    assert!(
        !stored.contains("correct horse") && !stored.contains("battery"),
        "{stored}"
    );
    let out = weir(&["user", "delete", "alice", "--data-dir", d], "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = weir(&["user", "list", "--data-dir", d], "");
    assert_eq!(text(&out.stdout), "bob SCRAM-SHA-512 iterations=4096\n");
}

#[test]
fn bad_user_commands_fail_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    for (args, stdin, reason) in [
        (
            vec!["user", "add", "a", "--data-dir", d, "--iterations", "1000"],
            "pw\n",
            "iterations 1000",
        ),
        (
            vec!["user", "add", "a", "--data-dir", d],
            "\n",
            "empty password",
        ),
        (
            vec!["user", "add", "a", "--data-dir", d, "--mechanism", "MD5"],
            "pw\n",
            "unknown mechanism",
        ),
        (
            vec!["user", "delete", "nobody", "--data-dir", d],
            "",
            "no such credential",
        ),
        (
            vec!["user", "list", "--data-dir", "/nonexistent/weir"],
            "",
            "no such data directory",
        ),
    ] {
        let out = weir(&args, stdin);
        assert!(!out.status.success(), "{args:?}");
        assert!(
            text(&out.stderr).contains(reason),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
}

#[test]
fn serve_refuses_listeners_that_cannot_work() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    for (sets, reason) in [
        (&["listeners=SASL_SSL://0.0.0.0:0"][..], "wildcard"),
        (&["listeners=SSL://127.0.0.1:0"], "ssl_keystore_location"),
        (
            &["listeners=PLAINTEXT://127.0.0.1"],
            "expected NAME://host:port",
        ),
        (
            &[
                "listeners=SSL://127.0.0.1:0",
                "ssl_keystore_location=/nonexistent/keystore.pem",
                "ssl_key_password=hunter2-xyz",
            ],
            "/nonexistent/keystore.pem",
        ),
    ] {
        let mut args = vec!["serve", "--data-dir", d, "--set", "http_listen="];
        for s in sets {
            args.extend(["--set", s]);
        }
        let out = weir(&args, "");
        assert!(!out.status.success(), "{sets:?}");
        let err = text(&out.stderr);
        assert!(err.contains(reason), "{sets:?}: {err}");
        assert!(
            !err.contains("hunter2"),
            "{sets:?}: a secret in the error: {err}"
        );
    }
}
