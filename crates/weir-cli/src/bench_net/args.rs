//! The flags of `weir bench produce|consume|e2e`, parsed and then validated.

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;
use weir_protocol::records::Compression;

/// Default record value size, bytes.
pub const RECORD_SIZE_BYTES_DEFAULT: usize = 1024;
/// Default records when neither `--records` nor `--duration` is given.
pub const RECORDS_DEFAULT: u64 = 1_000_000;
/// Default producer batch size, bytes (1 MiB, near librdkafka's 1,000,000).
pub const BATCH_BYTES_DEFAULT: usize = 1 << 20;
/// Default producer linger, milliseconds (librdkafka's 5).
pub const LINGER_MS_DEFAULT: u64 = 5;
/// Default produce requests in flight per producer connection (Kafka's 5).
pub const IN_FLIGHT_DEFAULT: usize = 5;
/// Largest record value size, bytes (the broker's default `message_max_bytes` is 1 MiB).
pub const RECORD_SIZE_BYTES_MAX: usize = 1 << 20;
/// Largest number of producer tasks.
pub const PRODUCERS_MAX: usize = 1024;
/// Largest number of partitions of a created topic.
pub const PARTITIONS_MAX: i32 = 10_000;

/// How long a warm-up lasts: a count of records or a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Warmup {
    /// The first N records completed are excluded.
    Records(u64),
    /// Records completed in the first span are excluded.
    Time(#[serde(serialize_with = "secs")] Duration),
}

fn secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

/// Parses `--warmup`: a plain number is a record count; `2s`, `500ms`, `1m` a time.
pub fn parse_warmup(s: &str) -> Result<Warmup, String> {
    if let Ok(n) = s.parse::<u64>() {
        return Ok(Warmup::Records(n));
    }
    parse_duration(s).map(Warmup::Time)
}

/// Parses a time: `10s`, `250ms`, `2m`, or a plain number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit_s) = if let Some(n) = s.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = s.strip_suffix('m') {
        (n, 60.0)
    } else {
        (s, 1.0)
    };
    let v: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("{s:?}: expected a time such as 10s, 500ms or 2m"))?;
    if !v.is_finite() || v < 0.0 || v * unit_s > 1e9 {
        return Err(format!("{s:?}: out of range"));
    }
    Ok(Duration::from_secs_f64(v * unit_s))
}

/// Parses `--acks`: `0`, `1`, `-1` or `all`.
pub fn parse_acks(s: &str) -> Result<i16, String> {
    match s {
        "all" | "-1" => Ok(-1),
        "0" => Ok(0),
        "1" => Ok(1),
        _ => Err(format!("{s:?}: expected 0, 1, -1 or all")),
    }
}

/// Parses `--compression`.
pub fn parse_compression(s: &str) -> Result<Compression, String> {
    match s {
        "none" => Ok(Compression::None),
        "gzip" => Ok(Compression::Gzip),
        "snappy" => Ok(Compression::Snappy),
        "lz4" => Ok(Compression::Lz4),
        "zstd" => Ok(Compression::Zstd),
        _ => Err(format!("{s:?}: expected none, gzip, snappy, lz4 or zstd")),
    }
}

