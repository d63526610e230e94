//! The asynchronous calls: submit, poll, wait, free; a pool destroyed while handles live;
//! misuse. (No allocation in warm submit/wait rounds: `alloc.rs`.)
// Test code: its `unsafe` blocks call the C ABI with the test's own live buffers and
// pointers; the library's own blocks each carry a SAFETY comment (workspace lint).
#![allow(clippy::undocumented_unsafe_blocks)]

use std::ptr;

use iaa_capi::*;

const EINVAL: i32 = -libc::EINVAL;

fn pool(path: u32, contexts: u32) -> *mut iaa_pool {
    let mut cfg = unsafe { std::mem::zeroed::<iaa_config>() };
    // SAFETY: writable config.
    unsafe { iaa_config_init(&mut cfg) };
    cfg.path = path;
    cfg.contexts = contexts;
    let mut p = ptr::null_mut();
    // SAFETY: valid arguments.
    assert_eq!(unsafe { iaa_pool_create(&cfg, &mut p) }, 0);
    p
}

fn text(len: usize) -> Vec<u8> {
    let mut v = Vec::new();
    let mut i = 0u32;
    while v.len() < len {
        v.extend_from_slice(format!("page {i}, some words that repeat; ").as_bytes());
        i += 1;
    }
    v.truncate(len);
    v
}

/// `n` pages of 4 KiB: inputs, output slots, pointer/length arrays.
struct Pages {
    src: Vec<Vec<u8>>,
    dst: Vec<Vec<u8>>,
    res: Vec<i32>,
}

impl Pages {
    fn new(n: usize) -> Self {
        let all = text(n * 4096);
        Pages {
            src: all.chunks(4096).map(|c| c.to_vec()).collect(),
            dst: vec![vec![0u8; 4096]; n],
            res: vec![0; n],
        }
    }
    fn submit(&mut self, pool: *mut iaa_pool) -> (i32, *mut iaa_handle) {
        let ins: Vec<*const u8> = self.src.iter().map(|s| s.as_ptr()).collect();
        let lens: Vec<usize> = self.src.iter().map(|s| s.len()).collect();
        let outs: Vec<*mut u8> = self.dst.iter_mut().map(|d| d.as_mut_ptr()).collect();
        let caps: Vec<usize> = self.dst.iter().map(|d| d.len()).collect();
        let mut h = ptr::null_mut();
        let n = self.src.len();
        // SAFETY: arrays of n elements; buffers of their lengths, alive until the handle ends.
        let rc = unsafe {
            iaa_submit_compress_units(
                pool,
                ins.as_ptr().cast(),
                lens.as_ptr(),
                outs.as_ptr().cast(),
                caps.as_ptr(),
                n,
                self.res.as_mut_ptr(),
                n,
                std::ptr::null_mut(),
                &mut h,
            )
        };
        (rc, h)
    }
    /// Decompress the compressed pages back (async too) and compare.
    fn check_back(&self, pool: *mut iaa_pool) {
        let n = self.src.len();
        let ins: Vec<*const u8> = self.dst.iter().map(|d| d.as_ptr()).collect();
        let lens: Vec<usize> = self.res.iter().map(|&r| r as usize).collect();
        let mut back = vec![vec![0u8; 4096]; n];
        let outs: Vec<*mut u8> = back.iter_mut().map(|d| d.as_mut_ptr()).collect();
        let caps = vec![4096usize; n];
        let mut dres = vec![0i32; n];
        let mut h = ptr::null_mut();
        // SAFETY: as in `submit`.
        let rc = unsafe {
            iaa_submit_decompress_batch(
                pool,
                ins.as_ptr().cast(),
                lens.as_ptr(),
                outs.as_ptr().cast(),
                caps.as_ptr(),
                n,
                std::ptr::null(),
                dres.as_mut_ptr(),
                n,
                std::ptr::null_mut(),
                &mut h,
            )
        };
        assert_eq!(rc, 0);
        // SAFETY: live handle; NULL info.
        assert_eq!(unsafe { iaa_handle_wait(h, ptr::null_mut()) }, 0);
        assert!(dres.iter().all(|&r| r == 4096), "{dres:?}");
        assert_eq!(back, self.src);
    }
}

