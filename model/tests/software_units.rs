//! Everything the software path writes is IAA-decodable: units of the corpus compressed by the
//! native encoder at 4, 16 and 64 KiB units and both levels decode on the device model with
//! zero refusals (the model refuses what IAA refuses: distances beyond 4 KiB, and code-length
//! repeats from the literal/length into the distance lengths, analytics errors 4 and 6).
//!
//! A debug-build test: it takes an even sample of each file (every `stride`-th unit, about
//! `UNITS_PER_FILE` units per file, unit size and level) and prints how many units it checked.
//! `IAA_TEST_ALL_UNITS=1` checks every unit of the corpus (use `--release`).

use std::io::Read;
use std::path::PathBuf;

use iaa_fallback::{max_compressed_len, CompressOutcome, Compressor, Level};
use iaa_model::{Executor, ModelConfig};

const FILES: [&str; 4] = ["dickens", "mr", "osdb", "xml"];
/// Units per file, unit size and level in the default (debug) run.
const UNITS_PER_FILE: usize = 96;

fn corpus(name: &str) -> Option<Vec<u8>> {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let dir = here
        .ancestors()
        .map(|a| a.join("shared/corpus"))
        .find(|d| d.join("dickens.zip").is_file())?;
    let f = std::fs::File::open(dir.join(format!("{name}.zip"))).ok()?;
    let mut z = zip::ZipArchive::new(f).ok()?;
    let mut e = z.by_index(0).ok()?;
    let mut v = Vec::new();
    e.read_to_end(&mut v).ok()?;
    Some(v)
}

#[test]
fn software_units_of_the_corpus_decode_on_the_model() {
    let all = std::env::var("IAA_TEST_ALL_UNITS").is_ok_and(|v| v == "1");
    let mut x = Executor::new(ModelConfig::iaa(0));
    let mut checked = [[0usize; 3]; 2];
    let mut refused = Vec::new();
    let mut files = 0;
    for name in FILES {
        let Some(data) = corpus(name) else {
            eprintln!("corpus file {name} absent: skipped");
            continue;
        };
        files += 1;
        for (li, level) in [Level::Fast, Level::Better].into_iter().enumerate() {
            for (ui, unit) in [4096usize, 16384, 65536].into_iter().enumerate() {
                let mut c = Compressor::for_max_unit(level, unit);
                let mut z = vec![0u8; max_compressed_len(unit)];
                let mut back = vec![0u8; unit];
                let n_units = data.len().div_ceil(unit);
                let stride = if all {
                    1
                } else {
                    (n_units / UNITS_PER_FILE).max(1)
                };
                for (i, u) in data.chunks(unit).enumerate().step_by(stride) {
                    let CompressOutcome::Compressed(n) = c.compress(u, &mut z).unwrap() else {
                        continue; // stored raw by the caller, never decoded
                    };
                    let r = x.decompress(&z[..n], &mut back);
                    checked[li][ui] += 1;
                    if r.status != 1 || r.output_size as usize != u.len() || back[..u.len()] != *u {
                        refused.push(format!(
                            "{name} {level:?} {unit} unit {i}: status {:#x} error {}",
                            r.status, r.error_code
                        ));
                    }
                }
            }
        }
    }
    let total: usize = checked.iter().flatten().sum();
    eprintln!(
        "software units decoded on the model: {total} from {files} files ({}), refused: {}; \
         fast 4/16/64 KiB {:?}, better {:?}",
        if all { "every unit" } else { "sample" },
        refused.len(),
        checked[0],
        checked[1]
    );
    assert!(refused.is_empty(), "refused: {refused:#?}");
}
