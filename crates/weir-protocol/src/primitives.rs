//! Wire primitives: `nom` parsers over `&[u8]` for every Kafka primitive type of message
//! fields, and the unsigned varint writers. Message fields have no signed (zigzag)
//! varints; those of records are `weir-records`' (`weir_records::varint`).
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

/// A `bool`: one byte, any non-zero value is true (Kafka's generated readers compare the
/// byte with 0; its writers emit only 0 and 1).
pub fn boolean(i: &[u8]) -> WireResult<'_, bool> {
    let (rest, b) = nom::number::complete::be_u8(i)?;
    Ok((rest, b != 0))
}

/// A `uuid`: 16 bytes.
pub fn uuid(i: &[u8]) -> WireResult<'_, Uuid> {
    let (rest, b) = take(i, 16)?;
    let mut a = [0u8; 16];
    a.copy_from_slice(b);
    Ok((rest, Uuid(a)))
}

/// An unsigned LEB128 value of at most `max_bytes` bytes, read as Kafka's `ByteUtils`
/// reads it: non-minimal encodings (`80 00` for 0) are accepted, the last allowed byte
/// must not set the continuation bit, and bits past the value's width are dropped
/// (`width_bits` is 32 or 64).
fn unsigned_leb(i: &[u8], max_bytes: usize, width_bits: u32) -> WireResult<'_, u64> {
    let mut value: u64 = 0;
    for n in 0..max_bytes {
        let Some(&b) = i.get(n) else {
            return truncated();
        };
        let shift = 7 * n as u32;
        // `checked_shl` only fails for shifts of 64 and more, which `max_bytes` rules out;
        // bits shifted past the top are dropped, as Java's `<<` drops them.
        value |= u64::from(b & 0x7f).checked_shl(shift).unwrap_or(0);
        if b & 0x80 == 0 {
            if width_bits < 64 {
                value &= (1u64 << width_bits) - 1;
            }
            return Ok((&i[n + 1..], value));
        }
    }
    invalid("varint too long")
}

/// An unsigned varint: at most 5 bytes; a fifth byte's bits past bit 31 are dropped, as
/// in Kafka's `ByteUtils.readUnsignedVarint`. Kafka then holds the value in a Java
/// `int`: see [`length`] and the decoder's tag count for what a value of 2^31 or more
/// means there.
pub fn unsigned_varint(i: &[u8]) -> WireResult<'_, u32> {
    let (rest, v) = unsigned_leb(i, UNSIGNED_VARINT_BYTES_MAX, 32)?;
    Ok((rest, v as u32))
}

/// An unsigned varlong: at most 10 bytes, bits past bit 63 dropped (Kafka's
/// `ByteUtils.readUnsignedVarlong`).
pub fn unsigned_varlong(i: &[u8]) -> WireResult<'_, u64> {
    unsigned_leb(i, UNSIGNED_VARLONG_BYTES_MAX, 64)
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

/// The length of a classic (`int16`/`int32`) or compact (unsigned varint holding
/// length + 1) string, bytes or array; `None` for null. As in Kafka's generated readers,
/// the length is a Java `int` and every negative length is null: -1 and any other
/// negative classic length, a compact 0, and a compact varint of 2^31 or more (negative
/// once held in an `int`). A non-nullable field then refuses the null.
pub fn length(i: &[u8], flexible: bool, wide: bool) -> WireResult<'_, Option<usize>> {
    let (rest, n) = if flexible {
        let (rest, v) = unsigned_varint(i)?;
        (rest, (v as i32).wrapping_sub(1))
    } else if wide {
        int32(i)?
    } else {
        let (rest, n) = int16(i)?;
        (rest, i32::from(n))
    };
    Ok((rest, usize::try_from(n).ok()))
}
