//! Zero heap allocations per batch call once the pool is built, counted by a global allocator
//! (this binary's own), for every path of `common::configs()`.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use iaa::{Inputs, Outputs, Pool, UnitResult};

struct Counting;

// Per thread: tests of this binary run in parallel threads, each counting only its own.
thread_local! {
    static ON: Cell<bool> = const { Cell::new(false) };
    static COUNT: Cell<usize> = const { Cell::new(0) };
    static BYTES: Cell<usize> = const { Cell::new(0) };
    // Print where each counted allocation happens (the zero-allocation test sets it).
    static TRACE: Cell<bool> = const { Cell::new(false) };
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

fn add(n: usize) {
    COUNT.with(|c| c.set(c.get() + 1));
    BYTES.with(|b| b.set(b.get() + n));
}

// SAFETY: forwards every call to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        if fails(l.size()) {
            return std::ptr::null_mut();
        }
        if ON.with(|o| o.get()) {
            add(l.size());
            // Say where (a counted allocation fails the test anyway).
            if TRACE.with(|t| t.get()) {
                ON.with(|o| o.set(false));
                let bt = std::backtrace::Backtrace::force_capture();
                // Straight to stderr (fd 2): the test harness's capture is not reentrant-safe here.
                use std::io::Write;
                let _ = writeln!(
                    std::io::stderr().lock(),
                    "counted allocation of {} bytes at:\n{bt}",
                    l.size()
                );
                ON.with(|o| o.set(true));
            }
        }
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: same contract as our caller's.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        if fails(n) {
            return std::ptr::null_mut();
        }
        if ON.with(|o| o.get()) {
            add(n);
        }
        // SAFETY: same contract as our caller's.
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static A: Counting = Counting;

/// Allocations (count, bytes) made by this thread while running `f`.
fn counted<R>(f: impl FnOnce() -> R) -> (R, usize, usize) {
    let (c0, b0) = (COUNT.with(Cell::get), BYTES.with(Cell::get));
    ON.with(|o| o.set(true));
    let r = f();
    ON.with(|o| o.set(false));
    (r, COUNT.with(Cell::get) - c0, BYTES.with(Cell::get) - b0)
}

#[test]
fn no_allocation_per_call_on_every_path() {
    TRACE.with(|t| t.set(true));
    let data = common::corpus().remove(0).1;
    let data = &data[..64 * 1024];
    let unit = 4096;
    let n = data.len() / unit;
    for (cfg, b) in common::configs() {
        let pool = b.build().unwrap();
        // Everything a call needs is prepared before counting.
        let mut out = vec![0u8; n * unit];
        let mut res = vec![UnitResult::Pending; n];
        let mut back = vec![0u8; n * unit];
        let mut res2 = vec![UnitResult::Pending; n];
        let mut lens = vec![0usize; n];
        let mut one = vec![0u8; unit];
        let mut one_back = vec![0u8; unit];
        // Warm-up call (first use of thread-locals and the like).
        pool.compress_batch(data, unit, Outputs::flat(&mut out, unit), &mut res)
            .unwrap();
        for round in 0..3 {
            let (sum, count, bytes) = counted(|| {
                pool.compress_batch(data, unit, Outputs::flat(&mut out, unit), &mut res)
                    .unwrap()
            });
            assert_eq!(sum.failed, 0);
            assert_eq!(
                (count, bytes),
                (0, 0),
                "{cfg}: compress_batch round {round} allocated"
            );
            for (l, r) in lens.iter_mut().zip(&res) {
                *l = r.len().expect("corpus units compress");
            }
            let ins = Inputs::Flat {
                buf: &out,
                stride: unit,
                lens: &lens,
            };
            let (sum, count, bytes) = counted(|| {
                pool.decompress_batch(ins, Outputs::flat(&mut back, unit), &mut res2)
                    .unwrap()
            });
            assert!(sum.all_ok());
            assert_eq!(
                (count, bytes),
                (0, 0),
                "{cfg}: decompress_batch round {round} allocated"
            );
            assert_eq!(&back[..], data);
            let (_, count, _) = counted(|| {
                let r = pool.compress(&data[..unit], &mut one).unwrap();
                let len = r.len().unwrap();
                pool.decompress(&one[..len], &mut one_back).unwrap()
            });
            assert_eq!(count, 0, "{cfg}: single-buffer calls allocated");
            // The asynchronous form.
            let (_, count, _) = counted(|| {
                let mut h = pool
                    .submit_compress(
                        Inputs::units(data, unit),
                        Outputs::flat(&mut out, unit),
                        &mut res,
                    )
                    .unwrap();
                while !h.poll() {}
                h.wait()
            });
            assert_eq!(count, 0, "{cfg}: submit/poll/wait allocated");
        }
        eprintln!(
            "{cfg}: {} ({} contexts) no allocation per call",
            pool.describe(),
            pool.contexts()
        );
    }
}

