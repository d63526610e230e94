//! Analytics Engine Configuration and State (spec §4): the compress AECS with Huffman tables and
//! the output-accumulator prefix, and the decompress AECS.

use bytemuck::{Pod, Zeroable};

use crate::DescriptorError;

/// Size the device reads for a compress AECS (`src2_size`).
pub const COMPRESS_AECS_SIZE: u32 = 0x620;
/// Size of a full decompress AECS (with the 4 KiB history).
pub const DECOMPRESS_AECS_SIZE: u32 = 0x1500;
/// Number of literal/length symbols with a code in the compress AECS.
pub const LL_SYMBOLS: usize = 286;
/// Number of distance symbols with a code in the compress AECS.
pub const D_SYMBOLS: usize = 30;
/// Bytes of the statistics-mode histogram (286 + 2 + 30 + 2 u32, spec §2.4).
pub const HISTOGRAM_BYTES: usize = 1280;

/// One Huffman code table entry as the hardware reads it: bits 14:0 the code value, canonical and
/// **not** bit-reversed (MSB-first as in RFC 1951), bits 18:15 the code length (0 = unused).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HuffEntry {
    /// The code value (MSB-first).
    pub code: u16,
    /// The code length in bits (0-15).
    pub len: u8,
}

impl HuffEntry {
    /// Pack into the AECS u32 format.
    pub const fn pack(self) -> u32 {
        ((self.len as u32 & 0xF) << 15) | (self.code as u32 & 0x7FFF)
    }
    /// Unpack from the AECS u32 format.
    pub const fn unpack(v: u32) -> HuffEntry {
        HuffEntry {
            code: (v & 0x7FFF) as u16,
            len: ((v >> 15) & 0xF) as u8,
        }
    }
}

/// The compress AECS (1568 bytes read, 32-byte aligned), as `aecs_comp_table_record`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
#[repr(C, align(32))]
pub struct CompressAecs {
    /// CRC seed in, running CRC out.
    pub crc: u32,
    /// XOR checksum seed / running value.
    pub xor_checksum: u32,
    /// Reserved.
    pub rsvd: [u32; 5],
    /// Number of valid bits in the output accumulator.
    pub num_output_accum_bits: u32,
    /// Bits emitted before any compressed data, DEFLATE LSB-first order.
    pub output_accum: [u8; 256],
    /// Literal/length codes (symbols 0-285), packed [`HuffEntry`] values.
    pub ll_sym: [u32; LL_SYMBOLS],
    /// Reserved.
    pub rsvd1: [u32; 2],
    /// Distance codes (symbols 0-29), packed [`HuffEntry`] values.
    pub d_sym: [u32; D_SYMBOLS],
    /// Reserved (up to 0x620).
    pub rsvd_padding: [u32; 2],
}

const _: () = assert!(core::mem::size_of::<CompressAecs>() == COMPRESS_AECS_SIZE as usize);
const _: () = assert!(core::mem::align_of::<CompressAecs>() == 32);

