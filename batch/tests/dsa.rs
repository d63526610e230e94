//! The DSA operations (CRC-32C, copy, fill, compare, same-filled pages): the same answers on
//! the software path, on the DSA model (batch descriptors and single ones), over fixture
//! kernel DSA WQs through `write(2)`, and under fault injection, where every unit the device
//! does not finish is done in software and counted.

mod common;

use std::sync::Arc;

use iaa::{Device, DsaPath, Inputs, ModelOptions, Outputs, Path, Pool};
use iaa_model::{Fault, FaultKind, FaultWhen, ModelConfig, ModelDevice};

/// Pages of several kinds: text, zeros, a repeated word, random, one almost same-filled.
fn pages(n: usize, size: usize) -> Vec<Vec<u8>> {
    let text = common::corpus().remove(0).1;
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    (0..n)
        .map(|i| match i % 5 {
            0 => text[(i * size) % (text.len() - size)..][..size].to_vec(),
            1 => vec![0u8; size],
            2 => ((i as u64) * 0x0101_0101_0101_0101)
                .to_le_bytes()
                .repeat(size / 8),
            3 => (0..size)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect(),
            _ => {
                let mut p = 7u64.to_le_bytes().repeat(size / 8);
                p[size - 1] = 0;
                p
            }
        })
        .collect()
}

/// Run every DSA operation on `pool` and check each answer against an independent one.
fn check_all(pool: &Pool, pages: &[Vec<u8>]) -> usize {
    let n = pages.len();
    let units: Vec<&[u8]> = pages.iter().map(|p| p.as_slice()).collect();
    let mut hw = 0;

    let mut crcs = vec![0u32; n];
    let s = pool.crc32c(Inputs::Slices(&units), 0, &mut crcs).unwrap();
    for (p, c) in pages.iter().zip(&crcs) {
        assert_eq!(*c, crc32c::crc32c(p), "CRC-32C vs the crc32c crate");
    }
    hw += s.hardware;
    let mut crcs2 = vec![0u32; n];
    let s = pool
        .crc32c(Inputs::Slices(&units), 0x1234_5678, &mut crcs2)
        .unwrap();
    hw += s.hardware;
    for (p, c) in pages.iter().zip(&crcs2) {
        assert_eq!(*c, crc32c::crc32c_append(0x1234_5678, p), "seeded CRC-32C");
    }

    let mut pat = vec![None; n];
    let s = pool.same_filled(Inputs::Slices(&units), &mut pat).unwrap();
    hw += s.hardware;
    for (p, got) in pages.iter().zip(&pat) {
        let w = u64::from_le_bytes(p[..8].try_into().unwrap());
        let want = p
            .chunks(8)
            .all(|c| u64::from_le_bytes(c.try_into().unwrap()) == w)
            .then_some(w);
        assert_eq!(*got, want, "same-filled");
    }
    assert!(pat.iter().any(|p| p.is_some()) && pat.iter().any(|p| p.is_none()));

    let mut copies = vec![vec![0xAAu8; pages[0].len() + 3]; n];
    let mut dsts: Vec<&mut [u8]> = copies.iter_mut().map(|c| c.as_mut_slice()).collect();
    let s = pool
        .copy(Inputs::Slices(&units), Outputs::Slices(&mut dsts))
        .unwrap();
    hw += s.hardware;
    for (p, c) in pages.iter().zip(&copies) {
        assert_eq!(&c[..p.len()], &p[..], "copy");
        assert_eq!(
            &c[p.len()..],
            &[0xAA; 3],
            "copy writes only the unit's length"
        );
    }

    let mut equal = vec![false; n];
    let others: Vec<Vec<u8>> = pages
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let mut q = p.clone();
            if i % 3 == 0 {
                q[i % p.len()] ^= 0x10;
            }
            q
        })
        .collect();
    let b: Vec<&[u8]> = others.iter().map(|p| p.as_slice()).collect();
    let s = pool
        .compare(Inputs::Slices(&units), Inputs::Slices(&b), &mut equal)
        .unwrap();
    hw += s.hardware;
    for (i, e) in equal.iter().enumerate() {
        assert_eq!(*e, i % 3 != 0, "compare of unit {i}");
    }

    let mut flat = vec![1u8; n * 4096];
    let s = pool
        .fill(Outputs::flat(&mut flat, 4096), n, 0x0102_0304_0506_0708)
        .unwrap();
    hw += s.hardware;
    assert!(
        flat.chunks(8).all(|c| c == [8, 7, 6, 5, 4, 3, 2, 1]),
        "fill"
    );
    hw
}

