//! A real broker on an ephemeral port, and a minimal Kafka client speaking through
//! `weir-protocol`, for the integration tests.

pub mod node;
pub mod secured;
pub mod txn;

use std::sync::Arc;

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use weir_broker::BrokerConfig;
use weir_broker::broker::Broker;
use weir_broker::config::Source;
use weir_protocol::{RequestBody, RequestHeader, ResponseBody, decode_response, encode_request};

/// A broker serving on 127.0.0.1 with a temporary data dir.
pub struct TestBroker {
    pub addr: std::net::SocketAddr,
    pub dir: tempfile::TempDir,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl TestBroker {
    pub async fn start(settings: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        Self::start_in(dir, settings).await
    }

    pub async fn start_in(dir: tempfile::TempDir, settings: &[(&str, &str)]) -> Self {
        let mut all: Vec<(String, String, Source)> = vec![
            (
                "listen".into(),
                "127.0.0.1:0".into(),
                Source::Flag("test".into()),
            ),
            (
                "data_dir".into(),
                dir.path().display().to_string(),
                Source::Flag("test".into()),
            ),
        ];
        all.extend(settings.iter().map(|(k, v)| {
            (
                (*k).to_string(),
                (*v).to_string(),
                Source::Flag("test".into()),
            )
        }));
        let mut config = BrokerConfig::from_settings(all).unwrap();
        let listener = tokio::net::TcpListener::bind(config.listen).await.unwrap();
        config.listen = listener.local_addr().unwrap();
        let addr = config.listen;
        let broker = Arc::new(Broker::open(config).unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            broker
                .serve(listener, async {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        });
        Self {
            addr,
            dir,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Clean shutdown; returns the data dir for a restart.
    pub async fn stop(mut self) -> tempfile::TempDir {
        let _ = self.stop.take().unwrap().send(());
        self.task.take().unwrap().await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::mem::replace(&mut self.dir, dir)
    }
}

/// One connection.
pub struct Client {
    stream: TcpStream,
    correlation_id: i32,
}

impl Client {
    pub async fn connect(addr: std::net::SocketAddr) -> Self {
        Self {
            stream: TcpStream::connect(addr).await.unwrap(),
            correlation_id: 0,
        }
    }

    pub async fn send(&mut self, version: i16, body: RequestBody) -> i32 {
        self.correlation_id += 1;
        let header = RequestHeader {
            api_key: body.api_key().as_i16(),
            api_version: version,
            correlation_id: self.correlation_id,
            client_id: Some("weir-test".into()),
            unknown_tagged_fields: vec![],
        };
        let frame = encode_request(&header, &body).unwrap();
        self.stream.write_all(&frame.to_bytes()).await.unwrap();
        self.correlation_id
    }

    /// Reads one response frame; `None` when the broker closed the connection.
    pub async fn read_frame(&mut self) -> Option<Bytes> {
        let mut len = [0u8; 4];
        self.stream.read_exact(&mut len).await.ok()?;
        let mut body = vec![0u8; i32::from_be_bytes(len) as usize];
        self.stream.read_exact(&mut body).await.ok()?;
        Some(Bytes::from(body))
    }

    pub async fn call(&mut self, version: i16, body: RequestBody) -> ResponseBody {
        let key = body.api_key();
        let id = self.send(version, body).await;
        let frame = self
            .read_frame()
            .await
            .unwrap_or_else(|| panic!("{key:?} v{version}: connection closed"));
        let (header, body) = decode_response(key, version, frame)
            .unwrap_or_else(|e| panic!("{key:?} v{version}: {e}"));
        assert_eq!(header.correlation_id, id);
        body
    }

    pub async fn raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.unwrap();
    }

    /// Produces `records` (Produce v9) to one partition; (error code, base offset).
    #[allow(dead_code)] // not every test file produces this way
    pub async fn produce(
        &mut self,
        topic: &str,
        partition: i32,
        acks: i16,
        records: Bytes,
    ) -> (i16, i64) {
        use weir_protocol::messages::produce as p;
        let ResponseBody::Produce(r) = self
            .call(
                9,
                RequestBody::Produce(p::ProduceRequest {
                    acks,
                    timeout_ms: 5000,
                    topic_data: vec![p::TopicProduceData {
                        name: topic.into(),
                        partition_data: vec![p::PartitionProduceData {
                            index: partition,
                            records: Some(records),
                            ..Default::default()
                        }],
                        ..Default::default()
                    }],
                    ..Default::default()
                }),
            )
            .await
        else {
            panic!("not a Produce response")
        };
        let part = &r.responses[0].partition_responses[0];
        (part.error_code, part.base_offset)
    }

    /// One sessionless Fetch (v12, no wait) of one partition from `offset`.
    #[allow(dead_code)] // not every test file fetches this way
    pub async fn fetch_partition(
        &mut self,
        topic: &str,
        partition: i32,
        offset: i64,
    ) -> weir_protocol::messages::fetch::PartitionData {
        use weir_protocol::messages::fetch as f;
        let ResponseBody::Fetch(mut r) = self
            .call(
                12,
                RequestBody::Fetch(f::FetchRequest {
                    replica_id: -1,
                    max_wait_ms: 0,
                    min_bytes: 1,
                    max_bytes: 1 << 20,
                    session_epoch: -1,
                    topics: vec![f::FetchTopic {
                        topic: topic.into(),
                        partitions: vec![f::FetchPartition {
                            partition,
                            fetch_offset: offset,
                            partition_max_bytes: 1 << 20,
                            current_leader_epoch: -1,
                            ..Default::default()
                        }],
                        ..Default::default()
                    }],
                    ..Default::default()
                }),
            )
            .await
        else {
            panic!("not a Fetch response")
        };
        r.responses.remove(0).partitions.remove(0)
    }

    /// Creates a topic (CreateTopics v5) with topic configs; panics unless it succeeds.
    #[allow(dead_code)] // not every test file creates its topics this way
    pub async fn create_topic(&mut self, name: &str, partitions: i32, configs: &[(&str, &str)]) {
        let (code, message) = self.try_create_topic(name, partitions, configs).await;
        assert_eq!(code, 0, "{message:?}");
    }

    /// Creates a topic (CreateTopics v5) with topic configs; (error code, error message).
    #[allow(dead_code)] // not every test file creates its topics this way
    pub async fn try_create_topic(
        &mut self,
        name: &str,
        partitions: i32,
        configs: &[(&str, &str)],
    ) -> (i16, Option<String>) {
        use weir_protocol::messages::create_topics as ct;
        let ResponseBody::CreateTopics(r) = self
            .call(
                5,
                RequestBody::CreateTopics(ct::CreateTopicsRequest {
                    topics: vec![ct::CreatableTopic {
                        name: name.into(),
                        num_partitions: partitions,
                        replication_factor: 1,
                        configs: configs
                            .iter()
                            .map(|(k, v)| ct::CreatableTopicConfig {
                                name: (*k).into(),
                                value: Some((*v).into()),
                                ..Default::default()
                            })
                            .collect(),
                        ..Default::default()
                    }],
                    timeout_ms: 5000,
                    ..Default::default()
                }),
            )
            .await
        else {
            panic!("not a CreateTopics response")
        };
        (r.topics[0].error_code, r.topics[0].error_message.clone())
    }
}

/// Requests of the security APIs for the version sweep.
pub mod security_requests {
    use bytes::Bytes;
    use weir_protocol::messages::alter_user_scram_credentials as auc;
    use weir_protocol::messages::sasl_handshake as sh;

    /// A SCRAM-SHA-256 handshake.
    pub fn handshake() -> sh::SaslHandshakeRequest {
        sh::SaslHandshakeRequest {
            mechanism: "SCRAM-SHA-256".into(),
        }
    }

    /// An upsert of user `sweep`.
    pub fn alter() -> auc::AlterUserScramCredentialsRequest {
        auc::AlterUserScramCredentialsRequest {
            upsertions: vec![auc::ScramCredentialUpsertion {
                name: "sweep".into(),
                mechanism: 1,
                iterations: 4096,
                salt: Bytes::from_static(b"salt"),
                salted_password: Bytes::from_static(&[7; 32]),
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    /// DescribeAcls of every ACL.
    pub fn describe_acls() -> weir_protocol::messages::describe_acls::DescribeAclsRequest {
        weir_protocol::messages::describe_acls::DescribeAclsRequest {
            resource_type_filter: 1,
            resource_name_filter: None,
            pattern_type_filter: 1,
            principal_filter: None,
            host_filter: None,
            operation: 1,
            permission_type: 1,
            ..Default::default()
        }
    }

    /// CreateAcls of one ALLOW: `principal` may `op` (a code) on the LITERAL resource `name`
    /// of type `kind` (a code), from any host.
    pub fn create_acl(
        kind: i8,
        name: &str,
        principal: &str,
        op: i8,
    ) -> weir_protocol::messages::create_acls::CreateAclsRequest {
        use weir_protocol::messages::create_acls as ca;
        ca::CreateAclsRequest {
            creations: vec![ca::AclCreation {
                resource_type: kind,
                resource_name: name.into(),
                resource_pattern_type: 3,
                principal: principal.into(),
                host: "*".into(),
                operation: op,
                permission_type: 3,
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    /// DeleteAcls of every ACL of `principal`.
    pub fn delete_acls_of(
        principal: &str,
    ) -> weir_protocol::messages::delete_acls::DeleteAclsRequest {
        use weir_protocol::messages::delete_acls as da;
        da::DeleteAclsRequest {
            filters: vec![da::DeleteAclsFilter {
                resource_type_filter: 1,
                resource_name_filter: None,
                pattern_type_filter: 1,
                principal_filter: Some(principal.into()),
                host_filter: None,
                operation: 1,
                permission_type: 1,
                ..Default::default()
            }],
            ..Default::default()
        }
    }
}
