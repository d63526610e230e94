//! Injected faults: the record the model writes and the typed outcome the wq side gives,
//! resubmission after page faults, quarantine of hung units, WQ disable, seeded fault rates,
//! and ENQCMD refusal at the shared-WQ threshold.

mod model_common;
use model_common::*;

use std::sync::Arc;
use std::time::Duration;

use iaa_descriptors::{CompressAecs, DsaMemmove, IaaCompress, IaaDecompress, IaaMemmove, IaaNoop};
use iaa_model::{Fault, FaultKind, FaultWhen, ModelConfig, ModelWqConfig};
use iaa_wq::{IaaRecords, WaitOutcome, WqError};
use model_common::outcome::{dsa_outcome, iaa_outcome, DsaOutcome, IaaOutcome};

fn nth(kind: FaultKind, n: u64) -> Fault {
    Fault {
        wq: 0,
        kind,
        when: FaultWhen::Nth(n),
    }
}

#[test]
fn iaa_page_fault_then_resubmit_redoes_the_job() {
    let r = rig(ModelConfig::iaa(1));
    let src = data(20_000, 1);
    let mut dst = vec![0u8; 40_000];
    let aecs = [CompressAecs::fixed(), CompressAecs::fixed()];
    for write in [false, true] {
        r.dev
            .inject(nth(FaultKind::PageFault { write }, 0))
            .unwrap();
        let mut recs = IaaRecords::new(1).unwrap();
        let s = recs.claim().unwrap();
        let d = IaaCompress::new(
            addr(&src),
            20_000,
            addr_mut(&mut dst),
            40_000,
            addr(&aecs),
            recs.addr(s),
        )
        .build();
        // SAFETY: all buffers outlive the waits.
        unsafe { r.wq.submit_iaa(&d) }.unwrap();
        let WaitOutcome::Done(rec) = r.wq.wait(&recs, s, BUDGET) else {
            panic!()
        };
        let want_addr = if write { addr(&dst) } else { addr(&src) };
        assert_eq!(rec.status, if write { 0x83 } else { 0x03 });
        assert_eq!(
            iaa_outcome(&rec),
            IaaOutcome::PageFault {
                addr: want_addr,
                write
            }
        );
        assert_eq!(rec.output_size, 0, "no usable partial output on IAA");
        // Resubmit the same descriptor after resetting the record: the whole job is redone.
        recs.reset(s);
        // SAFETY: as above.
        unsafe { r.wq.submit_iaa(&d) }.unwrap();
        let WaitOutcome::Done(rec) = r.wq.wait(&recs, s, BUDGET) else {
            panic!()
        };
        let IaaOutcome::Success {
            output_size, crc, ..
        } = iaa_outcome(&rec)
        else {
            panic!("{rec:?}")
        };
        assert_eq!(crc, crc32fast::hash(&src));
        let mut z = flate2::Decompress::new(false);
        let mut back = vec![0u8; 20_001];
        z.decompress(
            &dst[..output_size as usize],
            &mut back,
            flate2::FlushDecompress::Finish,
        )
        .unwrap();
        assert_eq!(&back[..z.total_out() as usize], &src[..]);
    }
    r.dev.clear_faults();
}

#[test]
fn dsa_page_fault_is_a_resumable_partial_completion() {
    let r = rig(ModelConfig::dsa(0));
    r.dev
        .inject(nth(FaultKind::PageFault { write: true }, 0))
        .unwrap();
    let src = data(10_000, 2);
    let mut dst = vec![0u8; 10_000];
    let rec = run_dsa(&r, |c| {
        DsaMemmove::new(addr(&src), addr_mut(&mut dst), 10_000, c).build()
    });
    let DsaOutcome::PageFault {
        addr: fa,
        write: true,
        bytes_completed: done,
    } = dsa_outcome(&rec)
    else {
        panic!("{rec:?}")
    };
    assert!(done > 0 && done < 10_000);
    assert_eq!(fa, addr(&dst) + done as u64);
    assert_eq!(&dst[..done as usize], &src[..done as usize]);
    // Resume from bytes_completed (as accel-config's tests do).
    let n = done as usize;
    let rec = run_dsa(&r, |c| {
        DsaMemmove::new(
            addr(&src[n..]),
            addr_mut(&mut dst[n..]),
            (10_000 - n) as u32,
            c,
        )
        .build()
    });
    assert_eq!(rec.status, 1);
    assert_eq!(dst, src);
}

