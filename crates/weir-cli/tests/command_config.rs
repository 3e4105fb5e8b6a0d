//! `--command-config` against a `weir serve` child with a SASL_PLAINTEXT listener and the
//! authorizer on: the CLI authenticates with SCRAM and PLAIN, a denied ACL and a wrong
//! password each give one clear line, and a PLAINTEXT attempt is refused; and against a
//! SASL_SSL listener (certificates made here with rcgen), verified against the CA.

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

const WEIR: &str = env!("CARGO_BIN_EXE_weir");

struct Secured {
    child: Child,
    addr: String,
    dir: tempfile::TempDir,
}

impl Drop for Secured {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn add_user(data_dir: &Path, user: &str, password: &str) {
    let mut child = Command::new(WEIR)
        .args(["user", "add", user, "--data-dir"])
        .arg(data_dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    writeln!(stdin, "{password}").unwrap();
    drop(stdin);
    assert!(child.wait().unwrap().success());
}

fn start() -> Secured {
    let dir = tempfile::tempdir().unwrap();
    add_user(dir.path(), "admin", "admin-secret");
    add_user(dir.path(), "alice", "alice-secret");
    let mut child = Command::new(WEIR)
        .args(["serve", "--data-dir"])
        .arg(dir.path())
        .args(["--set", "listeners=SASL_PLAINTEXT://127.0.0.1:0"])
        .args([
            "--set",
            "sasl_enabled_mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512",
        ])
        .args(["--set", "authorizer_enabled=true"])
        .args(["--set", "super_users=User:admin"])
        .args(["--set", "http_listen=127.0.0.1:0"])
        .env("WEIR_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("weir: listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    Secured { child, addr, dir }
}

impl Secured {
    /// A properties file for `user` with `mechanism` and `password`.
    fn props(&self, user: &str, mechanism: &str, password: &str) -> String {
        let path = self
            .dir
            .path()
            .join(format!("{user}-{mechanism}.properties"));
        let text = format!(
            "# {user}\nsecurity.protocol=SASL_PLAINTEXT\nsasl.mechanism={mechanism}\n\
             sasl.username={user}\nsasl.password={password}\n"
        );
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    }

    fn weir(&self, props: Option<&str>, args: &[&str]) -> Output {
        let mut c = Command::new(WEIR);
        c.args(args).args(["--bootstrap", &self.addr]);
        if let Some(p) = props {
            c.args(["--command-config", p]);
        }
        c.env("WEIR_LOG", "warn").output().unwrap()
    }
}

fn stderr_line(out: &Output) -> String {
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    err
}

#[test]
fn the_cli_authenticates_and_a_denied_acl_is_a_clear_error() {
    let broker = start();
    let admin = broker.props("admin", "SCRAM-SHA-512", "admin-secret");
    let alice = broker.props("alice", "SCRAM-SHA-256", "alice-secret");
    let alice_plain = broker.props("alice", "PLAIN", "alice-secret");

    let out = broker.weir(
        Some(&admin),
        &["topic", "create", "orders", "--partitions", "1"],
    );
    assert!(out.status.success(), "{out:?}");
    // alice may not DESCRIBE the topic yet: it is left out of her list.
    let out = broker.weir(Some(&alice), &["topic", "list"]);
    assert!(out.status.success(), "{out:?}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("orders"));
    // ACL administration needs ALTER on the cluster.
    let out = broker.weir(
        Some(&alice_plain),
        &[
            "acl",
            "add",
            "--allow-principal",
            "User:alice",
            "--topic",
            "orders",
        ],
    );
    assert!(stderr_line(&out).contains("CLUSTER_AUTHORIZATION_FAILED"));
    let out = broker.weir(
        Some(&admin),
        &[
            "acl",
            "add",
            "--allow-principal",
            "User:alice",
            "--operation",
            "Describe",
            "--topic",
            "orders",
        ],
    );
    assert!(out.status.success(), "{out:?}");
    let out = broker.weir(Some(&alice_plain), &["topic", "list"]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("orders"),
        "{out:?}"
    );

    // A wrong password, and no SASL at all, are refused.
    let wrong = broker.props("alice", "SCRAM-SHA-512", "nope");
    let err = stderr_line(&broker.weir(Some(&wrong), &["topic", "list"]));
    assert!(err.contains("SASL_AUTHENTICATION_FAILED"), "{err}");
    let out = broker.weir(None, &["topic", "list"]);
    assert_eq!(out.status.code(), Some(1));
    // SSL without a CA bundle: said so, before connecting.
    let tls = broker.dir.path().join("tls.properties");
    std::fs::write(&tls, "security.protocol=SASL_SSL\n").unwrap();
    let err = stderr_line(&broker.weir(Some(&tls.display().to_string()), &["topic", "list"]));
    assert!(err.contains("ssl.ca.location"), "{err}");
}

/// A CA and a broker keystore (leaf for localhost and 127.0.0.1, then the key) in `dir`;
/// returns (CA path, keystore path).
fn certificates(dir: &Path) -> (String, String) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "weir-cli test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["localhost".into()]).unwrap();
    params
        .subject_alt_names
        .push(rcgen::SanType::IpAddress("127.0.0.1".parse().unwrap()));
    let leaf = params.signed_by(&key, &ca, &ca_key).unwrap();
    let ca_path = dir.join("ca.pem");
    std::fs::write(&ca_path, ca.pem()).unwrap();
    let keystore = dir.join("keystore.pem");
    std::fs::write(&keystore, format!("{}{}", leaf.pem(), key.serialize_pem())).unwrap();
    (
        ca_path.display().to_string(),
        keystore.display().to_string(),
    )
}

#[test]
fn the_cli_speaks_sasl_ssl_verified_against_the_ca() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, keystore) = certificates(dir.path());
    add_user(dir.path(), "admin", "admin-secret");
    let mut child = Command::new(WEIR)
        .args(["serve", "--data-dir"])
        .arg(dir.path())
        .args(["--set", "listeners=SASL_SSL://127.0.0.1:0"])
        .args(["--set", &format!("ssl_keystore_location={keystore}")])
        .args(["--set", "authorizer_enabled=true"])
        .args(["--set", "super_users=User:admin"])
        .args(["--set", "http_listen=127.0.0.1:0"])
        .env("WEIR_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("weir: listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    let broker = Secured { child, addr, dir };
    let props = |name: &str, text: String| {
        let p = broker.dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    };
    let admin = props(
        "admin.properties",
        format!(
            "security.protocol=SASL_SSL\nsasl.mechanism=SCRAM-SHA-512\nsasl.username=admin\n\
             sasl.password=admin-secret\nssl.ca.location={ca}\n"
        ),
    );
    let out = broker.weir(
        Some(&admin),
        &[
            "acl",
            "add",
            "--allow-principal",
            "User:alice",
            "--topic",
            "t",
        ],
    );
    assert!(out.status.success(), "{out:?}");
    let out = broker.weir(Some(&admin), &["acl", "list", "--json"]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("User:alice"),
        "{out:?}"
    );
    // A CA that did not sign the broker's certificate: the handshake fails.
    let stranger_dir = tempfile::tempdir().unwrap();
    let (stranger_ca, _) = certificates(stranger_dir.path());
    let wrong = props(
        "wrong-ca.properties",
        format!(
            "security.protocol=SASL_SSL\nsasl.mechanism=SCRAM-SHA-512\nsasl.username=admin\n\
             sasl.password=admin-secret\nssl.ca.location={stranger_ca}\n"
        ),
    );
    let err = stderr_line(&broker.weir(Some(&wrong), &["acl", "list"]));
    assert!(err.contains("certificate"), "{err}");
}

#[test]
fn weir_user_online_adds_lists_and_deletes_over_the_kafka_apis() {
    let broker = start();
    let admin = broker.props("admin", "SCRAM-SHA-512", "admin-secret");
    let alice = broker.props("alice", "SCRAM-SHA-512", "alice-secret");
    let user = |props: &str, args: &[&str], stdin: &str| {
        let mut child = Command::new(WEIR)
            .arg("user")
            .args(args)
            .args(["--bootstrap", &broker.addr, "--command-config", props])
            .env("WEIR_LOG", "warn")
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
    };
    let out = user(
        &admin,
        &["add", "carol", "--mechanism", "SCRAM-SHA-256"],
        "carol-pw\n",
    );
    assert!(out.status.success(), "{out:?}");
    let out = user(&admin, &["list"], "");
    let listed = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        listed.contains("carol SCRAM-SHA-256 iterations=8192"),
        "{listed}"
    );
    assert!(listed.contains("alice SCRAM-SHA-512"), "{listed}");
    // The new credential authenticates at once.
    let carol = broker.props("carol", "SCRAM-SHA-256", "carol-pw");
    assert!(
        broker
            .weir(Some(&carol), &["topic", "list"])
            .status
            .success()
    );
    // Without ALTER / DESCRIBE on the cluster: one clear line.
    let err = stderr_line(&user(&alice, &["add", "mallory"], "pw\n"));
    assert!(err.contains("CLUSTER_AUTHORIZATION_FAILED"), "{err}");
    let err = stderr_line(&user(&alice, &["list"], ""));
    assert!(err.contains("CLUSTER_AUTHORIZATION_FAILED"), "{err}");
    let out = user(&admin, &["delete", "carol"], "");
    assert!(out.status.success(), "{out:?}");
    let err = stderr_line(&broker.weir(Some(&carol), &["topic", "list"]));
    assert!(err.contains("SASL_AUTHENTICATION_FAILED"), "{err}");
}
