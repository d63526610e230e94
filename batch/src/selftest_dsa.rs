//! The DSA part of [`crate::selftest`]: on every DSA WQ the pool's DSA operations would use, the
//! same known inputs go through every DSA descriptor the library submits (CRC-32C with and
//! without a seed, copy, fill, compare, compare-pattern, and a batch descriptor of them where
//! the WQ takes batches), each completion record field the library relies on (status, result,
//! CRC value) and each output compared with the software answer, a CRC-32C of a never-touched
//! page, then the latency of CRC-32C, copy and compare-pattern over a few hundred descriptors
//! each. The plan runs on the job memory a pool context uses
//! ([`DsaJobMemory`]), so it tests the path the pool takes.

// A failed check is the error of these helpers; it is built once per check, off any hot path.
#![allow(clippy::result_large_err)]

use std::time::{Duration, Instant};

use iaa_descriptors::{DsaCompletionRecord, DsaStatus, StatusByte};
use iaa_wq::{DsaJob, DsaJobMemory, DsaOutcome, RunOptions, SubmitMethod, WqMode};

use crate::dsa::DsaBackend;
use crate::selftest::{Check, CheckStatus, Verdict, VerdictKind};

/// How long one DSA descriptor may take before its check fails.
const DEADLINE: Duration = Duration::from_secs(2);
/// Descriptors per latency figure.
const LATENCY_SAMPLES: usize = 200;
/// Jobs in the batch-descriptor check.
const BATCH: usize = 8;

/// What the pool does when the DSA disagrees with software on an answer it returns as is.
const NO_DSA: &str = "a pool's known-answer test at build finds this too, and the pool then \
                      runs the DSA operations in software on this device";

/// Run the DSA plan on every WQ of `be`, appending checks and one verdict per WQ.
pub(crate) fn run(be: &DsaBackend, checks: &mut Vec<Check>, verdicts: &mut Vec<Verdict>) {
    for (w, name) in be.wq_names().iter().enumerate() {
        let first = checks.len();
        match DsaJobMemory::new(BATCH) {
            Ok(mut mem) => Plan {
                be,
                w,
                name,
                mem: &mut mem,
            }
            .run(checks),
            Err(e) => checks.push(Check::fail(name, "dsa_submit", "", &e.to_string())),
        }
        verdicts.push(verdict(name, &checks[first..]));
    }
}

struct Plan<'a> {
    be: &'a DsaBackend,
    w: usize,
    name: &'a str,
    mem: &'a mut DsaJobMemory,
}

/// The inputs of the DSA plan: text, zeros, random bytes, and a 64 KiB unit.
fn inputs() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("text-4k", crate::selftest::text(4096, 11)),
        ("zeros-4k", vec![0u8; 4096]),
        ("random-4k", crate::selftest::random(4096, 13)),
        ("text-64k", crate::selftest::text(65536, 17)),
    ]
}

