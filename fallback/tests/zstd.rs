//! zstd software codec: round trip, incompressible data, typed errors.

mod common;

use iaa_fallback::zstd_codec::{compress, decompress, ZstdCodec, ZstdError};
use iaa_fallback::CompressOutcome;

#[test]
fn round_trip_and_reuse() {
    let text = b"zstd is the software-only codec of the fallback crate. ".repeat(200);
    let mut z = vec![0u8; text.len()];
    let CompressOutcome::Compressed(n) = compress(3, &text, &mut z).unwrap() else {
        panic!("repetitive text compresses")
    };
    assert!(n < text.len() / 10);
    let mut back = vec![0u8; text.len()];
    assert_eq!(decompress(&z[..n], &mut back).unwrap(), text.len());
    assert_eq!(back, text);
    let mut c = ZstdCodec::new(1).unwrap();
    for unit in text.chunks(4096) {
        let CompressOutcome::Compressed(n) = c.compress(unit, &mut z).unwrap() else {
            panic!("compresses")
        };
        let m = c.decompress(&z[..n], &mut back).unwrap();
        assert_eq!(&back[..m], unit);
    }
}

#[test]
fn random_is_incompressible_and_errors_are_typed() {
    let r = common::random_bytes(10_000, 9);
    let mut z = vec![0u8; 20_000];
    assert_eq!(
        compress(1, &r, &mut z).unwrap(),
        CompressOutcome::Incompressible
    );
    let mut out = vec![0u8; 100];
    assert!(matches!(decompress(&r, &mut out), Err(ZstdError::Zstd(_))));
    // A valid frame into a too small buffer.
    let text = vec![b'a'; 5000];
    let CompressOutcome::Compressed(n) = compress(1, &text, &mut z).unwrap() else {
        panic!("compresses")
    };
    assert!(matches!(
        decompress(&z[..n], &mut out),
        Err(ZstdError::OutputTooSmall)
    ));
    // Truncated frame.
    let mut big = vec![0u8; 5000];
    assert!(decompress(&z[..n - 1], &mut big).is_err());
}
