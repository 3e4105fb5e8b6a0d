//! The Kafka wire-protocol subset weir speaks, in both directions.
//!
//! Sans-I/O: this crate parses and builds bytes; it never touches a socket,
//! a file or an async runtime.
#![deny(missing_docs)]

#[cfg(any(test, feature = "arbitrary"))]
pub mod arbitrary;
pub mod error;
#[allow(missing_docs)]
pub mod messages;
pub mod primitives;

pub use error::{DecodeError, EncodeError};
pub use primitives::{Decoder, Encoded, Encoder, Uuid};
