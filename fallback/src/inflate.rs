//! Our own checked raw-DEFLATE decoder (RFC 1951) with a configurable window.
//!
//! Slower than libdeflate, but every failure is a distinct [`InflateError`], so the software
//! device model can map it to an IAA error code, and `max_distance = 4096` proves that a
//! stream is decodable by IAA (a longer distance is [`InflateError::DistanceTooFar`], IAA
//! analytics error 17). Never panics, never reads or writes out of bounds, no allocation.

use crate::lz77::CL_ORDER;

/// Where decoding stops (IAA decompress flags bits 2 and 4).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum StopAt {
    /// After the end-of-block code of a block with BFINAL set (standard DEFLATE).
    #[default]
    FinalBlock,
    /// After the end-of-block code of any block.
    AnyEob,
}

/// Options of [`inflate`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InflateOptions {
    /// Largest back-reference distance accepted: 4096 for IAA, 32768 for full DEFLATE.
    pub max_distance: usize,
    /// Where to stop.
    pub stop: StopAt,
}

impl Default for InflateOptions {
    fn default() -> Self {
        InflateOptions {
            max_distance: 32768,
            stop: StopAt::FinalBlock,
        }
    }
}

impl InflateOptions {
    /// IAA's rules: 4 KiB window, stop at the final block's EOB.
    pub fn iaa() -> Self {
        InflateOptions {
            max_distance: 4096,
            stop: StopAt::FinalBlock,
        }
    }
}

/// What a successful [`inflate_status`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InflateStatus {
    /// Bytes written to `dst`.
    pub written: usize,
    /// Input bits consumed up to and including the EOB code where decoding stopped.
    pub bits_consumed: u64,
    /// Whether the block that ended decoding had BFINAL set.
    pub final_block: bool,
    /// Number of blocks decoded.
    pub blocks: u32,
}

impl InflateStatus {
    /// Input bytes consumed (the last one possibly partly).
    pub fn bytes_consumed(&self) -> usize {
        self.bits_consumed.div_ceil(8) as usize
    }
}

/// Decoding failures, each distinct.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InflateError {
    /// The input ended before the stream did.
    #[error("input truncated after {written} output bytes")]
    Truncated {
        /// Bytes written before the input ran out.
        written: usize,
    },
    /// Block type 3.
    #[error("invalid block type 3")]
    InvalidBlockType,
    /// Stored block whose LEN and NLEN disagree.
    #[error("stored block length check failed")]
    BadStoredLength,
    /// HLIT > 286 or HDIST > 30.
    #[error("too many length or distance codes")]
    TooManyCodes,
    /// Code lengths that over-subscribe or leave incomplete a Huffman code.
    #[error("invalid Huffman code lengths")]
    InvalidCodeLengths,
    /// Repeat code 16 with no previous length, or a repeat past the end of the lengths.
    #[error("invalid code-length repeat")]
    InvalidRepeat,
    /// The literal/length code has no end-of-block code.
    #[error("missing end-of-block code")]
    MissingEob,
    /// A bit pattern that is not a code, or symbols 286/287 or distance 30/31.
    #[error("invalid Huffman code in data")]
    InvalidCode,
    /// A distance above `max_distance` (IAA: analytics error 17).
    #[error("distance {dist} exceeds the window of {max}")]
    DistanceTooFar {
        /// The distance found.
        dist: usize,
        /// The configured window.
        max: usize,
    },
    /// A distance reaching before the start of the output.
    #[error("distance {dist} reaches before the output start ({written} bytes written)")]
    DistanceBeforeStart {
        /// The distance found.
        dist: usize,
        /// Bytes written so far.
        written: usize,
    },
    /// `dst` is full; `written` bytes (all of `dst`) hold a correct prefix.
    #[error("output buffer full after {written} bytes")]
    OutputOverflow {
        /// Bytes written.
        written: usize,
    },
}

struct Bits<'a> {
    src: &'a [u8],
    pos: usize,
    acc: u64,
    cnt: u32,
}

