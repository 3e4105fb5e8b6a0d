//! `weir top`: a live view of a broker from its metrics endpoint (`http_listen`, `/metrics`):
//! per topic the records and bytes per second in and the bytes per second out, per group the
//! lag, its trend and the age of the oldest unconsumed record, the fsync p99 and throttling,
//! all over the last interval (two scrapes `--interval-ms` apart). It refreshes in place until
//! interrupted; `--once` prints one view and exits, `--json` prints it as one JSON object.
//! The numbers are the ones Prometheus scrapes, so `weir top` and a dashboard agree.

mod exposition;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use bytes::Bytes;
use http_body_util::{BodyExt as _, Empty, Limited};
use serde::Serialize;

use crate::client_cmd::block_on;
use exposition::{Sample, parse, quantile};

/// The largest `/metrics` answer read (bytes); `metrics_series_max` keeps real ones far below.
const SCRAPE_BYTES_MAX: usize = 64 << 20;
/// How long one scrape may take (ms).
const SCRAPE_TIMEOUT_MS: u64 = 10_000;
/// The shortest `--interval-ms` accepted.
const INTERVAL_MS_MIN: u64 = 100;

#[derive(Debug, clap::Args)]
pub struct TopArgs {
    /// The broker's metrics endpoint (`http_listen`): `host:port`, or a URL
    /// `http://host:port/path` (default path `/metrics`).
    #[arg(long, default_value = "127.0.0.1:9464", value_name = "HOST:PORT|URL")]
    metrics: String,
    /// Time between the two scrapes a view is computed from, and between refreshes (ms).
    #[arg(long, default_value_t = 2000)]
    interval_ms: u64,
    /// Print one view and exit.
    #[arg(long)]
    once: bool,
    /// Print the view as JSON (with `--once`: one object; live: one object a line).
    #[arg(long)]
    json: bool,
    /// Also show the internal topics (`__consumer_offsets`, `__transaction_state`).
    #[arg(long)]
    internal: bool,
}

/// One topic's rates over the interval.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TopicRow {
    pub topic: String,
    pub records_in_per_s: f64,
    pub bytes_in_per_s: f64,
    pub bytes_out_per_s: f64,
    pub records_in_total: f64,
}

/// One group's queue depth.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupRow {
    pub group: String,
    pub state: String,
    pub members: f64,
    /// Records behind the high watermark (or the last stable offset), summed over partitions.
    pub lag: f64,
    /// Change of `lag` per second over the interval (positive: falling behind).
    pub lag_trend_per_s: f64,
    /// Age of the oldest unconsumed record over its partitions (s).
    pub lag_seconds_max: f64,
}

/// What one refresh shows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct View {
    pub interval_s: f64,
    pub topics: Vec<TopicRow>,
    pub groups: Vec<GroupRow>,
    /// p99 of the fsyncs done during the interval (s); `None` when there were none.
    pub fsync_p99_s: Option<f64>,
    pub fsyncs_per_s: f64,
    /// Seconds of throttling per second, by quota (`produce`, `fetch`, `request`).
    pub throttle_per_s: BTreeMap<String, f64>,
    pub partitions_poisoned: f64,
}

fn sum_by(samples: &[Sample], name: &str, key: &str) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for s in samples.iter().filter(|s| s.name == name) {
        *out.entry(s.label(key).to_string()).or_insert(0.0) += s.value;
    }
    out
}

fn max_by(samples: &[Sample], name: &str, key: &str) -> BTreeMap<String, f64> {
    let mut out: BTreeMap<String, f64> = BTreeMap::new();
    for s in samples.iter().filter(|s| s.name == name) {
        let e = out.entry(s.label(key).to_string()).or_insert(f64::MIN);
        *e = e.max(s.value);
    }
    out
}

fn scalar(samples: &[Sample], name: &str) -> f64 {
    samples
        .iter()
        .filter(|s| s.name == name)
        .map(|s| s.value)
        .sum()
}

