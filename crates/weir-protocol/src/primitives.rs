//! Wire primitives: `nom` parsers over `&[u8]`, a bounded zero-copy [`Decoder`]
//! over a frame's [`Bytes`], and an [`Encoder`] that keeps large record payloads
//! as their own chunks for vectored writes.
//!
//! Every declared length or count is checked against the bytes actually
//! remaining before anything is allocated.

use crate::error::{DecodeError, EncodeError};
use bytes::{BufMut, Bytes, BytesMut};
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

/// A zero-copy reader over (part of) a frame.
#[derive(Debug, Clone)]
pub struct Decoder {
    buf: Bytes,
    pos: usize,
    base: usize,
}

impl Decoder {
    /// A decoder over `buf`, reporting offsets from 0.
    pub fn new(buf: Bytes) -> Decoder {
        Decoder {
            buf,
            pos: 0,
            base: 0,
        }
    }

    /// Bytes not yet read.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// The current offset from the start of the outermost buffer.
    pub fn offset(&self) -> usize {
        self.base + self.pos
    }

    /// The unread bytes, zero-copy.
    pub fn rest(&self) -> Bytes {
        self.buf.slice(self.pos..)
    }

    /// A malformed-input error at the current offset.
    pub fn malformed(&self, reason: &'static str) -> DecodeError {
        DecodeError::Malformed {
            reason,
            offset: self.offset(),
        }
    }

    /// An unsupported-version error for a message decoded directly (api key unknown here).
    pub fn unsupported_version(&self, version: i16) -> DecodeError {
        DecodeError::UnsupportedVersion {
            api_key: -1,
            version,
        }
    }

    /// Runs a primitive parser at the current position.
    pub fn run<T>(&mut self, p: impl FnOnce(&[u8]) -> WireResult<'_, T>) -> Result<T, DecodeError> {
        let input = &self.buf[self.pos..];
        match p(input) {
            Ok((rest, v)) => {
                self.pos = self.buf.len() - rest.len();
                Ok(v)
            }
            Err(nom::Err::Error(e) | nom::Err::Failure(e)) => Err(self.malformed(e.reason())),
            Err(nom::Err::Incomplete(_)) => Err(self.malformed("truncated")),
        }
    }

    /// Takes `n` bytes as a zero-copy slice, checking them against what remains.
    pub fn take_bytes(&mut self, n: usize) -> Result<Bytes, DecodeError> {
        if n > self.remaining() {
            return Err(self.malformed("length exceeds remaining bytes"));
        }
        let b = self.buf.slice(self.pos..self.pos + n);
        self.pos += n;
        Ok(b)
    }

    /// Reads an `int8`.
    pub fn i8(&mut self) -> Result<i8, DecodeError> {
        self.run(int8)
    }
    /// Reads an `int16`.
    pub fn i16(&mut self) -> Result<i16, DecodeError> {
        self.run(int16)
    }
    /// Reads an `int32`.
    pub fn i32(&mut self) -> Result<i32, DecodeError> {
        self.run(int32)
    }
    /// Reads an `int64`.
    pub fn i64(&mut self) -> Result<i64, DecodeError> {
        self.run(int64)
    }
    /// Reads a `uint16`.
    pub fn u16(&mut self) -> Result<u16, DecodeError> {
        self.run(uint16)
    }
    /// Reads a `uint32`.
    pub fn u32(&mut self) -> Result<u32, DecodeError> {
        self.run(uint32)
    }
    /// Reads a `float64`.
    pub fn f64(&mut self) -> Result<f64, DecodeError> {
        self.run(float64)
    }
    /// Reads a `bool`.
    pub fn bool(&mut self) -> Result<bool, DecodeError> {
        self.run(boolean)
    }
    /// Reads a `uuid`.
    pub fn uuid(&mut self) -> Result<Uuid, DecodeError> {
        self.run(uuid)
    }
    /// Reads an unsigned varint.
    pub fn unsigned_varint(&mut self) -> Result<u32, DecodeError> {
        self.run(unsigned_varint)
    }

    fn nullable_raw(&mut self, flexible: bool, wide: bool) -> Result<Option<Bytes>, DecodeError> {
        match self.run(|i| length(i, flexible, wide))? {
            None => Ok(None),
            Some(n) => self.take_bytes(n).map(Some),
        }
    }

