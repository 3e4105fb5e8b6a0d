//! Typed errors of decoding and encoding.

use thiserror::Error;

/// Decoding a frame, a header or a message body failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The bytes so far are a valid prefix; `needed` more bytes (at least) are required.
    /// Only frame-level parsing reports this; inside a complete frame a short body is malformed.
    #[error("incomplete input: at least {needed} more bytes needed")]
    Incomplete {
        /// How many more bytes are needed, at least.
        needed: usize,
    },
    /// The bytes can never be valid.
    #[error("malformed input at byte {offset}: {reason}")]
    Malformed {
        /// A short, static description.
        reason: &'static str,
        /// The offset (within the frame body) where the problem was found.
        offset: usize,
    },
    /// A frame's size prefix exceeds the configured maximum (or is negative).
    #[error("frame of {size} bytes exceeds frame_bytes_max {max}")]
    FrameTooLarge {
        /// The declared size.
        size: i64,
        /// The configured maximum.
        max: usize,
    },
    /// The API key is not one weir knows.
    #[error("unsupported API key {api_key}")]
    UnsupportedApiKey {
        /// The key on the wire.
        api_key: i16,
    },
    /// The API is known but not at this version.
    #[error("unsupported version {version} of API key {api_key}")]
    UnsupportedVersion {
        /// The key on the wire.
        api_key: i16,
        /// The version on the wire.
        version: i16,
    },
}

impl DecodeError {
    /// True when more input may turn this into a success.
    pub fn is_incomplete(&self) -> bool {
        matches!(self, DecodeError::Incomplete { .. })
    }
}

/// Encoding a message failed: the value cannot be expressed at the target version.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// The message does not exist at this version.
    #[error("{message} has no version {version}")]
    UnsupportedVersion {
        /// The message name.
        message: &'static str,
        /// The target version.
        version: i16,
    },
    /// A non-ignorable field holds a non-default value but does not exist at this version.
    #[error("field {field} holds a non-default value but does not exist at version {version}")]
    FieldNotInVersion {
        /// `Struct.field`.
        field: &'static str,
        /// The target version.
        version: i16,
    },
    /// A field is null but is not nullable at this version.
    #[error("field {field} is null but not nullable at version {version}")]
    NullNotAllowed {
        /// `Struct.field`.
        field: &'static str,
        /// The target version.
        version: i16,
    },
    /// A string, bytes or array is longer than its length prefix can express.
    #[error("{what} of {len} elements/bytes is too long for its length prefix")]
    TooLong {
        /// What was too long.
        what: &'static str,
        /// Its length.
        len: usize,
    },
    /// Tagged fields are out of order, a known tag repeats, or an unknown tag collides with a
    /// known one.
    #[error("tagged field {tag} is duplicated or out of order")]
    BadTag {
        /// The offending tag.
        tag: u32,
    },
}
