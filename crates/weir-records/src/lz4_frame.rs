//! Structural check of LZ4 frames before decompressing them.
//!
//! `lz4_flex` accepts a frame that stops at a block boundary without its end
//! mark; Kafka's `Lz4BlockInputStream` fails on it (it reads past the last
//! record to prove nothing remains). Walking the block headers (no
//! decompression, no allocation) restores Kafka's strictness: every frame
//! must be whole, with its end mark and any checksums it announces.

use super::error::CompressionError;

/// Magic number of an LZ4 frame (little-endian on the wire).
const FRAME_MAGIC: u32 = 0x184D_2204;
/// Skippable frames use magics 0x184D2A50..=0x184D2A5F.
const SKIPPABLE_MAGIC_MASK: u32 = 0xFFFF_FFF0;
const SKIPPABLE_MAGIC: u32 = 0x184D_2A50;
/// FLG bits.
const FLG_VERSION_MASK: u8 = 0xC0;
const FLG_VERSION_01: u8 = 0x40;
const FLG_BLOCK_CHECKSUM: u8 = 0x10;
const FLG_CONTENT_SIZE: u8 = 0x08;
const FLG_CONTENT_CHECKSUM: u8 = 0x04;
const FLG_DICT_ID: u8 = 0x01;
/// High bit of a block size: the block is stored uncompressed.
const BLOCK_UNCOMPRESSED_FLAG: u32 = 0x8000_0000;

fn truncated(what: &'static str) -> CompressionError {
    CompressionError::Lz4Frame { problem: what }
}

struct Walk<'a> {
    rest: &'a [u8],
}

impl Walk<'_> {
    fn skip(&mut self, n: usize, what: &'static str) -> Result<(), CompressionError> {
        self.rest = self.rest.get(n..).ok_or(truncated(what))?;
        Ok(())
    }

    fn u8(&mut self, what: &'static str) -> Result<u8, CompressionError> {
        let (&byte, rest) = self.rest.split_first().ok_or(truncated(what))?;
        self.rest = rest;
        Ok(byte)
    }

    fn u32_le(&mut self, what: &'static str) -> Result<u32, CompressionError> {
        let (bytes, rest) = self.rest.split_first_chunk::<4>().ok_or(truncated(what))?;
        self.rest = rest;
        Ok(u32::from_le_bytes(*bytes))
    }
}

/// Checks that `input` is one or more whole LZ4 frames (skippable frames allowed).
pub(crate) fn check_frames(input: &[u8]) -> Result<(), CompressionError> {
    let mut walk = Walk { rest: input };
    if walk.rest.is_empty() {
        return Err(truncated("empty lz4 stream"));
    }
    while !walk.rest.is_empty() {
        let magic = walk.u32_le("frame magic")?;
        if magic & SKIPPABLE_MAGIC_MASK == SKIPPABLE_MAGIC {
            let size = walk.u32_le("skippable frame size")?;
            walk.skip(size as usize, "skippable frame")?;
            continue;
        }
        if magic != FRAME_MAGIC {
            return Err(CompressionError::Lz4Frame {
                problem: "bad frame magic",
            });
        }
        let flg = walk.u8("frame descriptor")?;
        if flg & FLG_VERSION_MASK != FLG_VERSION_01 {
            return Err(CompressionError::Lz4Frame {
                problem: "unsupported frame version",
            });
        }
        walk.skip(1, "frame descriptor")?; // BD
        if flg & FLG_CONTENT_SIZE != 0 {
            walk.skip(8, "content size")?;
        }
        if flg & FLG_DICT_ID != 0 {
            walk.skip(4, "dictionary id")?;
        }
        walk.skip(1, "header checksum")?;
        loop {
            let block = walk.u32_le("block size or end mark")?;
            if block == 0 {
                break;
            }
            let size = (block & !BLOCK_UNCOMPRESSED_FLAG) as usize;
            walk.skip(size, "block data")?;
            if flg & FLG_BLOCK_CHECKSUM != 0 {
                walk.skip(4, "block checksum")?;
            }
        }
        if flg & FLG_CONTENT_CHECKSUM != 0 {
            walk.skip(4, "content checksum")?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn frame(info: lz4_flex::frame::FrameInfo, data: &[u8]) -> Vec<u8> {
        let mut encoder = lz4_flex::frame::FrameEncoder::with_frame_info(info, Vec::new());
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn whole_frames_pass_and_every_cut_fails() {
        let data: Vec<u8> = (0..300_000u32).map(|i| (i % 7 + i / 1000) as u8).collect();
        let plain = lz4_flex::frame::FrameInfo::new();
        let checked = lz4_flex::frame::FrameInfo::new()
            .block_checksums(true)
            .content_checksum(true)
            .content_size(Some(data.len() as u64));
        for info in [plain, checked] {
            let whole = frame(info, &data);
            check_frames(&whole).unwrap();
            let mut two = whole.clone();
            two.extend_from_slice(&whole);
            check_frames(&two).unwrap();
            for cut in 0..whole.len() {
                assert!(check_frames(&whole[..cut]).is_err(), "cut {cut}");
            }
        }
    }

    #[test]
    fn bad_magic_and_version() {
        assert!(check_frames(&[0, 0, 0, 0]).is_err());
        let mut whole = frame(lz4_flex::frame::FrameInfo::new(), b"hello hello hello");
        whole[4] &= 0x3f;
        assert!(check_frames(&whole).is_err());
    }
}
