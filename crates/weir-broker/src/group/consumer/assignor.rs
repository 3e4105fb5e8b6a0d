//! The server-side assignors of consumer-protocol groups (KIP-848): `uniform` and `range`.
//! Pure functions from the members' subscriptions, the subscribed topics' partition counts
//! and the previous target assignment to the next target assignment.

use std::collections::{BTreeMap, BTreeSet};

use weir_protocol::Uuid;

/// Partitions per topic id.
pub type Assignment = BTreeMap<Uuid, BTreeSet<i32>>;

/// What an assignor sees of one member.
#[derive(Debug, Clone)]
pub struct AssignorMember<'a> {
    /// Member id.
    pub id: &'a str,
    /// Topic ids it subscribes to that exist.
    pub topics: BTreeSet<Uuid>,
    /// Its previous target assignment (for stickiness).
    pub previous: &'a Assignment,
}

/// The assignors weir has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Assignor {
    /// Balanced and sticky over all subscribed partitions (Kafka's `UniformAssignor`).
    Uniform,
    /// Contiguous ranges per topic (Kafka's `RangeAssignor`).
    Range,
}

impl Assignor {
    /// By name, as `server_assignor` and `group_consumer_assignors` name them.
    pub fn by_name(name: &str) -> Option<Self> {
        match name {
            "uniform" => Some(Assignor::Uniform),
            "range" => Some(Assignor::Range),
            _ => None,
        }
    }

    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            Assignor::Uniform => "uniform",
            Assignor::Range => "range",
        }
    }

    /// The target assignment of every member; `partitions` gives each topic's count.
    pub fn assign(
        self,
        members: &[AssignorMember<'_>],
        partitions: &BTreeMap<Uuid, i32>,
    ) -> BTreeMap<String, Assignment> {
        match self {
            Assignor::Uniform => uniform(members, partitions),
            Assignor::Range => range(members, partitions),
        }
    }
}

fn count(a: &Assignment) -> usize {
    a.values().map(BTreeSet::len).sum()
}

/// Every member's partitions are within one of each other's when all subscribe to the same
/// topics. A member keeps what it had up to its share (the first `total % members` members
/// that had more may keep one more); the rest go one by one, in topic-id and partition
/// order, to the least-loaded subscribed member (ties by member id).
fn uniform(
    members: &[AssignorMember<'_>],
    partitions: &BTreeMap<Uuid, i32>,
) -> BTreeMap<String, Assignment> {
    let mut out: BTreeMap<String, Assignment> = members
        .iter()
        .map(|m| (m.id.to_string(), Assignment::new()))
        .collect();
    if members.is_empty() {
        return out;
    }
    let subscribed: BTreeSet<Uuid> = members
        .iter()
        .flat_map(|m| m.topics.iter().copied())
        .collect();
    let all: Vec<(Uuid, i32)> = subscribed
        .iter()
        .flat_map(|t| (0..partitions.get(t).copied().unwrap_or(0)).map(move |p| (*t, p)))
        .collect();
    // A member's share: what its topics would give it split evenly between their subscribers.
    let share = |m: &AssignorMember<'_>| -> usize {
        m.topics
            .iter()
            .map(|t| {
                let n = usize::try_from(partitions.get(t).copied().unwrap_or(0)).unwrap_or(0);
                let subs = members
                    .iter()
                    .filter(|o| o.topics.contains(t))
                    .count()
                    .max(1);
                n as f64 / subs as f64
            })
            .sum::<f64>()
            .floor() as usize
    };
    let homogeneous = members.iter().all(|m| m.topics == members[0].topics);
    let mut extra = if homogeneous {
        all.len() % members.len()
    } else {
        0
    };
    let mut taken: BTreeSet<(Uuid, i32)> = BTreeSet::new();
    for m in members {
        let quota = share(m);
        let valid: Vec<(Uuid, i32)> = m
            .previous
            .iter()
            .filter(|(t, _)| m.topics.contains(t))
            .flat_map(|(t, ps)| {
                let n = partitions.get(t).copied().unwrap_or(0);
                ps.iter().filter(move |&&p| p < n).map(move |&p| (*t, p))
            })
            .filter(|tp| !taken.contains(tp))
            .collect();
        let mut keep = valid.len().min(quota);
        if valid.len() > quota && extra > 0 {
            keep += 1;
            extra -= 1;
        }
        let a = out.entry(m.id.to_string()).or_default();
        for &(t, p) in valid.iter().take(keep) {
            a.entry(t).or_default().insert(p);
            taken.insert((t, p));
        }
    }
    for (t, p) in all {
        if taken.contains(&(t, p)) {
            continue;
        }
        let best = members
            .iter()
            .filter(|m| m.topics.contains(&t))
            .min_by_key(|m| (out.get(m.id).map_or(0, count), m.id));
        if let Some(m) = best {
            out.entry(m.id.to_string())
                .or_default()
                .entry(t)
                .or_default()
                .insert(p);
        }
    }
    out
}

/// Per topic, its subscribers in member-id order get contiguous ranges; the first
/// `partitions % subscribers` get one more.
fn range(
    members: &[AssignorMember<'_>],
    partitions: &BTreeMap<Uuid, i32>,
) -> BTreeMap<String, Assignment> {
    let mut out: BTreeMap<String, Assignment> = members
        .iter()
        .map(|m| (m.id.to_string(), Assignment::new()))
        .collect();
    let subscribed: BTreeSet<Uuid> = members
        .iter()
        .flat_map(|m| m.topics.iter().copied())
        .collect();
    for t in subscribed {
        let mut subs: Vec<&str> = members
            .iter()
            .filter(|m| m.topics.contains(&t))
            .map(|m| m.id)
            .collect();
        subs.sort_unstable();
        let n = partitions.get(&t).copied().unwrap_or(0).max(0);
        let k = i32::try_from(subs.len()).unwrap_or(i32::MAX).max(1);
        let (each, rest) = (n / k, n % k);
        let mut next = 0;
        for (i, id) in subs.iter().enumerate() {
            let i = i32::try_from(i).unwrap_or(i32::MAX);
            let len = each + i32::from(i < rest);
            if len > 0 {
                out.entry((*id).to_string())
                    .or_default()
                    .insert(t, (next..next + len).collect());
            }
            next += len;
        }
    }
    out
}
