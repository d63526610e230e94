//! The DSA operations of a pool, batched: CRC-32C, copy, fill, compare and same-filled
//! detection of N units. This file is their whole hot path, top to bottom:
//!
//! 1. A call checks its shapes ([`Pool::crc32c`] and the others), takes one context (one lock
//!    for the whole call) and cuts the units into windows of `dsa_batch_size`.
//! 2. [`Pool::window`] builds one [`DsaJob`] per unit of the window, runs them on a DSA WQ of
//!    the caller's socket ([`DsaJobMemory::run`]: one batch descriptor where the WQ takes
//!    them, else single descriptors, then the wait), and [`decide`]s each unit from its
//!    completion record: the device's answer, or software with a cause.
//! 3. A unit the device did not finish is done by [`soft`] (the same answer, computed on the
//!    CPU), counted in `Stats::dsa_fallbacks`.
//!
//! The device reads and writes the caller's buffers in place (kernel DSA WQs with PASID, the
//! model), so a DSA lane exists only where the device shares the process's address space. A
//! copy or fill is never given up on while the device may still write the caller's buffer
//! (see `iaa_wq::dsajob`); after one outlives the completion timeout, that context does its
//! later copies and fills in software.

use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use iaa_descriptors::{DsaCompletionRecord, DsaStatus, StatusByte};
use iaa_wq::{DsaJob, DsaJobMemory, DsaOutcome, NotRun, RunOptions};

use crate::config::{Device, DsaPath, Path, PoolBuilder, MAX_DSA_BATCH_SIZE};
use crate::context::lock_current;
use crate::error::Error;
use crate::io::{Inputs, Outputs};
use crate::pool::Pool;
use crate::stats::{bump, CtxStats, FallbackCause};

/// What one DSA call did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DsaSummary {
    /// Units in the call.
    pub units: usize,
    /// Units the DSA did.
    pub hardware: usize,
    /// Units done in software (no DSA, or the DSA did not finish them: see
    /// `Stats::dsa_fallbacks`), or decided without a descriptor (an empty unit, compare
    /// units of different lengths, a same-filled candidate whose length is not a multiple
    /// of 8).
    pub software: usize,
}

/// The DSA work queues of a pool.
pub(crate) struct DsaBackend {
    dev: iaa_driver::open::Backend,
}

/// One context's DSA memory.
pub(crate) struct DsaCtx {
    mem: DsaJobMemory,
    /// The context's index (its CPU when the call's CPU is unknown).
    cpu: usize,
    /// Windows submitted, for the WQ choice's round robin.
    seq: usize,
    /// A copy or fill of this context outlived the completion timeout: later ones run in
    /// software.
    writes_stalled: bool,
}

impl DsaCtx {
    pub(crate) fn bytes(&self) -> usize {
        self.mem.bytes()
    }
}

/// What the pool's DSA choice resolves to.
#[allow(clippy::large_enum_variant)] // Built once per pool.
pub(crate) enum DsaOpen {
    /// DSA operations in software by choice (no fallback is counted).
    Software,
    /// A DSA was looked for and is not there: software, counted as `no_device`.
    Missing(String),
    /// The DSA.
    Device(DsaBackend),
}

impl DsaBackend {
    /// Open the DSA the builder asks for ([`DsaPath`]) and check it: a DSA that gives a
    /// wrong answer to a known-answer test ([`DsaBackend::wrong_answer`]) is not used (its
    /// operations run in software, `describe()` says why), since the pool returns the DSA's
    /// answers as they are. `Err` only for an explicit [`DsaPath::Device`] that cannot be
    /// opened.
    pub(crate) fn open(b: &PoolBuilder) -> Result<DsaOpen, Error> {
        Ok(match Self::open_unchecked(b)? {
            DsaOpen::Device(d) => match d.wrong_answer() {
                Some(why) => DsaOpen::Missing(format!(
                    "{}: {why}; the DSA operations run in software",
                    d.name()
                )),
                None => DsaOpen::Device(d),
            },
            other => other,
        })
    }

