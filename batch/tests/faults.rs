//! Fault storms: every fault kind the device model supports, each at a 10% rate, while 16
//! threads run batches over the corpus. Every unit must come back as its original bytes, and
//! the statistics must account for every unit that left the hardware.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use iaa::{Budgets, FallbackCause, Path, Pool};
use iaa_model::{Fault, FaultKind, FaultWhen, ModelConfig, ModelDevice, ModelWqConfig};

const THREADS: usize = 16;
const UNIT: usize = 4096;

fn storm_device(wqs: usize, seed: u64) -> Arc<ModelDevice> {
    let cfg = ModelConfig {
        wqs: vec![ModelWqConfig::shared(32); wqs],
        ..ModelConfig::iaa(2)
    };
    let dev = ModelDevice::start(cfg).expect("model starts");
    let kinds = [
        FaultKind::PageFault { write: false },
        FaultKind::PageFault { write: true },
        FaultKind::OutputOverflow,
        FaultKind::HardwareError,
        FaultKind::Watchdog,
        FaultKind::Hang,
        FaultKind::DisableWq,
    ];
    for wq in 0..wqs {
        for (k, kind) in kinds.iter().enumerate() {
            let when = FaultWhen::Rate {
                per_million: 100_000,
                seed: seed + 31 * k as u64 + 1000 * wq as u64,
            };
            dev.inject(Fault {
                wq,
                kind: *kind,
                when,
            })
            .expect("valid fault");
        }
    }
    dev
}

fn storm(verify: bool, batches_per_thread: usize, seed: u64) {
    let dev = storm_device(2, seed);
    let pool = Pool::builder()
        .path(Path::Hardware)
        .device(common::shared_model(&dev))
        .verify(verify)
        .contexts(4)
        .budgets(Budgets {
            completion_timeout: Duration::from_millis(40),
            submit_retries: 8,
        })
        .build()
        .expect("pool on the model");
    let corpus = common::corpus();
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        // The "administrator": re-enables disabled WQs and lets hung descriptors finish late
        // (into slots the pool has quarantined).
        // Hung descriptors finish only after 150 ms, well past the 40 ms completion timeout.
        s.spawn(|| {
            let mut tick = 0u32;
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(3));
                for wq in 0..2 {
                    let _ = dev.set_wq_enabled(wq, true);
                }
                tick += 1;
                if tick.is_multiple_of(50) {
                    dev.finish_hung();
                }
            }
        });
        let workers: Vec<_> = (0..THREADS)
            .map(|t| {
                let corpus = &corpus;
                let pool = &pool;
                s.spawn(move || {
                    for b in 0..batches_per_thread {
                        let (_, data) = &corpus[(t + b) % corpus.len()];
                        let units = 12;
                        let span = units * UNIT;
                        let off =
                            ((t * 7 + b * 13) * UNIT) % data.len().saturating_sub(span).max(1);
                        let chunk = &data[off..(off + span).min(data.len())];
                        // Compress (per-unit results), decompress, compare: common::roundtrip
                        // asserts no unit failed and every unit is restored.
                        common::roundtrip(pool, chunk, UNIT);
                    }
                })
            })
            .collect();
        for w in workers {
            w.join().expect("worker");
        }
        stop.store(true, Ordering::Relaxed);
    });
    let s = pool.stats();
    let m = dev.stats();
    eprintln!("verify={verify}: {s:?}\nmodel: {m:?}");
    for c in FallbackCause::ALL {
        eprintln!("  {:>16}: {}", c.name(), s.fallback(c));
    }
    // Every unit that left the hardware is counted once, with its cause.
    assert_eq!(s.software_units(), s.total_fallbacks(), "{s:?}");
    assert_eq!(s.unit_errors, 0);
    assert_eq!(s.fallback(FallbackCause::Timeout), s.timeouts);
    assert!(m.faults > 0);
    // Each injected kind shows up in its own counter.
    assert!(s.fault_resubmits > 0, "page faults resubmitted");
    assert!(
        s.fallback(FallbackCause::DeviceError) > 0,
        "hardware errors / watchdog"
    );
    assert!(s.timeouts > 0, "hangs time out");
    assert!(
        s.fallback(FallbackCause::SubmitRefused) > 0,
        "disabled WQ refuses"
    );
    assert!(
        s.fallback(FallbackCause::Undecodable) > 0,
        "decompress overflow"
    );
    assert!(
        s.compress_hw.units > 0 && s.decompress_hw.units > 0,
        "the device still did work"
    );
    if verify {
        assert!(s.verify_checks > 0);
        assert_eq!(s.fallback(FallbackCause::VerifyMismatch), s.verify_failures);
    }
    drop(pool);
    // Late completions of quarantined slots land in memory the pool kept alive (or leaked):
    // finishing the remaining hung descriptors now must not crash.
    dev.finish_hung();
}

#[test]
fn fault_storm_16_threads() {
    storm(false, if cfg!(debug_assertions) { 20 } else { 80 }, 11);
}

