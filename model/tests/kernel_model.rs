//! The kernel path end to end with the device model behind it: discovery over a fixture sysfs
//! tree, open of each node through `ModelNodeOpener` (write(2) into a socket a bridge thread
//! feeds into the model), the NOOP probe, then compress and decompress batches through the
//! resulting `iaa_wq::WorkQueue`s.

use iaa_driver::fixture as common;

use common::{bdf, Host};
use iaa_descriptors::{CompressAecs, IaaCompletionRecord, IaaCompress, IaaDecompress};
use iaa_driver::kernel::{open_iaa_wqs, open_with, open_wq, KernelError};
use iaa_driver::sysfs::{Availability, SubmissionKind, UnusableReason, WqStatus};
use iaa_model::ModelNodeOpener;
use iaa_model::{ModelConfig, ModelDevice, ModelWqConfig};
use iaa_wq::{CpuFeatures, IaaRecords, SubmitMethod, WaitOutcome, WorkQueue};
use std::sync::atomic::Ordering;
use std::time::Duration;

const BUDGET: Duration = Duration::from_secs(10);

/// iax1 with a shared user WQ (32) and a dedicated user WQ (16), plus a kernel WQ.
fn host() -> Host {
    let h = iaa_driver::fixture::one_iaa_two_wqs();
    h.wq(
        "iax1",
        bdf("iax1"),
        "wq1.2",
        &[("type", Some("kernel")), ("driver_name", Some("crypto"))],
        false,
    );
    h
}

fn model() -> std::sync::Arc<ModelDevice> {
    let mut cfg = ModelConfig::iaa(2);
    cfg.wqs = vec![ModelWqConfig::shared(32), ModelWqConfig::dedicated(16)];
    ModelDevice::start(cfg).unwrap()
}

fn opener(h: &Host, m: &std::sync::Arc<ModelDevice>) -> ModelNodeOpener {
    ModelNodeOpener::new(m.clone())
        .serve(h.dev().join("iax/wq1.0"), 0)
        .serve(h.dev().join("iax/wq1.1"), 1)
}

fn data(n: usize, seed: u64) -> Vec<u8> {
    let words: [&[u8]; 6] = [b"page ", b"block ", b"key=", b"value ", b"lsm ", b"\n"];
    let mut s = seed | 1;
    let mut v = Vec::with_capacity(n);
    while v.len() < n {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        if s.is_multiple_of(5) {
            v.push((s >> 24) as u8);
        } else {
            v.extend_from_slice(words[(s >> 40) as usize % 6]);
        }
    }
    v.truncate(n);
    v
}

/// Compress every unit, then decompress every result, each as one batch submitted before any
/// wait; returns the compressed sizes.
fn round_trip_batch(wq: &WorkQueue, units: &[Vec<u8>]) -> Vec<usize> {
    let n = units.len();
    let aecs = [CompressAecs::fixed(), CompressAecs::fixed()];
    let mut recs = IaaRecords::new(n).unwrap();
    let slots: Vec<_> = (0..n).map(|_| recs.claim().unwrap()).collect();
    let mut outs: Vec<Vec<u8>> = units.iter().map(|u| vec![0u8; u.len() * 2 + 64]).collect();
    for i in 0..n {
        let d = IaaCompress::new(
            units[i].as_ptr() as u64,
            units[i].len() as u32,
            outs[i].as_mut_ptr() as u64,
            outs[i].len() as u32,
            aecs.as_ptr() as u64,
            recs.addr(slots[i]),
        )
        .build();
        // SAFETY: sources, outputs, AECS and records outlive the waits below, which must all
        // complete (the test fails otherwise, before anything is freed... by panicking, which
        // leaks nothing the model still writes: the model threads stop with the device).
        unsafe { wq.submit_iaa(&d) }.unwrap();
    }
    let mut sizes = Vec::new();
    for i in 0..n {
        let rec: IaaCompletionRecord = match wq.wait(&recs, slots[i], BUDGET) {
            WaitOutcome::Done(r) => r,
            WaitOutcome::TimedOut => panic!("compress {i} timed out"),
        };
        assert_eq!(rec.status, 1, "compress {i}");
        assert_eq!(rec.crc, crc32fast::hash(&units[i]));
        outs[i].truncate(rec.output_size as usize);
        sizes.push(outs[i].len());
    }
    for &s in &slots {
        recs.release(s).unwrap();
    }
    let slots: Vec<_> = (0..n).map(|_| recs.claim().unwrap()).collect();
    let mut backs: Vec<Vec<u8>> = units.iter().map(|u| vec![0u8; u.len()]).collect();
    for i in 0..n {
        let d = IaaDecompress::new(
            outs[i].as_ptr() as u64,
            outs[i].len() as u32,
            backs[i].as_mut_ptr() as u64,
            backs[i].len() as u32,
            recs.addr(slots[i]),
        )
        .build();
        // SAFETY: as above.
        unsafe { wq.submit_iaa(&d) }.unwrap();
    }
    for i in 0..n {
        match wq.wait(&recs, slots[i], BUDGET) {
            WaitOutcome::Done(r) => {
                assert_eq!(r.status, 1, "decompress {i}");
                assert_eq!(r.output_size as usize, units[i].len());
            }
            WaitOutcome::TimedOut => panic!("decompress {i} timed out"),
        }
        assert_eq!(backs[i], units[i], "unit {i}");
    }
    sizes
}

