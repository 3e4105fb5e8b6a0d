//! The file-system seam: every byte of segment data, every checkpoint and marker
//! goes through [`FileSystem`], so tests can inject failed fsyncs, a full disk and
//! power loss ([`FaultFs`]). Index files are memory-mapped caches and bypass it.
//! [`write_atomic`] is the one way a small file (checkpoints, the swap manifest, the
//! broker's metadata) is replaced.

use std::collections::{HashMap, HashSet};
use std::fmt::Debug;
use std::fs::{File, OpenOptions};
use std::io::{self, IoSlice, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// An open file of the storage engine.
#[allow(clippy::len_without_is_empty)] // a file length is an I/O result, not a collection size
pub trait StorageFile: Send + Sync + Debug {
    /// Current length in bytes.
    fn len(&self) -> io::Result<u64>;
    /// Writes all of `buf` at byte `pos`.
    fn write_all_at(&self, buf: &[u8], pos: u64) -> io::Result<()>;
    /// Writes the concatenation of `bufs` at byte `pos`, preferably in one system call.
    fn write_all_vectored_at(&self, bufs: &[&[u8]], pos: u64) -> io::Result<()> {
        let mut at = pos;
        for b in bufs {
            self.write_all_at(b, at)?;
            at += b.len() as u64;
        }
        Ok(())
    }
    /// Reads exactly `buf.len()` bytes at `pos`.
    fn read_exact_at(&self, buf: &mut [u8], pos: u64) -> io::Result<()>;
    /// Makes the data (and the length) durable (`fdatasync`).
    fn sync_data(&self) -> io::Result<()>;
    /// Truncates or extends the file.
    fn set_len(&self, len: u64) -> io::Result<()>;
    /// The underlying OS file, for memory-mapping reads.
    fn std_file(&self) -> &File;
}

/// The operations the engine performs on a directory tree.
pub trait FileSystem: Send + Sync + Debug {
    /// Opens `path` for reading and writing, creating it if `create`.
    fn open(&self, path: &Path, create: bool) -> io::Result<Arc<dyn StorageFile>>;
    /// `mkdir -p`.
    fn create_dir_all(&self, path: &Path) -> io::Result<()>;
    /// The entries of a directory (full paths), unordered.
    fn read_dir(&self, path: &Path) -> io::Result<Vec<PathBuf>>;
    /// Whether `path` exists.
    fn exists(&self, path: &Path) -> bool;
    /// Removes a file.
    fn remove_file(&self, path: &Path) -> io::Result<()>;
    /// Removes a directory tree.
    fn remove_dir_all(&self, path: &Path) -> io::Result<()>;
    /// Atomically renames `from` to `to` (replacing `to`).
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Makes the directory's entries durable (`fsync` on the directory).
    fn sync_dir(&self, path: &Path) -> io::Result<()>;
}

/// The temporary name [`write_atomic`] writes `path` under first: `path` with `.tmp` appended.
pub fn temp_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".tmp");
    PathBuf::from(name)
}

/// Replaces `path` with `bytes` atomically and durably through `fs`: the bytes go to
/// [`temp_path`] (truncated first, in case a crash left one), which is fsync'd and renamed over
/// `path`, then the directory is fsync'd. After a crash at any step `path` holds either its old
/// or its new contents, whole; a stale temporary file may stay behind. `Ok` means durable.
pub fn write_atomic(fs: &dyn FileSystem, path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path.parent().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} has no parent directory", path.display()),
        )
    })?;
    let tmp = temp_path(path);
    let f = fs.open(&tmp, true)?;
    f.set_len(0)?;
    f.write_all_at(bytes, 0)?;
    f.sync_data()?;
    drop(f);
    fs.rename(&tmp, path)?;
    fs.sync_dir(dir)
}

/// Reads the whole of a (small) file through `fs`.
pub fn read_file(fs: &dyn FileSystem, path: &Path) -> io::Result<Vec<u8>> {
    let f = fs.open(path, false)?;
    let len = usize::try_from(f.len()?).map_err(io::Error::other)?;
    let mut buf = vec![0u8; len];
    f.read_exact_at(&mut buf, 0)?;
    Ok(buf)
}