/// The cumulative buckets of an unlabelled histogram, by bound.
fn buckets(samples: &[Sample], name: &str) -> Vec<(f64, f64)> {
    let bucket = format!("{name}_bucket");
    let mut v: Vec<(f64, f64)> = samples
        .iter()
        .filter(|s| s.name == bucket)
        .filter_map(|s| {
            let le = match s.label("le") {
                "+Inf" => f64::INFINITY,
                le => le.parse().ok()?,
            };
            Some((le, s.value))
        })
        .collect();
    v.sort_by(|a, b| a.0.total_cmp(&b.0));
    v
}

/// The view between two scrapes `interval_s` apart.
pub fn view(before: &[Sample], after: &[Sample], interval_s: f64, internal: bool) -> View {
    let rate = |name: &str, key: &str| {
        let (b, a) = (sum_by(before, name, key), sum_by(after, name, key));
        a.into_iter()
            .map(|(k, v)| {
                // A counter that went down was reset (a restart): count from zero.
                let d = v - b.get(&k).copied().unwrap_or(0.0);
                (k, if d < 0.0 { v } else { d } / interval_s)
            })
            .collect::<BTreeMap<_, _>>()
    };
    let records_in = rate("weir_topic_records_in_total", "topic");
    let bytes_in = rate("weir_topic_bytes_in_total", "topic");
    let bytes_out = rate("weir_topic_bytes_out_total", "topic");
    let records_total = sum_by(after, "weir_topic_records_in_total", "topic");
    let topics = records_total
        .iter()
        .filter(|(t, _)| internal || !t.starts_with("__"))
        .map(|(t, total)| TopicRow {
            topic: t.clone(),
            records_in_per_s: records_in.get(t).copied().unwrap_or(0.0),
            bytes_in_per_s: bytes_in.get(t).copied().unwrap_or(0.0),
            bytes_out_per_s: bytes_out.get(t).copied().unwrap_or(0.0),
            records_in_total: *total,
        })
        .collect();
    let lag_before = sum_by(before, "weir_group_lag", "group");
    let lag_after = sum_by(after, "weir_group_lag", "group");
    let lag_seconds = max_by(after, "weir_group_lag_seconds", "group");
    let members = sum_by(after, "weir_group_members", "group");
    let mut states: BTreeMap<String, String> = BTreeMap::new();
    for s in after
        .iter()
        .filter(|s| s.name == "weir_group_state" && s.value > 0.0)
    {
        states.insert(s.label("group").to_string(), s.label("state").to_string());
    }
    let mut names: Vec<&String> = lag_after.keys().chain(members.keys()).collect();
    names.sort();
    names.dedup();
    let groups = names
        .into_iter()
        .map(|g| {
            let lag = lag_after.get(g).copied().unwrap_or(0.0);
            GroupRow {
                group: g.clone(),
                state: states.get(g).cloned().unwrap_or_default(),
                members: members.get(g).copied().unwrap_or(0.0),
                lag,
                lag_trend_per_s: (lag - lag_before.get(g).copied().unwrap_or(lag)) / interval_s,
                lag_seconds_max: lag_seconds.get(g).copied().unwrap_or(0.0).max(0.0),
            }
        })
        .collect();
    // fsyncs of the interval: the difference of the cumulative buckets.
    let (fb, fa) = (
        buckets(before, "weir_fsync_duration_seconds"),
        buckets(after, "weir_fsync_duration_seconds"),
    );
    let delta: Vec<(f64, f64)> = fa
        .iter()
        .map(|&(le, c)| {
            let was = fb.iter().find(|(l, _)| *l == le).map_or(0.0, |x| x.1);
            (le, (c - was).max(0.0))
        })
        .collect();
    let fsyncs = scalar(after, "weir_fsyncs_total") - scalar(before, "weir_fsyncs_total");
    View {
        interval_s,
        topics,
        groups,
        fsync_p99_s: quantile(&delta, 0.99),
        fsyncs_per_s: fsyncs.max(0.0) / interval_s,
        throttle_per_s: rate("weir_throttle_time_seconds_total", "quota"),
        partitions_poisoned: scalar(after, "weir_partitions_poisoned"),
    }
}