#[test]
fn fault_storm_with_verify() {
    storm(true, if cfg!(debug_assertions) { 12 } else { 60 }, 23);
}

/// A pool on a fresh 1-engine model with one fault injected at descriptor `nth`.
fn one_fault(kind: FaultKind, nth: u64, timeout_ms: u64) -> (Arc<ModelDevice>, Pool) {
    let dev = ModelDevice::start(ModelConfig::iaa(1)).expect("model");
    dev.inject(Fault {
        wq: 0,
        kind,
        when: FaultWhen::Nth(nth),
    })
    .expect("fault");
    let pool = Pool::builder()
        .path(Path::Hardware)
        .device(common::shared_model(&dev))
        .hybrid(false)
        .contexts(1)
        .budgets(Budgets {
            completion_timeout: Duration::from_millis(timeout_ms),
            submit_retries: 8,
        })
        .build()
        .expect("pool");
    (dev, pool)
}

fn eight_pages() -> Vec<u8> {
    common::generated(8 * UNIT)
}

#[test]
fn page_fault_is_resolved_by_one_touch_and_resubmit() {
    for write in [false, true] {
        let (_dev, pool) = one_fault(FaultKind::PageFault { write }, 3, 10_000);
        common::roundtrip(&pool, &eight_pages(), UNIT);
        let s = pool.stats();
        assert_eq!(s.fault_resubmits, 1, "{s:?}");
        assert_eq!(s.total_fallbacks(), 0, "{s:?}");
        assert_eq!(s.compress_hw.units, 8);
    }
}

#[test]
fn device_errors_send_that_unit_alone_to_software() {
    for kind in [FaultKind::HardwareError, FaultKind::Watchdog] {
        let (_dev, pool) = one_fault(kind, 2, 10_000);
        common::roundtrip(&pool, &eight_pages(), UNIT);
        let s = pool.stats();
        assert_eq!(s.fallback(FallbackCause::DeviceError), 1, "{kind:?}: {s:?}");
        assert_eq!(s.compress_hw.units, 7);
        assert_eq!(s.compress_sw.units, 1);
    }
}

#[test]
fn decompress_overflow_goes_to_software_compress_overflow_is_incompressible() {
    // Descriptor 1 is the second compress: reported incompressible (stored raw by the caller).
    let (_dev, pool) = one_fault(FaultKind::OutputOverflow, 1, 10_000);
    let comp = common::roundtrip(&pool, &eight_pages(), UNIT);
    assert_eq!(comp.iter().filter(|c| c.is_none()).count(), 1);
    assert_eq!(pool.stats().total_fallbacks(), 0);
    // Descriptor 8 + 2 = a decompress: redone in software.
    let (_dev, pool) = one_fault(FaultKind::OutputOverflow, 10, 10_000);
    common::roundtrip(&pool, &eight_pages(), UNIT);
    let s = pool.stats();
    assert_eq!(s.fallback(FallbackCause::Undecodable), 1, "{s:?}");
    assert_eq!(s.decompress_sw.units, 1);
}

#[test]
fn hung_unit_times_out_and_its_slot_stays_quarantined_until_the_late_write() {
    let (dev, pool) = one_fault(FaultKind::Hang, 4, 300);
    let data = eight_pages();
    common::roundtrip(&pool, &data, UNIT);
    let s = pool.stats();
    assert_eq!(s.timeouts, 1, "{s:?}");
    assert_eq!(s.fallback(FallbackCause::Timeout), 1);
    // The slot is still quarantined: later batches run on the other slots, correctly.
    common::roundtrip(&pool, &data, UNIT);
    // The device finishes the hung descriptor late, into the quarantined bounce buffer only.
    assert_eq!(dev.finish_hung(), 1);
    common::roundtrip(&pool, &data, UNIT);
    let s = pool.stats();
    assert_eq!(s.timeouts, 1);
    assert_eq!(s.total_fallbacks(), 1, "{s:?}");
}

#[test]
fn pool_dropped_with_a_hung_unit_keeps_its_memory_for_the_late_write() {
    let (dev, pool) = one_fault(FaultKind::Hang, 0, 300);
    common::roundtrip(&pool, &eight_pages(), UNIT);
    assert_eq!(pool.stats().timeouts, 1);
    drop(pool);
    // The late completion writes into memory the dropped pool leaked on purpose.
    assert_eq!(dev.finish_hung(), 1);
    assert!(dev.stats().records > 0);
}

#[test]
fn disabled_wq_refusals_go_to_software_after_the_retry_budget() {
    let (dev, pool) = one_fault(FaultKind::DisableWq, 0, 10_000);
    common::roundtrip(&pool, &eight_pages(), UNIT);
    let s = pool.stats();
    assert!(s.fallback(FallbackCause::SubmitRefused) >= 8, "{s:?}");
    assert!(s.submit_retries > 0, "{s:?}");
    dev.set_wq_enabled(0, true).expect("wq 0");
    let before = pool.stats().compress_hw.units;
    common::roundtrip(&pool, &eight_pages(), UNIT);
    assert_eq!(pool.stats().compress_hw.units, before + 8);
}