    /// A known-answer test on every WQ the DSA operations would use: CRC-32C with a seed,
    /// compare of equal and of unequal buffers, compare-pattern of a same-filled and of another
    /// page, and a copy, each against the software answer. Returns the first wrong answer.
    /// Descriptors that do not complete are not answers (the pool's fallback handles them at
    /// run time); a device that cannot work on process memory in place is not asked.
    pub(crate) fn wrong_answer(&self) -> Option<String> {
        if !self.in_place() {
            return None;
        }
        let text: Vec<u8> = (0..4096u32)
            .map(|i| (i * 31 % 251) as u8 ^ (i >> 7) as u8)
            .collect();
        let mut other = text.clone();
        other[1234] ^= 0x20;
        let zeros = [0u8; 4096];
        let mut copy = vec![0u8; 4096];
        let crc = iaa_fallback::crc::crc32c_fast(0xA5A5_0001, &text);
        let mut mem = DsaJobMemory::new(8).ok()?;
        for w in 0..self.dev.wqs().len() {
            copy.fill(0);
            let jobs = [
                DsaJob::Crc32c {
                    src: &text,
                    seed: 0xA5A5_0001,
                },
                DsaJob::Compare { a: &text, b: &text },
                DsaJob::Compare {
                    a: &text,
                    b: &other,
                },
                DsaJob::Pattern {
                    src: &zeros,
                    pattern: 0,
                },
                DsaJob::Pattern {
                    src: &text,
                    pattern: 0,
                },
                DsaJob::Copy {
                    src: &text,
                    dst: &mut copy,
                },
            ];
            let want = [
                Answer::Crc(crc),
                Answer::Equal(true),
                Answer::Equal(false),
                Answer::Equal(true),
                Answer::Equal(false),
                Answer::Written,
            ];
            let mut out = [DsaOutcome::Pending; 6];
            let l = self.dev.limits(w);
            let opts = RunOptions {
                batch: false,
                retries: 64,
                max_transfer: l.max_transfer,
                budget: Duration::from_secs(1),
            };
            mem.run(self.dev.wqs(), w, &jobs, opts, &mut out);
            let names = [
                "CRC-32C",
                "compare (equal)",
                "compare (unequal)",
                "compare-pattern (same-filled)",
                "compare-pattern (not)",
                "copy",
            ];
            for k in 0..jobs.len() {
                if let Decision::Device(a) = decide(&jobs[k], &out[k]) {
                    if a != want[k] {
                        let wq = &self.dev.info()[w].name;
                        return Some(format!(
                            "{wq}: {} gave {a:?} where software gives {:?}",
                            names[k], want[k]
                        ));
                    }
                }
            }
            if matches!(decide(&jobs[5], &out[5]), Decision::Device(_)) && copy != text {
                let wq = &self.dev.info()[w].name;
                return Some(format!("{wq}: a copy that differs from its source"));
            }
        }
        None
    }

    /// [`DsaBackend::open`] without the known-answer test (the self-test, which reports what
    /// the device answers).
    pub(crate) fn open_unchecked(b: &PoolBuilder) -> Result<DsaOpen, Error> {
        use iaa_driver::open::{open_dsa, Target};
        #[cfg(feature = "model")]
        iaa_model::register();
        let sys = || Target::Kernel {
            sys_root: "/sys".into(),
            dev_root: "/dev".into(),
        };
        let explicit = matches!(b.dsa, DsaPath::Device(_));
        let device = match (&b.dsa, b.path) {
            (DsaPath::Software, _) => return Ok(DsaOpen::Software),
            (DsaPath::Auto, Path::Software) => return Ok(DsaOpen::Software),
            (DsaPath::Auto, _) => &b.device,
            (DsaPath::Device(d), _) => d,
        };
        let opened = match device {
            Device::Auto => open_dsa(&Target::Auto),
            Device::Named(n) if explicit => open_dsa(&Target::Named(n.clone())),
            Device::Named(n) if n.eq_ignore_ascii_case("model") => {
                open_dsa(&Target::Named(n.clone()))
            }
            // An IAA chosen by name: the host's kernel DSA WQs.
            Device::Named(n) if n.starts_with("vfio") => open_dsa(&Target::Vfio(n.clone())),
            Device::Named(_) => open_dsa(&sys()),
            Device::Kernel { sys_root, dev_root } => open_dsa(&Target::Kernel {
                sys_root: sys_root.clone(),
                dev_root: dev_root.clone(),
            }),
            Device::Vfio(bdf) => open_dsa(&Target::Vfio(bdf.clone())),
            #[cfg(feature = "model")]
            Device::Model(o) => model_backend(o),
        };
        match opened {
            Ok(dev) if !dev.wqs().is_empty() => Ok(DsaOpen::Device(DsaBackend { dev })),
            Ok(dev) => Ok(DsaOpen::Missing(format!(
                "{}: no DSA work queue",
                dev.name()
            ))),
            Err(e) if explicit => Err(Error::NoDevice(format!("DSA: {e}"))),
            Err(e) => Ok(DsaOpen::Missing(e.to_string())),
        }
    }

