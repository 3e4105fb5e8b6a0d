//! Fetch (key 1): sessionless reads with long polling. Record bytes are slices of the mapped
//! segment files, handed to the encoder as their own chunks: never copied.

use std::time::Duration;

use bytes::Bytes;
use weir_protocol::ErrorCode;
use weir_protocol::messages::fetch::{
    FetchRequest, FetchResponse, FetchableTopicResponse, PartitionData,
};

use crate::errors::PartitionError;
use crate::offload;
use crate::topics::Topics;

/// Longest a fetch may wait, whatever the client asks (Kafka clients ask for 500 ms or so).
pub const FETCH_WAIT_MS_MAX: u64 = 30_000;

/// `isolation_level` of a read-committed consumer.
const READ_COMMITTED: i8 = 1;

pub(crate) async fn handle(topics: &Topics, req: FetchRequest, _version: i16) -> FetchResponse {
    if req.session_id != 0 {
        return FetchResponse {
            error_code: ErrorCode::FETCH_SESSION_ID_NOT_FOUND.0,
            ..Default::default()
        };
    }
    let wait = Duration::from_millis(
        u64::try_from(req.max_wait_ms)
            .unwrap_or(0)
            .min(FETCH_WAIT_MS_MAX),
    );
    let deadline = tokio::time::Instant::now() + wait;
    let min_bytes = usize::try_from(req.min_bytes).unwrap_or(0);
    let mut appended = topics.subscribe_appended();
    loop {
        // Mark the current version seen before reading, so an append racing this read wakes us.
        appended.borrow_and_update();
        let (resp, bytes) = read_all(topics, &req);
        if bytes >= min_bytes || wait.is_zero() || tokio::time::Instant::now() >= deadline {
            return resp;
        }
        tokio::select! {
            changed = appended.changed() => if changed.is_err() { return resp },
            _ = tokio::time::sleep_until(deadline) => return read_all(topics, &req).0,
        }
    }
}

/// One pass over every requested partition; returns the response and its record bytes.
fn read_all(topics: &Topics, req: &FetchRequest) -> (FetchResponse, usize) {
    let mut budget = usize::try_from(req.max_bytes).unwrap_or(0);
    let mut total = 0usize;
    let read_committed = req.isolation_level == READ_COMMITTED;
    let mut responses = Vec::with_capacity(req.topics.len());
    for t in &req.topics {
        let mut parts = Vec::with_capacity(t.partitions.len());
        for fp in &t.partitions {
            let mut pd = PartitionData {
                partition_index: fp.partition,
                aborted_transactions: read_committed.then(Vec::new),
                records: Some(Bytes::new()),
                ..Default::default()
            };
            let p = match topics.partition(&t.topic, fp.partition) {
                Ok(p) => p,
                Err(code) => {
                    pd.error_code = code.0;
                    parts.push(pd);
                    continue;
                }
            };
            let hw = p.high_watermark();
            let log_start = p.log.log_start();
            pd.high_watermark = hw;
            pd.last_stable_offset = hw;
            pd.log_start_offset = log_start;
            let offset = fp.fetch_offset;
            if offset < log_start || offset > p.log.log_end() {
                pd.error_code = ErrorCode::OFFSET_OUT_OF_RANGE.0;
                parts.push(pd);
                continue;
            }
            if offset >= hw {
                parts.push(pd); // caught up: nothing readable yet
                continue;
            }
            let limit = usize::try_from(fp.partition_max_bytes)
                .unwrap_or(0)
                .min(budget);
            // The first batch of the response is returned whole even past the limits, so a
            // consumer can always make progress; later partitions respect them.
            // A large read (CRC-32C of every batch, page faults) runs off the async worker.
            let read = offload::run(limit, || p.log.read(offset, limit.max(1), hw));
            match read {
                Ok(r) if total == 0 || r.batches.len() <= limit => {
                    total += r.batches.len();
                    budget = budget.saturating_sub(r.batches.len());
                    pd.records = Some(r.batches);
                }
                Ok(_) => {}
                Err(e) => {
                    let e = PartitionError::from(e);
                    tracing::warn!(topic = %t.topic, partition = fp.partition, error = %e, "fetch read failed");
                    pd.error_code = e.code().0;
                }
            }
            parts.push(pd);
        }
        responses.push(FetchableTopicResponse {
            topic: t.topic.clone(),
            partitions: parts,
            ..Default::default()
        });
    }
    (
        FetchResponse {
            responses,
            ..Default::default()
        },
        total,
    )
}
