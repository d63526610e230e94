//! IAA compress / decompress / CRC64 through iaa-wq into the model, checked against
//! independent oracles: zlib (flate2 with the zlib backend) for DEFLATE both ways, crc32fast and
//! crc32c for the record CRCs, the `crc` crate for CRC64.

mod model_common;
use model_common::*;

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};
use iaa_descriptors::aecs::limited_lengths;
use iaa_descriptors::{
    CompressAecs, EndProcessing, EobRule, HuffEntry, IaaCompletionRecord, IaaCompress,
    IaaCompressStats, IaaCrc64, IaaDecompress, D_SYMBOLS, HISTOGRAM_BYTES, LL_SYMBOLS,
};
use iaa_model::ModelConfig;

/// Raw inflate with zlib; `None` if zlib rejects the stream.
fn zlib_inflate(src: &[u8], cap: usize) -> Option<Vec<u8>> {
    let mut d = Decompress::new(false);
    let mut out = vec![0u8; cap];
    match d.decompress(src, &mut out, FlushDecompress::Finish) {
        Ok(Status::StreamEnd) => {
            out.truncate(d.total_out() as usize);
            Some(out)
        }
        _ => None,
    }
}

/// Raw deflate with zlib and a `window_bits` window (12 = 4 KiB), as one call per part with
/// `Sync` flushes between parts.
fn zlib_deflate(parts: &[&[u8]], level: u32, window_bits: u8) -> Vec<u8> {
    let mut c = Compress::new_with_window_bits(Compression::new(level), false, window_bits);
    let total: usize = parts.iter().map(|p| p.len()).sum();
    let mut out = Vec::with_capacity(total * 2 + 1024);
    for (i, p) in parts.iter().enumerate() {
        let flush = if i + 1 == parts.len() {
            FlushCompress::Finish
        } else {
            FlushCompress::Sync
        };
        let before = c.total_in() as usize;
        let mut fed = 0;
        loop {
            out.reserve(64 * 1024);
            let st = c.compress_vec(&p[fed..], &mut out, flush).unwrap();
            fed = c.total_in() as usize - before;
            if st == Status::StreamEnd
                || (fed == p.len() && flush == FlushCompress::Sync && out.capacity() > out.len())
            {
                break;
            }
        }
    }
    out
}

fn xor16(data: &[u8]) -> u16 {
    let mut x = 0u16;
    for (i, b) in data.iter().enumerate() {
        x ^= (*b as u16) << (8 * (i % 2));
    }
    x
}

fn model_compress(
    r: &Rig,
    src: &[u8],
    aecs: &CompressAecs,
    cap: usize,
    f: impl FnOnce(IaaCompress) -> IaaCompress,
) -> (IaaCompletionRecord, Vec<u8>) {
    let mut dst = vec![0u8; cap];
    let aecs_buf = [*aecs, *aecs];
    let rec = run_iaa(r, |c| {
        f(IaaCompress::new(
            addr(src),
            src.len() as u32,
            addr_mut(&mut dst),
            cap as u32,
            addr(&aecs_buf),
            c,
        ))
        .build()
    });
    if rec.status == 1 {
        dst.truncate(rec.output_size as usize);
    }
    (rec, dst)
}

fn model_decompress(
    r: &Rig,
    src: &[u8],
    cap: usize,
    f: impl FnOnce(IaaDecompress) -> IaaDecompress,
) -> (IaaCompletionRecord, Vec<u8>) {
    let mut dst = vec![0u8; cap];
    let rec = run_iaa(r, |c| {
        f(IaaDecompress::new(
            addr(src),
            src.len() as u32,
            addr_mut(&mut dst),
            cap as u32,
            c,
        ))
        .build()
    });
    dst.truncate(rec.output_size as usize);
    (rec, dst)
}

