//! The pool over kernel work queues: a fixture sysfs/dev tree (the driver's test builder)
//! with one shared and one dedicated user WQ, opened by `iaa_driver::kernel::open_with`
//! through `ModelNodeOpener` (each node's `write(2)` feeds the device model), so the kernel
//! submission path (`write()` of 64-byte descriptors) runs end to end under the pool.

mod common;

use std::sync::Arc;

use iaa::{Path, Pool};
use iaa_driver::kernel::open_with;
use iaa_model::{ModelConfig, ModelDevice, ModelNodeOpener, ModelWqConfig};

#[test]
fn pool_over_kernel_wqs_round_trips_the_corpus() {
    let h = common::kernel_fixture_host();
    let mut cfg = ModelConfig::iaa(2);
    cfg.wqs = vec![ModelWqConfig::shared(32), ModelWqConfig::dedicated(16)];
    let model = ModelDevice::start(cfg).expect("model");
    let (sys, dev) = (h.sys(), h.dev());
    let stats = ModelNodeOpener::new(Arc::clone(&model)).stats().clone();
    let bridge = Arc::clone(&stats);
    let device = common::registered("test-kernel-fixture", move || {
        let opener = ModelNodeOpener::with_stats(Arc::clone(&model), Arc::clone(&bridge))
            .serve(dev.join("iax/wq1.0"), 0)
            .serve(dev.join("iax/wq1.1"), 1);
        let discovery = iaa_driver::sysfs::Discovery::with_roots(sys.clone(), dev.clone());
        let host = open_with(&discovery, &opener);
        assert_eq!(host.why_none(), None, "{:?}", host.failed);
        assert_eq!(host.wqs.len(), 2);
        iaa_driver::open::Backend::from_host(host, "fixture kernel WQs")
            .expect("fixture WQs")
            .keep(opener)
    });
    for which in [0, 1] {
        let pool = Pool::builder()
            .path(Path::Hardware)
            .hybrid(false)
            .budgets(common::debug_budgets())
            .wq(iaa::WqChoice::Index(which))
            .device(device.clone())
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
    assert!(stats.forwarded.load(std::sync::atomic::Ordering::Relaxed) > 0);
    assert_eq!(stats.dropped.load(std::sync::atomic::Ordering::Relaxed), 0);
}