/// The decompress/analytics AECS (0x1500 bytes, 32-byte aligned), spec §4.5.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
#[repr(C, align(32))]
pub struct DecompressAecs {
    /// CRC seed / result.
    pub crc: u32,
    /// XOR checksum seed / result.
    pub xor_checksum: u32,
    /// Filter low parameter.
    pub low_filter_param: u32,
    /// Filter high parameter.
    pub high_filter_param: u32,
    /// Output modification index.
    pub output_mod_idx: u32,
    /// Initial decompressed output bytes to drop.
    pub drop_init_decomp_out_bytes: u32,
    /// Reserved.
    pub rsvd: [u8; 144],
    /// Output accumulator data.
    pub output_accum_data: u64,
    /// Output accumulator valid bits (bit 0 also flags format 2).
    pub output_bits_valid: u32,
    /// Bit offset for indexing.
    pub bit_offset_indexing: u32,
    /// Input accumulator: 32 qwords of unconsumed input bits.
    pub input_accum: [u64; 32],
    /// Valid-bit count of each input accumulator qword.
    pub input_accum_size: [u8; 32],
    /// EOB CAM entry.
    pub eob_cam_entry: u32,
    /// Initial bits to drop.
    pub drop_init_bits: u8,
    /// AECS format (0 = format 1, 1 = format 2).
    pub aecs_format: u8,
    /// Reserved.
    pub rsvd2: u16,
    /// Literal/length decode ALU tables.
    pub ll_alu: [u8; 80],
    /// Reserved / CAM internals.
    pub rsvd3: [u8; 248],
    /// LL mapping table (format 2) / CAM part 1 (format 1).
    pub ll_mapping: [u8; 268],
    /// Decompressor state (bits 3:0).
    pub decomp_state: u16,
    /// Reserved.
    pub rsvd4: u16,
    /// Stored-block bytes remaining, CAM part 2, reserved.
    pub rsvd5: [u8; 172],
    /// History write pointer: bits 14:0 offset, bit 15 wrapped.
    pub history_write_ptr: u16,
    /// Reserved.
    pub rsvd6: u16,
    /// The 4 KiB history window.
    pub history: [u8; 4096],
    /// Reserved / padding to 0x1500.
    pub rsvd7: [u8; 24],
}

const _: () = assert!(core::mem::size_of::<DecompressAecs>() == DECOMPRESS_AECS_SIZE as usize);
const _: () = assert!(core::mem::align_of::<DecompressAecs>() == 32);
const _: () = assert!(core::mem::offset_of!(DecompressAecs, output_accum_data) == 0xA8);
const _: () = assert!(core::mem::offset_of!(DecompressAecs, input_accum) == 0xB8);
const _: () = assert!(core::mem::offset_of!(DecompressAecs, eob_cam_entry) == 0x1D8);
const _: () = assert!(core::mem::offset_of!(DecompressAecs, ll_alu) == 0x1E0);
const _: () = assert!(core::mem::offset_of!(DecompressAecs, ll_mapping) == 0x328);
const _: () = assert!(core::mem::offset_of!(DecompressAecs, decomp_state) == 0x434);
const _: () = assert!(core::mem::offset_of!(DecompressAecs, history_write_ptr) == 0x4E4);
const _: () = assert!(core::mem::offset_of!(DecompressAecs, history) == 0x4E8);
const _: () = assert!(core::mem::offset_of!(CompressAecs, num_output_accum_bits) == 0x1C);
const _: () = assert!(core::mem::offset_of!(CompressAecs, output_accum) == 0x20);
const _: () = assert!(core::mem::offset_of!(CompressAecs, ll_sym) == 0x120);
const _: () = assert!(core::mem::offset_of!(CompressAecs, d_sym) == 0x5A0);

/// Code lengths of the RFC 1951 fixed literal/length code for symbols 0-285.
pub fn fixed_ll_lengths() -> [u8; LL_SYMBOLS] {
    let mut l = [0u8; LL_SYMBOLS];
    for (s, v) in l.iter_mut().enumerate() {
        *v = match s {
            0..=143 => 8,
            144..=255 => 9,
            256..=279 => 7,
            _ => 8,
        };
    }
    l
}

/// Code lengths of the RFC 1951 fixed distance code for symbols 0-29.
pub fn fixed_d_lengths() -> [u8; D_SYMBOLS] {
    [5; D_SYMBOLS]
}

