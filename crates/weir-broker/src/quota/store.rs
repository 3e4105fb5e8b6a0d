//! The client-quota entities and their values, kept durably in
//! `<data_dir>/__weir_meta/client_quotas.json` and replaced atomically through the broker's
//! [`FileSystem`] before a change is visible (as the ACLs and SCRAM credentials are).
//!
//! File format (`v` 1): `{"v":1,"entities":[{"user":{"Name":"alice"},"client_id":"Default",
//! "values":{"producer_byte_rate":1048576.0}}]}` (an absent `user` or `client_id`: the entity
//! has no such part; `"Default"`: `<default>`).

use std::collections::BTreeMap;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use serde::{Deserialize, Serialize};
use thiserror::Error;
use weir_storage::FileSystem;
use weir_storage::io::{read_file, write_atomic};

use super::QuotaKind;
use crate::meta::META_DIR_NAME;

/// The file's name under `__weir_meta/`.
pub const QUOTAS_FILE_NAME: &str = "client_quotas.json";
/// The format version written.
const FORMAT_VERSION: u32 = 1;
/// Entities the broker holds at most (an AlterClientQuotas adding past it fails its entry).
pub const QUOTA_ENTITIES_MAX: usize = 100_000;

/// One part of an entity: a name, or `<default>` (a null name on the wire).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum EntityName {
    /// `<default>`: every user (or client id) without an entity of its own.
    Default,
    /// One user (its principal's name) or client id.
    Name(String),
}

impl EntityName {
    /// The wire form: `None` for `<default>`.
    pub fn wire(&self) -> Option<String> {
        match self {
            EntityName::Default => None,
            EntityName::Name(n) => Some(n.clone()),
        }
    }

    /// From the wire form.
    pub fn from_wire(name: Option<&str>) -> Self {
        match name {
            None => EntityName::Default,
            Some(n) => EntityName::Name(n.to_string()),
        }
    }
}

/// A quota entity: a user, a client id, or both, or an IP address alone (each a name or
/// `<default>`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Entity {
    /// The user part.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<EntityName>,
    /// The client-id part.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<EntityName>,
    /// The IP part (only `connection_creation_rate`; never with a user or client id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<EntityName>,
}

impl Entity {
    /// The entity of these parts.
    pub fn new(user: Option<EntityName>, client_id: Option<EntityName>) -> Self {
        Self {
            user,
            client_id,
            ip: None,
        }
    }

    /// The entity of one IP address (or `<default>`).
    pub fn ip(ip: EntityName) -> Self {
        Self {
            user: None,
            client_id: None,
            ip: Some(ip),
        }
    }
}

/// Kafka's entity types on the wire.
pub const USER: &str = "user";
/// See [`USER`].
pub const CLIENT_ID: &str = "client-id";
/// See [`USER`] (IP entities carry `connection_creation_rate` alone).
pub const IP: &str = "ip";
/// The one key of an IP entity: new connections per second from the address.
pub const CONNECTION_CREATION_RATE: &str = "connection_creation_rate";

/// An error reading or writing the quotas.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum QuotaStoreError {
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
    #[error("corrupt client-quota file {path}: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

type Values = BTreeMap<String, f64>;
type Map = BTreeMap<Entity, Values>;

#[derive(Serialize, Deserialize)]
struct FileEntry {
    #[serde(flatten)]
    entity: Entity,
    values: Values,
}

#[derive(Serialize, Deserialize)]
struct FileForm {
    v: u32,
    entities: Vec<FileEntry>,
}

/// What one alteration asks: per key, a new value or removal (`None`).
pub type Ops = BTreeMap<String, Option<f64>>;

/// The entities and their values.
#[derive(Debug)]
pub struct QuotaStore {
    path: PathBuf,
    fs: Arc<dyn FileSystem>,
    map: RwLock<Arc<Map>>,
    /// Per kind ([`QuotaKind::index`]): whether any entity has it, kept with `map`.
    enabled: [AtomicBool; 4],
    /// Serializes writers (read, change, write the file, publish).
    writer: Mutex<()>,
}

