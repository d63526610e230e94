//! The `iaa` command: compress and decompress files into the unit container of
//! `docs/FORMAT.md`, and benchmark the software path against peer libraries.

use clap::{Args, Parser, Subcommand, ValueEnum};
use iaa_cli::codecs::{CliLevel, PoolCodec};
use iaa_cli::container::{self, Codec, ContainerError, UnitCodec, FLAG_LEVEL_BETTER};
use iaa_cli::progress::Progress;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Cursor, IsTerminal, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

mod devices;

#[derive(Parser)]
#[command(
    name = "iaa",
    version,
    about = "Intel IAA batched compression: container files and benchmarks"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

// Each subcommand is one variant with its own `Args` type and one arm in `run`.
#[derive(Subcommand)]
enum Command {
    /// Compress a file into unit-sized independent streams (a container, see docs/FORMAT.md).
    ///
    /// Units go through iaa::Pool in batches: the IAA hardware when a device is found
    /// (IAA_DEVICE=model selects the software device model), otherwise the software path.
    Compress(CompressArgs),
    /// Decompress a container, checking the CRC of every unit.
    Decompress(DecompressArgs),
    /// Measure the software path against libdeflate, zlib, zstd (and ISA-L with --features isal).
    Bench(BenchArgs),
    /// List IAA/DSA devices and work queues: usable or not and why, how descriptors are submitted.
    Devices(devices::DevicesArgs),
    /// Check the hardware path on this host: every WQ a pool would use runs a fixed plan of
    /// known inputs through each descriptor kind, and each record field the library relies on
    /// is compared with the software path. Exit status 0 when every WQ passes, 1 otherwise, 2
    /// when there is no device.
    Selftest(SelftestArgs),
}

#[derive(Args)]
struct SelftestArgs {
    /// Print the report as JSON (`device`, `checks`: wq/op/input/status/detail and, for a
    /// disagreement, field/seen/expected/pool_action; `verdicts`: wq/kind/verdict).
    #[arg(long)]
    json: bool,
    /// The device, as IAA_DEVICE names it (`iax1`, `wq1.0`, a PCI address, `vfio:BDF`,
    /// `model`, `vfio-model`); default: IAA_DEVICE, else every usable kernel WQ.
    #[arg(long)]
    device: Option<String>,
    /// Root of sysfs, for the kernel WQs of a fixture tree (with --dev-root).
    #[arg(long, requires = "dev_root")]
    sys_root: Option<PathBuf>,
    /// Root of the device nodes, for a fixture tree (with --sys-root).
    #[arg(long, requires = "sys_root")]
    dev_root: Option<PathBuf>,
}

#[derive(Clone, Copy, ValueEnum)]
enum CodecArg {
    /// Raw deflate with a 4 KiB window (decodable by IAA and zlib).
    Deflate,
    /// zstd frames (software only).
    Zstd,
}

#[derive(Clone, Copy, ValueEnum)]
enum HwModeArg {
    /// Fixed Huffman codes: one descriptor per unit (the kernel's mode).
    Fixed,
    /// Dynamic Huffman codes: a statistics pass, then the compression with the unit's own
    /// code (IAA 1.0 two-pass); a better ratio for a second descriptor.
    Dynamic,
}

#[derive(Clone, Copy, ValueEnum)]
enum LevelArg {
    /// Fastest.
    Fast,
    /// Smaller output, slower.
    Better,
}

