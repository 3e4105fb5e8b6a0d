//! `weir quota set|list|remove`: client quotas over AlterClientQuotas and
//! DescribeClientQuotas, with entity flags modelled on Kafka's `kafka-configs.sh`
//! (`--user`, `--user-default`, `--client-id`, `--client-id-default`, `--ip`, `--ip-default`).
//! The broker checks the keys and values (an unknown key is its INVALID_REQUEST).

use anyhow::{Context as _, bail};
use serde_json::json;
use weir_client::quotas::{
    QuotaEntity, QuotaEntry, QuotaFilter, QuotaMatch, QuotaOp, entity_part, entity_types,
};

use super::{ConnArgs, block_on, connect};

/// `weir quota ...`
#[derive(Debug, clap::Args)]
pub struct QuotaArgs {
    #[command(flatten)]
    conn: ConnArgs,
    #[command(subcommand)]
    command: QuotaCommand,
}

/// The entity a command names: a user, a client id, both, or an IP address.
#[derive(Debug, Clone, Default, clap::Args)]
struct EntityArgs {
    /// A user principal's name.
    #[arg(long, value_name = "NAME", conflicts_with = "user_default")]
    user: Option<String>,
    /// The default user entity.
    #[arg(long)]
    user_default: bool,
    /// A client id.
    #[arg(long, value_name = "ID", conflicts_with = "client_id_default")]
    client_id: Option<String>,
    /// The default client-id entity.
    #[arg(long)]
    client_id_default: bool,
    /// A client's IP address (takes connection_creation_rate only).
    #[arg(long, value_name = "ADDR", conflicts_with = "ip_default")]
    ip: Option<String>,
    /// The default IP entity.
    #[arg(long)]
    ip_default: bool,
}

impl EntityArgs {
    /// The (entity type, name) pairs named; a default is named `None`.
    fn entity(&self) -> QuotaEntity {
        let mut out = Vec::new();
        let mut part = |t: &str, name: &Option<String>, default: bool| {
            if name.is_some() || default {
                out.push((t.to_string(), name.clone()));
            }
        };
        part(entity_types::USER, &self.user, self.user_default);
        part(
            entity_types::CLIENT_ID,
            &self.client_id,
            self.client_id_default,
        );
        part(entity_types::IP, &self.ip, self.ip_default);
        out
    }

    fn required(&self) -> anyhow::Result<QuotaEntity> {
        let entity = self.entity();
        if entity.is_empty() {
            bail!(
                "name an entity: --user, --user-default, --client-id, --client-id-default, \
                 --ip or --ip-default"
            );
        }
        Ok(entity)
    }
}