/// `host:port` and path of `--metrics`.
fn target(metrics: &str) -> anyhow::Result<(String, String)> {
    let rest = metrics.strip_prefix("http://").unwrap_or(metrics);
    if rest.starts_with("https://") {
        bail!("the metrics endpoint is plain HTTP");
    }
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/metrics"),
    };
    if authority.is_empty() {
        bail!("no host:port in `{metrics}`");
    }
    Ok((authority.to_string(), path.to_string()))
}

async fn scrape(authority: &str, path: &str) -> anyhow::Result<Vec<Sample>> {
    let get = async {
        let stream = tokio::net::TcpStream::connect(authority)
            .await
            .with_context(|| format!("connecting to {authority}"))?;
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
        tokio::spawn(conn);
        let req = hyper::Request::get(path)
            .header(hyper::header::HOST, authority)
            .body(Empty::<Bytes>::new())?;
        let resp = sender.send_request(req).await?;
        if !resp.status().is_success() {
            bail!("GET {path} on {authority}: {}", resp.status());
        }
        let body = Limited::new(resp.into_body(), SCRAPE_BYTES_MAX)
            .collect()
            .await
            .map_err(|e| anyhow::anyhow!("reading {path}: {e}"))?
            .to_bytes();
        Ok(parse(&String::from_utf8_lossy(&body)))
    };
    tokio::time::timeout(Duration::from_millis(SCRAPE_TIMEOUT_MS), get)
        .await
        .with_context(|| format!("scraping {authority}{path}"))?
}

fn human(n: f64) -> String {
    if n >= 1e9 {
        format!("{:.1}G", n / 1e9)
    } else if n >= 1e6 {
        format!("{:.1}M", n / 1e6)
    } else if n >= 1e3 {
        format!("{:.1}k", n / 1e3)
    } else {
        format!("{n:.0}")
    }
}

