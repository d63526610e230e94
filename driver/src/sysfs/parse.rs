//! Parsers for the exact text formats the kernel's idxd driver prints in sysfs
//! (`drivers/dma/idxd/sysfs.c`): `%#x` / `%#llx` hex (`0x100`, and plain `0` for zero, since
//! C's `#` flag prints no prefix for zero), `%u` / `%llu` / `%d` decimals, fixed state words, and
//! 256-bit bitmaps printed with `%*pb` as eight comma-separated 32-bit hex words, most significant
//! word first.

use serde::Serialize;
use std::fmt;

/// A 256-bit opcode bitmap (`op_cap` of a device, `op_config` of a WQ): bit `n` set means opcode
/// `n` is supported / allowed.
#[derive(Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct OpBitmap {
    /// `words[0]` holds opcodes 0-31, `words[7]` opcodes 224-255.
    pub words: [u32; 8],
}

impl OpBitmap {
    /// A bitmap with exactly the given opcodes set.
    pub fn from_opcodes(opcodes: &[u8]) -> Self {
        let mut b = OpBitmap::default();
        for &op in opcodes {
            b.words[usize::from(op / 32)] |= 1 << (op % 32);
        }
        b
    }

    /// Whether opcode `op` is set.
    pub fn contains(&self, op: u8) -> bool {
        self.words[usize::from(op / 32)] & (1 << (op % 32)) != 0
    }

    /// All set opcodes, ascending.
    pub fn opcodes(&self) -> Vec<u8> {
        (0..=255u8).filter(|&op| self.contains(op)).collect()
    }

    /// Parse the kernel's `%*pb` format for 256 bits: exactly 8 comma-separated groups of 1-8 hex
    /// digits, the first group being bits 255..224.
    pub fn parse(text: &str) -> Result<Self, &'static str> {
        const EXPECTED: &str = "8 comma-separated 32-bit hex words";
        let text = text.trim();
        let parts: Vec<&str> = text.split(',').collect();
        if parts.len() != 8 {
            return Err(EXPECTED);
        }
        let mut words = [0u32; 8];
        for (i, part) in parts.iter().enumerate() {
            if part.is_empty() || part.len() > 8 || !part.bytes().all(|c| c.is_ascii_hexdigit()) {
                return Err(EXPECTED);
            }
            words[7 - i] = u32::from_str_radix(part, 16).map_err(|_| EXPECTED)?;
        }
        Ok(OpBitmap { words })
    }
}

impl fmt::Display for OpBitmap {
    /// Prints in the kernel's format (most significant word first).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for i in (0..8).rev() {
            write!(f, "{:08x}", self.words[i])?;
            if i != 0 {
                f.write_str(",")?;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for OpBitmap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OpBitmap({self})")
    }
}

/// Parse a value printed with `%#x` / `%#llx`: `0x` followed by hex digits, or a bare `0`.
pub fn parse_hex_u64(text: &str) -> Result<u64, &'static str> {
    const EXPECTED: &str = "a hex number like 0x100";
    let t = text.trim();
    if t == "0" {
        return Ok(0);
    }
    let digits = t
        .strip_prefix("0x")
        .or_else(|| t.strip_prefix("0X"))
        .ok_or(EXPECTED)?;
    if digits.is_empty() || digits.len() > 16 || !digits.bytes().all(|c| c.is_ascii_hexdigit()) {
        return Err(EXPECTED);
    }
    u64::from_str_radix(digits, 16).map_err(|_| EXPECTED)
}

/// Parse an unsigned decimal (`%u`, `%llu`).
pub fn parse_dec_u64(text: &str) -> Result<u64, &'static str> {
    const EXPECTED: &str = "an unsigned decimal number";
    let t = text.trim();
    if t.is_empty() || !t.bytes().all(|c| c.is_ascii_digit()) {
        return Err(EXPECTED);
    }
    t.parse::<u64>().map_err(|_| EXPECTED)
}

/// Parse an unsigned decimal that must fit 32 bits.
pub fn parse_dec_u32(text: &str) -> Result<u32, &'static str> {
    let v = parse_dec_u64(text)?;
    u32::try_from(v).map_err(|_| "an unsigned decimal number below 2^32")
}

/// Parse a signed decimal (`%d`), e.g. `-1` for "none".
pub fn parse_dec_i32(text: &str) -> Result<i32, &'static str> {
    const EXPECTED: &str = "a signed decimal number";
    let t = text.trim();
    let digits = t.strip_prefix('-').unwrap_or(t);
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return Err(EXPECTED);
    }
    t.parse::<i32>().map_err(|_| EXPECTED)
}