#[test]
fn context_bytes_matches_what_one_context_allocates() {
    let zstd = Pool::builder()
        .path(iaa::Path::Software)
        .codec(iaa::Codec::Zstd)
        .verify(true);
    let mut cfgs = common::configs();
    cfgs.push(("zstd-verify", zstd));
    for (cfg, b) in cfgs {
        let (p1, _, one) = counted(|| b.clone().contexts(1).build().unwrap());
        let (p3, _, three) = counted(|| b.clone().contexts(3).build().unwrap());
        // Two more contexts cost `three - one` bytes of heap (the cells array grows by two
        // cells, which `context_bytes` counts too).
        let per_ctx = (three - one) / 2;
        let cb = p1.context_bytes();
        assert_eq!(cb, p3.context_bytes());
        // What the allocator sees is everything `context_bytes` reports except zstd's state,
        // which lives on the C heap (zstd counts it itself).
        let c_heap = if p1.codec() == iaa::Codec::Zstd {
            cb.codec_state
        } else {
            0
        };
        let expected = cb.total() - c_heap;
        eprintln!("{cfg}: context_bytes {cb:?}; allocator per context {per_ctx}");
        assert!(
            per_ctx.abs_diff(expected) <= expected / 20 + 256,
            "{cfg}: expected about {expected} bytes per context, allocator saw {per_ctx}"
        );
    }
}

/// The software encoder's state follows `max_unit_size`: a pool for 4 KiB units holds no
/// 64 Ki-entry hint table. The allocator agrees with `context_bytes` at every size.
#[test]
fn software_state_follows_max_unit_size() {
    let mut soft = Vec::new();
    for max in [4096usize, 16384, 65536] {
        // The native encoder (with the `isal` feature, Auto would pick ISA-L, whose state is
        // its own and fixed).
        let b = Pool::builder()
            .path(iaa::Path::Software)
            .software_encoder(iaa::SoftwareEncoder::Native)
            .max_unit_size(max);
        let (p1, _, one) = counted(|| b.clone().contexts(1).build().unwrap());
        let (_p3, _, three) = counted(|| b.clone().contexts(3).build().unwrap());
        let cb = p1.context_bytes();
        let per_ctx = (three - one) / 2;
        eprintln!("max_unit_size {max}: context_bytes {cb:?}; allocator per context {per_ctx}");
        assert!(per_ctx.abs_diff(cb.total()) <= cb.total() / 20 + 256);
        soft.push(cb.software);
    }
    assert!(
        soft[0] <= 64 * 1024,
        "4 KiB pool: software state {} B",
        soft[0]
    );
    assert!(soft[0] < soft[1] && soft[1] < soft[2], "{soft:?}");
}

