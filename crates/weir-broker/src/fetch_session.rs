//! Fetch sessions (KIP-227), as Kafka's `FetchSession.scala` keeps them: the broker-wide
//! cache of sessions, the choice of a request's context (`FetchManager.newContext`), and
//! what an incremental answer may leave out (`CachedPartition.maybeUpdateResponseData`).
//!
//! A full fetch (epoch 0) names every partition and may create a session; its answer carries
//! the new session id (0 when the cache has no slot for it). An incremental fetch (the
//! session's id and current epoch) names only the partitions added or changed, and lists in
//! `forgotten_topics_data` those to drop; the broker reads every partition of the session and
//! answers only those with records, a new high watermark or log start offset, or an error.
//! Epoch -1 closes the session (a sessionless fetch). Sessions keyed by topic id (Fetch v13+)
//! and by name (v7–12) are kept apart: using one with the other kind of request is
//! `FETCH_SESSION_TOPIC_ID_ERROR`.
//!
//! The cache holds `max_incremental_fetch_session_cache_slots` sessions at most. When full, a
//! new session evicts (Kafka's `tryEvict`): the least recently used one if unused for more
//! than [`FETCH_SESSION_EVICTION_MS_MIN`]; otherwise the smallest evictable one if the new one
//! is worth more (privileged — a follower's — before unprivileged, then more partitions). A
//! session younger than [`FETCH_SESSION_EVICTION_MS_MIN`] may be evicted only by a privileged
//! one, and a privileged one only once it is that old.
//!
//! This module knows no topics or partitions of the broker: it keeps keys, request
//! parameters and what was last answered, so its rules are tested without a log.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use weir_protocol::ErrorCode;

use crate::clock::Clock;

/// The session id of a sessionless fetch, and of an answer that created no session.
pub const INVALID_SESSION_ID: i32 = 0;

/// The epoch of a full fetch that asks for a new session.
pub const INITIAL_EPOCH: i32 = 0;

/// The epoch of a full fetch that wants no session (and closes the one it names).
pub const FINAL_EPOCH: i32 = -1;

/// How long a session must be unused before any new one may evict it, and how old a
/// session must be before an unprivileged one may evict it by size (Kafka's
/// `MIN_INCREMENTAL_FETCH_SESSION_EVICTION_MS`, not configurable there either).
pub const FETCH_SESSION_EVICTION_MS_MIN: i64 = 120_000;

/// The first Fetch version with sessions (KIP-227).
pub const SESSION_VERSION_MIN: i16 = 7;

/// The first Fetch version naming topics by id (KIP-516): its sessions are keyed by id.
const TOPIC_ID_VERSION_MIN: i16 = 13;

/// Kafka's `FetchMetadata.nextEpoch`: after -1 comes -1; after `i32::MAX`, 1.
pub fn next_epoch(prev: i32) -> i32 {
    if prev < 0 {
        FINAL_EPOCH
    } else if prev == i32::MAX {
        1
    } else {
        prev + 1
    }
}

/// A topic as a session names it: by id from Fetch v13, by name before.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TopicKey {
    /// A topic id (v13+).
    Id([u8; 16]),
    /// A topic name (v7–12, and sessionless fetches before v13).
    Name(Arc<str>),
}

/// One partition of a fetch.
pub type PartitionKey = (TopicKey, i32);

/// What a fetch asks of one partition (Kafka's `FetchRequest.PartitionData`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Params {
    /// Where to read from.
    pub fetch_offset: i64,
    /// Bytes at most from this partition.
    pub partition_max_bytes: i32,
    /// The leader epoch the fetcher knows, or -1.
    pub current_leader_epoch: i32,
    /// The fetcher's log start offset (followers), or -1.
    pub log_start_offset: i64,
    /// The epoch of the last batch fetched, or -1.
    pub last_fetched_epoch: i32,
}

/// One partition to read, with its parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted {
    /// Which partition.
    pub key: PartitionKey,
    /// How to read it.
    pub params: Params,
}

