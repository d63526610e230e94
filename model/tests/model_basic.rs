//! NOOP, DRAIN and MEMMOVE end to end: descriptor built with iaa-descriptors, submitted through
//! iaa-wq, executed by the model (inline and with engine threads), record polled back.

mod model_common;
use model_common::*;

use iaa_descriptors::{IaaDrain, IaaMemmove, IaaNoop};
use iaa_model::{self as model, ModelConfig};
use iaa_wq::SubmitMethod;

#[test]
fn noop_inline_and_threaded() {
    for engines in [0, 2] {
        let r = rig(ModelConfig::iaa(engines));
        assert_eq!(r.wq.method(), SubmitMethod::Model);
        let rec = run_iaa(&r, |c| IaaNoop::new(c).build());
        assert_eq!(rec.status, 0x01, "engines={engines}");
        assert_eq!(r.wq.outstanding(), 0, "credit returned on completion");
        let st = r.dev.stats();
        assert_eq!((st.accepted, st.executed, st.records), (1, 1, 1));
    }
}

#[test]
fn memmove_copies_exactly() {
    for engines in [0, 3] {
        let r = rig(ModelConfig::iaa(engines));
        let src = data(100_000, 7);
        let mut dst = vec![0xEEu8; 100_008];
        let rec = run_iaa(&r, |c| {
            IaaMemmove::new(addr(&src), addr_mut(&mut dst[4..]), src.len() as u32, c).build()
        });
        assert_eq!(rec.status, 0x01);
        assert_eq!(rec.bytes_completed, src.len() as u32);
        assert_eq!(&dst[4..100_004], &src[..]);
        assert_eq!(&dst[..4], &[0xEE; 4], "nothing written before dst");
        assert_eq!(
            &dst[100_004..],
            &[0xEE; 4],
            "nothing written after dst + len"
        );
    }
}

#[test]
fn drain_completes_after_earlier_work() {
    let mut cfg = ModelConfig::iaa(2);
    cfg.latency.fixed_ns = 2_000_000; // 2 ms per descriptor
    let r = rig(cfg);
    let mut recs = iaa_wq::IaaRecords::new(3).unwrap();
    let a = recs.claim().unwrap();
    let b = recs.claim().unwrap();
    let d = recs.claim().unwrap();
    let t = std::time::Instant::now();
    // SAFETY: the records outlive the waits below.
    unsafe {
        r.wq.submit_iaa(&IaaNoop::new(recs.addr(a)).build())
            .unwrap();
        r.wq.submit_iaa(&IaaNoop::new(recs.addr(b)).build())
            .unwrap();
        r.wq.submit_iaa(&IaaDrain::new(recs.addr(d)).build())
            .unwrap();
    }
    let iaa_wq::WaitOutcome::Done(rd) = r.wq.wait(&recs, d, BUDGET) else {
        panic!("drain")
    };
    assert_eq!(rd.status, 1);
    // When the drain's record is visible, both earlier records are too.
    assert!(recs.poll(a).is_some() && recs.poll(b).is_some());
    assert!(t.elapsed() >= std::time::Duration::from_millis(4));
}

#[test]
fn env_selection_gives_model_workqueues() {
    // Pure parsing: the variable is read, not set, by this test to stay race-free.
    let cfg = ModelConfig::from_env().unwrap();
    let opened = model::open(cfg).unwrap();
    assert_eq!(opened.wqs.len(), 1);
    assert_eq!(opened.wqs[0].method(), SubmitMethod::Model);
    let _ = model::selected_by_env();
}

#[test]
fn latency_model_and_parallel_engines() {
    use std::time::{Duration, Instant};
    // ns per KiB: a 1 MiB memmove at 20 us/KiB takes at least ~20 ms.
    let mut cfg = ModelConfig::iaa(1);
    cfg.latency.ns_per_kib = 20_000;
    let r = rig(cfg);
    let src = vec![3u8; 1 << 20];
    let mut dst = vec![0u8; 1 << 20];
    let t = Instant::now();
    let rec = run_iaa(&r, |c| {
        IaaMemmove::new(addr(&src), addr_mut(&mut dst), 1 << 20, c).build()
    });
    assert_eq!(rec.status, 1);
    assert!(
        t.elapsed() >= Duration::from_millis(20),
        "{:?}",
        t.elapsed()
    );
    // Fixed latency with 4 engines: 4 descriptors of 25 ms run in parallel (sequential = 100 ms).
    let mut cfg = ModelConfig::iaa(4);
    cfg.latency.fixed_ns = 25_000_000;
    let r = rig(cfg);
    let mut recs = iaa_wq::IaaRecords::new(4).unwrap();
    let slots: Vec<_> = (0..4).map(|_| recs.claim().unwrap()).collect();
    let t = Instant::now();
    for s in &slots {
        // SAFETY: the records outlive the waits.
        unsafe { r.wq.submit_iaa(&IaaNoop::new(recs.addr(*s)).build()) }.unwrap();
    }
    for s in &slots {
        assert!(matches!(
            r.wq.wait(&recs, *s, BUDGET),
            iaa_wq::WaitOutcome::Done(_)
        ));
    }
    let el = t.elapsed();
    assert!(
        el >= Duration::from_millis(25) && el < Duration::from_millis(90),
        "{el:?}"
    );
}

#[test]
fn submissions_after_the_device_is_dropped_are_refused() {
    let r = rig(ModelConfig::iaa(2));
    let model_common::Rig { dev, wq } = r;
    drop(dev);
    let mut recs = iaa_wq::IaaRecords::new(1).unwrap();
    let s = recs.claim().unwrap();
    // SAFETY: refused; the device is gone.
    let e = unsafe { wq.submit_iaa(&IaaNoop::new(recs.addr(s)).build()) }.unwrap_err();
    assert!(
        matches!(e, iaa_wq::WqError::RetriesExhausted { .. }),
        "{e:?}"
    );
}
