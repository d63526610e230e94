//! The VFIO path over the BAR0 model with the device model executing descriptors: bring-up by
//! the register code, DMA arena with IOVAs, bounce copies of caller buffers, compress and
//! decompress batches, IOMMU faults for unbounced buffers, teardown.

use iaa_descriptors::{CompressAecs, IaaCompletionRecord, IaaCompress, IaaDecompress};
use iaa_driver::vfio::{DeviceRegState, DmaBuf};
use iaa_model::{Bar0ModelConfig, ModelVfio};
use iaa_wq::{poll_raw, WorkQueue};
use std::time::{Duration, Instant};

fn data(n: usize, seed: u64) -> Vec<u8> {
    let words: [&[u8]; 5] = [b"column ", b"granule ", b"row=", b"42 ", b"\n"];
    let mut s = seed | 1;
    let mut v = Vec::with_capacity(n);
    while v.len() < n {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        if s.is_multiple_of(6) {
            v.push((s >> 24) as u8);
        } else {
            v.extend_from_slice(words[(s >> 40) as usize % 5]);
        }
    }
    v.truncate(n);
    v
}

/// Wait for the record in `rec` (arena memory), then return the WQ credit by hand.
fn wait(wq: &WorkQueue, rec: &DmaBuf<'_>, budget: Duration) -> Option<IaaCompletionRecord> {
    let start = Instant::now();
    loop {
        // SAFETY: `rec` is a live, 64-byte aligned, 64-byte arena buffer.
        if let Some(r) = unsafe { poll_raw(rec.as_ptr() as *const IaaCompletionRecord) } {
            wq.complete(1);
            return Some(r);
        }
        if start.elapsed() > budget {
            return None;
        }
        std::thread::yield_now();
    }
}

const BUDGET: Duration = Duration::from_secs(10);

#[test]
fn vfio_over_models_round_trip_with_bounce_buffers() {
    let dev = ModelVfio::open(Bar0ModelConfig::spr_iaa(), 2, 2, 4 << 20).unwrap();
    let regs = dev.registers();
    assert_eq!(dev.wq_count(), 2);
    assert!(regs.bus_master());
    assert_eq!(regs.device_state(), DeviceRegState::Enabled);
    assert!(regs.is_wq_enabled(0) && regs.is_wq_enabled(1) && !regs.is_wq_enabled(2));
    assert_eq!(dev.wq(0).unwrap().config().size, 64);

    let arena = dev.arena();
    let aecs = arena
        .alloc(2 * std::mem::size_of::<CompressAecs>(), 64)
        .unwrap();
    let fixed = CompressAecs::fixed();
    let mut two = bytemuck::bytes_of(&fixed).to_vec();
    two.extend_from_slice(bytemuck::bytes_of(&fixed));
    aecs.copy_in(&two).unwrap();

    let units: Vec<Vec<u8>> = (0..8)
        .map(|i| data(4096 * (1 + i % 4), i as u64 + 7))
        .collect();
    for k in 0..dev.wq_count() {
        let wq = dev.wq(k).unwrap();
        // Bounce in; descriptors name only IOVAs of the arena.
        let bufs: Vec<_> = units
            .iter()
            .map(|u| {
                let src = arena.alloc(u.len(), 64).unwrap();
                src.copy_in(u).unwrap();
                let dst = arena.alloc(u.len() + 512, 64).unwrap();
                let rec = arena.alloc(64, 64).unwrap();
                rec.zero();
                (src, dst, rec)
            })
            .collect();
        for (u, (src, dst, rec)) in units.iter().zip(&bufs) {
            let d = IaaCompress::new(
                src.iova(),
                u.len() as u32,
                dst.iova(),
                dst.len() as u32,
                aecs.iova(),
                rec.iova(),
            )
            .build();
            // SAFETY: all addresses are in the arena, which outlives the waits below.
            unsafe { wq.submit_iaa(&d) }.unwrap();
        }
        let mut compressed = Vec::new();
        for (u, (_, dst, rec)) in units.iter().zip(&bufs) {
            let r = wait(wq, rec, BUDGET).expect("compress completes");
            assert_eq!(r.status, 1);
            assert_eq!(r.crc, crc32fast::hash(u));
            let mut out = vec![0u8; r.output_size as usize];
            dst.copy_out(&mut out).unwrap(); // bounce out
            assert!(out.len() < u.len());
            compressed.push(out);
        }
        // Decompress through fresh bounce buffers.
        for (u, z) in units.iter().zip(&compressed) {
            let src = arena.alloc(z.len(), 64).unwrap();
            src.copy_in(z).unwrap();
            let dst = arena.alloc(u.len(), 64).unwrap();
            let rec = arena.alloc(64, 64).unwrap();
            rec.zero();
            let d = IaaDecompress::new(
                src.iova(),
                z.len() as u32,
                dst.iova(),
                u.len() as u32,
                rec.iova(),
            )
            .build();
            // SAFETY: as above.
            unsafe { wq.submit_iaa(&d) }.unwrap();
            let r = wait(wq, &rec, BUDGET).expect("decompress completes");
            assert_eq!((r.status, r.output_size as usize), (1, u.len()));
            let mut back = vec![0u8; u.len()];
            dst.copy_out(&mut back).unwrap();
            assert_eq!(&back, u);
        }
        assert_eq!(wq.outstanding(), 0);
    }
    assert_eq!(dev.dma_faults(), 0);
    assert!(dev.model().stats().executed >= 32);

    // A caller buffer used directly (not bounced) is outside the IOMMU: the descriptor is
    // dropped as a DMA fault and no record is written.
    let caller = units[0].clone();
    let dst = arena.alloc(8192, 64).unwrap();
    let rec = arena.alloc(64, 64).unwrap();
    rec.zero();
    let wq = dev.wq(0).unwrap();
    let d = IaaCompress::new(
        caller.as_ptr() as u64,
        caller.len() as u32,
        dst.iova(),
        8192,
        aecs.iova(),
        rec.iova(),
    )
    .build();
    // SAFETY: `caller` outlives the check; the descriptor is refused before any access.
    unsafe { wq.submit_iaa(&d) }.unwrap();
    assert_eq!(dev.dma_faults(), 1);
    assert!(wait(wq, &rec, Duration::from_millis(50)).is_none());
    wq.complete(1); // the lost descriptor's credit (posted write, nothing will come back)

    drop(dev);
    // Teardown disabled the WQs and the device; the arena was unmapped.
    assert_eq!(regs.device_state(), DeviceRegState::Disabled);
    assert!(!regs.is_wq_enabled(0) && !regs.is_wq_enabled(1));
}

#[test]
fn model_vfio_reports_bring_up_errors() {
    // A device whose WQCFG table does not fit BAR0 cannot be brought up.
    let bad = Bar0ModelConfig {
        bar_len: 0x800,
        ..Bar0ModelConfig::spr_iaa()
    };
    let e = ModelVfio::open(bad, 1, 1, 1 << 20).unwrap_err();
    assert!(e.to_string().contains("WQCFG"), "{e}");
    // No dedicated-mode support: the plan is refused before any command.
    let no_dwq = Bar0ModelConfig {
        dedicated_supported: false,
        ..Bar0ModelConfig::spr_iaa()
    };
    let e = ModelVfio::open(no_dwq, 1, 1, 1 << 20).unwrap_err();
    assert!(
        e.to_string().contains("Dedicated mode not supported"),
        "{e}"
    );
}
