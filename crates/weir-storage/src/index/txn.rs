//! The transaction index (`<base>.txnindex`, Kafka's `TransactionIndex`): one 34-byte
//! big-endian entry per aborted transaction whose abort marker is in the segment, in
//! marker order: `version: i16` (0), `producer_id: i64`, `first_offset: i64`,
//! `last_offset: i64` (the marker's offset), `last_stable_offset: i64`.
//!
//! Unlike the offset and time indexes it is small and read whole, so it is a plain file
//! behind the [`FileSystem`] seam (not a mapping), and the entries live in memory beside
//! it. Like them it is a cache of the `.log`: recovery recomputes every segment's entries
//! from the batches and rewrites a file that is missing, ragged or different.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::io::{FileSystem, StorageFile, write_atomic};

/// Bytes of one `.txnindex` entry.
pub const TXN_ENTRY_BYTES: usize = 34;
/// The entry version written and the only one read.
pub const TXN_INDEX_VERSION: i16 = 0;

/// An aborted transaction as the transaction index records it (Kafka's `AbortedTxn`):
/// consumers reading committed data skip the producer's records from `first_offset`
/// up to the abort marker at `last_offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AbortedTxn {
    /// The transactional producer.
    pub producer_id: i64,
    /// Offset of the transaction's first record in this log.
    pub first_offset: i64,
    /// Offset of the abort marker.
    pub last_offset: i64,
    /// The last stable offset once the marker was written: the first offset of the
    /// earliest other transaction still ongoing, else `last_offset + 1`.
    pub last_stable_offset: i64,
}

impl AbortedTxn {
    /// The 34 bytes of the entry.
    pub fn encode(&self) -> [u8; TXN_ENTRY_BYTES] {
        let mut b = [0u8; TXN_ENTRY_BYTES];
        b[..2].copy_from_slice(&TXN_INDEX_VERSION.to_be_bytes());
        b[2..10].copy_from_slice(&self.producer_id.to_be_bytes());
        b[10..18].copy_from_slice(&self.first_offset.to_be_bytes());
        b[18..26].copy_from_slice(&self.last_offset.to_be_bytes());
        b[26..34].copy_from_slice(&self.last_stable_offset.to_be_bytes());
        b
    }

    /// Reads one entry; `None` for a version other than 0.
    pub fn decode(b: &[u8; TXN_ENTRY_BYTES]) -> Option<AbortedTxn> {
        let i64_at = |at: usize| {
            let mut v = [0u8; 8];
            v.copy_from_slice(&b[at..at + 8]);
            i64::from_be_bytes(v)
        };
        if i16::from_be_bytes([b[0], b[1]]) != TXN_INDEX_VERSION {
            return None;
        }
        Some(AbortedTxn {
            producer_id: i64_at(2),
            first_offset: i64_at(10),
            last_offset: i64_at(18),
            last_stable_offset: i64_at(26),
        })
    }

    /// Whether the entry overlaps `[from, upto)` (Kafka's `collectAbortedTxns` test).
    pub fn overlaps(&self, from: i64, upto: i64) -> bool {
        self.last_offset >= from && self.first_offset < upto
    }
}

/// Why a `.txnindex` file's bytes are not a list of entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TxnIndexError {
    /// The length is not a multiple of [`TXN_ENTRY_BYTES`] (a torn append).
    #[error("{bytes} bytes is not a whole number of {TXN_ENTRY_BYTES}-byte entries")]
    Ragged {
        /// Bytes of the file.
        bytes: usize,
    },
    /// The file is longer than the entries its segment can have.
    #[error("{bytes} bytes is more than {entries_max} entries")]
    TooLong {
        /// Bytes of the file.
        bytes: u64,
        /// Entries the segment can have.
        entries_max: usize,
    },
    /// An entry has a version other than 0.
    #[error("entry {index} has version {version}")]
    Version {
        /// Entry number from 0.
        index: usize,
        /// The version read.
        version: i16,
    },
}

/// Reads a whole `.txnindex` file's bytes.
pub fn parse_entries(bytes: &[u8]) -> Result<Vec<AbortedTxn>, TxnIndexError> {
    if !bytes.len().is_multiple_of(TXN_ENTRY_BYTES) {
        return Err(TxnIndexError::Ragged { bytes: bytes.len() });
    }
    bytes
        .chunks_exact(TXN_ENTRY_BYTES)
        .enumerate()
        .map(|(index, chunk)| {
            let mut b = [0u8; TXN_ENTRY_BYTES];
            b.copy_from_slice(chunk);
            AbortedTxn::decode(&b).ok_or(TxnIndexError::Version {
                index,
                version: i16::from_be_bytes([b[0], b[1]]),
            })
        })
        .collect()
}

/// The bytes of a `.txnindex` file holding `entries`.
pub fn encode_entries(entries: &[AbortedTxn]) -> Vec<u8> {
    entries.iter().flat_map(|e| e.encode()).collect()
}

/// One segment's transaction index: its entries in memory and its file, opened for
/// appends on the first abort written after open.
#[derive(Debug)]
pub(crate) struct TxnIndex {
    path: PathBuf,
    entries: Vec<AbortedTxn>,
    file: Option<Arc<dyn StorageFile>>,
    /// Entries known written to the file since the last fsync of it.
    synced: usize,
}

