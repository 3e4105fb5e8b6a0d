//! Request and response headers.
//!
//! Request header v1 is `api_key`, `api_version`, `correlation_id`, `client_id`; v2 adds
//! a tagged-field section. `client_id` is always an `int16`-length nullable string, even
//! in v2. Response header v0 is the `correlation_id`; v1 adds a tagged-field section.
//! The header version follows the API's flexible versions, except that ApiVersions
//! responses always use header v0 (clients parse them before they know our versions).

use crate::decoder::Decoder;
use crate::encoder::Encoder;
use crate::error::{DecodeError, EncodeError};
use crate::messages::ApiKey;
use bytes::Bytes;

/// A request header.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RequestHeader {
    /// The API key.
    pub api_key: i16,
    /// The API version of the body.
    pub api_version: i16,
    /// Echoed in the response.
    pub correlation_id: i32,
    /// The client's id, if any.
    pub client_id: Option<String>,
    /// Tagged fields of header v2 (none are defined; kept for re-encoding).
    pub unknown_tagged_fields: Vec<(u32, Bytes)>,
}

/// The request header version for an API at a version: 2 when flexible, else 1.
pub fn request_header_version(api_key: ApiKey, api_version: i16) -> i16 {
    if api_version >= api_key.request_flexible_version_min() {
        2
    } else {
        1
    }
}

/// The response header version: 1 when flexible, else 0; always 0 for ApiVersions.
pub fn response_header_version(api_key: ApiKey, api_version: i16) -> i16 {
    if api_key == ApiKey::ApiVersions {
        0
    } else if api_version >= api_key.response_flexible_version_min() {
        1
    } else {
        0
    }
}

fn tagged_section(d: &mut Decoder) -> Result<Vec<(u32, Bytes)>, DecodeError> {
    let count = d.tag_count()?;
    let mut out = Vec::new();
    for _ in 0..count {
        let (tag, sub) = d.tagged_field()?;
        out.push((tag, sub.into_bytes()));
    }
    crate::decoder::sort_unknown_tags(&mut out);
    Ok(out)
}

impl RequestHeader {
    /// Reads the `api_key` and `api_version` without consuming anything.
    pub fn peek_key_version(d: &Decoder) -> Result<(i16, i16), DecodeError> {
        let mut probe = d.clone();
        let key = probe.i16()?;
        let version = probe.i16()?;
        Ok((key, version))
    }

    /// Decodes a header of `header_version` (1 or 2).
    pub fn decode(d: &mut Decoder, header_version: i16) -> Result<RequestHeader, DecodeError> {
        let api_key = d.i16()?;
        let api_version = d.i16()?;
        let correlation_id = d.i32()?;
        let client_id = d.nullable_string(false, true)?;
        let unknown_tagged_fields = if header_version >= 2 {
            tagged_section(d)?
        } else {
            Vec::new()
        };
        Ok(RequestHeader {
            api_key,
            api_version,
            correlation_id,
            client_id,
            unknown_tagged_fields,
        })
    }

    /// Encodes the header at `header_version` (1 or 2).
    pub fn encode(&self, e: &mut Encoder, header_version: i16) -> Result<(), EncodeError> {
        e.put_i16(self.api_key);
        e.put_i16(self.api_version);
        e.put_i32(self.correlation_id);
        e.put_nullable_string(false, self.client_id.as_deref())?;
        if header_version >= 2 {
            e.put_tagged_fields(Vec::new(), &self.unknown_tagged_fields)?;
        } else if !self.unknown_tagged_fields.is_empty() {
            return Err(EncodeError::FieldNotInVersion {
                field: "RequestHeader.unknown_tagged_fields",
                version: header_version,
            });
        }
        Ok(())
    }
}

/// A response header.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ResponseHeader {
    /// The request's correlation id.
    pub correlation_id: i32,
    /// Tagged fields of header v1 (none are defined; kept for re-encoding).
    pub unknown_tagged_fields: Vec<(u32, Bytes)>,
}

impl ResponseHeader {
    /// Decodes a header of `header_version` (0 or 1).
    pub fn decode(d: &mut Decoder, header_version: i16) -> Result<ResponseHeader, DecodeError> {
        let correlation_id = d.i32()?;
        let unknown_tagged_fields = if header_version >= 1 {
            tagged_section(d)?
        } else {
            Vec::new()
        };
        Ok(ResponseHeader {
            correlation_id,
            unknown_tagged_fields,
        })
    }

    /// Encodes the header at `header_version` (0 or 1).
    pub fn encode(&self, e: &mut Encoder, header_version: i16) -> Result<(), EncodeError> {
        e.put_i32(self.correlation_id);
        if header_version >= 1 {
            e.put_tagged_fields(Vec::new(), &self.unknown_tagged_fields)?;
        } else if !self.unknown_tagged_fields.is_empty() {
            return Err(EncodeError::FieldNotInVersion {
                field: "ResponseHeader.unknown_tagged_fields",
                version: header_version,
            });
        }
        Ok(())
    }
}
