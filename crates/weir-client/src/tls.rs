//! TLS for the client's connections (SSL and SASL_SSL): rustls on the ring provider, TLS 1.2
//! and 1.3, the broker verified against a CA bundle in PEM (librdkafka's `ssl.ca.location`),
//! and an optional client certificate for mTLS (`ssl.certificate.location`,
//! `ssl.key.location`: an unencrypted PKCS#8, PKCS#1 or SEC1 key).

use std::path::PathBuf;
use std::sync::Arc;

use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use crate::error::ClientError;

/// Where the client's TLS material is.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TlsSettings {
    /// CA certificates (PEM) the broker's certificate must chain to; required (there is no
    /// system trust store here).
    pub ca_location: Option<PathBuf>,
    /// The client's certificate chain (PEM), for brokers that ask for one.
    pub certificate_location: Option<PathBuf>,
    /// The client certificate's private key (PEM).
    pub key_location: Option<PathBuf>,
}

fn config_error(what: &str, path: &std::path::Path, e: impl std::fmt::Display) -> ClientError {
    ClientError::Config(format!("{what} {}: {e}", path.display()))
}

impl TlsSettings {
    /// The rustls client configuration these settings give.
    pub fn client_config(&self) -> Result<Arc<rustls::ClientConfig>, ClientError> {
        let ca = self
            .ca_location
            .as_ref()
            .ok_or_else(|| ClientError::Config("TLS needs a CA bundle (ssl.ca.location)".into()))?;
        let mut roots = RootCertStore::empty();
        let certs = CertificateDer::pem_file_iter(ca)
            .map_err(|e| config_error("reading CA bundle", ca, e))?;
        for cert in certs {
            let cert = cert.map_err(|e| config_error("reading CA bundle", ca, e))?;
            roots
                .add(cert)
                .map_err(|e| config_error("CA certificate in", ca, e))?;
        }
        if roots.is_empty() {
            return Err(config_error("CA bundle", ca, "no certificate"));
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| ClientError::Config(format!("TLS versions: {e}")))?
            .with_root_certificates(roots);
        let config = match (&self.certificate_location, &self.key_location) {
            (None, None) => builder.with_no_client_auth(),
            (Some(cert), Some(key)) => {
                let chain = CertificateDer::pem_file_iter(cert)
                    .map_err(|e| config_error("reading certificate", cert, e))?
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| config_error("reading certificate", cert, e))?;
                let key_der = PrivateKeyDer::from_pem_file(key)
                    .map_err(|e| config_error("reading key", key, e))?;
                builder
                    .with_client_auth_cert(chain, key_der)
                    .map_err(|e| config_error("client certificate", cert, e))?
            }
            _ => {
                return Err(ClientError::Config(
                    "a client certificate needs both ssl.certificate.location and ssl.key.location"
                        .into(),
                ));
            }
        };
        Ok(Arc::new(config))
    }
}

/// The TLS handshake over `stream` to `addr` (`host:port`; the host is the name checked).
pub(crate) async fn connect(
    config: Arc<rustls::ClientConfig>,
    addr: &str,
    stream: TcpStream,
) -> Result<TlsStream<TcpStream>, ClientError> {
    let host = addr
        .rsplit_once(':')
        .map_or(addr, |(h, _)| h)
        .trim_start_matches('[')
        .trim_end_matches(']');
    let name = ServerName::try_from(host.to_string())
        .map_err(|e| ClientError::Config(format!("TLS server name {host:?}: {e}")))?;
    TlsConnector::from(config)
        .connect(name, stream)
        .await
        .map_err(|source| ClientError::Connect {
            addr: addr.to_string(),
            source,
        })
}
