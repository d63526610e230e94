//! The DSA section of `iaa bench`: CRC-32C and same-filled detection of 4 KiB pages per
//! second on the pool's software path (`iaa::Pool::crc32c`, `iaa::Pool::same_filled` with
//! `Path::Software`: one call for all pages), against the `crc32c` crate and plain loops on the
//! same pages, in one run.
//!
//! The pages are the corpus cut into 4 KiB pages (a shorter tail dropped), with every 8th page
//! replaced by a same-filled one (zeros or a repeated word, as zswap sees them), so the
//! same-filled rows measure both the early exit of a page that differs and the full scan of one
//! that does not.

use serde::Serialize;

use crate::corpus::Corpus;
use crate::engine::{median, Clock};

/// Bytes per page.
pub const PAGE: usize = 4096;

/// One row: an operation by one implementation.
#[derive(Debug, Clone, Serialize)]
pub struct DsaRow {
    /// `crc32c` or `same_filled`.
    pub op: String,
    /// Who computes it.
    pub implementation: String,
    /// Whether this is this project's pool.
    pub ours: bool,
    /// Median pages per second.
    pub pages_per_s: f64,
    /// Our row's speed / this row's (on our rows: / the fastest other row).
    pub ours_vs_this: Option<f64>,
    /// Every individual time of the pass, seconds.
    pub secs: Vec<f64>,
}

/// The DSA section.
#[derive(Debug, Clone, Serialize)]
pub struct DsaReport {
    /// Pages measured.
    pub pages: usize,
    /// Of them, same-filled.
    pub same_filled: usize,
    /// The rows, CRC-32C first.
    pub rows: Vec<DsaRow>,
}

/// Bitwise-table CRC-32C, one byte per step: the plain loop.
fn crc32c_plain(seed: u32, data: &[u8]) -> u32 {
    static TABLE: std::sync::OnceLock<[u32; 256]> = std::sync::OnceLock::new();
    let t = TABLE.get_or_init(|| {
        let mut t = [0u32; 256];
        for (i, e) in t.iter_mut().enumerate() {
            let mut c = i as u32;
            for _ in 0..8 {
                c = if c & 1 != 0 {
                    (c >> 1) ^ 0x82F6_3B78
                } else {
                    c >> 1
                };
            }
            *e = c;
        }
        t
    });
    let mut c = !seed;
    for &b in data {
        c = t[((c ^ b as u32) & 0xFF) as usize] ^ (c >> 8);
    }
    !c
}

/// zswap's check, as a plain loop: every 8-byte word equals the first.
fn same_filled_plain(page: &[u8]) -> Option<u64> {
    let w = |c: &[u8]| u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
    let first = w(&page[..8]);
    page.chunks_exact(8).all(|c| w(c) == first).then_some(first)
}

/// The pages of `corpus` (see the module docs).
pub fn pages(corpus: &Corpus) -> Vec<Vec<u8>> {
    let mut v: Vec<Vec<u8>> = corpus
        .files
        .iter()
        .flat_map(|f| f.data.chunks_exact(PAGE).map(|p| p.to_vec()))
        .collect();
    for (i, p) in v.iter_mut().enumerate().filter(|(i, _)| i % 8 == 7) {
        let word = if i % 16 == 7 {
            0
        } else {
            0x0101_0101_0101_0101 * (i as u64 & 0xFF)
        };
        *p = word.to_le_bytes().repeat(PAGE / 8);
    }
    v
}

