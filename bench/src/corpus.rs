//! The benchmark corpus: any files the user names (zip archives unzipped in memory), the
//! Silesia files of `shared/corpus/` found by default, or deterministic generated data.

use std::io::Read;
use std::path::{Path, PathBuf};

/// Names of the Silesia files the project ships zipped in `shared/corpus/`; the default
/// corpus directory is the first candidate directory holding one of them.
pub const SILESIA_FILES: [&str; 4] = ["dickens", "mr", "osdb", "xml"];

/// Errors while loading a corpus.
#[derive(Debug, thiserror::Error)]
pub enum CorpusError {
    /// The directory given with `--corpus` holds no regular file.
    #[error("no files in {}", .0.display())]
    Empty(PathBuf),
    /// Reading a file or directory failed.
    #[error("reading {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A zip file could not be read.
    #[error("unzipping {}: {source}", path.display())]
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
    /// File name (e.g. `dickens`; a zip entry's own name).
    pub name: String,
    /// Its bytes (possibly only a prefix, see [`LoadOptions::max_bytes_per_file`]).
    pub data: Vec<u8>,
}

/// Where the corpus came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CorpusSource {
    /// Every regular file of this directory (`--corpus DIR`, or the default `shared/corpus`).
    Dir(PathBuf),
    /// The files named on the command line.
    Files,
    /// No corpus directory found: data generated deterministically by [`generated`].
    Generated,
}

/// A corpus in memory.
#[derive(Debug, Clone)]
pub struct Corpus {
    /// The files, in a fixed order (a directory's sorted by name, named files as given).
    pub files: Vec<CorpusFile>,
    /// Where they came from.
    pub source: CorpusSource,
}

impl Corpus {
    /// Total bytes over all files.
    pub fn total_len(&self) -> usize {
        self.files.iter().map(|f| f.data.len()).sum()
    }

    /// One line describing the corpus, for table headers: where it came from, and every file
    /// used with its size in bytes.
    pub fn describe(&self) -> String {
        let names: Vec<String> = self
            .files
            .iter()
            .map(|f| format!("{} ({})", f.name, f.data.len()))
            .collect();
        let what = format!(
            "{} files, {} bytes: {}",
            self.files.len(),
            self.total_len(),
            names.join(", ")
        );
        match &self.source {
            CorpusSource::Dir(dir) => format!("{} from {what}", dir.display()),
            CorpusSource::Files => format!("files given: {what}"),
            CorpusSource::Generated => {
                format!("GENERATED data (no corpus directory found): {what}")
            }
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

/// The first candidate directory that holds at least one of the Silesia zip files.
pub fn find_corpus_dir() -> Option<PathBuf> {
    candidate_dirs().into_iter().find(|d| has_corpus(d))
}

/// Reads one file into `files`: a `.zip` archive as its file entries (each its own corpus
/// file), any other file as it is.
fn read_file(
    path: &Path,
    opts: LoadOptions,
    files: &mut Vec<CorpusFile>,
) -> Result<(), CorpusError> {
    let limit = opts.max_bytes_per_file.unwrap_or(usize::MAX) as u64;
    let ioerr = |source| CorpusError::Io {
        path: path.to_path_buf(),
        source,
    };
    let f = std::fs::File::open(path).map_err(ioerr)?;
    let file_name = path
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string());
    let is_zip = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("zip"));
    if !is_zip {
        let mut data = Vec::new();
        f.take(limit).read_to_end(&mut data).map_err(ioerr)?;
        files.push(CorpusFile {
            name: file_name,
            data,
        });
        return Ok(());
    }
    let zerr = |source| CorpusError::Zip {
        path: path.to_path_buf(),
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
            .unwrap_or_else(|| file_name.clone());
        let mut data = Vec::new();
        (&mut entry)
            .take(limit)
            .read_to_end(&mut data)
            .map_err(ioerr)?;
        files.push(CorpusFile {
            name: entry_name,
            data,
        });
    }
    Ok(())
}

/// Loads every regular file of `dir` (not its subdirectories, not names starting with `.`),
/// sorted by name; `.zip` archives are unzipped in memory, so the Silesia zips of
/// `shared/corpus` and any other files both work.
pub fn load_dir(dir: &Path, opts: LoadOptions) -> Result<Corpus, CorpusError> {
    let ioerr = |source| CorpusError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(ioerr)? {
        let entry = entry.map_err(ioerr)?;
        let hidden = entry.file_name().to_string_lossy().starts_with('.');
        let path = entry.path();
        if !hidden && path.is_file() {
            paths.push(path);
        }
    }
    paths.sort();
    if paths.is_empty() {
        return Err(CorpusError::Empty(dir.to_path_buf()));
    }
    let mut files = Vec::new();
    for p in &paths {
        read_file(p, opts, &mut files)?;
    }
    Ok(Corpus {
        files,
        source: CorpusSource::Dir(dir.to_path_buf()),
    })
}

/// Loads the Silesia zip files of [`SILESIA_FILES`] that exist in `dir` (the default corpus,
/// found by [`find_corpus_dir`]; other files of `dir` are not read).
pub fn load_silesia(dir: &Path, opts: LoadOptions) -> Result<Corpus, CorpusError> {
    let paths: Vec<PathBuf> = SILESIA_FILES
        .iter()
        .map(|n| dir.join(format!("{n}.zip")))
        .filter(|p| p.is_file())
        .collect();
    if paths.is_empty() {
        return Err(CorpusError::Empty(dir.to_path_buf()));
    }
    let mut files = Vec::new();
    for p in &paths {
        read_file(p, opts, &mut files)?;
    }
    Ok(Corpus {
        files,
        source: CorpusSource::Dir(dir.to_path_buf()),
    })
}

/// Loads the named files, in the order given (`.zip` archives unzipped in memory).
pub fn load_files(paths: &[PathBuf], opts: LoadOptions) -> Result<Corpus, CorpusError> {
    let mut files = Vec::new();
    for p in paths {
        read_file(p, opts, &mut files)?;
    }
    Ok(Corpus {
        files,
        source: CorpusSource::Files,
    })
}

/// Loads every file of `dir` if given ([`load_dir`]; an error if it holds none), else the
/// Silesia zips of the first directory of [`candidate_dirs`] that has one ([`load_silesia`]),
/// else generates data with [`generated`].
pub fn load(dir: Option<&Path>, opts: LoadOptions) -> Result<Corpus, CorpusError> {
    match dir {
        Some(d) => load_dir(d, opts),
        None => match find_corpus_dir() {
            Some(d) => load_silesia(&d, opts),
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
