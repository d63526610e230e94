//! The kernel's socket policy on a 2-socket host: a fixture sysfs tree with 4 IAAs per socket and
//! the CPUs of the two packages interleaved in numbering (even CPUs on package 0, odd on
//! package 1, as real hosts number them), every WQ node served by the device model through
//! `write(2)`. The calling thread is pinned to CPU 0 and then CPU 1 of this machine, which the
//! fixture places on packages 0 and 1. The DSA operations over 2 DSAs per socket follow the
//! same policy.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use iaa::{Path, Pool};
use iaa_driver::fixture::{two_socket_interleaved, INTERLEAVED_IAAS};
use iaa_driver::kernel::open_with;
use iaa_model::{ModelConfig, ModelDevice, ModelNodeOpener, ModelWqConfig};

/// Pin the calling thread to `cpu`; false when this machine does not have it.
fn pin(cpu: usize) -> bool {
    // SAFETY: a zeroed cpu_set_t is a valid empty set; CPU_SET writes inside it (cpu < 1024 is
    // checked by the caller's range) and sched_setaffinity only reads it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) == 0
    }
}

fn socket_of_wq(wq: &str) -> u32 {
    let dev = format!("iax{}", &wq[2..wq.find('.').unwrap()]);
    INTERLEAVED_IAAS.iter().find(|d| d.0 == dev).unwrap().2 as u32
}

#[test]
fn compress_stays_on_the_callers_socket_and_decompress_on_its_mapped_iaa() {
    if !(pin(0) && pin(1)) {
        eprintln!("skipped: this machine has fewer than 2 CPUs to pin to");
        return;
    }
    let h = two_socket_interleaved();
    let mut cfg = ModelConfig::iaa(2);
    cfg.wqs = vec![ModelWqConfig::shared(32); INTERLEAVED_IAAS.len()];
    let model = ModelDevice::start(cfg).expect("model");
    let (sys, dev) = (h.sys(), h.dev());
    let device = common::registered("test-two-sockets", move || {
        let mut opener = ModelNodeOpener::new(Arc::clone(&model));
        for (i, (name, _, _)) in INTERLEAVED_IAAS.iter().enumerate() {
            opener = opener.serve(dev.join(format!("iax/wq{}.0", &name[3..])), i);
        }
        let discovery = iaa_driver::sysfs::Discovery::with_roots(sys.clone(), dev.clone());
        let host = open_with(&discovery, &opener);
        assert_eq!(host.wqs.len(), 8, "{:?}", host.failed);
        iaa_driver::open::Backend::from_host(host, "fixture kernel WQs")
            .expect("fixture WQs")
            .keep(opener)
    });
    let data = common::generated(32 * 4096);
    let mut seen = BTreeMap::new();
    for cpu in [1usize, 0] {
        assert!(pin(cpu));
        let pool = Pool::builder()
            .path(Path::Hardware)
            .hybrid(false)
            .budgets(common::debug_budgets())
            .device(device.clone())
            .contexts(8)
            .build()
            .expect("pool over the fixture");
        let names = pool.work_queues();
        eprintln!("CPU {cpu}: {}", pool.describe());
        let comp = common::roundtrip(&pool, &data, 4096);
        let s = pool.stats();
        assert_eq!(s.total_fallbacks(), 0, "{s:?}");
        let compressed = comp.iter().filter(|c| c.is_some()).count() as u64;
        // Submissions per WQ: compressions (32) plus decompressions (one per compressed unit).
        let used: Vec<(&str, u64)> = names
            .iter()
            .map(|n| n.as_str())
            .zip(s.wq_submissions.iter().copied())
            .filter(|(_, k)| *k > 0)
            .collect();
        eprintln!("CPU {cpu}: {used:?}");
        let package = (cpu % 2) as u32;
        for (wq, _) in &used {
            assert_eq!(socket_of_wq(wq), package, "CPU {cpu} used {wq}: {used:?}");
        }
        // Round-robin over the 4 IAAs of the package: 8 compressions each; the decompressions
        // all on one of them (the IAA mapped to this CPU).
        assert_eq!(used.len(), 4, "{used:?}");
        let total: u64 = used.iter().map(|u| u.1).sum();
        assert_eq!(total, 32 + compressed);
        let with_decomp: Vec<_> = used.iter().filter(|u| u.1 > 8).collect();
        assert_eq!(with_decomp.len(), 1, "{used:?}");
        assert_eq!(with_decomp[0].1, 8 + compressed, "{used:?}");
        seen.insert(cpu, with_decomp[0].0.to_string());
    }
    // The same mapping `iaa devices` prints (the CLI's tests check the JSON over this tree).
    let inv = iaa_driver::sysfs::Discovery::with_roots(h.sys(), h.dev()).scan();
    let chooser = iaa_driver::choice::WqChooser::new(
        iaa_driver::choice::WqCandidate::from_inventory(&inv),
        &inv.topology,
        iaa_driver::choice::ChoicePolicy::default(),
    );
    for route in chooser.cpu_map(&inv.topology) {
        if let Some(dec) = seen.get(&route.cpu) {
            let name = &chooser.candidates()[route.decompress.unwrap()].sysfs_name;
            assert_eq!(name, dec, "CPU {}", route.cpu);
        }
    }
}

