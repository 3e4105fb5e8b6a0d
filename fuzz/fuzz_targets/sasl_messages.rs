//! PLAIN and SCRAM message parsers and the SCRAM server exchange on arbitrary bytes; the
//! property is `weir_auth::check::sasl_messages`.
#![no_main]
#![forbid(unsafe_code)]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(violation) = weir_auth::check::sasl_messages(data) {
        panic!("{violation}");
    }
});
