//! Driver CPU per 4 KiB unit on the hardware path: a pool on the inline device model (0
//! engines: the model runs inside `submit`, in this thread) compresses `--rounds` batches of 8
//! units, then decompresses them. Run it under callgrind at two round counts: the difference
//! of the totals over the difference of units is instructions per unit, and
//! `callgrind_annotate --inclusive=yes` gives the model's share (`ModelPortal::push`): the rest
//! is the driver (build, submit, poll, copy in and out, bookkeeping).
//!
//! ```text
//! valgrind --tool=callgrind --callgrind-out-file=a.out target/release/pool_overhead --rounds 200
//! valgrind --tool=callgrind --callgrind-out-file=b.out target/release/pool_overhead --rounds 400
//! ```

use iaa::{Outputs, Path, Pool, UnitResult};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rounds: usize = args
        .iter()
        .position(|a| a == "--rounds")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let pool = Pool::builder()
        .path(Path::Hardware)
        .hybrid(false)
        .max_unit_size(4096)
        .contexts(1)
        .device(iaa::Device::Model(iaa::ModelOptions {
            engines: 0,
            ..iaa::ModelOptions::default()
        }))
        .build()
        .unwrap();
    // Text-like data that compresses (the model's work does not matter: it is subtracted).
    let words: [&[u8]; 6] = [
        b"granule ",
        b"column=",
        b"42 ",
        b"row ",
        b"value\n",
        b"key ",
    ];
    let mut data = Vec::with_capacity(8 * 4096);
    let mut s = 0x9e37_79b9u32;
    while data.len() < 8 * 4096 {
        s ^= s << 13;
        s ^= s >> 17;
        s ^= s << 5;
        data.extend_from_slice(words[(s % 6) as usize]);
    }
    data.truncate(8 * 4096);
    let mut comp = vec![0u8; 8 * 4096];
    let mut back = vec![0u8; 8 * 4096];
    let mut res = [UnitResult::Pending; 8];
    let mut dres = [UnitResult::Pending; 8];
    let mut device_units = 0u64;
    for _ in 0..rounds {
        pool.compress_batch(&data, 4096, Outputs::flat(&mut comp, 4096), &mut res)
            .unwrap();
        let lens: [usize; 8] = std::array::from_fn(|i| match res[i] {
            UnitResult::Done { len, .. } => len,
            _ => 0,
        });
        let ins: [&[u8]; 8] = std::array::from_fn(|i| &comp[i * 4096..i * 4096 + lens[i]]);
        pool.decompress_batch(&ins, Outputs::flat(&mut back, 4096), &mut dres)
            .unwrap();
        device_units += 16;
    }
    assert_eq!(back, data);
    let s = pool.stats();
    println!(
        "pool_overhead: {rounds} rounds, {device_units} units; on the device {} + {}, fallbacks {}",
        s.compress_hw.units,
        s.decompress_hw.units,
        s.total_fallbacks()
    );
}
