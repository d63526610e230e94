//! `selftest`: does the hardware path work on this host? For every IAA WQ of the device a
//! pool would use (and every DSA WQ its DSA operations would use: `selftest_dsa.rs`), a fixed plan of known inputs goes through every IAA descriptor kind the library
//! submits (compress with fixed and with dynamic codes, decompress, verify) and CRC64, and each completion-record field the
//! library relies on is compared with the software path's answer. Probes: the submission
//! method, a descriptor on a never-touched page, a WQ filled without polling, and the
//! completion latency per operation. A report says, per check, what was seen and expected and
//! what the pool does about a disagreement, and gives one verdict per WQ.
//!
//! The plan runs on the job memory a pool context uses (the same slots, the same submission
//! and the same in-place or copied inputs), one descriptor at a time, so it tests the path the
//! pool takes.

use std::time::{Duration, Instant};

use iaa_descriptors::{iaa_class, IaaCompletionRecord, StatusClass};
use iaa_fallback::{CompressOutcome, Compressor, Decompressor, Level as FallbackLevel};
use iaa_wq::{Code, IaaJob, Slot, SubmitMethod, WorkQueue, WqMode};
use serde::Serialize;

use crate::config::{Device, DsaPath, HwMode, PoolBuilder};
use crate::device::{dynamic_table, Backend, HwCtx};
use crate::error::Error;
use crate::result::crc32;

/// How long one descriptor may take before its check fails.
const DEADLINE: Duration = Duration::from_secs(2);
/// Descriptors per latency figure.
const LATENCY_SAMPLES: usize = 200;
/// CRC-64/XZ (ECMA-182 polynomial, reflected, inverted): what the CRC64 check computes.
const CRC64_POLY: u64 = 0x42F0_E1EB_A9EA_3693;

/// How a check ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckStatus {
    /// The device did what the library expects.
    Pass,
    /// It did not: see the check's field, seen, expected and pool action.
    Fail,
    /// Not run here, for the reason given.
    Skipped,
}

/// One check of the plan on one WQ.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// The WQ's name (`wq1.0`, `model/wq0`, ...).
    pub wq: String,
    /// The operation or probe: `submit`, `compress`, `compress_dynamic`,
    /// `compress_header_gen` (IAA 2.0), `decompress`, `verify`, `crc64`,
    /// `page_fault`, `wq_full`, `latency_compress`, `latency_decompress`; on a DSA WQ
    /// `dsa_submit`, `dsa_crc32c`, `dsa_crc32c_seeded`, `dsa_copy`, `dsa_compare`,
    /// `dsa_compare_pattern`, `dsa_fill`, `dsa_batch`, `dsa_page_fault`, `dsa_latency_crc32c`,
    /// `dsa_latency_copy`, `dsa_latency_compare_pattern`.
    pub op: String,
    /// The input it ran on (empty for probes without one).
    pub input: String,
    /// Pass, fail or skipped.
    pub status: CheckStatus,
    /// What happened, in words (the reason of a skipped check).
    pub detail: String,
    /// The completion-record field that disagreed (`status`, `output_size`, `output`, `crc`,
    /// `xor_checksum`, `bytes_completed`, `crc64`; DSA: `status`, `crc`, `result`,
    /// `output`), when one did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The value seen in that field.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seen: Option<String>,
    /// The value the library expects there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected: Option<String>,
    /// What a pool does on this device because of the disagreement.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pool_action: Option<String>,
    /// Latency checks: median and 99th percentile from submission to the record, ns.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p50_ns: Option<u64>,
    /// See `p50_ns`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p99_ns: Option<u64>,
    /// Latency checks: descriptors measured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub samples: Option<usize>,
}

/// The verdict on one WQ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VerdictKind {
    /// Every check passed: "hardware path OK".
    Ok,
    /// Compression and decompression work, but some units will go to software: "OK with
    /// fallbacks".
    OkWithFallbacks,
    /// The pool must not use this WQ: "unusable".
    Unusable,
}

/// One WQ's verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    /// The WQ's name.
    pub wq: String,
    /// The kind of verdict.
    pub kind: VerdictKind,
    /// `hardware path OK`, `OK with fallbacks: ...` or `unusable: ...`.
    pub verdict: String,
}

/// The report of [`selftest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SelfTest {
    /// The device, as a pool describes it.
    pub device: String,
    /// Every check, WQ by WQ.
    pub checks: Vec<Check>,
    /// One per WQ.
    pub verdicts: Vec<Verdict>,
}

impl SelfTest {
    /// Whether every WQ passed every check (what `iaa selftest` exits 0 for).
    pub fn passed(&self) -> bool {
        !self.verdicts.is_empty() && self.verdicts.iter().all(|v| v.kind == VerdictKind::Ok)
    }

