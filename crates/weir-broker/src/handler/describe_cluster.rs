//! DescribeCluster (key 60). As Kafka's `AuthHelper.computeDescribeClusterResponse`: anyone
//! may ask; with `include_cluster_authorized_operations` the answer carries the caller's
//! operations on the cluster, 0 if it may not DESCRIBE it.

use weir_protocol::messages::describe_cluster::{
    DescribeClusterBroker, DescribeClusterRequest, DescribeClusterResponse,
};

use crate::handler::Node;
use crate::handler::metadata::CLUSTER_ID;
use crate::security::acl::CLUSTER_NAME;
use crate::security::acl::{Operation, ResourceType};
use crate::security::authorizer::{AUTHORIZED_OPERATIONS_OMITTED, Caller};

pub(crate) fn handle(
    caller: &Caller<'_>,
    node: &Node,
    req: DescribeClusterRequest,
    _version: i16,
) -> DescribeClusterResponse {
    let cluster_authorized_operations = if !req.include_cluster_authorized_operations {
        AUTHORIZED_OPERATIONS_OMITTED
    } else if caller.may_cluster(Operation::Describe) {
        caller.authorized_operations(ResourceType::Cluster, CLUSTER_NAME)
    } else {
        0
    };
    let (host, port) = (node.host.clone(), node.port);
    DescribeClusterResponse {
        cluster_id: CLUSTER_ID.to_string(),
        cluster_authorized_operations,
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
