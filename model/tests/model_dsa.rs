//! DSA operations through iaa-wq into the model, checked against plain Rust and crc32c.

mod model_common;
use model_common::*;

use iaa_descriptors::{
    DsaBatch, DsaCompare, DsaCompletionRecord, DsaCrc, DsaDescriptor, DsaDrain, DsaDualcast,
    DsaFill, DsaMemmove, DsaNoop, OpFlags,
};
use iaa_model::ModelConfig;
use iaa_wq::{DsaDescriptorSlab, DsaRecords};

#[test]
fn memmove_fill_noop_drain() {
    for engines in [0, 2] {
        let r = rig(ModelConfig::dsa(engines));
        assert_eq!(run_dsa(&r, |c| DsaNoop::new(c).build()).status, 1);
        assert_eq!(run_dsa(&r, |c| DsaDrain::new(c).build()).status, 1);
        let src = data(70_001, 1);
        let mut dst = vec![0u8; 70_001];
        let rec = run_dsa(&r, |c| {
            DsaMemmove::new(addr(&src), addr_mut(&mut dst), src.len() as u32, c).build()
        });
        assert_eq!(rec.status, 1);
        assert_eq!(dst, src);
        // Overlapping memmove behaves as memmove.
        let mut buf = data(10_000, 2);
        let mut want = buf.clone();
        want.copy_within(0..9000, 1000);
        let base = addr_mut(&mut buf);
        let rec = run_dsa(&r, |c| DsaMemmove::new(base, base + 1000, 9000, c).build());
        assert_eq!(rec.status, 1);
        assert_eq!(buf, want);
        // Fill with an 8-byte pattern, odd length.
        let mut f = vec![0u8; 1003];
        let pat = 0x0102_0304_0506_0708u64;
        let rec = run_dsa(&r, |c| DsaFill::new(pat, addr_mut(&mut f), 1003, c).build());
        assert_eq!(rec.status, 1);
        let pb = pat.to_le_bytes();
        assert!(f.iter().enumerate().all(|(i, b)| *b == pb[i % 8]));
    }
}

#[test]
fn compare_and_compare_pattern() {
    let r = rig(ModelConfig::dsa(1));
    let a = data(5000, 3);
    let mut b = a.clone();
    let rec = run_dsa(&r, |c| DsaCompare::new(addr(&a), addr(&b), 5000, c).build());
    assert_eq!((rec.status, rec.result), (1, 0));
    b[3210] ^= 1;
    let rec = run_dsa(&r, |c| DsaCompare::new(addr(&a), addr(&b), 5000, c).build());
    assert_eq!((rec.status, rec.result, rec.bytes_completed), (1, 1, 3210));
    // Check-result: expecting "equal" on different buffers gives success with false predicate.
    let rec = run_dsa(&r, |c| {
        DsaCompare::new(addr(&a), addr(&b), 5000, c)
            .expect(0)
            .build()
    });
    assert_eq!((rec.status, rec.result), (2, 1));
    let pat = 0xDEAD_BEEF_0BAD_F00Du64;
    let mut p: Vec<u8> = (0..4096).map(|i| pat.to_le_bytes()[i % 8]).collect();
    let rec = run_dsa(&r, |c| DsaCompare::pattern(pat, addr(&p), 4096, c).build());
    assert_eq!((rec.status, rec.result), (1, 0));
    p[4000] = !p[4000];
    let rec = run_dsa(&r, |c| DsaCompare::pattern(pat, addr(&p), 4096, c).build());
    assert_eq!((rec.status, rec.result, rec.bytes_completed), (1, 1, 4000));
}

#[test]
fn crc_generate_and_copy_crc_match_crc32c() {
    let r = rig(ModelConfig::dsa(0));
    let src = data(33_333, 4);
    let rec = run_dsa(&r, |c| {
        DsaCrc::generate(addr(&src), src.len() as u32, c).build()
    });
    assert_eq!(rec.status, 1);
    assert_eq!(rec.crc_val() as u32, crc32c::crc32c(&src));
    let seed = crc32c::crc32c(b"earlier part");
    let mut dst = vec![0u8; src.len()];
    let rec = run_dsa(&r, |c| {
        DsaCrc::copy(addr(&src), addr_mut(&mut dst), src.len() as u32, c)
            .seed(seed)
            .build()
    });
    assert_eq!(rec.status, 1);
    assert_eq!(rec.crc_val() as u32, crc32c::crc32c_append(seed, &src));
    assert_eq!(dst, src);
}

