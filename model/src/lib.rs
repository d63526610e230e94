//! The software device model: an IAA or DSA device that takes the same 64-byte descriptors
//! through the same [`iaa_wq::WorkQueue`] as real hardware, and writes the same completion
//! records (spec §10 is its checklist).
//!
//! - Configurable engines (threads), WQs (dedicated/shared, size, threshold, max transfer size,
//!   enabled) and OPCAP. Each WQ is a FIFO; engines take descriptors in order.
//! - Validation as hardware (statuses 0x10, 0x11 + `invalid_flags`, 0x12, 0x13, 0x16, 0x1B,
//!   0x1C, 0x30, 0x31; DSA 0x14, 0x17, 0x18); no BATCH on IAA.
//! - IAA compress codes LZ77 tokens (4 KiB window, no history across descriptors) with the
//!   Huffman codes **in the AECS**, after the AECS output-accumulator bits, then end processing
//!   and flush; statistics mode; CRC-32/CRC-32C and XOR checksum. Decompress of every block type
//!   with a 4 KiB history (farther: 0x0A / error 17), EOB stop/check rules, ignore-end-bits,
//!   suppress-output, output overflow 0x0B. CRC64, memmove, noop, drain.
//! - DSA memmove, fill, compare, compare-pattern, CRC-32C generate, copy + CRC, dualcast, batch,
//!   noop, drain.
//! - Records: every byte but the status first, the status byte last (release); with CRAV=1 and
//!   RCR=0 only failures are written.
//! - A shared WQ answers "retry" when its occupancy reaches the threshold or it is disabled.
//! - Fault injection ([`Fault`]) per descriptor or at a seeded rate; latency model; zero-latency
//!   and inline (`engines = 0`) modes for overhead measurement.
//!
//! Memory: the model reads and writes at the process virtual addresses in the descriptor (as a
//! device with SVA does) through the one module `dma.rs`; the submitter's side of that contract
//! is the `unsafe` of [`iaa_wq::WorkQueue::submit`] plus the record quarantine of `iaa-wq`.
//!
//! # Selecting the model
//! `IAA_DEVICE=model` in the environment ([`selected_by_env`]) asks for the model instead of
//! real devices; [`ModelConfig::from_env`] reads its shape (`IAA_MODEL_ENGINES`,
//! `IAA_MODEL_WQ_SIZE`, `IAA_MODEL_WQ_MODE` = `shared`|`dedicated`, `IAA_MODEL_FIXED_NS`,
//! `IAA_MODEL_NS_PER_KIB`, `IAA_MODEL_BOUNCE` = 1 for [`ModelConfig::require_bounce`],
//! `IAA_MODEL_IAA_CAP` = `2` (or an IAACAP value) for an IAA 2.0 with header generation
//! ([`ModelConfig::iaa_cap`]), `IAA_MODEL_REPLAY_MIB` = N for the replay mode remembering up to
//! N MiB of jobs ([`ModelConfig::replay`])), [`register`]
//! makes `IAA_DEVICE=model` and `IAA_DEVICE=vfio-model` open it through `iaa_driver::open`,
//! [`backend`] makes a pool backend of a started model, and [`open`] gives the device and its [`iaa_wq::WorkQueue`]s — the
//! same type a real WQ is opened as, so everything above the WQ runs the same code.
//!
//! Documented gaps: analytics/filter opcodes are not modelled (0x10); decompress does not read
//! or write decoder state in an AECS (RD_SRC2_AECS on decompress gives 0x0A / 22); big-endian
//! Huffman-only and indexing modes give 0x30; an unflushed compress that does not write the
//! AECS writes its partial last byte (`output_bits` tells how many bits are valid) — with
//! WR_SRC2_AECS_COMP the bits go to the written AECS's output accumulator as on hardware, and
//! the next job (AECS toggle) continues the stream; whole bytes are written, not whole qwords.
//! A misaligned completion record (0x1B) is still written at the given address (hardware
//! reports it through SWERR; [U] in the spec) so that tests can see the status.

pub mod bar0;
mod crc;
mod deflate;
mod dma;
mod exec;
mod executor;
pub mod kernel;
mod replay;
mod timer;
pub mod vfio;

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{JoinHandle, Thread};
use std::time::{Duration, Instant};

use crossbeam_queue::ArrayQueue;
use iaa_descriptors::{DsaOpcode, IaaOpcode, OpCap};
use iaa_wq::{PortalAccept, SoftPortal, WorkQueue, WqConfig, WqError, WqMode};

pub use bar0::{Bar0Model, Bar0ModelConfig, CommandRecord};
pub use crc::{crc64, Crc32, Crc32Kind, Xor16};
pub use executor::Executor;
pub use kernel::{BridgeStats, ModelNodeOpener, BRIDGE_RETRY_BUDGET};
pub use vfio::ModelVfio;

/// IAA opcodes the model implements.
pub const IAA_MODELLED: &[IaaOpcode] = &[
    IaaOpcode::Noop,
    IaaOpcode::Drain,
    IaaOpcode::Memmove,
    IaaOpcode::Decompress,
    IaaOpcode::Compress,
    IaaOpcode::Crc64,
];

/// DSA opcodes the model implements.
pub const DSA_MODELLED: &[DsaOpcode] = &[
    DsaOpcode::Noop,
    DsaOpcode::Batch,
    DsaOpcode::Drain,
    DsaOpcode::Memmove,
    DsaOpcode::Memfill,
    DsaOpcode::Compare,
    DsaOpcode::CompareValue,
    DsaOpcode::Dualcast,
    DsaOpcode::CrcGenerate,
    DsaOpcode::CopyCrc,
];

