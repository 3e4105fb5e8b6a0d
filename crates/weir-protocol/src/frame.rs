//! Framing: every request and response is an `int32` size followed by that many bytes.
//!
//! The size is checked against `frame_bytes_max` before anything is allocated, and a
//! short buffer is reported as [`DecodeError::Incomplete`] (wait for more bytes), never
//! as malformed.

use crate::encoder::{Encoded, Encoder};
use crate::error::DecodeError;
use bytes::{Buf, Bytes, BytesMut};

/// Length of the size prefix, in bytes.
pub const FRAME_PREFIX_BYTES: usize = 4;

/// Default largest frame body accepted, in bytes: 100 MiB (Kafka's
/// `socket.request.max.bytes`). Bounds: 1 .. `i32::MAX`.
pub const FRAME_BYTES_MAX_DEFAULT: usize = 100 * 1024 * 1024;

/// Reads the size prefix at the start of `buf` and returns the body length.
///
/// Errors: [`DecodeError::Incomplete`] when fewer than 4 bytes are present,
/// [`DecodeError::FrameTooLarge`] for a negative size or one above `frame_bytes_max`.
pub fn frame_body_len(buf: &[u8], frame_bytes_max: usize) -> Result<usize, DecodeError> {
    let Some(prefix) = buf.get(..FRAME_PREFIX_BYTES) else {
        return Err(DecodeError::Incomplete {
            needed: FRAME_PREFIX_BYTES - buf.len(),
        });
    };
    let size = i32::from_be_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]);
    match usize::try_from(size) {
        Ok(n) if n <= frame_bytes_max => Ok(n),
        _ => Err(DecodeError::FrameTooLarge {
            size: i64::from(size),
            max: frame_bytes_max,
        }),
    }
}

/// Checks whether `buf` starts with a whole frame; returns the total frame length
/// (prefix included) or how many more bytes are needed.
pub fn check_frame(buf: &[u8], frame_bytes_max: usize) -> Result<usize, DecodeError> {
    let body = frame_body_len(buf, frame_bytes_max)?;
    let total = FRAME_PREFIX_BYTES + body;
    if buf.len() < total {
        return Err(DecodeError::Incomplete {
            needed: total - buf.len(),
        });
    }
    Ok(total)
}

/// Takes one frame body off the front of a connection's read buffer, zero-copy.
///
/// `Ok(None)` means more bytes are needed (the buffer is untouched); the caller may
/// reserve up to the declared size, which was already checked against
/// `frame_bytes_max`. Errors are fatal for the connection.
pub fn take_frame(
    buf: &mut BytesMut,
    frame_bytes_max: usize,
) -> Result<Option<Bytes>, DecodeError> {
    match check_frame(buf, frame_bytes_max) {
        Ok(total) => {
            let mut frame = buf.split_to(total);
            frame.advance(FRAME_PREFIX_BYTES);
            Ok(Some(frame.freeze()))
        }
        Err(DecodeError::Incomplete { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Prefixes an encoded message with its size, keeping its chunks (no copy).
pub fn frame(body: Encoder) -> Result<Encoded, crate::error::EncodeError> {
    let len = body.len();
    let size = i32::try_from(len)
        .map_err(|_| crate::error::EncodeError::TooLong { what: "frame", len })?;
    let mut e = Encoder::new();
    e.put_i32(size);
    e.append(body);
    Ok(e.finish())
}
