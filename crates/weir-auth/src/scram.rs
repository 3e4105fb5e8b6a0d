//! SCRAM (RFC 5802) with SHA-256 and SHA-512 (RFC 7677), the server side, as Kafka speaks
//! it: no channel binding (`n,,`), an optional authzid that must equal the user, the SASL
//! name escapes `=2C`/`=3D`, extensions accepted and ignored (Kafka's `tokenauth`
//! delegation tokens are refused).
//!
//! The exchange is two steps: [`ServerFirst::new`] reads the client-first message and
//! answers the server-first; [`ServerFirst::finish`] reads the client-final message, checks
//! the proof in constant time and answers the server-final (the server signature the client
//! verifies). A user without a credential gets a made-up salt that stays the same for that
//! name, and fails only at the final step, like a wrong password.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256, Sha512};
use subtle::ConstantTimeEq;

use crate::AuthError;

/// Fewest PBKDF2 iterations a credential may have (RFC 7677; Kafka's minimum).
pub const ITERATIONS_MIN: u32 = 4096;
/// Most PBKDF2 iterations a credential may have (Kafka's `ScramMechanism` maximum).
pub const ITERATIONS_MAX: u32 = 16384;
/// Iterations of a credential created without a count (Kafka's `kafka-configs` default).
pub const ITERATIONS_DEFAULT: u32 = 8192;
/// Bytes of a random salt.
pub const SALT_BYTES: usize = 24;
/// Characters of the server's nonce (random bytes behind it: [`NONCE_BYTES`]).
const NONCE_ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
/// Characters of the server's nonce, each from one random byte (62 symbols: ~5.9 bits each,
/// 188 bits in all; the modulo bias is irrelevant for a nonce).
const NONCE_BYTES: usize = 32;
/// Longest SCRAM message accepted, bytes (a username and a nonce fit well within it).
pub const MESSAGE_BYTES_MAX: usize = 4096;

/// A SCRAM mechanism.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Mechanism {
    /// `SCRAM-SHA-256`.
    ScramSha256,
    /// `SCRAM-SHA-512`.
    ScramSha512,
}

impl Mechanism {
    /// Both, in Kafka's order.
    pub const ALL: [Mechanism; 2] = [Mechanism::ScramSha256, Mechanism::ScramSha512];

    /// The SASL name.
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::ScramSha256 => "SCRAM-SHA-256",
            Mechanism::ScramSha512 => "SCRAM-SHA-512",
        }
    }

    /// From the SASL name (exact, as Kafka matches it).
    pub fn from_name(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.name() == s)
    }

    /// Kafka's wire id (`ScramMechanism.type()`: 1 and 2; 0 is UNKNOWN).
    pub fn wire_id(self) -> i8 {
        match self {
            Mechanism::ScramSha256 => 1,
            Mechanism::ScramSha512 => 2,
        }
    }

    /// From the wire id.
    pub fn from_wire_id(id: i8) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.wire_id() == id)
    }

    fn hmac(self, key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
        macro_rules! mac {
            ($d:ty) => {{
                // HMAC takes a key of any length: new_from_slice cannot fail.
                let Ok(mut m) = Hmac::<$d>::new_from_slice(key) else {
                    return Vec::new();
                };
                for p in parts {
                    m.update(p);
                }
                m.finalize().into_bytes().to_vec()
            }};
        }
        match self {
            Mechanism::ScramSha256 => mac!(Sha256),
            Mechanism::ScramSha512 => mac!(Sha512),
        }
    }

    fn hash(self, data: &[u8]) -> Vec<u8> {
        match self {
            Mechanism::ScramSha256 => Sha256::digest(data).to_vec(),
            Mechanism::ScramSha512 => Sha512::digest(data).to_vec(),
        }
    }

    /// `HMAC(key, parts...)` of this mechanism (the client side uses it).
    pub(crate) fn hmac_parts(self, key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
        self.hmac(key, parts)
    }

    /// `H(data)` of this mechanism.
    pub(crate) fn hash_bytes(self, data: &[u8]) -> Vec<u8> {
        self.hash(data)
    }

    /// `Hi(password, salt, i)`: PBKDF2 with this mechanism's HMAC.
    pub fn salted_password(self, password: &[u8], salt: &[u8], iterations: u32) -> Vec<u8> {
        match self {
            Mechanism::ScramSha256 => {
                let mut out = vec![0u8; 32];
                pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, iterations, &mut out);
                out
            }
            Mechanism::ScramSha512 => {
                let mut out = vec![0u8; 64];
                pbkdf2::pbkdf2_hmac::<Sha512>(password, salt, iterations, &mut out);
                out
            }
        }
    }
}

