//! Nothing to build: the Rust-client compatibility tests live in `tests/`.