/// The view as text, one table a section.
pub fn render(v: &View) -> String {
    use std::fmt::Write as _;
    let mut o = String::new();
    let p99 = v
        .fsync_p99_s
        .map_or("-".to_string(), |s| format!("{:.2} ms", s * 1e3));
    let throttle = if v.throttle_per_s.values().all(|t| *t == 0.0) {
        "none".to_string()
    } else {
        v.throttle_per_s
            .iter()
            .map(|(q, t)| format!("{q} {t:.2} s/s"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let _ = writeln!(
        o,
        "fsync p99 {p99} ({:.0}/s)   throttling {throttle}   poisoned partitions {}   (over {:.1} s)",
        v.fsyncs_per_s, v.partitions_poisoned, v.interval_s
    );
    let _ = writeln!(
        o,
        "\n{:<40} {:>12} {:>12} {:>12} {:>12}",
        "TOPIC", "RECORDS/S IN", "BYTES/S IN", "BYTES/S OUT", "RECORDS"
    );
    for t in &v.topics {
        let _ = writeln!(
            o,
            "{:<40} {:>12} {:>12} {:>12} {:>12}",
            t.topic,
            human(t.records_in_per_s),
            human(t.bytes_in_per_s),
            human(t.bytes_out_per_s),
            human(t.records_in_total)
        );
    }
    let _ = writeln!(
        o,
        "\n{:<40} {:<20} {:>8} {:>12} {:>12} {:>10}",
        "GROUP", "STATE", "MEMBERS", "LAG", "TREND/S", "OLDEST S"
    );
    for g in &v.groups {
        let _ = writeln!(
            o,
            "{:<40} {:<20} {:>8} {:>12} {:>+12.1} {:>10.1}",
            g.group,
            g.state,
            g.members,
            human(g.lag),
            g.lag_trend_per_s,
            g.lag_seconds_max
        );
    }
    o
}

pub fn run(args: TopArgs) -> anyhow::Result<()> {
    if args.interval_ms < INTERVAL_MS_MIN {
        bail!("--interval-ms is at least {INTERVAL_MS_MIN}");
    }
    let (authority, path) = target(&args.metrics)?;
    block_on(async move {
        let interval = Duration::from_millis(args.interval_ms);
        let mut before = scrape(&authority, &path).await?;
        let mut at = Instant::now();
        loop {
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = tokio::signal::ctrl_c() => return Ok(()),
            }
            let after = scrape(&authority, &path).await?;
            let now = Instant::now();
            let v = view(
                &before,
                &after,
                now.duration_since(at).as_secs_f64(),
                args.internal,
            );
            if args.json {
                println!("{}", serde_json::to_string(&v)?);
            } else if args.once {
                print!("{}", render(&v));
            } else {
                // Clear the screen and home the cursor: the view refreshes in place.
                print!("\x1b[2J\x1b[H{}", render(&v));
                use std::io::Write as _;
                std::io::stdout().flush()?;
            }
            if args.once {
                return Ok(());
            }
            (before, at) = (after, now);
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_lag_trend_and_fsync_p99_over_the_interval() {
        let before = parse(
            "weir_topic_records_in_total{topic=\"a\"} 100\nweir_topic_bytes_in_total{topic=\"a\"} 1000\n\
             weir_topic_bytes_out_total{topic=\"a\"} 0\nweir_topic_records_in_total{topic=\"__consumer_offsets\"} 5\n\
             weir_group_lag{group=\"g\",topic=\"a\",partition=\"0\"} 10\n\
             weir_fsyncs_total 10\nweir_fsync_duration_seconds_bucket{le=\"0.001\"} 10\n\
             weir_fsync_duration_seconds_bucket{le=\"0.01\"} 10\nweir_fsync_duration_seconds_bucket{le=\"+Inf\"} 10\n",
        );
        let after = parse(
            "weir_topic_records_in_total{topic=\"a\"} 300\nweir_topic_bytes_in_total{topic=\"a\"} 5000\n\
             weir_topic_bytes_out_total{topic=\"a\"} 800\nweir_topic_records_in_total{topic=\"__consumer_offsets\"} 9\n\
             weir_group_lag{group=\"g\",topic=\"a\",partition=\"0\"} 30\nweir_group_lag{group=\"g\",topic=\"a\",partition=\"1\"} 4\n\
             weir_group_lag_seconds{group=\"g\",topic=\"a\",partition=\"0\"} 7.5\n\
             weir_group_members{group=\"g\"} 2\nweir_group_state{group=\"g\",state=\"Stable\"} 1\n\
             weir_group_state{group=\"g\",state=\"Empty\"} 0\n\
             weir_throttle_time_seconds_total{quota=\"produce\"} 1\n\
             weir_fsyncs_total 110\nweir_fsync_duration_seconds_bucket{le=\"0.001\"} 60\n\
             weir_fsync_duration_seconds_bucket{le=\"0.01\"} 110\nweir_fsync_duration_seconds_bucket{le=\"+Inf\"} 110\n",
        );
        let v = view(&before, &after, 2.0, false);
        assert_eq!(v.topics.len(), 1, "internal topics hidden");
        let t = &v.topics[0];
        assert_eq!(
            (t.records_in_per_s, t.bytes_in_per_s, t.bytes_out_per_s),
            (100.0, 2000.0, 400.0)
        );
        let g = &v.groups[0];
        assert_eq!(g.lag, 34.0);
        assert_eq!(g.lag_trend_per_s, 12.0);
        assert_eq!(
            (g.state.as_str(), g.members, g.lag_seconds_max),
            ("Stable", 2.0, 7.5)
        );
        // 100 fsyncs in the interval: 50 under 1 ms, 50 under 10 ms.
        assert_eq!(v.fsyncs_per_s, 50.0);
        assert_eq!(v.fsync_p99_s, Some(0.01));
        assert_eq!(v.throttle_per_s.get("produce"), Some(&0.5));
        assert!(render(&v).contains("Stable"));
        assert_eq!(view(&before, &after, 2.0, true).topics.len(), 2);
    }

    #[test]
    fn metrics_targets() {
        assert_eq!(
            target("127.0.0.1:9464").unwrap(),
            ("127.0.0.1:9464".into(), "/metrics".into())
        );
        assert_eq!(target("http://h:1/m").unwrap(), ("h:1".into(), "/m".into()));
        assert!(target("https://h:1").is_err());
        assert!(target("http:///x").is_err());
    }
}