/// Flags shared by `produce`, `consume` and `e2e`.
#[derive(Debug, Clone, clap::Args)]
pub struct NetArgs {
    /// Broker to bootstrap from.
    #[arg(long, default_value = "127.0.0.1:9092", value_name = "HOST:PORT")]
    pub bootstrap: String,
    /// Client properties, as every client command's `--command-config` (SASL, TLS).
    #[arg(long, value_name = "FILE")]
    pub command_config: Option<std::path::PathBuf>,
    /// Topic (created with `--partitions` if missing).
    #[arg(long, default_value = "weir-bench")]
    pub topic: String,
    /// Record value size, bytes.
    #[arg(long, default_value_t = RECORD_SIZE_BYTES_DEFAULT)]
    pub record_size: usize,
    /// Records to measure (after the warm-up) [default: 1000000 unless --duration].
    #[arg(long, conflicts_with = "duration")]
    pub records: Option<u64>,
    /// Time to measure (after the warm-up), e.g. `30s`.
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Partitions of the topic when it is created.
    #[arg(long, default_value_t = 1)]
    pub partitions: i32,
    /// Producer tasks, each with its own producer.
    #[arg(long, default_value_t = 1)]
    pub producers: usize,
    /// Producer batch size, bytes (Kafka's `batch.size`).
    #[arg(long, default_value_t = BATCH_BYTES_DEFAULT)]
    pub batch_size: usize,
    /// Producer linger, milliseconds (Kafka's `linger.ms`).
    #[arg(long, default_value_t = LINGER_MS_DEFAULT)]
    pub linger_ms: u64,
    /// Producer acks: 0, 1, -1 or all.
    #[arg(long, default_value = "1", value_parser = parse_acks, allow_hyphen_values = true)]
    pub acks: i16,
    /// Producer compression: none, gzip, snappy, lz4, zstd.
    #[arg(long, default_value = "none", value_parser = parse_compression)]
    pub compression: Compression,
    /// Produce requests in flight per producer (≤ 5).
    #[arg(long, default_value_t = IN_FLIGHT_DEFAULT)]
    pub max_in_flight: usize,
    /// Target records/s over all producers; 0 = unthrottled. Latency is then measured
    /// from each record's scheduled send time (coordinated-omission correction).
    #[arg(long, default_value_t = 0)]
    pub rate: u64,
    /// Warm-up excluded from the figures: a record count (`10000`) or a time (`2s`).
    #[arg(long, default_value = "0", value_parser = parse_warmup)]
    pub warmup: Warmup,
    /// Directory for the page-cache and storage-append ceilings' scratch files (default:
    /// the system temp dir; use the broker's data disk for a fair figure).
    #[arg(long, value_name = "DIR")]
    pub scratch_dir: Option<PathBuf>,
    /// Skip the ceilings (loopback TCP, storage append, page-cache read).
    #[arg(long)]
    pub no_ceilings: bool,
    /// `produce`: transactional producers, each committing every
    /// `--transaction-records` records, run after an idempotent pass of the same settings
    /// on the same topic; both are reported, with commit latency (implies `--acks all`).
    #[arg(long)]
    pub transactional: bool,
    /// Records per transaction of `--transactional`.
    #[arg(long, default_value_t = TRANSACTION_RECORDS_DEFAULT, requires = "transactional")]
    pub transaction_records: u64,
    /// Print the full result (series included) as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Records per transaction of `--transactional` by default.
pub const TRANSACTION_RECORDS_DEFAULT: u64 = 100;

/// When a run stops sending (or consuming).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// After this many measured records.
    Records(u64),
    /// After this long measured.
    Time(Duration),
}

/// `NetArgs` validated.
#[derive(Debug, Clone, Serialize)]
pub struct Settings {
    /// Bootstrap address.
    pub bootstrap: String,
    /// The `--command-config` file, if any.
    pub command_config: Option<std::path::PathBuf>,
    /// Topic.
    pub topic: String,
    /// Record value size, bytes.
    pub record_size: usize,
    /// Measured records, if the run is bounded by a count.
    pub records: Option<u64>,
    /// Measured seconds, if the run is bounded by a time.
    pub duration_s: Option<f64>,
    /// Partitions of a created topic.
    pub partitions: i32,
    /// Producer tasks.
    pub producers: usize,
    /// Producer batch bytes.
    pub batch_size: usize,
    /// Producer linger, ms.
    pub linger_ms: u64,
    /// Producer acks.
    pub acks: i16,
    /// Producer compression.
    pub compression: String,
    /// Produce requests in flight per producer.
    pub max_in_flight: usize,
    /// Records/s (0: unthrottled).
    pub rate: u64,
    /// Warm-up.
    pub warmup: Warmup,
    /// Ceilings measured.
    pub ceilings: bool,
    /// Records per transaction of a transactional run (`None`: idempotent).
    pub transaction_records: Option<u64>,
    #[serde(skip)]
    /// Scratch directory for the page-cache ceiling.
    pub scratch_dir: PathBuf,
    #[serde(skip)]
    /// Compression, typed.
    pub codec: Compression,
    #[serde(skip)]
    /// Print JSON.
    pub json: bool,
}

