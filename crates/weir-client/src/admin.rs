//! Admin operations: create/delete topics, create partitions, describe and incrementally alter
//! configs. Each goes to the controller Metadata names (any broker if none), as Kafka's admin
//! client does. Per-resource errors are returned per resource, not as one `Err`.

use weir_protocol::messages::create_partitions::CreatePartitionsTopic;
use weir_protocol::messages::create_topics::{CreatableTopic, CreatableTopicConfig};
use weir_protocol::messages::describe_configs::DescribeConfigsResource;
use weir_protocol::messages::incremental_alter_configs::{AlterConfigsResource, AlterableConfig};
use weir_protocol::messages::{
    CreatePartitionsRequest, CreateTopicsRequest, DeleteTopicsRequest, DescribeConfigsRequest,
    IncrementalAlterConfigsRequest,
};
use weir_protocol::{ApiKey, RequestBody, ResponseBody};

use crate::client::Client;
use crate::error::ClientError;

/// Kafka's resource type for a topic in config requests.
pub const RESOURCE_TYPE_TOPIC: i8 = 2;
/// Kafka's resource type for a broker in config requests.
pub const RESOURCE_TYPE_BROKER: i8 = 4;

/// A topic to create.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NewTopic {
    /// Its name.
    pub name: String,
    /// Partitions; −1 for the broker's default.
    pub partitions: i32,
    /// Replication factor; −1 for the broker's default.
    pub replication_factor: i16,
    /// Topic configs (`retention.ms` …).
    pub configs: Vec<(String, String)>,
}

/// A change in an IncrementalAlterConfigs request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigOp {
    /// Set a value (operation 0).
    Set(String, String),
    /// Back to the default (operation 1).
    Delete(String),
}

/// One config entry of a resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigEntry {
    /// The config's name.
    pub name: String,
    /// Its value (`None` when sensitive or unset).
    pub value: Option<String>,
    /// Kafka's config source code (1 topic, 4 static broker, 5 default …).
    pub source: i8,
    /// True when the value is the default (source 5).
    pub is_default: bool,
    /// Read-only configs cannot be altered.
    pub read_only: bool,
    /// Sensitive values are not shown.
    pub is_sensitive: bool,
}

fn timeout_ms(client: &Client) -> i32 {
    i32::try_from(client.options().request_timeout_ms).unwrap_or(i32::MAX)
}

/// Config source code of a default value (Kafka's `DEFAULT_CONFIG`).
const CONFIG_SOURCE_DEFAULT: i8 = 5;

impl Client {
    async fn call_controller(
        &self,
        api_key: ApiKey,
        build: impl Fn(i16) -> RequestBody,
    ) -> Result<ResponseBody, ClientError> {
        let meta = self.metadata(Some(&[])).await?;
        if meta.controller_id >= 0 && meta.broker(meta.controller_id).is_some() {
            self.call_node(meta.controller_id, api_key, build).await
        } else {
            self.call_any(api_key, build).await
        }
    }

    /// Creates topics; one result per topic, in order.
    pub async fn create_topics(
        &self,
        topics: &[NewTopic],
        validate_only: bool,
    ) -> Result<Vec<(String, Result<(), ClientError>)>, ClientError> {
        let timeout = timeout_ms(self);
        let body = self
            .call_controller(ApiKey::CreateTopics, |_| {
                RequestBody::CreateTopics(CreateTopicsRequest {
                    topics: topics
                        .iter()
                        .map(|t| CreatableTopic {
                            name: t.name.clone(),
                            num_partitions: t.partitions,
                            replication_factor: t.replication_factor,
                            configs: t
                                .configs
                                .iter()
                                .map(|(k, v)| CreatableTopicConfig {
                                    name: k.clone(),
                                    value: Some(v.clone()),
                                    ..Default::default()
                                })
                                .collect(),
                            ..Default::default()
                        })
                        .collect(),
                    timeout_ms: timeout,
                    validate_only,
                    ..Default::default()
                })
            })
            .await?;
        let ResponseBody::CreateTopics(r) = body else {
            return Err(ClientError::UnexpectedResponse {
                api: "CreateTopics",
            });
        };
        for t in topics {
            self.invalidate(&t.name);
        }
        Ok(topics
            .iter()
            .map(|t| {
                let result = match r.topics.iter().find(|x| x.name == t.name) {
                    None => Err(ClientError::UnexpectedResponse {
                        api: "CreateTopics",
                    }),
                    Some(x) => ClientError::check(x.error_code, x.error_message.as_deref(), || {
                        format!("create topic {}", t.name)
                    }),
                };
                (t.name.clone(), result)
            })
            .collect())
    }

    /// Deletes topics by name; one result per topic, in order.
    pub async fn delete_topics(
        &self,
        names: &[String],
    ) -> Result<Vec<(String, Result<(), ClientError>)>, ClientError> {
        let timeout = timeout_ms(self);
        let body = self
            .call_controller(ApiKey::DeleteTopics, |_| {
                RequestBody::DeleteTopics(DeleteTopicsRequest {
                    topic_names: names.to_vec(),
                    timeout_ms: timeout,
                    ..Default::default()
                })
            })
            .await?;
        let ResponseBody::DeleteTopics(r) = body else {
            return Err(ClientError::UnexpectedResponse {
                api: "DeleteTopics",
            });
        };
        for n in names {
            self.invalidate(n);
        }
        Ok(names
            .iter()
            .map(|n| {
                let result = match r.responses.iter().find(|x| x.name.as_deref() == Some(n)) {
                    None => Err(ClientError::UnexpectedResponse {
                        api: "DeleteTopics",
                    }),
                    Some(x) => ClientError::check(x.error_code, x.error_message.as_deref(), || {
                        format!("delete topic {n}")
                    }),
                };
                (n.clone(), result)
            })
            .collect())
    }

