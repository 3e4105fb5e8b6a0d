//! The fetch-session rules of `fetch_session.rs`, case by case against Kafka's
//! `FetchSession.scala`: contexts, epochs, incremental answers, forgotten partitions, the
//! session order, the cache's slots and its eviction rules.

use super::*;
use crate::clock::ManualClock;

fn key(topic: &str, partition: i32) -> PartitionKey {
    (TopicKey::Name(Arc::from(topic)), partition)
}

fn wanted(topic: &str, partition: i32, fetch_offset: i64) -> Wanted {
    Wanted {
        key: key(topic, partition),
        params: Params {
            fetch_offset,
            partition_max_bytes: 1 << 20,
            current_leader_epoch: -1,
            log_start_offset: -1,
            last_fetched_epoch: -1,
        },
    }
}

fn answered(records_bytes: usize, high_watermark: i64) -> Answered {
    Answered {
        records_bytes,
        high_watermark,
        log_start_offset: 0,
        ..Default::default()
    }
}

fn cache(slots: usize) -> (FetchSessionCache, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(1_000_000));
    (FetchSessionCache::new(slots, clock.clone()), clock)
}

/// A full fetch of `n` partitions of topic `t` (version 12), answered at high watermark 10;
/// the new session's id.
fn full_session(c: &FetchSessionCache, t: &str, n: i32, privileged: bool) -> i32 {
    let ws: Vec<Wanted> = (0..n).map(|p| wanted(t, p, 0)).collect();
    let ctx = c.new_context(12, 0, INITIAL_EPOCH, privileged, ws.clone(), &[]);
    assert!(matches!(ctx, FetchContext::Full { .. }), "{ctx:?}");
    let answers = vec![answered(0, 10); ws.len()];
    c.create_session(privileged, false, &ws, &answers)
}

fn incremental(c: &FetchSessionCache, id: i32, epoch: i32, data: Vec<Wanted>) -> FetchContext {
    c.new_context(12, id, epoch, false, data, &[])
}

#[test]
fn epochs_follow_kafkas_next_epoch() {
    assert_eq!(next_epoch(INITIAL_EPOCH), 1);
    assert_eq!(next_epoch(41), 42);
    assert_eq!(next_epoch(i32::MAX), 1);
    assert_eq!(next_epoch(FINAL_EPOCH), FINAL_EPOCH);
}

#[test]
fn a_full_fetch_creates_a_session_at_epoch_one_and_incrementals_advance_it() {
    let (c, _) = cache(10);
    let id = full_session(&c, "t", 3, false);
    assert_ne!(id, INVALID_SESSION_ID);
    assert_eq!((c.len(), c.partitions_cached()), (1, 3));
    // Epoch 1 is next; the session's partitions come back in their order.
    let ctx = incremental(&c, id, 1, Vec::new());
    let FetchContext::Incremental { wanted: w, .. } = &ctx else {
        panic!("{ctx:?}");
    };
    assert_eq!(w.iter().map(|w| w.key.1).collect::<Vec<_>>(), [0, 1, 2]);
    // The same epoch again is a duplicate: refused; the next one is taken.
    let again = incremental(&c, id, 1, Vec::new());
    assert_eq!(
        again,
        FetchContext::SessionError(ErrorCode::INVALID_FETCH_SESSION_EPOCH)
    );
    assert!(matches!(
        incremental(&c, id, 2, Vec::new()),
        FetchContext::Incremental { .. }
    ));
    // An id the cache never gave.
    let unknown = incremental(&c, id.wrapping_add(1).max(1), 1, Vec::new());
    assert_eq!(
        unknown,
        FetchContext::SessionError(ErrorCode::FETCH_SESSION_ID_NOT_FOUND)
    );
}

#[test]
fn sessions_by_topic_id_and_by_name_do_not_mix() {
    let (c, _) = cache(10);
    let by_name = full_session(&c, "t", 1, false);
    let err = FetchContext::SessionError(ErrorCode::FETCH_SESSION_TOPIC_ID_ERROR);
    assert_eq!(c.new_context(13, by_name, 1, false, Vec::new(), &[]), err);
    let w = vec![Wanted {
        key: (TopicKey::Id([7; 16]), 0),
        params: wanted("t", 0, 0).params,
    }];
    let ctx = c.new_context(13, 0, INITIAL_EPOCH, false, w.clone(), &[]);
    assert!(matches!(
        ctx,
        FetchContext::Full {
            uses_topic_ids: true,
            ..
        }
    ));
    let by_id = c.create_session(false, true, &w, &[answered(0, 0)]);
    assert_eq!(c.new_context(12, by_id, 1, false, Vec::new(), &[]), err);
    assert!(matches!(
        c.new_context(13, by_id, 1, false, Vec::new(), &[]),
        FetchContext::Incremental { .. }
    ));
}