#[test]
fn overflow_hardware_error_and_watchdog() {
    let r = rig(ModelConfig::iaa(0));
    let src = data(10_000, 3);
    let mut dst = vec![0u8; 20_000];
    let aecs = [CompressAecs::fixed(), CompressAecs::fixed()];
    r.dev.inject(nth(FaultKind::OutputOverflow, 0)).unwrap();
    let rec = run_iaa(&r, |c| {
        IaaCompress::new(
            addr(&src),
            10_000,
            addr_mut(&mut dst),
            20_000,
            addr(&aecs),
            c,
        )
        .build()
    });
    assert_eq!((rec.status, rec.error_code), (0x0A, 0x19));
    assert_eq!(iaa_outcome(&rec), IaaOutcome::CompressOverflow);
    // Now a good compress, then a decompress with an injected overflow.
    let rec = run_iaa(&r, |c| {
        IaaCompress::new(
            addr(&src),
            10_000,
            addr_mut(&mut dst),
            20_000,
            addr(&aecs),
            c,
        )
        .build()
    });
    assert_eq!(rec.status, 1);
    let z = dst[..rec.output_size as usize].to_vec();
    let mut out = vec![0u8; 10_000];
    r.dev.inject(nth(FaultKind::OutputOverflow, 0)).unwrap();
    let rec = run_iaa(&r, |c| {
        IaaDecompress::new(addr(&z), z.len() as u32, addr_mut(&mut out), 10_000, c).build()
    });
    assert_eq!(
        iaa_outcome(&rec),
        IaaOutcome::OutputOverflow {
            output_size: 9_999,
            bytes_completed: rec.bytes_completed
        }
    );
    assert!((rec.bytes_completed as usize) < z.len());
    for (kind, st) in [
        (FaultKind::HardwareError, 0x20u8),
        (FaultKind::Watchdog, 0x24),
    ] {
        r.dev.inject(nth(kind, 0)).unwrap();
        let rec = run_iaa(&r, |c| IaaNoop::new(c).build());
        assert_eq!(iaa_outcome(&rec), IaaOutcome::DeviceFault { status: st });
    }
    assert_eq!(r.dev.stats().faults, 4);
}

#[test]
fn hung_unit_is_quarantined_until_the_device_is_done() {
    let r = rig(ModelConfig::iaa(1));
    r.dev.inject(nth(FaultKind::Hang, 0)).unwrap();
    let src = Arc::new(data(4096, 4));
    let mut dst = Box::new(vec![0u8; 4096]);
    let dst_addr = addr_mut(&mut dst[..]);
    let mut recs = IaaRecords::new(1).unwrap();
    let s = recs.claim().unwrap();
    let d = IaaMemmove::new(addr(&src[..]), dst_addr, 4096, recs.addr(s)).build();
    // SAFETY: src and dst are moved into the quarantine below and kept until reaped.
    unsafe { r.wq.submit_iaa(&d) }.unwrap();
    assert_eq!(
        r.wq.wait(&recs, s, Duration::from_millis(30)),
        WaitOutcome::TimedOut
    );
    recs.quarantine(s, Some(Box::new((Arc::clone(&src), dst))))
        .unwrap();
    assert_eq!(
        r.wq.outstanding(),
        1,
        "the credit stays taken while the device may write"
    );
    assert_eq!(r.wq.reap(&mut recs), 0);
    assert!(recs.claim().is_none(), "the record is not reused");
    assert_eq!(Arc::strong_count(&src), 2, "the buffers are held");
    // The device finishes late: its write lands in the quarantined buffer, not in reused memory.
    assert_eq!(r.dev.finish_hung(), 1);
    assert_eq!(r.wq.reap(&mut recs), 1);
    assert_eq!(
        Arc::strong_count(&src),
        1,
        "buffers released after the device is done"
    );
    assert_eq!(r.wq.outstanding(), 0);
    assert!(recs.claim().is_some());
}

