//! `iaa-dist`: turns the libraries cargo built into the C package a program links:
//!
//! ```text
//! <out>/include/iaa.h
//! <out>/lib/libiaa.a                   static: only the iaa_* symbols are global
//! <out>/lib/libiaa.so.<version>        shared, SONAME libiaa.so.<major>.<minor>, stripped
//! <out>/lib/libiaa.so.<major>.<minor>  -> libiaa.so.<version>
//! <out>/lib/libiaa.so                  -> libiaa.so.<version>
//! <out>/lib/pkgconfig/iaa.pc           shared (with an rpath to <out>/lib)
//! <out>/lib/pkgconfig/iaa-static.pc    static
//! ```
//!
//! `cargo build --release -p iaa-capi && target/release/iaa-dist [--lib-dir DIR --out DIR]`
//! (`cargo run --bin iaa-dist` alone builds only the rlib, not the C libraries); by default
//! the libraries are read from the directory of this program (`target/release/`) and the
//! package is written to `dist/` under it.
//!
//! Why: a Rust `staticlib` carries the whole Rust standard library and the bundled zstd and
//! libdeflate with global symbols, so a program that links its own zstd or libdeflate (or
//! another Rust static library) gets "multiple definition" errors, or silently the other
//! copy's functions. The static library is therefore linked into one relocatable object
//! (`ld -r`, pulling only what the `iaa_*` entry points need), every other symbol made local
//! (`objcopy --keep-global-symbols`), debug sections and the embedded LLVM bitcode removed,
//! and archived again. Needs binutils (`ld`, `objcopy`, `ar`, `readelf`, `strip`).

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