    /// One context's DSA memory (only for a DSA that works on process memory in place,
    /// [`DsaBackend::in_place`]).
    pub(crate) fn new_context(&self, cpu: usize, b: &PoolBuilder) -> Result<DsaCtx, String> {
        let mem = DsaJobMemory::new(b.dsa_batch_size).map_err(|e| format!("DSA memory: {e}"))?;
        Ok(DsaCtx {
            mem,
            cpu,
            seq: 0,
            writes_stalled: false,
        })
    }

    /// The DSA, for `describe()`.
    pub(crate) fn name(&self) -> &str {
        self.dev.name()
    }

    /// Names of the DSA WQs, in order.
    pub(crate) fn wq_names(&self) -> Vec<String> {
        self.dev.info().iter().map(|w| w.name.clone()).collect()
    }

    /// The work queues.
    pub(crate) fn wqs(&self) -> &[iaa_wq::WorkQueue] {
        self.dev.wqs()
    }

    /// What WQ `w` takes per descriptor.
    pub(crate) fn limits(&self, w: usize) -> iaa_driver::open::WqLimits {
        self.dev.limits(w)
    }

    /// Whether the device works on process memory in place (a DSA lane needs it).
    pub(crate) fn in_place(&self) -> bool {
        self.dev.shares_address_space()
    }
}

/// A DSA model of the shape `o` gives the IAA model.
#[cfg(feature = "model")]
fn model_backend(
    o: &crate::config::ModelOptions,
) -> Result<iaa_driver::open::Backend, iaa_driver::open::OpenError> {
    use iaa_model::{Latency, ModelConfig, ModelDevice, ModelWqConfig};
    let failed = |e: &dyn std::fmt::Display| iaa_driver::open::OpenError::Failed {
        what: "DSA model".into(),
        message: e.to_string(),
    };
    let mut cfg = ModelConfig::dsa(o.engines);
    let wq = if o.dedicated {
        ModelWqConfig::dedicated(o.wq_size)
    } else {
        ModelWqConfig::shared(o.wq_size)
    };
    cfg.wqs = vec![wq; o.wqs.max(1)];
    cfg.latency = Latency {
        fixed_ns: o.fixed_ns,
        ns_per_kib: o.ns_per_kib,
    };
    cfg.skew_crc32c = o.skew_crc32c;
    let dev = ModelDevice::start(cfg).map_err(|e| failed(&e))?;
    iaa_model::dsa_backend(dev, "DSA model").map_err(|e| failed(&e))
}

/// The answer for one unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Answer {
    /// Not decided yet.
    None,
    /// CRC-32C.
    Crc(u32),
    /// Compare / compare-pattern: equal.
    Equal(bool),
    /// Copy / fill done.
    Written,
}

/// Where one unit's answer comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Decision {
    /// The device's answer.
    Device(Answer),
    /// Do it in software, for this cause.
    Software(FallbackCause),
}