impl<'a> Bits<'a> {
    #[inline(always)]
    fn refill(&mut self) {
        if self.pos + 8 <= self.src.len() {
            let v = u64::from_le_bytes(
                self.src[self.pos..self.pos + 8]
                    .try_into()
                    .unwrap_or([0; 8]),
            );
            let take = (63 - self.cnt) >> 3;
            let keep = (take * 8) as u64;
            self.acc |= (v & ((1u64 << keep) - 1)) << self.cnt;
            self.pos += take as usize;
            self.cnt += take * 8;
        } else {
            while self.cnt <= 56 && self.pos < self.src.len() {
                self.acc |= (self.src[self.pos] as u64) << self.cnt;
                self.pos += 1;
                self.cnt += 8;
            }
        }
    }

    /// Read `n` (<= 32) bits, or `None` when the input is exhausted.
    #[inline(always)]
    fn get(&mut self, n: u32) -> Option<u32> {
        if self.cnt < n {
            self.refill();
            if self.cnt < n {
                return None;
            }
        }
        let v = (self.acc & ((1u64 << n) - 1)) as u32;
        self.acc >>= n;
        self.cnt -= n;
        Some(v)
    }

    fn consumed_bits(&self) -> u64 {
        self.pos as u64 * 8 - self.cnt as u64
    }

    fn align(&mut self) {
        let r = self.cnt & 7;
        self.acc >>= r;
        self.cnt -= r;
    }
}

const FAST_BITS: u32 = 10;

/// A canonical Huffman decoder (puff-style counts and symbols plus a 10-bit fast table).
struct Huff<const N: usize> {
    count: [u16; 16],
    symbol: [u16; N],
    /// `symbol << 4 | length`, 0 = longer than `bits` or invalid; only the first `1 << bits`
    /// entries are used.
    fast: [u16; 1 << FAST_BITS],
    /// Index bits of `fast` (at most FAST_BITS; the code-length code needs only 7).
    bits: u32,
}

impl<const N: usize> Huff<N> {
    fn new() -> Self {
        Huff {
            count: [0; 16],
            symbol: [0; N],
            fast: [0; 1 << FAST_BITS],
            bits: FAST_BITS,
        }
    }

    /// Check lengths and count them (no tables). `allow_incomplete`: a single code of length
    /// 1, or no code at all, is accepted (as zlib does for literal/length and distance codes).
    /// `Ok(true)` when the code is complete (every bit pattern is a code).
    fn check(&mut self, lens: &[u8], allow_incomplete: bool) -> Result<bool, InflateError> {
        self.count = [0; 16];
        for &l in lens {
            self.count[l as usize] += 1;
        }
        self.count[0] = 0;
        let mut left: i32 = 1;
        let mut max = 0;
        for l in 1..16 {
            left <<= 1;
            left -= self.count[l] as i32;
            if left < 0 {
                return Err(InflateError::InvalidCodeLengths);
            }
            if self.count[l] > 0 {
                max = l;
            }
        }
        if left > 0 && !(allow_incomplete && max <= 1) {
            return Err(InflateError::InvalidCodeLengths);
        }
        Ok(left == 0)
    }

    /// [`Huff::check`], then the decoding tables (a fast table of `bits` index bits).
    fn build(
        &mut self,
        lens: &[u8],
        allow_incomplete: bool,
        bits: u32,
    ) -> Result<bool, InflateError> {
        let complete = self.check(lens, allow_incomplete)?;
        self.tables(lens, bits);
        Ok(complete)
    }

