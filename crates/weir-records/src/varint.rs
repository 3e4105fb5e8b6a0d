//! Kafka's variable-length integers as used inside record batches.
//!
//! Unsigned varints are LEB128 (7 bits a byte, least significant group first,
//! high bit = "more follows"). Signed varints and varlongs are zigzag-encoded
//! first (`(n << 1) ^ (n >> 31)`), as Protocol Buffers do.
//!
//! Reading is as lenient as Kafka's `ByteUtils`: a non-canonical encoding such as
//! `0x80 0x00` for zero is accepted, and bits of the last allowed byte beyond the
//! type's width are dropped; only an encoding longer than 5 bytes (varint) or 10
//! bytes (varlong) is [`VarintError::Overlong`].
//!
//! These are the only signed varints of weir: message fields (`weir-protocol`'s
//! `primitives`) use unsigned varints alone. Message fields are written canonically (so
//! decode → encode is byte-identical), while record bytes are stored as the client sent
//! them and read with Kafka's leniency.

use bytes::{BufMut, BytesMut};
use thiserror::Error;

/// The most bytes an unsigned or zigzag varint (32-bit) may take.
pub const VARINT_BYTES_MAX: usize = 5;
/// The most bytes a zigzag varlong (64-bit) may take.
pub const VARLONG_BYTES_MAX: usize = 10;

/// Why a varint could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum VarintError {
    /// The input ended while the high bit still announced another byte.
    #[error("varint truncated")]
    Truncated,
    /// More bytes than the type allows, or bits beyond its width.
    #[error("varint too long for its type")]
    Overlong,
}

/// Reads an unsigned LEB128 value of at most `bits_max` bits.
/// Returns the value and the number of bytes used.
fn decode_unsigned(
    input: &[u8],
    bytes_max: usize,
    bits_max: u32,
) -> Result<(u64, usize), VarintError> {
    let mut value: u64 = 0;
    for (i, &byte) in input.iter().enumerate() {
        if i == bytes_max {
            return Err(VarintError::Overlong);
        }
        let shift = 7 * i as u32;
        let mut group = u64::from(byte & 0x7f);
        // Bits of the last byte that land beyond `bits_max` are dropped, as Kafka's
        // `ByteUtils.readVarint`/`readVarlong` shift them out (only a continuation bit on
        // the last allowed byte is an error).
        let room = bits_max.saturating_sub(shift);
        if room < 7 {
            group &= (1u64 << room) - 1;
        }
        value |= group << shift;
        if byte & 0x80 == 0 {
            return Ok((value, i + 1));
        }
    }
    if input.len() >= bytes_max {
        Err(VarintError::Overlong)
    } else {
        Err(VarintError::Truncated)
    }
}

/// Reads an unsigned varint (32-bit).
pub fn decode_uvarint(input: &[u8]) -> Result<(u32, usize), VarintError> {
    let (value, used) = decode_unsigned(input, VARINT_BYTES_MAX, 32)?;
    let value = u32::try_from(value).map_err(|_| VarintError::Overlong)?;
    Ok((value, used))
}

/// Reads a zigzag varint (32-bit signed).
pub fn decode_varint(input: &[u8]) -> Result<(i32, usize), VarintError> {
    let (raw, used) = decode_uvarint(input)?;
    Ok((((raw >> 1) as i32) ^ -((raw & 1) as i32), used))
}

/// Reads a zigzag varlong (64-bit signed).
pub fn decode_varlong(input: &[u8]) -> Result<(i64, usize), VarintError> {
    let (raw, used) = decode_unsigned(input, VARLONG_BYTES_MAX, 64)?;
    Ok((((raw >> 1) as i64) ^ -((raw & 1) as i64), used))
}

fn encode_unsigned(mut value: u64, out: &mut BytesMut) {
    while value >= 0x80 {
        out.put_u8((value as u8 & 0x7f) | 0x80);
        value >>= 7;
    }
    out.put_u8(value as u8);
}

fn unsigned_len(value: u64) -> usize {
    let bits = 64 - value.max(1).leading_zeros() as usize;
    bits.div_ceil(7)
}

fn zigzag32(value: i32) -> u32 {
    ((value << 1) ^ (value >> 31)) as u32
}

fn zigzag64(value: i64) -> u64 {
    ((value << 1) ^ (value >> 63)) as u64
}

/// Appends an unsigned varint.
pub fn encode_uvarint(value: u32, out: &mut BytesMut) {
    encode_unsigned(u64::from(value), out);
}

