//! One transactional id's state and the rules of Kafka's transaction coordinator as pure
//! functions of it: what each request may do in each state, and the state it leads to.
//! Nothing here does I/O; `mod.rs` persists each new state before it is acted on.

use std::collections::BTreeSet;

use weir_protocol::ErrorCode;

/// Kafka's `TransactionState`, with its on-disk status numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TxnState {
    /// No transaction is open (a new id, or a fenced one bumped).
    Empty,
    /// Partitions were added: a transaction is open.
    Ongoing,
    /// Commit decided and durable; markers being written.
    PrepareCommit,
    /// Abort decided and durable; markers being written.
    PrepareAbort,
    /// Markers written: committed.
    CompleteCommit,
    /// Markers written: aborted.
    CompleteAbort,
    /// The id expired and is being removed.
    Dead,
    /// A newer producer (or the timeout) is fencing this epoch: abort follows.
    PrepareEpochFence,
}

impl TxnState {
    /// The status byte of `__transaction_state` values (Kafka's numbering).
    pub fn id(self) -> i8 {
        match self {
            TxnState::Empty => 0,
            TxnState::Ongoing => 1,
            TxnState::PrepareCommit => 2,
            TxnState::PrepareAbort => 3,
            TxnState::CompleteCommit => 4,
            TxnState::CompleteAbort => 5,
            TxnState::Dead => 6,
            TxnState::PrepareEpochFence => 7,
        }
    }

    /// The state of a status byte.
    pub fn from_id(id: i8) -> Option<Self> {
        Some(match id {
            0 => TxnState::Empty,
            1 => TxnState::Ongoing,
            2 => TxnState::PrepareCommit,
            3 => TxnState::PrepareAbort,
            4 => TxnState::CompleteCommit,
            5 => TxnState::CompleteAbort,
            6 => TxnState::Dead,
            7 => TxnState::PrepareEpochFence,
            _ => return None,
        })
    }

    /// The name DescribeTransactions and ListTransactions use (Kafka's `stateName`).
    pub fn name(self) -> &'static str {
        match self {
            TxnState::Empty => "Empty",
            TxnState::Ongoing => "Ongoing",
            TxnState::PrepareCommit => "PrepareCommit",
            TxnState::PrepareAbort => "PrepareAbort",
            TxnState::CompleteCommit => "CompleteCommit",
            TxnState::CompleteAbort => "CompleteAbort",
            TxnState::Dead => "Dead",
            TxnState::PrepareEpochFence => "PrepareEpochFence",
        }
    }

    /// The state of a name (ListTransactions' filters).
    pub fn from_name(name: &str) -> Option<Self> {
        (0..=7)
            .filter_map(TxnState::from_id)
            .find(|s| s.name() == name)
    }

    /// Markers are being written (the decision is durable, the outcome not yet visible).
    pub fn is_preparing(self) -> bool {
        matches!(
            self,
            TxnState::PrepareCommit | TxnState::PrepareAbort | TxnState::PrepareEpochFence
        )
    }
}

/// A partition of a transaction: topic and index.
pub type TxnPartition = (String, i32);

/// One transactional id, as `__transaction_state` stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnMetadata {
    /// The producer id the id is bound to.
    pub producer_id: i64,
    /// Its current epoch.
    pub producer_epoch: i16,
    /// The epoch before the last bump (-1 if none): a retried InitProducerId that carries
    /// it gets the current epoch again instead of another bump (KIP-360).
    pub last_producer_epoch: i16,
    /// The producer's `transaction.timeout.ms`.
    pub timeout_ms: i32,
    /// The state.
    pub state: TxnState,
    /// Partitions of the open (or completing) transaction.
    pub partitions: BTreeSet<TxnPartition>,
    /// When the state last changed.
    pub last_update_ms: i64,
    /// When the open transaction started (its first AddPartitions), or -1.
    pub start_ms: i64,
}

impl TxnMetadata {
    /// A new id bound to a fresh producer id at epoch 0.
    pub fn new(producer_id: i64, timeout_ms: i32, now_ms: i64) -> Self {
        Self {
            producer_id,
            producer_epoch: 0,
            last_producer_epoch: -1,
            timeout_ms,
            state: TxnState::Empty,
            partitions: BTreeSet::new(),
            last_update_ms: now_ms,
            start_ms: -1,
        }
    }