#[test]
fn a_full_fetch_closes_the_session_it_names_and_epoch_minus_one_creates_none() {
    let (c, _) = cache(10);
    let id = full_session(&c, "t", 2, false);
    // Epoch -1: the session is closed, the fetch sessionless.
    let ctx = c.new_context(12, id, FINAL_EPOCH, false, vec![wanted("t", 0, 5)], &[]);
    assert_eq!(ctx, FetchContext::Sessionless(vec![wanted("t", 0, 5)]));
    assert!(c.is_empty());
    // Epoch 0 with an id: the old session is closed, a new one may be made.
    let id = full_session(&c, "t", 2, false);
    let ctx = c.new_context(12, id, INITIAL_EPOCH, false, vec![wanted("t", 0, 5)], &[]);
    assert!(matches!(ctx, FetchContext::Full { .. }));
    assert!(c.is_empty());
    // Before v7 there are no sessions, whatever the fields say.
    let ctx = c.new_context(6, 0, INITIAL_EPOCH, false, vec![wanted("t", 0, 5)], &[]);
    assert!(matches!(ctx, FetchContext::Sessionless(_)));
}

#[test]
fn a_full_fetch_names_each_partition_once_with_its_last_parameters() {
    let (c, _) = cache(10);
    let data = vec![wanted("t", 0, 1), wanted("t", 1, 1), wanted("t", 0, 9)];
    let ctx = c.new_context(12, 0, INITIAL_EPOCH, false, data, &[]);
    assert_eq!(ctx.wanted(), [wanted("t", 0, 9), wanted("t", 1, 1)]);
}

#[test]
fn an_incremental_answer_leaves_out_what_did_not_change() {
    let (c, _) = cache(10);
    let id = full_session(&c, "t", 4, false); // every partition answered at hw 10
    let ctx = incremental(&c, id, 1, Vec::new());
    let w = ctx.wanted().to_vec();
    let answers = [
        answered(0, 10),   // unchanged: left out
        answered(100, 12), // records: sent
        answered(0, 11),   // a new high watermark alone: sent
        Answered {
            log_start_offset: 3, // a new log start offset: sent
            ..answered(0, 10)
        },
    ];
    let keep = c.incremental_answer(id, 1, &w, &answers).unwrap();
    assert_eq!(keep, [false, true, true, true]);
    // The same state again (partition 1, which returned records, is last now): nothing
    // changed, nothing is sent.
    let ctx = incremental(&c, id, 2, Vec::new());
    let w = ctx.wanted().to_vec();
    assert_eq!(w.iter().map(|w| w.key.1).collect::<Vec<_>>(), [0, 2, 3, 1]);
    let answers = [
        answered(0, 10),
        answered(0, 11),
        Answered {
            log_start_offset: 3,
            ..answered(0, 10)
        },
        answered(0, 12),
    ];
    let keep = c.incremental_answer(id, 2, &w, &answers).unwrap();
    assert_eq!(keep, [false; 4]);
}

#[test]
fn an_error_is_always_sent_and_its_end_sends_the_partition_again() {
    let (c, _) = cache(10);
    let id = full_session(&c, "t", 1, false);
    let w = incremental(&c, id, 1, Vec::new()).wanted().to_vec();
    let error = Answered {
        error: true,
        high_watermark: -1,
        log_start_offset: -1,
        ..Default::default()
    };
    assert_eq!(c.incremental_answer(id, 1, &w, &[error]).unwrap(), [true]);
    let w = incremental(&c, id, 2, Vec::new()).wanted().to_vec();
    assert_eq!(c.incremental_answer(id, 2, &w, &[error]).unwrap(), [true]);
    // The error gone, the partition is sent although its high watermark is as before it.
    let w = incremental(&c, id, 3, Vec::new()).wanted().to_vec();
    let ok = answered(0, 10);
    assert_eq!(c.incremental_answer(id, 3, &w, &[ok]).unwrap(), [true]);
    let w = incremental(&c, id, 4, Vec::new()).wanted().to_vec();
    assert_eq!(c.incremental_answer(id, 4, &w, &[ok]).unwrap(), [false]);
}

#[test]
fn a_partition_that_returned_records_moves_to_the_end_of_the_session() {
    let (c, _) = cache(10);
    let id = full_session(&c, "t", 3, false);
    let w = incremental(&c, id, 1, Vec::new()).wanted().to_vec();
    let answers = [answered(5, 11), answered(0, 10), answered(0, 10)];
    c.incremental_answer(id, 1, &w, &answers).unwrap();
    let w = incremental(&c, id, 2, Vec::new()).wanted().to_vec();
    assert_eq!(w.iter().map(|w| w.key.1).collect::<Vec<_>>(), [1, 2, 0]);
}

