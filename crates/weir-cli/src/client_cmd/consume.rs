//! `weir consume TOPIC`: from an offset, a time or a group's commits; to a bound, a count, the
//! end, or forever (kcat's default: follow).

use std::collections::BTreeMap;
use std::io::Write as _;

use anyhow::{Context as _, bail};
use weir_client::{Client, FetchConfig, Fetcher, GroupConfig, GroupMember, Isolation, OffsetSpec};
use weir_protocol::ErrorCode;

use super::format::{Output, parse_template, write_record};
use super::{ConnArgs, block_on, connect, parse_time, progress};

/// `weir consume TOPIC`
#[derive(Debug, clap::Args)]
pub struct ConsumeArgs {
    #[command(flatten)]
    conn: ConnArgs,
    /// The topic.
    topic: String,
    /// Only these partitions (repeatable; default: all).
    #[arg(long = "partition", short = 'p')]
    partitions: Vec<i32>,
    /// Where to start: earliest (or beginning), latest (or end), an offset N, or -N (N before
    /// the end). Default: earliest.
    #[arg(
        long,
        short = 'o',
        allow_hyphen_values = true,
        conflicts_with = "timestamp"
    )]
    offset: Option<String>,
    /// Start at the first record at or after this time (epoch ms or RFC 3339).
    #[arg(long)]
    timestamp: Option<String>,
    /// Consume as a member of this group (range assignor, heartbeats): start at its committed
    /// offsets (partitions without one use --offset or --timestamp) and commit as records are
    /// printed. With --partition: no membership, standalone commits (see docs/cli.md).
    #[arg(long, short = 'G')]
    group: Option<String>,
    /// Stop each partition before this offset (exclusive).
    #[arg(long)]
    until_offset: Option<i64>,
    /// Stop each partition before its first record at or after this time (resolved when the
    /// command starts, like the time index does; exclusive).
    #[arg(long)]
    until_timestamp: Option<String>,
    /// Stop after this many records in all.
    #[arg(long, short = 'c')]
    count: Option<u64>,
    /// Stop at the end of each partition as it was when the command started (kcat's `-e`).
    /// Without it or another bound, wait for new records forever.
    #[arg(long, short = 'e')]
    exit: bool,
    /// One JSON object per record: topic, partition, offset, timestamp, key, value, headers.
    #[arg(long, conflicts_with = "format")]
    json: bool,
    /// A kcat-style template: %s value, %k key, %S/%K their lengths, %t topic, %p partition,
    /// %o offset, %T timestamp (ms), %h headers, %%; \n and \t escapes.
    #[arg(long, short = 'f')]
    format: Option<String>,
    /// Longest broker-side wait for new records, in ms.
    #[arg(long, default_value_t = weir_client::FETCH_MAX_WAIT_MS_DEFAULT)]
    max_wait_ms: i32,
    /// Read only committed transactional records.
    #[arg(long)]
    read_committed: bool,
}

/// One partition's plan.
#[derive(Debug, Clone)]
struct Plan {
    start: i64,
    /// Exclusive bound, if any.
    end: Option<i64>,
}

/// Runs `weir consume`.
pub fn run(args: ConsumeArgs) -> anyhow::Result<()> {
    let output = match (&args.format, args.json) {
        (Some(f), _) => Output::Template(parse_template(f)?),
        (None, true) => Output::Json,
        (None, false) => Output::Raw,
    };
    let start_time = args.timestamp.as_deref().map(parse_time).transpose()?;
    let until_time = args
        .until_timestamp
        .as_deref()
        .map(parse_time)
        .transpose()?;
    block_on(async move {
        let client = connect(&args.conn).await?;
        let partitions = select_partitions(&client, &args.topic, &args.partitions).await?;
        let times = Times {
            start: start_time,
            until: until_time,
        };
        // A group without explicit partitions: a real member (range assignor, heartbeats).
        let member = match &args.group {
            Some(g) if args.partitions.is_empty() => Some(
                GroupMember::join(
                    client.clone(),
                    g,
                    std::slice::from_ref(&args.topic),
                    GroupConfig::default(),
                )
                .await
                .with_context(|| format!("joining group {g}"))?,
            ),
            _ => None,
        };
        let assigned = match &member {
            Some(m) => assigned_partitions(m, &args.topic),
            None => partitions,
        };
        let plans = plan(&client, &args, &assigned, times).await?;
        consume(&client, &args, &output, plans, times, member).await
    })
}

/// Start and stop times given on the command line.
#[derive(Debug, Clone, Copy)]
struct Times {
    start: Option<i64>,
    until: Option<i64>,
}

fn assigned_partitions(member: &GroupMember, topic: &str) -> Vec<i32> {
    let mut p = member.assignment().get(topic).cloned().unwrap_or_default();
    p.sort_unstable();
    p
}

