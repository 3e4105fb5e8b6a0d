//! `weir produce TOPIC`: records from stdin, one per line, or JSON lines.

use std::io::BufRead as _;

use anyhow::{Context as _, bail};
use bytes::Bytes;
use serde_json::json;
use weir_client::{DeliveryFuture, Producer, ProducerConfig, ProducerRecord};

use super::format::parse_json_record;
use super::{ConnArgs, block_on, connect, parse_acks, parse_compression, parse_pair, parse_time};

/// Deliveries awaited behind the reader at most (bounds memory on long inputs).
const DELIVERIES_QUEUED_MAX: usize = 10_000;

/// `weir produce TOPIC`
#[derive(Debug, clap::Args)]
pub struct ProduceArgs {
    #[command(flatten)]
    conn: ConnArgs,
    /// The topic.
    topic: String,
    /// Every line is a JSON object: `{"key", "value", "headers", "partition", "timestamp"}`
    /// (the output of `weir consume --json` reads back).
    #[arg(long)]
    json: bool,
    /// Key of every record (plain lines).
    #[arg(long, short = 'k', conflicts_with = "key_separator")]
    key: Option<String>,
    /// Split each plain line at the first SEP into key and value (kcat's `-K`).
    #[arg(long, short = 'K', value_name = "SEP")]
    key_separator: Option<String>,
    /// A header on every record, `k=v` (repeatable).
    #[arg(long = "header", short = 'H', value_name = "K=V")]
    headers: Vec<String>,
    /// Partition of every record (default: by key, or sticky round-robin for keyless ones).
    #[arg(long, short = 'p')]
    partition: Option<i32>,
    /// Timestamp of every record: epoch ms or RFC 3339 (default: now).
    #[arg(long)]
    timestamp: Option<String>,
    /// none, gzip, snappy, lz4 or zstd.
    #[arg(long, default_value = "none")]
    compression: String,
    /// all (-1), 1 or 0.
    #[arg(long, default_value = "all", allow_hyphen_values = true)]
    acks: String,
    /// Time a batch waits for more records, in ms.
    #[arg(long, default_value_t = weir_client::LINGER_MS_DEFAULT)]
    linger_ms: u64,
    /// Batch size, in bytes.
    #[arg(long, default_value_t = weir_client::BATCH_BYTES_DEFAULT)]
    batch_bytes: usize,
    /// Turn the idempotent producer off (it is on with acks=all).
    #[arg(long)]
    no_idempotence: bool,
    /// Print the summary as one JSON object.
    #[arg(long)]
    report_json: bool,
}

/// Runs `weir produce`.
pub fn run(args: ProduceArgs) -> anyhow::Result<()> {
    let headers: Vec<(String, Option<Bytes>)> = args
        .headers
        .iter()
        .map(|h| parse_pair(h).map(|(k, v)| (k, Some(Bytes::from(v)))))
        .collect::<Result<_, _>>()?;
    let timestamp_ms = args.timestamp.as_deref().map(parse_time).transpose()?;
    let config = ProducerConfig {
        acks: parse_acks(&args.acks)?,
        compression: parse_compression(&args.compression)?,
        linger_ms: args.linger_ms,
        batch_bytes: args.batch_bytes,
        idempotent: !args.no_idempotence,
        ..Default::default()
    };
    block_on(async move {
        let client = connect(&args.conn).await?;
        let producer = Producer::new(client, config)?;
        let (tx, mut rx) =
            tokio::sync::mpsc::channel::<(usize, DeliveryFuture)>(DELIVERIES_QUEUED_MAX);
        // Deliveries are awaited in order behind the reader; the first failure stops the run.
        let waiter = tokio::spawn(async move {
            let mut acked = 0u64;
            let mut partitions = std::collections::BTreeMap::<i32, u64>::new();
            while let Some((line, d)) = rx.recv().await {
                let meta = d
                    .await
                    .with_context(|| format!("record of input line {line}"))?;
                acked += 1;
                *partitions.entry(meta.partition).or_default() += 1;
            }
            anyhow::Ok((acked, partitions))
        });
        let (lines_tx, mut lines_rx) = tokio::sync::mpsc::channel::<std::io::Result<String>>(1024);
        std::thread::spawn(move || {
            for line in std::io::stdin().lock().lines() {
                if lines_tx.blocking_send(line).is_err() {
                    break;
                }
            }
        });
        let mut n = 0usize;
        let mut failure = None;
        while let Some(line) = lines_rx.recv().await {
            n += 1;
            let line = line.context("reading stdin")?;
            let record = match build(&args, &headers, timestamp_ms, &line) {
                Ok(r) => r,
                Err(e) => {
                    failure = Some(e.context(format!("input line {n}")));
                    break;
                }
            };
            let delivery = match producer.send(record).await {
                Ok(d) => d,
                Err(e) => {
                    failure = Some(anyhow::Error::new(e).context(format!("input line {n}")));
                    break;
                }
            };
            if tx.send((n, delivery)).await.is_err() {
                break;
            }
        }
        drop(tx);
        let closed = producer.close().await;
        let (acked, partitions) = waiter.await.context("delivery task")??;
        if let Some(e) = failure {
            return Err(e);
        }
        closed?;
        if args.report_json {
            println!(
                "{}",
                json!({"topic": args.topic, "records": acked, "partitions": partitions})
            );
        } else {
            eprintln!("produced {acked} record(s) to {}", args.topic);
        }
        Ok(())
    })
}

fn build(
    args: &ProduceArgs,
    headers: &[(String, Option<Bytes>)],
    timestamp_ms: Option<i64>,
    line: &str,
) -> anyhow::Result<ProducerRecord> {
    let mut record = ProducerRecord {
        topic: args.topic.clone(),
        partition: args.partition,
        headers: headers.to_vec(),
        timestamp_ms,
        ..Default::default()
    };
    if args.json {
        let j = parse_json_record(line)?;
        record.key = j.key.or_else(|| args.key.clone().map(Bytes::from));
        record.value = j.value;
        record.headers.extend(j.headers);
        record.partition = j.partition.or(args.partition);
        record.timestamp_ms = j.timestamp_ms.or(timestamp_ms);
    } else if let Some(sep) = &args.key_separator {
        let Some((k, v)) = line.split_once(sep.as_str()) else {
            bail!("no key separator {sep:?} in the line");
        };
        record.key = Some(Bytes::from(k.to_string()));
        record.value = Some(Bytes::from(v.to_string()));
    } else {
        record.key = args.key.clone().map(Bytes::from);
        record.value = Some(Bytes::from(line.to_string()));
    }
    Ok(record)
}