#[test]
fn discovery_probe_open_and_round_trip_through_the_model() {
    let h = host();
    let m = model();
    let op = opener(&h, &m);
    let inv = h.discovery().scan_with(&op);
    // Both user WQs passed the NOOP probe through the bridge into the model.
    for name in ["wq1.0", "wq1.1"] {
        assert!(
            matches!(
                inv.wq(name).unwrap().1.status,
                WqStatus::Usable {
                    submission: SubmissionKind::Write,
                    ..
                }
            ),
            "{name}: {:?}",
            inv.wq(name).unwrap().1.status
        );
    }
    assert_eq!(inv.availability(), Availability::Usable { wqs: 2 });
    let probes = op.stats().forwarded.load(Ordering::Relaxed);
    assert_eq!(probes, 2, "one NOOP per probed WQ");
    assert!(m.stats().executed >= 2);

    let (wqs, failed) = open_iaa_wqs(&inv, &op, CpuFeatures::get());
    assert!(failed.is_empty(), "{failed:?}");
    assert_eq!(wqs.len(), 2);
    for k in &wqs {
        assert_eq!(k.wq.method(), SubmitMethod::Write);
        assert_eq!(k.device, "iax1");
        assert_eq!(k.socket, Some(0));
    }
    assert_eq!(wqs[1].wq.config().size, 16);

    let units: Vec<Vec<u8>> = (0..8).map(|i| data(4096 + 512 * i, i as u64 + 1)).collect();
    for k in &wqs {
        let sizes = round_trip_batch(&k.wq, &units);
        for (s, u) in sizes.iter().zip(&units) {
            assert!(
                *s < u.len(),
                "compressible unit shrinks: {} -> {s}",
                u.len()
            );
        }
        assert_eq!(
            k.wq.outstanding(),
            0,
            "{}: every credit returned",
            k.sysfs_name
        );
    }
    // 2 probes at discovery + 2 at open + 2 * 16 descriptors.
    assert_eq!(op.stats().forwarded.load(Ordering::Relaxed), 4 + 32);
    assert_eq!(op.stats().dropped.load(Ordering::Relaxed), 0);

    // The dedicated WQ's credit bound is its sysfs size: 17 outstanding are refused.
    let kd = &wqs[1];
    let mut recs = IaaRecords::new(17).unwrap();
    let mut refused = 0;
    let mut slots = Vec::new();
    for _ in 0..17 {
        let s = recs.claim().unwrap();
        let d = iaa_descriptors::IaaNoop::new(recs.addr(s)).build();
        // SAFETY: records live until waited below.
        match unsafe { kd.wq.submit_iaa(&d) } {
            Ok(()) => slots.push(s),
            Err(iaa_wq::WqError::NoCredit { size: 16, .. }) => refused += 1,
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!((slots.len(), refused), (16, 1));
    for s in slots {
        assert!(matches!(kd.wq.wait(&recs, s, BUDGET), WaitOutcome::Done(r) if r.status == 1));
    }
}

#[test]
fn unusable_and_failing_wqs() {
    let h = host();
    let m = model();
    // Shared model WQ disabled: the NOOP probe gets no completion -> write_probe_failed.
    m.set_wq_enabled(0, false).unwrap();
    let op = opener(&h, &m);
    let inv = h.discovery().scan_with(&op);
    let r = inv.wq("wq1.0").unwrap().1.status.reason().cloned().unwrap();
    assert_eq!(r.code(), "write_probe_failed", "{r}");
    assert!(inv.wq("wq1.1").unwrap().1.status.is_usable());
    let (d, w) = inv.wq("wq1.2").unwrap();
    match open_wq(d, w, &op, CpuFeatures::get()) {
        Err(KernelError::Unusable {
            reason: UnusableReason::KernelOwned { .. },
            ..
        }) => {}
        other => panic!("{other:?}"),
    }
    // A node the opener does not serve: open fails NotFound.
    let h2 = host();
    let inv2 = h2.discovery().scan_with(&ModelNodeOpener::new(m.clone()));
    assert_eq!(
        inv2.wq("wq1.1").unwrap().1.status.reason().unwrap().code(),
        "node_missing"
    );
}

#[test]
fn open_with_reports_why_none() {
    let h = host();
    let m = model();
    let op = opener(&h, &m);
    let got = open_with(&h.discovery(), &op);
    assert_eq!(got.wqs.len(), 2);
    assert!(got.why_none().is_none());
    // The chooser indexes the opened WQs: one device with two WQs splits compress/decompress.
    let ch = got.chooser(iaa_driver::choice::ChoicePolicy::default());
    let c = ch.pick(0, iaa_driver::choice::Op::Compress, 0).unwrap();
    let d = ch.pick(1, iaa_driver::choice::Op::Decompress, 5).unwrap();
    assert!(c < got.wqs.len() && d < got.wqs.len() && c != d);
    assert_eq!(ch.candidates()[c].sysfs_name, got.wqs[c].sysfs_name);
    // Empty host: nothing opened, and the reason is the availability text.
    let empty = Host::new();
    let got = open_with(&empty.discovery(), &op);
    assert!(got.wqs.is_empty() && got.failed.is_empty());
    assert!(got.why_none().unwrap().contains("idxd driver not loaded"));
    // The live host (no IAA here) never panics.
    let live = iaa_driver::kernel::open_host();
    if live.wqs.is_empty() {
        assert!(live.why_none().is_some());
    }
}
