//! Broker CPU per fetch for a consumer of many partitions of which few change: sessionless
//! full fetches against incremental fetch sessions (KIP-227), in one run, interleaved.
//!
//! Run against a `weir serve` (release build) whose process id is given, so its CPU time is
//! read from `/proc/PID/stat`:
//!
//! ```text
//! cargo run --release -p weir-broker --example fetch_sessions -- ADDR PID [PARTITIONS] [FETCHES] [ROUNDS]
//! ```
//!
//! Each round runs three modes of FETCHES iterations on one connection: `produce` (one
//! `acks=-1` record to one partition, no fetch: the baseline), `full` (the same produce, then
//! a sessionless Fetch v12 of every partition), `incremental` (the same produce, then an
//! incremental fetch of the session made by one full fetch, naming only the partitions whose
//! offset moved). A fetch's cost is its mode's broker CPU less the baseline's, per iteration.

use std::collections::BTreeMap;
use std::time::Instant;

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use weir_protocol::messages::create_topics as ct;
use weir_protocol::messages::fetch::{FetchPartition, FetchRequest, FetchResponse, FetchTopic};
use weir_protocol::messages::produce as pr;
use weir_protocol::records::{BatchBuilder, BatchSettings, NewRecord};
use weir_protocol::{RequestBody, RequestHeader, ResponseBody, decode_response, encode_request};

struct Conn {
    stream: TcpStream,
    correlation_id: i32,
    bytes_in: usize,
}

impl Conn {
    async fn call(&mut self, version: i16, body: RequestBody) -> ResponseBody {
        self.correlation_id += 1;
        let key = body.api_key();
        let header = RequestHeader {
            api_key: key.as_i16(),
            api_version: version,
            correlation_id: self.correlation_id,
            client_id: Some("fetch-sessions-bench".into()),
            unknown_tagged_fields: vec![],
        };
        let frame = encode_request(&header, &body).expect("encode");
        self.stream
            .write_all(&frame.to_bytes())
            .await
            .expect("write");
        let mut len = [0u8; 4];
        self.stream.read_exact(&mut len).await.expect("read");
        let n = usize::try_from(i32::from_be_bytes(len)).expect("length");
        let mut buf = vec![0u8; n];
        self.stream.read_exact(&mut buf).await.expect("read");
        self.bytes_in += 4 + n;
        decode_response(key, version, Bytes::from(buf))
            .expect("decode")
            .1
    }

