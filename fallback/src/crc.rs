//! The checksums the IAA completion record reports, in software.
//!
//! Conventions (checked against public sources, see `fallback/README.md`):
//! - [`crc32_gzip`]: the completion record's `crc` field (offset 32) is the standard CRC-32
//!   (poly 0x04C11DB7 reflected, i.e. 0xEDB88320), the value of the gzip trailer. QPL writes it
//!   straight into the gzip trailer and seeds the next job of a stream with it through the
//!   AECS `crc` field, so the seed uses the zlib convention: `seed` is a previous *finished*
//!   CRC (0 to start), and `crc32_gzip(crc32_gzip(0, a), b) == crc32_gzip(0, a ++ b)`. The
//!   Linux iaa_crypto driver only compares the compress job's CRC with the verify job's CRC.
//! - [`crc32c`]: the same with the Castagnoli polynomial (op flag bit 21, CRC_RFC3720).
//! - [`xor_checksum16`]: XOR of the data as little-endian 16-bit words, an odd trailing byte
//!   zero-extended (completion record offset 30).
//! - [`crc64`]: the IAA CRC64 operation (opcode 0x44), see its docs.

/// Standard CRC-32 (gzip/zlib) continuing from `seed` (0 for a fresh CRC), as IAA reports it.
pub fn crc32_gzip(seed: u32, data: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new_with_initial(seed);
    h.update(data);
    h.finalize()
}

const CRC32C_POLY_REFLECTED: u32 = 0x82F6_3B78;

const fn make_crc32c_tables() -> [[u32; 256]; 8] {
    let mut t = [[0u32; 256]; 8];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ CRC32C_POLY_REFLECTED
            } else {
                c >> 1
            };
            k += 1;
        }
        t[0][i] = c;
        i += 1;
    }
    let mut j = 1;
    while j < 8 {
        let mut i = 0;
        while i < 256 {
            let prev = t[j - 1][i];
            t[j][i] = (prev >> 8) ^ t[0][(prev & 0xFF) as usize];
            i += 1;
        }
        j += 1;
    }
    t
}

static CRC32C_TABLES: [[u32; 256]; 8] = make_crc32c_tables();

/// CRC-32C (Castagnoli, iSCSI) continuing from `seed` (0 for a fresh CRC), zlib seed convention.
pub fn crc32c(seed: u32, data: &[u8]) -> u32 {
    let t = &CRC32C_TABLES;
    let mut c = !seed;
    let mut chunks = data.chunks_exact(8);
    for ch in &mut chunks {
        let lo = u32::from_le_bytes([ch[0], ch[1], ch[2], ch[3]]) ^ c;
        let hi = u32::from_le_bytes([ch[4], ch[5], ch[6], ch[7]]);
        c = t[7][(lo & 0xFF) as usize]
            ^ t[6][((lo >> 8) & 0xFF) as usize]
            ^ t[5][((lo >> 16) & 0xFF) as usize]
            ^ t[4][(lo >> 24) as usize]
            ^ t[3][(hi & 0xFF) as usize]
            ^ t[2][((hi >> 8) & 0xFF) as usize]
            ^ t[1][((hi >> 16) & 0xFF) as usize]
            ^ t[0][(hi >> 24) as usize];
    }
    for &b in chunks.remainder() {
        c = (c >> 8) ^ t[0][((c ^ b as u32) & 0xFF) as usize];
    }
    !c
}

/// CRC-32C as [`crc32c`] computes it (same value, same seed convention), at the CPU's speed:
/// the `crc32c` crate, which uses the SSE4.2 `crc32` instruction (ARMv8 CRC on Arm) where the
/// CPU has it and a table otherwise. The DSA operations' software path
/// (`iaa::Pool::crc32c`).
pub fn crc32c_fast(seed: u32, data: &[u8]) -> u32 {
    ::crc32c::crc32c_append(seed, data)
}

