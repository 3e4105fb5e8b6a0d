//! A bounded, zero-copy reader over a frame's `Bytes`, built on the `nom` primitives.
//!
//! Every declared length or count is checked against the bytes actually remaining
//! before anything is allocated.

use crate::error::DecodeError;
use crate::primitives::{
    Uuid, WireResult, boolean, float64, int8, int16, int32, int64, length, uint16, uint32,
    unsigned_varint, uuid,
};
use bytes::Bytes;

/// The longest string Kafka's generated readers accept, in bytes (`0x7fff`; a classic
/// string's `int16` length cannot say more, a compact one can and is refused).
pub const STRING_BYTES_MAX: usize = 0x7fff;

/// Puts the unknown tagged fields a struct kept in tag order (stable: repeated tags
/// keep their order), so that they re-encode in the order Kafka's writers use.
pub fn sort_unknown_tags(unknown: &mut [(u32, Bytes)]) {
    if !unknown.is_sorted_by_key(|(t, _)| *t) {
        unknown.sort_by_key(|(t, _)| *t);
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

    /// A string's bytes as text. Invalid UTF-8 becomes U+FFFD, as Java's
    /// `new String(bytes, UTF_8)` in Kafka's readers makes it (names that then fail a
    /// check, such as a topic name, are refused by that check, with its error code).
    fn utf8(b: Bytes) -> String {
        match std::str::from_utf8(&b) {
            Ok(s) => s.to_owned(),
            Err(_) => String::from_utf8_lossy(&b).into_owned(),
        }
    }

    /// Reads a string that may be null when `nullable`.
    pub fn nullable_string(
        &mut self,
        flexible: bool,
        nullable: bool,
    ) -> Result<Option<String>, DecodeError> {
        match self.run(|i| length(i, flexible, false))? {
            None if nullable => Ok(None),
            None => Err(self.malformed("null in a non-nullable string")),
            // Kafka's readers refuse a longer (compact) string before reading it.
            Some(n) if n > STRING_BYTES_MAX => {
                Err(self.malformed("string longer than 32767 bytes"))
            }
            Some(n) => self.take_bytes(n).map(|b| Some(Self::utf8(b))),
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

    /// Reads the field count of a tagged-field section. Kafka holds the count in a Java
    /// `int`, so a count of 2^31 or more is negative there and means no fields.
    pub fn tag_count(&mut self) -> Result<u32, DecodeError> {
        let n = self.unsigned_varint()?;
        if n > i32::MAX as u32 {
            return Ok(0);
        }
        // Each tagged field takes at least two bytes (tag and size).
        if (n as usize).saturating_mul(2) > self.remaining() {
            return Err(self.malformed("tagged field count exceeds remaining bytes"));
        }
        Ok(n)
    }

    /// Reads one tagged field's tag and size and returns a decoder over its value.
    /// Tags may come in any order and repeat, as Kafka's readers take them (a repeated
    /// known tag: the last value wins; unknown ones are kept, see
    /// [`sort_unknown_tags`]).
    pub fn tagged_field(&mut self) -> Result<(u32, Decoder), DecodeError> {
        let tag = self.unsigned_varint()?;
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
