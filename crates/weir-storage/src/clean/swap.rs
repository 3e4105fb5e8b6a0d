//! The cleaner's crash-safe file protocol (`docs/format.md`, "Swap protocol").
//!
//! 1. Each group of old segments `[b0, end)` is rewritten into `<b0>.log.cleaned`,
//!    which is fsynced; then the directory is fsynced. A crash here leaves only
//!    `.cleaned` files, which recovery deletes: the log is the old one.
//! 2. The manifest `weir-clean-swap` (every group's `b0` and `end`) is written
//!    atomically (temp file, fsync, rename, directory fsync). Its rename is the commit
//!    point: from here on, recovery completes the swap.
//! 3. For each group: rename `<b0>.log.cleaned` over `<b0>.log`, unlink `<b0>`'s index
//!    files (rebuilt from the new data) and every file of the old segments with a base in
//!    `(b0, end)`; fsync the directory; then the manifest is removed.
//!
//! Recovery (`recover`, the first thing `Log::open` does) with a manifest replays step 3,
//! which is idempotent: a `.cleaned` file still present is renamed, old files still
//! present are unlinked. Without a manifest it unlinks every `.cleaned` file. Old files
//! are replaced by rename or unlinked, never truncated: readers holding mappings of them
//! keep valid pages.

use std::io;
use std::path::{Path, PathBuf};

use crate::error::LogError;
use crate::io::{FileSystem, write_atomic};
use crate::segment::{parse_log_name, segment_path};

/// Suffix of a segment file being written by the cleaner.
pub const CLEANED_SUFFIX: &str = ".cleaned";
/// Name of the swap manifest inside a log directory.
pub const SWAP_MANIFEST_FILE: &str = "weir-clean-swap";
const MAGIC: &[u8; 8] = b"WEIRSWP1";
/// Bytes of one manifest entry: `b0` and `end`, i64 each.
const ENTRY_BYTES: usize = 16;
/// Header (magic, u32 count) and trailer (CRC-32C).
const FIXED_BYTES: usize = 8 + 4 + 4;
/// Most groups one manifest lists (one clean never writes more segments than a log has;
/// this bounds what recovery reads).
pub const SWAP_GROUPS_MAX: usize = 1 << 20;

/// One group: old segments with bases in `[first_base, end)` become `<first_base>.log`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SwapGroup {
    pub(crate) first_base: i64,
    pub(crate) end: i64,
}

pub(crate) fn cleaned_path(dir: &Path, base: i64) -> PathBuf {
    let mut p = segment_path(dir, base, "log").into_os_string();
    p.push(CLEANED_SUFFIX);
    PathBuf::from(p)
}

fn manifest_path(dir: &Path) -> PathBuf {
    dir.join(SWAP_MANIFEST_FILE)
}

fn encode(groups: &[SwapGroup]) -> Vec<u8> {
    let mut b = Vec::with_capacity(FIXED_BYTES + groups.len() * ENTRY_BYTES);
    b.extend_from_slice(MAGIC);
    b.extend_from_slice(&(groups.len() as u32).to_be_bytes());
    for g in groups {
        b.extend_from_slice(&g.first_base.to_be_bytes());
        b.extend_from_slice(&g.end.to_be_bytes());
    }
    let crc = crc32c::crc32c(&b);
    b.extend_from_slice(&crc.to_be_bytes());
    b
}

fn decode(b: &[u8]) -> Option<Vec<SwapGroup>> {
    if b.len() < FIXED_BYTES || &b[..8] != MAGIC {
        return None;
    }
    let (body, crc) = b.split_at(b.len() - 4);
    if crc32c::crc32c(body) != u32::from_be_bytes([crc[0], crc[1], crc[2], crc[3]]) {
        return None;
    }
    let n = u32::from_be_bytes([b[8], b[9], b[10], b[11]]) as usize;
    // The count is checked against the bytes present before anything is allocated.
    if n > SWAP_GROUPS_MAX || body.len() != 12 + n.checked_mul(ENTRY_BYTES)? {
        return None;
    }
    let mut out = Vec::with_capacity(n);
    for e in body[12..].chunks_exact(ENTRY_BYTES) {
        let mut a = [0u8; 8];
        a.copy_from_slice(&e[..8]);
        let first_base = i64::from_be_bytes(a);
        a.copy_from_slice(&e[8..]);
        let end = i64::from_be_bytes(a);
        if first_base < 0 || end <= first_base {
            return None;
        }
        out.push(SwapGroup { first_base, end });
    }
    Some(out)
}

