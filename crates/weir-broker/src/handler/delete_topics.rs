//! DeleteTopics (key 20): by name (v1–5, and v6 entries with a name), by topic id (v6+),
//! with the checks of Kafka's `ControllerApis.deleteTopics`: an entry with neither or both,
//! a name or id given twice, and a name that maps to an id also given, are INVALID_REQUEST;
//! an unknown id is UNKNOWN_TOPIC_ID, an unknown name UNKNOWN_TOPIC_OR_PARTITION.
//! Authorization as Kafka's: DELETE on the cluster, or on the topic; a known id the caller may
//! not delete is TOPIC_AUTHORIZATION_FAILED, with its name only if the caller may DESCRIBE it;
//! a name the caller may not DESCRIBE is TOPIC_AUTHORIZATION_FAILED whether it exists or not.

use std::collections::{BTreeMap, BTreeSet};

use weir_protocol::messages::delete_topics::{
    DeletableTopicResult, DeleteTopicsRequest, DeleteTopicsResponse,
};
use weir_protocol::{ErrorCode, Uuid};

use crate::security::acl::Operation;
use crate::security::authorizer::Caller;
use crate::topic_id::{TopicId, ZERO_TOPIC_ID};
use crate::topics::Topics;

fn result(name: Option<String>, id: TopicId, code: ErrorCode, msg: &str) -> DeletableTopicResult {
    DeletableTopicResult {
        name,
        topic_id: Uuid(id),
        error_code: code.0,
        error_message: (code != ErrorCode::NONE).then(|| msg.to_string()),
        ..Default::default()
    }
}

/// Adds `x` to `once` unless it was given before, in which case it moves to `twice`.
fn add_once<T: Ord + Clone>(once: &mut BTreeSet<T>, twice: &mut BTreeSet<T>, x: T) {
    if twice.contains(&x) || !once.insert(x.clone()) {
        once.remove(&x);
        twice.insert(x);
    }
}

pub(crate) fn handle(
    caller: &Caller<'_>,
    topics: &Topics,
    req: DeleteTopicsRequest,
    _version: i16,
) -> DeleteTopicsResponse {
    let mut responses = Vec::new();
    let cluster = caller.may_cluster(Operation::Delete);
    let deletable = |name: &str| cluster || caller.may_topic(Operation::Delete, name);
    let describable = |name: &str| cluster || caller.may_topic(Operation::Describe, name);
    let denied = "Authorization failed.";
    let (mut names, mut dup_names) = (BTreeSet::new(), BTreeSet::new());
    let (mut ids, mut dup_ids) = (BTreeSet::new(), BTreeSet::new());
    for name in req.topic_names {
        add_once(&mut names, &mut dup_names, name);
    }
    for t in req.topics {
        match (t.name, t.topic_id.0) {
            (None, ZERO_TOPIC_ID) => responses.push(result(
                None,
                ZERO_TOPIC_ID,
                ErrorCode::INVALID_REQUEST,
                "Neither topic name nor id were specified.",
            )),
            (None, id) => add_once(&mut ids, &mut dup_ids, id),
            (Some(name), ZERO_TOPIC_ID) => add_once(&mut names, &mut dup_names, name),
            (Some(name), id) => responses.push(result(
                Some(name),
                id,
                ErrorCode::INVALID_REQUEST,
                "You may not specify both topic name and topic id.",
            )),
        }
    }
    for name in dup_names {
        let msg = "Duplicate topic name.";
        responses.push(result(
            Some(name),
            ZERO_TOPIC_ID,
            ErrorCode::INVALID_REQUEST,
            msg,
        ));
    }
    for &id in &dup_ids {
        let msg = "Duplicate topic id.";
        responses.push(result(None, id, ErrorCode::INVALID_REQUEST, msg));
    }
    // Every id to delete, with the name it is known by.
    let mut to_delete: BTreeMap<TopicId, String> = BTreeMap::new();
    for id in ids {
        match topics.get_by_id(&id) {
            Some(t) if deletable(&t.name) => {
                to_delete.insert(id, t.name.clone());
            }
            Some(t) => {
                let name = describable(&t.name).then(|| t.name.clone());
                let code = ErrorCode::TOPIC_AUTHORIZATION_FAILED;
                responses.push(result(name, id, code, denied));
            }
            None => responses.push(result(
                None,
                id,
                ErrorCode::UNKNOWN_TOPIC_ID,
                "This server does not host this topic ID.",
            )),
        }
    }
    for name in names {
        if !describable(&name) {
            let code = ErrorCode::TOPIC_AUTHORIZATION_FAILED;
            responses.push(result(Some(name), ZERO_TOPIC_ID, code, denied));
            continue;
        }
        let Some(t) = topics.get(&name) else {
            let msg = "This server does not host this topic-partition.";
            let code = ErrorCode::UNKNOWN_TOPIC_OR_PARTITION;
            responses.push(result(Some(name), ZERO_TOPIC_ID, code, msg));
            continue;
        };
        if !deletable(&name) {
            let code = ErrorCode::TOPIC_AUTHORIZATION_FAILED;
            responses.push(result(Some(name), ZERO_TOPIC_ID, code, denied));
            continue;
        }
        if dup_ids.contains(&t.id) || to_delete.insert(t.id, name.clone()).is_some() {
            // Kafka deletes neither, and answers for the name alone.
            dup_ids.insert(t.id);
            to_delete.remove(&t.id);
            let msg = "The provided topic name maps to an ID that was already supplied.";
            responses.push(result(Some(name), t.id, ErrorCode::INVALID_REQUEST, msg));
        }
    }
    for (id, name) in to_delete {
        responses.push(if name == crate::group::OFFSETS_TOPIC {
            // The group coordinator holds this log open: deleting it would lose every
            // committed offset (weir-specific refusal, see docs/broker.md).
            let msg = "the group coordinator's internal topic";
            result(Some(name), id, ErrorCode::INVALID_REQUEST, msg)
        } else {
            match topics.delete_by_id(&id) {
                Ok(_) => result(Some(name), id, ErrorCode::NONE, ""),
                Err(e) => result(Some(name), id, e.code(), &e.to_string()),
            }
        });
    }
    DeleteTopicsResponse {
        responses,
        ..Default::default()
    }
}