/// The real file system.
#[derive(Debug, Default, Clone, Copy)]
pub struct RealFs;

#[derive(Debug)]
struct RealFile(File);

impl StorageFile for RealFile {
    fn len(&self) -> io::Result<u64> {
        Ok(self.0.metadata()?.len())
    }
    fn write_all_at(&self, buf: &[u8], pos: u64) -> io::Result<()> {
        self.0.write_all_at(buf, pos)
    }
    fn write_all_vectored_at(&self, bufs: &[&[u8]], pos: u64) -> io::Result<()> {
        // `writev` at the file cursor: one system call for header and records (std has
        // no `pwritev`). Only the log's single writer moves this cursor.
        let mut f = &self.0;
        f.seek(SeekFrom::Start(pos))?;
        let mut slices: Vec<IoSlice<'_>> = bufs.iter().map(|b| IoSlice::new(b)).collect();
        let mut rest = &mut slices[..];
        while !rest.is_empty() {
            let n = f.write_vectored(rest)?;
            if n == 0 {
                return Err(io::Error::from(io::ErrorKind::WriteZero));
            }
            IoSlice::advance_slices(&mut rest, n);
        }
        Ok(())
    }
    fn read_exact_at(&self, buf: &mut [u8], pos: u64) -> io::Result<()> {
        self.0.read_exact_at(buf, pos)
    }
    fn sync_data(&self) -> io::Result<()> {
        self.0.sync_data()
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        self.0.set_len(len)
    }
    fn std_file(&self) -> &File {
        &self.0
    }
}

impl FileSystem for RealFs {
    fn open(&self, path: &Path, create: bool) -> io::Result<Arc<dyn StorageFile>> {
        let f = OpenOptions::new()
            .read(true)
            .write(true)
            .create(create)
            .truncate(false)
            .open(path)?;
        Ok(Arc::new(RealFile(f)))
    }
    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        std::fs::create_dir_all(path)
    }
    fn read_dir(&self, path: &Path) -> io::Result<Vec<PathBuf>> {
        std::fs::read_dir(path)?
            .map(|e| e.map(|e| e.path()))
            .collect()
    }
    fn exists(&self, path: &Path) -> bool {
        path.exists()
    }
    fn remove_file(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_file(path)
    }
    fn remove_dir_all(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_dir_all(path)
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        std::fs::rename(from, to)
    }
    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        File::open(path)?.sync_all()
    }
}

/// A fault-injecting file system over the real one, for tests.
///
/// It tracks, per file, the length known durable (as of the last successful
/// `sync_data`), and can:
/// - fail the next N fsyncs ([`FaultFs::fail_next_syncs`]) with `EIO`;
/// - run out of space after N more bytes ([`FaultFs::set_space_left`]): the write
///   that crosses the limit writes the bytes that fit, then fails (a torn write);
/// - simulate power loss ([`FaultFs::crash`]): every tracked file is cut back to its
///   durable length, keeping optionally a few unsynced bytes to model a partial flush.
///
/// A file created since its directory's last successful fsync disappears on power loss.
///
/// Model limits: writes below a file's durable length lower it to the write position
/// (conservative); renames and removals are assumed durable once made (a file renamed over
/// a durable name keeps that name across power loss, with the new contents); files that
/// existed before the `FaultFs` first opened them count as durable at their length
/// then; files outside the seam (index files) are untouched by `crash`.
#[derive(Debug, Clone, Default)]
pub struct FaultFs {
    state: Arc<Mutex<FaultState>>,
}

#[derive(Debug, Default)]
struct FaultState {
    fail_syncs: u32,
    space_left: Option<u64>,
    durable_len: HashMap<PathBuf, u64>,
    syncs_ok: u64,
    sync_delay: Duration,
    /// Files created since their directory was last fsynced: power loss removes them.
    unsynced_creates: HashSet<PathBuf>,
    /// Mutating operations so far (creates, writes, truncations, fsyncs, renames, removals).
    ops: u64,
    /// Operations with this index or later fail with `EIO` (a process dying there).
    fail_ops_from: Option<u64>,
}

