//! Where log work runs. Appends and reads run synchronously inside their handler (an append
//! must happen before the handler's first suspension point, or pipelined requests of one
//! connection could be appended out of order, see `connection.rs`), but a large one must not
//! hold an async worker: a 1 MiB produce is validated (CRC-32C, every record, decompression)
//! and copied into the page cache, a 1 MiB fetch read CRC-checks every batch and may fault
//! its pages in, and meanwhile every other connection served by that worker waits.
//!
//! So work up to [`INLINE_LOG_BYTES_MAX`] runs inline (the common small request pays
//! nothing), and larger work runs under [`tokio::task::block_in_place`]: still synchronous
//! for the handler, so request order holds, while the runtime hands the worker's other tasks
//! to another thread. Those threads come from tokio's blocking pool, whose size bounds how
//! many large operations run at once. On a current-thread runtime (where `block_in_place`
//! is not available) everything runs inline. The decision and its measurement are in
//! docs/broker.md, "Where log work runs".

use tokio::runtime::{Handle, RuntimeFlavor};

/// Bytes of log work a handler does inline on its async worker: a produced batch of up to
/// this many (uncompressed) bytes, a fetch read asking for up to this many. Default 64 KiB.
pub const INLINE_LOG_BYTES_MAX: usize = 64 * 1024;

/// How many bytes of work a compressed produced batch is counted as, per wire byte: its
/// records are decompressed to be validated, and how far is unknown before they are (the
/// budget, `produce_decompressed_bytes_max`, bounds it). A compressed batch of more than
/// `INLINE_LOG_BYTES_MAX / 16` = 4 KiB runs off the worker.
pub const COMPRESSED_WORK_FACTOR: usize = 16;

/// Offset of the low byte of a v2 batch's `attributes` (int16 at bytes 21..23); its low three
/// bits are the compression codec, 0 = none.
const ATTRIBUTES_LOW_BYTE: usize = 22;
const COMPRESSION_MASK: u8 = 0x07;

/// The work a produced batch stands for, in bytes (see [`COMPRESSED_WORK_FACTOR`]).
pub(crate) fn produce_work_bytes(batch: &[u8]) -> usize {
    let compressed = batch
        .get(ATTRIBUTES_LOW_BYTE)
        .is_some_and(|a| a & COMPRESSION_MASK != 0);
    if compressed {
        batch.len().saturating_mul(COMPRESSED_WORK_FACTOR)
    } else {
        batch.len()
    }
}

/// Runs `f`, which does about `work_bytes` of log work: inline up to
/// [`INLINE_LOG_BYTES_MAX`], otherwise under `block_in_place` (multi-thread runtime only).
pub(crate) fn run<T>(work_bytes: usize, f: impl FnOnce() -> T) -> T {
    if work_bytes <= INLINE_LOG_BYTES_MAX || !on_multi_thread_runtime() {
        f()
    } else {
        tokio::task::block_in_place(f)
    }
}

fn on_multi_thread_runtime() -> bool {
    Handle::try_current().is_ok_and(|h| h.runtime_flavor() == RuntimeFlavor::MultiThread)
}

#[cfg(test)]
mod tests {
    use super::*;
    use weir_protocol::records::{BatchBuilder, BatchSettings, Compression, NewRecord};

    fn batch(compression: Compression) -> bytes::Bytes {
        let mut b = BatchBuilder::new(BatchSettings {
            compression,
            ..BatchSettings::default()
        });
        b.push(NewRecord {
            timestamp: 1,
            value: Some(bytes::Bytes::from(vec![b'x'; 1000])),
            ..Default::default()
        })
        .unwrap();
        b.build().unwrap()
    }

    #[test]
    fn compressed_batches_count_for_more_work() {
        let plain = batch(Compression::None);
        assert_eq!(produce_work_bytes(&plain), plain.len());
        let zipped = batch(Compression::Gzip);
        assert_eq!(
            produce_work_bytes(&zipped),
            zipped.len() * COMPRESSED_WORK_FACTOR
        );
        assert_eq!(produce_work_bytes(&[0; 3]), 3);
    }

    #[test]
    fn large_work_runs_on_a_current_thread_runtime_too() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        assert_eq!(rt.block_on(async { run(usize::MAX, || 7) }), 7);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn large_work_runs_off_the_worker_on_a_multi_thread_runtime() {
        assert_eq!(run(INLINE_LOG_BYTES_MAX + 1, || 8), 8);
        assert_eq!(run(1, || 9), 9);
    }
}
