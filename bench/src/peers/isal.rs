//! Peer: ISA-L igzip (feature `isal`), raw deflate through the C shim in `csrc/isal_shim.c`,
//! built against the system's `isa-l.h` and linked with `-lisal`.

#[cfg(feature = "isal")]
pub use imp::Isal;

#[cfg(feature = "isal")]
mod imp {
    use super::super::{Compressed, PeerError, UnitCodec};
    use std::os::raw::{c_int, c_longlong, c_void};

    extern "C" {
        fn iaa_isal_deflater_new() -> *mut c_void;
        fn iaa_isal_deflater_free(p: *mut c_void);
        fn iaa_isal_deflate(
            p: *mut c_void,
            src: *const u8,
            src_len: usize,
            dst: *mut u8,
            dst_cap: usize,
            level: c_int,
            hist_bits: c_int,
        ) -> c_longlong;
        fn iaa_isal_inflater_new() -> *mut c_void;
        fn iaa_isal_inflater_free(p: *mut c_void);
        fn iaa_isal_inflate(
            p: *mut c_void,
            src: *const u8,
            src_len: usize,
            dst: *mut u8,
            dst_cap: usize,
        ) -> c_longlong;
    }

    /// ISA-L at one level and history size (`hist_bits` 12 = 4 KiB window, as IAA).
    pub struct Isal {
        name: String,
        level: c_int,
        hist_bits: c_int,
        def: *mut c_void,
        inf: *mut c_void,
    }

    impl Isal {
        /// ISA-L at `level` (0..=3) with a `1 << hist_bits` byte window.
        pub fn new(level: i32, hist_bits: i32) -> Result<Self, PeerError> {
            // SAFETY: the shim's constructors take no arguments and return NULL on failure.
            let (def, inf) = unsafe { (iaa_isal_deflater_new(), iaa_isal_inflater_new()) };
            let me = Isal {
                name: format!("isa-l-{level} (window {} KiB)", (1 << hist_bits) / 1024),
                level,
                hist_bits,
                def,
                inf,
            };
            if def.is_null() || inf.is_null() {
                return Err(PeerError::Init {
                    codec: "isa-l",
                    detail: "out of memory".into(),
                });
            }
            Ok(me)
        }
    }

    impl Drop for Isal {
        fn drop(&mut self) {
            // SAFETY: both pointers came from the shim's constructors (or are NULL, which the
            // shim's free functions accept) and are freed once.
            unsafe {
                iaa_isal_deflater_free(self.def);
                iaa_isal_inflater_free(self.inf);
            }
        }
    }

    impl UnitCodec for Isal {
        fn name(&self) -> &str {
            &self.name
        }
        fn max_compressed_len(&mut self, src_len: usize) -> usize {
            // Stored blocks: 5 bytes per 64 KiB block, plus the block header slack.
            src_len + 5 * (src_len / 65535 + 1) + 256
        }
        fn compress(&mut self, src: &[u8], dst: &mut [u8]) -> Result<Compressed, PeerError> {
            // SAFETY: self.def is a live deflater; src/dst are valid for their lengths.
            let r = unsafe {
                iaa_isal_deflate(
                    self.def,
                    src.as_ptr(),
                    src.len(),
                    dst.as_mut_ptr(),
                    dst.len(),
                    self.level,
                    self.hist_bits,
                )
            };
            usize::try_from(r)
                .map(Compressed::Bytes)
                .map_err(|_| PeerError::Compress {
                    codec: "isa-l",
                    detail: "isal_deflate_stateless failed".into(),
                })
        }
        fn decompress(&mut self, src: &[u8], dst: &mut [u8]) -> Result<usize, PeerError> {
            // SAFETY: self.inf is a live inflate_state; src/dst are valid for their lengths.
            let r = unsafe {
                iaa_isal_inflate(
                    self.inf,
                    src.as_ptr(),
                    src.len(),
                    dst.as_mut_ptr(),
                    dst.len(),
                )
            };
            usize::try_from(r).map_err(|_| PeerError::Decompress {
                codec: "isa-l",
                detail: "isal_inflate_stateless failed".into(),
            })
        }
    }
}
