//! The benchmark topic: found or created, and its partitions' offsets.

use weir_client::admin::NewTopic;
use weir_client::{Client, OffsetSpec};
use weir_protocol::ErrorCode;

/// Longest wait for a created topic to show in Metadata.
const CREATED_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// The partition count of `topic`, creating it with `partitions` if it is missing.
pub async fn ensure(client: &Client, topic: &str, partitions: i32) -> anyhow::Result<i32> {
    let names = [topic.to_string()];
    let meta = client.metadata(Some(&names)).await?;
    if let Some(t) = meta.topic(topic)
        && !t.partitions.is_empty()
    {
        let n = i32::try_from(t.partitions.len())?;
        if n != partitions {
            tracing::warn!(
                topic,
                existing = n,
                asked = partitions,
                "the topic exists: using its partition count"
            );
        }
        return Ok(n);
    }
    let new = NewTopic {
        name: topic.to_string(),
        partitions,
        replication_factor: -1,
        configs: Vec::new(),
    };
    for (name, result) in client.create_topics(&[new], false).await? {
        match result {
            Ok(()) => {}
            // Created meanwhile by someone else: use it as it is.
            Err(e) if e.code() == Some(ErrorCode::TOPIC_ALREADY_EXISTS) => {}
            Err(e) => return Err(anyhow::Error::new(e).context(format!("creating topic {name}"))),
        }
    }
    // Metadata may trail the creation briefly: wait until the partitions show.
    let deadline = std::time::Instant::now() + CREATED_WAIT;
    loop {
        let meta = client.metadata(Some(&names)).await?;
        if let Some(t) = meta.topic(topic)
            && !t.partitions.is_empty()
        {
            return Ok(i32::try_from(t.partitions.len())?);
        }
        anyhow::ensure!(
            std::time::Instant::now() < deadline,
            "topic {topic} was created but Metadata does not show its partitions"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Each partition's (earliest, latest) offsets. Two requests: Kafka refuses a
/// partition named twice in one ListOffsets request.
pub async fn offsets(
    client: &Client,
    topic: &str,
    partitions: i32,
) -> anyhow::Result<Vec<(i64, i64)>> {
    let ask = |spec: OffsetSpec| -> Vec<(String, i32, OffsetSpec)> {
        (0..partitions)
            .map(|p| (topic.to_string(), p, spec))
            .collect()
    };
    let earliest = client
        .list_offsets_batch(&ask(OffsetSpec::Earliest))
        .await?;
    let latest = client.list_offsets_batch(&ask(OffsetSpec::Latest)).await?;
    let n = usize::try_from(partitions)?;
    anyhow::ensure!(
        earliest.len() == n && latest.len() == n,
        "ListOffsets answered {} and {} of {n} partitions",
        earliest.len(),
        latest.len()
    );
    for (p, (e, l)) in earliest.iter().zip(&latest).enumerate() {
        anyhow::ensure!(
            e.offset >= 0 && l.offset >= e.offset,
            "ListOffsets for {topic}-{p}: earliest {}, latest {}",
            e.offset,
            l.offset
        );
    }
    Ok(earliest
        .iter()
        .zip(&latest)
        .map(|(e, l)| (e.offset, l.offset))
        .collect())
}
