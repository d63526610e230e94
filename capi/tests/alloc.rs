//! Once a thread has made a call of a given size, the batch entry points allocate nothing
//! (per-thread scratch vectors are reused), like the Rust API under them; nor do warm rounds of
//! the asynchronous calls (finished handles are reused by their pool).
// Test code: its `unsafe` blocks call the C ABI with the test's own live buffers and
// pointers; the library's own blocks each carry a SAFETY comment (workspace lint).
#![allow(clippy::undocumented_unsafe_blocks)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::ptr;

use iaa_capi::*;

struct Counting;

// Per thread: the tests of this file run in parallel, and one's counted allocations (the
// probe) must not land in another's count.
thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCS: Cell<usize> = const { Cell::new(0) };
    // Non-zero: allocations of at least this many bytes fail (return null), as they would on
    // a machine out of memory.
    static FAIL_FROM: Cell<usize> = const { Cell::new(0) };
}

/// Whether this thread's allocation of `n` bytes is made to fail.
fn fails(n: usize) -> bool {
    FAIL_FROM
        .try_with(|f| f.get() != 0 && n >= f.get())
        .unwrap_or(false)
}

fn note() {
    if COUNTING.try_with(|c| c.get()).unwrap_or(false) {
        let _ = ALLOCS.try_with(|a| a.set(a.get() + 1));
    }
}

// SAFETY: forwards to the system allocator; the counter has no effect on the memory.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        if fails(l.size()) {
            return ptr::null_mut();
        }
        note();
        // SAFETY: same contract as ours.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        if fails(n) {
            return ptr::null_mut();
        }
        note();
        // SAFETY: same contract as ours.
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static A: Counting = Counting;

/// Allocations made by `f` on this thread.
fn count(f: impl FnOnce()) -> usize {
    let before = ALLOCS.with(Cell::get);
    COUNTING.with(|c| c.set(true));
    f();
    COUNTING.with(|c| c.set(false));
    ALLOCS.with(Cell::get) - before
}

/// A software pool with one context (so every call uses the same warm state).
fn one_context_software_pool() -> *mut iaa_pool {
    let mut cfg = unsafe { std::mem::zeroed::<iaa_config>() };
    // SAFETY: writable config.
    unsafe { iaa_config_init(&mut cfg) };
    cfg.path = IAA_PATH_SOFTWARE;
    cfg.contexts = 1;
    let mut pool = ptr::null_mut();
    // SAFETY: valid arguments.
    assert_eq!(unsafe { iaa_pool_create(&cfg, &mut pool) }, 0);
    pool
}

#[test]
fn batch_calls_allocate_nothing_after_the_first() {
    let pool = one_context_software_pool();
    let src: Vec<u8> = (0..16 * 4096u32).map(|i| (i / 7 % 251) as u8).collect();
    let n = iaa_unit_count(src.len(), 4096);
    let mut dst = vec![0u8; n * 4096];
    let mut res = vec![0i32; n];
    let mut back = vec![0u8; src.len()];
    let mut dres = vec![0i32; n];
    let mut info = iaa_batch_info {
        size: std::mem::size_of::<iaa_batch_info>(),
        ..Default::default()
    };
    let mut round = || {
        // SAFETY: every buffer has the stated length.
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
                &mut info,
            )
        };
        assert_eq!(rc, 0);
        assert!(res.iter().all(|&r| r > 0), "{res:?}");
        let ins: [*const u8; 16] = std::array::from_fn(|i| dst[i * 4096..].as_ptr());
        let lens: [usize; 16] = std::array::from_fn(|i| res[i] as usize);
        let base = back.as_mut_ptr();
        // SAFETY: slot i lies inside `back`.
        let outs: [*mut u8; 16] = std::array::from_fn(|i| unsafe { base.add(i * 4096) });
        let caps = [4096usize; 16];
        // SAFETY: arrays of n elements, buffers of their lengths.
        let rc = unsafe {
            iaa_decompress_batch(
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
                &mut info,
            )
        };
        assert_eq!(rc, 0);
        assert!(dres.iter().all(|&r| r == 4096));
    };
    assert_eq!(n, 16);
    let probe = count(|| {
        std::hint::black_box(Vec::<u8>::with_capacity(64));
    });
    assert_eq!(probe, 1, "the counter sees this thread's allocations");
    round(); // warm-up: per-thread scratch and codec state
    let allocs = count(|| {
        for _ in 0..3 {
            round();
        }
    });
    assert_eq!(back, src);
    assert_eq!(allocs, 0, "allocations in 3 warm rounds");
    // SAFETY: live pool.
    unsafe { iaa_pool_destroy(pool) };
}