impl FaultState {
    /// Counts one mutating operation; `Err` if it is to fail.
    fn op(&mut self) -> io::Result<()> {
        let n = self.ops;
        self.ops += 1;
        if self.fail_ops_from.is_some_and(|from| n >= from) {
            return Err(io::Error::from_raw_os_error(libc_eio()));
        }
        Ok(())
    }
}

#[derive(Debug)]
struct FaultFile {
    inner: File,
    path: PathBuf,
    state: Arc<Mutex<FaultState>>,
}

fn lock(state: &Mutex<FaultState>) -> MutexGuard<'_, FaultState> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

impl FaultFs {
    /// A fault-free instance.
    pub fn new() -> Self {
        Self::default()
    }
    /// The next `n` fsyncs (files and directories) fail with `EIO`.
    pub fn fail_next_syncs(&self, n: u32) {
        lock(&self.state).fail_syncs = n;
    }
    /// After `bytes` more bytes written, writes fail with `ENOSPC`; `None` lifts the limit.
    pub fn set_space_left(&self, bytes: Option<u64>) {
        lock(&self.state).space_left = bytes;
    }
    /// Every file fsync takes at least `delay` (to make fsyncs overlap in tests).
    pub fn set_sync_delay(&self, delay: Duration) {
        lock(&self.state).sync_delay = delay;
    }
    /// Mutating operations (creates, writes, truncations, fsyncs, renames, removals)
    /// run or attempted so far.
    pub fn ops(&self) -> u64 {
        lock(&self.state).ops
    }
    /// From the `n`-th mutating operation on (counting from [`FaultFs::ops`]' origin),
    /// every one fails with `EIO`: the process "dies" there. `None` lifts it.
    pub fn fail_ops_from(&self, n: Option<u64>) {
        lock(&self.state).fail_ops_from = n;
    }
    /// Successful fsyncs so far.
    pub fn syncs_ok(&self) -> u64 {
        lock(&self.state).syncs_ok
    }
    /// Simulates power loss: cuts every tracked file back to its durable length plus
    /// at most `keep_unsynced_bytes` of what was written after it, and removes files
    /// created since their directory's last fsync. Open handles must be dropped (the
    /// log closed or leaked) by the caller before reopening.
    pub fn crash(&self, keep_unsynced_bytes: u64) -> io::Result<()> {
        let keep = usize::try_from(keep_unsynced_bytes).unwrap_or(usize::MAX);
        self.crash_with(|_, tail| tail.truncate(keep))
    }

