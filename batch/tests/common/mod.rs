//! Shared by the test binaries: the corpus (Silesia files unzipped at test time) and the pool
//! configurations every suite runs against.
#![allow(dead_code)]

use std::io::Read;
use std::path::PathBuf;

use iaa::{Device, ModelOptions, Path, Pool, PoolBuilder};

/// Bytes taken from each corpus file: a prefix in debug builds (keeps each test file well under
/// a minute), the whole file in release.
pub const CORPUS_PREFIX: usize = if cfg!(debug_assertions) {
    192 * 1024
} else {
    usize::MAX
};

/// `(name, bytes)` of every corpus file found; prints and returns what it has when the corpus
/// is absent (generated data stands in so the suite still runs).
pub fn corpus() -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus");
    let mut out = Vec::new();
    for name in ["dickens", "mr", "osdb", "xml"] {
        let p = dir.join(format!("{name}.zip"));
        let Ok(f) = std::fs::File::open(&p) else {
            eprintln!("corpus file {} absent; skipped", p.display());
            continue;
        };
        let mut z = zip::ZipArchive::new(f).expect("readable zip");
        let mut e = z.by_index(0).expect("one entry");
        let mut data = Vec::new();
        (&mut e)
            .take(CORPUS_PREFIX as u64)
            .read_to_end(&mut data)
            .expect("unzip");
        out.push((name.to_string(), data));
    }
    if out.is_empty() {
        out.push(("generated".to_string(), generated(256 * 1024)));
    }
    // Random bytes: every unit incompressible.
    out.push(("random".to_string(), random(64 * 1024, 7)));
    out
}

/// Text-like data with repeats at short and long distances.
pub fn generated(len: usize) -> Vec<u8> {
    let words = [
        &b"alpha "[..],
        b"beta ",
        b"gamma ",
        b"delta\n",
        b"epsilon ",
        b"zeta, ",
    ];
    let mut v = Vec::with_capacity(len);
    let mut x: u32 = 12345;
    while v.len() < len {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        v.extend_from_slice(words[(x >> 16) as usize % words.len()]);
        if x.is_multiple_of(7) {
            v.push((x >> 8) as u8);
        }
    }
    v.truncate(len);
    v
}