/// What the record (or its absence) of `job` means. Pure.
fn decide(job: &DsaJob<'_>, outcome: &DsaOutcome) -> Decision {
    let rec: &DsaCompletionRecord = match outcome {
        DsaOutcome::Record(r) => r,
        DsaOutcome::TimedOut => return Decision::Software(FallbackCause::Timeout),
        DsaOutcome::NotRun(why) => {
            return Decision::Software(match why {
                NotRun::Refused => FallbackCause::SubmitRefused,
                NotRun::Size => FallbackCause::TooLarge,
                NotRun::NoProcessMemory => FallbackCause::NoDevice,
                NotRun::Quarantined => FallbackCause::Quarantined,
                NotRun::Skipped { batch_status } => match StatusByte(*batch_status).dsa() {
                    Some(DsaStatus::PageFaultNobof | DsaStatus::PageFaultIr) => {
                        FallbackCause::PageFault
                    }
                    _ => FallbackCause::DeviceError,
                },
            })
        }
        DsaOutcome::Pending => return Decision::Software(FallbackCause::DeviceError),
    };
    match StatusByte(rec.status).dsa() {
        Some(DsaStatus::Success) => Decision::Device(match job {
            DsaJob::Crc32c { .. } => Answer::Crc(rec.crc_val() as u32),
            DsaJob::Compare { .. } | DsaJob::Pattern { .. } => Answer::Equal(rec.result == 0),
            DsaJob::Copy { .. } | DsaJob::Fill { .. } => Answer::Written,
        }),
        Some(DsaStatus::PageFaultNobof | DsaStatus::PageFaultIr) => {
            Decision::Software(FallbackCause::PageFault)
        }
        _ => Decision::Software(FallbackCause::DeviceError),
    }
}

/// The software answer of `job` (what the device computes).
fn soft(job: &mut DsaJob<'_>) -> Answer {
    match job {
        DsaJob::Crc32c { src, seed } => Answer::Crc(iaa_fallback::crc::crc32c_fast(*seed, src)),
        DsaJob::Compare { a, b } => Answer::Equal(a == b),
        DsaJob::Pattern { src, pattern } => Answer::Equal(is_pattern(src, *pattern)),
        DsaJob::Copy { src, dst } => {
            dst[..src.len()].copy_from_slice(src);
            Answer::Written
        }
        DsaJob::Fill { dst, pattern } => {
            let p = pattern.to_le_bytes();
            for (i, b) in dst.iter_mut().enumerate() {
                *b = p[i % 8];
            }
            Answer::Written
        }
    }
}

/// Whether `src` is `pattern` (little-endian) repeated, byte `i` against byte `i % 8`.
fn is_pattern(src: &[u8], pattern: u64) -> bool {
    // Byte i is byte i % 8 of the pattern iff the first (up to) 8 bytes are the pattern's and
    // every later byte equals the one 8 before it: two slice compares (memcmp, which stops at
    // the first difference).
    let p = pattern.to_le_bytes();
    let k = src.len().min(8);
    src[..k] == p[..k] && src[k..] == src[..src.len() - k]
}

/// The pattern a same-filled candidate is compared with: its first 8 bytes, if it is at least
/// 8 bytes long and a multiple of 8.
fn candidate_pattern(page: &[u8]) -> Option<u64> {
    if page.len() < 8 || !page.len().is_multiple_of(8) {
        return None;
    }
    let w = &page[..8];
    Some(u64::from_le_bytes([
        w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7],
    ]))
}

/// An empty job, to initialise a window (never submitted).
const EMPTY: DsaJob<'static> = DsaJob::Crc32c { src: &[], seed: 0 };

