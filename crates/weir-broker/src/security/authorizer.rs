//! The authorizer: Kafka's `StandardAuthorizer` decisions over the broker's ACLs, and the ACLs
//! kept durably in `<data_dir>/__weir_meta/acls.json`, replaced atomically through the
//! broker's [`FileSystem`] before a change is visible (as [`super::credentials`] does).
//!
//! A decision, in Kafka's order: the authorizer off (`authorizer_enabled=false`) allows
//! everything; a super user is allowed; a resource no ACL covers (for anyone) is allowed only
//! with `allow_everyone_if_no_acl_found`; a DENY that applies (its principal or `User:*`, its
//! host or `*`, its operation or ALL) denies; else an ALLOW that applies (with the operation's
//! implications) allows; else denied. Every request reads the current ACLs, so a change takes
//! effect on the next request of every connection.
//!
//! File format (`v` 1): `{"v":1,"acls":[{"resource_type":"Topic","resource_name":"t",
//! "pattern_type":"Literal","principal":"User:alice","host":"*","operation":"Read",
//! "permission":"Allow"}]}`.

use std::collections::BTreeSet;
use std::io::ErrorKind;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use serde::{Deserialize, Serialize};
use thiserror::Error;
use weir_storage::FileSystem;
use weir_storage::io::{read_file, write_atomic};

use super::Principal;
use super::acl::{
    Acl, AclFilter, CLUSTER_NAME, Operation, PatternType, Permission, ResourceType,
    WILDCARD_RESOURCE,
};
use crate::meta::META_DIR_NAME;

/// The file's name under `__weir_meta/`.
pub const ACLS_FILE_NAME: &str = "acls.json";
/// The format version written.
const FORMAT_VERSION: u32 = 1;
/// ACLs the broker holds at most (a CreateAcls past it fails its new entries).
pub const ACLS_MAX: usize = 100_000;

/// The authorizer's settings (`authorizer_enabled`, `super_users`,
/// `allow_everyone_if_no_acl_found`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthorizerConfig {
    /// Whether requests are authorized at all (false: everything is allowed).
    pub enabled: bool,
    /// Principals allowed everything, `User:name` each.
    pub super_users: Vec<String>,
    /// Whether a resource no ACL covers is open to everyone.
    pub allow_everyone_if_no_acl_found: bool,
}

impl AuthorizerConfig {
    /// `super_users`' form: `User:admin;User:ops` (spaces around entries ignored).
    pub fn parse_super_users(v: &str) -> Result<Vec<String>, String> {
        let mut out = Vec::new();
        for p in v.split(';').map(str::trim).filter(|p| !p.is_empty()) {
            match p.split_once(':') {
                Some((kind, name)) if !kind.is_empty() && !name.is_empty() => {
                    out.push(p.to_string())
                }
                _ => return Err(format!("`{p}` is not Type:name")),
            }
        }
        Ok(out)
    }
}

/// An error reading or writing the ACLs.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum AclStoreError {
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
    #[error("corrupt ACL file {path}: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The broker holds [`ACLS_MAX`] ACLs already.
    #[error("the broker holds {ACLS_MAX} ACLs already")]
    TooMany,
}

#[derive(Serialize, Deserialize)]
struct FileForm {
    v: u32,
    acls: Vec<Acl>,
}

type Acls = BTreeSet<Acl>;

/// The ACLs and the decisions over them.
#[derive(Debug)]
pub struct Authorizer {
    config: AuthorizerConfig,
    path: PathBuf,
    fs: Arc<dyn FileSystem>,
    acls: RwLock<Arc<Acls>>,
    /// Serializes writers (read, change, write the file, publish).
    writer: Mutex<()>,
}

impl Authorizer {
    /// Opens the ACLs of `data_dir` (none yet is an empty set).
    pub fn open(
        config: AuthorizerConfig,
        data_dir: &Path,
        fs: Arc<dyn FileSystem>,
    ) -> Result<Self, AclStoreError> {
        let path = data_dir.join(META_DIR_NAME).join(ACLS_FILE_NAME);
        let acls = match read_file(fs.as_ref(), &path) {
            Ok(bytes) => decode(&path, &bytes)?,
            Err(e) if e.kind() == ErrorKind::NotFound => Acls::new(),
            Err(source) => {
                return Err(AclStoreError::Io {
                    op: "read",
                    path,
                    source,
                });
            }
        };
        Ok(Self {
            config,
            path,
            fs,
            acls: RwLock::new(Arc::new(acls)),
            writer: Mutex::new(()),
        })
    }

    /// An authorizer that is off, over no file (handler unit tests).
    #[cfg(test)]
    pub(crate) fn off() -> Self {
        Self {
            config: AuthorizerConfig::default(),
            path: PathBuf::new(),
            fs: Arc::new(weir_storage::RealFs),
            acls: RwLock::new(Arc::new(Acls::new())),
            writer: Mutex::new(()),
        }
    }

