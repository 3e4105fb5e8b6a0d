//! A broker with the authorizer on behind a SASL_PLAINTEXT (PLAIN) listener, for the ACL
//! matrix tests: `User:admin` is a super user; `alice` and `bob` have passwords
//! `<user>-secret` and no ACLs.

#![allow(dead_code)] // each test file uses part of it

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::oneshot;
use weir_auth::scram::{Mechanism, ScramCredential};
use weir_broker::broker::Broker;
use weir_broker::config::{BrokerConfig, Source};
use weir_broker::security::credentials::{Change, CredentialStore};
use weir_broker::security::listener::bind_all;
use weir_protocol::messages::{sasl_authenticate as sa, sasl_handshake as sh};
use weir_protocol::records::{BatchBuilder, BatchSettings, NewRecord};
use weir_protocol::{RequestBody as Q, ResponseBody as R};

use super::{Client, security_requests};

pub struct Secured {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

impl Secured {
    pub async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.task.await.unwrap();
    }

    /// A connection authenticated as `user` (password `<user>-secret`) with PLAIN.
    pub async fn login(&self, user: &str) -> Client {
        let mut c = Client::connect(self.addr).await;
        let R::SaslHandshake(h) = c
            .call(
                1,
                Q::SaslHandshake(sh::SaslHandshakeRequest {
                    mechanism: "PLAIN".into(),
                }),
            )
            .await
        else {
            panic!("no handshake")
        };
        assert_eq!(h.error_code, 0);
        let token = format!("\0{user}\0{user}-secret");
        let R::SaslAuthenticate(a) = c
            .call(
                2,
                Q::SaslAuthenticate(sa::SaslAuthenticateRequest {
                    auth_bytes: Bytes::from(token),
                    ..Default::default()
                }),
            )
            .await
        else {
            panic!("no authenticate")
        };
        assert_eq!(a.error_code, 0, "{user}: {:?}", a.error_message);
        c
    }
}

pub async fn start() -> Secured {
    let dir = tempfile::tempdir().unwrap();
    let store = CredentialStore::open(dir.path(), Arc::new(weir_broker::RealFs)).unwrap();
    let changes: Vec<Change> = ["admin", "alice", "bob"]
        .into_iter()
        .map(|u| {
            let pw = format!("{u}-secret");
            let cred = ScramCredential::new(Mechanism::ScramSha512, pw.as_bytes(), 4096).unwrap();
            Change::Upsert(u.into(), Mechanism::ScramSha512, cred)
        })
        .collect();
    store.apply(&changes).unwrap();
    let settings = [
        ("data_dir", dir.path().display().to_string()),
        ("listeners", "SASL_PLAINTEXT://127.0.0.1:0".into()),
        ("sasl_enabled_mechanisms", "PLAIN".into()),
        ("authorizer_enabled", "true".into()),
        ("super_users", "User:admin".into()),
        ("num_partitions", "1".into()),
        ("group_initial_rebalance_delay_ms", "0".into()),
    ];
    let config = BrokerConfig::from_settings(
        settings
            .into_iter()
            .map(|(k, v)| (k.to_string(), v, Source::Flag("test".into()))),
    )
    .unwrap();
    let bound = bind_all(&config.listeners).await.unwrap();
    let addr = bound[0].local_addr;
    let broker = Arc::new(Broker::open(config).unwrap());
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        broker
            .serve_listeners(bound, async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
    });
    Secured {
        addr,
        stop: Some(stop),
        task,
        _dir: dir,
    }
}

pub fn batch() -> Bytes {
    let mut b = BatchBuilder::new(BatchSettings::default());
    b.push(NewRecord {
        timestamp: weir_broker::broker::now_ms(),
        key: Some(Bytes::from_static(b"k")),
        value: Some(Bytes::from_static(b"v")),
        ..Default::default()
    })
    .unwrap();
    b.build().unwrap()
}

pub async fn grant(admin: &mut Client, kind: i8, name: &str, principal: &str, op: i8) {
    let R::CreateAcls(r) = admin
        .call(
            3,
            Q::CreateAcls(security_requests::create_acl(kind, name, principal, op)),
        )
        .await
    else {
        panic!("not CreateAcls")
    };
    assert_eq!(r.results[0].error_code, 0, "{r:?}");
}
