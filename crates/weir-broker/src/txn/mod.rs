//! The transaction coordinator (KIP-98, KIP-360, KIP-447): transactional ids bound to
//! producer ids and epochs, the partitions of each open transaction, and its end, written as
//! markers to every partition before EndTxn is answered.
//!
//! The state machine (`state.rs`): **Empty** → (AddPartitionsToTxn / AddOffsetsToTxn)
//! **Ongoing** → (EndTxn) **PrepareCommit** | **PrepareAbort** → (markers durable in every
//! partition) **CompleteCommit** | **CompleteAbort** → (a new transaction) **Ongoing** …
//! InitProducerId on an id with an open transaction bumps the epoch (fencing the older
//! producer) and aborts it first; the timeout does the same. Each new state is written to
//! `__transaction_state` (`log.rs`) and fsync'd before it is acted on or answered, so a
//! restart finds every decided transaction and completes it (`TxnCoordinator::recover`).
//!
//! Operations on one id are serialised by its slot's async lock; readers (produce
//! verification, Describe/ListTransactions) take a copy under a short lock.

pub mod log;
pub mod markers;
pub mod state;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tracing::{info, warn};
use weir_protocol::ErrorCode;

pub use self::log::{TXN_STATE_SEGMENT_BYTES, TXN_STATE_TOPIC, TxnLog};
pub use self::markers::{control_is_commit, marker_batch};
use self::state::{EndStep, InitStep, TxnMetadata, TxnPartition, TxnState};
use crate::clock::Clock;
use crate::errors::{PartitionError, TopicError};
use crate::group::{OFFSETS_TOPIC, OffsetStore};
use crate::meta::ProducerIdAllocator;
use crate::topics::Topics;

/// The coordinator epoch written in markers: one coordinator, never moved, so always 0.
pub const COORDINATOR_EPOCH: i32 = 0;
/// Transactional ids the coordinator holds at most; an InitProducerId for a new id past it
/// gets COORDINATOR_NOT_AVAILABLE (retriable) until ids expire.
pub const TRANSACTIONAL_IDS_MAX: usize = 100_000;
/// Partitions one transaction may hold (its markers are written before EndTxn answers).
pub const TXN_PARTITIONS_MAX: usize = 10_000;
/// Bytes a transactional id may have (Kafka's string limit).
pub const TRANSACTIONAL_ID_BYTES_MAX: usize = i16::MAX as usize;

/// The coordinator's configured limits (broker keys).
#[derive(Debug, Clone, Copy)]
pub struct TxnLimits {
    /// `transaction_max_timeout_ms`.
    pub max_timeout_ms: i32,
    /// `transactional_id_expiration_ms`.
    pub id_expiration_ms: i64,
}

