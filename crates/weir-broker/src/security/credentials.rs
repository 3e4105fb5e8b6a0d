//! SCRAM credentials, durable: `<data_dir>/__weir_meta/scram_credentials.json`, replaced
//! atomically through the broker's [`FileSystem`] (storage's `write_atomic`), holding per
//! user and mechanism the salt, the iteration count, the stored key and the server key —
//! never a password. The file is written before memory changes, so an answered
//! AlterUserScramCredentials survives a crash. `weir user` edits the same file offline.
//!
//! Format (`v` 1): `{"v":1,"users":{"alice":{"SCRAM-SHA-256":{"salt":B64,"iterations":N,
//! "stored_key":B64,"server_key":B64}}}}`, base64 standard with padding.

use std::collections::BTreeMap;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};
use thiserror::Error;
use weir_auth::scram::{Mechanism, ScramCredential, stable_salt};
use weir_storage::FileSystem;
use weir_storage::io::{read_file, write_atomic};

use crate::meta::META_DIR_NAME;

/// The file's name under `__weir_meta/`.
pub const CREDENTIALS_FILE_NAME: &str = "scram_credentials.json";
/// The format version written.
const FORMAT_VERSION: u32 = 1;
/// Longest user name accepted, bytes.
pub const USER_NAME_BYTES_MAX: usize = 256;

/// An error reading or writing the credentials.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum CredentialError {
    /// The file system failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The file does not parse.
    #[error("corrupt credentials file {path}: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The OS random source failed.
    #[error("the OS random source failed")]
    Random,
}

#[derive(Serialize, Deserialize)]
struct FileForm {
    v: u32,
    users: BTreeMap<String, BTreeMap<String, StoredForm>>,
}

#[derive(Serialize, Deserialize)]
struct StoredForm {
    salt: String,
    iterations: u32,
    stored_key: String,
    server_key: String,
}

type Users = BTreeMap<String, BTreeMap<Mechanism, ScramCredential>>;

/// A change to the credentials.
#[derive(Debug, Clone)]
pub enum Change {
    /// Create or replace a user's credential for a mechanism.
    Upsert(String, Mechanism, ScramCredential),
    /// Remove it (a user with no credential left is gone).
    Delete(String, Mechanism),
}

/// A user's credential for one mechanism, as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// The user.
    pub user: String,
    /// The mechanism.
    pub mechanism: Mechanism,
    /// Its iteration count.
    pub iterations: u32,
}

/// The credentials, in memory and on disk.
#[derive(Debug)]
pub struct CredentialStore {
    path: PathBuf,
    fs: Arc<dyn FileSystem>,
    users: RwLock<Users>,
    /// Serializes writers (read, change, write the file, publish).
    writer: Mutex<()>,
    /// Key of the made-up salts shown for unknown users (random per process).
    fake_salt_key: [u8; 32],
}

