//! The broker the Rust clients talk to: weir in-process on 127.0.0.1, serving from its own
//! tokio runtime on its own thread (so that blocking librdkafka calls in a test cannot starve
//! it), with a fresh data dir, and restartable on the same port and data dir.

#![allow(dead_code)] // each test file uses part of this module

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;
use weir_broker::BrokerConfig;
use weir_broker::broker::Broker;
use weir_broker::config::Source;

/// Bound on every wait in these tests.
pub const WAIT: Duration = Duration::from_secs(30);

/// A running broker.
#[derive(Debug)]
pub struct TestBroker {
    pub addr: SocketAddr,
    dir: Option<tempfile::TempDir>,
    settings: Vec<(String, String)>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TestBroker {
    /// Starts on an ephemeral port with a new temporary data dir; `settings` are weir config
    /// keys (`group_initial_rebalance_delay_ms`, ...).
    pub fn start(settings: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let settings = settings
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect();
        Self::start_on("127.0.0.1:0".parse().expect("addr"), dir, settings)
    }

    fn start_on(
        listen: SocketAddr,
        dir: tempfile::TempDir,
        settings: Vec<(String, String)>,
    ) -> Self {
        let flag = || Source::Flag("test".into());
        let mut all = vec![
            ("listen".to_string(), listen.to_string(), flag()),
            (
                "data_dir".to_string(),
                dir.path().display().to_string(),
                flag(),
            ),
        ];
        all.extend(settings.iter().map(|(k, v)| (k.clone(), v.clone(), flag())));
        let mut config = BrokerConfig::from_settings(all).expect("broker config");
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("broker runtime");
            runtime.block_on(async move {
                let listener = bind_retrying(config.listen).await;
                config.listen = listener.local_addr().expect("local addr");
                let addr = config.listen;
                let broker = Arc::new(Broker::open(config).expect("broker opens"));
                ready_tx.send(addr).expect("test waits for the address");
                broker
                    .serve(listener, async {
                        let _ = stopped.await;
                    })
                    .await
                    .expect("broker serves");
            });
        });
        let addr = ready_rx
            .recv_timeout(WAIT)
            .expect("broker started within 30 s");
        Self {
            addr,
            dir: Some(dir),
            settings,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// `host:port` for a client's bootstrap list.
    pub fn bootstrap(&self) -> String {
        self.addr.to_string()
    }

    /// Bytes in the `.log` segment files of `topic`'s partitions: shows whether batches were
    /// stored compressed.
    pub fn stored_log_bytes(&self, topic: &str) -> u64 {
        fn walk(dir: &std::path::Path, topic: &str, inside: bool, sum: &mut u64) {
            for entry in std::fs::read_dir(dir).expect("read data dir").flatten() {
                let path = entry.path();
                let name = entry.file_name().to_string_lossy().into_owned();
                let here = inside || name == topic || name.starts_with(&format!("{topic}-"));
                if path.is_dir() {
                    walk(&path, topic, here, sum);
                } else if here && name.ends_with(".log") {
                    *sum += entry.metadata().expect("metadata").len();
                }
            }
        }
        let mut sum = 0;
        walk(
            self.dir.as_ref().expect("data dir").path(),
            topic,
            false,
            &mut sum,
        );
        sum
    }

    /// Clean shutdown, then a new broker on the same port and data dir.
    pub fn restart(mut self) -> Self {
        self.shutdown();
        let dir = self.dir.take().expect("data dir");
        let settings = std::mem::take(&mut self.settings);
        Self::start_on(self.addr, dir, settings)
    }

    fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let started = Instant::now();
            while !thread.is_finished() {
                assert!(started.elapsed() < WAIT, "broker did not stop within 30 s");
                std::thread::sleep(Duration::from_millis(10));
            }
            thread.join().expect("broker thread ended cleanly");
        }
    }
}

impl Drop for TestBroker {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            self.shutdown();
        } else if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Binds `addr`, retrying for a while: on a restart the old listener's port may take a moment
/// to be free again.
async fn bind_retrying(addr: SocketAddr) -> tokio::net::TcpListener {
    let started = Instant::now();
    loop {
        match tokio::net::TcpListener::bind(addr).await {
            Ok(listener) => return listener,
            Err(e) if started.elapsed() < WAIT => {
                eprintln!("bind {addr}: {e}; retrying");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("bind {addr}: {e}"),
        }
    }
}

/// Headers in wire order: (key, value).
pub type HeaderList = Vec<(String, Vec<u8>)>;

/// Key, value and headers of record `i` as the scenarios write them (one header binary).
pub fn record_fields(i: usize) -> (Vec<u8>, Vec<u8>, HeaderList) {
    let key = format!("key-{i}").into_bytes();
    let value = format!("value-{i}-{}", "x".repeat(i % 50)).into_bytes();
    let headers = vec![
        ("h-index".to_string(), i.to_string().into_bytes()),
        ("h-bin".to_string(), vec![0, 0xff, (i % 256) as u8, 0x80]),
        ("h-client".to_string(), b"rust".to_vec()),
    ];
    (key, value, headers)
}

/// A CreateTime an hour in the past, in ms: base of the scenarios' record timestamps.
pub fn base_timestamp_ms() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970");
    i64::try_from(now.as_millis()).expect("ms fit i64") - 3_600_000
}