    /// The report as JSON: an object with `device`, `checks` (objects with at least `wq`, `op`
    /// and `status`: `pass`, `fail` or `skipped`) and `verdicts` (objects with `wq`, `kind` and
    /// `verdict`).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }
}

impl std::fmt::Display for SelfTest {
    /// A table of the checks and the verdicts, for a terminal.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "device: {}", self.device)?;
        writeln!(
            f,
            "{:<14} {:<20} {:<12} {:<8} detail",
            "wq", "op", "input", "status"
        )?;
        for c in &self.checks {
            let st = match c.status {
                CheckStatus::Pass => "pass",
                CheckStatus::Fail => "FAIL",
                CheckStatus::Skipped => "skipped",
            };
            writeln!(
                f,
                "{:<14} {:<20} {:<12} {:<8} {}",
                c.wq, c.op, c.input, st, c.detail
            )?;
            if let (Some(field), Some(seen), Some(exp)) = (&c.field, &c.seen, &c.expected) {
                writeln!(f, "{:>56} field {field}: seen {seen}, expected {exp}", "")?;
            }
            if let Some(a) = &c.pool_action {
                writeln!(f, "{:>56} the pool: {a}", "")?;
            }
        }
        for v in &self.verdicts {
            writeln!(f, "verdict {}: {}", v.wq, v.verdict)?;
        }
        Ok(())
    }
}

/// Run the self-test on `device` (as [`PoolBuilder::device`] takes it) and on the DSA its
/// pool's DSA operations would use ([`DsaPath::Auto`]). `Err` when the device cannot be
/// opened at all ([`Error::NoDevice`], with the reason).
pub fn selftest(device: Device) -> Result<SelfTest, Error> {
    selftest_with_dsa(device, DsaPath::Auto)
}

/// [`selftest`] with the DSA chosen as [`PoolBuilder::dsa`] takes it ([`DsaPath::Software`]:
/// no DSA checks).
pub fn selftest_with_dsa(device: Device, dsa: DsaPath) -> Result<SelfTest, Error> {
    // Dynamic mode's layout: the slots have tables of their own, for the dynamic checks.
    let b = PoolBuilder::default()
        .device(device)
        .max_unit_size(65536)
        .hw_batch_size(8)
        .hw_mode(HwMode::Dynamic)
        .dsa(dsa);
    b.check()?;
    let be = Backend::open(&b).map_err(Error::NoDevice)?;
    let names = be.wq_names();
    let mut checks = Vec::new();
    let mut verdicts = Vec::new();
    for (w, name) in names.iter().enumerate() {
        let first = checks.len();
        match be.new_context(0, &b) {
            Ok(mut hw) => Plan::new(&be, w, name, &mut hw).run(&mut checks),
            Err(e) => checks.push(Check::fail(name, "submit", "", &e)),
        }
        verdicts.push(verdict(name, &checks[first..]));
    }
    // The DSA the pool's DSA operations would use (the one the device implies).
    let mut device = be.name();
    match crate::dsa::DsaBackend::open_unchecked(&b)? {
        crate::dsa::DsaOpen::Device(d) => {
            device = format!("{device}; DSA: {}", d.name());
            crate::selftest_dsa::run(&d, &mut checks, &mut verdicts);
        }
        crate::dsa::DsaOpen::Missing(why) => checks.push(Check::skipped(
            "dsa",
            "dsa_submit",
            "",
            &format!("no DSA WQ, the DSA operations run in software: {why}"),
        )),
        crate::dsa::DsaOpen::Software => {}
    }
    Ok(SelfTest {
        device,
        checks,
        verdicts,
    })
}

/// The known inputs: the kernel's deflate test vectors (crypto/testmgr.h), pages of text-like
/// data, zeros and random bytes (incompressible), and a 64 KiB unit.
fn inputs() -> Vec<(&'static str, Vec<u8>)> {
    let tv1 = b"Join us now and share the software Join us now and share the software ".to_vec();
    let tv2 = b"This document describes a compression method based on the DEFLATEcompression \
algorithm.  This document defines the application of the DEFLATE algorithm to the IP Payload \
Compression Protocol."
        .to_vec();
    vec![
        ("kernel-tv1", tv1),
        ("kernel-tv2", tv2),
        ("text-4k", text(4096, 1)),
        ("zeros-4k", vec![0u8; 4096]),
        ("random-4k", random(4096, 7)),
        ("text-64k", text(65536, 2)),
    ]
}

