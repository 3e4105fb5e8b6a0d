//! Unit tests of the protocol crate: generated round trips and hand-computed bytes.

mod golden;
mod roundtrip;