    /// Checks a request's producer id and epoch against this id's (AddPartitionsToTxn,
    /// AddOffsetsToTxn, TxnOffsetCommit, EndTxn, produce verification).
    pub fn check_producer(&self, producer_id: i64, producer_epoch: i16) -> Result<(), ErrorCode> {
        if producer_id != self.producer_id {
            return Err(ErrorCode::INVALID_PRODUCER_ID_MAPPING);
        }
        if producer_epoch != self.producer_epoch {
            return Err(ErrorCode::PRODUCER_FENCED);
        }
        Ok(())
    }

    /// Whether the open transaction has run past its timeout at `now_ms`.
    pub fn expired(&self, now_ms: i64) -> bool {
        self.state == TxnState::Ongoing
            && self.start_ms >= 0
            && now_ms.saturating_sub(self.start_ms) > i64::from(self.timeout_ms)
    }
}

/// What an InitProducerId for an existing id must do first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InitStep {
    /// A transaction is open: abort it (fencing the epoch), then bump.
    AbortFirst,
    /// Markers are being written: finish them, then bump.
    CompleteFirst,
    /// Nothing open: bump now.
    Bump,
    /// A retry of a bump already done: answer the current id and epoch.
    Current,
}

/// KIP-360's check of InitProducerId's `(producer_id, producer_epoch)` (both -1 when the
/// client does not know them) and the step the id's state requires.
pub fn init_step(
    meta: &TxnMetadata,
    expected_id: i64,
    expected_epoch: i16,
) -> Result<InitStep, ErrorCode> {
    if expected_id >= 0 {
        if expected_id != meta.producer_id {
            return Err(ErrorCode::PRODUCER_FENCED);
        }
        if expected_epoch == meta.last_producer_epoch
            && meta.last_producer_epoch >= 0
            && !meta.state.is_preparing()
            && meta.state != TxnState::Ongoing
        {
            return Ok(InitStep::Current);
        }
        if expected_epoch != meta.producer_epoch {
            return Err(ErrorCode::PRODUCER_FENCED);
        }
    }
    Ok(match meta.state {
        TxnState::Ongoing => InitStep::AbortFirst,
        TxnState::PrepareCommit | TxnState::PrepareAbort | TxnState::PrepareEpochFence => {
            InitStep::CompleteFirst
        }
        TxnState::Empty | TxnState::CompleteCommit | TxnState::CompleteAbort | TxnState::Dead => {
            InitStep::Bump
        }
    })
}

/// The epoch after a bump, or `None` when the epoch is exhausted and a new producer id is
/// due (Kafka bumps while `epoch < Short.MAX_VALUE - 1`).
pub fn bumped_epoch(epoch: i16) -> Option<i16> {
    (epoch < i16::MAX - 1).then(|| epoch.saturating_add(1).max(0))
}

/// Whether partitions may be added in this state (AddPartitionsToTxn, AddOffsetsToTxn):
/// a transaction starts or goes on; markers still being written make the client retry.
pub fn check_add(meta: &TxnMetadata) -> Result<(), ErrorCode> {
    match meta.state {
        s if s.is_preparing() => Err(ErrorCode::CONCURRENT_TRANSACTIONS),
        TxnState::Dead => Err(ErrorCode::INVALID_PRODUCER_ID_MAPPING),
        _ => Ok(()),
    }
}

/// What an EndTxn does in this state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndStep {
    /// Prepare, write the markers, complete.
    Run,
    /// A retry of an EndTxn that completed: answer success.
    AlreadyDone,
}

