//! AddPartitionsToTxn (key 24): adds partitions to a transactional id's transaction before
//! the producer writes to them. v0–3 carry one transaction (clients); v4+ a batch, where
//! `verify_only` asks only whether the partitions are already in it (KIP-890).
//!
//! Kafka's rules: a partition that does not exist fails with UNKNOWN_TOPIC_OR_PARTITION and
//! every other partition of the request with OPERATION_NOT_ATTEMPTED; otherwise one code
//! (the coordinator's) applies to every partition. Authorization: v0–3 (clients) WRITE on
//! the transactional id (else TRANSACTIONAL_ID_AUTHORIZATION_FAILED everywhere) and on each
//! topic (TOPIC_AUTHORIZATION_FAILED, the others OPERATION_NOT_ATTEMPTED); v4+ (brokers)
//! CLUSTER_ACTION on the cluster (else CLUSTER_AUTHORIZATION_FAILED).

use weir_protocol::ErrorCode;
use weir_protocol::messages::add_partitions_to_txn::{
    AddPartitionsToTxnPartitionResult, AddPartitionsToTxnRequest, AddPartitionsToTxnResponse,
    AddPartitionsToTxnResult, AddPartitionsToTxnTopic, AddPartitionsToTxnTopicResult,
};

use super::init_producer_id::fenced_code;
use crate::security::acl::Operation;
use crate::security::authorizer::Caller;
use crate::topics::Topics;
use crate::txn::TxnCoordinator;
use crate::txn::state::TxnPartition;

/// Versions before 2 know INVALID_PRODUCER_EPOCH, not PRODUCER_FENCED.
const PRODUCER_FENCED_SINCE: i16 = 2;
/// The first version with a batch of transactions.
const BATCHED_SINCE: i16 = 4;

/// The code of each partition: (topic, [(partition, code)]).
type Codes = Vec<(String, Vec<(i32, ErrorCode)>)>;

fn each(topics: &[AddPartitionsToTxnTopic], code: impl Fn(&str, i32) -> ErrorCode) -> Codes {
    topics
        .iter()
        .map(|t| {
            let ps = t
                .partitions
                .iter()
                .map(|&p| (p, code(&t.name, p)))
                .collect();
            (t.name.clone(), ps)
        })
        .collect()
}

/// One transaction of a request.
struct Txn<'a> {
    id: &'a str,
    producer_id: i64,
    epoch: i16,
    verify_only: bool,
    wanted: &'a [AddPartitionsToTxnTopic],
}

/// `caller`: a client's request (v0–3), authorized as Kafka does (WRITE on the id, then on
/// each topic); `None` for the batched broker form, authorized as a whole.
async fn one(
    caller: Option<&Caller<'_>>,
    topics: &Topics,
    txn: &TxnCoordinator,
    t: Txn<'_>,
    version: i16,
) -> Codes {
    let Txn {
        id,
        producer_id,
        epoch,
        verify_only,
        wanted,
    } = t;
    if caller.is_some_and(|c| !c.may_txn(Operation::Write, id)) {
        return each(wanted, |_, _| {
            ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED
        });
    }
    let may_write = |t: &str| caller.is_none_or(|c| c.may_topic(Operation::Write, t));
    let exists = |t: &str, p: i32| !super::is_internal_topic(t) && topics.partition(t, p).is_ok();
    if wanted
        .iter()
        .any(|t| !may_write(&t.name) || t.partitions.iter().any(|&p| !exists(&t.name, p)))
    {
        return each(wanted, |t, p| {
            if !may_write(t) {
                ErrorCode::TOPIC_AUTHORIZATION_FAILED
            } else if exists(t, p) {
                ErrorCode::OPERATION_NOT_ATTEMPTED
            } else {
                ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
            }
        });
    }
    let partitions: Vec<TxnPartition> = wanted
        .iter()
        .flat_map(|t| t.partitions.iter().map(|&p| (t.name.clone(), p)))
        .collect();
    if verify_only {
        return each(wanted, |t, p| {
            match txn.verify(id, producer_id, epoch, &(t.to_string(), p)) {
                Ok(()) => ErrorCode::NONE,
                Err(c) => c,
            }
        });
    }
    let code = match txn.add_partitions(id, producer_id, epoch, partitions).await {
        Ok(()) => ErrorCode::NONE,
        Err(c) => fenced_code(c, version, PRODUCER_FENCED_SINCE),
    };
    each(wanted, |_, _| code)
}

fn results(codes: Codes) -> Vec<AddPartitionsToTxnTopicResult> {
    codes
        .into_iter()
        .map(|(name, ps)| AddPartitionsToTxnTopicResult {
            name,
            results_by_partition: ps
                .into_iter()
                .map(|(partition_index, c)| AddPartitionsToTxnPartitionResult {
                    partition_index,
                    partition_error_code: c.0,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        })
        .collect()
}

pub(crate) async fn handle(
    caller: &Caller<'_>,
    topics: &Topics,
    txn: &TxnCoordinator,
    req: AddPartitionsToTxnRequest,
    version: i16,
) -> AddPartitionsToTxnResponse {
    if version < BATCHED_SINCE {
        let t = Txn {
            id: &req.v3_and_below_transactional_id,
            producer_id: req.v3_and_below_producer_id,
            epoch: req.v3_and_below_producer_epoch,
            verify_only: false,
            wanted: &req.v3_and_below_topics,
        };
        let codes = one(Some(caller), topics, txn, t, version).await;
        return AddPartitionsToTxnResponse {
            results_by_topic_v3_and_below: results(codes),
            ..Default::default()
        };
    }
    if !caller.may_cluster(Operation::ClusterAction) {
        // The batched form is the brokers' (KIP-890): CLUSTER_ACTION, as Kafka asks.
        return AddPartitionsToTxnResponse {
            error_code: ErrorCode::CLUSTER_AUTHORIZATION_FAILED.0,
            ..Default::default()
        };
    }
    let mut out = Vec::with_capacity(req.transactions.len());
    for t in &req.transactions {
        let one_txn = Txn {
            id: &t.transactional_id,
            producer_id: t.producer_id,
            epoch: t.producer_epoch,
            verify_only: t.verify_only,
            wanted: &t.topics,
        };
        let codes = one(None, topics, txn, one_txn, version).await;
        out.push(AddPartitionsToTxnResult {
            transactional_id: t.transactional_id.clone(),
            topic_results: results(codes),
            ..Default::default()
        });
    }
    AddPartitionsToTxnResponse {
        results_by_transaction: out,
        ..Default::default()
    }
}