impl std::fmt::Display for Mechanism {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What the server keeps of a password (RFC 5802 section 3): never the password itself.
#[derive(Clone, PartialEq, Eq)]
pub struct ScramCredential {
    /// The salt.
    pub salt: Vec<u8>,
    /// PBKDF2 iterations.
    pub iterations: u32,
    /// `H(HMAC(SaltedPassword, "Client Key"))`.
    pub stored_key: Vec<u8>,
    /// `HMAC(SaltedPassword, "Server Key")`.
    pub server_key: Vec<u8>,
}

impl std::fmt::Debug for ScramCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The keys are password equivalents for an attacker who can replay: not printed.
        f.debug_struct("ScramCredential")
            .field("iterations", &self.iterations)
            .finish_non_exhaustive()
    }
}

impl ScramCredential {
    /// The credential of `password` with a fresh random salt.
    pub fn new(mechanism: Mechanism, password: &[u8], iterations: u32) -> Result<Self, AuthError> {
        check_iterations(iterations)?;
        let mut salt = vec![0u8; SALT_BYTES];
        getrandom::fill(&mut salt).map_err(|_| AuthError::Random)?;
        Ok(Self::from_salted_password(
            mechanism,
            &mechanism.salted_password(password, &salt, iterations),
            salt,
            iterations,
        ))
    }

    /// A fresh random salt of the length [`ScramCredential::new`] uses (for a client that sends
    /// AlterUserScramCredentials its own salt and salted password).
    pub fn random_salt() -> Result<Vec<u8>, AuthError> {
        let mut salt = vec![0u8; SALT_BYTES];
        getrandom::fill(&mut salt).map_err(|_| AuthError::Random)?;
        Ok(salt)
    }

    /// The credential of an already salted password (AlterUserScramCredentials sends that).
    pub fn from_salted_password(
        mechanism: Mechanism,
        salted_password: &[u8],
        salt: Vec<u8>,
        iterations: u32,
    ) -> Self {
        let client_key = mechanism.hmac(salted_password, &[b"Client Key"]);
        Self {
            salt,
            iterations,
            stored_key: mechanism.hash(&client_key),
            server_key: mechanism.hmac(salted_password, &[b"Server Key"]),
        }
    }

    /// Whether `password` is this credential's (PLAIN), compared in constant time.
    pub fn verify_password(&self, mechanism: Mechanism, password: &[u8]) -> bool {
        let salted = mechanism.salted_password(password, &self.salt, self.iterations);
        let candidate = Self::from_salted_password(mechanism, &salted, Vec::new(), 0);
        bool::from(candidate.stored_key.ct_eq(&self.stored_key))
    }
}

/// A salt for a user without a credential: `HMAC-SHA-256(secret, user)`, so a server with
/// a random `secret` shows the same salt for the same unknown name every time.
pub fn stable_salt(secret: &[u8], user: &str) -> Vec<u8> {
    let mut salt = Mechanism::ScramSha256.hmac(secret, &[user.as_bytes()]);
    salt.truncate(SALT_BYTES);
    salt
}

/// Refuses an iteration count outside [`ITERATIONS_MIN`]..=[`ITERATIONS_MAX`].
pub fn check_iterations(iterations: u32) -> Result<(), AuthError> {
    if (ITERATIONS_MIN..=ITERATIONS_MAX).contains(&iterations) {
        Ok(())
    } else {
        Err(AuthError::Iterations(iterations))
    }
}

/// A parsed client-first message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientFirst {
    /// The user, SASL name escapes decoded.
    pub username: String,
    /// The client's nonce.
    pub nonce: String,
    /// `client-first-message-bare` as sent (part of the AuthMessage).
    pub bare: String,
    /// Whether it asked for delegation-token authentication (`tokenauth=true`).
    pub token_auth: bool,
}