/// The DSA operations follow the same policy: a thread on package 0 uses only the DSAs of
/// package 0, one on package 1 only those of package 1 (each package's DSAs are one model
/// device here, so its executed descriptors say which package did the work).
#[test]
fn dsa_operations_stay_on_the_callers_socket() {
    use iaa_driver::fixture::{two_socket_dsas, INTERLEAVED_DSAS};
    if !(pin(0) && pin(1)) {
        eprintln!("skipped: this machine has fewer than 2 CPUs to pin to");
        return;
    }
    let h = two_socket_dsas();
    let models: Vec<Arc<ModelDevice>> = (0..2)
        .map(|_| {
            let mut cfg = ModelConfig::dsa(1);
            cfg.wqs = vec![ModelWqConfig::shared(32); 2];
            ModelDevice::start(cfg).expect("model")
        })
        .collect();
    let (sys, dev) = (h.sys(), h.dev());
    let ms = models.clone();
    iaa_driver::open::register_dsa(
        "test-two-socket-dsas",
        Arc::new(move || {
            // The first model serves package 0's two DSAs, the second package 1's.
            let mut a = ModelNodeOpener::new(Arc::clone(&ms[0]));
            let mut b = ModelNodeOpener::new(Arc::clone(&ms[1]));
            for (name, _, node) in INTERLEAVED_DSAS {
                let path = dev.join(format!("dsa/wq{}.0", &name[3..]));
                let i = (name[3..].parse::<usize>().unwrap() / 2) % 2;
                if node == 0 {
                    a = a.serve(path, i);
                } else {
                    b = b.serve(path, i);
                }
            }
            let opener = Both(a, b);
            let discovery = iaa_driver::sysfs::Discovery::with_roots(sys.clone(), dev.clone());
            let host = iaa_driver::kernel::open_kind(
                &discovery,
                &opener,
                iaa_driver::sysfs::DeviceKind::Dsa,
                &|_| true,
            );
            assert_eq!(host.wqs.len(), 4, "{:?}", host.failed);
            iaa_driver::open::Backend::from_host(host, "fixture DSA WQs").map(|b| b.keep(opener))
        }),
    );
    let pages: Vec<Vec<u8>> = (0..64).map(|i| vec![i as u8; 4096]).collect();
    let units: Vec<&[u8]> = pages.iter().map(|p| p.as_slice()).collect();
    for cpu in [0usize, 1] {
        assert!(pin(cpu));
        let pool = Pool::builder()
            .path(Path::Software)
            .dsa(iaa::DsaPath::Device(iaa::Device::Named(
                "test-two-socket-dsas".into(),
            )))
            .contexts(8)
            // This test is about where descriptors go, not about timeouts: on a loaded 2-core
            // host one window (32 units) once went to software, most likely the one-engine
            // model kept past the default 20 ms.
            .budgets(iaa::Budgets {
                completion_timeout: std::time::Duration::from_secs(5),
                ..iaa::Budgets::default()
            })
            .build()
            .expect("pool");
        // After the build, whose opening probes each WQ with a no-op.
        let before: Vec<u64> = models.iter().map(|m| m.stats().executed).collect();
        let mut crcs = vec![0u32; units.len()];
        let s = pool
            .crc32c(iaa::Inputs::Slices(&units), 0, &mut crcs)
            .unwrap();
        assert_eq!(
            s.hardware,
            units.len(),
            "{}; fallbacks by cause {:?}",
            pool.describe(),
            pool.stats().dsa_fallbacks
        );
        let ran: Vec<u64> = models
            .iter()
            .zip(&before)
            .map(|(m, b)| m.stats().executed - b)
            .collect();
        eprintln!("CPU {cpu}: descriptors per package {ran:?}");
        let package = cpu % 2;
        assert!(
            ran[package] > 0 && ran[1 - package] == 0,
            "CPU {cpu}: {ran:?}"
        );
    }
}

/// Two openers, each serving its own nodes.
struct Both(ModelNodeOpener, ModelNodeOpener);

impl iaa_driver::sysfs::CdevOpener for Both {
    fn open(
        &self,
        node: &std::path::Path,
    ) -> Result<iaa_driver::sysfs::OpenedWq, iaa_driver::sysfs::OpenError> {
        self.0.open(node).or_else(|_| self.1.open(node))
    }
    fn probe_write(
        &self,
        opened: &iaa_driver::sysfs::OpenedWq,
    ) -> Result<(), iaa_driver::sysfs::ProbeError> {
        self.0
            .probe_write(opened)
            .or_else(|_| self.1.probe_write(opened))
    }
}
