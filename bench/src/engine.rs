//! The benchmark engine: every codec over the same units of the same corpus, one core,
//! median of several runs, round trip verified once.

use crate::corpus::Corpus;
use crate::peers::{Compressed, PeerError, UnitCodec};
use serde::Serialize;
use std::time::Instant;

/// Errors of a benchmark run.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// A codec failed on a unit.
    #[error("unit {unit} of {unit_size} bytes: {source}")]
    Codec {
        /// Index of the unit.
        unit: usize,
        /// Unit size of the pass.
        unit_size: usize,
        /// The codec's error.
        source: PeerError,
    },
    /// A codec returned a different length than the unit's.
    #[error("{codec}: unit {unit} decompressed to {got} bytes, expected {expected}")]
    WrongLength {
        /// Codec name.
        codec: String,
        /// Index of the unit.
        unit: usize,
        /// Bytes returned.
        got: usize,
        /// Unit length.
        expected: usize,
    },
    /// The round trip did not give back the input.
    #[error("{codec}: round trip at unit size {unit_size} does not match the input")]
    Mismatch {
        /// Codec name.
        codec: String,
        /// Unit size of the pass.
        unit_size: usize,
    },
    /// Bad configuration.
    #[error("invalid benchmark configuration: {0}")]
    Config(String),
    /// Codec setup failed.
    #[error(transparent)]
    Init(#[from] PeerError),
}

/// Which clock times a pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Clock {
    /// CPU time of the measuring thread (`CLOCK_THREAD_CPUTIME_ID`): time the thread was
    /// descheduled does not count, so figures stay comparable on a busy shared machine.
    #[default]
    ThreadCpu,
    /// Elapsed wall-clock time.
    Wall,
}

/// A point in time on one of the [`Clock`]s.
#[derive(Clone, Copy)]
pub(crate) enum Stamp {
    Cpu(f64),
    Wall(Instant),
}

/// CPU time of the calling thread, in seconds (NaN if the clock is unavailable).
pub fn thread_cpu_secs() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec into the valid, exclusively borrowed `ts`.
    let r = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if r != 0 {
        return f64::NAN;
    }
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

impl Clock {
    pub(crate) fn now(self) -> Stamp {
        match self {
            Clock::ThreadCpu => Stamp::Cpu(thread_cpu_secs()),
            Clock::Wall => Stamp::Wall(Instant::now()),
        }
    }
}

impl Stamp {
    pub(crate) fn elapsed(self) -> f64 {
        match self {
            Stamp::Cpu(t) => thread_cpu_secs() - t,
            Stamp::Wall(t) => t.elapsed().as_secs_f64(),
        }
    }
}

/// What to measure.
#[derive(Debug, Clone)]
pub struct BenchConfig {
    /// Unit sizes in bytes.
    pub unit_sizes: Vec<usize>,
    /// Timed runs per measurement; the median is reported.
    pub runs: usize,
    /// Clock used for the timings.
    pub clock: Clock,
}

impl Default for BenchConfig {
    fn default() -> Self {
        BenchConfig {
            unit_sizes: vec![4096, 16384, 65536],
            runs: 5,
            clock: Clock::ThreadCpu,
        }
    }
}

/// One codec at one unit size.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// Unit size in bytes.
    pub unit_size: usize,
    /// Codec name.
    pub codec: String,
    /// Whether this is this project's software path.
    pub ours: bool,
    /// Median compression speed, MB/s of input (MB = 10^6 bytes).
    pub compress_mb_s: f64,
    /// Median decompression speed, MB/s of output.
    pub decompress_mb_s: f64,
    /// Input bytes / stored bytes (incompressible units counted at their raw size).
    pub ratio: f64,
    /// Units that did not shrink and are stored raw.
    pub raw_units: usize,
    /// Units in the pass.
    pub units: usize,
    /// For our rows: compress speed / the compress reference's (see [`Report`]).
    pub compress_vs_ref: Option<f64>,
    /// For our rows: decompress speed / the decompress reference's.
    pub decompress_vs_ref: Option<f64>,
    /// Every individual compress time, seconds.
    pub compress_secs: Vec<f64>,
    /// Every individual decompress time, seconds.
    pub decompress_secs: Vec<f64>,
}