/// What the answer said of one partition, as far as a session cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Answered {
    /// Record bytes returned.
    pub records_bytes: usize,
    /// The high watermark answered (-1 with an error).
    pub high_watermark: i64,
    /// The partition's log start offset answered (-1 with an error).
    pub log_start_offset: i64,
    /// Whether the partition was answered with an error code.
    pub error: bool,
    /// A diverging epoch or a preferred read replica was answered (never, on one broker).
    pub must_send: bool,
}

/// How one Fetch request is answered (Kafka's `FetchContext` kinds).
#[derive(Debug, PartialEq, Eq)]
pub enum FetchContext {
    /// The session named cannot be used: the answer is this error alone, session id 0.
    SessionError(ErrorCode),
    /// No session: every partition of the request, answered in full, session id 0.
    Sessionless(Vec<Wanted>),
    /// A full fetch: every partition of the request; the answer tries to create a session.
    Full {
        /// The request's partitions (each once, in the order first named).
        wanted: Vec<Wanted>,
        /// A follower's fetch (its session is privileged).
        privileged: bool,
        /// The session would be keyed by topic id.
        uses_topic_ids: bool,
    },
    /// An incremental fetch: every partition of the session, in its order.
    Incremental {
        /// The session.
        session_id: i32,
        /// The epoch the request gave (the session is at the next one now).
        request_epoch: i32,
        /// The session's partitions, after the request's additions and removals.
        wanted: Vec<Wanted>,
    },
}

impl FetchContext {
    /// The partitions to read, in the order to read them (and to spend `max_bytes` on).
    pub fn wanted(&self) -> &[Wanted] {
        match self {
            Self::SessionError(_) => &[],
            Self::Sessionless(w) | Self::Full { wanted: w, .. } => w,
            Self::Incremental { wanted, .. } => wanted,
        }
    }
}

/// One cached partition (Kafka's `CachedPartition`).
#[derive(Debug, Clone)]
struct Cached {
    key: PartitionKey,
    params: Params,
    /// The high watermark last answered (-1 after an error, so it is sent again).
    high_watermark: i64,
    /// The log start offset last answered.
    log_start_offset: i64,
}

impl Cached {
    /// Kafka's `maybeUpdateResponseData` with the update: whether the answer must carry
    /// this partition, remembering what it says.
    fn must_respond(&mut self, a: &Answered) -> bool {
        let mut must = a.records_bytes > 0 || a.must_send;
        if self.high_watermark != a.high_watermark {
            must = true;
            self.high_watermark = a.high_watermark;
        }
        if self.log_start_offset != a.log_start_offset {
            must = true;
            self.log_start_offset = a.log_start_offset;
        }
        if a.error {
            self.high_watermark = -1;
            must = true;
        }
        must
    }
}

/// One session (Kafka's `FetchSession`).
#[derive(Debug)]
struct Session {
    privileged: bool,
    uses_topic_ids: bool,
    creation_ms: i64,
    last_used_ms: i64,
    /// The epoch the next incremental request must give.
    epoch: i32,
    /// The size the eviction sets know it by (Kafka's `cachedSize`); `None` before the
    /// first touch.
    cached_size: Option<usize>,
    /// The cached partitions in the session's order: a partition that returned records
    /// moves to the end, so the others come first for `max_bytes` next time.
    order: BTreeMap<u64, Cached>,
    /// Where each partition is in `order`.
    partitions: HashMap<PartitionKey, u64>,
    next_seq: u64,
}

impl Session {
    fn new(privileged: bool, uses_topic_ids: bool, now_ms: i64) -> Self {
        Self {
            privileged,
            uses_topic_ids,
            creation_ms: now_ms,
            last_used_ms: now_ms,
            epoch: next_epoch(INITIAL_EPOCH),
            cached_size: None,
            order: BTreeMap::new(),
            partitions: HashMap::new(),
            next_seq: 0,
        }
    }