/// Parses a client-first message: `n,[a=authzid],n=user,r=nonce[,ext=value...]`.
pub fn parse_client_first(msg: &[u8]) -> Result<ClientFirst, AuthError> {
    let msg = message_text(msg)?;
    let bad = AuthError::Malformed;
    let (cbind, rest) = msg.split_once(',').ok_or(bad("no GS2 header"))?;
    if cbind != "n" {
        // `y` or `p=`: channel binding, which Kafka does not offer either.
        return Err(AuthError::Unsupported("channel binding"));
    }
    let (authzid, bare) = rest.split_once(',').ok_or(bad("no GS2 header"))?;
    let authzid = match authzid {
        "" => None,
        a => Some(sasl_name(a.strip_prefix("a=").ok_or(bad("bad authzid"))?)?),
    };
    let mut attrs = bare.split(',');
    let user = attrs
        .next()
        .and_then(|a| a.strip_prefix("n="))
        .ok_or(bad("no username"))?;
    let username = sasl_name(user)?;
    if username.is_empty() {
        return Err(bad("empty username"));
    }
    let nonce = attrs
        .next()
        .and_then(|a| a.strip_prefix("r="))
        .ok_or(bad("no nonce"))?;
    check_nonce(nonce)?;
    let mut token_auth = false;
    for ext in attrs {
        let (k, v) = ext.split_once('=').ok_or(bad("bad extension"))?;
        if k.is_empty() || !k.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(bad("bad extension"));
        }
        if k == "tokenauth" && v.eq_ignore_ascii_case("true") {
            token_auth = true;
        }
    }
    if authzid.as_ref().is_some_and(|a| *a != username) {
        return Err(AuthError::Failed);
    }
    Ok(ClientFirst {
        username,
        nonce: nonce.to_string(),
        bare: bare.to_string(),
        token_auth,
    })
}

/// A parsed client-final message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientFinal {
    /// The decoded `c=` attribute (the GS2 header echoed back).
    pub channel_binding: Vec<u8>,
    /// The combined nonce.
    pub nonce: String,
    /// The client proof.
    pub proof: Vec<u8>,
    /// `client-final-message-without-proof` (part of the AuthMessage).
    pub without_proof: String,
}

/// Parses a client-final message: `c=...,r=...[,ext...],p=...`.
pub fn parse_client_final(msg: &[u8]) -> Result<ClientFinal, AuthError> {
    let msg = message_text(msg)?;
    let bad = AuthError::Malformed;
    let (without_proof, proof) = msg.rsplit_once(",p=").ok_or(bad("no proof"))?;
    let mut attrs = without_proof.split(',');
    let c = attrs
        .next()
        .and_then(|a| a.strip_prefix("c="))
        .ok_or(bad("no channel binding"))?;
    let nonce = attrs
        .next()
        .and_then(|a| a.strip_prefix("r="))
        .ok_or(bad("no nonce"))?;
    check_nonce(nonce)?;
    Ok(ClientFinal {
        channel_binding: B64.decode(c).map_err(|_| bad("bad channel binding"))?,
        nonce: nonce.to_string(),
        proof: B64.decode(proof).map_err(|_| bad("bad proof"))?,
        without_proof: without_proof.to_string(),
    })
}

fn message_text(msg: &[u8]) -> Result<&str, AuthError> {
    if msg.len() > MESSAGE_BYTES_MAX {
        return Err(AuthError::Malformed("message too long"));
    }
    std::str::from_utf8(msg).map_err(|_| AuthError::Malformed("not UTF-8"))
}

/// RFC 5802 `printable`: 0x21..=0x7E except `,`.
fn check_nonce(nonce: &str) -> Result<(), AuthError> {
    if nonce.is_empty()
        || !nonce
            .bytes()
            .all(|b| (0x21..=0x7E).contains(&b) && b != b',')
    {
        return Err(AuthError::Malformed("bad nonce"));
    }
    Ok(())
}

