//! Records as byte ranges of a (decompressed) records section, for a writer that keeps
//! records as they are: compaction copies a live record byte for byte, or re-encodes only
//! its timestamp delta (when the delete horizon moves the batch's base timestamp).
//!
//! [`crate::RecordIter`] decodes every field into owned values; [`RawRecords`] reads just
//! the offset delta, timestamp delta, key and whether the value is null, and keeps the
//! rest as the bytes that were stored. The varints are [`crate::varint`]'s, read with the
//! same leniency as every record.

use bytes::BytesMut;
use thiserror::Error;

use crate::varint::{decode_varint, decode_varlong, encode_varint, encode_varlong};

/// A record of a section that does not parse.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("malformed record at byte {position} of the records section: {problem}")]
pub struct RawRecordError {
    /// Where the record starts in the section.
    pub position: usize,
    /// What is wrong.
    pub problem: &'static str,
}

/// One record, borrowed from its section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawRecord<'a> {
    /// The whole record, length prefix included.
    pub raw: &'a [u8],
    /// Record attributes.
    pub attributes: i8,
    /// Timestamp minus the batch's base timestamp.
    pub timestamp_delta: i64,
    /// Offset minus the batch's base offset.
    pub offset_delta: i32,
    /// The key, `None` for null.
    pub key: Option<&'a [u8]>,
    /// Whether the value is null (a tombstone).
    pub value_is_null: bool,
    /// The bytes after the offset delta: key, value and headers, as stored.
    pub tail: &'a [u8],
}

impl RawRecord<'_> {
    /// Appends this record with `timestamp_delta` in place of its own; every other byte
    /// is copied.
    pub fn encode_with_timestamp_delta(&self, out: &mut BytesMut, timestamp_delta: i64) {
        let mut head = BytesMut::with_capacity(16);
        head.extend_from_slice(&[self.attributes as u8]);
        encode_varlong(timestamp_delta, &mut head);
        encode_varint(self.offset_delta, &mut head);
        let body = head.len() + self.tail.len();
        // A record's body fits an i32 (it was read through one); the new timestamp delta
        // adds at most 9 bytes.
        let body = i32::try_from(body).unwrap_or(i32::MAX);
        encode_varint(body, out);
        out.extend_from_slice(&head);
        out.extend_from_slice(self.tail);
    }
}

/// Iterates the records of a section; stops after the first error.
#[derive(Debug, Clone)]
pub struct RawRecords<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> RawRecords<'a> {
    /// The records of `section` (uncompressed).
    pub fn new(section: &'a [u8]) -> RawRecords<'a> {
        RawRecords {
            buf: section,
            pos: 0,
        }
    }

    fn parse_one(&mut self) -> Result<RawRecord<'a>, RawRecordError> {
        let at = self.pos;
        let err = |problem| RawRecordError {
            position: at,
            problem,
        };
        let mut p = self.pos;
        let len = varint(self.buf, &mut p).ok_or(err("bad length"))?;
        let len = usize::try_from(len).map_err(|_| err("negative length"))?;
        let end = p
            .checked_add(len)
            .filter(|&e| e <= self.buf.len())
            .ok_or(err("record runs past the section"))?;
        let body = &self.buf[..end];
        let attributes = *body.get(p).ok_or(err("missing attributes"))? as i8;
        p += 1;
        let timestamp_delta = varlong(body, &mut p).ok_or(err("bad timestamp delta"))?;
        let offset_delta = varint(body, &mut p).ok_or(err("bad offset delta"))?;
        let tail_start = p;
        let key = bytes_field(body, &mut p).map_err(err)?;
        let value = bytes_field(body, &mut p).map_err(err)?;
        let headers = varint(body, &mut p).ok_or(err("bad header count"))?;
        if headers < 0 {
            return Err(err("negative header count"));
        }
        for _ in 0..headers {
            // Each header takes at least two bytes, so the loop ends with the bytes present.
            if bytes_field(body, &mut p).map_err(err)?.is_none() {
                return Err(err("null header key"));
            }
            bytes_field(body, &mut p).map_err(err)?;
        }
        if p != end {
            return Err(err("record length does not match its fields"));
        }
        self.pos = end;
        Ok(RawRecord {
            raw: &self.buf[at..end],
            attributes,
            timestamp_delta,
            offset_delta,
            key,
            value_is_null: value.is_none(),
            tail: &self.buf[tail_start..end],
        })
    }
}