#[test]
fn incremental_requests_add_update_and_forget_partitions() {
    let (c, _) = cache(10);
    let id = full_session(&c, "t", 2, false);
    // Partition 0 moves on to offset 7, partition 5 is added, partition 1 forgotten.
    let ctx = c.new_context(
        12,
        id,
        1,
        false,
        vec![wanted("t", 0, 7), wanted("t", 5, 0)],
        &[key("t", 1)],
    );
    assert_eq!(ctx.wanted(), [wanted("t", 0, 7), wanted("t", 5, 0)]);
    // The added partition is new to the session: it is sent, whatever it says.
    let answers = [answered(0, 10), answered(0, 0)];
    let keep = c.incremental_answer(id, 1, ctx.wanted(), &answers).unwrap();
    assert_eq!(keep, [false, true]);
    // Forgetting every partition closes the session: the fetch is sessionless.
    let ctx = c.new_context(12, id, 2, false, Vec::new(), &[key("t", 0), key("t", 5)]);
    assert_eq!(ctx, FetchContext::Sessionless(Vec::new()));
    assert!(c.is_empty());
}

#[test]
fn an_epoch_moved_before_the_answer_is_invalid() {
    let (c, _) = cache(10);
    let id = full_session(&c, "t", 1, false);
    let first = incremental(&c, id, 1, Vec::new());
    // A second request taken in before the first is answered moves the epoch on.
    let _second = incremental(&c, id, 2, Vec::new());
    let w = first.wanted().to_vec();
    assert_eq!(
        c.incremental_answer(id, 1, &w, &[answered(0, 10)]),
        Err(ErrorCode::INVALID_FETCH_SESSION_EPOCH)
    );
}

#[test]
fn no_slots_means_no_sessions() {
    let (c, _) = cache(0);
    assert_eq!(full_session(&c, "t", 5, false), INVALID_SESSION_ID);
    assert_eq!(full_session(&c, "t", 5, true), INVALID_SESSION_ID);
    assert!(c.is_empty());
}

#[test]
fn a_full_cache_keeps_young_sessions_from_unprivileged_newcomers() {
    let (c, clock) = cache(2);
    let a = full_session(&c, "a", 1, false);
    let b = full_session(&c, "b", 1, false);
    assert!(a != INVALID_SESSION_ID && b != INVALID_SESSION_ID);
    // Both were just made (and used): a larger newcomer may not evict them yet.
    assert_eq!(full_session(&c, "c", 100, false), INVALID_SESSION_ID);
    // A privileged one (a follower) may: the smallest unprivileged goes.
    clock.advance(1);
    let p = full_session(&c, "p", 1, true);
    assert_ne!(p, INVALID_SESSION_ID);
    assert_eq!(c.len(), 2);
}

#[test]
fn an_unused_session_is_evicted_after_the_eviction_time() {
    let (c, clock) = cache(1);
    let old = full_session(&c, "a", 10, true); // privileged and large
    clock.advance(FETCH_SESSION_EVICTION_MS_MIN);
    // Unused for exactly the eviction time: not yet stale.
    assert_eq!(full_session(&c, "b", 1, false), INVALID_SESSION_ID);
    clock.advance(1);
    let new = full_session(&c, "b", 1, false);
    assert_ne!(new, INVALID_SESSION_ID);
    assert_eq!(
        incremental(&c, old, 1, Vec::new()),
        FetchContext::SessionError(ErrorCode::FETCH_SESSION_ID_NOT_FOUND)
    );
}

#[test]
fn an_old_session_in_use_is_evicted_only_by_a_larger_or_more_privileged_one() {
    let (c, clock) = cache(1);
    let s = full_session(&c, "a", 5, false);
    // Keep it in use past the eviction time since its creation.
    let mut epoch = 1;
    for _ in 0..3 {
        clock.advance(FETCH_SESSION_EVICTION_MS_MIN / 2);
        assert!(matches!(
            incremental(&c, s, epoch, Vec::new()),
            FetchContext::Incremental { .. }
        ));
        epoch = next_epoch(epoch);
    }
    // Same size: the newcomer is not worth more.
    assert_eq!(full_session(&c, "b", 5, false), INVALID_SESSION_ID);
    // Smaller: neither.
    assert_eq!(full_session(&c, "b", 4, false), INVALID_SESSION_ID);
    // Larger: it evicts the old one.
    let larger = full_session(&c, "b", 6, false);
    assert_ne!(larger, INVALID_SESSION_ID);
    assert_eq!(c.partitions_cached(), 6);
    assert_eq!(
        incremental(&c, s, epoch, Vec::new()),
        FetchContext::SessionError(ErrorCode::FETCH_SESSION_ID_NOT_FOUND)
    );
}

#[test]
fn a_young_privileged_session_is_evicted_by_nobody() {
    let (c, clock) = cache(1);
    let p = full_session(&c, "f", 1, true);
    clock.advance(1);
    assert_eq!(full_session(&c, "g", 1000, true), INVALID_SESSION_ID);
    assert_eq!(full_session(&c, "g", 1000, false), INVALID_SESSION_ID);
    assert!(matches!(
        incremental(&c, p, 1, Vec::new()),
        FetchContext::Incremental { .. }
    ));
}
