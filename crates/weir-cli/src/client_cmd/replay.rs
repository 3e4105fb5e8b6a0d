//! `weir replay SRC DST`: copies a range of a topic (by offset or time, some partitions or
//! all) into another, keeping keys, headers and timestamps, with the idempotent producer.
//!
//! `--exactly-once` copies in transactions (consume-transform-produce): each transaction
//! holds up to `--transaction-records` copies and the source positions, committed for a
//! group as Kafka's `sendOffsetsToTransaction` does; a replay interrupted and started again
//! with the same transactional id resumes from the group's committed positions, fences the
//! interrupted one and aborts what it left open, so every record is copied exactly once for
//! read_committed consumers.

use std::collections::BTreeMap;

use anyhow::{Context as _, bail};
use serde_json::json;
use weir_client::{FetchConfig, Fetcher, Isolation, Producer, ProducerConfig, ProducerRecord};
use weir_protocol::ErrorCode;

use super::consume::{bounds, offsets_for_time, select_partitions};
use super::{ConnArgs, block_on, connect, parse_compression, parse_time, progress};

/// Deliveries awaited behind the copy loop at most.
const DELIVERIES_QUEUED_MAX: usize = 10_000;

/// `weir replay SRC DST`
#[derive(Debug, clap::Args)]
pub struct ReplayArgs {
    #[command(flatten)]
    conn: ConnArgs,
    /// Source topic.
    source: String,
    /// Destination topic (must exist).
    destination: String,
    /// Only these source partitions (repeatable; default: all).
    #[arg(long = "partition", short = 'p')]
    partitions: Vec<i32>,
    /// First offset copied (default: the log start).
    #[arg(long, conflicts_with = "from_time")]
    from_offset: Option<i64>,
    /// Stop before this offset (exclusive; default: the end when the command starts).
    #[arg(long, conflicts_with = "to_time")]
    to_offset: Option<i64>,
    /// Copy from the first record at or after this time (epoch ms or RFC 3339).
    #[arg(long)]
    from_time: Option<String>,
    /// Stop before the first record at or after this time (exclusive).
    #[arg(long)]
    to_time: Option<String>,
    /// Codec of the copies: none, gzip, snappy, lz4, zstd.
    #[arg(long, default_value = "none")]
    compression: String,
    /// Copy in transactions, resumable exactly once (see the module's documentation).
    #[arg(long)]
    exactly_once: bool,
    /// Transactional id of `--exactly-once` (default `weir-replay-SRC-DST`).
    #[arg(long, requires = "exactly_once")]
    transactional_id: Option<String>,
    /// Group whose committed offsets hold `--exactly-once`'s progress (default: the
    /// transactional id).
    #[arg(long, requires = "exactly_once")]
    group: Option<String>,
    /// Copies per transaction of `--exactly-once`.
    #[arg(long, default_value_t = TRANSACTION_RECORDS_DEFAULT, requires = "exactly_once")]
    transaction_records: u64,
    /// Print the report as one JSON object.
    #[arg(long)]
    json: bool,
}

/// Copies per transaction of `--exactly-once` by default.
const TRANSACTION_RECORDS_DEFAULT: u64 = 1000;

/// The transactional id and group of an exactly-once replay.
struct ExactlyOnce {
    transactional_id: String,
    group: String,
    per_transaction: u64,
}

impl ExactlyOnce {
    fn of(args: &ReplayArgs) -> anyhow::Result<Option<ExactlyOnce>> {
        if !args.exactly_once {
            return Ok(None);
        }
        anyhow::ensure!(
            args.transaction_records > 0,
            "--transaction-records must be at least 1"
        );
        let transactional_id = args
            .transactional_id
            .clone()
            .unwrap_or_else(|| format!("weir-replay-{}-{}", args.source, args.destination));
        Ok(Some(ExactlyOnce {
            group: args
                .group
                .clone()
                .unwrap_or_else(|| transactional_id.clone()),
            transactional_id,
            per_transaction: args.transaction_records,
        }))
    }
}