    /// Adds a partition at the end, or updates its request parameters in place.
    fn upsert(&mut self, w: &Wanted, high_watermark: i64, log_start_offset: i64) {
        if let Some(c) = self
            .partitions
            .get(&w.key)
            .and_then(|seq| self.order.get_mut(seq))
        {
            c.params = w.params;
            return;
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        let cached = Cached {
            key: w.key.clone(),
            params: w.params,
            high_watermark,
            log_start_offset,
        };
        self.order.insert(seq, cached);
        self.partitions.insert(w.key.clone(), seq);
    }

    fn forget(&mut self, key: &PartitionKey) {
        if let Some(seq) = self.partitions.remove(key) {
            self.order.remove(&seq);
        }
    }

    fn move_to_end(&mut self, key: &PartitionKey) {
        let seq = self.next_seq;
        if let Some(old) = self.partitions.get_mut(key)
            && let Some(c) = self.order.remove(old)
        {
            *old = seq;
            self.order.insert(seq, c);
            self.next_seq += 1;
        }
    }

    fn wanted(&self) -> Vec<Wanted> {
        self.order
            .values()
            .map(|c| Wanted {
                key: c.key.clone(),
                params: c.params,
            })
            .collect()
    }

    /// Kafka's `EvictableKey`: unprivileged before privileged, then smaller first.
    fn evictable_key(&self, id: i32) -> EvictableKey {
        (self.privileged, self.cached_size.unwrap_or(0), id)
    }
}

/// (privileged, partitions, id): the least valuable session sorts first.
type EvictableKey = (bool, usize, i32);

/// The sessions and the orders eviction reads (Kafka's `FetchSessionCacheShard`).
#[derive(Debug, Default)]
struct Inner {
    sessions: HashMap<i32, Session>,
    /// (last used ms, id): the least recently used first.
    last_used: BTreeSet<(i64, i32)>,
    /// Sessions any new session may evict: those older than the eviction time.
    evictable_by_all: BTreeSet<EvictableKey>,
    /// Sessions a privileged new session may evict: every unprivileged one, and
    /// privileged ones older than the eviction time.
    evictable_by_privileged: BTreeSet<EvictableKey>,
    /// Partitions cached over all sessions.
    partitions: usize,
}

impl Inner {
    fn touch(&mut self, id: i32, now_ms: i64, eviction_ms: i64) {
        let Some(s) = self.sessions.get_mut(&id) else {
            return;
        };
        self.last_used.remove(&(s.last_used_ms, id));
        s.last_used_ms = now_ms;
        self.last_used.insert((now_ms, id));
        if let Some(old) = s.cached_size {
            let key = s.evictable_key(id);
            self.evictable_by_privileged.remove(&key);
            self.evictable_by_all.remove(&key);
            self.partitions -= old;
        }
        s.cached_size = Some(s.partitions.len());
        let key = s.evictable_key(id);
        let old_enough = now_ms - s.creation_ms > eviction_ms;
        if !s.privileged || old_enough {
            self.evictable_by_privileged.insert(key);
        }
        if old_enough {
            self.evictable_by_all.insert(key);
        }
        self.partitions += s.partitions.len();
    }

    fn remove(&mut self, id: i32) -> Option<Session> {
        let s = self.sessions.remove(&id)?;
        self.last_used.remove(&(s.last_used_ms, id));
        let key = s.evictable_key(id);
        self.evictable_by_all.remove(&key);
        self.evictable_by_privileged.remove(&key);
        self.partitions -= s.cached_size.unwrap_or(0);
        Some(s)
    }