/// Errors of the model.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The configuration is unusable.
    #[error("bad model configuration: {0}")]
    BadConfig(&'static str),
    /// An environment variable has a value that does not parse.
    #[error("bad value {value:?} for {var}")]
    BadEnv {
        /// Variable name.
        var: &'static str,
        /// Its value.
        value: String,
    },
    /// No WQ with this index.
    #[error("the model has no WQ {0}")]
    NoSuchWq(usize),
    /// Creating the WorkQueue failed.
    #[error(transparent)]
    Wq(#[from] WqError),
    /// A pool backend was asked of a DSA model.
    #[error("the device model is a DSA, not an IAA")]
    NotIaa,
    /// A DSA backend was asked of an IAA model.
    #[error("the device model is an IAA, not a DSA")]
    NotDsa,
    /// An engine thread could not be started.
    #[error("cannot start an engine thread: {0}")]
    Spawn(std::io::Error),
}

/// IAA or DSA.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceKind {
    /// In-Memory Analytics Accelerator.
    Iaa,
    /// Data Streaming Accelerator.
    Dsa,
}

/// One WQ of the model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ModelWqConfig {
    /// Dedicated or shared.
    pub mode: WqMode,
    /// Entries.
    pub size: u32,
    /// Shared WQ: occupancy at which submissions are refused (limited portal).
    pub threshold: u32,
    /// Largest src/dst size of one descriptor (bytes).
    pub max_transfer: u32,
    /// Enabled at start.
    pub enabled: bool,
    /// Block on fault enabled (WQCFG.bof): a descriptor with the BOF flag waits for its page
    /// faults to be resolved instead of completing with 0x03 (an injected page fault then only
    /// costs time).
    pub block_on_fault: bool,
}

impl ModelWqConfig {
    /// A shared WQ of `size` entries with threshold = size and a 2 MiB max transfer (Linux
    /// default).
    pub const fn shared(size: u32) -> Self {
        ModelWqConfig {
            mode: WqMode::Shared,
            size,
            threshold: size,
            max_transfer: 2 << 20,
            enabled: true,
            block_on_fault: false,
        }
    }
    /// A dedicated WQ of `size` entries.
    pub const fn dedicated(size: u32) -> Self {
        ModelWqConfig {
            mode: WqMode::Dedicated,
            ..Self::shared(size)
        }
    }
}

/// Processing time of one descriptor: `fixed_ns + ns_per_kib * bytes / 1024`, per engine.
/// All zero = no added latency.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Latency {
    /// Fixed nanoseconds per descriptor.
    pub fixed_ns: u64,
    /// Nanoseconds per KiB of source.
    pub ns_per_kib: u64,
}

/// The shape of a model device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelConfig {
    /// IAA or DSA.
    pub kind: DeviceKind,
    /// Engine threads. 0 = inline: each descriptor is executed in the submitting thread during
    /// `submit` (deterministic; for overhead measurement and valgrind).
    pub engines: usize,
    /// The WQs.
    pub wqs: Vec<ModelWqConfig>,
    /// Operation capability (opcodes outside it complete with 0x10).
    pub opcap: OpCap,
    /// Latency model.
    pub latency: Latency,
    /// DSA: largest batch.
    pub max_batch: u32,
    /// Keep `(opcode, source address, source bytes)` of every descriptor taken, for tests
    /// that check where descriptors point ([`ModelDevice::logged_sources`]).
    pub log_sources: bool,
    /// Behave as a device that cannot read process memory (VFIO without SVA): [`backend`]
    /// tells the pool to copy inputs into its own memory first. The model itself still reads
    /// any address; this only shapes the pool's choice.
    pub require_bounce: bool,
    /// Report one byte fewer than consumed in every successful decompress record's
    /// `bytes_completed` (`IAA_MODEL_QUIRK=bytes_completed`): a device that disagrees with what
    /// the library expects, for `iaa selftest` to find.
    pub skew_bytes_completed: bool,
    /// Report every DSA CRC-32C with its lowest bit flipped (`IAA_MODEL_QUIRK=crc32c`): a DSA
    /// that disagrees with the library, for `iaa selftest` to find.
    pub skew_crc32c: bool,
    /// IAACAP of the modelled IAA (`iaa_descriptors::IaaCap`): 0 = an IAA 1.0 (Sapphire
    /// Rapids), which rejects header generation (0x30); [`IAA2_CAP`] = an IAA 2.0 with
    /// one-pass header generation. The driver reads the real value from BAR0 0x180 (VFIO,
    /// [`Bar0ModelConfig::iaacap`]) or the sysfs attribute `iaa_cap` (kernel WQs).
    pub iaa_cap: u64,
    /// Replay mode for benchmarks: results are memoised per job (found by a 128-bit hash of
    /// the descriptor fields, source bytes and AECS bytes) and a repeated job only copies its
    /// remembered output, so the model's own compute (tens of µs per 4 KiB unit) leaves the
    /// latency path and a latency benchmark measures the driver plus the latency model.
    /// `None` = compute every job. See [`Replay`].
    pub replay: Option<Replay>,
}

/// What the replay mode keeps ([`ModelConfig::replay`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Replay {
    /// Bytes of remembered jobs (their outputs, plus 128 per job) at most; when full, new
    /// jobs are computed and not remembered.
    pub max_bytes: usize,
}

impl Default for Replay {
    /// 256 MiB.
    fn default() -> Self {
        Replay {
            max_bytes: 256 << 20,
        }
    }
}

/// IAACAP of the modelled IAA 2.0: bits 0-8 (format-2 decompress AECS ... header generation),
/// no crypto.
pub const IAA2_CAP: u64 = 0x1FF;

