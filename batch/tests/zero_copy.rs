//! Zero-copy input: where the device reads the process's memory (the kernel's user WQs with
//! PASID, the device model), each descriptor's source is the caller's own buffer; where it
//! cannot (a model configured to require bounce buffers, as VFIO without SVA), the source is
//! the pool's copy. The model logs the source address of every descriptor it takes.

mod common;

use iaa::{Outputs, Path, Pool, UnitResult};
use iaa_descriptors::IaaOpcode;
use iaa_model::{ModelConfig, ModelDevice};

/// `(opcode, source address, source bytes)` of each descriptor the model took.
type Log = Vec<(u8, u64, u32)>;

/// Input, compressed units and the model's log of one compress + decompress round.
fn run(require_bounce: bool) -> (Vec<u8>, Vec<u8>, Log) {
    let cfg = ModelConfig {
        log_sources: true,
        require_bounce,
        ..ModelConfig::iaa(1)
    };
    let dev = ModelDevice::start(cfg).unwrap();
    let pool = Pool::builder()
        .path(Path::Hardware)
        .hybrid(false)
        .budgets(common::debug_budgets())
        .contexts(1)
        .device(common::shared_model(&dev))
        .build()
        .unwrap();
    let data = common::generated(8 * 4096);
    let mut comp = vec![0u8; 8 * 4096];
    let mut res = [UnitResult::Pending; 8];
    pool.compress_batch(&data, 4096, Outputs::flat(&mut comp, 4096), &mut res)
        .unwrap();
    let lens: Vec<usize> = res
        .iter()
        .map(|r| match r {
            UnitResult::Done { len, .. } => *len,
            r => panic!("{r:?}"),
        })
        .collect();
    let ins: Vec<&[u8]> = (0..8)
        .map(|i| &comp[i * 4096..i * 4096 + lens[i]])
        .collect();
    let mut back = vec![0u8; 8 * 4096];
    let mut dres = [UnitResult::Pending; 8];
    pool.decompress_batch(&ins, Outputs::flat(&mut back, 4096), &mut dres)
        .unwrap();
    assert_eq!(back, data);
    assert_eq!(pool.stats().total_fallbacks(), 0);
    drop(pool);
    let log = dev.logged_sources();
    (data, comp, log)
}

fn inside(addr: u64, len: u32, buf: &[u8]) -> bool {
    let base = buf.as_ptr() as u64;
    addr >= base && addr + u64::from(len) <= base + buf.len() as u64
}

#[test]
fn descriptors_name_the_callers_input_where_the_device_shares_the_address_space() {
    let (data, comp, log) = run(false);
    let compress: Vec<_> = log
        .iter()
        .filter(|e| e.0 == IaaOpcode::Compress as u8)
        .collect();
    let decompress: Vec<_> = log
        .iter()
        .filter(|e| e.0 == IaaOpcode::Decompress as u8)
        .collect();
    assert_eq!((compress.len(), decompress.len()), (8, 8), "{log:?}");
    // Unit i of the input is read at its own address, in place.
    let mut starts: Vec<u64> = compress.iter().map(|e| e.1).collect();
    starts.sort_unstable();
    let want: Vec<u64> = (0..8).map(|i| data.as_ptr() as u64 + i * 4096).collect();
    assert_eq!(starts, want);
    assert!(
        decompress.iter().all(|e| inside(e.1, e.2, &comp)),
        "{log:?}"
    );
}

#[test]
fn inputs_are_copied_where_the_device_needs_bounce_buffers() {
    let (data, comp, log) = run(true);
    let units: Vec<_> = log
        .iter()
        .filter(|e| e.0 == IaaOpcode::Compress as u8 || e.0 == IaaOpcode::Decompress as u8)
        .collect();
    assert_eq!(units.len(), 16, "{log:?}");
    assert!(
        units
            .iter()
            .all(|e| !inside(e.1, e.2, &data) && !inside(e.1, e.2, &comp)),
        "{log:?}"
    );
}