    /// Whether requests are authorized at all.
    pub fn enabled(&self) -> bool {
        self.config.enabled
    }

    fn current(&self) -> Arc<Acls> {
        Arc::clone(&self.acls.read().unwrap_or_else(|p| p.into_inner()))
    }

    fn is_super_user(&self, principal: &str) -> bool {
        self.config.super_users.iter().any(|s| s == principal)
    }

    /// Whether `principal` from `host` may do `op` on the resource `name` of type `kind`.
    pub fn authorize(
        &self,
        principal: &Principal,
        host: Option<IpAddr>,
        op: Operation,
        kind: ResourceType,
        name: &str,
    ) -> bool {
        if !self.config.enabled {
            return true;
        }
        let who = principal.to_string();
        if self.is_super_user(&who) {
            return true;
        }
        let host = host.map(|h| h.to_string());
        let acls = self.current();
        let mut covered = false;
        let mut allowed = false;
        for acl in acls.iter().filter(|a| a.covers(kind, name)) {
            covered = true;
            if !acl.applies_to(&who, host.as_deref()) {
                continue;
            }
            match acl.permission {
                Permission::Deny if acl.operation.denies(op) => return false,
                Permission::Allow if acl.operation.allows(op) => allowed = true,
                _ => {}
            }
        }
        if !covered {
            return self.config.allow_everyone_if_no_acl_found;
        }
        allowed
    }

    /// Kafka's `authorizeByResourceType` (KIP-679): whether `principal` may do `op` on at
    /// least one resource of type `kind` — an applying ALLOW (literal or prefixed) not
    /// cancelled by an applying DENY of the same operation on a wildcard, on the same
    /// literal name, or on a prefix of the allowed name.
    pub fn authorize_any(
        &self,
        principal: &Principal,
        host: Option<IpAddr>,
        op: Operation,
        kind: ResourceType,
    ) -> bool {
        if !self.config.enabled {
            return true;
        }
        let who = principal.to_string();
        if self.is_super_user(&who) {
            return true;
        }
        let host = host.map(|h| h.to_string());
        let acls = self.current();
        let applying: Vec<&Acl> = acls
            .iter()
            .filter(|a| a.resource_type == kind && a.applies_to(&who, host.as_deref()))
            .collect();
        let denies: Vec<&Acl> = applying
            .iter()
            .copied()
            .filter(|a| a.permission == Permission::Deny && a.operation.denies(op))
            .collect();
        if denies
            .iter()
            .any(|d| d.pattern_type == PatternType::Literal && d.resource_name == WILDCARD_RESOURCE)
        {
            return false;
        }
        let cancelled = |allow: &Acl| {
            denies.iter().any(|d| match d.pattern_type {
                PatternType::Prefixed => allow.resource_name.starts_with(d.resource_name.as_str()),
                PatternType::Literal => {
                    allow.pattern_type == PatternType::Literal
                        && allow.resource_name == d.resource_name
                }
            })
        };
        let any_allow = applying
            .iter()
            .any(|a| a.permission == Permission::Allow && a.operation.allows(op) && !cancelled(a));
        any_allow
            || (self.config.allow_everyone_if_no_acl_found
                && !acls.iter().any(|a| a.resource_type == kind))
    }

    /// The ACLs `filter` matches, in a stable order.
    pub fn describe(&self, filter: &AclFilter) -> Vec<Acl> {
        self.current()
            .iter()
            .filter(|a| filter.matches(a))
            .cloned()
            .collect()
    }

    /// Adds `acls` (already present ones are kept once), durably before they are visible.
    pub fn create(&self, acls: &[Acl]) -> Result<(), AclStoreError> {
        self.change(|set| {
            for a in acls {
                set.insert(a.clone());
            }
            if set.len() > ACLS_MAX {
                return Err(AclStoreError::TooMany);
            }
            Ok(Vec::<()>::new())
        })
        .map(drop)
    }

    /// Removes every ACL each filter matches, durably before it is gone; per filter, the
    /// ACLs it removed (an ACL two filters match is listed under both, as Kafka does).
    pub fn delete(&self, filters: &[AclFilter]) -> Result<Vec<Vec<Acl>>, AclStoreError> {
        self.change(|set| {
            let per_filter: Vec<Vec<Acl>> = filters
                .iter()
                .map(|f| set.iter().filter(|a| f.matches(a)).cloned().collect())
                .collect();
            set.retain(|a| !filters.iter().any(|f| f.matches(a)));
            Ok(per_filter)
        })
    }

