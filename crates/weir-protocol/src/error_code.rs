//! Kafka's protocol error codes: number, name and whether clients retry.
//!
//! The facts (codes -1 through 128, their names, and retriability) follow
//! Apache Kafka's `Errors` enum at commit `1eb7644349cb` (2024-10-25, the
//! snapshot the schemas in `shared/kafka-protocol` come from). A code is
//! retriable when Kafka maps it to a subclass of `RetriableException`. Codes
//! added later (129 and up in Kafka 4.1) are not in the table: they pass
//! through [`ErrorCode`] unchanged but have no name.

use std::fmt;

/// A Kafka error code as carried on the wire (`int16`).
///
/// Any `i16` is representable, so unknown codes from newer peers survive a
/// decode/encode round trip; [`ErrorCode::name`] is `None` for them.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct ErrorCode(pub i16);

/// Lowest code in [`TABLE`].
const TABLE_FIRST_CODE: i16 = -1;

/// Name and retriability of codes -1, 0, 1, ... in order.
const TABLE: [(&str, bool); 130] = [
    ("UNKNOWN_SERVER_ERROR", false),
    ("NONE", false),
    ("OFFSET_OUT_OF_RANGE", false),
    ("CORRUPT_MESSAGE", true),
    ("UNKNOWN_TOPIC_OR_PARTITION", true),
    ("INVALID_FETCH_SIZE", false),
    ("LEADER_NOT_AVAILABLE", true),
    ("NOT_LEADER_OR_FOLLOWER", true),
    ("REQUEST_TIMED_OUT", true),
    ("BROKER_NOT_AVAILABLE", false),
    ("REPLICA_NOT_AVAILABLE", true),
    ("MESSAGE_TOO_LARGE", false),
    ("STALE_CONTROLLER_EPOCH", false),
    ("OFFSET_METADATA_TOO_LARGE", false),
    ("NETWORK_EXCEPTION", true),
    ("COORDINATOR_LOAD_IN_PROGRESS", true),
    ("COORDINATOR_NOT_AVAILABLE", true),
    ("NOT_COORDINATOR", true),
    ("INVALID_TOPIC_EXCEPTION", false),
    ("RECORD_LIST_TOO_LARGE", false),
    ("NOT_ENOUGH_REPLICAS", true),
    ("NOT_ENOUGH_REPLICAS_AFTER_APPEND", true),
    ("INVALID_REQUIRED_ACKS", false),
    ("ILLEGAL_GENERATION", false),
    ("INCONSISTENT_GROUP_PROTOCOL", false),
    ("INVALID_GROUP_ID", false),
    ("UNKNOWN_MEMBER_ID", false),
    ("INVALID_SESSION_TIMEOUT", false),
    ("REBALANCE_IN_PROGRESS", false),
    ("INVALID_COMMIT_OFFSET_SIZE", false),
    ("TOPIC_AUTHORIZATION_FAILED", false),
    ("GROUP_AUTHORIZATION_FAILED", false),
    ("CLUSTER_AUTHORIZATION_FAILED", false),
    ("INVALID_TIMESTAMP", false),
    ("UNSUPPORTED_SASL_MECHANISM", false),
    ("ILLEGAL_SASL_STATE", false),
    ("UNSUPPORTED_VERSION", false),
    ("TOPIC_ALREADY_EXISTS", false),
    ("INVALID_PARTITIONS", false),
    ("INVALID_REPLICATION_FACTOR", false),
    ("INVALID_REPLICA_ASSIGNMENT", false),
    ("INVALID_CONFIG", false),
    ("NOT_CONTROLLER", true),
    ("INVALID_REQUEST", false),
    ("UNSUPPORTED_FOR_MESSAGE_FORMAT", false),
    ("POLICY_VIOLATION", false),
    ("OUT_OF_ORDER_SEQUENCE_NUMBER", false),
    ("DUPLICATE_SEQUENCE_NUMBER", false),
    ("INVALID_PRODUCER_EPOCH", false),
    ("INVALID_TXN_STATE", false),
    ("INVALID_PRODUCER_ID_MAPPING", false),
    ("INVALID_TRANSACTION_TIMEOUT", false),
    ("CONCURRENT_TRANSACTIONS", true),
    ("TRANSACTION_COORDINATOR_FENCED", false),
    ("TRANSACTIONAL_ID_AUTHORIZATION_FAILED", false),
    ("SECURITY_DISABLED", false),
    ("OPERATION_NOT_ATTEMPTED", false),
    ("KAFKA_STORAGE_ERROR", true),
    ("LOG_DIR_NOT_FOUND", false),
    ("SASL_AUTHENTICATION_FAILED", false),
    ("UNKNOWN_PRODUCER_ID", false),
    ("REASSIGNMENT_IN_PROGRESS", false),
    ("DELEGATION_TOKEN_AUTH_DISABLED", false),
    ("DELEGATION_TOKEN_NOT_FOUND", false),
    ("DELEGATION_TOKEN_OWNER_MISMATCH", false),
    ("DELEGATION_TOKEN_REQUEST_NOT_ALLOWED", false),
    ("DELEGATION_TOKEN_AUTHORIZATION_FAILED", false),
    ("DELEGATION_TOKEN_EXPIRED", false),
    ("INVALID_PRINCIPAL_TYPE", false),
    ("NON_EMPTY_GROUP", false),
    ("GROUP_ID_NOT_FOUND", false),
    ("FETCH_SESSION_ID_NOT_FOUND", true),
    ("INVALID_FETCH_SESSION_EPOCH", true),
    ("LISTENER_NOT_FOUND", true),
    ("TOPIC_DELETION_DISABLED", false),
    ("FENCED_LEADER_EPOCH", true),
    ("UNKNOWN_LEADER_EPOCH", true),
    ("UNSUPPORTED_COMPRESSION_TYPE", false),
    ("STALE_BROKER_EPOCH", false),
    ("OFFSET_NOT_AVAILABLE", true),
    ("MEMBER_ID_REQUIRED", false),
    ("PREFERRED_LEADER_NOT_AVAILABLE", true),
    ("GROUP_MAX_SIZE_REACHED", false),
    ("FENCED_INSTANCE_ID", false),
    ("ELIGIBLE_LEADERS_NOT_AVAILABLE", true),
    ("ELECTION_NOT_NEEDED", true),
    ("NO_REASSIGNMENT_IN_PROGRESS", false),
    ("GROUP_SUBSCRIBED_TO_TOPIC", false),
    ("INVALID_RECORD", false),
    ("UNSTABLE_OFFSET_COMMIT", true),
    ("THROTTLING_QUOTA_EXCEEDED", true),
    ("PRODUCER_FENCED", false),
    ("RESOURCE_NOT_FOUND", false),
    ("DUPLICATE_RESOURCE", false),
    ("UNACCEPTABLE_CREDENTIAL", false),
    ("INCONSISTENT_VOTER_SET", false),
    ("INVALID_UPDATE_VERSION", false),
    ("FEATURE_UPDATE_FAILED", false),
    ("PRINCIPAL_DESERIALIZATION_FAILURE", false),
    ("SNAPSHOT_NOT_FOUND", false),
    ("POSITION_OUT_OF_RANGE", false),
    ("UNKNOWN_TOPIC_ID", true),
    ("DUPLICATE_BROKER_REGISTRATION", false),
    ("BROKER_ID_NOT_REGISTERED", false),
    ("INCONSISTENT_TOPIC_ID", true),
    ("INCONSISTENT_CLUSTER_ID", false),
    ("TRANSACTIONAL_ID_NOT_FOUND", false),
    ("FETCH_SESSION_TOPIC_ID_ERROR", true),
    ("INELIGIBLE_REPLICA", false),
    ("NEW_LEADER_ELECTED", false),
    ("OFFSET_MOVED_TO_TIERED_STORAGE", false),
    ("FENCED_MEMBER_EPOCH", false),
    ("UNRELEASED_INSTANCE_ID", false),
    ("UNSUPPORTED_ASSIGNOR", false),
    ("STALE_MEMBER_EPOCH", false),
    ("MISMATCHED_ENDPOINT_TYPE", false),
    ("UNSUPPORTED_ENDPOINT_TYPE", false),
    ("UNKNOWN_CONTROLLER_ID", false),
    ("UNKNOWN_SUBSCRIPTION_ID", false),
    ("TELEMETRY_TOO_LARGE", false),
    ("INVALID_REGISTRATION", false),
    ("TRANSACTION_ABORTABLE", false),
    ("INVALID_RECORD_STATE", false),
    ("SHARE_SESSION_NOT_FOUND", true),
    ("INVALID_SHARE_SESSION_EPOCH", true),
    ("FENCED_STATE_EPOCH", false),
    ("INVALID_VOTER_KEY", false),
    ("DUPLICATE_VOTER", false),
    ("VOTER_NOT_FOUND", false),
    ("INVALID_REGULAR_EXPRESSION", false),
];