impl Plan<'_> {
    fn run(&mut self, out: &mut Vec<Check>) {
        out.push(self.submission());
        if !self.be.in_place() {
            out.push(Check::skipped(
                self.name,
                "dsa_crc32c",
                "",
                "the device cannot work on process memory in place (no PASID): the DSA \
                 operations run in software",
            ));
            return;
        }
        for (label, data) in inputs() {
            out.push(self.crc(label, &data, 0));
            out.push(self.crc(label, &data, 0x1234_5678));
            out.push(self.copy(label, &data));
            out.push(self.compare(label, &data));
            out.push(self.pattern(label, &data));
        }
        out.push(self.fill());
        out.push(self.batch());
        out.push(self.page_fault());
        for op in [
            "dsa_latency_crc32c",
            "dsa_latency_copy",
            "dsa_latency_compare_pattern",
        ] {
            out.push(self.latency(op));
        }
    }

    /// A CRC-32C of a never-touched page: the device faults it in itself (PASID with page
    /// requests), or reports the fault, and the pool does such a unit in software.
    fn page_fault(&mut self) -> Check {
        // A large zeroed allocation comes straight from mmap: its pages are untouched.
        let big = vec![0u8; 8 << 20];
        let page = &big[4 << 20..(4 << 20) + 4096];
        let mut out = [DsaOutcome::Pending];
        let job = DsaJob::Crc32c { src: page, seed: 0 };
        self.exec(std::slice::from_ref(&job), false, &mut out);
        let want = iaa_fallback::crc::crc32c_fast(0, page);
        match out[0] {
            DsaOutcome::Record(r) => {
                match StatusByte(r.status).dsa() {
                    Some(DsaStatus::Success) if r.crc_val() as u32 == want => Check::pass(
                        self.name,
                        "dsa_page_fault",
                        "zeros-4k",
                        "the device read the untouched page itself",
                    ),
                    Some(DsaStatus::Success) => {
                        Check::fail(self.name, "dsa_page_fault", "zeros-4k", "wrong CRC-32C")
                            .disagree("crc", hex32(r.crc_val() as u32), hex32(want), NO_DSA)
                    }
                    Some(DsaStatus::PageFaultNobof | DsaStatus::PageFaultIr) => Check::pass(
                        self.name,
                        "dsa_page_fault",
                        "zeros-4k",
                        "the device reported the page fault: the pool does such a unit in \
                     software (page_fault)",
                    ),
                    _ => Check::fail(
                        self.name,
                        "dsa_page_fault",
                        "zeros-4k",
                        &format!("status {:#04x}", r.status),
                    ),
                }
            }
            other => Check::fail(
                self.name,
                "dsa_page_fault",
                "zeros-4k",
                &format!("{other:?}"),
            ),
        }
    }

    fn submission(&self) -> Check {
        let wq = &self.be.wqs()[self.w];
        let method = match wq.method() {
            SubmitMethod::Movdir64b => "MOVDIR64B to a dedicated WQ's portal",
            SubmitMethod::Enqcmd => "ENQCMD to a shared WQ's portal",
            SubmitMethod::Write => "write(2) of each descriptor to the WQ's character device",
            SubmitMethod::Model => "the DSA model's portal",
        };
        let mode = match wq.config().mode {
            WqMode::Dedicated => "dedicated",
            WqMode::Shared => "shared",
        };
        let l = self.be.limits(self.w);
        let batch = match l.max_batch {
            0 => "no batch descriptors".to_string(),
            n => format!("batch descriptors of up to {n}"),
        };
        Check::pass(
            self.name,
            "dsa_submit",
            "",
            format!(
                "{method}; {mode} WQ of {}; max transfer {} bytes; {batch}",
                wq.config().size,
                l.max_transfer
            ),
        )
    }

    /// Run `jobs` on this WQ; the records (or why there are none).
    fn exec(&mut self, jobs: &[DsaJob<'_>], batch: bool, out: &mut [DsaOutcome]) -> Duration {
        let l = self.be.limits(self.w);
        let opts = RunOptions {
            batch,
            retries: 64,
            max_transfer: l.max_transfer,
            budget: DEADLINE,
        };
        let t = Instant::now();
        self.mem.run(self.be.wqs(), self.w, jobs, opts, out);
        t.elapsed()
    }

    /// One job; its record, or a failed check.
    fn one(
        &mut self,
        job: DsaJob<'_>,
        op: &str,
        label: &str,
    ) -> Result<DsaCompletionRecord, Check> {
        let mut out = [DsaOutcome::Pending];
        self.exec(std::slice::from_ref(&job), false, &mut out);
        record(out[0], self.name, op, label)
    }

    fn crc(&mut self, label: &str, data: &[u8], seed: u32) -> Check {
        let op = if seed == 0 {
            "dsa_crc32c"
        } else {
            "dsa_crc32c_seeded"
        };
        let rec = match self.one(DsaJob::Crc32c { src: data, seed }, op, label) {
            Ok(r) => r,
            Err(c) => return c,
        };
        let want = iaa_fallback::crc::crc32c_fast(seed, data);
        let got = rec.crc_val() as u32;
        let c = Check::pass(
            self.name,
            op,
            label,
            "status success, CRC-32C as software's",
        );
        if got != want {
            return Check::fail(self.name, op, label, "CRC-32C differs from software's").disagree(
                "crc",
                hex32(got),
                hex32(want),
                NO_DSA,
            );
        }
        c
    }

    fn copy(&mut self, label: &str, data: &[u8]) -> Check {
        let mut dst = vec![0xA5u8; data.len()];
        let rec = match self.one(
            DsaJob::Copy {
                src: data,
                dst: &mut dst,
            },
            "dsa_copy",
            label,
        ) {
            Ok(r) => r,
            Err(c) => return c,
        };
        let _ = rec;
        match dst.iter().zip(data).position(|(a, b)| a != b) {
            None => Check::pass(self.name, "dsa_copy", label, "the copy is byte-identical"),
            Some(at) => Check::fail(self.name, "dsa_copy", label, "the copy differs").disagree(
                "output",
                format!("byte {at} differs"),
                "identical",
                NO_DSA,
            ),
        }
    }

    fn compare(&mut self, label: &str, data: &[u8]) -> Check {
        let same = data.to_vec();
        let mut other = data.to_vec();
        let at = data.len() / 3;
        other[at] ^= 0x40;
        for (b, want, what) in [(&same, 0u8, "equal"), (&other, 1u8, "one byte differs")] {
            let rec = match self.one(DsaJob::Compare { a: data, b }, "dsa_compare", label) {
                Ok(r) => r,
                Err(c) => return c,
            };
            if rec.result != want {
                return Check::fail(self.name, "dsa_compare", label, what).disagree(
                    "result",
                    rec.result.to_string(),
                    want.to_string(),
                    NO_DSA,
                );
            }
        }
        Check::pass(
            self.name,
            "dsa_compare",
            label,
            "result 0 for equal buffers, 1 for buffers one byte apart",
        )
    }

    fn pattern(&mut self, label: &str, data: &[u8]) -> Check {
        let first = u64::from_le_bytes(data[..8].try_into().unwrap_or([0; 8]));
        let same = data
            .chunks(8)
            .all(|c| c.len() == 8 && u64::from_le_bytes(c.try_into().unwrap_or([0; 8])) == first);
        let rec = match self.one(
            DsaJob::Pattern {
                src: data,
                pattern: first,
            },
            "dsa_compare_pattern",
            label,
        ) {
            Ok(r) => r,
            Err(c) => return c,
        };
        let want = u8::from(!same);
        if rec.result != want {
            return Check::fail(
                self.name,
                "dsa_compare_pattern",
                label,
                "same-filled detection differs from software's",
            )
            .disagree("result", rec.result.to_string(), want.to_string(), NO_DSA);
        }
        Check::pass(
            self.name,
            "dsa_compare_pattern",
            label,
            format!("result {want} against the first word (same-filled: {same})"),
        )
    }

    fn fill(&mut self) -> Check {
        let mut dst = vec![0u8; 4096 + 5];
        let pattern = 0x0102_0304_0506_0708u64;
        if let Err(c) = self.one(
            DsaJob::Fill {
                dst: &mut dst,
                pattern,
            },
            "dsa_fill",
            "4101 bytes",
        ) {
            return c;
        }
        let p = pattern.to_le_bytes();
        match dst.iter().enumerate().position(|(i, b)| *b != p[i % 8]) {
            None => Check::pass(
                self.name,
                "dsa_fill",
                "4101 bytes",
                "every byte is the pattern's",
            ),
            Some(at) => Check::fail(self.name, "dsa_fill", "4101 bytes", "the fill differs")
                .disagree(
                    "output",
                    format!("byte {at} differs"),
                    "the pattern",
                    NO_DSA,
                ),
        }
    }

    /// A batch descriptor of mixed jobs, where the WQ takes one.
    fn batch(&mut self) -> Check {
        let l = self.be.limits(self.w);
        if (l.max_batch as usize) < BATCH {
            return Check::skipped(
                self.name,
                "dsa_batch",
                "",
                "the WQ takes no batch descriptors here (write(2) path, or max_batch_size below \
                 the window): the pool submits single descriptors",
            );
        }
        let data = crate::selftest::text(4096, 19);
        let zeros = vec![0u8; 4096];
        let mut dst = vec![0u8; 4096];
        let jobs = [
            DsaJob::Crc32c {
                src: &data,
                seed: 0,
            },
            DsaJob::Crc32c {
                src: &zeros,
                seed: 0,
            },
            DsaJob::Compare { a: &data, b: &data },
            DsaJob::Compare {
                a: &data,
                b: &zeros,
            },
            DsaJob::Pattern {
                src: &zeros,
                pattern: 0,
            },
            DsaJob::Pattern {
                src: &data,
                pattern: 0,
            },
            DsaJob::Crc32c {
                src: &data[..100],
                seed: 7,
            },
            DsaJob::Copy {
                src: &data,
                dst: &mut dst,
            },
        ];
        let mut out = [DsaOutcome::Pending; BATCH];
        self.exec(&jobs, true, &mut out);
        let wants = [
            Some(iaa_fallback::crc::crc32c_fast(0, &data)),
            Some(iaa_fallback::crc::crc32c_fast(0, &zeros)),
            None,
            None,
            None,
            None,
            Some(iaa_fallback::crc::crc32c_fast(7, &data[..100])),
            None,
        ];
        let results = [0u8, 0, 0, 1, 0, 1, 0, 0];
        for k in 0..BATCH {
            let rec = match record(out[k], self.name, "dsa_batch", "8 mixed jobs") {
                Ok(r) => r,
                Err(c) => return c,
            };
            if let Some(w) = wants[k] {
                if rec.crc_val() as u32 != w {
                    return Check::fail(
                        self.name,
                        "dsa_batch",
                        "8 mixed jobs",
                        "CRC-32C in a batch",
                    )
                    .disagree(
                        "crc",
                        hex32(rec.crc_val() as u32),
                        hex32(w),
                        NO_DSA,
                    );
                }
            } else if matches!(jobs[k], DsaJob::Compare { .. } | DsaJob::Pattern { .. })
                && rec.result != results[k]
            {
                return Check::fail(self.name, "dsa_batch", "8 mixed jobs", "compare in a batch")
                    .disagree(
                        "result",
                        rec.result.to_string(),
                        results[k].to_string(),
                        NO_DSA,
                    );
            }
        }
        if dst != data {
            return Check::fail(self.name, "dsa_batch", "8 mixed jobs", "copy in a batch")
                .disagree("output", "differs", "identical", NO_DSA);
        }
        Check::pass(
            self.name,
            "dsa_batch",
            "8 mixed jobs",
            "one batch descriptor: every record and output as software's",
        )
    }

    /// Latency of one operation on a 4 KiB page, single descriptors, p50 and p99.
    fn latency(&mut self, op: &str) -> Check {
        let data = crate::selftest::text(4096, 23);
        let mut dst = vec![0u8; 4096];
        let mut ns = Vec::with_capacity(LATENCY_SAMPLES);
        for _ in 0..LATENCY_SAMPLES {
            let job = match op {
                "dsa_latency_copy" => DsaJob::Copy {
                    src: &data,
                    dst: &mut dst,
                },
                "dsa_latency_compare_pattern" => DsaJob::Pattern {
                    src: &data,
                    pattern: 0,
                },
                _ => DsaJob::Crc32c {
                    src: &data,
                    seed: 0,
                },
            };
            let mut out = [DsaOutcome::Pending];
            let t = self.exec(std::slice::from_ref(&job), false, &mut out);
            if let Err(c) = record(out[0], self.name, op, "text-4k") {
                return c;
            }
            ns.push(t.as_nanos() as u64);
        }
        crate::selftest::latency_check(self.name, op, "text-4k", ns)
    }
}