#[test]
fn fixed_compress_inflates_with_zlib_and_reports_checksums() {
    for engines in [0, 2] {
        let r = rig(ModelConfig::iaa(engines));
        for (n, seed) in [(0usize, 1u64), (1, 2), (4096, 3), (65536, 4), (200_000, 5)] {
            let src = data(n, seed);
            let (rec, out) = model_compress(&r, &src, &CompressAecs::fixed(), n * 2 + 64, |b| b);
            assert_eq!(rec.status, 1, "n={n}");
            assert_eq!(
                zlib_inflate(&out, n + 1).as_deref(),
                Some(&src[..]),
                "n={n}"
            );
            assert_eq!(rec.crc, crc32fast::hash(&src));
            assert_eq!(rec.xor_csum, xor16(&src));
            assert_eq!(rec.bytes_completed, n as u32);
            if n >= 4096 {
                assert!(
                    out.len() < n / 2,
                    "text-like data compresses: {} -> {}",
                    n,
                    out.len()
                );
            }
        }
        // CRC-32C on request.
        let src = data(10_000, 9);
        let (rec, _) = model_compress(&r, &src, &CompressAecs::fixed(), 30_000, |b| b.crc32c(true));
        assert_eq!(rec.crc, crc32c::crc32c(&src));
        // Seeded CRC: the AECS CRC continues a previous CRC.
        let mut a = CompressAecs::fixed();
        a.crc = crc32fast::hash(b"prefix");
        let (rec, _) = model_compress(&r, &src, &a, 30_000, |b| b);
        let mut h = crc32fast::Hasher::new();
        h.update(b"prefix");
        h.update(&src);
        assert_eq!(rec.crc, h.finalize());
    }
}

#[test]
fn back_references_stay_within_4k_and_no_history_across_jobs() {
    let r = rig(ModelConfig::iaa(0));
    // 8 KiB of noise repeated: only a 32 KiB window could reach the copy.
    let half = noise(8192, 11);
    let src = [half.clone(), half].concat();
    let (rec, out) = model_compress(&r, &src, &CompressAecs::fixed(), 40_000, |b| b);
    assert_eq!(rec.status, 1);
    // Our window-checked inflate in the model accepts it (so no distance > 4096) ...
    let (drec, back) = model_decompress(&r, &out, src.len(), |b| b);
    assert_eq!((drec.status, drec.error_code), (1, 0));
    assert_eq!(back, src);
    // ... and it did not compress (no reference 8 KiB back exists within 4 KiB).
    assert!(out.len() > src.len() * 9 / 10);
}

fn histogram(r: &Rig, src: &[u8]) -> ([u32; 288], [u32; 32]) {
    let mut hist = vec![0u8; HISTOGRAM_BYTES];
    let rec = run_iaa(r, |c| {
        IaaCompressStats::new(addr(src), src.len() as u32, addr_mut(&mut hist), c).build()
    });
    assert_eq!(rec.status, 1);
    assert_eq!(rec.output_size as usize, HISTOGRAM_BYTES);
    let w = |i: usize| u32::from_le_bytes(hist[i * 4..i * 4 + 4].try_into().unwrap());
    (
        core::array::from_fn(&w),
        core::array::from_fn(|i| w(288 + i)),
    )
}

#[test]
fn stats_mode_then_dynamic_aecs_two_pass() {
    let r = rig(ModelConfig::iaa(1));
    let src = data(50_000, 21);
    let (ll, d) = histogram(&r, &src);
    // Histogram consistency: literals + matched bytes cover the input; no EOB counted (the
    // stats descriptor asks for no end processing; software adds the EOB it will append).
    let lens = [
        3usize, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99,
        115, 131, 163, 195, 227, 258,
    ];
    let lits: u32 = ll[..256].iter().sum();
    let matches: u32 = ll[257..286].iter().sum();
    assert_eq!(ll[256], 0);
    assert_eq!(matches, d.iter().sum::<u32>());
    let min_bytes: usize = ll[257..286]
        .iter()
        .zip(lens)
        .map(|(c, l)| *c as usize * l)
        .sum();
    assert!(lits as usize + min_bytes <= src.len() && matches > 0);
    // Pass 2: a dynamic-Huffman AECS from the histogram.
    let llf: [u32; LL_SYMBOLS] = core::array::from_fn(|i| if i == 256 { 1 } else { ll[i] });
    let df: [u32; D_SYMBOLS] = core::array::from_fn(|i| d[i]);
    let aecs =
        CompressAecs::dynamic(&limited_lengths(&llf, 15), &limited_lengths(&df, 15), true).unwrap();
    let (rec, dyn_out) = model_compress(&r, &src, &aecs, 100_000, |b| b);
    assert_eq!(rec.status, 1);
    assert_eq!(
        zlib_inflate(&dyn_out, src.len() + 1).as_deref(),
        Some(&src[..])
    );
    assert_eq!(
        dyn_out[0] & 0b111,
        0b101,
        "BFINAL=1, BTYPE=10 from the AECS header bits"
    );
    let (_, fixed_out) = model_compress(&r, &src, &CompressAecs::fixed(), 100_000, |b| b);
    assert!(
        dyn_out.len() < fixed_out.len(),
        "dynamic {} vs fixed {}",
        dyn_out.len(),
        fixed_out.len()
    );
}

