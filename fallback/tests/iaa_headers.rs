//! Every stream the native encoder writes is IAA-decodable in its headers too: no code-length
//! repeat runs from the literal/length code lengths into the distance code lengths (IAA decodes
//! the two sequences separately and refuses such a header with analytics error 4). Checked on
//! corpus units at every unit size and both levels with the strict header walk
//! `inflate::crossing_repeats`; the device-model decode of the same units is in
//! `model/tests/software_units.rs`.

mod common;

use iaa_fallback::inflate::crossing_repeats;
use iaa_fallback::{max_compressed_len, CompressOutcome, Compressor, Level};

/// Bytes of each corpus file used (debug-build test time; the model test covers more).
const SAMPLE: usize = 2 << 20;

/// The units of the corpus where the encoder before the fix wrote a crossing repeat (found by
/// walking every 4/16/64 KiB unit of the four files at both levels: five, all in `xml` at
/// 4 KiB): (level, byte offset of the 4 KiB unit).
const WERE_CROSSING: [(Level, usize); 5] = [
    (Level::Fast, 4218880),
    (Level::Better, 2105344),
    (Level::Better, 2158592),
    (Level::Better, 2465792),
    (Level::Better, 2560000),
];

#[test]
fn units_that_crossed_before_the_fix_do_not() {
    let Some(xml) = common::load("xml") else {
        return;
    };
    let mut z = vec![0u8; max_compressed_len(4096)];
    for (level, off) in WERE_CROSSING {
        let mut c = Compressor::for_max_unit(level, 4096);
        let u = &xml[off..off + 4096];
        let CompressOutcome::Compressed(n) = c.compress(u, &mut z).unwrap() else {
            panic!("xml unit at {off} compresses");
        };
        assert_eq!(crossing_repeats(&z[..n], 4096), Ok(0), "{level:?} {off}");
    }
}

#[test]
fn native_headers_never_cross_into_distance_lengths() {
    let mut units = 0u64;
    for level in [Level::Fast, Level::Better] {
        for unit in [4096usize, 16384, 65536] {
            let mut c = Compressor::for_max_unit(level, unit);
            let mut z = vec![0u8; max_compressed_len(unit)];
            for name in common::FILES {
                let Some(data) = common::load(name) else {
                    continue;
                };
                for u in data[..data.len().min(SAMPLE)].chunks(unit) {
                    if let CompressOutcome::Compressed(n) = c.compress(u, &mut z).unwrap() {
                        assert_eq!(
                            crossing_repeats(&z[..n], u.len()),
                            Ok(0),
                            "{name} {level:?} {unit}-byte unit"
                        );
                        units += 1;
                    }
                }
            }
        }
    }
    eprintln!("native encoder: {units} compressed units checked, no crossing repeat");
}

/// LSB-first bit packing of `(value, bits)` items, padded to a byte.
fn pack(items: &[(u32, u32)]) -> Vec<u8> {
    let mut out = Vec::new();
    let (mut acc, mut n) = (0u64, 0u32);
    for &(v, l) in items {
        acc |= (v as u64) << n;
        n += l;
        while n >= 8 {
            out.push(acc as u8);
            acc >>= 8;
            n -= 8;
        }
    }
    if n > 0 {
        out.push(acc as u8);
    }
    out
}

#[test]
fn crossing_repeats_sees_a_crossing_header() {
    // One final dynamic block coding "A": literal/length lengths 2 for 'A', 'B', EOB and 257
    // (HLIT = 258), distance lengths 2 for symbols 0-3 (HDIST = 4). The run of six 2s from EOB
    // on is written as "2" then a repeat 16 of 5, which crosses into the distance lengths:
    // valid RFC 1951 (zlib decodes it), refused by IAA.
    // Code-length code: symbol 2 length 1 (code 0), 16 and 18 length 2 (10, 11).
    let (two, rep16, rep18) = ((0, 1), (0b01, 2), (0b11, 2));
    let mut items = vec![(1, 1), (2, 2), (1, 5), (3, 5), (12, 4)];
    // Code-length code lengths in the order 16 17 18 0 8 7 9 6 10 5 11 4 12 3 13 2.
    for l in [2, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1] {
        items.push((l, 3));
    }
    items.extend([rep18, (54, 7)]); // 65 zeros
    items.extend([two, two]); // 'A', 'B'
    items.extend([rep18, (127, 7), rep18, (40, 7)]); // 189 zeros (67..=255)
    items.extend([two, rep16, (2, 2)]); // EOB, then 257 and distances 0-3
                                        // Data: 'A' = code 00, EOB = code 10 (bit-reversed 01).
    items.extend([(0, 2), (0b01, 2)]);
    let z = pack(&items);
    let mut back = [0u8; 16];
    let mut d = flate2::Decompress::new(false);
    let st = d
        .decompress(&z, &mut back, flate2::FlushDecompress::Finish)
        .unwrap();
    assert_eq!(st, flate2::Status::StreamEnd);
    assert_eq!(&back[..d.total_out() as usize], b"A");
    assert_eq!(crossing_repeats(&z, 16), Ok(1));
    // One final dynamic block: its header alone gives the answer.
    assert_eq!(iaa_fallback::inflate::final_header_crossing(&z), Some(true));
}

#[test]
fn the_header_alone_answers_for_one_block_streams_only() {
    use iaa_fallback::inflate::final_header_crossing;
    let data: Vec<u8> = (0..4096u32)
        .map(|i| b"the quick brown fox jumps over the lazy dog "[(i * 7 % 44) as usize])
        .collect();
    let mut c = Compressor::for_max_unit(Level::Fast, 65536);
    let mut z = vec![0u8; 70000];
    let n = match c.compress(&data, &mut z).unwrap() {
        CompressOutcome::Compressed(n) => n,
        o => panic!("{o:?}"),
    };
    assert_eq!(final_header_crossing(&z[..n]), Some(false));
    // A stored block first (BTYPE 0): not a header-only answer.
    assert_eq!(
        final_header_crossing(&[0x01, 0x01, 0x00, 0xFE, 0xFF, b'a']),
        None
    );
    // A non-final first block: the stream must be walked.
    assert_eq!(
        final_header_crossing(&[0x00, 0x01, 0x00, 0xFE, 0xFF, b'a', 0x03, 0x00]),
        None
    );
}