/// The result of a whole benchmark.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Corpus description: where it came from and every file used with its size.
    pub corpus: String,
    /// The files used, in order: name and bytes measured (after `--quick`'s cut).
    pub files: Vec<(String, usize)>,
    /// Whether the corpus was generated rather than read from files.
    pub generated_corpus: bool,
    /// Bytes per pass.
    pub input_bytes: usize,
    /// Runs per measurement.
    pub runs: usize,
    /// Clock of the timings.
    pub clock: Clock,
    /// CPU model and core count.
    pub machine: String,
    /// /proc/loadavg (1, 5, 15 minutes) when the run started: other load on the machine.
    pub load_before: String,
    /// UTC date of the run (YYYY-MM-DD).
    pub date: String,
    /// Compress reference codec name per unit size (ISA-L when built in, else the fastest peer).
    pub compress_reference: Vec<(usize, String)>,
    /// Decompress reference codec name (libdeflate).
    pub decompress_reference: String,
    /// The rows, grouped by unit size, ours first.
    pub rows: Vec<Row>,
    /// The DSA operations on the software path (CRC-32C and same-filled pages per second),
    /// when the corpus has at least one whole 4 KiB page.
    pub dsa: Option<crate::dsa::DsaReport>,
}

/// Median of a non-empty list.
pub fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// All units of a corpus at one unit size: the files concatenated, units never crossing a file
/// boundary (the last unit of each file may be short).
struct Units {
    all: Vec<u8>,
    spans: Vec<(usize, usize)>,
}

impl Units {
    fn new(corpus: &Corpus, unit_size: usize) -> Units {
        let mut all = Vec::with_capacity(corpus.total_len());
        let mut spans = Vec::new();
        for f in &corpus.files {
            let base = all.len();
            all.extend_from_slice(&f.data);
            let mut off = 0;
            while off < f.data.len() {
                let len = unit_size.min(f.data.len() - off);
                spans.push((base + off, len));
                off += len;
            }
        }
        Units { all, spans }
    }
}

struct Measured {
    compress_secs: Vec<f64>,
    decompress_secs: Vec<f64>,
    stored: usize,
    raw_units: usize,
}

/// Buffers shared by every codec of one unit size (each run uses them from scratch).
struct Scratch {
    comp: Vec<u8>,
    out: Vec<u8>,
    lens: Vec<Option<usize>>,
    outcomes: Vec<Compressed>,
    dec_lens: Vec<usize>,
    dec_index: Vec<usize>,
}

/// What every run of one unit size works on.
struct Pass<'a> {
    units: &'a Units,
    srcs: &'a [&'a [u8]],
    unit_size: usize,
    clock: Clock,
}