/// IAA's 16-bit XOR checksum: XOR of the data read as little-endian u16 words; an odd trailing
/// byte is zero-extended. Seed 0 (the AECS seed is XORed in by the caller if used).
pub fn xor_checksum16(data: &[u8]) -> u16 {
    let mut acc64 = 0u64;
    let mut chunks = data.chunks_exact(8);
    for ch in &mut chunks {
        acc64 ^= u64::from_le_bytes(ch.try_into().unwrap_or([0; 8]));
    }
    let mut acc = (acc64 ^ (acc64 >> 16) ^ (acc64 >> 32) ^ (acc64 >> 48)) as u16;
    let rem = chunks.remainder();
    let mut pairs = rem.chunks_exact(2);
    for p in &mut pairs {
        acc ^= u16::from_le_bytes([p[0], p[1]]);
    }
    if let [b] = pairs.remainder() {
        acc ^= *b as u16;
    }
    acc
}

/// The IAA CRC64 operation (opcode 0x44), for CRCs of width 1..=64.
///
/// `poly` is the descriptor's 64-bit polynomial field: the polynomial in normal (not reflected)
/// form without its top bit, left-aligned (bit 63 = next-highest coefficient). The CRC width is
/// `64 - poly.trailing_zeros()`: gzip's CRC-32 is `0x04C1_1DB7_0000_0000`.
///
/// `be` is CRC64 flag bit 15 ("big-endian", QPL_FLAG_CRC64_BE): bit 0 of each byte is the
/// *most* significant coefficient, which is the reflected CRC (as gzip's CRC-32); the result is
/// then in the low `width` bits. With `be == false` bit 7 of each byte is the most significant
/// (a normal, MSB-first CRC such as T10-DIF) and the result is left-aligned in the high `width`
/// bits. `invert` is flag bit 14: the initial and the final CRC are inverted over `width` bits.
/// A zero `poly` is treated as width 64 with polynomial 0 (a plain shift register).
///
/// Examples (QPL documentation): gzip CRC-32 = `crc64(0x04C11DB7 << 32, true, true, d) as u32`;
/// T10-DIF = `crc64(0x8BB7 << 48, false, false, d) >> 48`.
pub fn crc64(poly: u64, be: bool, invert: bool, data: &[u8]) -> u64 {
    let width = if poly == 0 {
        64
    } else {
        64 - poly.trailing_zeros()
    };
    if be {
        let rpoly = poly.reverse_bits();
        let mask = if width == 64 {
            u64::MAX
        } else {
            (1u64 << width) - 1
        };
        let mut c = if invert { mask } else { 0 };
        let step = |mut c: u64| {
            for _ in 0..8 {
                c = if c & 1 != 0 { (c >> 1) ^ rpoly } else { c >> 1 };
            }
            c
        };
        if data.len() >= 512 {
            let mut t = [0u64; 256];
            for (i, e) in t.iter_mut().enumerate() {
                *e = step(i as u64);
            }
            for &b in data {
                c = (c >> 8) ^ t[((c ^ b as u64) & 0xFF) as usize];
            }
        } else {
            for &b in data {
                c = step(c ^ b as u64);
            }
        }
        if invert {
            c ^= mask;
        }
        c
    } else {
        let mask = if width == 64 {
            u64::MAX
        } else {
            !((1u64 << (64 - width)) - 1)
        };
        let mut c = if invert { mask } else { 0 };
        let step = |mut c: u64| {
            for _ in 0..8 {
                c = if c & (1 << 63) != 0 {
                    (c << 1) ^ poly
                } else {
                    c << 1
                };
            }
            c
        };
        if data.len() >= 512 {
            let mut t = [0u64; 256];
            for (i, e) in t.iter_mut().enumerate() {
                *e = step((i as u64) << 56);
            }
            for &b in data {
                c = (c << 8) ^ t[((c >> 56) ^ b as u64) as usize];
            }
        } else {
            for &b in data {
                c = step(c ^ ((b as u64) << 56));
            }
        }
        if invert {
            c ^= mask;
        }
        c
    }
}
