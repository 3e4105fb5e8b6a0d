//! Request dispatch: decode a frame, run its handler, encode the response. Administrative
//! handlers that touch the file system run on the blocking pool.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tracing::{Instrument, debug, debug_span, warn};
use weir_protocol::Encoder;
use weir_protocol::api::{ApiKey, RequestBody, ResponseBody, decode_request};
use weir_protocol::header::{ResponseHeader, response_header_version};
use weir_protocol::{DecodeError, ErrorCode};

use crate::connection::{Response, Service};
use crate::handler::{self, Context};
use crate::metrics::Metrics;
use crate::quota::QuotaKind;
use crate::security::Principal;
use crate::security::authorizer::Caller;
use crate::security::sasl::{Session, Step};

/// The broker's [`Service`], one per connection: one call per request frame. It holds the
/// handlers' context (of the connection's listener: what it advertises), the connection's
/// authentication [`Session`], and hands each handler the parts it uses; it counts and
/// times every answered request.
#[derive(Debug)]
pub struct Dispatcher {
    ctx: Arc<Context>,
    metrics: Arc<Metrics>,
    session: Arc<Session>,
    /// Until when the connection is not read: a quota's throttle time (KIP-219).
    muted_until: std::sync::Mutex<Option<tokio::time::Instant>>,
}

impl Dispatcher {
    /// A dispatcher over a listener's context for one connection, recording into `metrics`.
    pub(crate) fn new(ctx: Arc<Context>, metrics: Arc<Metrics>, session: Arc<Session>) -> Self {
        Self {
            ctx,
            metrics,
            session,
            muted_until: std::sync::Mutex::new(None),
        }
    }

    /// Who the connection acts for (`User:ANONYMOUS` until authenticated), for an authorizer.
    pub fn principal(&self) -> Principal {
        self.session.principal()
    }
}

impl Service for Dispatcher {
    fn frame_bytes_max(&self) -> Option<u32> {
        self.session.frame_bytes_max()
    }