/// One compress pass and one decompress pass of `codec` over every unit, timed; on the first
/// run the round trip is verified and the stored size recorded.
fn run_once(
    codec: &mut dyn UnitCodec,
    pass: &Pass<'_>,
    first: bool,
    sc: &mut Scratch,
    m: &mut Measured,
) -> Result<(), BenchError> {
    let Pass {
        units,
        srcs,
        unit_size,
        clock,
    } = *pass;
    let n = units.spans.len();
    let slot = codec.max_compressed_len(unit_size);
    if sc.comp.len() < n * slot {
        sc.comp.resize(n * slot, 0);
    }
    let err = |(unit, source)| BenchError::Codec {
        unit,
        unit_size,
        source,
    };
    let t = clock.now();
    codec
        .compress_many(srcs, &mut sc.comp[..n * slot], slot, &mut sc.outcomes)
        .map_err(err)?;
    m.compress_secs.push(t.elapsed());
    for ((l, o), src) in sc.lens.iter_mut().zip(&sc.outcomes).zip(srcs) {
        *l = match *o {
            Compressed::Bytes(c) if c < src.len() => Some(c),
            _ => None,
        };
    }

    let t = clock.now();
    // Raw units are copied; the compressed ones go to the codec in one call.
    let mut comp_srcs: Vec<&[u8]> = Vec::with_capacity(n);
    sc.dec_index.clear();
    let mut dsts: Vec<&mut [u8]> = Vec::with_capacity(n);
    let mut rest = sc.out.as_mut_slice();
    for (i, &(off, len)) in units.spans.iter().enumerate() {
        let (dst, r) = std::mem::take(&mut rest).split_at_mut(len);
        rest = r;
        match sc.lens[i] {
            Some(c) => {
                comp_srcs.push(&sc.comp[i * slot..i * slot + c]);
                dsts.push(dst);
                sc.dec_index.push(i);
            }
            None => dst.copy_from_slice(&units.all[off..off + len]),
        }
    }
    let k = comp_srcs.len();
    let dec_index = &sc.dec_index;
    codec
        .decompress_many(&comp_srcs, &mut dsts, &mut sc.dec_lens[..k])
        .map_err(|(j, e)| err((dec_index.get(j).copied().unwrap_or(0), e)))?;
    m.decompress_secs.push(t.elapsed());
    drop(dsts);
    drop(comp_srcs);
    for (&i, &got) in sc.dec_index.iter().zip(&sc.dec_lens[..k]) {
        let expected = units.spans[i].1;
        if got != expected {
            return Err(BenchError::WrongLength {
                codec: codec.name().to_string(),
                unit: i,
                got,
                expected,
            });
        }
    }
    if first {
        if sc.out != units.all {
            return Err(BenchError::Mismatch {
                codec: codec.name().to_string(),
                unit_size,
            });
        }
        m.raw_units = sc.lens.iter().filter(|l| l.is_none()).count();
        m.stored = sc
            .lens
            .iter()
            .zip(&units.spans)
            .map(|(l, &(_, len))| l.unwrap_or(len))
            .sum();
    }
    Ok(())
}

/// CPU model name and logical core count, from /proc/cpuinfo.
pub fn machine_description() -> String {
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".to_string());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    format!("{model}, {cores} logical cores (benchmark uses one)")
}

/// Today's UTC date as YYYY-MM-DD.
pub fn utc_date() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    // Days since 1970-01-01 to a civil date (proleptic Gregorian).
    let z = (secs / 86_400) as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Runs every codec of `codecs` over `corpus` at every unit size of `cfg`.
