//! Index loading: a valid multi-segment log whose `.index`/`.timeindex` files are
//! replaced by arbitrary bytes opens and answers every read and timestamp lookup as it
//! did with its own indexes (see `weir_storage::check::index_load`).
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
        base.join(format!("weir-fuzz-index-{}", std::process::id()))
    })
}

fuzz_target!(|data: &[u8]| {
    if let Err(broken) = weir_storage::check::index_load(scratch(), data) {
        panic!("index loading property broken: {broken}");
    }
});
