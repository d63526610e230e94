//! Call shapes, typed errors and the asynchronous form, on every pool configuration.

mod common;

use iaa::{Error, Inputs, Outputs, Pool, UnitError, UnitResult};

fn each(f: impl Fn(&str, &Pool)) {
    for (cfg, b) in common::configs() {
        let pool = b.build().unwrap();
        f(cfg, &pool);
        // Every unit that ended in software has exactly one counted cause (none on a
        // software-only pool).
        let s = pool.stats();
        if pool.is_hardware() || pool.describe().starts_with("software (") {
            assert_eq!(s.software_units(), s.total_fallbacks(), "{cfg}: {s:?}");
        } else {
            assert_eq!(s.total_fallbacks(), 0, "{cfg}: {s:?}");
        }
    }
}

#[test]
fn malformed_calls_are_typed_errors_and_touch_nothing() {
    each(|cfg, pool| {
        let src = common::generated(10_000);
        let mut out = vec![0u8; 3 * 4096];
        let mut res = [UnitResult::Incompressible; 3];
        assert_eq!(
            pool.compress_batch(&src, 0, Outputs::flat(&mut out, 4096), &mut res),
            Err(Error::ZeroUnitSize),
            "{cfg}"
        );
        assert_eq!(
            pool.compress_batch(&src, 4096, Outputs::flat(&mut out[..8192], 4096), &mut res),
            Err(Error::TooFewSlots { units: 3, slots: 2 })
        );
        assert_eq!(
            pool.compress_batch(&src, 4096, Outputs::flat(&mut out, 4096), &mut res[..2]),
            Err(Error::TooFewResults {
                units: 3,
                results: 2
            })
        );
        assert_eq!(
            pool.compress_batch(&src, 4096, Outputs::flat(&mut out, 0), &mut res),
            Err(Error::ZeroStride)
        );
        let lens = [5usize, 4097];
        assert_eq!(
            pool.decompress_batch(
                Inputs::Flat {
                    buf: &out,
                    stride: 4096,
                    lens: &lens
                },
                Outputs::flat(&mut src.clone(), 4096),
                &mut res
            ),
            Err(Error::BadInputLayout { unit: 1 })
        );
        assert!(
            res.iter().all(|r| *r == UnitResult::Incompressible),
            "results untouched"
        );
        // An empty batch is fine.
        let sum = pool
            .compress_batch(&[], 4096, Outputs::flat(&mut out, 4096), &mut res)
            .unwrap();
        assert_eq!(sum.units, 0);
        assert!(sum.all_ok());
    });
}

#[test]
fn per_unit_outcomes_do_not_affect_each_other() {
    each(|cfg, pool| {
        let good = common::generated(4096);
        let mut c = vec![0u8; 4096];
        let n = pool.compress(&good, &mut c).unwrap().len().unwrap();
        let garbage = common::random(300, 3);
        let truncated = &c[..n / 2];
        let ins: [&[u8]; 4] = [&c[..n], &garbage, truncated, &c[..n]];
        let mut a = vec![0u8; 4096];
        let mut b = vec![0u8; 4096];
        let mut d = vec![0u8; 4096];
        let mut small = vec![0u8; 100];
        let mut slots: [&mut [u8]; 4] = [&mut a, &mut b, &mut d, &mut small];
        let mut res = [UnitResult::Pending; 4];
        let sum = pool.decompress_batch(&ins, &mut slots, &mut res).unwrap();
        assert_eq!(res[0].len(), Some(4096), "{cfg}");
        assert_eq!(a, good);
        assert!(
            matches!(res[1], UnitResult::Failed(UnitError::Corrupt)),
            "{cfg}: {:?}",
            res[1]
        );
        assert!(
            matches!(res[2], UnitResult::Failed(UnitError::Corrupt)),
            "{cfg}: {:?}",
            res[2]
        );
        assert_eq!(
            res[3],
            UnitResult::Failed(UnitError::OutputTooSmall),
            "{cfg}"
        );
        assert_eq!((sum.failed, sum.finished()), (3, 4));
        assert!(!sum.all_ok());
    });
}

