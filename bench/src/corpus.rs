//! The benchmark corpus: Silesia files unzipped in memory, or deterministic generated data.

use std::io::Read;
use std::path::{Path, PathBuf};

/// Names of the Silesia files the project ships zipped in `shared/corpus/`.
pub const SILESIA_FILES: [&str; 4] = ["dickens", "mr", "osdb", "xml"];

/// Errors while loading a corpus.
#[derive(Debug, thiserror::Error)]
pub enum CorpusError {
    /// The directory given with `--corpus` has none of the expected zip files.
    #[error("no corpus zip files ({}.zip) in {}", SILESIA_FILES.join(".zip, "), .0.display())]
    NotFound(PathBuf),
    /// Reading a file failed.
    #[error("reading {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A zip file could not be read.
    #[error("unzipping {path}: {source}")]
    Zip {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: zip::result::ZipError,
    },
}

/// One file of the corpus, held in memory.
#[derive(Debug, Clone)]
pub struct CorpusFile {
    /// File name (e.g. `dickens`).
    pub name: String,
    /// Its bytes (possibly only a prefix, see [`LoadOptions::max_bytes_per_file`]).
    pub data: Vec<u8>,
}

/// Where the corpus came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CorpusSource {
    /// Silesia files unzipped from this directory.
    Silesia(PathBuf),
    /// No corpus directory found: data generated deterministically by [`generated`].
    Generated,
}

/// A corpus in memory.
#[derive(Debug, Clone)]
pub struct Corpus {
    /// The files, in a fixed order.
    pub files: Vec<CorpusFile>,
    /// Where they came from.
    pub source: CorpusSource,
}

impl Corpus {
    /// Total bytes over all files.
    pub fn total_len(&self) -> usize {
        self.files.iter().map(|f| f.data.len()).sum()
    }

    /// One line describing the corpus, for table headers.
    pub fn describe(&self) -> String {
        let names: Vec<&str> = self.files.iter().map(|f| f.name.as_str()).collect();
        match &self.source {
            CorpusSource::Silesia(dir) => format!(
                "Silesia {} ({} bytes) from {}",
                names.join(", "),
                self.total_len(),
                dir.display()
            ),
            CorpusSource::Generated => format!(
                "GENERATED data (no corpus directory found): {} ({} bytes)",
                names.join(", "),
                self.total_len()
            ),
        }
    }
}

/// How much of the corpus to load.
#[derive(Debug, Clone, Copy, Default)]
pub struct LoadOptions {
    /// Keep only this many leading bytes of each file (`None`: whole files).
    pub max_bytes_per_file: Option<usize>,
}

fn has_corpus(dir: &Path) -> bool {
    SILESIA_FILES
        .iter()
        .any(|n| dir.join(format!("{n}.zip")).is_file())
}

/// Candidate corpus directories, in the order they are tried: relative to the current
/// directory, to the executable's directory and its ancestors, and to this crate's source
/// directory at build time.
pub fn candidate_dirs() -> Vec<PathBuf> {
    let mut bases: Vec<PathBuf> = Vec::new();
    if let Ok(cwd) = std::env::current_dir() {
        bases.extend(cwd.ancestors().map(Path::to_path_buf));
    }
    if let Ok(exe) = std::env::current_exe() {
        bases.extend(exe.ancestors().skip(1).map(Path::to_path_buf));
    }
    bases.extend(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .ancestors()
            .map(Path::to_path_buf),
    );
    let mut out = Vec::new();
    for b in bases {
        for rel in ["shared/corpus", "../shared/corpus", "corpus"] {
            let d = b.join(rel);
            if !out.contains(&d) {
                out.push(d);
            }
        }
    }
    out
}

/// The first candidate directory that holds at least one corpus zip file.
pub fn find_corpus_dir() -> Option<PathBuf> {
    candidate_dirs().into_iter().find(|d| has_corpus(d))
}

