//! Builders fill exactly the fields of their operation and leave every other byte zero.

use iaa_descriptors::*;

fn nonzero_offsets(b: &[u8]) -> Vec<usize> {
    b.iter()
        .enumerate()
        .filter(|(_, v)| **v != 0)
        .map(|(i, _)| i)
        .collect()
}

/// Bytes [start, end) of a descriptor that an operation may set.
fn allowed(ranges: &[(usize, usize)]) -> Vec<bool> {
    let mut m = vec![false; 64];
    for &(s, e) in ranges {
        for x in m.iter_mut().take(e).skip(s) {
            *x = true;
        }
    }
    m
}

fn check(desc: &[u8; 64], ranges: &[(usize, usize)]) {
    let ok = allowed(ranges);
    for i in nonzero_offsets(desc) {
        assert!(
            ok[i],
            "byte {i} is set but belongs to no field of this operation: {desc:02x?}"
        );
    }
    // Bytes 0..4 (PASID/priv) are never set by user-space builders.
    assert_eq!(&desc[0..4], &[0, 0, 0, 0]);
}

const A: u64 = 0x1111_2222_3333_4440;

#[test]
fn iaa_builders_touch_only_their_fields() {
    let hdr = (4, 16);
    check(
        IaaCompress::new(A, 7, A, 9, A, A).build().as_bytes(),
        &[hdr, (16, 36), (38, 56)],
    );
    check(
        IaaCompressStats::new(A, 7, A, A).build().as_bytes(),
        &[hdr, (16, 36), (38, 40), (48, 52)],
    );
    check(
        IaaDecompress::new(A, 7, A, 9, A)
            .ignore_end_bits(5)
            .suppress_output(true)
            .build()
            .as_bytes(),
        &[hdr, (16, 36), (38, 40), (48, 52)],
    );
    check(
        IaaCrc64::new(A, 7, u64::MAX, A)
            .invert(true)
            .build()
            .as_bytes(),
        &[hdr, (16, 24), (32, 36), (38, 40), (56, 64)],
    );
    check(
        IaaMemmove::new(A, A, 9, A).build().as_bytes(),
        &[hdr, (16, 36)],
    );
    check(IaaNoop::new(A).build().as_bytes(), &[hdr]);
    check(IaaDrain::new(A).build().as_bytes(), &[hdr]);
}

#[test]
fn dsa_builders_touch_only_their_fields() {
    let hdr = (4, 16);
    check(
        DsaMemmove::new(A, A, 9, A).build().as_bytes(),
        &[hdr, (16, 36)],
    );
    check(
        DsaFill::new(u64::MAX, A, 9, A).build().as_bytes(),
        &[hdr, (16, 36)],
    );
    check(
        DsaCompare::new(A, A, 9, A).expect(1).build().as_bytes(),
        &[hdr, (16, 36), (40, 41)],
    );
    check(
        DsaCompare::pattern(u64::MAX, A, 9, A).build().as_bytes(),
        &[hdr, (16, 36)],
    );
    check(
        DsaCrc::generate(A, 9, A).seed(!0).build().as_bytes(),
        &[hdr, (16, 24), (32, 36), (40, 44)],
    );
    check(
        DsaCrc::copy(A, A, 9, A).seed(!0).build().as_bytes(),
        &[hdr, (16, 36), (40, 44)],
    );
    check(
        DsaDualcast::new(A, A, A, 9, A).build().as_bytes(),
        &[hdr, (16, 36), (40, 48)],
    );
    check(
        DsaBatch::new(A, 9, A).build().as_bytes(),
        &[hdr, (16, 24), (32, 36)],
    );
    check(DsaNoop::new(A).build().as_bytes(), &[hdr]);
    check(DsaDrain::new(A).build().as_bytes(), &[hdr]);
}

#[test]
fn fixed_compress_is_what_iaa_crypto_submits() {
    let d = IaaCompress::new(0x10, 4096, 0x20, 8192, 0x40, 0x80).build();
    assert_eq!(d.opcode(), 0x43);
    assert_eq!(d.op_flags().0, 0x01010C);
    assert_eq!(d.op_flags16, 0x0006);
    assert_eq!(d.src2_size, 1568);
    assert_eq!(d.flags_opcode, 0x4301010C);
}

