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

/// `pkg-config --cflags --libs <name>` with this build's pkgconfig directory and library dir.
fn pkg_config(name: &str) -> Vec<String> {
    let out = Command::new("pkg-config")
        .env("PKG_CONFIG_PATH", profile_dir().join("pkgconfig"))
        .arg(format!("--define-variable=libdir={}", lib_dir().display()))
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
    let out = Command::new(&exe)
        .arg(&input)
        .args(["4096", "hw"])
        .env("IAA_DEVICE", "model")
        .output()
        .expect("run the example");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    println!("{text}");
    assert!(
        out.status.success(),
        "{:?}\n{text}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("path hardware"), "{text}");
    // Units the model compressed were inflated by zlib, and zlib's units decoded by the model.
    assert!(figure(&text, "compress hw") > 0, "{text}");
    assert!(figure(&text, "decompress hw") > 0, "{text}");
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
    // Dynamically linked: the rpath from iaa.pc finds libiaa_capi.so.
    let ldd = Command::new("ldd")
        .arg(&exe)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned());
    if let Ok(text) = ldd {
        assert!(
            text.contains("libiaa_capi.so"),
            "not linked to the shared library:\n{text}"
        );
    }
    let out = run(&exe, &[]);
    assert!(out.contains("all checks passed"), "{out}");
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

#[test]
fn header_compiles_as_strict_c99_and_cxx() {
    let dir = scratch("header");
    let inc = format!(
        "-I{}",
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("include")
            .display()
    );
    let c = dir.join("h.c");
    std::fs::write(
        &c,
        "#include <iaa.h>\n#include <iaa.h>\n\
         int main(void) { return 5 - IAA_INCOMPRESSIBLE == 5 + 10001 ? 0 : 1; }\n",
    )
    .unwrap();
    let obj = dir.join("h.o");
    for (cc, std) in [
        (compiler("CC", "cc"), "-std=c11"),
        (compiler("CXX", "c++"), "-std=c++11"),
    ] {
        let mut cmd = Command::new(&cc);
        cmd.args([std, "-Wall", "-Wextra", "-Wpedantic", "-Werror", &inc, "-c"]);
        if cc.contains("++") {
            cmd.args(["-x", "c++"]);
        }
        let out = cmd
            .arg(&c)
            .arg("-o")
            .arg(&obj)
            .output()
            .expect("compiler runs");
        assert!(
            out.status.success(),
            "{cc}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
