//! ACLs as Kafka's authorizer sees them: a resource pattern (type, name, LITERAL or PREFIXED)
//! and an entry (principal, host, operation, ALLOW or DENY), with their wire codes, and the
//! filters of DescribeAcls and DeleteAcls (ANY, MATCH). Pure data and matching, no I/O;
//! [`super::authorizer`] decides with them.

use serde::{Deserialize, Serialize};

/// The literal name that matches every resource of its type (Kafka's `WILDCARD_RESOURCE`).
pub const WILDCARD_RESOURCE: &str = "*";
/// The principal that matches every `User` principal.
pub const WILDCARD_PRINCIPAL: &str = "User:*";
/// The host that matches every client address.
pub const WILDCARD_HOST: &str = "*";
/// The one name of the CLUSTER resource.
pub const CLUSTER_NAME: &str = "kafka-cluster";

macro_rules! codes {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $v:ident = $code:expr, $text:expr;)* }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name { $($(#[$vm])* $v,)* }

        impl $name {
            /// Kafka's wire code.
            pub fn code(self) -> i8 {
                match self { $($name::$v => $code,)* }
            }

            /// From Kafka's wire code (`None`: UNKNOWN, ANY or a code weir does not know).
            pub fn from_code(code: i8) -> Option<Self> {
                match code { $($code => Some($name::$v),)* _ => None }
            }

            /// Kafka's name (`TOPIC`, `READ`, ...).
            pub fn name(self) -> &'static str {
                match self { $($name::$v => $text,)* }
            }

            /// From Kafka's name, case-insensitive.
            pub fn from_name(s: &str) -> Option<Self> {
                let s = s.to_ascii_uppercase();
                match s.as_str() { $($text => Some($name::$v),)* _ => None }
            }
        }
    };
}

codes!(
    /// A resource type an ACL can name.
    ResourceType {
        /// A topic.
        Topic = 2, "TOPIC";
        /// A consumer group.
        Group = 3, "GROUP";
        /// The cluster (named `kafka-cluster`).
        Cluster = 4, "CLUSTER";
        /// A transactional id.
        TransactionalId = 5, "TRANSACTIONAL_ID";
    }
);

codes!(
    /// How an ACL's resource name matches.
    PatternType {
        /// The name itself (or `*`, every resource of the type).
        Literal = 3, "LITERAL";
        /// Every resource whose name starts with it.
        Prefixed = 4, "PREFIXED";
    }
);

codes!(
    /// An operation on a resource.
    Operation {
        /// Every operation.
        All = 2, "ALL";
        /// Read (Fetch, a group's offsets).
        Read = 3, "READ";
        /// Write (Produce, a transactional id).
        Write = 4, "WRITE";
        /// Create (topics).
        Create = 5, "CREATE";
        /// Delete (topics, records, groups).
        Delete = 6, "DELETE";
        /// Alter (partitions, ACLs).
        Alter = 7, "ALTER";
        /// Describe (metadata, offsets, coordinators).
        Describe = 8, "DESCRIBE";
        /// Inter-broker actions.
        ClusterAction = 9, "CLUSTER_ACTION";
        /// DescribeConfigs.
        DescribeConfigs = 10, "DESCRIBE_CONFIGS";
        /// AlterConfigs, IncrementalAlterConfigs.
        AlterConfigs = 11, "ALTER_CONFIGS";
        /// An idempotent producer's writes.
        IdempotentWrite = 12, "IDEMPOTENT_WRITE";
        /// Delegation tokens (no API of weir uses it).
        CreateTokens = 13, "CREATE_TOKENS";
        /// Delegation tokens (no API of weir uses it).
        DescribeTokens = 14, "DESCRIBE_TOKENS";
    }
);

codes!(
    /// Whether an ACL allows or denies.
    Permission {
        /// Denies; wins over any ALLOW.
        Deny = 2, "DENY";
        /// Allows.
        Allow = 3, "ALLOW";
    }
);

impl Operation {
    /// Whether an ALLOW of `self` allows `requested`: the operation itself, ALL, and Kafka's
    /// implications (READ, WRITE, DELETE, ALTER imply DESCRIBE; ALTER_CONFIGS implies
    /// DESCRIBE_CONFIGS).
    pub fn allows(self, requested: Operation) -> bool {
        use Operation as O;
        self == requested
            || self == O::All
            || match requested {
                O::Describe => matches!(self, O::Read | O::Write | O::Delete | O::Alter),
                O::DescribeConfigs => self == O::AlterConfigs,
                _ => false,
            }
    }

