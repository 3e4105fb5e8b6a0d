//! The weir broker: a tokio server that joins the Kafka protocol crate to the storage engine.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod broker;
pub mod cleaner;
pub mod cleaner_stats;
pub mod clock;
pub mod config;
pub mod connection;
pub mod dispatch;
mod durability;
pub mod dynamic_config;
pub mod errors;
pub mod fetch_session;
pub mod group;
mod handler;
pub mod internal_topic;
pub mod memory;
pub mod meta;
pub mod metrics;
pub mod offload;
pub mod partition;
pub mod producer_state;
pub mod quota;
pub mod security;
mod serve;
pub mod server;
pub mod topic_config;
pub mod topic_id;
pub mod topics;
pub mod txn;

pub use config::BrokerConfig;
pub use weir_storage::RealFs;
