//! Round trips through the `iaa` binary, with every deflate unit also inflated by zlib.

mod common;

use common::*;
use iaa_cli::container::{self, Codec, KIND_COMPRESSED, KIND_RAW};
use std::ffi::OsStr;
use std::path::Path;

/// Bytes of each corpus file used: small in debug builds to keep the test fast.
const PREFIX: usize = if cfg!(debug_assertions) {
    1 << 20
} else {
    64 << 20
};

fn compress(input: &Path, output: &Path, extra: &[&str]) {
    let mut args: Vec<&OsStr> = vec![OsStr::new("compress")];
    args.extend(extra.iter().map(OsStr::new));
    args.push(input.as_os_str());
    args.push(output.as_os_str());
    let out = run(&args);
    assert!(
        out.status.success(),
        "compress {extra:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn decompress(input: &Path, output: &Path) {
    let out = run(&[
        OsStr::new("decompress"),
        input.as_os_str(),
        output.as_os_str(),
    ]);
    assert!(
        out.status.success(),
        "decompress failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Bytes of compressed units per container whose 4 KiB window is checked strictly (one zlib
/// call per output byte: slow in debug builds).
const WINDOW_CHECK_BYTES: usize = if cfg!(debug_assertions) {
    256 << 10
} else {
    64 << 20
};

/// Parses the container and checks every unit independently of the CLI's decoder:
/// compressed deflate units through zlib (and, up to [`WINDOW_CHECK_BYTES`], through zlib with
/// a strictly enforced 4 KiB window), raw units byte for byte, and each unit's CRC against
/// crc32fast. Returns (compressed units, raw units).
fn check_units_with_zlib(container_bytes: &[u8], original: &[u8]) -> (usize, usize) {
    let mut r = container_bytes;
    let (h, entries) =
        container::read_index(&mut r, Some(container_bytes.len() as u64)).expect("valid index");
    assert_eq!(h.original_len, original.len() as u64);
    assert_eq!(h.codec, Codec::Deflate);
    let mut payload = r;
    let (mut comp, mut raw) = (0, 0);
    let mut window_budget = WINDOW_CHECK_BYTES;
    for (i, e) in entries.iter().enumerate() {
        let start = i * h.unit_size as usize;
        let unit = &original[start..start + h.unit_len(i as u64)];
        let (p, rest) = payload.split_at(e.stored_len as usize);
        payload = rest;
        assert_eq!(e.crc, crc32fast::hash(unit), "unit {i} crc");
        match e.kind {
            KIND_COMPRESSED => {
                let got = zlib_inflate_raw(p, unit.len(), 15)
                    .unwrap_or_else(|c| panic!("zlib rejects unit {i}: {c}"));
                assert!(got == unit, "unit {i}: zlib output differs");
                if window_budget >= unit.len() {
                    window_budget -= unit.len();
                    let mut out = vec![0u8; unit.len()];
                    let n = iaa_bench::peers::zlib::inflate_within_window(p, &mut out, 12)
                        .unwrap_or_else(|e| panic!("unit {i} exceeds the 4 KiB window: {e}"));
                    assert!(
                        n == unit.len() && out == unit,
                        "unit {i}: strict zlib differs"
                    );
                }
                comp += 1;
            }
            KIND_RAW => {
                assert_eq!(p, unit, "raw unit {i}");
                raw += 1;
            }
            k => panic!("unit {i}: kind {k}"),
        }
    }
    assert!(payload.is_empty(), "bytes left after the payloads");
    (comp, raw)
}

#[test]
fn corpus_round_trip_at_many_unit_sizes_and_zlib_reads_every_unit() {
    let Some(files) = corpus(PREFIX) else { return };
    let dir = scratch("corpus");
    for (name, data) in &files {
        let input = dir.join(name);
        std::fs::write(&input, data).unwrap();
        let whole = data.len().to_string();
        for unit in ["100", "4096", "4097", "65536", whole.as_str()] {
            let c = dir.join(format!("{name}.{unit}.iaa"));
            let back = dir.join(format!("{name}.{unit}.out"));
            compress(&input, &c, &["--unit-size", unit]);
            decompress(&c, &back);
            assert!(
                std::fs::read(&back).unwrap() == *data,
                "{name} @ {unit}: round trip differs"
            );
            let cb = std::fs::read(&c).unwrap();
            let (comp, _raw) = check_units_with_zlib(&cb, data);
            assert!(comp > 0, "{name} @ {unit}: nothing compressed");
            if unit != "100" {
                assert!(
                    cb.len() < data.len(),
                    "{name} @ {unit}: container not smaller"
                );
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn unit_size_one_on_small_input() {
    let Some(files) = corpus(3000) else { return };
    let dir = scratch("unit1");
    let data = &files[0].1;
    let input = dir.join("small");
    std::fs::write(&input, data).unwrap();
    let c = dir.join("small.iaa");
    compress(&input, &c, &["--unit-size", "1"]);
    let cb = std::fs::read(&c).unwrap();
    // Every 1-byte unit is stored raw: header + 12 bytes per unit + table CRC + the data.
    assert_eq!(cb.len(), 32 + 12 * data.len() + 4 + data.len());
    let (comp, raw) = check_units_with_zlib(&cb, data);
    assert_eq!((comp, raw), (0, data.len()));
    let back = dir.join("small.out");
    decompress(&c, &back);
    assert!(std::fs::read(&back).unwrap() == *data);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn incompressible_units_are_stored_raw_and_mixed_units_round_trip() {
    let dir = scratch("noise");
    let mut data = noise(3 * 4096, 7);
    data.extend(b"abcabcabd".repeat(2000));
    data.extend(noise(5000, 9));
    let input = dir.join("mixed");
    std::fs::write(&input, &data).unwrap();
    let c = dir.join("mixed.iaa");
    compress(&input, &c, &["--unit-size", "4096"]);
    let cb = std::fs::read(&c).unwrap();
    let (comp, raw) = check_units_with_zlib(&cb, &data);
    assert!(raw >= 3, "random units must be stored raw (raw={raw})");
    assert!(
        comp >= 3,
        "repetitive units must be compressed (comp={comp})"
    );
    let back = dir.join("mixed.out");
    decompress(&c, &back);
    assert!(std::fs::read(&back).unwrap() == data);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn empty_input_round_trips() {
    let dir = scratch("empty");
    let input = dir.join("empty");
    std::fs::write(&input, b"").unwrap();
    let c = dir.join("empty.iaa");
    compress(&input, &c, &[]);
    assert_eq!(std::fs::metadata(&c).unwrap().len(), 32 + 4);
    let back = dir.join("empty.out");
    decompress(&c, &back);
    assert_eq!(std::fs::read(&back).unwrap(), b"");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn zstd_and_better_level_round_trip() {
    let Some(files) = corpus(200 << 10) else {
        return;
    };
    let dir = scratch("zstd");
    for (name, data) in files.iter().take(2) {
        let input = dir.join(name);
        std::fs::write(&input, data).unwrap();
        for (k, extra) in [
            &["--codec", "zstd"][..],
            &["--codec", "zstd", "--level", "better"][..],
            &["--level", "better", "--unit-size", "16384"][..],
        ]
        .into_iter()
        .enumerate()
        {
            // Outputs of their own: an existing output is refused without -f.
            let c = dir.join(format!("{name}.{k}.iaa"));
            let back = dir.join(format!("{name}.{k}.out"));
            compress(&input, &c, extra);
            let cb = std::fs::read(&c).unwrap();
            assert!(cb.len() < data.len(), "{name} {extra:?}");
            let mut r = cb.as_slice();
            let (h, _) = container::read_index(&mut r, Some(cb.len() as u64)).unwrap();
            let want = if extra.contains(&"zstd") {
                Codec::Zstd
            } else {
                Codec::Deflate
            };
            assert_eq!(h.codec, want);
            assert_eq!(
                h.flags & container::FLAG_LEVEL_BETTER != 0,
                extra.contains(&"better")
            );
            decompress(&c, &back);
            assert!(std::fs::read(&back).unwrap() == *data, "{name} {extra:?}");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn stdin_and_stdout_with_dash() {
    use std::io::Write;
    use std::process::Stdio;
    let data: Vec<u8> = (0..100_000u32)
        .flat_map(|i| (i % 251).to_le_bytes())
        .collect();
    let mut child = iaa()
        .args(["compress", "--unit-size", "8192", "-", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let d2 = data.clone();
    let writer = std::thread::spawn(move || stdin.write_all(&d2));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(out.status.success());
    let packed = out.stdout;
    assert!(packed.len() < data.len() / 2);
    check_units_with_zlib(&packed, &data);

    let mut child = iaa()
        .args(["decompress", "-", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(&packed));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout == data);
}

#[test]
fn device_model_path_round_trip_and_zlib_reads_every_unit() {
    let Some(files) = corpus(256 << 10) else {
        return;
    };
    let dir = scratch("model");
    for (name, data) in files.iter().take(2) {
        let input = dir.join(name);
        std::fs::write(&input, data).unwrap();
        let c = dir.join(format!("{name}.iaa"));
        let back = dir.join(format!("{name}.out"));
        let out = iaa()
            .env("IAA_DEVICE", "model")
            .args(["compress", "-v", "--unit-size", "4096"])
            .arg(&input)
            .arg(&c)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{err}");
        assert!(err.contains("hardware: device model"), "{err}");
        let cb = std::fs::read(&c).unwrap();
        let (comp, _) = check_units_with_zlib(&cb, data);
        assert!(comp > 0);
        let out = iaa()
            .env("IAA_DEVICE", "model")
            .args(["decompress"])
            .arg(&c)
            .arg(&back)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(std::fs::read(&back).unwrap() == *data, "{name}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// 64 KiB units with default settings and hybrid off: every unit runs on the device model, and
/// `-v` says so (compress and decompress).
#[test]
fn large_units_run_on_the_device_with_default_settings() {
    let data: Vec<u8> = match corpus(1 << 20) {
        Some(f) => f.into_iter().next().unwrap().1,
        None => noise(1 << 20, 9).iter().map(|b| b % 16).collect(),
    };
    let dir = scratch("large-units");
    let input = dir.join("in");
    std::fs::write(&input, &data).unwrap();
    let c = dir.join("in.iaa");
    let back = dir.join("back");
    let units = data.len().div_ceil(65536);
    let out = iaa()
        .env("IAA_DEVICE", "model")
        // The debug-built model needs more than the default 20 ms for a 64 KiB unit.
        .args([
            "compress",
            "-v",
            "--no-hybrid",
            "--completion-timeout-ms",
            "5000",
        ])
        .args(["--unit-size", "65536"])
        .arg(&input)
        .arg(&c)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains(&format!(
            "units on the device: {units} compress, 0 decompress; in software: 0 compress, 0 \
             decompress"
        )),
        "{err}"
    );
    let out = iaa()
        .env("IAA_DEVICE", "model")
        .args([
            "decompress",
            "-v",
            "--no-hybrid",
            "--completion-timeout-ms",
            "5000",
        ])
        .arg(&c)
        .arg(&back)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let stored: usize = {
        // Stored-raw units never reach a decompressor.
        let line = err.lines().find(|l| l.contains("stored raw")).unwrap_or("");
        line.rsplit(", ")
            .next()
            .and_then(|t| t.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    assert!(
        err.contains(&format!(
            "units on the device: 0 compress, {} decompress; in software: 0 compress, 0 \
             decompress",
            units - stored
        )),
        "{err}"
    );
    assert!(std::fs::read(&back).unwrap() == data);
    let _ = std::fs::remove_dir_all(&dir);
}
