//! The hardware path's compression modes on the device model: every unit on the device in
//! each mode, at 4, 16 and 64 KiB units; the dynamic mode's units decode with an independent
//! inflater (zlib's algorithm, flate2) and are smaller than the fixed mode's.

mod common;

use iaa::{Device, HwMode, ModelOptions, Outputs, Path, Pool, UnitResult};

fn pool(mode: HwMode, unit: usize, zero_copy: bool) -> Pool {
    pool_with(mode, unit, zero_copy, &[])
}

fn pool_with(mode: HwMode, unit: usize, zero_copy: bool, sample: &[u8]) -> Pool {
    Pool::builder()
        .path(Path::Hardware)
        .hybrid(false)
        .hw_mode(mode)
        .training_sample(sample.to_vec())
        .budgets(common::debug_budgets())
        .device(Device::Model(ModelOptions {
            require_bounce: !zero_copy,
            ..ModelOptions::default()
        }))
        .max_unit_size(unit.max(4096))
        .contexts(1)
        .build()
        .expect("pool")
}

/// Compressed bytes of `data` in units of `unit` (stored-raw units count their own size), with
/// every unit checked by the independent inflater.
fn compressed_size(p: &Pool, data: &[u8], unit: usize) -> usize {
    let n = data.len().div_ceil(unit);
    let mut out = vec![0u8; n * unit];
    let mut res = vec![UnitResult::Pending; n];
    let sum = p
        .compress_batch(data, unit, Outputs::flat(&mut out, unit), &mut res)
        .unwrap();
    assert!(sum.all_ok(), "{sum:?}");
    let mut total = 0;
    for (i, r) in res.iter().enumerate() {
        let src = &data[i * unit..((i + 1) * unit).min(data.len())];
        match *r {
            UnitResult::Done { len, .. } => {
                let back = common::inflate_independent(&out[i * unit..i * unit + len], src.len());
                assert_eq!(back, src, "unit {i}");
                total += len;
            }
            UnitResult::Incompressible => total += src.len(),
            r => panic!("unit {i}: {r:?}"),
        }
    }
    total
}

#[test]
fn dynamic_mode_beats_fixed_mode_at_every_unit_size_and_reads_back() {
    let corpus = common::corpus();
    let data: Vec<u8> = match corpus.first() {
        Some((_, d)) => d[..d.len().min(256 << 10)].to_vec(),
        None => common::generated(256 << 10),
    };
    for unit in [4096, 16384, 65536] {
        for zero_copy in [true, false] {
            let fixed = pool(HwMode::Fixed, unit, zero_copy);
            let dynamic = pool(HwMode::Dynamic, unit, zero_copy);
            let f = compressed_size(&fixed, &data, unit);
            let d = compressed_size(&dynamic, &data, unit);
            eprintln!(
                "unit {unit} zero_copy {zero_copy}: fixed {f} B (ratio {:.3}), dynamic {d} B \
                 (ratio {:.3})",
                data.len() as f64 / f as f64,
                data.len() as f64 / d as f64
            );
            assert!(d < f, "unit {unit}: dynamic {d} vs fixed {f}");
            let s = dynamic.stats();
            assert_eq!(s.total_fallbacks(), 0, "{s:?}");
            assert!(s.compress_hw.units > 0);
            // And the pool decompresses its own units on the device.
            common::roundtrip(&dynamic, &data, unit);
            assert_eq!(dynamic.stats().total_fallbacks(), 0);
        }
    }
}

#[test]
fn trained_mode_codes_every_unit_with_the_pool_code_in_one_pass() {
    let corpus = common::corpus();
    let data: Vec<u8> = match corpus.first() {
        Some((_, d)) => d[..d.len().min(256 << 10)].to_vec(),
        None => common::generated(256 << 10),
    };
    // A sample spread over the data: 4 pieces of 16 KiB.
    let sample: Vec<u8> = (0..4)
        .flat_map(|k| data[k * data.len() / 4..][..16 << 10].to_vec())
        .collect();
    for unit in [4096, 65536] {
        let fixed = pool(HwMode::Fixed, unit, true);
        let trained = pool_with(HwMode::Trained, unit, true, &sample);
        assert!(
            trained.describe().contains("one trained dynamic code"),
            "{}",
            trained.describe()
        );
        let f = compressed_size(&fixed, &data, unit);
        let t = compressed_size(&trained, &data, unit);
        eprintln!("unit {unit}: fixed {f} B, trained {t} B");
        assert!(t < f, "unit {unit}: trained {t} vs fixed {f}");
        let s = trained.stats();
        assert_eq!(s.total_fallbacks(), 0, "{s:?}");
        // Any input compresses with the trained code (every symbol has one).
        let noise = common::random(64 << 10, 3);
        let mut text = noise.clone();
        text.extend_from_slice(&common::generated(64 << 10));
        compressed_size(&trained, &text, unit);
        assert_eq!(trained.stats().total_fallbacks(), 0);
    }
    // An empty sample is out of range (no sample at all means: learn from the first units).
    let e = Pool::builder()
        .path(Path::Hardware)
        .hw_mode(HwMode::Trained)
        .training_sample(Vec::new())
        .device(Device::Model(ModelOptions::default()))
        .build()
        .unwrap_err();
    assert!(
        matches!(
            e,
            iaa::Error::OutOfRange {
                field: "training_sample",
                ..
            }
        ),
        "{e:?}"
    );
}

