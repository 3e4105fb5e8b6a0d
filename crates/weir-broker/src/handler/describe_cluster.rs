//! DescribeCluster (key 60).

use std::sync::Arc;

use weir_protocol::messages::describe_cluster::{
    DescribeClusterBroker, DescribeClusterRequest, DescribeClusterResponse,
};

use crate::broker::Broker;
use crate::handler::metadata::CLUSTER_ID;

pub(crate) fn handle(
    b: &Arc<Broker>,
    _req: DescribeClusterRequest,
    _version: i16,
) -> DescribeClusterResponse {
    let (host, port) = b.config.advertised();
    DescribeClusterResponse {
        cluster_id: CLUSTER_ID.to_string(),
        controller_id: b.config.node_id,
        brokers: vec![DescribeClusterBroker {
            broker_id: b.config.node_id,
            host,
            port: i32::from(port),
            rack: None,
            ..Default::default()
        }],
        ..Default::default()
    }
}
