//! One file per Kafka API handler. Each takes the decoded request and its version and
//! returns the response body; `dispatch.rs` does the decoding and encoding around them.

pub(crate) mod add_offsets_to_txn;
pub(crate) mod add_partitions_to_txn;
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
pub(crate) mod describe_transactions;
pub(crate) mod end_txn;
pub(crate) mod fetch;
pub(crate) mod find_coordinator;
pub(crate) mod heartbeat;
pub(crate) mod incremental_alter_configs;
pub(crate) mod init_producer_id;
pub(crate) mod join_group;
pub(crate) mod leave_group;
pub(crate) mod list_groups;
pub(crate) mod list_offsets;
pub(crate) mod list_transactions;
pub(crate) mod metadata;
pub(crate) mod offset_commit;
pub(crate) mod offset_delete;
pub(crate) mod offset_fetch;
pub(crate) mod offset_for_leader_epoch;
pub(crate) mod produce;
pub(crate) mod sync_group;
pub(crate) mod txn_offset_commit;
// Security (SASL, SCRAM credentials).
pub(crate) mod alter_user_scram_credentials;
pub(crate) mod describe_user_scram_credentials;
pub(crate) mod sasl_authenticate;
pub(crate) mod sasl_handshake;
// Client quotas.
pub(crate) mod alter_client_quotas;
pub(crate) mod describe_client_quotas;
// ACLs.
pub(crate) mod consumer_group_describe;
pub(crate) mod consumer_group_heartbeat;
pub(crate) mod create_acls;
pub(crate) mod delete_acls;
pub(crate) mod describe_acls;

use std::sync::Arc;

use crate::broker::Broker;
use crate::fetch_session::FetchSessionCache;
use crate::group::Coordinator;
use crate::memory::RequestMemory;
use crate::meta::ProducerIdAllocator;
use crate::quota::ClientQuotas;
use crate::security::authorizer::Authorizer;
use crate::security::credentials::CredentialStore;
use crate::topics::Topics;
use crate::txn::TxnCoordinator;

/// The parts of the broker the handlers use, built once by `serve`; `dispatch.rs` hands each
/// handler only the parts it needs (the topics, the group coordinator or one half of it,
/// the transaction coordinator, the producer-id source, this node, the topic-creation defaults).
#[derive(Debug)]
pub(crate) struct Context {
    pub(crate) topics: Arc<Topics>,
    /// Broker configs (DescribeConfigs, the Alter APIs on the broker resource).
    pub(crate) broker_configs: Arc<crate::dynamic_config::BrokerConfigs>,
    pub(crate) coordinator: Arc<Coordinator>,
    pub(crate) txn: Arc<TxnCoordinator>,
    pub(crate) producer_ids: Arc<ProducerIdAllocator>,
    pub(crate) node: Node,
    pub(crate) creation: TopicCreation,
    /// `produce_decompressed_bytes_max` and `partition_unsynced_bytes_max`.
    pub(crate) produce_limits: produce::ProduceLimits,
    /// SCRAM credentials (Describe/AlterUserScramCredentials).
    pub(crate) credentials: Arc<CredentialStore>,
    /// The ACLs and their decisions (every handler that checks one, the ACL APIs).
    pub(crate) authorizer: Arc<Authorizer>,
    /// Client quotas (Describe/AlterClientQuotas, every request's throttling).
    pub(crate) quotas: Arc<ClientQuotas>,
    /// The request-bytes pool every connection reads frames into.
    pub(crate) request_memory: Arc<RequestMemory>,
    /// The broker's fetch sessions (KIP-227).
    pub(crate) fetch_sessions: Arc<FetchSessionCache>,
}

impl Context {
    /// The context of `broker`'s parts (its config, topics, coordinators, stores).
    pub(crate) fn new(broker: &Broker) -> Self {
        let config = broker.config();
        let topics = Arc::clone(broker.topics());
        let coordinator = Arc::clone(broker.groups());
        let txn = Arc::clone(broker.txn());
        let producer_ids = Arc::clone(broker.producer_ids());
        let credentials = Arc::clone(broker.credentials());
        let authorizer = Arc::clone(broker.authorizer());
        let quotas = Arc::clone(broker.quotas());
        let request_memory = Arc::clone(broker.request_memory());
        let fetch_sessions = Arc::clone(broker.fetch_sessions());
        let (host, port) = config.advertised();
        Self {
            topics,
            broker_configs: Arc::clone(broker.broker_configs()),
            coordinator,
            txn,
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
            produce_limits: produce::ProduceLimits {
                decompressed_bytes_max: usize::try_from(config.produce_decompressed_bytes_max)
                    .unwrap_or(usize::MAX),
                unsynced_bytes_max: config.partition_unsynced_bytes_max,
            },
            credentials,
            authorizer,
            quotas,
            request_memory,
            fetch_sessions,
        }
    }

    /// The same context for a listener that advertises `host:port`.
    pub(crate) fn advertising(&self, host: String, port: u16) -> Self {
        Self {
            topics: Arc::clone(&self.topics),
            broker_configs: Arc::clone(&self.broker_configs),
            coordinator: Arc::clone(&self.coordinator),
            txn: Arc::clone(&self.txn),
            producer_ids: Arc::clone(&self.producer_ids),
            node: Node {
                id: self.node.id,
                host,
                port,
            },
            creation: self.creation,
            produce_limits: self.produce_limits,
            credentials: Arc::clone(&self.credentials),
            authorizer: Arc::clone(&self.authorizer),
            quotas: Arc::clone(&self.quotas),
            request_memory: Arc::clone(&self.request_memory),
            fetch_sessions: Arc::clone(&self.fetch_sessions),
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
        crate::group::OFFSETS_TOPIC | crate::txn::TXN_STATE_TOPIC | "__share_group_state"
    )
}
