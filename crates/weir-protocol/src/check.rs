//! Round-trip properties shared by the fuzz target and the corpus replay test.

use crate::api::{RequestBody, ResponseBody};
use crate::decoder::Decoder;
use crate::encoder::Encoder;
use crate::error::{DecodeError, EncodeError};
use crate::messages::ApiKey;
use bytes::Bytes;

/// Checks the decode→encode→decode property on one fuzz input.
///
/// Input layout: `api_key` (int16), `version` (int16), then a request body. Inputs with
/// an unknown key, a version outside the schema, or a body that does not decode are
/// fine (`Ok`): only a successful decode must round-trip. On success, encoding must
/// succeed, decoding that must give the same value, and re-encoding it must give the
/// same bytes. Returns a description of the first violation.
pub fn request_roundtrip(input: &[u8]) -> Result<(), String> {
    roundtrip(input, RequestBody::decode, |b: &RequestBody, e, v| {
        b.encode(e, v)
    })?;
    // The whole-frame path must not panic either.
    let _ = crate::api::decode_request(Bytes::copy_from_slice(input));
    Ok(())
}

/// The same property for response bodies (same input layout).
pub fn response_roundtrip(input: &[u8]) -> Result<(), String> {
    roundtrip(input, ResponseBody::decode, |b: &ResponseBody, e, v| {
        b.encode(e, v)
    })
}

fn roundtrip<T: PartialEq>(
    input: &[u8],
    decode: impl Fn(ApiKey, &mut Decoder, i16) -> Result<T, DecodeError>,
    encode: impl Fn(&T, &mut Encoder, i16) -> Result<(), EncodeError>,
) -> Result<(), String> {
    let [k0, k1, v0, v1, body @ ..] = input else {
        return Ok(());
    };
    let Some(api_key) = ApiKey::from_i16(i16::from_be_bytes([*k0, *k1])) else {
        return Ok(());
    };
    let version = i16::from_be_bytes([*v0, *v1]);
    let (min, max) = api_key.schema_versions();
    if !(min..=max).contains(&version) {
        return Ok(());
    }
    let mut d = Decoder::new(Bytes::copy_from_slice(body));
    let Ok(first) = decode(api_key, &mut d, version) else {
        return Ok(());
    };
    let mut e = Encoder::new();
    encode(&first, &mut e, version)
        .map_err(|err| format!("{api_key:?} v{version}: decoded value does not encode: {err}"))?;
    let bytes1 = e.finish().to_bytes();
    let mut d2 = Decoder::new(bytes1.clone());
    let second = decode(api_key, &mut d2, version)
        .map_err(|err| format!("{api_key:?} v{version}: re-decode failed: {err}"))?;
    if d2.remaining() != 0 {
        return Err(format!(
            "{api_key:?} v{version}: re-decode left {} bytes",
            d2.remaining()
        ));
    }
    if second != first {
        return Err(format!("{api_key:?} v{version}: decode(encode(x)) != x"));
    }
    let mut e2 = Encoder::new();
    encode(&second, &mut e2, version)
        .map_err(|err| format!("{api_key:?} v{version}: re-encode failed: {err}"))?;
    if e2.finish().to_bytes() != bytes1 {
        return Err(format!(
            "{api_key:?} v{version}: re-encoding is not byte-identical"
        ));
    }
    Ok(())
}
