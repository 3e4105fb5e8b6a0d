//! Compression codecs of record batches, with a bounded output.
//!
//! Every decompression streams through a reader capped at
//! `decompressed_bytes_max + 1` bytes, so output is never allocated from a
//! size the input declares, and more output than the budget is a typed error.
//!
//! Codecs and the framing written (see `docs/records.md`):
//! - gzip: a gzip member (`flate2`, default level 6 as Java's `GZIPOutputStream`);
//!   reading accepts concatenated members.
//! - snappy: written with the xerial framing Java's `snappy-java` produces
//!   (the format every Kafka client reads, because the Java producer and
//!   the broker's own recompression write it); reading accepts the xerial
//!   framing and raw snappy (what librdkafka, sarama and kafkajs write).
//! - lz4: the LZ4 frame format, 64 KiB independent blocks, no checksums in
//!   blocks (as Kafka's `Lz4BlockOutputStream`); reading requires whole
//!   frames with their end marks, as Kafka does.
//! - zstd: one zstd frame, level 3 (Kafka's default level).

use std::io::{Read, Write};

use bytes::Bytes;

use super::error::{BuildError, CompressionError};
use super::lz4_frame;

/// Default budget for decompressed records: 100 MiB.
pub const DECOMPRESSED_BYTES_MAX_DEFAULT: usize = 100 * 1024 * 1024;

/// The xerial snappy stream header magic.
const XERIAL_MAGIC: [u8; 8] = [0x82, b'S', b'N', b'A', b'P', b'P', b'Y', 0];
/// Magic plus version (i32) and compatible version (i32).
const XERIAL_HEADER_BYTES: usize = 16;
/// Lowest xerial stream version readable (snappy-java's minimum compatible version).
const XERIAL_VERSION_MIN: i32 = 1;
/// Uncompressed bytes per xerial chunk when writing (snappy-java's default block size).
const XERIAL_CHUNK_BYTES: usize = 32 * 1024;
/// Most output one snappy input byte can produce: a 3-byte copy emits at
/// most 64 bytes (64 / 3 < 22). A declared length above this ratio is a lie.
const SNAPPY_EXPANSION_RATIO_MAX: usize = 22;
/// zstd level written (Kafka's default `compression.zstd.level`).
const ZSTD_LEVEL: i32 = 3;
/// Upper bound of the zstd window accepted (log2 bytes): zstd's own default limit.
const ZSTD_WINDOW_LOG_MAX: u32 = 27;
/// Lower bound of the zstd window accepted (log2 bytes): 8 MiB covers every
/// window a Kafka client writes at the levels it uses (level 3: 2 MiB).
const ZSTD_WINDOW_LOG_FLOOR: u32 = 23;

/// The compression codec of a batch (attribute bits 0..=2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Compression {
    /// 0: uncompressed.
    None,
    /// 1: gzip.
    Gzip,
    /// 2: snappy.
    Snappy,
    /// 3: lz4 frame.
    Lz4,
    /// 4: zstd.
    Zstd,
}

impl Compression {
    /// All codecs.
    pub const ALL: [Compression; 5] = [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ];

    /// The codec for a 3-bit id, `None` for 5..=7.
    pub fn from_id(id: u8) -> Option<Compression> {
        match id {
            0 => Some(Compression::None),
            1 => Some(Compression::Gzip),
            2 => Some(Compression::Snappy),
            3 => Some(Compression::Lz4),
            4 => Some(Compression::Zstd),
            _ => None,
        }
    }

    /// The 3-bit id.
    pub fn id(self) -> u8 {
        match self {
            Compression::None => 0,
            Compression::Gzip => 1,
            Compression::Snappy => 2,
            Compression::Lz4 => 3,
            Compression::Zstd => 4,
        }
    }

    /// Kafka's name (`compression.type`).
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Snappy => "snappy",
            Compression::Lz4 => "lz4",
            Compression::Zstd => "zstd",
        }
    }
}

/// Output capacity reserved up front per compressed input byte: a guess
/// from the bytes actually present (never from a declared size), capped by
/// the budget, that saves most reallocations at typical 2-5x ratios.
const RESERVE_PER_INPUT_BYTE: usize = 4;

