//! Sparse, memory-mapped segment indexes in Kafka's formats (big-endian entries):
//! `.index` maps relative offsets to byte positions, `.timeindex` maps timestamps to
//! relative offsets. Both are caches of the `.log`: checked on open, rebuilt on doubt.

pub(crate) mod offset;
pub(crate) mod time;
pub(crate) mod txn;

use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use memmap2::MmapMut;

use crate::mmap::map_index;

/// A file of fixed-size entries, mapped read-write, with `entries` valid entries at
/// the front and (for the active segment) zeroed preallocated room after them.
#[derive(Debug)]
pub(crate) struct IndexFile {
    path: PathBuf,
    file: File,
    map: Option<MmapMut>,
    entries: usize,
    entry_bytes: usize,
}

impl IndexFile {
    /// Creates (or empties) the file and preallocates `prealloc_bytes`, rounded down
    /// to whole entries.
    pub(crate) fn create(path: &Path, entry_bytes: usize, prealloc_bytes: u64) -> io::Result<Self> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)?;
        let mut idx = IndexFile {
            path: path.to_path_buf(),
            file,
            map: None,
            entries: 0,
            entry_bytes,
        };
        idx.resize(prealloc_bytes)?;
        Ok(idx)
    }

    /// Opens an existing file; all whole entries count as present (the caller checks
    /// them). `None` if the file is missing.
    pub(crate) fn open(path: &Path, entry_bytes: usize) -> io::Result<Option<Self>> {
        let file = match OpenOptions::new().read(true).write(true).open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let len = file.metadata()?.len();
        let map = map_index(&file)?;
        let entries = usize::try_from(len).unwrap_or(usize::MAX) / entry_bytes;
        Ok(Some(IndexFile {
            path: path.to_path_buf(),
            file,
            map,
            entries,
            entry_bytes,
        }))
    }

    /// Whether the file length is a whole number of entries.
    pub(crate) fn len_is_whole(&self) -> io::Result<bool> {
        Ok(self.file.metadata()?.len() % self.entry_bytes as u64 == 0)
    }

    pub(crate) fn entries(&self) -> usize {
        self.entries
    }

    pub(crate) fn capacity(&self) -> usize {
        self.map.as_ref().map_or(0, |m| m.len() / self.entry_bytes)
    }

    pub(crate) fn is_full(&self) -> bool {
        self.entries >= self.capacity()
    }

    /// The live entries' bytes (without the preallocated zeros after them).
    pub(crate) fn live_bytes(&self) -> Vec<u8> {
        (0..self.entries)
            .flat_map(|i| self.entry(i))
            .copied()
            .collect()
    }

    pub(crate) fn entry(&self, i: usize) -> &[u8] {
        assert!(i < self.entries, "index entry {i} of {}", self.entries);
        let map = self.map.as_ref().expect("entries > 0 implies a mapping");
        &map[i * self.entry_bytes..(i + 1) * self.entry_bytes]
    }

    /// Appends one entry; `false` if the index is full.
    pub(crate) fn push(&mut self, entry: &[u8]) -> bool {
        debug_assert_eq!(entry.len(), self.entry_bytes);
        if self.is_full() {
            return false;
        }
        let at = self.entries * self.entry_bytes;
        let Some(map) = self.map.as_mut() else {
            return false;
        };
        map[at..at + self.entry_bytes].copy_from_slice(entry);
        self.entries += 1;
        true
    }

    /// Forgets all entries (before a rebuild); keeps the preallocation.
    pub(crate) fn clear(&mut self) {
        if let Some(map) = self.map.as_mut() {
            map.fill(0);
        }
        self.entries = 0;
    }

    /// Changes the file length to `bytes` rounded down to whole entries (but never
    /// below the present entries) and remaps.
    pub(crate) fn resize(&mut self, bytes: u64) -> io::Result<()> {
        let eb = self.entry_bytes as u64;
        let want = (bytes / eb).max(self.entries as u64) * eb;
        // Unmapping hands the dirty pages to the page cache (no msync: that would be
        // synchronous disk I/O under the writer lock at every roll); `flush` makes them
        // durable in the next fsync round.
        drop(self.map.take());
        self.file.set_len(want)?;
        self.map = map_index(&self.file)?;
        Ok(())
    }

    /// Cuts the file to its entries (when the segment stops being active).
    pub(crate) fn trim(&mut self) -> io::Result<()> {
        self.resize((self.entries * self.entry_bytes) as u64)
    }

    /// Writes the mapped pages and the file length to disk.
    pub(crate) fn flush(&self) -> io::Result<()> {
        if let Some(map) = self.map.as_ref() {
            map.flush()?;
        }
        self.file.sync_all()
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}
