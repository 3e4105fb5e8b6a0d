//! The machine's own limits, measured in the same run as the figure they bound.
//!
//! - **loopback TCP**: a sender thread and a receiver thread over 127.0.0.1 move the
//!   same number of bytes as the benchmark did, written and read in chunks of the size
//!   the benchmark's requests or responses had. No protocol, no parsing: the most any
//!   client and broker on this machine can move through a local socket.
//! - **page-cache read**: `read(2)` of a file of the same size, just written and so
//!   cached, in chunks of the fetch size: the most a broker can read from the page
//!   cache (for `consume`, whose data was also just written).
//!
//! - **storage append** (for `produce`): `weir-storage` in-process appending the same
//!   records in batches of the run's batch size to a fresh log in the scratch directory,
//!   page-cache mode (no fsync): what the storage engine alone sustains, with no network.
//!
//! Each ceiling is the best of `PASSES` passes (the machine is shared and noisy; the
//! best pass is the fairest estimate of the limit, which makes the ratios conservative).

use std::fs::File;
use std::io::{Read as _, Write as _};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::Path;
use std::time::Instant;

use anyhow::Context as _;
use weir_storage::{AppendOptions, Log, LogConfig, RealFs};

use super::report::Rate;

/// Passes of each ceiling; the best is kept.
pub const PASSES: u32 = 3;
/// Smallest chunk a ceiling moves per call, bytes (4 KiB).
const CHUNK_BYTES_MIN: usize = 4096;
/// Largest chunk a ceiling moves per call, bytes (16 MiB).
const CHUNK_BYTES_MAX: usize = 16 << 20;

/// The best of `PASSES` runs of `pass`.
fn best(mut pass: impl FnMut() -> anyhow::Result<Rate>) -> anyhow::Result<Rate> {
    let mut best: Option<Rate> = None;
    for _ in 0..PASSES {
        let r = pass()?;
        if best.is_none_or(|b| r.mib_per_s > b.mib_per_s) {
            best = Some(r);
        }
    }
    best.context("no ceiling pass ran")
}

/// Loopback TCP throughput moving `bytes` in `chunk_bytes` writes (`records` is carried
/// into the rate so records/s compare too).
pub fn loopback_tcp(bytes: u64, records: u64, chunk_bytes: usize) -> anyhow::Result<Rate> {
    let chunk = chunk_bytes.clamp(CHUNK_BYTES_MIN, CHUNK_BYTES_MAX);
    best(|| loopback_pass(bytes, records, chunk))
}

fn loopback_pass(bytes: u64, records: u64, chunk: usize) -> anyhow::Result<Rate> {
    let listener = TcpListener::bind("127.0.0.1:0").context("binding a loopback listener")?;
    let addr = listener.local_addr()?;
    let receiver = std::thread::spawn(move || -> std::io::Result<u64> {
        let (mut s, _) = listener.accept()?;
        let mut buf = vec![0u8; chunk];
        let mut got = 0u64;
        loop {
            let n = s.read(&mut buf)?;
            if n == 0 {
                return Ok(got);
            }
            got += n as u64;
        }
    });
    let mut s = TcpStream::connect(addr).context("connecting over loopback")?;
    s.set_nodelay(true)?;
    let buf = vec![0x5au8; chunk];
    let started = Instant::now();
    let mut left = bytes;
    while left > 0 {
        let n = usize::try_from(left).unwrap_or(usize::MAX).min(chunk);
        s.write_all(&buf[..n])?;
        left -= n as u64;
    }
    s.shutdown(Shutdown::Write)?;
    let got = receiver
        .join()
        .map_err(|_| anyhow::anyhow!("the loopback receiver panicked"))?
        .context("loopback receiver")?;
    let elapsed = started.elapsed();
    anyhow::ensure!(got == bytes, "loopback moved {got} of {bytes} bytes");
    Ok(Rate::new(records, bytes, elapsed))
}