/// Appends a zigzag varint.
pub fn encode_varint(value: i32, out: &mut BytesMut) {
    encode_unsigned(u64::from(zigzag32(value)), out);
}

/// Appends a zigzag varlong.
pub fn encode_varlong(value: i64, out: &mut BytesMut) {
    encode_unsigned(zigzag64(value), out);
}

/// Bytes [`encode_varint`] writes for `value`.
pub fn varint_len(value: i32) -> usize {
    unsigned_len(u64::from(zigzag32(value)))
}

/// Bytes [`encode_varlong`] writes for `value`.
pub fn varlong_len(value: i64) -> usize {
    unsigned_len(zigzag64(value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn zigzag_values_at_the_edges() {
        // Moved from weir-protocol's golden tests with the signed varints.
        assert_eq!(decode_varint(&[0x01]).unwrap().0, -1);
        assert_eq!(decode_varint(&[0x02]).unwrap().0, 1);
        assert_eq!(
            decode_varint(&[0xff, 0xff, 0xff, 0xff, 0x0f]).unwrap().0,
            i32::MIN
        );
        assert_eq!(decode_varlong(&[0x03]).unwrap().0, -2);
        let mut max = [0xffu8; 10];
        max[9] = 0x01;
        assert_eq!(decode_varlong(&max).unwrap().0, i64::MIN);
    }

    #[test]
    fn known_encodings() {
        // Values from Kafka's ByteUtilsTest.
        let cases: &[(i32, &[u8])] = &[
            (0, &[0x00]),
            (-1, &[0x01]),
            (1, &[0x02]),
            (63, &[0x7e]),
            (-64, &[0x7f]),
            (64, &[0x80, 0x01]),
            (i32::MAX, &[0xfe, 0xff, 0xff, 0xff, 0x0f]),
            (i32::MIN, &[0xff, 0xff, 0xff, 0xff, 0x0f]),
        ];
        for &(value, bytes) in cases {
            let mut out = BytesMut::new();
            encode_varint(value, &mut out);
            assert_eq!(&out[..], bytes, "{value}");
            assert_eq!(varint_len(value), bytes.len());
            assert_eq!(decode_varint(bytes), Ok((value, bytes.len())));
        }
    }

    #[test]
    fn truncated_and_overlong() {
        assert_eq!(decode_varint(&[]), Err(VarintError::Truncated));
        assert_eq!(decode_varint(&[0x80, 0x80]), Err(VarintError::Truncated));
        assert_eq!(decode_varint(&[0x80; 6]), Err(VarintError::Overlong));
        assert_eq!(
            decode_varint(&[0x80, 0x80, 0x80, 0x80, 0x80]),
            Err(VarintError::Overlong)
        );
        // Kafka's ByteUtils: a fifth byte's bits beyond 32 are shifted out, not refused
        // (0x1f carries bit 32: the value read is that of 0x0f).
        assert_eq!(
            decode_varint(&[0xff, 0xff, 0xff, 0xff, 0x1f]),
            decode_varint(&[0xff, 0xff, 0xff, 0xff, 0x0f]).map(|(v, _)| (v, 5))
        );
        assert_eq!(decode_varlong(&[0x80; 11]), Err(VarintError::Overlong));
        // A tenth byte's bits beyond 64 likewise.
        let mut max = vec![0xff; 9];
        max.push(0x02);
        let mut same = vec![0xff; 9];
        same.push(0x00);
        assert_eq!(decode_varlong(&max), decode_varlong(&same));
        // Non-canonical padding is accepted, as Kafka does.
        assert_eq!(decode_varint(&[0x80, 0x00]), Ok((0, 2)));
    }

    proptest! {
        #[test]
        fn varint_round_trip(value: i32) {
            let mut out = BytesMut::new();
            encode_varint(value, &mut out);
            prop_assert_eq!(out.len(), varint_len(value));
            prop_assert_eq!(decode_varint(&out), Ok((value, out.len())));
        }

        #[test]
        fn varlong_round_trip(value: i64) {
            let mut out = BytesMut::new();
            encode_varlong(value, &mut out);
            prop_assert_eq!(out.len(), varlong_len(value));
            prop_assert_eq!(decode_varlong(&out), Ok((value, out.len())));
        }

        #[test]
        fn uvarint_round_trip(value: u32) {
            let mut out = BytesMut::new();
            encode_uvarint(value, &mut out);
            prop_assert_eq!(decode_uvarint(&out), Ok((value, out.len())));
        }
    }
}
