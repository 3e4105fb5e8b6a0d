//! `weir bench startup`: spawns `weir serve` on an empty temporary data directory,
//! measures the time from the spawn to the first Metadata answer, then the broker's
//! idle resident memory (`VmRSS` of `/proc/<pid>/status`) after it has sat idle, and
//! kills it by its PID. Repeated `--runs` times; issue #6's targets are ≤ 50 ms and
//! ≤ 16 MiB.
//!
//! It lives in the binary rather than in a script so it measures exactly the binary
//! it ships with (the current executable unless `--weir` names another), needs no
//! tool beyond the binary, and reuses the protocol crate for the Metadata request.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use bytes::BytesMut;
use serde::Serialize;
use weir_protocol::messages::MetadataRequest;
use weir_protocol::{
    ApiKey, FRAME_BYTES_MAX_DEFAULT, RequestBody, RequestHeader, ResponseBody, decode_response,
    encode_request, take_frame,
};

/// Default runs.
const RUNS_DEFAULT: u32 = 5;
/// Default time the broker sits idle before its RSS is read, milliseconds.
const IDLE_MS_DEFAULT: u64 = 3000;
/// Metadata version of the probe (Kafka 2.x era, flexible; weir serves 0..=12).
const METADATA_VERSION: i16 = 9;
/// Longest wait for the broker's "listening" line or its answer, seconds.
const START_TIMEOUT_S: u64 = 30;
/// Issue #6's target for start-to-first-Metadata, milliseconds.
const START_MS_TARGET: f64 = 50.0;
/// Issue #6's target for idle RSS, KiB (16 MiB).
const IDLE_RSS_KIB_TARGET: u64 = 16 * 1024;

/// `weir bench startup`
#[derive(Debug, clap::Args)]
pub struct StartupArgs {
    /// The `weir` binary to start (default: this one).
    #[arg(long, value_name = "PATH")]
    weir: Option<PathBuf>,
    /// Runs; each starts a fresh broker on a fresh empty directory.
    #[arg(long, default_value_t = RUNS_DEFAULT)]
    runs: u32,
    /// Milliseconds the broker sits idle before its RSS is read.
    #[arg(long, default_value_t = IDLE_MS_DEFAULT)]
    idle_ms: u64,
    /// Directory for the temporary data directories (default: the system's temp dir).
    #[arg(long, value_name = "DIR", conflicts_with = "data_dir")]
    scratch_dir: Option<PathBuf>,
    /// Start every run on this data directory instead (kept as it is), stopping the broker
    /// cleanly (SIGTERM) after each: the time of a restart on a populated log.
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Print the full result as JSON.
    #[arg(long)]
    json: bool,
}

/// One broker start.
#[derive(Debug, Clone, Copy, Serialize)]
struct Run {
    /// Spawn to the "listening" line on stdout, milliseconds.
    listening_ms: f64,
    /// Spawn to the first Metadata answer, milliseconds.
    first_metadata_ms: f64,
    /// `VmRSS` after the idle wait, KiB.
    idle_rss_kib: u64,
    /// `VmHWM` (peak RSS) at that time, KiB.
    peak_rss_kib: u64,
}

#[derive(Debug, Serialize)]
struct StartupReport {
    weir: String,
    idle_ms: u64,
    runs: Vec<Run>,
    first_metadata_ms_median: f64,
    first_metadata_ms_max: f64,
    first_metadata_ms_target: f64,
    idle_rss_kib_max: u64,
    idle_rss_kib_target: u64,
}

/// Kills the broker (by its PID, through its `Child`) however the run ends.
struct Broker(Child);

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs `weir bench startup`.
pub fn run(args: &StartupArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.runs > 0, "--runs must be positive");
    let weir = match &args.weir {
        Some(p) => p.clone(),
        None => std::env::current_exe().context("finding this executable")?,
    };
    let scratch = args.scratch_dir.clone().unwrap_or_else(std::env::temp_dir);
    let mut runs = Vec::new();
    for _ in 0..args.runs {
        runs.push(one_run(
            &weir,
            &scratch,
            args.data_dir.as_deref(),
            Duration::from_millis(args.idle_ms),
        )?);
    }
    let mut times: Vec<f64> = runs.iter().map(|r| r.first_metadata_ms).collect();
    times.sort_by(f64::total_cmp);
    let report = StartupReport {
        weir: weir.display().to_string(),
        idle_ms: args.idle_ms,
        first_metadata_ms_median: times[times.len() / 2],
        first_metadata_ms_max: times[times.len() - 1],
        first_metadata_ms_target: START_MS_TARGET,
        idle_rss_kib_max: runs.iter().map(|r| r.idle_rss_kib).max().unwrap_or(0),
        idle_rss_kib_target: IDLE_RSS_KIB_TARGET,
        runs,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
            "weir bench startup: {} ({} runs, RSS read after {} ms idle)",
            report.weir,
            report.runs.len(),
            report.idle_ms
        );
        for (i, r) in report.runs.iter().enumerate() {
            println!(
                "  run {}: listening {:.1} ms, first Metadata {:.1} ms, idle RSS {:.1} MiB (peak {:.1} MiB)",
                i + 1,
                r.listening_ms,
                r.first_metadata_ms,
                r.idle_rss_kib as f64 / 1024.0,
                r.peak_rss_kib as f64 / 1024.0
            );
        }
        println!(
            "  start to first Metadata: median {:.1} ms, max {:.1} ms (target ≤ {:.0} ms, ratio {:.2})",
            report.first_metadata_ms_median,
            report.first_metadata_ms_max,
            START_MS_TARGET,
            report.first_metadata_ms_median / START_MS_TARGET
        );
        println!(
            "  idle RSS: max {:.1} MiB (target ≤ {} MiB, ratio {:.2})",
            report.idle_rss_kib_max as f64 / 1024.0,
            IDLE_RSS_KIB_TARGET / 1024,
            report.idle_rss_kib_max as f64 / IDLE_RSS_KIB_TARGET as f64
        );
    }
    Ok(())
}