/// Parse a `0`/`1` flag.
pub fn parse_bool01(text: &str) -> Result<bool, &'static str> {
    match text.trim() {
        "0" => Ok(false),
        "1" => Ok(true),
        _ => Err("0 or 1"),
    }
}

/// Parse a CPU list as printed by the kernel (`0-3,8,10-11`; empty means no CPU). Ranges are
/// capped at `max_cpus` CPUs in total so a malformed file cannot make us allocate without bound.
pub fn parse_cpulist(text: &str, max_cpus: usize) -> Result<Vec<u32>, &'static str> {
    const EXPECTED: &str = "a CPU list like 0-3,8";
    let t = text.trim();
    let mut cpus = Vec::new();
    if t.is_empty() {
        return Ok(cpus);
    }
    for part in t.split(',') {
        let (lo, hi) = match part.split_once('-') {
            Some((a, b)) => (a, b),
            None => (part, part),
        };
        let lo = parse_dec_u32(lo).map_err(|_| EXPECTED)?;
        let hi = parse_dec_u32(hi).map_err(|_| EXPECTED)?;
        if hi < lo || (hi - lo) as usize >= max_cpus.saturating_sub(cpus.len()) {
            return Err(EXPECTED);
        }
        cpus.extend(lo..=hi);
    }
    cpus.sort_unstable();
    cpus.dedup();
    Ok(cpus)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bitmap_word7_first() {
        // SPR IAA op_cap as the kernel prints it: opcodes 0,2,3 | 0x42,0x43,0x44,0x48,0x49,0x4c,0x4d
        // | 0x50..=0x56.
        let text = "00000000,00000000,00000000,00000000,00000000,007f331c,00000000,0000000d\n";
        let b = OpBitmap::parse(text).unwrap();
        assert_eq!(b.words[0], 0xd);
        assert_eq!(b.words[2], 0x007f_331c);
        assert!(b.contains(0x42) && b.contains(0x43) && b.contains(0x56));
        assert!(!b.contains(0x01) && !b.contains(0x57) && !b.contains(0x45));
        assert_eq!(b.to_string(), text.trim());
        assert_eq!(
            b.opcodes(),
            vec![
                0, 2, 3, 0x42, 0x43, 0x44, 0x48, 0x49, 0x4c, 0x4d, 0x50, 0x51, 0x52, 0x53, 0x54,
                0x55, 0x56
            ]
        );
        // The most significant word comes first.
        let top = OpBitmap::parse("80000000,0,0,0,0,0,0,1").unwrap();
        assert!(top.contains(255) && top.contains(0) && !top.contains(224));
    }

    #[test]
    fn bitmap_rejects_bad_shapes() {
        assert!(OpBitmap::parse("0,0,0,0,0,0,0").is_err()); // 7 words
        assert!(OpBitmap::parse("0,0,0,0,0,0,0,0,0").is_err()); // 9 words
        assert!(OpBitmap::parse("0,0,0,0,0,0,0,").is_err());
        assert!(OpBitmap::parse("0,0,0,0,0,0,0,1ffffffff").is_err()); // 9 digits
        assert!(OpBitmap::parse("0,0,0,0,0,0,0,xyz").is_err());
        assert!(OpBitmap::parse("").is_err());
    }

    #[test]
    fn numbers_as_printed() {
        assert_eq!(parse_hex_u64("0x100\n"), Ok(0x100));
        assert_eq!(parse_hex_u64("0x71f10901f0105"), Ok(0x0007_1f10_901f_0105));
        assert_eq!(parse_hex_u64("0\n"), Ok(0));
        assert!(parse_hex_u64("100").is_err());
        assert!(parse_hex_u64("0x").is_err());
        assert!(parse_hex_u64("0x1_0").is_err());
        assert_eq!(parse_dec_u64("2147483648\n"), Ok(1 << 31));
        assert!(parse_dec_u64("12a").is_err());
        assert!(parse_dec_u64("-1").is_err());
        assert!(parse_dec_u32("4294967296").is_err());
        assert_eq!(parse_dec_i32("-1\n"), Ok(-1));
        assert_eq!(parse_dec_i32("3"), Ok(3));
        assert!(parse_dec_i32("-").is_err());
        assert_eq!(parse_bool01("1\n"), Ok(true));
        assert!(parse_bool01("yes").is_err());
    }

    #[test]
    fn cpulists() {
        assert_eq!(
            parse_cpulist("0-3,8,10-11\n", 1024),
            Ok(vec![0, 1, 2, 3, 8, 10, 11])
        );
        assert_eq!(parse_cpulist("\n", 1024), Ok(vec![]));
        assert!(parse_cpulist("3-1", 1024).is_err());
        assert!(parse_cpulist("0-4294967295", 1024).is_err());
        assert!(parse_cpulist("a-b", 1024).is_err());
    }
}