/// Canonical Huffman codes (RFC 1951 §3.2.2) for `lengths`; fails on an over-subscribed set or a
/// length above 15. Symbols with length 0 get no code.
pub fn canonical_codes(lengths: &[u8], out: &mut [HuffEntry]) -> Result<(), DescriptorError> {
    if out.len() < lengths.len() {
        return Err(DescriptorError::InvalidCodeLengths(
            "output table too short",
        ));
    }
    let mut count = [0u32; 16];
    for &l in lengths {
        if l > 15 {
            return Err(DescriptorError::InvalidCodeLengths("code length above 15"));
        }
        count[l as usize] += 1;
    }
    count[0] = 0;
    // Kraft check: the code must not be over-subscribed.
    let mut left: i64 = 1;
    for c in count.iter().skip(1) {
        left = left * 2 - *c as i64;
        if left < 0 {
            return Err(DescriptorError::InvalidCodeLengths("over-subscribed code"));
        }
    }
    let mut next = [0u32; 16];
    let mut code = 0u32;
    for bits in 1..16 {
        code = (code + count[bits - 1]) << 1;
        next[bits] = code;
    }
    for (s, &l) in lengths.iter().enumerate() {
        out[s] = if l == 0 {
            HuffEntry { code: 0, len: 0 }
        } else {
            let c = next[l as usize];
            next[l as usize] += 1;
            HuffEntry {
                code: c as u16,
                len: l,
            }
        };
    }
    Ok(())
}

/// An LSB-first bit writer over a fixed byte slice (DEFLATE bit order).
pub(crate) struct BitSink<'a> {
    buf: &'a mut [u8],
    bits: usize,
}

impl<'a> BitSink<'a> {
    pub(crate) fn new(buf: &'a mut [u8]) -> Self {
        BitSink { buf, bits: 0 }
    }
    /// Append the low `n` bits of `v`, least significant first.
    pub(crate) fn put(&mut self, v: u32, n: u32) -> Result<(), DescriptorError> {
        if self.bits + n as usize > self.buf.len() * 8 {
            return Err(DescriptorError::HeaderTooLong {
                bits: self.bits + n as usize,
            });
        }
        for i in 0..n {
            let bit = ((v >> i) & 1) as u8;
            self.buf[self.bits / 8] |= bit << (self.bits % 8);
            self.bits += 1;
        }
        Ok(())
    }
    /// Append a Huffman code, most significant bit first (RFC 1951 §3.1.1).
    pub(crate) fn put_code(&mut self, e: HuffEntry) -> Result<(), DescriptorError> {
        let mut rev = 0u32;
        for i in 0..e.len {
            rev |= ((e.code as u32 >> i) & 1) << (e.len - 1 - i);
        }
        self.put(rev, e.len as u32)
    }
    pub(crate) fn bits(&self) -> usize {
        self.bits
    }
}

/// Order in which code-length code lengths are stored (RFC 1951 §3.2.7).
pub(crate) const CL_ORDER: [usize; 19] = [
    16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15,
];

impl CompressAecs {
    /// A zeroed AECS.
    pub fn zeroed() -> Self {
        Zeroable::zeroed()
    }

    /// Store literal/length and distance codes from code lengths (canonical codes).
    pub fn set_code_lengths(
        &mut self,
        ll_lengths: &[u8; LL_SYMBOLS],
        d_lengths: &[u8; D_SYMBOLS],
    ) -> Result<(), DescriptorError> {
        let mut ll = [HuffEntry { code: 0, len: 0 }; LL_SYMBOLS];
        let mut d = [HuffEntry { code: 0, len: 0 }; D_SYMBOLS];
        canonical_codes(ll_lengths, &mut ll)?;
        canonical_codes(d_lengths, &mut d)?;
        if ll[256].len == 0 {
            return Err(DescriptorError::InvalidCodeLengths(
                "end-of-block (256) has no code",
            ));
        }
        for (dst, e) in self.ll_sym.iter_mut().zip(ll) {
            *dst = e.pack();
        }
        for (dst, e) in self.d_sym.iter_mut().zip(d) {
            *dst = e.pack();
        }
        Ok(())
    }

