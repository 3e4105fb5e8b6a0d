//! The record format of `__consumer_offsets` (documented in docs/format.md). Keys and values
//! are big-endian; every length is checked against the bytes present before use.

use bytes::{BufMut, Bytes, BytesMut};

/// Key kind byte of a committed offset.
const KIND_OFFSET: u8 = 1;
/// Key kind byte of a group record.
const KIND_GROUP: u8 = 2;
/// Value format version of offsets (and of group values before members were stored).
const VALUE_VERSION: u8 = 0;
/// Group value version written today: v0's fields, then the members (docs/format.md).
const GROUP_VALUE_VERSION: u8 = 1;

/// A decoded key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Key {
    /// A committed offset of (group, topic, partition).
    Offset {
        /// Group id.
        group: String,
        /// Topic.
        topic: String,
        /// Partition.
        partition: i32,
    },
    /// A group's existence.
    Group {
        /// Group id.
        group: String,
    },
}

/// A committed offset as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetValue {
    /// The next offset the group will read.
    pub offset: i64,
    /// Leader epoch of the last consumed record (-1 unknown).
    pub leader_epoch: i32,
    /// Client metadata.
    pub metadata: Option<String>,
    /// When the commit was made (ms).
    pub commit_ms: i64,
}

/// A group record's value: Kafka's GroupMetadataValue, in weir's format.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupValue {
    /// Protocol type ("consumer").
    pub protocol_type: Option<String>,
    /// Generation when written.
    pub generation: i32,
    /// The chosen protocol (v1; none in v0 records).
    pub protocol: Option<String>,
    /// The leader's member id (v1).
    pub leader: Option<String>,
    /// When the group became Empty, if it is (v1; Kafka's `current_state_timestamp`).
    pub empty_since_ms: Option<i64>,
    /// The members of the generation, with their assignments (v1).
    pub members: Vec<MemberValue>,
}

/// One member in a group record (Kafka's `MemberMetadata`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemberValue {
    /// Member id.
    pub member_id: String,
    /// `group.instance.id`.
    pub instance_id: Option<String>,
    /// Client id.
    pub client_id: String,
    /// Client address.
    pub client_host: String,
    /// Session timeout (ms).
    pub session_timeout_ms: i32,
    /// Rebalance timeout (ms).
    pub rebalance_timeout_ms: i32,
    /// Its metadata for the chosen protocol.
    pub metadata: Bytes,
    /// Its assignment.
    pub assignment: Bytes,
}

/// Why a stored record does not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    /// The bytes end early.
    #[error("record truncated")]
    Truncated,
    /// An unknown kind or version byte.
    #[error("unknown record kind or version {0}")]
    Unknown(u8),
    /// A string is not UTF-8.
    #[error("string is not UTF-8")]
    Utf8,
}

fn put_str16(out: &mut BytesMut, s: &str) {
    let len = u16::try_from(s.len()).unwrap_or(u16::MAX);
    out.put_u16(len);
    out.put_slice(&s.as_bytes()[..usize::from(len)]);
}

/// Encodes a key. Strings longer than 65535 bytes are cut (group ids and topic names are
/// far shorter: the handlers refuse longer ones).
pub fn encode_key(key: &Key) -> Bytes {
    let mut out = BytesMut::new();
    match key {
        Key::Offset {
            group,
            topic,
            partition,
        } => {
            out.put_u8(KIND_OFFSET);
            put_str16(&mut out, group);
            put_str16(&mut out, topic);
            out.put_i32(*partition);
        }
        Key::Group { group } => {
            out.put_u8(KIND_GROUP);
            put_str16(&mut out, group);
        }
    }
    out.freeze()
}

/// Encodes an offset value.
pub fn encode_offset(v: &OffsetValue) -> Bytes {
    let mut out = BytesMut::new();
    out.put_u8(VALUE_VERSION);
    out.put_i64(v.offset);
    out.put_i32(v.leader_epoch);
    out.put_i64(v.commit_ms);
    match &v.metadata {
        None => out.put_i32(-1),
        Some(m) => {
            out.put_i32(i32::try_from(m.len()).unwrap_or(i32::MAX));
            out.put_slice(m.as_bytes());
        }
    }
    out.freeze()
}

