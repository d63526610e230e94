//! The compression modes the hardware path can run, on the model's executor: fixed (the
//! kernel's AECS), dynamic on IAA 1.0 (statistics pass, code built on the CPU, compress pass
//! with the code in the AECS), IAA 2.0 one-pass header generation (behind IAACAP), and a
//! trained code (built once from sample units, every symbol coded). Every mode's output
//! decodes with zlib (`inflateInit2(-15)`: flate2's raw inflate on the zlib backend), with the
//! software path and on the model; fixed mode is byte-identical to what the model wrote before
//! the modes existed; bad codes end with the analytics errors of spec §3.3.

mod model_common;
use model_common::*;

use flate2::{Decompress, FlushDecompress, Status};
use iaa_descriptors::{
    CompressAecs, Coverage, DeviceCode, Histogram, IaaCompletionRecord, IaaCompress,
    HISTOGRAM_BYTES,
};
use iaa_fallback::inflate::{inflate, InflateOptions};
use iaa_model::{Executor, ModelConfig, IAA2_CAP};

fn zlib_inflate(src: &[u8], cap: usize) -> Option<Vec<u8>> {
    let mut d = Decompress::new(false);
    let mut out = vec![0u8; cap];
    match d.decompress(src, &mut out, FlushDecompress::Finish) {
        Ok(Status::StreamEnd) if d.total_in() as usize == src.len() => {
            out.truncate(d.total_out() as usize);
            Some(out)
        }
        _ => None,
    }
}

fn ok(r: &IaaCompletionRecord) -> usize {
    assert_eq!(r.status, 1, "status {:#x} error {}", r.status, r.error_code);
    r.output_size as usize
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    Fixed,
    Dynamic,
    HeaderGen,
    Trained,
}

/// Compress `src` in `mode` (the trained code `trained` for Trained); the output bytes.
fn compress(x: &mut Executor, mode: Mode, src: &[u8], trained: &CompressAecs) -> Vec<u8> {
    let mut dst = vec![0u8; src.len() * 2 + 1024];
    let rec = match mode {
        Mode::Fixed => x.compress(src, &mut dst, &CompressAecs::fixed()),
        Mode::Dynamic => {
            let mut hist = [0u8; HISTOGRAM_BYTES];
            let r = x.statistics(src, &mut hist);
            assert_eq!(r.status, 1);
            assert_eq!(r.output_size as usize, HISTOGRAM_BYTES);
            let h = Histogram::from_bytes(&hist).unwrap();
            let code = DeviceCode::from_histogram(&h, Coverage::Observed).unwrap();
            let mut a = CompressAecs::zeroed();
            code.write_aecs(&mut a, true);
            x.compress(src, &mut dst, &a)
        }
        Mode::HeaderGen => x.compress_header_gen(src, &mut dst),
        Mode::Trained => x.compress(src, &mut dst, trained),
    };
    let n = ok(&rec);
    assert_eq!(rec.crc, crc32fast::hash(src));
    dst.truncate(n);
    dst
}

/// A trained code from the statistics of `sample` units, every symbol coded.
fn trained(x: &mut Executor, sample: &[&[u8]]) -> CompressAecs {
    let mut sum = Histogram::new();
    for u in sample {
        let mut hist = [0u8; HISTOGRAM_BYTES];
        assert_eq!(x.statistics(u, &mut hist).status, 1);
        sum.add(&Histogram::from_bytes(&hist).unwrap());
    }
    let code = DeviceCode::from_histogram(&sum, Coverage::AllSymbols).unwrap();
    let mut a = CompressAecs::zeroed();
    code.write_aecs(&mut a, true);
    a
}

fn inputs() -> Vec<Vec<u8>> {
    let mut v = vec![
        data(4096, 1),
        data(16384, 2),
        data(65536, 3),
        noise(4096, 4),
        vec![0u8; 4096],
        b"a".to_vec(),
        Vec::new(),
    ];
    let mut mixed = data(8192, 5);
    mixed.extend(noise(3000, 6));
    v.push(mixed);
    v
}

