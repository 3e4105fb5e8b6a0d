//! The storage seam, timed: [`MeteredFs`] wraps the broker's `FileSystem` so every
//! `fdatasync` of a partition log's files (segments, indexes, checkpoints) is counted in
//! `weir_fsyncs_total` and timed in `weir_fsync_duration_seconds`. Everything else is
//! passed through untouched (vectored writes stay one call).

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use weir_storage::{FileSystem, StorageFile};

use super::Metrics;

/// A [`FileSystem`] whose files time their `sync_data`.
#[derive(Debug)]
pub(crate) struct MeteredFs {
    inner: Arc<dyn FileSystem>,
    metrics: Arc<Metrics>,
}

impl MeteredFs {
    pub(crate) fn new(inner: Arc<dyn FileSystem>, metrics: Arc<Metrics>) -> Self {
        Self { inner, metrics }
    }
}

impl FileSystem for MeteredFs {
    fn open(&self, path: &Path, create: bool) -> io::Result<Arc<dyn StorageFile>> {
        let file = self.inner.open(path, create)?;
        Ok(Arc::new(MeteredFile {
            inner: file,
            metrics: Arc::clone(&self.metrics),
        }))
    }
    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        self.inner.create_dir_all(path)
    }
    fn read_dir(&self, path: &Path) -> io::Result<Vec<PathBuf>> {
        self.inner.read_dir(path)
    }
    fn exists(&self, path: &Path) -> bool {
        self.inner.exists(path)
    }
    fn remove_file(&self, path: &Path) -> io::Result<()> {
        self.inner.remove_file(path)
    }
    fn remove_dir_all(&self, path: &Path) -> io::Result<()> {
        self.inner.remove_dir_all(path)
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.inner.rename(from, to)
    }
    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        self.inner.sync_dir(path)
    }
}

#[derive(Debug)]
struct MeteredFile {
    inner: Arc<dyn StorageFile>,
    metrics: Arc<Metrics>,
}

impl StorageFile for MeteredFile {
    fn len(&self) -> io::Result<u64> {
        self.inner.len()
    }
    fn write_all_at(&self, buf: &[u8], pos: u64) -> io::Result<()> {
        self.inner.write_all_at(buf, pos)
    }
    fn write_all_vectored_at(&self, bufs: &[&[u8]], pos: u64) -> io::Result<()> {
        self.inner.write_all_vectored_at(bufs, pos)
    }
    fn read_exact_at(&self, buf: &mut [u8], pos: u64) -> io::Result<()> {
        self.inner.read_exact_at(buf, pos)
    }
    fn sync_data(&self) -> io::Result<()> {
        let started = Instant::now();
        let r = self.inner.sync_data();
        self.metrics.fsync().observe(started.elapsed());
        r
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        self.inner.set_len(len)
    }
    fn std_file(&self) -> &File {
        self.inner.std_file()
    }
}
