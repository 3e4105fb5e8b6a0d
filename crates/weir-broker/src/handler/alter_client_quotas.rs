//! AlterClientQuotas (key 49, v0–1): ALTER_CONFIGS on the cluster, else every entry
//! CLUSTER_AUTHORIZATION_FAILED. Each entry is checked as Kafka's `ClientQuotaControlManager`
//! checks it, each failure INVALID_REQUEST with Kafka's message: an empty entity, a repeated
//! or unknown entity type, an empty name, a repeated key, an unknown key, a value not above 0,
//! a fractional or too large byte rate. Removing a key the entity lacks is not an error. The
//! entries that pass are written together, durably, before the answer (`validate_only`: not
//! written). An `ip` entity (an address, or `<default>`) stands alone and takes only
//! `connection_creation_rate`, a whole number up to `i32::MAX` (Kafka's INT key).
//! Deviations: `controller_mutation_rate` is refused (weir has no controller-mutation quota),
//! an IP entity must be an address (Kafka also resolves a host name), and a value that is not
//! a finite number is refused.

use tracing::warn;
use weir_protocol::ErrorCode;
use weir_protocol::messages::alter_client_quotas::{
    AlterClientQuotasRequest, AlterClientQuotasResponse, AlterClientQuotasResponseEntryData,
    EntityData, EntryData,
};

use crate::quota::store::{
    CLIENT_ID, CONNECTION_CREATION_RATE, Entity, EntityName, IP, Ops, QUOTA_ENTITIES_MAX, USER,
};
use crate::quota::{ClientQuotas, QuotaKind};
use crate::security::acl::Operation;
use crate::security::authorizer::Caller;

/// Kafka's quota keys weir does not enforce, refused rather than stored unused.
const UNSUPPORTED_KEYS: &[&str] = &["controller_mutation_rate"];

pub(crate) fn handle(
    caller: &Caller<'_>,
    quotas: &ClientQuotas,
    req: AlterClientQuotasRequest,
    _version: i16,
) -> AlterClientQuotasResponse {
    let answer =
        |e: &EntryData, code: ErrorCode, msg: Option<String>| AlterClientQuotasResponseEntryData {
            error_code: code.code(),
            error_message: msg,
            entity: e
                .entity
                .iter()
                .map(
                    |p| weir_protocol::messages::alter_client_quotas::EntityData {
                        entity_type: p.entity_type.clone(),
                        entity_name: p.entity_name.clone(),
                        ..Default::default()
                    },
                )
                .collect(),
            ..Default::default()
        };
    if !caller.may_cluster(Operation::AlterConfigs) {
        return AlterClientQuotasResponse {
            entries: req
                .entries
                .iter()
                .map(|e| answer(e, ErrorCode::CLUSTER_AUTHORIZATION_FAILED, None))
                .collect(),
            ..Default::default()
        };
    }
    let checked: Vec<Result<(Entity, Ops), String>> = req.entries.iter().map(check).collect();
    let valid: Vec<(Entity, Ops)> = checked
        .iter()
        .filter_map(|c| c.as_ref().ok().cloned())
        .collect();
    let written: Result<(), (ErrorCode, String)> = if req.validate_only || valid.is_empty() {
        Ok(())
    } else {
        match quotas.store().alter(&valid) {
            Ok(true) => Ok(()),
            Ok(false) => Err((
                ErrorCode::POLICY_VIOLATION,
                format!("the broker holds {QUOTA_ENTITIES_MAX} client-quota entities at most"),
            )),
            Err(e) => {
                warn!(error = %e, "client quotas not written");
                Err((
                    ErrorCode::UNKNOWN_SERVER_ERROR,
                    "client quotas not written".into(),
                ))
            }
        }
    };
    AlterClientQuotasResponse {
        entries: req
            .entries
            .iter()
            .zip(checked)
            .map(|(e, c)| match (c, &written) {
                (Err(msg), _) => answer(e, ErrorCode::INVALID_REQUEST, Some(msg)),
                (Ok(_), Err((code, msg))) => answer(e, *code, Some(msg.clone())),
                (Ok(_), Ok(())) => answer(e, ErrorCode::NONE, None),
            })
            .collect(),
        ..Default::default()
    }
}

/// One entry checked: its entity and what to do to each key, or Kafka's message.
fn check(e: &EntryData) -> Result<(Entity, Ops), String> {
    let entity = entity(&e.entity)?;
    let mut ops = Ops::new();
    for op in &e.ops {
        if ops.contains_key(&op.key) {
            return Err(format!(
                "Duplicate quota key {} not updating quota for this entity",
                op.key
            ));
        }
        if op.remove {
            ops.insert(op.key.clone(), None);
            continue;
        }
        if entity.ip.is_some() {
            ops.insert(op.key.clone(), Some(ip_value(&op.key, op.value)?));
            continue;
        }
        let Some(kind) = QuotaKind::from_key(&op.key) else {
            if UNSUPPORTED_KEYS.contains(&op.key.as_str()) {
                return Err(format!("weir does not enforce {}", op.key));
            }
            return Err(format!("Invalid configuration key {}", op.key));
        };
        let v = op.value;
        if !v.is_finite() {
            return Err(format!("Quota {} must be a finite number", op.key));
        }
        if v <= 0.0 {
            return Err(format!("Quota {} must be greater than 0", op.key));
        }
        if matches!(kind, QuotaKind::Produce | QuotaKind::Fetch) {
            // Kafka's LONG keys.
            if v > i64::MAX as f64 {
                return Err(format!(
                    "Proposed value for {} is too large for a LONG.",
                    op.key
                ));
            }
            if (v % 1.0).abs() > 1e-6 {
                return Err(format!("{} cannot be a fractional value.", op.key));
            }
        }
        ops.insert(op.key.clone(), Some(v));
    }
    Ok((entity, ops))
}

