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
//! Each ceiling is the best of `PASSES` passes (the machine is shared and noisy; the
//! best pass is the fairest estimate of the limit, which makes the ratios conservative).

use std::fs::File;
use std::io::{Read as _, Write as _};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::Path;
use std::time::Instant;

use anyhow::Context as _;

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
    fn page_cache_read_reads_every_byte() {
        let dir = tempfile::tempdir().unwrap();
        let r = page_cache_read(dir.path(), 1_000_003, 5, 1 << 20).unwrap();
        assert_eq!(r.bytes, 1_000_003);
        assert!(r.mib_per_s > 0.0);
        // The scratch file is gone.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
