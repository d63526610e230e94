//! IAA-decodability of every encoder variant this CPU supports: units compressed by
//! `iaa_fallback::Compressor::with_variant` are decompressed on the hardware path of a pool
//! running on the software device model (its own inflater, IAA's 4 KiB history), with no
//! unit sent to software.

mod common;

use iaa::{Path, Pool};
use iaa_fallback::{max_compressed_len, CompressOutcome, Compressor, Level, Variant};

#[test]
fn every_variant_decodes_on_the_device_model() {
    let mut data: Vec<u8> = common::corpus()
        .into_iter()
        .flat_map(|(_, d)| d.into_iter().take(96 << 10))
        .collect();
    data.extend(common::generated(64 << 10));
    for unit in [4096usize, 16384, 65536] {
        let pool = Pool::builder()
            .path(Path::Hardware)
            .hybrid(false)
            .budgets(common::debug_budgets())
            .max_unit_size(unit)
            .device(iaa::Device::Model(iaa::ModelOptions {
                engines: 1,
                ..iaa::ModelOptions::default()
            }))
            .contexts(1)
            .build()
            .unwrap();
        for v in Variant::supported() {
            for level in [Level::Fast, Level::Better] {
                let mut c = Compressor::with_variant(level, unit, v).unwrap();
                let mut buf = vec![0u8; max_compressed_len(unit)];
                let comp: Vec<Option<Vec<u8>>> = data
                    .chunks(unit)
                    .map(|u| match c.compress(u, &mut buf).unwrap() {
                        CompressOutcome::Compressed(n) => Some(buf[..n].to_vec()),
                        CompressOutcome::Incompressible => None,
                    })
                    .collect();
                let before = pool.stats();
                common::check_decompress(&pool, &data, unit, &comp);
                let s = pool.stats();
                let done = comp.iter().filter(|c| c.is_some()).count() as u64;
                assert!(done > 0);
                assert_eq!(
                    s.total_fallbacks(),
                    before.total_fallbacks(),
                    "{v:?}: {s:?}"
                );
                assert_eq!(
                    s.decompress_hw.units - before.decompress_hw.units,
                    done,
                    "{v:?} {level:?} unit {unit}: every unit decoded by the device model"
                );
                eprintln!("{v:?} {level:?} unit {unit}: {done} units decoded on the model");
            }
        }
    }
}
