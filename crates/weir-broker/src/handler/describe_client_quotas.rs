//! DescribeClientQuotas (key 48, v0–1): DESCRIBE_CONFIGS on the cluster, else
//! CLUSTER_AUTHORIZATION_FAILED. The filter is Kafka's (`ClientQuotasImage.describe`): each
//! component names an entity type (`user`, `client-id`, `ip`) at most once and matches it
//! exactly (a name), as `<default>` (match type 1, no name) or as any name (type 2); `strict`
//! leaves out entities with other parts. A bad filter is INVALID_REQUEST, an unknown entity
//! type UNSUPPORTED_VERSION, as Kafka answers them.

use std::collections::{BTreeMap, BTreeSet};

use weir_protocol::ErrorCode;
use weir_protocol::messages::describe_client_quotas::{
    DescribeClientQuotasRequest, DescribeClientQuotasResponse, EntityData, EntryData, ValueData,
};

use crate::quota::ClientQuotas;
use crate::quota::store::{CLIENT_ID, Entity, EntityName, IP, USER};
use crate::security::acl::Operation;
use crate::security::authorizer::Caller;

/// Kafka's match types.
const MATCH_TYPE_EXACT: i8 = 0;
const MATCH_TYPE_DEFAULT: i8 = 1;
const MATCH_TYPE_SPECIFIED: i8 = 2;

