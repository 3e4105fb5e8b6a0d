//! The authorizer's decisions against a table of cases of Kafka's documented semantics
//! (`StandardAuthorizer`, KIP-290's prefixed ACLs, KIP-679's `authorizeByResourceType`), and
//! the durability of the ACLs.

use std::net::IpAddr;
use std::sync::Arc;

use super::*;
use crate::security::acl::{CLUSTER_NAME, PatternFilter};

use Operation as O;
use PatternType::{Literal as L, Prefixed as P};
use Permission::{Allow as A, Deny as D};
use ResourceType as R;

fn acl(
    kind: R,
    name: &str,
    pattern: PatternType,
    principal: &str,
    host: &str,
    op: O,
    perm: Permission,
) -> Acl {
    Acl {
        resource_type: kind,
        resource_name: name.into(),
        pattern_type: pattern,
        principal: principal.into(),
        host: host.into(),
        operation: op,
        permission: perm,
    }
}

fn authorizer(
    acls: &[Acl],
    super_users: &str,
    allow_if_none: bool,
) -> (tempfile::TempDir, Authorizer) {
    let dir = tempfile::tempdir().unwrap();
    let a = Authorizer::open(
        AuthorizerConfig {
            enabled: true,
            super_users: AuthorizerConfig::parse_super_users(super_users).unwrap(),
            allow_everyone_if_no_acl_found: allow_if_none,
        },
        dir.path(),
        Arc::new(weir_storage::RealFs),
    )
    .unwrap();
    a.create(acls).unwrap();
    (dir, a)
}

fn ip(s: &str) -> Option<IpAddr> {
    Some(s.parse().unwrap())
}

/// One case: the ACLs, the settings, the request, the expected decision.
struct Case {
    why: &'static str,
    acls: Vec<Acl>,
    super_users: &'static str,
    allow_if_none: bool,
    user: &'static str,
    host: &'static str,
    op: O,
    kind: R,
    name: &'static str,
    allowed: bool,
}

fn case(
    why: &'static str,
    acls: Vec<Acl>,
    user: &'static str,
    op: O,
    kind: R,
    name: &'static str,
    allowed: bool,
) -> Case {
    Case {
        why,
        acls,
        super_users: "",
        allow_if_none: false,
        user,
        host: "10.0.0.1",
        op,
        kind,
        name,
        allowed,
    }
}

