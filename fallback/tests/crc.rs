//! Known-answer tests of the checksums, and cross-checks against independent implementations.

mod common;

use iaa_fallback::crc::{crc32_gzip, crc32c, crc64, xor_checksum16};

const CHECK: &[u8] = b"123456789";

/// Bitwise reflected CRC-32 reference (independent of crc32fast), zlib seed convention.
fn crc32_ref(seed: u32, poly_reflected: u32, data: &[u8]) -> u32 {
    let mut c = !seed;
    for &b in data {
        c ^= b as u32;
        for _ in 0..8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ poly_reflected
            } else {
                c >> 1
            };
        }
    }
    !c
}

#[test]
fn crc32_known_answers() {
    assert_eq!(crc32_gzip(0, CHECK), 0xCBF4_3926);
    assert_eq!(crc32_gzip(0, b""), 0);
    assert_eq!(crc32c(0, CHECK), 0xE306_9283);
    assert_eq!(crc32c(0, b""), 0);
}

#[test]
fn crc32_against_references_and_seeding() {
    let data = common::random_bytes(10_001, 3);
    for n in [0usize, 1, 7, 8, 9, 63, 64, 65, 1000, 10_001] {
        let d = &data[..n];
        assert_eq!(crc32_gzip(0, d), crc32_ref(0, 0xEDB8_8320, d));
        assert_eq!(crc32c(0, d), crc32_ref(0, 0x82F6_3B78, d));
        assert_eq!(
            crc32c(0, d),
            crc32c::crc32c(d),
            "crc32c crate oracle, n = {n}"
        );
        // Seeding continues a CRC (zlib convention, as the AECS crc seed).
        let (a, b) = d.split_at(n / 3);
        assert_eq!(crc32_gzip(crc32_gzip(0, a), b), crc32_gzip(0, d));
        assert_eq!(crc32c(crc32c(0, a), b), crc32c(0, d));
        assert_eq!(
            crc32_gzip(0x1234_5678, d),
            crc32_ref(0x1234_5678, 0xEDB8_8320, d)
        );
    }
}

#[test]
fn xor_checksum_definition() {
    assert_eq!(xor_checksum16(b""), 0);
    assert_eq!(xor_checksum16(&[0x12]), 0x0012);
    assert_eq!(xor_checksum16(&[0x12, 0x34]), 0x3412);
    assert_eq!(xor_checksum16(&[0x12, 0x34, 0x56]), 0x3412 ^ 0x0056);
    let data = common::random_bytes(1001, 11);
    for n in [0usize, 1, 2, 15, 16, 17, 1000, 1001] {
        let d = &data[..n];
        let mut want = 0u16;
        for w in d.chunks(2) {
            want ^= u16::from_le_bytes([w[0], *w.get(1).unwrap_or(&0)]);
        }
        assert_eq!(xor_checksum16(d), want, "n = {n}");
    }
}

#[test]
fn crc64_catalogue_check_values() {
    // Settings from the QPL CRC64 documentation table; check values from the CRC catalogue.
    // gzip CRC-32: BE flag + invert, result in the low 32 bits.
    assert_eq!(crc64(0x04C1_1DB7 << 32, true, true, CHECK), 0xCBF4_3926);
    // CRC-32/BZIP2 ("wimax" row): LE, invert, result in the high 32 bits.
    assert_eq!(
        crc64(0x04C1_1DB7 << 32, false, true, CHECK) >> 32,
        0xFC89_1918
    );
    assert_eq!(
        crc64(0x04C1_1DB7 << 32, false, true, CHECK) & 0xFFFF_FFFF,
        0
    );
    // T10-DIF: no flags, high 16 bits.
    assert_eq!(crc64(0x8BB7 << 48, false, false, CHECK) >> 48, 0xD0DB);
    // CRC-16/CCITT row (BE + invert) = CRC-16/X-25 (reflected, init/xorout 0xFFFF).
    assert_eq!(crc64(0x1021 << 48, true, true, CHECK), 0x906E);
    // 64-bit: CRC-64/ECMA-182, CRC-64/WE, CRC-64/XZ.
    let ecma = 0x42F0_E1EB_A9EA_3693;
    assert_eq!(crc64(ecma, false, false, CHECK), 0x6C40_DF5F_0B49_7347);
    assert_eq!(crc64(ecma, false, true, CHECK), 0x62EC_59E3_F1A4_F00A);
    assert_eq!(crc64(ecma, true, true, CHECK), 0x995D_C9BB_DF19_39FA);
}

#[test]
fn crc64_table_path_equals_bitwise_path() {
    // Inputs >= 512 bytes use a table; split points make the short path compute the same.
    let data = common::random_bytes(3000, 5);
    for (poly, be, inv) in [
        (0x42F0_E1EB_A9EA_3693u64, true, true),
        (0x42F0_E1EB_A9EA_3693, false, false),
        (0x04C1_1DB7 << 32, true, true),
        (0x8BB7 << 48, false, true),
    ] {
        let long = crc64(poly, be, inv, &data);
        if be && inv && poly == 0x04C1_1DB7 << 32 {
            assert_eq!(long, crc32_gzip(0, &data) as u64);
        }
        // Bitwise reference over the whole input via 500-byte pieces is not composable with
        // inversion, so compare against a direct bitwise model here.
        let width = 64 - poly.trailing_zeros();
        let mut c: u64;
        if be {
            let r = poly.reverse_bits();
            let mask = if width == 64 {
                u64::MAX
            } else {
                (1 << width) - 1
            };
            c = if inv { mask } else { 0 };
            for &b in &data {
                c ^= b as u64;
                for _ in 0..8 {
                    c = if c & 1 != 0 { (c >> 1) ^ r } else { c >> 1 };
                }
            }
            if inv {
                c ^= mask;
            }
        } else {
            let mask = if width == 64 {
                u64::MAX
            } else {
                !((1u64 << (64 - width)) - 1)
            };
            c = if inv { mask } else { 0 };
            for &b in &data {
                c ^= (b as u64) << 56;
                for _ in 0..8 {
                    c = if c >> 63 != 0 {
                        (c << 1) ^ poly
                    } else {
                        c << 1
                    };
                }
            }
            if inv {
                c ^= mask;
            }
        }
        assert_eq!(long, c);
    }
}
