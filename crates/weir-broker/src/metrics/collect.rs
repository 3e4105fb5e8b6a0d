//! One scrape: every family, read now. Event counters come from [`Metrics`] and each
//! partition's stats; state (offsets, sizes, group lag and membership) from the topics and
//! the coordinator. Per-partition and per-group families are cut at `metrics_series_max`
//! series each, the rest counted in `weir_metrics_series_dropped_total`.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeGaugeValue, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;
use weir_protocol::api::ApiKey;
use weir_protocol::records::TimestampType;

use super::exposition::Label;
use super::histogram::HistogramSnapshot;
use super::{LISTENER_NAME, Metrics, process, requests};
use crate::group::GroupState;
use crate::topics::Partition;

/// Every group state, for `weir_group_state`.
const GROUP_STATES: [GroupState; 5] = [
    GroupState::Empty,
    GroupState::PreparingRebalance,
    GroupState::CompletingRebalance,
    GroupState::Stable,
    GroupState::Dead,
];

type Labels<'a> = Vec<(&'static str, Label<'a>)>;

/// The OpenMetrics text of one scrape.
pub(super) fn render(metrics: &Arc<Metrics>) -> String {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(Scrape(Arc::clone(metrics))));
    let mut out = String::new();
    // Writing to a String cannot fail, and no collector here returns an error.
    let _ = prometheus_client::encoding::text::encode(&mut out, &registry);
    out
}

#[derive(Debug)]
struct Scrape(Arc<Metrics>);

/// One partition as scraped.
struct PartitionRow {
    topic: Arc<str>,
    index: i32,
    log_start: i64,
    log_end: i64,
    high_watermark: i64,
    size_bytes: u64,
    segments: usize,
}

/// One committed offset as scraped.
struct OffsetRow {
    group: String,
    topic: String,
    partition: i32,
    committed: i64,
    /// High watermark − committed, at least 0; `None` when the partition is gone.
    lag: Option<i64>,
    /// Age of the oldest unconsumed record, seconds ([`age_seconds`]).
    lag_seconds: Option<f64>,
}