/// A pool whose memory cannot be had is an error, never an abort: every allocation that grows
/// with the configuration (the software codec's tables and sequence buffer, the verify
/// buffer, the context array) is fallible. Allocations from `fail_from` bytes up fail here.
#[test]
fn allocation_failure_is_an_error_never_an_abort() {
    let cases = [
        // The 64 KiB-unit hint table (128 KiB) and sequence buffer (128 KiB).
        (
            "native encoder, max_unit_size 64 KiB",
            Pool::builder()
                .path(iaa::Path::Software)
                .software_encoder(iaa::SoftwareEncoder::Native)
                .max_unit_size(65536),
            100 << 10,
        ),
        // At 4 KiB units the largest piece is the 32 KiB hint table.
        (
            "native encoder, max_unit_size 4 KiB",
            Pool::builder()
                .path(iaa::Path::Software)
                .software_encoder(iaa::SoftwareEncoder::Native)
                .max_unit_size(4096),
            16 << 10,
        ),
        (
            "better level (hash chains)",
            Pool::builder()
                .path(iaa::Path::Software)
                .software_encoder(iaa::SoftwareEncoder::Native)
                .level(iaa::Level::Better),
            16 << 10,
        ),
        (
            "verify buffer of a 16 MiB max_unit_size",
            Pool::builder()
                .path(iaa::Path::Software)
                .verify(true)
                .max_unit_size(16 << 20),
            1 << 20,
        ),
        (
            "4096 contexts",
            Pool::builder().path(iaa::Path::Software).contexts(4096),
            256 << 10,
        ),
    ];
    for (what, b, fail_from) in cases {
        FAIL_FROM.with(|f| f.set(fail_from));
        let r = b.build();
        FAIL_FROM.with(|f| f.set(0));
        match r {
            Err(e @ (iaa::Error::OutOfMemory { .. } | iaa::Error::ContextInit { .. })) => {
                eprintln!("{what}: {e}");
            }
            Err(e) => panic!("{what}: unexpected error {e}"),
            Ok(_) => panic!("{what}: built although allocations of {fail_from} bytes fail"),
        }
    }
}

#[test]
fn no_allocation_per_dsa_call() {
    TRACE.with(|t| t.set(true));
    let data = common::corpus().remove(0).1;
    let n = 40;
    let pages: Vec<&[u8]> = data.chunks(4096).take(n).collect();
    let builders = [
        ("software", Pool::builder().path(iaa::Path::Software)),
        (
            "dsa-model",
            Pool::builder().device(iaa::Device::Model(iaa::ModelOptions::default())),
        ),
        (
            "dsa-model-singles",
            Pool::builder()
                .device(iaa::Device::Model(iaa::ModelOptions::default()))
                .dsa_batch_size(1),
        ),
    ];
    for (cfg, b) in builders {
        let pool = b.contexts(2).build().unwrap();
        let mut crcs = vec![0u32; n];
        let mut pats = vec![None; n];
        let mut eq = vec![false; n];
        let mut copy = vec![0u8; n * 4096];
        // Warm-up.
        pool.crc32c(Inputs::Slices(&pages), 0, &mut crcs).unwrap();
        for round in 0..3 {
            let (_, count, bytes) = counted(|| {
                pool.crc32c(Inputs::Slices(&pages), 0, &mut crcs).unwrap();
                pool.same_filled(Inputs::Slices(&pages), &mut pats).unwrap();
                pool.compare(Inputs::Slices(&pages), Inputs::Slices(&pages), &mut eq)
                    .unwrap();
                pool.copy(Inputs::Slices(&pages), Outputs::flat(&mut copy, 4096))
                    .unwrap();
                pool.fill(Outputs::flat(&mut copy, 4096), n, 0).unwrap()
            });
            assert_eq!(
                (count, bytes),
                (0, 0),
                "{cfg}: DSA calls of round {round} allocated"
            );
        }
        assert!(eq.iter().all(|e| *e));
        assert_eq!(pool.has_dsa(), cfg != "software", "{}", pool.describe());
        eprintln!("{cfg}: {}: no allocation per DSA call", pool.describe());
    }
}