/// Pseudo-random bytes.
pub fn random(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// Budgets for tests without injected hangs: the model runs unoptimised in debug builds, so a
/// unit may take milliseconds; nothing should time out.
pub fn debug_budgets() -> iaa::Budgets {
    iaa::Budgets {
        completion_timeout: std::time::Duration::from_secs(10),
        ..iaa::Budgets::default()
    }
}

/// The pool configurations the shared suites run against: `(name, builder)`. "software" uses
/// the build's default encoder (ISA-L with the `isal` feature); "software-native" always
/// `iaa-fallback`'s own; "software-isal" is added in `isal` builds.
pub fn configs() -> Vec<(&'static str, PoolBuilder)> {
    let mut v = vec![
        ("software", Pool::builder().path(Path::Software).contexts(4)),
        (
            "software-native",
            Pool::builder()
                .path(Path::Software)
                .software_encoder(iaa::SoftwareEncoder::Native)
                .contexts(4),
        ),
        (
            "software-verify",
            Pool::builder()
                .path(Path::Software)
                .verify(true)
                .contexts(4),
        ),
        (
            "auto-no-device",
            Pool::builder().path(Path::Auto).contexts(4),
        ),
        (
            "model-hardware",
            Pool::builder()
                .path(Path::Hardware)
                .hybrid(false)
                .budgets(debug_budgets())
                .device(Device::Model(ModelOptions::default()))
                .contexts(4),
        ),
        (
            "model-dynamic-verify",
            Pool::builder()
                .path(Path::Hardware)
                .hybrid(false)
                .verify(true)
                .hw_mode(iaa::HwMode::Dynamic)
                .budgets(debug_budgets())
                .device(Device::Model(ModelOptions {
                    require_bounce: true,
                    ..ModelOptions::default()
                }))
                .contexts(4),
        ),
        (
            "model-trained",
            Pool::builder()
                .path(Path::Hardware)
                .hybrid(false)
                .hw_mode(iaa::HwMode::Trained)
                .training_sample(generated(64 << 10))
                .budgets(debug_budgets())
                .device(Device::Model(ModelOptions::default()))
                .contexts(4),
        ),
        (
            "model-iaa2-auto",
            Pool::builder()
                .path(Path::Hardware)
                .hybrid(false)
                .budgets(debug_budgets())
                .device(Device::Model(ModelOptions {
                    iaa2: true,
                    ..ModelOptions::default()
                }))
                .contexts(4),
        ),
        (
            "model-auto-verify",
            Pool::builder()
                .path(Path::Auto)
                .verify(true)
                .budgets(debug_budgets())
                .device(Device::Model(ModelOptions::default()))
                .contexts(4),
        ),
        (
            "model-inline-dedicated",
            Pool::builder()
                .path(Path::Hardware)
                .hybrid(false)
                .budgets(debug_budgets())
                .contexts(4)
                .device(Device::Model(ModelOptions {
                    engines: 0,
                    dedicated: true,
                    wq_size: 16,
                    ..ModelOptions::default()
                })),
        ),
        (
            "vfio-model",
            Pool::builder()
                .path(Path::Hardware)
                .hybrid(false)
                .budgets(debug_budgets())
                .contexts(4)
                .device(vfio_model()),
        ),
    ];
    if iaa::SoftwareEncoder::isal_available() {
        v.push((
            "software-isal",
            Pool::builder()
                .path(Path::Software)
                .software_encoder(iaa::SoftwareEncoder::Isal)
                .contexts(4),
        ));
    }
    v
}

/// A device in VFIO user mode over the register model, the device model behind it checking
/// every descriptor address against its soft IOMMU (2 dedicated WQs, 2 engines), registered
/// under the name `test-vfio-model` (each pool opens its own).
pub fn vfio_model() -> Device {
    registered("test-vfio-model", || {
        iaa_model::ModelVfio::open(iaa_model::Bar0ModelConfig::spr_iaa(), 2, 2, 1 << 16)
            .expect("VFIO bring-up over the models")
            .into_backend("test VFIO model".into())
    })
}

/// `Device::Named(name)`, with `name` registered to open through `open`.
pub fn registered(
    name: &str,
    open: impl Fn() -> iaa_driver::open::Backend + Send + Sync + 'static,
) -> Device {
    iaa_driver::open::register(name, std::sync::Arc::new(move || Ok(open())));
    Device::Named(name.into())
}

/// Compress `data` in units of `unit`, decompress every compressed unit, and check each unit
/// comes back byte for byte (incompressible units are stored raw, as a caller would). Returns
/// the compressed units (None = stored raw).
pub fn roundtrip(pool: &Pool, data: &[u8], unit: usize) -> Vec<Option<Vec<u8>>> {
    let n = data.len().div_ceil(unit);
    let mut out = vec![0u8; n * unit];
    let mut res = vec![iaa::UnitResult::Pending; n];
    let sum = pool
        .compress_batch(data, unit, iaa::Outputs::flat(&mut out, unit), &mut res)
        .expect("well-formed call");
    assert_eq!(sum.units, n);
    assert_eq!(sum.failed, 0, "no unit may fail: {res:?}");
    assert_eq!(sum.finished(), n);
    let mut comp: Vec<Option<Vec<u8>>> = Vec::with_capacity(n);
    for (i, r) in res.iter().enumerate() {
        match r {
            iaa::UnitResult::Done { len, .. } => {
                let ulen = data[i * unit..].len().min(unit);
                assert!(
                    *len < ulen,
                    "unit {i}: {len} bytes is not smaller than {ulen}"
                );
                comp.push(Some(out[i * unit..i * unit + len].to_vec()));
            }
            iaa::UnitResult::Incompressible => comp.push(None),
            other => panic!("unit {i}: unexpected {other:?}"),
        }
    }
    check_decompress(pool, data, unit, &comp);
    comp
}

/// Decompress the compressed units with `pool` and compare with the original units.
pub fn check_decompress(pool: &Pool, data: &[u8], unit: usize, comp: &[Option<Vec<u8>>]) {
    let idx: Vec<usize> = (0..comp.len()).filter(|&i| comp[i].is_some()).collect();
    let ins: Vec<&[u8]> = idx.iter().map(|&i| comp[i].as_deref().unwrap()).collect();
    let mut back = vec![0u8; ins.len() * unit];
    let mut res = vec![iaa::UnitResult::Pending; ins.len()];
    let sum = pool
        .decompress_batch(&ins, iaa::Outputs::flat(&mut back, unit), &mut res)
        .expect("well-formed call");
    assert_eq!(sum.failed, 0, "{res:?}");
    for (k, &i) in idx.iter().enumerate() {
        let orig = &data[i * unit..(i * unit + unit).min(data.len())];
        let len = res[k].len().expect("done");
        assert_eq!(&back[k * unit..k * unit + len], orig, "unit {i} differs");
    }
}

/// Inflate one raw-deflate unit with an independent inflater (flate2).
pub fn inflate_independent(comp: &[u8], cap: usize) -> Vec<u8> {
    let mut d = flate2::Decompress::new(false);
    let mut out = Vec::with_capacity(cap);
    d.decompress_vec(comp, &mut out, flate2::FlushDecompress::Finish)
        .expect("valid raw deflate");
    out
}

/// A device naming the already started `dev` (the test keeps its handle to inject faults),
/// registered under a fresh name.
pub fn shared_model(dev: &std::sync::Arc<iaa_model::ModelDevice>) -> Device {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let name = format!("test-shared-model-{}", NEXT.fetch_add(1, Ordering::Relaxed));
    let dev = std::sync::Arc::clone(dev);
    registered(&name, move || {
        iaa_model::backend(std::sync::Arc::clone(&dev), "device model (shared)")
            .expect("an IAA model")
    })
}

/// `Device::Named(name)` opening `backend` once (a later open of the name fails).
pub fn registered_once(name: &str, backend: iaa_driver::open::Backend) -> Device {
    let slot = std::sync::Mutex::new(Some(backend));
    iaa_driver::open::register(
        name,
        std::sync::Arc::new(move || {
            slot.lock()
                .unwrap()
                .take()
                .ok_or(iaa_driver::open::OpenError::NoDevice(
                    "opened already".into(),
                ))
        }),
    );
    Device::Named(name.into())
}

/// A fixture sysfs/dev tree with one IAA (`iax1`) and two user WQs: `wq1.0` shared (size 32)
/// and `wq1.1` dedicated (size 16), for the kernel path over `write(2)` into the model.
pub fn kernel_fixture_host() -> iaa_driver::fixture::Host {
    iaa_driver::fixture::one_iaa_two_wqs()
}

/// The fixture kernel DSA WQs of `iaa_driver::fixture::one_dsa_two_wqs` (`wq0.0` shared, size
/// 32; `wq0.1` dedicated, size 16) served through `write(2)` by a DSA model, registered for
/// the DSA operations as `name`: the device to give `DsaPath::Device`. The host tree is kept
/// alive by the provider.
pub fn fixture_dsa(name: &str) -> Device {
    use std::sync::Arc;
    let h = iaa_driver::fixture::one_dsa_two_wqs();
    let mut cfg = iaa_model::ModelConfig::dsa(2);
    cfg.wqs = vec![
        iaa_model::ModelWqConfig::shared(32),
        iaa_model::ModelWqConfig::dedicated(16),
    ];
    let model = iaa_model::ModelDevice::start(cfg).expect("model");
    iaa_driver::open::register_dsa(
        name,
        Arc::new(move || {
            let (sys, dev) = (h.sys(), h.dev());
            let opener = iaa_model::ModelNodeOpener::new(Arc::clone(&model))
                .serve(dev.join("dsa/wq0.0"), 0)
                .serve(dev.join("dsa/wq0.1"), 1);
            let discovery = iaa_driver::sysfs::Discovery::with_roots(sys, dev);
            let host = iaa_driver::kernel::open_kind(
                &discovery,
                &opener,
                iaa_driver::sysfs::DeviceKind::Dsa,
                &|_| true,
            );
            iaa_driver::open::Backend::from_host(host, "fixture DSA WQs").map(|b| b.keep(opener))
        }),
    );
    Device::Named(name.into())
}