#[derive(Debug, clap::Subcommand)]
enum QuotaCommand {
    /// Set quotas of an entity: `--add producer_byte_rate=1048576,consumer_byte_rate=2097152`
    /// (keys: producer_byte_rate, consumer_byte_rate, request_percentage,
    /// connection_creation_rate).
    Set {
        #[command(flatten)]
        entity: EntityArgs,
        /// `key=value` pairs, comma-separated (repeatable).
        #[arg(long, value_name = "KEY=VALUE,...", required = true)]
        add: Vec<String>,
    },
    /// List quotas (of the entity named, else of every entity), one line per entity and key.
    List {
        #[command(flatten)]
        entity: EntityArgs,
        /// One JSON array instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Remove quota keys of an entity.
    Remove {
        #[command(flatten)]
        entity: EntityArgs,
        /// Keys to remove, comma-separated (repeatable).
        #[arg(long = "key", value_name = "KEY,...", required = true)]
        keys: Vec<String>,
    },
}

/// `a=1,b=2` (repeatable) → (key, value) pairs.
fn parse_adds(adds: &[String]) -> anyhow::Result<Vec<QuotaOp>> {
    let mut out = Vec::new();
    for pair in adds.iter().flat_map(|a| a.split(',')) {
        let pair = pair.trim();
        if pair.is_empty() {
            continue;
        }
        let (key, value) = pair
            .split_once('=')
            .with_context(|| format!("--add {pair:?}: expected key=value"))?;
        let value: f64 = value
            .trim()
            .parse()
            .with_context(|| format!("--add {pair:?}: {value:?} is not a number"))?;
        out.push((key.trim().to_string(), Some(value)));
    }
    if out.is_empty() {
        bail!("--add names no key=value");
    }
    Ok(out)
}

fn parse_keys(keys: &[String]) -> Vec<QuotaOp> {
    keys.iter()
        .flat_map(|k| k.split(','))
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(|k| (k.to_string(), None))
        .collect()
}

/// `user=alice,client-id=<default>`.
fn entity_text(entity: &QuotaEntity) -> String {
    let parts: Vec<String> = entity
        .iter()
        .map(|(t, n)| entity_part(t, n.as_deref()))
        .collect();
    parts.join(",")
}

/// Lines `ENTITY KEY=VALUE`, entities and keys sorted.
fn lines(entries: &[QuotaEntry]) -> Vec<(String, &QuotaEntity, &str, f64)> {
    let mut out: Vec<_> = entries
        .iter()
        .flat_map(|(entity, values)| {
            values
                .iter()
                .map(move |(k, v)| (entity_text(entity), entity, k.as_str(), *v))
        })
        .collect();
    out.sort_by(|a, b| (&a.0, a.2).cmp(&(&b.0, b.2)));
    out
}

async fn alter(conn: &ConnArgs, entity: QuotaEntity, ops: Vec<QuotaOp>) -> anyhow::Result<()> {
    let client = connect(conn).await?;
    let text = entity_text(&entity);
    let mut results = client
        .alter_client_quotas(&[(entity, ops.clone())], false)
        .await?;
    results.pop().context("no answer for the entity")??;
    for (key, value) in &ops {
        match value {
            Some(v) => println!("set {text} {key}={v}"),
            None => println!("removed {text} {key}"),
        }
    }
    Ok(())
}

/// Runs `weir quota`.
pub fn run(args: QuotaArgs) -> anyhow::Result<()> {
    block_on(async move {
        match args.command {
            QuotaCommand::Set { entity, add } => {
                alter(&args.conn, entity.required()?, parse_adds(&add)?).await
            }
            QuotaCommand::Remove { entity, keys } => {
                let ops = parse_keys(&keys);
                if ops.is_empty() {
                    bail!("--key names no key");
                }
                alter(&args.conn, entity.required()?, ops).await
            }
            QuotaCommand::List { entity, json } => {
                let named = entity.entity();
                let filter = QuotaFilter {
                    strict: !named.is_empty(),
                    components: named
                        .into_iter()
                        .map(|(t, n)| (t, n.map_or(QuotaMatch::Default, QuotaMatch::Exact)))
                        .collect(),
                };
                let client = connect(&args.conn).await?;
                let entries = client.describe_client_quotas(&filter).await?;
                let lines = lines(&entries);
                if json {
                    let v: Vec<_> = lines
                        .iter()
                        .map(|(_, entity, key, value)| {
                            let entity: serde_json::Map<String, serde_json::Value> =
                                entity.iter().map(|(t, n)| (t.clone(), json!(n))).collect();
                            json!({"entity": entity, "key": key, "value": value})
                        })
                        .collect();
                    println!("{}", serde_json::Value::Array(v));
                } else {
                    for (text, _, key, value) in &lines {
                        println!("{text} {key}={value}");
                    }
                }
                Ok(())
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adds_and_keys_are_read_as_kafka_configs_writes_them() {
        let ops = parse_adds(&[
            "producer_byte_rate=1048576, consumer_byte_rate=2e6".into(),
            "request_percentage=12.5".into(),
        ])
        .unwrap();
        assert_eq!(
            ops,
            vec![
                ("producer_byte_rate".into(), Some(1048576.0)),
                ("consumer_byte_rate".into(), Some(2e6)),
                ("request_percentage".into(), Some(12.5)),
            ]
        );
        assert!(parse_adds(&["producer_byte_rate".into()]).is_err());
        assert!(parse_adds(&["producer_byte_rate=fast".into()]).is_err());
        assert!(parse_adds(&[",".into()]).is_err());
        assert_eq!(
            parse_keys(&["a,b".into(), "c".into()]),
            vec![("a".into(), None), ("b".into(), None), ("c".into(), None)]
        );
    }

    #[test]
    fn entities_name_defaults_as_none() {
        let e = EntityArgs {
            user: Some("alice".into()),
            client_id_default: true,
            ..Default::default()
        };
        let entity = e.entity();
        assert_eq!(entity_text(&entity), "user=alice,client-id=<default>");
        assert_eq!(entity[1], ("client-id".to_string(), None));
        assert!(EntityArgs::default().required().is_err());
    }
}