    fn utf8(&self, b: Bytes) -> Result<String, DecodeError> {
        match std::str::from_utf8(&b) {
            Ok(s) => Ok(s.to_owned()),
            Err(_) => Err(self.malformed("string is not UTF-8")),
        }
    }

    /// Reads a string that may be null when `nullable`.
    pub fn nullable_string(
        &mut self,
        flexible: bool,
        nullable: bool,
    ) -> Result<Option<String>, DecodeError> {
        match self.nullable_raw(flexible, false)? {
            None if nullable => Ok(None),
            None => Err(self.malformed("null in a non-nullable string")),
            Some(b) => self.utf8(b).map(Some),
        }
    }

    /// Reads a non-nullable string.
    pub fn string(&mut self, flexible: bool) -> Result<String, DecodeError> {
        match self.nullable_string(flexible, false)? {
            Some(s) => Ok(s),
            None => Err(self.malformed("null in a non-nullable string")),
        }
    }

    /// Reads bytes (zero-copy) that may be null when `nullable`.
    pub fn nullable_bytes(
        &mut self,
        flexible: bool,
        nullable: bool,
    ) -> Result<Option<Bytes>, DecodeError> {
        match self.nullable_raw(flexible, true)? {
            None if !nullable => Err(self.malformed("null in non-nullable bytes")),
            b => Ok(b),
        }
    }

    /// Reads non-nullable bytes (zero-copy).
    pub fn bytes(&mut self, flexible: bool) -> Result<Bytes, DecodeError> {
        match self.nullable_raw(flexible, true)? {
            Some(b) => Ok(b),
            None => Err(self.malformed("null in non-nullable bytes")),
        }
    }

    /// Reads an array whose elements take at least `elem_bytes_min` bytes each.
    /// The count is checked against the remaining bytes before allocating.
    pub fn nullable_array<T>(
        &mut self,
        flexible: bool,
        nullable: bool,
        elem_bytes_min: usize,
        mut elem: impl FnMut(&mut Decoder) -> Result<T, DecodeError>,
    ) -> Result<Option<Vec<T>>, DecodeError> {
        let Some(n) = self.run(|i| length(i, flexible, true))? else {
            return if nullable {
                Ok(None)
            } else {
                Err(self.malformed("null in a non-nullable array"))
            };
        };
        let need = n.checked_mul(elem_bytes_min.max(1));
        if need.is_none_or(|need| need > self.remaining()) {
            return Err(self.malformed("array count exceeds remaining bytes"));
        }
        let mut v = Vec::with_capacity(n);
        for _ in 0..n {
            v.push(elem(self)?);
        }
        Ok(Some(v))
    }

    /// Reads a non-nullable array.
    pub fn array<T>(
        &mut self,
        flexible: bool,
        elem_bytes_min: usize,
        elem: impl FnMut(&mut Decoder) -> Result<T, DecodeError>,
    ) -> Result<Vec<T>, DecodeError> {
        match self.nullable_array(flexible, false, elem_bytes_min, elem)? {
            Some(v) => Ok(v),
            None => Err(self.malformed("null in a non-nullable array")),
        }
    }

    /// Reads the field count of a tagged-field section.
    pub fn tag_count(&mut self) -> Result<u32, DecodeError> {
        let n = self.unsigned_varint()?;
        // Each tagged field takes at least two bytes (tag and size).
        if (n as usize).saturating_mul(2) > self.remaining() {
            return Err(self.malformed("tagged field count exceeds remaining bytes"));
        }
        Ok(n)
    }

    /// Reads one tagged field's tag and size and returns a decoder over its value.
    /// Tags must be strictly increasing (`last` tracks the previous one).
    pub fn tagged_field(&mut self, last: &mut Option<u32>) -> Result<(u32, Decoder), DecodeError> {
        let tag = self.unsigned_varint()?;
        if last.is_some_and(|l| tag <= l) {
            return Err(self.malformed("tagged fields out of order"));
        }
        *last = Some(tag);
        let size = self.unsigned_varint()? as usize;
        let base = self.offset();
        let buf = self.take_bytes(size)?;
        Ok((tag, Decoder { buf, pos: 0, base }))
    }

    /// Checks that a tagged field's value was consumed exactly.
    pub fn finish(&self) -> Result<(), DecodeError> {
        if self.remaining() != 0 {
            return Err(self.malformed("trailing bytes in a tagged field"));
        }
        Ok(())
    }