/// Reads all of `reader` but at most `budget` bytes; more is an error.
fn read_bounded(
    codec: &'static str,
    reader: impl Read,
    input_bytes: usize,
    budget: usize,
) -> Result<Vec<u8>, CompressionError> {
    let limit = u64::try_from(budget).unwrap_or(u64::MAX).saturating_add(1);
    let reserve = input_bytes
        .saturating_mul(RESERVE_PER_INPUT_BYTE)
        .min(budget);
    let mut out = Vec::with_capacity(reserve);
    reader
        .take(limit)
        .read_to_end(&mut out)
        .map_err(|source| CompressionError::Corrupt { codec, source })?;
    if out.len() > budget {
        return Err(CompressionError::BudgetExceeded {
            decompressed_bytes_max: budget,
        });
    }
    Ok(out)
}

/// Decompresses a records section. `Compression::None` returns `input` as is.
pub fn decompress(
    codec: Compression,
    input: &Bytes,
    decompressed_bytes_max: usize,
) -> Result<Bytes, CompressionError> {
    match codec {
        Compression::None => Ok(input.clone()),
        codec => decompress_slice(codec, input, decompressed_bytes_max).map(Bytes::from),
    }
}

/// Decompresses a records section borrowed from anywhere (a memory map, say) into a new
/// buffer of at most `decompressed_bytes_max` bytes; `Compression::None` copies it.
pub fn decompress_slice(
    codec: Compression,
    input: &[u8],
    decompressed_bytes_max: usize,
) -> Result<Vec<u8>, CompressionError> {
    let budget = decompressed_bytes_max;
    let out = match codec {
        Compression::None if input.len() > budget => {
            return Err(CompressionError::BudgetExceeded {
                decompressed_bytes_max: budget,
            });
        }
        Compression::None => input.to_vec(),
        Compression::Gzip => read_bounded(
            "gzip",
            flate2::read::MultiGzDecoder::new(input),
            input.len(),
            budget,
        )?,
        Compression::Snappy => snappy_decompress(input, budget)?,
        Compression::Lz4 => lz4_frame::check_frames(input).and_then(|()| {
            read_bounded(
                "lz4",
                lz4_flex::frame::FrameDecoder::new(input),
                input.len(),
                budget,
            )
        })?,
        Compression::Zstd => zstd_decompress(input, budget)?,
    };
    Ok(out)
}

fn zstd_decompress(input: &[u8], budget: usize) -> Result<Vec<u8>, CompressionError> {
    let corrupt = |source| CompressionError::Corrupt {
        codec: "zstd",
        source,
    };
    let mut decoder = zstd::stream::read::Decoder::new(input).map_err(corrupt)?;
    // The window is allocated up front from the frame header: bound it.
    let budget_log = usize::BITS - budget.max(1).leading_zeros();
    let window_log = budget_log.clamp(ZSTD_WINDOW_LOG_FLOOR, ZSTD_WINDOW_LOG_MAX);
    decoder.window_log_max(window_log).map_err(corrupt)?;
    read_bounded("zstd", decoder, input.len(), budget)
}

fn snappy_raw_block(
    block: &[u8],
    out: &mut Vec<u8>,
    budget: usize,
) -> Result<(), CompressionError> {
    let declared = snap::raw::decompress_len(block).map_err(CompressionError::Snappy)?;
    if declared > block.len().saturating_mul(SNAPPY_EXPANSION_RATIO_MAX) {
        return Err(CompressionError::SnappyDeclaredLength {
            declared,
            input: block.len(),
        });
    }
    let total = out.len().checked_add(declared);
    if total.is_none_or(|total| total > budget) {
        return Err(CompressionError::BudgetExceeded {
            decompressed_bytes_max: budget,
        });
    }
    let start = out.len();
    out.resize(start + declared, 0);
    let written = snap::raw::Decoder::new()
        .decompress(block, &mut out[start..])
        .map_err(CompressionError::Snappy)?;
    out.truncate(start + written);
    Ok(())
}

fn snappy_decompress(input: &[u8], budget: usize) -> Result<Vec<u8>, CompressionError> {
    let mut out = Vec::new();
    if input.len() < XERIAL_HEADER_BYTES || input[..XERIAL_MAGIC.len()] != XERIAL_MAGIC {
        snappy_raw_block(input, &mut out, budget)?;
        return Ok(out);
    }
    // snappy-java refuses a stream whose version is below 1; the compatible
    // version is not checked (by snappy-java or librdkafka either).
    let version_bytes: [u8; 4] = input[XERIAL_MAGIC.len()..XERIAL_MAGIC.len() + 4]
        .try_into()
        .map_err(|_| CompressionError::XerialVersion { version: -1 })?;
    let version = i32::from_be_bytes(version_bytes);
    if version < XERIAL_VERSION_MIN {
        return Err(CompressionError::XerialVersion { version });
    }
    let mut rest = &input[XERIAL_HEADER_BYTES..];
    while !rest.is_empty() {
        let remaining = rest.len();
        let Some((length_bytes, after)) = rest.split_first_chunk::<4>() else {
            return Err(CompressionError::XerialChunk {
                length: -1,
                remaining,
            });
        };
        let length = i32::from_be_bytes(*length_bytes);
        let chunk_len = usize::try_from(length)
            .ok()
            .filter(|&n| n <= after.len())
            .ok_or(CompressionError::XerialChunk {
                length,
                remaining: after.len(),
            })?;
        let (chunk, next) = after.split_at(chunk_len);
        snappy_raw_block(chunk, &mut out, budget)?;
        rest = next;
    }
    Ok(out)
}

