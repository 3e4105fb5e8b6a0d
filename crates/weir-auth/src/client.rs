//! The client side of SCRAM, for weir's tests and tools: the two client messages and the
//! check of the server's signature (RFC 5802 section 3).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use subtle::ConstantTimeEq;

use crate::AuthError;
use crate::scram::Mechanism;

/// A client between its first message and the server's first.
#[derive(Debug)]
pub struct ScramClient {
    mechanism: Mechanism,
    bare: String,
    nonce: String,
}

/// A client waiting for the server-final message.
#[derive(Debug)]
pub struct ScramClientFinal {
    mechanism: Mechanism,
    server_signature: Vec<u8>,
}

impl ScramClient {
    /// Starts an exchange as `user` (escaped as a SASL name); returns the client-first message.
    pub fn new(mechanism: Mechanism, user: &str) -> Result<(Self, Vec<u8>), AuthError> {
        let mut random = [0u8; 18];
        getrandom::fill(&mut random).map_err(|_| AuthError::Random)?;
        let nonce = B64.encode(random);
        let name = user.replace('=', "=3D").replace(',', "=2C");
        let bare = format!("n={name},r={nonce}");
        let first = format!("n,,{bare}").into_bytes();
        Ok((
            Self {
                mechanism,
                bare,
                nonce,
            },
            first,
        ))
    }

    /// Reads the server-first message; returns the client-final message.
    pub fn finish(
        self,
        password: &[u8],
        server_first: &[u8],
    ) -> Result<(ScramClientFinal, Vec<u8>), AuthError> {
        let text =
            std::str::from_utf8(server_first).map_err(|_| AuthError::Malformed("not UTF-8"))?;
        let mut attrs = text.split(',');
        let (Some(r), Some(s), Some(i)) = (attrs.next(), attrs.next(), attrs.next()) else {
            return Err(AuthError::Malformed("server-first"));
        };
        let nonce = r.strip_prefix("r=").ok_or(AuthError::Malformed("nonce"))?;
        if !nonce.starts_with(&self.nonce) {
            return Err(AuthError::Failed);
        }
        let salt = B64
            .decode(s.strip_prefix("s=").ok_or(AuthError::Malformed("salt"))?)
            .map_err(|_| AuthError::Malformed("salt"))?;
        let iterations: u32 = i
            .strip_prefix("i=")
            .and_then(|i| i.parse().ok())
            .ok_or(AuthError::Malformed("iterations"))?;
        let m = self.mechanism;
        let salted = m.salted_password(password, &salt, iterations);
        let client_key = m.hmac_parts(&salted, &[b"Client Key"]);
        let stored_key = m.hash_bytes(&client_key);
        let without_proof = format!("c=biws,r={nonce}");
        let auth = format!("{},{text},{without_proof}", self.bare);
        let signature = m.hmac_parts(&stored_key, &[auth.as_bytes()]);
        let proof: Vec<u8> = client_key
            .iter()
            .zip(&signature)
            .map(|(a, b)| a ^ b)
            .collect();
        let server_key = m.hmac_parts(&salted, &[b"Server Key"]);
        Ok((
            ScramClientFinal {
                mechanism: m,
                server_signature: m.hmac_parts(&server_key, &[auth.as_bytes()]),
            },
            format!("{without_proof},p={}", B64.encode(proof)).into_bytes(),
        ))
    }
}

impl ScramClientFinal {
    /// Checks the server-final message (`v=` the server signature).
    pub fn verify(self, server_final: &[u8]) -> Result<(), AuthError> {
        let _ = self.mechanism;
        let text =
            std::str::from_utf8(server_final).map_err(|_| AuthError::Malformed("not UTF-8"))?;
        let v = text.strip_prefix("v=").ok_or(AuthError::Failed)?;
        let sig = B64
            .decode(v)
            .map_err(|_| AuthError::Malformed("signature"))?;
        if bool::from(sig.ct_eq(&self.server_signature)) {
            Ok(())
        } else {
            Err(AuthError::Failed)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scram::{ScramCredential, ServerFirst};

    #[test]
    fn client_and_server_agree_and_a_wrong_password_fails() {
        for m in Mechanism::ALL {
            let cred = ScramCredential::new(m, b"pw", 4096).unwrap();
            for (password, ok) in [(&b"pw"[..], true), (b"nope", false)] {
                let (client, first) = ScramClient::new(m, "a,b=c").unwrap();
                let c = cred.clone();
                let (server, sf) =
                    ServerFirst::new(m, &first, |u| (u == "a,b=c").then_some(c), |_| Vec::new())
                        .unwrap();
                let (client, cf) = client.finish(password, &sf).unwrap();
                match server.finish(&cf) {
                    Ok((user, sfin)) => {
                        assert!(ok);
                        assert_eq!(user, "a,b=c");
                        client.verify(&sfin).unwrap();
                    }
                    Err(e) => {
                        assert!(!ok);
                        assert_eq!(e, AuthError::Failed);
                    }
                }
            }
        }
    }
}