impl Pool {
    /// CRC-32C (Castagnoli, the iSCSI/RocksDB block checksum) of each unit, continuing from
    /// `seed` (zlib convention: 0 for a fresh CRC; a previous finished CRC-32C to continue
    /// it), into `crcs[i]`. The value equals the `crc32c` crate's `crc32c_append(seed, unit)`
    /// and the DSA's CRC generation with that seed. An empty unit's CRC is `seed`.
    ///
    /// Errors: `crcs` shorter than the units ([`Error::TooFewResults`]), a bad input shape.
    pub fn crc32c(
        &self,
        units: Inputs<'_>,
        seed: u32,
        crcs: &mut [u32],
    ) -> Result<DsaSummary, Error> {
        units.validate()?;
        let n = units.count();
        if crcs.len() < n {
            return Err(Error::TooFewResults {
                units: n,
                results: crcs.len(),
            });
        }
        self.windows(n, |pool, ctx, w, sum| {
            if ctx.dsa.is_none() {
                for i in w.clone() {
                    crcs[i] = iaa_fallback::crc::crc32c_fast(seed, units.unit(i));
                }
                return pool.software_window(ctx, w.len(), sum);
            }
            let mut jobs = [EMPTY; MAX_DSA_BATCH_SIZE];
            for (k, i) in w.clone().enumerate() {
                jobs[k] = DsaJob::Crc32c {
                    src: units.unit(i),
                    seed,
                };
            }
            let mut ans = [Answer::None; MAX_DSA_BATCH_SIZE];
            pool.window(ctx, &mut jobs[..w.len()], &mut ans, sum);
            for (k, i) in w.enumerate() {
                crcs[i] = match ans[k] {
                    Answer::Crc(c) => c,
                    _ => seed,
                };
            }
        })
    }

    /// Same-filled detection (zswap's check before it compresses a page): `patterns[i]` is
    /// `Some(word)` when unit `i` is one 8-byte word (little-endian `word`) repeated, else
    /// `None`. One DSA compare-pattern per unit, against its first word. A unit shorter
    /// than 8 bytes or whose length is not a multiple of 8 is `None`, decided without a
    /// descriptor.
    ///
    /// Errors: `patterns` shorter than the units, a bad input shape.
    pub fn same_filled(
        &self,
        pages: Inputs<'_>,
        patterns: &mut [Option<u64>],
    ) -> Result<DsaSummary, Error> {
        pages.validate()?;
        let n = pages.count();
        if patterns.len() < n {
            return Err(Error::TooFewResults {
                units: n,
                results: patterns.len(),
            });
        }
        self.windows(n, |pool, ctx, w, sum| {
            if ctx.dsa.is_none() {
                for i in w.clone() {
                    let p = pages.unit(i);
                    patterns[i] = candidate_pattern(p).filter(|&x| is_pattern(p, x));
                }
                return pool.software_window(ctx, w.len(), sum);
            }
            let mut jobs = [EMPTY; MAX_DSA_BATCH_SIZE];
            let mut words = [None; MAX_DSA_BATCH_SIZE];
            for (k, i) in w.clone().enumerate() {
                let page = pages.unit(i);
                words[k] = candidate_pattern(page);
                if let Some(pattern) = words[k] {
                    jobs[k] = DsaJob::Pattern { src: page, pattern };
                }
            }
            let mut ans = [Answer::None; MAX_DSA_BATCH_SIZE];
            pool.window(ctx, &mut jobs[..w.len()], &mut ans, sum);
            for (k, i) in w.enumerate() {
                patterns[i] = words[k].filter(|_| ans[k] == Answer::Equal(true));
            }
        })
    }