impl ModelConfig {
    /// An IAA with `engines` engines and one shared WQ of 32 entries.
    pub fn iaa(engines: usize) -> Self {
        ModelConfig {
            kind: DeviceKind::Iaa,
            engines,
            wqs: vec![ModelWqConfig::shared(32)],
            opcap: OpCap::from_opcodes(IAA_MODELLED.iter().map(|o| *o as u8)),
            latency: Latency::default(),
            max_batch: 0,
            require_bounce: false,
            log_sources: false,
            skew_bytes_completed: false,
            skew_crc32c: false,
            iaa_cap: 0,
            replay: None,
        }
    }
    /// A DSA with `engines` engines and one shared WQ of 32 entries.
    pub fn dsa(engines: usize) -> Self {
        ModelConfig {
            kind: DeviceKind::Dsa,
            engines,
            wqs: vec![ModelWqConfig::shared(32)],
            opcap: OpCap::from_opcodes(DSA_MODELLED.iter().map(|o| *o as u8)),
            latency: Latency::default(),
            max_batch: 1024,
            require_bounce: false,
            log_sources: false,
            skew_bytes_completed: false,
            skew_crc32c: false,
            iaa_cap: 0,
            replay: None,
        }
    }
    /// An IAA model shaped by the environment (see the module docs); defaults: 2 engines, one
    /// shared WQ of 32 entries, no latency.
    pub fn from_env() -> Result<Self, ModelError> {
        fn num(var: &'static str, default: u64) -> Result<u64, ModelError> {
            match std::env::var(var) {
                Ok(v) => v
                    .trim()
                    .parse()
                    .map_err(|_| ModelError::BadEnv { var, value: v }),
                Err(_) => Ok(default),
            }
        }
        let mut c = Self::iaa(num("IAA_MODEL_ENGINES", 2)? as usize);
        let size = num("IAA_MODEL_WQ_SIZE", 32)? as u32;
        c.wqs[0] = match std::env::var("IAA_MODEL_WQ_MODE").as_deref() {
            Ok("dedicated") => ModelWqConfig::dedicated(size),
            Ok("shared") | Err(_) => ModelWqConfig::shared(size),
            Ok(v) => {
                return Err(ModelError::BadEnv {
                    var: "IAA_MODEL_WQ_MODE",
                    value: v.to_string(),
                })
            }
        };
        c.latency = Latency {
            fixed_ns: num("IAA_MODEL_FIXED_NS", 0)?,
            ns_per_kib: num("IAA_MODEL_NS_PER_KIB", 0)?,
        };
        c.require_bounce = num("IAA_MODEL_BOUNCE", 0)? != 0;
        // A comma-separated list of disagreements to model.
        if let Ok(v) = std::env::var("IAA_MODEL_QUIRK") {
            for q in v.split(',').map(str::trim).filter(|q| !q.is_empty()) {
                match q {
                    "bytes_completed" => c.skew_bytes_completed = true,
                    "crc32c" => c.skew_crc32c = true,
                    _ => {
                        return Err(ModelError::BadEnv {
                            var: "IAA_MODEL_QUIRK",
                            value: v.clone(),
                        })
                    }
                }
            }
        }
        c.iaa_cap = match std::env::var("IAA_MODEL_IAA_CAP") {
            Ok(v) => parse_cap(&v).ok_or(ModelError::BadEnv {
                var: "IAA_MODEL_IAA_CAP",
                value: v,
            })?,
            Err(_) => 0,
        };
        c.replay = match num("IAA_MODEL_REPLAY_MIB", 0)? {
            0 => None,
            mib => Some(Replay {
                max_bytes: usize::try_from(mib.saturating_mul(1 << 20)).unwrap_or(usize::MAX),
            }),
        };
        Ok(c)
    }
}

/// `IAA_MODEL_IAA_CAP`: `2` (an IAA 2.0, [`IAA2_CAP`]), `1` (an IAA 1.0, 0), or a value in
/// hex (`0x1ff`) or decimal.
fn parse_cap(v: &str) -> Option<u64> {
    let v = v.trim();
    match v {
        "1" => Some(0),
        "2" => Some(IAA2_CAP),
        _ => match v.strip_prefix("0x").or_else(|| v.strip_prefix("0X")) {
            Some(h) => u64::from_str_radix(h, 16).ok(),
            None => v.parse().ok(),
        },
    }
}

/// Whether `IAA_DEVICE=model` asks for the software device model.
pub fn selected_by_env() -> bool {
    std::env::var("IAA_DEVICE").is_ok_and(|v| v.trim().eq_ignore_ascii_case("model"))
}

/// A started model and one [`WorkQueue`] per configured WQ.
pub struct Opened {
    /// The device (keep it alive while the WQs are used; dropping it stops the engines).
    pub device: Arc<ModelDevice>,
    /// Its WQs, in configuration order.
    pub wqs: Vec<WorkQueue>,
}

/// Start a model device and open all its WQs.
pub fn open(cfg: ModelConfig) -> Result<Opened, ModelError> {
    let device = ModelDevice::start(cfg)?;
    let wqs = (0..device.cfg().wqs.len())
        .map(|i| device.wq(i))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Opened { device, wqs })
}

/// A pool backend on `device` (an IAA model): one queue per configured WQ, named `model/wqN`,
/// the device kept alive inside. The model reads process memory as a device with SVA does, so
/// the pool may hand it the caller's input directly unless the configuration says
/// [`ModelConfig::require_bounce`].
pub fn backend(
    device: Arc<ModelDevice>,
    what: &str,
) -> Result<iaa_driver::open::Backend, ModelError> {
    use iaa_driver::open::{Backend, WqInfo};
    if device.cfg().kind != DeviceKind::Iaa {
        return Err(ModelError::NotIaa);
    }
    let n = device.cfg().wqs.len();
    let wqs = (0..n)
        .map(|i| device.wq(i))
        .collect::<Result<Vec<_>, _>>()?;
    let info = (0..n)
        .map(|i| WqInfo {
            name: format!("model/wq{i}"),
            socket: None,
        })
        .collect();
    let c = device.cfg();
    let name = match c.wqs.first() {
        Some(w) => format!(
            "{what}, {} engine(s), {n} WQ(s) ({:?} size {})",
            c.engines, w.mode, w.size
        ),
        None => format!("{what}, no WQ"),
    };
    let bounce = c.require_bounce;
    let cap = c.iaa_cap;
    let b = Backend::new(wqs, info, name).with_iaa_cap(cap).keep(device);
    Ok(if bounce { b.requires_bounce() } else { b })
}

