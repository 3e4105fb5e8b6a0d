//! TLS on SSL and SASL_SSL listeners: rustls (ring provider), TLS 1.2 and 1.3 only, the
//! keystore and truststore as PEM files (Kafka's `ssl.keystore.type=PEM`). The server
//! configuration is rebuilt when the files change (checked every
//! `ssl_reload_check_interval_ms`) and on SIGHUP; a new handshake uses the newest, open
//! connections keep theirs, and a reload that fails keeps the previous one.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig, ServerConnection};
use thiserror::Error;
use tokio_rustls::TlsAcceptor;
use tracing::{info, warn};

use super::{ClientAuth, Principal, Secret, SecurityConfig};

/// Why the TLS configuration could not be built.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A file could not be read.
    #[error("reading {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A PEM file holds no certificate, or a certificate does not parse.
    #[error("{path}: no PEM certificate")]
    NoCertificate {
        /// The file.
        path: PathBuf,
    },
    /// The keystore holds no usable private key.
    #[error("{path}: no PEM private key (PKCS#8, encrypted PKCS#8, RSA or EC)")]
    NoKey {
        /// The file.
        path: PathBuf,
    },
    /// An encrypted private key and no `ssl_key_password`, or one that does not decrypt it.
    #[error(
        "{path}: the private key is encrypted and {what}",
        what = if *given { "ssl_key_password does not decrypt it (or its cipher is not PBES2 with AES-CBC)" } else { "ssl_key_password is not set" }
    )]
    KeyPassword {
        /// The file.
        path: PathBuf,
        /// Whether a password was given.
        given: bool,
    },
    /// Client authentication needs a truststore.
    #[error("ssl_client_auth={0} needs ssl_truststore_location")]
    NoTruststore(&'static str),
    /// rustls refused the configuration (a key that does not match the certificate, ...).
    #[error("TLS configuration: {0}")]
    Rustls(String),
}

/// Modification time and length of a file, to notice a change.
type Stamp = Option<(SystemTime, u64)>;

fn stamp(path: &Path) -> Stamp {
    let m = std::fs::metadata(path).ok()?;
    Some((m.modified().ok()?, m.len()))
}

/// One listener's TLS server configuration, reloadable.
#[derive(Debug)]
pub struct TlsServer {
    keystore: PathBuf,
    key_password: Option<Secret>,
    truststore: Option<PathBuf>,
    client_auth: ClientAuth,
    current: RwLock<Arc<ServerConfig>>,
    stamps: Mutex<(Stamp, Stamp)>,
}

impl TlsServer {
    /// Loads the keystore (and the truststore, when client certificates are asked for).
    /// `client_auth` is the listener's: `ssl_client_auth` on SSL, [`ClientAuth::None`] on
    /// SASL_SSL (KIP-684).
    pub fn load(security: &SecurityConfig, client_auth: ClientAuth) -> Result<Self, TlsError> {
        let keystore = security
            .ssl_keystore_location
            .clone()
            .ok_or_else(|| TlsError::Rustls("ssl_keystore_location is not set".into()))?;
        let truststore = security.ssl_truststore_location.clone();
        let key_password = security.ssl_key_password.clone();
        let config = build(
            &keystore,
            key_password.as_ref(),
            truststore.as_deref(),
            client_auth,
        )?;
        let stamps = (stamp(&keystore), truststore.as_deref().and_then(stamp));
        Ok(Self {
            keystore,
            key_password,
            truststore,
            client_auth,
            current: RwLock::new(Arc::new(config)),
            stamps: Mutex::new(stamps),
        })
    }

    /// An acceptor over the current configuration.
    pub fn acceptor(&self) -> TlsAcceptor {
        let config = match self.current.read() {
            Ok(c) => Arc::clone(&c),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        };
        TlsAcceptor::from(config)
    }

    /// Rebuilds the configuration from the files; on failure the current one stays.
    pub fn reload(&self) -> Result<(), TlsError> {
        let stamps = (
            stamp(&self.keystore),
            self.truststore.as_deref().and_then(stamp),
        );
        let config = build(
            &self.keystore,
            self.key_password.as_ref(),
            self.truststore.as_deref(),
            self.client_auth,
        )?;
        match self.current.write() {
            Ok(mut c) => *c = Arc::new(config),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(config),
        }
        if let Ok(mut s) = self.stamps.lock() {
            *s = stamps;
        }
        Ok(())
    }

