//! The Kafka wire-protocol subset weir speaks, in both directions.
//!
//! Sans-I/O: this crate parses and builds bytes; it never touches a socket,
//! a file or an async runtime. Message codecs are generated from Kafka's schemas
//! (`messages`, by `weir-codegen`); framing, headers, dispatch and primitives are
//! hand-written. See `docs/protocol.md`.
//!
//! ```
//! use bytes::BytesMut;
//! use weir_protocol::messages::{ApiVersionsRequest, ApiVersionsResponse};
//! use weir_protocol::{RequestBody, RequestHeader, ResponseBody, FRAME_BYTES_MAX_DEFAULT};
//!
//! // A client sends ApiVersions v3...
//! let header = RequestHeader { api_key: 18, api_version: 3, correlation_id: 7, ..Default::default() };
//! let frame = weir_protocol::encode_request(&header, &RequestBody::ApiVersions(ApiVersionsRequest::default()))?;
//! let mut conn = BytesMut::from(&frame.to_bytes()[..]);
//!
//! // ...the broker takes one frame off its read buffer and decodes it...
//! let body = weir_protocol::take_frame(&mut conn, FRAME_BYTES_MAX_DEFAULT)?.expect("a whole frame");
//! let request = weir_protocol::decode_request(body)?;
//! assert_eq!(request.header.correlation_id, 7);
//!
//! // ...and answers; the chunks go out in one vectored write.
//! let response = ResponseBody::ApiVersions(ApiVersionsResponse::default());
//! let out = weir_protocol::encode_response(7, request.body_version, &response)?;
//! assert_eq!(out.len(), out.chunks().iter().map(|c| c.len()).sum::<usize>());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod api;
#[cfg(any(test, feature = "arbitrary"))]
pub mod arbitrary;
pub mod check;
pub mod decoder;
pub mod encoder;
pub mod error;
pub mod error_code;
pub mod frame;
pub mod header;
pub mod messages;
pub mod primitives;
/// Kafka v2 record batches: the `weir-records` crate, re-exported so message types and
/// clients name them through the protocol crate.
pub use weir_records as records;

pub use api::{
    ADVERTISED, ApiKey, Request, RequestBody, ResponseBody, decode_request, decode_response,
    encode_request, encode_response,
};
pub use decoder::Decoder;
pub use encoder::{Encoded, Encoder};
pub use error::{DecodeError, EncodeError};
pub use error_code::ErrorCode;
pub use frame::{FRAME_BYTES_MAX_DEFAULT, take_frame};
pub use header::{RequestHeader, ResponseHeader};
pub use primitives::Uuid;

#[cfg(test)]
mod tests;
