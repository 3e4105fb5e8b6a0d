//! Transaction-index loading: a multi-segment log of transactions whose `.txnindex` of one
//! segment is replaced by arbitrary bytes (or deleted) opens, answers its transactions as
//! it did and rebuilds the file to what the batches say (see
//! `weir_storage::check::txn_index_load`).
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
        base.join(format!("weir-fuzz-txn-index-{}", std::process::id()))
    })
}

fuzz_target!(|data: &[u8]| {
    if let Err(broken) = weir_storage::check::txn_index_load(scratch(), data) {
        panic!("transaction index property broken: {broken}");
    }
});