    /// Reloads when a file's modification time or length changed; returns whether it did.
    pub fn reload_if_changed(&self) -> Result<bool, TlsError> {
        let now = (
            stamp(&self.keystore),
            self.truststore.as_deref().and_then(stamp),
        );
        let changed = self.stamps.lock().map(|s| *s != now).unwrap_or(true);
        if changed {
            self.reload()?;
        }
        Ok(changed)
    }
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_path_buf(),
        source,
    })
}

fn certificates(path: &Path, pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs: Vec<_> = CertificateDer::pem_slice_iter(pem)
        .filter_map(Result::ok)
        .collect();
    if certs.is_empty() {
        return Err(TlsError::NoCertificate {
            path: path.to_path_buf(),
        });
    }
    Ok(certs)
}

const ENCRYPTED_BEGIN: &str = "-----BEGIN ENCRYPTED PRIVATE KEY-----";
const ENCRYPTED_END: &str = "-----END ENCRYPTED PRIVATE KEY-----";

/// The keystore's private key: a plain PEM key, or an encrypted PKCS#8 one (PBES2) opened
/// with `ssl_key_password`.
fn private_key(
    path: &Path,
    pem: &[u8],
    password: Option<&Secret>,
) -> Result<PrivateKeyDer<'static>, TlsError> {
    let text = String::from_utf8_lossy(pem);
    let Some(start) = text.find(ENCRYPTED_BEGIN) else {
        return PrivateKeyDer::from_pem_slice(pem).map_err(|_| TlsError::NoKey {
            path: path.to_path_buf(),
        });
    };
    let key_error = |given| TlsError::KeyPassword {
        path: path.to_path_buf(),
        given,
    };
    let password = password.ok_or_else(|| key_error(false))?;
    let end = text[start..]
        .find(ENCRYPTED_END)
        .map(|e| start + e + ENCRYPTED_END.len())
        .ok_or_else(|| TlsError::NoKey {
            path: path.to_path_buf(),
        })?;
    let (_, doc) = pkcs8::Document::from_pem(&text[start..end]).map_err(|_| TlsError::NoKey {
        path: path.to_path_buf(),
    })?;
    let info =
        pkcs8::EncryptedPrivateKeyInfo::try_from(doc.as_bytes()).map_err(|_| TlsError::NoKey {
            path: path.to_path_buf(),
        })?;
    let plain = info
        .decrypt(password.0.as_bytes())
        .map_err(|_| key_error(true))?;
    Ok(PrivateKeyDer::Pkcs8(plain.as_bytes().to_vec().into()))
}

fn build(
    keystore: &Path,
    key_password: Option<&Secret>,
    truststore: Option<&Path>,
    client_auth: ClientAuth,
) -> Result<ServerConfig, TlsError> {
    let pem = read(keystore)?;
    let chain = certificates(keystore, &pem)?;
    let key = private_key(keystore, &pem, key_password)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let rustls_err = |e: rustls::Error| TlsError::Rustls(e.to_string());
    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(rustls_err)?;
    let builder = match client_auth {
        ClientAuth::None => builder.with_no_client_auth(),
        ClientAuth::Requested | ClientAuth::Required => {
            let name = if client_auth == ClientAuth::Required {
                "required"
            } else {
                "requested"
            };
            let path = truststore.ok_or(TlsError::NoTruststore(name))?;
            let mut roots = RootCertStore::empty();
            for cert in certificates(path, &read(path)?)? {
                roots.add(cert).map_err(rustls_err)?;
            }
            let verifier =
                WebPkiClientVerifier::builder_with_provider(Arc::new(roots), Arc::clone(&provider));
            let verifier = if client_auth == ClientAuth::Requested {
                verifier.allow_unauthenticated()
            } else {
                verifier
            };
            builder.with_client_cert_verifier(
                verifier
                    .build()
                    .map_err(|e| TlsError::Rustls(e.to_string()))?,
            )
        }
    };
    builder.with_single_cert(chain, key).map_err(rustls_err)
}

/// The principal of a verified client certificate: `User:` and its subject in RFC 2253
/// form (Kafka's `DEFAULT` rule); `None` without one.
pub fn peer_principal(conn: &ServerConnection) -> Option<Principal> {
    let leaf = conn.peer_certificates()?.first()?;
    super::dn::subject_rfc2253(leaf).map(Principal::user)
}