    fn muted_until(&self) -> Option<tokio::time::Instant> {
        *self.muted_until.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn request_memory(&self) -> Option<Arc<crate::memory::RequestMemory>> {
        Some(Arc::clone(&self.ctx.request_memory))
    }

    fn queued(&self, waited: Duration) {
        self.metrics.request_queued(waited);
    }

    /// Produce holds its bytes until answered (an `acks=-1` batch until its fsync: the bytes
    /// waiting for group commits are bounded by the pool); every other request gives them
    /// back once its handler first waits, as none of them holds the frame afterwards and some
    /// wait on other connections (JoinGroup, SyncGroup, long-poll Fetch).
    fn holds_memory_until_answered(&self, frame: &Bytes) -> bool {
        frame.get(..2) == Some(&ApiKey::Produce.as_i16().to_be_bytes()[..])
    }

    async fn call(self: Arc<Self>, frame: Bytes, peer: Option<SocketAddr>) -> Response {
        let started = std::time::Instant::now();
        if self.session.expects_raw_token() {
            // After a v0 SaslHandshake the tokens are bare frames (KIP-43), answered bare.
            return match handler::sasl_authenticate::run_step(&self.session, frame, true).await {
                Step::Continue(b) | Step::Done(b) => Response::Frame(vec![Bytes::from(b)]),
                Step::IllegalState | Step::Failed => Response::Close,
            };
        }
        let frame_len = frame.len();
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
        if !self.session.is_authenticated()
            && !matches!(
                key,
                ApiKey::ApiVersions | ApiKey::SaslHandshake | ApiKey::SaslAuthenticate
            )
        {
            // As Kafka's SaslServerAuthenticator: anything else before authentication closes.
            debug!(api = ?key, "request before SASL authentication; closing");
            return Response::Close;
        }
        if self.session.expired()
            && !matches!(
                key,
                ApiKey::ApiVersions | ApiKey::SaslHandshake | ApiKey::SaslAuthenticate
            )
        {
            // KIP-368: a session past connections_max_reauth_ms without re-authentication.
            debug!(api = ?key, "SASL session expired; closing");
            return Response::Close;
        }
        let version = request.header.api_version;
        let span = debug_span!("request", api = ?key, version, correlation_id = request.header.correlation_id);
        let correlation_id = request.header.correlation_id;
        let unsupported_api_versions = request.is_unsupported_api_versions();
        let body_version = request.body_version;
        let client_id = request.header.client_id.clone().unwrap_or_default();
        let acks_zero = matches!(&request.body, RequestBody::Produce(p) if p.acks == 0);
        let client = Client {
            id: client_id.clone(),
            peer,
            session: Arc::clone(&self.session),
        };
        let mut handler_time = Duration::ZERO;
        let outcome = polled_time(
            run(
                &self.ctx,
                request.body,
                version,
                unsupported_api_versions,
                client,
            )
            .instrument(span),
            &mut handler_time,
        )
        .await;
        let user = self.session.principal().name;
        let throttle = Throttle {
            quotas: &self.ctx.quotas,
            user: &user,
            client_id: &client_id,
            now_ms: crate::clock::now_ms().max(0) as u64,
        };
        let mut body = match outcome {
            Ok(Some(body)) => body,
            Ok(None) => {
                // acks=0: counted, with no response bytes; over a produce quota the
                // connection is still muted, as Kafka mutes it.
                let ms = throttle.record(QuotaKind::Produce, frame_len as f64);
                self.mute(QuotaKind::Produce, ms);
                self.metrics
                    .record_request(key, ErrorCode::NONE, started.elapsed(), 0);
                return Response::Nothing;
            }
            Err(HandlerFailed) => return Response::Close,
        };
        if !matches!(
            key,
            ApiKey::ApiVersions | ApiKey::SaslHandshake | ApiKey::SaslAuthenticate
        ) {
            let request_ms = if acks_zero {
                0
            } else {
                throttle.record(QuotaKind::Request, percent_seconds(handler_time))
            };
            let (kind, ms) = match &mut body {
                ResponseBody::Produce(_) => {
                    let produce_ms = throttle.record(QuotaKind::Produce, frame_len as f64);
                    larger((QuotaKind::Produce, produce_ms), request_ms)
                }
                ResponseBody::Fetch(f) => {
                    let bytes = fetched_bytes(f) as f64;
                    let fetch_ms = throttle.record(QuotaKind::Fetch, bytes);
                    let (kind, ms) = larger((QuotaKind::Fetch, fetch_ms), request_ms);
                    if ms > 0 {
                        // Kafka's getThrottledResponse: no data, the bytes taken back.
                        throttle.unrecord(QuotaKind::Fetch, bytes);
                        f.responses.clear();
                    }
                    (kind, ms)
                }
                _ => (QuotaKind::Request, request_ms),
            };
            if ms > 0 {
                crate::quota::response::set_throttle_time_ms(
                    &mut body,
                    i32::try_from(ms).unwrap_or(i32::MAX),
                );
                self.mute(kind, ms);
            }
        }
        let error = self.metrics.response_error(&body);
        match encode(correlation_id, key, body_version, &body) {
            Ok(chunks) => {
                let bytes = chunks.iter().map(Bytes::len).sum();
                self.metrics
                    .record_request(key, error, started.elapsed(), bytes);
                if self.session.has_failed() {
                    // A failed authentication: answered, then closed.
                    Response::Last(chunks)
                } else {
                    Response::Frame(chunks)
                }
            }
            Err(e) => {
                warn!(?key, version, error = %e, "response does not encode; closing");
                Response::Close
            }
        }
    }
}

impl Dispatcher {
    /// Stops reading the connection for `ms` (KIP-219: the response goes at once, the
    /// next request waits), counted as throttle time of `kind`.
    fn mute(&self, kind: QuotaKind, ms: u64) {
        if ms == 0 {
            return;
        }
        self.metrics.throttled(kind, ms);
        let until = tokio::time::Instant::now() + Duration::from_millis(ms);
        let mut m = self.muted_until.lock().unwrap_or_else(|p| p.into_inner());
        if m.is_none_or(|t| t < until) {
            *m = Some(until);
        }
    }
}

/// One request's side of the quotas: who sent it, when.
struct Throttle<'a> {
    quotas: &'a crate::quota::ClientQuotas,
    user: &'a str,
    client_id: &'a str,
    now_ms: u64,
}

impl Throttle<'_> {
    fn record(&self, kind: QuotaKind, value: f64) -> u64 {
        self.quotas
            .record(kind, self.user, self.client_id, value, self.now_ms)
    }

    fn unrecord(&self, kind: QuotaKind, value: f64) {
        self.quotas
            .unrecord(kind, self.user, self.client_id, value, self.now_ms)
    }
}

/// The larger throttle of a byte quota and the request quota, and whose it is (Kafka
/// throttles by the larger; a tie goes to the request quota, as in KafkaApis).
fn larger(bytes: (QuotaKind, u64), request_ms: u64) -> (QuotaKind, u64) {
    if bytes.1 > request_ms {
        bytes
    } else {
        (QuotaKind::Request, request_ms)
    }
}

/// The record bytes of a Fetch response (what `consumer_byte_rate` counts).
fn fetched_bytes(f: &weir_protocol::messages::fetch::FetchResponse) -> usize {
    f.responses
        .iter()
        .flat_map(|t| t.partitions.iter())
        .filter_map(|p| p.records.as_ref().map(Bytes::len))
        .sum()
}

