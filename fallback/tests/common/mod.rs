//! Shared test helpers: the Silesia corpus files, unzipped at test time.
#![allow(dead_code)]

use std::io::Read;
use std::path::PathBuf;

/// Names of the corpus archives.
pub const FILES: [&str; 4] = ["dickens", "mr", "osdb", "xml"];

/// `shared/corpus` next to the repository (found from the source tree upwards, so a git
/// worktree placed deeper finds it too).
fn corpus_dir() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.ancestors()
        .map(|a| a.join("shared/corpus"))
        .find(|d| d.join("dickens.zip").is_file())
        .unwrap_or_else(|| here.join("../../shared/corpus"))
}

/// The first file of `<name>.zip`, or `None` (with a message) if the corpus is absent.
pub fn load(name: &str) -> Option<Vec<u8>> {
    let path = corpus_dir().join(format!("{name}.zip"));
    let f = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("corpus file {} absent ({e}): skipping it", path.display());
            return None;
        }
    };
    let mut z = zip::ZipArchive::new(f).expect("corpus zip readable");
    let mut e = z.by_index(0).expect("zip has an entry");
    let mut v = Vec::with_capacity(e.size() as usize);
    e.read_to_end(&mut v).expect("unzip");
    Some(v)
}

/// Deterministic pseudo-random bytes (xorshift64*).
pub fn random_bytes(n: usize, mut seed: u64) -> Vec<u8> {
    let mut v = Vec::with_capacity(n);
    seed |= 1;
    while v.len() < n {
        seed ^= seed >> 12;
        seed ^= seed << 25;
        seed ^= seed >> 27;
        let x = seed.wrapping_mul(0x2545_F491_4F6C_DD1D);
        for b in x.to_le_bytes() {
            if v.len() < n {
                v.push(b);
            }
        }
    }
    v
}