    /// Kafka's `tryEvict`: makes room for a new session of `size` partitions.
    fn try_evict(&mut self, privileged: bool, size: usize, now_ms: i64, eviction_ms: i64) -> bool {
        let Some(&(last_used_ms, stale)) = self.last_used.first() else {
            return false;
        };
        if now_ms - last_used_ms > eviction_ms {
            tracing::debug!(session = stale, "evicting a stale fetch session");
            self.remove(stale);
            return true;
        }
        let evictable = if privileged {
            &self.evictable_by_privileged
        } else {
            &self.evictable_by_all
        };
        let Some(&first) = evictable.first() else {
            return false;
        };
        if (privileged, size, 0) < first {
            return false;
        }
        tracing::debug!(
            session = first.2,
            "evicting a fetch session for a larger one"
        );
        self.remove(first.2);
        true
    }

    /// A random id in `1..i32::MAX` no session has (Kafka's `newSessionId`); `None` if the
    /// OS random source fails.
    fn new_session_id(&self) -> Option<i32> {
        loop {
            let mut b = [0u8; 4];
            getrandom::fill(&mut b).ok()?;
            let id = i32::from_be_bytes(b) & i32::MAX;
            if id != INVALID_SESSION_ID && id != i32::MAX && !self.sessions.contains_key(&id) {
                return Some(id);
            }
        }
    }
}

/// The broker's fetch sessions.
#[derive(Debug)]
pub struct FetchSessionCache {
    inner: Mutex<Inner>,
    /// `max_incremental_fetch_session_cache_slots`.
    slots: usize,
    eviction_ms: i64,
    clock: Arc<dyn Clock>,
}

impl FetchSessionCache {
    /// A cache of `slots` sessions at most (0: no sessions, every fetch is answered in full).
    pub fn new(slots: usize, clock: Arc<dyn Clock>) -> Self {
        Self {
            inner: Mutex::new(Inner::default()),
            slots,
            eviction_ms: FETCH_SESSION_EVICTION_MS_MIN,
            clock,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sessions cached.
    pub fn len(&self) -> usize {
        self.lock().sessions.len()
    }

    /// Whether no session is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Partitions cached over all sessions (as of each session's last use).
    pub fn partitions_cached(&self) -> usize {
        self.lock().partitions
    }

    /// Kafka's `FetchManager.newContext`: how a request with this session id and epoch,
    /// these partitions (`fetch_data`, added or changed ones for an incremental request)
    /// and these forgotten ones is answered. An incremental request updates its session
    /// here (parameters, additions, removals, its epoch).
    pub fn new_context(
        &self,
        version: i16,
        session_id: i32,
        epoch: i32,
        privileged: bool,
        fetch_data: Vec<Wanted>,
        forgotten: &[PartitionKey],
    ) -> FetchContext {
        let uses_topic_ids = version >= TOPIC_ID_VERSION_MIN;
        let (session_id, epoch) = if version < SESSION_VERSION_MIN {
            (INVALID_SESSION_ID, FINAL_EPOCH) // Kafka's FetchMetadata.LEGACY
        } else {
            (session_id, epoch)
        };
        if epoch == INITIAL_EPOCH || epoch == FINAL_EPOCH {
            // Any session a full fetch names is closed.
            if session_id != INVALID_SESSION_ID {
                self.lock().remove(session_id);
            }
            let wanted = dedupe(fetch_data);
            return if epoch == FINAL_EPOCH {
                FetchContext::Sessionless(wanted)
            } else {
                FetchContext::Full {
                    wanted,
                    privileged,
                    uses_topic_ids,
                }
            };
        }
        let now = self.clock.now_ms();
        let mut inner = self.lock();
        let Some(s) = inner.sessions.get_mut(&session_id) else {
            return FetchContext::SessionError(ErrorCode::FETCH_SESSION_ID_NOT_FOUND);
        };
        if s.epoch != epoch {
            return FetchContext::SessionError(ErrorCode::INVALID_FETCH_SESSION_EPOCH);
        }
        if s.uses_topic_ids != uses_topic_ids {
            return FetchContext::SessionError(ErrorCode::FETCH_SESSION_TOPIC_ID_ERROR);
        }
        for w in &fetch_data {
            s.upsert(w, -1, -1);
        }
        for key in forgotten {
            s.forget(key);
        }
        if s.partitions.is_empty() {
            // Nothing left in it: the session is closed and this fetch is sessionless.
            inner.remove(session_id);
            return FetchContext::Sessionless(dedupe(fetch_data));
        }
        s.epoch = next_epoch(s.epoch);
        let wanted = s.wanted();
        inner.touch(session_id, now, self.eviction_ms);
        FetchContext::Incremental {
            session_id,
            request_epoch: epoch,
            wanted,
        }
    }

    /// A full fetch's answer (Kafka's `FullFetchContext.updateAndGenerateResponseData`):
    /// a new session caching every partition as answered, if there is room or something to
    /// evict; its id, or [`INVALID_SESSION_ID`].
    pub fn create_session(
        &self,
        privileged: bool,
        uses_topic_ids: bool,
        wanted: &[Wanted],
        answered: &[Answered],
    ) -> i32 {
        let now = self.clock.now_ms();
        let mut inner = self.lock();
        let size = wanted.len();
        if inner.sessions.len() >= self.slots
            && !inner.try_evict(privileged, size, now, self.eviction_ms)
        {
            return INVALID_SESSION_ID;
        }
        let Some(id) = inner.new_session_id() else {
            return INVALID_SESSION_ID;
        };
        let mut s = Session::new(privileged, uses_topic_ids, now);
        for (w, a) in wanted.iter().zip(answered) {
            s.upsert(w, a.high_watermark, a.log_start_offset);
        }
        inner.sessions.insert(id, s);
        inner.touch(id, now, self.eviction_ms);
        id
    }

    /// An incremental fetch's answer (Kafka's `IncrementalFetchContext`): per partition of
    /// `wanted`, whether the answer carries it, remembering what it says; a partition that
    /// returned records moves to the end of the session's order. An epoch that moved since
    /// the request was taken in (a duplicate request) is `INVALID_FETCH_SESSION_EPOCH`. A
    /// session evicted meanwhile has nothing to compare with: every partition is sent.
    pub fn incremental_answer(
        &self,
        session_id: i32,
        request_epoch: i32,
        wanted: &[Wanted],
        answered: &[Answered],
    ) -> Result<Vec<bool>, ErrorCode> {
        let mut inner = self.lock();
        let Some(s) = inner.sessions.get_mut(&session_id) else {
            return Ok(vec![true; wanted.len()]);
        };
        if s.epoch != next_epoch(request_epoch) {
            return Err(ErrorCode::INVALID_FETCH_SESSION_EPOCH);
        }
        // The epoch is the one this request moved it to, so the session is as the request
        // left it: its order is `wanted`'s, walked side by side (no lookups).
        let mut keep = Vec::with_capacity(wanted.len());
        let mut to_end = Vec::new();
        let mut cached = s.order.values_mut();
        for (w, a) in wanted.iter().zip(answered) {
            let c = cached.next().filter(|c| c.key == w.key);
            debug_assert!(c.is_some(), "the session's order moved under its epoch");
            let must = c.is_none_or(|c| c.must_respond(a));
            if must && a.records_bytes > 0 {
                to_end.push(&w.key);
            }
            keep.push(must);
        }
        for key in to_end {
            s.move_to_end(key);
        }
        Ok(keep)
    }
}

/// Each partition once, where first named, with the parameters last given (a Java
/// `LinkedHashMap` built from the request, as Kafka's `fetchData` is).
fn dedupe(fetch_data: Vec<Wanted>) -> Vec<Wanted> {
    let mut at: HashMap<PartitionKey, usize> = HashMap::with_capacity(fetch_data.len());
    let mut out: Vec<Wanted> = Vec::with_capacity(fetch_data.len());
    for w in fetch_data {
        match at.get(&w.key) {
            Some(&i) => out[i].params = w.params,
            None => {
                at.insert(w.key.clone(), out.len());
                out.push(w);
            }
        }
    }
    out
}

#[cfg(test)]
#[path = "fetch_session_tests.rs"]
mod tests;
