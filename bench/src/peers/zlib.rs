//! Peer: zlib (crate `libz-sys`, built from source with the `static` feature), raw deflate
//! (windowBits -15), one stream per unit with `deflateReset`/`inflateReset` between units.

use super::{Compressed, PeerError, UnitCodec};
use libz_sys as z;
use std::os::raw::{c_int, c_uint, c_void};

unsafe extern "C" fn zalloc(_opaque: *mut c_void, items: c_uint, size: c_uint) -> *mut c_void {
    // SAFETY: calloc with any sizes is sound; zlib checks for NULL.
    unsafe { libc::calloc(items as usize, size as usize) }
}

unsafe extern "C" fn zfree(_opaque: *mut c_void, p: *mut c_void) {
    // SAFETY: zlib only frees pointers it got from `zalloc` above.
    unsafe { libc::free(p) }
}

fn new_stream() -> Box<z::z_stream> {
    Box::new(z::z_stream {
        next_in: std::ptr::null_mut(),
        avail_in: 0,
        total_in: 0,
        next_out: std::ptr::null_mut(),
        avail_out: 0,
        total_out: 0,
        msg: std::ptr::null_mut(),
        state: std::ptr::null_mut(),
        zalloc,
        zfree,
        opaque: std::ptr::null_mut(),
        data_type: 0,
        adler: 0,
        reserved: 0,
    })
}

const STREAM_SIZE: c_int = std::mem::size_of::<z::z_stream>() as c_int;

/// zlib raw deflate at one level; both streams are initialised once and reset per unit.
/// The streams are boxed because zlib keeps a pointer back to them.
pub struct Zlib {
    name: String,
    def: Box<z::z_stream>,
    inf: Box<z::z_stream>,
}

impl Zlib {
    /// zlib at `level` (1..=9), raw deflate with a 32 KiB window.
    pub fn new(level: i32) -> Result<Self, PeerError> {
        Self::with_window(level, 15)
    }

    /// zlib at `level` with a `1 << window_bits` byte window (9..=15); 12 gives streams with
    /// back-references of at most 4 KiB, the IAA format rule.
    pub fn with_window(level: i32, window_bits: i32) -> Result<Self, PeerError> {
        let mut def = new_stream();
        let mut inf = new_stream();
        // SAFETY: both streams are valid, boxed (stable address) and initialised with our
        // allocator functions; the version string is zlib's own.
        let (rd, ri) = unsafe {
            let v = z::zlibVersion();
            (
                z::deflateInit2_(
                    &mut *def,
                    level,
                    z::Z_DEFLATED,
                    -window_bits,
                    8,
                    0,
                    v,
                    STREAM_SIZE,
                ),
                z::inflateInit2_(&mut *inf, -15, v, STREAM_SIZE),
            )
        };
        if rd != z::Z_OK || ri != z::Z_OK {
            return Err(PeerError::Init {
                codec: "zlib",
                detail: format!("deflateInit2 {rd}, inflateInit2 {ri}"),
            });
        }
        let name = if window_bits == 15 {
            format!("zlib-{level}")
        } else {
            format!("zlib-{level} (window {} KiB)", (1 << window_bits) / 1024)
        };
        Ok(Zlib { name, def, inf })
    }
}

impl Drop for Zlib {
    fn drop(&mut self) {
        // SAFETY: both streams were initialised in `new` and are ended exactly once.
        unsafe {
            z::deflateEnd(&mut *self.def);
            z::inflateEnd(&mut *self.inf);
        }
    }
}

impl UnitCodec for Zlib {
    fn name(&self) -> &str {
        &self.name
    }
    fn max_compressed_len(&mut self, src_len: usize) -> usize {
        // SAFETY: the deflate stream is initialised; deflateBound only reads its settings.
        unsafe { z::deflateBound(&mut *self.def, src_len as z::uLong) as usize }
    }
    fn compress(&mut self, src: &[u8], dst: &mut [u8]) -> Result<Compressed, PeerError> {
        let (Ok(n_in), Ok(n_out)) = (c_uint::try_from(src.len()), c_uint::try_from(dst.len()))
        else {
            return Err(PeerError::Compress {
                codec: "zlib",
                detail: "buffer larger than 4 GiB".into(),
            });
        };
        let s = &mut *self.def;
        // SAFETY: next_in/next_out point into live slices of the given lengths for the whole
        // call; zlib never writes through next_in.
        let r = unsafe {
            z::deflateReset(s);
            s.next_in = src.as_ptr() as *mut u8;
            s.avail_in = n_in;
            s.next_out = dst.as_mut_ptr();
            s.avail_out = n_out;
            let r = z::deflate(s, z::Z_FINISH);
            s.next_in = std::ptr::null_mut();
            s.next_out = std::ptr::null_mut();
            r
        };
        if r != z::Z_STREAM_END {
            return Err(PeerError::Compress {
                codec: "zlib",
                detail: format!("deflate returned {r}"),
            });
        }
        Ok(Compressed::Bytes(n_out as usize - s.avail_out as usize))
    }
    fn decompress(&mut self, src: &[u8], dst: &mut [u8]) -> Result<usize, PeerError> {
        let (Ok(n_in), Ok(n_out)) = (c_uint::try_from(src.len()), c_uint::try_from(dst.len()))
        else {
            return Err(PeerError::Decompress {
                codec: "zlib",
                detail: "buffer larger than 4 GiB".into(),
            });
        };
        let s = &mut *self.inf;
        // SAFETY: as in compress: both pointers cover live slices of the stated lengths.
        let r = unsafe {
            z::inflateReset(s);
            s.next_in = src.as_ptr() as *mut u8;
            s.avail_in = n_in;
            s.next_out = dst.as_mut_ptr();
            s.avail_out = n_out;
            let r = z::inflate(s, z::Z_FINISH);
            s.next_in = std::ptr::null_mut();
            s.next_out = std::ptr::null_mut();
            r
        };
        if r != z::Z_STREAM_END {
            return Err(PeerError::Decompress {
                codec: "zlib",
                detail: format!("inflate returned {r}"),
            });
        }
        Ok(n_out as usize - s.avail_out as usize)
    }
}
