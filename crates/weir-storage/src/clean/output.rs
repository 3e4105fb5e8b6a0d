//! The cleaner's output files: buffered sequential writes to one `.cleaned` file, and the
//! fsync of all of a clean's files at once.

use std::path::PathBuf;
use std::sync::Arc;

use crate::error::LogError;
use crate::io::StorageFile;

use super::CLEAN_WRITE_BUFFER_BYTES;
use super::swap::SwapGroup;

/// Buffered sequential writes to one `.cleaned` file.
pub(crate) struct Output {
    pub(crate) path: PathBuf,
    pub(crate) file: Arc<dyn StorageFile>,
    pub(crate) buf: Vec<u8>,
    pub(crate) written: u64,
}

impl Output {
    pub(crate) fn push(&mut self, bytes: &[u8]) -> Result<(), LogError> {
        self.buf.extend_from_slice(bytes);
        if self.buf.len() >= CLEAN_WRITE_BUFFER_BYTES {
            self.flush()?;
        }
        Ok(())
    }
    pub(crate) fn flush(&mut self) -> Result<(), LogError> {
        self.file
            .write_all_at(&self.buf, self.written)
            .map_err(|e| LogError::io("write", &self.path, e))?;
        self.written += self.buf.len() as u64;
        self.buf.clear();
        Ok(())
    }
    pub(crate) fn len(&self) -> u64 {
        self.written + self.buf.len() as u64
    }
}

/// Threads that fsync a clean's output files at once, at most.
const CLEAN_SYNC_THREADS_MAX: usize = 8;

/// `fdatasync`s every output file, up to [`CLEAN_SYNC_THREADS_MAX`] at once: a clean of
/// many groups waits for about one device flush instead of one per group in turn (the
/// files are independent; nothing depends on any of them before all are durable).
pub(crate) fn sync_all_data(files: &[(Output, SwapGroup)]) -> Result<(), LogError> {
    let sync = |o: &Output| {
        o.file
            .sync_data()
            .map_err(|e| LogError::io("fsync", &o.path, e))
    };
    if files.len() <= 1 {
        return files.iter().try_for_each(|(o, _)| sync(o));
    }
    let per_thread = files.len().div_ceil(CLEAN_SYNC_THREADS_MAX);
    std::thread::scope(|scope| {
        let handles: Vec<_> = files
            .chunks(per_thread)
            .map(|chunk| scope.spawn(move || chunk.iter().try_for_each(|(o, _)| sync(o))))
            .collect();
        let mut result = Ok(());
        for h in handles {
            let r = h.join().unwrap_or_else(|_| {
                Err(LogError::io(
                    "fsync",
                    &files[0].0.path,
                    std::io::Error::other("fsync thread panicked"),
                ))
            });
            if result.is_ok() {
                result = r;
            }
        }
        result
    })
}