impl QuotaStore {
    /// Opens the quotas of `data_dir` (no file yet: none).
    pub fn open(data_dir: &Path, fs: Arc<dyn FileSystem>) -> Result<Self, QuotaStoreError> {
        let path = data_dir.join(META_DIR_NAME).join(QUOTAS_FILE_NAME);
        let map = match read_file(fs.as_ref(), &path) {
            Ok(bytes) => decode(&path, &bytes)?,
            Err(e) if e.kind() == ErrorKind::NotFound => Map::new(),
            Err(source) => {
                return Err(QuotaStoreError::Io {
                    op: "read",
                    path,
                    source,
                });
            }
        };
        let enabled = kinds_enabled(&map).map(AtomicBool::new);
        Ok(Self {
            path,
            fs,
            map: RwLock::new(Arc::new(map)),
            enabled,
            writer: Mutex::new(()),
        })
    }

    fn current(&self) -> Arc<Map> {
        Arc::clone(&self.map.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// Whether any entity has a quota of `kind` (Kafka's `quotasEnabled`).
    pub fn enabled(&self, kind: QuotaKind) -> bool {
        self.enabled[kind.index()].load(Ordering::Acquire)
    }

    /// An IP entity's `connection_creation_rate`.
    pub fn connection_rate(&self, ip: &EntityName) -> Option<f64> {
        self.current()
            .get(&Entity::ip(ip.clone()))
            .and_then(|v| v.get(CONNECTION_CREATION_RATE))
            .copied()
    }

    /// Whether any IP entity has a `connection_creation_rate`.
    pub fn connection_rates_enabled(&self) -> bool {
        self.enabled[3].load(Ordering::Acquire)
    }

    /// Whether `entity` has a quota of `kind`.
    pub fn has(&self, kind: QuotaKind, entity: &Entity) -> bool {
        self.get(kind, entity).is_some()
    }

    /// `entity`'s quota of `kind`.
    pub fn get(&self, kind: QuotaKind, entity: &Entity) -> Option<f64> {
        self.current()
            .get(entity)
            .and_then(|v| v.get(kind.key()))
            .copied()
    }

    /// Every entity with its values, for a filter to pick from.
    pub fn all(&self) -> Vec<(Entity, Vec<(String, f64)>)> {
        self.current()
            .iter()
            .map(|(e, v)| (e.clone(), v.iter().map(|(k, x)| (k.clone(), *x)).collect()))
            .collect()
    }

    /// Applies every alteration, durably before any is visible (one file write). An entity
    /// left with no values is removed. Returns false, changing nothing, when the broker would
    /// hold more than [`QUOTA_ENTITIES_MAX`] entities.
    pub fn alter(&self, alterations: &[(Entity, Ops)]) -> Result<bool, QuotaStoreError> {
        let _writer = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let before = self.current();
        let mut next = (*before).clone();
        for (entity, ops) in alterations {
            let values = next.entry(entity.clone()).or_default();
            for (key, op) in ops {
                match op {
                    Some(v) => {
                        values.insert(key.clone(), *v);
                    }
                    None => {
                        values.remove(key);
                    }
                }
            }
            if values.is_empty() {
                next.remove(entity);
            }
        }
        if next.len() > QUOTA_ENTITIES_MAX {
            return Ok(false);
        }
        if next == *before {
            return Ok(true);
        }
        let io = |op, source| QuotaStoreError::Io {
            op,
            path: self.path.clone(),
            source,
        };
        let dir = self.path.parent().unwrap_or(Path::new("."));
        self.fs
            .create_dir_all(dir)
            .map_err(|e| io("create directory for", e))?;
        write_atomic(self.fs.as_ref(), &self.path, &encode(&next)).map_err(|e| io("replace", e))?;
        let enabled = kinds_enabled(&next);
        *self.map.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(next);
        for (flag, on) in self.enabled.iter().zip(enabled) {
            flag.store(on, Ordering::Release);
        }
        Ok(true)
    }
}

/// Per [`QuotaKind::index`], then `connection_creation_rate`: whether any entity has it.
fn kinds_enabled(map: &Map) -> [bool; 4] {
    let has = |key: &str| map.values().any(|v| v.contains_key(key));
    let [p, f, r] = QuotaKind::ALL.map(|k| has(k.key()));
    [p, f, r, has(CONNECTION_CREATION_RATE)]
}

fn encode(map: &Map) -> Vec<u8> {
    let form = FileForm {
        v: FORMAT_VERSION,
        entities: map
            .iter()
            .map(|(entity, values)| FileEntry {
                entity: entity.clone(),
                values: values.clone(),
            })
            .collect(),
    };
    // Strings, unit enums and finite floats (the handler refuses others) always serialize.
    serde_json::to_vec_pretty(&form).unwrap_or_default()
}

fn decode(path: &Path, bytes: &[u8]) -> Result<Map, QuotaStoreError> {
    let corrupt = |reason: String| QuotaStoreError::Corrupt {
        path: path.to_path_buf(),
        reason,
    };
    let form: FileForm = serde_json::from_slice(bytes).map_err(|e| corrupt(e.to_string()))?;
    if form.v != FORMAT_VERSION {
        return Err(corrupt(format!("unknown format version {}", form.v)));
    }
    let mut map = Map::new();
    for e in form.entities {
        let user_or_client = e.entity.user.is_some() || e.entity.client_id.is_some();
        if user_or_client == e.entity.ip.is_some() {
            return Err(corrupt(
                "an entity needs a user or client id, or else an ip".into(),
            ));
        }
        map.insert(e.entity, e.values);
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alterations_survive_a_reopen_and_empty_entities_go() {
        let dir = tempfile::tempdir().unwrap();
        let fs: Arc<dyn FileSystem> = Arc::new(weir_storage::RealFs);
        let s = QuotaStore::open(dir.path(), Arc::clone(&fs)).unwrap();
        let alice = Entity::new(Some(EntityName::Name("alice".into())), None);
        let dflt = Entity::new(Some(EntityName::Default), Some(EntityName::Default));
        let ops = |k: &str, v: Option<f64>| Ops::from([(k.to_string(), v)]);
        assert!(
            s.alter(&[
                (alice.clone(), ops("producer_byte_rate", Some(1024.0))),
                (dflt.clone(), ops("request_percentage", Some(50.5))),
            ])
            .unwrap()
        );
        let s = QuotaStore::open(dir.path(), Arc::clone(&fs)).unwrap();
        assert_eq!(s.get(QuotaKind::Produce, &alice), Some(1024.0));
        assert_eq!(s.get(QuotaKind::Request, &dflt), Some(50.5));
        assert!(s.enabled(QuotaKind::Request) && !s.enabled(QuotaKind::Fetch));
        s.alter(&[(alice.clone(), ops("producer_byte_rate", None))])
            .unwrap();
        let s = QuotaStore::open(dir.path(), fs).unwrap();
        assert_eq!(s.all().len(), 1);
        assert!(!s.enabled(QuotaKind::Produce));
    }

    #[test]
    fn a_corrupt_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(META_DIR_NAME)).unwrap();
        let p = dir.path().join(META_DIR_NAME).join(QUOTAS_FILE_NAME);
        let fs: Arc<dyn FileSystem> = Arc::new(weir_storage::RealFs);
        for bad in [
            &b"{"[..],
            br#"{"v":2,"entities":[]}"#,
            br#"{"v":1,"entities":[{"values":{}}]}"#,
        ] {
            std::fs::write(&p, bad).unwrap();
            assert!(matches!(
                QuotaStore::open(dir.path(), Arc::clone(&fs)),
                Err(QuotaStoreError::Corrupt { .. })
            ));
        }
    }
}
