//! Strict decoding on every path: a unit is `Done` only if it is valid RFC 1951 (what zlib
//! accepts) and is exactly one stream. The two streams are the ones of issue 14.

mod common;

use iaa::{Pool, UnitError, UnitResult};

/// "a", then fixed-Huffman literal/length symbol 286 (libdeflate reads a length-258 match).
const FIXED_286: [u8; 4] = [0x4b, 0x1c, 0x03, 0x00];
/// A dynamic block whose literal/length code is incomplete (the old device model decoded it).
const INCOMPLETE_LL: [u8; 13] = [
    0x05, 0xc0, 0x81, 0x00, 0x00, 0x00, 0x00, 0x80, 0x20, 0xd6, 0xfc, 0x25, 0x4e,
];

fn pools() -> Vec<(&'static str, Pool)> {
    common::configs()
        .into_iter()
        .map(|(name, b)| (name, b.build().expect("pool builds")))
        .collect()
}

#[test]
fn invalid_streams_fail_on_every_path() {
    for (name, pool) in pools() {
        for s in [&FIXED_286[..], &INCOMPLETE_LL[..]] {
            let mut out = vec![0u8; 4096];
            let r = pool.decompress(s, &mut out).expect("call accepted");
            assert_eq!(
                r,
                UnitResult::Failed(UnitError::Corrupt),
                "{name}: {s:02x?}"
            );
        }
    }
}

#[test]
fn trailing_bytes_fail_with_the_stream_length_on_every_path() {
    let data = common::generated(4096);
    for (name, pool) in pools() {
        let mut comp = vec![0u8; 4096];
        let n = pool
            .compress(&data, &mut comp)
            .expect("call")
            .len()
            .expect("compressed");
        comp.truncate(n);
        let mut out = vec![0u8; 4096];
        assert!(
            pool.decompress(&comp, &mut out).expect("call").is_done(),
            "{name}"
        );
        comp.extend([0u8, 1, 2]);
        assert_eq!(
            pool.decompress(&comp, &mut out).expect("call"),
            UnitResult::Failed(UnitError::TrailingData {
                consumed: n,
                trailing: 3
            }),
            "{name}"
        );
    }
}
