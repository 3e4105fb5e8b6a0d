//! The Kafka wire-protocol subset weir speaks, in both directions.
//!
//! Sans-I/O: this crate parses and builds bytes; it never touches a socket,
//! a file or an async runtime. Message codecs are generated from Kafka's schemas
//! (`messages`, by `weir-codegen`); framing, headers, dispatch and primitives are
//! hand-written. See `docs/protocol.md`.
#![deny(missing_docs)]

pub mod api;
#[cfg(any(test, feature = "arbitrary"))]
pub mod arbitrary;
pub mod check;
pub mod error;
pub mod error_code;
pub mod frame;
pub mod header;
pub mod messages;
pub mod primitives;
pub mod records;

pub use api::{
    ADVERTISED, ApiKey, Request, RequestBody, ResponseBody, decode_request, decode_response,
    encode_request, encode_response,
};
pub use error::{DecodeError, EncodeError};
pub use error_code::ErrorCode;
pub use frame::{FRAME_BYTES_MAX_DEFAULT, take_frame};
pub use header::{RequestHeader, ResponseHeader};
pub use primitives::{Decoder, Encoded, Encoder, Uuid};

#[cfg(test)]
mod tests;