/// Step 2: writes the manifest atomically. When this returns `Ok`, the swap is committed.
pub(crate) fn commit(fs: &dyn FileSystem, dir: &Path, groups: &[SwapGroup]) -> io::Result<()> {
    write_atomic(fs, &manifest_path(dir), &encode(groups))
}

fn remove_if_present(fs: &dyn FileSystem, p: &Path) -> io::Result<()> {
    match fs.remove_file(p) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Step 3 for every group, then the manifest's removal. Idempotent.
pub(crate) fn apply(fs: &dyn FileSystem, dir: &Path, groups: &[SwapGroup]) -> io::Result<()> {
    let mut bases: Vec<i64> = fs
        .read_dir(dir)?
        .iter()
        .filter_map(|p| parse_log_name(p))
        .collect();
    bases.sort_unstable();
    for g in groups {
        let cleaned = cleaned_path(dir, g.first_base);
        if fs.exists(&cleaned) {
            fs.rename(&cleaned, &segment_path(dir, g.first_base, "log"))?;
        }
        for ext in ["index", "timeindex"] {
            remove_if_present(fs, &segment_path(dir, g.first_base, ext))?;
        }
        for &b in bases.iter().filter(|&&b| b > g.first_base && b < g.end) {
            for ext in ["log", "index", "timeindex", "txnindex"] {
                remove_if_present(fs, &segment_path(dir, b, ext))?;
            }
        }
    }
    fs.sync_dir(dir)?;
    remove_if_present(fs, &manifest_path(dir))?;
    fs.sync_dir(dir)
}

/// Removes every `.cleaned` file of `dir` (an uncommitted clean).
pub(crate) fn remove_cleaned(fs: &dyn FileSystem, dir: &Path) -> io::Result<()> {
    for p in fs.read_dir(dir)? {
        if p.to_str().is_some_and(|s| s.ends_with(CLEANED_SUFFIX)) {
            remove_if_present(fs, &p)?;
        }
    }
    Ok(())
}

/// Recovery: completes a committed swap, or removes the files of an uncommitted one.
/// A manifest that fails its check cannot come from a torn write (it is renamed into
/// place whole); it means a damaged disk, and opening stops rather than guess which
/// segments are current.
pub(crate) fn recover(fs: &dyn FileSystem, dir: &Path) -> Result<(), LogError> {
    let mp = manifest_path(dir);
    if fs.exists(&mp) {
        let f = fs
            .open(&mp, false)
            .map_err(|e| LogError::io("open", &mp, e))?;
        let len = f.len().map_err(|e| LogError::io("stat", &mp, e))?;
        let max = (FIXED_BYTES + SWAP_GROUPS_MAX * ENTRY_BYTES) as u64;
        let groups = if len <= max {
            let mut b = vec![0u8; len as usize];
            f.read_exact_at(&mut b, 0)
                .map_err(|e| LogError::io("read", &mp, e))?;
            decode(&b)
        } else {
            None
        };
        drop(f);
        let Some(groups) = groups else {
            return Err(LogError::io(
                "decode swap manifest",
                &mp,
                io::Error::new(io::ErrorKind::InvalidData, "damaged swap manifest"),
            ));
        };
        tracing::warn!(dir = %dir.display(), groups = groups.len(), "completing an interrupted cleaner swap");
        apply(fs, dir, &groups).map_err(|e| LogError::io("complete cleaner swap in", dir, e))?;
    }
    remove_cleaned(fs, dir).map_err(|e| LogError::io("remove cleaned files in", dir, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_round_trips_and_rejects_damage() {
        let g = vec![
            SwapGroup {
                first_base: 0,
                end: 10,
            },
            SwapGroup {
                first_base: 10,
                end: 99,
            },
        ];
        let b = encode(&g);
        assert_eq!(decode(&b), Some(g));
        for i in 0..b.len() {
            let mut d = b.clone();
            d[i] ^= 0x04;
            assert_eq!(decode(&d), None, "byte {i}");
        }
        assert_eq!(decode(&b[..b.len() - 1]), None);
    }
}
