//! The dynamic broker configs, kept durably in `<data_dir>/__weir_meta/broker_configs.json`
//! and replaced atomically (temporary file, fsync, rename, fsync of the directory) through
//! the broker's [`FileSystem`] before a change is applied or answered.
//!
//! File format (`v` 1): `{"v":1,"cluster":{"log.retention.ms":"3600000"},"broker":{}}`:
//! `cluster` holds the cluster-wide defaults (resource name ""), `broker` this broker's own
//! (resource name = its node id), both by Kafka's config names.

use std::collections::BTreeMap;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use thiserror::Error;
use weir_storage::FileSystem;
use weir_storage::io::{read_file, write_atomic};

use crate::meta::META_DIR_NAME;

/// The file's name under `__weir_meta/`.
pub const BROKER_CONFIGS_FILE_NAME: &str = "broker_configs.json";
/// The format version written.
const FORMAT_VERSION: u32 = 1;

/// Both levels of dynamic configs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Levels {
    /// Cluster-wide defaults (Kafka's DYNAMIC_DEFAULT_BROKER_CONFIG).
    pub cluster: BTreeMap<String, String>,
    /// This broker's (DYNAMIC_BROKER_CONFIG).
    pub broker: BTreeMap<String, String>,
}

#[derive(Serialize, Deserialize)]
struct File {
    v: u32,
    #[serde(flatten)]
    levels: Levels,
}

/// Why the file could not be read or written.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum DynamicConfigError {
    /// Reading or replacing the file failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The file does not parse, or has another version.
    #[error("{path}: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

/// The file of dynamic broker configs.
#[derive(Debug)]
pub struct DynamicStore {
    path: PathBuf,
    fs: Arc<dyn FileSystem>,
}

impl DynamicStore {
    /// Opens `data_dir`'s file and reads it (none yet: no dynamic configs).
    pub fn open(
        data_dir: &Path,
        fs: Arc<dyn FileSystem>,
    ) -> Result<(Self, Levels), DynamicConfigError> {
        let path = data_dir.join(META_DIR_NAME).join(BROKER_CONFIGS_FILE_NAME);
        let levels = match read_file(fs.as_ref(), &path) {
            Ok(bytes) => {
                let f: File =
                    serde_json::from_slice(&bytes).map_err(|e| DynamicConfigError::Corrupt {
                        path: path.clone(),
                        reason: e.to_string(),
                    })?;
                if f.v != FORMAT_VERSION {
                    return Err(DynamicConfigError::Corrupt {
                        path,
                        reason: format!("format version {} (this weir reads 1)", f.v),
                    });
                }
                f.levels
            }
            Err(e) if e.kind() == ErrorKind::NotFound => Levels::default(),
            Err(source) => {
                return Err(DynamicConfigError::Io {
                    op: "read",
                    path,
                    source,
                });
            }
        };
        Ok((Self { path, fs }, levels))
    }

    /// Replaces the file with `levels`, durably.
    pub fn save(&self, levels: &Levels) -> Result<(), DynamicConfigError> {
        let io = |op, source| DynamicConfigError::Io {
            op,
            path: self.path.clone(),
            source,
        };
        if let Some(dir) = self.path.parent() {
            self.fs
                .create_dir_all(dir)
                .map_err(|e| io("create dir", e))?;
        }
        let bytes = serde_json::to_vec(&File {
            v: FORMAT_VERSION,
            levels: levels.clone(),
        })
        .map_err(|e| io("encode", std::io::Error::other(e)))?;
        write_atomic(self.fs.as_ref(), &self.path, &bytes).map_err(|e| io("replace", e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_refuse_what_does_not_parse() {
        let dir = tempfile::tempdir().unwrap();
        let fs: Arc<dyn FileSystem> = Arc::new(weir_storage::RealFs);
        let (s, l) = DynamicStore::open(dir.path(), Arc::clone(&fs)).unwrap();
        assert_eq!(l, Levels::default());
        let mut l = Levels::default();
        l.cluster.insert("log.retention.ms".into(), "1000".into());
        l.broker
            .insert("log.segment.bytes".into(), "1048576".into());
        s.save(&l).unwrap();
        let (_, again) = DynamicStore::open(dir.path(), Arc::clone(&fs)).unwrap();
        assert_eq!(again, l);
        let path = dir
            .path()
            .join(META_DIR_NAME)
            .join(BROKER_CONFIGS_FILE_NAME);
        std::fs::write(&path, b"{\"v\":2,\"cluster\":{},\"broker\":{}}").unwrap();
        assert!(matches!(
            DynamicStore::open(dir.path(), Arc::clone(&fs)),
            Err(DynamicConfigError::Corrupt { .. })
        ));
        std::fs::write(&path, b"not json").unwrap();
        assert!(DynamicStore::open(dir.path(), fs).is_err());
    }
}