/// Decodes a SASL name: `=2C` is `,`, `=3D` is `=`, any other `=` is an error.
fn sasl_name(s: &str) -> Result<String, AuthError> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('=') {
        out.push_str(&rest[..i]);
        let esc = rest
            .get(i..i + 3)
            .ok_or(AuthError::Malformed("bad name escape"))?;
        out.push(match esc {
            "=2C" => ',',
            "=3D" => '=',
            _ => return Err(AuthError::Malformed("bad name escape")),
        });
        rest = &rest[i + 3..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The server between its first message and the client's final one.
#[derive(Debug)]
pub struct ServerFirst {
    mechanism: Mechanism,
    username: String,
    /// `None`: the user has no credential (answered with a made-up one).
    credential: Option<ScramCredential>,
    fake: ScramCredential,
    nonce: String,
    auth_message_start: String,
}

impl ServerFirst {
    /// Reads the client-first message and returns the server-first message to send.
    /// `credential` is the user's stored credential for `mechanism`, if any; `fake_salt`
    /// is the salt to show for a user without one (the same for the same name each time,
    /// so the answer does not tell whether the user exists).
    pub fn new(
        mechanism: Mechanism,
        client_first: &[u8],
        credential: impl FnOnce(&str) -> Option<ScramCredential>,
        fake_salt: impl FnOnce(&str) -> Vec<u8>,
    ) -> Result<(Self, Vec<u8>), AuthError> {
        let mut random = [0u8; NONCE_BYTES];
        getrandom::fill(&mut random).map_err(|_| AuthError::Random)?;
        // Letters and digits only, like Kafka's (base 36).
        let nonce: String = random
            .iter()
            .map(|b| char::from(NONCE_ALPHABET[usize::from(*b) % NONCE_ALPHABET.len()]))
            .collect();
        Self::with_nonce(mechanism, client_first, credential, fake_salt, &nonce)
    }

    /// [`ServerFirst::new`] with a given server nonce (the RFC's test vectors).
    pub fn with_nonce(
        mechanism: Mechanism,
        client_first: &[u8],
        credential: impl FnOnce(&str) -> Option<ScramCredential>,
        fake_salt: impl FnOnce(&str) -> Vec<u8>,
        server_nonce: &str,
    ) -> Result<(Self, Vec<u8>), AuthError> {
        let first = parse_client_first(client_first)?;
        if first.token_auth {
            return Err(AuthError::Unsupported("delegation tokens"));
        }
        let credential = credential(&first.username);
        let fake = ScramCredential {
            salt: fake_salt(&first.username),
            iterations: ITERATIONS_DEFAULT,
            stored_key: vec![0; mechanism.hash(b"").len()],
            server_key: Vec::new(),
        };
        let shown = credential.as_ref().unwrap_or(&fake);
        let nonce = format!("{}{server_nonce}", first.nonce);
        let server_first = format!(
            "r={nonce},s={},i={}",
            B64.encode(&shown.salt),
            shown.iterations
        );
        let auth_message_start = format!("{},{server_first}", first.bare);
        Ok((
            Self {
                mechanism,
                username: first.username,
                credential,
                fake,
                nonce,
                auth_message_start,
            },
            server_first.into_bytes(),
        ))
    }

    /// The user the client named.
    pub fn username(&self) -> &str {
        &self.username
    }

    /// Reads the client-final message; on a good proof returns the authenticated user and
    /// the server-final message. Every failure after parsing is [`AuthError::Failed`].
    pub fn finish(self, client_final: &[u8]) -> Result<(String, Vec<u8>), AuthError> {
        let fin = parse_client_final(client_final)?;
        // Kafka's client sends `c=biws` (base64 of "n,,"), or the authzid form.
        if !fin.channel_binding.starts_with(b"n,") {
            return Err(AuthError::Failed);
        }
        // Kafka's ScramSaslServer accepts a final nonce that *ends with* the combined one:
        // librdkafka up to 2.0 sends its own nonce again in front of it. The AuthMessage holds
        // what the client sent, so the proof still covers it.
        let nonce_ok = fin.nonce.ends_with(&self.nonce);
        let auth_message = format!("{},{}", self.auth_message_start, fin.without_proof);
        let m = self.mechanism;
        let cred = self.credential.as_ref().unwrap_or(&self.fake);
        let signature = m.hmac(&cred.stored_key, &[auth_message.as_bytes()]);
        if fin.proof.len() != signature.len() {
            return Err(AuthError::Failed);
        }
        let client_key: Vec<u8> = fin
            .proof
            .iter()
            .zip(&signature)
            .map(|(p, s)| p ^ s)
            .collect();
        let proof_ok = bool::from(m.hash(&client_key).ct_eq(&cred.stored_key));
        if !(proof_ok && nonce_ok && self.credential.is_some()) {
            return Err(AuthError::Failed);
        }
        let server_signature = m.hmac(&cred.server_key, &[auth_message.as_bytes()]);
        Ok((
            self.username,
            format!("v={}", B64.encode(server_signature)).into_bytes(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLIENT_FIRST: &str = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO";
    const SERVER_NONCE: &str = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
    const SERVER_FIRST: &str = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
                                s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
    const CLIENT_FINAL: &str = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
                                p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
    const SERVER_FINAL: &str = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

    fn pencil() -> ScramCredential {
        let salt = B64.decode("W22ZaJ0SNY7soEsUEjb6gQ==").unwrap();
        let salted = Mechanism::ScramSha256.salted_password(b"pencil", &salt, 4096);
        ScramCredential::from_salted_password(Mechanism::ScramSha256, &salted, salt, 4096)
    }

    fn first(cred: Option<ScramCredential>) -> (ServerFirst, Vec<u8>) {
        ServerFirst::with_nonce(
            Mechanism::ScramSha256,
            CLIENT_FIRST.as_bytes(),
            |u| {
                assert_eq!(u, "user");
                cred
            },
            |_| b"fake salt".to_vec(),
            SERVER_NONCE,
        )
        .unwrap()
    }

    #[test]
    fn rfc_7677_test_vector() {
        let (server, server_first) = first(Some(pencil()));
        assert_eq!(std::str::from_utf8(&server_first).unwrap(), SERVER_FIRST);
        let (user, server_final) = server.finish(CLIENT_FINAL.as_bytes()).unwrap();
        assert_eq!(user, "user");
        assert_eq!(std::str::from_utf8(&server_final).unwrap(), SERVER_FINAL);
        assert!(pencil().verify_password(Mechanism::ScramSha256, b"pencil"));
        assert!(!pencil().verify_password(Mechanism::ScramSha256, b"pencil!"));
    }

    #[test]
    fn a_wrong_proof_and_an_unknown_user_fail_alike() {
        let (server, _) = first(Some(pencil()));
        let wrong = CLIENT_FINAL.replace("p=dHzb", "p=dHzc");
        assert_eq!(server.finish(wrong.as_bytes()), Err(AuthError::Failed));
        // Unknown: a server-first like any other, the failure comes at the end.
        let (server, server_first) = first(None);
        let text = String::from_utf8(server_first).unwrap();
        assert!(
            text.ends_with(&format!(",s={},i=8192", B64.encode(b"fake salt"))),
            "{text}"
        );
        assert_eq!(
            server.finish(CLIENT_FINAL.as_bytes()),
            Err(AuthError::Failed)
        );
        // A nonce that is not the combined one.
        let (server, _) = first(Some(pencil()));
        let other = CLIENT_FINAL.replace("k0,p=", "k1,p=");
        assert_eq!(server.finish(other.as_bytes()), Err(AuthError::Failed));
        // One that only starts like it.
        let (server, _) = first(Some(pencil()));
        let longer = CLIENT_FINAL.replace("k0,p=", "k0x,p=");
        assert_eq!(server.finish(longer.as_bytes()), Err(AuthError::Failed));
    }

    #[test]
    fn sha512_round_trip_with_a_client_computed_here() {
        let m = Mechanism::ScramSha512;
        let cred = ScramCredential::new(m, b"secret", 4096).unwrap();
        let stored = cred.clone();
        let cf = "n,,n=al=3Dice=2C,r=abc";
        let (server, sf) =
            ServerFirst::new(m, cf.as_bytes(), |_| Some(stored), |_| Vec::new()).unwrap();
        assert_eq!(server.username(), "al=ice,");
        let sf = String::from_utf8(sf).unwrap();
        let nonce = sf.split(',').next().unwrap().strip_prefix("r=").unwrap();
        let salted = m.salted_password(b"secret", &cred.salt, cred.iterations);
        let client_key = m.hmac(&salted, &[b"Client Key"]);
        let without_proof = format!("c=biws,r={nonce}");
        let auth = format!("n=al=3Dice=2C,r=abc,{sf},{without_proof}");
        let sig = m.hmac(&m.hash(&client_key), &[auth.as_bytes()]);
        let proof: Vec<u8> = client_key.iter().zip(&sig).map(|(a, b)| a ^ b).collect();
        let cfin = format!("{without_proof},p={}", B64.encode(proof));
        let (_, server_final) = server.finish(cfin.as_bytes()).unwrap();
        let expected = m.hmac(&m.hmac(&salted, &[b"Server Key"]), &[auth.as_bytes()]);
        assert_eq!(
            server_final,
            format!("v={}", B64.encode(expected)).into_bytes()
        );
    }

    #[test]
    fn a_final_nonce_ending_with_the_combined_one_is_accepted_as_kafka_does() {
        // librdkafka 2.0 repeats its client nonce in front; with a proof over that message.
        let m = Mechanism::ScramSha256;
        let cred = ScramCredential::new(m, b"pw", 4096).unwrap();
        let (server, sf) = ServerFirst::new(
            m,
            b"n,,n=u,r=cn0nce",
            |_| Some(cred.clone()),
            |_| Vec::new(),
        )
        .unwrap();
        let sf = String::from_utf8(sf).unwrap();
        let nonce = sf.split(',').next().unwrap().strip_prefix("r=").unwrap();
        let without_proof = format!("c=biws,r=cn0nce{nonce}");
        let auth = format!("n=u,r=cn0nce,{sf},{without_proof}");
        let salted = m.salted_password(b"pw", &cred.salt, cred.iterations);
        let client_key = m.hmac(&salted, &[b"Client Key"]);
        let sig = m.hmac(&m.hash(&client_key), &[auth.as_bytes()]);
        let proof: Vec<u8> = client_key.iter().zip(&sig).map(|(a, b)| a ^ b).collect();
        let fin = format!("{without_proof},p={}", B64.encode(proof));
        assert!(server.finish(fin.as_bytes()).is_ok());
    }

    #[test]
    fn malformed_messages_are_typed_errors() {
        for bad in [
            "",
            "n",
            "y,,n=u,r=x",
            "p=tls-unique,,n=u,r=x",
            "n,,r=x",
            "n,,n=,r=x",
            "n,,n=u",
            "n,,n=u,r=a,b",
            "n,,n=u=2X,r=x",
            "n,,n=u=,r=x",
            "n,,n=u,r=x y",
        ] {
            assert!(parse_client_first(bad.as_bytes()).is_err(), "{bad:?}");
        }
        assert_eq!(
            parse_client_first(b"n,a=other,n=u,r=x"),
            Err(AuthError::Failed)
        );
        assert!(
            parse_client_first(b"n,a=u,n=u,r=x,tokenauth=true")
                .unwrap()
                .token_auth
        );
        assert!(parse_client_first(&[0xFF, b',']).is_err());
        assert!(parse_client_first(&vec![b'a'; MESSAGE_BYTES_MAX + 1]).is_err());
        for bad in [
            "",
            "c=biws,r=x",
            "c=!!,r=x,p=AAAA",
            "c=biws,p=AAAA",
            "c=biws,r=x,p=!!",
        ] {
            assert!(parse_client_final(bad.as_bytes()).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn iteration_bounds_are_kafkas() {
        assert!(check_iterations(4095).is_err());
        assert!(check_iterations(4096).is_ok());
        assert!(check_iterations(16384).is_ok());
        assert!(check_iterations(16385).is_err());
        assert_eq!(Mechanism::from_wire_id(2), Some(Mechanism::ScramSha512));
        assert_eq!(
            Mechanism::from_name("SCRAM-SHA-256"),
            Some(Mechanism::ScramSha256)
        );
        assert_eq!(Mechanism::from_wire_id(0), None);
    }
}
