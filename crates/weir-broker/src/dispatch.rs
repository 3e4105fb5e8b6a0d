//! Request dispatch: decode a frame, run its handler, encode the response. Administrative
//! handlers that touch the file system run on the blocking pool.

use std::sync::Arc;

use bytes::Bytes;
use tracing::{Instrument, debug, debug_span, warn};
use weir_protocol::DecodeError;
use weir_protocol::Encoder;
use weir_protocol::api::{ApiKey, RequestBody, ResponseBody, decode_request};
use weir_protocol::header::{ResponseHeader, response_header_version};

use crate::broker::Broker;
use crate::connection::{Response, Service};
use crate::handler;

/// The broker's [`Service`]: one call per request frame.
#[derive(Debug)]
pub struct Dispatcher {
    broker: Arc<Broker>,
}

impl Dispatcher {
    /// A dispatcher over `broker`.
    pub fn new(broker: Arc<Broker>) -> Self {
        Self { broker }
    }
}

impl Service for Dispatcher {
    async fn call(self: Arc<Self>, frame: Bytes) -> Response {
        let request = match decode_request(frame) {
            Ok(r) => {
                if r.trailing_bytes > 0 {
                    // librdkafka 2.16's all-topics Metadata leaves three stray bytes.
                    debug!(api = ?r.api_key(), trailing_bytes = r.trailing_bytes,
                        "bytes after the request body ignored, as Kafka ignores them");
                }
                r
            }
            Err(e) => {
                // Kafka closes the connection on an unknown key or version, and on garbage.
                match &e {
                    DecodeError::UnsupportedApiKey { .. }
                    | DecodeError::UnsupportedVersion { .. } => {
                        debug!(error = %e, "unsupported request; closing")
                    }
                    _ => warn!(error = %e, "malformed request; closing"),
                }
                return Response::Close;
            }
        };
        let key = request.api_key();
        let version = request.header.api_version;
        let span = debug_span!("request", api = ?key, version, correlation_id = request.header.correlation_id);
        let correlation_id = request.header.correlation_id;
        let unsupported_api_versions = request.is_unsupported_api_versions();
        let body_version = request.body_version;
        let client_id = request.header.client_id.clone().unwrap_or_default();
        let body = match run(
            &self.broker,
            request.body,
            version,
            unsupported_api_versions,
            client_id,
        )
        .instrument(span)
        .await
        {
            Ok(Some(body)) => body,
            Ok(None) => return Response::Nothing,
            Err(HandlerFailed) => return Response::Close,
        };
        match encode(correlation_id, key, body_version, &body) {
            Ok(chunks) => Response::Frame(chunks),
            Err(e) => {
                warn!(?key, version, error = %e, "response does not encode; closing");
                Response::Close
            }
        }
    }
}

fn encode(
    correlation_id: i32,
    key: ApiKey,
    version: i16,
    body: &ResponseBody,
) -> Result<Vec<Bytes>, weir_protocol::EncodeError> {
    let mut e = Encoder::new();
    ResponseHeader {
        correlation_id,
        unknown_tagged_fields: Vec::new(),
    }
    .encode(&mut e, response_header_version(key, version))?;
    body.encode(&mut e, version)?;
    Ok(e.finish().into_chunks())
}

/// Runs a blocking handler on the blocking pool (file-system work: topic creation, configs).
async fn blocking<T: Send + 'static>(
    b: &Arc<Broker>,
    f: impl FnOnce(&Arc<Broker>) -> T + Send + 'static,
) -> Result<T, HandlerFailed> {
    let b = Arc::clone(b);
    tokio::task::spawn_blocking(move || f(&b))
        .await
        .map_err(|e| {
            warn!(error = %e, "handler task failed");
            HandlerFailed
        })
}

/// A handler could not produce an answer; the connection is closed so the client does not
/// wait for one.
#[derive(Debug)]
struct HandlerFailed;