/// Log-like lines: words, numbers and repeats, as storage engines' pages hold.
pub(crate) fn text(n: usize, seed: u64) -> Vec<u8> {
    const WORDS: [&str; 12] = [
        "GET",
        "/api/v1/rows",
        "200",
        "key=",
        "value",
        "timestamp",
        "granule",
        "INFO",
        "compact",
        "level0",
        "sst",
        "\n",
    ];
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut v = Vec::with_capacity(n);
    while v.len() < n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(WORDS[(x % 12) as usize].as_bytes());
        v.push(b' ');
        if x.is_multiple_of(5) {
            v.extend_from_slice((x % 100_000).to_string().as_bytes());
        }
    }
    v.truncate(n);
    v
}

pub(crate) fn random(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// The plan on one WQ.
struct Plan<'a> {
    be: &'a Backend,
    w: usize,
    name: &'a str,
    hw: &'a mut HwCtx,
}

/// How one descriptor ended.
enum Ran {
    Record(IaaCompletionRecord, Duration),
    /// Not submitted, or no record within the deadline (the slot is quarantined).
    Failed(String),
}

impl<'a> Plan<'a> {
    fn new(be: &'a Backend, w: usize, name: &'a str, hw: &'a mut HwCtx) -> Self {
        Plan { be, w, name, hw }
    }

    fn wq(&self) -> &WorkQueue {
        &self.be.wqs()[self.w]
    }

    fn run(&mut self, out: &mut Vec<Check>) {
        out.push(self.submission());
        let mut soft = Compressor::for_max_unit(FallbackLevel::Fast, 65536);
        for (label, data) in inputs() {
            out.extend(self.compress_and_verify(label, &data));
            out.push(self.compress_dynamic(label, &data));
            if self.be.header_gen() && data.len() <= crate::engine::HEADER_GEN_MAX {
                out.push(self.compress_header_gen(label, &data));
            }
            out.push(self.decompress(label, &data, &mut soft));
        }
        out.push(self.crc64());
        out.push(self.page_fault());
        out.push(self.wq_full());
        out.push(self.latency(true));
        out.push(self.latency(false));
    }

    fn submission(&self) -> Check {
        let wq = self.wq();
        let method = match wq.method() {
            SubmitMethod::Movdir64b => "MOVDIR64B to a dedicated WQ's portal",
            SubmitMethod::Enqcmd => {
                "ENQCMD to a shared WQ's portal, retried while it answers retry"
            }
            SubmitMethod::Write => "write(2) of each descriptor to the WQ's character device",
            SubmitMethod::Model => "the device model's portal",
        };
        let mode = match wq.config().mode {
            WqMode::Dedicated => "dedicated",
            WqMode::Shared => "shared",
        };
        let zc = if self.hw.zero_copy {
            "inputs read in place"
        } else {
            "inputs copied into the pool's buffers"
        };
        Check::pass(
            self.name,
            "submit",
            "",
            format!("{method}; {mode} WQ of {}; {zc}", wq.config().size),
        )
    }

    /// Submit `job` on the claimed `slot` reading `input`, and wait for its record.
    fn exec(&mut self, slot: Slot, job: IaaJob, input: &[u8], resubmit: bool) -> Ran {
        let on = (self.be.wqs(), self.w, 64);
        match self.hw.run_one(slot, job, input, resubmit, on, DEADLINE) {
            Ok((rec, t)) => Ran::Record(rec, t),
            Err(why) => Ran::Failed(why),
        }
    }

    /// Claim a slot for `need` bytes, run `f` on it, give it back (unless quarantined).
    fn with_slot<T>(&mut self, need: usize, f: impl FnOnce(&mut Self, Slot) -> T) -> Option<T> {
        let slot = self.hw.mem.claim(need)?;
        let r = f(self, slot);
        self.hw.mem.release(slot);
        Some(r)
    }

    fn compress_and_verify(&mut self, label: &str, data: &[u8]) -> Vec<Check> {
        let name = self.name.to_string();
        let r = self.with_slot(data.len(), |p, slot| {
            let max_out = data.len() - 1;
            let job = IaaJob::Compress {
                len: data.len(),
                max_out,
                code: Code::Fixed,
            };
            let rec = match p.exec(slot, job, data, false) {
                Ran::Record(r, _) => r,
                Ran::Failed(why) => return vec![Check::fail(&name, "compress", label, &why)],
            };
            let mut checks = vec![check_compress(
                "compress",
                &name,
                label,
                data,
                &rec,
                |dst| p.hw.mem.copy_output(slot, dst),
            )];
            if checks[0].status == CheckStatus::Pass
                && iaa_class(rec.status, rec.error_code) == StatusClass::Done
            {
                let len = rec.output_size as usize;
                let v = match p.exec(slot, IaaJob::Verify { len }, data, false) {
                    Ran::Record(v, _) => check_verify(&name, label, len, rec.crc, &v),
                    Ran::Failed(why) => Check::fail(&name, "verify", label, &why),
                };
                checks.push(v);
            }
            checks
        });
        r.unwrap_or_else(|| vec![Check::fail(self.name, "compress", label, "no free slot")])
    }

