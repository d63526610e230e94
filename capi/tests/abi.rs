//! The C ABI called from Rust through its `extern "C"` functions: round trips, the versioned
//! structs, and misuse (NULL pointers, zero and impossible sizes, short arrays, overlapping
//! buffers) giving error codes without touching any output.
// Test code: its `unsafe` blocks call the C ABI with the test's own live buffers and
// pointers; the library's own blocks each carry a SAFETY comment (workspace lint).
#![allow(clippy::undocumented_unsafe_blocks)]

use std::ffi::CStr;
use std::ptr;

use iaa_capi::*;

const EINVAL: i32 = -libc::EINVAL;

fn software_pool() -> *mut iaa_pool {
    let mut cfg = unsafe { std::mem::zeroed::<iaa_config>() };
    // SAFETY: `cfg` is a writable iaa_config.
    unsafe { iaa_config_init(&mut cfg) };
    cfg.path = IAA_PATH_SOFTWARE;
    cfg.contexts = 2;
    let mut pool = ptr::null_mut();
    // SAFETY: valid config and out pointer.
    let rc = unsafe { iaa_pool_create(&cfg, &mut pool) };
    assert_eq!(rc, 0, "{}", strerror(rc));
    assert!(!pool.is_null());
    pool
}

fn strerror(code: i32) -> String {
    // SAFETY: iaa_strerror returns a static C string.
    unsafe { CStr::from_ptr(iaa_strerror(code)) }
        .to_string_lossy()
        .into_owned()
}

/// Text that compresses: repeated phrases with a counter.
fn sample(len: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(len + 64);
    let mut i = 0u64;
    while v.len() < len {
        v.extend_from_slice(format!("unit {i} of the sample text, compressible; ").as_bytes());
        i += 1;
    }
    v.truncate(len);
    v
}

