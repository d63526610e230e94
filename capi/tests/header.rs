//! The committed header `include/iaa.h` is exactly what cbindgen generates from `src/` with
//! `cbindgen.toml` and the package version. `IAA_CAPI_BLESS=1` rewrites it instead of failing.

use std::path::PathBuf;

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The header as it should be.
fn generate() -> String {
    let dir = crate_dir();
    let mut config =
        cbindgen::Config::from_file(dir.join("cbindgen.toml")).expect("cbindgen.toml parses");
    config.after_includes = Some(format!(
        "\n/* Version of this header; iaa_version_string() gives the library's. */\n\
         #define IAA_VERSION_MAJOR {}\n#define IAA_VERSION_MINOR {}\n#define IAA_VERSION_PATCH {}\n\
         #define IAA_VERSION_STRING \"{}\"\n",
        env!("CARGO_PKG_VERSION_MAJOR"),
        env!("CARGO_PKG_VERSION_MINOR"),
        env!("CARGO_PKG_VERSION_PATCH"),
        env!("CARGO_PKG_VERSION"),
    ));
    config.header =
        Some(std::fs::read_to_string(dir.join("cbindgen-preamble.h")).expect("preamble"));
    let bindings = cbindgen::Builder::new()
        .with_config(config)
        .with_src(dir.join("src/lib.rs"))
        .generate()
        .expect("cbindgen generates the header");
    let mut out = Vec::new();
    bindings.write(&mut out);
    let text = String::from_utf8(out).expect("utf-8 header");
    // C89 has no `//` comments: cbindgen writes two after `extern "C"`.
    let text = text
        .replace("// extern \"C\"", "/* extern \"C\" */")
        .replace("// __cplusplus", "/* __cplusplus */");
    // cbindgen writes `#define X -1`; a C macro must be `(-1)` so `a-X` stays `a-(-1)`.
    text.lines()
        .map(|line| match line.strip_prefix("#define ") {
            Some(rest) => match rest.split_once(" -") {
                Some((name, num)) if num.bytes().all(|b| b.is_ascii_digit()) => {
                    format!("#define {name} (-{num})\n")
                }
                _ => format!("{line}\n"),
            },
            None => format!("{line}\n"),
        })
        .collect()
}

#[test]
fn committed_header_matches_the_code() {
    let path = crate_dir().join("include/iaa.h");
    let want = generate();
    if std::env::var_os("IAA_CAPI_BLESS").is_some() {
        std::fs::write(&path, &want).expect("write include/iaa.h");
        return;
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    if have != want {
        let first = have
            .lines()
            .zip(want.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(have.lines().count().min(want.lines().count()));
        panic!(
            "include/iaa.h is out of date (first difference at line {}); regenerate with \
             IAA_CAPI_BLESS=1 cargo test -p iaa-capi --test header",
            first + 1
        );
    }
}

#[test]
fn header_carries_the_cargo_version() {
    let h = generate();
    for (name, value) in [
        ("IAA_VERSION_MAJOR", env!("CARGO_PKG_VERSION_MAJOR")),
        ("IAA_VERSION_MINOR", env!("CARGO_PKG_VERSION_MINOR")),
        ("IAA_VERSION_PATCH", env!("CARGO_PKG_VERSION_PATCH")),
    ] {
        assert!(h.contains(&format!("#define {name} {value}\n")), "{name}");
    }
    assert!(h.contains(&format!(
        "#define IAA_VERSION_STRING \"{}\"",
        env!("CARGO_PKG_VERSION")
    )));
}
