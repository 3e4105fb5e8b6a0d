//! The cleaner's offset map: key → offset of its latest record in the range mapped,
//! within a memory budget (`log_cleaner_dedupe_buffer_size`).
//!
//! Entries are keyed by a 64-bit hash of the key (SipHash-1-3 with a random key drawn per
//! map, so nobody can aim collisions at it), and every distinct key's bytes are kept once in
//! an arena. A colliding insert is recognised by comparing those bytes; the slot is then
//! marked `collided` and the cleaner keeps **every** record whose key hashes to it. A
//! collision therefore costs space, never a latest value (`docs/format.md`, "Offset map").
//! The table indexes by that hash as it is ([`PassThrough`]): hashing it again would only
//! double the cost of every lookup, which is most of the cleaner's CPU per record.

use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher, RandomState};

/// Bytes charged per entry besides the key bytes: the 8-byte hash, the slot (offset,
/// arena range, flag: 24 bytes), and the hash table's control byte and spare capacity.
pub const OFFSET_MAP_ENTRY_BYTES: usize = 64;

/// The table's hasher: its keys are already keyed SipHash outputs, uniformly spread, so
/// they index the table as they are.
#[derive(Debug, Default)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Only `u64` keys are hashed; fold anything else in rather than lose it.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    offset: i64,
    key_at: u32,
    key_len: u32,
    collided: bool,
}

/// What the map says about a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Latest {
    /// The key's latest mapped offset.
    At(i64),
    /// The key is not in the map.
    Unknown,
    /// Two keys share the hash: keep every record of it.
    Collided,
}

/// See the module documentation.
#[derive(Debug)]
pub(crate) struct OffsetMap {
    hasher: RandomState,
    slots: HashMap<u64, Slot, BuildHasherDefault<PassThrough>>,
    arena: Vec<u8>,
    budget_bytes: usize,
}

impl OffsetMap {
    pub(crate) fn new(budget_bytes: usize) -> Self {
        OffsetMap {
            hasher: RandomState::new(),
            slots: HashMap::default(),
            arena: Vec::new(),
            budget_bytes,
        }
    }

    fn hash(&self, key: &[u8]) -> u64 {
        let mut h = self.hasher.build_hasher();
        h.write(key);
        h.finish()
    }

    /// Bytes charged so far.
    pub(crate) fn used_bytes(&self) -> usize {
        self.slots.len() * OFFSET_MAP_ENTRY_BYTES + self.arena.len()
    }

    /// Distinct keys mapped.
    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }

    /// Records `key` at `offset` (offsets arrive in increasing order). `false` if a new
    /// key would exceed the budget (nothing is changed then).
    pub(crate) fn put(&mut self, key: &[u8], offset: i64) -> bool {
        let h = self.hash(key);
        if let Some(slot) = self.slots.get_mut(&h) {
            let at = slot.key_at as usize;
            let same = self.arena.get(at..at + slot.key_len as usize) == Some(key);
            if !same {
                slot.collided = true;
            }
            slot.offset = slot.offset.max(offset);
            return true;
        }
        let cost = OFFSET_MAP_ENTRY_BYTES.saturating_add(key.len());
        let Ok(key_len) = u32::try_from(key.len()) else {
            return false;
        };
        let Ok(key_at) = u32::try_from(self.arena.len()) else {
            return false;
        };
        if self.used_bytes().saturating_add(cost) > self.budget_bytes {
            return false;
        }
        self.arena.extend_from_slice(key);
        self.slots.insert(
            h,
            Slot {
                offset,
                key_at,
                key_len,
                collided: false,
            },
        );
        true
    }

    pub(crate) fn latest(&self, key: &[u8]) -> Latest {
        match self.slots.get(&self.hash(key)) {
            None => Latest::Unknown,
            Some(s) if s.collided => Latest::Collided,
            Some(s) => {
                let at = s.key_at as usize;
                if self.arena.get(at..at + s.key_len as usize) == Some(key) {
                    Latest::At(s.offset)
                } else {
                    // A key never put that shares a mapped key's hash: not superseded.
                    Latest::Collided
                }
            }
        }
    }

    /// The latest offset of every mapped key (any order), and whether any slot collided.
    pub(crate) fn latest_offsets(&self) -> (Vec<i64>, bool) {
        let collided = self.slots.values().any(|s| s.collided);
        (self.slots.values().map(|s| s.offset).collect(), collided)
    }

    /// Test hook: marks the slot of `key` as collided, as a real collision would.
    #[cfg(test)]
    pub(crate) fn force_collision(&mut self, key: &[u8]) {
        let h = self.hash(key);
        if let Some(s) = self.slots.get_mut(&h) {
            s.collided = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latest_wins_and_budget_holds() {
        let mut m = OffsetMap::new(3 * OFFSET_MAP_ENTRY_BYTES + 6);
        assert!(m.put(b"a", 1));
        assert!(m.put(b"bb", 2));
        assert!(m.put(b"a", 5));
        assert!(m.put(b"ccc", 6));
        assert!(!m.put(b"dddd", 7), "over budget");
        assert!(m.put(b"bb", 9), "existing keys still update");
        assert_eq!(m.latest(b"a"), Latest::At(5));
        assert_eq!(m.latest(b"bb"), Latest::At(9));
        assert_eq!(m.latest(b"dddd"), Latest::Unknown);
        assert_eq!(m.len(), 3);
        m.force_collision(b"a");
        assert_eq!(m.latest(b"a"), Latest::Collided);
    }
}
