//! Request dispatch: decode a frame, run its handler, encode the response. Administrative
//! handlers that touch the file system run on the blocking pool.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use tracing::{Instrument, debug, debug_span, warn};
use weir_protocol::Encoder;
use weir_protocol::api::{ApiKey, RequestBody, ResponseBody, decode_request};
use weir_protocol::header::{ResponseHeader, response_header_version};
use weir_protocol::{DecodeError, ErrorCode};

use crate::connection::{Response, Service};
use crate::handler::{self, Context};
use crate::metrics::Metrics;

/// The broker's [`Service`]: one call per request frame. It holds the handlers' context and
/// hands each handler the parts it uses; it counts and times every answered request.
#[derive(Debug)]
pub struct Dispatcher {
    ctx: Arc<Context>,
    metrics: Arc<Metrics>,
}

impl Dispatcher {
    /// A dispatcher over the handlers' context, recording into `metrics`.
    pub(crate) fn new(ctx: Context, metrics: Arc<Metrics>) -> Self {
        Self {
            ctx: Arc::new(ctx),
            metrics,
        }
    }
}

impl Service for Dispatcher {
    async fn call(self: Arc<Self>, frame: Bytes, peer: Option<SocketAddr>) -> Response {
        let started = std::time::Instant::now();
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
        let client = Client {
            id: request.header.client_id.clone().unwrap_or_default(),
            peer,
        };
        let body = match run(
            &self.ctx,
            request.body,
            version,
            unsupported_api_versions,
            client,
        )
        .instrument(span)
        .await
        {
            Ok(Some(body)) => body,
            Ok(None) => {
                // acks=0: counted, with no response bytes.
                self.metrics
                    .record_request(key, ErrorCode::NONE, started.elapsed(), 0);
                return Response::Nothing;
            }
            Err(HandlerFailed) => return Response::Close,
        };
        let error = self.metrics.response_error(&body);
        match encode(correlation_id, key, body_version, &body) {
            Ok(chunks) => {
                let bytes = chunks.iter().map(Bytes::len).sum();
                self.metrics
                    .record_request(key, error, started.elapsed(), bytes);
                Response::Frame(chunks)
            }
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
    ctx: &Arc<Context>,
    f: impl FnOnce(&Context) -> T + Send + 'static,
) -> Result<T, HandlerFailed> {
    let ctx = Arc::clone(ctx);
    tokio::task::spawn_blocking(move || f(&ctx))
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

/// Who sent a request: the header's client id and the connection's peer address.
struct Client {
    id: String,
    peer: Option<SocketAddr>,
}

/// `Ok(None)`: no response on the wire (Produce with acks=0).
async fn run(
    ctx: &Arc<Context>,
    body: RequestBody,
    v: i16,
    unsupported_api_versions: bool,
    client: Client,
) -> Result<Option<ResponseBody>, HandlerFailed> {
    use RequestBody as Q;
    use ResponseBody as R;
    use handler::*;
    let topics = &ctx.topics;
    let coordinator = &ctx.coordinator;
    let groups = coordinator.groups();
    let node = &ctx.node;
    Ok(Some(match body {
        Q::ApiVersions(_) => R::ApiVersions(api_versions::handle(unsupported_api_versions)),
        Q::Produce(r) => {
            match produce::handle(topics, ctx.produce_decompressed_bytes_max, r, v).await {
                Some(resp) => R::Produce(resp),
                None => return Ok(None),
            }
        }
        Q::Fetch(r) => R::Fetch(fetch::handle(topics, node, r, v).await),
        Q::ListOffsets(r) => {
            R::ListOffsets(blocking(ctx, move |c| list_offsets::handle(&c.topics, r, v)).await?)
        }
        Q::Metadata(r) => R::Metadata(
            blocking(ctx, move |c| {
                metadata::handle(&c.topics, &c.node, c.creation, r, v)
            })
            .await?,
        ),
        Q::InitProducerId(r) => R::InitProducerId(
            blocking(ctx, move |c| {
                init_producer_id::handle(&c.producer_ids, r, v)
            })
            .await?,
        ),
        Q::CreateTopics(r) => R::CreateTopics(
            blocking(ctx, move |c| {
                create_topics::handle(&c.topics, &c.node, c.creation, r, v)
            })
            .await?,
        ),
        Q::DeleteTopics(r) => {
            R::DeleteTopics(blocking(ctx, move |c| delete_topics::handle(&c.topics, r, v)).await?)
        }
        Q::CreatePartitions(r) => R::CreatePartitions(
            blocking(ctx, move |c| create_partitions::handle(&c.topics, r, v)).await?,
        ),
        Q::DescribeConfigs(r) => R::DescribeConfigs(describe_configs::handle(topics, node, r, v)),
        Q::AlterConfigs(r) => {
            R::AlterConfigs(blocking(ctx, move |c| alter_configs::handle(&c.topics, r, v)).await?)
        }
        Q::IncrementalAlterConfigs(r) => R::IncrementalAlterConfigs(
            blocking(ctx, move |c| {
                incremental_alter_configs::handle(&c.topics, r, v)
            })
            .await?,
        ),
        Q::DeleteRecords(r) => {
            R::DeleteRecords(blocking(ctx, move |c| delete_records::handle(&c.topics, r, v)).await?)
        }
        Q::DescribeCluster(r) => R::DescribeCluster(describe_cluster::handle(node, r, v)),
        Q::OffsetForLeaderEpoch(r) => {
            R::OffsetForLeaderEpoch(offset_for_leader_epoch::handle(topics, r, v))
        }
        Q::FindCoordinator(r) => R::FindCoordinator(find_coordinator::handle(node, r, v)),
        Q::JoinGroup(r) => {
            R::JoinGroup(join_group::handle(coordinator, r, v, client.id, client.peer).await)
        }
        Q::SyncGroup(r) => R::SyncGroup(sync_group::handle(groups, r, v).await),
        Q::Heartbeat(r) => R::Heartbeat(heartbeat::handle(groups, r, v)),
        Q::LeaveGroup(r) => R::LeaveGroup(leave_group::handle(groups, r, v)),
        Q::OffsetCommit(r) => {
            R::OffsetCommit(offset_commit::handle(topics, coordinator, r, v).await)
        }
        Q::OffsetFetch(r) => R::OffsetFetch(offset_fetch::handle(coordinator.offsets(), r, v)),
        Q::OffsetDelete(r) => R::OffsetDelete(offset_delete::handle(coordinator, r, v).await),
        Q::DescribeGroups(r) => R::DescribeGroups(describe_groups::handle(groups, r, v)),
        Q::ListGroups(r) => R::ListGroups(list_groups::handle(groups, r, v)),
        Q::DeleteGroups(r) => R::DeleteGroups(delete_groups::handle(coordinator, r, v).await),
        Q::DescribeLogDirs(r) => R::DescribeLogDirs(
            blocking(ctx, move |c| describe_log_dirs::handle(&c.topics, r, v)).await?,
        ),
        Q::DescribeProducers(r) => R::DescribeProducers(describe_producers::handle(topics, r, v)),
        Q::DescribeTopicPartitions(r) => {
            R::DescribeTopicPartitions(describe_topic_partitions::handle(topics, node.id, r, v))
        }
    }))
}
