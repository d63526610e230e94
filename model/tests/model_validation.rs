//! Every validation status the model produces, the record it writes, and the typed outcome the
//! wq side gives for it.

mod model_common;
use model_common::*;

use std::sync::atomic::{AtomicU8, Ordering};

use iaa_descriptors::{iaa_class, StatusByte, StatusClass};
use iaa_descriptors::{
    CompressAecs, DecompressionFlags, DsaCompletionRecord, DsaMemmove, DsaNoop,
    IaaCompletionRecord, IaaCompress, IaaDecompress, IaaDescriptor, IaaMemmove, IaaNoop, OpFlags,
};
use iaa_model::{ModelConfig, ModelWqConfig};
use iaa_wq::{IaaRecords, Waiter};

/// A 64-byte-aligned buffer for records at arbitrary offsets.
#[repr(C, align(64))]
struct RecBuf([u8; 256]);

/// Submit and read a record written at `rec_addr` (any alignment), polling its status byte.
fn run_at(r: &Rig, desc: &[u8; 64], rec_addr: u64, len: usize) -> Vec<u8> {
    // SAFETY: rec_addr points into a RecBuf that outlives this call; the other buffers are the
    // caller's and outlive it too.
    unsafe { r.wq.submit(desc) }.unwrap();
    // SAFETY: status byte of a live buffer, read atomically as the device writes it.
    let st = unsafe { &*(rec_addr as *const AtomicU8) };
    let mut w = Waiter::new(BUDGET);
    while st.load(Ordering::Acquire) == 0 {
        assert!(w.pause(), "no record");
    }
    r.wq.complete(1);
    // SAFETY: the record is complete (status seen with acquire).
    unsafe { std::slice::from_raw_parts(rec_addr as *const u8, len) }.to_vec()
}

fn iaa_rec(b: &[u8]) -> IaaCompletionRecord {
    bytemuck::pod_read_unaligned(&b[..64])
}

fn bad_desc(rec: &IaaCompletionRecord) -> (u8, u32) {
    let class = iaa_class(rec.status, rec.error_code);
    assert_eq!(class, StatusClass::BadDescriptor, "{rec:?}");
    (StatusByte(rec.status).code(), rec.invalid_flags)
}

#[test]
fn iaa_reserved_opcode_and_flags() {
    let r = rig(ModelConfig::iaa(0));
    // Reserved bits 30:20 of dword 0.
    let rec = run_iaa(&r, |c| {
        let mut d = IaaNoop::new(c).build();
        d.pasid_priv |= 1 << 25;
        d
    });
    assert_eq!(bad_desc(&rec), (0x12, 0));
    // Reserved descriptor bytes of a NOOP / memmove.
    let rec = run_iaa(&r, |c| {
        let mut d = IaaNoop::new(c).build();
        d.src1_size = 5;
        d
    });
    assert_eq!(rec.status, 0x12);
    let src = [1u8; 8];
    let mut dst = [0u8; 8];
    let rec = run_iaa(&r, |c| {
        let mut d = IaaMemmove::new(addr(&src), addr_mut(&mut dst), 8, c).build();
        d.num_inputs = 1;
        d
    });
    assert_eq!(rec.status, 0x12);
    assert_eq!(dst, [0; 8], "a rejected descriptor does nothing");
    // Opcodes: BATCH does not exist on IAA; SCAN is not modelled; 0x7F is undefined.
    for op in [0x01u8, 0x50, 0x7F] {
        let rec = run_iaa(&r, |c| {
            let mut d = IaaNoop::new(c).build();
            d.set_opcode_flags(op, OpFlags::CRAV_RCR_CC);
            d
        });
        assert_eq!(bad_desc(&rec), (0x10, 0), "opcode {op:#x}");
    }
    // Flags: FENCE means nothing on IAA; bit 23 is undefined; RD_SRC2 = 3 is invalid.
    let rec = run_iaa(&r, |c| {
        IaaNoop::new(c)
            .op_flags(OpFlags::CRAV_RCR_CC.with(OpFlags::FENCE))
            .build()
    });
    assert_eq!(bad_desc(&rec), (0x11, 0x1));
    let text = data(1000, 1);
    let mut out = vec![0u8; 2000];
    let aecs = [CompressAecs::fixed(), CompressAecs::fixed()];
    for (extra, want) in [
        (0x80_0000u32, 0x80_0000u32),
        (0x03_0000, 0x03_0000),
        (0x0C_0000, 0x0C_0000),
    ] {
        let rec = run_iaa(&r, |c| {
            let b = IaaCompress::new(addr(&text), 1000, addr_mut(&mut out), 2000, addr(&aecs), c);
            b.op_flags(OpFlags(OpFlags::CRAV_RCR_CC.0 | 0x01_0000 | extra))
                .build()
        });
        assert_eq!(bad_desc(&rec), (0x11, want), "extra {extra:#x}");
    }
}