fn put_nullable_str16(out: &mut BytesMut, s: Option<&str>) {
    match s {
        None => out.put_i16(-1),
        Some(t) => {
            let len = i16::try_from(t.len()).unwrap_or(i16::MAX);
            out.put_i16(len);
            out.put_slice(&t.as_bytes()[..len as usize]);
        }
    }
}

fn put_bytes32(out: &mut BytesMut, b: &[u8]) {
    let len = i32::try_from(b.len()).unwrap_or(i32::MAX);
    out.put_i32(len);
    out.put_slice(&b[..len as usize]);
}

/// Encodes a group value (version 1).
pub fn encode_group(v: &GroupValue) -> Bytes {
    let mut out = BytesMut::new();
    out.put_u8(GROUP_VALUE_VERSION);
    out.put_i32(v.generation);
    put_nullable_str16(&mut out, v.protocol_type.as_deref());
    out.put_i64(v.empty_since_ms.unwrap_or(-1));
    put_nullable_str16(&mut out, v.protocol.as_deref());
    put_nullable_str16(&mut out, v.leader.as_deref());
    out.put_i32(i32::try_from(v.members.len()).unwrap_or(i32::MAX));
    for m in &v.members {
        put_str16(&mut out, &m.member_id);
        put_nullable_str16(&mut out, m.instance_id.as_deref());
        put_str16(&mut out, &m.client_id);
        put_str16(&mut out, &m.client_host);
        out.put_i32(m.session_timeout_ms);
        out.put_i32(m.rebalance_timeout_ms);
        put_bytes32(&mut out, &m.metadata);
        put_bytes32(&mut out, &m.assignment);
    }
    out.freeze()
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], CodecError> {
        if self.0.len() < n {
            return Err(CodecError::Truncated);
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }
    fn u8(&mut self) -> Result<u8, CodecError> {
        Ok(self.take(1)?[0])
    }
    fn arr<const N: usize>(&mut self) -> Result<[u8; N], CodecError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }
    fn str_of(&mut self, n: usize) -> Result<String, CodecError> {
        std::str::from_utf8(self.take(n)?)
            .map(str::to_string)
            .map_err(|_| CodecError::Utf8)
    }
    fn str16(&mut self) -> Result<String, CodecError> {
        let n = u16::from_be_bytes(self.arr()?);
        self.str_of(usize::from(n))
    }
    fn nullable_str16(&mut self) -> Result<Option<String>, CodecError> {
        let len = i16::from_be_bytes(self.arr()?);
        if len < 0 {
            Ok(None)
        } else {
            Ok(Some(self.str_of(len as usize)?))
        }
    }
    fn i32(&mut self) -> Result<i32, CodecError> {
        Ok(i32::from_be_bytes(self.arr()?))
    }
    /// Bytes with an i32 length, checked against what is present before anything is copied.
    fn bytes32(&mut self) -> Result<Bytes, CodecError> {
        let n = usize::try_from(self.i32()?).map_err(|_| CodecError::Truncated)?;
        Ok(Bytes::copy_from_slice(self.take(n)?))
    }
}

/// Decodes a key.
pub fn decode_key(b: &[u8]) -> Result<Key, CodecError> {
    let mut r = Reader(b);
    match r.u8()? {
        KIND_OFFSET => Ok(Key::Offset {
            group: r.str16()?,
            topic: r.str16()?,
            partition: i32::from_be_bytes(r.arr()?),
        }),
        KIND_GROUP => Ok(Key::Group { group: r.str16()? }),
        k => Err(CodecError::Unknown(k)),
    }
}

/// Decodes an offset value.
pub fn decode_offset(b: &[u8]) -> Result<OffsetValue, CodecError> {
    let mut r = Reader(b);
    let v = r.u8()?;
    if v != VALUE_VERSION {
        return Err(CodecError::Unknown(v));
    }
    let offset = i64::from_be_bytes(r.arr()?);
    let leader_epoch = i32::from_be_bytes(r.arr()?);
    let commit_ms = i64::from_be_bytes(r.arr()?);
    let len = i32::from_be_bytes(r.arr()?);
    let metadata = if len < 0 {
        None
    } else {
        Some(r.str_of(usize::try_from(len).map_err(|_| CodecError::Truncated)?)?)
    };
    Ok(OffsetValue {
        offset,
        leader_epoch,
        metadata,
        commit_ms,
    })
}

