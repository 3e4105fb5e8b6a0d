//! `weir`: the broker (`weir serve`), Kafka client tools and benchmarks.
#![forbid(unsafe_code)]

mod bench_net;
mod bench_storage;
mod client_cmd;
mod log_cmd;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use weir_broker::broker::Broker;
use weir_broker::config::{BrokerConfig, Source, help_table};
use weir_broker::metrics::Metrics;
use weir_broker::metrics::http::Endpoint;

#[derive(Debug, Parser)]
#[command(
    name = "weir",
    version,
    about = "A Kafka-compatible log storage engine and broker"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the broker.
    #[command(after_help = help_table())]
    Serve(ServeArgs),
    /// Inspect partition files offline: `log dump PATH`, `log verify DIR`.
    Log(log_cmd::LogArgs),
    /// Benchmarks: `bench storage DIR` (in-process storage against the disk's own limits),
    /// `bench produce|consume|e2e` (against a broker), `bench startup`.
    Bench(bench_storage::BenchArgs),
    /// Topics: create, list, describe, delete, alter-config.
    Topic(client_cmd::topic::TopicArgs),
    /// Produce records read from stdin (lines or JSON lines).
    Produce(client_cmd::produce::ProduceArgs),
    /// Consume records from an offset, a time or a group's commits.
    Consume(client_cmd::consume::ConsumeArgs),
    /// Copy a range of one topic into another, keeping keys, headers and timestamps.
    Replay(client_cmd::replay::ReplayArgs),
    /// Consumer groups: list, describe (members, assignments, committed offsets, lag).
    Group(client_cmd::group::GroupArgs),
}

#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// Address to listen on (config key `listen`); port 0 picks a free port.
    #[arg(long, value_name = "HOST:PORT")]
    listen: Option<String>,
    /// Data directory (config key `data_dir`).
    #[arg(long, value_name = "PATH")]
    data_dir: Option<PathBuf>,
    /// TOML file of config keys.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Any config key, e.g. `--set num_partitions=3` (repeatable; wins over file and env).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Errors are one line (with their causes), not a backtrace: `weir: <error>: <cause>`.
    run(cli).unwrap_or_else(|e| {
        eprintln!("weir: {e:#}");
        ExitCode::FAILURE
    })
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    // The broker logs its life at info; the tools keep stderr for their own errors.
    let default_level = match cli.command {
        Command::Serve(_) => "info",
        _ => "warn",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("WEIR_LOG")
                .unwrap_or_else(|_| default_level.into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match cli.command {
        Command::Serve(args) => serve(args).map(|()| ExitCode::SUCCESS),
        Command::Log(args) => log_cmd::run(args),
        Command::Bench(args) => bench_storage::run(args).map(|()| ExitCode::SUCCESS),
        Command::Topic(args) => client_cmd::topic::run(args).map(|()| ExitCode::SUCCESS),
        Command::Produce(args) => client_cmd::produce::run(args).map(|()| ExitCode::SUCCESS),
        Command::Consume(args) => client_cmd::consume::run(args).map(|()| ExitCode::SUCCESS),
        Command::Replay(args) => client_cmd::replay::run(args).map(|()| ExitCode::SUCCESS),
        Command::Group(args) => client_cmd::group::run(args).map(|()| ExitCode::SUCCESS),
    }
}

fn serve_config(args: &ServeArgs) -> anyhow::Result<BrokerConfig> {
    let mut settings = Vec::new();
    if let Some(path) = &args.config {
        settings.extend(BrokerConfig::file_settings(path)?);
    }
    settings.extend(BrokerConfig::env_settings(std::env::vars()));
    if let Some(listen) = &args.listen {
        settings.push((
            "listen".into(),
            listen.clone(),
            Source::Flag("--listen".into()),
        ));
    }
    if let Some(dir) = &args.data_dir {
        settings.push((
            "data_dir".into(),
            dir.display().to_string(),
            Source::Flag("--data-dir".into()),
        ));
    }
    for kv in &args.set {
        let (k, v) = kv
            .split_once('=')
            .with_context(|| format!("--set {kv}: expected KEY=VALUE"))?;
        settings.push((
            k.trim().to_string(),
            v.trim().to_string(),
            Source::Flag(format!("--set {k}")),
        ));
    }
    Ok(BrokerConfig::from_settings(settings)?)
}

fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let mut config = serve_config(&args)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(config.listen).await.with_context(|| format!("binding {}", config.listen))?;
        config.listen = listener.local_addr()?;
        // The HTTP endpoint first, so /readyz answers 503 while the logs recover.
        let metrics = Metrics::new(config.metrics_series_max as usize);
        let endpoint = match config.http_listen {
            Some(addr) => Some(
                Endpoint::start(addr, Arc::clone(&metrics))
                    .await
                    .with_context(|| format!("binding http_listen {addr}"))?,
            ),
            None => None,
        };
        let started = std::time::Instant::now();
        let broker = tokio::task::spawn_blocking(move || {
            Broker::open_observed(config, Arc::new(weir_broker::RealFs), metrics)
        })
        .await??;
        let broker = Arc::new(broker);
        tracing::info!(listen = %broker.config().listen, data_dir = %broker.config().data_dir.display(), open_ms = started.elapsed().as_millis() as u64, "weir serving");
        // One line on stdout that scripts can wait for (the bound port, when --listen used port 0),
        // first; then the HTTP endpoint's.
        println!("weir: listening on {}", broker.config().listen);
        if let Some(e) = &endpoint {
            tracing::info!(http = %e.local_addr(), "metrics endpoint serving");
            // Not println!: a script that read only the first line may have closed the pipe.
            use std::io::Write as _;
            let _ = writeln!(std::io::stdout(), "weir: http on {}", e.local_addr());
        }
        broker.serve(listener, shutdown_signal()).await?;
        drop(endpoint);
        Ok(())
    })
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        // Without signal handlers the broker can still be stopped by killing it; recovery covers that.
        std::future::pending::<()>().await;
        return;
    };
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
        _ = int.recv() => tracing::info!("SIGINT: shutting down"),
    }
}
