//! Codes built for the device from a histogram (`iaa_descriptors::huffman`): limited to 15
//! bits, complete, the AECS header and tables really are DEFLATE (encoded here as the device
//! would and inflated by zlib), every symbol coded for a trained code, and building one plus
//! writing it into an AECS allocates nothing.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};

use iaa_descriptors::huffman::MAX_CODE_LEN;
use iaa_descriptors::{CompressAecs, Coverage, DeviceCode, Histogram, HuffEntry, HISTOGRAM_BYTES};

struct Counting;
static ALLOCS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// Count only this thread's allocations (the other tests run in parallel).
    static COUNT_HERE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn note() {
    if COUNT_HERE.with(|c| c.get()) {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
    }
}

// SAFETY: forwards every call to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        note();
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: same contract as our caller's.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        note();
        // SAFETY: same contract as our caller's.
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// A test-side LSB-first bit writer.
struct Bits {
    out: Vec<u8>,
    n: usize,
}
impl Bits {
    fn put(&mut self, v: u32, n: u32) {
        for i in 0..n {
            if self.n.is_multiple_of(8) {
                self.out.push(0);
            }
            let last = self.out.len() - 1;
            self.out[last] |= (((v >> i) & 1) as u8) << (self.n % 8);
            self.n += 1;
        }
    }
    fn code(&mut self, e: HuffEntry) {
        assert!(e.len > 0, "symbol without a code");
        for i in (0..e.len).rev() {
            self.put((e.code as u32 >> i) & 1, 1);
        }
    }
}

/// Encode `text` as literals with the AECS (accumulator bits, codes, EOB) as the device does.
fn encode_literals(aecs: &CompressAecs, text: &[u8]) -> Vec<u8> {
    let mut b = Bits {
        out: Vec::new(),
        n: 0,
    };
    for i in 0..aecs.num_output_accum_bits as usize {
        b.put(((aecs.output_accum[i / 8] >> (i % 8)) & 1) as u32, 1);
    }
    for &c in text {
        b.code(aecs.ll_entry(c as usize).unwrap());
    }
    b.code(aecs.ll_entry(256).unwrap());
    b.out
}

fn inflate(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::DeflateDecoder::new(data)
        .read_to_end(&mut out)
        .expect("zlib inflates it");
    out
}

fn xorshift(s: &mut u64) -> u64 {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    *s
}

/// A skewed random histogram (some symbols absent, counts over several magnitudes).
fn random_histogram(seed: u64) -> Histogram {
    let mut s = seed | 1;
    let mut h = Histogram::new();
    let density = 1 + xorshift(&mut s) % 8;
    for v in h.ll.iter_mut().chain(h.d.iter_mut()) {
        if xorshift(&mut s) % 8 < density {
            let mag = xorshift(&mut s) % 20;
            *v = (xorshift(&mut s) % (1 << mag)) as u32;
        }
    }
    h
}

#[test]
fn literal_blocks_from_a_histogram_inflate_with_zlib() {
    let text = b"the quick brown fox jumps over the lazy dog; a storage engine compresses pages \
        and the device writes a dynamic block whose header announces this very code."
        .repeat(7);
    let mut h = Histogram::new();
    for &c in &text {
        h.ll[c as usize] += 1;
    }
    h.ll[256] = 1;
    for cov in [Coverage::Observed, Coverage::AllSymbols] {
        let code = DeviceCode::from_histogram(&h, cov).unwrap();
        let mut a = CompressAecs::fixed();
        code.write_aecs(&mut a, true);
        assert_eq!(inflate(&encode_literals(&a, &text)), text);
        // The header bits in the AECS are the code's header with BFINAL set.
        let (hdr, bits) = code.header();
        assert_eq!(a.num_output_accum_bits as usize, bits);
        assert_eq!(a.output_accum[0], hdr[0] | 1);
        assert_eq!(&a.output_accum[1..hdr.len()], &hdr[1..]);
        let used = code.ll_lengths().iter().filter(|&&l| l > 0).count();
        match cov {
            Coverage::Observed => assert_eq!(used, h.ll.iter().filter(|&&f| f > 0).count()),
            Coverage::AllSymbols => {
                assert_eq!(used, 286);
                assert!(code.d_lengths().iter().all(|&l| l > 0));
            }
        }
        // Non-final too: zlib then wants more blocks; check the bit only.
        code.write_aecs(&mut a, false);
        assert_eq!(a.output_accum[0] & 1, 0);
    }
}

