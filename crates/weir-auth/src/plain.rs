//! SASL PLAIN (RFC 4616) tokens: `[authzid] NUL authcid NUL passwd`. As Kafka's
//! `PlainSaslServer`: the user must not be empty, and an authzid must equal it.

use crate::AuthError;

/// Longest PLAIN token accepted, bytes.
pub const TOKEN_BYTES_MAX: usize = 4096;

/// A parsed PLAIN token.
#[derive(PartialEq, Eq)]
pub struct PlainToken<'a> {
    /// The user (authcid).
    pub username: &'a str,
    /// The password, as sent.
    pub password: &'a [u8],
}

impl std::fmt::Debug for PlainToken<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlainToken")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// Parses a PLAIN token.
pub fn parse(token: &[u8]) -> Result<PlainToken<'_>, AuthError> {
    if token.len() > TOKEN_BYTES_MAX {
        return Err(AuthError::Malformed("token too long"));
    }
    let mut parts = token.splitn(3, |&b| b == 0);
    let (Some(authzid), Some(user), Some(password)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(AuthError::Malformed(
            "expected authzid NUL user NUL password",
        ));
    };
    let user = std::str::from_utf8(user).map_err(|_| AuthError::Malformed("user not UTF-8"))?;
    if user.is_empty() || password.is_empty() {
        return Err(AuthError::Malformed("empty user or password"));
    }
    if !authzid.is_empty() && authzid != user.as_bytes() {
        return Err(AuthError::Failed);
    }
    Ok(PlainToken {
        username: user,
        password,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kafka_token_forms() {
        let t = parse(b"\0alice\0s3cret").unwrap();
        assert_eq!((t.username, t.password), ("alice", &b"s3cret"[..]));
        assert_eq!(parse(b"alice\0alice\0pw").unwrap().username, "alice");
        // A NUL in the password stays in it.
        assert_eq!(parse(b"\0a\0p\0q").unwrap().password, b"p\0q");
        assert_eq!(parse(b"bob\0alice\0pw"), Err(AuthError::Failed));
        for bad in [&b""[..], b"\0alice", b"\0\0pw", b"\0alice\0", b"\0\xff\0pw"] {
            assert!(
                matches!(parse(bad), Err(AuthError::Malformed(_))),
                "{bad:?}"
            );
        }
        assert!(parse(&vec![1u8; TOKEN_BYTES_MAX + 1]).is_err());
    }
}
