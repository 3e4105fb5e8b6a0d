//! Segment-file storage for weir: per-partition logs of Kafka v2 record
//! batches, with memory-mapped sparse offset and time indexes, crash
//! recovery and retention.
//!
//! This crate knows nothing of the Kafka wire protocol or of sockets.
#![deny(missing_docs)]