/// A DSA backend on `device` (a DSA model) for the pool's DSA operations: one queue per
/// configured WQ, named `model-dsa/wqN`, with each WQ's maximum transfer and the device's
/// maximum batch ([`ModelConfig::max_batch`]) as its limits. The model reads and writes
/// process memory as a DSA with PASID does.
pub fn dsa_backend(
    device: Arc<ModelDevice>,
    what: &str,
) -> Result<iaa_driver::open::Backend, ModelError> {
    use iaa_driver::open::{Backend, WqInfo, WqLimits};
    if device.cfg().kind != DeviceKind::Dsa {
        return Err(ModelError::NotDsa);
    }
    let c = device.cfg();
    let n = c.wqs.len();
    let wqs = (0..n)
        .map(|i| device.wq(i))
        .collect::<Result<Vec<_>, _>>()?;
    let info = (0..n)
        .map(|i| WqInfo {
            name: format!("model-dsa/wq{i}"),
            socket: None,
        })
        .collect();
    let limits: Vec<WqLimits> = c
        .wqs
        .iter()
        .map(|w| WqLimits {
            max_transfer: w.max_transfer,
            max_batch: c.max_batch,
        })
        .collect();
    let name = match c.wqs.first() {
        Some(w) => format!(
            "{what}, {} engine(s), {n} WQ(s) ({:?} size {})",
            c.engines, w.mode, w.size
        ),
        None => format!("{what}, no WQ"),
    };
    Ok(Backend::new(wqs, info, name)
        .with_limits(&limits)
        .keep(device))
}

/// A DSA model shaped by the environment as [`ModelConfig::from_env`] shapes the IAA
/// (`IAA_MODEL_ENGINES`, `IAA_MODEL_WQ_SIZE`, `IAA_MODEL_WQ_MODE`, `IAA_MODEL_FIXED_NS`,
/// `IAA_MODEL_NS_PER_KIB`, `IAA_MODEL_QUIRK=crc32c`), batches of up to 1,024 descriptors.
pub fn dsa_config_from_env() -> Result<ModelConfig, ModelError> {
    let iaa = ModelConfig::from_env()?;
    let mut c = ModelConfig::dsa(iaa.engines);
    c.wqs = iaa.wqs;
    c.latency = iaa.latency;
    c.skew_crc32c = iaa.skew_crc32c;
    Ok(c)
}

/// Register the model's names with `iaa_driver::open` (once; later calls do nothing):
/// `model` (a device shaped by [`ModelConfig::from_env`]; for `open_dsa`, a DSA shaped by
/// [`dsa_config_from_env`]) and `vfio-model` (the VFIO bring-up
/// over [`Bar0Model`] with the model behind it, `IAA_MODEL_ENGINES` engines, default 2; an
/// IAA 2.0 register file, [`Bar0ModelConfig::gnr_iaa`], when `IAA_MODEL_IAA_CAP` is set).
pub fn register() {
    use iaa_driver::open::{self, OpenError};
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let failed = |what: &str, e: &dyn std::fmt::Display| OpenError::Failed {
            what: what.into(),
            message: e.to_string(),
        };
        open::register(
            "model",
            Arc::new(move || {
                let cfg = ModelConfig::from_env().map_err(|e| failed("device model", &e))?;
                let dev = ModelDevice::start(cfg).map_err(|e| failed("device model", &e))?;
                backend(dev, "device model").map_err(|e| failed("device model", &e))
            }),
        );
        open::register_dsa(
            "model",
            Arc::new(move || {
                let cfg = dsa_config_from_env().map_err(|e| failed("DSA model", &e))?;
                let dev = ModelDevice::start(cfg).map_err(|e| failed("DSA model", &e))?;
                dsa_backend(dev, "DSA model").map_err(|e| failed("DSA model", &e))
            }),
        );
        open::register(
            "vfio-model",
            Arc::new(move || {
                let cfg = ModelConfig::from_env()
                    .map_err(|e| failed("VFIO over the device model", &e))?;
                // An IAA 2.0 register file when IAA_MODEL_IAA_CAP asks for capabilities.
                let regs = match cfg.iaa_cap {
                    0 => Bar0ModelConfig::spr_iaa(),
                    cap => Bar0ModelConfig {
                        iaacap: cap,
                        ..Bar0ModelConfig::gnr_iaa()
                    },
                };
                let dev = ModelVfio::open(regs, open::VFIO_WQS, cfg.engines, open::VFIO_ARENA)
                    .map_err(|e| failed("VFIO over the device model", &e))?;
                Ok(dev.into_backend("VFIO over the device model".into()))
            }),
        );
    });
}

/// A fault to inject.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultKind {
    /// Page fault with block-on-fault off: status 0x03 (0x83 when `write`), `fault_addr` set;
    /// IAA writes no usable output, DSA memmove completes the first half (partial completion).
    PageFault {
        /// The fault was on a write (destination) rather than a read.
        write: bool,
    },
    /// Output overflow: IAA compress 0x0A / 0x19; IAA decompress 0x0B (destination one byte
    /// short). Other opcodes are unaffected.
    OutputOverflow,
    /// Hardware error (0x20).
    HardwareError,
    /// Watchdog expired (0x24).
    Watchdog,
    /// The descriptor never completes until [`ModelDevice::finish_hung`].
    Hang,
    /// The WQ is disabled when this descriptor arrives: it and all later ones are refused
    /// (shared: retry; dedicated: silently dropped, as hardware).
    DisableWq,
}

/// When a fault fires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultWhen {
    /// The descriptor with this 0-based index among those arriving at the WQ after injection.
    Nth(u64),
    /// Each arriving descriptor with probability `per_million / 10^6`, from a seeded PRNG.
    Rate {
        /// Probability in parts per million.
        per_million: u32,
        /// PRNG seed (same seed, same faults).
        seed: u64,
    },
}

/// A fault rule for one WQ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fault {
    /// WQ index.
    pub wq: usize,
    /// What happens.
    pub kind: FaultKind,
    /// When.
    pub when: FaultWhen,
}

struct FaultRule {
    f: Fault,
    base: u64,
    rng: u64,
}

/// Seed scrambler: distinct seeds give distinct, non-zero xorshift states.
fn splitmix(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    (z ^ (z >> 31)) | 1
}

fn xorshift(s: &mut u64) -> u64 {
    let mut x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *s = x;
    x
}