/// Measure, `runs` interleaved runs of every row, median reported.
pub fn run(corpus: &Corpus, runs: usize, clock: Clock) -> Result<DsaReport, String> {
    let pages = pages(corpus);
    if pages.is_empty() {
        return Err("the corpus has no whole 4 KiB page".into());
    }
    let n = pages.len();
    let refs: Vec<&[u8]> = pages.iter().map(|p| p.as_slice()).collect();
    let pool = iaa::Pool::builder()
        .path(iaa::Path::Software)
        .contexts(1)
        .build()
        .map_err(|e| e.to_string())?;
    let mut crcs = vec![0u32; n];
    let mut pats = vec![None; n];
    let want_crc: Vec<u32> = pages.iter().map(|p| crc32c::crc32c(p)).collect();
    let want_pat: Vec<Option<u64>> = pages.iter().map(|p| same_filled_plain(p)).collect();
    let same = want_pat.iter().filter(|p| p.is_some()).count();
    type Pass<'a> = Box<dyn FnMut() -> bool + 'a>;
    let mut sink = 0u64;
    let names = [
        (
            "crc32c",
            "ours iaa::Pool::crc32c (software path, one call)",
            true,
        ),
        ("crc32c", "crc32c crate (crc32c::crc32c per page)", false),
        ("crc32c", "plain loop (byte-wise table per page)", false),
        (
            "same_filled",
            "ours iaa::Pool::same_filled (software path, one call)",
            true,
        ),
        (
            "same_filled",
            "plain loop (u64 words vs the first, per page)",
            false,
        ),
    ];
    let mut secs: Vec<Vec<f64>> = vec![Vec::with_capacity(runs); names.len()];
    for _ in 0..runs.max(1) {
        let mut passes: Vec<Pass<'_>> = vec![
            Box::new(|| {
                pool.crc32c(iaa::Inputs::Slices(&refs), 0, &mut crcs)
                    .is_ok()
                    && crcs == want_crc
            }),
            Box::new(|| {
                let mut ok = true;
                for (p, w) in pages.iter().zip(&want_crc) {
                    ok &= crc32c::crc32c(p) == *w;
                }
                ok
            }),
            Box::new(|| {
                let mut ok = true;
                for (p, w) in pages.iter().zip(&want_crc) {
                    ok &= crc32c_plain(0, p) == *w;
                }
                ok
            }),
            Box::new(|| {
                pool.same_filled(iaa::Inputs::Slices(&refs), &mut pats)
                    .is_ok()
                    && pats == want_pat
            }),
            Box::new(|| {
                let mut found = 0u64;
                for p in &pages {
                    found += same_filled_plain(p).is_some() as u64;
                }
                sink = sink.wrapping_add(found);
                found as usize == same
            }),
        ];
        for (k, pass) in passes.iter_mut().enumerate() {
            let t0 = clock.now();
            let ok = pass();
            secs[k].push(t0.elapsed());
            if !ok {
                return Err(format!("{}: wrong answer", names[k].1));
            }
        }
    }
    let mut rows: Vec<DsaRow> = names
        .iter()
        .zip(secs)
        .map(|(&(op, what, ours), s)| DsaRow {
            op: op.into(),
            implementation: what.into(),
            ours,
            pages_per_s: n as f64 / median(&s),
            ours_vs_this: None,
            secs: s,
        })
        .collect();
    for op in ["crc32c", "same_filled"] {
        let ours = rows
            .iter()
            .find(|r| r.op == op && r.ours)
            .map_or(f64::NAN, |r| r.pages_per_s);
        for r in rows.iter_mut().filter(|r| r.op == op && !r.ours) {
            r.ours_vs_this = Some(ours / r.pages_per_s);
        }
    }
    std::hint::black_box(sink);
    Ok(DsaReport {
        pages: n,
        same_filled: same,
        rows,
    })
}

impl DsaReport {
    /// The section as a Markdown table.
    pub fn to_table(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "\nDSA operations on the software path: {} pages of 4 KiB ({} same-filled); ours / this row in the last column\n",
            self.pages, self.same_filled
        );
        let w = self
            .rows
            .iter()
            .map(|r| r.implementation.len())
            .max()
            .unwrap_or(10);
        let _ = writeln!(
            s,
            "| op          | {:<w$} | pages/s     | ours / this |",
            "implementation"
        );
        let _ = writeln!(
            s,
            "|-------------|-{}-|------------:|------------:|",
            "-".repeat(w)
        );
        for r in &self.rows {
            let _ = writeln!(
                s,
                "| {:<11} | {:<w$} | {:>11.0} | {:>11} |",
                r.op,
                r.implementation,
                r.pages_per_s,
                r.ours_vs_this
                    .map(|x| format!("{x:.2}x"))
                    .unwrap_or_default()
            );
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_loops_agree_with_the_crate_and_the_pool() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i * 7 % 251) as u8).collect();
        assert_eq!(crc32c_plain(0, &data), crc32c::crc32c(&data));
        assert_eq!(crc32c_plain(5, &data), crc32c::crc32c_append(5, &data));
        let c = crate::corpus::generated(64 * 1024);
        let r = run(&c, 1, Clock::Wall).unwrap();
        assert_eq!(r.rows.len(), 5);
        assert!(r.same_filled > 0 && r.same_filled < r.pages);
        assert!(r.rows.iter().all(|x| x.pages_per_s > 0.0));
    }
}
