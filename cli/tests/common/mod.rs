//! Helpers shared by the CLI's integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The `iaa` binary built for these tests.
pub fn iaa() -> Command {
    Command::new(env!("CARGO_BIN_EXE_iaa"))
}

/// Runs `iaa` with `args`; asserts it did not panic.
pub fn run(args: &[&std::ffi::OsStr]) -> Output {
    let out = iaa().args(args).output().expect("spawn iaa");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "iaa panicked: {err}");
    out
}

/// The corpus directory (`../shared/corpus` from the workspace root), if present.
pub fn corpus_dir() -> Option<PathBuf> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut candidates = vec![manifest.join("../../shared/corpus")];
    if let Ok(c) = manifest.canonicalize() {
        candidates.push(c.join("../../shared/corpus"));
    }
    candidates
        .into_iter()
        .find(|d| d.join("dickens.zip").is_file())
}

/// Corpus files (each cut to `max` bytes), or `None` with a printed skip message.
pub fn corpus(max: usize) -> Option<Vec<(String, Vec<u8>)>> {
    let Some(dir) = corpus_dir() else {
        eprintln!("SKIP: corpus not found at ../shared/corpus");
        return None;
    };
    let c = iaa_bench::corpus::load_silesia(
        &dir,
        iaa_bench::LoadOptions {
            max_bytes_per_file: Some(max),
        },
    )
    .expect("load corpus");
    Some(c.files.into_iter().map(|f| (f.name, f.data)).collect())
}

/// Deterministic incompressible bytes.
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// A fresh scratch directory for one test.
pub fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("iaa-cli-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("mkdir scratch");
    d
}

/// zlib raw inflate (`inflateInit2(-window_bits)`) of one stream in one call, into at most
/// `expected_len + 1` bytes. (zlib resolves distances from the flat output buffer, so this
/// proves interoperability, not the window: see `iaa_bench::peers::zlib::inflate_within_window`.)
pub fn zlib_inflate_raw(src: &[u8], expected_len: usize, window_bits: i32) -> Result<Vec<u8>, i32> {
    use libz_sys as z;
    use std::os::raw::{c_int, c_uint, c_void};
    unsafe extern "C" fn zalloc(_: *mut c_void, n: c_uint, s: c_uint) -> *mut c_void {
        // SAFETY: calloc is sound for any sizes; zlib checks NULL.
        unsafe { libc_calloc(n as usize, s as usize) }
    }
    unsafe extern "C" fn zfree(_: *mut c_void, p: *mut c_void) {
        // SAFETY: p came from zalloc above.
        unsafe { libc_free(p) }
    }
    extern "C" {
        #[link_name = "calloc"]
        fn libc_calloc(n: usize, s: usize) -> *mut c_void;
        #[link_name = "free"]
        fn libc_free(p: *mut c_void);
    }
    let mut out = vec![0u8; expected_len + 1];
    let mut s = Box::new(z::z_stream {
        next_in: src.as_ptr() as *mut u8,
        avail_in: src.len() as c_uint,
        total_in: 0,
        next_out: out.as_mut_ptr(),
        avail_out: out.len() as c_uint,
        total_out: 0,
        msg: std::ptr::null_mut(),
        state: std::ptr::null_mut(),
        zalloc,
        zfree,
        opaque: std::ptr::null_mut(),
        data_type: 0,
        adler: 0,
        reserved: 0,
    });
    // SAFETY: the stream points into `src` and `out`, both alive for the whole block; it is
    // boxed (zlib keeps a pointer to it) and ended before return.
    let r = unsafe {
        let init = z::inflateInit2_(
            &mut *s,
            -window_bits,
            z::zlibVersion(),
            std::mem::size_of::<z::z_stream>() as c_int,
        );
        if init != z::Z_OK {
            return Err(init);
        }
        let r = z::inflate(&mut *s, z::Z_FINISH);
        z::inflateEnd(&mut *s);
        r
    };
    if r != z::Z_STREAM_END {
        return Err(r);
    }
    let n = out.len() - s.avail_out as usize;
    out.truncate(n);
    Ok(out)
}