    /// Whether a DENY of `self` denies `requested`: the operation itself or ALL, never an
    /// implication (a DENY of READ does not deny DESCRIBE).
    pub fn denies(self, requested: Operation) -> bool {
        self == requested || self == Operation::All
    }
}

/// One ACL (Kafka's `AclBinding`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Acl {
    /// The resource type.
    pub resource_type: ResourceType,
    /// The resource name (a prefix when PREFIXED, `*` for every one when LITERAL).
    pub resource_name: String,
    /// How the name matches.
    pub pattern_type: PatternType,
    /// `User:name` or `User:*`.
    pub principal: String,
    /// A client address or `*`.
    pub host: String,
    /// The operation.
    pub operation: Operation,
    /// ALLOW or DENY.
    pub permission: Permission,
}

/// Why an ACL cannot be created (Kafka answers INVALID_REQUEST, naming it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AclInvalid {
    /// A code that is UNKNOWN, ANY, MATCH or not one weir knows.
    #[error("invalid {0}")]
    Code(&'static str),
    /// The principal is not `Type:name`.
    #[error(
        "could not parse principal from `{0}` (no colon is present separating the principal type from the principal name)"
    )]
    Principal(String),
    /// A CLUSTER ACL not on `kafka-cluster`.
    #[error("the only valid name for the CLUSTER resource is {CLUSTER_NAME}")]
    ClusterName,
    /// An empty resource name or host.
    #[error("the {0} is empty")]
    Empty(&'static str),
}

impl Acl {
    /// An ACL from the wire's fields, checked as Kafka checks a new one.
    #[allow(clippy::too_many_arguments)]
    pub fn from_wire(
        resource_type: i8,
        resource_name: &str,
        pattern_type: i8,
        principal: &str,
        host: &str,
        operation: i8,
        permission: i8,
    ) -> Result<Self, AclInvalid> {
        let resource_type =
            ResourceType::from_code(resource_type).ok_or(AclInvalid::Code("resource type"))?;
        let pattern_type =
            PatternType::from_code(pattern_type).ok_or(AclInvalid::Code("pattern type"))?;
        let operation = Operation::from_code(operation).ok_or(AclInvalid::Code("operation"))?;
        let permission =
            Permission::from_code(permission).ok_or(AclInvalid::Code("permission type"))?;
        match principal.split_once(':') {
            Some((kind, name)) if !kind.is_empty() && !name.is_empty() => {}
            _ => return Err(AclInvalid::Principal(principal.to_string())),
        }
        if resource_name.is_empty() {
            return Err(AclInvalid::Empty("resource name"));
        }
        if host.is_empty() {
            return Err(AclInvalid::Empty("host"));
        }
        if resource_type == ResourceType::Cluster && resource_name != CLUSTER_NAME {
            return Err(AclInvalid::ClusterName);
        }
        Ok(Acl {
            resource_type,
            resource_name: resource_name.to_string(),
            pattern_type,
            principal: principal.to_string(),
            host: host.to_string(),
            operation,
            permission,
        })
    }

    /// Whether this ACL's pattern covers the resource `name` of type `kind`.
    pub fn covers(&self, kind: ResourceType, name: &str) -> bool {
        self.resource_type == kind
            && match self.pattern_type {
                PatternType::Literal => {
                    self.resource_name == name || self.resource_name == WILDCARD_RESOURCE
                }
                PatternType::Prefixed => name.starts_with(self.resource_name.as_str()),
            }
    }

    /// Whether this ACL's principal and host apply to `principal` (`Type:name`) from `host`.
    pub fn applies_to(&self, principal: &str, host: Option<&str>) -> bool {
        let principal_ok = self.principal == principal
            || (self.principal == WILDCARD_PRINCIPAL && principal.starts_with("User:"));
        let host_ok = self.host == WILDCARD_HOST || host.is_some_and(|h| h == self.host);
        principal_ok && host_ok
    }
}

/// How a filter matches pattern types (Kafka's `PatternType` ANY, MATCH or one type).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatternFilter {
    /// Every pattern type; with a name, ACLs of exactly that name.
    Any,
    /// With a name, every ACL that would apply to a resource of that name: literal ones of
    /// the name or `*`, prefixed ones whose prefix it starts with.
    Match,
    /// That pattern type; with a name, ACLs of exactly that name.
    Exactly(PatternType),
}

/// A DescribeAcls or DeleteAcls filter (Kafka's `AclBindingFilter`); `None` matches anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclFilter {
    /// The resource type (`None`: ANY).
    pub resource_type: Option<ResourceType>,
    /// The resource name (`None`: any).
    pub resource_name: Option<String>,
    /// The pattern types matched.
    pub pattern: PatternFilter,
    /// The principal, exactly as stored (`None`: any).
    pub principal: Option<String>,
    /// The host, exactly as stored (`None`: any).
    pub host: Option<String>,
    /// The operation (`None`: ANY).
    pub operation: Option<Operation>,
    /// The permission (`None`: ANY).
    pub permission: Option<Permission>,
}

