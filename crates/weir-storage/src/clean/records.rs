//! Kafka v2 records inside a batch's (decompressed) records section: just enough to
//! read each record's offset delta, timestamp delta, key and whether its value is null,
//! and to re-encode a record with a new timestamp delta (the delete horizon moves the
//! batch's base timestamp). Zero-copy: records are ranges of the section.

use thiserror::Error;

/// Longest zigzag varint of an i64 (10 bytes of 7 bits).
const VARLONG_BYTES_MAX: usize = 10;
/// Longest zigzag varint of an i32.
const VARINT_BYTES_MAX: usize = 5;

/// A records section that does not parse.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("malformed record at byte {position} of the records section: {problem}")]
pub struct RecordError {
    /// Byte position in the (decompressed) records section.
    pub position: usize,
    /// What is wrong.
    pub problem: &'static str,
}

/// One record, as ranges of the section it was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RecordRef<'a> {
    /// The whole record, length prefix included.
    pub(crate) raw: &'a [u8],
    /// Record attributes (unused by Kafka, kept as written).
    pub(crate) attributes: u8,
    pub(crate) timestamp_delta: i64,
    pub(crate) offset_delta: i32,
    /// `None` for a null key.
    pub(crate) key: Option<&'a [u8]>,
    /// Whether the value is null (a tombstone when the key is not).
    pub(crate) value_is_null: bool,
    /// From the key length to the end of the record (key, value, headers), unchanged by
    /// a re-encode.
    pub(crate) tail: &'a [u8],
}

fn read_varlong(buf: &[u8], pos: &mut usize, max_bytes: usize) -> Option<i64> {
    let mut z: u64 = 0;
    for i in 0..max_bytes {
        let b = *buf.get(*pos)?;
        *pos += 1;
        z |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Some(((z >> 1) as i64) ^ -((z & 1) as i64));
        }
    }
    None
}

pub(crate) fn put_varlong(out: &mut Vec<u8>, v: i64) {
    let mut z = ((v << 1) ^ (v >> 63)) as u64;
    while z >= 0x80 {
        out.push((z as u8) | 0x80);
        z >>= 7;
    }
    out.push(z as u8);
}

/// Iterates the records of a section; stops with an error at the first malformed one.
#[derive(Debug)]
pub(crate) struct Records<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Records<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Records { buf, pos: 0 }
    }

    fn parse_one(&mut self) -> Result<RecordRef<'a>, RecordError> {
        let at = self.pos;
        let err = |problem| RecordError {
            position: at,
            problem,
        };
        let mut p = self.pos;
        let len = read_varlong(self.buf, &mut p, VARINT_BYTES_MAX).ok_or(err("bad length"))?;
        let len = usize::try_from(len).map_err(|_| err("negative length"))?;
        let end = p
            .checked_add(len)
            .filter(|&e| e <= self.buf.len())
            .ok_or(err("record runs past the section"))?;
        let body = &self.buf[..end];
        let attributes = *body.get(p).ok_or(err("missing attributes"))?;
        p += 1;
        let timestamp_delta =
            read_varlong(body, &mut p, VARLONG_BYTES_MAX).ok_or(err("bad timestamp delta"))?;
        let offset_delta = read_varlong(body, &mut p, VARINT_BYTES_MAX)
            .and_then(|d| i32::try_from(d).ok())
            .ok_or(err("bad offset delta"))?;
        let tail_start = p;
        let key = read_bytes(body, &mut p).map_err(err)?;
        let value = read_bytes(body, &mut p).map_err(err)?;
        let headers =
            read_varlong(body, &mut p, VARINT_BYTES_MAX).ok_or(err("bad header count"))?;
        if headers < 0 {
            return Err(err("negative header count"));
        }
        for _ in 0..headers {
            // Each header needs at least two bytes: the loop is bounded by the bytes present.
            match read_bytes(body, &mut p).map_err(err)? {
                Some(_) => {}
                None => return Err(err("null header key")),
            }
            read_bytes(body, &mut p).map_err(err)?;
        }
        if p != end {
            return Err(err("record length does not match its fields"));
        }
        self.pos = end;
        Ok(RecordRef {
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

fn read_bytes<'a>(body: &'a [u8], p: &mut usize) -> Result<Option<&'a [u8]>, &'static str> {
    let n = read_varlong(body, p, VARINT_BYTES_MAX).ok_or("bad bytes length")?;
    if n == -1 {
        return Ok(None);
    }
    let n = usize::try_from(n).map_err(|_| "negative bytes length")?;
    let end = p
        .checked_add(n)
        .filter(|&e| e <= body.len())
        .ok_or("bytes run past the record")?;
    let s = &body[*p..end];
    *p = end;
    Ok(Some(s))
}

impl<'a> Iterator for Records<'a> {
    type Item = Result<RecordRef<'a>, RecordError>;

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

/// Appends `r` to `out` with a new timestamp delta (everything else as it was).
pub(crate) fn encode_with_timestamp_delta(out: &mut Vec<u8>, r: &RecordRef<'_>, ts_delta: i64) {
    let mut head = Vec::with_capacity(1 + VARLONG_BYTES_MAX + VARINT_BYTES_MAX);
    head.push(r.attributes);
    put_varlong(&mut head, ts_delta);
    put_varlong(&mut head, i64::from(r.offset_delta));
    put_varlong(out, (head.len() + r.tail.len()) as i64);
    out.extend_from_slice(&head);
    out.extend_from_slice(r.tail);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(ts: i64, od: i32, key: Option<&[u8]>, value: Option<&[u8]>) -> Vec<u8> {
        let mut body = vec![0u8];
        put_varlong(&mut body, ts);
        put_varlong(&mut body, i64::from(od));
        for f in [key, value] {
            match f {
                Some(b) => {
                    put_varlong(&mut body, b.len() as i64);
                    body.extend_from_slice(b);
                }
                None => put_varlong(&mut body, -1),
            }
        }
        put_varlong(&mut body, 1);
        put_varlong(&mut body, 1);
        body.push(b'h');
        put_varlong(&mut body, -1);
        let mut out = Vec::new();
        put_varlong(&mut out, body.len() as i64);
        out.extend_from_slice(&body);
        out
    }

    #[test]
    fn parses_and_reencodes() {
        let mut sec = record(5, 0, Some(b"k"), Some(b"v"));
        sec.extend(record(-3, 7, Some(b"k2"), None));
        let rs: Vec<_> = Records::new(&sec).collect::<Result<_, _>>().unwrap();
        assert_eq!(rs.len(), 2);
        assert_eq!(rs[0].key, Some(&b"k"[..]));
        assert!(!rs[0].value_is_null);
        assert_eq!((rs[1].timestamp_delta, rs[1].offset_delta), (-3, 7));
        assert!(rs[1].value_is_null);
        let mut out = Vec::new();
        encode_with_timestamp_delta(&mut out, &rs[1], 1 << 40);
        let again: Vec<_> = Records::new(&out).collect::<Result<_, _>>().unwrap();
        assert_eq!(again[0].timestamp_delta, 1 << 40);
        assert_eq!(again[0].tail, rs[1].tail);
    }

    #[test]
    fn malformed_sections_are_errors_not_panics() {
        let good = record(1, 0, Some(b"key"), Some(b"value"));
        for cut in 0..good.len() {
            let r: Result<Vec<_>, _> = Records::new(&good[..cut]).collect();
            assert!(cut == 0 || r.is_err(), "cut {cut}");
        }
        for i in 0..good.len() {
            let mut bad = good.clone();
            bad[i] ^= 0xff;
            let _ = Records::new(&bad).collect::<Vec<_>>();
        }
    }
}
