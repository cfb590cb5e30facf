//! Framing (spec/OTRACE.md sections 2, 3 and 10): the prelude, the zstd frames (compressed
//! with the `compress` feature, else of raw blocks: valid zstd that every reader decodes,
//! with no compressor linked in), the trailer.

use std::sync::atomic::{AtomicBool, Ordering};

const RAW_BLOCK_MAX: usize = 128 * 1024;
/// zstd's fastest regular level: compressing is a fifth of a call event's cost at level 3.
#[cfg(feature = "compress")]
const LEVEL: i32 = 1;

pub fn prelude() -> [u8; 24] {
    let mut p = [0u8; 24];
    p[..4].copy_from_slice(&[0x5A, 0x2A, 0x4D, 0x18]);
    p[4..8].copy_from_slice(&16u32.to_le_bytes());
    p[8..16].copy_from_slice(b"\x89OTRACE\n");
    p[16..18].copy_from_slice(&1u16.to_le_bytes());
    p
}

/// One zstd frame holding `data`, compressed (content size declared) where the feature is
/// on and the compressor works, else in raw blocks.
pub fn frame(data: &[u8]) -> Vec<u8> {
    #[cfg(feature = "compress")]
    if !RAW_ONLY.load(Ordering::Relaxed) {
        use std::cell::RefCell;
        thread_local! {
            static COMPRESSOR: RefCell<Option<zstd::bulk::Compressor<'static>>> =
                RefCell::new(zstd::bulk::Compressor::new(LEVEL).ok());
        }
        // At exit this thread's compressor may be gone already: a one-off one then.
        let compressed = COMPRESSOR
            .try_with(|c| c.try_borrow_mut().ok()?.as_mut()?.compress(data).ok())
            .unwrap_or_else(|_| zstd::bulk::compress(data, LEVEL).ok());
        if let Some(compressed) = compressed {
            return compressed;
        }
    }
    raw_frame(data)
}

static RAW_ONLY: AtomicBool = AtomicBool::new(false);

/// From now on frames are written in raw blocks: a crash signal's handler does not run the
/// compressor (its stack may be the small alternate one, its state the crashed thread's).
pub fn compress_no_more() {
    RAW_ONLY.store(true, Ordering::Relaxed);
}

/// One zstd frame holding `data` in raw blocks, its size declared (8-byte content size,
/// single segment, no checksum).
pub fn raw_frame(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 16 + 3 * (data.len() / RAW_BLOCK_MAX + 1));
    out.extend_from_slice(&[0x28, 0xB5, 0x2F, 0xFD, 0xE0]);
    out.extend_from_slice(&(data.len() as u64).to_le_bytes());
    let mut chunks = data.chunks(RAW_BLOCK_MAX).peekable();
    if chunks.peek().is_none() {
        out.extend_from_slice(&[1, 0, 0]);
    }
    while let Some(chunk) = chunks.next() {
        let header = (chunks.peek().is_none() as u32) | ((chunk.len() as u32) << 3);
        out.extend_from_slice(&header.to_le_bytes()[..3]);
        out.extend_from_slice(chunk);
    }
    out
}

/// The trailer: the summary again, readable from the end of the file.
pub fn trailer(summary: &[u8]) -> Vec<u8> {
    let mut out = vec![0x5A, 0x2A, 0x4D, 0x18];
    out.extend_from_slice(&(summary.len() as u32 + 12).to_le_bytes());
    out.extend_from_slice(summary);
    out.extend_from_slice(&(summary.len() as u32).to_le_bytes());
    out.extend_from_slice(b"\x89OTREND\n");
    out
}

/// CRC-32 (ISO-HDLC, as zlib's crc32), continued from `crc`.
pub fn crc32(crc: u32, data: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new_with_initial(crc);
    hasher.update(data);
    hasher.finalize()
}
