//! Wire primitives: `nom` parsers over `&[u8]` for every Kafka primitive type, and the
//! varint writers. Public, so the records module can use the zigzag varints too.
//! [`crate::decoder::Decoder`] and [`crate::encoder::Encoder`] build on them.

use bytes::{BufMut, BytesMut};
use nom::IResult;
use nom::error::{ErrorKind, ParseError};

/// Longest unsigned varint (a `u32`) in bytes.
pub const UNSIGNED_VARINT_BYTES_MAX: usize = 5;
/// Longest unsigned varlong (a `u64`) in bytes.
pub const UNSIGNED_VARLONG_BYTES_MAX: usize = 10;
/// Record payloads at least this long are emitted as their own chunk instead of being
/// copied (default 4096; any value works, smaller means more chunks per response).
pub const ZERO_COPY_BYTES_MIN: usize = 4096;

/// A 16-byte UUID as Kafka sends it (big-endian, most significant half first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Uuid(pub [u8; 16]);

impl Uuid {
    /// The all-zero UUID, Kafka's "no id".
    pub const ZERO: Uuid = Uuid([0; 16]);
}

/// The error of a primitive parser: input ran out, or a value can never be valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum WireError {
    /// The input ended inside a value.
    Truncated,
    /// The value is invalid; the reason is short and static.
    Invalid(&'static str),
}

impl WireError {
    /// A short, static description.
    pub fn reason(self) -> &'static str {
        match self {
            WireError::Truncated => "truncated",
            WireError::Invalid(r) => r,
        }
    }
}

impl<I> ParseError<I> for WireError {
    fn from_error_kind(_: I, kind: ErrorKind) -> Self {
        match kind {
            ErrorKind::Eof | ErrorKind::Complete => WireError::Truncated,
            _ => WireError::Invalid("invalid input"),
        }
    }

    fn append(_: I, _: ErrorKind, other: Self) -> Self {
        other
    }
}

/// The result type of the primitive parsers.
pub type WireResult<'a, T> = IResult<&'a [u8], T, WireError>;

fn invalid<T>(reason: &'static str) -> WireResult<'static, T> {
    Err(nom::Err::Error(WireError::Invalid(reason)))
}

fn truncated<T>() -> WireResult<'static, T> {
    Err(nom::Err::Error(WireError::Truncated))
}

/// Takes exactly `n` bytes.
pub fn take(i: &[u8], n: usize) -> WireResult<'_, &[u8]> {
    if i.len() < n {
        return truncated();
    }
    Ok((&i[n..], &i[..n]))
}

/// An `int8`.
pub fn int8(i: &[u8]) -> WireResult<'_, i8> {
    nom::number::complete::be_i8(i)
}
/// An `int16`, big-endian.
pub fn int16(i: &[u8]) -> WireResult<'_, i16> {
    nom::number::complete::be_i16(i)
}
/// An `int32`, big-endian.
pub fn int32(i: &[u8]) -> WireResult<'_, i32> {
    nom::number::complete::be_i32(i)
}
/// An `int64`, big-endian.
pub fn int64(i: &[u8]) -> WireResult<'_, i64> {
    nom::number::complete::be_i64(i)
}
/// A `uint16`, big-endian.
pub fn uint16(i: &[u8]) -> WireResult<'_, u16> {
    nom::number::complete::be_u16(i)
}
/// A `uint32`, big-endian.
pub fn uint32(i: &[u8]) -> WireResult<'_, u32> {
    nom::number::complete::be_u32(i)
}
/// A `float64`, IEEE 754 big-endian.
pub fn float64(i: &[u8]) -> WireResult<'_, f64> {
    nom::number::complete::be_f64(i)
}

/// A `bool`: one byte, 0 or 1. Other values are refused (Kafka's writers only emit 0
/// and 1; refusing keeps decode→encode byte-identical).
pub fn boolean(i: &[u8]) -> WireResult<'_, bool> {
    let (rest, b) = nom::number::complete::be_u8(i)?;
    match b {
        0 => Ok((rest, false)),
        1 => Ok((rest, true)),
        _ => invalid("bool is neither 0 nor 1"),
    }
}