impl Settings {
    /// Validates `a`; `value_bytes_min` is the smallest record size the command can
    /// embed its stamps in.
    pub fn new(a: NetArgs, value_bytes_min: usize) -> anyhow::Result<Settings> {
        anyhow::ensure!(
            (value_bytes_min.max(1)..=RECORD_SIZE_BYTES_MAX).contains(&a.record_size),
            "--record-size must be within {}..={RECORD_SIZE_BYTES_MAX} bytes",
            value_bytes_min.max(1)
        );
        anyhow::ensure!(
            (1..=PRODUCERS_MAX).contains(&a.producers),
            "--producers must be within 1..={PRODUCERS_MAX}"
        );
        anyhow::ensure!(
            (1..=PARTITIONS_MAX).contains(&a.partitions),
            "--partitions must be within 1..={PARTITIONS_MAX}"
        );
        anyhow::ensure!(
            (1..=5).contains(&a.max_in_flight),
            "--max-in-flight must be within 1..=5"
        );
        anyhow::ensure!(a.batch_size > 0, "--batch-size must be positive");
        anyhow::ensure!(!a.topic.is_empty(), "--topic must not be empty");
        if let Some(d) = a.duration {
            anyhow::ensure!(!d.is_zero(), "--duration must be positive");
        }
        let records = match (a.records, a.duration) {
            (Some(n), _) => Some(n),
            (None, None) => Some(RECORDS_DEFAULT),
            (None, Some(_)) => None,
        };
        if let Some(n) = records {
            anyhow::ensure!(n > 0, "--records must be positive");
        }
        anyhow::ensure!(
            !a.transactional || a.transaction_records > 0,
            "--transaction-records must be positive"
        );
        Ok(Settings {
            bootstrap: a.bootstrap,
            command_config: a.command_config,
            topic: a.topic,
            record_size: a.record_size,
            records,
            duration_s: a.duration.map(|d| d.as_secs_f64()),
            partitions: a.partitions,
            producers: a.producers,
            batch_size: a.batch_size,
            linger_ms: a.linger_ms,
            // A transactional producer is idempotent: acks=all.
            acks: if a.transactional { -1 } else { a.acks },
            compression: format!("{:?}", a.compression).to_lowercase(),
            max_in_flight: a.max_in_flight,
            rate: a.rate,
            warmup: a.warmup,
            ceilings: !a.no_ceilings,
            transaction_records: a.transactional.then_some(a.transaction_records),
            scratch_dir: a.scratch_dir.unwrap_or_else(std::env::temp_dir),
            codec: a.compression,
            json: a.json,
        })
    }

    /// When the measured part of the run stops.
    pub fn stop(&self) -> Stop {
        match (self.records, self.duration_s) {
            (Some(n), _) => Stop::Records(n),
            (None, Some(s)) => Stop::Time(Duration::from_secs_f64(s)),
            (None, None) => Stop::Records(RECORDS_DEFAULT),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_warmups_parse() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("-1s").is_err());
        assert!(parse_duration("soon").is_err());
        assert_eq!(parse_warmup("5000"), Ok(Warmup::Records(5000)));
        assert_eq!(parse_warmup("2s"), Ok(Warmup::Time(Duration::from_secs(2))));
        assert_eq!(parse_acks("all"), Ok(-1));
        assert_eq!(parse_acks("-1"), Ok(-1));
        assert!(parse_acks("2").is_err());
        assert_eq!(parse_compression("zstd"), Ok(Compression::Zstd));
        assert!(parse_compression("brotli").is_err());
    }
}