#[test]
fn the_codes_come_from_the_aecs() {
    let r = rig(ModelConfig::iaa(0));
    let src = b"abababab aaaa bbbb abba".repeat(3);
    // Swap the fixed codes of 'a' and 'b': zlib then reads every a as b and vice versa.
    let mut a = CompressAecs::fixed();
    a.ll_sym.swap(b'a' as usize, b'b' as usize);
    let (rec, out) = model_compress(&r, &src, &a, 1000, |b| {
        b.end_processing(EndProcessing::AppendEob)
    });
    assert_eq!(rec.status, 1);
    let swapped: Vec<u8> = src
        .iter()
        .map(|&c| match c {
            b'a' => b'b',
            b'b' => b'a',
            x => x,
        })
        .collect();
    assert_eq!(zlib_inflate(&out, 1000).unwrap(), swapped);
    // A needed symbol without a code: analytics error 30.
    let mut a = CompressAecs::fixed();
    a.ll_sym[b'a' as usize] = HuffEntry { code: 0, len: 0 }.pack();
    let (rec, _) = model_compress(&r, &src, &a, 1000, |b| b);
    assert_eq!((rec.status, rec.error_code), (0x0A, 30));
    // An accumulator bit count beyond the 2048-bit field: error 22 (invalid AECS).
    let mut a = CompressAecs::fixed();
    a.num_output_accum_bits = 4000;
    let (rec, _) = model_compress(&r, &src, &a, 1000, |b| b);
    assert_eq!((rec.status, rec.error_code), (0x0A, 22));
}

#[test]
fn end_processing_flush_and_overflow() {
    let r = rig(ModelConfig::iaa(0));
    let src = data(3000, 31);
    // Non-final fixed header + EOB + final empty stored block: a complete stream for zlib.
    let mut a = CompressAecs::fixed();
    a.output_accum[0] = 0b010;
    let (rec, out) = model_compress(&r, &src, &a, 10_000, |b| {
        b.end_processing(EndProcessing::AppendEobFinalStored)
    });
    assert_eq!(rec.status, 1);
    assert_eq!(
        &out[out.len() - 4..],
        &[0, 0, 0xFF, 0xFF],
        "empty stored block LEN/NLEN"
    );
    assert_eq!(zlib_inflate(&out, 4000).as_deref(), Some(&src[..]));
    // Non-final stored block: zlib needs more input (no final block) but decodes the data.
    let (rec, out) = model_compress(&r, &src, &a, 10_000, |b| {
        b.end_processing(EndProcessing::AppendEobStored)
    });
    assert_eq!(rec.status, 1);
    let mut d = Decompress::new(false);
    let mut o = vec![0u8; 4000];
    let st = d.decompress(&out, &mut o, FlushDecompress::Sync).unwrap();
    assert_ne!(st, Status::StreamEnd);
    assert_eq!(&o[..d.total_out() as usize], &src[..]);
    // No end processing, no flush: bit-granular output (output_bits), then our EOB by hand.
    let (rec, out) = model_compress(&r, &src, &CompressAecs::fixed(), 10_000, |b| {
        b.end_processing(EndProcessing::None).flush(false)
    });
    assert_eq!(rec.status, 1);
    let bits = rec.output_bits as usize;
    assert!(bits < 8);
    let mut s = out.clone();
    // Fixed-code EOB is 7 zero bits: append them after the valid bits.
    let total_bits = (s.len() - if bits == 0 { 0 } else { 1 }) * 8 + bits + 7;
    s.resize(total_bits.div_ceil(8), 0);
    assert_eq!(zlib_inflate(&s, 4000).as_deref(), Some(&src[..]));
    // Output overflow: 0x0A / 0x19, nothing usable.
    let (rec, _) = model_compress(&r, &noise(5000, 3), &CompressAecs::fixed(), 1000, |b| b);
    assert_eq!((rec.status, rec.error_code), (0x0A, 0x19));
}