#[test]
fn dualcast_writes_both_destinations() {
    let r = rig(ModelConfig::dsa(1));
    let src = data(3000, 5);
    let mut big = vec![0u8; 3 * 8192];
    let base = addr_mut(&mut big);
    let d1 = (base + 4095) & !4095; // page-aligned
    let d2 = d1 + 8192; // same bits 11:0
    let rec = run_dsa(&r, |c| {
        DsaDualcast::new(addr(&src), d1, d2, 3000, c).build()
    });
    assert_eq!(rec.status, 1);
    let o1 = (d1 - base) as usize;
    let o2 = (d2 - base) as usize;
    assert_eq!(&big[o1..o1 + 3000], &src[..]);
    assert_eq!(&big[o2..o2 + 3000], &src[..]);
    // Bits 11:0 differ: 0x17.
    let rec = run_dsa(&r, |c| {
        DsaDualcast::new(addr(&src), d1, d2 + 64, 100, c).build()
    });
    assert_eq!(rec.status, 0x17);
}

#[test]
fn batch_runs_each_descriptor_and_reports_failures() {
    let r = rig(ModelConfig::dsa(2));
    let list = DsaDescriptorSlab::new(4).unwrap();
    let mut subrecs = DsaRecords::new(4).unwrap();
    let slots: Vec<_> = (0..4).map(|_| subrecs.claim().unwrap()).collect();
    let src = data(4096, 6);
    let mut dsts = vec![vec![0u8; 4096]; 3];
    for (i, d) in dsts.iter_mut().enumerate() {
        let desc = DsaMemmove::new(addr(&src), addr_mut(d), 4096, subrecs.addr(slots[i])).build();
        assert!(list.write(i, &desc));
    }
    let rec = run_dsa(&r, |c| DsaBatch::new(list.addr(0).unwrap(), 3, c).build());
    assert_eq!((rec.status, rec.bytes_completed), (1, 3));
    for (i, d) in dsts.iter().enumerate() {
        assert_eq!(d, &src);
        assert_eq!(subrecs.poll(slots[i]).unwrap().status, 1);
    }
    // One bad sub-descriptor (unknown opcode 0x3F) with CRAV only: the batch reports 0x05 and only
    // the failing descriptor's record is written.
    for s in &slots {
        subrecs.reset(*s);
    }
    let mut bad = DsaDescriptor::from_bytes(&[0u8; 64]);
    bad.set_opcode_flags(0x3F, OpFlags::CRAV);
    bad.completion_addr = subrecs.addr(slots[3]);
    assert!(list.write(3, &bad));
    let ok_no_rcr = DsaNoop::new(subrecs.addr(slots[0]))
        .request_record(false)
        .build();
    assert!(list.write(0, &ok_no_rcr));
    let rec = run_dsa(&r, |c| DsaBatch::new(list.addr(0).unwrap(), 4, c).build());
    assert_eq!((rec.status, rec.bytes_completed), (0x05, 4));
    assert!(
        subrecs.poll(slots[0]).is_none(),
        "CRAV without RCR: no record on success"
    );
    assert_eq!(
        subrecs
            .poll(slots[3])
            .map(|r: DsaCompletionRecord| r.status),
        Some(0x10)
    );
    // Count 0 or above max: 0x14; misaligned list: 0x18; nested batch: 0x10.
    assert_eq!(
        run_dsa(&r, |c| DsaBatch::new(list.addr(0).unwrap(), 0, c).build()).status,
        0x14
    );
    assert_eq!(
        run_dsa(&r, |c| DsaBatch::new(list.addr(0).unwrap(), 5000, c)
            .build())
        .status,
        0x14
    );
    assert_eq!(
        run_dsa(&r, |c| DsaBatch::new(list.addr(0).unwrap() + 32, 2, c)
            .build())
        .status,
        0x18
    );
    let nested = DsaBatch::new(list.addr(1).unwrap(), 1, subrecs.addr(slots[2])).build();
    assert!(list.write(0, &nested));
    let rec = run_dsa(&r, |c| DsaBatch::new(list.addr(0).unwrap(), 1, c).build());
    assert_eq!(rec.status, 0x05);
    assert_eq!(subrecs.poll(slots[2]).unwrap().status, 0x10);
}

#[test]
fn crc_seed_read_from_memory() {
    let r = rig(ModelConfig::dsa(0));
    let src = data(5000, 8);
    let seed_mem: u32 = crc32c::crc32c(b"seed from memory");
    let seed_addr = &seed_mem as *const u32 as u64;
    let rec = run_dsa(&r, |c| {
        let mut d = DsaCrc::generate(addr(&src), 5000, c)
            .op_flags(OpFlags(0x0C | 0x1_0000))
            .build();
        d.set_seed_addr(seed_addr);
        d
    });
    assert_eq!(rec.status, 1);
    assert_eq!(rec.crc_val() as u32, crc32c::crc32c_append(seed_mem, &src));
    // Bit 16 means nothing for a memmove: invalid flags.
    let mut dst = vec![0u8; 16];
    let rec = run_dsa(&r, |c| {
        DsaMemmove::new(addr(&src), addr_mut(&mut dst), 16, c)
            .op_flags(OpFlags(0x0C | 0x1_0000))
            .build()
    });
    assert_eq!((rec.status, rec.invalid_flags()), (0x11, 0x1_0000));
}