/// The partitions asked for, checked against metadata (all of them when none are given).
pub async fn select_partitions(
    client: &Client,
    topic: &str,
    asked: &[i32],
) -> anyhow::Result<Vec<i32>> {
    let meta = client.metadata(Some(&[topic.to_string()])).await?;
    let t = meta
        .topic(topic)
        .with_context(|| format!("no metadata for topic {topic}"))?;
    if t.error != ErrorCode::NONE {
        bail!("topic {topic}: {}", t.error);
    }
    let all: Vec<i32> = t.partitions.iter().map(|p| p.partition).collect();
    if asked.is_empty() {
        return Ok(all);
    }
    for p in asked {
        if !all.contains(p) {
            bail!("topic {topic} has no partition {p} (it has {})", all.len());
        }
    }
    let mut asked = asked.to_vec();
    asked.sort_unstable();
    asked.dedup();
    Ok(asked)
}

/// `(earliest, latest)` per partition, one batched lookup.
pub async fn bounds(
    client: &Client,
    topic: &str,
    partitions: &[i32],
) -> anyhow::Result<BTreeMap<i32, (i64, i64)>> {
    let mut lookups = Vec::new();
    for &p in partitions {
        lookups.push((topic.to_string(), p, OffsetSpec::Earliest));
        lookups.push((topic.to_string(), p, OffsetSpec::Latest));
    }
    let listed = client.list_offsets_batch(&lookups).await?;
    Ok(partitions
        .iter()
        .enumerate()
        .map(|(i, &p)| (p, (listed[2 * i].offset, listed[2 * i + 1].offset)))
        .collect())
}

/// First offset at or after `time` per partition; the latest offset where none is.
pub async fn offsets_for_time(
    client: &Client,
    topic: &str,
    partitions: &[i32],
    time: i64,
    latest: &BTreeMap<i32, (i64, i64)>,
) -> anyhow::Result<BTreeMap<i32, i64>> {
    let lookups: Vec<_> = partitions
        .iter()
        .map(|&p| (topic.to_string(), p, OffsetSpec::Timestamp(time)))
        .collect();
    let listed = client.list_offsets_batch(&lookups).await?;
    Ok(partitions
        .iter()
        .zip(listed)
        .map(|(&p, l)| {
            let end = latest.get(&p).map_or(0, |b| b.1);
            (p, if l.offset < 0 { end } else { l.offset })
        })
        .collect())
}

async fn plan(
    client: &Client,
    args: &ConsumeArgs,
    partitions: &[i32],
    times: Times,
) -> anyhow::Result<BTreeMap<i32, Plan>> {
    let (start_time, until_time) = (times.start, times.until);
    if partitions.is_empty() {
        return Ok(BTreeMap::new());
    }
    let bounds = bounds(client, &args.topic, partitions).await?;
    let by_time = match start_time {
        Some(t) => Some(offsets_for_time(client, &args.topic, partitions, t, &bounds).await?),
        None => None,
    };
    let until = match until_time {
        Some(t) => Some(offsets_for_time(client, &args.topic, partitions, t, &bounds).await?),
        None => None,
    };
    let committed = match &args.group {
        Some(g) => {
            let ask = BTreeMap::from([(args.topic.clone(), partitions.to_vec())]);
            client
                .fetch_committed(g, Some(&ask))
                .await
                .with_context(|| format!("committed offsets of group {g}"))?
                .into_iter()
                .filter(|c| c.offset >= 0)
                .map(|c| (c.partition, c.offset))
                .collect()
        }
        None => BTreeMap::new(),
    };
    let mut plans = BTreeMap::new();
    for &p in partitions {
        let (earliest, latest) = bounds[&p];
        let start = if let Some(&c) = committed.get(&p) {
            c
        } else if let Some(t) = &by_time {
            t[&p]
        } else {
            match args.offset.as_deref().unwrap_or("earliest") {
                "earliest" | "beginning" => earliest,
                "latest" | "end" => latest,
                n => {
                    let n: i64 = n.parse().with_context(|| {
                        format!("--offset {n:?}: expected earliest, latest, N or -N")
                    })?;
                    if n < 0 {
                        latest.saturating_add(n).max(earliest)
                    } else {
                        n
                    }
                }
            }
        };
        let mut end = args.until_offset;
        if let Some(u) = &until {
            end = Some(end.map_or(u[&p], |e| e.min(u[&p])));
        }
        if args.exit {
            end = Some(end.map_or(latest, |e| e.min(latest)));
        }
        plans.insert(p, Plan { start, end });
    }
    Ok(plans)
}

/// Where commits go: a member's generation, or a standalone consumer's −1.
enum Committer {
    None,
    Standalone(String),
    Member(GroupMember),
}

impl Committer {
    async fn commit(
        &self,
        client: &Client,
        topic: &str,
        offsets: &BTreeMap<i32, i64>,
    ) -> anyhow::Result<()> {
        if offsets.is_empty() {
            return Ok(());
        }
        let list: Vec<_> = offsets
            .iter()
            .map(|(&p, &o)| (topic.to_string(), p, o))
            .collect();
        match self {
            Committer::None => Ok(()),
            Committer::Standalone(g) => client
                .commit_offsets(g, -1, "", &list)
                .await
                .with_context(|| {
                    format!("committing for group {g} (a group with active members refuses a standalone commit; drop --partition to join it)")
                }),
            Committer::Member(m) => m.commit(&list).await.context("committing"),
        }
    }
}