#[test]
fn decompresses_zlib_4k_window_streams_of_every_block_type() {
    let r = rig(ModelConfig::iaa(2));
    let text = data(100_000, 41);
    for level in [0u32, 1, 6, 9] {
        let z = zlib_deflate(&[&text], level, 12);
        let (rec, out) = model_decompress(&r, &z, text.len(), |b| b);
        assert_eq!((rec.status, rec.error_code), (1, 0), "level {level}");
        assert_eq!(out, text, "level {level}");
        assert_eq!(rec.crc, crc32fast::hash(&text));
        assert_eq!(rec.xor_csum, xor16(&text));
        assert_eq!(rec.bytes_completed as usize, z.len());
    }
    // A short input: zlib picks a fixed-Huffman block (BTYPE=01).
    let short = b"hello hello hello model".to_vec();
    let z = zlib_deflate(&[&short], 6, 12);
    assert_eq!((z[0] >> 1) & 3, 1, "fixed block");
    let (rec, out) = model_decompress(&r, &z, 100, |b| b);
    assert_eq!((rec.status, out), (1, short));
    // Stored and dynamic blocks were covered by levels 0 and 6 above.
    assert_eq!((zlib_deflate(&[&text], 0, 12)[0] >> 1) & 3, 0);
    assert_eq!((zlib_deflate(&[&text], 6, 12)[0] >> 1) & 3, 2);
}

#[test]
fn far_back_references_fail_with_error_17() {
    let r = rig(ModelConfig::iaa(0));
    let half = noise(10_000, 51);
    let src = [half.clone(), half].concat();
    let z = zlib_deflate(&[&src], 6, 15); // 32 KiB window: references 10000 back
    assert!(z.len() < src.len() * 6 / 10, "zlib used the far reference");
    let (rec, _) = model_decompress(&r, &z, src.len(), |b| b);
    assert_eq!((rec.status, rec.error_code), (0x0A, 17));
    // The same data with a 4 KiB window decompresses.
    let z = zlib_deflate(&[&src], 6, 12);
    let (rec, out) = model_decompress(&r, &z, src.len(), |b| b);
    assert_eq!((rec.status, out), (1, src));
}

#[test]
fn output_overflow_suppress_output_and_round_trip() {
    let r = rig(ModelConfig::iaa(1));
    let text = data(60_000, 61);
    let z = zlib_deflate(&[&text], 6, 12);
    let (rec, out) = model_decompress(&r, &z, 20_000, |b| b);
    assert_eq!(rec.status, 0x0B);
    assert_eq!(rec.output_size, 20_000);
    assert!(rec.bytes_completed > 0 && (rec.bytes_completed as usize) < z.len());
    assert_eq!(out[..], text[..20_000]);
    // Suppress output: verify only; CRC of the decoded data, destination untouched.
    let mut dst = vec![0x5Au8; 16];
    let rec = run_iaa(&r, |c| {
        IaaDecompress::new(addr(&z), z.len() as u32, addr_mut(&mut dst), 0, c)
            .suppress_output(true)
            .build()
    });
    assert_eq!(rec.status, 1);
    assert_eq!(rec.crc, crc32fast::hash(&text));
    assert_eq!(rec.output_size, 0);
    assert!(dst.iter().all(|&b| b == 0x5A));
    // Model compress -> model decompress, fixed AECS.
    let (c, comp) = model_compress(&r, &text, &CompressAecs::fixed(), 80_000, |b| b);
    assert_eq!(c.status, 1);
    let (d, back) = model_decompress(&r, &comp, text.len(), |b| b);
    assert_eq!((d.status, d.crc), (1, c.crc));
    assert_eq!(back, text);
}

