//! Unit tests of the protocol crate: generated round trips and hand-computed bytes.

mod corpus;
mod golden;
mod roundtrip;