/// Counters of the model.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ModelStats {
    /// Descriptors accepted into a WQ.
    pub accepted: u64,
    /// Submissions answered "retry" (shared WQ at threshold or disabled).
    pub retries: u64,
    /// Descriptors dropped (dedicated WQ full or disabled; hardware logs SWERR).
    pub dropped: u64,
    /// Descriptors executed (record written or not).
    pub executed: u64,
    /// Completion records written.
    pub records: u64,
    /// Faults injected.
    pub faults: u64,
    /// Descriptors hung right now.
    pub hung: u64,
    /// Replay mode: jobs answered from remembered results.
    pub replayed: u64,
    /// Replay mode: jobs computed (first sight, or not replayable).
    pub replay_misses: u64,
}

struct Job {
    desc: [u8; 64],
    fault: Option<FaultKind>,
}

struct WqState {
    cfg: ModelWqConfig,
    q: ArrayQueue<Job>,
    enabled: AtomicBool,
    arrived: AtomicU64,
    pop: Mutex<PopState>,
    finished: AtomicU64,
}

struct PopState {
    popped: u64,
    blocked: bool,
}

struct Inner {
    cfg: ModelConfig,
    wqs: Vec<WqState>,
    stop: AtomicBool,
    any_faults: AtomicBool,
    faults: Mutex<Vec<FaultRule>>,
    hung: Mutex<Vec<(usize, Job)>>,
    sleepers: AtomicUsize,
    parked: Vec<AtomicBool>,
    threads: Mutex<Vec<Thread>>,
    timer: Option<timer::Timer>,
    timer_seq: AtomicU64,
    late_refused: AtomicU64,
    retries: AtomicU64,
    dropped: AtomicU64,
    executed: AtomicU64,
    unrecorded: AtomicU64,
    faults_fired: AtomicU64,
    sources: Mutex<Vec<(u8, u64, u32)>>,
    replay: Option<replay::ReplayCache>,
    /// Replay mode with a latency model: when each engine is next free (modelled time), for
    /// jobs replayed at submission.
    slots: Mutex<Vec<Instant>>,
}

/// The model device. Dropping it stops and joins its engines.
pub struct ModelDevice {
    inner: Arc<Inner>,
    handles: Mutex<Vec<JoinHandle<()>>>,
}

thread_local! {
    static INLINE_SCRATCH: RefCell<Option<deflate::Scratch>> = const { RefCell::new(None) };
}

impl ModelDevice {
    /// Start the device (spawns `cfg.engines` engine threads).
    pub fn start(cfg: ModelConfig) -> Result<Arc<ModelDevice>, ModelError> {
        if cfg.wqs.is_empty() {
            return Err(ModelError::BadConfig("no WQ"));
        }
        for w in &cfg.wqs {
            if w.size == 0 {
                return Err(ModelError::BadConfig("WQ size 0"));
            }
            if w.threshold > w.size {
                return Err(ModelError::BadConfig("threshold above WQ size"));
            }
            if w.mode == WqMode::Shared && w.threshold == 0 {
                return Err(ModelError::BadConfig("shared WQ with threshold 0"));
            }
        }
        let wqs = cfg
            .wqs
            .iter()
            .map(|w| WqState {
                cfg: *w,
                q: ArrayQueue::new(w.size as usize),
                enabled: AtomicBool::new(w.enabled),
                arrived: AtomicU64::new(0),
                pop: Mutex::new(PopState {
                    popped: 0,
                    blocked: false,
                }),
                finished: AtomicU64::new(0),
            })
            .collect();
        let cfg_engines = cfg.engines;
        let cfg_timed = cfg.latency != Latency::default();
        let replay = cfg.replay.map(replay::ReplayCache::new);
        let slots = Mutex::new(vec![Instant::now(); cfg.engines.max(1)]);
        let inner = Arc::new(Inner {
            replay,
            slots,
            cfg,
            wqs,
            stop: AtomicBool::new(false),
            any_faults: AtomicBool::new(false),
            faults: Mutex::new(Vec::new()),
            hung: Mutex::new(Vec::new()),
            sleepers: AtomicUsize::new(0),
            parked: (0..cfg_engines).map(|_| AtomicBool::new(false)).collect(),
            threads: Mutex::new(Vec::new()),
            timer: (cfg_engines > 0 && cfg_timed).then(|| timer::Timer::new(4096)),
            timer_seq: AtomicU64::new(0),
            late_refused: AtomicU64::new(0),
            sources: Mutex::new(Vec::new()),
            retries: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            executed: AtomicU64::new(0),
            unrecorded: AtomicU64::new(0),
            faults_fired: AtomicU64::new(0),
        });
        let dev = Arc::new(ModelDevice {
            inner: Arc::clone(&inner),
            handles: Mutex::new(Vec::new()),
        });
        for e in 0..inner.cfg.engines {
            let inn = Arc::clone(&inner);
            let h = std::thread::Builder::new()
                .name(format!("iaa-model-engine{e}"))
                .spawn(move || engine(inn, e))
                .map_err(ModelError::Spawn)?;
            lock(&inner.threads).push(h.thread().clone());
            lock(&dev.handles).push(h);
        }
        if inner.timer.is_some() {
            let inn = Arc::clone(&inner);
            let h = std::thread::Builder::new()
                .name("iaa-model-timer".into())
                .spawn(move || timer_thread(inn))
                .map_err(ModelError::Spawn)?;
            lock(&dev.handles).push(h);
        }
        Ok(dev)
    }

    /// The configuration.
    pub fn cfg(&self) -> &ModelConfig {
        &self.inner.cfg
    }

    /// `(opcode, source address, source bytes)` of every descriptor taken so far, when the
    /// configuration says [`ModelConfig::log_sources`] (empty otherwise).
    pub fn logged_sources(&self) -> Vec<(u8, u64, u32)> {
        lock(&self.inner.sources).clone()
    }