/// A `uuid`: 16 bytes.
pub fn uuid(i: &[u8]) -> WireResult<'_, Uuid> {
    let (rest, b) = take(i, 16)?;
    let mut a = [0u8; 16];
    a.copy_from_slice(b);
    Ok((rest, Uuid(a)))
}

/// An unsigned LEB128 value of at most `max_bytes` bytes; non-minimal encodings are
/// refused so every value has exactly one encoding.
fn unsigned_leb(i: &[u8], max_bytes: usize) -> WireResult<'_, u64> {
    let mut value: u64 = 0;
    for n in 0..max_bytes {
        let Some(&b) = i.get(n) else {
            return truncated();
        };
        value |= u64::from(b & 0x7f) << (7 * n);
        if b & 0x80 == 0 {
            if n > 0 && b == 0 {
                return invalid("overlong varint");
            }
            return Ok((&i[n + 1..], value));
        }
    }
    invalid("varint too long")
}

/// An unsigned varint (at most 5 bytes, at most `u32::MAX`).
pub fn unsigned_varint(i: &[u8]) -> WireResult<'_, u32> {
    let (rest, v) = unsigned_leb(i, UNSIGNED_VARINT_BYTES_MAX)?;
    match u32::try_from(v) {
        Ok(v) => Ok((rest, v)),
        Err(_) => invalid("varint exceeds 32 bits"),
    }
}

/// An unsigned varlong (at most 10 bytes).
pub fn unsigned_varlong(i: &[u8]) -> WireResult<'_, u64> {
    let (rest, v) = unsigned_leb(i, UNSIGNED_VARLONG_BYTES_MAX)?;
    // The tenth byte may only carry the top bit of a u64.
    if i.len() - rest.len() == UNSIGNED_VARLONG_BYTES_MAX && i[UNSIGNED_VARLONG_BYTES_MAX - 1] > 1 {
        return invalid("varlong exceeds 64 bits");
    }
    Ok((rest, v))
}

/// A zigzag-encoded signed varint (`int32`), as in record headers.
pub fn varint(i: &[u8]) -> WireResult<'_, i32> {
    let (rest, v) = unsigned_varint(i)?;
    Ok((rest, ((v >> 1) as i32) ^ -((v & 1) as i32)))
}

/// A zigzag-encoded signed varlong (`int64`), as in record timestamps.
pub fn varlong(i: &[u8]) -> WireResult<'_, i64> {
    let (rest, v) = unsigned_varlong(i)?;
    Ok((rest, ((v >> 1) as i64) ^ -((v & 1) as i64)))
}

/// Zigzag-encodes an `i32` for [`put_unsigned_varint`].
pub fn zigzag32(v: i32) -> u32 {
    ((v << 1) ^ (v >> 31)) as u32
}

/// Zigzag-encodes an `i64` for [`put_unsigned_varlong`].
pub fn zigzag64(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

/// Appends an unsigned varint.
pub fn put_unsigned_varint(out: &mut BytesMut, v: u32) {
    put_unsigned_varlong(out, u64::from(v));
}

/// Appends an unsigned varlong.
pub fn put_unsigned_varlong(out: &mut BytesMut, mut v: u64) {
    while v >= 0x80 {
        out.put_u8((v as u8) | 0x80);
        v >>= 7;
    }
    out.put_u8(v as u8);
}

/// Bytes taken by an unsigned varint.
pub fn unsigned_varint_len(v: u32) -> usize {
    let bits = 32 - v.leading_zeros() as usize;
    bits.div_ceil(7).max(1)
}

/// The length of a classic (`int16`/`int32`, -1 = null) or compact (varint length+1,
/// 0 = null) string, bytes or array; `None` for null.
pub fn length(i: &[u8], flexible: bool, wide: bool) -> WireResult<'_, Option<usize>> {
    if flexible {
        let (rest, n) = unsigned_varint(i)?;
        return Ok((rest, n.checked_sub(1).map(|n| n as usize)));
    }
    let (rest, n) = if wide {
        int32(i)?
    } else {
        let (rest, n) = int16(i)?;
        (rest, i32::from(n))
    };
    match n {
        -1 => Ok((rest, None)),
        n if n < -1 => invalid("negative length"),
        n => Ok((rest, Some(n as usize))),
    }
}