#[test]
fn eob_rules_and_ignore_end_bits() {
    let r = rig(ModelConfig::iaa(0));
    let a = data(1000, 71);
    let b = data(1500, 72);
    // Sync flush: A's block (non-final, ends with EOB), an empty stored block, then B (final).
    let z = zlib_deflate(&[&a, &b], 6, 12);
    let ab = [a.clone(), b.clone()].concat();
    let (rec, out) = model_decompress(&r, &z, 5000, |d| d.eob_rule(EobRule::StopAnyEob));
    assert_eq!(rec.status, 1);
    assert_eq!(out, a, "stops at the first EOB");
    assert!((rec.bytes_completed as usize) < z.len());
    let (rec, out) = model_decompress(&r, &z, 5000, |d| d.eob_rule(EobRule::StopAndCheckFinalEob));
    assert_eq!((rec.status, out), (1, ab.clone()));
    // A truncated stream: the check fails with error 15; without a rule it is a partial success.
    let cut = &z[..z.len() - 40];
    let (rec, _) = model_decompress(&r, cut, 5000, |d| d.eob_rule(EobRule::CheckFinalEob));
    assert_eq!((rec.status, rec.error_code), (0x0A, 15));
    let (rec, out) = model_decompress(&r, cut, 5000, |d| d.eob_rule(EobRule::None));
    assert_eq!(rec.status, 1);
    assert!(out.len() < ab.len() && ab.starts_with(&out));
    // Ignore-end-bits: ignoring only padding keeps the stream valid; ignoring one bit of the
    // final EOB breaks the check.
    let (c, comp) = model_compress(&r, &a, &CompressAecs::fixed(), 5000, |x| x);
    assert_eq!(c.status, 1);
    let pad = if c.output_bits == 0 {
        0
    } else {
        8 - c.output_bits
    };
    if pad < 7 {
        let (rec, out) = model_decompress(&r, &comp, 5000, |d| d.ignore_end_bits(pad));
        assert_eq!((rec.status, out), (1, a.clone()));
        let (rec, _) = model_decompress(&r, &comp, 5000, |d| {
            d.ignore_end_bits(pad + 1).eob_rule(EobRule::CheckFinalEob)
        });
        assert_eq!((rec.status, rec.error_code), (0x0A, 15));
    } else {
        panic!("test data must leave < 7 padding bits (got {pad})");
    }
    // Invalid streams give analytics errors: block type 3, stored LEN/NLEN mismatch.
    let (rec, _) = model_decompress(&r, &[0b111, 0, 0], 100, |d| d);
    assert_eq!((rec.status, rec.error_code), (0x0A, 13));
    let (rec, _) = model_decompress(&r, &[0b001, 5, 0, 0, 0, 1, 2, 3, 4, 5], 100, |d| d);
    assert_eq!((rec.status, rec.error_code), (0x0A, 14));
}

#[test]
fn crc64_matches_the_crc_crate() {
    let r = rig(ModelConfig::iaa(0));
    let src = data(20_000, 81);
    for (poly, msb, inv) in [
        (0x42F0_E1EB_A9EA_3693u64, true, false),
        (0x42F0_E1EB_A9EA_3693, false, true),
        (0x0000_0000_0000_001B, false, false),
        (0xAD93_D235_94C9_35A9, true, true),
    ] {
        let alg = Box::leak(Box::new(crc::Algorithm::<u64> {
            width: 64,
            poly,
            init: if inv { !0 } else { 0 },
            refin: !msb,
            refout: !msb,
            xorout: if inv { !0 } else { 0 },
            check: 0,
            residue: 0,
        }));
        let want = crc::Crc::<u64>::new(alg).checksum(&src);
        let rec = run_iaa(&r, |c| {
            IaaCrc64::new(addr(&src), src.len() as u32, poly, c)
                .msb_first(msb)
                .invert(inv)
                .build()
        });
        assert_eq!(rec.status, 1);
        assert_eq!(rec.crc64(), want, "poly {poly:#x} msb {msb} inv {inv}");
    }
}