    /// The whole buffer of this decoder (an unknown tagged field's value).
    pub fn into_bytes(self) -> Bytes {
        self.buf
    }
}

/// Builds an encoded message as a list of chunks: small fields are copied into a
/// buffer, large record payloads are kept as their own [`Bytes`] (no copy).
#[derive(Debug, Default)]
pub struct Encoder {
    chunks: Vec<Bytes>,
    cur: BytesMut,
    len: usize,
}

/// The chunks of an encoded message, for vectored writes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Encoded {
    chunks: Vec<Bytes>,
    len: usize,
}

impl Encoded {
    /// Total length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }
    /// True when nothing was encoded.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// The chunks, in order.
    pub fn chunks(&self) -> &[Bytes] {
        &self.chunks
    }
    /// The chunks, by value.
    pub fn into_chunks(self) -> Vec<Bytes> {
        self.chunks
    }
    /// One contiguous copy (tests and small messages).
    pub fn to_bytes(&self) -> Bytes {
        if self.chunks.len() == 1 {
            return self.chunks[0].clone();
        }
        let mut b = BytesMut::with_capacity(self.len);
        for c in &self.chunks {
            b.extend_from_slice(c);
        }
        b.freeze()
    }
}

fn too_long(what: &'static str, len: usize) -> EncodeError {
    EncodeError::TooLong { what, len }
}