impl Collector for Scrape {
    fn encode(&self, mut e: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let m = &*self.0;
        let max = m.series_max;
        let mut dropped = 0u64;
        let cap = |n: usize, dropped: &mut u64| {
            *dropped += n.saturating_sub(max) as u64;
            n.min(max)
        };

        // Partitions and topics.
        let topics = m.topics();
        let mut partitions = Vec::new();
        let mut per_topic = Vec::new();
        let mut poisoned = 0i64;
        let mut ack_wait = None;
        if let Some(topics) = &topics {
            ack_wait = Some(topics.ack_wait());
            for t in topics.all() {
                let name: Arc<str> = Arc::from(t.name.as_str());
                let (mut records_in, mut bytes_in, mut bytes_out) = (0, 0, 0);
                for p in &t.partitions {
                    let (r, bi, bo) = p.stats.read();
                    records_in += r;
                    bytes_in += bi;
                    bytes_out += bo;
                    poisoned += i64::from(p.log.is_poisoned());
                    partitions.push(PartitionRow {
                        topic: Arc::clone(&name),
                        index: p.index,
                        log_start: p.log.log_start(),
                        log_end: p.log.log_end(),
                        high_watermark: p.high_watermark(),
                        size_bytes: p.log.size_bytes(),
                        segments: p.log.segment_count(),
                    });
                }
                per_topic.push((name, records_in, bytes_in, bytes_out));
            }
        }
        let shown = cap(partitions.len(), &mut dropped);
        // Five families per partition.
        dropped += 4 * (partitions.len() - shown) as u64;
        partitions.truncate(shown);
        type PartitionFamily = (&'static str, &'static str, fn(&PartitionRow) -> i64);
        let partition_families: [PartitionFamily; 5] = [
            (
                "weir_partition_log_start_offset",
                "First offset still readable.",
                |p| p.log_start,
            ),
            (
                "weir_partition_log_end_offset",
                "Offset the next appended record gets.",
                |p| p.log_end,
            ),
            (
                "weir_partition_high_watermark",
                "Offset up to which consumers may read (the durable end under the fsync policy).",
                |p| p.high_watermark,
            ),
            (
                "weir_partition_size_bytes",
                "Bytes of the partition's segment files.",
                |p| i64::try_from(p.size_bytes).unwrap_or(i64::MAX),
            ),
            (
                "weir_partition_segments",
                "Segments of the partition's log.",
                |p| i64::try_from(p.segments).unwrap_or(i64::MAX),
            ),
        ];
        for (name, help, value) in partition_families {
            gauges(
                &mut e,
                name,
                help,
                partitions.iter().map(|p| (pl(p), value(p))),
            )?;
        }
        counters(
            &mut e,
            "weir_topic_records_in",
            "Records appended (an idempotent resend is not counted again).",
            per_topic.iter().map(|(t, r, _, _)| (tl(t), *r)),
        )?;
        counters(
            &mut e,
            "weir_topic_bytes_in",
            "Record-batch bytes appended, as stored.",
            per_topic.iter().map(|(t, _, b, _)| (tl(t), *b)),
        )?;
        counters(
            &mut e,
            "weir_topic_bytes_out",
            "Record-batch bytes sent in Fetch responses.",
            per_topic.iter().map(|(t, _, _, b)| (tl(t), *b)),
        )?;
        let mut produce_errors: Vec<((String, i16), u64)> = m
            .produce_errors
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect();
        produce_errors.sort();
        counters(
            &mut e,
            "weir_topic_produce_errors",
            "Produce partition answers with an error, by Kafka error name.",
            produce_errors.iter().map(|((t, code), n)| {
                let error = weir_protocol::ErrorCode(*code)
                    .name()
                    .unwrap_or("UNKNOWN_SERVER_ERROR");
                (
                    vec![("topic", Label::Str(t)), ("error", Label::Str(error))],
                    *n,
                )
            }),
        )?;

        // The log cleaner: each compacted partition's dirty ratio and bytes (capped like the
        // partition families), and what the cleaner threads have done.
        let mut cleaned = Vec::new();
        if let Some(topics) = &topics {
            let now_ms = crate::clock::now_ms();
            for t in topics.all() {
                if !t.settings().compacted() {
                    continue;
                }
                let name: Arc<str> = Arc::from(t.name.as_str());
                for p in &t.partitions {
                    let st = p.log.cleaner_stats(now_ms);
                    cleaned.push((Arc::clone(&name), p.index, st.dirty_ratio, st.dirty_bytes));
                }
            }
        }
        let shown = cap(cleaned.len(), &mut dropped);
        dropped += (cleaned.len() - shown) as u64;
        cleaned.truncate(shown);
        gauges(
            &mut e,
            "weir_cleaner_dirty_ratio",
            "Dirty bytes over clean plus dirty bytes of a compacted partition (the cleaner picks the highest).",
            cleaned.iter().map(|(t, p, r, _)| (cl(t, *p), *r)),
        )?;
        gauges(
            &mut e,
            "weir_cleaner_dirty_bytes",
            "Bytes of a compacted partition's cleanable segments not yet cleaned.",
            cleaned
                .iter()
                .map(|(t, p, _, b)| (cl(t, *p), i64::try_from(*b).unwrap_or(i64::MAX))),
        )?;
        let (cleans, failures, cb_in, cb_out, removed) = topics
            .as_ref()
            .map_or((0, 0, 0, 0, 0), |t| t.cleaner_totals().read());
        for (name, help, v) in [
            ("weir_cleaner_cleans", "Cleans completed.", cleans),
            ("weir_cleaner_failures", "Cleans that failed.", failures),
            (
                "weir_cleaner_bytes_in",
                "Bytes of the segments cleans replaced.",
                cb_in,
            ),
            (
                "weir_cleaner_bytes_out",
                "Bytes of the segments cleans wrote.",
                cb_out,
            ),
            (
                "weir_cleaner_records_removed",
                "Records cleans removed.",
                removed,
            ),
        ] {
            counters(&mut e, name, help, std::iter::once((Vec::new(), v)))?;
        }

        // Groups.
        let mut groups = Vec::new();
        let mut offsets = Vec::new();
        if let Some(c) = m.coordinator() {
            groups = c.groups().summaries();
            groups.sort_by(|a, b| a.id.cmp(&b.id));
            let now_ms = crate::clock::now_ms();
            for (group, topic, partition, committed) in c.offsets().snapshot() {
                let part = topics
                    .as_ref()
                    .and_then(|ts| ts.get(&topic))
                    .and_then(|t| t.partition(partition).cloned());
                let hw = part.as_ref().map(|p| p.high_watermark());
                offsets.push(OffsetRow {
                    lag: hw.map(|hw| (hw - committed).max(0)),
                    lag_seconds: part
                        .as_ref()
                        .and_then(|p| age_seconds(p, committed, now_ms)),
                    group,
                    topic,
                    partition,
                    committed,
                });
            }
            offsets.sort_by(|a, b| {
                (&a.group, &a.topic, a.partition).cmp(&(&b.group, &b.topic, b.partition))
            });
        }
        let shown = cap(offsets.len(), &mut dropped);
        offsets.truncate(shown);
        let with_lag = offsets.iter().filter(|o| o.lag.is_some()).count();
        let shown_lag = cap(with_lag, &mut dropped);
        gauges(
            &mut e,
            "weir_group_lag",
            "Records the group has not committed: high watermark - committed offset.",
            offsets
                .iter()
                .filter_map(|o| o.lag.map(|l| (ol(o), l)))
                .take(shown_lag),
        )?;
        let with_age = offsets.iter().filter(|o| o.lag_seconds.is_some()).count();
        let shown_age = cap(with_age, &mut dropped);
        gauges(
            &mut e,
            "weir_group_lag_seconds",
            "Age of the oldest record the group has not committed (0 when caught up).",
            offsets
                .iter()
                .filter_map(|o| o.lag_seconds.map(|l| (ol(o), l)))
                .take(shown_age),
        )?;
        gauges(
            &mut e,
            "weir_group_committed_offset",
            "The group's committed offset.",
            offsets.iter().map(|o| (ol(o), o.committed)),
        )?;
        let shown = cap(groups.len(), &mut dropped);
        dropped += 2 * (groups.len() - shown) as u64;
        let shown_states =
            cap(groups.len() * GROUP_STATES.len(), &mut dropped) / GROUP_STATES.len();
        gauges(
            &mut e,
            "weir_group_members",
            "Members of the group.",
            groups[..shown]
                .iter()
                .map(|g| (gl(&g.id), g.members as i64)),
        )?;
        gauges(
            &mut e,
            "weir_group_state",
            "1 for the group's current state, 0 for the others.",
            groups[..shown_states].iter().flat_map(|g| {
                GROUP_STATES.iter().map(move |s| {
                    let labels = vec![
                        ("group", Label::Str(&g.id)),
                        ("state", Label::Str(s.name())),
                    ];
                    (labels, i64::from(g.state == *s))
                })
            }),
        )?;
        counters(
            &mut e,
            "weir_group_rebalances",
            "Rebalances the group completed (its generation).",
            groups[..shown]
                .iter()
                .map(|g| (gl(&g.id), u64::try_from(g.generation).unwrap_or(0))),
        )?;

        // Requests.
        let api_label = |k: &ApiKey| -> Labels<'static> { vec![("api", Label::Str(k.name()))] };
        counters(
            &mut e,
            "weir_requests",
            "Requests answered, by API and the error the response reports.",
            ApiKey::ALL.iter().enumerate().flat_map(|(a, k)| {
                (0..requests::ERROR_SLOTS).filter_map(move |s| {
                    let n = m.requests[a * requests::ERROR_SLOTS + s].load(Ordering::Relaxed);
                    (n > 0).then(|| {
                        let labels = vec![
                            ("api", Label::Str(k.name())),
                            ("error", Label::Str(requests::slot_error_name(s))),
                        ];
                        (labels, n)
                    })
                })
            }),
        )?;
        histograms(
            &mut e,
            "weir_request_duration_seconds",
            "Time from a decoded request to its encoded response.",
            ApiKey::ALL
                .iter()
                .zip(m.durations.iter())
                .filter(|(_, h)| h.count() > 0)
                .map(|(k, h)| (api_label(k), h.snapshot())),
        )?;
        counters(
            &mut e,
            "weir_response_bytes",
            "Response bytes written, by API.",
            ApiKey::ALL
                .iter()
                .zip(m.response_bytes.iter())
                .map(|(k, b)| (k, b.load(Ordering::Relaxed)))
                .filter(|(_, b)| *b > 0)
                .map(|(k, b)| (api_label(k), b)),
        )?;

        // Storage.
        let fsync = m.fsync.snapshot();
        let fsyncs = fsync.count;
        histograms(
            &mut e,
            "weir_fsync_duration_seconds",
            "Duration of each fdatasync of a partition log's files.",
            std::iter::once((Vec::new(), fsync)),
        )?;
        counters(
            &mut e,
            "weir_fsyncs",
            "fdatasync calls on partition log files.",
            std::iter::once((Vec::new(), fsyncs)),
        )?;
        histograms(
            &mut e,
            "weir_produce_ack_wait_seconds",
            "Wait of an acks=-1 produce or an offset commit for its group-commit fsync.",
            ack_wait.into_iter().map(|h| (Vec::new(), h)),
        )?;
        gauges(
            &mut e,
            "weir_partitions_poisoned",
            "Partitions refusing writes after a failed fsync.",
            std::iter::once((Vec::new(), poisoned)),
        )?;
        gauges(
            &mut e,
            "weir_recovery_seconds",
            "How long opening the data directory (log recovery, offsets replay) took.",
            std::iter::once((
                Vec::new(),
                m.recovery_nanos.load(Ordering::Relaxed) as f64 / 1e9,
            )),
        )?;

        // Network.
        gauges(
            &mut e,
            "weir_connections",
            "Open client connections.",
            std::iter::once((
                vec![("listener", Label::Str(LISTENER_NAME))],
                m.connections.load(Ordering::Relaxed),
            )),
        )?;
        counters(
            &mut e,
            "weir_connections_accepted",
            "Client connections accepted.",
            std::iter::once((Vec::new(), m.connections_accepted.load(Ordering::Relaxed))),
        )?;

        // Request memory and queueing.
        let queued = m
            .request_memory
            .get()
            .and_then(std::sync::Weak::upgrade)
            .map_or(0, |r| r.queued() as i64);
        gauges(
            &mut e,
            "weir_bytes_in_queued",
            "Request bytes held (read, not yet answered), within queued_max_request_bytes.",
            std::iter::once((Vec::new(), queued)),
        )?;
        histograms(
            &mut e,
            "weir_request_queue_seconds",
            "From a request's frame being read to its handler starting.",
            std::iter::once((Vec::new(), m.request_queue.snapshot())),
        )?;

        // Quotas.
        let mut f = e.encode_descriptor(
            "weir_throttle_time_seconds",
            "Throttle time given to clients over a quota, by quota (produce, fetch, request).",
            None,
            MetricType::Counter,
        )?;
        for kind in crate::quota::QuotaKind::ALL {
            let secs = m.throttle_ms[kind.index()].load(Ordering::Relaxed) as f64 / 1000.0;
            f.encode_family(&vec![("quota", Label::Str(kind.label()))])?
                .encode_counter::<NoLabelSet, f64, f64>(&secs, None)?;
        }

        // Process.
        let p = process::read();
        if let Some(v) = p.cpu_seconds {
            float_counter(
                &mut e,
                "process_cpu_seconds",
                "User and system CPU time spent in seconds.",
                v,
            )?;
        }
        let proc_gauges = [
            (
                "process_resident_memory_bytes",
                "Resident memory size in bytes.",
                p.resident_bytes.map(|v| v as f64),
            ),
            (
                "process_virtual_memory_bytes",
                "Virtual memory size in bytes.",
                p.virtual_bytes.map(|v| v as f64),
            ),
            (
                "process_open_fds",
                "Number of open file descriptors.",
                p.open_fds.map(|v| v as f64),
            ),
            (
                "process_max_fds",
                "Maximum number of open file descriptors.",
                p.max_fds.map(|v| v as f64),
            ),
            (
                "process_start_time_seconds",
                "Start time of the process since unix epoch in seconds.",
                p.start_time_seconds,
            ),
        ];
        for (name, help, v) in proc_gauges {
            if let Some(v) = v {
                gauges(&mut e, name, help, std::iter::once((Vec::new(), v)))?;
            }
        }

        let total = m.series_dropped.fetch_add(dropped, Ordering::Relaxed) + dropped;
        counters(
            &mut e,
            "weir_metrics_series_dropped",
            "Series left out of scrapes past metrics_series_max (summed over scrapes).",
            std::iter::once((Vec::new(), total)),
        )
    }
}