/// `Ok(None)`: no response on the wire (Produce with acks=0).
async fn run(
    b: &Arc<Broker>,
    body: RequestBody,
    v: i16,
    unsupported_api_versions: bool,
    client_id: String,
) -> Result<Option<ResponseBody>, HandlerFailed> {
    use RequestBody as Q;
    use ResponseBody as R;
    Ok(Some(match body {
        Q::ApiVersions(_) => {
            R::ApiVersions(handler::api_versions::handle(unsupported_api_versions))
        }
        Q::Produce(r) => match handler::produce::handle(b, r, v).await {
            Some(resp) => R::Produce(resp),
            None => return Ok(None),
        },
        Q::Fetch(r) => R::Fetch(handler::fetch::handle(b, r, v).await),
        Q::ListOffsets(r) => {
            R::ListOffsets(blocking(b, move |b| handler::list_offsets::handle(b, r, v)).await?)
        }
        Q::Metadata(r) => {
            R::Metadata(blocking(b, move |b| handler::metadata::handle(b, r, v)).await?)
        }
        Q::InitProducerId(r) => R::InitProducerId(
            blocking(b, move |b| handler::init_producer_id::handle(b, r, v)).await?,
        ),
        Q::CreateTopics(r) => {
            R::CreateTopics(blocking(b, move |b| handler::create_topics::handle(b, r, v)).await?)
        }
        Q::DeleteTopics(r) => {
            R::DeleteTopics(blocking(b, move |b| handler::delete_topics::handle(b, r, v)).await?)
        }
        Q::CreatePartitions(r) => R::CreatePartitions(
            blocking(b, move |b| handler::create_partitions::handle(b, r, v)).await?,
        ),
        Q::DescribeConfigs(r) => R::DescribeConfigs(handler::describe_configs::handle(b, r, v)),
        Q::AlterConfigs(r) => {
            R::AlterConfigs(blocking(b, move |b| handler::alter_configs::handle(b, r, v)).await?)
        }
        Q::IncrementalAlterConfigs(r) => R::IncrementalAlterConfigs(
            blocking(b, move |b| {
                handler::incremental_alter_configs::handle(b, r, v)
            })
            .await?,
        ),
        Q::DeleteRecords(r) => {
            R::DeleteRecords(blocking(b, move |b| handler::delete_records::handle(b, r, v)).await?)
        }
        Q::DescribeCluster(r) => R::DescribeCluster(handler::describe_cluster::handle(b, r, v)),
        Q::OffsetForLeaderEpoch(r) => {
            R::OffsetForLeaderEpoch(handler::offset_for_leader_epoch::handle(b, r, v))
        }
        Q::FindCoordinator(r) => R::FindCoordinator(handler::find_coordinator::handle(b, r, v)),
        Q::JoinGroup(r) => R::JoinGroup(handler::join_group::handle(b, r, v, client_id).await),
        Q::SyncGroup(r) => R::SyncGroup(handler::sync_group::handle(b, r, v).await),
        Q::Heartbeat(r) => R::Heartbeat(handler::heartbeat::handle(b, r, v)),
        Q::LeaveGroup(r) => R::LeaveGroup(handler::leave_group::handle(b, r, v)),
        Q::OffsetCommit(r) => R::OffsetCommit(handler::offset_commit::handle(b, r, v).await),
        Q::OffsetFetch(r) => R::OffsetFetch(handler::offset_fetch::handle(b, r, v)),
        Q::OffsetDelete(r) => R::OffsetDelete(handler::offset_delete::handle(b, r, v).await),
        Q::DescribeGroups(r) => R::DescribeGroups(handler::describe_groups::handle(b, r, v)),
        Q::ListGroups(r) => R::ListGroups(handler::list_groups::handle(b, r, v)),
        Q::DeleteGroups(r) => R::DeleteGroups(handler::delete_groups::handle(b, r, v).await),
    }))
}