/// A value of an IP entity: `connection_creation_rate` only, Kafka's INT key.
fn ip_value(key: &str, v: f64) -> Result<f64, String> {
    if key != CONNECTION_CREATION_RATE {
        return Err(format!("Invalid configuration key {key}"));
    }
    if !v.is_finite() || v <= 0.0 {
        return Err(format!("Quota {key} must be greater than 0"));
    }
    if v > f64::from(i32::MAX) {
        return Err(format!("Proposed value for {key} is too large for an INT."));
    }
    if (v % 1.0).abs() > 1e-6 {
        return Err(format!("{key} cannot be a fractional value."));
    }
    Ok(v)
}

fn entity(parts: &[EntityData]) -> Result<Entity, String> {
    if parts.is_empty() {
        return Err("Invalid empty client quota entity".into());
    }
    let mut e = Entity::new(None, None);
    for p in parts {
        let t = p.entity_type.as_str();
        let slot = match t {
            USER => &mut e.user,
            CLIENT_ID => &mut e.client_id,
            IP => &mut e.ip,
            _ => return Err(format!("Unhandled client quota entity type: {t}")),
        };
        if slot.is_some() {
            return Err(format!(
                "Invalid client quota entity, duplicate entity entry {t}"
            ));
        }
        if p.entity_name.as_deref() == Some("") {
            return Err(format!("Empty {t} not supported"));
        }
        if t == IP
            && let Some(ip) = p.entity_name.as_deref()
            && ip.parse::<std::net::IpAddr>().is_err()
        {
            return Err(format!("{ip} is not a valid IP or resolvable host."));
        }
        *slot = Some(EntityName::from_wire(p.entity_name.as_deref()));
    }
    if e.ip.is_some() && (e.user.is_some() || e.client_id.is_some()) {
        return Err(
            "Invalid quota entity combination, IP entity should not be combined with User or ClientId"
                .into(),
        );
    }
    Ok(e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use weir_protocol::messages::alter_client_quotas::OpData;

    fn entry(parts: &[(&str, Option<&str>)], ops: &[(&str, f64, bool)]) -> EntryData {
        EntryData {
            entity: parts
                .iter()
                .map(|(t, n)| EntityData {
                    entity_type: t.to_string(),
                    entity_name: n.map(str::to_string),
                    ..Default::default()
                })
                .collect(),
            ops: ops
                .iter()
                .map(|(k, v, r)| OpData {
                    key: k.to_string(),
                    value: *v,
                    remove: *r,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn entries_are_checked_as_kafka_checks_them() {
        let ok = entry(
            &[(USER, Some("a")), (CLIENT_ID, None)],
            &[
                ("producer_byte_rate", 1024.0, false),
                ("request_percentage", 12.5, false),
            ],
        );
        let (e, ops) = check(&ok).unwrap();
        assert_eq!(
            e,
            Entity::new(
                Some(EntityName::Name("a".into())),
                Some(EntityName::Default)
            )
        );
        assert_eq!(ops.len(), 2);
        let bad = [
            entry(&[], &[]),
            entry(&[(USER, Some("a")), (USER, Some("b"))], &[]),
            entry(&[("group", Some("g"))], &[]),
            entry(&[(USER, Some(""))], &[]),
            entry(&[(IP, Some("not-an-ip"))], &[]),
            entry(&[(IP, None), (USER, None)], &[]),
            entry(&[(IP, None)], &[("producer_byte_rate", 1.0, false)]),
            entry(&[(IP, None)], &[(CONNECTION_CREATION_RATE, 1.5, false)]),
            entry(&[(IP, None)], &[(CONNECTION_CREATION_RATE, 3e9, false)]),
            entry(&[(USER, None)], &[(CONNECTION_CREATION_RATE, 1.0, false)]),
            entry(
                &[(USER, None)],
                &[
                    ("producer_byte_rate", 1.0, false),
                    ("producer_byte_rate", 2.0, false),
                ],
            ),
            entry(&[(USER, None)], &[("no_such_rate", 1.0, false)]),
            entry(&[(USER, None)], &[("producer_byte_rate", 0.0, false)]),
            entry(&[(USER, None)], &[("consumer_byte_rate", 1.5, false)]),
            entry(&[(USER, None)], &[("consumer_byte_rate", 1e300, false)]),
            entry(&[(USER, None)], &[("request_percentage", f64::NAN, false)]),
            entry(&[(USER, None)], &[("controller_mutation_rate", 1.0, false)]),
        ];
        for b in &bad {
            assert!(check(b).is_err(), "{b:?}");
        }
        let (e, _) = check(&entry(
            &[(IP, Some("10.0.0.1"))],
            &[(CONNECTION_CREATION_RATE, 5.0, false)],
        ))
        .unwrap();
        assert_eq!(e, Entity::ip(EntityName::Name("10.0.0.1".into())));
        assert!(
            check(&entry(
                &[(IP, None)],
                &[(CONNECTION_CREATION_RATE, 5.0, false)]
            ))
            .is_ok()
        );
        // A removal is not validated (Kafka skips absent keys).
        assert!(check(&entry(&[(USER, None)], &[("whatever", -1.0, true)])).is_ok());
    }
}