/// `progress` is called with a short line before each measurement.
pub fn run(
    corpus: &Corpus,
    codecs: &mut [Box<dyn UnitCodec>],
    cfg: &BenchConfig,
    mut progress: impl FnMut(&str),
) -> Result<Report, BenchError> {
    if cfg.runs == 0 {
        return Err(BenchError::Config("runs must be at least 1".into()));
    }
    if cfg.unit_sizes.contains(&0) {
        return Err(BenchError::Config("unit sizes must be positive".into()));
    }
    if corpus.total_len() == 0 {
        return Err(BenchError::Config("the corpus is empty".into()));
    }
    let load_before = std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default();
    let input_bytes = corpus.total_len();
    let mb = input_bytes as f64 / 1e6;
    let mut rows = Vec::new();
    let mut compress_reference = Vec::new();
    let mut decompress_reference = String::from("libdeflate-1");
    for &unit_size in &cfg.unit_sizes {
        for c in codecs.iter_mut() {
            c.set_unit_size(unit_size)?;
        }
        let units = Units::new(corpus, unit_size);
        let n = units.spans.len();
        let srcs: Vec<&[u8]> = units
            .spans
            .iter()
            .map(|&(off, len)| &units.all[off..off + len])
            .collect();
        let mut sc = Scratch {
            comp: Vec::new(),
            out: vec![0u8; units.all.len()],
            lens: vec![None; n],
            outcomes: vec![Compressed::Incompressible; n],
            dec_lens: vec![0; n],
            dec_index: Vec::with_capacity(n),
        };
        let mut measured: Vec<Measured> = codecs
            .iter()
            .map(|_| Measured {
                compress_secs: Vec::with_capacity(cfg.runs),
                decompress_secs: Vec::with_capacity(cfg.runs),
                stored: 0,
                raw_units: 0,
            })
            .collect();
        let pass = Pass {
            units: &units,
            srcs: &srcs,
            unit_size,
            clock: cfg.clock,
        };
        // Runs are interleaved (run 1 of every codec, then run 2, ...) so that a burst of other
        // load on the machine spreads over all rows instead of skewing one.
        for run in 0..cfg.runs {
            for (codec, m) in codecs.iter_mut().zip(measured.iter_mut()) {
                progress(&format!(
                    "{} @ {} bytes, run {}/{}",
                    codec.name(),
                    unit_size,
                    run + 1,
                    cfg.runs
                ));
                run_once(codec.as_mut(), &pass, run == 0, &mut sc, m)?;
            }
        }
        let first = rows.len();
        for (codec, m) in codecs.iter().zip(measured) {
            rows.push(Row {
                unit_size,
                codec: codec.name().to_string(),
                ours: codec.is_ours(),
                compress_mb_s: mb / median(&m.compress_secs),
                decompress_mb_s: mb / median(&m.decompress_secs),
                ratio: input_bytes as f64 / m.stored as f64,
                raw_units: m.raw_units,
                units: n,
                compress_vs_ref: None,
                decompress_vs_ref: None,
                compress_secs: m.compress_secs,
                decompress_secs: m.decompress_secs,
            });
        }
        let group = &mut rows[first..];
        let peers = || group.iter().filter(|r| !r.ours);
        let cref = peers()
            .find(|r| r.codec.starts_with("isa-l"))
            .or_else(|| peers().max_by(|a, b| a.compress_mb_s.total_cmp(&b.compress_mb_s)))
            .map(|r| (r.codec.clone(), r.compress_mb_s));
        let dref = peers()
            .find(|r| r.codec.starts_with("libdeflate"))
            .or_else(|| peers().max_by(|a, b| a.decompress_mb_s.total_cmp(&b.decompress_mb_s)))
            .map(|r| (r.codec.clone(), r.decompress_mb_s));
        for r in group.iter_mut().filter(|r| r.ours) {
            r.compress_vs_ref = cref.as_ref().map(|(_, s)| r.compress_mb_s / s);
            r.decompress_vs_ref = dref.as_ref().map(|(_, s)| r.decompress_mb_s / s);
        }
        if let Some((name, _)) = cref {
            compress_reference.push((unit_size, name));
        }
        if let Some((name, _)) = dref {
            decompress_reference = name;
        }
    }
    Ok(Report {
        corpus: corpus.describe(),
        files: corpus
            .files
            .iter()
            .map(|f| (f.name.clone(), f.data.len()))
            .collect(),
        generated_corpus: corpus.source == crate::corpus::CorpusSource::Generated,
        input_bytes,
        runs: cfg.runs,
        clock: cfg.clock,
        machine: machine_description(),
        load_before,
        date: utc_date(),
        compress_reference,
        decompress_reference,
        rows,
        dsa: {
            progress("DSA operations");
            crate::dsa::run(corpus, cfg.runs, cfg.clock).ok()
        },
    })
}

fn unit_label(u: usize) -> String {
    if u.is_multiple_of(1024) {
        format!("{} KiB", u / 1024)
    } else {
        format!("{u} B")
    }
}