/// Handler time as Kafka's request quota counts it: percent of one thread for a second
/// (`ClientRequestQuotaManager.nanosToPercentage`).
fn percent_seconds(t: Duration) -> f64 {
    t.as_nanos() as f64 * 100.0 / 1e9
}

/// Runs `f`, adding to `spent` the time spent polling it: the handler's own work, not its
/// waits (an fsync round, a long poll), as Kafka counts request-handler thread time.
async fn polled_time<F: std::future::Future>(f: F, spent: &mut Duration) -> F::Output {
    let mut f = std::pin::pin!(f);
    std::future::poll_fn(|cx| {
        let t = std::time::Instant::now();
        let poll = f.as_mut().poll(cx);
        *spent += t.elapsed();
        poll
    })
    .await
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

/// Who sent a request: the header's client id, the connection's peer address and its
/// authentication session.
struct Client {
    id: String,
    peer: Option<SocketAddr>,
    session: Arc<Session>,
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
    let txn = &ctx.txn;
    let principal = client.session.principal();
    let host = client.peer.map(|p| p.ip());
    let caller = Caller::new(&ctx.authorizer, &principal, host);
    Ok(Some(match body {
        Q::ApiVersions(_) => R::ApiVersions(api_versions::handle(unsupported_api_versions)),
        Q::Produce(r) => {
            match produce::handle(&caller, topics, txn, ctx.produce_limits, r, v).await {
                Some(resp) => R::Produce(resp),
                None => return Ok(None),
            }
        }
        Q::Fetch(r) => {
            let sessions = &ctx.fetch_sessions;
            R::Fetch(fetch::handle(&caller, topics, sessions, node, r, v).await)
        }
        Q::ListOffsets(r) => R::ListOffsets(
            blocking(ctx, move |c| {
                let caller = Caller::new(&c.authorizer, &principal, host);
                list_offsets::handle(&caller, &c.topics, r, v)
            })
            .await?,
        ),
        Q::Metadata(r) => R::Metadata(
            blocking(ctx, move |c| {
                let caller = Caller::new(&c.authorizer, &principal, host);
                metadata::handle(&caller, &c.topics, &c.node, c.creation, r, v)
            })
            .await?,
        ),
        Q::InitProducerId(r) => {
            R::InitProducerId(init_producer_id::handle(&caller, &ctx.producer_ids, txn, r, v).await)
        }
        Q::CreateTopics(r) => R::CreateTopics(
            blocking(ctx, move |c| {
                let caller = Caller::new(&c.authorizer, &principal, host);
                create_topics::handle(&caller, &c.topics, &c.node, c.creation, r, v)
            })
            .await?,
        ),
        Q::DeleteTopics(r) => R::DeleteTopics(
            blocking(ctx, move |c| {
                let caller = Caller::new(&c.authorizer, &principal, host);
                delete_topics::handle(&caller, &c.topics, r, v)
            })
            .await?,
        ),
        Q::CreatePartitions(r) => R::CreatePartitions(
            blocking(ctx, move |c| {
                let caller = Caller::new(&c.authorizer, &principal, host);
                create_partitions::handle(&caller, &c.topics, r, v)
            })
            .await?,
        ),
        Q::DescribeConfigs(r) => R::DescribeConfigs(describe_configs::handle(
            &caller,
            topics,
            &ctx.broker_configs,
            r,
            v,
        )),
        Q::AlterConfigs(r) => R::AlterConfigs(
            blocking(ctx, move |c| {
                let caller = Caller::new(&c.authorizer, &principal, host);
                alter_configs::handle(&caller, &c.topics, &c.broker_configs, r, v)
            })
            .await?,
        ),
        Q::IncrementalAlterConfigs(r) => R::IncrementalAlterConfigs(
            blocking(ctx, move |c| {
                let caller = Caller::new(&c.authorizer, &principal, host);
                incremental_alter_configs::handle(&caller, &c.topics, &c.broker_configs, r, v)
            })
            .await?,
        ),
        Q::DeleteRecords(r) => R::DeleteRecords(
            blocking(ctx, move |c| {
                let caller = Caller::new(&c.authorizer, &principal, host);
                delete_records::handle(&caller, &c.topics, r, v)
            })
            .await?,
        ),
        Q::DescribeCluster(r) => R::DescribeCluster(describe_cluster::handle(&caller, node, r, v)),
        Q::OffsetForLeaderEpoch(r) => {
            R::OffsetForLeaderEpoch(offset_for_leader_epoch::handle(&caller, topics, r, v))
        }
        Q::FindCoordinator(r) => R::FindCoordinator(find_coordinator::handle(&caller, node, r, v)),
        Q::JoinGroup(r) => R::JoinGroup(
            join_group::handle(&caller, coordinator, r, v, client.id, client.peer).await,
        ),
        Q::SyncGroup(r) => R::SyncGroup(sync_group::handle(&caller, coordinator, r, v).await),
        Q::Heartbeat(r) => R::Heartbeat(heartbeat::handle(&caller, groups, r, v)),
        Q::ConsumerGroupHeartbeat(r) => {
            R::ConsumerGroupHeartbeat(consumer_group_heartbeat::handle(
                &caller,
                topics,
                coordinator,
                r,
                v,
                client.id,
                client.peer,
            ))
        }
        Q::ConsumerGroupDescribe(r) => R::ConsumerGroupDescribe(consumer_group_describe::handle(
            &caller,
            topics,
            coordinator,
            r,
            v,
        )),
        Q::LeaveGroup(r) => R::LeaveGroup(leave_group::handle(&caller, coordinator, r, v).await),
        Q::OffsetCommit(r) => {
            R::OffsetCommit(offset_commit::handle(&caller, topics, coordinator, r, v).await)
        }
        Q::OffsetFetch(r) => {
            R::OffsetFetch(offset_fetch::handle(&caller, coordinator.offsets(), r, v))
        }
        Q::OffsetDelete(r) => {
            R::OffsetDelete(offset_delete::handle(&caller, coordinator, r, v).await)
        }
        Q::DescribeGroups(r) => R::DescribeGroups(describe_groups::handle(&caller, groups, r, v)),
        Q::ListGroups(r) => R::ListGroups(list_groups::handle(&caller, coordinator, r, v)),
        Q::DeleteGroups(r) => {
            R::DeleteGroups(delete_groups::handle(&caller, coordinator, r, v).await)
        }
        Q::DescribeLogDirs(r) => R::DescribeLogDirs(
            blocking(ctx, move |c| {
                let caller = Caller::new(&c.authorizer, &principal, host);
                describe_log_dirs::handle(&caller, &c.topics, r, v)
            })
            .await?,
        ),
        Q::DescribeProducers(r) => {
            R::DescribeProducers(describe_producers::handle(&caller, topics, r, v))
        }
        Q::AddPartitionsToTxn(r) => {
            R::AddPartitionsToTxn(add_partitions_to_txn::handle(&caller, topics, txn, r, v).await)
        }
        Q::AddOffsetsToTxn(r) => {
            R::AddOffsetsToTxn(add_offsets_to_txn::handle(&caller, txn, r, v).await)
        }
        Q::EndTxn(r) => R::EndTxn(end_txn::handle(&caller, txn, r, v).await),
        Q::TxnOffsetCommit(r) => R::TxnOffsetCommit(
            txn_offset_commit::handle(&caller, topics, coordinator, txn, r, v).await,
        ),
        Q::DescribeTransactions(r) => {
            R::DescribeTransactions(describe_transactions::handle(&caller, txn, r, v))
        }
        Q::ListTransactions(r) => {
            R::ListTransactions(list_transactions::handle(&caller, txn, r, v))
        }
        Q::DescribeTopicPartitions(r) => R::DescribeTopicPartitions(
            describe_topic_partitions::handle(&caller, topics, node.id, r, v),
        ),
        Q::SaslHandshake(r) => R::SaslHandshake(sasl_handshake::handle(&client.session, r, v)),
        Q::SaslAuthenticate(r) => {
            R::SaslAuthenticate(sasl_authenticate::handle(&client.session, r, v).await)
        }
        Q::DescribeUserScramCredentials(r) => R::DescribeUserScramCredentials(
            describe_user_scram_credentials::handle(&caller, &ctx.credentials, r, v),
        ),
        Q::AlterUserScramCredentials(r) => R::AlterUserScramCredentials(
            blocking(ctx, move |c| {
                let caller = Caller::new(&c.authorizer, &principal, host);
                alter_user_scram_credentials::handle(&caller, &c.credentials, r, v)
            })
            .await?,
        ),
        Q::DescribeClientQuotas(r) => {
            R::DescribeClientQuotas(describe_client_quotas::handle(&caller, &ctx.quotas, r, v))
        }
        Q::AlterClientQuotas(r) => R::AlterClientQuotas(
            blocking(ctx, move |c| {
                let caller = Caller::new(&c.authorizer, &principal, host);
                alter_client_quotas::handle(&caller, &c.quotas, r, v)
            })
            .await?,
        ),
        Q::DescribeAcls(r) => R::DescribeAcls(describe_acls::handle(&caller, r, v)),
        Q::CreateAcls(r) => R::CreateAcls(
            blocking(ctx, move |c| {
                create_acls::handle(&Caller::new(&c.authorizer, &principal, host), r, v)
            })
            .await?,
        ),
        Q::DeleteAcls(r) => R::DeleteAcls(
            blocking(ctx, move |c| {
                delete_acls::handle(&Caller::new(&c.authorizer, &principal, host), r, v)
            })
            .await?,
        ),
    }))
}