pub(crate) fn handle(
    caller: &Caller<'_>,
    quotas: &ClientQuotas,
    req: DescribeClientQuotasRequest,
    _version: i16,
) -> DescribeClientQuotasResponse {
    let fail = |code: ErrorCode, msg: Option<String>| DescribeClientQuotasResponse {
        error_code: code.code(),
        error_message: msg,
        entries: None,
        ..Default::default()
    };
    if !caller.may_cluster(Operation::DescribeConfigs) {
        return fail(ErrorCode::CLUSTER_AUTHORIZATION_FAILED, None);
    }
    let filter = match Filter::parse(&req) {
        Ok(f) => f,
        Err((code, msg)) => return fail(code, Some(msg)),
    };
    let entries = quotas
        .store()
        .all()
        .into_iter()
        .filter(|(entity, _)| filter.matches(entity))
        .map(|(entity, values)| EntryData {
            entity: entity_data(&entity),
            values: values
                .into_iter()
                .map(|(key, value)| ValueData {
                    key,
                    value,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        })
        .collect();
    DescribeClientQuotasResponse {
        error_code: ErrorCode::NONE.code(),
        error_message: None,
        entries: Some(entries),
        ..Default::default()
    }
}

/// An entity's parts on the wire, user first.
fn entity_data(e: &Entity) -> Vec<EntityData> {
    let part = |t: &str, n: &EntityName| EntityData {
        entity_type: t.to_string(),
        entity_name: n.wire(),
        ..Default::default()
    };
    e.user
        .iter()
        .map(|u| part(USER, u))
        .chain(e.client_id.iter().map(|c| part(CLIENT_ID, c)))
        .chain(e.ip.iter().map(|i| part(IP, i)))
        .collect()
}

/// A parsed filter: per entity type, an exact name (`None`: `<default>`) or any name.
struct Filter {
    exact: BTreeMap<String, Option<String>>,
    specified: BTreeSet<String>,
    strict: bool,
}

impl Filter {
    fn parse(req: &DescribeClientQuotasRequest) -> Result<Self, (ErrorCode, String)> {
        let invalid = |m: String| (ErrorCode::INVALID_REQUEST, m);
        let mut exact = BTreeMap::new();
        let mut specified = BTreeSet::new();
        for c in &req.components {
            let t = c.entity_type.as_str();
            if t.is_empty() {
                return Err(invalid("Invalid empty entity type.".into()));
            }
            if exact.contains_key(t) || specified.contains(t) {
                return Err(invalid(format!(
                    "Entity type {t} cannot appear more than once in the filter."
                )));
            }
            if ![USER, CLIENT_ID, IP].contains(&t) {
                return Err((
                    ErrorCode::UNSUPPORTED_VERSION,
                    format!("Unsupported entity type {t}"),
                ));
            }
            match (c.match_type, &c.r#match) {
                (MATCH_TYPE_EXACT, Some(m)) => {
                    exact.insert(t.to_string(), Some(m.clone()));
                }
                (MATCH_TYPE_EXACT, None) => {
                    return Err(invalid(
                        "Request specified MATCH_TYPE_EXACT, but set match string to null.".into(),
                    ));
                }
                (MATCH_TYPE_DEFAULT, None) => {
                    exact.insert(t.to_string(), None);
                }
                (MATCH_TYPE_SPECIFIED, None) => {
                    specified.insert(t.to_string());
                }
                (MATCH_TYPE_DEFAULT | MATCH_TYPE_SPECIFIED, Some(_)) => {
                    return Err(invalid(format!(
                        "Request specified match type {}, but also specified a match string.",
                        c.match_type
                    )));
                }
                (other, _) => return Err(invalid(format!("Unknown match type {other}"))),
            }
        }
        let has = |t: &str| exact.contains_key(t) || specified.contains(t);
        if has(IP) && (has(USER) || has(CLIENT_ID)) {
            return Err(invalid(
                "Invalid entity filter component combination. IP filter component should not be used with user or clientId filter component."
                    .into(),
            ));
        }
        Ok(Self {
            exact,
            specified,
            strict: req.strict,
        })
    }

    fn matches(&self, e: &Entity) -> bool {
        let part = |t: &str| match t {
            USER => e.user.as_ref(),
            CLIENT_ID => e.client_id.as_ref(),
            IP => e.ip.as_ref(),
            _ => None,
        };
        let parts = usize::from(e.user.is_some())
            + usize::from(e.client_id.is_some())
            + usize::from(e.ip.is_some());
        if self.strict && parts != self.exact.len() + self.specified.len() {
            return false;
        }
        self.exact
            .iter()
            .all(|(t, want)| part(t).is_some_and(|n| n.wire() == *want))
            && self.specified.iter().all(|t| part(t).is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use weir_protocol::messages::describe_client_quotas::ComponentData;

    fn req(components: &[(&str, i8, Option<&str>)], strict: bool) -> DescribeClientQuotasRequest {
        DescribeClientQuotasRequest {
            components: components
                .iter()
                .map(|(t, m, n)| ComponentData {
                    entity_type: t.to_string(),
                    match_type: *m,
                    r#match: n.map(str::to_string),
                    ..Default::default()
                })
                .collect(),
            strict,
            ..Default::default()
        }
    }

    fn name(s: &str) -> Option<EntityName> {
        Some(EntityName::Name(s.into()))
    }

    #[test]
    fn filters_match_as_kafkas() {
        let alice = Entity::new(name("alice"), None);
        let alice_app = Entity::new(name("alice"), name("app"));
        let default_user = Entity::new(Some(EntityName::Default), None);
        let f = |c: &[(&str, i8, Option<&str>)], strict| Filter::parse(&req(c, strict)).unwrap();
        let exact = f(&[(USER, 0, Some("alice"))], false);
        assert!(exact.matches(&alice) && exact.matches(&alice_app));
        assert!(!exact.matches(&default_user));
        let strict = f(&[(USER, 0, Some("alice"))], true);
        assert!(strict.matches(&alice) && !strict.matches(&alice_app));
        let dflt = f(&[(USER, 1, None)], false);
        assert!(dflt.matches(&default_user) && !dflt.matches(&alice));
        let any_client = f(&[(CLIENT_ID, 2, None)], false);
        assert!(any_client.matches(&alice_app) && !any_client.matches(&alice));
        // No components: everything (not strict) or nothing (strict).
        assert!(f(&[], false).matches(&alice));
        assert!(!f(&[], true).matches(&alice));
    }

    #[test]
    fn bad_filters_get_kafkas_errors() {
        let code = |c: &[(&str, i8, Option<&str>)]| Filter::parse(&req(c, false)).err().unwrap().0;
        assert_eq!(code(&[("", 0, Some("x"))]), ErrorCode::INVALID_REQUEST);
        assert_eq!(code(&[(USER, 0, None)]), ErrorCode::INVALID_REQUEST);
        assert_eq!(code(&[(USER, 1, Some("x"))]), ErrorCode::INVALID_REQUEST);
        assert_eq!(
            code(&[(USER, 2, None), (USER, 1, None)]),
            ErrorCode::INVALID_REQUEST
        );
        assert_eq!(code(&[(USER, 7, None)]), ErrorCode::INVALID_REQUEST);
        assert_eq!(
            code(&[(IP, 2, None), (USER, 2, None)]),
            ErrorCode::INVALID_REQUEST
        );
        assert_eq!(code(&[("topic", 2, None)]), ErrorCode::UNSUPPORTED_VERSION);
    }
}