fn varint(buf: &[u8], p: &mut usize) -> Option<i32> {
    let (v, used) = decode_varint(buf.get(*p..)?).ok()?;
    *p += used;
    Some(v)
}

fn varlong(buf: &[u8], p: &mut usize) -> Option<i64> {
    let (v, used) = decode_varlong(buf.get(*p..)?).ok()?;
    *p += used;
    Some(v)
}

fn bytes_field<'a>(body: &'a [u8], p: &mut usize) -> Result<Option<&'a [u8]>, &'static str> {
    let n = varint(body, p).ok_or("bad bytes length")?;
    if n == -1 {
        return Ok(None);
    }
    // As `RecordIter`: a length below -1 is malformed.
    let n = usize::try_from(n).map_err(|_| "negative bytes length")?;
    let end = p
        .checked_add(n)
        .filter(|&e| e <= body.len())
        .ok_or("bytes run past the record")?;
    let s = &body[*p..end];
    *p = end;
    Ok(Some(s))
}

impl<'a> Iterator for RawRecords<'a> {
    type Item = Result<RawRecord<'a>, RawRecordError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.buf.len() {
            return None;
        }
        let r = self.parse_one();
        if r.is_err() {
            self.pos = self.buf.len();
        }
        Some(r)
    }
}

impl std::iter::FusedIterator for RawRecords<'_> {}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::{BatchBuilder, BatchSettings, NewRecord, RecordHeader};

    /// A record to build: timestamp, key, value.
    type Spec<'a> = (i64, Option<&'a [u8]>, Option<&'a [u8]>);

    fn section(records: &[Spec<'_>]) -> Bytes {
        let mut b = BatchBuilder::new(BatchSettings::default());
        for &(ts, key, value) in records {
            b.push(NewRecord {
                timestamp: ts,
                key: key.map(Bytes::copy_from_slice),
                value: value.map(Bytes::copy_from_slice),
                headers: vec![RecordHeader {
                    key: Bytes::from_static(b"h"),
                    value: None,
                }],
                ..Default::default()
            })
            .unwrap();
        }
        b.build().unwrap().slice(crate::BATCH_HEADER_BYTES..)
    }

    #[test]
    fn parses_and_reencodes() {
        let sec = section(&[(5, Some(b"k"), Some(b"v")), (2, Some(b"k2"), None)]);
        let rs: Vec<_> = RawRecords::new(&sec).collect::<Result<_, _>>().unwrap();
        assert_eq!(rs.len(), 2);
        assert_eq!(rs[0].key, Some(&b"k"[..]));
        assert!(!rs[0].value_is_null);
        assert_eq!((rs[1].timestamp_delta, rs[1].offset_delta), (-3, 1));
        assert!(rs[1].value_is_null);
        assert_eq!([rs[0].raw, rs[1].raw].concat(), sec.to_vec());
        let mut out = BytesMut::new();
        rs[1].encode_with_timestamp_delta(&mut out, 1 << 40);
        let again: Vec<_> = RawRecords::new(&out).collect::<Result<_, _>>().unwrap();
        assert_eq!(again[0].timestamp_delta, 1 << 40);
        assert_eq!(again[0].tail, rs[1].tail);
        assert_eq!(again[0].offset_delta, 1);
    }

    #[test]
    fn malformed_sections_are_errors_not_panics() {
        let good = section(&[(1, Some(b"key"), Some(b"value"))]);
        for cut in 0..good.len() {
            let r: Result<Vec<_>, _> = RawRecords::new(&good[..cut]).collect();
            assert!(cut == 0 || r.is_err(), "cut {cut}");
        }
        for i in 0..good.len() {
            let mut bad = good.to_vec();
            bad[i] ^= 0xff;
            let _ = RawRecords::new(&bad).collect::<Vec<_>>();
        }
    }
}
