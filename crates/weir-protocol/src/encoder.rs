//! Building encoded messages as chunks: small fields are copied into one buffer,
//! large record payloads stay their own `Bytes` (no copy) for vectored writes.

use crate::error::EncodeError;
use crate::primitives::{Uuid, ZERO_COPY_BYTES_MIN, put_unsigned_varint};
use bytes::{Bytes, BytesMut};

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
        // Unknown fields kept from decoding are sorted there; a repeated unknown tag
        // is written again, as Kafka's writers write every raw tag they kept.
        for w in unknown.windows(2) {
            if w[1].0 < w[0].0 {
                return Err(EncodeError::BadTag { tag: w[1].0 });
            }
        }
        let count = known.len() + unknown.len();
        let count32 = u32::try_from(count).map_err(|_| too_long("tagged fields", count))?;
        self.put_unsigned_varint(count32);
        let mut unknown = unknown.iter().peekable();
        // The previous tag and whether it was a known field: a known tag never repeats,
        // nor shares its number with an unknown one.
        let mut last: Option<(u32, bool)> = None;
        let mut emit = |this: &mut Encoder, tag: u32, known: bool, size: usize| {
            if last.is_some_and(|(l, lknown)| tag < l || (tag == l && (known || lknown))) {
                return Err(EncodeError::BadTag { tag });
            }
            last = Some((tag, known));
            let size = u32::try_from(size).map_err(|_| too_long("tagged field", size))?;
            this.put_unsigned_varint(tag);
            this.put_unsigned_varint(size);
            Ok(())
        };
        for (tag, value) in known {
            while let Some((utag, ubytes)) = unknown.next_if(|(u, _)| *u < tag) {
                emit(self, *utag, false, ubytes.len())?;
                self.put_shared(ubytes);
            }
            emit(self, tag, true, value.len())?;
            self.append(value);
        }
        for (utag, ubytes) in unknown {
            emit(self, *utag, false, ubytes.len())?;
            self.put_shared(ubytes);
        }
        Ok(())
    }
}