/// Page-cache read throughput of a `bytes`-long file written in `dir` (removed after),
/// read in `chunk_bytes` calls.
pub fn page_cache_read(
    dir: &Path,
    bytes: u64,
    records: u64,
    chunk_bytes: usize,
) -> anyhow::Result<Rate> {
    let chunk = chunk_bytes.clamp(CHUNK_BYTES_MIN, CHUNK_BYTES_MAX);
    let file = tempfile::Builder::new()
        .prefix("weir-bench-ceiling-")
        .tempfile_in(dir)
        .with_context(|| format!("creating a scratch file in {}", dir.display()))?;
    {
        let mut f = file.as_file();
        let buf = vec![0x5au8; chunk];
        let mut left = bytes;
        while left > 0 {
            let n = usize::try_from(left).unwrap_or(usize::MAX).min(chunk);
            f.write_all(&buf[..n])?;
            left -= n as u64;
        }
        f.flush()?;
    }
    let path = file.path().to_path_buf();
    best(|| read_pass(&path, records, chunk))
}

fn read_pass(path: &Path, records: u64, chunk: usize) -> anyhow::Result<Rate> {
    let mut f = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut buf = vec![0u8; chunk];
    let mut got = 0u64;
    let started = Instant::now();
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        got += n as u64;
    }
    let elapsed = started.elapsed();
    std::hint::black_box(&buf);
    Ok(Rate::new(records, got, elapsed))
}

/// Bytes a record adds to a batch beyond its value, at most (length, attributes, deltas,
/// key and header counts as varints), for sizing a batch under `max_message_bytes`.
const RECORD_OVERHEAD_BYTES_MAX: usize = 32;
/// Bytes of a v2 batch header.
const BATCH_HEADER_BYTES: usize = 61;

/// Storage-only append throughput: `records` records of `record_size` value bytes,
/// `batch_bytes` of values per batch, appended to a fresh log under `dir` (removed after).
pub fn storage_append(
    dir: &Path,
    records: u64,
    record_size: usize,
    batch_bytes: usize,
) -> anyhow::Result<Rate> {
    let config = LogConfig::default();
    let fit = usize::try_from(config.max_message_bytes)
        .unwrap_or(usize::MAX)
        .saturating_sub(BATCH_HEADER_BYTES)
        / (record_size + RECORD_OVERHEAD_BYTES_MAX);
    let per_batch = (batch_bytes / record_size.max(1)).clamp(1, fit.max(1));
    let batch = weir_storage::testing::batch(per_batch, record_size, 0);
    let batches = records.div_ceil(per_batch as u64).max(1);
    let appended = batches * per_batch as u64;
    best(|| {
        let scratch = tempfile::Builder::new()
            .prefix("weir-bench-storage-")
            .tempdir_in(dir)
            .with_context(|| format!("creating a scratch log in {}", dir.display()))?;
        let log_dir = scratch.path().join("bench-0");
        std::fs::create_dir(&log_dir)?;
        let log = Log::open(&log_dir, config, std::sync::Arc::new(RealFs))?;
        let started = Instant::now();
        for _ in 0..batches {
            log.append(&batch, AppendOptions::default())?;
        }
        let elapsed = started.elapsed();
        log.close()?;
        Ok(Rate::new(appended, appended * record_size as u64, elapsed))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_moves_every_byte() {
        let r = loopback_tcp(3 * 65536 + 17, 10, 65536).unwrap();
        assert_eq!(r.bytes, 3 * 65536 + 17);
        assert_eq!(r.records, 10);
        assert!(r.mib_per_s > 0.0);
    }

    #[test]
    fn storage_append_writes_whole_batches_and_cleans_up() {
        let dir = tempfile::tempdir().unwrap();
        let r = storage_append(dir.path(), 1000, 100, 4096).unwrap();
        // 40 records per batch: 25 batches.
        assert_eq!(r.records, 1000);
        assert_eq!(r.bytes, 100_000);
        let r = storage_append(dir.path(), 1001, 100, 4096).unwrap();
        assert_eq!(r.records, 1040);
        assert!(r.mib_per_s > 0.0);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn page_cache_read_reads_every_byte() {
        let dir = tempfile::tempdir().unwrap();
        let r = page_cache_read(dir.path(), 1_000_003, 5, 1 << 20).unwrap();
        assert_eq!(r.bytes, 1_000_003);
        assert!(r.mib_per_s > 0.0);
        // The scratch file is gone.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