#[derive(Debug, Default, Clone)]
struct Copied {
    from: i64,
    to: i64,
    records: u64,
    first_timestamp: Option<i64>,
    last_timestamp: Option<i64>,
}

/// Runs `weir replay`.
pub fn run(args: ReplayArgs) -> anyhow::Result<()> {
    let from_time = args.from_time.as_deref().map(parse_time).transpose()?;
    let to_time = args.to_time.as_deref().map(parse_time).transpose()?;
    let compression = parse_compression(&args.compression)?;
    let eos = ExactlyOnce::of(&args)?;
    block_on(async move {
        let client = connect(&args.conn).await?;
        let partitions = select_partitions(&client, &args.source, &args.partitions).await?;
        let dst_meta = client
            .metadata(Some(std::slice::from_ref(&args.destination)))
            .await?;
        let dst = dst_meta
            .topic(&args.destination)
            .with_context(|| format!("no metadata for topic {}", args.destination))?;
        if dst.error == ErrorCode::UNKNOWN_TOPIC_OR_PARTITION {
            bail!(
                "destination topic {} does not exist (create it with `weir topic create`)",
                args.destination
            );
        }
        if dst.error != ErrorCode::NONE {
            bail!("destination topic {}: {}", args.destination, dst.error);
        }
        let dst_partitions = i32::try_from(dst.partitions.len()).unwrap_or(i32::MAX);
        // Same partition number when the destination has it for every source partition;
        // otherwise the default partitioner (by key).
        let same_partition = partitions.iter().all(|&p| p < dst_partitions);

        let b = bounds(&client, &args.source, &partitions).await?;
        let mut starts = match from_time {
            Some(t) => offsets_for_time(&client, &args.source, &partitions, t, &b).await?,
            None => partitions
                .iter()
                .map(|&p| (p, args.from_offset.unwrap_or(b[&p].0).max(b[&p].0)))
                .collect(),
        };
        if let Some(eos) = &eos {
            // Resume where the last committed transaction of this replay left off.
            for c in client.fetch_committed(&eos.group, None).await? {
                if c.topic == args.source
                    && c.offset >= 0
                    && let Some(s) = starts.get_mut(&c.partition)
                {
                    *s = (*s).max(c.offset);
                }
            }
        }
        let ends = match to_time {
            Some(t) => offsets_for_time(&client, &args.source, &partitions, t, &b).await?,
            None => partitions
                .iter()
                .map(|&p| (p, args.to_offset.unwrap_or(b[&p].1).min(b[&p].1)))
                .collect(),
        };
        let mut copied: BTreeMap<i32, Copied> = BTreeMap::new();
        let mut fetcher = Fetcher::new(
            client.clone(),
            FetchConfig {
                // An exactly-once copy reads only committed records.
                isolation: if eos.is_some() {
                    Isolation::ReadCommitted
                } else {
                    FetchConfig::default().isolation
                },
                ..FetchConfig::default()
            },
        );
        let mut total = 0u64;
        for &p in &partitions {
            let (from, to) = (starts[&p], ends[&p]);
            copied.insert(
                p,
                Copied {
                    from,
                    to: to.max(from),
                    ..Default::default()
                },
            );
            if from < to {
                fetcher.assign(&args.source, p, from);
                total += (to - from) as u64;
            }
        }
        let producer = Producer::new(
            client.clone(),
            ProducerConfig {
                acks: -1,
                idempotent: true,
                compression,
                transactional_id: eos.as_ref().map(|e| e.transactional_id.clone()),
                ..Default::default()
            },
        )?;
        let mut in_transaction = 0u64;
        let (tx, mut rx) = tokio::sync::mpsc::channel(DELIVERIES_QUEUED_MAX);
        let waiter = tokio::spawn(async move {
            let mut written: BTreeMap<i32, u64> = BTreeMap::new();
            while let Some(d) = rx.recv().await {
                let d: weir_client::DeliveryFuture = d;
                let meta = d.await.context("writing to the destination")?;
                *written.entry(meta.partition).or_default() += 1;
            }
            anyhow::Ok(written)
        });
        let bar = progress(
            total,
            false,
            &format!("{} → {}", args.source, args.destination),
        );
        let mut active = fetcher.assigned().len();
        let mut done = 0u64;
        while active > 0 {
            for r in fetcher.poll().await? {
                let c = copied
                    .get_mut(&r.partition)
                    .context("record from an unasked partition")?;
                if r.offset >= c.to {
                    continue;
                }
                c.records += 1;
                c.first_timestamp.get_or_insert(r.timestamp_ms);
                c.last_timestamp = Some(r.timestamp_ms);
                let record = ProducerRecord {
                    topic: args.destination.clone(),
                    partition: same_partition.then_some(r.partition),
                    key: r.key,
                    value: r.value,
                    headers: r.headers,
                    timestamp_ms: Some(r.timestamp_ms),
                };
                let d = producer.send(record).await?;
                if tx.send(d).await.is_err() {
                    break;
                }
                done += 1;
                in_transaction += 1;
            }
            if let Some(eos) = &eos
                && in_transaction >= eos.per_transaction
            {
                commit(&producer, eos, &args.source, &fetcher, &copied).await?;
                in_transaction = 0;
            }
            for (&p, c) in &copied {
                if let Some(pos) = fetcher.position(&args.source, p)
                    && pos >= c.to
                {
                    fetcher.remove(&args.source, p);
                    active -= 1;
                }
            }
            bar.set_position(done);
        }
        if let Some(eos) = &eos {
            commit(&producer, eos, &args.source, &fetcher, &copied).await?;
        }
        drop(tx);
        producer.close().await?;
        let written = waiter.await.context("delivery task")??;
        bar.finish_and_clear();
        report(&args, &copied, &written, same_partition);
        Ok(())
    })
}

