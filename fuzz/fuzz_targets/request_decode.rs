//! Request decoding for any API key and version: whatever decodes must re-encode,
//! decode to the same value, and re-encode to the same bytes.
//!
//! Input: api key (int16), version (int16), body. See `weir_protocol::check`.
#![no_main]
#![forbid(unsafe_code)]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(violation) = weir_protocol::check::request_roundtrip(data) {
        panic!("{violation}");
    }
});