/// The record of a job that must succeed, or a failed check saying what happened.
fn record(o: DsaOutcome, wq: &str, op: &str, label: &str) -> Result<DsaCompletionRecord, Check> {
    match o {
        DsaOutcome::Record(r) if StatusByte(r.status).dsa() == Some(DsaStatus::Success) => Ok(r),
        DsaOutcome::Record(r) => {
            Err(
                Check::fail(wq, op, label, &format!("status {:#04x}", r.status)).disagree(
                    "status",
                    format!("{:#04x}", r.status),
                    "0x01",
                    "the pool redoes every such unit in software",
                ),
            )
        }
        DsaOutcome::TimedOut => Err(Check::fail(wq, op, label, "no record within 2 s")),
        DsaOutcome::NotRun(why) => Err(Check::fail(wq, op, label, &format!("not run: {why:?}"))),
        DsaOutcome::Pending => Err(Check::fail(wq, op, label, "not run")),
    }
}

fn hex32(v: u32) -> String {
    format!("{v:#010x}")
}

/// The verdict on one DSA WQ: the pool returns the DSA's answers as they are, so any answer
/// that differs from software's makes the WQ unusable; a status other than success only sends
/// units to software.
fn verdict(wq: &str, checks: &[Check]) -> Verdict {
    let failed: Vec<&Check> = checks
        .iter()
        .filter(|c| c.status == CheckStatus::Fail)
        .collect();
    let wrong = failed.iter().find(|c| {
        c.op == "dsa_submit" || matches!(c.field.as_deref(), Some("crc" | "result" | "output"))
    });
    let (kind, verdict) = match (wrong, failed.first()) {
        (Some(c), _) => (
            VerdictKind::Unusable,
            format!(
                "unusable: {} {}: {} {}, expected {}",
                c.op,
                c.input,
                c.field.as_deref().unwrap_or(""),
                c.seen.as_deref().unwrap_or(&c.detail),
                c.expected.as_deref().unwrap_or("")
            ),
        ),
        (None, Some(c)) => (
            VerdictKind::OkWithFallbacks,
            format!(
                "OK with fallbacks: {} {}: {}; the pool redoes such units in software",
                c.op, c.input, c.detail
            ),
        ),
        (None, None) => (VerdictKind::Ok, "DSA path OK".to_string()),
    };
    Verdict {
        wq: wq.to_string(),
        kind,
        verdict,
    }
}