#[test]
fn iaa_alignment_size_overlap_and_op_flags() {
    let mut cfg = ModelConfig::iaa(1);
    cfg.wqs = vec![ModelWqConfig {
        max_transfer: 64 * 1024,
        ..ModelWqConfig::shared(8)
    }];
    let r = rig(cfg);
    // Completion record not 64-byte aligned: 0x1B, written where the descriptor says.
    let buf = RecBuf([0; 256]);
    let at = buf.0.as_ptr() as u64 + 32;
    let d = IaaNoop::new(at).build();
    let rec = iaa_rec(&run_at(&r, d.as_bytes(), at, 64));
    assert_eq!(bad_desc(&rec), (0x1B, 0));
    let text = data(8000, 2);
    let mut out = vec![0u8; 16_000];
    let aecs = [
        CompressAecs::fixed(),
        CompressAecs::fixed(),
        CompressAecs::fixed(),
    ];
    let (ta, oa) = (addr(&text), addr_mut(&mut out));
    let comp = |src2: u64, size: u32, len: u32, cap: u32| {
        move |c| {
            IaaCompress::new(ta, len, oa, cap, src2, c)
                .aecs_size(size)
                .build()
        }
    };
    // AECS address or size not a multiple of 32: 0x1C.
    let rec = run_iaa(&r, comp(addr(&aecs) + 16, 1568, 8000, 16_000));
    assert_eq!(bad_desc(&rec), (0x1C, 0));
    let rec = run_iaa(&r, comp(addr(&aecs), 1568 + 16, 8000, 16_000));
    assert_eq!(rec.status, 0x1C);
    // Above the WQ's max transfer size: 0x13 (source or destination).
    let big = vec![0u8; 100_000];
    let rec = run_iaa(&r, |c| {
        IaaCompress::new(
            addr(&big),
            100_000,
            addr_mut(&mut out),
            16_000,
            addr(&aecs),
            c,
        )
        .build()
    });
    assert_eq!(bad_desc(&rec), (0x13, 0));
    let rec = run_iaa(&r, |c| {
        IaaCompress::new(
            addr(&text),
            8000,
            addr_mut(&mut out),
            100_000,
            addr(&aecs),
            c,
        )
        .build()
    });
    assert_eq!(rec.status, 0x13);
    // Source and destination overlap: 0x16.
    let mut both = data(20_000, 3);
    let base = addr_mut(&mut both);
    let rec = run_iaa(&r, |c| {
        IaaCompress::new(base, 8000, base + 4000, 8000, addr(&aecs), c).build()
    });
    assert_eq!(bad_desc(&rec), (0x16, 0));
    // Compression flags the model (IAA 1.0) does not implement: 0x30.
    let rec = run_iaa(&r, |c| {
        let mut d = IaaCompress::new(
            addr(&text),
            8000,
            addr_mut(&mut out),
            16_000,
            addr(&aecs),
            c,
        )
        .build();
        d.op_flags16 |= 0x3000; // hardware header generation (IAA 2.0)
        d
    });
    assert_eq!(bad_desc(&rec), (0x30, 0));
    // Decompress without ENABLE: 0x30; with filter flags: 0x31.
    let z = [0x03u8, 0x00];
    let rec = run_iaa(&r, |c| {
        let mut d = IaaDecompress::new(addr(&z), 2, addr_mut(&mut out), 100, c).build();
        d.op_flags16 &= !DecompressionFlags::ENABLE.0;
        d
    });
    assert_eq!(rec.status, 0x30);
    let rec = run_iaa(&r, |c| {
        let mut d = IaaDecompress::new(addr(&z), 2, addr_mut(&mut out), 100, c).build();
        d.filter_flags = 1;
        d
    });
    assert_eq!(bad_desc(&rec), (0x31, 0));
    // Compress without reading an AECS: no code tables, analytics error 22 (bad input class).
    let rec = run_iaa(&r, |c| {
        IaaCompress::new(
            addr(&text),
            8000,
            addr_mut(&mut out),
            16_000,
            addr(&aecs),
            c,
        )
        .op_flags(OpFlags::CRAV_RCR_CC)
        .build()
    });
    assert_eq!((rec.status, rec.error_code), (0x0A, 22));
}