    async fn produce(&mut self, topic: &str, partition: i32, batch: &Bytes) {
        let body = RequestBody::Produce(pr::ProduceRequest {
            acks: -1,
            timeout_ms: 5000,
            topic_data: vec![pr::TopicProduceData {
                name: topic.into(),
                partition_data: vec![pr::PartitionProduceData {
                    index: partition,
                    records: Some(batch.clone()),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        });
        let ResponseBody::Produce(r) = self.call(9, body).await else {
            panic!("not a Produce response")
        };
        assert_eq!(r.responses[0].partition_responses[0].error_code, 0);
    }

    async fn fetch(&mut self, req: FetchRequest) -> FetchResponse {
        let ResponseBody::Fetch(r) = self.call(12, RequestBody::Fetch(req)).await else {
            panic!("not a Fetch response")
        };
        assert_eq!(r.error_code, 0, "fetch session error");
        r
    }
}

fn request(topic: &str, session: (i32, i32), partitions: Vec<FetchPartition>) -> FetchRequest {
    FetchRequest {
        replica_id: -1,
        max_wait_ms: 0,
        min_bytes: 0,
        max_bytes: 50 << 20,
        session_id: session.0,
        session_epoch: session.1,
        topics: vec![FetchTopic {
            topic: topic.into(),
            partitions,
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn partition(p: i32, offset: i64) -> FetchPartition {
    FetchPartition {
        partition: p,
        fetch_offset: offset,
        partition_max_bytes: 1 << 20,
        current_leader_epoch: -1,
        ..Default::default()
    }
}

/// Moves `offsets` on to the high watermark of every partition that returned records;
/// the partitions moved.
fn advance(offsets: &mut BTreeMap<i32, i64>, r: &FetchResponse) -> Vec<i32> {
    let mut moved = Vec::new();
    for p in r.responses.iter().flat_map(|t| &t.partitions) {
        if p.records.as_ref().is_some_and(|b| !b.is_empty()) {
            offsets.insert(p.partition_index, p.high_watermark);
            moved.push(p.partition_index);
        }
    }
    moved
}

/// utime + stime of `pid`, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
    let after = &stat[stat.rfind(')').expect("comm") + 2..];
    let f: Vec<&str> = after.split(' ').collect();
    f[11].parse::<u64>().expect("utime") + f[12].parse::<u64>().expect("stime")
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let addr = args.get(1).expect("ADDR").clone();
    let pid: u32 = args.get(2).expect("PID").parse().expect("PID");
    let n: i32 = args.get(3).map_or(1000, |s| s.parse().expect("PARTITIONS"));
    let fetches: usize = args.get(4).map_or(2000, |s| s.parse().expect("FETCHES"));
    let rounds: usize = args.get(5).map_or(3, |s| s.parse().expect("ROUNDS"));
    let tick_us = 1_000_000.0 / 100.0; // USER_HZ
    let mut c = Conn {
        stream: TcpStream::connect(&addr).await.expect("connect"),
        correlation_id: 0,
        bytes_in: 0,
    };
    let topic = format!("sessions-{}", std::process::id());
    let body = RequestBody::CreateTopics(ct::CreateTopicsRequest {
        topics: vec![ct::CreatableTopic {
            name: topic.clone(),
            num_partitions: n,
            replication_factor: 1,
            ..Default::default()
        }],
        timeout_ms: 60_000,
        ..Default::default()
    });
    let ResponseBody::CreateTopics(r) = c.call(5, body).await else {
        panic!("not CreateTopics")
    };
    assert_eq!(r.topics[0].error_code, 0, "{:?}", r.topics[0].error_message);
    let mut b = BatchBuilder::new(BatchSettings::default());
    b.push(NewRecord {
        value: Some(Bytes::from_static(&[b'x'; 100])),
        ..Default::default()
    })
    .expect("record");
    let batch = b.build().expect("batch");
    let mut offsets: BTreeMap<i32, i64> = (0..n).map(|p| (p, 0)).collect();
    let mut k = 0i32;
    let mut next_partition = || {
        k = (k + 7919) % n;
        k
    };
    println!("partitions={n} fetches_per_mode={fetches} rounds={rounds}");
    println!("round mode         cpu_us_per_iter  resp_bytes_per_iter  wall_s");
    let mut results: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    for round in 0..rounds {
        // `FETCH_SESSIONS_MODES=incremental` runs one mode alone (to profile it).
        let only = std::env::var("FETCH_SESSIONS_MODES").ok();
        for mode in ["produce", "full", "incremental"] {
            if only
                .as_deref()
                .is_some_and(|o| !o.split(',').any(|m| m == mode))
            {
                continue;
            }
            let mut session = (0, 0);
            let mut moved: Vec<i32> = Vec::new();
            if mode == "incremental" {
                // One full fetch makes the session (not counted).
                let all = offsets.iter().map(|(&p, &o)| partition(p, o)).collect();
                let r = c.fetch(request(&topic, (0, 0), all)).await;
                assert_ne!(r.session_id, 0, "no session");
                moved = advance(&mut offsets, &r);
                session = (r.session_id, 1);
            }
            let (cpu0, bytes0, t0) = (cpu_ticks(pid), c.bytes_in, Instant::now());
            for _ in 0..fetches {
                c.produce(&topic, next_partition(), &batch).await;
                match mode {
                    "full" => {
                        let all = offsets.iter().map(|(&p, &o)| partition(p, o)).collect();
                        let r = c.fetch(request(&topic, (0, -1), all)).await;
                        advance(&mut offsets, &r);
                    }
                    "incremental" => {
                        let changed = moved.iter().map(|&p| partition(p, offsets[&p])).collect();
                        let r = c.fetch(request(&topic, session, changed)).await;
                        moved = advance(&mut offsets, &r);
                        session.1 += 1;
                    }
                    _ => {}
                }
            }
            let cpu = (cpu_ticks(pid) - cpu0) as f64 * tick_us / fetches as f64;
            let per_iter_bytes = (c.bytes_in - bytes0) / fetches;
            let wall = t0.elapsed().as_secs_f64();
            println!("{round:>5} {mode:<12} {cpu:>16.1} {per_iter_bytes:>20} {wall:>7.2}");
            results.entry(mode).or_default().push(cpu);
            if mode == "incremental" {
                // Close the session (epoch -1) so the next round starts afresh.
                let r = c.fetch(request(&topic, (session.0, -1), Vec::new())).await;
                assert_eq!(r.session_id, 0);
            }
        }
    }
    let Some(base) = results.get("produce") else {
        return;
    };
    for mode in ["full", "incremental"] {
        let Some(_) = results.get(mode) else {
            continue;
        };
        let mut per: Vec<f64> = results[mode].iter().zip(base).map(|(m, b)| m - b).collect();
        per.sort_by(f64::total_cmp);
        println!(
            "{mode}: broker CPU per fetch (less the produce baseline), us: median {:.1}, min {:.1}, max {:.1}",
            per[per.len() / 2],
            per[0],
            per[per.len() - 1]
        );
    }
}