fn paths() -> Vec<(&'static str, *mut iaa_pool)> {
    let mut v = vec![("software", pool(IAA_PATH_SOFTWARE, 2))];
    // The device model behind the hardware path (the pool reads IAA_DEVICE at creation).
    std::env::set_var("IAA_DEVICE", "model");
    let m = pool(IAA_PATH_HARDWARE, 2);
    // SAFETY: live pool.
    assert_eq!(unsafe { iaa_pool_path(m) }, IAA_PATH_HARDWARE as i32);
    v.push(("model", m));
    v
}

#[test]
fn submit_poll_wait_on_software_and_on_the_device_model() {
    for (name, p) in paths() {
        let mut pages = Pages::new(12);
        let (rc, h) = pages.submit(p);
        assert_eq!(rc, 0, "{name}");
        assert!(!h.is_null());
        let mut polls = 0;
        loop {
            // SAFETY: live handle.
            let r = unsafe { iaa_handle_poll(h) };
            assert!(r == 0 || r == 1, "{name}: poll {r}");
            if r == 1 {
                break;
            }
            // Results stay "in progress" until the handle reports done.
            assert!(pages.res.iter().all(|&r| r == -libc::EINPROGRESS), "{name}");
            polls += 1;
            assert!(polls < 10_000_000, "{name}: never done");
        }
        assert!(
            pages.res.iter().all(|&r| r > 0 && r < 4096),
            "{name}: {:?}",
            pages.res
        );
        // Polling a finished handle keeps saying done.
        // SAFETY: live handle.
        assert_eq!(unsafe { iaa_handle_poll(h) }, 1);
        let mut info = iaa_batch_info {
            size: std::mem::size_of::<iaa_batch_info>(),
            ..Default::default()
        };
        // SAFETY: live handle, writable info.
        assert_eq!(unsafe { iaa_handle_wait(h, &mut info) }, 0);
        assert_eq!(info.units, 12);
        assert_eq!(info.hardware + info.software, 12, "{name}: {info:?}");
        assert_eq!(info.failed, 0);
        pages.check_back(p);
        // Wait without polling.
        let mut pages = Pages::new(5);
        let (rc, h) = pages.submit(p);
        assert_eq!(rc, 0);
        // SAFETY: live handle.
        assert_eq!(unsafe { iaa_handle_wait(h, ptr::null_mut()) }, 0);
        pages.check_back(p);
        // SAFETY: live pool, no handle alive.
        unsafe { iaa_pool_destroy(p) };
    }
}

#[test]
fn freed_handle_cancels_unfinished_units_and_the_pool_goes_on() {
    let p = pool(IAA_PATH_SOFTWARE, 1);
    let mut pages = Pages::new(32);
    let (rc, h) = pages.submit(p);
    assert_eq!(rc, 0);
    // SAFETY: live handle.
    unsafe {
        iaa_handle_poll(h);
        iaa_handle_free(h);
    }
    let cancelled = pages.res.iter().filter(|&&r| r == -libc::ECANCELED).count();
    let done = pages.res.iter().filter(|&&r| r > 0).count();
    assert!(cancelled > 0, "{:?}", pages.res);
    assert_eq!(cancelled + done, 32, "{:?}", pages.res);
    // The only context is free again: a blocking call works.
    let mut again = Pages::new(4);
    let (rc, h) = again.submit(p);
    assert_eq!(rc, 0);
    // SAFETY: live handle; then live pool.
    unsafe {
        assert_eq!(iaa_handle_wait(h, ptr::null_mut()), 0);
        iaa_pool_destroy(p);
    }
}

