//! Incremental reconciliation of one member towards its target assignment (KIP-848; the
//! behaviour of Kafka's `CurrentAssignmentBuilder`): partitions leave a member before
//! anyone else gets them. A member first revokes what the target takes away
//! (UNREVOKED_PARTITIONS, epoch unchanged); then it moves to the target epoch with what it
//! may have now, and waits (UNRELEASED_PARTITIONS) for partitions still owned by others.

use super::assignor::Assignment;

/// Where a member is in its reconciliation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberState {
    /// At its target epoch with all of its target partitions.
    Stable,
    /// Must revoke `pending_revocation` before moving on.
    UnrevokedPartitions,
    /// At the target epoch, waiting for partitions other members still own.
    UnreleasedPartitions,
}

impl MemberState {
    /// Kafka's name for it.
    pub fn name(self) -> &'static str {
        match self {
            MemberState::Stable => "stable",
            MemberState::UnrevokedPartitions => "unrevoked_partitions",
            MemberState::UnreleasedPartitions => "unreleased_partitions",
        }
    }
}

/// A member's assignment state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reconciled {
    /// Member epoch.
    pub epoch: i32,
    /// The epoch before the last bump.
    pub previous_epoch: i32,
    /// State.
    pub state: MemberState,
    /// Partitions it owns (and is told it owns).
    pub assigned: Assignment,
    /// Partitions it must give up.
    pub pending_revocation: Assignment,
}

/// Whether `owned` (the heartbeat's owned partitions; `None` when the request left them out)
/// still holds one of `revoking`. Unknown means yes.
fn still_owns(owned: Option<&Assignment>, revoking: &Assignment) -> bool {
    let Some(owned) = owned else { return true };
    revoking
        .iter()
        .any(|(t, ps)| owned.get(t).is_some_and(|o| !o.is_disjoint(ps)))
}

/// The next state of `m` given the target (epoch and partitions), the partitions the client
/// says it owns, and `taken(topic, partition)`: another member (not `m`) owns it or must still
/// revoke it.
pub fn reconcile(
    m: &Reconciled,
    target_epoch: i32,
    target: &Assignment,
    owned: Option<&Assignment>,
    taken: &dyn Fn(&weir_protocol::Uuid, i32) -> bool,
) -> Reconciled {
    match m.state {
        MemberState::Stable if m.epoch == target_epoch => m.clone(),
        MemberState::UnrevokedPartitions
            if still_owns(owned, &m.pending_revocation) && m.epoch >= target_epoch =>
        {
            m.clone()
        }
        _ => next(m, target_epoch, target, owned, taken),
    }
}

fn next(
    m: &Reconciled,
    target_epoch: i32,
    target: &Assignment,
    owned: Option<&Assignment>,
    taken: &dyn Fn(&weir_protocol::Uuid, i32) -> bool,
) -> Reconciled {
    let mut kept = Assignment::new();
    let mut revoking = Assignment::new();
    let mut assignable = Assignment::new();
    let mut unreleased = false;
    // What the member holds: its partitions, and those it has not revoked yet.
    let mut holds = m.assigned.clone();
    if still_owns(owned, &m.pending_revocation) {
        for (t, ps) in &m.pending_revocation {
            holds.entry(*t).or_default().extend(ps);
        }
    }
    let topics: std::collections::BTreeSet<_> = target.keys().chain(holds.keys()).collect();
    let empty = Default::default();
    for t in topics {
        let want = target.get(t).unwrap_or(&empty);
        let have = holds.get(t).unwrap_or(&empty);
        let k: std::collections::BTreeSet<i32> = have.intersection(want).copied().collect();
        let r: std::collections::BTreeSet<i32> = have.difference(want).copied().collect();
        let mut a = std::collections::BTreeSet::new();
        for &p in want.difference(have) {
            if taken(t, p) {
                unreleased = true;
            } else {
                a.insert(p);
            }
        }
        if !k.is_empty() {
            kept.insert(*t, k);
        }
        if !r.is_empty() {
            revoking.insert(*t, r);
        }
        if !a.is_empty() {
            assignable.insert(*t, a);
        }
    }
    if !revoking.is_empty() && still_owns(owned, &revoking) {
        return Reconciled {
            epoch: m.epoch,
            previous_epoch: m.previous_epoch,
            state: MemberState::UnrevokedPartitions,
            assigned: kept,
            pending_revocation: revoking,
        };
    }
    for (t, ps) in assignable {
        kept.entry(t).or_default().extend(ps);
    }
    Reconciled {
        epoch: target_epoch,
        previous_epoch: m.epoch,
        state: if unreleased {
            MemberState::UnreleasedPartitions
        } else {
            MemberState::Stable
        },
        assigned: kept,
        pending_revocation: Assignment::new(),
    }
}