    /// Dynamic Huffman codes (`HwMode::Dynamic`): the statistics pass, the code built from
    /// its histogram as the pool builds it, then the compression with that code.
    fn compress_dynamic(&mut self, label: &str, data: &[u8]) -> Check {
        let op = "compress_dynamic";
        let name = self.name.to_string();
        let r = self.with_slot(data.len(), |p, slot| {
            let stats = match p.exec(slot, IaaJob::Stats { len: data.len() }, data, false) {
                Ran::Record(r, _) => r,
                Ran::Failed(why) => return Check::fail(&name, op, label, &why),
            };
            if iaa_class(stats.status, stats.error_code) != StatusClass::Done {
                return Check::fail(&name, op, label, "statistics pass failed").disagree(
                    "status",
                    status_text(&stats),
                    "success (0x01)",
                    "in HwMode::Dynamic every unit goes to software (device_error); \
                     HwMode::Fixed is unaffected",
                );
            }
            let table =
                p.hw.mem
                    .histogram(slot)
                    .and_then(|h| dynamic_table(&h, iaa_descriptors::Coverage::Observed));
            if !table.is_some_and(|t| p.hw.mem.set_slot_table(slot, &t)) {
                return Check::fail(&name, op, label, "no code from the histogram").disagree(
                    "histogram",
                    "no valid code",
                    "counts of the input's symbols",
                    "in HwMode::Dynamic such units are compressed with the fixed code",
                );
            }
            let job = IaaJob::Compress {
                len: data.len(),
                max_out: data.len() - 1,
                code: Code::Slot,
            };
            match p.exec(slot, job, data, false) {
                Ran::Record(rec, _) => check_compress(op, &name, label, data, &rec, |dst| {
                    p.hw.mem.copy_output(slot, dst)
                }),
                Ran::Failed(why) => Check::fail(&name, op, label, &why),
            }
        });
        r.unwrap_or_else(|| Check::fail(self.name, op, label, "no free slot"))
    }

    /// One-pass dynamic codes generated by the device (IAA 2.0 header generation).
    fn compress_header_gen(&mut self, label: &str, data: &[u8]) -> Check {
        let op = "compress_header_gen";
        let name = self.name.to_string();
        let job = IaaJob::Compress {
            len: data.len(),
            max_out: data.len() - 1,
            code: Code::HeaderGen,
        };
        let r = self.with_slot(data.len(), |p, slot| match p.exec(slot, job, data, false) {
            Ran::Record(rec, _) => check_compress(op, &name, label, data, &rec, |dst| {
                p.hw.mem.copy_output(slot, dst)
            }),
            Ran::Failed(why) => Check::fail(&name, op, label, &why),
        });
        r.unwrap_or_else(|| Check::fail(self.name, op, label, "no free slot"))
    }

    fn decompress(&mut self, label: &str, data: &[u8], soft: &mut Compressor) -> Check {
        let mut stream = vec![0u8; data.len() + data.len() / 8 + 64];
        let n = match soft.compress(data, &mut stream) {
            Ok(CompressOutcome::Compressed(n)) => n,
            _ => {
                return Check::skipped(
                    self.name,
                    "decompress",
                    label,
                    "incompressible input: the pool stores such units raw",
                )
            }
        };
        stream.truncate(n);
        let name = self.name.to_string();
        let r = self.with_slot(data.len().max(n), |p, slot| {
            let job = IaaJob::Decompress {
                len: n,
                max_out: data.len(),
            };
            match p.exec(slot, job, &stream, false) {
                Ran::Record(rec, _) => check_decompress(&name, label, data, n, &rec, |dst| {
                    p.hw.mem.copy_output(slot, dst)
                }),
                Ran::Failed(why) => Check::fail(&name, "decompress", label, &why),
            }
        });
        r.unwrap_or_else(|| Check::fail(self.name, "decompress", label, "no free slot"))
    }