#[test]
fn incompressible_when_output_does_not_fit_or_grow() {
    each(|cfg, pool| {
        let text = common::generated(4096);
        let rnd = common::random(4096, 9);
        let mut big = vec![0u8; 8192];
        let mut tiny = vec![0u8; 16];
        assert_eq!(
            pool.compress(&rnd, &mut big).unwrap(),
            UnitResult::Incompressible,
            "{cfg}"
        );
        assert_eq!(
            pool.compress(&text, &mut tiny).unwrap(),
            UnitResult::Incompressible,
            "{cfg}"
        );
        assert!(pool.compress(&text, &mut big).unwrap().is_done());
        assert!(pool.stats().incompressible >= 2);
    });
}

#[test]
fn async_submit_poll_wait() {
    each(|cfg, pool| {
        let data = common::generated(40 * 1024);
        let mut out = vec![0u8; 10 * 4096];
        let mut res = vec![UnitResult::Pending; 10];
        let mut h = pool
            .submit_compress(
                Inputs::units(&data, 4096),
                Outputs::flat(&mut out, 4096),
                &mut res,
            )
            .unwrap();
        let mut polls = 0;
        while !h.poll() {
            polls += 1;
            assert!(polls < 1_000_000, "{cfg}: never finished");
        }
        assert!(h.is_done());
        let sum = h.wait();
        assert!(sum.all_ok(), "{cfg}");
        assert!(res.iter().all(|r| r.is_done()));
        // Slices-of-slices outputs, and a wait without polling.
        let lens: Vec<usize> = res.iter().map(|r| r.len().unwrap()).collect();
        let mut back = vec![vec![0u8; 4096]; 10];
        let mut slots: Vec<&mut [u8]> = back.iter_mut().map(|v| v.as_mut_slice()).collect();
        let mut res2 = vec![UnitResult::Pending; 10];
        let h = pool
            .submit_decompress(
                Inputs::Flat {
                    buf: &out,
                    stride: 4096,
                    lens: &lens,
                },
                &mut slots,
                &mut res2,
            )
            .unwrap();
        assert!(h.wait().all_ok());
        for (i, b) in back.iter().enumerate() {
            assert_eq!(b[..], data[i * 4096..(i + 1) * 4096]);
        }
    });
}

#[test]
fn dropped_handle_abandons_unfinished_units_and_frees_the_context() {
    each(|cfg, pool| {
        let data = common::generated(64 * 4096);
        let mut out = vec![0u8; 64 * 4096];
        let mut res = vec![UnitResult::Pending; 64];
        {
            let mut h = pool
                .submit_compress(
                    Inputs::units(&data, 4096),
                    Outputs::flat(&mut out, 4096),
                    &mut res,
                )
                .unwrap();
            h.poll();
        }
        let abandoned = res
            .iter()
            .filter(|r| **r == UnitResult::Failed(UnitError::Abandoned))
            .count();
        assert!(abandoned > 0, "{cfg}");
        assert!(res.iter().all(|r| *r != UnitResult::Pending));
        // The context is usable again.
        let sum = pool
            .compress_batch(&data, 4096, Outputs::flat(&mut out, 4096), &mut res)
            .unwrap();
        assert!(sum.all_ok());
    });
}

#[test]
fn nested_handles_on_one_thread_use_other_contexts() {
    let pool = Pool::builder()
        .path(iaa::Path::Software)
        .contexts(2)
        .build()
        .unwrap();
    let data = common::generated(8192);
    let (mut o1, mut o2, mut o3) = (vec![0u8; 8192], vec![0u8; 8192], vec![0u8; 8192]);
    let (mut r1, mut r2, mut r3) = (
        [UnitResult::Pending; 2],
        [UnitResult::Pending; 2],
        [UnitResult::Pending; 2],
    );
    let h1 = pool
        .submit_compress(
            Inputs::units(&data, 4096),
            Outputs::flat(&mut o1, 4096),
            &mut r1,
        )
        .unwrap();
    let h2 = pool
        .submit_compress(
            Inputs::units(&data, 4096),
            Outputs::flat(&mut o2, 4096),
            &mut r2,
        )
        .unwrap();
    // Both contexts are held by this thread: a third call would deadlock, so it is refused.
    let e = pool.submit_compress(
        Inputs::units(&data, 4096),
        Outputs::flat(&mut o3, 4096),
        &mut r3,
    );
    assert_eq!(e.err(), Some(Error::AllContextsHeld(2)));
    assert!(h1.wait().all_ok());
    assert!(h2.wait().all_ok());
    assert_eq!(o1, o2);
}

