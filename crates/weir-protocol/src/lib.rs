//! The Kafka wire-protocol subset weir speaks, in both directions.
//!
//! Sans-I/O: this crate parses and builds bytes; it never touches a socket,
//! a file or an async runtime.
#![deny(missing_docs)]

pub mod error_code;
pub mod records;

pub use error_code::ErrorCode;
