//! Requests real clients send that Kafka answers, sent byte for byte to a real broker.

#[allow(dead_code)] // the shared helpers; this file uses only some
mod support;

use support::{Client, TestBroker};
use weir_protocol::messages::ApiKey;
use weir_protocol::{ResponseBody as R, decode_response};

/// confluent-kafka 2.16.1's `AdminClient.list_topics()` (and `kcat -L` on librdkafka 2.16):
/// an all-topics Metadata v12 request with three stray bytes after its body, captured by
/// tests/compat/record_proxy.py. Kafka ignores the stray bytes and lists every topic; weir
/// closed the connection until it did the same.
#[tokio::test]
async fn librdkafka_2_16_all_topics_metadata_lists_every_topic() {
    let broker = TestBroker::start(&[]).await;
    let mut c = Client::connect(broker.addr).await;
    c.create_topic("quirk-a", 2, &[]).await;
    c.create_topic("quirk-b", 1, &[]).await;
    let raw = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../weir-protocol/tests/fixtures/quirks/librdkafka-2.16.0-metadata-v12-all-topics.bin"
    ))
    .unwrap();
    c.raw(&raw).await;
    let frame = c.read_frame().await.expect("answered, not closed");
    let (header, body) = decode_response(ApiKey::Metadata, 12, frame).unwrap();
    assert_eq!(header.correlation_id, 3, "the captured request's id");
    let R::Metadata(m) = body else {
        panic!("not Metadata")
    };
    let mut names: Vec<_> = m.topics.iter().filter_map(|t| t.name.clone()).collect();
    names.sort();
    assert!(
        names.contains(&"quirk-a".to_string()) && names.contains(&"quirk-b".to_string()),
        "{names:?}"
    );
    assert_eq!(m.brokers.len(), 1);
    // The connection stays usable.
    c.create_topic("quirk-c", 1, &[]).await;
}