    /// A [`WorkQueue`] whose portal is WQ `i` of this model.
    pub fn wq(&self, i: usize) -> Result<WorkQueue, ModelError> {
        let w = self.inner.cfg.wqs.get(i).ok_or(ModelError::NoSuchWq(i))?;
        let portal = Arc::new(ModelPortal {
            inner: Arc::clone(&self.inner),
            wq: i,
        });
        let cfg = WqConfig {
            mode: w.mode,
            size: w.size,
            enqcmd_retries: WqConfig::DEFAULT_RETRIES,
        };
        // The model reads any address of this process (through `dma::read_into`, which turns
        // an unmapped source into a page-fault record instead of a crash).
        Ok(WorkQueue::with_model(portal, cfg)?.reading_process_memory(true))
    }

    /// Add a fault rule (counted from descriptors arriving after this call).
    pub fn inject(&self, f: Fault) -> Result<(), ModelError> {
        let w = self.inner.wqs.get(f.wq).ok_or(ModelError::NoSuchWq(f.wq))?;
        let seed = match f.when {
            FaultWhen::Rate { seed, .. } => splitmix(seed),
            FaultWhen::Nth(_) => 1,
        };
        lock(&self.inner.faults).push(FaultRule {
            f,
            base: w.arrived.load(Ordering::Relaxed),
            rng: seed,
        });
        self.inner.any_faults.store(true, Ordering::Release);
        Ok(())
    }

    /// Remove every fault rule.
    pub fn clear_faults(&self) {
        lock(&self.inner.faults).clear();
        self.inner.any_faults.store(false, Ordering::Release);
    }

    /// Enable or disable WQ `i`.
    pub fn set_wq_enabled(&self, i: usize, on: bool) -> Result<(), ModelError> {
        let w = self.inner.wqs.get(i).ok_or(ModelError::NoSuchWq(i))?;
        w.enabled.store(on, Ordering::Release);
        Ok(())
    }

    /// Whether WQ `i` is enabled.
    pub fn wq_enabled(&self, i: usize) -> Option<bool> {
        self.inner
            .wqs
            .get(i)
            .map(|w| w.enabled.load(Ordering::Acquire))
    }

    /// Occupancy (queued, not yet taken by an engine) of WQ `i`.
    pub fn occupancy(&self, i: usize) -> Option<usize> {
        self.inner.wqs.get(i).map(|w| w.q.len())
    }

    /// Execute the hung descriptors now (late: their output and records are written after the
    /// submitter gave up on them); returns how many.
    pub fn finish_hung(&self) -> usize {
        let jobs: Vec<(usize, Job)> = std::mem::take(&mut *lock(&self.inner.hung));
        let n = jobs.len();
        for (wq, job) in jobs {
            with_inline_scratch(|s| self.inner.run(wq, &job, s));
        }
        n
    }

    /// Counters.
    pub fn stats(&self) -> ModelStats {
        let i = &self.inner;
        let arrived: u64 = i
            .wqs
            .iter()
            .map(|w| w.arrived.load(Ordering::Relaxed))
            .sum();
        let executed = i.executed.load(Ordering::Relaxed);
        ModelStats {
            accepted: arrived - i.late_refused.load(Ordering::Relaxed),
            retries: i.retries.load(Ordering::Relaxed),
            dropped: i.dropped.load(Ordering::Relaxed),
            executed,
            records: executed - i.unrecorded.load(Ordering::Relaxed),
            faults: i.faults_fired.load(Ordering::Relaxed),
            hung: lock(&i.hung).len() as u64,
            replayed: i
                .replay
                .as_ref()
                .map_or(0, |r| r.hits.load(Ordering::Relaxed)),
            replay_misses: i
                .replay
                .as_ref()
                .map_or(0, |r| r.misses.load(Ordering::Relaxed)),
        }
    }
}

