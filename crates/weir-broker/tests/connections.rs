//! Many idle connections (issue #7 asks for 10,000): the broker holds them within bounded
//! memory and keeps serving; past `connections_max` new connections wait in the accept
//! queue until a slot frees. Its own test binary: the in-process broker and its clients
//! need two file descriptors per connection, so the test raises its soft fd limit toward
//! 20,500 within the hard limit (`ulimit -Hn`) and scales the count to what it got.

#[allow(dead_code)] // the shared helpers; this file uses only some
mod support;

use std::time::Duration;

use support::{Client, TestBroker};
use weir_protocol::messages::metadata as md;
use weir_protocol::{RequestBody as Q, ResponseBody as R};

const CONNECTIONS_WANTED: usize = 10_000;
/// Descriptors kept free for the runtime, the data dir and the test harness.
const FDS_SPARE: usize = 500;
/// RSS growth allowed per idle connection (both ends are in this process), in KiB.
const RSS_PER_CONNECTION_KIB_MAX: u64 = 64;

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// Raises the soft limit on open files toward what `CONNECTIONS_WANTED` needs, within the
/// hard limit; returns the soft limit in force.
fn fd_limit() -> usize {
    let want = (CONNECTIONS_WANTED * 2 + FDS_SPARE) as libc::rlim_t;
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid pointer to a local rlimit.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return 1024;
        }
        if lim.rlim_cur < want {
            let raised = libc::rlimit {
                rlim_cur: want.min(lim.rlim_max),
                rlim_max: lim.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                lim = raised;
            }
        }
    }
    usize::try_from(lim.rlim_cur).unwrap_or(usize::MAX)
}

fn metadata() -> Q {
    Q::Metadata(md::MetadataRequest {
        topics: None,
        allow_auto_topic_creation: false,
        ..Default::default()
    })
}

async fn served_within(addr: std::net::SocketAddr, wait: Duration) -> bool {
    let mut c = Client::connect(addr).await;
    tokio::time::timeout(wait, async {
        let R::Metadata(m) = c.call(12, metadata()).await else {
            panic!()
        };
        assert_eq!(m.brokers.len(), 1);
    })
    .await
    .is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_idle_connections_stay_cheap_and_the_cap_queues_the_rest() {
    let limit = fd_limit();
    let n = CONNECTIONS_WANTED.min(limit.saturating_sub(FDS_SPARE) / 2);
    eprintln!("fd limit {limit}: opening {n} idle connections");
    assert!(n >= 1000, "fd limit too low for a meaningful test");
    let broker = TestBroker::start(&[]).await;
    let before = rss_kib();
    let mut idle = Vec::with_capacity(n);
    for _ in 0..n {
        idle.push(tokio::net::TcpStream::connect(broker.addr).await.unwrap());
    }
    // Every one of them is accepted and served (the cap, 10,000 by default, is not reached).
    assert!(served_within(broker.addr, Duration::from_secs(10)).await);
    let grown = rss_kib().saturating_sub(before);
    eprintln!("RSS grew {grown} KiB for {n} connections");
    assert!(
        grown < RSS_PER_CONNECTION_KIB_MAX * n as u64,
        "RSS grew {grown} KiB for {n} idle connections"
    );
    drop(idle);
    broker.stop().await;

    // At connections_max, a new connection waits until one closes.
    let broker = TestBroker::start(&[("connections_max", "50")]).await;
    let mut held = Vec::new();
    for _ in 0..50 {
        held.push(tokio::net::TcpStream::connect(broker.addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let addr = broker.addr;
    let waiting = tokio::spawn(async move { served_within(addr, Duration::from_secs(20)).await });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!waiting.is_finished(), "served past connections_max");
    held.truncate(40);
    assert!(waiting.await.unwrap(), "not served once slots freed");
    drop(held);
    broker.stop().await;
}
