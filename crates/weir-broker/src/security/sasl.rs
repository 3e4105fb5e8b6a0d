//! A connection's authentication state, Kafka's `SaslServerAuthenticator` in small: before
//! authentication only ApiVersions, SaslHandshake and SaslAuthenticate are answered; a
//! handshake picks an enabled mechanism (v0: the tokens that follow are raw size-prefixed
//! frames, KIP-43; v1: they come in SaslAuthenticate requests, KIP-152); a mechanism's
//! exchange ends authenticated (the principal is `User:<name>`) or failed (the connection
//! is closed after the answer). With `connections_max_reauth_ms` a session expires: the
//! client re-authenticates on the connection as the same user (KIP-368), or its next
//! request closes it. Connections of PLAINTEXT and SSL listeners start authenticated, as
//! `User:ANONYMOUS` or their certificate's principal.

use std::sync::{Arc, Mutex};

use tokio::sync::watch;
use weir_auth::scram::{Mechanism, ServerFirst};
use weir_auth::{AuthError, plain};

use super::credentials::CredentialStore;
use super::{Principal, SaslMechanism};

/// What a SASL listener offers, shared by its connections.
#[derive(Debug)]
pub struct SaslServer {
    /// Enabled mechanisms, in order.
    pub mechanisms: Vec<SaslMechanism>,
    /// The credentials checked.
    pub credentials: Arc<CredentialStore>,
    /// Largest frame before authentication, bytes.
    pub max_receive_bytes: u32,
    /// Session lifetime after which the client must re-authenticate (KIP-368,
    /// `connections_max_reauth_ms`); 0: sessions do not expire, no re-authentication.
    pub reauth_ms: u64,
}

#[derive(Debug)]
enum State {
    /// Waiting for a SaslHandshake (ApiVersions allowed).
    Handshake,
    /// A mechanism chosen; its first token comes next. `reauth`: on an authenticated
    /// connection (KIP-368), whose requests are still served meanwhile.
    Chosen {
        mechanism: SaslMechanism,
        raw: bool,
        reauth: bool,
    },
    /// SCRAM: server-first sent, the client-final comes next.
    ScramFinal {
        server: Box<ServerFirst>,
        raw: bool,
        reauth: bool,
    },
    /// Authenticated.
    Done,
    /// A failed exchange: nothing more is answered.
    Failed,
}

/// A SaslHandshake refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandshakeError {
    /// Not a SASL listener, or the handshake comes at the wrong time (ILLEGAL_SASL_STATE).
    IllegalState,
    /// A mechanism the listener does not offer (UNSUPPORTED_SASL_MECHANISM).
    Unsupported,
}

/// The outcome of one SASL token.
#[derive(Debug)]
pub enum Step {
    /// Send these bytes and wait for the next token.
    Continue(Vec<u8>),
    /// Authenticated: send these bytes (possibly empty).
    Done(Vec<u8>),
    /// Not expected now (ILLEGAL_SASL_STATE).
    IllegalState,
    /// Authentication failed (SASL_AUTHENTICATION_FAILED), the connection closes.
    Failed,
}

/// One connection's authentication.
#[derive(Debug)]
pub struct Session {
    server: Option<Arc<SaslServer>>,
    state: Mutex<State>,
    principal: Mutex<Principal>,
    authenticated: watch::Sender<bool>,
    /// When the authenticated session ends (KIP-368); `None`: never.
    expires_at: Mutex<Option<std::time::Instant>>,
}

impl Session {
    /// A connection that needs no SASL (PLAINTEXT, SSL): authenticated as `principal`.
    pub fn authenticated(principal: Principal) -> Self {
        Self {
            server: None,
            state: Mutex::new(State::Done),
            principal: Mutex::new(principal),
            authenticated: watch::Sender::new(true),
            expires_at: Mutex::new(None),
        }
    }