    fn crc64(&mut self) -> Check {
        let data = text(4096, 3);
        let name = self.name.to_string();
        let job = IaaJob::Crc64 {
            len: data.len(),
            poly: CRC64_POLY,
            msb_first: false,
            invert: true,
        };
        let r = self.with_slot(data.len(), |p, slot| {
            match p.exec(slot, job, &data, false) {
                Ran::Record(rec, _) => {
                    let want = iaa_fallback::crc::crc64(CRC64_POLY, true, true, &data);
                    let class = iaa_class(rec.status, rec.error_code);
                    let action = "none: pools do not submit CRC64 (only this probe does)";
                    if class != StatusClass::Done {
                        Check::fail(&name, "crc64", "text-4k", &status_text(&rec)).disagree(
                            "status",
                            status_text(&rec),
                            "success (0x01)",
                            action,
                        )
                    } else if rec.crc64() != want {
                        Check::fail(&name, "crc64", "text-4k", "CRC-64/XZ differs").disagree(
                            "crc64",
                            hex(rec.crc64()),
                            hex(want),
                            action,
                        )
                    } else {
                        Check::pass(
                            &name,
                            "crc64",
                            "text-4k",
                            "CRC-64/XZ as computed in software",
                        )
                    }
                }
                Ran::Failed(why) => Check::fail(&name, "crc64", "text-4k", &why),
            }
        });
        r.unwrap_or_else(|| Check::fail(self.name, "crc64", "text-4k", "no free slot"))
    }

    /// A compress of a page nothing has touched: the device faults it in itself, or reports
    /// the fault and the pool's touch + resubmit completes it.
    fn page_fault(&mut self) -> Check {
        if !self.hw.zero_copy {
            return Check::skipped(
                self.name,
                "page_fault",
                "",
                "the device reads only the pool's own memory, which is touched when a context \
                 is built: no fault reaches it",
            );
        }
        // A large zeroed allocation comes straight from mmap: its pages are untouched.
        let big = vec![0u8; 8 << 20];
        let page = &big[4 << 20..(4 << 20) + 4096];
        let name = self.name.to_string();
        let job = IaaJob::Compress {
            len: 4096,
            max_out: 4095,
            code: Code::Fixed,
        };
        let r = self.with_slot(4096, |p, slot| {
            let first = match p.exec(slot, job, page, false) {
                Ran::Record(r, _) => r,
                Ran::Failed(why) => return Check::fail(&name, "page_fault", "zeros-4k", &why),
            };
            match iaa_class(first.status, first.error_code) {
                StatusClass::Done => Check::pass(
                    &name,
                    "page_fault",
                    "zeros-4k",
                    "the device read the untouched page itself",
                ),
                StatusClass::TouchPageAndResubmit => {
                    std::hint::black_box(page[0]);
                    match p.exec(slot, job, page, true) {
                        Ran::Record(r, _)
                            if iaa_class(r.status, r.error_code) == StatusClass::Done =>
                        {
                            Check::pass(
                                &name,
                                "page_fault",
                                "zeros-4k",
                                "the device reported the fault; touch + resubmit completed it",
                            )
                        }
                        Ran::Record(r, _) => Check::fail(
                            &name,
                            "page_fault",
                            "zeros-4k",
                            &format!("after touch + resubmit: {}", status_text(&r)),
                        )
                        .disagree(
                            "status",
                            status_text(&r),
                            "success (0x01)",
                            "units whose input faults go to software (page_fault)",
                        ),
                        Ran::Failed(why) => Check::fail(&name, "page_fault", "zeros-4k", &why),
                    }
                }
                _ => Check::fail(&name, "page_fault", "zeros-4k", &status_text(&first)).disagree(
                    "status",
                    status_text(&first),
                    "success (0x01) or page fault (0x03)",
                    "units whose input faults go to software (device_error)",
                ),
            }
        });
        r.unwrap_or_else(|| Check::fail(self.name, "page_fault", "", "no free slot"))
    }

    /// Every slot submitted at once, one attempt each, nothing polled in between: refusals
    /// must be clean ("retry" or no credit) and every accepted descriptor must complete.
    fn wq_full(&mut self) -> Check {
        let data = text(4096, 4);
        let job = IaaJob::Compress {
            len: 4096,
            max_out: 4095,
            code: Code::Fixed,
        };
        let wqs = self.be.wqs();
        let mut slots = Vec::new();
        let (mut accepted, mut refused) = (Vec::new(), 0usize);
        while let Some(s) = self.hw.mem.claim(4096) {
            slots.push(s);
            let src = self.hw.stage(s, &data);
            match self.hw.mem.submit(s, job, src, wqs, self.w, 0) {
                Ok(_) => accepted.push(s),
                Err(iaa_wq::SubmitError::Busy { .. }) => refused += 1,
                Err(e) => {
                    for s in slots {
                        self.hw.mem.quarantine(s);
                        self.hw.mem.release(s);
                    }
                    return Check::fail(self.name, "wq_full", "text-4k", &e.to_string());
                }
            }
        }
        let t0 = Instant::now();
        let mut pending = accepted.clone();
        while !pending.is_empty() && t0.elapsed() < DEADLINE {
            pending.retain(|&s| self.hw.mem.poll(s, wqs).is_none());
            std::thread::yield_now();
        }
        let lost = pending.len();
        for s in pending {
            self.hw.mem.quarantine(s);
        }
        for s in slots {
            self.hw.mem.release(s);
        }
        let detail = format!(
            "{} descriptors at once: {} accepted, {refused} refused cleanly (the pool retries \
             those, then runs them in software), {lost} lost",
            accepted.len() + refused,
            accepted.len()
        );
        if lost == 0 {
            Check::pass(self.name, "wq_full", "text-4k", detail)
        } else {
            Check::fail(self.name, "wq_full", "text-4k", &detail).disagree(
                "status",
                format!("{lost} records never written"),
                "every accepted descriptor completes",
                "units in flight time out and go to software (timeout); their slots stay \
                 quarantined",
            )
        }
    }

