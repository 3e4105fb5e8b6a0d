//! Client quotas over DescribeClientQuotas and AlterClientQuotas (KIP-546): entities are
//! (entity type, name) pairs, the name `None` for the entity type's default.

use weir_protocol::messages::alter_client_quotas::{EntityData, EntryData, OpData};
use weir_protocol::messages::describe_client_quotas::ComponentData;
use weir_protocol::messages::{AlterClientQuotasRequest, DescribeClientQuotasRequest};
use weir_protocol::{ApiKey, RequestBody, ResponseBody};

use crate::client::Client;
use crate::error::ClientError;

/// Kafka's entity types.
pub mod entity_types {
    /// A user principal's name.
    pub const USER: &str = "user";
    /// A client id.
    pub const CLIENT_ID: &str = "client-id";
    /// A client's IP address (connection_creation_rate only).
    pub const IP: &str = "ip";
}

/// An entity: (entity type, name) pairs, `None` naming the default of that type.
pub type QuotaEntity = Vec<(String, Option<String>)>;

/// One change of a key: `Some(value)` sets it, `None` removes it.
pub type QuotaOp = (String, Option<f64>);

/// How a [`QuotaFilter`] component matches names (Kafka's match types).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QuotaMatch {
    /// This name exactly.
    Exact(String),
    /// The entity type's default.
    Default,
    /// Any name, the default included.
    Any,
}

/// Which entities to describe: every component must match; `strict` leaves out entities of
/// further entity types.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QuotaFilter {
    /// (entity type, match) per component; empty matches every entity when not strict.
    pub components: Vec<(String, QuotaMatch)>,
    /// Only entities with exactly the types named.
    pub strict: bool,
}

/// An entity's quotas as described: the entity and its (key, value) pairs.
pub type QuotaEntry = (QuotaEntity, Vec<(String, f64)>);

impl Client {
    /// Applies `(entity, ops)` changes in one request; one result per entry, in order.
    pub async fn alter_client_quotas(
        &self,
        changes: &[(QuotaEntity, Vec<QuotaOp>)],
        validate_only: bool,
    ) -> Result<Vec<Result<(), ClientError>>, ClientError> {
        let req = AlterClientQuotasRequest {
            entries: changes
                .iter()
                .map(|(entity, ops)| EntryData {
                    entity: entity
                        .iter()
                        .map(|(t, n)| EntityData {
                            entity_type: t.clone(),
                            entity_name: n.clone(),
                            ..Default::default()
                        })
                        .collect(),
                    ops: ops
                        .iter()
                        .map(|(key, value)| OpData {
                            key: key.clone(),
                            value: value.unwrap_or(0.0),
                            remove: value.is_none(),
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                })
                .collect(),
            validate_only,
            ..Default::default()
        };
        let body = self
            .call_any(ApiKey::AlterClientQuotas, |_| {
                RequestBody::AlterClientQuotas(req.clone())
            })
            .await?;
        let ResponseBody::AlterClientQuotas(r) = body else {
            return Err(ClientError::UnexpectedResponse {
                api: "AlterClientQuotas",
            });
        };
        if r.entries.len() != changes.len() {
            return Err(ClientError::UnexpectedResponse {
                api: "AlterClientQuotas",
            });
        }
        Ok(r.entries
            .iter()
            .map(|e| {
                ClientError::check(e.error_code, e.error_message.as_deref(), || {
                    let names: Vec<String> = e
                        .entity
                        .iter()
                        .map(|p| entity_part(&p.entity_type, p.entity_name.as_deref()))
                        .collect();
                    format!("alter client quotas of {}", names.join(","))
                })
            })
            .collect())
    }

    /// The quotas of the entities `filter` matches.
    pub async fn describe_client_quotas(
        &self,
        filter: &QuotaFilter,
    ) -> Result<Vec<QuotaEntry>, ClientError> {
        let req = DescribeClientQuotasRequest {
            components: filter
                .components
                .iter()
                .map(|(t, m)| {
                    let (match_type, r#match) = match m {
                        QuotaMatch::Exact(name) => (0, Some(name.clone())),
                        QuotaMatch::Default => (1, None),
                        QuotaMatch::Any => (2, None),
                    };
                    ComponentData {
                        entity_type: t.clone(),
                        match_type,
                        r#match,
                        ..Default::default()
                    }
                })
                .collect(),
            strict: filter.strict,
            ..Default::default()
        };
        let body = self
            .call_any(ApiKey::DescribeClientQuotas, |_| {
                RequestBody::DescribeClientQuotas(req.clone())
            })
            .await?;
        let ResponseBody::DescribeClientQuotas(r) = body else {
            return Err(ClientError::UnexpectedResponse {
                api: "DescribeClientQuotas",
            });
        };
        ClientError::check(r.error_code, r.error_message.as_deref(), || {
            "describe client quotas".to_string()
        })?;
        Ok(r.entries
            .unwrap_or_default()
            .into_iter()
            .map(|e| {
                let entity = e
                    .entity
                    .into_iter()
                    .map(|p| (p.entity_type, p.entity_name))
                    .collect();
                let values = e.values.into_iter().map(|v| (v.key, v.value)).collect();
                (entity, values)
            })
            .collect())
    }
}

/// `type=name`, or `type=<default>` for the default entity.
pub fn entity_part(entity_type: &str, name: Option<&str>) -> String {
    format!("{entity_type}={}", name.unwrap_or("<default>"))
}