/// Age at `now_ms` of the oldest record at or after `committed`: 0 when the group is caught
/// up to the high watermark; else the timestamp of the batch holding `committed` (its first
/// record's, or its append time under `LogAppendTime`), read from that one batch header (the
/// offset index finds it; 61 bytes and the batch's CRC). `None` when no timestamp is known.
fn age_seconds(p: &Partition, committed: i64, now_ms: i64) -> Option<f64> {
    if committed >= p.high_watermark() {
        return Some(0.0);
    }
    let from = committed.max(p.log.log_start());
    let header = p.log.batch_headers(from).ok()?.next()?.ok()?;
    let ts = if header.attributes.timestamp_type() == TimestampType::LogAppendTime {
        header.max_timestamp
    } else {
        header.base_timestamp
    };
    (ts >= 0).then(|| (now_ms - ts).max(0) as f64 / 1000.0)
}

fn pl(p: &PartitionRow) -> Labels<'_> {
    vec![
        ("topic", Label::Str(&p.topic)),
        ("partition", Label::Int(p.index.into())),
    ]
}

fn tl(t: &str) -> Labels<'_> {
    vec![("topic", Label::Str(t))]
}

fn ol(o: &OffsetRow) -> Labels<'_> {
    vec![
        ("group", Label::Str(&o.group)),
        ("topic", Label::Str(&o.topic)),
        ("partition", Label::Int(o.partition.into())),
    ]
}