fn build_error(codec: &'static str) -> impl Fn(std::io::Error) -> BuildError {
    move |error| BuildError::Compression {
        codec,
        message: error.to_string(),
    }
}

/// Compresses a records section with `codec` (see the module docs for the framing), at
/// each codec's default level (Kafka's defaults).
pub fn compress(codec: Compression, input: &[u8]) -> Result<Vec<u8>, BuildError> {
    compress_at(codec, CompressionLevel::default(), input)
}

/// Compression levels, as Kafka's `compression.gzip.level` and `compression.zstd.level`
/// (KIP-390) give them. lz4 has one level here (lz4_flex's); Kafka's
/// `compression.lz4.level` is not expressible with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompressionLevel {
    /// gzip: -1 (zlib's default, 6) or 1..=9.
    pub gzip: i32,
    /// zstd: any level zstd accepts (Kafka: -131072..=22), 3 by default.
    pub zstd: i32,
}

impl Default for CompressionLevel {
    fn default() -> Self {
        CompressionLevel {
            gzip: -1,
            zstd: ZSTD_LEVEL,
        }
    }
}

/// [`compress`] at `level`.
pub fn compress_at(
    codec: Compression,
    level: CompressionLevel,
    input: &[u8],
) -> Result<Vec<u8>, BuildError> {
    match codec {
        Compression::None => Ok(input.to_vec()),
        Compression::Gzip => {
            let error = build_error("gzip");
            let gzip = u32::try_from(level.gzip)
                .ok()
                .filter(|l| (1..=9).contains(l))
                .map_or(flate2::Compression::default(), flate2::Compression::new);
            let mut encoder = flate2::write::GzEncoder::new(Vec::new(), gzip);
            encoder.write_all(input).map_err(&error)?;
            encoder.finish().map_err(&error)
        }
        Compression::Snappy => snappy_xerial_compress(input),
        Compression::Lz4 => {
            let info = lz4_flex::frame::FrameInfo::new()
                .block_size(lz4_flex::frame::BlockSize::Max64KB)
                .block_mode(lz4_flex::frame::BlockMode::Independent);
            let mut encoder = lz4_flex::frame::FrameEncoder::with_frame_info(info, Vec::new());
            encoder.write_all(input).map_err(build_error("lz4"))?;
            encoder.finish().map_err(|error| BuildError::Compression {
                codec: "lz4",
                message: error.to_string(),
            })
        }
        Compression::Zstd => {
            zstd::stream::encode_all(input, level.zstd).map_err(build_error("zstd"))
        }
    }
}