/// Reloads every server when its files change (checked every `interval`) and on SIGHUP;
/// runs until aborted. SIGHUP never stops the broker: once this runs, it is handled here.
pub fn spawn_reloader(
    servers: Vec<Arc<TlsServer>>,
    interval: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let forced = tokio::select! {
                _ = tick.tick() => false,
                Some(()) = async { match hup.as_mut() { Some(h) => h.recv().await, None => std::future::pending().await } } => true,
            };
            for s in &servers {
                let result = if forced {
                    s.reload().map(|()| true)
                } else {
                    s.reload_if_changed()
                };
                match result {
                    Ok(true) => {
                        info!(keystore = %s.keystore.display(), sighup = forced, "TLS certificates reloaded")
                    }
                    Ok(false) => {}
                    Err(e) => {
                        warn!(error = %e, "TLS reload failed; the previous certificates stay in use")
                    }
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    struct Pki {
        dir: tempfile::TempDir,
        ca: rcgen::Certificate,
        ca_key: rcgen::KeyPair,
    }

    impl Pki {
        fn new() -> Self {
            let ca_key = rcgen::KeyPair::generate().unwrap();
            let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
            p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
            p.distinguished_name
                .push(rcgen::DnType::CommonName, "test CA");
            let ca = p.self_signed(&ca_key).unwrap();
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(dir.path().join("ca.pem"), ca.pem()).unwrap();
            Self { dir, ca, ca_key }
        }

        /// Writes a keystore for `cn` and returns its certificate.
        fn keystore(&self, cn: &str) -> rcgen::Certificate {
            let key = rcgen::KeyPair::generate().unwrap();
            let mut p = rcgen::CertificateParams::new(vec!["localhost".into()]).unwrap();
            p.distinguished_name.push(rcgen::DnType::CommonName, cn);
            let cert = p.signed_by(&key, &self.ca, &self.ca_key).unwrap();
            let path = self.dir.path().join("server.pem");
            std::fs::write(&path, format!("{}{}", cert.pem(), key.serialize_pem())).unwrap();
            cert
        }

        fn client(
            &self,
            subject: &[(rcgen::DnType, &str)],
        ) -> (CertificateDer<'static>, PrivateKeyDer<'static>) {
            let key = rcgen::KeyPair::generate().unwrap();
            let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
            // Not rcgen's default subject (a CN that would come first).
            p.distinguished_name = rcgen::DistinguishedName::new();
            for (t, v) in subject {
                p.distinguished_name.push(t.clone(), *v);
            }
            let cert = p.signed_by(&key, &self.ca, &self.ca_key).unwrap();
            (
                cert.der().clone(),
                PrivateKeyDer::Pkcs8(key.serialize_der().into()),
            )
        }

        fn security(&self) -> SecurityConfig {
            SecurityConfig {
                ssl_keystore_location: Some(self.dir.path().join("server.pem")),
                ssl_truststore_location: Some(self.dir.path().join("ca.pem")),
                ..SecurityConfig::default()
            }
        }
    }

    /// One handshake over an in-memory pipe: the server's leaf certificate as the client saw
    /// it, and the principal the server read from the client's.
    async fn handshake(
        server: &TlsServer,
        pki: &Pki,
        client_cert: Option<(CertificateDer<'static>, PrivateKeyDer<'static>)>,
    ) -> (Vec<u8>, Option<Principal>) {
        let mut roots = RootCertStore::empty();
        roots.add(pki.ca.der().clone()).unwrap();
        let b = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
        let config = match client_cert {
            Some((c, k)) => b.with_client_auth_cert(vec![c], k).unwrap(),
            None => b.with_no_client_auth(),
        };
        let (a, b) = tokio::io::duplex(64 * 1024);
        let acceptor = server.acceptor();
        let srv = tokio::spawn(async move {
            let mut s = acceptor.accept(b).await.unwrap();
            let principal = peer_principal(s.get_ref().1);
            let mut buf = [0u8; 1];
            s.read_exact(&mut buf).await.unwrap();
            principal
        });
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        let mut c = tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(name, a)
            .await
            .unwrap();
        c.write_all(b"x").await.unwrap();
        let leaf = c.get_ref().1.peer_certificates().unwrap()[0].to_vec();
        (leaf, srv.await.unwrap())
    }

    #[tokio::test]
    async fn the_client_certificate_is_the_principal_in_rfc_2253_form() {
        let pki = Pki::new();
        pki.keystore("broker");
        let server = TlsServer::load(&pki.security(), ClientAuth::Requested).unwrap();
        let client = pki.client(&[
            (rcgen::DnType::OrganizationName, "weir"),
            (rcgen::DnType::CommonName, "client-one"),
        ]);
        let (_, principal) = handshake(&server, &pki, Some(client)).await;
        assert_eq!(
            principal.map(|p| p.to_string()).as_deref(),
            Some("User:CN=client-one,O=weir")
        );
        let (_, principal) = handshake(&server, &pki, None).await;
        assert_eq!(principal, None, "requested: no certificate is anonymous");
    }

    #[tokio::test]
    async fn a_changed_keystore_is_used_for_new_handshakes_and_a_bad_one_is_not() {
        let pki = Pki::new();
        let first = pki.keystore("first");
        let server = TlsServer::load(&pki.security(), ClientAuth::None).unwrap();
        assert_eq!(handshake(&server, &pki, None).await.0, first.der().to_vec());
        assert!(!server.reload_if_changed().unwrap(), "nothing changed yet");
        let second = pki.keystore("second-with-a-longer-name");
        assert!(server.reload_if_changed().unwrap());
        assert_eq!(
            handshake(&server, &pki, None).await.0,
            second.der().to_vec()
        );
        // A broken file: the reload fails and the current certificate stays.
        std::fs::write(pki.dir.path().join("server.pem"), "not a PEM file at all").unwrap();
        assert!(server.reload().is_err());
        assert_eq!(
            handshake(&server, &pki, None).await.0,
            second.der().to_vec()
        );
    }

    #[tokio::test]
    async fn an_encrypted_pkcs8_key_opens_with_ssl_key_password() {
        let pki = Pki::new();
        let key = rcgen::KeyPair::generate().unwrap();
        let mut p = rcgen::CertificateParams::new(vec!["localhost".into()]).unwrap();
        p.distinguished_name.push(rcgen::DnType::CommonName, "enc");
        let cert = p.signed_by(&key, &pki.ca, &pki.ca_key).unwrap();
        let plain = pki.dir.path().join("plain.key");
        std::fs::write(&plain, key.serialize_pem()).unwrap();
        // openssl writes the PBES2 form Kafka users have (PBKDF2-HMAC-SHA256, AES-256-CBC).
        let out = std::process::Command::new("openssl")
            .args([
                "pkcs8",
                "-topk8",
                "-v2",
                "aes-256-cbc",
                "-passout",
                "pass:k3y-pass",
                "-in",
            ])
            .arg(&plain)
            .output();
        let Some(out) = out.ok().filter(|o| o.status.success()) else {
            eprintln!("no openssl CLI: the encrypted-key test is skipped");
            return;
        };
        let encrypted = String::from_utf8(out.stdout).unwrap();
        assert!(encrypted.contains("ENCRYPTED PRIVATE KEY"));
        let path = pki.dir.path().join("server.pem");
        std::fs::write(&path, format!("{}{encrypted}", cert.pem())).unwrap();
        let mut security = pki.security();
        security.ssl_key_password = Some(Secret("k3y-pass".into()));
        let server = TlsServer::load(&security, ClientAuth::None).unwrap();
        assert_eq!(handshake(&server, &pki, None).await.0, cert.der().to_vec());
        security.ssl_key_password = Some(Secret("wrong".into()));
        assert!(matches!(
            TlsServer::load(&security, ClientAuth::None),
            Err(TlsError::KeyPassword { given: true, .. })
        ));
    }

    #[test]
    fn bad_keystores_are_typed_errors() {
        let pki = Pki::new();
        let mut security = pki.security();
        assert!(matches!(
            TlsServer::load(&security, ClientAuth::None),
            Err(TlsError::Read { .. })
        ));
        let path = pki.dir.path().join("server.pem");
        std::fs::write(
            &path,
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n",
        )
        .unwrap();
        assert!(matches!(
            TlsServer::load(&security, ClientAuth::None),
            Err(TlsError::NoCertificate { .. })
        ));
        let cert = pki.keystore("x");
        let enc = format!(
            "{}-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n",
            cert.pem()
        );
        std::fs::write(&path, enc).unwrap();
        let e = TlsServer::load(&security, ClientAuth::None).unwrap_err();
        assert!(
            matches!(e, TlsError::KeyPassword { given: false, .. }),
            "{e}"
        );
        pki.keystore("x");
        security.ssl_truststore_location = None;
        assert!(matches!(
            TlsServer::load(&security, ClientAuth::Required),
            Err(TlsError::NoTruststore("required"))
        ));
    }
}