#[allow(missing_docs)]
impl ErrorCode {
    /// Code -1.
    pub const UNKNOWN_SERVER_ERROR: ErrorCode = ErrorCode(-1);
    /// Code 0.
    pub const NONE: ErrorCode = ErrorCode(0);
    /// Code 1.
    pub const OFFSET_OUT_OF_RANGE: ErrorCode = ErrorCode(1);
    /// Code 2 (retriable).
    pub const CORRUPT_MESSAGE: ErrorCode = ErrorCode(2);
    /// Code 3 (retriable).
    pub const UNKNOWN_TOPIC_OR_PARTITION: ErrorCode = ErrorCode(3);
    /// Code 4.
    pub const INVALID_FETCH_SIZE: ErrorCode = ErrorCode(4);
    /// Code 5 (retriable).
    pub const LEADER_NOT_AVAILABLE: ErrorCode = ErrorCode(5);
    /// Code 6 (retriable).
    pub const NOT_LEADER_OR_FOLLOWER: ErrorCode = ErrorCode(6);
    /// Code 7 (retriable).
    pub const REQUEST_TIMED_OUT: ErrorCode = ErrorCode(7);
    /// Code 8.
    pub const BROKER_NOT_AVAILABLE: ErrorCode = ErrorCode(8);
    /// Code 9 (retriable).
    pub const REPLICA_NOT_AVAILABLE: ErrorCode = ErrorCode(9);
    /// Code 10.
    pub const MESSAGE_TOO_LARGE: ErrorCode = ErrorCode(10);
    /// Code 11.
    pub const STALE_CONTROLLER_EPOCH: ErrorCode = ErrorCode(11);
    /// Code 12.
    pub const OFFSET_METADATA_TOO_LARGE: ErrorCode = ErrorCode(12);
    /// Code 13 (retriable).
    pub const NETWORK_EXCEPTION: ErrorCode = ErrorCode(13);
    /// Code 14 (retriable).
    pub const COORDINATOR_LOAD_IN_PROGRESS: ErrorCode = ErrorCode(14);
    /// Code 15 (retriable).
    pub const COORDINATOR_NOT_AVAILABLE: ErrorCode = ErrorCode(15);
    /// Code 16 (retriable).
    pub const NOT_COORDINATOR: ErrorCode = ErrorCode(16);
    /// Code 17.
    pub const INVALID_TOPIC_EXCEPTION: ErrorCode = ErrorCode(17);
    /// Code 18.
    pub const RECORD_LIST_TOO_LARGE: ErrorCode = ErrorCode(18);
    /// Code 19 (retriable).
    pub const NOT_ENOUGH_REPLICAS: ErrorCode = ErrorCode(19);
    /// Code 20 (retriable).
    pub const NOT_ENOUGH_REPLICAS_AFTER_APPEND: ErrorCode = ErrorCode(20);
    /// Code 21.
    pub const INVALID_REQUIRED_ACKS: ErrorCode = ErrorCode(21);
    /// Code 22.
    pub const ILLEGAL_GENERATION: ErrorCode = ErrorCode(22);
    /// Code 23.
    pub const INCONSISTENT_GROUP_PROTOCOL: ErrorCode = ErrorCode(23);
    /// Code 24.
    pub const INVALID_GROUP_ID: ErrorCode = ErrorCode(24);
    /// Code 25.
    pub const UNKNOWN_MEMBER_ID: ErrorCode = ErrorCode(25);
    /// Code 26.
    pub const INVALID_SESSION_TIMEOUT: ErrorCode = ErrorCode(26);
    /// Code 27.
    pub const REBALANCE_IN_PROGRESS: ErrorCode = ErrorCode(27);
    /// Code 28.
    pub const INVALID_COMMIT_OFFSET_SIZE: ErrorCode = ErrorCode(28);
    /// Code 29.
    pub const TOPIC_AUTHORIZATION_FAILED: ErrorCode = ErrorCode(29);
    /// Code 30.
    pub const GROUP_AUTHORIZATION_FAILED: ErrorCode = ErrorCode(30);
    /// Code 31.
    pub const CLUSTER_AUTHORIZATION_FAILED: ErrorCode = ErrorCode(31);
    /// Code 32.
    pub const INVALID_TIMESTAMP: ErrorCode = ErrorCode(32);
    /// Code 33.
    pub const UNSUPPORTED_SASL_MECHANISM: ErrorCode = ErrorCode(33);
    /// Code 34.
    pub const ILLEGAL_SASL_STATE: ErrorCode = ErrorCode(34);
    /// Code 35.
    pub const UNSUPPORTED_VERSION: ErrorCode = ErrorCode(35);
    /// Code 36.
    pub const TOPIC_ALREADY_EXISTS: ErrorCode = ErrorCode(36);
    /// Code 37.
    pub const INVALID_PARTITIONS: ErrorCode = ErrorCode(37);
    /// Code 38.
    pub const INVALID_REPLICATION_FACTOR: ErrorCode = ErrorCode(38);
    /// Code 39.
    pub const INVALID_REPLICA_ASSIGNMENT: ErrorCode = ErrorCode(39);
    /// Code 40.
    pub const INVALID_CONFIG: ErrorCode = ErrorCode(40);
    /// Code 41 (retriable).
    pub const NOT_CONTROLLER: ErrorCode = ErrorCode(41);
    /// Code 42.
    pub const INVALID_REQUEST: ErrorCode = ErrorCode(42);
    /// Code 43.
    pub const UNSUPPORTED_FOR_MESSAGE_FORMAT: ErrorCode = ErrorCode(43);
    /// Code 44.
    pub const POLICY_VIOLATION: ErrorCode = ErrorCode(44);
    /// Code 45.
    pub const OUT_OF_ORDER_SEQUENCE_NUMBER: ErrorCode = ErrorCode(45);
    /// Code 46.
    pub const DUPLICATE_SEQUENCE_NUMBER: ErrorCode = ErrorCode(46);
    /// Code 47.
    pub const INVALID_PRODUCER_EPOCH: ErrorCode = ErrorCode(47);
    /// Code 48.
    pub const INVALID_TXN_STATE: ErrorCode = ErrorCode(48);
    /// Code 49.
    pub const INVALID_PRODUCER_ID_MAPPING: ErrorCode = ErrorCode(49);
    /// Code 50.
    pub const INVALID_TRANSACTION_TIMEOUT: ErrorCode = ErrorCode(50);
    /// Code 51 (retriable).
    pub const CONCURRENT_TRANSACTIONS: ErrorCode = ErrorCode(51);
    /// Code 52.
    pub const TRANSACTION_COORDINATOR_FENCED: ErrorCode = ErrorCode(52);
    /// Code 53.
    pub const TRANSACTIONAL_ID_AUTHORIZATION_FAILED: ErrorCode = ErrorCode(53);
    /// Code 54.
    pub const SECURITY_DISABLED: ErrorCode = ErrorCode(54);
    /// Code 55.
    pub const OPERATION_NOT_ATTEMPTED: ErrorCode = ErrorCode(55);
    /// Code 56 (retriable).
    pub const KAFKA_STORAGE_ERROR: ErrorCode = ErrorCode(56);
    /// Code 57.
    pub const LOG_DIR_NOT_FOUND: ErrorCode = ErrorCode(57);
    /// Code 58.
    pub const SASL_AUTHENTICATION_FAILED: ErrorCode = ErrorCode(58);
    /// Code 59.
    pub const UNKNOWN_PRODUCER_ID: ErrorCode = ErrorCode(59);
    /// Code 60.
    pub const REASSIGNMENT_IN_PROGRESS: ErrorCode = ErrorCode(60);
    /// Code 61.
    pub const DELEGATION_TOKEN_AUTH_DISABLED: ErrorCode = ErrorCode(61);
    /// Code 62.
    pub const DELEGATION_TOKEN_NOT_FOUND: ErrorCode = ErrorCode(62);
    /// Code 63.
    pub const DELEGATION_TOKEN_OWNER_MISMATCH: ErrorCode = ErrorCode(63);
    /// Code 64.
    pub const DELEGATION_TOKEN_REQUEST_NOT_ALLOWED: ErrorCode = ErrorCode(64);
    /// Code 65.
    pub const DELEGATION_TOKEN_AUTHORIZATION_FAILED: ErrorCode = ErrorCode(65);
    /// Code 66.
    pub const DELEGATION_TOKEN_EXPIRED: ErrorCode = ErrorCode(66);
    /// Code 67.
    pub const INVALID_PRINCIPAL_TYPE: ErrorCode = ErrorCode(67);
    /// Code 68.
    pub const NON_EMPTY_GROUP: ErrorCode = ErrorCode(68);
    /// Code 69.
    pub const GROUP_ID_NOT_FOUND: ErrorCode = ErrorCode(69);
    /// Code 70 (retriable).
    pub const FETCH_SESSION_ID_NOT_FOUND: ErrorCode = ErrorCode(70);
    /// Code 71 (retriable).
    pub const INVALID_FETCH_SESSION_EPOCH: ErrorCode = ErrorCode(71);
    /// Code 72 (retriable).
    pub const LISTENER_NOT_FOUND: ErrorCode = ErrorCode(72);
    /// Code 73.
    pub const TOPIC_DELETION_DISABLED: ErrorCode = ErrorCode(73);
    /// Code 74 (retriable).
    pub const FENCED_LEADER_EPOCH: ErrorCode = ErrorCode(74);
    /// Code 75 (retriable).
    pub const UNKNOWN_LEADER_EPOCH: ErrorCode = ErrorCode(75);
    /// Code 76.
    pub const UNSUPPORTED_COMPRESSION_TYPE: ErrorCode = ErrorCode(76);
    /// Code 77.
    pub const STALE_BROKER_EPOCH: ErrorCode = ErrorCode(77);
    /// Code 78 (retriable).
    pub const OFFSET_NOT_AVAILABLE: ErrorCode = ErrorCode(78);
    /// Code 79.
    pub const MEMBER_ID_REQUIRED: ErrorCode = ErrorCode(79);
    /// Code 80 (retriable).
    pub const PREFERRED_LEADER_NOT_AVAILABLE: ErrorCode = ErrorCode(80);
    /// Code 81.
    pub const GROUP_MAX_SIZE_REACHED: ErrorCode = ErrorCode(81);
    /// Code 82.
    pub const FENCED_INSTANCE_ID: ErrorCode = ErrorCode(82);
    /// Code 83 (retriable).
    pub const ELIGIBLE_LEADERS_NOT_AVAILABLE: ErrorCode = ErrorCode(83);
    /// Code 84 (retriable).
    pub const ELECTION_NOT_NEEDED: ErrorCode = ErrorCode(84);
    /// Code 85.
    pub const NO_REASSIGNMENT_IN_PROGRESS: ErrorCode = ErrorCode(85);
    /// Code 86.
    pub const GROUP_SUBSCRIBED_TO_TOPIC: ErrorCode = ErrorCode(86);
    /// Code 87.
    pub const INVALID_RECORD: ErrorCode = ErrorCode(87);
    /// Code 88 (retriable).
    pub const UNSTABLE_OFFSET_COMMIT: ErrorCode = ErrorCode(88);
    /// Code 89 (retriable).
    pub const THROTTLING_QUOTA_EXCEEDED: ErrorCode = ErrorCode(89);
    /// Code 90.
    pub const PRODUCER_FENCED: ErrorCode = ErrorCode(90);
    /// Code 91.
    pub const RESOURCE_NOT_FOUND: ErrorCode = ErrorCode(91);
    /// Code 92.
    pub const DUPLICATE_RESOURCE: ErrorCode = ErrorCode(92);
    /// Code 93.
    pub const UNACCEPTABLE_CREDENTIAL: ErrorCode = ErrorCode(93);
    /// Code 94.
    pub const INCONSISTENT_VOTER_SET: ErrorCode = ErrorCode(94);
    /// Code 95.
    pub const INVALID_UPDATE_VERSION: ErrorCode = ErrorCode(95);
    /// Code 96.
    pub const FEATURE_UPDATE_FAILED: ErrorCode = ErrorCode(96);
    /// Code 97.
    pub const PRINCIPAL_DESERIALIZATION_FAILURE: ErrorCode = ErrorCode(97);
    /// Code 98.
    pub const SNAPSHOT_NOT_FOUND: ErrorCode = ErrorCode(98);
    /// Code 99.
    pub const POSITION_OUT_OF_RANGE: ErrorCode = ErrorCode(99);
    /// Code 100 (retriable).
    pub const UNKNOWN_TOPIC_ID: ErrorCode = ErrorCode(100);
    /// Code 101.
    pub const DUPLICATE_BROKER_REGISTRATION: ErrorCode = ErrorCode(101);
    /// Code 102.
    pub const BROKER_ID_NOT_REGISTERED: ErrorCode = ErrorCode(102);
    /// Code 103 (retriable).
    pub const INCONSISTENT_TOPIC_ID: ErrorCode = ErrorCode(103);
    /// Code 104.
    pub const INCONSISTENT_CLUSTER_ID: ErrorCode = ErrorCode(104);
    /// Code 105.
    pub const TRANSACTIONAL_ID_NOT_FOUND: ErrorCode = ErrorCode(105);
    /// Code 106 (retriable).
    pub const FETCH_SESSION_TOPIC_ID_ERROR: ErrorCode = ErrorCode(106);
    /// Code 107.
    pub const INELIGIBLE_REPLICA: ErrorCode = ErrorCode(107);
    /// Code 108.
    pub const NEW_LEADER_ELECTED: ErrorCode = ErrorCode(108);
    /// Code 109.
    pub const OFFSET_MOVED_TO_TIERED_STORAGE: ErrorCode = ErrorCode(109);
    /// Code 110.
    pub const FENCED_MEMBER_EPOCH: ErrorCode = ErrorCode(110);
    /// Code 111.
    pub const UNRELEASED_INSTANCE_ID: ErrorCode = ErrorCode(111);
    /// Code 112.
    pub const UNSUPPORTED_ASSIGNOR: ErrorCode = ErrorCode(112);
    /// Code 113.
    pub const STALE_MEMBER_EPOCH: ErrorCode = ErrorCode(113);
    /// Code 114.
    pub const MISMATCHED_ENDPOINT_TYPE: ErrorCode = ErrorCode(114);
    /// Code 115.
    pub const UNSUPPORTED_ENDPOINT_TYPE: ErrorCode = ErrorCode(115);
    /// Code 116.
    pub const UNKNOWN_CONTROLLER_ID: ErrorCode = ErrorCode(116);
    /// Code 117.
    pub const UNKNOWN_SUBSCRIPTION_ID: ErrorCode = ErrorCode(117);
    /// Code 118.
    pub const TELEMETRY_TOO_LARGE: ErrorCode = ErrorCode(118);
    /// Code 119.
    pub const INVALID_REGISTRATION: ErrorCode = ErrorCode(119);
    /// Code 120.
    pub const TRANSACTION_ABORTABLE: ErrorCode = ErrorCode(120);
    /// Code 121.
    pub const INVALID_RECORD_STATE: ErrorCode = ErrorCode(121);
    /// Code 122 (retriable).
    pub const SHARE_SESSION_NOT_FOUND: ErrorCode = ErrorCode(122);
    /// Code 123 (retriable).
    pub const INVALID_SHARE_SESSION_EPOCH: ErrorCode = ErrorCode(123);
    /// Code 124.
    pub const FENCED_STATE_EPOCH: ErrorCode = ErrorCode(124);
    /// Code 125.
    pub const INVALID_VOTER_KEY: ErrorCode = ErrorCode(125);
    /// Code 126.
    pub const DUPLICATE_VOTER: ErrorCode = ErrorCode(126);
    /// Code 127.
    pub const VOTER_NOT_FOUND: ErrorCode = ErrorCode(127);
    /// Code 128.
    pub const INVALID_REGULAR_EXPRESSION: ErrorCode = ErrorCode(128);
}

