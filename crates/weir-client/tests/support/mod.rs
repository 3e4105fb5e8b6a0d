//! A real weir broker in-process on 127.0.0.1:0 (a temporary data dir), for the client tests.

#![allow(dead_code)]

use std::sync::Arc;

use tokio::sync::oneshot;
use weir_broker::BrokerConfig;
use weir_broker::broker::Broker;
use weir_broker::config::Source;

pub struct TestBroker {
    pub addr: std::net::SocketAddr,
    /// The broker's shared state, for tests that look inside it.
    #[allow(dead_code)] // not every test file looks
    pub broker: Arc<Broker>,
    _dir: tempfile::TempDir,
    stop: Option<oneshot::Sender<()>>,
}

impl TestBroker {
    /// Starts a broker with extra config keys; `listener` lets a test pick the socket.
    pub async fn start(settings: &[(&str, &str)]) -> TestBroker {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        Self::start_on(listener, settings).await
    }

    pub async fn start_on(
        listener: tokio::net::TcpListener,
        settings: &[(&str, &str)],
    ) -> TestBroker {
        let dir = tempfile::tempdir().unwrap();
        let addr = listener.local_addr().unwrap();
        let mut all: Vec<(String, String, Source)> = vec![
            (
                "listen".into(),
                addr.to_string(),
                Source::Flag("test".into()),
            ),
            (
                "data_dir".into(),
                dir.path().display().to_string(),
                Source::Flag("test".into()),
            ),
            (
                "group_initial_rebalance_delay_ms".into(),
                "0".into(),
                Source::Flag("test".into()),
            ),
        ];
        all.extend(
            settings
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string(), Source::Flag("test".into()))),
        );
        let config = BrokerConfig::from_settings(all).unwrap();
        let broker = Arc::new(Broker::open(config).unwrap());
        let served = Arc::clone(&broker);
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let broker = served;
            let _ = broker
                .serve(listener, async {
                    let _ = stopped.await;
                })
                .await;
        });
        TestBroker {
            addr,
            broker,
            _dir: dir,
            stop: Some(stop),
        }
    }
}

impl Drop for TestBroker {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
