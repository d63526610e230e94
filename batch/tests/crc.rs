//! Per-unit CRC-32: every `Done` unit carries the CRC-32 (gzip/zlib) of its uncompressed bytes,
//! equal to crc32fast's, on every path (the device model's come from its completion records);
//! expected CRCs on decompression fail exactly the units whose output differs.

mod common;

use iaa::{ExecPath, Pool, UnitError, UnitResult};

fn pools() -> Vec<(&'static str, Pool)> {
    let mut v: Vec<(&'static str, Pool)> = common::configs()
        .into_iter()
        .map(|(name, b)| (name, b.build().expect("pool builds")))
        .collect();
    // Spread batches record their units on helper threads: the CRC check must see them too.
    v.push((
        "software-spread",
        Pool::builder()
            .path(iaa::Path::Software)
            .spread_over_cores(true)
            .contexts(4)
            .build()
            .expect("pool builds"),
    ));
    v
}

#[test]
fn crcs_of_compressed_and_decompressed_units_are_crc32fast_on_every_path() {
    let data = common::generated(64 * 1024 + 999);
    for (name, pool) in pools() {
        let n = data.len().div_ceil(4096);
        let mut dst = vec![0u8; n * 4096];
        let mut res = vec![UnitResult::Pending; n];
        pool.compress_batch(&data, 4096, iaa::Outputs::flat(&mut dst, 4096), &mut res)
            .expect("call");
        let mut hw = 0;
        let mut ins: Vec<&[u8]> = Vec::new();
        let mut want = Vec::new();
        for (i, (r, unit)) in res.iter().zip(data.chunks(4096)).enumerate() {
            match r {
                UnitResult::Done { len, path, crc } => {
                    assert_eq!(*crc, crc32fast::hash(unit), "{name}: unit {i}");
                    hw += usize::from(*path == ExecPath::Hardware);
                    ins.push(&dst[i * 4096..i * 4096 + len]);
                    want.push(crc32fast::hash(unit));
                }
                UnitResult::Incompressible => {}
                other => panic!("{name}: unit {i}: {other:?}"),
            }
        }
        if pool.is_hardware() {
            assert!(hw > 0, "{name}: no unit ran on the model");
        }
        let mut back = vec![0u8; ins.len() * 4096];
        let mut slots: Vec<&mut [u8]> = back.chunks_mut(4096).collect();
        let mut dres = vec![UnitResult::Pending; ins.len()];
        pool.decompress_batch(&ins, &mut slots, &mut dres)
            .expect("call");
        for (i, r) in dres.iter().enumerate() {
            assert_eq!(r.crc(), Some(want[i]), "{name}: unit {i}: {r:?}");
        }
        // Expected CRCs: unit 1 gets a wrong one and fails alone.
        let mut exp = want.clone();
        exp[1] ^= 0x8000_0000;
        let sum = pool
            .decompress_batch_checked(&ins, &mut slots, &exp, &mut dres)
            .expect("call");
        assert_eq!(sum.failed, 1, "{name}");
        assert_eq!(
            dres[1],
            UnitResult::Failed(UnitError::CrcMismatch {
                expected: exp[1],
                actual: want[1]
            }),
            "{name}"
        );
        for (i, r) in dres.iter().enumerate().filter(|(i, _)| *i != 1) {
            assert_eq!(r.crc(), Some(want[i]), "{name}: unit {i}");
        }
        // Too few CRCs is a malformed call.
        assert!(matches!(
            pool.decompress_batch_checked(&ins, &mut slots, &exp[..1], &mut dres),
            Err(iaa::Error::TooFewCrcs { .. })
        ));
    }
}
