//! Compiles the C probe against the kernel's own UAPI header `<linux/idxd.h>`.
fn main() {
    println!("cargo:rerun-if-changed=csrc/idxd_probe.c");
    println!("cargo:rerun-if-changed=/usr/include/linux/idxd.h");
    cc::Build::new()
        .file("csrc/idxd_probe.c")
        .warnings(true)
        .extra_warnings(true)
        .flag_if_supported("-Wno-missing-field-initializers")
        .compile("idxd_probe");
}