#[test]
fn decompress_flags_encode_the_rules() {
    let kernel = IaaDecompress::new(0, 1, 0, 1, 0)
        .eob_rule(EobRule::StopAndCheckAnyEob)
        .build();
    assert_eq!(kernel.op_flags16, 0x000F);
    assert_eq!(kernel.op_flags().0, 0x10C);
    let verify = IaaDecompress::new(0, 1, 0, 1, 0)
        .eob_rule(EobRule::StopAndCheckAnyEob)
        .suppress_output(true)
        .build();
    assert_eq!(verify.op_flags16, 0x020F);
    let d = IaaDecompress::new(0, 1, 0, 1, 0).ignore_end_bits(7).build();
    assert_eq!(DecompressionFlags(d.op_flags16).ignore_end_bits(), 7);
    assert_eq!(
        DecompressionFlags(d.op_flags16).eob_rule(),
        EobRule::StopAndCheckFinalEob
    );
    let d = IaaDecompress::new(0, 1, 0, 1, 0)
        .ignore_end_bits(12)
        .build();
    assert_eq!(DecompressionFlags(d.op_flags16).ignore_end_bits(), 12);
    for rule in [
        EobRule::None,
        EobRule::StopAnyEob,
        EobRule::CheckAnyEob,
        EobRule::StopAndCheckAnyEob,
        EobRule::StopFinalEob,
        EobRule::CheckFinalEob,
        EobRule::StopAndCheckFinalEob,
    ] {
        let d = IaaDecompress::new(0, 1, 0, 1, 0).eob_rule(rule).build();
        assert_eq!(DecompressionFlags(d.op_flags16).eob_rule(), rule);
    }
}

#[test]
fn status_bytes_decode() {
    let s = StatusByte(0x83);
    assert_eq!(s.code(), 3);
    assert!(s.write_fault());
    assert_eq!(s.iaa(), Some(IaaStatus::PageFaultNoBof));
    assert_eq!(iaa_class(0x83, 0), StatusClass::TouchPageAndResubmit);
    assert_eq!(iaa_class(0x01, 0), StatusClass::Done);
    assert_eq!(iaa_class(0x00, 0), StatusClass::Pending);
    assert_eq!(iaa_class(0x0A, 0x19), StatusClass::OutputOverflow);
    assert_eq!(iaa_class(0x0A, 17), StatusClass::BadInput);
    assert_eq!(iaa_class(0x0B, 0), StatusClass::OutputOverflow);
    assert_eq!(iaa_class(0x12, 0), StatusClass::BadDescriptor);
    assert_eq!(iaa_class(0x24, 0), StatusClass::DeviceFault);
    assert_eq!(iaa_class(0x7E, 0), StatusClass::DeviceFault);
    assert_eq!(
        AnalyticsError::from_code(17),
        Some(AnalyticsError::BadDistance)
    );
    for s in IaaStatus::ALL {
        assert_eq!(IaaStatus::from_code(*s as u8), Some(*s));
        assert!(!s.meaning().is_empty());
    }
    for s in DsaStatus::ALL {
        assert_eq!(DsaStatus::from_code(*s as u8), Some(*s));
    }
}

#[test]
fn opcap_bitmap() {
    let c = OpCap::iaa_spr();
    assert!(c.supports(0x43) && c.supports(0x42) && c.supports(0x00));
    assert!(!c.supports(0x01), "no BATCH on IAA");
    assert_eq!(IaaOpcode::from_u8(0x01), None);
    assert_eq!(DsaOpcode::from_u8(0x01), Some(DsaOpcode::Batch));
}

#[test]
fn completion_record_accessors() {
    let mut r = DsaCompletionRecord::default_zeroed();
    r.set_invalid_flags(0xFFFF_FFFF);
    assert_eq!(r.invalid_flags(), 0x00FF_FFFF);
    assert_eq!(r.as_bytes()[19], 0);
    let mut c: IaaCompletionRecord = bytemuck::Zeroable::zeroed();
    c.set_crc64(0x0102_0304_0506_0708);
    assert_eq!(
        &c.as_bytes()[40..48],
        &0x0102_0304_0506_0708u64.to_le_bytes()
    );
}

trait Z {
    fn default_zeroed() -> Self;
}
impl Z for DsaCompletionRecord {
    fn default_zeroed() -> Self {
        bytemuck::Zeroable::zeroed()
    }
}

#[test]
fn header_generation_is_what_linux_dynamic_mode_submits() {
    // Linux deflate-iaa-dynamic (GNR): CRAV|RCR|CC, no AECS, compression flags 0x3006.
    let d = IaaCompress::new(0x1000, 4096, 0x3000, 4096, 0x5000, 0x6000)
        .header_gen(HeaderGen::OnePass { bfinal: true })
        .build();
    assert_eq!(d.flags_opcode, 0x4300_010C);
    assert_eq!(d.op_flags16, 0x3006);
    assert_eq!((d.src2_addr, d.src2_size), (0, 0));
    assert_eq!(
        CompressionFlags(d.op_flags16).header_gen(),
        HeaderGen::OnePass { bfinal: true }
    );
    for v in 0..8u16 {
        assert_eq!(HeaderGen::from_field(v).field(), v);
    }
    // Fixed mode is untouched by the new field.
    let f = IaaCompress::new(0x1000, 4096, 0x3000, 4096, 0x5000, 0x6000).build();
    assert_eq!((f.flags_opcode, f.op_flags16), (0x4301_010C, 0x0006));
    assert_eq!(CompressionFlags(f.op_flags16).header_gen(), HeaderGen::None);
    assert!(IaaCap(0x1ff).contains(IaaCap::HEADER_GEN));
    assert_eq!(IaaCap::HEADER_GEN.bits(), 1 << 8);
}