#[test]
fn software_path_answers_match_independent_ones() {
    let pool = Pool::builder().path(Path::Software).build().unwrap();
    assert!(!pool.has_dsa());
    assert_eq!(check_all(&pool, &pages(40, 4096)), 0);
    let s = pool.stats();
    assert_eq!(s.dsa_hw, 0);
    assert_eq!(s.dsa_fallbacks.iter().sum::<u64>(), 0, "software by choice");
    assert!(pool.describe().contains("DSA operations: software"));
}

#[test]
fn the_dsa_model_gives_the_same_answers_with_batch_descriptors() {
    let pool = Pool::builder()
        .device(Device::Model(ModelOptions::default()))
        .build()
        .unwrap();
    assert!(pool.has_dsa(), "{}", pool.describe());
    assert_eq!(pool.dsa_work_queues(), vec!["model-dsa/wq0".to_string()]);
    let pages = pages(70, 4096);
    let hw = check_all(&pool, &pages);
    let s = pool.stats();
    assert_eq!(s.dsa_sw, 0, "{:?}", s.dsa_fallbacks);
    assert_eq!(hw as u64, s.dsa_hw);
    // 70 units in windows of 32: 3 batch descriptors per call.
    assert_eq!(s.dsa_submissions, 6 * 3, "one batch descriptor per window");
}

#[test]
fn single_descriptors_on_a_dedicated_wq_smaller_than_the_window() {
    let o = ModelOptions {
        dedicated: true,
        wq_size: 4,
        ..ModelOptions::default()
    };
    // The model takes batches; a window of 1 never forms one.
    let pool = Pool::builder()
        .device(Device::Model(o))
        .dsa_batch_size(1)
        .build()
        .unwrap();
    let pages = pages(23, 4096);
    check_all(&pool, &pages);
    let s = pool.stats();
    assert_eq!(s.dsa_sw, 0, "{:?}", s.dsa_fallbacks);
    assert_eq!(s.dsa_submissions, s.dsa_hw);
}

#[test]
fn fixture_kernel_dsa_wqs_run_through_write_without_batches() {
    let dev = common::fixture_dsa("dsa-kernel-fixture");
    let pool = Pool::builder()
        .path(Path::Software)
        .dsa(DsaPath::Device(dev))
        .build()
        .unwrap();
    assert_eq!(pool.dsa_work_queues(), vec!["wq0.0", "wq0.1"]);
    let pages = pages(40, 4096);
    check_all(&pool, &pages);
    let s = pool.stats();
    assert_eq!(s.dsa_sw, 0, "{:?}", s.dsa_fallbacks);
    // Through write(2) there are no batch descriptors: one descriptor per unit.
    assert_eq!(s.dsa_submissions, s.dsa_hw);
}

/// A DSA model with `kind` faults at `per_million` on its WQ, registered as `name`.
fn faulty(name: &str, kinds: &[FaultKind], per_million: u32) -> (Device, Arc<ModelDevice>) {
    let model = ModelDevice::start(ModelConfig::dsa(2)).expect("model");
    for (i, k) in kinds.iter().enumerate() {
        model
            .inject(Fault {
                wq: 0,
                kind: *k,
                when: FaultWhen::Rate {
                    per_million,
                    seed: 7 + i as u64,
                },
            })
            .unwrap();
    }
    let m = Arc::clone(&model);
    iaa_driver::open::register_dsa(
        name,
        Arc::new(move || {
            iaa_model::dsa_backend(Arc::clone(&m), "faulty DSA model").map_err(|e| {
                iaa_driver::open::OpenError::Failed {
                    what: "faulty DSA".into(),
                    message: e.to_string(),
                }
            })
        }),
    );
    (Device::Named(name.into()), model)
}