    /// Literal/length entry `sym`.
    pub fn ll_entry(&self, sym: usize) -> Option<HuffEntry> {
        self.ll_sym.get(sym).map(|v| HuffEntry::unpack(*v))
    }

    /// Distance entry `sym`.
    pub fn d_entry(&self, sym: usize) -> Option<HuffEntry> {
        self.d_sym.get(sym).map(|v| HuffEntry::unpack(*v))
    }

    /// The fixed-mode AECS Linux `iaa_crypto` uses: RFC 1951 fixed codes, CRC and XOR seeds 0,
    /// and the 3 header bits BFINAL=1, BTYPE=01 in the output accumulator.
    pub fn fixed() -> Self {
        let mut a = Self::zeroed();
        // The fixed code is defined over 288 literal/length symbols (286 and 287 never occur but
        // take part in the canonical assignment); the fixed lengths are valid by construction.
        let mut lens288 = [8u8; 288];
        lens288[..LL_SYMBOLS].copy_from_slice(&fixed_ll_lengths());
        let mut ll = [HuffEntry { code: 0, len: 0 }; 288];
        let mut d = [HuffEntry { code: 0, len: 0 }; D_SYMBOLS];
        let _ = canonical_codes(&lens288, &mut ll);
        let _ = canonical_codes(&fixed_d_lengths(), &mut d);
        for (dst, e) in a.ll_sym.iter_mut().zip(ll) {
            *dst = e.pack();
        }
        for (dst, e) in a.d_sym.iter_mut().zip(d) {
            *dst = e.pack();
        }
        a.output_accum[0] = 0b011; // BFINAL = 1, BTYPE = 01 (LSB first)
        a.num_output_accum_bits = 3;
        a
    }

    /// An AECS for a dynamic-Huffman block with caller-supplied code lengths: the tables, and the
    /// block header (BFINAL, BTYPE=10, HLIT, HDIST, HCLEN, the code-length code and the
    /// run-length-coded code lengths) written into the output accumulator.
    ///
    /// The header must fit the 256-byte accumulator (it always does for real tables; a
    /// pathological one may not, which is an error). QPL writes its dynamic headers into the
    /// same field (`hw_iaa_aecs_compress_write_deflate_dynamic_header`; its 34-byte check is on
    /// the bits already there before the header). The lengths are run-length coded per
    /// sequence, never across (see [`crate::huffman`]). Same as
    /// [`crate::huffman::DeviceCode::from_lengths`] + `write_aecs`.
    pub fn dynamic(
        ll_lengths: &[u8; LL_SYMBOLS],
        d_lengths: &[u8; D_SYMBOLS],
        bfinal: bool,
    ) -> Result<Self, DescriptorError> {
        let mut a = Self::zeroed();
        a.set_code_lengths(ll_lengths, d_lengths)?;
        if !is_complete_code(ll_lengths) || !is_complete_code(d_lengths) {
            return Err(DescriptorError::InvalidCodeLengths(
                "incomplete code: other inflaters (zlib) would reject the block",
            ));
        }
        crate::huffman::DeviceCode::from_lengths(ll_lengths, d_lengths)?.write_aecs(&mut a, bfinal);
        Ok(a)
    }

    /// The AECS as bytes.
    pub fn as_bytes(&self) -> &[u8] {
        bytemuck::bytes_of(self)
    }
}

impl DecompressAecs {
    /// A zeroed AECS.
    pub fn zeroed() -> Self {
        Zeroable::zeroed()
    }
}

/// The largest alphabet [`limited_lengths`] takes (deflate's 288 literal/length symbols and
/// some room).
pub const MAX_ALPHABET: usize = 320;