    /// The symbol and fast tables of lengths [`Huff::check`] accepted.
    fn tables(&mut self, lens: &[u8], bits: u32) {
        let mut offs = [0u16; 16];
        for l in 1..15 {
            offs[l + 1] = offs[l] + self.count[l];
        }
        for (s, &l) in lens.iter().enumerate() {
            if l != 0 {
                self.symbol[offs[l as usize] as usize] = s as u16;
                offs[l as usize] += 1;
            }
        }
        // Fast table.
        self.bits = bits;
        let size = 1usize << bits;
        self.fast[..size].fill(0);
        let mut code: u32 = 0;
        let mut idx = 0usize;
        for l in 1..=bits as usize {
            for _ in 0..self.count[l] {
                let sym = self.symbol[idx];
                idx += 1;
                let rev = (code.reverse_bits() >> (32 - l as u32)) as usize;
                let mut k = rev;
                while k < size {
                    self.fast[k] = (sym << 4) | l as u16;
                    k += 1 << l;
                }
                code += 1;
            }
            code <<= 1;
        }
    }

    #[inline(always)]
    fn decode(&self, b: &mut Bits<'_>) -> Result<usize, Option<()>> {
        if b.cnt < 15 {
            b.refill();
        }
        if b.cnt >= self.bits {
            let e = self.fast[(b.acc & ((1 << self.bits) - 1)) as usize];
            if e != 0 {
                let l = (e & 15) as u32;
                b.acc >>= l;
                b.cnt -= l;
                return Ok((e >> 4) as usize);
            }
        }
        // Slow canonical walk, bit by bit.
        let mut code: i32 = 0;
        let mut first: i32 = 0;
        let mut index: i32 = 0;
        for l in 1..16 {
            let bit = b.get(1).ok_or(None)? as i32;
            code |= bit;
            let count = self.count[l] as i32;
            if code - first < count {
                return Ok(self.symbol[(index + code - first) as usize] as usize);
            }
            index += count;
            first += count;
            first <<= 1;
            code <<= 1;
        }
        Err(Some(()))
    }
}

/// Decode a raw-DEFLATE stream into `dst`; returns the bytes written.
pub fn inflate(src: &[u8], dst: &mut [u8], opts: &InflateOptions) -> Result<usize, InflateError> {
    inflate_status(src, dst, opts).map(|s| s.written)
}

struct Tables {
    lit: Huff<288>,
    dist: Huff<32>,
}

/// Decode a raw-DEFLATE stream into `dst`, reporting where it stopped.
pub fn inflate_status(
    src: &[u8],
    dst: &mut [u8],
    opts: &InflateOptions,
) -> Result<InflateStatus, InflateError> {
    let cap = dst.len();
    run::<true>(src, dst, cap, opts, &mut 0)
}

/// How many dynamic-block headers of the raw-DEFLATE stream `src` (decoding into at most
/// `out_cap` bytes, nothing written) have a code-length repeat (16, 17 or 18) that runs from the
/// literal/length code lengths into the distance code lengths, or a 16 as the first distance
/// code length. RFC 1951 and zlib allow both; IAA decodes the two sequences separately and
/// refuses them (analytics error 4 for a leading 16, the wrong code count otherwise), so a
/// stream is IAA-decodable only when this is 0 (and every distance is within 4 KiB).
pub fn crossing_repeats(src: &[u8], out_cap: usize) -> Result<u32, InflateError> {
    let mut crossings = 0;
    run::<false>(
        src,
        &mut [],
        out_cap,
        &InflateOptions::default(),
        &mut crossings,
    )?;
    Ok(crossings)
}

/// [`crossing_repeats`] from the first block's header alone, when that is the whole answer:
/// `Some(true/false)` when the first block is dynamic and final (one header in the stream:
/// what an encoder writes for a unit of a few KiB), `None` otherwise (more blocks, or a first
/// block without a header of its own: walk the stream with [`crossing_repeats`]). Reads the
/// header only; a malformed header is `None`.
pub fn final_header_crossing(src: &[u8]) -> Option<bool> {
    let mut b = Bits {
        src,
        pos: 0,
        acc: 0,
        cnt: 0,
    };
    // BFINAL = 1, BTYPE = 2 (dynamic).
    if b.get(3)? != 0b101 {
        return None;
    }
    let mut t = Tables {
        lit: Huff::new(),
        dist: Huff::new(),
    };
    let mut crossings = 0;
    read_dynamic(&mut b, &mut t, 0, &mut crossings).ok()?;
    Some(crossings > 0)
}