#[test]
fn every_mode_decodes_with_zlib_software_and_the_model() {
    let mut x = Executor::new(ModelConfig {
        iaa_cap: IAA2_CAP,
        ..ModelConfig::iaa(0)
    });
    let sample = [data(4096, 11), data(4096, 12)];
    let t = trained(&mut x, &[&sample[0], &sample[1]]);
    let mut sizes = Vec::new();
    for src in inputs() {
        for mode in [Mode::Fixed, Mode::Dynamic, Mode::HeaderGen, Mode::Trained] {
            let z = compress(&mut x, mode, &src, &t);
            let what = format!("{mode:?} on {} bytes", src.len());
            assert_eq!(
                zlib_inflate(&z, src.len() + 1).as_deref(),
                Some(&src[..]),
                "zlib: {what}"
            );
            let mut back = vec![0u8; src.len() + 1];
            assert_eq!(
                inflate(&z, &mut back, &InflateOptions::iaa()),
                Ok(src.len()),
                "software path: {what}"
            );
            assert_eq!(&back[..src.len()], &src[..]);
            back.fill(0);
            let r = x.decompress(&z, &mut back);
            assert_eq!(r.status, 1, "model: {what}: error {}", r.error_code);
            assert_eq!(r.output_size as usize, src.len());
            assert_eq!(&back[..src.len()], &src[..]);
            if src.len() == 65536 {
                sizes.push((mode, z.len()));
            }
        }
    }
    // On compressible data the dynamic code beats the fixed one, one-pass header generation
    // builds the same code as the two-pass mode, the trained code is in between or equal.
    let size = |m| sizes.iter().find(|(k, _)| *k == m).unwrap().1;
    assert!(size(Mode::Dynamic) < size(Mode::Fixed), "{sizes:?}");
    assert_eq!(size(Mode::HeaderGen), size(Mode::Dynamic));
    assert!(size(Mode::Trained) < size(Mode::Fixed), "{sizes:?}");
}

/// Fixed mode as before the modes existed: the CRC-32 of the model's fixed-mode output of
/// these inputs through a queued device (the pool's path), recorded from the model of the
/// commit before the modes (dfe87fb); the executor writes the same bytes.
#[test]
fn fixed_mode_output_is_unchanged() {
    let r = rig(ModelConfig::iaa(1));
    let mut x = Executor::new(ModelConfig::iaa(0));
    let aecs = [CompressAecs::fixed(), CompressAecs::fixed()];
    let mut all = Vec::new();
    for src in inputs() {
        let mut dst = vec![0u8; src.len() * 2 + 1024];
        let rec = run_iaa(&r, |c| {
            IaaCompress::new(
                addr(&src),
                src.len() as u32,
                addr_mut(&mut dst),
                dst.len() as u32,
                addr(&aecs),
                c,
            )
            .build()
        });
        let n = ok(&rec);
        all.extend_from_slice(&(n as u32).to_le_bytes());
        all.extend_from_slice(&dst[..n]);
        let mut dst2 = vec![0u8; src.len() * 2 + 1024];
        let n2 = ok(&x.compress(&src, &mut dst2, &CompressAecs::fixed()));
        assert_eq!(&dst2[..n2], &dst[..n]);
    }
    assert_eq!(crc32fast::hash(&all), FIXED_GOLDEN, "{} bytes", all.len());
}

const FIXED_GOLDEN: u32 = 0x53d4_f000;

#[test]
fn header_generation_needs_the_capability() {
    let mut x = Executor::new(ModelConfig::iaa(0));
    let src = data(4096, 1);
    let mut dst = vec![0u8; 8192];
    let r = x.compress_header_gen(&src, &mut dst);
    assert_eq!(
        r.status, 0x30,
        "an IAA 1.0 rejects the header-generation field"
    );
}