#[test]
fn wq_disabled_mid_stream() {
    // Shared WQ: the 3rd descriptor disables it; it and later ones are refused (retry).
    let r = rig(ModelConfig::iaa(0));
    r.dev.inject(nth(FaultKind::DisableWq, 2)).unwrap();
    assert_eq!(run_iaa(&r, |c| IaaNoop::new(c).build()).status, 1);
    assert_eq!(run_iaa(&r, |c| IaaNoop::new(c).build()).status, 1);
    let mut recs = IaaRecords::new(1).unwrap();
    let s = recs.claim().unwrap();
    // SAFETY: the record outlives the call (it is refused anyway).
    let e = unsafe { r.wq.submit_iaa(&IaaNoop::new(recs.addr(s)).build()) }.unwrap_err();
    assert!(
        matches!(e, WqError::RetriesExhausted { attempts: 33 }),
        "{e:?}"
    );
    assert_eq!(r.dev.wq_enabled(0), Some(false));
    assert_eq!(r.wq.outstanding(), 0);
    r.dev.set_wq_enabled(0, true).unwrap();
    assert_eq!(run_iaa(&r, |c| IaaNoop::new(c).build()).status, 1);

    // Dedicated WQ: MOVDIR64B is posted, the descriptor is silently dropped; the wait times out.
    let mut cfg = ModelConfig::iaa(1);
    cfg.wqs = vec![ModelWqConfig::dedicated(4)];
    let r = rig(cfg);
    r.dev.inject(nth(FaultKind::DisableWq, 0)).unwrap();
    // SAFETY: the record is quarantined below.
    unsafe { r.wq.submit_iaa(&IaaNoop::new(recs.addr(s)).build()) }.unwrap();
    assert_eq!(
        r.wq.wait(&recs, s, Duration::from_millis(20)),
        WaitOutcome::TimedOut
    );
    recs.quarantine(s, None).unwrap();
    assert_eq!(r.dev.stats().dropped, 1);
    assert_eq!(r.wq.outstanding(), 1);
}

#[test]
fn seeded_fault_rate_is_reproducible() {
    let run = |seed: u64| -> Vec<bool> {
        let r = rig(ModelConfig::iaa(0));
        r.dev
            .inject(Fault {
                wq: 0,
                kind: FaultKind::HardwareError,
                when: FaultWhen::Rate {
                    per_million: 100_000,
                    seed,
                },
            })
            .unwrap();
        let v: Vec<bool> = (0..2000)
            .map(|_| run_iaa(&r, |c| IaaNoop::new(c).build()).status == 0x20)
            .collect();
        assert_eq!(
            r.dev.stats().faults,
            v.iter().filter(|x| **x).count() as u64
        );
        v
    };
    let a = run(42);
    let n = a.iter().filter(|x| **x).count();
    assert!((120..=280).contains(&n), "about 10% of 2000, got {n}");
    assert!(a == run(42), "same seed, same faults");
    assert!(a != run(43), "another seed, other faults");
}