impl Drop for ModelDevice {
    fn drop(&mut self) {
        self.inner.stop.store(true, Ordering::Release);
        for t in lock(&self.inner.threads).iter() {
            t.unpark();
        }
        if let Some(t) = &self.inner.timer {
            t.cv.notify_all();
        }
        for h in lock(&self.handles).drain(..) {
            let _ = h.join();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn with_inline_scratch<R>(f: impl FnOnce(&mut deflate::Scratch) -> R) -> R {
    INLINE_SCRATCH.with(|c| {
        let mut b = c.borrow_mut();
        f(b.get_or_insert_with(deflate::Scratch::new))
    })
}

impl Inner {
    /// Replay mode with a latency model: take a compress/decompress job without an injected
    /// fault in the submitting thread (a remembered result costs a hash, a compare and a copy),
    /// give it the earliest free modelled engine and hand its record to the timer for
    /// `max(now, engine free) + latency`. No engine thread wakes up, so the latency benchmark
    /// sees the driver and the latency model, not thread hand-offs. Such jobs do not occupy the
    /// WQ and a drain does not wait for them (a benchmark mode). `false`: queue it as usual.
    fn replay_at_submit(&self, wq: usize, job: &Job) -> bool {
        let (Some(_), Some(t)) = (&self.replay, &self.timer) else {
            return false;
        };
        if job.fault.is_some() || !matches!(job.desc[7], 0x42 | 0x43) {
            return false;
        }
        let done = with_inline_scratch(|s| self.execute(&self.wqs[wq].cfg, job, s));
        let now = Instant::now();
        let lat = self.latency_of(&job.desc);
        let deadline = {
            let mut slots = lock(&self.slots);
            let Some(slot) = slots.iter_mut().min() else {
                return false;
            };
            let d = (*slot).max(now) + lat;
            *slot = d;
            d
        };
        let seq = self.timer_seq.fetch_add(1, Ordering::Relaxed);
        t.schedule(timer::Pending {
            deadline,
            seq,
            wq,
            drain: false,
            done,
        });
        true
    }

    /// Execute one job: from the replay cache when the replay mode is on and no fault is
    /// injected, else computed.
    fn execute(&self, wq: &ModelWqConfig, job: &Job, s: &mut deflate::Scratch) -> exec::Done {
        match &self.replay {
            Some(r) if job.fault.is_none() => r.execute(&self.cfg, wq, &job.desc, s),
            _ => exec::execute(&self.cfg, wq, &job.desc, job.fault, s),
        }
    }

    /// The fault (if any) for the next descriptor arriving at WQ `wq` with index `idx`.
    fn fault_for(&self, wq: usize, idx: u64) -> Option<FaultKind> {
        if !self.any_faults.load(Ordering::Acquire) {
            return None;
        }
        let mut rules = lock(&self.faults);
        let mut hit = None;
        for r in rules.iter_mut().filter(|r| r.f.wq == wq) {
            let fire = match r.f.when {
                FaultWhen::Nth(n) => idx.checked_sub(r.base) == Some(n),
                FaultWhen::Rate { per_million, .. } => {
                    xorshift(&mut r.rng) % 1_000_000 < per_million as u64
                }
            };
            if fire && hit.is_none() {
                hit = Some(r.f.kind);
            }
        }
        if hit.is_some() {
            self.faults_fired.fetch_add(1, Ordering::Relaxed);
        }
        hit
    }

    /// After a push: wake one parked engine, if any (one unpark per sleep, not per push).
    fn wake(&self) {
        std::sync::atomic::fence(Ordering::SeqCst);
        if self.sleepers.load(Ordering::SeqCst) == 0 {
            return;
        }
        for (i, p) in self.parked.iter().enumerate() {
            if p.swap(false, Ordering::AcqRel) {
                if let Some(t) = lock(&self.threads).get(i) {
                    t.unpark();
                }
                return;
            }
        }
    }

    /// Modelled processing time of a descriptor.
    fn latency_of(&self, desc: &[u8; 64]) -> Duration {
        let lat = self.cfg.latency;
        let bytes = exec::work_bytes(self.cfg.kind, desc);
        Duration::from_nanos(lat.fixed_ns + lat.ns_per_kib.saturating_mul(bytes) / 1024)
    }

    /// Execute one job of WQ `wq` and write its record now (inline mode and late hung jobs:
    /// the latency, if any, is waited out in this thread first).
    fn run(&self, wq: usize, job: &Job, s: &mut deflate::Scratch) {
        let w = &self.wqs[wq];
        let timed = self.cfg.latency != Latency::default();
        let t0 = if timed { Some(Instant::now()) } else { None };
        let done = self.execute(&w.cfg, job, s);
        if let Some(t0) = t0 {
            wait_until(t0 + self.latency_of(&job.desc));
        }
        self.commit(wq, job.desc[7] == 0x02, &done);
    }

    /// Make a record visible and account for it.
    fn commit(&self, wq: usize, drain: bool, done: &exec::Done) {
        if !done.commit() {
            self.unrecorded.fetch_add(1, Ordering::Relaxed);
        }
        self.executed.fetch_add(1, Ordering::Relaxed);
        let w = &self.wqs[wq];
        w.finished.fetch_add(1, Ordering::Release);
        if drain {
            lock(&w.pop).blocked = false;
        }
    }

    /// Take the next job of WQ `wq` in order; a DRAIN blocks further takes until it completes.
    fn pop(&self, wq: usize) -> Option<(Job, u64)> {
        let w = &self.wqs[wq];
        if w.q.is_empty() {
            return None;
        }
        let mut p = lock(&w.pop);
        if p.blocked {
            return None;
        }
        let job = w.q.pop()?;
        let seq = p.popped;
        p.popped += 1;
        if job.desc[7] == 0x02 {
            p.blocked = true;
        }
        Some((job, seq))
    }

    /// Process a popped job: drains wait for every earlier job of the WQ; hung jobs are parked.
    /// With a latency model the record goes to the timer at `max(start, free_at) + latency`
    /// (`start`: when the engine took the job; `free_at`: when its previous job completes).
    fn process(
        &self,
        wq: usize,
        job: Job,
        seq: u64,
        s: &mut deflate::Scratch,
        free_at: &mut Instant,
    ) {
        let w = &self.wqs[wq];
        let is_drain = job.desc[7] == 0x02;
        if is_drain {
            while w.finished.load(Ordering::Acquire) < seq && !self.stop.load(Ordering::Acquire) {
                std::thread::yield_now();
            }
        }
        if job.fault == Some(FaultKind::Hang) {
            lock(&self.hung).push((wq, job));
            return;
        }
        let Some(t) = &self.timer else {
            self.run(wq, &job, s);
            return;
        };
        // The modelled time starts when the engine takes the job, before the host computes
        // its result: that compute is the model's stand-in for the device's work, so it runs
        // inside the latency, not on top of it (a unit costs max(latency, compute), not their
        // sum). Same rule as `run`.
        let start = Instant::now();
        let done = self.execute(&w.cfg, &job, s);
        let deadline = (*free_at).max(start) + self.latency_of(&job.desc);
        *free_at = deadline;
        let seq = self.timer_seq.fetch_add(1, Ordering::Relaxed);
        t.schedule(timer::Pending {
            deadline,
            seq,
            wq,
            drain: is_drain,
            done,
        });
        // Do not run far ahead of modelled time: the WQ keeps its occupancy and the timer's
        // backlog stays small. Sleep (no CPU) until at most MAX_AHEAD of work is pending.
        loop {
            let now = Instant::now();
            if *free_at <= now + MAX_AHEAD || self.stop.load(Ordering::Acquire) {
                break;
            }
            std::thread::park_timeout(*free_at - MAX_AHEAD - now);
        }
    }
}

/// How long an idle engine keeps polling before it parks.
const IDLE_POLL: Duration = Duration::from_micros(20);

/// Replay mode: how long the timer polls after its last record before it sleeps.
const TIMER_IDLE_POLL: Duration = Duration::from_micros(200);

/// How far (in modelled time) an engine may run ahead of the clock.
const MAX_AHEAD: Duration = Duration::from_micros(100);

/// Wait until `t`: sleep while far, spin only the last few microseconds.
fn wait_until(t: Instant) {
    loop {
        let now = Instant::now();
        if now >= t {
            return;
        }
        let left = t - now;
        if left > timer::SPIN * 4 {
            std::thread::sleep(left - timer::SPIN * 2);
        } else {
            core::hint::spin_loop();
        }
    }
}

/// The timer thread: commit records at their deadlines (all at once when the device stops).
fn timer_thread(inner: Arc<Inner>) {
    timer::precise_sleeps();
    let Some(t) = &inner.timer else { return };
    // Replay mode: poll for a while after the last record instead of sleeping on the condvar,
    // whose wake-up on a busy host takes longer than the modelled latency.
    let poll_idle = inner.replay.is_some();
    let mut busy_at = Instant::now();
    let mut h = lock(&t.heap);
    loop {
        let stop = inner.stop.load(Ordering::Acquire);
        let now = Instant::now();
        let next = h.peek().map(|p| p.0.deadline);
        match next {
            None if stop => return,
            None if poll_idle && now - busy_at < TIMER_IDLE_POLL => {
                drop(h);
                for _ in 0..64 {
                    core::hint::spin_loop();
                }
                h = lock(&t.heap);
            }
            None => {
                h =
                    t.cv.wait_timeout(h, Duration::from_millis(10))
                        .unwrap_or_else(|e| e.into_inner())
                        .0;
            }
            Some(d) if d <= now || stop => {
                busy_at = now;
                if let Some(std::cmp::Reverse(p)) = h.pop() {
                    drop(h);
                    inner.commit(p.wq, p.drain, &p.done);
                    h = lock(&t.heap);
                }
            }
            Some(d) => {
                let left = d - now;
                if left > timer::SPIN {
                    h =
                        t.cv.wait_timeout(h, left - timer::SPIN)
                            .unwrap_or_else(|e| e.into_inner())
                            .0;
                } else {
                    drop(h);
                    while Instant::now() < d {
                        core::hint::spin_loop();
                    }
                    h = lock(&t.heap);
                }
            }
        }
    }
}

/// One engine: take jobs from the WQs in turn, spin a little when idle, then park.
fn engine(inner: Arc<Inner>, id: usize) {
    let mut scratch = deflate::Scratch::new();
    let mut free_at = Instant::now();
    let n = inner.wqs.len();
    let mut next = id % n;
    let mut idle = 0u32;
    let mut idle_since = Instant::now();
    while !inner.stop.load(Ordering::Acquire) {
        let mut got = false;
        for k in 0..n {
            let wq = (next + k) % n;
            if let Some((job, seq)) = inner.pop(wq) {
                inner.process(wq, job, seq, &mut scratch, &mut free_at);
                next = (wq + 1) % n;
                got = true;
                break;
            }
        }
        if got {
            idle = 0;
            continue;
        }
        // Idle: spin (PAUSE) for up to IDLE_POLL — a submitter's next batch usually comes
        // within that, while a yield or a futex wake-up on a busy host costs far more — then
        // park until a push wakes us.
        idle += 1;
        if idle == 1 {
            idle_since = Instant::now();
        }
        if !idle.is_multiple_of(64) || idle_since.elapsed() < IDLE_POLL {
            core::hint::spin_loop();
            continue;
        }
        inner.parked[id].store(true, Ordering::SeqCst);
        inner.sleepers.fetch_add(1, Ordering::SeqCst);
        std::sync::atomic::fence(Ordering::SeqCst);
        if inner.wqs.iter().all(|w| w.q.is_empty()) && !inner.stop.load(Ordering::Acquire) {
            std::thread::park_timeout(Duration::from_millis(10));
        }
        inner.parked[id].store(false, Ordering::SeqCst);
        inner.sleepers.fetch_sub(1, Ordering::SeqCst);
        idle = 0;
    }
}

/// The portal of one model WQ.
struct ModelPortal {
    inner: Arc<Inner>,
    wq: usize,
}

impl SoftPortal for ModelPortal {
    unsafe fn push(&self, desc: &[u8; 64], mode: WqMode) -> PortalAccept {
        let inner = &*self.inner;
        let w = &inner.wqs[self.wq];
        if inner.cfg.log_sources {
            let d: iaa_descriptors::IaaDescriptor = bytemuck::pod_read_unaligned(desc);
            lock(&inner.sources).push((d.opcode(), d.src1_addr, d.src1_size));
        }
        let refuse = |inner: &Inner| {
            if mode == WqMode::Shared {
                inner.retries.fetch_add(1, Ordering::Relaxed);
            } else {
                // MOVDIR64B is posted: the descriptor is lost and hardware logs SWERR.
                inner.dropped.fetch_add(1, Ordering::Relaxed);
            }
            PortalAccept::Retry
        };
        let dropped_ok = |r: PortalAccept| {
            if mode == WqMode::Dedicated {
                PortalAccept::Accepted
            } else {
                r
            }
        };
        if !w.enabled.load(Ordering::Acquire) || inner.stop.load(Ordering::Acquire) {
            return dropped_ok(refuse(inner));
        }
        let inline = inner.cfg.engines == 0;
        if !inline && mode == WqMode::Shared && w.q.len() >= w.cfg.threshold as usize {
            return refuse(inner);
        }
        let idx = w.arrived.fetch_add(1, Ordering::Relaxed);
        let fault = inner.fault_for(self.wq, idx);
        if fault == Some(FaultKind::DisableWq) {
            w.enabled.store(false, Ordering::Release);
            inner.late_refused.fetch_add(1, Ordering::Relaxed);
            return dropped_ok(refuse(inner));
        }
        let job = Job { desc: *desc, fault };
        if !inline && inner.replay_at_submit(self.wq, &job) {
            return PortalAccept::Accepted;
        }
        if inline {
            if job.fault == Some(FaultKind::Hang) {
                lock(&inner.hung).push((self.wq, job));
            } else {
                with_inline_scratch(|s| inner.run(self.wq, &job, s));
            }
            return PortalAccept::Accepted;
        }
        match w.q.push(job) {
            Ok(()) => {
                inner.wake();
                PortalAccept::Accepted
            }
            Err(_) => {
                inner.late_refused.fetch_add(1, Ordering::Relaxed);
                dropped_ok(refuse(inner))
            }
        }
    }
}