#[derive(Args)]
struct CompressArgs {
    /// Bytes per unit (1..=16777216).
    #[arg(long, default_value_t = 4096)]
    unit_size: usize,
    /// Codec of the units.
    #[arg(long, value_enum, default_value_t = CodecArg::Deflate)]
    codec: CodecArg,
    /// Compression level.
    #[arg(long, value_enum, default_value_t = LevelArg::Fast)]
    level: LevelArg,
    /// Print sizes and ratio, and where the units ran (device, software, fallback causes), on
    /// stderr.
    #[arg(short, long)]
    verbose: bool,
    /// Keep the calling thread off the units while the device is busy (the pool's `hybrid`
    /// off): with a device, every unit it can take runs on it.
    #[arg(long)]
    no_hybrid: bool,
    /// How long a unit may stay on the device before it is redone in software, in
    /// milliseconds, 1..=60000 (default: the library's, 20).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=60000))]
    completion_timeout_ms: Option<u64>,
    /// How the device codes each unit (hardware path only).
    #[arg(long, value_enum, default_value_t = HwModeArg::Fixed)]
    hw_mode: HwModeArg,
    /// Replace OUT if it exists (without it, an existing OUT is an error and stays as it is).
    #[arg(short, long)]
    force: bool,
    /// Input file, or `-` for stdin.
    input: PathBuf,
    /// Output container, or `-` for stdout.
    output: PathBuf,
}

#[derive(Args)]
struct DecompressArgs {
    /// Print sizes, and where the units ran (device, software, fallback causes), on stderr.
    #[arg(short, long)]
    verbose: bool,
    /// Keep the calling thread off the units while the device is busy (the pool's `hybrid`
    /// off): with a device, every unit it can take runs on it.
    #[arg(long)]
    no_hybrid: bool,
    /// How long a unit may stay on the device before it is redone in software, in
    /// milliseconds, 1..=60000 (default: the library's, 20).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=60000))]
    completion_timeout_ms: Option<u64>,
    /// Replace OUT if it exists (without it, an existing OUT is an error and stays as it is).
    #[arg(short, long)]
    force: bool,
    /// Input container, or `-` for stdin.
    input: PathBuf,
    /// Output file, or `-` for stdout.
    output: PathBuf,
}

#[derive(Args)]
struct BenchArgs {
    /// Files to measure (any files; `.zip` archives are unzipped in memory, each entry a file).
    /// Units never span two files.
    #[arg(conflicts_with = "corpus")]
    files: Vec<PathBuf>,
    /// Measure every regular file of DIR (sorted by name, not subdirectories or names starting
    /// with `.`; `.zip` archives unzipped). Without FILE or --corpus: the Silesia zips
    /// (dickens, mr, osdb, xml) of ../shared/corpus looked up from the current directory, the
    /// executable and the source tree; if none is found, deterministic generated data (and
    /// said so).
    #[arg(long, value_name = "DIR")]
    corpus: Option<PathBuf>,
    /// Timed runs per measurement (the median is reported).
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Unit sizes in bytes, comma-separated.
    #[arg(long, value_delimiter = ',', default_values_t = [4096usize, 16384, 65536])]
    unit_sizes: Vec<usize>,
    /// Use only the first 256 KiB of each corpus file (for tests and smoke runs).
    #[arg(long)]
    quick: bool,
    /// Print the report as JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Time with wall-clock time instead of the thread's CPU time (the default, which does
    /// not count time the benchmark thread waited for a busy CPU).
    #[arg(long)]
    wall_clock: bool,
}