    /// Submission-to-record time of `LATENCY_SAMPLES` descriptors one after another.
    fn latency(&mut self, compress: bool) -> Check {
        let data = text(4096, 5);
        let mut stream = vec![0u8; 8192];
        let n = match Compressor::new(FallbackLevel::Fast).compress(&data, &mut stream) {
            Ok(CompressOutcome::Compressed(n)) => n,
            _ => 0,
        };
        let (op, job, input) = if compress {
            let j = IaaJob::Compress {
                len: 4096,
                max_out: 4095,
                code: Code::Fixed,
            };
            ("latency_compress", j, &data[..])
        } else {
            let j = IaaJob::Decompress {
                len: n,
                max_out: 4096,
            };
            ("latency_decompress", j, &stream[..n])
        };
        let name = self.name.to_string();
        let r = self.with_slot(4096, |p, slot| {
            let mut ns = Vec::with_capacity(LATENCY_SAMPLES);
            for _ in 0..LATENCY_SAMPLES {
                match p.exec(slot, job, input, false) {
                    Ran::Record(rec, t)
                        if iaa_class(rec.status, rec.error_code) == StatusClass::Done =>
                    {
                        ns.push(t.as_nanos() as u64)
                    }
                    Ran::Record(rec, _) => {
                        return Check::fail(&name, op, "text-4k", &status_text(&rec))
                    }
                    Ran::Failed(why) => return Check::fail(&name, op, "text-4k", &why),
                }
            }
            latency_check(&name, op, "text-4k", ns)
        });
        r.unwrap_or_else(|| Check::fail(self.name, op, "text-4k", "no free slot"))
    }
}

/// A passed latency check from the times of `ns` descriptors (not empty): median and 99th
/// percentile.
pub(crate) fn latency_check(wq: &str, op: &str, input: &str, mut ns: Vec<u64>) -> Check {
    ns.sort_unstable();
    let (p50, p99) = (ns[ns.len() / 2], ns[ns.len() * 99 / 100]);
    let mut c = Check::pass(
        wq,
        op,
        input,
        format!(
            "p50 {:.1} us, p99 {:.1} us over {} descriptors",
            p50 as f64 / 1e3,
            p99 as f64 / 1e3,
            ns.len()
        ),
    );
    c.p50_ns = Some(p50);
    c.p99_ns = Some(p99);
    c.samples = Some(ns.len());
    c
}

/// A device compress of `data`: success with output that decodes to `data`, the right CRC and
/// XOR checksum; or, for incompressible data, an output overflow.
fn check_compress(
    op: &str,
    wq: &str,
    label: &str,
    data: &[u8],
    rec: &IaaCompletionRecord,
    copy_out: impl FnOnce(&mut [u8]),
) -> Check {
    let class = iaa_class(rec.status, rec.error_code);
    let corrupt = "do not use this device: its compressed units would not read back (with \
                   verify on, the pool redoes each such unit in software: verify_mismatch)";
    match class {
        StatusClass::OutputOverflow => {
            return Check::pass(
                wq,
                op,
                label,
                "output overflow: incompressible, stored raw by the pool",
            )
        }
        StatusClass::Done => {}
        _ => {
            return Check::fail(wq, op, label, &status_text(rec)).disagree(
                "status",
                status_text(rec),
                "success (0x01)",
                "every unit goes to software (device_error)",
            )
        }
    }
    let len = rec.output_size as usize;
    if len == 0 || len >= data.len() {
        return Check::pass(
            wq,
            op,
            label,
            format!("{len} bytes: not smaller, stored raw by the pool"),
        );
    }
    let mut out = vec![0u8; len];
    copy_out(&mut out);
    let mut back = vec![0u8; data.len()];
    let decoded = Decompressor::new().decompress(&out, &mut back);
    if !matches!(decoded, Ok(n) if n == data.len() && back == data) {
        return Check::fail(wq, op, label, "the output does not decode to the input").disagree(
            "output",
            format!("{decoded:?}"),
            "the input's bytes",
            corrupt,
        );
    }
    let (crc, xor) = (crc32(data), iaa_fallback::crc::xor_checksum16(data));
    if rec.crc != crc {
        return Check::fail(wq, op, label, "CRC-32 differs").disagree(
            "crc",
            hex(rec.crc),
            hex(crc),
            "the CRC a hardware unit reports would be wrong: callers checking it fail the \
             unit (crc_mismatch on decompress)",
        );
    }
    if rec.xor_csum != xor {
        return Check::fail(wq, op, label, "XOR checksum differs").disagree(
            "xor_checksum",
            hex(rec.xor_csum),
            hex(xor),
            "none: the pool does not use the XOR checksum",
        );
    }
    Check::pass(
        wq,
        op,
        label,
        format!(
            "{} -> {len} bytes, decodes in software, CRC-32 and XOR checksum match",
            data.len()
        ),
    )
}

