//! The Kafka client commands (`weir topic|produce|consume|replay|group|acl|quota`), built on
//! `weir-client`: plain Kafka protocol, so they work against any Kafka-compatible broker.
//! See `docs/cli.md` for every command and the behaviours chosen.

pub mod acl;
pub mod command_config;
pub mod consume;
pub mod format;
pub mod group;
pub mod produce;
pub mod quota;
pub mod replay;
pub mod topic;
pub mod txn;

use std::io::IsTerminal as _;

use anyhow::{Context as _, bail};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use weir_client::{Client, ClientOptions, Compression};

/// The broker address every client command takes.
#[derive(Debug, Clone, clap::Args)]
pub struct ConnArgs {
    /// Broker(s) to bootstrap from, `host:port[,host:port...]`.
    #[arg(
        long,
        global = true,
        value_name = "HOST:PORT",
        default_value = "127.0.0.1:9092",
        env = "WEIR_BOOTSTRAP"
    )]
    pub bootstrap: String,
    /// Client properties, librdkafka style (`security.protocol`, `sasl.mechanism`,
    /// `sasl.username`, `sasl.password`, `ssl.*`), one `key=value` a line.
    #[arg(long, global = true, value_name = "FILE", env = "WEIR_COMMAND_CONFIG")]
    pub command_config: Option<std::path::PathBuf>,
}

/// Runs an async command on a small runtime.
pub fn block_on<T>(f: impl std::future::Future<Output = anyhow::Result<T>>) -> anyhow::Result<T> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(f)
}

/// Connects (versions negotiated, brokers known).
pub async fn connect(conn: &ConnArgs) -> anyhow::Result<Client> {
    let security = match &conn.command_config {
        Some(path) => command_config::load(path)?,
        None => command_config::Security::default(),
    };
    Client::connect(
        &conn.bootstrap,
        ClientOptions {
            client_id: "weir-cli".into(),
            sasl: security.sasl,
            tls: security.tls,
            ..Default::default()
        },
    )
    .await
    .with_context(|| format!("connecting to {}", conn.bootstrap))
}

/// A progress bar on stderr, shown only when stderr is a terminal (and, for commands that
/// print records, stdout is not: records and a bar would interleave).
pub fn progress(len: u64, prints_to_stdout: bool, what: &str) -> ProgressBar {
    let show =
        std::io::stderr().is_terminal() && !(prints_to_stdout && std::io::stdout().is_terminal());
    if !show {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    let style =
        ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} records ({per_sec}, eta {eta})")
            .map(|s| s.progress_chars("=> "))
            .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar.set_message(what.to_string());
    bar
}

/// A codec by Kafka's name.
pub fn parse_compression(s: &str) -> anyhow::Result<Compression> {
    Compression::ALL
        .into_iter()
        .find(|c| c.name() == s)
        .with_context(|| format!("unknown compression {s:?} (none, gzip, snappy, lz4, zstd)"))
}

/// acks: `all`/`-1`, `1`, `0`.
pub fn parse_acks(s: &str) -> anyhow::Result<i16> {
    match s {
        "all" | "-1" => Ok(-1),
        "1" => Ok(1),
        "0" => Ok(0),
        _ => bail!("--acks must be all, -1, 1 or 0, not {s:?}"),
    }
}

/// A `KEY=VALUE` pair.
pub fn parse_pair(s: &str) -> anyhow::Result<(String, String)> {
    let (k, v) = s
        .split_once('=')
        .with_context(|| format!("{s:?}: expected KEY=VALUE"))?;
    Ok((k.to_string(), v.to_string()))
}

/// A time: epoch milliseconds (all digits, optional minus) or RFC 3339
/// (`2026-11-27T22:10:00Z`, `2026-11-27T22:10:00.250+01:00`; a space may replace the `T`).
pub fn parse_time(s: &str) -> anyhow::Result<i64> {
    let t = s.trim();
    if !t.is_empty()
        && t.trim_start_matches('-')
            .bytes()
            .all(|b| b.is_ascii_digit())
    {
        return t
            .parse()
            .with_context(|| format!("{s:?}: not a millisecond timestamp"));
    }
    parse_rfc3339(t).with_context(|| {
        format!("{s:?}: expected epoch milliseconds or RFC 3339 (2026-11-27T22:10:00Z)")
    })
}

fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let num = |from: usize, len: usize| -> Option<i64> {
        let part = s.get(from..from + len)?;
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (year, month, day) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    let (hour, minute, second) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut i = 19;
    let mut millis = 0i64;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return None;
        }
        let frac = &s[start..i.min(start + 3)];
        millis = frac.parse::<i64>().ok()? * 10i64.pow(3 - frac.len() as u32);
    }
    let offset_minutes = match b.get(i)? {
        b'Z' | b'z' if i + 1 == b.len() => 0,
        sign @ (b'+' | b'-') if i + 6 == b.len() && b[i + 3] == b':' => {
            let m = num(i + 1, 2)? * 60 + num(i + 4, 2)?;
            if *sign == b'-' { -m } else { m }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset_minutes * 60;
    Some(seconds * 1000 + millis)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_as_epoch_ms_or_rfc3339() {
        assert_eq!(parse_time("1700000000123").unwrap(), 1_700_000_000_123);
        assert_eq!(parse_time("1970-01-01T00:00:00Z").unwrap(), 0);
        assert_eq!(
            parse_time("2023-11-14T22:13:20Z").unwrap(),
            1_700_000_000_000
        );
        assert_eq!(
            parse_time("2023-11-14T22:13:20.5Z").unwrap(),
            1_700_000_000_500
        );
        assert_eq!(
            parse_time("2023-11-14 23:13:20.123+01:00").unwrap(),
            1_700_000_000_123
        );
        assert_eq!(
            parse_time("2000-03-01T00:00:00-00:30").unwrap(),
            951_870_600_000
        );
        assert!(parse_time("2023-13-14T22:13:20Z").is_err());
        assert!(parse_time("yesterday").is_err());
        assert!(parse_time("2023-11-14T22:13:20").is_err());
    }
}