#[test]
fn on_an_iaa2_dynamic_codes_take_one_pass_up_to_4_kib_and_auto_uses_them() {
    let data: Vec<u8> = match common::corpus().first() {
        Some((_, d)) => d[..d.len().min(128 << 10)].to_vec(),
        None => common::generated(128 << 10),
    };
    let mk = |mode, iaa2, unit: usize| {
        Pool::builder()
            .path(Path::Hardware)
            .hybrid(false)
            .hw_mode(mode)
            .budgets(common::debug_budgets())
            .device(Device::Model(ModelOptions {
                iaa2,
                ..ModelOptions::default()
            }))
            .max_unit_size(unit.max(4096))
            .contexts(1)
            .build()
            .expect("pool")
    };
    // 4 KiB units: Auto on an IAA 2.0 is one-pass dynamic (the device's header generation),
    // the same bytes as the two-pass dynamic mode of an IAA 1.0 on the model, smaller than
    // fixed; Auto on an IAA 1.0 is fixed.
    let auto2 = mk(HwMode::Auto, true, 4096);
    assert!(
        auto2.describe().contains("generated by the device"),
        "{}",
        auto2.describe()
    );
    let a2 = compressed_size(&auto2, &data, 4096);
    let d1 = compressed_size(&mk(HwMode::Dynamic, false, 4096), &data, 4096);
    let a1 = compressed_size(&mk(HwMode::Auto, false, 4096), &data, 4096);
    let f1 = compressed_size(&mk(HwMode::Fixed, false, 4096), &data, 4096);
    eprintln!("4 KiB: auto IAA2 {a2}, dynamic IAA1 {d1}, auto IAA1 {a1}, fixed {f1}");
    assert_eq!(a2, d1);
    assert_eq!(a1, f1);
    assert!(a2 < f1);
    assert_eq!(auto2.stats().total_fallbacks(), 0);
    // 16 KiB units on an IAA 2.0: Dynamic takes two passes (above 4 KiB), Auto fixed codes.
    let d2 = mk(HwMode::Dynamic, true, 16384);
    let s16 = compressed_size(&d2, &data, 16384);
    let f16 = compressed_size(&mk(HwMode::Auto, true, 16384), &data, 16384);
    eprintln!("16 KiB on IAA2: dynamic {s16}, auto {f16}");
    assert!(s16 < f16);
    assert_eq!(d2.stats().total_fallbacks(), 0);
}

/// Trained mode without a sample: the first `LEARN_BYTES` of units run the two dynamic passes
/// while the pool sums their statistics; then every unit is one descriptor with the learnt
/// code, and reads back.
#[test]
fn a_trained_pool_without_a_sample_learns_its_code_from_the_first_units() {
    // One kind of data throughout (the first corpus file, its debug-build prefix repeated):
    // a code learnt on one kind is for that kind.
    let text: Vec<u8> = match common::corpus().into_iter().next() {
        Some((_, d)) => d,
        None => common::generated(256 << 10),
    };
    let data: Vec<u8> = text.iter().copied().cycle().take(768 << 10).collect();
    let unit = 4096;
    let learn = iaa::LEARN_BYTES;
    // A model of our own, to count the descriptors it executes.
    let model = iaa_model::ModelDevice::start(iaa_model::ModelConfig::iaa(2)).expect("model");
    let m = std::sync::Arc::clone(&model);
    let device = common::registered("hw-modes-learning", move || {
        iaa_model::backend(std::sync::Arc::clone(&m), "learning model").expect("backend")
    });
    let p = Pool::builder()
        .path(Path::Hardware)
        .hybrid(false)
        .hw_mode(HwMode::Trained)
        .budgets(common::debug_budgets())
        .device(device)
        .max_unit_size(unit)
        .contexts(1)
        .build()
        .expect("a trained pool needs no sample");
    assert!(
        p.describe().contains("learning one dynamic code"),
        "{}",
        p.describe()
    );
    let base = model.stats().executed;
    let subs = |_: &Pool| model.stats().executed - base;
    // The first LEARN_BYTES: two descriptors per unit (statistics, then compression).
    let first = compressed_size(&p, &data[..learn], unit);
    let s1 = subs(&p);
    assert_eq!(s1, 2 * (learn / unit) as u64, "two passes while learning");
    assert!(
        p.describe().contains("learnt from the first units"),
        "{}",
        p.describe()
    );
    // Then one descriptor per unit (plus a fixed-code retry for a unit the code does not
    // shrink), at nearly the ratio of a code trained on a sample.
    let rest = &data[learn..];
    let learnt = compressed_size(&p, rest, unit);
    let n = rest.len().div_ceil(unit) as u64;
    let s2 = subs(&p) - s1;
    assert!(
        s2 >= n && s2 <= n + n / 10,
        "{s2} descriptors for {n} units"
    );
    let sample: Vec<u8> = data[..learn].to_vec();
    let sampled = compressed_size(&pool_with(HwMode::Trained, unit, true, &sample), rest, unit);
    let fixed = compressed_size(&pool(HwMode::Fixed, unit, true), rest, unit);
    eprintln!(
        "learning part: {first} B for {learn} B; rest ({} B): learnt {learnt} B, sample-trained \
         {sampled} B, fixed {fixed} B; descriptors {s1} then {s2}",
        rest.len()
    );
    assert!(learnt < fixed, "learnt {learnt} vs fixed {fixed}");
    assert!(
        learnt.abs_diff(sampled) <= sampled / 50,
        "learnt {learnt} vs sampled {sampled}"
    );
    assert_eq!(p.stats().total_fallbacks(), 0);
    // Its units decompress on the device too.
    common::roundtrip(&p, rest, unit);
}