#[test]
fn faults_at_ten_percent_are_all_redone_in_software_and_counted() {
    let kinds = [
        FaultKind::PageFault { write: false },
        FaultKind::PageFault { write: true },
        FaultKind::HardwareError,
        FaultKind::Watchdog,
    ];
    for batch in [1usize, 8] {
        let (dev, model) = faulty(&format!("dsa-faulty-{batch}"), &kinds, 25_000);
        let pool = Pool::builder()
            .path(Path::Software)
            .dsa(DsaPath::Device(dev))
            .dsa_batch_size(batch)
            .build()
            .unwrap();
        // Faults the build's known-answer test met are not this test's.
        let f0 = model.stats().faults;
        let pages = pages(200, 4096);
        let hw = check_all(&pool, &pages);
        let s = pool.stats();
        let faults = model.stats().faults - f0;
        assert!(faults > 0, "faults were injected");
        assert!(hw > 0, "some units ran on the device");
        assert_eq!(
            s.dsa_sw,
            s.dsa_fallbacks.iter().sum::<u64>(),
            "every software unit has its cause"
        );
        eprintln!(
            "batch {batch}: {faults} faulted descriptors, {} device units, {} software: \
             page_fault {}, device_error {}",
            s.dsa_hw,
            s.dsa_sw,
            s.dsa_fallbacks[iaa::FallbackCause::PageFault as usize],
            s.dsa_fallbacks[iaa::FallbackCause::DeviceError as usize],
        );
        assert!(s.dsa_fallbacks[iaa::FallbackCause::PageFault as usize] > 0);
        assert!(s.dsa_fallbacks[iaa::FallbackCause::DeviceError as usize] > 0);
        if batch == 1 {
            // One descriptor per unit: each fault sends exactly its unit to software.
            assert_eq!(s.dsa_sw, faults);
        }
    }
}

#[test]
fn a_hung_read_times_out_to_software_and_the_context_recovers() {
    let (dev, model) = faulty("dsa-hang", &[], 0);
    let pool = Pool::builder()
        .path(Path::Software)
        .dsa(DsaPath::Device(dev))
        .contexts(1)
        .budgets(iaa::Budgets {
            completion_timeout: std::time::Duration::from_millis(20),
            ..iaa::Budgets::default()
        })
        .build()
        .unwrap();
    // After the build (whose known-answer test submits descriptors of its own).
    model
        .inject(Fault {
            wq: 0,
            kind: FaultKind::Hang,
            when: FaultWhen::Nth(0),
        })
        .unwrap();
    let pages = pages(10, 4096);
    let units: Vec<&[u8]> = pages.iter().map(|p| p.as_slice()).collect();
    let mut crcs = vec![0u32; 10];
    pool.crc32c(Inputs::Slices(&units), 0, &mut crcs).unwrap();
    for (p, c) in pages.iter().zip(&crcs) {
        assert_eq!(*c, crc32c::crc32c(p));
    }
    let s = pool.stats();
    assert_eq!(s.dsa_fallbacks[iaa::FallbackCause::Timeout as usize], 10);
    // Still quarantined: the next call goes to software at once.
    pool.crc32c(Inputs::Slices(&units), 0, &mut crcs).unwrap();
    assert_eq!(
        pool.stats().dsa_fallbacks[iaa::FallbackCause::Quarantined as usize],
        10
    );
    // The device finishes the hung batch: the records are reaped, the device is used again.
    assert_eq!(model.finish_hung(), 1);
    let before = pool.stats().dsa_hw;
    let sum = pool.crc32c(Inputs::Slices(&units), 0, &mut crcs).unwrap();
    assert_eq!(sum.hardware, 10);
    assert_eq!(pool.stats().dsa_hw, before + 10);
    for (p, c) in pages.iter().zip(&crcs) {
        assert_eq!(*c, crc32c::crc32c(p));
    }
}