/// A device decompress of a software-written stream of `data` (`n` bytes).
fn check_decompress(
    wq: &str,
    label: &str,
    data: &[u8],
    n: usize,
    rec: &IaaCompletionRecord,
    copy_out: impl FnOnce(&mut [u8]),
) -> Check {
    let op = "decompress";
    let wrong = "decompressed units from this device would be wrong: do not use it";
    if iaa_class(rec.status, rec.error_code) != StatusClass::Done {
        return Check::fail(wq, op, label, &status_text(rec)).disagree(
            "status",
            status_text(rec),
            "success (0x01)",
            "every unit goes to software (undecodable)",
        );
    }
    if rec.output_size as usize != data.len() {
        return Check::fail(wq, op, label, "output size differs").disagree(
            "output_size",
            rec.output_size.to_string(),
            data.len().to_string(),
            wrong,
        );
    }
    let mut out = vec![0u8; data.len()];
    copy_out(&mut out);
    if out != data {
        return Check::fail(wq, op, label, "output bytes differ").disagree(
            "output",
            "other bytes",
            "the input's bytes",
            wrong,
        );
    }
    if rec.crc != crc32(data) {
        return Check::fail(wq, op, label, "CRC-32 differs").disagree(
            "crc",
            hex(rec.crc),
            hex(crc32(data)),
            "the CRC of hardware units would be wrong: with expected CRCs each unit fails \
             (crc_mismatch)",
        );
    }
    if rec.bytes_completed as usize != n {
        return Check::fail(wq, op, label, "input bytes consumed differ").disagree(
            "bytes_completed",
            rec.bytes_completed.to_string(),
            n.to_string(),
            "a unit the device did not consume whole is taken for trailing data and \
             redone in software (undecodable): every decompression runs in software",
        );
    }
    if rec.xor_csum != iaa_fallback::crc::xor_checksum16(data) {
        return Check::fail(wq, op, label, "XOR checksum differs").disagree(
            "xor_checksum",
            hex(rec.xor_csum),
            hex(iaa_fallback::crc::xor_checksum16(data)),
            "none: the pool does not use the XOR checksum",
        );
    }
    Check::pass(
        wq,
        op,
        label,
        format!(
            "{n} -> {} bytes, equal to the input; CRC-32, XOR checksum, bytes completed match",
            data.len()
        ),
    )
}

/// A device verify (decompress with output suppressed) of its own `len`-byte output whose
/// compression reported `crc`.
fn check_verify(wq: &str, label: &str, len: usize, crc: u32, rec: &IaaCompletionRecord) -> Check {
    let action = "with verify on, every compressed unit is redone in software (verify_mismatch)";
    if iaa_class(rec.status, rec.error_code) != StatusClass::Done {
        return Check::fail(wq, "verify", label, &status_text(rec)).disagree(
            "status",
            status_text(rec),
            "success (0x01)",
            action,
        );
    }
    if rec.crc != crc {
        return Check::fail(wq, "verify", label, "CRC-32 differs from the compression's").disagree(
            "crc",
            hex(rec.crc),
            hex(crc),
            action,
        );
    }
    if rec.bytes_completed as usize != len {
        return Check::fail(wq, "verify", label, "input bytes consumed differ").disagree(
            "bytes_completed",
            rec.bytes_completed.to_string(),
            len.to_string(),
            action,
        );
    }
    Check::pass(
        wq,
        "verify",
        label,
        "CRC-32 and bytes completed match the compression",
    )
}