    /// Compare unit `i` of `a` with unit `i` of `b`: `equal[i]` is true when they hold the
    /// same bytes (units of different lengths are unequal, decided without a descriptor).
    ///
    /// Errors: `b` or `equal` shorter than `a`'s units, a bad input shape.
    pub fn compare(
        &self,
        a: Inputs<'_>,
        b: Inputs<'_>,
        equal: &mut [bool],
    ) -> Result<DsaSummary, Error> {
        a.validate()?;
        b.validate()?;
        let n = a.count();
        if b.count() < n {
            return Err(Error::TooFewSlots {
                units: n,
                slots: b.count(),
            });
        }
        if equal.len() < n {
            return Err(Error::TooFewResults {
                units: n,
                results: equal.len(),
            });
        }
        self.windows(n, |pool, ctx, w, sum| {
            if ctx.dsa.is_none() {
                for i in w.clone() {
                    equal[i] = a.unit(i) == b.unit(i);
                }
                return pool.software_window(ctx, w.len(), sum);
            }
            let mut jobs = [EMPTY; MAX_DSA_BATCH_SIZE];
            let mut ans = [Answer::None; MAX_DSA_BATCH_SIZE];
            for (k, i) in w.clone().enumerate() {
                let (x, y) = (a.unit(i), b.unit(i));
                if x.len() != y.len() {
                    ans[k] = Answer::Equal(false);
                } else {
                    jobs[k] = DsaJob::Compare { a: x, b: y };
                }
            }
            pool.window(ctx, &mut jobs[..w.len()], &mut ans, sum);
            for (k, i) in w.enumerate() {
                equal[i] =
                    ans[k] == Answer::Equal(true) || (a.unit(i).is_empty() && b.unit(i).is_empty());
            }
        })
    }

    /// Copy unit `i` of `src` to the front of output slot `i` (the rest of the slot is left
    /// as it was). When the call returns, every copy is complete, whichever path did it.
    ///
    /// Errors: fewer slots than units, a slot shorter than its unit
    /// ([`Error::SlotTooSmall`]), a bad shape; nothing is written then.
    pub fn copy(&self, src: Inputs<'_>, mut dst: Outputs<'_, '_>) -> Result<DsaSummary, Error> {
        src.validate()?;
        dst.validate()?;
        let n = src.count();
        if dst.count() < n {
            return Err(Error::TooFewSlots {
                units: n,
                slots: dst.count(),
            });
        }
        for i in 0..n {
            if dst.slot_len(i) < src.len_of(i) {
                return Err(Error::SlotTooSmall {
                    unit: i,
                    need: src.len_of(i),
                    have: dst.slot_len(i),
                });
            }
        }
        let mut slots = dst.slots_mut();
        self.windows(n, |pool, ctx, w, sum| {
            let mut jobs = [EMPTY; MAX_DSA_BATCH_SIZE];
            for (k, i) in w.clone().enumerate() {
                if let Some(slot) = slots.next() {
                    jobs[k] = DsaJob::Copy {
                        src: src.unit(i),
                        dst: slot,
                    };
                }
            }
            let mut ans = [Answer::None; MAX_DSA_BATCH_SIZE];
            pool.window(ctx, &mut jobs[..w.len()], &mut ans, sum);
        })
    }

    /// Fill every byte of the first `count` output slots with the 8-byte `pattern`
    /// (little-endian: byte `j` of a slot is byte `j % 8` of the pattern), zeroing with 0.
    ///
    /// Errors: fewer slots than `count`, a bad shape.
    pub fn fill(
        &self,
        mut dst: Outputs<'_, '_>,
        count: usize,
        pattern: u64,
    ) -> Result<DsaSummary, Error> {
        dst.validate()?;
        if dst.count() < count {
            return Err(Error::TooFewSlots {
                units: count,
                slots: dst.count(),
            });
        }
        for i in 0..count {
            if dst.slot_len(i) > u32::MAX as usize {
                return Err(Error::UnitTooLarge {
                    len: dst.slot_len(i),
                });
            }
        }
        let mut slots = dst.slots_mut();
        self.windows(count, |pool, ctx, w, sum| {
            let mut jobs = [EMPTY; MAX_DSA_BATCH_SIZE];
            for job in jobs.iter_mut().take(w.len()) {
                if let Some(slot) = slots.next() {
                    *job = DsaJob::Fill { dst: slot, pattern };
                }
            }
            let mut ans = [Answer::None; MAX_DSA_BATCH_SIZE];
            pool.window(ctx, &mut jobs[..w.len()], &mut ans, sum);
        })
    }

