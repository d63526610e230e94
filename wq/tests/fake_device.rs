//! The WorkQueue against a small fake device running in its own thread (a SoftPortal with a
//! bounded queue): records written with every byte first and the status byte last, polled
//! through RecordSlab; credits on a dedicated WQ; bounded retries on a full shared WQ.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use iaa_descriptors::{iaa_class, IaaCompletionRecord, IaaDescriptor, IaaNoop, StatusClass};
use iaa_wq::{
    IaaRecords, PortalAccept, SoftPortal, WaitOutcome, WorkQueue, WqConfig, WqError, WqMode,
};

/// A device that completes NOOPs by writing `output_size = seq` then status 1.
struct Fake {
    q: Mutex<std::collections::VecDeque<[u8; 64]>>,
    cap: usize,
    stop: AtomicBool,
    refused: AtomicU64,
    done: AtomicU64,
}

impl SoftPortal for Fake {
    unsafe fn push(&self, desc: &[u8; 64], _mode: WqMode) -> PortalAccept {
        let mut q = self.q.lock().unwrap();
        if q.len() >= self.cap {
            self.refused.fetch_add(1, Ordering::Relaxed);
            return PortalAccept::Retry;
        }
        q.push_back(*desc);
        PortalAccept::Accepted
    }
}

fn device(cap: usize) -> (Arc<Fake>, std::thread::JoinHandle<()>) {
    let f = Arc::new(Fake {
        q: Mutex::new(Default::default()),
        cap,
        stop: AtomicBool::new(false),
        refused: AtomicU64::new(0),
        done: AtomicU64::new(0),
    });
    let g = Arc::clone(&f);
    let h = std::thread::spawn(move || {
        while !g.stop.load(Ordering::Acquire) {
            let d = g.q.lock().unwrap().pop_front();
            let Some(d) = d else {
                std::thread::yield_now();
                continue;
            };
            let d = IaaDescriptor::from_bytes(&d);
            let seq = g.done.fetch_add(1, Ordering::Relaxed) + 1;
            let p = d.completion_addr as usize as *mut IaaCompletionRecord;
            // SAFETY: the test's records outlive the device thread's use (the submitter waits
            // for every record before dropping its slab); status byte last, with release.
            unsafe {
                std::ptr::addr_of_mut!((*p).output_size).write_volatile(seq as u32);
                std::ptr::addr_of_mut!((*p).crc).write_volatile(0xC0FFEE);
                (*(p as *const AtomicU8)).store(1, Ordering::Release);
            }
        }
    });
    (f, h)
}

#[test]
fn records_are_seen_whole_and_credits_bound_a_dedicated_wq() {
    let (f, h) = device(1024);
    let wq = WorkQueue::with_model(f.clone(), WqConfig::dedicated(4)).unwrap();
    let mut recs = IaaRecords::new(4).unwrap();
    for round in 0..500 {
        let slots: Vec<_> = (0..4).map(|_| recs.claim().unwrap()).collect();
        for s in &slots {
            // SAFETY: records outlive the waits below.
            unsafe { wq.submit_iaa(&IaaNoop::new(recs.addr(*s)).build()) }.unwrap();
        }
        if round == 0 {
            // A fifth would exceed the WQ size: refused before reaching the portal.
            let mut extra = IaaRecords::new(1).unwrap();
            let s = extra.claim().unwrap();
            // SAFETY: refused, never reaches the device.
            let e = unsafe { wq.submit_iaa(&IaaNoop::new(extra.addr(s)).build()) }.unwrap_err();
            assert!(matches!(e, WqError::NoCredit { size: 4, .. }));
        }
        for s in slots {
            let WaitOutcome::Done(r) = wq.wait(&recs, s, Duration::from_secs(10)) else {
                panic!("lost")
            };
            // The fields written before the status are visible with it.
            assert_eq!(r.crc, 0xC0FFEE);
            assert!(r.output_size > 0);
            assert_eq!(iaa_class(r.status, r.error_code), StatusClass::Done);
            recs.release(s).unwrap();
        }
        assert_eq!(wq.outstanding(), 0);
    }
    assert_eq!(f.done.load(Ordering::Relaxed), 2000);
    f.stop.store(true, Ordering::Release);
    h.join().unwrap();
}

#[test]
fn shared_wq_retries_then_gives_up_and_never_loses_one() {
    let (f, h) = device(2);
    let mut cfg = WqConfig::shared(2);
    cfg.enqcmd_retries = 3;
    let wq = Arc::new(WorkQueue::with_model(f.clone(), cfg).unwrap());
    let threads: Vec<_> = (0..3)
        .map(|_| {
            let wq = Arc::clone(&wq);
            std::thread::spawn(move || {
                let mut recs = IaaRecords::new(1).unwrap();
                let mut gave_up = 0;
                for _ in 0..300 {
                    let s = recs.claim().unwrap();
                    loop {
                        // SAFETY: the record outlives the wait.
                        match unsafe { wq.submit_iaa(&IaaNoop::new(recs.addr(s)).build()) } {
                            Ok(()) => break,
                            Err(WqError::RetriesExhausted { attempts: 4 }) => gave_up += 1,
                            Err(e) => panic!("{e:?}"),
                        }
                        std::thread::yield_now();
                    }
                    assert!(matches!(
                        wq.wait(&recs, s, Duration::from_secs(10)),
                        WaitOutcome::Done(_)
                    ));
                    recs.release(s).unwrap();
                }
                gave_up
            })
        })
        .collect();
    let gave_up: u64 = threads.into_iter().map(|t| t.join().unwrap()).sum();
    assert_eq!(f.done.load(Ordering::Relaxed), 900);
    let st = wq.stats();
    assert_eq!(st.submitted, 900);
    assert_eq!(st.retries, f.refused.load(Ordering::Relaxed));
    assert_eq!(st.refused, gave_up);
    assert_eq!(wq.outstanding(), 0);
    f.stop.store(true, Ordering::Release);
    h.join().unwrap();
}
