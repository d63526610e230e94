//! Corrupt, truncated and lying containers, and refused options: each gives a clear error,
//! a non-zero exit code, no panic, and no output file left behind.

mod common;

use common::*;
use iaa_cli::container::{self, Header, HEADER_LEN};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};

struct Fixture {
    dir: PathBuf,
    /// A valid container: 2 raw (random) units then compressible units, unit size 4096.
    good: Vec<u8>,
}

fn fixture(name: &str) -> Fixture {
    let dir = scratch(name);
    let mut data = noise(2 * 4096, 3);
    data.extend(b"hello, container! ".repeat(1500));
    let input = dir.join("in");
    std::fs::write(&input, &data).unwrap();
    let c = dir.join("good.iaa");
    let out = run(&[OsStr::new("compress"), input.as_os_str(), c.as_os_str()]);
    assert!(out.status.success());
    let good = std::fs::read(&c).unwrap();
    Fixture { dir, good }
}

/// Writes `bytes` as a container, decompresses it, and returns stderr; asserts failure
/// and that the output file was removed.
fn decompress_fails(dir: &Path, bytes: &[u8]) -> String {
    let c = dir.join("bad.iaa");
    let o = dir.join("bad.out");
    std::fs::write(&c, bytes).unwrap();
    let out = run(&[OsStr::new("decompress"), c.as_os_str(), o.as_os_str()]);
    assert!(!out.status.success(), "corrupt container was accepted");
    assert!(!o.exists(), "partial output left behind");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Rewrites the header CRC after a deliberate change, so the change itself is what is caught.
fn fix_header_crc(b: &mut [u8]) {
    let crc = container::crc32(&b[..28]);
    b[28..32].copy_from_slice(&crc.to_le_bytes());
}

#[test]
fn truncated_containers() {
    let f = fixture("trunc");
    for cut in [0, 5, HEADER_LEN - 1] {
        let e = decompress_fails(&f.dir, &f.good[..cut]);
        assert!(
            e.contains("truncated") && e.contains("header"),
            "cut {cut}: {e}"
        );
    }
    let e = decompress_fails(&f.dir, &f.good[..HEADER_LEN + 7]);
    assert!(e.contains("truncated") && e.contains("unit table"), "{e}");
    // Cut inside the payloads: the size check names the mismatch before decoding.
    let e = decompress_fails(&f.dir, &f.good[..f.good.len() - 10]);
    assert!(e.contains("payload size mismatch"), "{e}");
}

#[test]
fn truncated_stream_on_stdin() {
    use std::io::Write;
    use std::process::Stdio;
    let f = fixture("trunc-stdin");
    let cut = f.good[..f.good.len() - 10].to_vec();
    let mut child = iaa()
        .args(["decompress", "-", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let w = std::thread::spawn(move || stdin.write_all(&cut));
    let out = child.wait_with_output().unwrap();
    let _ = w.join();
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(e.contains("truncated") && e.contains("payloads"), "{e}");
}

#[test]
fn wrong_magic_version_and_header_crc() {
    let f = fixture("magic");
    let mut b = f.good.clone();
    b[0] = b'X';
    let e = decompress_fails(&f.dir, &b);
    assert!(e.contains("not an iaa container"), "{e}");

    let mut b = f.good.clone();
    b[4] = 9;
    fix_header_crc(&mut b);
    let e = decompress_fails(&f.dir, &b);
    assert!(e.contains("unsupported container version 9"), "{e}");

    let mut b = f.good.clone();
    b[14] ^= 1; // original_len, CRC not fixed
    let e = decompress_fails(&f.dir, &b);
    assert!(e.contains("header CRC mismatch"), "{e}");
}

#[test]
fn flipped_payload_byte_gives_crc_error() {
    let f = fixture("flip");
    let mut r = f.good.as_slice();
    let (h, entries) = container::read_index(&mut r, Some(f.good.len() as u64)).unwrap();
    let payload_start = HEADER_LEN + h.table_len() as usize;
    // Unit 0 is random data stored raw: a flipped byte can only be caught by the CRC.
    assert_eq!(entries[0].kind, container::KIND_RAW);
    let mut b = f.good.clone();
    b[payload_start + 100] ^= 0x40;
    let e = decompress_fails(&f.dir, &b);
    assert!(e.contains("unit 0: CRC mismatch"), "{e}");

    // A compressed unit: the deflate stream breaks or the CRC catches the change.
    let off: usize = entries[..2].iter().map(|e| e.stored_len as usize).sum();
    assert_eq!(entries[2].kind, container::KIND_COMPRESSED);
    let mut b = f.good.clone();
    b[payload_start + off + entries[2].stored_len as usize / 2] ^= 0x10;
    let e = decompress_fails(&f.dir, &b);
    assert!(e.contains("unit 2:"), "{e}");
}

#[test]
fn unit_count_lies() {
    let f = fixture("count");
    for lie in [0u64, 3, 1 << 40] {
        let mut b = f.good.clone();
        b[20..28].copy_from_slice(&lie.to_le_bytes());
        fix_header_crc(&mut b);
        let e = decompress_fails(&f.dir, &b);
        assert!(
            e.contains("unit count mismatch") || e.contains("header says"),
            "{lie}: {e}"
        );
    }
    // A consistent but huge claim (original_len and unit_count both lie) is refused by size,
    // without allocating the table it claims.
    let mut b = f.good.clone();
    let h = Header::decode(b[..32].try_into().unwrap()).unwrap();
    let units: u64 = 1 << 32;
    b[12..20].copy_from_slice(&(units * u64::from(h.unit_size)).to_le_bytes());
    b[20..28].copy_from_slice(&units.to_le_bytes());
    fix_header_crc(&mut b);
    let e = decompress_fails(&f.dir, &b);
    assert!(e.contains("too large"), "{e}");
    // Plausible size, but the file is far too short for it.
    let units: u64 = 1000;
    let mut b = f.good.clone();
    b[12..20].copy_from_slice(&(units * u64::from(h.unit_size)).to_le_bytes());
    b[20..28].copy_from_slice(&units.to_le_bytes());
    fix_header_crc(&mut b);
    let e = decompress_fails(&f.dir, &b);
    assert!(e.contains("truncated") || e.contains("table CRC"), "{e}");
}

#[test]
fn table_corruption_and_trailing_data() {
    let f = fixture("table");
    let mut b = f.good.clone();
    b[HEADER_LEN] ^= 1; // stored_len of unit 0
    let e = decompress_fails(&f.dir, &b);
    assert!(e.contains("unit table CRC mismatch"), "{e}");

    let mut b = f.good.clone();
    b.extend_from_slice(b"junk");
    let e = decompress_fails(&f.dir, &b);
    assert!(e.contains("payload size mismatch"), "{e}");
}

#[test]
fn refused_unit_sizes_and_missing_input() {
    let f = fixture("opts");
    let input = f.dir.join("in");
    let o = f.dir.join("x.iaa");
    for bad in ["0", "16777217", "99999999999"] {
        let out = run(&[
            OsStr::new("compress"),
            OsStr::new("--unit-size"),
            OsStr::new(bad),
            input.as_os_str(),
            o.as_os_str(),
        ]);
        assert!(!out.status.success(), "unit size {bad} accepted");
        assert!(!o.exists());
        let e = String::from_utf8_lossy(&out.stderr);
        assert!(
            e.contains("unit size") || e.contains("unit-size"),
            "{bad}: {e}"
        );
    }
    let missing = f.dir.join("does-not-exist");
    let out = run(&[OsStr::new("compress"), missing.as_os_str(), o.as_os_str()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("does-not-exist"));
    let out = run(&[OsStr::new("decompress"), missing.as_os_str(), o.as_os_str()]);
    assert!(!out.status.success());
}

#[test]
fn output_naming_the_input_is_refused_and_the_input_survives() {
    let f = fixture("same");
    let input = f.dir.join("in");
    let before = std::fs::read(&input).unwrap();
    let out = run(&[OsStr::new("compress"), input.as_os_str(), input.as_os_str()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("same file"));
    assert_eq!(std::fs::read(&input).unwrap(), before);
    let c = f.dir.join("good.iaa");
    let out = run(&[OsStr::new("decompress"), c.as_os_str(), c.as_os_str()]);
    assert!(!out.status.success());
    assert_eq!(std::fs::read(&c).unwrap(), f.good);
}

#[test]
fn a_failed_decompress_leaves_an_existing_output_byte_identical() {
    let f = fixture("keep");
    let c = f.dir.join("bad.iaa");
    let mut b = f.good.clone();
    let last = b.len() - 1;
    b[last] ^= 0x55; // a payload byte of the last unit
    std::fs::write(&c, &b).unwrap();
    let o = f.dir.join("precious");
    let before = b"an existing file that must survive".repeat(100);
    std::fs::write(&o, &before).unwrap();
    // With -f the failure still leaves the old file, byte for byte.
    let out = run(&[
        OsStr::new("decompress"),
        OsStr::new("-f"),
        c.as_os_str(),
        o.as_os_str(),
    ]);
    assert!(!out.status.success());
    assert_eq!(std::fs::read(&o).unwrap(), before);
    // No temporary file is left behind either.
    let names: Vec<_> = std::fs::read_dir(&f.dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!names.iter().any(|n| n.contains("iaa-tmp")), "{names:?}");
}

#[test]
fn an_existing_output_needs_force() {
    let f = fixture("force");
    let c = f.dir.join("good.iaa");
    let o = f.dir.join("exists");
    std::fs::write(&o, b"old").unwrap();
    let out = run(&[OsStr::new("decompress"), c.as_os_str(), o.as_os_str()]);
    assert!(!out.status.success());
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(e.contains("exists") && e.contains("-f"), "{e}");
    assert_eq!(std::fs::read(&o).unwrap(), b"old");
    let input = f.dir.join("in");
    let out = run(&[OsStr::new("compress"), input.as_os_str(), c.as_os_str()]);
    assert!(
        !out.status.success(),
        "compress replaced its output without -f"
    );
    assert_eq!(std::fs::read(&c).unwrap(), f.good);
    // -f replaces it.
    let out = run(&[
        OsStr::new("decompress"),
        OsStr::new("--force"),
        c.as_os_str(),
        o.as_os_str(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read(&o).unwrap(), std::fs::read(&input).unwrap());
}

/// Compresses like the pool, but appends a byte after the deflate stream of unit 1.
struct TrailingUnit1(iaa_cli::codecs::PoolCodec);

impl container::UnitCodec for TrailingUnit1 {
    fn compress_chunk(
        &mut self,
        src: &[u8],
        unit_size: usize,
        slots: &mut [u8],
        out: &mut [container::UnitOutcome],
    ) -> Result<(), (usize, String)> {
        self.0.compress_chunk(src, unit_size, slots, out)?;
        if let container::UnitOutcome::Compressed(n) = out[1] {
            assert!(n + 1 < unit_size);
            slots[unit_size + n] = 0xA5;
            out[1] = container::UnitOutcome::Compressed(n + 1);
        }
        Ok(())
    }

    fn decompress_chunk(
        &mut self,
        inputs: &[&[u8]],
        outputs: &mut [&mut [u8]],
        lens: &mut [usize],
    ) -> Result<(), (usize, String)> {
        self.0.decompress_chunk(inputs, outputs, lens)
    }
}

#[test]
fn bytes_after_a_units_stream_are_blamed_on_that_unit() {
    let dir = scratch("trailing-unit");
    let data = b"hello, container! ".repeat(1500);
    let mut codec = TrailingUnit1(
        iaa_cli::codecs::PoolCodec::new(
            container::Codec::Deflate,
            iaa_cli::codecs::CliLevel::Fast,
            4096,
            true,
            None,
            (iaa::HwMode::Auto, None),
        )
        .unwrap(),
    );
    let mut c = std::io::Cursor::new(Vec::new());
    let params = container::Params {
        codec: container::Codec::Deflate,
        flags: 0,
        unit_size: 4096,
    };
    container::compress(
        &data[..],
        data.len() as u64,
        &mut c,
        params,
        &mut codec,
        &mut |_| {},
    )
    .unwrap();
    let e = decompress_fails(&dir, c.get_ref());
    assert!(
        e.contains("unit 1:") && e.contains("1 bytes follow the deflate stream"),
        "{e}"
    );
}
