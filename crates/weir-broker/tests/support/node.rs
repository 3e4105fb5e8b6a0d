//! A broker over a given file system (`Broker::open_with_fs`), in its own runtime so that
//! it can crash: power loss, process death, restarts on the same data directory.

// Not every test file that includes `support` uses these.
#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;

use tokio::sync::oneshot;
use weir_broker::BrokerConfig;
use weir_broker::broker::Broker;
use weir_broker::config::Source;
use weir_storage::FileSystem;

/// A broker over a given file system, in its own runtime so that it can crash: the runtime
/// is dropped with every task, and no log is closed (no clean-shutdown marker, no final
/// fsync), which also releases the data directory's lock as a dead process would.
pub struct Node {
    pub addr: std::net::SocketAddr,
    rt: Option<tokio::runtime::Runtime>,
    stop: Option<oneshot::Sender<()>>,
    done: Option<oneshot::Receiver<()>>,
}

pub async fn start(dir: &Path, fs: Arc<dyn FileSystem>, settings: &[(&str, &str)]) -> Node {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    let mut all: Vec<(String, String, Source)> = vec![
        (
            "listen".into(),
            addr.to_string(),
            Source::Flag("test".into()),
        ),
        (
            "data_dir".into(),
            dir.display().to_string(),
            Source::Flag("test".into()),
        ),
    ];
    for (k, v) in settings {
        all.push(((*k).into(), (*v).into(), Source::Flag("test".into())));
    }
    let config = BrokerConfig::from_settings(all).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let (ready_tx, ready) = oneshot::channel::<()>();
    let (done_tx, done) = oneshot::channel::<()>();
    rt.spawn(async move {
        // A crashed predecessor's blocking threads may hold the directory lock a moment.
        let mut tries = 0;
        let broker = loop {
            match Broker::open_with_fs(config.clone(), Arc::clone(&fs)) {
                Ok(b) => break Arc::new(b),
                Err(e)
                    if tries < 100
                        && (e.to_string().contains("lock") || e.to_string().contains("in use")) =>
                {
                    tries += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
                Err(e) => panic!("broker does not open: {e}"),
            }
        };
        let _ = ready_tx.send(());
        let listener = tokio::net::TcpListener::from_std(listener).unwrap();
        let _ = broker
            .serve(listener, async {
                let _ = stopped.await;
            })
            .await;
        let _ = done_tx.send(());
    });
    ready.await.expect("the broker opened");
    Node {
        addr,
        rt: Some(rt),
        stop: Some(stop),
        done: Some(done),
    }
}

impl Node {
    /// Power is cut: every task of the broker is dropped mid-flight.
    pub async fn crash(mut self) {
        self.rt.take().unwrap().shutdown_background();
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    /// Clean shutdown (logs closed, marker written).
    pub async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.done.take().unwrap().await.unwrap();
        self.rt.take().unwrap().shutdown_background();
    }
}
