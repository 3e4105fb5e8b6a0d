//! Segment recovery on arbitrary file contents: `Log::open` over an arbitrary `.log`
//! (with optional arbitrary indexes and clean-shutdown marker) succeeds or fails with
//! a typed error, what it keeps is the longest valid prefix, everything served is
//! CRC-valid and contiguous, and reopening gives the same log
//! (see `weir_storage::check::segment_recovery`).
#![no_main]
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

fn scratch() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let base = if std::path::Path::new("/dev/shm").is_dir() {
            PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        base.join(format!("weir-fuzz-recovery-{}", std::process::id()))
    })
}

fuzz_target!(|data: &[u8]| {
    if let Err(broken) = weir_storage::check::segment_recovery(scratch(), data) {
        panic!("segment recovery property broken: {broken}");
    }
});
