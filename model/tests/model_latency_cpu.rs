//! The latency model waits out modelled device time without burning host CPU: records become
//! visible at their deadlines (timer thread) while the engines and the timer mostly sleep.
//! (Its own test binary, so no other test's CPU time is counted.)

mod model_common;
use model_common::*;

use std::time::{Duration, Instant};

use iaa_descriptors::IaaNoop;
use iaa_model::{ModelConfig, ModelWqConfig};
use iaa_wq::IaaRecords;

fn process_cpu() -> Duration {
    // SAFETY: getrusage fills the struct we pass.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: valid pointer to a rusage.
    assert_eq!(unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) }, 0);
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

#[test]
fn modelled_time_is_slept_not_spun() {
    const N: usize = 1000;
    const LAT_US: u64 = 150;
    let mut cfg = ModelConfig::iaa(1);
    cfg.wqs = vec![ModelWqConfig::shared(1024)];
    cfg.latency.fixed_ns = LAT_US * 1000;
    let r = rig(cfg);
    let mut recs = IaaRecords::new(N).unwrap();
    let slots: Vec<_> = (0..N).map(|_| recs.claim().unwrap()).collect();
    let cpu0 = process_cpu();
    let t0 = Instant::now();
    for s in &slots {
        // SAFETY: the records outlive the device's use (all are seen done below).
        unsafe { r.wq.submit_iaa(&IaaNoop::new(recs.addr(*s)).build()) }.unwrap();
    }
    // One engine: N x 150 us of modelled time back to back. Sleep instead of polling so that
    // only the model's threads use CPU.
    let modelled = Duration::from_micros(LAT_US * N as u64);
    std::thread::sleep(modelled / 2);
    let done_half = slots.iter().filter(|s| recs.poll(**s).is_some()).count();
    while slots.iter().any(|s| recs.poll(*s).is_none()) {
        assert!(t0.elapsed() < modelled * 20, "records never completed");
        std::thread::sleep(Duration::from_millis(5));
    }
    let wall = t0.elapsed();
    let cpu = process_cpu() - cpu0;
    println!("{N} x {LAT_US} us: wall {wall:?}, model CPU {cpu:?}, done at half time {done_half}");
    assert!(
        wall >= modelled,
        "records appear no earlier than modelled: {wall:?}"
    );
    assert!(
        done_half < N,
        "not all done at half the modelled time ({done_half})"
    );
    assert!(
        cpu < modelled * 2 / 5,
        "model used {cpu:?} of CPU for {modelled:?} of device time"
    );
}
