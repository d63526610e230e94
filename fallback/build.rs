//! Builds the ISA-L shim only with the optional `isal` feature; the default build compiles
//! nothing here.
fn main() {
    println!("cargo:rerun-if-changed=csrc/isal_shim.c");
    #[cfg(feature = "isal")]
    {
        cc::Build::new()
            .file("csrc/isal_shim.c")
            .opt_level(2)
            .compile("iaa_fb_isal_shim");
        println!("cargo:rustc-link-lib=isal");
    }
}
