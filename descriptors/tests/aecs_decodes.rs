//! The AECS code tables really are DEFLATE: encode with them exactly as the hardware would
//! (accumulator bits first, then codes, then EOB), and inflate with an independent inflater.

use std::io::Read;

use iaa_descriptors::aecs::{fixed_d_lengths, fixed_ll_lengths, limited_lengths};
use iaa_descriptors::{CompressAecs, HuffEntry, D_SYMBOLS, LL_SYMBOLS};

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

#[test]
fn fixed_aecs_matches_kernel_entry_values() {
    let a = CompressAecs::fixed();
    // Spec §4.3 examples, as in Linux's fixed table.
    assert_eq!(a.ll_sym[0], 0x40030);
    assert_eq!(a.ll_sym[256], 0x38000);
    assert_eq!(a.d_sym[0], 0x28000);
    assert_eq!(a.d_sym[29], 0x28000 + 29);
    assert_eq!(a.ll_sym[144], (9 << 15) | 0x190);
    assert_eq!(a.ll_sym[280], (8 << 15) | 0xC0);
    assert_eq!(a.output_accum[0], 0x03);
    assert_eq!(a.num_output_accum_bits, 3);
    assert_eq!(a.crc, 0);
    assert_eq!(a.xor_checksum, 0);
}

#[test]
fn fixed_aecs_encodes_a_stream_zlib_inflates() {
    let text =
        b"The quick brown fox jumps over the lazy dog \x00\x7f\x80\xff and every byte value.";
    let mut all = text.to_vec();
    all.extend(0u8..=255);
    let stream = encode_literals(&CompressAecs::fixed(), &all);
    assert_eq!(inflate(&stream), all);
}

#[test]
fn dynamic_aecs_header_and_tables_inflate() {
    let text: Vec<u8> = b"abracadabra, a dynamic Huffman block with a header in the accumulator"
        .iter()
        .copied()
        .cycle()
        .take(3000)
        .collect();
    let mut freq = [0u32; LL_SYMBOLS];
    for &c in &text {
        freq[c as usize] += 1;
    }
    freq[256] = 1;
    let ll = limited_lengths(&freq, 15);
    let mut dfreq = [0u32; D_SYMBOLS];
    dfreq[0] = 1;
    dfreq[5] = 1;
    let d = limited_lengths(&dfreq, 15);
    let aecs = CompressAecs::dynamic(&ll, &d, true).unwrap();
    assert!(aecs.num_output_accum_bits > 17);
    assert_eq!(inflate(&encode_literals(&aecs, &text)), text);
}

#[test]
fn incomplete_codes_are_refused() {
    // The fixed lengths cut to 286 symbols leave the code incomplete: zlib rejects such a
    // dynamic block, so the builder must too.
    let err = CompressAecs::dynamic(&fixed_ll_lengths(), &fixed_d_lengths(), true);
    assert!(err.is_err());
}

#[test]
fn bad_code_lengths_are_errors() {
    let mut ll = [1u8; LL_SYMBOLS]; // over-subscribed
    ll[256] = 1;
    assert!(CompressAecs::dynamic(&ll, &fixed_d_lengths(), true).is_err());
    let mut no_eob = fixed_ll_lengths();
    no_eob[256] = 0;
    assert!(CompressAecs::dynamic(&no_eob, &fixed_d_lengths(), true).is_err());
    let mut too_long = fixed_ll_lengths();
    too_long[3] = 16;
    assert!(CompressAecs::dynamic(&too_long, &fixed_d_lengths(), true).is_err());
}

#[test]
fn limited_lengths_respect_the_limit_and_kraft() {
    // Fibonacci frequencies force deep trees.
    let mut freq = [0u32; 19];
    let (mut a, mut b) = (1u32, 1u32);
    for f in freq.iter_mut() {
        *f = a;
        let c = a + b;
        a = b;
        b = c;
    }
    let l = limited_lengths(&freq, 7);
    assert!(l.iter().all(|&x| (1..=7).contains(&x)));
    let kraft: u32 = l.iter().map(|&x| 1u32 << (7 - x)).sum();
    assert_eq!(kraft, 128, "complete code");
    assert!(iaa_descriptors::aecs::is_complete_code(&l));
}