#[derive(Debug, thiserror::Error)]
enum CliError {
    #[error(transparent)]
    Container(#[from] ContainerError),
    #[error("{path}: {source}")]
    File { path: PathBuf, source: io::Error },
    #[error("refusing to write a binary container to a terminal; give an output file")]
    TerminalOutput,
    #[error("{0}: input and output are the same file")]
    SameFile(PathBuf),
    #[error("{0}: the output file exists (use -f to replace it)")]
    OutputExists(PathBuf),
    #[error(transparent)]
    Corpus(#[from] iaa_bench::CorpusError),
    #[error(transparent)]
    Bench(#[from] iaa_bench::BenchError),
    #[error("writing the report: {0}")]
    Report(io::Error),
    #[error("selftest: {0}")]
    NoDevice(iaa::Error),
    #[error("selftest: not every work queue passed (see the verdicts)")]
    SelftestFailed,
}

impl CliError {
    /// The process exit status for this error.
    fn exit_code(&self) -> u8 {
        match self {
            CliError::NoDevice(_) => 2,
            _ => 1,
        }
    }
}

fn is_dash(p: &std::path::Path) -> bool {
    p.as_os_str() == "-"
}

/// Refuses an output that names the input file (creating it would truncate the input).
fn check_distinct(input: &std::path::Path, output: &std::path::Path) -> Result<(), CliError> {
    if is_dash(input) || is_dash(output) {
        return Ok(());
    }
    if let (Ok(a), Ok(b)) = (input.canonicalize(), output.canonicalize()) {
        if a == b {
            return Err(CliError::SameFile(output.to_path_buf()));
        }
    }
    Ok(())
}

fn open_input(path: &PathBuf) -> Result<File, CliError> {
    File::open(path).map_err(|source| CliError::File {
        path: path.clone(),
        source,
    })
}

/// An output file written under a temporary name in the same directory and renamed over
/// the real name only when everything succeeded ([`TempOutput::commit`]). Dropped without
/// `commit` (any error), it removes the temporary file: an existing output is never
/// truncated or deleted, and no partial output is left behind.
struct TempOutput {
    tmp: PathBuf,
    dest: PathBuf,
    force: bool,
    file: Option<File>,
}

impl TempOutput {
    /// Refuses an existing `dest` unless `force`; creates the temporary file.
    fn create(dest: &std::path::Path, force: bool) -> Result<TempOutput, CliError> {
        if !force && std::fs::symlink_metadata(dest).is_ok() {
            return Err(CliError::OutputExists(dest.to_path_buf()));
        }
        let dir = match dest.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let name = dest
            .file_name()
            .map_or_else(|| std::ffi::OsString::from("out"), |n| n.to_os_string());
        for attempt in 0..100u32 {
            let mut tmp_name = std::ffi::OsString::from(".");
            tmp_name.push(&name);
            tmp_name.push(format!(".iaa-tmp-{}-{attempt}", std::process::id()));
            let tmp = dir.join(tmp_name);
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&tmp)
            {
                Ok(f) => {
                    return Ok(TempOutput {
                        tmp,
                        dest: dest.to_path_buf(),
                        force,
                        file: Some(f),
                    })
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(source) => return Err(CliError::File { path: tmp, source }),
            }
        }
        Err(CliError::File {
            path: dir,
            source: io::Error::new(io::ErrorKind::AlreadyExists, "no free temporary name"),
        })
    }

    /// The temporary file, to write into.
    fn file(&mut self) -> &mut File {
        self.file.as_mut().expect("open until commit")
    }

    /// Flushes the data to disk and moves the file to its real name. Without `force` the
    /// move fails (and the existing file stays) if the name appeared in the meantime.
    fn commit(mut self) -> Result<(), CliError> {
        let err = |path: &std::path::Path| {
            let path = path.to_path_buf();
            move |source| CliError::File { path, source }
        };
        if let Some(f) = self.file.take() {
            f.sync_all().map_err(err(&self.tmp))?;
        }
        if self.force {
            std::fs::rename(&self.tmp, &self.dest).map_err(err(&self.dest))?;
        } else {
            // A hard link never replaces an existing name.
            std::fs::hard_link(&self.tmp, &self.dest).map_err(|e| {
                if e.kind() == io::ErrorKind::AlreadyExists {
                    CliError::OutputExists(self.dest.clone())
                } else {
                    err(&self.dest)(e)
                }
            })?;
            let _ = std::fs::remove_file(&self.tmp);
        }
        Ok(())
    }
}

impl Drop for TempOutput {
    fn drop(&mut self) {
        // After a successful commit the temporary name no longer exists (or is a second link
        // to the committed file): removing it is harmless either way.
        self.file = None;
        let _ = std::fs::remove_file(&self.tmp);
    }
}

fn compress(a: CompressArgs) -> Result<(), CliError> {
    container::check_unit_size(a.unit_size)?;
    check_distinct(&a.input, &a.output)?;
    let (codec_id, level) = (
        match a.codec {
            CodecArg::Deflate => Codec::Deflate,
            CodecArg::Zstd => Codec::Zstd,
        },
        match a.level {
            LevelArg::Fast => CliLevel::Fast,
            LevelArg::Better => CliLevel::Better,
        },
    );
    let flags = if level == CliLevel::Better {
        FLAG_LEVEL_BETTER
    } else {
        0
    };
    let hw_mode = match a.hw_mode {
        HwModeArg::Fixed => iaa::HwMode::Fixed,
        HwModeArg::Dynamic => iaa::HwMode::Dynamic,
    };
    let mut codec = PoolCodec::new(
        codec_id,
        level,
        a.unit_size,
        !a.no_hybrid,
        a.completion_timeout_ms,
        hw_mode,
    )
    .map_err(ContainerError::CodecSetup)?;
    if a.verbose {
        eprintln!("iaa: path: {}", codec.describe());
    }
    let params = container::Params {
        codec: codec_id,
        flags,
        unit_size: a.unit_size,
    };
    // The input length goes into the header, so stdin is read whole first.
    let (input, len): (Box<dyn Read>, u64) = if is_dash(&a.input) {
        let mut v = Vec::new();
        io::stdin()
            .lock()
            .read_to_end(&mut v)
            .map_err(ContainerError::Io)?;
        let n = v.len() as u64;
        (Box::new(Cursor::new(v)), n)
    } else {
        let f = open_input(&a.input)?;
        let n = f
            .metadata()
            .map_err(|source| CliError::File {
                path: a.input.clone(),
                source,
            })?
            .len();
        (Box::new(BufReader::with_capacity(1 << 20, f)), n)
    };
    let mut bar = Progress::new("compress", len);
    let summary = if is_dash(&a.output) {
        if io::stdout().is_terminal() {
            return Err(CliError::TerminalOutput);
        }
        // The table precedes the payloads, so stdout output is assembled in memory.
        let mut out = Cursor::new(Vec::new());
        let s = container::compress(input, len, &mut out, params, &mut codec, &mut |d| {
            bar.update(d)
        })?;
        let mut so = io::stdout().lock();
        so.write_all(out.get_ref()).map_err(ContainerError::Io)?;
        so.flush().map_err(ContainerError::Io)?;
        s
    } else {
        let mut tmp = TempOutput::create(&a.output, a.force)?;
        let mut out = BufWriter::with_capacity(1 << 20, tmp.file());
        let s = container::compress(input, len, &mut out, params, &mut codec, &mut |d| {
            bar.update(d)
        })?;
        out.flush().map_err(ContainerError::Io)?;
        drop(out);
        tmp.commit()?;
        s
    };
    bar.finish();
    if a.verbose {
        eprintln!(
            "iaa: {} -> {} bytes (ratio {:.3}), {} units of {} bytes, {} stored raw",
            summary.original_len,
            summary.container_len,
            summary.original_len as f64 / summary.container_len.max(1) as f64,
            summary.units,
            a.unit_size,
            summary.raw_units
        );
        eprintln!("iaa: {}", codec.report());
    }
    Ok(())
}

fn decompress(a: DecompressArgs) -> Result<(), CliError> {
    check_distinct(&a.input, &a.output)?;
    let (input, len): (Box<dyn Read>, Option<u64>) = if is_dash(&a.input) {
        (
            Box::new(BufReader::with_capacity(1 << 20, io::stdin().lock())),
            None,
        )
    } else {
        let f = open_input(&a.input)?;
        let n = f
            .metadata()
            .map_err(|source| CliError::File {
                path: a.input.clone(),
                source,
            })?
            .len();
        (Box::new(BufReader::with_capacity(1 << 20, f)), Some(n))
    };
    let mut bar = Progress::new("decompress", len.unwrap_or(0));
    let verbose = a.verbose;
    let hybrid = !a.no_hybrid;
    let timeout_ms = a.completion_timeout_ms;
    let codec_for = |h: &container::Header| -> Result<Box<dyn UnitCodec>, String> {
        let mut c = PoolCodec::new(
            h.codec,
            CliLevel::Fast,
            h.unit_size as usize,
            hybrid,
            timeout_ms,
            iaa::HwMode::Fixed,
        )?;
        if verbose {
            eprintln!("iaa: path: {}", c.describe());
            c.report_on_drop(true);
        }
        Ok(Box::new(c))
    };
    let summary = if is_dash(&a.output) {
        let mut out = BufWriter::with_capacity(1 << 20, io::stdout().lock());
        container::decompress(input, len, &mut out, codec_for, &mut |d| bar.update(d))?
    } else {
        let mut tmp = TempOutput::create(&a.output, a.force)?;
        let mut out = BufWriter::with_capacity(1 << 20, tmp.file());
        let s = container::decompress(input, len, &mut out, codec_for, &mut |d| bar.update(d))?;
        out.flush().map_err(ContainerError::Io)?;
        drop(out);
        tmp.commit()?;
        s
    };
    bar.finish();
    if a.verbose {
        eprintln!(
            "iaa: {} -> {} bytes, {} units, {} stored raw",
            summary.container_len, summary.original_len, summary.units, summary.raw_units
        );
    }
    Ok(())
}

fn bench(a: BenchArgs) -> Result<(), CliError> {
    let opts = iaa_bench::LoadOptions {
        max_bytes_per_file: a.quick.then_some(256 << 10),
    };
    let corpus = if a.files.is_empty() {
        iaa_bench::corpus::load(a.corpus.as_deref(), opts)?
    } else {
        iaa_bench::corpus::load_files(&a.files, opts)?
    };
    let interactive = io::stderr().is_terminal();
    if corpus.source == iaa_bench::CorpusSource::Generated {
        eprintln!("iaa bench: no corpus directory found (give FILE... or --corpus DIR); using GENERATED data");
    }
    let cfg = iaa_bench::BenchConfig {
        unit_sizes: a.unit_sizes,
        runs: a.runs,
        clock: if a.wall_clock {
            iaa_bench::Clock::Wall
        } else {
            iaa_bench::Clock::ThreadCpu
        },
    };
    let mut codecs = iaa_bench::peers::all_codecs().map_err(iaa_bench::BenchError::from)?;
    let report = iaa_bench::engine::run(&corpus, &mut codecs, &cfg, |msg| {
        if interactive {
            eprint!("\r\x1b[Kmeasuring {msg}");
        }
    })?;
    if interactive {
        eprint!("\r\x1b[K");
    }
    let mut so = io::stdout().lock();
    if a.json {
        serde_json::to_writer_pretty(&mut so, &report).map_err(|e| CliError::Report(e.into()))?;
        writeln!(so).map_err(CliError::Report)?;
    } else {
        so.write_all(report.to_table().as_bytes())
            .map_err(CliError::Report)?;
    }
    so.flush().map_err(CliError::Report)
}

fn selftest(a: SelftestArgs) -> Result<(), CliError> {
    let device = match (a.sys_root, a.dev_root, a.device) {
        (Some(sys_root), Some(dev_root), _) => iaa::Device::Kernel { sys_root, dev_root },
        (_, _, Some(name)) => iaa::Device::Named(name),
        _ => iaa::Device::Auto,
    };
    let report = iaa::selftest(device).map_err(CliError::NoDevice)?;
    let mut so = io::stdout().lock();
    if a.json {
        writeln!(so, "{}", report.to_json()).map_err(CliError::Report)?;
    } else {
        write!(so, "{report}").map_err(CliError::Report)?;
    }
    so.flush().map_err(CliError::Report)?;
    if report.passed() {
        Ok(())
    } else {
        Err(CliError::SelftestFailed)
    }
}

fn run(cli: Cli) -> Result<(), CliError> {
    match cli.command {
        Command::Compress(a) => compress(a),
        Command::Decompress(a) => decompress(a),
        Command::Bench(a) => bench(a),
        Command::Devices(a) => devices::run(&a).map_err(CliError::Report),
        Command::Selftest(a) => selftest(a),
    }
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("iaa: error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