#[test]
fn decisions_follow_kafkas_table() {
    let alice_read = acl(R::Topic, "orders", L, "User:alice", "*", O::Read, A);
    let cases = vec![
        case(
            "no ACL, allow_everyone_if_no_acl_found off",
            vec![],
            "alice",
            O::Read,
            R::Topic,
            "orders",
            false,
        ),
        Case {
            allow_if_none: true,
            ..case(
                "no ACL, allow_everyone_if_no_acl_found on",
                vec![],
                "alice",
                O::Read,
                R::Topic,
                "orders",
                true,
            )
        },
        Case {
            allow_if_none: true,
            ..case(
                "an ACL for someone else covers the resource: no longer open",
                vec![acl(R::Topic, "orders", L, "User:bob", "*", O::Read, A)],
                "alice",
                O::Read,
                R::Topic,
                "orders",
                false,
            )
        },
        Case {
            allow_if_none: true,
            ..case(
                "ACLs on another resource leave this one open",
                vec![acl(R::Topic, "other", L, "User:bob", "*", O::Read, A)],
                "alice",
                O::Read,
                R::Topic,
                "orders",
                true,
            )
        },
        case(
            "a literal ALLOW",
            vec![alice_read.clone()],
            "alice",
            O::Read,
            R::Topic,
            "orders",
            true,
        ),
        case(
            "another user",
            vec![alice_read.clone()],
            "bob",
            O::Read,
            R::Topic,
            "orders",
            false,
        ),
        case(
            "another operation",
            vec![alice_read.clone()],
            "alice",
            O::Write,
            R::Topic,
            "orders",
            false,
        ),
        case(
            "another resource type, same name",
            vec![alice_read.clone()],
            "alice",
            O::Read,
            R::Group,
            "orders",
            false,
        ),
        case(
            "READ implies DESCRIBE",
            vec![alice_read.clone()],
            "alice",
            O::Describe,
            R::Topic,
            "orders",
            true,
        ),
        case(
            "WRITE implies DESCRIBE",
            vec![acl(R::Topic, "orders", L, "User:alice", "*", O::Write, A)],
            "alice",
            O::Describe,
            R::Topic,
            "orders",
            true,
        ),
        case(
            "DELETE implies DESCRIBE",
            vec![acl(R::Topic, "orders", L, "User:alice", "*", O::Delete, A)],
            "alice",
            O::Describe,
            R::Topic,
            "orders",
            true,
        ),
        case(
            "ALTER implies DESCRIBE",
            vec![acl(R::Topic, "orders", L, "User:alice", "*", O::Alter, A)],
            "alice",
            O::Describe,
            R::Topic,
            "orders",
            true,
        ),
        case(
            "CREATE does not imply DESCRIBE",
            vec![acl(R::Topic, "orders", L, "User:alice", "*", O::Create, A)],
            "alice",
            O::Describe,
            R::Topic,
            "orders",
            false,
        ),
        case(
            "ALTER_CONFIGS implies DESCRIBE_CONFIGS",
            vec![acl(
                R::Topic,
                "orders",
                L,
                "User:alice",
                "*",
                O::AlterConfigs,
                A,
            )],
            "alice",
            O::DescribeConfigs,
            R::Topic,
            "orders",
            true,
        ),
        case(
            "DESCRIBE_CONFIGS does not imply ALTER_CONFIGS",
            vec![acl(
                R::Topic,
                "orders",
                L,
                "User:alice",
                "*",
                O::DescribeConfigs,
                A,
            )],
            "alice",
            O::AlterConfigs,
            R::Topic,
            "orders",
            false,
        ),
        case(
            "DESCRIBE does not imply READ",
            vec![acl(
                R::Topic,
                "orders",
                L,
                "User:alice",
                "*",
                O::Describe,
                A,
            )],
            "alice",
            O::Read,
            R::Topic,
            "orders",
            false,
        ),
        case(
            "ALL allows any operation",
            vec![acl(R::Topic, "orders", L, "User:alice", "*", O::All, A)],
            "alice",
            O::AlterConfigs,
            R::Topic,
            "orders",
            true,
        ),
        case(
            "the wildcard principal",
            vec![acl(R::Topic, "orders", L, "User:*", "*", O::Read, A)],
            "bob",
            O::Read,
            R::Topic,
            "orders",
            true,
        ),
        case(
            "the wildcard principal covers ANONYMOUS",
            vec![acl(R::Topic, "orders", L, "User:*", "*", O::Read, A)],
            "ANONYMOUS",
            O::Read,
            R::Topic,
            "orders",
            true,
        ),
        case(
            "the wildcard resource",
            vec![acl(R::Topic, "*", L, "User:alice", "*", O::Read, A)],
            "alice",
            O::Read,
            R::Topic,
            "anything",
            true,
        ),
        case(
            "a prefixed ALLOW",
            vec![acl(R::Topic, "ord", P, "User:alice", "*", O::Read, A)],
            "alice",
            O::Read,
            R::Topic,
            "orders",
            true,
        ),
        case(
            "a prefix that does not match",
            vec![acl(R::Topic, "ord", P, "User:alice", "*", O::Read, A)],
            "alice",
            O::Read,
            R::Topic,
            "or",
            false,
        ),
        case(
            "DENY wins over ALLOW",
            vec![
                alice_read.clone(),
                acl(R::Topic, "orders", L, "User:alice", "*", O::Read, D),
            ],
            "alice",
            O::Read,
            R::Topic,
            "orders",
            false,
        ),
        case(
            "a wildcard-principal DENY wins over a user's ALLOW",
            vec![
                alice_read.clone(),
                acl(R::Topic, "orders", L, "User:*", "*", O::Read, D),
            ],
            "alice",
            O::Read,
            R::Topic,
            "orders",
            false,
        ),
        case(
            "a prefixed DENY wins over a literal ALLOW",
            vec![
                alice_read.clone(),
                acl(R::Topic, "o", P, "User:alice", "*", O::Read, D),
            ],
            "alice",
            O::Read,
            R::Topic,
            "orders",
            false,
        ),
        case(
            "a wildcard-resource DENY wins",
            vec![
                alice_read.clone(),
                acl(R::Topic, "*", L, "User:alice", "*", O::All, D),
            ],
            "alice",
            O::Read,
            R::Topic,
            "orders",
            false,
        ),
        case(
            "DENY ALL denies everything",
            vec![
                acl(R::Topic, "orders", L, "User:alice", "*", O::All, A),
                acl(R::Topic, "orders", L, "User:alice", "*", O::All, D),
            ],
            "alice",
            O::Describe,
            R::Topic,
            "orders",
            false,
        ),
        case(
            "a DENY of DESCRIBE leaves READ",
            vec![
                alice_read.clone(),
                acl(R::Topic, "orders", L, "User:alice", "*", O::Describe, D),
            ],
            "alice",
            O::Read,
            R::Topic,
            "orders",
            true,
        ),
        case(
            "a DENY of DESCRIBE denies the implied DESCRIBE",
            vec![
                alice_read.clone(),
                acl(R::Topic, "orders", L, "User:alice", "*", O::Describe, D),
            ],
            "alice",
            O::Describe,
            R::Topic,
            "orders",
            false,
        ),
        case(
            "a DENY of READ leaves the implied DESCRIBE",
            vec![
                acl(R::Topic, "orders", L, "User:alice", "*", O::Write, A),
                acl(R::Topic, "orders", L, "User:alice", "*", O::Read, D),
            ],
            "alice",
            O::Describe,
            R::Topic,
            "orders",
            true,
        ),
        case(
            "a DENY for someone else",
            vec![
                alice_read.clone(),
                acl(R::Topic, "orders", L, "User:bob", "*", O::Read, D),
            ],
            "alice",
            O::Read,
            R::Topic,
            "orders",
            true,
        ),
        case(
            "a host-specific ALLOW from that host",
            vec![acl(
                R::Topic,
                "orders",
                L,
                "User:alice",
                "10.0.0.1",
                O::Read,
                A,
            )],
            "alice",
            O::Read,
            R::Topic,
            "orders",
            true,
        ),
        Case {
            host: "10.0.0.2",
            ..case(
                "a host-specific ALLOW from another host",
                vec![acl(
                    R::Topic,
                    "orders",
                    L,
                    "User:alice",
                    "10.0.0.1",
                    O::Read,
                    A,
                )],
                "alice",
                O::Read,
                R::Topic,
                "orders",
                false,
            )
        },
        case(
            "a host-specific DENY from that host",
            vec![
                alice_read.clone(),
                acl(R::Topic, "orders", L, "User:alice", "10.0.0.1", O::Read, D),
            ],
            "alice",
            O::Read,
            R::Topic,
            "orders",
            false,
        ),
        Case {
            host: "10.0.0.2",
            ..case(
                "a host-specific DENY from another host",
                vec![
                    alice_read.clone(),
                    acl(R::Topic, "orders", L, "User:alice", "10.0.0.1", O::Read, D),
                ],
                "alice",
                O::Read,
                R::Topic,
                "orders",
                true,
            )
        },
        Case {
            super_users: "User:admin; User:ops",
            ..case(
                "a super user despite a DENY",
                vec![acl(R::Topic, "orders", L, "User:ops", "*", O::All, D)],
                "ops",
                O::Write,
                R::Topic,
                "orders",
                true,
            )
        },
        Case {
            super_users: "User:admin",
            ..case(
                "not a super user",
                vec![],
                "ops",
                O::Write,
                R::Topic,
                "orders",
                false,
            )
        },
        case(
            "CLUSTER",
            vec![acl(
                R::Cluster,
                CLUSTER_NAME,
                L,
                "User:alice",
                "*",
                O::Create,
                A,
            )],
            "alice",
            O::Create,
            R::Cluster,
            CLUSTER_NAME,
            true,
        ),
        case(
            "TRANSACTIONAL_ID prefixed",
            vec![acl(
                R::TransactionalId,
                "app-",
                P,
                "User:alice",
                "*",
                O::Write,
                A,
            )],
            "alice",
            O::Write,
            R::TransactionalId,
            "app-1",
            true,
        ),
        case(
            "a group ACL is not a topic ACL",
            vec![acl(R::Group, "g", L, "User:alice", "*", O::Read, A)],
            "alice",
            O::Read,
            R::Topic,
            "g",
            false,
        ),
    ];
    for c in cases {
        let (_dir, a) = authorizer(&c.acls, c.super_users, c.allow_if_none);
        let got = a.authorize(&Principal::user(c.user), ip(c.host), c.op, c.kind, c.name);
        assert_eq!(got, c.allowed, "{}", c.why);
    }
}

