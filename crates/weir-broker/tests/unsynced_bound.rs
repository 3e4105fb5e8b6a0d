//! `partition_unsynced_bytes_max` (issue #16, backpressure): under the fsync policy an
//! `acks=1` produce is answered at once while its partition holds few unsynced bytes, and
//! only after the partition's fsync once they pass the bound, so producers that outrun the
//! disk slow to its pace. The broker runs over `FaultFs` with every fsync slowed to 400 ms,
//! which makes the two cases tell apart by the answer's latency and by the high watermark
//! (the durable end under the fsync policy) a Fetch sees just after the answer.

#[allow(dead_code)] // the shared helpers; this file uses only some
mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use support::Client;
use support::node::start;
use weir_protocol::records::{BatchBuilder, BatchSettings, NewRecord};
use weir_storage::FaultFs;

const SYNC_DELAY: Duration = Duration::from_millis(400);

fn batch(value_bytes: usize) -> Bytes {
    let mut b = BatchBuilder::new(BatchSettings::default());
    b.push(NewRecord {
        value: Some(Bytes::from(vec![7u8; value_bytes])),
        ..Default::default()
    })
    .unwrap();
    b.build().unwrap()
}

#[tokio::test]
async fn acks_1_waits_for_the_fsync_only_past_the_partition_bound() {
    // (bound, whether a 200 kB acks=1 batch must wait for its fsync)
    for (bound, waits) in [("65536", true), ("1073741824", false)] {
        let dir = tempfile::tempdir().unwrap();
        let fs = FaultFs::new();
        let node = start(
            dir.path(),
            Arc::new(fs.clone()),
            &[("partition_unsynced_bytes_max", bound)],
        )
        .await;
        let mut c = Client::connect(node.addr).await;
        c.create_topic("t", 1, &[]).await;
        fs.set_sync_delay(SYNC_DELAY);
        let started = Instant::now();
        let (code, base) = c.produce("t", 0, 1, batch(200_000)).await;
        let took = started.elapsed();
        let hw = c.fetch_partition("t", 0, 0).await.high_watermark;
        assert_eq!((code, base), (0, 0), "bound {bound}");
        if waits {
            assert!(took >= SYNC_DELAY, "bound {bound}: answered in {took:?}");
            assert_eq!(
                hw, 1,
                "bound {bound}: answered before the batch was durable"
            );
        } else {
            assert!(took < SYNC_DELAY, "bound {bound}: waited {took:?}");
            assert_eq!(hw, 0, "bound {bound}: the fsync ran before the answer");
        }
        fs.set_sync_delay(Duration::ZERO);
        drop(c);
        node.crash().await;
    }
}