/// Kafka's wire code for ANY in every ACL enum.
const ANY_CODE: i8 = 1;
/// Kafka's wire code for the MATCH pattern type.
const MATCH_CODE: i8 = 2;

impl AclFilter {
    /// A filter from the wire's fields: ANY (1) for a code means any; UNKNOWN or an unknown
    /// code is invalid, as Kafka answers INVALID_REQUEST for it.
    #[allow(clippy::too_many_arguments)]
    pub fn from_wire(
        resource_type: i8,
        resource_name: Option<&str>,
        pattern_type: i8,
        principal: Option<&str>,
        host: Option<&str>,
        operation: i8,
        permission: i8,
    ) -> Result<Self, AclInvalid> {
        fn any_or<T>(
            code: i8,
            f: fn(i8) -> Option<T>,
            what: &'static str,
        ) -> Result<Option<T>, AclInvalid> {
            if code == ANY_CODE {
                Ok(None)
            } else {
                f(code).map(Some).ok_or(AclInvalid::Code(what))
            }
        }
        let pattern = match pattern_type {
            ANY_CODE => PatternFilter::Any,
            MATCH_CODE => PatternFilter::Match,
            c => PatternFilter::Exactly(
                PatternType::from_code(c).ok_or(AclInvalid::Code("pattern type"))?,
            ),
        };
        Ok(AclFilter {
            resource_type: any_or(resource_type, ResourceType::from_code, "resource type")?,
            resource_name: resource_name.map(str::to_string),
            pattern,
            principal: principal.map(str::to_string),
            host: host.map(str::to_string),
            operation: any_or(operation, Operation::from_code, "operation")?,
            permission: any_or(permission, Permission::from_code, "permission type")?,
        })
    }