#[test]
fn record_only_on_failure_with_crav_without_rcr() {
    let r = rig(ModelConfig::iaa(1));
    let mut recs = IaaRecords::new(3).unwrap();
    let (a, b, c) = (
        recs.claim().unwrap(),
        recs.claim().unwrap(),
        recs.claim().unwrap(),
    );
    let ok = IaaNoop::new(recs.addr(a)).request_record(false).build();
    let mut bad = IaaNoop::new(recs.addr(b)).request_record(false).build();
    bad.pasid_priv |= 1 << 30;
    let fence = IaaNoop::new(recs.addr(c)).build();
    // SAFETY: the records outlive the waits.
    unsafe {
        r.wq.submit_iaa(&ok).unwrap();
        r.wq.submit_iaa(&bad).unwrap();
        r.wq.submit_iaa(&fence).unwrap();
    }
    assert!(matches!(
        r.wq.wait(&recs, c, BUDGET),
        iaa_wq::WaitOutcome::Done(_)
    ));
    // One engine takes descriptors in order, so both earlier ones are done.
    assert!(
        recs.poll(a).is_none(),
        "success without RCR writes no record"
    );
    assert_eq!(
        recs.poll(b).map(|x| x.status),
        Some(0x12),
        "failure is recorded"
    );
    assert_eq!(r.dev.stats().executed, 3);
    assert_eq!(r.dev.stats().records, 2);
    // CRAV = 0: never a record.
    let none = IaaNoop::new(recs.addr(a)).op_flags(OpFlags::RCR).build();
    assert_eq!(none.op_flags().0 & OpFlags::CRAV.0, 0);
    let _: IaaDescriptor = none;
}

#[test]
fn dsa_validation() {
    let mut cfg = ModelConfig::dsa(0);
    cfg.wqs[0].max_transfer = 4096;
    let r = rig(cfg);
    let src = [7u8; 64];
    let mut dst = [0u8; 64];
    let bad = |rec: DsaCompletionRecord| {
        let st = StatusByte(rec.status);
        let class = st.dsa().map(|s| s.class());
        assert_eq!(class, Some(StatusClass::BadDescriptor), "{rec:?}");
        (st.code(), rec.invalid_flags())
    };
    let rec = run_dsa(&r, |c| {
        DsaNoop::new(c).op_flags(OpFlags(0x0C | 0x10_0000)).build()
    });
    assert_eq!(bad(rec), (0x11, 0x10_0000));
    let rec = run_dsa(&r, |c| {
        let mut d = DsaMemmove::new(addr(&src), addr_mut(&mut dst), 64, c).build();
        d.op_specific[5] = 1;
        d
    });
    assert_eq!(bad(rec), (0x12, 0));
    let rec = run_dsa(&r, |c| {
        DsaMemmove::new(addr(&src), addr_mut(&mut dst), 5000, c).build()
    });
    assert_eq!(bad(rec), (0x13, 0));
    assert_eq!(dst, [0; 64]);
    let rec = run_dsa(&r, |c| {
        let mut d = DsaNoop::new(c).build();
        d.set_opcode_flags(0x12, OpFlags(0x0C)); // DIF check: not modelled
        d
    });
    assert_eq!(bad(rec), (0x10, 0));
    // DSA records are 32-byte aligned: 16 off gives 0x1B.
    let buf = RecBuf([0; 256]);
    let at = buf.0.as_ptr() as u64 + 16;
    let d = DsaNoop::new(at).build();
    let rec: DsaCompletionRecord = bytemuck::pod_read_unaligned(&run_at(&r, d.as_bytes(), at, 32));
    assert_eq!(bad(rec), (0x1B, 0));
}