/// Why the coordinator could not load.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TxnError {
    /// Creating `__transaction_state` failed.
    #[error("cannot create {TXN_STATE_TOPIC}: {0}")]
    Topic(#[source] TopicError),
    /// Replaying it failed.
    #[error("cannot replay {TXN_STATE_TOPIC}: {0}")]
    Replay(#[source] PartitionError),
}

/// One id: its operations' lock and its state (`None` once removed).
#[derive(Debug, Default)]
struct Slot {
    op: Arc<tokio::sync::Mutex<()>>,
    meta: Mutex<Option<TxnMetadata>>,
}

impl Slot {
    fn get(&self) -> Option<TxnMetadata> {
        self.meta.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
    fn set(&self, m: Option<TxnMetadata>) {
        *self.meta.lock().unwrap_or_else(|p| p.into_inner()) = m;
    }
}

/// An answer to InitProducerId.
pub type ProducerIdAndEpoch = (i64, i16);

/// The transaction coordinator.
#[derive(Debug)]
pub struct TxnCoordinator {
    log: TxnLog,
    slots: Mutex<HashMap<String, Arc<Slot>>>,
    topics: Arc<Topics>,
    offsets: Arc<crate::group::Coordinator>,
    producer_ids: Arc<ProducerIdAllocator>,
    clock: Arc<dyn Clock>,
    limits: TxnLimits,
}

/// A transaction as DescribeTransactions and ListTransactions show it.
#[derive(Debug, Clone)]
pub struct TxnView {
    /// The transactional id.
    pub id: String,
    /// Its metadata.
    pub meta: TxnMetadata,
}

impl TxnCoordinator {
    /// Creates `__transaction_state` if needed and replays it. Prepared transactions are
    /// completed by [`TxnCoordinator::recover`], which the broker runs before serving.
    pub fn open(
        topics: Arc<Topics>,
        offsets: Arc<crate::group::Coordinator>,
        producer_ids: Arc<ProducerIdAllocator>,
        clock: Arc<dyn Clock>,
        limits: TxnLimits,
    ) -> Result<Self, TxnError> {
        let partition =
            crate::internal_topic::open(&topics, TXN_STATE_TOPIC, TXN_STATE_SEGMENT_BYTES)
                .map_err(TxnError::Topic)?;
        let (log, ids) = TxnLog::open(partition).map_err(TxnError::Replay)?;
        let slots = ids
            .into_iter()
            .map(|(id, m)| {
                let slot = Slot::default();
                slot.set(Some(m));
                (id, Arc::new(slot))
            })
            .collect();
        Ok(Self {
            log,
            slots: Mutex::new(slots),
            topics,
            offsets,
            producer_ids,
            clock,
            limits,
        })
    }

    fn offsets(&self) -> &OffsetStore {
        self.offsets.offsets()
    }

    fn slot(&self, id: &str) -> Option<Arc<Slot>> {
        self.slots
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .cloned()
    }

    fn slot_or_new(&self, id: &str) -> Result<Arc<Slot>, ErrorCode> {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(s) = slots.get(id) {
            return Ok(Arc::clone(s));
        }
        if slots.len() >= TRANSACTIONAL_IDS_MAX {
            return Err(ErrorCode::COORDINATOR_NOT_AVAILABLE);
        }
        let s = Arc::new(Slot::default());
        slots.insert(id.to_string(), Arc::clone(&s));
        Ok(s)
    }

    /// Persists `next` for `id`, then makes it the slot's state.
    async fn persist(
        &self,
        id: &str,
        slot: &Slot,
        next: TxnMetadata,
    ) -> Result<TxnMetadata, ErrorCode> {
        if let Err(e) = self.log.write(id, Some(&next)).await {
            warn!(transactional_id = %id, error = %e, "transaction state not written");
            return Err(ErrorCode::COORDINATOR_NOT_AVAILABLE);
        }
        slot.set(Some(next.clone()));
        Ok(next)
    }

    /// Writes the markers of a prepared transaction and persists its completion.
    async fn complete(
        &self,
        id: &str,
        slot: &Slot,
        prepared: TxnMetadata,
    ) -> Result<TxnMetadata, ErrorCode> {
        if let Err(e) =
            markers::write_markers(&self.topics, self.offsets(), &prepared, COORDINATOR_EPOCH).await
        {
            warn!(transactional_id = %id, error = %e, "transaction markers not written; retried later");
            return Err(ErrorCode::COORDINATOR_NOT_AVAILABLE);
        }
        let done = TxnMetadata {
            state: if prepared.state == TxnState::PrepareCommit {
                TxnState::CompleteCommit
            } else {
                TxnState::CompleteAbort
            },
            partitions: Default::default(),
            last_update_ms: self.clock.now_ms(),
            ..prepared
        };
        self.persist(id, slot, done).await
    }

    /// Decides to abort `meta`'s open transaction with its epoch bumped (fencing the
    /// producer that opened it), then writes the markers.
    async fn fence_and_abort(
        &self,
        id: &str,
        slot: &Slot,
        meta: TxnMetadata,
    ) -> Result<TxnMetadata, ErrorCode> {
        // Kafka's PrepareEpochFence: the markers carry the bumped epoch, so the old producer's
        // later writes are stale everywhere. An exhausted epoch aborts at the current one.
        let epoch = state::bumped_epoch(meta.producer_epoch).unwrap_or(meta.producer_epoch);
        let prepared = TxnMetadata {
            state: TxnState::PrepareAbort,
            last_producer_epoch: meta.producer_epoch,
            producer_epoch: epoch,
            last_update_ms: self.clock.now_ms(),
            ..meta
        };
        let prepared = self.persist(id, slot, prepared).await?;
        self.complete(id, slot, prepared).await
    }

    /// InitProducerId with a transactional id.
    pub async fn init_producer_id(
        &self,
        id: &str,
        timeout_ms: i32,
        expected: ProducerIdAndEpoch,
    ) -> Result<ProducerIdAndEpoch, ErrorCode> {
        if id.is_empty() || id.len() > TRANSACTIONAL_ID_BYTES_MAX {
            return Err(ErrorCode::INVALID_REQUEST);
        }
        if timeout_ms <= 0 || timeout_ms > self.limits.max_timeout_ms {
            return Err(ErrorCode::INVALID_TRANSACTION_TIMEOUT);
        }
        let slot = self.slot_or_new(id)?;
        let _op = slot.op.lock().await;
        let now = self.clock.now_ms();
        let Some(mut meta) = slot.get() else {
            let pid = self.producer_ids.next().map_err(|e| e.code())?;
            let m = self
                .persist(id, &slot, TxnMetadata::new(pid, timeout_ms, now))
                .await?;
            info!(transactional_id = %id, producer_id = pid, "transactional id registered");
            return Ok((m.producer_id, m.producer_epoch));
        };
        match state::init_step(&meta, expected.0, expected.1)? {
            InitStep::Current => return Ok((meta.producer_id, meta.producer_epoch)),
            InitStep::AbortFirst => meta = self.fence_and_abort(id, &slot, meta).await?,
            InitStep::CompleteFirst => {
                if meta.state == TxnState::PrepareEpochFence {
                    meta.state = TxnState::PrepareAbort;
                }
                meta = self.complete(id, &slot, meta).await?;
            }
            InitStep::Bump => {}
        }
        let next = match state::bumped_epoch(meta.producer_epoch) {
            Some(epoch) => TxnMetadata {
                last_producer_epoch: meta.producer_epoch,
                producer_epoch: epoch,
                ..meta
            },
            // Epoch exhausted: a new producer id (Kafka's rotation).
            None => TxnMetadata::new(
                self.producer_ids.next().map_err(|e| e.code())?,
                timeout_ms,
                now,
            ),
        };
        let next = TxnMetadata {
            state: TxnState::Empty,
            timeout_ms,
            partitions: Default::default(),
            start_ms: -1,
            last_update_ms: now,
            ..next
        };
        let m = self.persist(id, &slot, next).await?;
        Ok((m.producer_id, m.producer_epoch))
    }

    /// `id`'s slot, its operation lock held, and its state checked against a request's
    /// producer id and epoch.
    async fn checked(
        &self,
        id: &str,
        producer_id: i64,
        epoch: i16,
    ) -> Result<(Arc<Slot>, tokio::sync::OwnedMutexGuard<()>, TxnMetadata), ErrorCode> {
        let slot = self
            .slot(id)
            .ok_or(ErrorCode::INVALID_PRODUCER_ID_MAPPING)?;
        let op = Arc::clone(&slot.op).lock_owned().await;
        let meta = slot.get().ok_or(ErrorCode::INVALID_PRODUCER_ID_MAPPING)?;
        meta.check_producer(producer_id, epoch)?;
        Ok((slot, op, meta))
    }

    /// AddPartitionsToTxn / AddOffsetsToTxn: adds partitions (already known to exist) to
    /// `id`'s transaction, starting one if none is open. `Err` applies to every partition.
    pub async fn add_partitions(
        &self,
        id: &str,
        producer_id: i64,
        epoch: i16,
        partitions: Vec<TxnPartition>,
    ) -> Result<(), ErrorCode> {
        let (slot, _op, meta) = self.checked(id, producer_id, epoch).await?;
        state::check_add(&meta)?;
        let mut next = meta.clone();
        if next.state != TxnState::Ongoing {
            next.state = TxnState::Ongoing;
            next.start_ms = self.clock.now_ms();
            next.partitions.clear();
        }
        next.partitions.extend(partitions);
        if next.partitions.len() > TXN_PARTITIONS_MAX {
            return Err(ErrorCode::INVALID_REQUEST);
        }
        if next == meta {
            return Ok(());
        }
        next.last_update_ms = self.clock.now_ms();
        self.persist(id, &slot, next).await.map(|_| ())
    }

    /// Whether `partition` is in `id`'s open transaction at this producer id and epoch
    /// (KIP-890 part 1's check of transactional produce and TxnOffsetCommit).
    pub fn verify(
        &self,
        id: &str,
        producer_id: i64,
        epoch: i16,
        partition: &TxnPartition,
    ) -> Result<(), ErrorCode> {
        let meta = self
            .slot(id)
            .and_then(|s| s.get())
            .ok_or(ErrorCode::INVALID_TXN_STATE)?;
        if meta.producer_id != producer_id {
            return Err(ErrorCode::INVALID_TXN_STATE);
        }
        if epoch < meta.producer_epoch {
            return Err(ErrorCode::INVALID_PRODUCER_EPOCH);
        }
        if epoch != meta.producer_epoch
            || meta.state != TxnState::Ongoing
            || !meta.partitions.contains(partition)
        {
            return Err(ErrorCode::INVALID_TXN_STATE);
        }
        Ok(())
    }

    /// EndTxn: decides, writes the markers to every partition (and settles the offsets),
    /// completes, then answers.
    pub async fn end_txn(
        &self,
        id: &str,
        producer_id: i64,
        epoch: i16,
        commit: bool,
    ) -> Result<(), ErrorCode> {
        let (slot, _op, meta) = self.checked(id, producer_id, epoch).await?;
        match state::end_step(&meta, commit)? {
            EndStep::AlreadyDone => return Ok(()),
            EndStep::Run => {}
        }
        let prepared = TxnMetadata {
            state: if commit {
                TxnState::PrepareCommit
            } else {
                TxnState::PrepareAbort
            },
            last_update_ms: self.clock.now_ms(),
            ..meta
        };
        let prepared = self.persist(id, &slot, prepared).await?;
        // The decision is durable: if the markers fail now, the transaction stays prepared
        // and the next tick (or a restart) writes them; the client's decision stands.
        let _ = self.complete(id, &slot, prepared).await;
        Ok(())
    }

    /// Completes every prepared transaction (after a restart, or markers that failed), and
    /// aborts transactions open past their timeout, fencing their producers; removes ids
    /// idle past `transactional_id_expiration_ms`. The broker runs it at start and every
    /// `transaction_abort_timed_out_transaction_cleanup_interval_ms`.
    pub async fn tick(&self) {
        let now = self.clock.now_ms();
        let slots: Vec<(String, Arc<Slot>)> = self
            .slots
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(k, v)| (k.clone(), Arc::clone(v)))
            .collect();
        for (id, slot) in slots {
            let Some(peek) = slot.get() else { continue };
            let due =
                peek.state.is_preparing() || peek.expired(now) || self.idle_expired(&peek, now);
            if !due {
                continue;
            }
            let _op = slot.op.lock().await;
            let Some(mut meta) = slot.get() else { continue };
            if meta.state == TxnState::PrepareEpochFence {
                meta.state = TxnState::PrepareAbort;
            }
            let result = if meta.state.is_preparing() {
                info!(transactional_id = %id, state = meta.state.name(), "completing a decided transaction");
                self.complete(&id, &slot, meta).await.map(|_| ())
            } else if meta.expired(now) {
                info!(transactional_id = %id, producer_id = meta.producer_id, "transaction timed out; aborting");
                self.fence_and_abort(&id, &slot, meta).await.map(|_| ())
            } else if self.idle_expired(&meta, now) {
                self.expire(&id, &slot).await
            } else {
                Ok(())
            };
            if let Err(code) = result {
                warn!(transactional_id = %id, ?code, "transaction maintenance failed; retried next tick");
            }
        }
    }

    fn idle_expired(&self, m: &TxnMetadata, now: i64) -> bool {
        matches!(
            m.state,
            TxnState::Empty | TxnState::CompleteCommit | TxnState::CompleteAbort
        ) && now.saturating_sub(m.last_update_ms) > self.limits.id_expiration_ms
    }

    async fn expire(&self, id: &str, slot: &Slot) -> Result<(), ErrorCode> {
        if let Err(e) = self.log.write(id, None).await {
            warn!(transactional_id = %id, error = %e, "expired id not removed");
            return Err(ErrorCode::COORDINATOR_NOT_AVAILABLE);
        }
        slot.set(None);
        self.slots
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
        info!(transactional_id = %id, "transactional id expired");
        Ok(())
    }

    /// Every transaction, for DescribeTransactions, ListTransactions and the CLI.
    pub fn views(&self) -> Vec<TxnView> {
        let mut all: Vec<TxnView> = self
            .slots
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter_map(|(id, s)| {
                s.get().map(|meta| TxnView {
                    id: id.clone(),
                    meta,
                })
            })
            .collect();
        all.sort_by(|a, b| a.id.cmp(&b.id));
        all
    }

    /// One id's transaction.
    pub fn view(&self, id: &str) -> Option<TxnMetadata> {
        self.slot(id).and_then(|s| s.get())
    }

    /// The offsets partition a group's transactional offsets go to.
    pub fn offsets_partition() -> TxnPartition {
        (OFFSETS_TOPIC.to_string(), 0)
    }
}