impl TxnIndex {
    /// An index with no entries for the file at `path` (nothing is created yet).
    pub(crate) fn empty(path: PathBuf) -> TxnIndex {
        TxnIndex {
            path,
            entries: Vec::new(),
            file: None,
            synced: 0,
        }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn entries(&self) -> &[AbortedTxn] {
        &self.entries
    }

    /// Appends an entry to the file, then to memory; returns whether the file was created
    /// (the directory then needs an fsync). On an error memory is unchanged, and the file
    /// is cut back to the entries before (best effort: recovery rebuilds a ragged file).
    pub(crate) fn append(&mut self, fs: &dyn FileSystem, entry: AbortedTxn) -> io::Result<bool> {
        let mut created = false;
        let file = match &self.file {
            Some(f) => Arc::clone(f),
            None => {
                created = !fs.exists(&self.path);
                let f = fs.open(&self.path, true)?;
                self.file = Some(Arc::clone(&f));
                f
            }
        };
        let at = (self.entries.len() * TXN_ENTRY_BYTES) as u64;
        if let Err(e) = file.write_all_at(&entry.encode(), at) {
            if let Err(cut) = file.set_len(at) {
                tracing::warn!(path = %self.path.display(), error = %cut, "cannot cut back a failed transaction index write");
            }
            return Err(e);
        }
        self.entries.push(entry);
        Ok(created)
    }

    /// Whether entries were written since the last [`TxnIndex::mark_synced`].
    pub(crate) fn needs_sync(&self) -> Option<(Arc<dyn StorageFile>, usize)> {
        let file = self.file.as_ref()?;
        (self.synced < self.entries.len()).then(|| (Arc::clone(file), self.entries.len()))
    }

    /// Records that the first `n` entries are durable.
    pub(crate) fn mark_synced(&mut self, n: usize) {
        self.synced = self.synced.max(n);
    }

    /// Replaces the entries in memory only (the cleaner, until it rewrites the file).
    pub(crate) fn set_in_memory(&mut self, entries: Vec<AbortedTxn>) {
        self.file = None;
        self.synced = entries.len();
        self.entries = entries;
    }

    /// The file's entries: `None` if it does not exist, an error if it does not parse or
    /// holds more than `entries_max` entries (then it is not read: a segment's file has at
    /// most one entry per abort marker of the segment, and its length is not trusted).
    pub(crate) fn read_stored(
        &self,
        fs: &dyn FileSystem,
        entries_max: usize,
    ) -> io::Result<Option<Result<Vec<AbortedTxn>, TxnIndexError>>> {
        let file = match fs.open(&self.path, false) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let len = file.len()?;
        let max = (entries_max as u64).saturating_mul(TXN_ENTRY_BYTES as u64);
        if len > max {
            return Ok(Some(Err(TxnIndexError::TooLong {
                bytes: len,
                entries_max,
            })));
        }
        // len <= entries_max * 34, bounded by the caller's count of markers.
        let mut buf = vec![0u8; len as usize];
        file.read_exact_at(&mut buf, 0)?;
        Ok(Some(parse_entries(&buf)))
    }

    /// Makes the file hold exactly `entries` (recovery, the cleaner): left alone if it
    /// already does, else replaced atomically, or removed when `entries` is empty.
    /// Returns whether the file changed.
    pub(crate) fn reset(
        &mut self,
        fs: &dyn FileSystem,
        entries: Vec<AbortedTxn>,
    ) -> io::Result<bool> {
        let on_disk = self.read_stored(fs, entries.len())?;
        self.file = None;
        let changed = match (&on_disk, entries.is_empty()) {
            (None, true) => false,
            (Some(Ok(found)), _) if *found == entries => false,
            (Some(_), true) => {
                fs.remove_file(&self.path)?;
                true
            }
            (_, false) => {
                write_atomic(fs, &self.path, &encode_entries(&entries))?;
                true
            }
        };
        if changed {
            tracing::warn!(path = %self.path.display(), entries = entries.len(), "transaction index did not match the log; rewritten");
        }
        self.synced = entries.len();
        self.entries = entries;
        Ok(changed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_has_kafkas_layout() {
        let e = AbortedTxn {
            producer_id: 0x0102_0304_0506_0708,
            first_offset: 10,
            last_offset: 20,
            last_stable_offset: -1,
        };
        let b = e.encode();
        assert_eq!(&b[..2], &[0, 0]);
        assert_eq!(&b[2..10], &[1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(&b[10..18], &10i64.to_be_bytes());
        assert_eq!(&b[18..26], &20i64.to_be_bytes());
        assert_eq!(&b[26..], &[0xff; 8]);
        assert_eq!(AbortedTxn::decode(&b), Some(e));
        assert_eq!(parse_entries(&encode_entries(&[e, e])).unwrap(), vec![e, e]);
    }

    #[test]
    fn ragged_or_unknown_files_are_errors() {
        let e = AbortedTxn {
            producer_id: 1,
            first_offset: 2,
            last_offset: 3,
            last_stable_offset: 4,
        };
        let mut bytes = encode_entries(&[e]);
        assert_eq!(
            parse_entries(&bytes[..33]),
            Err(TxnIndexError::Ragged { bytes: 33 })
        );
        bytes[1] = 1;
        assert_eq!(
            parse_entries(&bytes),
            Err(TxnIndexError::Version {
                index: 0,
                version: 1
            })
        );
    }
}
