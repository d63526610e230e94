//! Builds the small ISA-L shim (csrc/isal_shim.c) and links `-lisal`, only with feature `isal`.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    #[cfg(feature = "isal")]
    {
        println!("cargo:rerun-if-changed=csrc/isal_shim.c");
        cc::Build::new()
            .file("csrc/isal_shim.c")
            .opt_level(2)
            .compile("iaa_bench_isal_shim");
        println!("cargo:rustc-link-lib=isal");
    }
}
