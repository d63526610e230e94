//! The checksums the device reports, computed by the model itself (tests compare them with
//! independent crates): CRC-32 (gzip), CRC-32C, IAA's 16-bit XOR checksum, and IAA CRC64 with a
//! descriptor-supplied polynomial.

const fn reflected_table(poly: u32) -> [u32; 256] {
    let mut t = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 { (c >> 1) ^ poly } else { c >> 1 };
            k += 1;
        }
        t[i] = c;
        i += 1;
    }
    t
}

static CRC32_TABLE: [u32; 256] = reflected_table(0xEDB8_8320);
static CRC32C_TABLE: [u32; 256] = reflected_table(0x82F6_3B78);

/// Which 32-bit CRC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Crc32Kind {
    /// CRC-32 as gzip/zlib (polynomial 0x04C11DB7, reflected).
    Gzip,
    /// CRC-32C (Castagnoli, RFC 3720).
    Castagnoli,
}

/// A running 32-bit CRC in the zlib convention: `value()` after `update(a); update(b)` equals the
/// CRC of `a ++ b`, and `new(seed)` continues from a previous CRC value `seed`.
#[derive(Clone, Copy, Debug)]
pub struct Crc32 {
    reg: u32,
    table: &'static [u32; 256],
}

impl Crc32 {
    /// Continue from `seed` (0 for a fresh CRC).
    pub fn new(kind: Crc32Kind, seed: u32) -> Self {
        let table = match kind {
            Crc32Kind::Gzip => &CRC32_TABLE,
            Crc32Kind::Castagnoli => &CRC32C_TABLE,
        };
        Crc32 { reg: !seed, table }
    }
    /// Add bytes.
    pub fn update(&mut self, data: &[u8]) {
        let mut c = self.reg;
        for &b in data {
            c = self.table[((c ^ b as u32) & 0xFF) as usize] ^ (c >> 8);
        }
        self.reg = c;
    }
    /// Add one byte.
    #[inline]
    pub fn byte(&mut self, b: u8) {
        self.reg = self.table[((self.reg ^ b as u32) & 0xFF) as usize] ^ (self.reg >> 8);
    }
    /// The CRC so far.
    pub fn value(&self) -> u32 {
        !self.reg
    }
}

/// IAA's XOR checksum: XOR of the data as little-endian 16-bit words, an odd trailing byte
/// zero-extended; continued from `seed`.
#[derive(Clone, Copy, Debug)]
pub struct Xor16 {
    acc: u16,
    odd: bool,
}

impl Xor16 {
    /// Continue from `seed`.
    pub fn new(seed: u16) -> Self {
        Xor16 {
            acc: seed,
            odd: false,
        }
    }
    /// Add one byte.
    #[inline]
    pub fn byte(&mut self, b: u8) {
        self.acc ^= (b as u16) << if self.odd { 8 } else { 0 };
        self.odd = !self.odd;
    }
    /// Add bytes.
    pub fn update(&mut self, data: &[u8]) {
        let mut it = data;
        if self.odd && !it.is_empty() {
            self.byte(it[0]);
            it = &it[1..];
        }
        let mut chunks = it.chunks_exact(2);
        for c in &mut chunks {
            self.acc ^= u16::from_le_bytes([c[0], c[1]]);
        }
        for &b in chunks.remainder() {
            self.byte(b);
        }
    }
    /// The checksum so far.
    pub fn value(&self) -> u16 {
        self.acc
    }
}

/// IAA CRC64 with polynomial `poly` (normal form, x^64 implied). `msb_first` processes bits
/// most significant first (non-reflected); otherwise the reflected form is used. `invert` starts
/// from all ones and inverts the result.
pub fn crc64(poly: u64, msb_first: bool, invert: bool, data: &[u8]) -> u64 {
    let mut c: u64 = if invert { !0 } else { 0 };
    if msb_first {
        for &b in data {
            c ^= (b as u64) << 56;
            for _ in 0..8 {
                c = if c >> 63 != 0 {
                    (c << 1) ^ poly
                } else {
                    c << 1
                };
            }
        }
    } else {
        let rp = poly.reverse_bits();
        for &b in data {
            c ^= b as u64;
            for _ in 0..8 {
                c = if c & 1 != 0 { (c >> 1) ^ rp } else { c >> 1 };
            }
        }
    }
    if invert {
        !c
    } else {
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_values() {
        // The standard "123456789" check values of each algorithm.
        let mut c = Crc32::new(Crc32Kind::Gzip, 0);
        c.update(b"123456789");
        assert_eq!(c.value(), 0xCBF4_3926);
        let mut c = Crc32::new(Crc32Kind::Castagnoli, 0);
        c.update(b"123456789");
        assert_eq!(c.value(), 0xE306_9283);
        // CRC-64/ECMA-182 (non-reflected, no inversion) and CRC-64/XZ (reflected, inverted).
        assert_eq!(
            crc64(0x42F0_E1EB_A9EA_3693, true, false, b"123456789"),
            0x6C40_DF5F_0B49_7347
        );
        assert_eq!(
            crc64(0x42F0_E1EB_A9EA_3693, false, true, b"123456789"),
            0x995D_C9BB_DF19_39FA
        );
    }

    #[test]
    fn xor_checksum_words() {
        let mut x = Xor16::new(0);
        x.update(&[0x01, 0x02, 0x03]);
        assert_eq!(x.value(), 0x0201 ^ 0x0003);
        let mut y = Xor16::new(0);
        for b in [0x01, 0x02, 0x03] {
            y.byte(b);
        }
        assert_eq!(x.value(), y.value());
    }
}