/// The decoder. `W = false`: write nothing, only count the output against `cap` (`dst` is
/// unused). `crossings` counts the dynamic headers with a code-length repeat across the two
/// sequences.
fn run<const W: bool>(
    src: &[u8],
    dst: &mut [u8],
    cap: usize,
    opts: &InflateOptions,
    crossings: &mut u32,
) -> Result<InflateStatus, InflateError> {
    let mut b = Bits {
        src,
        pos: 0,
        acc: 0,
        cnt: 0,
    };
    let mut out = 0usize;
    let mut blocks = 0u32;
    let mut t = Tables {
        lit: Huff::new(),
        dist: Huff::new(),
    };
    let max_dist = opts.max_distance;
    loop {
        let trunc = |out| InflateError::Truncated { written: out };
        let hdr = b.get(3).ok_or(trunc(out))?;
        let fin = hdr & 1 != 0;
        match hdr >> 1 {
            0 => {
                b.align();
                let len = b.get(16).ok_or(trunc(out))? as usize;
                let nlen = b.get(16).ok_or(trunc(out))? as usize;
                if len != (!nlen & 0xFFFF) {
                    return Err(InflateError::BadStoredLength);
                }
                // Bytes still in the accumulator first, then straight from the input.
                let mut left = len;
                while left > 0 && b.cnt >= 8 {
                    let v = b.get(8).ok_or(trunc(out))? as u8;
                    if out >= cap {
                        return Err(InflateError::OutputOverflow { written: out });
                    }
                    if W {
                        dst[out] = v;
                    }
                    out += 1;
                    left -= 1;
                }
                if left > 0 {
                    let avail = src.len() - b.pos;
                    let room = cap - out;
                    let n = left.min(avail).min(room);
                    if W {
                        dst[out..out + n].copy_from_slice(&src[b.pos..b.pos + n]);
                    }
                    out += n;
                    b.pos += n;
                    if n < left {
                        // Input short and output still had room for it: truncated.
                        return Err(if avail < left && room >= avail {
                            InflateError::Truncated { written: out }
                        } else {
                            InflateError::OutputOverflow { written: out }
                        });
                    }
                }
            }
            1 => {
                let mut lens = [0u8; 320];
                for (s, l) in lens[..288].iter_mut().enumerate() {
                    *l = match s {
                        0..=143 => 8,
                        144..=255 => 9,
                        256..=279 => 7,
                        _ => 8,
                    };
                }
                t.lit.build(&lens[..288], false, FAST_BITS)?;
                t.dist.build(&[5u8; 32], false, FAST_BITS)?;
                out = codes::<W>(&mut b, dst, cap, out, &t, max_dist)?;
            }
            2 => {
                read_dynamic(&mut b, &mut t, out, crossings)?;
                out = codes::<W>(&mut b, dst, cap, out, &t, max_dist)?;
            }
            _ => return Err(InflateError::InvalidBlockType),
        }
        blocks += 1;
        if fin || opts.stop == StopAt::AnyEob {
            return Ok(InflateStatus {
                written: out,
                bits_consumed: b.consumed_bits(),
                final_block: fin,
                blocks,
            });
        }
    }
}