#[test]
fn bad_shapes_are_errors_before_anything_is_written() {
    let pool = Pool::builder()
        .device(Device::Model(ModelOptions::default()))
        .build()
        .unwrap();
    let a = [1u8; 64];
    let units: [&[u8]; 2] = [&a, &a];
    let mut crcs = [0u32; 1];
    assert!(matches!(
        pool.crc32c(Inputs::Slices(&units), 0, &mut crcs),
        Err(iaa::Error::TooFewResults { .. })
    ));
    let mut small = [0u8; 32];
    let mut big = [0u8; 64];
    let mut dsts: [&mut [u8]; 2] = [&mut big, &mut small];
    assert!(matches!(
        pool.copy(Inputs::Slices(&units), Outputs::Slices(&mut dsts)),
        Err(iaa::Error::SlotTooSmall {
            unit: 1,
            need: 64,
            have: 32
        })
    ));
    assert_eq!(big, [0u8; 64], "nothing was written");
    // Empty units: CRC is the seed, compare of two empty units is equal, no descriptor.
    let e: [&[u8]; 1] = [&[]];
    let mut c = [0u32; 1];
    let s = pool.crc32c(Inputs::Slices(&e), 99, &mut c).unwrap();
    assert_eq!((c[0], s.hardware, s.software), (99, 0, 1));
    let mut eq = [false];
    pool.compare(Inputs::Slices(&e), Inputs::Slices(&e), &mut eq)
        .unwrap();
    assert!(eq[0]);
    assert!(matches!(
        Pool::builder().dsa_batch_size(0).build(),
        Err(iaa::Error::OutOfRange { .. })
    ));
    assert!(matches!(
        Pool::builder().dsa_batch_size(65).build(),
        Err(iaa::Error::OutOfRange { .. })
    ));
}

#[test]
fn a_dsa_that_gives_wrong_answers_is_not_used() {
    // The DSA model reports every CRC-32C with its lowest bit flipped: the pool's known-answer
    // test at build finds it, and the DSA operations run (correctly) in software.
    let pool = Pool::builder()
        .device(Device::Model(ModelOptions {
            skew_crc32c: true,
            ..ModelOptions::default()
        }))
        .build()
        .unwrap();
    assert!(!pool.has_dsa());
    let d = pool.describe();
    assert!(d.contains("CRC-32C gave") && d.contains("software"), "{d}");
    assert_eq!(check_all(&pool, &pages(20, 4096)), 0);
    let s = pool.stats();
    assert_eq!(
        s.dsa_fallbacks[iaa::FallbackCause::NoDevice as usize],
        s.dsa_sw
    );
    eprintln!("{d}");
}

#[test]
fn a_window_with_a_hung_read_and_a_copy_ends_once_the_copy_is_done() {
    // The build's known-answer test puts reads and a copy on one WQ; the first read hangs.
    // The copy completes, so the wait gives up on the read (quarantined) and the build ends.
    let (dev, model) = faulty("dsa-hang-at-build", &[], 0);
    model
        .inject(Fault {
            wq: 0,
            kind: FaultKind::Hang,
            when: FaultWhen::Nth(0),
        })
        .unwrap();
    let t = std::time::Instant::now();
    let pool = Pool::builder()
        .path(Path::Software)
        .dsa(DsaPath::Device(dev))
        .build()
        .unwrap();
    assert!(t.elapsed() < std::time::Duration::from_secs(10));
    assert!(pool.has_dsa(), "{}", pool.describe());
    check_all(&pool, &pages(10, 4096));
    assert_eq!(model.finish_hung(), 1);
}

#[test]
fn units_decided_without_a_descriptor_count_as_software_without_a_cause() {
    let pool = Pool::builder()
        .device(Device::Model(ModelOptions::default()))
        .build()
        .unwrap();
    assert!(pool.has_dsa(), "{}", pool.describe());
    let page = vec![7u8; 4096];
    let odd = vec![7u8; 4093];
    let before = pool.stats();
    // An empty unit and a page whose length is not a multiple of 8: no descriptor either.
    let units: [&[u8]; 3] = [&page, &[], &odd];
    let mut pat = [None; 3];
    let s = pool.same_filled(Inputs::Slices(&units), &mut pat).unwrap();
    assert_eq!(pat, [Some(u64::from_le_bytes([7; 8])), None, None]);
    assert_eq!((s.hardware, s.software), (1, 2));
    let after = pool.stats();
    assert_eq!(after.dsa_hw - before.dsa_hw, 1);
    assert_eq!(after.dsa_sw - before.dsa_sw, 2, "in dsa_sw");
    assert_eq!(
        after.dsa_fallbacks.iter().sum::<u64>(),
        before.dsa_fallbacks.iter().sum::<u64>(),
        "not fallbacks"
    );
}