impl ErrorCode {
    /// The code for a wire value (any value; unknown ones keep their number).
    pub const fn from_i16(code: i16) -> ErrorCode {
        ErrorCode(code)
    }

    /// The wire value.
    pub const fn code(self) -> i16 {
        self.0
    }

    fn entry(self) -> Option<(&'static str, bool)> {
        let index = usize::try_from(i32::from(self.0) - i32::from(TABLE_FIRST_CODE)).ok()?;
        TABLE.get(index).copied()
    }

    /// Kafka's name (`UNKNOWN_TOPIC_OR_PARTITION`), `None` for codes not in the table.
    pub fn name(self) -> Option<&'static str> {
        self.entry().map(|(name, _)| name)
    }

    /// True if Kafka clients retry on this error; false for unknown codes.
    pub fn is_retriable(self) -> bool {
        self.entry().is_some_and(|(_, retriable)| retriable)
    }

    /// True for any code but `NONE`.
    pub fn is_error(self) -> bool {
        self.0 != 0
    }

    /// True if the code is in the table.
    pub fn is_known(self) -> bool {
        self.entry().is_some()
    }

    /// Looks a code up by Kafka's name.
    pub fn from_name(name: &str) -> Option<ErrorCode> {
        let index = TABLE.iter().position(|(n, _)| *n == name)?;
        let code = i32::from(TABLE_FIRST_CODE) + i32::try_from(index).ok()?;
        i16::try_from(code).ok().map(ErrorCode)
    }

    /// Every code in the table, in order.
    pub fn all() -> impl Iterator<Item = ErrorCode> {
        (0..TABLE.len()).filter_map(|i| {
            let code = i32::from(TABLE_FIRST_CODE) + i32::try_from(i).ok()?;
            i16::try_from(code).ok().map(ErrorCode)
        })
    }
}