#[test]
fn random_histograms_give_limited_complete_codes_zlib_reads() {
    for seed in 0..400u64 {
        let h = random_histogram(seed * 7919 + 1);
        for cov in [Coverage::Observed, Coverage::AllSymbols] {
            let code = match DeviceCode::from_histogram(&h, cov) {
                Ok(c) => c,
                Err(e) => panic!("seed {seed} {cov:?}: {e}"),
            };
            for lens in [&code.ll_lengths()[..], &code.d_lengths()[..]] {
                assert!(lens.iter().all(|&l| l <= MAX_CODE_LEN));
                let k: u64 = lens
                    .iter()
                    .filter(|&&l| l > 0)
                    .map(|&l| 1u64 << (15 - l))
                    .sum();
                assert_eq!(k, 1 << 15, "seed {seed}: complete");
            }
            for (s, &f) in h.ll.iter().enumerate() {
                assert!(f == 0 || code.ll_lengths()[s] > 0, "seed {seed} sym {s}");
            }
            // Header + literals that have a code (at most 64), inflated by zlib.
            let mut a = CompressAecs::zeroed();
            code.write_aecs(&mut a, true);
            let text: Vec<u8> = (0..=255u8)
                .filter(|&b| code.ll_lengths()[b as usize] > 0)
                .take(64)
                .collect();
            assert_eq!(inflate(&encode_literals(&a, &text)), text, "seed {seed}");
            assert!(code.block_bits(&h).is_some());
        }
    }
}

#[test]
fn histogram_bytes_round_trip_in_the_device_layout() {
    let h = random_histogram(99);
    let mut b = [0u8; HISTOGRAM_BYTES];
    h.to_bytes(&mut b);
    // Distance counts start after 286 + 2 words (QPL hw_iaa_histogram).
    assert_eq!(&b[288 * 4..288 * 4 + 4], &h.d[0].to_le_bytes());
    assert_eq!(&b[286 * 4..288 * 4], &[0; 8]);
    assert_eq!(Histogram::from_bytes(&b), Ok(h));
    assert!(Histogram::from_bytes(&b[..1279]).is_err());
}

#[test]
fn building_and_writing_a_code_allocates_nothing() {
    let mut raw = [0u8; HISTOGRAM_BYTES];
    random_histogram(5).to_bytes(&mut raw);
    let mut aecs = CompressAecs::fixed();
    let mut sum = Histogram::new();
    // Warm up (nothing lazy is expected, but be fair).
    let _ = DeviceCode::from_histogram(&Histogram::from_bytes(&raw).unwrap(), Coverage::Observed);
    COUNT_HERE.with(|c| c.set(true));
    let before = ALLOCS.load(Ordering::Relaxed);
    for seed in 0..50u64 {
        let h = Histogram::from_bytes(&raw).unwrap();
        sum.add(&h);
        let cov = if seed % 2 == 0 {
            Coverage::Observed
        } else {
            Coverage::AllSymbols
        };
        let code = DeviceCode::from_histogram(&sum, cov).unwrap();
        code.write_aecs(&mut aecs, true);
        std::hint::black_box(&aecs);
    }
    let n = ALLOCS.load(Ordering::Relaxed) - before;
    COUNT_HERE.with(|c| c.set(false));
    assert_eq!(n, 0, "allocations while building and writing 50 codes");
}
