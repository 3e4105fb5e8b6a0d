//! Shared helpers for the benchmarks (ceilings measured in the same run).
#![forbid(unsafe_code)]