/// EndTxn's rules (Kafka's `endTransaction`): only an open transaction can end; a retry of
/// the same decision after it completed succeeds; anything else is INVALID_TXN_STATE, and a
/// decision still being written makes the client retry.
pub fn end_step(meta: &TxnMetadata, commit: bool) -> Result<EndStep, ErrorCode> {
    match (meta.state, commit) {
        (TxnState::Ongoing, _) => Ok(EndStep::Run),
        (TxnState::CompleteCommit, true) | (TxnState::CompleteAbort, false) => {
            Ok(EndStep::AlreadyDone)
        }
        (TxnState::PrepareCommit, true) | (TxnState::PrepareAbort, false) => {
            Err(ErrorCode::CONCURRENT_TRANSACTIONS)
        }
        (TxnState::PrepareEpochFence, _) => Err(ErrorCode::CONCURRENT_TRANSACTIONS),
        _ => Err(ErrorCode::INVALID_TXN_STATE),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(state: TxnState) -> TxnMetadata {
        TxnMetadata {
            state,
            producer_epoch: 3,
            last_producer_epoch: 2,
            ..TxnMetadata::new(7, 60_000, 0)
        }
    }

    #[test]
    fn status_bytes_and_names_round_trip() {
        for id in 0..=7 {
            let s = TxnState::from_id(id).unwrap();
            assert_eq!(s.id(), id);
            assert_eq!(TxnState::from_name(s.name()), Some(s));
        }
        assert_eq!(TxnState::from_id(8), None);
        assert_eq!(TxnState::from_name("ongoing"), None);
    }

    #[test]
    fn init_aborts_an_open_transaction_and_completes_a_prepared_one() {
        assert_eq!(
            init_step(&meta(TxnState::Ongoing), -1, -1),
            Ok(InitStep::AbortFirst)
        );
        for s in [TxnState::PrepareCommit, TxnState::PrepareAbort] {
            assert_eq!(init_step(&meta(s), -1, -1), Ok(InitStep::CompleteFirst));
        }
        for s in [
            TxnState::Empty,
            TxnState::CompleteAbort,
            TxnState::CompleteCommit,
        ] {
            assert_eq!(init_step(&meta(s), -1, -1), Ok(InitStep::Bump));
        }
    }

    #[test]
    fn kip_360_checks_the_expected_producer() {
        let m = meta(TxnState::CompleteCommit);
        assert_eq!(init_step(&m, 7, 3), Ok(InitStep::Bump));
        assert_eq!(init_step(&m, 7, 2), Ok(InitStep::Current));
        assert_eq!(init_step(&m, 8, 3), Err(ErrorCode::PRODUCER_FENCED));
        assert_eq!(init_step(&m, 7, 1), Err(ErrorCode::PRODUCER_FENCED));
    }

    #[test]
    fn epochs_bump_until_exhausted() {
        assert_eq!(bumped_epoch(0), Some(1));
        assert_eq!(bumped_epoch(-1), Some(0));
        assert_eq!(bumped_epoch(i16::MAX - 2), Some(i16::MAX - 1));
        assert_eq!(bumped_epoch(i16::MAX - 1), None);
    }

    #[test]
    fn end_txn_rules() {
        assert_eq!(end_step(&meta(TxnState::Ongoing), true), Ok(EndStep::Run));
        assert_eq!(end_step(&meta(TxnState::Ongoing), false), Ok(EndStep::Run));
        assert_eq!(
            end_step(&meta(TxnState::CompleteCommit), true),
            Ok(EndStep::AlreadyDone)
        );
        assert_eq!(
            end_step(&meta(TxnState::CompleteCommit), false),
            Err(ErrorCode::INVALID_TXN_STATE)
        );
        assert_eq!(
            end_step(&meta(TxnState::Empty), true),
            Err(ErrorCode::INVALID_TXN_STATE)
        );
        assert_eq!(
            end_step(&meta(TxnState::PrepareCommit), true),
            Err(ErrorCode::CONCURRENT_TRANSACTIONS)
        );
        assert_eq!(
            end_step(&meta(TxnState::PrepareCommit), false),
            Err(ErrorCode::INVALID_TXN_STATE)
        );
    }

    #[test]
    fn producer_checks_and_expiry() {
        let mut m = meta(TxnState::Ongoing);
        assert_eq!(m.check_producer(7, 3), Ok(()));
        assert_eq!(
            m.check_producer(8, 3),
            Err(ErrorCode::INVALID_PRODUCER_ID_MAPPING)
        );
        assert_eq!(m.check_producer(7, 2), Err(ErrorCode::PRODUCER_FENCED));
        m.start_ms = 1_000;
        assert!(!m.expired(61_000));
        assert!(m.expired(61_001));
        assert_eq!(
            check_add(&meta(TxnState::PrepareAbort)),
            Err(ErrorCode::CONCURRENT_TRANSACTIONS)
        );
        assert_eq!(check_add(&meta(TxnState::CompleteAbort)), Ok(()));
    }
}