fn snappy_xerial_compress(input: &[u8]) -> Result<Vec<u8>, BuildError> {
    let mut out = Vec::with_capacity(XERIAL_HEADER_BYTES + input.len() / 2);
    out.extend_from_slice(&XERIAL_MAGIC);
    out.extend_from_slice(&1i32.to_be_bytes()); // version
    out.extend_from_slice(&1i32.to_be_bytes()); // compatible version
    let mut encoder = snap::raw::Encoder::new();
    let mut block = vec![0u8; snap::raw::max_compress_len(XERIAL_CHUNK_BYTES)];
    for chunk in input.chunks(XERIAL_CHUNK_BYTES) {
        let written =
            encoder
                .compress(chunk, &mut block)
                .map_err(|error| BuildError::Compression {
                    codec: "snappy",
                    message: error.to_string(),
                })?;
        // written <= max_compress_len(32 KiB), far below i32::MAX.
        let length = i32::try_from(written).map_err(|_| BuildError::TooLarge {
            field: "snappy chunk",
        })?;
        out.extend_from_slice(&length.to_be_bytes());
        out.extend_from_slice(&block[..written]);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        (0..200_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect()
    }

    #[test]
    fn every_codec_round_trips() {
        let data = sample();
        for codec in Compression::ALL {
            let packed = compress(codec, &data).unwrap();
            let unpacked =
                decompress(codec, &Bytes::from(packed), DECOMPRESSED_BYTES_MAX_DEFAULT).unwrap();
            assert_eq!(&unpacked[..], &data[..], "{codec:?}");
        }
    }

    #[test]
    fn budget_is_exact() {
        let data = vec![7u8; 10_000];
        for codec in Compression::ALL.into_iter().skip(1) {
            let packed = Bytes::from(compress(codec, &data).unwrap());
            assert!(decompress(codec, &packed, 10_000).is_ok(), "{codec:?}");
            let err = decompress(codec, &packed, 9_999).unwrap_err();
            assert!(
                matches!(
                    err,
                    CompressionError::BudgetExceeded {
                        decompressed_bytes_max: 9_999
                    }
                ),
                "{codec:?}: {err}"
            );
        }
    }

    #[test]
    fn raw_snappy_is_read() {
        let data = sample();
        let raw = snap::raw::Encoder::new().compress_vec(&data).unwrap();
        let out = decompress(Compression::Snappy, &Bytes::from(raw), usize::MAX).unwrap();
        assert_eq!(&out[..], &data[..]);
    }

    #[test]
    fn xerial_chunk_lengths_are_bounded() {
        let mut bad = XERIAL_MAGIC.to_vec();
        bad.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 1]);
        bad.extend_from_slice(&i32::MAX.to_be_bytes());
        bad.extend_from_slice(&[0; 8]);
        let err = decompress(Compression::Snappy, &Bytes::from(bad.clone()), 1 << 20).unwrap_err();
        assert!(
            matches!(
                err,
                CompressionError::XerialChunk {
                    length: i32::MAX,
                    remaining: 8
                }
            ),
            "{err}"
        );
        bad[16..20].copy_from_slice(&(-5i32).to_be_bytes());
        let err = decompress(Compression::Snappy, &Bytes::from(bad.clone()), 1 << 20).unwrap_err();
        assert!(
            matches!(err, CompressionError::XerialChunk { length: -5, .. }),
            "{err}"
        );
        bad.truncate(18);
        let err = decompress(Compression::Snappy, &Bytes::from(bad), 1 << 20).unwrap_err();
        assert!(matches!(err, CompressionError::XerialChunk { .. }), "{err}");
    }

    #[test]
    fn xerial_version_below_one_is_refused() {
        let mut framed = compress(Compression::Snappy, b"hello hello hello").unwrap();
        framed[8..12].copy_from_slice(&0i32.to_be_bytes());
        let err = decompress(Compression::Snappy, &Bytes::from(framed), 1 << 20).unwrap_err();
        assert!(
            matches!(err, CompressionError::XerialVersion { version: 0 }),
            "{err}"
        );
    }

    #[test]
    fn snappy_declared_length_lie_is_refused_before_allocating() {
        // Varint preamble declaring ~4 GiB, then one literal byte.
        let lie = vec![0xff, 0xff, 0xff, 0xff, 0x0f, 0x00, b'a'];
        let err = decompress(Compression::Snappy, &Bytes::from(lie), usize::MAX).unwrap_err();
        assert!(
            matches!(err, CompressionError::SnappyDeclaredLength { .. }),
            "{err}"
        );
    }

    #[test]
    fn zstd_window_is_bounded_before_allocating() {
        // A frame that declares a 128 MiB window for 1 KiB of content.
        let mut encoder = zstd::stream::write::Encoder::new(Vec::new(), 3).unwrap();
        encoder.window_log(27).unwrap();
        encoder.include_contentsize(false).unwrap();
        encoder.long_distance_matching(true).unwrap();
        encoder.write_all(&[1u8; 1024]).unwrap();
        let frame = Bytes::from(encoder.finish().unwrap());
        // Accepted when the budget justifies the window ...
        let out = decompress(Compression::Zstd, &frame, DECOMPRESSED_BYTES_MAX_DEFAULT).unwrap();
        assert_eq!(out.len(), 1024);
        // ... refused (typed, no 128 MiB window) under a 1 MiB budget.
        let err = decompress(Compression::Zstd, &frame, 1 << 20).unwrap_err();
        assert!(
            matches!(err, CompressionError::Corrupt { codec: "zstd", .. }),
            "{err}"
        );
    }

    #[test]
    fn unknown_ids() {
        for id in 5..=7 {
            assert_eq!(Compression::from_id(id), None);
        }
        for codec in Compression::ALL {
            assert_eq!(Compression::from_id(codec.id()), Some(codec));
        }
    }
}
