//! Listeners, TLS and SASL against a real broker: each listener advertises its own address;
//! SCRAM-SHA-256/512 and PLAIN (v1 and v0 framing) authenticate, a wrong password and an
//! unknown user fail alike and close; nothing but ApiVersions and SASL is answered before
//! authentication; a handshake that never finishes and a frame that lies about its length
//! are cut off; 1,000 failed logins leave the broker serving; SSL with and without a
//! client certificate, SASL_SSL. Certificates are made here with rcgen.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use weir_auth::client::ScramClient;
use weir_auth::scram::{Mechanism, ScramCredential};
use weir_broker::broker::Broker;
use weir_broker::config::{BrokerConfig, Source};
use weir_broker::security::credentials::{Change, CredentialStore};
use weir_broker::security::listener::bind_all;
use weir_protocol::messages::{metadata as md, sasl_authenticate as sa, sasl_handshake as sh};
use weir_protocol::{
    ErrorCode, RequestBody as Q, RequestHeader, ResponseBody as R, decode_response, encode_request,
};

struct Secured {
    addrs: Vec<(String, SocketAddr)>,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

impl Secured {
    fn addr(&self, name: &str) -> SocketAddr {
        self.addrs.iter().find(|(n, _)| n == name).unwrap().1
    }

    async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.task.await.unwrap();
    }
}

async fn start(settings: &[(&str, &str)]) -> Secured {
    let dir = tempfile::tempdir().unwrap();
    let store = CredentialStore::open(dir.path(), Arc::new(weir_broker::RealFs)).unwrap();
    let mut changes = Vec::new();
    for m in Mechanism::ALL {
        for (user, pw) in [("alice", &b"alice-secret"[..]), ("bob", b"bob-secret")] {
            let cred = ScramCredential::new(m, pw, 4096).unwrap();
            changes.push(Change::Upsert(user.into(), m, cred));
        }
    }
    store.apply(&changes).unwrap();
    let mut all = vec![(
        "data_dir".to_string(),
        dir.path().display().to_string(),
        Source::Flag("test".into()),
    )];
    all.extend(
        settings
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string(), Source::Flag("test".into()))),
    );
    let config = BrokerConfig::from_settings(all).unwrap();
    let bound = bind_all(&config.listeners).await.unwrap();
    let addrs = bound
        .iter()
        .map(|b| (b.config.name.clone(), b.local_addr))
        .collect();
    let broker = Arc::new(Broker::open(config).unwrap());
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        broker
            .serve_listeners(bound, async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
    });
    Secured {
        addrs,
        stop: Some(stop),
        task,
        _dir: dir,
    }
}

