//! Gives the shared library its SONAME, `libiaa.so.<major>.<minor>` (the name `iaa-dist`
//! installs it under; see `src/bin/iaa-dist.rs`, which also makes the static library and the
//! pkg-config files).

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if os == "linux" {
        let major = std::env::var("CARGO_PKG_VERSION_MAJOR").expect("cargo sets it");
        let minor = std::env::var("CARGO_PKG_VERSION_MINOR").expect("cargo sets it");
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libiaa.so.{major}.{minor}");
    }
}