#[test]
fn warm_submit_wait_rounds_allocate_nothing() {
    let pool = one_context_software_pool();
    let src: Vec<u8> = (0..8 * 4096u32).map(|i| (i / 5 % 241) as u8).collect();
    let mut dst = vec![0u8; src.len()];
    let ins: [*const u8; 8] = std::array::from_fn(|i| src[i * 4096..].as_ptr());
    let base = dst.as_mut_ptr();
    // SAFETY: slot i lies inside `dst`.
    let outs: [*mut u8; 8] = std::array::from_fn(|i| unsafe { base.add(i * 4096) });
    let lens = [4096usize; 8];
    let mut res = [0i32; 8];
    let mut round = || {
        let mut h = ptr::null_mut();
        // SAFETY: arrays of 8, buffers of their lengths, alive until the handle ends.
        unsafe {
            let rc = iaa_submit_compress_units(
                pool,
                ins.as_ptr().cast(),
                lens.as_ptr(),
                outs.as_ptr().cast(),
                lens.as_ptr(),
                8,
                res.as_mut_ptr(),
                8,
                std::ptr::null_mut(),
                &mut h,
            );
            assert_eq!(rc, 0);
            while iaa_handle_poll(h) == 0 {}
            assert_eq!(iaa_handle_wait(h, ptr::null_mut()), 0);
        }
    };
    round(); // warm-up: the pool's first handle and the codec state
    let allocs = count(|| {
        for _ in 0..5 {
            round();
        }
    });
    assert!(res.iter().all(|&r| r > 0 && r < 4096), "{res:?}");
    assert_eq!(allocs, 0, "allocations in 5 warm submit/wait rounds");
    // SAFETY: live pool, no handle alive.
    unsafe { iaa_pool_destroy(pool) };
}

/// Memory that cannot be had makes `iaa_pool_create` return `-ENOMEM` (the header's promise),
/// never abort: the software codec's state, the verify buffer and the context array are
/// allocated fallibly. Allocations from the given size up fail here.
#[test]
fn pool_creation_out_of_memory_is_enomem() {
    type Case = (&'static str, fn(&mut iaa_config), usize);
    let cases: [Case; 3] = [
        (
            "64 KiB units (128 KiB hint table)",
            |c| c.max_unit_size = 65536,
            100 << 10,
        ),
        (
            "verify with 16 MiB units",
            |c| {
                c.max_unit_size = 16 << 20;
                c.flags = IAA_FLAG_VERIFY;
            },
            1 << 20,
        ),
        ("4096 contexts", |c| c.contexts = 4096, 256 << 10),
    ];
    for (what, set, fail_from) in cases {
        let mut cfg = unsafe { std::mem::zeroed::<iaa_config>() };
        unsafe { iaa_config_init(&mut cfg) };
        cfg.path = IAA_PATH_SOFTWARE;
        set(&mut cfg);
        let mut out = ptr::dangling_mut::<iaa_pool>();
        FAIL_FROM.with(|f| f.set(fail_from));
        let rc = unsafe { iaa_pool_create(&cfg, &mut out) };
        FAIL_FROM.with(|f| f.set(0));
        assert_eq!(rc, -libc::ENOMEM, "{what}");
        assert!(out.is_null(), "{what}");
    }
}