/// Read a dynamic block header into `t`. A repeat across the literal/length and distance
/// lengths adds one to `crossings`.
fn read_dynamic(
    b: &mut Bits<'_>,
    t: &mut Tables,
    out: usize,
    crossings: &mut u32,
) -> Result<(), InflateError> {
    let trunc = InflateError::Truncated { written: out };
    let hlit = b.get(5).ok_or(trunc)? as usize + 257;
    let hdist = b.get(5).ok_or(trunc)? as usize + 1;
    let hclen = b.get(4).ok_or(trunc)? as usize + 4;
    if hlit > 286 || hdist > 30 {
        return Err(InflateError::TooManyCodes);
    }
    let mut cl = [0u8; 19];
    for &s in &CL_ORDER[..hclen] {
        cl[s] = b.get(3).ok_or(trunc)? as u8;
    }
    let mut clh: Huff<19> = Huff::new();
    clh.build(&cl, false, 7)?;
    let mut lens = [0u8; 320];
    let total = hlit + hdist;
    let mut i = 0;
    let mut crossed = false;
    while i < total {
        let sym = clh.decode(b).map_err(|e| match e {
            None => trunc,
            Some(()) => InflateError::InvalidCode,
        })?;
        let (val, rep) = match sym {
            0..=15 => (sym as u8, 1),
            16 => {
                if i == 0 {
                    return Err(InflateError::InvalidRepeat);
                }
                (lens[i - 1], 3 + b.get(2).ok_or(trunc)? as usize)
            }
            17 => (0, 3 + b.get(3).ok_or(trunc)? as usize),
            _ => (0, 11 + b.get(7).ok_or(trunc)? as usize),
        };
        if i + rep > total {
            return Err(InflateError::InvalidRepeat);
        }
        if (sym >= 16 && i < hlit && i + rep > hlit) || (sym == 16 && i == hlit) {
            crossed = true;
        }
        lens[i..i + rep].fill(val);
        i += rep;
    }
    *crossings += crossed as u32;
    if lens[256] == 0 {
        return Err(InflateError::MissingEob);
    }
    t.lit.check(&lens[..hlit], true)?;
    t.dist.check(&lens[hlit..total], true)?;
    t.lit.tables(&lens[..hlit], FAST_BITS);
    t.dist.tables(&lens[hlit..total], FAST_BITS);
    Ok(())
}

/// Decode the compressed data of one block until its EOB. Returns the new output position.
/// `W = false`: count the output against `cap`, write nothing.
fn codes<const W: bool>(
    b: &mut Bits<'_>,
    dst: &mut [u8],
    cap: usize,
    mut out: usize,
    t: &Tables,
    max_dist: usize,
) -> Result<usize, InflateError> {
    let map = |out: usize| {
        move |e: Option<()>| match e {
            None => InflateError::Truncated { written: out },
            Some(()) => InflateError::InvalidCode,
        }
    };
    loop {
        let sym = t.lit.decode(b).map_err(map(out))?;
        if sym < 256 {
            if out >= cap {
                return Err(InflateError::OutputOverflow { written: out });
            }
            if W {
                dst[out] = sym as u8;
            }
            out += 1;
        } else if sym == 256 {
            return Ok(out);
        } else {
            let s = sym - 257;
            if s >= 29 {
                return Err(InflateError::InvalidCode);
            }
            let extra = crate::lz77::LEN_EXTRA[s] as u32;
            let len = crate::lz77::LEN_BASE[s] as usize
                + b.get(extra)
                    .ok_or(InflateError::Truncated { written: out })? as usize;
            let ds = t.dist.decode(b).map_err(map(out))?;
            if ds >= 30 {
                return Err(InflateError::InvalidCode);
            }
            let dextra = crate::lz77::DIST_EXTRA[ds] as u32;
            let dist = crate::lz77::DIST_BASE[ds] as usize
                + b.get(dextra)
                    .ok_or(InflateError::Truncated { written: out })? as usize;
            if dist > max_dist {
                return Err(InflateError::DistanceTooFar {
                    dist,
                    max: max_dist,
                });
            }
            if dist > out {
                return Err(InflateError::DistanceBeforeStart { dist, written: out });
            }
            let room = cap - out;
            let n = len.min(room);
            if W && dist >= n {
                dst.copy_within(out - dist..out - dist + n, out);
            } else if W {
                for k in 0..n {
                    dst[out + k] = dst[out + k - dist];
                }
            }
            out += n;
            if n < len {
                return Err(InflateError::OutputOverflow { written: out });
            }
        }
    }
}