#[test]
fn a_code_without_a_needed_symbol_is_error_30() {
    let mut x = Executor::new(ModelConfig::iaa(0));
    // A code observed on text only: the zero bytes of another input have no code.
    let text = data(4096, 1);
    let mut hist = [0u8; HISTOGRAM_BYTES];
    assert_eq!(x.statistics(&text, &mut hist).status, 1);
    let h = Histogram::from_bytes(&hist).unwrap();
    let code = DeviceCode::from_histogram(&h, Coverage::Observed).unwrap();
    assert_eq!(code.ll_lengths()[0], 0);
    let mut a = CompressAecs::zeroed();
    code.write_aecs(&mut a, true);
    let other = noise(4096, 9);
    let mut dst = vec![0u8; 8192];
    let r = x.compress(&other, &mut dst, &a);
    assert_eq!((r.status, r.error_code), (0x0A, 30));
    // The same code covering every symbol compresses it.
    let all = DeviceCode::from_histogram(&h, Coverage::AllSymbols).unwrap();
    all.write_aecs(&mut a, true);
    assert_eq!(x.compress(&other, &mut dst, &a).status, 1);
    // An AECS whose EOB has no code: error 30 too (the end processing needs it).
    let mut no_eob = CompressAecs::fixed();
    no_eob.ll_sym[256] = 0;
    assert_eq!(
        {
            let r = x.compress(&text, &mut dst, &no_eob);
            (r.status, r.error_code)
        },
        (0x0A, 30)
    );
}

#[test]
fn the_model_refuses_repeats_across_the_two_length_sequences() {
    // The stream of fallback/tests/iaa_headers.rs: "A" in one dynamic block whose run of 2s
    // from EOB on is a "2" and a repeat 16 of 5 crossing into the distance lengths.
    let items: Vec<(u32, u32)> = {
        let (two, rep16, rep18) = ((0, 1), (0b01, 2), (0b11, 2));
        let mut v = vec![(1, 1), (2, 2), (1, 5), (3, 5), (12, 4)];
        for l in [2, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1] {
            v.push((l, 3));
        }
        v.extend([rep18, (54, 7), two, two, rep18, (127, 7), rep18, (40, 7)]);
        v.extend([two, rep16, (2, 2), (0, 2), (0b01, 2)]);
        v
    };
    let mut z = Vec::new();
    let (mut acc, mut n) = (0u64, 0u32);
    for (v, l) in items {
        acc |= (v as u64) << n;
        n += l;
        while n >= 8 {
            z.push(acc as u8);
            acc >>= 8;
            n -= 8;
        }
    }
    z.push(acc as u8);
    assert_eq!(zlib_inflate(&z, 16).as_deref(), Some(&b"A"[..]));
    let mut x = Executor::new(ModelConfig::iaa(0));
    let mut out = [0u8; 16];
    let r = x.decompress(&z, &mut out);
    assert_eq!((r.status, r.error_code), (0x0A, 6));
}

#[test]
fn replay_mode_gives_the_computed_results() {
    // Engines replay (no latency model), or the submitter replays and the timer completes
    // (with one).
    for latency in [0u64, 2000] {
        replay_on(ModelConfig {
            replay: Some(iaa_model::Replay::default()),
            latency: iaa_model::Latency {
                fixed_ns: latency,
                ns_per_kib: 0,
            },
            ..ModelConfig::iaa(2)
        });
    }
}

fn replay_on(cfg: ModelConfig) {
    let r = rig(cfg);
    let src = data(4096, 3);
    let aecs = [CompressAecs::fixed(), CompressAecs::fixed()];
    let mut outs = Vec::new();
    for _ in 0..3 {
        let mut dst = vec![0u8; 8192];
        let rec = run_iaa(&r, |c| {
            IaaCompress::new(addr(&src), 4096, addr_mut(&mut dst), 8192, addr(&aecs), c).build()
        });
        let n = ok(&rec);
        dst.truncate(n);
        outs.push((rec.crc, dst));
    }
    assert_eq!(outs[0], outs[1]);
    assert_eq!(outs[0], outs[2]);
    // A different input is computed, not replayed.
    let other = data(4096, 4);
    let mut dst = vec![0u8; 8192];
    let rec = run_iaa(&r, |c| {
        IaaCompress::new(addr(&other), 4096, addr_mut(&mut dst), 8192, addr(&aecs), c).build()
    });
    assert_eq!(rec.crc, crc32fast::hash(&other));
    let s = r.dev.stats();
    assert_eq!((s.replayed, s.replay_misses), (2, 2));
}
