//! The cleaner's codecs: decompress a batch's records section within a byte budget and
//! compress the filtered records with the batch's own codec.
//!
//! This is separate from `weir-protocol`'s codecs on purpose: the storage crate does not
//! depend on the protocol crate (the protocol crate knows requests, the storage crate
//! knows files), and the cleaner needs only whole-section decode/encode of data that was
//! already validated when it was produced. Every decompression reads through a reader
//! capped at `budget + 1` bytes, so no allocation follows a size the input declares.

use std::io::{Read, Write};

use thiserror::Error;

/// Attribute bits 0..=2: the compression codec.
pub(crate) const ATTR_COMPRESSION_MASK: i16 = 0x07;
/// The xerial snappy stream magic (what Java's snappy-java writes).
const XERIAL_MAGIC: [u8; 8] = [0x82, b'S', b'N', b'A', b'P', b'P', b'Y', 0];
/// Magic, version and compatible version.
const XERIAL_HEADER_BYTES: usize = 16;
/// Uncompressed bytes per xerial chunk written (snappy-java's default block size).
const XERIAL_CHUNK_BYTES: usize = 32 * 1024;
/// zstd level written (Kafka's default `compression.zstd.level`).
const ZSTD_LEVEL: i32 = 3;
/// Largest zstd window accepted when reading (log2 bytes): zstd's own default limit.
const ZSTD_WINDOW_LOG_MAX: u32 = 27;

/// A batch codec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Codec {
    None,
    Gzip,
    Snappy,
    Lz4,
    Zstd,
}

