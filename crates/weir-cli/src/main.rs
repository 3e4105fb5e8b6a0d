//! `weir`: the broker (`weir serve`), Kafka client tools and benchmarks.
#![forbid(unsafe_code)]

mod bench_net;
mod bench_storage;
mod client_cmd;
mod log_cmd;
mod top;
mod user_cmd;

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
    /// ACLs: add, list, remove (CreateAcls, DescribeAcls, DeleteAcls).
    Acl(client_cmd::acl::AclArgs),
    /// Client quotas: set, list, remove (AlterClientQuotas, DescribeClientQuotas).
    Quota(client_cmd::quota::QuotaArgs),
    /// Transactions: list, describe (state, producer, open partitions).
    Txn(client_cmd::txn::TxnArgs),
    /// SCRAM users of a data directory, offline: add, delete, list.
    User(user_cmd::UserArgs),
    /// A live view from the metrics endpoint: topic rates, group lag, fsync p99, throttling.
    Top(top::TopArgs),
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
        Command::Acl(args) => client_cmd::acl::run(args).map(|()| ExitCode::SUCCESS),
        Command::Quota(args) => client_cmd::quota::run(args).map(|()| ExitCode::SUCCESS),
        Command::Txn(args) => client_cmd::txn::run(args).map(|()| ExitCode::SUCCESS),
        Command::Top(args) => top::run(args).map(|()| ExitCode::SUCCESS),
        Command::User(args) => user_cmd::run(args).map(|()| ExitCode::SUCCESS),
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
        // Handlers first: a SIGTERM during recovery then stops the broker cleanly once it
        // has opened, instead of killing it by the signal's default action.
        let shutdown = shutdown_signal()?;
        // SIGHUP reloads certificates and never stops the broker: handled from the start, so
        // one sent during recovery does not kill it either (the reloader takes it over).
        let _hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup());
        // A TLS listener's certificates are checked before anything is bound or opened.
        for l in config.listeners.iter().filter(|l| l.protocol.uses_tls()) {
            // As the broker loads it: SASL_SSL ignores ssl_client_auth (KIP-684).
            let client_auth = if l.protocol == weir_broker::security::SecurityProtocol::Ssl {
                config.security.ssl_client_auth
            } else {
                weir_broker::security::ClientAuth::None
            };
            weir_broker::security::tls::TlsServer::load(&config.security, client_auth)
                .with_context(|| format!("listener {}", l.name))?;
        }
        let bound = weir_broker::security::listener::bind_all(&config.listeners).await?;
        if let Some(first) = bound.first()
            && config.listeners.len() == 1
            && first.config.name == "PLAINTEXT"
        {
            // The `listen` shorthand: it stays the bound address (port 0 resolved).
            config.listen = first.local_addr;
        }
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
        tracing::info!(data_dir = %broker.config().data_dir.display(), open_ms = started.elapsed().as_millis() as u64, "weir serving");
        // One line on stdout that scripts can wait for (the first listener's bound address,
        // the port when it was 0), first; then the HTTP endpoint's (harnesses read it second);
        // then one line per listener.
        use std::io::Write as _;
        if let Some(first) = bound.first() {
            println!("weir: listening on {}", first.local_addr);
        }
        if let Some(e) = &endpoint {
            tracing::info!(http = %e.local_addr(), "metrics endpoint serving");
            // Not println!: a script that read only the first line may have closed the pipe.
            let _ = writeln!(std::io::stdout(), "weir: http on {}", e.local_addr());
        }
        for b in &bound {
            let (host, port) = b.advertised();
            tracing::info!(listener = %b.config.name, protocol = %b.config.protocol, bound = %b.local_addr, advertised = %format!("{host}:{port}"), "listener");
            let _ = writeln!(
                std::io::stdout(),
                "weir: listener {} {} on {}",
                b.config.name, b.config.protocol, b.local_addr
            );
        }
        broker.serve_listeners(bound, shutdown).await?;
        drop(endpoint);
        Ok(())
    })
}

/// Installs the SIGTERM and SIGINT handlers now; the future completes at the first of them
/// (at once if one came before it is awaited).
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
            _ = int.recv() => tracing::info!("SIGINT: shutting down"),
        }
    })
}