    /// Take one context for the call and run `each` on every window of `dsa_batch_size` units.
    fn windows(
        &self,
        n: usize,
        mut each: impl FnMut(&Pool, &mut Lane<'_>, std::ops::Range<usize>, &mut DsaSummary),
    ) -> Result<DsaSummary, Error> {
        let mut sum = DsaSummary {
            units: n,
            ..DsaSummary::default()
        };
        if n == 0 {
            return Ok(sum);
        }
        let mut held = lock_current(&self.cells)?;
        let stats = &held.cell.stats;
        bump(&stats.dsa_calls);
        let step = self.cfg.builder.dsa_batch_size.clamp(1, MAX_DSA_BATCH_SIZE);
        let mut lane = Lane {
            dsa: held.guard.dsa.as_mut(),
            stats,
        };
        let mut start = 0;
        while start < n {
            let end = (start + step).min(n);
            each(self, &mut lane, start..end, &mut sum);
            start = end;
        }
        Ok(sum)
    }

    /// One window: `jobs` on the DSA where there is one, then each unit's answer into `ans`
    /// (a unit already answered, or an empty job, is decided without a descriptor).
    fn window(
        &self,
        lane: &mut Lane<'_>,
        jobs: &mut [DsaJob<'_>],
        ans: &mut [Answer],
        sum: &mut DsaSummary,
    ) {
        let mut out = [DsaOutcome::Pending; MAX_DSA_BATCH_SIZE];
        let out = &mut out[..jobs.len()];
        let stats = lane.stats;
        let ran = match (&mut lane.dsa, self.dsa.as_ref()) {
            (Some(ctx), Some(be)) => {
                let writes = jobs.iter().any(|j| j.writes());
                if writes && ctx.writes_stalled {
                    out.fill(DsaOutcome::TimedOut);
                } else {
                    self.submit_window(ctx, be, stats, jobs, out);
                }
                true
            }
            _ => false,
        };
        // Counted once per window (relaxed atomics, but one per counter, not per unit).
        let counted = self.dsa.is_some() || self.dsa_missing.is_some();
        let (mut hw, mut sw) = (0u64, 0u64);
        let mut causes = [0u64; crate::stats::FALLBACK_CAUSES];
        for (k, job) in jobs.iter_mut().enumerate() {
            if ans[k] != Answer::None || job.is_empty() {
                if ans[k] == Answer::None {
                    ans[k] = soft(job);
                }
                sw += 1; // in `dsa_sw`, with no fallback cause: no descriptor was due
                continue;
            }
            let decision = if ran {
                decide(job, &out[k])
            } else {
                Decision::Software(FallbackCause::NoDevice)
            };
            ans[k] = match decision {
                Decision::Device(a) => {
                    hw += 1;
                    a
                }
                Decision::Software(cause) => {
                    causes[cause as usize] += u64::from(counted);
                    sw += 1;
                    soft(job)
                }
            };
        }
        sum.hardware += hw as usize;
        sum.software += sw as usize;
        if hw > 0 {
            stats.dsa_hw.fetch_add(hw, Relaxed);
        }
        if sw > 0 {
            stats.dsa_sw.fetch_add(sw, Relaxed);
        }
        for (c, n) in stats.dsa_fallbacks.iter().zip(causes) {
            if n > 0 {
                c.fetch_add(n, Relaxed);
            }
        }
    }

    /// Count a window of `n` units answered in software because the context has no DSA lane
    /// (the reading operations answer such a window directly, without jobs).
    fn software_window(&self, lane: &mut Lane<'_>, n: usize, sum: &mut DsaSummary) {
        sum.software += n;
        lane.stats.dsa_sw.fetch_add(n as u64, Relaxed);
        if self.dsa.is_some() || self.dsa_missing.is_some() {
            lane.stats.dsa_fallbacks[FallbackCause::NoDevice as usize].fetch_add(n as u64, Relaxed);
        }
    }

    /// Submit a window on the WQ of this context's socket and wait for it.
    fn submit_window(
        &self,
        ctx: &mut DsaCtx,
        be: &DsaBackend,
        stats: &CtxStats,
        jobs: &[DsaJob<'_>],
        out: &mut [DsaOutcome],
    ) {
        // The CPU the call runs on (the context's index when unknown), as the engine does.
        let cpu = iaa_wq::cpu::current_cpu().unwrap_or(ctx.cpu);
        let wq = be.dev.pick(cpu, iaa_driver::choice::Op::Compress, ctx.seq);
        ctx.seq = ctx.seq.wrapping_add(1);
        let limits = be.dev.limits(wq);
        let budgets = &self.cfg.builder.budgets;
        let opts = RunOptions {
            batch: limits.max_batch as usize >= jobs.len(),
            retries: budgets.submit_retries,
            max_transfer: limits.max_transfer,
            budget: budgets.completion_timeout.max(Duration::from_millis(1)),
        };
        let report = ctx.mem.run(be.dev.wqs(), wq, jobs, opts, out);
        if report.writes_overdue {
            ctx.writes_stalled = true;
        }
        stats
            .dsa_submissions
            .fetch_add(report.submitted.into(), Relaxed);
        stats
            .submit_retries
            .fetch_add(report.retries.into(), Relaxed);
    }
}

/// The context's DSA side for one call.
struct Lane<'h> {
    dsa: Option<&'h mut DsaCtx>,
    stats: &'h CtxStats,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(status: u8, result: u8, crc: u32) -> DsaOutcome {
        let mut r = DsaCompletionRecord::zeroed();
        r.status = status;
        r.result = result;
        r.set_crc_val(crc as u64);
        DsaOutcome::Record(r)
    }
    use bytemuck::Zeroable;

    #[test]
    fn records_decide_device_answers_and_fallback_causes() {
        let data = [1u8; 16];
        let crc = DsaJob::Crc32c {
            src: &data,
            seed: 0,
        };
        assert_eq!(
            decide(&crc, &rec(0x01, 0, 0xDEAD_BEEF)),
            Decision::Device(Answer::Crc(0xDEAD_BEEF))
        );
        let cmp = DsaJob::Compare { a: &data, b: &data };
        assert_eq!(
            decide(&cmp, &rec(0x01, 1, 0)),
            Decision::Device(Answer::Equal(false))
        );
        assert_eq!(
            decide(&cmp, &rec(0x01, 0, 0)),
            Decision::Device(Answer::Equal(true))
        );
        assert_eq!(
            decide(&cmp, &rec(0x03, 0, 0)),
            Decision::Software(FallbackCause::PageFault)
        );
        assert_eq!(
            decide(&cmp, &rec(0x83, 0, 0)),
            Decision::Software(FallbackCause::PageFault)
        );
        assert_eq!(
            decide(&cmp, &rec(0x20, 0, 0)),
            Decision::Software(FallbackCause::DeviceError)
        );
        // A "success, predicate false" needs the check-result flag, which the pool never
        // sets: not an answer.
        assert_eq!(
            decide(&cmp, &rec(0x02, 0, 0)),
            Decision::Software(FallbackCause::DeviceError)
        );
        assert_eq!(
            decide(&cmp, &DsaOutcome::TimedOut),
            Decision::Software(FallbackCause::Timeout)
        );
        assert_eq!(
            decide(&cmp, &DsaOutcome::NotRun(NotRun::Refused)),
            Decision::Software(FallbackCause::SubmitRefused)
        );
    }

    #[test]
    fn software_answers() {
        let page = 0x0102_0304_0506_0708u64.to_le_bytes().repeat(512);
        assert_eq!(candidate_pattern(&page), Some(0x0102_0304_0506_0708));
        assert!(is_pattern(&page, 0x0102_0304_0506_0708));
        let mut other = page.clone();
        other[4095] ^= 1;
        assert!(!is_pattern(&other, 0x0102_0304_0506_0708));
        assert_eq!(candidate_pattern(&page[..7]), None);
        assert_eq!(candidate_pattern(&page[..12]), None);
        let mut dst = [0u8; 12];
        soft(&mut DsaJob::Fill {
            dst: &mut dst,
            pattern: 0x0807_0605_0403_0201,
        });
        assert_eq!(dst, [1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4]);
    }
}
