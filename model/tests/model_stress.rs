//! Stress: several threads submit thousands of descriptors to one small shared WQ; every
//! descriptor completes exactly once, none is lost, and retries are counted on both sides.

use std::sync::Arc;

use iaa_descriptors::IaaMemmove;
use iaa_model::{ModelConfig, ModelWqConfig};
use iaa_wq::{IaaRecords, WqError};

const THREADS: usize = 4;
const PER_THREAD: usize = 5000;
const WINDOW: usize = 8;

#[test]
fn many_threads_one_small_shared_wq() {
    let mut cfg = ModelConfig::iaa(2);
    cfg.wqs = vec![ModelWqConfig {
        threshold: 3,
        ..ModelWqConfig::shared(4)
    }];
    let dev = iaa_model::ModelDevice::start(cfg).unwrap();
    let wq = Arc::new(dev.wq(0).unwrap());
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let wq = Arc::clone(&wq);
            std::thread::spawn(move || {
                // Each descriptor copies its own 8-byte id into its own destination slot.
                let ids: Vec<u64> = (0..PER_THREAD)
                    .map(|i| ((t as u64) << 32) | i as u64)
                    .collect();
                let mut out = vec![0u64; PER_THREAD];
                let mut recs = IaaRecords::new(WINDOW).unwrap();
                let mut seen = vec![0u32; PER_THREAD];
                let mut gave_up = 0u64;
                let mut inflight: Vec<(iaa_wq::Slot, usize)> = Vec::with_capacity(WINDOW);
                let mut next = 0;
                while next < PER_THREAD || !inflight.is_empty() {
                    while next < PER_THREAD && inflight.len() < WINDOW {
                        let s = recs.claim().unwrap();
                        let d = IaaMemmove::new(
                            &ids[next] as *const u64 as u64,
                            &mut out[next] as *mut u64 as u64,
                            8,
                            recs.addr(s),
                        )
                        .build();
                        // SAFETY: ids/out/recs live until every record is seen below.
                        match unsafe { wq.submit_iaa(&d) } {
                            Ok(()) => {
                                inflight.push((s, next));
                                next += 1;
                            }
                            Err(WqError::RetriesExhausted { .. }) => {
                                gave_up += 1;
                                recs.release(s).unwrap();
                                std::thread::yield_now();
                                break;
                            }
                            Err(e) => panic!("{e:?}"),
                        }
                    }
                    let mut i = 0;
                    while i < inflight.len() {
                        let (s, idx) = inflight[i];
                        if let Some(rec) = wq.poll(&recs, s) {
                            assert_eq!(rec.status, 1);
                            seen[idx] += 1;
                            recs.release(s).unwrap();
                            inflight.swap_remove(i);
                        } else {
                            i += 1;
                        }
                    }
                    if !inflight.is_empty() {
                        std::thread::yield_now();
                    }
                }
                assert!(
                    seen.iter().all(|&n| n == 1),
                    "every descriptor completed exactly once"
                );
                assert_eq!(out, ids, "every copy landed in its own slot");
                gave_up
            })
        })
        .collect();
    let gave_up: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
    let total = (THREADS * PER_THREAD) as u64;
    let ws = wq.stats();
    let ms = dev.stats();
    println!(
        "stress: {total} descriptors, {THREADS} threads, WQ size 4 threshold 3: \
         wq retries {} (gave up {gave_up} times, resubmitted), model retries {}, executed {}",
        ws.retries, ms.retries, ms.executed
    );
    assert_eq!(ws.submitted, total);
    assert_eq!(ws.completed, total);
    assert_eq!(wq.outstanding(), 0);
    assert_eq!(
        (ms.accepted, ms.executed, ms.records),
        (total, total, total)
    );
    assert_eq!(
        ms.retries, ws.retries,
        "every refusal seen by the WQ was a device retry"
    );
    assert_eq!(ms.dropped, 0);
}