/// Commits the open transaction with the source positions reached (capped at each
/// partition's end of range) as the group's offsets.
async fn commit(
    producer: &Producer,
    eos: &ExactlyOnce,
    source: &str,
    fetcher: &Fetcher,
    copied: &BTreeMap<i32, Copied>,
) -> anyhow::Result<()> {
    let offsets = copied
        .iter()
        .map(|(&p, c)| {
            let at = fetcher.position(source, p).unwrap_or(c.to).min(c.to);
            (source.to_string(), p, at)
        })
        .collect();
    producer
        .send_offsets_to_transaction(&eos.group, offsets)
        .await
        .context("adding the source positions to the transaction")?;
    producer
        .commit_transaction()
        .await
        .context("committing a transaction of copies")
}

fn report(
    args: &ReplayArgs,
    copied: &BTreeMap<i32, Copied>,
    written: &BTreeMap<i32, u64>,
    same_partition: bool,
) {
    let total: u64 = copied.values().map(|c| c.records).sum();
    if args.json {
        let parts: Vec<_> = copied
            .iter()
            .map(|(p, c)| {
                json!({
                    "partition": p,
                    "from_offset": c.from,
                    "to_offset": c.to,
                    "records": c.records,
                    "first_timestamp": c.first_timestamp,
                    "last_timestamp": c.last_timestamp,
                    "destination_partition": same_partition.then_some(*p),
                })
            })
            .collect();
        println!(
            "{}",
            json!({
                "source": args.source,
                "destination": args.destination,
                "records": total,
                "partitioning": if same_partition { "same" } else { "by key" },
                "partitions": parts,
                "written_per_destination_partition": written,
            })
        );
        return;
    }
    for (p, c) in copied {
        let target = if same_partition {
            format!("{}-{p}", args.destination)
        } else {
            format!("{} (by key)", args.destination)
        };
        println!(
            "{}-{p} [{}, {}) -> {target}: {} record(s)",
            args.source, c.from, c.to, c.records
        );
    }
    println!(
        "copied {total} record(s) from {} to {}",
        args.source, args.destination
    );
}
