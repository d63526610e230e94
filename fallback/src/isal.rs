//! Optional backend (feature `isal`): ISA-L's level-1 deflate with a 4 KiB window
//! (`hist_bits = 12`), so every distance is <= 4096 as for our own encoder. Needs the system
//! library (Debian: libisal-dev). The FFI is the `unsafe` of this file.
//!
//! ISA-L's dynamic headers may run a code-length repeat from the literal/length lengths into
//! the distance lengths, which IAA refuses (analytics error 4). Every output is checked
//! ([`crate::inflate::crossing_repeats`]); a unit with such a header is compressed again by
//! the native encoder (which never writes one) and counted ([`IsalCompressor::reencoded`]),
//! so everything this backend returns is IAA-decodable.
#![allow(unsafe_code)]

use crate::{CompressOutcome, Compressor, FallbackError, Level};
use std::os::raw::c_int;

extern "C" {
    fn iaa_fb_isal_stream_size() -> usize;
    fn iaa_fb_isal_level_buf_size() -> usize;
    fn iaa_fb_isal_deflate(
        stream_mem: *mut u8,
        level_buf: *mut u8,
        level_buf_size: usize,
        src: *const u8,
        src_len: usize,
        dst: *mut u8,
        dst_cap: usize,
        hist_bits: c_int,
        out_len: *mut usize,
    ) -> c_int;
}

/// ISA-L level-1 compressor with IAA's 4 KiB window; memory allocated in [`IsalCompressor::new`].
pub struct IsalCompressor {
    /// Storage for `struct isal_zstream` (u64 elements for alignment).
    stream: Box<[u64]>,
    level_buf: Box<[u8]>,
    /// The native encoder (level fast) for units whose ISA-L header IAA would refuse.
    native: Box<Compressor>,
    /// Units re-encoded by `native`.
    reencoded: u64,
}

impl std::fmt::Debug for IsalCompressor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IsalCompressor")
    }
}

impl Default for IsalCompressor {
    fn default() -> Self {
        Self::new()
    }
}

impl IsalCompressor {
    /// Allocate the ISA-L stream and level buffer, and the native encoder that re-encodes a
    /// unit whose header IAA would refuse, sized for units of up to 64 KiB
    /// (`for_max_unit(65536)`); aborts, as `Vec` does, if that fails
    /// ([`IsalCompressor::try_for_max_unit`] returns the error instead).
    pub fn new() -> Self {
        Self::for_max_unit(65536)
    }

    /// [`IsalCompressor::new`] with the native re-encoder sized for units of up to `max_unit`
    /// bytes ([`Compressor::for_max_unit`]; larger units still compress correctly).
    pub fn for_max_unit(max_unit: usize) -> Self {
        Self::try_for_max_unit(max_unit).unwrap_or_else(|e| crate::alloc_failed(e))
    }

    /// [`IsalCompressor::for_max_unit`], or [`crate::FallbackError::OutOfMemory`] when an
    /// allocation fails.
    pub fn try_for_max_unit(max_unit: usize) -> Result<Self, crate::FallbackError> {
        // SAFETY: both functions only return sizeof/constant values.
        let (ss, ls) = unsafe { (iaa_fb_isal_stream_size(), iaa_fb_isal_level_buf_size()) };
        Ok(IsalCompressor {
            stream: crate::try_boxed(ss.div_ceil(8), 0u64)?,
            level_buf: crate::try_boxed(ls, 0u8)?,
            native: Box::new(Compressor::try_for_max_unit(Level::Fast, max_unit)?),
            reencoded: 0,
        })
    }

    /// Bytes of heap memory this compressor holds (ISA-L's stream and level buffer, and the
    /// native encoder kept for re-encoding: 200,464 of the 565,472 bytes of `new()`).
    pub fn state_bytes(&self) -> usize {
        self.stream.len() * 8 + self.level_buf.len() + self.native.state_bytes()
    }

    /// Units whose ISA-L output had a code-length repeat across the literal/length and
    /// distance lengths (refused by IAA) and were compressed again by the native encoder.
    pub fn reencoded(&self) -> u64 {
        self.reencoded
    }

    /// Same contract as [`crate::Compressor::compress`].
    pub fn compress(
        &mut self,
        src: &[u8],
        dst: &mut [u8],
    ) -> Result<CompressOutcome, FallbackError> {
        // Output must be smaller than the input: never let ISA-L write more than that.
        let cap = dst.len().min(src.len().saturating_sub(1));
        let mut out_len = 0usize;
        // SAFETY: every pointer comes from a live slice with its exact length; the stream
        // buffer is at least sizeof(struct isal_zstream) bytes and 8-byte aligned; ISA-L
        // writes at most `cap` bytes into dst and keeps no pointer after returning.
        let r = unsafe {
            iaa_fb_isal_deflate(
                self.stream.as_mut_ptr().cast::<u8>(),
                self.level_buf.as_mut_ptr(),
                self.level_buf.len(),
                src.as_ptr(),
                src.len(),
                dst.as_mut_ptr(),
                cap,
                12,
                &mut out_len,
            )
        };
        match r {
            0 if out_len < src.len() => {
                // Not IAA-decodable (or, never expected, unreadable): the native encoder's
                // stream instead, same contract. A one-block stream needs only its header
                // read; a longer one is walked.
                let out = &dst[..out_len];
                let crosses = match crate::inflate::final_header_crossing(out) {
                    Some(c) => c,
                    None => crate::inflate::crossing_repeats(out, src.len()) != Ok(0),
                };
                match crosses {
                    false => Ok(CompressOutcome::Compressed(out_len)),
                    true => {
                        self.reencoded += 1;
                        self.native.compress(src, dst)
                    }
                }
            }
            0 => Ok(CompressOutcome::Incompressible),
            1 if cap < dst.len() || dst.len() + 1 >= src.len() => {
                Ok(CompressOutcome::Incompressible)
            }
            1 => Err(FallbackError::OutputTooSmall {
                needed: dst.len() + 1,
                available: dst.len(),
            }),
            e => Err(FallbackError::Backend(e)),
        }
    }
}
