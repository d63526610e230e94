//! The one libdeflate call the `libdeflater` crate does not wrap: `deflate_decompress_ex`,
//! which also says how many input bytes the stream used (needed to report trailing bytes).
#![allow(unsafe_code)]

use std::ptr::NonNull;

use libdeflate_sys::{
    libdeflate_alloc_decompressor, libdeflate_decompressor, libdeflate_deflate_decompress_ex,
    libdeflate_free_decompressor, libdeflate_result_LIBDEFLATE_INSUFFICIENT_SPACE,
    libdeflate_result_LIBDEFLATE_SUCCESS,
};

/// Why libdeflate refused a stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LdError {
    /// Not a valid stream (as libdeflate sees it).
    BadData,
    /// The output does not fit.
    NoSpace,
}

/// An owned libdeflate decompressor (a few KiB of tables on the C heap).
pub(crate) struct LdDecompressor {
    ptr: NonNull<libdeflate_decompressor>,
}

// SAFETY: the decompressor is plain memory owned by this value alone; libdeflate keeps no
// thread-local or global state tied to it, so it may move to another thread.
unsafe impl Send for LdDecompressor {}

impl LdDecompressor {
    /// `None` when the C allocation fails.
    pub(crate) fn new() -> Option<Self> {
        // SAFETY: no arguments; returns an owned pointer or null.
        let p = unsafe { libdeflate_alloc_decompressor() };
        NonNull::new(p).map(|ptr| LdDecompressor { ptr })
    }

    /// Decompress one raw-DEFLATE stream; `(input bytes used, output bytes written)`.
    pub(crate) fn decompress_ex(
        &mut self,
        src: &[u8],
        dst: &mut [u8],
    ) -> Result<(usize, usize), LdError> {
        let mut used = 0usize;
        let mut written = 0usize;
        // SAFETY: `self.ptr` is a live decompressor used by one caller at a time (`&mut self`);
        // the input and output pointers and lengths come from valid slices, libdeflate reads
        // at most `src.len()` and writes at most `dst.len()` bytes, and the two out-parameters
        // are valid `usize`s on this stack.
        let r = unsafe {
            libdeflate_deflate_decompress_ex(
                self.ptr.as_ptr(),
                src.as_ptr().cast(),
                src.len(),
                dst.as_mut_ptr().cast(),
                dst.len(),
                &mut used,
                &mut written,
            )
        };
        #[allow(non_upper_case_globals)]
        match r {
            libdeflate_result_LIBDEFLATE_SUCCESS => Ok((used, written)),
            libdeflate_result_LIBDEFLATE_INSUFFICIENT_SPACE => Err(LdError::NoSpace),
            _ => Err(LdError::BadData),
        }
    }
}

impl Drop for LdDecompressor {
    fn drop(&mut self) {
        // SAFETY: the pointer came from libdeflate_alloc_decompressor and is freed once.
        unsafe { libdeflate_free_decompressor(self.ptr.as_ptr()) }
    }
}