#[test]
fn pool_destroyed_with_live_handles_is_freed_by_the_last_one() {
    let p = pool(IAA_PATH_SOFTWARE, 2);
    let mut a = Pages::new(6);
    let mut b = Pages::new(6);
    let (ra, ha) = a.submit(p);
    let (rb, hb) = b.submit(p);
    assert_eq!((ra, rb), (0, 0));
    // SAFETY: the handles keep the pool's memory alive; the pool pointer is not used again
    // except to check that it is refused.
    unsafe {
        iaa_pool_destroy(p);
        // New calls on the destroyed pool are refused while its memory still lives.
        let mut c = Pages::new(1);
        assert_eq!(c.submit(p).0, EINVAL);
        assert_eq!(iaa_handle_wait(ha, ptr::null_mut()), 0);
        iaa_handle_free(hb); // the last handle frees the pool
    }
    assert!(a.res.iter().all(|&r| r > 0));
    assert!(b.res.iter().all(|&r| r > 0 || r == -libc::ECANCELED));
}

#[test]
fn misuse_is_refused() {
    let p = pool(IAA_PATH_SOFTWARE, 1);
    let mut pages = Pages::new(2);
    let ins: Vec<*const u8> = pages.src.iter().map(|s| s.as_ptr()).collect();
    let lens = [4096usize; 2];
    let outs: Vec<*mut u8> = pages.dst.iter_mut().map(|d| d.as_mut_ptr()).collect();
    let caps = [4096usize; 2];
    let mut h: *mut iaa_handle = std::ptr::dangling_mut::<iaa_handle>();
    // SAFETY: each call must refuse before using the bad argument.
    unsafe {
        // NULL out.
        let rc = iaa_submit_compress_units(
            p,
            ins.as_ptr().cast(),
            lens.as_ptr(),
            outs.as_ptr().cast(),
            caps.as_ptr(),
            2,
            pages.res.as_mut_ptr(),
            2,
            std::ptr::null_mut(),
            ptr::null_mut(),
        );
        assert_eq!(rc, EINVAL);
        // Short results: *out is NULL afterwards.
        let rc = iaa_submit_compress_units(
            p,
            ins.as_ptr().cast(),
            lens.as_ptr(),
            outs.as_ptr().cast(),
            caps.as_ptr(),
            2,
            pages.res.as_mut_ptr(),
            1,
            std::ptr::null_mut(),
            &mut h,
        );
        assert_eq!(rc, EINVAL);
        assert!(h.is_null());
        // An output that is an input.
        let bad = [ins[0] as *mut u8, outs[1]];
        let rc = iaa_submit_compress_units(
            p,
            ins.as_ptr().cast(),
            lens.as_ptr(),
            bad.as_ptr().cast(),
            caps.as_ptr(),
            2,
            pages.res.as_mut_ptr(),
            2,
            std::ptr::null_mut(),
            &mut h,
        );
        assert_eq!(rc, EINVAL);
        // NULL pool.
        let rc = iaa_submit_decompress_batch(
            ptr::null_mut(),
            ins.as_ptr().cast(),
            lens.as_ptr(),
            outs.as_ptr().cast(),
            caps.as_ptr(),
            2,
            std::ptr::null(),
            pages.res.as_mut_ptr(),
            2,
            std::ptr::null_mut(),
            &mut h,
        );
        assert_eq!(rc, EINVAL);
        assert_eq!(pages.res, [0, 0], "nothing written by refused calls");
        // NULL and ended handles.
        assert_eq!(iaa_handle_poll(ptr::null_mut()), EINVAL);
        assert_eq!(iaa_handle_wait(ptr::null_mut(), ptr::null_mut()), EINVAL);
        iaa_handle_free(ptr::null_mut());
        let (rc, h) = pages.submit(p);
        assert_eq!(rc, 0);
        // A bad info size leaves the handle alive.
        let mut info = iaa_batch_info {
            size: 1,
            ..Default::default()
        };
        assert_eq!(iaa_handle_wait(h, &mut info), EINVAL);
        assert_eq!(iaa_handle_wait(h, ptr::null_mut()), 0);
        // `h` has ended; its memory is kept by the pool for reuse, so it is refused.
        assert_eq!(iaa_handle_poll(h), EINVAL);
        iaa_handle_free(h);
        iaa_pool_destroy(p);
    }
}