#[test]
fn shared_wq_refuses_at_threshold() {
    let mut cfg = ModelConfig::iaa(1);
    cfg.wqs = vec![ModelWqConfig {
        threshold: 2,
        ..ModelWqConfig::shared(8)
    }];
    cfg.latency.fixed_ns = 100_000_000; // 100 ms per descriptor: the queue cannot drain meanwhile
    let r = rig(cfg);
    let mut recs = IaaRecords::new(8).unwrap();
    let slots: Vec<_> = (0..8).map(|_| recs.claim().unwrap()).collect();
    let mut accepted = vec![];
    let mut refused = 0;
    for s in &slots {
        // SAFETY: records outlive the waits below.
        match unsafe { r.wq.submit_iaa(&IaaNoop::new(recs.addr(*s)).build()) } {
            Ok(()) => accepted.push(*s),
            Err(WqError::RetriesExhausted { .. }) => refused += 1,
            Err(e) => panic!("{e:?}"),
        }
    }
    // One in the engine plus at most `threshold` queued.
    assert!(
        accepted.len() <= 3 && refused >= 5,
        "accepted {} refused {refused}",
        accepted.len()
    );
    assert!(r.wq.stats().retries >= 5 * 33);
    assert_eq!(r.dev.stats().retries, r.wq.stats().retries);
    for s in accepted {
        assert!(matches!(r.wq.wait(&recs, s, BUDGET), WaitOutcome::Done(_)));
    }
}

#[test]
fn block_on_fault_resolves_page_faults() {
    let mut cfg = ModelConfig::iaa(0);
    cfg.wqs = vec![ModelWqConfig {
        block_on_fault: true,
        ..ModelWqConfig::shared(8)
    }];
    let r = rig(cfg);
    let src = data(3000, 9);
    let mut dst = vec![0u8; 3000];
    // BOF set: the fault is resolved, the copy completes.
    r.dev
        .inject(nth(FaultKind::PageFault { write: true }, 0))
        .unwrap();
    let rec = run_iaa(&r, |c| {
        IaaMemmove::new(addr(&src), addr_mut(&mut dst), 3000, c)
            .block_on_fault(true)
            .build()
    });
    assert_eq!(rec.status, 1);
    assert_eq!(dst, src);
    // BOF clear on the same WQ: the fault is reported.
    r.dev
        .inject(nth(FaultKind::PageFault { write: false }, 0))
        .unwrap();
    let rec = run_iaa(&r, |c| {
        IaaMemmove::new(addr(&src), addr_mut(&mut dst), 3000, c).build()
    });
    assert_eq!(
        iaa_outcome(&rec),
        IaaOutcome::PageFault {
            addr: addr(&src),
            write: false
        }
    );
}

#[test]
fn overfilled_dedicated_wq_drops_the_excess() {
    // Two submitters on one dedicated WQ bypass each other's credits: the device silently drops
    // what does not fit (hardware logs SWERR), so nothing beyond `size` is ever queued.
    let mut cfg = ModelConfig::iaa(1);
    cfg.wqs = vec![ModelWqConfig::dedicated(2)];
    cfg.latency.fixed_ns = 30_000_000;
    let r = rig(cfg);
    let second = r.dev.wq(0).unwrap();
    let mut recs = IaaRecords::new(4).unwrap();
    let slots: Vec<_> = (0..4).map(|_| recs.claim().unwrap()).collect();
    for (i, s) in slots.iter().enumerate() {
        let wq = if i % 2 == 0 { &r.wq } else { &second };
        // SAFETY: records are quarantined or waited for below.
        unsafe { wq.submit_iaa(&IaaNoop::new(recs.addr(*s)).build()) }.unwrap();
    }
    std::thread::sleep(Duration::from_millis(5));
    let st = r.dev.stats();
    assert!(st.dropped >= 1, "{st:?}");
    assert_eq!(st.accepted + st.dropped, 4);
    assert!(r.dev.occupancy(0).unwrap() <= 2);
    // The accepted ones complete; the dropped ones never do.
    let done = slots
        .iter()
        .filter(|s| {
            matches!(
                recs.wait(**s, Duration::from_millis(500)),
                WaitOutcome::Done(_)
            )
        })
        .count() as u64;
    assert_eq!(done, st.accepted);
}
