//! Writes the pkg-config files `iaa.pc` (shared library) and `iaa-static.pc` (static archive)
//! into `<target-dir>/<profile>/pkgconfig/`, next to `libiaa_capi.so` and `libiaa_capi.a`.
//!
//! `prefix` is the profile directory itself (the files are used in place, not installed), and
//! the include directory is this crate's `include/`. Use:
//!
//! ```sh
//! cargo build --release -p iaa-capi
//! export PKG_CONFIG_PATH=$CARGO_TARGET_DIR/release/pkgconfig   # default target dir: target/
//! cc app.c $(pkg-config --cflags --libs iaa)          # shared, rpath set to the build dir
//! cc app.c $(pkg-config --cflags --libs iaa-static)   # static, no run-time dependency
//! ```

use std::env;
use std::fs;
use std::path::{Path, PathBuf};

/// System libraries a Rust `staticlib` needs on the target, as printed by
/// `cargo rustc -p iaa-capi --release --crate-type staticlib -- --print native-static-libs`.
/// The test `tests/c_examples.rs` links the C examples with exactly these flags, so a missing
/// library fails that test.
fn native_static_libs(target_os: &str, target_env: &str) -> &'static str {
    match (target_os, target_env) {
        ("linux", "gnu") => "-lgcc_s -lutil -lrt -lpthread -lm -ldl -lc",
        ("linux", "musl") => "-lc",
        ("linux", _) => "-lpthread -lm -ldl -lc",
        ("macos", _) => "-lSystem -lc -lm",
        _ => "-lpthread -lm -ldl",
    }
}

/// The profile directory (`<target-dir>/<profile>` or `<target-dir>/<triple>/<profile>`):
/// OUT_DIR is `<profile-dir>/build/<pkg>-<hash>/out`.
fn profile_dir(out_dir: &Path) -> Option<PathBuf> {
    out_dir.ancestors().nth(3).map(Path::to_path_buf)
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let version = env::var("CARGO_PKG_VERSION").expect("cargo sets CARGO_PKG_VERSION");
    let os = env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let tenv = env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    let Some(libdir) = profile_dir(&out_dir) else {
        println!("cargo:warning=cannot find the profile directory above {out_dir:?}; no iaa.pc");
        return;
    };
    let include = manifest.join("include");
    // With the `isal` feature the static library also needs the system's libisal.
    let isal = if env::var_os("CARGO_FEATURE_ISAL").is_some() {
        "-lisal "
    } else {
        ""
    };
    let libs = format!("{isal}{}", native_static_libs(&os, &tenv));
    let common = format!(
        "prefix={prefix}\nlibdir=${{prefix}}\nincludedir={include}\n\n\
         Description: Batched compression over Intel IAA with software fallback (C ABI)\n\
         Version: {version}\nCflags: -I${{includedir}}\n",
        prefix = libdir.display(),
        include = include.display(),
    );
    let shared = format!(
        "{common}Name: iaa\n\
         Libs: -L${{libdir}} -Wl,-rpath,${{libdir}} -liaa_capi\n\
         Libs.private: {libs}\n"
    );
    let static_ = format!(
        "{common}Name: iaa-static\n\
         Libs: ${{libdir}}/libiaa_capi.a {libs}\n"
    );
    let pc_dir = libdir.join("pkgconfig");
    let write = |name: &str, text: &str| {
        let path = pc_dir.join(name);
        // Rewrite only on change so dependants' mtimes stay put.
        if fs::read_to_string(&path).ok().as_deref() != Some(text) {
            if let Err(e) = fs::write(&path, text) {
                println!("cargo:warning=writing {path:?} failed: {e}");
            }
        }
    };
    if let Err(e) = fs::create_dir_all(&pc_dir) {
        println!("cargo:warning=creating {pc_dir:?} failed: {e}");
        return;
    }
    write("iaa.pc", &shared);
    write("iaa-static.pc", &static_);
}
