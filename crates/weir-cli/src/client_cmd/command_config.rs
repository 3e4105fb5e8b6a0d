//! `--command-config FILE`: librdkafka-style client properties (`key=value` lines, `#` and
//! `!` comments) turned into `weir-client` options: `security.protocol`, `sasl.mechanism`,
//! `sasl.username`, `sasl.password`, and for SSL and SASL_SSL `ssl.ca.location` (required),
//! `ssl.certificate.location` and `ssl.key.location` (mTLS). An encrypted key
//! (`ssl.key.password`) is refused.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context as _, bail};
use weir_client::sasl::{SaslMechanism, SaslSettings};
use weir_client::tls::TlsSettings;

/// The keys understood; any other is refused, as librdkafka refuses an unknown property.
const KEYS: &[&str] = &[
    "security.protocol",
    "sasl.mechanism",
    "sasl.mechanisms",
    "sasl.username",
    "sasl.password",
    "ssl.ca.location",
    "ssl.certificate.location",
    "ssl.key.location",
    "ssl.key.password",
];

/// Properties of a file, later lines winning.
pub fn parse(text: &str) -> anyhow::Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with('!') {
            continue;
        }
        let (k, v) = line
            .split_once('=')
            .with_context(|| format!("line {}: expected key=value", n + 1))?;
        let k = k.trim();
        if !KEYS.contains(&k) {
            bail!(
                "line {}: unknown property {k:?} (known: {})",
                n + 1,
                KEYS.join(", ")
            );
        }
        out.insert(k.to_string(), v.trim().to_string());
    }
    Ok(out)
}

/// What a connection does: SASL, TLS, both or neither.
#[derive(Debug, Default)]
pub struct Security {
    /// SASL (SASL_PLAINTEXT, SASL_SSL).
    pub sasl: Option<SaslSettings>,
    /// TLS (SSL, SASL_SSL).
    pub tls: Option<TlsSettings>,
}

fn protocol(props: &BTreeMap<String, String>) -> anyhow::Result<(bool, bool)> {
    let protocol = props
        .get("security.protocol")
        .map_or("PLAINTEXT".to_string(), |p| p.to_ascii_uppercase());
    Ok(match protocol.as_str() {
        "PLAINTEXT" => (false, false),
        "SASL_PLAINTEXT" => (true, false),
        "SSL" => (false, true),
        "SASL_SSL" => (true, true),
        _ => bail!(
            "security.protocol={protocol}: expected PLAINTEXT, SASL_PLAINTEXT, SSL or SASL_SSL"
        ),
    })
}

/// The connection security the properties ask for.
pub fn security(props: &BTreeMap<String, String>) -> anyhow::Result<Security> {
    let (with_sasl, with_tls) = protocol(props)?;
    let tls = if with_tls {
        if props.contains_key("ssl.key.password") {
            bail!(
                "ssl.key.password: encrypted client keys are not supported; use an unencrypted PEM key"
            );
        }
        let path = |k: &str| props.get(k).map(std::path::PathBuf::from);
        let ca =
            path("ssl.ca.location").context("SSL needs ssl.ca.location (the CA bundle, PEM)")?;
        Some(TlsSettings {
            ca_location: Some(ca),
            certificate_location: path("ssl.certificate.location"),
            key_location: path("ssl.key.location"),
        })
    } else {
        None
    };
    let sasl = if with_sasl { sasl(props)? } else { None };
    Ok(Security { sasl, tls })
}

/// The SASL settings of a SASL protocol.
fn sasl(props: &BTreeMap<String, String>) -> anyhow::Result<Option<SaslSettings>> {
    let mechanism = props
        .get("sasl.mechanism")
        .or_else(|| props.get("sasl.mechanisms"))
        .context("SASL needs sasl.mechanism")?;
    let mechanism = SaslMechanism::from_name(mechanism).with_context(|| {
        format!("sasl.mechanism={mechanism}: expected PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512")
    })?;
    let get = |k: &str| {
        props
            .get(k)
            .cloned()
            .with_context(|| format!("SASL needs {k}"))
    };
    Ok(Some(SaslSettings {
        mechanism,
        username: get("sasl.username")?,
        password: get("sasl.password")?,
    }))
}

/// Reads `path` into connection security.
pub fn load(path: &Path) -> anyhow::Result<Security> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading --command-config {}", path.display()))?;
    let props = parse(&text).with_context(|| format!("--command-config {}", path.display()))?;
    security(&props).with_context(|| format!("--command-config {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sasl_plaintext_properties_give_sasl_settings() {
        let p = parse(
            "# admin\nsecurity.protocol = sasl_plaintext\nsasl.mechanism=SCRAM-SHA-512\n\
             sasl.username=admin\nsasl.password=a=b\n",
        )
        .unwrap();
        let s = security(&p).unwrap().sasl.unwrap();
        assert_eq!(s.mechanism, SaslMechanism::ScramSha512);
        assert_eq!((s.username.as_str(), s.password.as_str()), ("admin", "a=b"));
        assert!(!format!("{s:?}").contains("a=b"), "Debug shows no password");
    }

    #[test]
    fn plaintext_tls_unknown_keys_and_missing_values() {
        let none = security(&parse("").unwrap()).unwrap();
        assert!(none.sasl.is_none() && none.tls.is_none());
        let tls = security(&parse("security.protocol=SASL_SSL").unwrap()).unwrap_err();
        assert!(tls.to_string().contains("ssl.ca.location"), "{tls}");
        let p = parse("security.protocol=ssl\nssl.ca.location=/ca.pem").unwrap();
        let s = security(&p).unwrap();
        assert!(s.sasl.is_none());
        assert_eq!(s.tls.unwrap().ca_location.unwrap(), Path::new("/ca.pem"));
        assert!(parse("bootstrap.servers=x").is_err());
        assert!(parse("no equals sign").is_err());
        let p = parse("security.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN").unwrap();
        assert!(
            security(&p)
                .unwrap_err()
                .to_string()
                .contains("sasl.username")
        );
        let p = parse("security.protocol=SASL_PLAINTEXT\nsasl.mechanism=GSSAPI").unwrap();
        assert!(security(&p).is_err());
    }
}