    /// Whether `acl` matches this filter.
    pub fn matches(&self, acl: &Acl) -> bool {
        if self.resource_type.is_some_and(|t| t != acl.resource_type) {
            return false;
        }
        let name_ok = match (&self.resource_name, self.pattern) {
            (None, PatternFilter::Any | PatternFilter::Match) => true,
            (None, PatternFilter::Exactly(p)) => p == acl.pattern_type,
            (Some(n), PatternFilter::Any) => *n == acl.resource_name,
            (Some(n), PatternFilter::Exactly(p)) => {
                p == acl.pattern_type && *n == acl.resource_name
            }
            (Some(n), PatternFilter::Match) => match acl.pattern_type {
                PatternType::Literal => {
                    *n == acl.resource_name || acl.resource_name == WILDCARD_RESOURCE
                }
                PatternType::Prefixed => n.starts_with(acl.resource_name.as_str()),
            },
        };
        name_ok
            && self.principal.as_ref().is_none_or(|p| *p == acl.principal)
            && self.host.as_ref().is_none_or(|h| *h == acl.host)
            && self.operation.is_none_or(|o| o == acl.operation)
            && self.permission.is_none_or(|p| p == acl.permission)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acl(kind: ResourceType, name: &str, pattern: PatternType) -> Acl {
        Acl {
            resource_type: kind,
            resource_name: name.into(),
            pattern_type: pattern,
            principal: "User:alice".into(),
            host: "*".into(),
            operation: Operation::Read,
            permission: Permission::Allow,
        }
    }

    #[test]
    fn implications_are_kafkas() {
        use Operation as O;
        for op in [O::Read, O::Write, O::Delete, O::Alter, O::All] {
            assert!(op.allows(O::Describe), "{op:?}");
        }
        for op in [
            O::Create,
            O::AlterConfigs,
            O::DescribeConfigs,
            O::IdempotentWrite,
        ] {
            assert!(!op.allows(O::Describe), "{op:?}");
        }
        assert!(O::AlterConfigs.allows(O::DescribeConfigs));
        assert!(!O::Alter.allows(O::DescribeConfigs));
        assert!(!O::Describe.allows(O::Read));
        assert!(!O::Write.allows(O::Read));
        assert!(O::All.allows(O::IdempotentWrite));
        // A DENY never implies.
        assert!(!O::Read.denies(O::Describe));
        assert!(O::All.denies(O::Describe));
        assert!(O::Describe.denies(O::Describe));
    }

    #[test]
    fn patterns_cover_as_kafkas() {
        use PatternType::*;
        use ResourceType::*;
        assert!(acl(Topic, "orders", Literal).covers(Topic, "orders"));
        assert!(!acl(Topic, "orders", Literal).covers(Topic, "orders2"));
        assert!(!acl(Topic, "orders", Literal).covers(Group, "orders"));
        assert!(acl(Topic, "*", Literal).covers(Topic, "anything"));
        assert!(acl(Topic, "ord", Prefixed).covers(Topic, "orders"));
        assert!(acl(Topic, "ord", Prefixed).covers(Topic, "ord"));
        assert!(!acl(Topic, "ord", Prefixed).covers(Topic, "or"));
        // A prefixed `*` is a prefix like any other, not a wildcard.
        assert!(!acl(Topic, "*", Prefixed).covers(Topic, "orders"));
    }

    #[test]
    fn principals_and_hosts_apply_as_kafkas() {
        let mut a = acl(ResourceType::Topic, "t", PatternType::Literal);
        assert!(a.applies_to("User:alice", Some("10.0.0.1")));
        assert!(!a.applies_to("User:bob", Some("10.0.0.1")));
        a.principal = WILDCARD_PRINCIPAL.into();
        assert!(a.applies_to("User:bob", None));
        a.host = "10.0.0.1".into();
        assert!(a.applies_to("User:bob", Some("10.0.0.1")));
        assert!(!a.applies_to("User:bob", Some("10.0.0.2")));
        assert!(!a.applies_to("User:bob", None));
    }

    #[test]
    fn new_acls_are_checked_as_kafka_checks_them() {
        let ok = Acl::from_wire(2, "t", 3, "User:a", "*", 3, 3).unwrap();
        assert_eq!(ok.operation, Operation::Read);
        assert_eq!(
            Acl::from_wire(1, "t", 3, "User:a", "*", 3, 3),
            Err(AclInvalid::Code("resource type"))
        );
        assert_eq!(
            Acl::from_wire(2, "t", 2, "User:a", "*", 3, 3),
            Err(AclInvalid::Code("pattern type"))
        );
        assert_eq!(
            Acl::from_wire(2, "t", 1, "User:a", "*", 3, 3),
            Err(AclInvalid::Code("pattern type"))
        );
        assert_eq!(
            Acl::from_wire(2, "t", 3, "User:a", "*", 1, 3),
            Err(AclInvalid::Code("operation"))
        );
        assert_eq!(
            Acl::from_wire(2, "t", 3, "User:a", "*", 3, 1),
            Err(AclInvalid::Code("permission type"))
        );
        assert!(matches!(
            Acl::from_wire(2, "t", 3, "alice", "*", 3, 3),
            Err(AclInvalid::Principal(_))
        ));
        assert_eq!(
            Acl::from_wire(4, "c", 3, "User:a", "*", 7, 3),
            Err(AclInvalid::ClusterName)
        );
        assert!(Acl::from_wire(4, CLUSTER_NAME, 3, "User:a", "*", 7, 3).is_ok());
    }

    #[test]
    fn filters_match_as_kafkas() {
        use PatternType::*;
        use ResourceType::*;
        let lit = acl(Topic, "orders", Literal);
        let star = acl(Topic, "*", Literal);
        let pre = acl(Topic, "ord", Prefixed);
        let f = |name: Option<&str>, pattern: i8| {
            AclFilter::from_wire(2, name, pattern, None, None, 1, 1).unwrap()
        };
        // ANY with a name: exactly that name, either pattern type.
        assert!(f(Some("orders"), 1).matches(&lit));
        assert!(!f(Some("orders"), 1).matches(&star));
        assert!(!f(Some("orders"), 1).matches(&pre));
        // MATCH: what applies to a topic of that name.
        for a in [&lit, &star, &pre] {
            assert!(f(Some("orders"), 2).matches(a), "{a:?}");
        }
        assert!(!f(Some("other"), 2).matches(&pre));
        // One pattern type.
        assert!(f(None, 4).matches(&pre));
        assert!(!f(None, 4).matches(&lit));
        assert!(!f(Some("ord"), 3).matches(&pre));
        // Everything.
        let all = AclFilter::from_wire(1, None, 1, None, None, 1, 1).unwrap();
        assert!(all.matches(&lit) && all.matches(&acl(Group, "g", Literal)));
        // Entry fields.
        let by_principal = AclFilter::from_wire(1, None, 1, Some("User:bob"), None, 1, 1).unwrap();
        assert!(!by_principal.matches(&lit));
        let by_op = AclFilter::from_wire(1, None, 1, None, Some("*"), 3, 3).unwrap();
        assert!(by_op.matches(&lit));
        assert!(AclFilter::from_wire(0, None, 1, None, None, 1, 1).is_err());
    }
}