    /// Simulates power loss with a caller-chosen fate for each file's unsynced bytes:
    /// `tail` receives them (the bytes after the durable length) and whatever it leaves
    /// in the vector is what the disk kept — a prefix, zeroed pages, garbage.
    pub fn crash_with(&self, mut tail: impl FnMut(&Path, &mut Vec<u8>)) -> io::Result<()> {
        let mut st = lock(&self.state);
        for path in std::mem::take(&mut st.unsynced_creates) {
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
            st.durable_len.remove(&path);
        }
        for (path, &durable) in &st.durable_len {
            let f = match OpenOptions::new().read(true).write(true).open(path) {
                Ok(f) => f,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            let len = f.metadata()?.len();
            let mut rest =
                vec![0u8; usize::try_from(len.saturating_sub(durable)).map_err(io::Error::other)?];
            f.read_exact_at(&mut rest, durable.min(len))?;
            tail(path, &mut rest);
            f.set_len(durable.min(len))?;
            f.write_all_at(&rest, durable.min(len))?;
        }
        Ok(())
    }
}

impl StorageFile for FaultFile {
    fn len(&self) -> io::Result<u64> {
        Ok(self.inner.metadata()?.len())
    }
    fn write_all_at(&self, buf: &[u8], pos: u64) -> io::Result<()> {
        let mut st = lock(&self.state);
        st.op()?;
        if let Some(d) = st.durable_len.get_mut(&self.path) {
            *d = (*d).min(pos);
        }
        if let Some(left) = st.space_left {
            if (buf.len() as u64) > left {
                st.space_left = Some(0);
                let fit = usize::try_from(left).unwrap_or(usize::MAX).min(buf.len());
                self.inner.write_all_at(&buf[..fit], pos)?;
                return Err(io::Error::from_raw_os_error(libc_enospc()));
            }
            st.space_left = Some(left - buf.len() as u64);
        }
        drop(st);
        self.inner.write_all_at(buf, pos)
    }
    fn read_exact_at(&self, buf: &mut [u8], pos: u64) -> io::Result<()> {
        self.inner.read_exact_at(buf, pos)
    }
    fn sync_data(&self) -> io::Result<()> {
        let mut st = lock(&self.state);
        st.op()?;
        if st.fail_syncs > 0 {
            st.fail_syncs -= 1;
            return Err(io::Error::from_raw_os_error(libc_eio()));
        }
        let delay = st.sync_delay;
        drop(st);
        std::thread::sleep(delay);
        self.inner.sync_data()?;
        let len = self.inner.metadata()?.len();
        let mut st = lock(&self.state);
        st.durable_len.insert(self.path.clone(), len);
        st.syncs_ok += 1;
        Ok(())
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        lock(&self.state).op()?;
        self.inner.set_len(len)?;
        let mut st = lock(&self.state);
        if let Some(d) = st.durable_len.get_mut(&self.path) {
            *d = (*d).min(len);
        }
        Ok(())
    }
    fn std_file(&self) -> &File {
        &self.inner
    }
}

// ENOSPC and EIO on Linux (asm-generic errno values), kept here so the seam needs no libc.
fn libc_enospc() -> i32 {
    28
}
fn libc_eio() -> i32 {
    5
}

impl FileSystem for FaultFs {
    fn open(&self, path: &Path, create: bool) -> io::Result<Arc<dyn StorageFile>> {
        let existed = path.exists();
        if create && !existed {
            lock(&self.state).op()?;
        }
        let f = OpenOptions::new()
            .read(true)
            .write(true)
            .create(create)
            .truncate(false)
            .open(path)?;
        let len = f.metadata()?.len();
        let mut st = lock(&self.state);
        st.durable_len
            .entry(path.to_path_buf())
            .or_insert(if existed { len } else { 0 });
        if !existed {
            st.unsynced_creates.insert(path.to_path_buf());
        }
        Ok(Arc::new(FaultFile {
            inner: f,
            path: path.to_path_buf(),
            state: Arc::clone(&self.state),
        }))
    }
    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        std::fs::create_dir_all(path)
    }
    fn read_dir(&self, path: &Path) -> io::Result<Vec<PathBuf>> {
        RealFs.read_dir(path)
    }
    fn exists(&self, path: &Path) -> bool {
        path.exists()
    }
    fn remove_file(&self, path: &Path) -> io::Result<()> {
        lock(&self.state).op()?;
        std::fs::remove_file(path)?;
        let mut st = lock(&self.state);
        st.durable_len.remove(path);
        st.unsynced_creates.remove(path);
        Ok(())
    }
    fn remove_dir_all(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_dir_all(path)?;
        let mut st = lock(&self.state);
        st.durable_len.retain(|p, _| !p.starts_with(path));
        st.unsynced_creates.retain(|p| !p.starts_with(path));
        Ok(())
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        lock(&self.state).op()?;
        // A name that was already durable stays: after power loss it holds the old or the
        // new file, never nothing (this model keeps the new one).
        let replaces_durable = to.exists() && !lock(&self.state).unsynced_creates.contains(to);
        std::fs::rename(from, to)?;
        let mut st = lock(&self.state);
        if let Some(d) = st.durable_len.remove(from) {
            st.durable_len.insert(to.to_path_buf(), d);
        }
        if st.unsynced_creates.remove(from) && !replaces_durable {
            st.unsynced_creates.insert(to.to_path_buf());
        }
        Ok(())
    }
    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        let mut st = lock(&self.state);
        st.op()?;
        if st.fail_syncs > 0 {
            st.fail_syncs -= 1;
            return Err(io::Error::from_raw_os_error(libc_eio()));
        }
        drop(st);
        RealFs.sync_dir(path)?;
        lock(&self.state)
            .unsynced_creates
            .retain(|p| p.parent() != Some(path));
        Ok(())
    }
}
