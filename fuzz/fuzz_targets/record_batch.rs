//! Record-batch parsing, CRC, bounded decompression and record iteration;
//! whatever parses must rebuild into a batch that parses to the same records
//! (see `weir_protocol::records::check::batch_roundtrip`).
#![no_main]
#![forbid(unsafe_code)]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(broken) = weir_protocol::records::check::batch_roundtrip(data) {
        panic!("record batch round trip broken: {broken}");
    }
});