#[test]
fn a_disabled_authorizer_allows_everything() {
    let dir = tempfile::tempdir().unwrap();
    let a = Authorizer::open(
        AuthorizerConfig::default(),
        dir.path(),
        Arc::new(weir_storage::RealFs),
    )
    .unwrap();
    a.create(&[acl(R::Topic, "*", L, "User:*", "*", O::All, D)])
        .unwrap();
    assert!(a.authorize(&Principal::anonymous(), None, O::Write, R::Topic, "t"));
    assert!(a.authorize_any(&Principal::anonymous(), None, O::Write, R::Topic));
}

#[test]
fn by_resource_type_follows_kip_679() {
    let alice = Principal::user("alice");
    let any = |acls: &[Acl], allow_if_none: bool| {
        let (_dir, a) = authorizer(acls, "", allow_if_none);
        a.authorize_any(&alice, ip("10.0.0.1"), O::Write, R::Topic)
    };
    assert!(!any(&[], false));
    assert!(any(&[], true));
    assert!(any(
        &[acl(R::Topic, "t", L, "User:alice", "*", O::Write, A)],
        false
    ));
    assert!(any(
        &[acl(R::Topic, "t", P, "User:*", "*", O::All, A)],
        false
    ));
    assert!(!any(
        &[acl(R::Topic, "t", L, "User:alice", "*", O::Read, A)],
        false
    ));
    assert!(!any(
        &[acl(R::Group, "t", L, "User:alice", "*", O::Write, A)],
        false
    ));
    // An allow cancelled by a deny on the same name, a covering prefix or the wildcard.
    let allow = acl(R::Topic, "topic-a", L, "User:alice", "*", O::Write, A);
    assert!(!any(
        &[
            allow.clone(),
            acl(R::Topic, "topic-a", L, "User:alice", "*", O::Write, D)
        ],
        false
    ));
    assert!(!any(
        &[
            allow.clone(),
            acl(R::Topic, "topic", P, "User:alice", "*", O::Write, D)
        ],
        false
    ));
    assert!(!any(
        &[
            allow.clone(),
            acl(R::Topic, "*", L, "User:*", "*", O::All, D)
        ],
        false
    ));
    // A deny of another name leaves it.
    assert!(any(
        &[
            allow.clone(),
            acl(R::Topic, "topic-b", L, "User:alice", "*", O::Write, D)
        ],
        false
    ));
    // A literal deny does not cancel a prefixed allow.
    assert!(any(
        &[
            acl(R::Topic, "topic", P, "User:alice", "*", O::Write, A),
            acl(R::Topic, "topic", L, "User:alice", "*", O::Write, D)
        ],
        false
    ));
    // Someone else's ACLs on topics close the allow-if-none door.
    assert!(!any(
        &[acl(R::Topic, "t", L, "User:bob", "*", O::Write, A)],
        true
    ));
}