/// Bytes that do not compress (xorshift).
fn noise(len: usize) -> Vec<u8> {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

#[test]
fn batch_round_trip_through_the_abi() {
    let pool = software_pool();
    let unit = 4096;
    let mut src = sample(10 * unit + 100);
    src[3 * unit..4 * unit].copy_from_slice(&noise(unit)); // unit 3 is incompressible
    let n = iaa_unit_count(src.len(), unit);
    assert_eq!(n, 11);
    let mut dst = vec![0u8; n * unit];
    let mut res = vec![i32::MIN; n + 2];
    let mut info = iaa_batch_info {
        size: std::mem::size_of::<iaa_batch_info>(),
        ..Default::default()
    };
    // SAFETY: every buffer has the stated length.
    let rc = unsafe {
        iaa_compress_batch(
            pool,
            src.as_ptr().cast(),
            src.len(),
            unit,
            dst.as_mut_ptr().cast(),
            dst.len(),
            unit,
            res.as_mut_ptr(),
            res.len(),
            std::ptr::null_mut(),
            &mut info,
        )
    };
    assert_eq!(rc, 0, "{}", strerror(rc));
    assert_eq!(
        &res[n..],
        &[i32::MIN, i32::MIN],
        "results past the units untouched"
    );
    assert_eq!(res[3], IAA_INCOMPRESSIBLE);
    assert_eq!(info.units, n as u64);
    assert_eq!(info.incompressible, 1);
    assert_eq!(info.software, (n - 1) as u64);
    assert_eq!((info.hardware, info.failed), (0, 0));

    // Decompress the compressed units with iaa_decompress_batch into exact-size slots.
    let idx: Vec<usize> = (0..n).filter(|&i| i != 3).collect();
    let srcs: Vec<*const u8> = idx.iter().map(|&i| dst[i * unit..].as_ptr()).collect();
    let lens: Vec<usize> = idx.iter().map(|&i| res[i] as usize).collect();
    let mut back = vec![0u8; src.len()];
    let want: Vec<&[u8]> = idx
        .iter()
        .map(|&i| &src[i * unit..((i + 1) * unit).min(src.len())])
        .collect();
    let caps: Vec<usize> = want.iter().map(|w| w.len()).collect();
    let base = back.as_mut_ptr();
    // SAFETY: unit i's slot lies inside `back`.
    let outs: Vec<*mut u8> = idx.iter().map(|&i| unsafe { base.add(i * unit) }).collect();
    let mut dres = vec![0i32; idx.len()];
    // SAFETY: the arrays hold idx.len() elements and every buffer its length.
    let rc = unsafe {
        iaa_decompress_batch(
            pool,
            srcs.as_ptr().cast(),
            lens.as_ptr(),
            outs.as_ptr().cast(),
            caps.as_ptr(),
            idx.len(),
            std::ptr::null(),
            dres.as_mut_ptr(),
            dres.len(),
            std::ptr::null_mut(),
            ptr::null_mut(),
        )
    };
    assert_eq!(rc, 0, "{}", strerror(rc));
    for (k, &i) in idx.iter().enumerate() {
        assert_eq!(dres[k], caps[k] as i32, "unit {i}");
        let s = i * unit;
        assert_eq!(&back[s..s + caps[k]], want[k], "unit {i}");
    }

    let mut st = iaa_stats {
        size: std::mem::size_of::<iaa_stats>(),
        ..Default::default()
    };
    // SAFETY: valid pool and stats struct.
    assert_eq!(unsafe { iaa_pool_stats(pool, &mut st) }, 0);
    assert_eq!(st.compress_sw.units, (n - 1) as u64);
    assert_eq!(st.incompressible, 1);
    assert_eq!(st.decompress_sw.units, idx.len() as u64);
    assert_eq!(
        st.decompress_sw.bytes_out,
        caps.iter().sum::<usize>() as u64
    );
    assert_eq!(st.batches, 2);
    // SAFETY: valid pool.
    unsafe {
        assert_eq!(iaa_pool_path(pool), IAA_PATH_SOFTWARE as i32);
        assert!(iaa_batch_size(pool) >= 1);
        iaa_pool_destroy(pool);
    }
}

#[test]
fn single_calls_and_their_edges() {
    let pool = software_pool();
    let src = sample(20_000);
    let mut dst = vec![0u8; iaa_compress_bound(src.len())];
    let mut clen = 0usize;
    // SAFETY (this test): every buffer has the stated length.
    let rc = unsafe {
        iaa_compress(
            pool,
            src.as_ptr().cast(),
            src.len(),
            dst.as_mut_ptr().cast(),
            dst.len(),
            &mut clen,
            std::ptr::null_mut(),
        )
    };
    assert_eq!(rc, 0, "{}", strerror(rc));
    assert!(clen > 0 && clen < src.len());
    let mut back = vec![0u8; src.len()];
    let mut dlen = 0usize;
    let rc = unsafe {
        iaa_decompress(
            pool,
            dst.as_ptr().cast(),
            clen,
            back.as_mut_ptr().cast(),
            back.len(),
            std::ptr::null(),
            &mut dlen,
            std::ptr::null_mut(),
        )
    };
    assert_eq!((rc, dlen), (0, src.len()));
    assert_eq!(back, src);
    // Output slot one byte short of the original: -EOVERFLOW, out_len 0.
    let rc = unsafe {
        iaa_decompress(
            pool,
            dst.as_ptr().cast(),
            clen,
            back.as_mut_ptr().cast(),
            src.len() - 1,
            std::ptr::null(),
            &mut dlen,
            std::ptr::null_mut(),
        )
    };
    assert_eq!((rc, dlen), (-libc::EOVERFLOW, 0));
    // Corrupt input.
    let junk = [0xffu8; 64];
    let rc = unsafe {
        iaa_decompress(
            pool,
            junk.as_ptr().cast(),
            junk.len(),
            back.as_mut_ptr().cast(),
            back.len(),
            std::ptr::null(),
            &mut dlen,
            std::ptr::null_mut(),
        )
    };
    assert_eq!(rc, -libc::EBADMSG, "{}", strerror(rc));
    // Incompressible input, and a too-small output slot, and empty input.
    let rnd = noise(5000);
    let rc = unsafe {
        iaa_compress(
            pool,
            rnd.as_ptr().cast(),
            rnd.len(),
            dst.as_mut_ptr().cast(),
            dst.len(),
            &mut clen,
            std::ptr::null_mut(),
        )
    };
    assert_eq!((rc, clen), (IAA_INCOMPRESSIBLE, 0));
    let rc = unsafe {
        iaa_compress(
            pool,
            src.as_ptr().cast(),
            src.len(),
            dst.as_mut_ptr().cast(),
            8,
            &mut clen,
            std::ptr::null_mut(),
        )
    };
    assert_eq!(rc, IAA_INCOMPRESSIBLE);
    let rc = unsafe {
        iaa_compress(
            pool,
            ptr::null(),
            0,
            dst.as_mut_ptr().cast(),
            dst.len(),
            &mut clen,
            std::ptr::null_mut(),
        )
    };
    assert_eq!(rc, IAA_INCOMPRESSIBLE);
    unsafe { iaa_pool_destroy(pool) };
}

#[test]
fn misuse_gives_codes_and_touches_nothing() {
    let pool = software_pool();
    let src = sample(3 * 4096);
    let mut dst = vec![0xaau8; 3 * 4096];
    let mut res = [7i32; 3];
    let (s, d, r) = (src.as_ptr(), dst.as_mut_ptr(), res.as_mut_ptr());
    let (sl, dl) = (src.len(), dst.len());
    // SAFETY (this test): the pointers are NULL or valid for the lengths passed, except where
    // a length is deliberately larger than the array (the call must refuse before using it).
    let cases: Vec<(&str, i32)> = unsafe {
        vec![
            (
                "null pool",
                iaa_compress_batch(
                    ptr::null_mut(),
                    s.cast(),
                    sl,
                    4096,
                    d.cast(),
                    dl,
                    4096,
                    r,
                    3,
                    std::ptr::null_mut(),
                    ptr::null_mut(),
                ),
            ),
            (
                "null src",
                iaa_compress_batch(
                    pool,
                    ptr::null(),
                    sl,
                    4096,
                    d.cast(),
                    dl,
                    4096,
                    r,
                    3,
                    std::ptr::null_mut(),
                    ptr::null_mut(),
                ),
            ),
            (
                "null dst",
                iaa_compress_batch(
                    pool,
                    s.cast(),
                    sl,
                    4096,
                    ptr::null_mut(),
                    dl,
                    4096,
                    r,
                    3,
                    std::ptr::null_mut(),
                    ptr::null_mut(),
                ),
            ),
            (
                "null results",
                iaa_compress_batch(
                    pool,
                    s.cast(),
                    sl,
                    4096,
                    d.cast(),
                    dl,
                    4096,
                    ptr::null_mut(),
                    3,
                    std::ptr::null_mut(),
                    ptr::null_mut(),
                ),
            ),
            (
                "unit size 0",
                iaa_compress_batch(
                    pool,
                    s.cast(),
                    sl,
                    0,
                    d.cast(),
                    dl,
                    4096,
                    r,
                    3,
                    std::ptr::null_mut(),
                    ptr::null_mut(),
                ),
            ),
            (
                "unit size > INT32_MAX",
                iaa_compress_batch(
                    pool,
                    s.cast(),
                    sl,
                    1 << 31,
                    d.cast(),
                    dl,
                    4096,
                    r,
                    3,
                    std::ptr::null_mut(),
                    ptr::null_mut(),
                ),
            ),
            (
                "stride 0",
                iaa_compress_batch(
                    pool,
                    s.cast(),
                    sl,
                    4096,
                    d.cast(),
                    dl,
                    0,
                    r,
                    3,
                    std::ptr::null_mut(),
                    ptr::null_mut(),
                ),
            ),
            (
                "results too short",
                iaa_compress_batch(
                    pool,
                    s.cast(),
                    sl,
                    4096,
                    d.cast(),
                    dl,
                    4096,
                    r,
                    2,
                    std::ptr::null_mut(),
                    ptr::null_mut(),
                ),
            ),
            (
                "too few output slots",
                iaa_compress_batch(
                    pool,
                    s.cast(),
                    sl,
                    4096,
                    d.cast(),
                    dl - 1,
                    4096,
                    r,
                    3,
                    std::ptr::null_mut(),
                    ptr::null_mut(),
                ),
            ),
            (
                "dst overlaps src",
                iaa_compress_batch(
                    pool,
                    s.cast(),
                    sl,
                    4096,
                    (s as *mut u8).cast(),
                    sl,
                    4096,
                    r,
                    3,
                    std::ptr::null_mut(),
                    ptr::null_mut(),
                ),
            ),
            (
                "results inside dst",
                iaa_compress_batch(
                    pool,
                    s.cast(),
                    sl,
                    4096,
                    d.cast(),
                    dl,
                    4096,
                    d as *mut i32,
                    3,
                    std::ptr::null_mut(),
                    ptr::null_mut(),
                ),
            ),
            (
                "src wraps the address space",
                iaa_compress_batch(
                    pool,
                    s.cast(),
                    usize::MAX - 8,
                    4096,
                    d.cast(),
                    dl,
                    4096,
                    r,
                    3,
                    std::ptr::null_mut(),
                    ptr::null_mut(),
                ),
            ),
            (
                "misaligned results",
                iaa_compress_batch(
                    pool,
                    s.cast(),
                    sl,
                    4096,
                    d.cast(),
                    dl,
                    4096,
                    (r as *mut u8).add(1) as *mut i32,
                    3,
                    std::ptr::null_mut(),
                    ptr::null_mut(),
                ),
            ),
            (
                "describe into NULL with a length",
                iaa_pool_describe(pool, ptr::null_mut(), 8),
            ),
            (
                "null out_len",
                iaa_compress(
                    pool,
                    s.cast(),
                    sl,
                    d.cast(),
                    dl,
                    ptr::null_mut(),
                    std::ptr::null_mut(),
                ),
            ),
            (
                "null pool single",
                iaa_decompress(
                    ptr::null_mut(),
                    s.cast(),
                    sl,
                    d.cast(),
                    dl,
                    std::ptr::null(),
                    &mut 0,
                    std::ptr::null_mut(),
                ),
            ),
            (
                "null decompress arrays",
                iaa_decompress_batch(
                    pool,
                    ptr::null(),
                    ptr::null(),
                    ptr::null(),
                    ptr::null(),
                    2,
                    std::ptr::null(),
                    r,
                    3,
                    std::ptr::null_mut(),
                    ptr::null_mut(),
                ),
            ),
            ("null stats", iaa_pool_stats(pool, ptr::null_mut())),
            (
                "stats of null pool",
                iaa_pool_stats(ptr::null(), &mut iaa_stats::default()),
            ),
            ("path of null pool", iaa_pool_path(ptr::null())),
            (
                "describe null pool",
                iaa_pool_describe(ptr::null(), ptr::null_mut(), 0),
            ),
        ]
    };
    for (what, rc) in &cases {
        assert_eq!(*rc, EINVAL, "{what}: {}", strerror(*rc));
    }
    assert_eq!(res, [7; 3], "no result written by a refused call");
    assert!(
        dst.iter().all(|&b| b == 0xaa),
        "no slot written by a refused call"
    );

    // A bad info->size is refused before anything runs; zero units are fine.
    let mut info = iaa_batch_info::default(); // size 0
    let rc = unsafe {
        iaa_compress_batch(
            pool,
            s.cast(),
            sl,
            4096,
            d.cast(),
            dl,
            4096,
            r,
            3,
            std::ptr::null_mut(),
            &mut info,
        )
    };
    assert_eq!(rc, EINVAL);
    let rc = unsafe {
        iaa_compress_batch(
            pool,
            ptr::null(),
            0,
            4096,
            ptr::null_mut(),
            0,
            4096,
            ptr::null_mut(),
            0,
            std::ptr::null_mut(),
            ptr::null_mut(),
        )
    };
    assert_eq!(rc, 0);
    let rc = unsafe {
        iaa_decompress_batch(
            pool,
            ptr::null(),
            ptr::null(),
            ptr::null(),
            ptr::null(),
            0,
            std::ptr::null(),
            ptr::null_mut(),
            0,
            std::ptr::null_mut(),
            ptr::null_mut(),
        )
    };
    assert_eq!(rc, 0);

    // Decompress: output slots that overlap each other, a NULL unit buffer, a short results
    // array, a capacity that int32 results cannot express.
    let comp = {
        let mut out = vec![0u8; 4096];
        let mut n = 0;
        let rc = unsafe {
            iaa_compress(
                pool,
                s.cast(),
                4096,
                out.as_mut_ptr().cast(),
                out.len(),
                &mut n,
                std::ptr::null_mut(),
            )
        };
        assert_eq!(rc, 0);
        out.truncate(n);
        out
    };
    let ins = [comp.as_ptr(), comp.as_ptr()];
    let lens = [comp.len(), comp.len()];
    let mut two = [0i32; 2];
    let outs = [d, unsafe { d.add(100) }];
    let caps = [4096usize, 4096];
    let rc = unsafe {
        iaa_decompress_batch(
            pool,
            ins.as_ptr().cast(),
            lens.as_ptr(),
            outs.as_ptr().cast(),
            caps.as_ptr(),
            2,
            std::ptr::null(),
            two.as_mut_ptr(),
            2,
            std::ptr::null_mut(),
            ptr::null_mut(),
        )
    };
    assert_eq!(rc, EINVAL, "overlapping outputs");
    let outs = [d, ptr::null_mut()];
    let rc = unsafe {
        iaa_decompress_batch(
            pool,
            ins.as_ptr().cast(),
            lens.as_ptr(),
            outs.as_ptr().cast(),
            caps.as_ptr(),
            2,
            std::ptr::null(),
            two.as_mut_ptr(),
            2,
            std::ptr::null_mut(),
            ptr::null_mut(),
        )
    };
    assert_eq!(rc, EINVAL, "NULL output buffer");
    let outs = [d, unsafe { d.add(4096) }];
    let rc = unsafe {
        iaa_decompress_batch(
            pool,
            ins.as_ptr().cast(),
            lens.as_ptr(),
            outs.as_ptr().cast(),
            caps.as_ptr(),
            2,
            std::ptr::null(),
            two.as_mut_ptr(),
            1,
            std::ptr::null_mut(),
            ptr::null_mut(),
        )
    };
    assert_eq!(rc, EINVAL, "results too short");
    let big = [4096usize, 1 << 31];
    let rc = unsafe {
        iaa_decompress_batch(
            pool,
            ins.as_ptr().cast(),
            lens.as_ptr(),
            outs.as_ptr().cast(),
            big.as_ptr(),
            2,
            std::ptr::null(),
            two.as_mut_ptr(),
            2,
            std::ptr::null_mut(),
            ptr::null_mut(),
        )
    };
    assert_eq!(rc, EINVAL, "capacity above INT32_MAX");
    assert_eq!(two, [0, 0]);
    // The same call done right: an output slot too small is a per-unit -EOVERFLOW only.
    let caps = [4096usize, 10];
    let rc = unsafe {
        iaa_decompress_batch(
            pool,
            ins.as_ptr().cast(),
            lens.as_ptr(),
            outs.as_ptr().cast(),
            caps.as_ptr(),
            2,
            std::ptr::null(),
            two.as_mut_ptr(),
            2,
            std::ptr::null_mut(),
            ptr::null_mut(),
        )
    };
    assert_eq!(rc, 0);
    assert_eq!(two, [4096, -libc::EOVERFLOW]);
    assert_eq!(&dst[..4096], &src[..4096]);

    unsafe {
        iaa_pool_destroy(pool);
        iaa_pool_destroy(ptr::null_mut());
    }
}

#[test]
fn pool_creation_checks_the_config() {
    let mut out = ptr::dangling_mut::<iaa_pool>();
    let mk = |f: &dyn Fn(&mut iaa_config)| {
        let mut c = unsafe { std::mem::zeroed::<iaa_config>() };
        unsafe { iaa_config_init(&mut c) };
        c.path = IAA_PATH_SOFTWARE;
        f(&mut c);
        c
    };
    let bad: Vec<(&str, iaa_config)> = vec![
        ("size 0", mk(&|c| c.size = 0)),
        ("size huge", mk(&|c| c.size = 1 << 40)),
        ("path 9", mk(&|c| c.path = 9)),
        ("codec 9", mk(&|c| c.codec = 9)),
        ("level 9", mk(&|c| c.level = 9)),
        ("unknown flag", mk(&|c| c.flags = 1 << 20)),
        ("hw_mode", mk(&|c| c.hw_mode = 7)),
        ("hw_batch_size huge", mk(&|c| c.hw_batch_size = 1 << 20)),
        ("contexts UINT32_MAX", mk(&|c| c.contexts = u32::MAX)),
        ("contexts 4097", mk(&|c| c.contexts = 4097)),
        ("max_unit_size huge", mk(&|c| c.max_unit_size = u64::MAX)),
        (
            "max_unit_size 16 MiB + 1",
            mk(&|c| c.max_unit_size = (16 << 20) + 1),
        ),
        ("timeout huge", mk(&|c| c.completion_timeout_us = u64::MAX)),
    ];
    let t0 = std::time::Instant::now();
    for (what, cfg) in &bad {
        // SAFETY: a whole iaa_config (size fields lie; the library must not trust them blindly
        // beyond its bound, and 1 << 40 is refused before any read).
        let rc = unsafe { iaa_pool_create(cfg, &mut out) };
        assert_eq!(rc, EINVAL, "{what}");
        assert!(out.is_null(), "{what}: *out is NULL after a failure");
    }
    // Refused before anything is allocated.
    assert!(t0.elapsed() < std::time::Duration::from_secs(1));
    // SAFETY: NULL out pointer must be refused.
    assert_eq!(
        unsafe { iaa_pool_create(ptr::null(), ptr::null_mut()) },
        EINVAL
    );
    // zstd cannot run on the hardware path.
    let cfg = mk(&|c| {
        c.path = IAA_PATH_HARDWARE;
        c.codec = IAA_CODEC_ZSTD;
    });
    assert_eq!(
        unsafe { iaa_pool_create(&cfg, &mut out) },
        -libc::EOPNOTSUPP
    );
    // A config from an older header (only `size` and `path`) gets defaults for the rest.
    let cfg = mk(&|c| {
        c.size = 12;
        c.codec = 9; // beyond the caller's size: never read
    });
    assert_eq!(unsafe { iaa_pool_create(&cfg, &mut out) }, 0);
    // SAFETY: `out` is a live pool.
    unsafe {
        assert_eq!(iaa_pool_path(out), IAA_PATH_SOFTWARE as i32);
        let mut buf = [0 as std::ffi::c_char; 16];
        let full = iaa_pool_describe(out, buf.as_mut_ptr(), buf.len());
        assert!(full > 0);
        let text = CStr::from_ptr(buf.as_ptr()).to_bytes();
        assert_eq!(text.len(), (full as usize).min(15));
        assert!(text.starts_with(b"software"));
        iaa_pool_destroy(out);
    }
}

#[test]
fn zstd_pool_round_trips_and_stats_struct_is_versioned() {
    let mut cfg = unsafe { std::mem::zeroed::<iaa_config>() };
    unsafe { iaa_config_init(&mut cfg) };
    cfg.codec = IAA_CODEC_ZSTD;
    let mut pool = ptr::null_mut();
    assert_eq!(unsafe { iaa_pool_create(&cfg, &mut pool) }, 0);
    let src = sample(9000);
    let mut c = vec![0u8; src.len()];
    let mut n = 0;
    assert_eq!(
        unsafe {
            iaa_compress(
                pool,
                src.as_ptr().cast(),
                src.len(),
                c.as_mut_ptr().cast(),
                c.len(),
                &mut n,
                std::ptr::null_mut(),
            )
        },
        0
    );
    assert_eq!(&c[..4], &[0x28, 0xb5, 0x2f, 0xfd], "a zstd frame");
    let mut back = vec![0u8; src.len()];
    let mut m = 0;
    assert_eq!(
        unsafe {
            iaa_decompress(
                pool,
                c.as_ptr().cast(),
                n,
                back.as_mut_ptr().cast(),
                back.len(),
                std::ptr::null(),
                &mut m,
                std::ptr::null_mut(),
            )
        },
        0
    );
    assert_eq!(&back[..m], &src[..]);
    // An old caller's stats struct that ends after compress_sw: nothing beyond is written.
    let mut st = iaa_stats {
        incompressible: 12345,
        ..Default::default()
    };
    st.size = std::mem::offset_of!(iaa_stats, decompress_hw);
    assert_eq!(unsafe { iaa_pool_stats(pool, &mut st) }, 0);
    assert_eq!(st.compress_sw.units, 1);
    assert_eq!(st.decompress_sw.units, 0, "beyond the caller's size");
    assert_eq!(st.incompressible, 12345);
    unsafe { iaa_pool_destroy(pool) };
}

#[test]
fn version_strerror_and_cause_names() {
    // SAFETY: static C strings.
    let v = unsafe { CStr::from_ptr(iaa_version_string()) };
    assert_eq!(v.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
    assert_eq!(
        strerror(-libc::EINVAL),
        "invalid argument (null pointer, zero or oversized size, short array)"
    );
    assert_eq!(
        strerror(IAA_INCOMPRESSIBLE),
        "incompressible: store the unit raw"
    );
    let names: Vec<String> = (0..IAA_FALLBACK_CAUSES_MAX as u32)
        .map(|i| iaa_fallback_cause_name(i))
        .take_while(|p| !p.is_null())
        // SAFETY: non-null names are static C strings.
        .map(|p| unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), iaa::FALLBACK_CAUSES);
    assert_eq!(names[iaa::FallbackCause::PageFault as usize], "page_fault");
    assert!(iaa_fallback_cause_name(IAA_FALLBACK_CAUSES_MAX as u32).is_null());
}

#[test]
fn one_pool_shared_by_threads() {
    let pool = software_pool() as usize;
    let src = sample(64 * 1024);
    std::thread::scope(|s| {
        for t in 0..4 {
            let src = &src;
            s.spawn(move || {
                let pool = pool as *mut iaa_pool;
                let n = iaa_unit_count(src.len(), 4096);
                let mut dst = vec![0u8; n * 4096];
                let mut res = vec![0i32; n];
                for _ in 0..5 {
                    // SAFETY: every buffer has the stated length; the pool outlives the scope.
                    let rc = unsafe {
                        iaa_compress_batch(
                            pool,
                            src.as_ptr().cast(),
                            src.len(),
                            4096,
                            dst.as_mut_ptr().cast(),
                            dst.len(),
                            4096,
                            res.as_mut_ptr(),
                            n,
                            std::ptr::null_mut(),
                            ptr::null_mut(),
                        )
                    };
                    assert_eq!(rc, 0, "thread {t}");
                    assert!(
                        res.iter().all(|&r| r > 0 && r < 4096),
                        "thread {t}: {res:?}"
                    );
                }
            });
        }
    });
    let mut st = iaa_stats {
        size: std::mem::size_of::<iaa_stats>(),
        ..Default::default()
    };
    // SAFETY: live pool.
    unsafe {
        assert_eq!(iaa_pool_stats(pool as *const iaa_pool, &mut st), 0);
        assert_eq!(st.compress_sw.units, 4 * 5 * 16);
        iaa_pool_destroy(pool as *mut iaa_pool);
    }
}

#[test]
fn scattered_units_compress_and_decompress() {
    let pool = software_pool();
    // Three separate "pages" of different sizes, one incompressible.
    let pages = [sample(4096), noise(4096), sample(1000)];
    let ins: Vec<*const u8> = pages.iter().map(|p| p.as_ptr()).collect();
    let lens: Vec<usize> = pages.iter().map(|p| p.len()).collect();
    let mut bufs = [vec![0u8; 4096], vec![0u8; 4096], vec![0u8; 1000]];
    let outs: Vec<*mut u8> = bufs.iter_mut().map(|b| b.as_mut_ptr()).collect();
    let caps: Vec<usize> = bufs.iter().map(|b| b.len()).collect();
    let mut res = [0i32; 3];
    let mut info = iaa_batch_info {
        size: std::mem::size_of::<iaa_batch_info>(),
        ..Default::default()
    };
    // SAFETY: arrays of 3 elements, each buffer of its length.
    let rc = unsafe {
        iaa_compress_units(
            pool,
            ins.as_ptr().cast(),
            lens.as_ptr(),
            outs.as_ptr().cast(),
            caps.as_ptr(),
            3,
            res.as_mut_ptr(),
            3,
            std::ptr::null_mut(),
            &mut info,
        )
    };
    assert_eq!(rc, 0, "{}", strerror(rc));
    assert!(
        res[0] > 0 && res[0] < 4096 && res[2] > 0 && res[2] < 1000,
        "{res:?}"
    );
    assert_eq!(res[1], IAA_INCOMPRESSIBLE);
    assert_eq!((info.units, info.software, info.incompressible), (3, 2, 1));
    // Decompress units 0 and 2 back.
    let cins = [bufs[0].as_ptr(), bufs[2].as_ptr()];
    let clens = [res[0] as usize, res[2] as usize];
    let mut back = [vec![0u8; 4096], vec![0u8; 1000]];
    let bouts: Vec<*mut u8> = back.iter_mut().map(|b| b.as_mut_ptr()).collect();
    let bcaps = [4096usize, 1000];
    let mut dres = [0i32; 2];
    // SAFETY: as above.
    let rc = unsafe {
        iaa_decompress_batch(
            pool,
            cins.as_ptr().cast(),
            clens.as_ptr(),
            bouts.as_ptr().cast(),
            bcaps.as_ptr(),
            2,
            std::ptr::null(),
            dres.as_mut_ptr(),
            2,
            std::ptr::null_mut(),
            ptr::null_mut(),
        )
    };
    assert_eq!(rc, 0);
    assert_eq!(dres, [4096, 1000]);
    assert_eq!(back[0], pages[0]);
    assert_eq!(back[1], pages[2]);
    // Misuse: an output buffer that is also an input, NULL arrays, short results.
    let outs_bad = [ins[0] as *mut u8, outs[1], outs[2]];
    let r0 = res;
    // SAFETY: the calls must refuse before touching anything.
    unsafe {
        let rc = iaa_compress_units(
            pool,
            ins.as_ptr().cast(),
            lens.as_ptr(),
            outs_bad.as_ptr().cast(),
            caps.as_ptr(),
            3,
            res.as_mut_ptr(),
            3,
            std::ptr::null_mut(),
            ptr::null_mut(),
        );
        assert_eq!(rc, EINVAL, "output aliases an input");
        let rc = iaa_compress_units(
            pool,
            ptr::null(),
            lens.as_ptr(),
            outs.as_ptr().cast(),
            caps.as_ptr(),
            3,
            res.as_mut_ptr(),
            3,
            std::ptr::null_mut(),
            ptr::null_mut(),
        );
        assert_eq!(rc, EINVAL, "NULL src array");
        let rc = iaa_compress_units(
            pool,
            ins.as_ptr().cast(),
            lens.as_ptr(),
            outs.as_ptr().cast(),
            caps.as_ptr(),
            3,
            res.as_mut_ptr(),
            2,
            std::ptr::null_mut(),
            ptr::null_mut(),
        );
        assert_eq!(rc, EINVAL, "results too short");
        let rc = iaa_compress_units(
            ptr::null_mut(),
            ins.as_ptr().cast(),
            lens.as_ptr(),
            outs.as_ptr().cast(),
            caps.as_ptr(),
            3,
            res.as_mut_ptr(),
            3,
            std::ptr::null_mut(),
            ptr::null_mut(),
        );
        assert_eq!(rc, EINVAL, "NULL pool");
    }
    assert_eq!(res, r0, "refused calls wrote no result");
    unsafe { iaa_pool_destroy(pool) };
}

#[test]
fn compress_bound_covers_stored_deflate_and_zstd() {
    // zstd's ZSTD_COMPRESSBOUND, and deflate's stored-block worst case.
    let zstd = |n: usize| n + (n >> 8) + ((128usize << 10).saturating_sub(n) >> 11);
    let stored = |n: usize| n + 5 * n.div_ceil(65535).max(1);
    for n in [0usize, 1, 4095, 4096, 65535, 65536, 1 << 20, 1 << 30] {
        let b = iaa_compress_bound(n);
        assert!(b >= zstd(n) && b >= stored(n) && b > n, "{n}: {b}");
        assert_eq!(b, zstd(n).max(stored(n)));
    }
    assert_eq!(iaa_compress_bound(usize::MAX), usize::MAX);
}