#[test]
fn many_threads_share_one_pool() {
    let pool = Pool::builder()
        .path(iaa::Path::Software)
        .contexts(3)
        .build()
        .unwrap();
    let data = common::generated(32 * 4096);
    std::thread::scope(|s| {
        for _ in 0..8 {
            s.spawn(|| {
                for _ in 0..5 {
                    common::roundtrip(&pool, &data, 4096);
                }
            });
        }
    });
    let st = pool.stats();
    assert_eq!(st.compress_sw.units, 8 * 5 * 32);
    assert_eq!(st.decompress_sw.units, 8 * 5 * 32);
    assert_eq!(st.batches, 8 * 5 * 2);
}

#[test]
fn pool_is_shareable_between_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Pool>();
    send_sync::<iaa::Stats>();
    let pool = std::sync::Arc::new(Pool::builder().path(iaa::Path::Software).build().unwrap());
    assert!(pool.contexts() >= 1);
    // One context per possible CPU by default.
    let possible = std::fs::read_to_string("/sys/devices/system/cpu/possible").ok();
    if let Some(p) = possible {
        let last: usize = p
            .trim()
            .rsplit([',', '-'])
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap();
        assert_eq!(pool.contexts(), last + 1, "possible CPUs {p:?}");
    }
}

#[test]
fn handles_are_send_and_finish_on_another_thread() {
    fn send<T: Send>(_: &T) {}
    each(|cfg, pool| {
        let data = common::generated(16 * 4096);
        let mut out = vec![0u8; 16 * 4096];
        let mut res = vec![UnitResult::Pending; 16];
        let h = pool
            .submit_compress(
                Inputs::units(&data, 4096),
                Outputs::flat(&mut out, 4096),
                &mut res,
            )
            .unwrap();
        send(&h);
        let sum = std::thread::scope(|s| s.spawn(move || h.wait()).join().unwrap());
        assert!(sum.all_ok(), "{cfg}");
        assert!(res.iter().all(|r| r.is_done()));
        // The context came back: the pool still works from this thread.
        common::roundtrip(pool, &data, 4096);
    });
}

#[test]
fn software_encoder_choice_is_checked_and_resolved() {
    use iaa::{Codec, Level, Path, SoftwareEncoder};
    let b = || Pool::builder().path(Path::Software).contexts(1);
    // Native is always there; Auto is ISA-L exactly when it is built in, and only at Fast.
    let native = b()
        .software_encoder(SoftwareEncoder::Native)
        .build()
        .unwrap();
    assert_eq!(native.software_encoder(), SoftwareEncoder::Native);
    let auto = b().build().unwrap();
    let want = if SoftwareEncoder::isal_available() {
        SoftwareEncoder::Isal
    } else {
        SoftwareEncoder::Native
    };
    assert_eq!(auto.software_encoder(), want);
    let better = b().level(Level::Better).build().unwrap();
    assert_eq!(better.software_encoder(), SoftwareEncoder::Native);
    // ISA-L takes deflate at level Fast only; without the feature it is a config error.
    for bad in [
        b().software_encoder(SoftwareEncoder::Isal)
            .level(Level::Better),
        b().software_encoder(SoftwareEncoder::Isal)
            .codec(Codec::Zstd),
    ] {
        assert!(matches!(bad.build(), Err(Error::Config(_))));
    }
    let isal = b().software_encoder(SoftwareEncoder::Isal).build();
    if SoftwareEncoder::isal_available() {
        let pool = isal.unwrap();
        assert_eq!(pool.software_encoder(), SoftwareEncoder::Isal);
        // Its units are plain raw deflate within 4 KiB (checked on the corpus in roundtrip.rs).
        let data = common::generated(64 * 1024);
        common::roundtrip(&pool, &data, 4096);
    } else {
        assert!(matches!(isal, Err(Error::Config(_))));
    }
}

