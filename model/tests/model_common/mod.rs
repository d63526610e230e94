//! Shared helpers of the model tests: a device, one WQ and records, and "submit one
//! descriptor through iaa-wq and wait for its record".
#![allow(dead_code)]

pub mod outcome;

use std::sync::Arc;
use std::time::Duration;

use iaa_descriptors::{DsaCompletionRecord, DsaDescriptor, IaaCompletionRecord, IaaDescriptor};
use iaa_model::{ModelConfig, ModelDevice};
use iaa_wq::{DsaRecords, IaaRecords, WaitOutcome, WorkQueue};

pub const BUDGET: Duration = Duration::from_secs(10);

pub struct Rig {
    pub dev: Arc<ModelDevice>,
    pub wq: WorkQueue,
}

pub fn rig(cfg: ModelConfig) -> Rig {
    let dev = ModelDevice::start(cfg).expect("model starts");
    let wq = dev.wq(0).expect("wq 0");
    Rig { dev, wq }
}

/// Submit the descriptor `build(record_address)` and wait for its IAA record.
pub fn run_iaa(r: &Rig, build: impl FnOnce(u64) -> IaaDescriptor) -> IaaCompletionRecord {
    let mut recs = IaaRecords::new(1).unwrap();
    let s = recs.claim().unwrap();
    let d = build(recs.addr(s));
    // SAFETY: every buffer the test names outlives this call: we wait for the record below and
    // panic (leaking nothing the device could still write, as the test process ends) otherwise.
    unsafe { r.wq.submit_iaa(&d) }.expect("submit");
    match r.wq.wait(&recs, s, BUDGET) {
        WaitOutcome::Done(rec) => rec,
        WaitOutcome::TimedOut => panic!("descriptor did not complete"),
    }
}

/// Submit the descriptor `build(record_address)` and wait for its DSA record.
pub fn run_dsa(r: &Rig, build: impl FnOnce(u64) -> DsaDescriptor) -> DsaCompletionRecord {
    let mut recs = DsaRecords::new(1).unwrap();
    let s = recs.claim().unwrap();
    let d = build(recs.addr(s));
    // SAFETY: as in run_iaa.
    unsafe { r.wq.submit_dsa(&d) }.expect("submit");
    match r.wq.wait(&recs, s, BUDGET) {
        WaitOutcome::Done(rec) => rec,
        WaitOutcome::TimedOut => panic!("descriptor did not complete"),
    }
}

pub fn addr<T>(b: &[T]) -> u64 {
    b.as_ptr() as u64
}

pub fn addr_mut<T>(b: &mut [T]) -> u64 {
    b.as_mut_ptr() as u64
}

/// Deterministic test data: compressible text-like bytes with some noise.
pub fn data(n: usize, seed: u64) -> Vec<u8> {
    let words: [&[u8]; 8] = [
        b"alpha ",
        b"beta ",
        b"gamma ",
        b"delta ",
        b"storage ",
        b"engine ",
        b"page ",
        b"\n",
    ];
    let mut s = seed | 1;
    let mut v = Vec::with_capacity(n);
    while v.len() < n {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        if s.is_multiple_of(7) {
            v.push((s >> 24) as u8);
        } else {
            v.extend_from_slice(words[(s >> 40) as usize % 8]);
        }
    }
    v.truncate(n);
    v
}

/// Incompressible bytes.
pub fn noise(n: usize, seed: u64) -> Vec<u8> {
    let mut s = seed | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 32) as u8
        })
        .collect()
}
