//! The pool in VFIO user mode, over the register model with the device model
//! behind a soft IOMMU that drops every descriptor naming unmapped memory, as a real IOMMU
//! would fault it.

mod common;

use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use iaa::{Budgets, FallbackCause, Outputs, Path, Pool, UnitResult};
use iaa_model::{Bar0ModelConfig, ModelVfio};

fn data() -> Vec<u8> {
    let d = common::corpus().remove(0).1;
    d[..(32 * 4096).min(d.len())].to_vec()
}

#[test]
fn every_unit_runs_on_the_device_through_mapped_memory() {
    let dev = ModelVfio::open(Bar0ModelConfig::spr_iaa(), 2, 2, 1 << 16).unwrap();
    let faults = dev.fault_counter();
    let iommu = dev.iommu_arc();
    let arena_maps = iommu.mappings();
    let pool = Pool::builder()
        .path(Path::Hardware)
        .hybrid(false)
        .budgets(common::debug_budgets())
        .contexts(3)
        .device(common::registered_once(
            "test-vfio-mapped",
            dev.into_backend("test".into()),
        ))
        .build()
        .unwrap();
    assert!(pool.describe().contains("VFIO"), "{}", pool.describe());
    // Records, AECS, statistics, input and output buffers of each context: 5 mappings each.
    assert_eq!(iommu.mappings(), arena_maps + 5 * 3);
    let data = data();
    let comp = common::roundtrip(&pool, &data, 4096);
    for (i, c) in comp.iter().enumerate() {
        if let Some(c) = c {
            let orig = &data[i * 4096..((i + 1) * 4096).min(data.len())];
            assert_eq!(common::inflate_independent(c, 4096), orig);
        }
    }
    let s = pool.stats();
    assert!(
        s.compress_hw.units > 0 && s.decompress_hw.units > 0,
        "{s:?}"
    );
    assert_eq!(s.total_fallbacks(), 0, "{s:?}");
    assert_eq!(
        faults.load(Relaxed),
        0,
        "no descriptor named unmapped memory"
    );
    drop(pool);
    // The contexts unmapped their memory, and the device (with its arena) is gone.
    assert_eq!(iommu.mappings(), 0);
}

#[test]
fn unmapped_context_memory_is_refused_by_the_iommu() {
    // Negative control: the same IOMMU-checked WQs handed over as plain queues, so the pool
    // maps nothing. Every descriptor is dropped as a DMA fault, every unit times out and is
    // done in software instead.
    let dev = ModelVfio::open(Bar0ModelConfig::spr_iaa(), 1, 1, 1 << 16).unwrap();
    let faults = dev.fault_counter();
    let pool = Pool::builder()
        .path(Path::Hardware)
        .hybrid(false)
        .budgets(Budgets {
            completion_timeout: Duration::from_millis(5),
            ..Budgets::default()
        })
        .hw_batch_size(2)
        .contexts(1)
        .device(common::registered_once(
            "test-vfio-unmapped",
            dev.into_unmapped_backend("unmapped".into()),
        ))
        .build()
        .unwrap();
    let data = data();
    let data = &data[..4 * 4096];
    let mut out = vec![0u8; data.len()];
    let mut res = vec![UnitResult::Pending; 4];
    let sum = pool
        .compress_batch(data, 4096, Outputs::flat(&mut out, 4096), &mut res)
        .unwrap();
    assert_eq!(sum.failed, 0);
    assert_eq!(sum.hardware, 0, "{res:?}");
    assert!(faults.load(Relaxed) > 0);
    let s = pool.stats();
    assert!(s.fallback(FallbackCause::Timeout) > 0, "{s:?}");
    drop(pool);
}

#[test]
fn iaa_device_vfio_model_selects_vfio_mode_from_the_environment() {
    // Only this binary's tests run here, and none of the others uses Device::Auto.
    std::env::set_var("IAA_DEVICE", "vfio-model");
    let pool = Pool::builder()
        .path(Path::Hardware)
        .budgets(common::debug_budgets())
        .contexts(2)
        .build()
        .unwrap();
    std::env::remove_var("IAA_DEVICE");
    assert!(
        pool.describe().contains("vfio-model"),
        "{}",
        pool.describe()
    );
    common::roundtrip(&pool, &data(), 4096);
    assert!(pool.stats().compress_hw.units > 0);
    // A function that does not exist gives a clear error, not a panic.
    std::env::set_var("IAA_DEVICE", "vfio:0000:ff:1f.7");
    let e = Pool::builder().path(Path::Hardware).build().unwrap_err();
    std::env::remove_var("IAA_DEVICE");
    assert!(e.to_string().contains("0000:ff:1f.7"), "{e}");
    // A function that exists (this machine's first PCI function, if sysfs shows any) is found
    // under /sys and refused for what it is, not as missing.
    let first = std::fs::read_dir("/sys/bus/pci/devices")
        .ok()
        .and_then(|mut d| d.next())
        .and_then(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned());
    if let Some(bdf) = first {
        std::env::set_var("IAA_DEVICE", format!("vfio:{bdf}"));
        let e = Pool::builder().path(Path::Hardware).build().unwrap_err();
        std::env::remove_var("IAA_DEVICE");
        assert!(!e.to_string().contains("no PCI function"), "{e}");
        eprintln!("vfio:{bdf}: {e}");
    }
}

#[test]
fn vfio_context_memory_is_whole_pages() {
    let pool = Pool::builder()
        .path(Path::Hardware)
        .contexts(2)
        .device(common::vfio_model())
        .build()
        .unwrap();
    let b = pool.context_bytes();
    eprintln!("VFIO context: {b:?}");
    // Two bounce-buffer slabs of 8 x 4 KiB, records and AECS in a page each, descriptors.
    assert!(b.hardware >= 2 * 8 * 4096 + 2 * 4096, "{b:?}");
}