#[test]
fn numeric_options_outside_their_ranges_are_typed_errors() {
    use std::time::Duration;
    let t0 = std::time::Instant::now();
    let sw = || Pool::builder().path(iaa::Path::Software);
    let field = |b: iaa::PoolBuilder| match b.build() {
        Err(Error::OutOfRange { field, .. }) => field,
        other => panic!("expected OutOfRange, got {:?}", other.map(|_| ())),
    };
    assert_eq!(field(sw().contexts(usize::MAX)), "contexts");
    assert_eq!(field(sw().contexts(iaa::MAX_CONTEXTS + 1)), "contexts");
    assert_eq!(field(sw().contexts(0)), "contexts");
    assert_eq!(field(sw().hw_batch_size(0)), "hw_batch_size");
    assert_eq!(field(sw().hw_batch_size(1025)), "hw_batch_size");
    assert_eq!(field(sw().max_unit_size(0)), "max_unit_size");
    assert_eq!(
        field(sw().max_unit_size(iaa::MAX_UNIT_SIZE + 1)),
        "max_unit_size"
    );
    let budgets = |t: Duration, r: u32| iaa::Budgets {
        completion_timeout: t,
        submit_retries: r,
    };
    assert_eq!(
        field(sw().budgets(budgets(Duration::ZERO, 1))),
        "completion_timeout_us"
    );
    assert_eq!(
        field(sw().budgets(budgets(Duration::from_secs(61), 1))),
        "completion_timeout_us"
    );
    assert_eq!(
        field(sw().budgets(budgets(Duration::from_millis(1), u32::MAX))),
        "submit_retries"
    );
    assert!(t0.elapsed() < Duration::from_secs(1), "refused at once");
    // The bounds themselves are accepted.
    assert!(sw()
        .contexts(1)
        .hw_batch_size(iaa::MAX_HW_BATCH_SIZE)
        .budgets(budgets(
            iaa::MAX_COMPLETION_TIMEOUT,
            iaa::MAX_SUBMIT_RETRIES
        ))
        .build()
        .is_ok());
}

#[test]
fn a_live_handle_never_blocks_another_threads_call() {
    use std::sync::{mpsc, Arc};
    use std::time::Duration;
    // Two contexts; this thread keeps one through a handle. Whatever CPU the other threads
    // run on, their blocking calls take the free context (they used to wait on the held one
    // when it was their first choice, here for ever: this thread waits for them first). The
    // callers are detached threads, so a regression fails the test instead of hanging it.
    let pool = Arc::new(
        Pool::builder()
            .path(iaa::Path::Software)
            .contexts(2)
            .build()
            .unwrap(),
    );
    let data = Arc::new(common::generated(8 * 4096));
    let mut o1 = vec![0u8; data.len()];
    let mut r1 = vec![UnitResult::Pending; 8];
    let h = pool
        .submit_compress(
            Inputs::units(&data, 4096),
            Outputs::flat(&mut o1, 4096),
            &mut r1,
        )
        .unwrap();
    for _ in 0..4 {
        let (tx, rx) = mpsc::channel();
        let (pool, data) = (Arc::clone(&pool), Arc::clone(&data));
        std::thread::spawn(move || {
            let mut o = vec![0u8; data.len()];
            let mut r = vec![UnitResult::Pending; 8];
            let sum = pool.compress_batch(&data, 4096, Outputs::flat(&mut o, 4096), &mut r);
            let _ = tx.send(sum.map(|s| s.all_ok()));
        });
        assert_eq!(
            rx.recv_timeout(Duration::from_secs(20)),
            Ok(Ok(true)),
            "the call beside a live handle did not finish"
        );
    }
    // Another thread holds the second context through its own handle: now live handles hold
    // every context and a call is refused at once, not left waiting.
    let (tx, rx) = mpsc::channel();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let (p2, d2) = (Arc::clone(&pool), Arc::clone(&data));
    let other = std::thread::spawn(move || {
        let mut o = vec![0u8; d2.len()];
        let mut r = vec![UnitResult::Pending; 8];
        let h2 = p2
            .submit_compress(
                Inputs::units(&d2, 4096),
                Outputs::flat(&mut o, 4096),
                &mut r,
            )
            .unwrap();
        tx.send(()).unwrap();
        go_rx.recv().unwrap();
        h2.wait().all_ok()
    });
    rx.recv().unwrap();
    let mut o = vec![0u8; data.len()];
    let mut r = vec![UnitResult::Pending; 8];
    let e = pool.compress_batch(&data, 4096, Outputs::flat(&mut o, 4096), &mut r);
    assert_eq!(e.err(), Some(Error::AllContextsHeld(2)));
    go_tx.send(()).unwrap();
    assert!(other.join().unwrap());
    assert!(h.wait().all_ok());
}