impl CredentialStore {
    /// Opens the credentials of `data_dir` (none yet is an empty store).
    pub fn open(data_dir: &Path, fs: Arc<dyn FileSystem>) -> Result<Self, CredentialError> {
        let path = data_dir.join(META_DIR_NAME).join(CREDENTIALS_FILE_NAME);
        let users = match read_file(fs.as_ref(), &path) {
            Ok(bytes) => decode(&path, &bytes)?,
            Err(e) if e.kind() == ErrorKind::NotFound => Users::new(),
            Err(source) => {
                return Err(CredentialError::Io {
                    op: "read",
                    path,
                    source,
                });
            }
        };
        let mut fake_salt_key = [0u8; 32];
        getrandom::fill(&mut fake_salt_key).map_err(|_| CredentialError::Random)?;
        Ok(Self {
            path,
            fs,
            users: RwLock::new(users),
            writer: Mutex::new(()),
            fake_salt_key,
        })
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Users> {
        self.users.read().unwrap_or_else(|p| p.into_inner())
    }

    /// A user's credential for `mechanism`.
    pub fn get(&self, user: &str, mechanism: Mechanism) -> Option<ScramCredential> {
        self.read().get(user)?.get(&mechanism).cloned()
    }

    /// The salt shown for a user without a credential (stable per name).
    pub fn fake_salt(&self, user: &str) -> Vec<u8> {
        stable_salt(&self.fake_salt_key, user)
    }

    /// Every user and mechanism, in name order.
    pub fn list(&self) -> Vec<Listed> {
        self.read()
            .iter()
            .flat_map(|(user, m)| {
                m.iter().map(|(mechanism, c)| Listed {
                    user: user.clone(),
                    mechanism: *mechanism,
                    iterations: c.iterations,
                })
            })
            .collect()
    }

    /// Applies `changes` together: written durably first, then visible.
    pub fn apply(&self, changes: &[Change]) -> Result<(), CredentialError> {
        let _writer = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let mut next = self.read().clone();
        for c in changes {
            match c {
                Change::Upsert(user, m, cred) => {
                    next.entry(user.clone())
                        .or_default()
                        .insert(*m, cred.clone());
                }
                Change::Delete(user, m) => {
                    if let Some(ms) = next.get_mut(user) {
                        ms.remove(m);
                        if ms.is_empty() {
                            next.remove(user);
                        }
                    }
                }
            }
        }
        let bytes = encode(&next);
        let dir = self.path.parent().unwrap_or(Path::new("."));
        let io = |op, source| CredentialError::Io {
            op,
            path: self.path.clone(),
            source,
        };
        self.fs
            .create_dir_all(dir)
            .map_err(|e| io("create directory for", e))?;
        write_atomic(self.fs.as_ref(), &self.path, &bytes).map_err(|e| io("replace", e))?;
        *self.users.write().unwrap_or_else(|p| p.into_inner()) = next;
        Ok(())
    }
}

fn encode(users: &Users) -> Vec<u8> {
    let form = FileForm {
        v: FORMAT_VERSION,
        users: users
            .iter()
            .map(|(u, ms)| {
                let ms = ms
                    .iter()
                    .map(|(m, c)| {
                        (
                            m.name().to_string(),
                            StoredForm {
                                salt: B64.encode(&c.salt),
                                iterations: c.iterations,
                                stored_key: B64.encode(&c.stored_key),
                                server_key: B64.encode(&c.server_key),
                            },
                        )
                    })
                    .collect();
                (u.clone(), ms)
            })
            .collect(),
    };
    // Serializing maps of strings and numbers cannot fail.
    serde_json::to_vec_pretty(&form).unwrap_or_default()
}

fn decode(path: &Path, bytes: &[u8]) -> Result<Users, CredentialError> {
    let corrupt = |reason: String| CredentialError::Corrupt {
        path: path.to_path_buf(),
        reason,
    };
    let form: FileForm = serde_json::from_slice(bytes).map_err(|e| corrupt(e.to_string()))?;
    if form.v != FORMAT_VERSION {
        return Err(corrupt(format!("unknown format version {}", form.v)));
    }
    let mut users = Users::new();
    for (user, ms) in form.users {
        let mut out = BTreeMap::new();
        for (name, s) in ms {
            let m = Mechanism::from_name(&name)
                .ok_or_else(|| corrupt(format!("unknown mechanism {name}")))?;
            let b = |v: &str| B64.decode(v).map_err(|e| corrupt(format!("{user}: {e}")));
            out.insert(
                m,
                ScramCredential {
                    salt: b(&s.salt)?,
                    iterations: s.iterations,
                    stored_key: b(&s.stored_key)?,
                    server_key: b(&s.server_key)?,
                },
            );
        }
        users.insert(user, out);
    }
    Ok(users)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_survive_a_reopen_and_hold_no_password() {
        let dir = tempfile::tempdir().unwrap();
        let fs: Arc<dyn FileSystem> = Arc::new(weir_storage::RealFs);
        let store = CredentialStore::open(dir.path(), Arc::clone(&fs)).unwrap();
        assert!(store.list().is_empty());
        let cred = ScramCredential::new(Mechanism::ScramSha512, b"hunter2-secret", 4096).unwrap();
        store
            .apply(&[
                Change::Upsert("alice".into(), Mechanism::ScramSha512, cred.clone()),
                Change::Upsert(
                    "bob".into(),
                    Mechanism::ScramSha256,
                    ScramCredential::new(Mechanism::ScramSha256, b"pw", 8192).unwrap(),
                ),
            ])
            .unwrap();
        let text =
            std::fs::read_to_string(dir.path().join(META_DIR_NAME).join(CREDENTIALS_FILE_NAME))
                .unwrap();
        assert!(!text.contains("hunter2"), "{text}");
        let again = CredentialStore::open(dir.path(), fs).unwrap();
        assert_eq!(again.get("alice", Mechanism::ScramSha512), Some(cred));
        assert_eq!(again.get("alice", Mechanism::ScramSha256), None);
        assert_eq!(again.list().len(), 2);
        again
            .apply(&[Change::Delete("bob".into(), Mechanism::ScramSha256)])
            .unwrap();
        assert_eq!(again.list().len(), 1);
        assert_eq!(again.fake_salt("x"), again.fake_salt("x"));
        assert_ne!(again.fake_salt("x"), again.fake_salt("y"));
    }

    #[test]
    fn a_corrupt_file_is_a_typed_error() {
        let dir = tempfile::tempdir().unwrap();
        let meta = dir.path().join(META_DIR_NAME);
        std::fs::create_dir_all(&meta).unwrap();
        std::fs::write(meta.join(CREDENTIALS_FILE_NAME), b"{\"v\":9,\"users\":{}}").unwrap();
        let e = CredentialStore::open(dir.path(), Arc::new(weir_storage::RealFs)).unwrap_err();
        assert!(matches!(e, CredentialError::Corrupt { .. }), "{e}");
    }
}