impl From<i16> for ErrorCode {
    fn from(code: i16) -> ErrorCode {
        ErrorCode(code)
    }
}

impl From<ErrorCode> for i16 {
    fn from(code: ErrorCode) -> i16 {
        code.0
    }
}

impl fmt::Debug for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "{name}({})", self.0),
            None => write!(f, "ErrorCode({})", self.0),
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "unknown error code {}", self.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_known_codes() {
        let cases: &[(ErrorCode, i16, &str, bool)] = &[
            (
                ErrorCode::UNKNOWN_SERVER_ERROR,
                -1,
                "UNKNOWN_SERVER_ERROR",
                false,
            ),
            (ErrorCode::NONE, 0, "NONE", false),
            (
                ErrorCode::OFFSET_OUT_OF_RANGE,
                1,
                "OFFSET_OUT_OF_RANGE",
                false,
            ),
            (ErrorCode::CORRUPT_MESSAGE, 2, "CORRUPT_MESSAGE", true),
            (
                ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
                3,
                "UNKNOWN_TOPIC_OR_PARTITION",
                true,
            ),
            (
                ErrorCode::LEADER_NOT_AVAILABLE,
                5,
                "LEADER_NOT_AVAILABLE",
                true,
            ),
            (
                ErrorCode::NOT_LEADER_OR_FOLLOWER,
                6,
                "NOT_LEADER_OR_FOLLOWER",
                true,
            ),
            (ErrorCode::MESSAGE_TOO_LARGE, 10, "MESSAGE_TOO_LARGE", false),
            (
                ErrorCode::COORDINATOR_NOT_AVAILABLE,
                15,
                "COORDINATOR_NOT_AVAILABLE",
                true,
            ),
            (ErrorCode::NOT_COORDINATOR, 16, "NOT_COORDINATOR", true),
            (
                ErrorCode::INVALID_REQUIRED_ACKS,
                21,
                "INVALID_REQUIRED_ACKS",
                false,
            ),
            (
                ErrorCode::ILLEGAL_GENERATION,
                22,
                "ILLEGAL_GENERATION",
                false,
            ),
            (
                ErrorCode::INCONSISTENT_GROUP_PROTOCOL,
                23,
                "INCONSISTENT_GROUP_PROTOCOL",
                false,
            ),
            (ErrorCode::UNKNOWN_MEMBER_ID, 25, "UNKNOWN_MEMBER_ID", false),
            (
                ErrorCode::REBALANCE_IN_PROGRESS,
                27,
                "REBALANCE_IN_PROGRESS",
                false,
            ),
            (
                ErrorCode::UNSUPPORTED_VERSION,
                35,
                "UNSUPPORTED_VERSION",
                false,
            ),
            (
                ErrorCode::TOPIC_ALREADY_EXISTS,
                36,
                "TOPIC_ALREADY_EXISTS",
                false,
            ),
            (
                ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER,
                45,
                "OUT_OF_ORDER_SEQUENCE_NUMBER",
                false,
            ),
            (
                ErrorCode::KAFKA_STORAGE_ERROR,
                56,
                "KAFKA_STORAGE_ERROR",
                true,
            ),
            (
                ErrorCode::FETCH_SESSION_ID_NOT_FOUND,
                70,
                "FETCH_SESSION_ID_NOT_FOUND",
                true,
            ),
            (
                ErrorCode::MEMBER_ID_REQUIRED,
                79,
                "MEMBER_ID_REQUIRED",
                false,
            ),
            (
                ErrorCode::FENCED_INSTANCE_ID,
                82,
                "FENCED_INSTANCE_ID",
                false,
            ),
            (ErrorCode::INVALID_RECORD, 87, "INVALID_RECORD", false),
            (ErrorCode::UNKNOWN_TOPIC_ID, 100, "UNKNOWN_TOPIC_ID", true),
            (
                ErrorCode::INVALID_REGISTRATION,
                119,
                "INVALID_REGISTRATION",
                false,
            ),
            (
                ErrorCode::INVALID_REGULAR_EXPRESSION,
                128,
                "INVALID_REGULAR_EXPRESSION",
                false,
            ),
        ];
        for &(code, number, name, retriable) in cases {
            assert_eq!(code.code(), number);
            assert_eq!(ErrorCode::from_i16(number), code);
            assert_eq!(code.name(), Some(name));
            assert_eq!(code.is_retriable(), retriable, "{name}");
            assert_eq!(ErrorCode::from_name(name), Some(code));
        }
    }

    #[test]
    fn table_is_dense_and_names_unique() {
        let all: Vec<ErrorCode> = ErrorCode::all().collect();
        assert_eq!(all.first(), Some(&ErrorCode(-1)));
        assert_eq!(all.last(), Some(&ErrorCode(128)));
        assert_eq!(all.len(), 130);
        let mut names: Vec<&str> = all.iter().filter_map(|c| c.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), 130);
        assert_eq!(all.iter().filter(|c| c.is_retriable()).count(), 31);
    }

    #[test]
    fn unknown_codes_pass_through() {
        for code in [-2, 129, 1000, i16::MIN, i16::MAX] {
            let code = ErrorCode::from_i16(code);
            assert!(!code.is_known());
            assert_eq!(code.name(), None);
            assert!(!code.is_retriable());
        }
        assert_eq!(
            format!("{:?}", ErrorCode(3)),
            "UNKNOWN_TOPIC_OR_PARTITION(3)"
        );
        assert_eq!(ErrorCode::from_name("NO_SUCH_ERROR"), None);
    }
}