#[test]
fn two_jobs_one_stream_through_the_written_aecs() {
    use iaa_descriptors::OpFlags;
    let r = rig(ModelConfig::iaa(1));
    let a = data(5000, 91);
    let b = data(7000, 92);
    // Two AECS halves: job 1 reads [0] and writes [1]; job 2 (toggle) reads [1], writes [0].
    let mut aecs = [CompressAecs::fixed(), CompressAecs::zeroed()];
    let base = OpFlags::CRAV_RCR_CC
        .with(OpFlags::RD_SRC2_AECS)
        .with(OpFlags::WR_SRC2_AECS_COMP);
    let mut out1 = vec![0u8; 10_000];
    let mut out2 = vec![0u8; 10_000];
    let aecs_addr = addr_mut(&mut aecs);
    let r1 = run_iaa(&r, |c| {
        IaaCompress::new(addr(&a), 5000, addr_mut(&mut out1), 10_000, aecs_addr, c)
            .op_flags(base)
            .end_processing(EndProcessing::None)
            .flush(false)
            .build()
    });
    assert_eq!(r1.status, 1);
    assert_eq!(r1.crc, crc32fast::hash(&a));
    // The written half carries the running CRC and the bits after the last whole byte.
    let written = aecs[1];
    assert_eq!(written.crc, r1.crc);
    assert!(written.num_output_accum_bits < 8);
    assert_eq!(
        written.ll_sym,
        CompressAecs::fixed().ll_sym,
        "tables carried over"
    );
    let r2 = run_iaa(&r, |c| {
        IaaCompress::new(addr(&b), 7000, addr_mut(&mut out2), 10_000, aecs_addr, c)
            .op_flags(base.with(OpFlags::AECS_RW_TGLS))
            .build()
    });
    assert_eq!(r2.status, 1);
    let ab = [a.clone(), b.clone()].concat();
    assert_eq!(
        r2.crc,
        crc32fast::hash(&ab),
        "CRC continues across the jobs"
    );
    let stream = [
        &out1[..r1.output_size as usize],
        &out2[..r2.output_size as usize],
    ]
    .concat();
    assert_eq!(zlib_inflate(&stream, 13_000).as_deref(), Some(&ab[..]));
}

#[test]
fn literals_only_and_crc32c_on_decompress() {
    use iaa_descriptors::CompressionFlags;
    let r = rig(ModelConfig::iaa(0));
    let src = data(6000, 101);
    let (rec, lits) = model_compress(&r, &src, &CompressAecs::fixed(), 20_000, |b| b);
    assert_eq!(rec.status, 1);
    // Literals only (Huffman-only): set the flag on the raw descriptor.
    let mut out = vec![0u8; 20_000];
    let aecs = [CompressAecs::fixed(), CompressAecs::fixed()];
    let rec2 = run_iaa(&r, |c| {
        let mut d =
            IaaCompress::new(addr(&src), 6000, addr_mut(&mut out), 20_000, addr(&aecs), c).build();
        d.op_flags16 |= CompressionFlags::GEN_LITERALS.0;
        d
    });
    assert_eq!(rec2.status, 1);
    let huff_only = &out[..rec2.output_size as usize];
    assert!(
        huff_only.len() > lits.len(),
        "no matches: larger than LZ77 output"
    );
    assert_eq!(zlib_inflate(huff_only, 7000).as_deref(), Some(&src[..]));
    // Decompress reports CRC-32C when asked.
    let (d, back) = model_decompress(&r, huff_only, 7000, |b| b.crc32c(true));
    assert_eq!((d.status, d.crc), (1, crc32c::crc32c(&src)));
    assert_eq!(back, src);
}
