//! DescribeCluster (key 60).

use weir_protocol::messages::describe_cluster::{
    DescribeClusterBroker, DescribeClusterRequest, DescribeClusterResponse,
};

use crate::handler::Node;
use crate::handler::metadata::CLUSTER_ID;

pub(crate) fn handle(
    node: &Node,
    _req: DescribeClusterRequest,
    _version: i16,
) -> DescribeClusterResponse {
    let (host, port) = (node.host.clone(), node.port);
    DescribeClusterResponse {
        cluster_id: CLUSTER_ID.to_string(),
        controller_id: node.id,
        brokers: vec![DescribeClusterBroker {
            broker_id: node.id,
            host,
            port: i32::from(port),
            rack: None,
            ..Default::default()
        }],
        ..Default::default()
    }
}