    /// Grows a topic to `total` partitions.
    pub async fn create_partitions(&self, topic: &str, total: i32) -> Result<(), ClientError> {
        let timeout = timeout_ms(self);
        let body = self
            .call_controller(ApiKey::CreatePartitions, |_| {
                RequestBody::CreatePartitions(CreatePartitionsRequest {
                    topics: vec![CreatePartitionsTopic {
                        name: topic.to_string(),
                        count: total,
                        assignments: None,
                        ..Default::default()
                    }],
                    timeout_ms: timeout,
                    validate_only: false,
                    ..Default::default()
                })
            })
            .await?;
        let ResponseBody::CreatePartitions(r) = body else {
            return Err(ClientError::UnexpectedResponse {
                api: "CreatePartitions",
            });
        };
        self.invalidate(topic);
        let x =
            r.results
                .iter()
                .find(|x| x.name == topic)
                .ok_or(ClientError::UnexpectedResponse {
                    api: "CreatePartitions",
                })?;
        ClientError::check(x.error_code, x.error_message.as_deref(), || {
            format!("create partitions of {topic}")
        })
    }

    /// Every config of a resource (`RESOURCE_TYPE_TOPIC` + topic name, or
    /// `RESOURCE_TYPE_BROKER` + node id), sorted by name.
    pub async fn describe_configs(
        &self,
        resource_type: i8,
        name: &str,
    ) -> Result<Vec<ConfigEntry>, ClientError> {
        self.describe_configs_named(resource_type, name, None).await
    }

    /// DescribeConfigs of one resource, only the entries named in `keys` (`None`: all). A
    /// broker leaves out names it does not know.
    pub async fn describe_configs_named(
        &self,
        resource_type: i8,
        name: &str,
        keys: Option<&[String]>,
    ) -> Result<Vec<ConfigEntry>, ClientError> {
        let keys = keys.map(<[String]>::to_vec);
        let body = self
            .call_controller(ApiKey::DescribeConfigs, |_| {
                RequestBody::DescribeConfigs(DescribeConfigsRequest {
                    resources: vec![DescribeConfigsResource {
                        resource_type,
                        resource_name: name.to_string(),
                        configuration_keys: keys.clone(),
                        ..Default::default()
                    }],
                    ..Default::default()
                })
            })
            .await?;
        let ResponseBody::DescribeConfigs(r) = body else {
            return Err(ClientError::UnexpectedResponse {
                api: "DescribeConfigs",
            });
        };
        let result = r
            .results
            .into_iter()
            .find(|x| x.resource_name == name)
            .ok_or(ClientError::UnexpectedResponse {
                api: "DescribeConfigs",
            })?;
        ClientError::check(result.error_code, result.error_message.as_deref(), || {
            format!("describe configs of {name}")
        })?;
        let mut entries: Vec<ConfigEntry> = result
            .configs
            .into_iter()
            .map(|c| ConfigEntry {
                is_default: c.is_default || c.config_source == CONFIG_SOURCE_DEFAULT,
                name: c.name,
                value: c.value,
                source: c.config_source,
                read_only: c.read_only,
                is_sensitive: c.is_sensitive,
            })
            .collect();
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(entries)
    }

    /// IncrementalAlterConfigs on one resource.
    pub async fn alter_configs(
        &self,
        resource_type: i8,
        name: &str,
        ops: &[ConfigOp],
        validate_only: bool,
    ) -> Result<(), ClientError> {
        let body = self
            .call_controller(ApiKey::IncrementalAlterConfigs, |_| {
                RequestBody::IncrementalAlterConfigs(IncrementalAlterConfigsRequest {
                    resources: vec![AlterConfigsResource {
                        resource_type,
                        resource_name: name.to_string(),
                        configs: ops
                            .iter()
                            .map(|op| match op {
                                ConfigOp::Set(k, v) => AlterableConfig {
                                    name: k.clone(),
                                    config_operation: 0,
                                    value: Some(v.clone()),
                                    ..Default::default()
                                },
                                ConfigOp::Delete(k) => AlterableConfig {
                                    name: k.clone(),
                                    config_operation: 1,
                                    value: None,
                                    ..Default::default()
                                },
                            })
                            .collect(),
                        ..Default::default()
                    }],
                    validate_only,
                    ..Default::default()
                })
            })
            .await?;
        let ResponseBody::IncrementalAlterConfigs(r) = body else {
            return Err(ClientError::UnexpectedResponse {
                api: "IncrementalAlterConfigs",
            });
        };
        let x = r.responses.iter().find(|x| x.resource_name == name).ok_or(
            ClientError::UnexpectedResponse {
                api: "IncrementalAlterConfigs",
            },
        )?;
        ClientError::check(x.error_code, x.error_message.as_deref(), || {
            format!("alter configs of {name}")
        })
    }
}
