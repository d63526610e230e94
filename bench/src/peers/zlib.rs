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
    /// back-references of at most 4 KiB, the IAA format rule. The inflater uses the same
    /// window, so it rejects any stream that reaches further back.
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
                z::inflateInit2_(&mut *inf, -window_bits, v, STREAM_SIZE),
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

/// Inflates one raw-deflate stream with zlib so that **every back-reference is checked
/// against a `1 << window_bits` byte window**: zlib normally resolves a distance from the
/// caller's flat output buffer, whatever `windowBits` says, so this calls `inflate()` for one
/// output byte at a time into a fresh one-byte buffer, leaving zlib's own window as the only
/// history. Slow (one call per byte): for tests and checks, not for measurement.
/// Returns the bytes written to `dst`; a reference further back fails with zlib's
/// "invalid distance too far back".
pub fn inflate_within_window(
    src: &[u8],
    dst: &mut [u8],
    window_bits: i32,
) -> Result<usize, PeerError> {
    let fail = |detail: String| PeerError::Decompress {
        codec: "zlib (window check)",
        detail,
    };
    let n_in = c_uint::try_from(src.len()).map_err(|_| fail("input larger than 4 GiB".into()))?;
    let mut s = new_stream();
    // SAFETY: the stream is boxed and initialised with our allocator functions.
    let r = unsafe { z::inflateInit2_(&mut *s, -window_bits, z::zlibVersion(), STREAM_SIZE) };
    if r != z::Z_OK {
        return Err(fail(format!("inflateInit2 returned {r}")));
    }
    s.next_in = src.as_ptr() as *mut u8;
    s.avail_in = n_in;
    let mut written = 0usize;
    let mut byte = [0u8; 1];
    let result = loop {
        s.next_out = byte.as_mut_ptr();
        s.avail_out = 1;
        // SAFETY: next_in covers the rest of `src`, next_out the one-byte `byte`; both live
        // across the call.
        let r = unsafe { z::inflate(&mut *s, z::Z_NO_FLUSH) };
        if s.avail_out == 0 {
            if written == dst.len() {
                break Err(fail("output larger than dst".into()));
            }
            dst[written] = byte[0];
            written += 1;
        }
        match r {
            z::Z_STREAM_END => break Ok(written),
            z::Z_OK => {}
            z::Z_BUF_ERROR if s.avail_in == 0 => break Err(fail("truncated stream".into())),
            _ => {
                let msg = if s.msg.is_null() {
                    format!("inflate returned {r}")
                } else {
                    // SAFETY: zlib sets msg to a static NUL-terminated string.
                    unsafe { std::ffi::CStr::from_ptr(s.msg) }
                        .to_string_lossy()
                        .into_owned()
                };
                break Err(fail(msg));
            }
        }
    };
    // SAFETY: the stream was initialised above and is ended once.
    unsafe { z::inflateEnd(&mut *s) };
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        // Random 8 KiB blocks, each repeated once 8 KiB later, then text: a 32 KiB window
        // finds the far repeats, a 4 KiB window only the near matches in the text.
        let mut x = 0x1234_5678_9abc_def1u64;
        let mut v = Vec::new();
        for _ in 0..3 {
            let block: Vec<u8> = (0..8192)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    (x >> 32) as u8
                })
                .collect();
            v.extend_from_slice(&block);
            v.extend_from_slice(&block);
        }
        v.extend(b"near matches only, near matches only. ".repeat(100));
        v
    }

    fn strict(src: &[u8], len: usize) -> Result<Vec<u8>, PeerError> {
        let mut out = vec![0u8; len];
        let n = inflate_within_window(src, &mut out, 12)?;
        out.truncate(n);
        Ok(out)
    }

    #[test]
    fn window_12_inflater_rejects_far_references_and_accepts_its_own() {
        let src = sample();
        let mut wide = Zlib::new(1).unwrap();
        let mut narrow = Zlib::with_window(1, 12).unwrap();
        let mut buf = vec![0u8; wide.max_compressed_len(src.len())];
        let mut out = vec![0u8; src.len()];
        let Compressed::Bytes(n) = wide.compress(&src, &mut buf).unwrap() else {
            panic!()
        };
        let e = strict(&buf[..n], src.len()).unwrap_err().to_string();
        assert!(e.contains("too far back"), "{e}");
        assert_eq!(wide.decompress(&buf[..n], &mut out).unwrap(), src.len());
        assert!(out == src);
        let Compressed::Bytes(n) = narrow.compress(&src, &mut buf).unwrap() else {
            panic!()
        };
        assert!(strict(&buf[..n], src.len()).unwrap() == src);
        assert!(
            strict(&buf[..n], src.len() - 1).is_err(),
            "dst too small must fail"
        );
        assert!(
            strict(&buf[..n / 2], src.len()).is_err(),
            "truncated must fail"
        );
    }

    #[test]
    fn ours_stays_within_4_kib() {
        let src = sample();
        for level in [
            super::super::ours::OursLevel::Fast,
            super::super::ours::OursLevel::Better,
        ] {
            let mut ours = super::super::ours::Ours::new(level);
            let mut buf = vec![0u8; ours.max_compressed_len(src.len())];
            let Compressed::Bytes(n) = ours.compress(&src, &mut buf).unwrap() else {
                panic!()
            };
            assert!(strict(&buf[..n], src.len()).unwrap() == src);
        }
    }

    #[cfg(feature = "isal")]
    #[test]
    fn isal_hist_bits_12_stays_within_4_kib() {
        let src = sample();
        let mut isal = super::super::isal::Isal::new(1, 12).unwrap();
        let mut buf = vec![0u8; isal.max_compressed_len(src.len())];
        let Compressed::Bytes(n) = isal.compress(&src, &mut buf).unwrap() else {
            panic!()
        };
        assert!(strict(&buf[..n], src.len()).unwrap() == src);
    }
}