#[test]
fn acls_are_durable_and_deleted_by_filter() {
    let dir = tempfile::tempdir().unwrap();
    let fs: Arc<dyn weir_storage::FileSystem> = Arc::new(weir_storage::RealFs);
    let config = AuthorizerConfig {
        enabled: true,
        ..AuthorizerConfig::default()
    };
    let a = Authorizer::open(config.clone(), dir.path(), Arc::clone(&fs)).unwrap();
    let read = acl(R::Topic, "orders", L, "User:alice", "*", O::Read, A);
    let group = acl(R::Group, "g", P, "User:alice", "*", O::Read, A);
    a.create(&[read.clone(), group.clone(), read.clone()])
        .unwrap();
    let again = Authorizer::open(config.clone(), dir.path(), Arc::clone(&fs)).unwrap();
    let everything = AclFilter::from_wire(1, None, 1, None, None, 1, 1).unwrap();
    assert_eq!(again.describe(&everything).len(), 2);
    assert!(again.authorize(&Principal::user("alice"), None, O::Read, R::Topic, "orders"));
    let topics = AclFilter {
        resource_type: Some(R::Topic),
        pattern: PatternFilter::Any,
        ..everything.clone()
    };
    let removed = again.delete(&[topics.clone(), topics]).unwrap();
    assert_eq!(removed, vec![vec![read.clone()], vec![read]]);
    assert!(!again.authorize(&Principal::user("alice"), None, O::Read, R::Topic, "orders"));
    let third = Authorizer::open(config, dir.path(), fs).unwrap();
    assert_eq!(third.describe(&everything), vec![group]);
}

#[test]
fn a_corrupt_file_is_a_typed_error_and_super_users_parse() {
    let dir = tempfile::tempdir().unwrap();
    let meta = dir.path().join(META_DIR_NAME);
    std::fs::create_dir_all(&meta).unwrap();
    std::fs::write(meta.join(ACLS_FILE_NAME), b"{\"v\":9,\"acls\":[]}").unwrap();
    let e = Authorizer::open(
        AuthorizerConfig::default(),
        dir.path(),
        Arc::new(weir_storage::RealFs),
    )
    .unwrap_err();
    assert!(matches!(e, AclStoreError::Corrupt { .. }), "{e}");
    assert_eq!(
        AuthorizerConfig::parse_super_users(" User:admin;User:ops ;").unwrap(),
        vec!["User:admin".to_string(), "User:ops".to_string()]
    );
    assert!(AuthorizerConfig::parse_super_users("admin").is_err());
}