/// Unzips the Silesia files found in `dir` (those of [`SILESIA_FILES`] that exist).
pub fn load_dir(dir: &Path, opts: LoadOptions) -> Result<Corpus, CorpusError> {
    if !has_corpus(dir) {
        return Err(CorpusError::NotFound(dir.to_path_buf()));
    }
    let mut files = Vec::new();
    for name in SILESIA_FILES {
        let path = dir.join(format!("{name}.zip"));
        if !path.is_file() {
            continue;
        }
        let f = std::fs::File::open(&path).map_err(|source| CorpusError::Io {
            path: path.clone(),
            source,
        })?;
        let zerr = |source| CorpusError::Zip {
            path: path.clone(),
            source,
        };
        let mut zip = zip::ZipArchive::new(std::io::BufReader::new(f)).map_err(zerr)?;
        for i in 0..zip.len() {
            let mut entry = zip.by_index(i).map_err(zerr)?;
            if !entry.is_file() {
                continue;
            }
            let entry_name = entry
                .enclosed_name()
                .and_then(|p| p.file_name().map(|s| s.to_string_lossy().into_owned()))
                .unwrap_or_else(|| name.to_string());
            let limit = opts.max_bytes_per_file.unwrap_or(usize::MAX) as u64;
            let mut data = Vec::new();
            (&mut entry)
                .take(limit)
                .read_to_end(&mut data)
                .map_err(|source| CorpusError::Io {
                    path: path.clone(),
                    source,
                })?;
            files.push(CorpusFile {
                name: entry_name,
                data,
            });
        }
    }
    Ok(Corpus {
        files,
        source: CorpusSource::Silesia(dir.to_path_buf()),
    })
}

/// Loads the corpus from `dir` if given (an error if it holds none), else from the first
/// directory of [`candidate_dirs`] that has one, else generates data with [`generated`].
pub fn load(dir: Option<&Path>, opts: LoadOptions) -> Result<Corpus, CorpusError> {
    match dir {
        Some(d) => load_dir(d, opts),
        None => match find_corpus_dir() {
            Some(d) => load_dir(&d, opts),
            None => Ok(generated(opts.max_bytes_per_file.unwrap_or(4 << 20))),
        },
    }
}

/// A small deterministic pseudo-random generator (xorshift64*), so generated data is the
/// same on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const WORDS: [&str; 32] = [
    "the", "of", "and", "to", "in", "a", "is", "that", "for", "it", "as", "was", "with", "be",
    "by", "on", "not", "he", "this", "are", "or", "his", "from", "at", "which", "but", "have",
    "an", "had", "they", "you", "were",
];

/// Deterministic stand-in corpus of four files of `len` bytes each: English-like text,
/// XML-like markup, fixed-size binary records, and a half-random file (partly
/// incompressible), so every unit size sees compressible and incompressible units.
pub fn generated(len: usize) -> Corpus {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let text = |rng: &mut Rng| {
        let mut v = Vec::with_capacity(len + 16);
        while v.len() < len {
            v.extend_from_slice(WORDS[rng.below(32) as usize].as_bytes());
            v.push(if rng.below(12) == 0 { b'\n' } else { b' ' });
        }
        v.truncate(len);
        v
    };
    let words = text(&mut rng);
    let mut xml = Vec::with_capacity(len + 64);
    while xml.len() < len {
        let id = rng.below(100_000);
        let w = WORDS[rng.below(32) as usize];
        xml.extend_from_slice(format!("<rec id=\"{id}\"><name>{w}</name></rec>\n").as_bytes());
    }
    xml.truncate(len);
    let mut records = Vec::with_capacity(len + 32);
    let mut key = 0u64;
    while records.len() < len {
        key += rng.below(16);
        records.extend_from_slice(&key.to_le_bytes());
        records.extend_from_slice(&(rng.below(1000) as u32).to_le_bytes());
        records.extend_from_slice(&[0u8; 4]);
        records.extend_from_slice(&rng.next().to_le_bytes()[..2]);
        records.extend_from_slice(&[0u8; 14]);
    }
    records.truncate(len);
    let mut mixed = Vec::with_capacity(len + 8);
    while mixed.len() < len {
        if (mixed.len() / 65536) % 2 == 0 {
            mixed.extend_from_slice(&rng.next().to_le_bytes());
        } else {
            mixed.extend_from_slice(WORDS[rng.below(8) as usize].as_bytes());
        }
    }
    mixed.truncate(len);
    let files = [
        ("gen-text", words),
        ("gen-xml", xml),
        ("gen-records", records),
        ("gen-mixed", mixed),
    ]
    .into_iter()
    .map(|(n, data)| CorpusFile {
        name: n.to_string(),
        data,
    })
    .collect();
    Corpus {
        files,
        source: CorpusSource::Generated,
    }
}