/// The system libraries the static library needs (`--print native-static-libs` of a
/// `staticlib`, without `-lgcc_s`: the C compiler driver adds the unwinder itself, `libgcc_s`
/// for a dynamic link and `libgcc_eh` for `-static`, which has no `libgcc_s`).
fn native_static_libs() -> &'static str {
    if cfg!(feature = "isal") {
        "-lisal -lutil -lrt -lpthread -lm -ldl -lc"
    } else {
        "-lutil -lrt -lpthread -lm -ldl -lc"
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(out) => {
            println!("{}", out.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("iaa-dist: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<PathBuf, String> {
    let mut lib_dir = std::env::current_exe()
        .map_err(|e| format!("cannot find this program: {e}"))?
        .parent()
        .ok_or("this program has no directory")?
        .to_path_buf();
    let mut out = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--lib-dir" => lib_dir = args.next().ok_or("--lib-dir needs a directory")?.into(),
            "--out" => out = Some(PathBuf::from(args.next().ok_or("--out needs a directory")?)),
            "-h" | "--help" => {
                println!("usage: iaa-dist [--lib-dir DIR] [--out DIR]");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?} (try --help)")),
        }
    }
    let out = out.unwrap_or_else(|| lib_dir.join("dist"));
    package(&lib_dir, &out)?;
    Ok(out)
}

fn tool(name: &str, args: &[&std::ffi::OsStr]) -> Result<String, String> {
    let o = Command::new(name)
        .args(args)
        .output()
        .map_err(|e| format!("running {name}: {e} (binutils installed?)"))?;
    if !o.status.success() {
        return Err(format!(
            "{name} {args:?} failed: {}",
            String::from_utf8_lossy(&o.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&o.stdout).into_owned())
}

/// Defined global (or weak) symbols of an object or archive, from `readelf` (GNU `nm` may
/// load the LLVM linker plugin, which cannot read Rust's embedded bitcode).
fn defined_globals(file: &Path) -> Result<Vec<String>, String> {
    let text = tool("readelf", &["-sW".as_ref(), file.as_os_str()])?;
    let mut v: Vec<String> = text
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            // Num: Value Size Type Bind Vis Ndx Name
            (f.len() >= 8
                && (f[4] == "GLOBAL" || f[4] == "WEAK")
                && f[6] != "UND"
                && f[0].ends_with(':'))
            .then(|| f[7].split('@').next().unwrap_or(f[7]).to_string())
        })
        .collect();
    v.sort();
    v.dedup();
    Ok(v)
}

fn package(lib_dir: &Path, out: &Path) -> Result<(), String> {
    let version = env!("CARGO_PKG_VERSION");
    let soname = format!(
        "libiaa.so.{}.{}",
        env!("CARGO_PKG_VERSION_MAJOR"),
        env!("CARGO_PKG_VERSION_MINOR")
    );
    let archive = lib_dir.join("libiaa_capi.a");
    let shared = lib_dir.join("libiaa_capi.so");
    for f in [&archive, &shared] {
        if !f.is_file() {
            return Err(format!(
                "{} not found (cargo build -p iaa-capi first)",
                f.display()
            ));
        }
    }
    let lib = out.join("lib");
    let pc = lib.join("pkgconfig");
    let inc = out.join("include");
    for d in [&pc, &inc] {
        std::fs::create_dir_all(d).map_err(|e| format!("creating {}: {e}", d.display()))?;
    }
    let tmp = out.join(".work");
    std::fs::create_dir_all(&tmp).map_err(|e| format!("creating {}: {e}", tmp.display()))?;

    // Static library.
    let keep: Vec<String> = defined_globals(&archive)?
        .into_iter()
        .filter(|s| s.starts_with("iaa_"))
        .collect();
    if keep.is_empty() {
        return Err(format!("{} defines no iaa_* symbol", archive.display()));
    }
    let keep_file = tmp.join("keep.txt");
    std::fs::write(&keep_file, keep.join("\n") + "\n").map_err(|e| e.to_string())?;
    let merged = tmp.join("iaa-merged.o");
    let mut ld: Vec<std::ffi::OsString> = vec!["-r".into()];
    for s in &keep {
        ld.push("-u".into());
        ld.push(s.into());
    }
    ld.extend(["-o".into(), merged.clone().into(), archive.clone().into()]);
    let ld_ref: Vec<&std::ffi::OsStr> = ld.iter().map(|s| s.as_os_str()).collect();
    tool("ld", &ld_ref)?;
    let object = tmp.join("libiaa.o");
    let mut keep_arg = std::ffi::OsString::from("--keep-global-symbols=");
    keep_arg.push(&keep_file);
    tool(
        "objcopy",
        &[
            keep_arg.as_os_str(),
            "--strip-debug".as_ref(),
            "--remove-section=.llvmbc".as_ref(),
            "--remove-section=.llvmcmd".as_ref(),
            merged.as_os_str(),
            object.as_os_str(),
        ],
    )?;
    let left = defined_globals(&object)?;
    if left != keep {
        return Err(format!(
            "after localizing, the globals are {left:?}, want {keep:?}"
        ));
    }
    let a_out = lib.join("libiaa.a");
    let _ = std::fs::remove_file(&a_out);
    tool(
        "ar",
        &["rcs".as_ref(), a_out.as_os_str(), object.as_os_str()],
    )?;

    // Shared library: built with its SONAME (build.rs); stripped here.
    let so_file = lib.join(format!("libiaa.so.{version}"));
    tool(
        "strip",
        &[
            "--strip-unneeded".as_ref(),
            "-o".as_ref(),
            so_file.as_os_str(),
            shared.as_os_str(),
        ],
    )?;
    let dynamic = tool("readelf", &["-dW".as_ref(), so_file.as_os_str()])?;
    if !dynamic.contains(&format!("[{soname}]")) {
        return Err(format!("{} has no SONAME {soname}", shared.display()));
    }
    for link in [soname.clone(), "libiaa.so".to_string()] {
        let p = lib.join(&link);
        let _ = std::fs::remove_file(&p);
        std::os::unix::fs::symlink(format!("libiaa.so.{version}"), &p)
            .map_err(|e| format!("linking {}: {e}", p.display()))?;
    }

    // Header and pkg-config files.
    let header = Path::new(env!("CARGO_MANIFEST_DIR")).join("include/iaa.h");
    std::fs::copy(&header, inc.join("iaa.h")).map_err(|e| format!("copying iaa.h: {e}"))?;
    let prefix = std::path::absolute(out).map_err(|e| e.to_string())?;
    let common = format!(
        "prefix={}\nlibdir=${{prefix}}/lib\nincludedir=${{prefix}}/include\n\n\
         Description: Batched compression over Intel IAA with software fallback (C ABI)\n\
         Version: {version}\nCflags: -I${{includedir}}\n",
        prefix.display()
    );
    let libs = native_static_libs();
    let files = [
        (
            "iaa.pc",
            format!(
                "{common}Name: iaa\nLibs: -L${{libdir}} -Wl,-rpath,${{libdir}} -liaa\n\
                 Libs.private: {libs}\n"
            ),
        ),
        (
            "iaa-static.pc",
            format!("{common}Name: iaa-static\nLibs: ${{libdir}}/libiaa.a {libs}\n"),
        ),
    ];
    for (name, text) in files {
        std::fs::write(pc.join(name), text).map_err(|e| format!("writing {name}: {e}"))?;
    }
    let _ = std::fs::remove_dir_all(&tmp);
    Ok(())
}
