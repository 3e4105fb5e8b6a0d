//! One file per Kafka API handler. Each takes the decoded request and its version and
//! returns the response body; `dispatch.rs` does the decoding and encoding around them.

pub(crate) mod alter_configs;
pub(crate) mod api_versions;
pub(crate) mod create_partitions;
pub(crate) mod create_topics;
pub(crate) mod delete_groups;
pub(crate) mod delete_records;
pub(crate) mod delete_topics;
pub(crate) mod describe_cluster;
pub(crate) mod describe_configs;
pub(crate) mod describe_groups;
pub(crate) mod describe_log_dirs;
pub(crate) mod describe_producers;
pub(crate) mod describe_topic_partitions;
pub(crate) mod fetch;
pub(crate) mod find_coordinator;
pub(crate) mod heartbeat;
pub(crate) mod incremental_alter_configs;
pub(crate) mod init_producer_id;
pub(crate) mod join_group;
pub(crate) mod leave_group;
pub(crate) mod list_groups;
pub(crate) mod list_offsets;
pub(crate) mod metadata;
pub(crate) mod offset_commit;
pub(crate) mod offset_delete;
pub(crate) mod offset_fetch;
pub(crate) mod offset_for_leader_epoch;
pub(crate) mod produce;
pub(crate) mod sync_group;

use std::sync::Arc;

use crate::config::BrokerConfig;
use crate::group::Coordinator;
use crate::meta::ProducerIdAllocator;
use crate::topics::Topics;

/// The parts of the broker the handlers use, built once by `serve`; `dispatch.rs` hands each
/// handler only the parts it needs (the topics, the coordinator or one half of it, the
/// producer-id source, this node, the topic-creation defaults).
#[derive(Debug)]
pub(crate) struct Context {
    pub(crate) topics: Arc<Topics>,
    pub(crate) coordinator: Arc<Coordinator>,
    pub(crate) producer_ids: Arc<ProducerIdAllocator>,
    pub(crate) node: Node,
    pub(crate) creation: TopicCreation,
    /// `produce_decompressed_bytes_max`.
    pub(crate) produce_decompressed_bytes_max: usize,
}

impl Context {
    pub(crate) fn new(
        config: &BrokerConfig,
        topics: Arc<Topics>,
        coordinator: Arc<Coordinator>,
        producer_ids: Arc<ProducerIdAllocator>,
    ) -> Self {
        let (host, port) = config.advertised();
        Self {
            topics,
            coordinator,
            producer_ids,
            node: Node {
                id: config.node_id,
                host,
                port,
            },
            creation: TopicCreation {
                num_partitions: config.num_partitions,
                auto_create: config.auto_create_topics_enable,
            },
            produce_decompressed_bytes_max: usize::try_from(config.produce_decompressed_bytes_max)
                .unwrap_or(usize::MAX),
        }
    }
}

/// This broker as clients see it (Metadata, FindCoordinator, DescribeCluster).
#[derive(Debug, Clone)]
pub(crate) struct Node {
    /// `node_id`.
    pub(crate) id: i32,
    /// The advertised host.
    pub(crate) host: String,
    /// The advertised port.
    pub(crate) port: u16,
}

/// How topics are created when a request does not say (CreateTopics, Metadata).
#[derive(Debug, Clone, Copy)]
pub(crate) struct TopicCreation {
    /// `num_partitions`.
    pub(crate) num_partitions: i32,
    /// `auto_create_topics_enable`.
    pub(crate) auto_create: bool,
}

/// Kafka's `Topic.isInternal`: the offsets, transaction and share-group state topics.
pub(crate) fn is_internal_topic(name: &str) -> bool {
    matches!(
        name,
        crate::group::OFFSETS_TOPIC | "__transaction_state" | "__share_group_state"
    )
}