impl Report {
    /// The report as a plain-text table (Markdown-compatible).
    pub fn to_table(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let _ = writeln!(s, "corpus:  {}", self.corpus);
        let _ = writeln!(
            s,
            "machine: {} (load average before: {})",
            self.machine, self.load_before
        );
        let clock = match self.clock {
            Clock::ThreadCpu => "thread CPU time",
            Clock::Wall => "wall-clock time",
        };
        let _ = writeln!(
            s,
            "date:    {}; median of {} runs; {}; MB = 10^6 bytes of uncompressed data",
            self.date, self.runs, clock
        );
        let crefs: Vec<String> = {
            let mut v: Vec<String> = self
                .compress_reference
                .iter()
                .map(|(_, n)| n.clone())
                .collect();
            v.dedup();
            v
        };
        let _ = writeln!(
            s,
            "x ref:   ours / {} (compress), ours / {} (decompress)\n",
            crefs.join(" | "),
            self.decompress_reference
        );
        let w = self
            .rows
            .iter()
            .map(|r| r.codec.len())
            .max()
            .unwrap_or(5)
            .max(5);
        let _ = writeln!(
            s,
            "| unit   | {:<w$} | compress MB/s | decompress MB/s | ratio | raw units | compress x ref | decompress x ref |",
            "codec"
        );
        let _ = writeln!(
            s,
            "|--------|-{}-|--------------:|----------------:|------:|----------:|---------------:|-----------------:|",
            "-".repeat(w)
        );
        let fmt_x = |x: Option<f64>| x.map(|v| format!("{v:.2}x")).unwrap_or_default();
        for r in &self.rows {
            let _ = writeln!(
                s,
                "| {:<6} | {:<w$} | {:>13.1} | {:>15.1} | {:>5.3} | {:>9} | {:>14} | {:>16} |",
                unit_label(r.unit_size),
                r.codec,
                r.compress_mb_s,
                r.decompress_mb_s,
                r.ratio,
                format!("{}/{}", r.raw_units, r.units),
                fmt_x(r.compress_vs_ref),
                fmt_x(r.decompress_vs_ref),
            );
        }
        if let Some(d) = &self.dsa {
            s.push_str(&d.to_table());
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::corpus;

    #[test]
    fn median_of_odd_and_even_lists() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        assert!(median(&[]).is_nan());
    }

    #[test]
    fn generated_corpus_is_deterministic_and_sized() {
        let a = corpus::generated(100_000);
        let b = corpus::generated(100_000);
        assert_eq!(a.files.len(), 4);
        for (x, y) in a.files.iter().zip(&b.files) {
            assert_eq!(x.data.len(), 100_000);
            assert!(x.data == y.data, "{} differs between calls", x.name);
        }
        assert!(a.describe().contains("GENERATED"));
    }

    #[test]
    fn every_codec_round_trips_on_generated_data() {
        let c = corpus::generated(200_000);
        let mut codecs = crate::peers::all_codecs().unwrap();
        let cfg = BenchConfig {
            unit_sizes: vec![4096, 65536],
            runs: 1,
            clock: Clock::Wall,
        };
        let r = run(&c, &mut codecs, &cfg, |_| {}).unwrap();
        assert_eq!(r.rows.len(), 2 * codecs.len());
        for row in &r.rows {
            assert!(row.ratio > 1.0, "{row:?}");
            // The half-random file gives incompressible units at 4 KiB.
            if row.unit_size == 4096 {
                assert!(row.raw_units > 0, "{row:?}");
            }
        }
        assert!(r
            .rows
            .iter()
            .filter(|x| x.ours)
            .all(|x| x.compress_vs_ref.is_some()));
    }

    #[test]
    fn bad_configs_are_errors() {
        let c = corpus::generated(1000);
        let mut codecs = crate::peers::all_codecs().unwrap();
        let zero_runs = BenchConfig {
            unit_sizes: vec![4096],
            runs: 0,
            clock: Clock::ThreadCpu,
        };
        assert!(matches!(
            run(&c, &mut codecs, &zero_runs, |_| {}),
            Err(BenchError::Config(_))
        ));
        let zero_unit = BenchConfig {
            unit_sizes: vec![0],
            runs: 1,
            clock: Clock::ThreadCpu,
        };
        assert!(run(&c, &mut codecs, &zero_unit, |_| {}).is_err());
    }
}