fn gl(g: &str) -> Labels<'_> {
    vec![("group", Label::Str(g))]
}

fn gauges<'a, V: EncodeGaugeValue>(
    e: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    rows: impl Iterator<Item = (Labels<'a>, V)>,
) -> Result<(), std::fmt::Error> {
    let mut m = e.encode_descriptor(name, help, None, MetricType::Gauge)?;
    for (labels, v) in rows {
        if labels.is_empty() {
            m.encode_gauge(&v)?;
        } else {
            m.encode_family(&labels)?.encode_gauge(&v)?;
        }
    }
    Ok(())
}

/// `name` without `_total` (prometheus-client appends it).
fn counters<'a>(
    e: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    rows: impl Iterator<Item = (Labels<'a>, u64)>,
) -> Result<(), std::fmt::Error> {
    let mut m = e.encode_descriptor(name, help, None, MetricType::Counter)?;
    for (labels, v) in rows {
        if labels.is_empty() {
            m.encode_counter::<NoLabelSet, u64, u64>(&v, None)?;
        } else {
            m.encode_family(&labels)?
                .encode_counter::<NoLabelSet, u64, u64>(&v, None)?;
        }
    }
    Ok(())
}

fn float_counter(
    e: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    v: f64,
) -> Result<(), std::fmt::Error> {
    e.encode_descriptor(name, help, None, MetricType::Counter)?
        .encode_counter::<NoLabelSet, f64, f64>(&v, None)
}

fn histograms<'a>(
    e: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    rows: impl Iterator<Item = (Labels<'a>, HistogramSnapshot)>,
) -> Result<(), std::fmt::Error> {
    let mut m = e.encode_descriptor(name, help, None, MetricType::Histogram)?;
    for (labels, h) in rows {
        let (sum, count) = (h.sum_seconds, h.count);
        if labels.is_empty() {
            m.encode_histogram::<NoLabelSet>(sum, count, &h.buckets, None)?;
        } else {
            m.encode_family(&labels)?
                .encode_histogram::<NoLabelSet>(sum, count, &h.buckets, None)?;
        }
    }
    Ok(())
}

fn cl(topic: &str, partition: i32) -> Labels<'_> {
    vec![
        ("topic", Label::Str(topic)),
        ("partition", Label::Int(partition.into())),
    ]
}