/// A connection over any stream, speaking frames through `weir-protocol`.
struct Conn<S> {
    s: S,
    id: i32,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Conn<S> {
    async fn raw(&mut self, bytes: &[u8]) {
        self.s.write_all(bytes).await.unwrap();
    }

    async fn frame(&mut self) -> Option<Bytes> {
        let mut len = [0u8; 4];
        tokio::time::timeout(Duration::from_secs(10), self.s.read_exact(&mut len))
            .await
            .ok()?
            .ok()?;
        let mut body = vec![0u8; i32::from_be_bytes(len) as usize];
        self.s.read_exact(&mut body).await.ok()?;
        Some(Bytes::from(body))
    }

    /// One request; `None` when the broker closed instead of answering.
    async fn call(&mut self, v: i16, body: Q) -> Option<R> {
        self.id += 1;
        let key = body.api_key();
        let header = RequestHeader {
            api_key: key.as_i16(),
            api_version: v,
            correlation_id: self.id,
            client_id: Some("security-test".into()),
            unknown_tagged_fields: vec![],
        };
        let frame = encode_request(&header, &body).unwrap().to_bytes();
        self.s.write_all(&frame).await.ok()?;
        let resp = self.frame().await?;
        Some(decode_response(key, v, resp).unwrap().1)
    }

    async fn handshake(&mut self, v: i16, mechanism: &str) -> i16 {
        let Some(R::SaslHandshake(r)) = self
            .call(
                v,
                Q::SaslHandshake(sh::SaslHandshakeRequest {
                    mechanism: mechanism.into(),
                }),
            )
            .await
        else {
            panic!("no handshake answer")
        };
        r.error_code
    }

    async fn authenticate(&mut self, token: Vec<u8>) -> Option<sa::SaslAuthenticateResponse> {
        match self
            .call(
                2,
                Q::SaslAuthenticate(sa::SaslAuthenticateRequest {
                    auth_bytes: Bytes::from(token),
                    ..Default::default()
                }),
            )
            .await?
        {
            R::SaslAuthenticate(r) => Some(r),
            other => panic!("{other:?}"),
        }
    }

    /// A whole SCRAM exchange (handshake v1); whether it authenticated.
    async fn scram(&mut self, m: Mechanism, user: &str, password: &[u8]) -> bool {
        self.scram_lifetime(m, user, password).await.is_some()
    }

    /// [`Conn::scram`], returning the session lifetime the broker gave.
    async fn scram_lifetime(&mut self, m: Mechanism, user: &str, password: &[u8]) -> Option<i64> {
        assert_eq!(self.handshake(1, m.name()).await, 0);
        let (client, first) = ScramClient::new(m, user).unwrap();
        let r = self.authenticate(first).await.unwrap();
        assert_eq!(r.error_code, 0, "{:?}", r.error_message);
        let (client, fin) = client.finish(password, &r.auth_bytes).unwrap();
        let r = self.authenticate(fin).await.unwrap();
        if r.error_code != 0 {
            assert_eq!(r.error_code, ErrorCode::SASL_AUTHENTICATION_FAILED.0);
            return None;
        }
        client.verify(&r.auth_bytes).unwrap();
        Some(r.session_lifetime_ms)
    }

    async fn metadata(&mut self) -> Option<md::MetadataResponse> {
        match self
            .call(12, Q::Metadata(md::MetadataRequest::default()))
            .await?
        {
            R::Metadata(r) => Some(r),
            other => panic!("{other:?}"),
        }
    }
}

async fn tcp(addr: SocketAddr) -> Conn<TcpStream> {
    Conn {
        s: TcpStream::connect(addr).await.unwrap(),
        id: 0,
    }
}

const SASL: &[(&str, &str)] = &[
    (
        "listeners",
        "PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0",
    ),
    (
        "sasl_enabled_mechanisms",
        "SCRAM-SHA-256,SCRAM-SHA-512,PLAIN",
    ),
];

#[tokio::test]
async fn each_listener_advertises_its_own_address() {
    let b = start(&[
        (
            "listeners",
            "PLAINTEXT://127.0.0.1:0,EXTERNAL://127.0.0.1:0",
        ),
        ("advertised_listeners", "EXTERNAL://kafka.example:0"),
        (
            "listener_security_protocol_map",
            "PLAINTEXT:PLAINTEXT,EXTERNAL:PLAINTEXT",
        ),
    ])
    .await;
    let (inner, outer) = (b.addr("PLAINTEXT"), b.addr("EXTERNAL"));
    let m = tcp(inner).await.metadata().await.unwrap();
    assert_eq!(
        (m.brokers[0].host.as_str(), m.brokers[0].port),
        ("127.0.0.1", i32::from(inner.port()))
    );
    let m = tcp(outer).await.metadata().await.unwrap();
    assert_eq!(
        (m.brokers[0].host.as_str(), m.brokers[0].port),
        ("kafka.example", i32::from(outer.port()))
    );
    b.stop().await;
}

#[tokio::test]
async fn scram_authenticates_and_then_requests_are_served() {
    let b = start(SASL).await;
    for m in Mechanism::ALL {
        let mut c = tcp(b.addr("SASL_PLAINTEXT")).await;
        assert!(
            c.call(3, Q::ApiVersions(Default::default()))
                .await
                .is_some()
        );
        assert!(c.scram(m, "alice", b"alice-secret").await, "{m}");
        assert!(c.metadata().await.is_some());
        // A second handshake on an authenticated connection is refused (no KIP-368 yet).
        assert_eq!(
            c.handshake(1, m.name()).await,
            ErrorCode::ILLEGAL_SASL_STATE.0
        );
    }
    b.stop().await;
}

#[tokio::test]
async fn sessions_expire_unless_re_authenticated_as_the_same_user() {
    let mut settings = SASL.to_vec();
    settings.push(("connections_max_reauth_ms", "700"));
    let b = start(&settings).await;
    let m = Mechanism::ScramSha256;
    let mut c = tcp(b.addr("SASL_PLAINTEXT")).await;
    assert_eq!(
        c.scram_lifetime(m, "alice", b"alice-secret").await,
        Some(700)
    );
    // KIP-368: a new handshake on the authenticated connection re-authenticates it.
    assert_eq!(
        c.scram_lifetime(m, "alice", b"alice-secret").await,
        Some(700)
    );
    assert!(c.metadata().await.is_some());
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(c.scram(m, "alice", b"alice-secret").await);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(
        c.metadata().await.is_some(),
        "the re-authentication renewed the session"
    );
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(c.metadata().await.is_none(), "an expired session closes");
    // Re-authenticating as someone else fails and closes.
    let mut c = tcp(b.addr("SASL_PLAINTEXT")).await;
    assert!(c.scram(m, "alice", b"alice-secret").await);
    assert!(!c.scram(m, "bob", b"bob-secret").await);
    assert!(c.metadata().await.is_none());
    // Without connections_max_reauth_ms the lifetime is 0 (checked in the other tests' broker).
    b.stop().await;
    let b = start(SASL).await;
    let mut c = tcp(b.addr("SASL_PLAINTEXT")).await;
    assert_eq!(c.scram_lifetime(m, "bob", b"bob-secret").await, Some(0));
    b.stop().await;
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_user_fail_alike_and_close() {
    let b = start(SASL).await;
    for (user, password) in [("alice", &b"wrong"[..]), ("mallory", b"alice-secret")] {
        let mut c = tcp(b.addr("SASL_PLAINTEXT")).await;
        assert!(!c.scram(Mechanism::ScramSha512, user, password).await);
        assert!(c.metadata().await.is_none(), "closed after the failure");
    }
    // PLAIN, v1: the same error and message for both.
    let mut messages = Vec::new();
    for token in [&b"\0alice\0wrong"[..], b"\0mallory\0alice-secret"] {
        let mut c = tcp(b.addr("SASL_PLAINTEXT")).await;
        assert_eq!(c.handshake(1, "PLAIN").await, 0);
        let r = c.authenticate(token.to_vec()).await.unwrap();
        assert_eq!(r.error_code, ErrorCode::SASL_AUTHENTICATION_FAILED.0);
        messages.push(r.error_message);
        assert!(c.metadata().await.is_none());
    }
    assert_eq!(messages[0], messages[1]);
    let mut c = tcp(b.addr("SASL_PLAINTEXT")).await;
    assert_eq!(c.handshake(1, "PLAIN").await, 0);
    let r = c
        .authenticate(b"\0alice\0alice-secret".to_vec())
        .await
        .unwrap();
    assert_eq!(r.error_code, 0);
    assert!(c.metadata().await.is_some());
    // An unknown mechanism.
    let mut c = tcp(b.addr("SASL_PLAINTEXT")).await;
    assert_eq!(
        c.handshake(1, "GSSAPI").await,
        ErrorCode::UNSUPPORTED_SASL_MECHANISM.0
    );
    b.stop().await;
}

#[tokio::test]
async fn v0_handshake_takes_raw_tokens() {
    let b = start(SASL).await;
    let mut c = tcp(b.addr("SASL_PLAINTEXT")).await;
    assert_eq!(c.handshake(0, "SCRAM-SHA-256").await, 0);
    let (client, first) = ScramClient::new(Mechanism::ScramSha256, "alice").unwrap();
    let mut framed = (first.len() as i32).to_be_bytes().to_vec();
    framed.extend(&first);
    c.raw(&framed).await;
    let server_first = c.frame().await.unwrap();
    let (client, fin) = client.finish(b"alice-secret", &server_first).unwrap();
    let mut framed = (fin.len() as i32).to_be_bytes().to_vec();
    framed.extend(&fin);
    c.raw(&framed).await;
    client.verify(&c.frame().await.unwrap()).unwrap();
    assert!(c.metadata().await.is_some());
    // PLAIN over v0: an empty token answers success.
    let mut c = tcp(b.addr("SASL_PLAINTEXT")).await;
    assert_eq!(c.handshake(0, "PLAIN").await, 0);
    let token = b"\0alice\0alice-secret";
    let mut framed = (token.len() as i32).to_be_bytes().to_vec();
    framed.extend(token);
    c.raw(&framed).await;
    assert_eq!(c.frame().await.unwrap().len(), 0);
    assert!(c.metadata().await.is_some());
    b.stop().await;
}

#[tokio::test]
async fn before_authentication_only_sasl_and_api_versions_are_answered() {
    let b = start(SASL).await;
    let mut c = tcp(b.addr("SASL_PLAINTEXT")).await;
    assert!(c.metadata().await.is_none());
    // The PLAINTEXT listener of the same broker is unaffected.
    assert!(tcp(b.addr("PLAINTEXT")).await.metadata().await.is_some());
    b.stop().await;
}

#[tokio::test]
async fn hostile_frames_and_stalled_handshakes_are_cut_off() {
    let mut settings = SASL.to_vec();
    settings.push(("connections_authentication_timeout_ms", "300"));
    let b = start(&settings).await;
    // A size prefix far above sasl_server_max_receive_size (512 KiB) before authentication.
    let mut c = tcp(b.addr("SASL_PLAINTEXT")).await;
    c.raw(&(10i32 << 20).to_be_bytes()).await;
    assert!(c.frame().await.is_none());
    // A SaslAuthenticate v0 whose auth_bytes length claims 1 MiB inside a 30-byte frame.
    let mut c = tcp(b.addr("SASL_PLAINTEXT")).await;
    assert_eq!(c.handshake(1, "PLAIN").await, 0);
    let mut body = vec![0, 36, 0, 0, 0, 0, 0, 9, 0, 1, b'x'];
    body.extend((1i32 << 20).to_be_bytes());
    body.extend([0u8; 15]);
    let mut framed = (body.len() as i32).to_be_bytes().to_vec();
    framed.extend(&body);
    c.raw(&framed).await;
    assert!(
        c.frame().await.is_none(),
        "a lying length closes the connection"
    );
    // A raw v0 token that claims more bytes than it sends, then stalls: the deadline.
    let mut c = tcp(b.addr("SASL_PLAINTEXT")).await;
    assert_eq!(c.handshake(0, "PLAIN").await, 0);
    c.raw(&[0, 0, 1, 0, 0]).await;
    let started = std::time::Instant::now();
    assert!(c.frame().await.is_none());
    assert!(started.elapsed() < Duration::from_secs(5));
    // A handshake that never finishes.
    let mut c = tcp(b.addr("SASL_PLAINTEXT")).await;
    assert_eq!(c.handshake(1, "SCRAM-SHA-256").await, 0);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(c.authenticate(b"n,,n=alice,r=abc".to_vec()).await.is_none());
    b.stop().await;
}

#[tokio::test]
async fn a_thousand_failed_logins_leave_the_broker_serving() {
    let b = start(SASL).await;
    let addr = b.addr("SASL_PLAINTEXT");
    let mut tasks = tokio::task::JoinSet::new();
    for t in 0..8 {
        tasks.spawn(async move {
            for i in 0..125 {
                let mut c = tcp(addr).await;
                assert_eq!(c.handshake(1, "SCRAM-SHA-256").await, 0);
                let first = format!("n,,n=u{t}-{i},r=nonce{i}").into_bytes();
                let r = c.authenticate(first).await.unwrap();
                let sf = String::from_utf8(r.auth_bytes.to_vec()).unwrap();
                let nonce = sf.split(',').next().unwrap().strip_prefix("r=").unwrap();
                let fin =
                    format!("c=biws,r={nonce},p=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
                let r = c.authenticate(fin.into_bytes()).await.unwrap();
                assert_eq!(r.error_code, ErrorCode::SASL_AUTHENTICATION_FAILED.0);
            }
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.unwrap();
    }
    let mut c = tcp(addr).await;
    assert!(
        c.scram(Mechanism::ScramSha256, "alice", b"alice-secret")
            .await
    );
    b.stop().await;
}

/// A CA, a server certificate for 127.0.0.1 signed by it, and a client certificate.
struct Pki {
    dir: tempfile::TempDir,
    ca: rustls::pki_types::CertificateDer<'static>,
    client_chain: Vec<rustls::pki_types::CertificateDer<'static>>,
    client_key: rustls::pki_types::PrivateKeyDer<'static>,
}

fn pki() -> Pki {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "weir test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let server_key = rcgen::KeyPair::generate().unwrap();
    let mut sp = rcgen::CertificateParams::new(vec!["localhost".into()]).unwrap();
    sp.subject_alt_names
        .push(rcgen::SanType::IpAddress("127.0.0.1".parse().unwrap()));
    let server = sp.signed_by(&server_key, &ca, &ca_key).unwrap();
    let client_key = rcgen::KeyPair::generate().unwrap();
    let mut cp = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    cp.distinguished_name
        .push(rcgen::DnType::CommonName, "client-one");
    let client = cp.signed_by(&client_key, &ca, &ca_key).unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("server.pem"),
        format!("{}{}{}", server.pem(), ca.pem(), server_key.serialize_pem()),
    )
    .unwrap();
    std::fs::write(dir.path().join("ca.pem"), ca.pem()).unwrap();
    Pki {
        dir,
        ca: ca.der().clone(),
        client_chain: vec![client.der().clone()],
        client_key: rustls::pki_types::PrivateKeyDer::Pkcs8(client_key.serialize_der().into()),
    }
}

fn connector(pki: &Pki, with_cert: bool) -> tokio_rustls::TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(pki.ca.clone()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let b = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let config = if with_cert {
        b.with_client_auth_cert(pki.client_chain.clone(), pki.client_key.clone_key())
            .unwrap()
    } else {
        b.with_no_client_auth()
    };
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

async fn tls(
    pki: &Pki,
    addr: SocketAddr,
    with_cert: bool,
) -> std::io::Result<Conn<tokio_rustls::client::TlsStream<TcpStream>>> {
    let tcp = TcpStream::connect(addr).await?;
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let s = connector(pki, with_cert).connect(name, tcp).await?;
    Ok(Conn { s, id: 0 })
}

#[tokio::test]
async fn ssl_and_sasl_ssl_listeners() {
    let pki = pki();
    let keystore = pki.dir.path().join("server.pem").display().to_string();
    let truststore = pki.dir.path().join("ca.pem").display().to_string();
    for (client_auth, without_cert_ok) in [("required", false), ("requested", true), ("none", true)]
    {
        let b = start(&[
            ("listeners", "SSL://127.0.0.1:0,SASL_SSL://127.0.0.1:0"),
            ("ssl_keystore_location", &keystore),
            ("ssl_truststore_location", &truststore),
            ("ssl_client_auth", client_auth),
            ("sasl_enabled_mechanisms", "SCRAM-SHA-512"),
        ])
        .await;
        if client_auth != "none" {
            let mut c = tls(&pki, b.addr("SSL"), true).await.unwrap();
            assert!(
                c.metadata().await.is_some(),
                "{client_auth} with a certificate"
            );
        }
        let answered = match tls(&pki, b.addr("SSL"), false).await {
            Ok(mut c) => c.metadata().await.is_some(),
            Err(_) => false,
        };
        assert_eq!(
            answered, without_cert_ok,
            "{client_auth} without a certificate"
        );
        // SASL_SSL ignores ssl_client_auth (KIP-684) and authenticates by SCRAM.
        let mut c = tls(&pki, b.addr("SASL_SSL"), false).await.unwrap();
        assert!(
            c.scram(Mechanism::ScramSha512, "alice", b"alice-secret")
                .await
        );
        let m = c.metadata().await.unwrap();
        assert_eq!(m.brokers[0].port, i32::from(b.addr("SASL_SSL").port()));
        b.stop().await;
    }
}

#[tokio::test]
async fn a_tls_client_that_stalls_mid_handshake_is_cut_off() {
    let pki = pki();
    let keystore = pki.dir.path().join("server.pem").display().to_string();
    let b = start(&[
        ("listeners", "SSL://127.0.0.1:0"),
        ("ssl_keystore_location", &keystore),
        ("connections_authentication_timeout_ms", "300"),
    ])
    .await;
    // A TLS record header announcing a 512-byte ClientHello, and nothing more.
    let mut s = TcpStream::connect(b.addr("SSL")).await.unwrap();
    s.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01])
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let mut buf = [0u8; 16];
    let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
        .await
        .expect("the broker should close the stalled handshake");
    assert!(matches!(n, Ok(0) | Err(_)), "{n:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
    // Served normally afterwards.
    assert!(
        tls(&pki, b.addr("SSL"), false)
            .await
            .unwrap()
            .metadata()
            .await
            .is_some()
    );
    b.stop().await;
}