impl Encoder {
    /// An empty encoder.
    pub fn new() -> Encoder {
        Encoder::default()
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when nothing was written.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Finishes into chunks.
    pub fn finish(mut self) -> Encoded {
        self.flush();
        Encoded {
            chunks: self.chunks,
            len: self.len,
        }
    }

    fn flush(&mut self) {
        if !self.cur.is_empty() {
            self.chunks.push(self.cur.split().freeze());
        }
    }

    /// Appends another encoder's output.
    pub fn append(&mut self, other: Encoder) {
        self.len += other.len;
        if other.chunks.is_empty() {
            self.cur.extend_from_slice(&other.cur);
            return;
        }
        self.flush();
        self.chunks.extend(other.chunks);
        self.cur = other.cur;
    }

    /// Appends raw bytes (copied).
    pub fn put_slice(&mut self, b: &[u8]) {
        self.cur.extend_from_slice(b);
        self.len += b.len();
    }

    /// Appends bytes, as their own chunk when they are large (zero-copy).
    pub fn put_shared(&mut self, b: &Bytes) {
        if b.len() < ZERO_COPY_BYTES_MIN {
            self.put_slice(b);
            return;
        }
        self.flush();
        self.chunks.push(b.clone());
        self.len += b.len();
    }

    /// Writes an `int8`.
    pub fn put_i8(&mut self, v: i8) {
        self.put_slice(&v.to_be_bytes());
    }
    /// Writes an `int16`.
    pub fn put_i16(&mut self, v: i16) {
        self.put_slice(&v.to_be_bytes());
    }
    /// Writes an `int32`.
    pub fn put_i32(&mut self, v: i32) {
        self.put_slice(&v.to_be_bytes());
    }
    /// Writes an `int64`.
    pub fn put_i64(&mut self, v: i64) {
        self.put_slice(&v.to_be_bytes());
    }
    /// Writes a `uint16`.
    pub fn put_u16(&mut self, v: u16) {
        self.put_slice(&v.to_be_bytes());
    }
    /// Writes a `uint32`.
    pub fn put_u32(&mut self, v: u32) {
        self.put_slice(&v.to_be_bytes());
    }
    /// Writes a `float64`.
    pub fn put_f64(&mut self, v: f64) {
        self.put_slice(&v.to_be_bytes());
    }
    /// Writes a `bool`.
    pub fn put_bool(&mut self, v: bool) {
        self.put_slice(&[u8::from(v)]);
    }
    /// Writes a `uuid`.
    pub fn put_uuid(&mut self, v: Uuid) {
        self.put_slice(&v.0);
    }
    /// Writes an unsigned varint.
    pub fn put_unsigned_varint(&mut self, v: u32) {
        let before = self.cur.len();
        put_unsigned_varint(&mut self.cur, v);
        self.len += self.cur.len() - before;
    }

    fn put_len(
        &mut self,
        flexible: bool,
        wide: bool,
        len: Option<usize>,
        what: &'static str,
    ) -> Result<(), EncodeError> {
        if flexible {
            let v = match len {
                None => 0,
                Some(n) => u32::try_from(n)
                    .ok()
                    .and_then(|n| n.checked_add(1))
                    .ok_or_else(|| too_long(what, n))?,
            };
            self.put_unsigned_varint(v);
        } else if wide {
            let v = match len {
                None => -1,
                Some(n) => i32::try_from(n).map_err(|_| too_long(what, n))?,
            };
            self.put_i32(v);
        } else {
            let v = match len {
                None => -1,
                Some(n) => i16::try_from(n).map_err(|_| too_long(what, n))?,
            };
            self.put_i16(v);
        }
        Ok(())
    }

    /// Writes a string.
    pub fn put_string(&mut self, flexible: bool, s: &str) -> Result<(), EncodeError> {
        self.put_len(flexible, false, Some(s.len()), "string")?;
        self.put_slice(s.as_bytes());
        Ok(())
    }

    /// Writes a nullable string.
    pub fn put_nullable_string(
        &mut self,
        flexible: bool,
        s: Option<&str>,
    ) -> Result<(), EncodeError> {
        match s {
            Some(s) => self.put_string(flexible, s),
            None => self.put_len(flexible, false, None, "string"),
        }
    }

    /// Writes bytes (copied when small, shared when large).
    pub fn put_bytes(&mut self, flexible: bool, b: &Bytes) -> Result<(), EncodeError> {
        self.put_len(flexible, true, Some(b.len()), "bytes")?;
        self.put_shared(b);
        Ok(())
    }

    /// Writes nullable bytes.
    pub fn put_nullable_bytes(
        &mut self,
        flexible: bool,
        b: Option<&Bytes>,
    ) -> Result<(), EncodeError> {
        match b {
            Some(b) => self.put_bytes(flexible, b),
            None => self.put_len(flexible, true, None, "bytes"),
        }
    }

    /// Writes a `records` field: the payload becomes its own chunk (no copy) when large.
    pub fn put_records(&mut self, flexible: bool, b: Option<&Bytes>) -> Result<(), EncodeError> {
        self.put_nullable_bytes(flexible, b)
    }

    /// Writes an array length.
    pub fn put_array_len(&mut self, flexible: bool, n: usize) -> Result<(), EncodeError> {
        self.put_len(flexible, true, Some(n), "array")
    }

    /// Writes a null array.
    pub fn put_null_array(&mut self, flexible: bool) -> Result<(), EncodeError> {
        self.put_len(flexible, true, None, "array")
    }

    /// Writes a tagged-field section: the known fields (already encoded) merged with the
    /// unknown ones in tag order.
    pub fn put_tagged_fields(
        &mut self,
        known: Vec<(u32, Encoder)>,
        unknown: &[(u32, Bytes)],
    ) -> Result<(), EncodeError> {
        for w in unknown.windows(2) {
            if w[1].0 <= w[0].0 {
                return Err(EncodeError::BadTag { tag: w[1].0 });
            }
        }
        let count = known.len() + unknown.len();
        let count32 = u32::try_from(count).map_err(|_| too_long("tagged fields", count))?;
        self.put_unsigned_varint(count32);
        let mut unknown = unknown.iter().peekable();
        let mut last: Option<u32> = None;
        let mut emit = |this: &mut Encoder, tag: u32, size: usize| -> Result<(), EncodeError> {
            if last.is_some_and(|l| tag <= l) {
                return Err(EncodeError::BadTag { tag });
            }
            last = Some(tag);
            let size = u32::try_from(size).map_err(|_| too_long("tagged field", size))?;
            this.put_unsigned_varint(tag);
            this.put_unsigned_varint(size);
            Ok(())
        };
        for (tag, value) in known {
            while let Some((utag, ubytes)) = unknown.next_if(|(u, _)| *u < tag) {
                emit(self, *utag, ubytes.len())?;
                self.put_shared(ubytes);
            }
            emit(self, tag, value.len())?;
            self.append(value);
        }
        for (utag, ubytes) in unknown {
            emit(self, *utag, ubytes.len())?;
            self.put_shared(ubytes);
        }
        Ok(())
    }
}