/// Decodes a group value.
pub fn decode_group(b: &[u8]) -> Result<GroupValue, CodecError> {
    let mut r = Reader(b);
    let v = r.u8()?;
    if v != VALUE_VERSION && v != GROUP_VALUE_VERSION {
        return Err(CodecError::Unknown(v));
    }
    let generation = r.i32()?;
    let protocol_type = r.nullable_str16()?;
    let mut out = GroupValue {
        protocol_type,
        generation,
        ..Default::default()
    };
    if v == VALUE_VERSION {
        return Ok(out);
    }
    let since = i64::from_be_bytes(r.arr()?);
    out.empty_since_ms = (since >= 0).then_some(since);
    out.protocol = r.nullable_str16()?;
    out.leader = r.nullable_str16()?;
    let count = r.i32()?;
    // No capacity from the count: each member is read from bytes that must be there.
    for _ in 0..count.max(0) {
        out.members.push(MemberValue {
            member_id: r.str16()?,
            instance_id: r.nullable_str16()?,
            client_id: r.str16()?,
            client_host: r.str16()?,
            session_timeout_ms: r.i32()?,
            rebalance_timeout_ms: r.i32()?,
            metadata: r.bytes32()?,
            assignment: r.bytes32()?,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_values_round_trip() {
        let k = Key::Offset {
            group: "g".into(),
            topic: "t".into(),
            partition: 7,
        };
        assert_eq!(decode_key(&encode_key(&k)).unwrap(), k);
        let k = Key::Group { group: "g2".into() };
        assert_eq!(decode_key(&encode_key(&k)).unwrap(), k);
        let v = OffsetValue {
            offset: 42,
            leader_epoch: 3,
            metadata: Some("m".into()),
            commit_ms: 99,
        };
        assert_eq!(decode_offset(&encode_offset(&v)).unwrap(), v);
        let g = GroupValue {
            protocol_type: Some("consumer".into()),
            generation: 5,
            ..Default::default()
        };
        assert_eq!(decode_group(&encode_group(&g)).unwrap(), g);
        let g = GroupValue {
            protocol_type: Some("consumer".into()),
            generation: 6,
            protocol: Some("range".into()),
            leader: Some("m1".into()),
            empty_since_ms: None,
            members: vec![MemberValue {
                member_id: "m1".into(),
                instance_id: Some("i1".into()),
                client_id: "c".into(),
                client_host: "/127.0.0.1".into(),
                session_timeout_ms: 10_000,
                rebalance_timeout_ms: 30_000,
                metadata: Bytes::from_static(b"meta"),
                assignment: Bytes::from_static(b"asg"),
            }],
        };
        let bytes = encode_group(&g);
        assert_eq!(decode_group(&bytes).unwrap(), g);
        for n in 0..bytes.len() {
            assert!(decode_group(&bytes[..n]).is_err(), "{n}");
        }
        // A v0 record (weir before members were stored) still reads.
        let v0 = [
            0u8, 0, 0, 0, 3, 0, 8, b'c', b'o', b'n', b's', b'u', b'm', b'e', b'r',
        ];
        let old = decode_group(&v0).unwrap();
        assert_eq!(
            (old.generation, old.protocol_type.as_deref()),
            (3, Some("consumer"))
        );
        assert!(old.members.is_empty());
    }

    #[test]
    fn truncated_and_garbage_are_errors() {
        let k = encode_key(&Key::Offset {
            group: "group".into(),
            topic: "topic".into(),
            partition: 1,
        });
        for n in 0..k.len() {
            assert!(decode_key(&k[..n]).is_err());
        }
        assert_eq!(decode_key(&[9]), Err(CodecError::Unknown(9)));
        let v = encode_offset(&OffsetValue {
            offset: 1,
            leader_epoch: 1,
            metadata: Some("abc".into()),
            commit_ms: 1,
        });
        for n in 0..v.len() {
            assert!(decode_offset(&v[..n]).is_err());
        }
        // A huge metadata length with no bytes behind it is refused, not allocated.
        let mut bad = v[..21].to_vec();
        bad.extend_from_slice(&i32::MAX.to_be_bytes());
        assert_eq!(decode_offset(&bad), Err(CodecError::Truncated));
    }
}
