//! Builds the C and C++ examples of `examples/` against the library cargo just built, with the
//! flags of the generated pkg-config files, and runs them:
//! - `examples/c/zlib_interop.c`: library -> zlib inflate and zlib deflate -> library, on a
//!   corpus file (Silesia `dickens`, unzipped at test time) or a generated file; once on the
//!   default pool, once on the hardware path through the device model (`IAA_DEVICE=model`);
//! - `examples/c/misuse.c`: wrong arguments from C give error codes (linked to the shared
//!   library through `iaa.pc`);
//! - `examples/cpp/block_codec.cpp`: a RocksDB-style block compressor, two threads.
//!
//! Needs `cc`, `c++`, `pkg-config` and zlib's header (Debian: build-essential pkg-config
//! zlib1g-dev); `CC`/`CXX` override the compilers.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

/// `<target-dir>/<profile>`: OUT_DIR is `<profile>/build/iaa-capi-<hash>/out`.
fn profile_dir() -> PathBuf {
    Path::new(env!("OUT_DIR"))
        .ancestors()
        .nth(3)
        .expect("OUT_DIR has a profile directory")
        .to_path_buf()
}

/// Where the libraries of this build are: `cargo test` leaves them in `deps/`, `cargo build`
/// copies them to the profile directory. The newer one wins.
fn lib_dir() -> PathBuf {
    let p = profile_dir();
    let mtime = |d: &Path| {
        std::fs::metadata(d.join("libiaa_capi.a"))
            .and_then(|m| m.modified())
            .ok()
    };
    let deps = p.join("deps");
    match (mtime(&deps), mtime(&p)) {
        (Some(a), Some(b)) if b > a => p,
        (Some(_), _) => deps,
        (None, Some(_)) => p,
        (None, None) => panic!("libiaa_capi.a is in neither {p:?} nor {deps:?}"),
    }
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A fresh scratch directory for one test.
fn scratch(name: &str) -> PathBuf {
    let d =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("capi-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("scratch dir");
    d
}

/// The C package (`iaa-dist`'s output) made from this build's libraries, once per test
/// process: `<dist>/include`, `<dist>/lib/libiaa.a`, `<dist>/lib/libiaa.so*`,
/// `<dist>/lib/pkgconfig/{iaa,iaa-static}.pc`.
fn dist() -> &'static Path {
    static DIST: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIST.get_or_init(|| {
        let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
        // Packages of earlier test runs whose process is gone.
        for e in std::fs::read_dir(tmp).into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(pid) = name.strip_prefix("capi-dist-") {
                if !Path::new("/proc").join(pid).exists() {
                    let _ = std::fs::remove_dir_all(e.path());
                }
            }
        }
        let out = tmp.join(format!("capi-dist-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&out);
        let o = Command::new(env!("CARGO_BIN_EXE_iaa-dist"))
            .arg("--lib-dir")
            .arg(lib_dir())
            .arg("--out")
            .arg(&out)
            .output()
            .expect("iaa-dist runs");
        assert!(
            o.status.success(),
            "iaa-dist failed: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        out
    })
}

/// `pkg-config --cflags --libs <name>` with the package's pkgconfig directory.
fn pkg_config(name: &str) -> Vec<String> {
    let out = Command::new("pkg-config")
        .env("PKG_CONFIG_PATH", dist().join("lib/pkgconfig"))
        .args(["--cflags", "--libs", name])
        .output()
        .expect("pkg-config runs (Debian package pkg-config)");
    assert!(
        out.status.success(),
        "pkg-config {name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("utf-8 flags")
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

fn compiler(var: &str, default: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| default.to_owned())
}

/// Compiles `src` into `exe` with `flags` before and `libs` after the source.
fn compile(cc: &str, src: &Path, exe: &Path, flags: &[&str], libs: &[String]) {
    let out = Command::new(cc)
        .args(flags)
        .arg(src)
        .args(libs)
        .arg("-o")
        .arg(exe)
        .output()
        .unwrap_or_else(|e| panic!("running {cc}: {e}"));
    assert!(
        out.status.success(),
        "{cc} {src:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs `exe args`, asserts exit status 0, returns stdout.
fn run(exe: &Path, args: &[&Path]) -> String {
    let out = Command::new(exe)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running {exe:?}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{exe:?} exited with {:?}\nstdout:\n{stdout}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Bytes the examples work on: the first `len` bytes of Silesia `dickens` (so a debug build
/// stays fast), or, without the corpus, generated text with an incompressible stretch.
fn corpus_file(dir: &Path, len: usize) -> PathBuf {
    let zip_path = workspace().join("../shared/corpus/dickens.zip");
    let data = match std::fs::File::open(&zip_path) {
        Ok(f) => {
            let mut z = zip::ZipArchive::new(f).expect("a zip archive");
            let mut entry = z.by_index(0).expect("one entry");
            let mut buf = Vec::with_capacity(len);
            entry
                .by_ref()
                .take(len as u64)
                .read_to_end(&mut buf)
                .expect("unzip");
            buf
        }
        Err(_) => {
            println!("{zip_path:?} absent: using generated data");
            let mut v = Vec::with_capacity(len);
            let mut x = 1u32;
            let mut i = 0u64;
            while v.len() < len {
                if (v.len() / 4096) % 7 == 3 {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    v.push(x as u8);
                } else {
                    v.extend_from_slice(
                        format!("line {i}: some generated words, again. ").as_bytes(),
                    );
                    i += 1;
                }
            }
            v.truncate(len);
            v
        }
    };
    // An odd length, so the last unit is short.
    let path = dir.join("input.bin");
    std::fs::write(&path, &data[..data.len() - 777]).expect("write input");
    path
}

const C_FLAGS: &[&str] = &[
    "-std=c11",
    "-O1",
    "-Wall",
    "-Wextra",
    "-Wpedantic",
    "-Werror",
];

/// Compiles examples/c/zlib_interop.c against the static library.
fn build_zlib_interop(dir: &Path) -> PathBuf {
    let exe = dir.join("zlib_interop");
    let mut libs = pkg_config("iaa-static");
    libs.push("-lz".into());
    compile(
        &compiler("CC", "cc"),
        &workspace().join("examples/c/zlib_interop.c"),
        &exe,
        C_FLAGS,
        &libs,
    );
    exe
}

/// The number after `key` in the example's output.
fn figure(out: &str, key: &str) -> u64 {
    let at = out
        .find(key)
        .unwrap_or_else(|| panic!("{key:?} not in {out}"))
        + key.len();
    out[at..]
        .trim_start()
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .and_then(|d| d.parse().ok())
        .unwrap_or_else(|| panic!("no number after {key:?} in {out}"))
}

#[test]
fn zlib_interop_example_round_trips_a_corpus_file() {
    let dir = scratch("zlib");
    let input = corpus_file(&dir, 1 << 20);
    let exe = build_zlib_interop(&dir);
    let out = run(&exe, &[&input]);
    println!("{out}");
    assert!(
        out.contains("library->zlib:") && out.contains("zlib->library:"),
        "{out}"
    );
    // The example's own unit count must match the input.
    let units = std::fs::metadata(&input).unwrap().len().div_ceil(4096);
    assert!(
        out.contains(&format!("{units} units decompressed")),
        "{out}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn zlib_interop_example_on_the_device_model_hardware_path() {
    let dir = scratch("zlib-model");
    let input = corpus_file(&dir, 256 << 10);
    let exe = build_zlib_interop(&dir);
    // Fixed, dynamic and trained Huffman codes (IAA_HW_MODE_*) on the device model.
    for mode in ["fixed", "dynamic", "trained"] {
        let out = Command::new(&exe)
            .arg(&input)
            .args(["4096", "hw", mode])
            .env("IAA_DEVICE", "model")
            .output()
            .expect("run the example");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        println!("{mode}: {text}");
        assert!(
            out.status.success(),
            "{:?}\n{text}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(text.contains("path hardware"), "{text}");
        // Units the model compressed were inflated by zlib, and zlib's units decoded by the
        // model.
        assert!(figure(&text, "compress hw") > 0, "{text}");
        assert!(figure(&text, "decompress hw") > 0, "{text}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Compiles examples/c/async_pages.c against the static library and runs it, on the software
/// path and on the device model's hardware path.
#[test]
fn async_example_submits_polls_and_waits_from_c() {
    let dir = scratch("async");
    let exe = dir.join("async_pages");
    let mut libs = pkg_config("iaa-static");
    libs.push("-lz".into());
    compile(
        &compiler("CC", "cc"),
        &workspace().join("examples/c/async_pages.c"),
        &exe,
        C_FLAGS,
        &libs,
    );
    let out = run(&exe, &[]);
    println!("{out}");
    assert!(out.contains("async: 32 units in 2 handles"), "{out}");
    let model = Command::new(&exe)
        .arg("hw")
        .env("IAA_DEVICE", "model")
        .output()
        .expect("run the example");
    let text = String::from_utf8_lossy(&model.stdout).into_owned();
    println!("{text}");
    assert!(
        model.status.success(),
        "{:?}\n{text}\n{}",
        model.status,
        String::from_utf8_lossy(&model.stderr)
    );
    assert!(figure(&text, "hw units") > 0, "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn misuse_example_from_c_gets_error_codes_through_the_shared_library() {
    let dir = scratch("misuse");
    let exe = dir.join("misuse");
    compile(
        &compiler("CC", "cc"),
        &workspace().join("examples/c/misuse.c"),
        &exe,
        C_FLAGS,
        &pkg_config("iaa"),
    );
    // Dynamically linked: the rpath from iaa.pc finds libiaa.so.<major>.<minor> (the SONAME).
    let ldd = Command::new("ldd")
        .arg(&exe)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned());
    if let Ok(text) = ldd {
        assert!(
            text.contains(&format!(
                "libiaa.so.{}.{} => {}",
                env!("CARGO_PKG_VERSION_MAJOR"),
                env!("CARGO_PKG_VERSION_MINOR"),
                dist().join("lib").display()
            )),
            "not linked to the shared library:\n{text}"
        );
    }
    let out = run(&exe, &[]);
    assert!(out.contains("all checks passed"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `tests/c/contexts.c`: threads pinned to one CPU, handles held across other threads'
/// calls; every call finishes (an alarm in the program turns a hang into a failure).
#[test]
fn live_handles_never_block_other_threads_calls_from_c() {
    let dir = scratch("contexts");
    let exe = dir.join("contexts");
    let mut libs = pkg_config("iaa-static");
    libs.push("-pthread".into());
    compile(
        &compiler("CC", "cc"),
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/c/contexts.c"),
        &exe,
        &["-std=c11", "-O1", "-Wall", "-Wextra", "-Werror"],
        &libs,
    );
    for _ in 0..3 {
        let out = run(&exe, &[]);
        assert!(out.contains("all checks passed"), "{out}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// `tests/c/selftest.c`: `iaa_selftest` on the device model passes, and with the model's
/// `bytes_completed` quirk fails naming the field.
#[test]
fn selftest_from_c() {
    let dir = scratch("selftest");
    let exe = dir.join("selftest");
    compile(
        &compiler("CC", "cc"),
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/c/selftest.c"),
        &exe,
        &["-std=c99", "-O1", "-Wall", "-Wextra", "-Werror"],
        &pkg_config("iaa-static"),
    );
    for quirk in [false, true] {
        let mut cmd = Command::new(&exe);
        cmd.env_remove("IAA_MODEL_QUIRK");
        if quirk {
            cmd.env("IAA_MODEL_QUIRK", "bytes_completed");
        }
        let out = cmd.output().expect("run selftest");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("all checks passed"),
            "quirk {quirk}: {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// `tests/c/dsa.c`: the DSA operations from C, in software and on the DSA model
/// (`IAA_DEVICE=model`), against a bitwise CRC-32C and plain loops.
#[test]
fn dsa_operations_from_c() {
    let dir = scratch("dsa");
    let exe = dir.join("dsa");
    compile(
        &compiler("CC", "cc"),
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/c/dsa.c"),
        &exe,
        &[
            "-std=c99",
            "-O1",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-pedantic",
        ],
        &pkg_config("iaa-static"),
    );
    for model in [false, true] {
        let mut cmd = Command::new(&exe);
        cmd.env_remove("IAA_DEVICE");
        if model {
            cmd.env("IAA_DEVICE", "model");
        }
        let out = cmd.output().expect("run dsa");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("all checks passed"),
            "model {model}: {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        eprintln!("model {model}:\n{stdout}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// `tests/c/trailing.c`: a unit with bytes after its stream is `IAA_ETRAILING`, and
/// `iaa_decompress_batch_consumed` reports the stream's length, on the software path and on
/// the device model's hardware path.
#[test]
fn trailing_bytes_and_consumed_counts_from_c() {
    let dir = scratch("trailing");
    let exe = dir.join("trailing");
    let mut libs = pkg_config("iaa-static");
    libs.push("-pthread".into());
    compile(
        &compiler("CC", "cc"),
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/c/trailing.c"),
        &exe,
        &[
            "-std=c89",
            "-O1",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-pedantic",
        ],
        &libs,
    );
    for device in ["none", "model"] {
        let mut cmd = Command::new(&exe);
        if device == "model" {
            cmd.env("IAA_DEVICE", "model");
        } else {
            cmd.env_remove("IAA_DEVICE");
        }
        let out = cmd.output().expect("runs");
        let stdout = String::from_utf8_lossy(&out.stdout);
        println!("IAA_DEVICE={device}: {stdout}");
        assert!(
            out.status.success() && stdout.contains("all checks passed"),
            "IAA_DEVICE={device}: {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let hw = stdout.contains("pool: hardware");
        assert_eq!(hw, device == "model", "{stdout}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn cpp_block_codec_example_round_trips_blocks_from_two_threads() {
    let dir = scratch("cpp");
    let input = corpus_file(&dir, 512 << 10);
    let exe = dir.join("block_codec");
    let mut libs = pkg_config("iaa-static");
    libs.push("-pthread".into());
    compile(
        &compiler("CXX", "c++"),
        &workspace().join("examples/cpp/block_codec.cpp"),
        &exe,
        &["-std=c++17", "-O1", "-Wall", "-Wextra", "-Werror"],
        &libs,
    );
    let out = run(&exe, &[&input]);
    println!("{out}");
    assert!(out.contains("round-trip ok"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A translation unit that includes the header twice and calls the pointer-array and buffer
/// functions with `unsigned char`, `char`, `uint8_t` and `void` pointers, no casts (C89 rules:
/// declarations first, no `//`). Compiled only.
const HEADER_USE: &str = r#"#include <iaa.h>
#include <iaa.h>

int use_header(iaa_pool *pool);
int use_header(iaa_pool *pool)
{
    unsigned char in0[16];
    char out0[64];
    const unsigned char *srcs[1];
    char *dsts[1];
    uint8_t *usrcs[1];
    void *vdsts[1];
    size_t lens[1];
    size_t caps[1];
    int32_t res[1];
    size_t n = 0;
    int rc;
    srcs[0] = in0;
    dsts[0] = out0;
    usrcs[0] = in0;
    vdsts[0] = out0;
    lens[0] = sizeof in0;
    caps[0] = sizeof out0;
    rc = iaa_decompress_batch(pool, srcs, lens, dsts, caps, 1, NULL, res, 1, NULL, NULL);
    rc |= iaa_compress_units(pool, usrcs, lens, vdsts, caps, 1, res, 1, NULL, NULL);
    rc |= iaa_compress(pool, in0, sizeof in0, out0, sizeof out0, &n, NULL);
    rc |= iaa_decompress(pool, out0, n, in0, sizeof in0, NULL, &n, NULL);
    rc |= iaa_compress_batch(pool, out0, sizeof out0, 16, in0, sizeof in0, 16, res, 1, NULL, NULL);
    return rc + (5 - IAA_INCOMPRESSIBLE == 5 + 10001 ? 0 : 1);
}
"#;

/// Whether `cc` accepts `std` at all (older compilers lack `-std=c2x` or `-std=c++20`).
fn compiler_knows(cc: &str, lang: &str, std: &str, dir: &Path) -> bool {
    let probe = dir.join(format!("probe-{std}.o"));
    Command::new(cc)
        .args(["-x", lang, std, "-c", "-o"])
        .arg(&probe)
        .arg("-")
        .stdin(std::process::Stdio::null())
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn header_compiles_as_c89_to_c2x_and_cxx98_to_cxx20_warning_free() {
    let dir = scratch("header");
    let inc = format!(
        "-I{}",
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("include")
            .display()
    );
    let src = dir.join("h.c");
    std::fs::write(&src, HEADER_USE).unwrap();
    let obj = dir.join("h.o");
    let (cc, cxx) = (compiler("CC", "cc"), compiler("CXX", "c++"));
    let matrix = [
        (&cc, "c", "-std=c89"),
        (&cc, "c", "-std=c99"),
        (&cc, "c", "-std=c11"),
        (&cc, "c", "-std=c17"),
        (&cc, "c", "-std=c2x"),
        (&cxx, "c++", "-std=c++98"),
        (&cxx, "c++", "-std=c++03"),
        (&cxx, "c++", "-std=c++11"),
        (&cxx, "c++", "-std=c++14"),
        (&cxx, "c++", "-std=c++17"),
        (&cxx, "c++", "-std=c++20"),
    ];
    let mut checked = Vec::new();
    for (cc, lang, std) in matrix {
        if !compiler_knows(cc, lang, std, &dir) {
            println!("{cc} does not know {std}: skipped");
            continue;
        }
        let out = Command::new(cc)
            .args([
                "-x",
                lang,
                std,
                "-Wall",
                "-Wextra",
                "-Werror",
                "-pedantic",
                &inc,
                "-c",
            ])
            .arg(&src)
            .arg("-o")
            .arg(&obj)
            .output()
            .expect("compiler runs");
        assert!(
            out.status.success(),
            "{cc} {std}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        checked.push(std);
    }
    println!("header compiled with {checked:?}");
    assert!(checked.contains(&"-std=c89") && checked.contains(&"-std=c++98"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Defined global symbols of an ELF object or archive (from `readelf`, which loads no linker
/// plugin).
fn defined_globals(file: &Path, dynamic: bool) -> Vec<String> {
    let out = Command::new("readelf")
        .arg(if dynamic { "--dyn-syms" } else { "-s" })
        .arg("-W")
        .arg(file)
        .output()
        .expect("readelf runs (binutils)");
    let mut v: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() >= 8
                && f[0].ends_with(':')
                && (f[4] == "GLOBAL" || f[4] == "WEAK")
                && f[6] != "UND")
                .then(|| f[7].split('@').next().unwrap_or(f[7]).to_string())
        })
        .collect();
    v.sort();
    v.dedup();
    v
}

#[test]
fn the_package_exports_only_iaa_symbols_and_the_shared_library_has_a_soname() {
    let lib = dist().join("lib");
    let a = defined_globals(&lib.join("libiaa.a"), false);
    let so_file = lib.join(format!("libiaa.so.{}", env!("CARGO_PKG_VERSION")));
    let so = defined_globals(&so_file, true);
    println!(
        "libiaa.a: {} global symbols; libiaa.so: {}",
        a.len(),
        so.len()
    );
    assert!(a.len() >= 20, "{a:?}");
    for s in a.iter().chain(&so) {
        assert!(s.starts_with("iaa_"), "{s} is global");
    }
    assert_eq!(a, so);
    let d = Command::new("readelf")
        .arg("-dW")
        .arg(&so_file)
        .output()
        .unwrap();
    let soname = format!(
        "[libiaa.so.{}.{}]",
        env!("CARGO_PKG_VERSION_MAJOR"),
        env!("CARGO_PKG_VERSION_MINOR")
    );
    assert!(String::from_utf8_lossy(&d.stdout).contains(&soname));
    // No debug sections are shipped.
    let sections = Command::new("readelf")
        .arg("-SW")
        .arg(&so_file)
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&sections.stdout).contains(".debug_info"));
    let pc = std::fs::read_to_string(lib.join("pkgconfig/iaa-static.pc")).unwrap();
    assert!(!pc.contains("gcc_s"), "{pc}");
}

/// An application with its own static zstd and libdeflate (the system's `libzstd.a` and
/// `libdeflate.a`) links `libiaa.a` in either order, and its zstd calls reach the system's
/// zstd, not the copy inside the library. Skipped when the archives are not installed
/// (Debian: libzstd-dev libdeflate-dev).
#[test]
fn an_application_with_its_own_static_zstd_and_libdeflate_links_and_runs() {
    let find = |name: &str| {
        [
            "/usr/lib/x86_64-linux-gnu",
            "/usr/lib64",
            "/usr/lib",
            "/usr/local/lib",
        ]
        .iter()
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
    };
    let (Some(zstd), Some(deflate)) = (find("libzstd.a"), find("libdeflate.a")) else {
        println!("libzstd.a or libdeflate.a not installed: skipped");
        return;
    };
    let dir = scratch("own-zstd");
    let src = dir.join("app.c");
    std::fs::write(
        &src,
        r#"#include <iaa.h>
#include <libdeflate.h>
#include <zstd.h>
#include <stdio.h>
#include <string.h>

int main(void)
{
    static unsigned char data[65536], comp[70000], back[65536];
    struct libdeflate_compressor *c = libdeflate_alloc_compressor(6);
    struct libdeflate_decompressor *d = libdeflate_alloc_decompressor();
    iaa_pool *pool;
    iaa_config cfg;
    size_t n = 0, m = 0, z;
    unsigned i;
    for (i = 0; i < sizeof data; i++)
        data[i] = (unsigned char)("some words and more words "[i % 26] + i / 4096);
    if (ZSTD_versionNumber() != ZSTD_VERSION_NUMBER) {
        printf("zstd is %u, the application was built with %u\n", ZSTD_versionNumber(),
               (unsigned)ZSTD_VERSION_NUMBER);
        return 1;
    }
    z = ZSTD_compress(comp, sizeof comp, data, sizeof data, 3);
    if (ZSTD_isError(z) || ZSTD_decompress(back, sizeof back, comp, z) != sizeof data)
        return 2;
    n = libdeflate_deflate_compress(c, data, sizeof data, comp, sizeof comp);
    if (n == 0 || libdeflate_deflate_decompress(d, comp, n, back, sizeof back, NULL) != 0)
        return 3;
    iaa_config_init(&cfg);
    cfg.path = IAA_PATH_SOFTWARE;
    cfg.contexts = 2;
    if (iaa_pool_create(&cfg, &pool) != 0)
        return 4;
    if (iaa_compress(pool, data, 4096, comp, 4096, &n, NULL) != 0)
        return 5;
    if (iaa_decompress(pool, comp, n, back, 4096, NULL, &m, NULL) != 0 || m != 4096 ||
        memcmp(back, data, 4096) != 0)
        return 6;
    iaa_pool_destroy(pool);
    libdeflate_free_compressor(c);
    libdeflate_free_decompressor(d);
    printf("own zstd %u and libdeflate next to iaa %s: ok\n", ZSTD_versionNumber(),
           iaa_version_string());
    return 0;
}
"#,
    )
    .unwrap();
    let libs = pkg_config("iaa-static");
    let (cflags, iaa_libs): (Vec<String>, Vec<String>) =
        libs.into_iter().partition(|f| f.starts_with("-I"));
    let mut flags: Vec<&str> = C_FLAGS.to_vec();
    flags.extend(cflags.iter().map(String::as_str));
    let sys = vec![zstd.display().to_string(), deflate.display().to_string()];
    let mut variants = vec![
        ("iaa-first", [iaa_libs.clone(), sys.clone()].concat()),
        ("system-first", [sys.clone(), iaa_libs.clone()].concat()),
    ];
    // A fully static program (iaa-static.pc names no libgcc_s), where glibc's libc.a exists.
    if find("libc.a").is_some() {
        variants.push((
            "static",
            [vec!["-static".to_string()], iaa_libs.clone(), sys.clone()].concat(),
        ));
    }
    for (name, order) in variants {
        let exe = dir.join(name);
        compile(&compiler("CC", "cc"), &src, &exe, &flags, &order);
        let out = run(&exe, &[]);
        assert!(out.contains(": ok"), "{name}: {out}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