/// The verdict from one WQ's checks.
fn verdict(wq: &str, checks: &[Check]) -> Verdict {
    let failed: Vec<&Check> = checks
        .iter()
        .filter(|c| c.status == CheckStatus::Fail)
        .collect();
    let fatal = failed.iter().find(|c| {
        c.op == "submit"
            || (c.op == "compress" && c.field.as_deref().is_none_or(|f| f == "output"))
            || (c.op == "decompress"
                && matches!(c.field.as_deref(), None | Some("output" | "output_size")))
    });
    let (kind, verdict) = if let Some(c) = fatal {
        let why = match (&c.field, &c.seen, &c.expected) {
            (Some(f), Some(s), Some(e)) => format!("{} {}: {f} {s}, expected {e}", c.op, c.input),
            _ => format!("{} {}: {}", c.op, c.input, c.detail),
        };
        (VerdictKind::Unusable, format!("unusable: {why}"))
    } else if failed.is_empty() {
        (VerdictKind::Ok, "hardware path OK".to_string())
    } else {
        let mut why: Vec<String> = Vec::new();
        for c in &failed {
            let s = match (&c.field, &c.pool_action) {
                (Some(f), Some(a)) => format!("{} {f} disagrees; {a}", c.op),
                _ => format!("{} {}: {}", c.op, c.input, c.detail),
            };
            if !why.contains(&s) {
                why.push(s);
            }
        }
        (
            VerdictKind::OkWithFallbacks,
            format!("OK with fallbacks: {}", why.join("; ")),
        )
    };
    Verdict {
        wq: wq.to_string(),
        kind,
        verdict,
    }
}

impl Check {
    fn new(wq: &str, op: &str, input: &str, status: CheckStatus, detail: String) -> Check {
        Check {
            wq: wq.to_string(),
            op: op.to_string(),
            input: input.to_string(),
            status,
            detail,
            field: None,
            seen: None,
            expected: None,
            pool_action: None,
            p50_ns: None,
            p99_ns: None,
            samples: None,
        }
    }

    pub(crate) fn pass(wq: &str, op: &str, input: &str, detail: impl Into<String>) -> Check {
        Check::new(wq, op, input, CheckStatus::Pass, detail.into())
    }

    pub(crate) fn fail(wq: &str, op: &str, input: &str, detail: &str) -> Check {
        Check::new(wq, op, input, CheckStatus::Fail, detail.to_string())
    }

    pub(crate) fn skipped(wq: &str, op: &str, input: &str, why: &str) -> Check {
        Check::new(wq, op, input, CheckStatus::Skipped, why.to_string())
    }

    pub(crate) fn disagree(
        mut self,
        field: &str,
        seen: impl Into<String>,
        expected: impl Into<String>,
        action: &str,
    ) -> Check {
        self.field = Some(field.to_string());
        self.seen = Some(seen.into());
        self.expected = Some(expected.into());
        self.pool_action = Some(action.to_string());
        self
    }
}

fn status_text(rec: &IaaCompletionRecord) -> String {
    let code = rec.status & 0x7F;
    let class = iaa_class(rec.status, rec.error_code);
    if code == 0x0A {
        format!(
            "status {code:#04x} ({class:?}), analytics error {}",
            rec.error_code
        )
    } else {
        format!("status {code:#04x} ({class:?})")
    }
}

fn hex(v: impl std::fmt::LowerHex) -> String {
    format!("{v:#x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(op: &str, status: CheckStatus, field: Option<&str>) -> Check {
        let mut c = Check::new("wq0", op, "x", status, "d".into());
        if let Some(f) = field {
            c = c.disagree(f, "1", "2", "the pool does something");
        }
        c
    }

    #[test]
    fn verdicts() {
        let pass = check("compress", CheckStatus::Pass, None);
        assert_eq!(
            verdict("wq0", std::slice::from_ref(&pass)).kind,
            VerdictKind::Ok
        );
        let v = verdict(
            "wq0",
            &[
                pass.clone(),
                check("verify", CheckStatus::Fail, Some("bytes_completed")),
            ],
        );
        assert_eq!(v.kind, VerdictKind::OkWithFallbacks);
        assert!(
            v.verdict.contains("verify bytes_completed disagrees"),
            "{v:?}"
        );
        let v = verdict(
            "wq0",
            &[check("compress", CheckStatus::Fail, Some("output"))],
        );
        assert_eq!(v.kind, VerdictKind::Unusable);
        let v = verdict(
            "wq0",
            &[check("decompress", CheckStatus::Fail, Some("crc"))],
        );
        assert_eq!(v.kind, VerdictKind::OkWithFallbacks);
        let skipped = check("page_fault", CheckStatus::Skipped, None);
        assert_eq!(verdict("wq0", &[pass, skipped]).kind, VerdictKind::Ok);
    }

    #[test]
    fn inputs_are_what_they_say() {
        let ins = inputs();
        assert_eq!(ins[0].1.len(), 70);
        assert_eq!(ins[1].1.len(), 191);
        assert!(ins.iter().all(|(_, d)| !d.is_empty() && d.len() <= 65536));
    }
}