/// Length-limited Huffman code lengths for small alphabets (package-free heuristic): builds an
/// optimal Huffman tree, then flattens lengths above `max` while keeping the Kraft sum <= 1.
/// Symbols with frequency 0 get length 0. With one used symbol it gets length 1.
#[allow(clippy::needless_range_loop)] // parallel arrays indexed by node
pub fn limited_lengths<const N: usize>(freq: &[u32; N], max: u8) -> [u8; N] {
    let mut lens = [0u8; N];
    let mut used: [(u64, usize); N] = [(0, 0); N];
    let mut n = 0;
    for (s, &f) in freq.iter().enumerate() {
        if f > 0 {
            used[n] = (f as u64, s);
            n += 1;
        }
    }
    if n == 0 {
        return lens;
    }
    if n == 1 {
        lens[used[0].1] = 1;
        return lens;
    }
    // Simple O(n^2) Huffman over at most a few hundred symbols: parent links in a node array
    // on the stack (no allocation: the hardware path builds a table per unit in dynamic mode).
    const { assert!(N <= MAX_ALPHABET) };
    let mut weight = [0u64; 2 * MAX_ALPHABET];
    let mut parent = [usize::MAX; 2 * MAX_ALPHABET];
    let mut alive = [false; 2 * MAX_ALPHABET];
    for i in 0..n {
        weight[i] = used[i].0;
        alive[i] = true;
    }
    let mut nodes = n;
    for _ in 0..n - 1 {
        let mut a = usize::MAX;
        let mut b = usize::MAX;
        for i in 0..nodes {
            if !alive[i] {
                continue;
            }
            if a == usize::MAX || weight[i] < weight[a] {
                b = a;
                a = i;
            } else if b == usize::MAX || weight[i] < weight[b] {
                b = i;
            }
        }
        alive[a] = false;
        alive[b] = false;
        weight[nodes] = weight[a] + weight[b];
        alive[nodes] = true;
        parent[a] = nodes;
        parent[b] = nodes;
        nodes += 1;
    }
    let mut depth = [0u8; N];
    for i in 0..n {
        let mut d = 0u32;
        let mut p = i;
        while parent[p] != usize::MAX {
            p = parent[p];
            d += 1;
        }
        depth[i] = d.min(255) as u8;
    }
    // Clamp to `max`, then repair the Kraft inequality by lengthening the shortest codes that
    // can still grow (cheap and always terminates because max >= ceil(log2 n)).
    for i in 0..n {
        depth[i] = depth[i].min(max);
    }
    let kraft = |d: &[u8; N]| -> u64 { (0..n).map(|i| 1u64 << (max - d[i])).sum() };
    while kraft(&depth) > 1u64 << max {
        // Lengthen the deepest code shorter than max with the smallest frequency.
        let mut best = usize::MAX;
        for i in 0..n {
            if depth[i] < max && (best == usize::MAX || depth[i] > depth[best]) {
                best = i;
            }
        }
        if best == usize::MAX {
            break;
        }
        depth[best] += 1;
    }
    // The repair may leave the code incomplete; shorten a deepest code until the Kraft sum is
    // exactly 1 (each step adds the smallest unit present, which always divides the gap).
    while kraft(&depth) < 1u64 << max {
        let mut best = usize::MAX;
        for i in 0..n {
            if best == usize::MAX
                || depth[i] > depth[best]
                || (depth[i] == depth[best] && used[i].0 > used[best].0)
            {
                best = i;
            }
        }
        if best == usize::MAX || depth[best] <= 1 {
            break;
        }
        depth[best] -= 1;
    }
    for i in 0..n {
        lens[used[i].1] = depth[i];
    }
    lens
}

/// Whether `lengths` form a code every DEFLATE decoder accepts: complete (Kraft sum exactly 1),
/// or a single code of length 1.
pub fn is_complete_code(lengths: &[u8]) -> bool {
    let used = lengths.iter().filter(|&&l| l != 0).count();
    let sum: u64 = lengths
        .iter()
        .filter(|&&l| (1..=15).contains(&l))
        .map(|&l| 1u64 << (15 - l))
        .sum();
    sum == 1 << 15 || (used == 1 && lengths.contains(&1))
}