fn assign_all(fetcher: &mut Fetcher, topic: &str, plans: &BTreeMap<i32, Plan>) -> usize {
    let mut active = 0;
    for (&p, plan) in plans {
        if plan.end.is_none_or(|e| plan.start < e) {
            fetcher.assign(topic, p, plan.start);
            active += 1;
        }
    }
    active
}

async fn consume(
    client: &Client,
    args: &ConsumeArgs,
    output: &Output,
    mut plans: BTreeMap<i32, Plan>,
    times: Times,
    member: Option<GroupMember>,
) -> anyhow::Result<()> {
    let topic = args.topic.as_str();
    let mut committer = match (member, &args.group) {
        (Some(m), _) => Committer::Member(m),
        (None, Some(g)) => Committer::Standalone(g.clone()),
        (None, None) => Committer::None,
    };
    let follow = !args.exit && args.until_offset.is_none() && args.until_timestamp.is_none();
    let mut fetcher = Fetcher::new(
        client.clone(),
        FetchConfig {
            max_wait_ms: args.max_wait_ms,
            isolation: if args.read_committed {
                Isolation::ReadCommitted
            } else {
                Isolation::ReadUncommitted
            },
            ..Default::default()
        },
    );
    let mut active = assign_all(&mut fetcher, topic, &plans);
    let bounded_total: Option<u64> = plans
        .values()
        .map(|p| p.end.map(|e| (e - p.start).max(0) as u64))
        .sum::<Option<u64>>()
        .map(|t| args.count.map_or(t, |c| c.min(t)))
        .or(args.count);
    let bar = match bounded_total {
        Some(total) => progress(total, true, topic),
        None => indicatif::ProgressBar::hidden(),
    };
    let mut printed = 0u64;
    let mut to_commit: BTreeMap<i32, i64> = BTreeMap::new();
    let stdout = std::io::stdout();
    let mut buf = Vec::with_capacity(64 * 1024);
    let interrupted = tokio::signal::ctrl_c();
    tokio::pin!(interrupted);
    'outer: while args.count.is_none_or(|c| printed < c) {
        if let Committer::Member(m) = &mut committer
            && m.needs_rejoin()
        {
            // Eager rebalance: commit what was printed, give everything up, take the new set.
            let pending: Vec<_> = std::mem::take(&mut to_commit)
                .into_iter()
                .map(|(p, o)| (topic.to_string(), p, o))
                .collect();
            if !pending.is_empty()
                && let Err(e) = m.commit(&pending).await
            {
                // The generation may already be gone; the next member re-reads these records.
                tracing::debug!(error = %e, "commit before rejoin failed");
            }
            m.rejoin().await.context("rejoining the group")?;
            for p in fetcher.assigned() {
                fetcher.remove(&p.0, p.1);
            }
            plans = plan(client, args, &assigned_partitions(m, topic), times).await?;
            active = assign_all(&mut fetcher, topic, &plans);
        }
        if active == 0 {
            let waiting_member = matches!(committer, Committer::Member(_)) && follow;
            if !waiting_member {
                break;
            }
            // A member with no partitions waits for the next rebalance.
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            continue;
        }
        // Ctrl-C ends a followed topic cleanly: last commit, leave the group.
        let records = tokio::select! {
            records = fetcher.poll() => records?,
            _ = &mut interrupted => break 'outer,
        };
        for r in &records {
            let Some(plan) = plans.get(&r.partition) else {
                continue;
            };
            if plan.end.is_some_and(|e| r.offset >= e) {
                continue;
            }
            write_record(&mut buf, output, r);
            printed += 1;
            to_commit.insert(r.partition, r.offset + 1);
            if args.count.is_some_and(|c| printed >= c) {
                break;
            }
        }
        for (&p, plan) in &plans {
            if let (Some(end), Some(pos)) = (plan.end, fetcher.position(topic, p))
                && pos >= end
            {
                fetcher.remove(topic, p);
                active -= 1;
            }
        }
        if !buf.is_empty() {
            let mut out = stdout.lock();
            match out.write_all(&buf).and_then(|()| out.flush()) {
                Ok(()) => {}
                // `weir consume ... | head`: the reader is gone; stop quietly.
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => break 'outer,
                Err(e) => return Err(e).context("writing records"),
            }
            buf.clear();
        }
        bar.set_position(printed);
        committer.commit(client, topic, &to_commit).await?;
        to_commit.clear();
    }
    bar.finish_and_clear();
    committer.commit(client, topic, &to_commit).await?;
    if let Committer::Member(m) = committer {
        m.leave().await.context("leaving the group")?;
    }
    Ok(())
}