    /// A connection of a SASL listener, unauthenticated.
    pub fn sasl(server: Arc<SaslServer>) -> Self {
        Self {
            server: Some(server),
            state: Mutex::new(State::Handshake),
            principal: Mutex::new(Principal::anonymous()),
            authenticated: watch::Sender::new(false),
            expires_at: Mutex::new(None),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether requests other than the SASL ones are answered.
    pub fn is_authenticated(&self) -> bool {
        matches!(
            *self.state(),
            State::Done
                | State::Chosen { reauth: true, .. }
                | State::ScramFinal { reauth: true, .. }
        )
    }

    /// Whether the authenticated session has outlived `connections_max_reauth_ms` without a
    /// re-authentication: only SASL requests are answered then, anything else closes.
    pub fn expired(&self) -> bool {
        self.expires_at
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some_and(|t| std::time::Instant::now() > t)
    }

    /// The `session_lifetime_ms` to tell a client that authenticated (0: no expiry).
    pub fn session_lifetime_ms(&self) -> i64 {
        self.server
            .as_ref()
            .map_or(0, |s| i64::try_from(s.reauth_ms).unwrap_or(i64::MAX))
    }

    /// Whether authentication failed (the connection is to close).
    pub fn has_failed(&self) -> bool {
        matches!(*self.state(), State::Failed)
    }

    /// Turns true once authenticated (the server's deadline waits on it).
    pub fn subscribe(&self) -> watch::Receiver<bool> {
        self.authenticated.subscribe()
    }

    /// Whether the next frame is a raw SASL token (after a v0 handshake).
    pub fn expects_raw_token(&self) -> bool {
        matches!(
            *self.state(),
            State::Chosen { raw: true, .. } | State::ScramFinal { raw: true, .. }
        )
    }

    /// The largest frame to read now: the pre-authentication bound until authenticated.
    pub fn frame_bytes_max(&self) -> Option<u32> {
        let server = self.server.as_ref()?;
        (!self.is_authenticated()).then_some(server.max_receive_bytes)
    }

    /// The connection's principal (`User:ANONYMOUS` until authenticated).
    pub fn principal(&self) -> Principal {
        self.principal
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The mechanisms offered (empty on a listener without SASL).
    pub fn mechanisms(&self) -> Vec<String> {
        self.server
            .iter()
            .flat_map(|s| s.mechanisms.iter().map(|m| m.name().to_string()))
            .collect()
    }

    /// A SaslHandshake at `version` for `mechanism`.
    pub fn handshake(&self, mechanism: &str, version: i16) -> Result<(), HandshakeError> {
        let server = self.server.as_ref().ok_or(HandshakeError::IllegalState)?;
        let mut state = self.state();
        // KIP-368: an authenticated connection may start again when sessions expire (v1+).
        let reauth = match *state {
            State::Handshake => false,
            State::Done if server.reauth_ms > 0 && version >= 1 => true,
            _ => return Err(HandshakeError::IllegalState),
        };
        let chosen = SaslMechanism::from_name(mechanism)
            .filter(|m| server.mechanisms.contains(m))
            .ok_or(HandshakeError::Unsupported)?;
        *state = State::Chosen {
            mechanism: chosen,
            raw: version == 0,
            reauth,
        };
        Ok(())
    }

    /// One token, from a SaslAuthenticate request (`raw` false) or a raw frame (`raw` true).
    /// PLAIN's check runs PBKDF2: call this off the async workers.
    pub fn authenticate(&self, token: &[u8], raw: bool) -> Step {
        let Some(server) = self.server.as_ref() else {
            return Step::IllegalState;
        };
        let mut state = self.state();
        let current = std::mem::replace(&mut *state, State::Failed);
        let (next, step) = match current {
            State::Chosen {
                mechanism,
                raw: r,
                reauth,
            } if r == raw => match mechanism {
                SaslMechanism::Plain => match plain_check(server, token) {
                    Some(user) if self.may_become(&user, reauth) => {
                        self.set_principal(&user);
                        (State::Done, Step::Done(Vec::new()))
                    }
                    _ => (State::Failed, Step::Failed),
                },
                SaslMechanism::Scram(m) => {
                    let creds = &server.credentials;
                    match ServerFirst::new(m, token, |u| creds.get(u, m), |u| creds.fake_salt(u)) {
                        Ok((first, reply)) => (
                            State::ScramFinal {
                                server: Box::new(first),
                                raw,
                                reauth,
                            },
                            Step::Continue(reply),
                        ),
                        Err(e) => {
                            log_failure(None, &e);
                            (State::Failed, Step::Failed)
                        }
                    }
                }
            },
            State::ScramFinal {
                server: first,
                raw: r,
                reauth,
            } if r == raw => {
                let user = first.username().to_string();
                match first.finish(token) {
                    Ok((user, reply)) if self.may_become(&user, reauth) => {
                        self.set_principal(&user);
                        (State::Done, Step::Done(reply))
                    }
                    Ok((user, _)) => {
                        tracing::info!(user, "re-authentication as another user refused");
                        (State::Failed, Step::Failed)
                    }
                    Err(e) => {
                        log_failure(Some(&user), &e);
                        (State::Failed, Step::Failed)
                    }
                }
            }
            other => (other, Step::IllegalState),
        };
        *state = next;
        if matches!(step, Step::Done(_)) {
            self.authenticated.send_replace(true);
            if server.reauth_ms > 0 {
                let until = std::time::Instant::now()
                    .checked_add(std::time::Duration::from_millis(server.reauth_ms));
                *self.expires_at.lock().unwrap_or_else(|p| p.into_inner()) = until;
            }
        }
        step
    }

    /// A re-authentication must keep the principal (Kafka's rule).
    fn may_become(&self, user: &str, reauth: bool) -> bool {
        !reauth || self.principal().name == user
    }

    fn set_principal(&self, user: &str) {
        *self.principal.lock().unwrap_or_else(|p| p.into_inner()) = Principal::user(user);
    }
}

fn log_failure(user: Option<&str>, e: &AuthError) {
    // The reason stays in the broker's log; the client gets one message for all of them.
    tracing::info!(user = user.unwrap_or(""), reason = %e, "SASL authentication failed");
}

/// PLAIN: the password checked against the user's SCRAM-SHA-512 credential, else its
/// SCRAM-SHA-256 one. An unknown user costs the same PBKDF2 as a known one.
fn plain_check(server: &SaslServer, token: &[u8]) -> Option<String> {
    let t = match plain::parse(token) {
        Ok(t) => t,
        Err(e) => {
            log_failure(None, &e);
            return None;
        }
    };
    let creds = &server.credentials;
    let found = [Mechanism::ScramSha512, Mechanism::ScramSha256]
        .into_iter()
        .find_map(|m| creds.get(t.username, m).map(|c| (m, c)));
    let ok = match &found {
        Some((m, c)) => c.verify_password(*m, t.password),
        None => {
            let dummy = weir_auth::scram::ScramCredential {
                salt: creds.fake_salt(t.username),
                iterations: weir_auth::scram::ITERATIONS_DEFAULT,
                stored_key: Vec::new(),
                server_key: Vec::new(),
            };
            let _ = dummy.verify_password(Mechanism::ScramSha512, t.password);
            false
        }
    };
    if ok {
        Some(t.username.to_string())
    } else {
        log_failure(Some(t.username), &AuthError::Failed);
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::security::credentials::Change;
    use weir_auth::scram::ScramCredential;

    fn server(reauth_ms: u64) -> (Arc<SaslServer>, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let store = CredentialStore::open(dir.path(), Arc::new(weir_storage::RealFs)).unwrap();
        let cred = ScramCredential::new(Mechanism::ScramSha512, b"pw", 4096).unwrap();
        store
            .apply(&[Change::Upsert("alice".into(), Mechanism::ScramSha512, cred)])
            .unwrap();
        let s = SaslServer {
            mechanisms: vec![
                SaslMechanism::Plain,
                SaslMechanism::Scram(Mechanism::ScramSha512),
            ],
            credentials: Arc::new(store),
            max_receive_bytes: 1024,
            reauth_ms,
        };
        (Arc::new(s), dir)
    }

    #[test]
    fn plain_authenticates_and_sets_the_principal() {
        let (s, _dir) = server(0);
        let session = Session::sasl(s);
        assert!(!session.is_authenticated());
        assert_eq!(session.frame_bytes_max(), Some(1024));
        assert_eq!(session.principal().to_string(), "User:ANONYMOUS");
        assert!(!session.expects_raw_token());
        assert_eq!(
            session.handshake("GSSAPI", 1),
            Err(HandshakeError::Unsupported)
        );
        assert_eq!(
            session.handshake("SCRAM-SHA-256", 1),
            Err(HandshakeError::Unsupported)
        );
        session.handshake("PLAIN", 0).unwrap();
        assert!(session.expects_raw_token());
        // A SaslAuthenticate after a v0 handshake is out of place; the exchange goes on.
        assert!(matches!(
            session.authenticate(b"\0alice\0pw", false),
            Step::IllegalState
        ));
        assert!(matches!(
            session.authenticate(b"\0alice\0pw", true),
            Step::Done(_)
        ));
        assert!(session.is_authenticated());
        assert_eq!(session.frame_bytes_max(), None);
        assert_eq!(session.principal().to_string(), "User:alice");
        assert!(*session.subscribe().borrow());
        // No re-authentication without connections_max_reauth_ms.
        assert_eq!(
            session.handshake("PLAIN", 1),
            Err(HandshakeError::IllegalState)
        );
        assert!(!session.expired());
        assert_eq!(session.session_lifetime_ms(), 0);
    }

    #[test]
    fn a_failure_is_final_and_sessions_without_sasl_refuse_it() {
        let (s, _dir) = server(0);
        let session = Session::sasl(s);
        session.handshake("PLAIN", 1).unwrap();
        assert!(matches!(
            session.authenticate(b"\0alice\0nope", false),
            Step::Failed
        ));
        assert!(session.has_failed());
        assert!(!session.is_authenticated());
        assert!(matches!(
            session.authenticate(b"\0alice\0pw", false),
            Step::IllegalState
        ));
        let plain = Session::authenticated(Principal::user("CN=x"));
        assert!(plain.is_authenticated());
        assert_eq!(
            plain.handshake("PLAIN", 1),
            Err(HandshakeError::IllegalState)
        );
        assert!(matches!(plain.authenticate(b"", false), Step::IllegalState));
        assert_eq!(plain.frame_bytes_max(), None);
        assert_eq!(plain.principal().to_string(), "User:CN=x");
    }

    #[test]
    fn re_authentication_keeps_serving_and_the_principal() {
        let (s, _dir) = server(60_000);
        let session = Session::sasl(s);
        session.handshake("PLAIN", 1).unwrap();
        assert!(matches!(
            session.authenticate(b"\0alice\0pw", false),
            Step::Done(_)
        ));
        assert_eq!(session.session_lifetime_ms(), 60_000);
        // A v0 handshake cannot re-authenticate; v1 can, and requests are served meanwhile.
        assert_eq!(
            session.handshake("PLAIN", 0),
            Err(HandshakeError::IllegalState)
        );
        session.handshake("PLAIN", 1).unwrap();
        assert!(session.is_authenticated());
        assert!(matches!(
            session.authenticate(b"\0alice\0pw", false),
            Step::Done(_)
        ));
        assert!(!session.expired());
    }
}