/// How long a cleanly stopped broker may take to exit, seconds.
const STOP_TIMEOUT_S: u64 = 120;

fn one_run(
    weir: &std::path::Path,
    scratch: &std::path::Path,
    data_dir: Option<&std::path::Path>,
    idle: Duration,
) -> anyhow::Result<Run> {
    let temp = match data_dir {
        Some(_) => None,
        None => Some(
            tempfile::Builder::new()
                .prefix("weir-bench-startup-")
                .tempdir_in(scratch)
                .with_context(|| format!("creating a data directory in {}", scratch.display()))?,
        ),
    };
    let dir = data_dir.unwrap_or_else(|| temp.as_ref().expect("made above").path());
    let started = Instant::now();
    let child = Command::new(weir)
        .arg("serve")
        .arg("--listen")
        .arg("127.0.0.1:0")
        .args(["--set", "http_listen=127.0.0.1:0"])
        .arg("--data-dir")
        .arg(dir)
        .env("WEIR_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("starting {}", weir.display()))?;
    let mut broker = Broker(child);
    let pid = broker.0.id();
    let stdout = broker.0.stdout.take().context("the broker's stdout")?;
    let addr = listening_addr(stdout)?;
    let listening_ms = ms(started.elapsed());
    metadata_probe(&addr)?;
    let first_metadata_ms = ms(started.elapsed());
    std::thread::sleep(idle);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    let idle_rss_kib = status_kib(&status, "VmRSS:").context("no VmRSS in /proc status")?;
    let peak_rss_kib = status_kib(&status, "VmHWM:").unwrap_or(idle_rss_kib);
    if data_dir.is_some() {
        stop_cleanly(&mut broker.0)?;
    }
    drop(broker);
    Ok(Run {
        listening_ms,
        first_metadata_ms,
        idle_rss_kib,
        peak_rss_kib,
    })
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Reads the broker's stdout up to its `weir: listening on ADDR` line; the rest of its
/// output is drained by a thread so the broker never blocks on a full pipe.
fn listening_addr(stdout: std::process::ChildStdout) -> anyhow::Result<String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout);
        let mut line = String::new();
        let mut sent = false;
        loop {
            line.clear();
            match lines.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            if !sent && let Some(addr) = line.trim().strip_prefix("weir: listening on ") {
                let _ = tx.send(addr.to_string());
                sent = true;
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(START_TIMEOUT_S))
        .context("the broker did not print its listening address")
}

/// Sends one Metadata request (all topics) and waits for a well-formed answer.
fn metadata_probe(addr: &str) -> anyhow::Result<()> {
    let mut s = TcpStream::connect(addr).with_context(|| format!("connecting to {addr}"))?;
    s.set_read_timeout(Some(Duration::from_secs(START_TIMEOUT_S)))?;
    s.set_nodelay(true)?;
    let header = RequestHeader {
        api_key: ApiKey::Metadata.as_i16(),
        api_version: METADATA_VERSION,
        correlation_id: 1,
        client_id: Some("weir-bench-startup".into()),
        ..Default::default()
    };
    let body = RequestBody::Metadata(MetadataRequest {
        topics: None,
        allow_auto_topic_creation: false,
        ..Default::default()
    });
    s.write_all(&encode_request(&header, &body)?.to_bytes())?;
    let mut buf = BytesMut::new();
    let mut chunk = [0u8; 4096];
    let frame = loop {
        if let Some(f) = take_frame(&mut buf, FRAME_BYTES_MAX_DEFAULT)? {
            break f;
        }
        let n = s.read(&mut chunk)?;
        anyhow::ensure!(n > 0, "the broker closed the connection before answering");
        buf.extend_from_slice(&chunk[..n]);
    };
    let (h, body) = decode_response(ApiKey::Metadata, METADATA_VERSION, frame)?;
    anyhow::ensure!(h.correlation_id == 1, "answer to another request");
    let ResponseBody::Metadata(m) = body else {
        anyhow::bail!("not a Metadata answer");
    };
    anyhow::ensure!(!m.brokers.is_empty(), "a Metadata answer without brokers");
    Ok(())
}

/// The KiB figure of a `/proc/<pid>/status` line such as `VmRSS:   5120 kB`.
fn status_kib(status: &str, key: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

/// SIGTERM (through `kill`, by the child's PID), then waits for the exit: a clean stop,
/// which leaves the logs' clean-shutdown markers and producer snapshots.
fn stop_cleanly(child: &mut Child) -> anyhow::Result<()> {
    let pid = child.id().to_string();
    let status = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .context("running kill")?;
    anyhow::ensure!(status.success(), "kill -TERM {pid} failed");
    let deadline = Instant::now() + Duration::from_secs(STOP_TIMEOUT_S);
    while Instant::now() < deadline {
        if let Some(exit) = child.try_wait()? {
            anyhow::ensure!(exit.success(), "the broker exited with {exit}");
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    anyhow::bail!("the broker did not stop within {STOP_TIMEOUT_S} s")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines_parse() {
        let s = "Name:\tweir\nVmHWM:\t   9000 kB\nVmRSS:\t    5120 kB\n";
        assert_eq!(status_kib(s, "VmRSS:"), Some(5120));
        assert_eq!(status_kib(s, "VmHWM:"), Some(9000));
        assert_eq!(status_kib(s, "VmSwap:"), None);
    }
}