    fn change<T>(
        &self,
        f: impl FnOnce(&mut Acls) -> Result<Vec<T>, AclStoreError>,
    ) -> Result<Vec<T>, AclStoreError> {
        let _writer = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let before = self.current();
        let mut next = (*before).clone();
        let out = f(&mut next)?;
        if next == *before {
            return Ok(out);
        }
        let io = |op, source| AclStoreError::Io {
            op,
            path: self.path.clone(),
            source,
        };
        let dir = self.path.parent().unwrap_or(Path::new("."));
        self.fs
            .create_dir_all(dir)
            .map_err(|e| io("create directory for", e))?;
        write_atomic(self.fs.as_ref(), &self.path, &encode(&next)).map_err(|e| io("replace", e))?;
        *self.acls.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(next);
        Ok(out)
    }
}

/// One request's caller over the shared ACLs: what the handlers ask (`Context::caller`).
#[derive(Debug)]
pub struct Caller<'a> {
    authorizer: &'a Authorizer,
    principal: &'a Principal,
    host: Option<IpAddr>,
}

impl<'a> Caller<'a> {
    /// `principal` connected from `host`.
    pub fn new(authorizer: &'a Authorizer, principal: &'a Principal, host: Option<IpAddr>) -> Self {
        Self {
            authorizer,
            principal,
            host,
        }
    }

    /// Whether the caller may do `op` on the resource `name` of type `kind`.
    pub fn may(&self, op: Operation, kind: ResourceType, name: &str) -> bool {
        self.authorizer
            .authorize(self.principal, self.host, op, kind, name)
    }

    /// `op` on a topic.
    pub fn may_topic(&self, op: Operation, topic: &str) -> bool {
        self.may(op, ResourceType::Topic, topic)
    }

    /// `op` on a group.
    pub fn may_group(&self, op: Operation, group: &str) -> bool {
        self.may(op, ResourceType::Group, group)
    }

    /// `op` on the cluster.
    pub fn may_cluster(&self, op: Operation) -> bool {
        self.may(op, ResourceType::Cluster, CLUSTER_NAME)
    }

    /// `op` on a transactional id.
    pub fn may_txn(&self, op: Operation, transactional_id: &str) -> bool {
        self.may(op, ResourceType::TransactionalId, transactional_id)
    }

    /// `op` on at least one resource of type `kind` (KIP-679).
    pub fn may_any(&self, op: Operation, kind: ResourceType) -> bool {
        self.authorizer
            .authorize_any(self.principal, self.host, op, kind)
    }

    /// The operations the caller may do on the resource `name` of type `kind`, as the bit field
    /// Kafka's `AuthHelper.authorizedOperations` answers in `*_authorized_operations`: bit
    /// `code` set for each operation of [`supported_operations`] it is allowed.
    pub fn authorized_operations(&self, kind: ResourceType, name: &str) -> i32 {
        supported_operations(kind)
            .iter()
            .filter(|op| self.may(**op, kind, name))
            .fold(0i32, |bits, op| bits | (1i32 << op.code()))
    }

    /// The authorizer itself (the ACL APIs).
    pub fn authorizer(&self) -> &'a Authorizer {
        self.authorizer
    }
}

/// What `*_authorized_operations` answers when the request did not ask for it (Kafka's
/// `AUTHORIZED_OPERATIONS_OMITTED`).
pub const AUTHORIZED_OPERATIONS_OMITTED: i32 = i32::MIN;

/// The operations a resource type supports (Kafka's `AclEntry.supportedOperations`).
pub fn supported_operations(kind: ResourceType) -> &'static [Operation] {
    use Operation as O;
    match kind {
        ResourceType::Topic => &[
            O::Read,
            O::Write,
            O::Create,
            O::Describe,
            O::Delete,
            O::Alter,
            O::DescribeConfigs,
            O::AlterConfigs,
        ],
        ResourceType::Group => &[
            O::Read,
            O::Describe,
            O::Delete,
            O::DescribeConfigs,
            O::AlterConfigs,
        ],
        ResourceType::Cluster => &[
            O::Create,
            O::ClusterAction,
            O::DescribeConfigs,
            O::AlterConfigs,
            O::IdempotentWrite,
            O::Alter,
            O::Describe,
        ],
        ResourceType::TransactionalId => &[O::Describe, O::Write],
    }
}

fn encode(acls: &Acls) -> Vec<u8> {
    let form = FileForm {
        v: FORMAT_VERSION,
        acls: acls.iter().cloned().collect(),
    };
    // Serializing strings and unit enums cannot fail.
    serde_json::to_vec_pretty(&form).unwrap_or_default()
}

fn decode(path: &Path, bytes: &[u8]) -> Result<Acls, AclStoreError> {
    let corrupt = |reason: String| AclStoreError::Corrupt {
        path: path.to_path_buf(),
        reason,
    };
    let form: FileForm = serde_json::from_slice(bytes).map_err(|e| corrupt(e.to_string()))?;
    if form.v != FORMAT_VERSION {
        return Err(corrupt(format!("unknown format version {}", form.v)));
    }
    Ok(form.acls.into_iter().collect())
}

#[cfg(test)]
#[path = "authorizer_tests.rs"]
mod tests;