/// Why a records section could not be decoded or encoded.
#[derive(Debug, Error)]
pub enum CodecError {
    /// Attribute bits name no codec (5..=7).
    #[error("unknown compression codec id {0}")]
    UnknownCodec(i16),
    /// The decompressed records exceed the cleaner's per-batch budget.
    #[error("decompressed records exceed {budget_bytes} bytes")]
    BudgetExceeded {
        /// The budget.
        budget_bytes: usize,
    },
    /// The compressed bytes are malformed.
    #[error("{codec} data is malformed")]
    Corrupt {
        /// The codec.
        codec: &'static str,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

impl Codec {
    pub(crate) fn from_attributes(attributes: i16) -> Result<Codec, CodecError> {
        Ok(match attributes & ATTR_COMPRESSION_MASK {
            0 => Codec::None,
            1 => Codec::Gzip,
            2 => Codec::Snappy,
            3 => Codec::Lz4,
            4 => Codec::Zstd,
            other => return Err(CodecError::UnknownCodec(other)),
        })
    }

    fn name(self) -> &'static str {
        match self {
            Codec::None => "none",
            Codec::Gzip => "gzip",
            Codec::Snappy => "snappy",
            Codec::Lz4 => "lz4",
            Codec::Zstd => "zstd",
        }
    }
}

fn corrupt(codec: Codec) -> impl Fn(std::io::Error) -> CodecError {
    move |source| CodecError::Corrupt {
        codec: codec.name(),
        source,
    }
}

fn read_capped(codec: Codec, reader: impl Read, budget: usize) -> Result<Vec<u8>, CodecError> {
    let mut out = Vec::new();
    let cap = u64::try_from(budget).unwrap_or(u64::MAX).saturating_add(1);
    reader
        .take(cap)
        .read_to_end(&mut out)
        .map_err(corrupt(codec))?;
    if out.len() > budget {
        return Err(CodecError::BudgetExceeded {
            budget_bytes: budget,
        });
    }
    Ok(out)
}

/// Decompresses `input` (a records section); `None` for an uncompressed batch (use the
/// input as is).
pub(crate) fn decompress(
    codec: Codec,
    input: &[u8],
    budget: usize,
) -> Result<Option<Vec<u8>>, CodecError> {
    let out = match codec {
        Codec::None => return Ok(None),
        Codec::Gzip => read_capped(codec, flate2::read::MultiGzDecoder::new(input), budget)?,
        Codec::Lz4 => read_capped(codec, lz4_flex::frame::FrameDecoder::new(input), budget)?,
        Codec::Zstd => {
            let mut d = zstd::stream::read::Decoder::new(input).map_err(corrupt(codec))?;
            d.window_log_max(ZSTD_WINDOW_LOG_MAX)
                .map_err(corrupt(codec))?;
            read_capped(codec, d, budget)?
        }
        Codec::Snappy => snappy_decompress(input, budget)?,
    };
    Ok(Some(out))
}

fn snappy_block(block: &[u8], out: &mut Vec<u8>, budget: usize) -> Result<(), CodecError> {
    let bad = |e: snap::Error| CodecError::Corrupt {
        codec: "snappy",
        source: std::io::Error::other(e),
    };
    let n = snap::raw::decompress_len(block).map_err(bad)?;
    // A snappy byte expands to at most ~22 bytes: a larger claim is a lie, refused
    // before anything is allocated.
    if n > block.len().saturating_mul(22) || out.len().saturating_add(n) > budget {
        return Err(CodecError::BudgetExceeded {
            budget_bytes: budget,
        });
    }
    let start = out.len();
    out.resize(start + n, 0);
    let written = snap::raw::Decoder::new()
        .decompress(block, &mut out[start..])
        .map_err(bad)?;
    out.truncate(start + written);
    Ok(())
}

fn snappy_decompress(input: &[u8], budget: usize) -> Result<Vec<u8>, CodecError> {
    let mut out = Vec::new();
    if input.len() < XERIAL_HEADER_BYTES || input[..8] != XERIAL_MAGIC {
        snappy_block(input, &mut out, budget)?;
        return Ok(out);
    }
    let mut rest = &input[XERIAL_HEADER_BYTES..];
    while !rest.is_empty() {
        let (len, tail) = rest
            .split_at_checked(4)
            .ok_or_else(|| CodecError::Corrupt {
                codec: "snappy",
                source: std::io::Error::other("truncated xerial chunk length"),
            })?;
        let len = u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize;
        let (chunk, tail) = tail
            .split_at_checked(len)
            .ok_or_else(|| CodecError::Corrupt {
                codec: "snappy",
                source: std::io::Error::other("xerial chunk runs past the data"),
            })?;
        snappy_block(chunk, &mut out, budget)?;
        rest = tail;
    }
    Ok(out)
}

/// Compresses `input` with `codec` (the framing every Kafka client reads: gzip member,
/// xerial snappy, LZ4 frame with 64 KiB independent blocks, one zstd frame).
pub(crate) fn compress(codec: Codec, input: &[u8]) -> Result<Vec<u8>, CodecError> {
    let io = corrupt(codec);
    match codec {
        Codec::None => Ok(input.to_vec()),
        Codec::Gzip => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(input).map_err(&io)?;
            e.finish().map_err(io)
        }
        Codec::Lz4 => {
            let info = lz4_flex::frame::FrameInfo::new()
                .block_size(lz4_flex::frame::BlockSize::Max64KB)
                .block_mode(lz4_flex::frame::BlockMode::Independent);
            let mut e = lz4_flex::frame::FrameEncoder::with_frame_info(info, Vec::new());
            e.write_all(input).map_err(&io)?;
            e.finish().map_err(|e| io(std::io::Error::other(e)))
        }
        Codec::Zstd => zstd::stream::encode_all(input, ZSTD_LEVEL).map_err(io),
        Codec::Snappy => {
            let mut out = Vec::with_capacity(XERIAL_HEADER_BYTES + input.len() / 2 + 64);
            out.extend_from_slice(&XERIAL_MAGIC);
            out.extend_from_slice(&1i32.to_be_bytes());
            out.extend_from_slice(&1i32.to_be_bytes());
            let mut enc = snap::raw::Encoder::new();
            for chunk in input.chunks(XERIAL_CHUNK_BYTES) {
                let c = enc
                    .compress_vec(chunk)
                    .map_err(|e| io(std::io::Error::other(e)))?;
                out.extend_from_slice(&(c.len() as u32).to_be_bytes());
                out.extend_from_slice(&c);
            }
            Ok(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_codec_round_trips_within_budget() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        for c in [Codec::Gzip, Codec::Snappy, Codec::Lz4, Codec::Zstd] {
            let z = compress(c, &data).unwrap();
            assert_eq!(
                decompress(c, &z, data.len()).unwrap().unwrap(),
                data,
                "{c:?}"
            );
            assert!(matches!(
                decompress(c, &z, data.len() - 1),
                Err(CodecError::BudgetExceeded { .. })
            ));
        }
        assert!(decompress(Codec::None, &data, 0).unwrap().is_none());
        let raw = snap::raw::Encoder::new().compress_vec(&data).unwrap();
        assert_eq!(
            decompress(Codec::Snappy, &raw, data.len())
                .unwrap()
                .unwrap(),
            data
        );
        assert!(Codec::from_attributes(5).is_err());
    }
}
