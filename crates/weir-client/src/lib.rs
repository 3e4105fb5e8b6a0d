//! A Kafka client over `weir-protocol` and tokio: it speaks plain Kafka protocol, so it works
//! against any Kafka-compatible broker, not only weir.
//!
//! - [`Client`]: bootstrap, version negotiation (ApiVersions), metadata, one pipelined
//!   connection per broker, [`Client::list_offsets`], low-level [`Client::fetch`], admin
//!   operations ([`admin`]) and group queries ([`group`]).
//! - [`Producer`]: batching per partition, Kafka's murmur2 partitioner, idempotence.
//! - [`Fetcher`]: reads assigned partitions from given offsets, pipelining fetches.
//! - [`GroupMember`]: a classic consumer-group member (join, range assignor, heartbeats,
//!   commits with its generation, leave).
//!
//! ```no_run
//! # async fn demo() -> Result<(), weir_client::ClientError> {
//! use weir_client::{Client, ClientOptions, Producer, ProducerConfig, ProducerRecord};
//! let client = Client::connect("127.0.0.1:9092", ClientOptions::default()).await?;
//! let producer = Producer::new(client.clone(), ProducerConfig::default())?;
//! let delivery = producer
//!     .send(ProducerRecord { topic: "events".into(), value: Some("hi".into()), ..Default::default() })
//!     .await?;
//! println!("written at offset {}", delivery.await?.offset);
//! # Ok(()) }
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod acls;
pub mod admin;
mod client;
mod connection;
mod consumer;
mod error;
mod fetch;
mod fetch_session;
pub mod group;
mod membership;
mod metadata;
mod offsets;
pub mod partitioner;
mod producer;
pub mod quotas;
pub mod sasl;
pub mod scram_users;
mod throttle;
pub mod tls;
mod transactions;
mod versions;

pub use client::{
    CONNECT_TIMEOUT_MS_DEFAULT, Client, ClientOptions, REQUEST_TIMEOUT_MS_DEFAULT,
    REQUESTS_IN_FLIGHT_MAX_DEFAULT,
};
pub use consumer::{FETCH_RETRIES_MAX, Fetcher, PartitionConsumer};
pub use error::ClientError;
pub use fetch::{
    ConsumedRecord, DecodedRecords, FETCH_MAX_BYTES_DEFAULT, FETCH_MAX_WAIT_MS_DEFAULT,
    FETCH_MIN_BYTES_DEFAULT, FETCH_PARTITION_MAX_BYTES_DEFAULT, FetchConfig, FetchedPartition,
    Isolation,
};
pub use membership::{
    GroupConfig, GroupMember, HEARTBEAT_INTERVAL_MS_DEFAULT, RANGE_ASSIGNOR,
    REBALANCE_TIMEOUT_MS_DEFAULT, SESSION_TIMEOUT_MS_DEFAULT, is_rebalance, range_assign,
};
pub use metadata::{BrokerInfo, ClusterMetadata, PartitionMetadata, TopicMetadata};
pub use offsets::{ListedOffset, OffsetSpec};
pub use producer::{
    BATCH_BYTES_DEFAULT, BUFFER_BYTES_DEFAULT, DELIVERY_TIMEOUT_MS_DEFAULT, DeliveryFuture,
    IDEMPOTENT_IN_FLIGHT_MAX, LINGER_MS_DEFAULT, Producer, ProducerConfig, ProducerRecord,
    REQUEST_BYTES_MAX_DEFAULT, RETRY_BACKOFF_MS_DEFAULT, RecordMetadata,
};
pub use transactions::{ListedTransaction, TransactionDescription};
pub use versions::{CLIENT_VERSIONS, client_range};
pub use weir_protocol::records::{Compression, TimestampType};
