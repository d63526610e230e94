//! The pool over kernel work queues: a fixture sysfs/dev tree (the driver's test builder)
//! with one shared and one dedicated user WQ, opened by `iaa_driver::kernel::open_with`
//! through `ModelNodeOpener` (each node's `write(2)` feeds the device model), so the kernel
//! submission path (`write()` of 64-byte descriptors) runs end to end under the pool.

mod common;

#[allow(dead_code, clippy::all)]
#[path = "../../driver/tests/common/mod.rs"]
mod drvcommon;

use std::sync::Arc;

use drvcommon::{bdf, Host};
use iaa::model::{ModelConfig, ModelDevice, ModelWqConfig};
use iaa::{Device, Path, Pool};
use iaa_driver::kernel::{open_with, ModelNodeOpener};

fn host() -> Host {
    let h = Host::new();
    h.cpus(&[0, 0]);
    h.device("iax1", bdf("iax1"), 0, None, &[]);
    h.wq(
        "iax1",
        bdf("iax1"),
        "wq1.0",
        &[("size", Some("32")), ("threshold", Some("32"))],
        true,
    );
    h.wq(
        "iax1",
        bdf("iax1"),
        "wq1.1",
        &[("mode", Some("dedicated")), ("size", Some("16"))],
        true,
    );
    h
}

#[test]
fn pool_over_kernel_wqs_round_trips_the_corpus() {
    let h = host();
    let mut cfg = ModelConfig::iaa(2);
    cfg.wqs = vec![ModelWqConfig::shared(32), ModelWqConfig::dedicated(16)];
    let model = ModelDevice::start(cfg).expect("model");
    let opener = ModelNodeOpener::new(Arc::clone(&model))
        .serve(h.dev().join("iax/wq1.0"), 0)
        .serve(h.dev().join("iax/wq1.1"), 1);
    let host = open_with(&h.discovery(), &opener);
    assert_eq!(host.why_none(), None, "{:?}", host.failed);
    let wqs: Vec<iaa_wq::WorkQueue> = host.wqs.into_iter().map(|k| k.wq).collect();
    let wqs: Arc<[iaa_wq::WorkQueue]> = wqs.into();
    assert_eq!(wqs.len(), 2);
    // WQ 0 is the shared one (ENQCMD semantics: retry), WQ 1 the dedicated one (credits).
    for which in [0, 1] {
        let pool = Pool::builder()
            .path(Path::Hardware)
            .hybrid(false)
            .budgets(common::debug_budgets())
            .wq(iaa::WqChoice::Index(which))
            .device(Device::Queues(
                Arc::clone(&wqs),
                "fixture kernel WQs".into(),
            ))
            .contexts(2)
            .build()
            .expect("pool over kernel WQs");
        eprintln!("{}", pool.describe());
        for (name, data) in common::corpus() {
            let data = &data[..data.len().min(64 * 1024)];
            let comp = common::roundtrip(&pool, data, 4096);
            let raw = comp.iter().filter(|c| c.is_none()).count();
            eprintln!("WQ {which} {name}: {} units, {raw} stored raw", comp.len());
        }
        let s = pool.stats();
        eprintln!("{s:?}");
        assert!(s.compress_hw.units > 0 && s.decompress_hw.units > 0);
        assert_eq!(s.total_fallbacks(), 0, "{s:?}");
        assert!(s.wq_submissions[which] > 0 && s.wq_submissions[1 - which] == 0);
    }
    // Every descriptor went through write(2) into the model.
    assert!(
        opener
            .stats()
            .forwarded
            .load(std::sync::atomic::Ordering::Relaxed)
            > 0
    );
    assert_eq!(
        opener
            .stats()
            .dropped
            .load(std::sync::atomic::Ordering::Relaxed),
        0
    );
}
