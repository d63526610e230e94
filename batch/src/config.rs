//! Pool configuration: [`PoolBuilder`] and the choices it takes.

use std::time::Duration;

use crate::error::Error;

/// Most per-CPU contexts a pool has ([`PoolBuilder::contexts`]; the default, one per possible
/// CPU, is capped at this too).
pub const MAX_CONTEXTS: usize = 4096;
/// Largest [`PoolBuilder::hw_batch_size`].
pub const MAX_HW_BATCH_SIZE: usize = 1024;
/// Largest [`PoolBuilder::max_unit_size`] (16 MiB).
pub const MAX_UNIT_SIZE: usize = 16 << 20;
/// Largest [`PoolBuilder::hw_large_budget`] (16 MiB).
pub const MAX_HW_LARGE_BUDGET: usize = 16 << 20;
/// Shortest [`Budgets::completion_timeout`].
pub const MIN_COMPLETION_TIMEOUT: Duration = Duration::from_micros(1);
/// Longest [`Budgets::completion_timeout`].
pub const MAX_COMPLETION_TIMEOUT: Duration = Duration::from_secs(60);
/// Largest [`Budgets::submit_retries`].
pub const MAX_SUBMIT_RETRIES: u32 = 1 << 20;
/// Largest [`PoolBuilder::dsa_batch_size`].
pub const MAX_DSA_BATCH_SIZE: usize = 64;

/// Which execution path a pool uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Path {
    /// Hardware (a real device, or the device model when `IAA_DEVICE=model`) if one is found,
    /// otherwise software. Units the hardware cannot take go to software one by one.
    #[default]
    Auto,
    /// Hardware required: building the pool fails without a device. Failed units still fall
    /// back to software, one by one.
    Hardware,
    /// Software only; no device is looked for.
    Software,
}

/// Compression format of the units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Codec {
    /// Raw deflate with a 4 KiB window: decodable by IAA and by any inflater.
    #[default]
    Deflate,
    /// zstd frames, software only.
    Zstd,
}

impl Codec {
    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Codec::Deflate => "deflate",
            Codec::Zstd => "zstd",
        }
    }
}

/// Compression effort of the software path (the hardware path uses fixed Huffman codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Level {
    /// Fastest.
    #[default]
    Fast,
    /// Better ratio, slower.
    Better,
}

/// Which encoder produces the software path's deflate units. Every choice writes raw deflate
/// whose distances stay within 4 KiB, so IAA and any inflater read the units of all of them;
/// they differ in speed and in the exact bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SoftwareEncoder {
    /// The fastest encoder this build has for the pool's level: ISA-L for [`Level::Fast`]
    /// when built with the `isal` feature (at parity with ours at 4 KiB units, 1.3-1.6x
    /// faster at 16-64 KiB, at a ratio 0.4-1% lower; see `bench/README.md`), otherwise
    /// `iaa-fallback`'s own.
    #[default]
    Auto,
    /// `iaa-fallback`'s own encoder (pure Rust; always available).
    Native,
    /// ISA-L level 1 with a 4 KiB history (`hist_bits = 12`); [`Level::Fast`] only. Needs the
    /// `isal` feature (and the system's libisal): building a pool without it is an error.
    Isal,
}

impl SoftwareEncoder {
    /// Whether this build contains the ISA-L encoder (feature `isal`).
    pub const fn isal_available() -> bool {
        cfg!(feature = "isal")
    }

    /// The encoder `Auto` resolves to for `codec` and `level` in this build.
    pub fn resolve(self, codec: Codec, level: Level) -> SoftwareEncoder {
        match self {
            SoftwareEncoder::Auto
                if Self::isal_available() && codec == Codec::Deflate && level == Level::Fast =>
            {
                SoftwareEncoder::Isal
            }
            SoftwareEncoder::Auto => SoftwareEncoder::Native,
            e => e,
        }
    }

    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            SoftwareEncoder::Auto => "auto",
            SoftwareEncoder::Native => "native",
            SoftwareEncoder::Isal => "isa-l",
        }
    }
}

/// Time budgets and retry budgets of the hardware path. Every wait is bounded: when a budget
/// runs out the unit goes to software and the cause is counted. Ranges (checked by
/// [`PoolBuilder::build`], [`Error::OutOfRange`] otherwise): `completion_timeout` in
/// [`MIN_COMPLETION_TIMEOUT`]`..=`[`MAX_COMPLETION_TIMEOUT`] (1 us to 60 s), `submit_retries` in
/// `0..=`[`MAX_SUBMIT_RETRIES`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budgets {
    /// How long one unit may stay on the device before it is declared timed out (its slot is
    /// then quarantined until the device writes its completion record).
    pub completion_timeout: Duration,
    /// How many times a refused submission (WQ full, no credit) is retried before the unit goes
    /// to software.
    pub submit_retries: u32,
}

impl Default for Budgets {
    fn default() -> Self {
        Budgets {
            completion_timeout: Duration::from_millis(20),
            submit_retries: 64,
        }
    }
}

/// How the hardware path codes each unit's deflate block (every mode writes standard raw
/// deflate that any inflater reads).
///
/// The default, [`HwMode::Auto`], takes the mode with the best ratio per device microsecond
/// among those that hold for any data. On the device model (the whole corpus, 4 / 16 / 64 KiB
/// units, `bench/README.md` `hw_modes`) fixed codes give 1.635 / 1.740 / 1.768, dynamic codes
/// 1.976 / 2.142 / 2.190, and a code trained on each file's first 256 KiB 1.918 / 2.089 /
/// 2.143; device time per unit is one descriptor's for fixed, trained and IAA 2.0's one-pass
/// dynamic mode, two descriptors' for IAA 1.0's two-pass dynamic mode. So: one-pass dynamic
/// where the device generates headers (IAA 2.0), else fixed. Two-pass dynamic gives 1.2x the
/// ratio for 2x the device time, less per microsecond. A trained code is the best per
/// microsecond on data like what it learnt from, and can lose to fixed codes on other data:
/// one code learnt from English text (the corpus' first 256 KiB) gives database pages
/// (`osdb`) 1.090 / 1.230 / 1.266 against fixed codes' 1.242 / 1.344 / 1.372. Choose
/// [`HwMode::Trained`] for a pool whose data is alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HwMode {
    /// Dynamic codes in one pass where the device generates headers (IAA 2.0) and the unit is
    /// at most 4 KiB (the sizes QPL and Linux use header generation for), fixed codes
    /// otherwise (IAA 1.0, Sapphire Rapids). The default.
    #[default]
    Auto,
    /// Fixed Huffman codes (the kernel's `deflate-iaa` fixed mode, byte for byte): one
    /// descriptor per unit, the device's lowest latency, the lowest ratio.
    Fixed,
    /// Dynamic Huffman codes, each unit its own: on a device that generates headers (IAA 2.0)
    /// one descriptor for units of at most 4 KiB; otherwise (and on IAA 1.0, Sapphire
    /// Rapids) two passes per unit: a statistics
    /// pass on the device, a length-limited code built on the CPU from its histogram, then the
    /// compression with that code, which writes a dynamic block header (QPL's two-descriptor
    /// dynamic mode). The passes of the units of a batch overlap in the window. Two-pass costs
    /// a second descriptor and about 4.4 KB more memory per slot.
    Dynamic,
    /// One dynamic code for the whole pool, every symbol coded (so any input compresses with
    /// it); each unit is then one descriptor, as in fixed mode, and carries the code in its
    /// own block header (standard deflate). Nearly the dynamic ratio on data like what the
    /// code was learnt from, for the fixed mode's device time. The code comes from the
    /// device's statistics of [`PoolBuilder::training_sample`], at [`PoolBuilder::build`];
    /// without a sample, from the first [`LEARN_BYTES`] of units the pool compresses, which
    /// run as in [`HwMode::Dynamic`]'s two passes (their statistics summed) until the code
    /// exists, after which each context switches to it at its next call.
    Trained,
}

/// Input bytes of compressed units a [`HwMode::Trained`] pool without a training sample sums
/// the statistics of before it builds its code (256 KiB: what `iaa compress --hw-mode trained`
/// gives as a sample).
pub const LEARN_BYTES: usize = 256 << 10;

/// Bytes a [`HwMode::Trained`] pool learns its code from (shared, not copied per clone).
#[derive(Clone, PartialEq, Eq)]
pub struct TrainingSample(pub(crate) std::sync::Arc<[u8]>);

impl std::fmt::Debug for TrainingSample {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TrainingSample({} bytes)", self.0.len())
    }
}

/// The largest [`PoolBuilder::training_sample`] (16 MiB).
pub const MAX_TRAINING_SAMPLE: usize = 16 << 20;

/// Which work queue(s) of the device a unit is submitted to (hardware path).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WqChoice {
    /// The kernel's socket policy (iaa_crypto): CPUs map to the IAAs of their package;
    /// compress descriptors go round-robin over the WQs of the IAAs of the calling CPU's
    /// package, decompress descriptors to the IAA mapped to the calling CPU; a package without
    /// a usable WQ borrows another's (see `Pool::describe`). A device with two or more WQs
    /// keeps separate compress and decompress WQs (by `op_config`, else by name, else halves).
    /// Without topology (the model, VFIO) every WQ serves every CPU.
    #[default]
    Socket,
    /// Every unit goes to WQ `i`, `0..` the device's WQ count, in the order of
    /// `Pool::work_queues` (a WQ the device does not have makes the device unusable:
    /// [`Error::NoDevice`] with [`Path::Hardware`], software with [`Path::Auto`]).
    Index(usize),
}

/// The device model's shape for [`Device::Model`] (feature `model`).
#[cfg(feature = "model")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelOptions {
    /// Engine threads, 0..=64; 0 executes each descriptor inline in the submitting thread.
    pub engines: usize,
    /// Work queues, 1..=8.
    pub wqs: usize,
    /// Entries per WQ, 1..=128.
    pub wq_size: u32,
    /// Dedicated WQs (MOVDIR64B credits) instead of shared ones (ENQCMD retry).
    pub dedicated: bool,
    /// Fixed latency per descriptor, nanoseconds.
    pub fixed_ns: u64,
    /// Latency per KiB of input, nanoseconds.
    pub ns_per_kib: u64,
    /// Behave as a device that cannot read process memory: inputs are copied first.
    pub require_bounce: bool,
    /// Disagree with the library: every successful decompress record reports one byte fewer
    /// `bytes_completed` than consumed (what [`crate::selftest`] must find and name).
    pub skew_bytes_completed: bool,
    /// Disagree with the library on the DSA side: every DSA CRC-32C comes back with its lowest
    /// bit flipped (what [`crate::selftest`] must find and name).
    pub skew_crc32c: bool,
    /// Model an IAA 2.0 (Granite Rapids) that generates dynamic headers itself (IAACAP
    /// `0x1ff`) instead of an IAA 1.0 (Sapphire Rapids, IAACAP 0).
    pub iaa2: bool,
    /// Replay mode for benchmarks: a repeated job (same descriptor fields and input bytes)
    /// copies its remembered result instead of computing it, so latency measurements see the
    /// driver and the latency model, not the model's own compute. Memory for remembered jobs,
    /// MiB, 0..=65536 (0 = off).
    pub replay_mib: usize,
}

#[cfg(feature = "model")]
impl Default for ModelOptions {
    /// Two engines, one shared WQ of 32 entries, no latency: `IAA_DEVICE=model`'s default.
    fn default() -> Self {
        ModelOptions {
            engines: 2,
            wqs: 1,
            wq_size: 32,
            dedicated: false,
            fixed_ns: 0,
            ns_per_kib: 0,
            require_bounce: false,
            skew_bytes_completed: false,
            skew_crc32c: false,
            iaa2: false,
            replay_mib: 0,
        }
    }
}

/// Which device the hardware path uses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Device {
    /// `IAA_DEVICE` from the environment when set (any [`Device::Named`] value), otherwise
    /// every usable IAA work queue of the kernel (`/dev/iax/wqX.Y` of type user, found through
    /// `/sys/bus/dsa`). With the `model` feature, `IAA_DEVICE=model` is the software device
    /// model shaped by `IAA_MODEL_ENGINES`, `IAA_MODEL_WQ_SIZE`, `IAA_MODEL_WQ_MODE`
    /// (`shared`|`dedicated`), `IAA_MODEL_FIXED_NS`, `IAA_MODEL_NS_PER_KIB`,
    /// `IAA_MODEL_BOUNCE`, `IAA_MODEL_IAA_CAP` (`2` = an IAA 2.0 with header generation),
    /// `IAA_MODEL_REPLAY_MIB` (replay mode) and `IAA_MODEL_QUIRK` (comma-separated:
    /// `bytes_completed`, see `ModelOptions::skew_bytes_completed`; `crc32c`, see
    /// `ModelOptions::skew_crc32c`), and `IAA_DEVICE=vfio-model` the VFIO bring-up
    /// over the register
    /// model with the device model behind it.
    #[default]
    Auto,
    /// By name: `iax1` (that device's kernel WQs), `wq1.0` (one kernel WQ), a PCI address
    /// `0000:6a:02.0` (its kernel WQs), `vfio:0000:6a:02.0` (VFIO user mode), `model` and
    /// `vfio-model` (feature `model`), or a name registered with `iaa_driver::open::register`.
    Named(String),
    /// The kernel's IAA work queues found under other roots than `/sys` and `/dev`
    /// (containers that mount them elsewhere, test trees).
    Kernel {
        /// Where sysfs is mounted.
        sys_root: std::path::PathBuf,
        /// Where the WQ character devices are.
        dev_root: std::path::PathBuf,
    },
    /// A PCI function (`0000:6a:02.0`) bound to vfio-pci, driven in VFIO user mode: dedicated
    /// WQs, every buffer mapped through the IOMMU.
    Vfio(String),
    /// A device model started for this pool (feature `model`).
    #[cfg(feature = "model")]
    Model(ModelOptions),
}

/// Where the DSA operations of a pool ([`crate::Pool::crc32c`], [`crate::Pool::copy`],
/// [`crate::Pool::fill`], [`crate::Pool::compare`], [`crate::Pool::same_filled`]) run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum DsaPath {
    /// The DSA that the pool's [`Device`] implies: the kernel's DSA WQs (`/dev/dsa/wqX.Y`, of
    /// type user) for [`Device::Auto`], [`Device::Kernel`] (under the same roots) and kernel
    /// device names; the DSA model for `IAA_DEVICE=model`, `Device::Named("model")` and
    /// `Device::Model` (shaped like it: engines, WQs, WQ size and mode, latency). Software
    /// when that DSA is not there (counted as `no_device`), for [`Path::Software`] pools and
    /// for [`Device::Vfio`] (the DSA operations work on the caller's memory in place, which
    /// needs the kernel's PASID).
    #[default]
    Auto,
    /// Every DSA operation in software.
    Software,
    /// These DSA WQs: [`Device::Named`] takes `dsaN`, `wqN.M` or `model` (or a name registered
    /// with `iaa_driver::open::register_dsa`), [`Device::Kernel`] the kernel DSA WQs under
    /// those roots, `Device::Model` (feature `model`) a DSA model of that shape.
    Device(Device),
}

/// Builder of a [`crate::Pool`]. Every option has a default; `Pool::builder().build()` gives an
/// `Auto`-path deflate pool.
#[derive(Debug, Clone)]
pub struct PoolBuilder {
    pub(crate) path: Path,
    pub(crate) codec: Codec,
    pub(crate) level: Level,
    pub(crate) encoder: SoftwareEncoder,
    pub(crate) verify: bool,
    pub(crate) budgets: Budgets,
    pub(crate) wq: WqChoice,
    pub(crate) device: Device,
    pub(crate) spread_over_cores: bool,
    pub(crate) hw_batch_size: usize,
    pub(crate) max_unit_size: usize,
    pub(crate) hw_large_budget: usize,
    pub(crate) hybrid: bool,
    pub(crate) hw_mode: HwMode,
    pub(crate) training_sample: Option<TrainingSample>,
    pub(crate) cpus: Option<usize>,
    pub(crate) dsa: DsaPath,
    pub(crate) dsa_batch_size: usize,
}

impl Default for PoolBuilder {
    fn default() -> Self {
        PoolBuilder {
            path: Path::Auto,
            codec: Codec::Deflate,
            level: Level::Fast,
            encoder: SoftwareEncoder::Auto,
            verify: false,
            budgets: Budgets::default(),
            wq: WqChoice::Socket,
            device: Device::Auto,
            spread_over_cores: false,
            hw_batch_size: 8,
            max_unit_size: 65536,
            hw_large_budget: 131072,
            hybrid: true,
            hw_mode: HwMode::Auto,
            training_sample: None,
            cpus: None,
            dsa: DsaPath::Auto,
            dsa_batch_size: 32,
        }
    }
}

impl PoolBuilder {
    /// How the hardware path codes each unit ([`HwMode`], default [`HwMode::Auto`]).
    pub fn hw_mode(mut self, mode: HwMode) -> Self {
        self.hw_mode = mode;
        self
    }
    /// Data like what the pool will compress (1..=[`MAX_TRAINING_SAMPLE`] bytes; a few
    /// 64 KiB pieces spread over it are enough): [`HwMode::Trained`] builds its code from it
    /// at build. Without one, a trained pool learns its code from its first [`LEARN_BYTES`]
    /// of units. Ignored in the other modes.
    pub fn training_sample(mut self, sample: impl Into<Vec<u8>>) -> Self {
        self.training_sample = Some(TrainingSample(sample.into().into()));
        self
    }
    /// Execution path (default [`Path::Auto`]).
    pub fn path(mut self, path: Path) -> Self {
        self.path = path;
        self
    }
    /// Codec (default [`Codec::Deflate`]).
    pub fn codec(mut self, codec: Codec) -> Self {
        self.codec = codec;
        self
    }
    /// Software compression effort (default [`Level::Fast`]).
    pub fn level(mut self, level: Level) -> Self {
        self.level = level;
        self
    }
    /// Software deflate encoder (default [`SoftwareEncoder::Auto`]).
    pub fn software_encoder(mut self, encoder: SoftwareEncoder) -> Self {
        self.encoder = encoder;
        self
    }
    /// Decompress every compressed unit again and compare before reporting it (default off).
    pub fn verify(mut self, on: bool) -> Self {
        self.verify = on;
        self
    }
    /// Timeouts and retry budgets of the hardware path.
    pub fn budgets(mut self, budgets: Budgets) -> Self {
        self.budgets = budgets;
        self
    }
    /// Where the DSA operations run (default: [`DsaPath::Auto`]).
    pub fn dsa(mut self, dsa: DsaPath) -> Self {
        self.dsa = dsa;
        self
    }
    /// DSA descriptors one context submits together, 1..=[`MAX_DSA_BATCH_SIZE`] (default 32):
    /// on a WQ that takes batch descriptors, one batch descriptor (one portal write) per
    /// window of this many units; elsewhere this many single descriptors in flight.
    pub fn dsa_batch_size(mut self, n: usize) -> Self {
        self.dsa_batch_size = n;
        self
    }
    /// Work-queue choice (hardware path).
    pub fn wq(mut self, wq: WqChoice) -> Self {
        self.wq = wq;
        self
    }
    /// Device of the hardware path (default: [`Device::Auto`]).
    pub fn device(mut self, device: Device) -> Self {
        self.device = device;
        self
    }
    /// Spread large software batches over the machine's cores (default off).
    pub fn spread_over_cores(mut self, on: bool) -> Self {
        self.spread_over_cores = on;
        self
    }
    /// Units one hardware submission keeps in flight per context (default 8, the kernel's);
    /// `1..=`[`MAX_HW_BATCH_SIZE`] (1024).
    pub fn hw_batch_size(mut self, n: usize) -> Self {
        self.hw_batch_size = n;
        self
    }
    /// The largest unit (compress input, or decompress output) the hardware path takes, in
    /// bytes, `1..=` [`MAX_UNIT_SIZE`] (16 MiB; default 65536, so 4, 16 and 64 KiB units all run on the device).
    /// Larger units go to software, counted as `TooLarge`. Each context has `hw_batch_size`
    /// slots of `min(max_unit_size, 4096)` bytes and, when `max_unit_size` is larger, as many
    /// slots of `max_unit_size` bytes as [`PoolBuilder::hw_large_budget`] holds (at most
    /// `hw_batch_size`). Software-only pools allocate no such buffers.
    /// It also sizes the native software encoder's state
    /// (`iaa_fallback::Compressor::for_max_unit`: hint table and sequence buffer); larger units
    /// still compress in software, somewhat slower. Verify-after-compress allocates one buffer
    /// of this size per context.
    pub fn max_unit_size(mut self, n: usize) -> Self {
        self.max_unit_size = n;
        self
    }
    /// Bytes per context (per direction: input and output buffers each) for slots larger than
    /// 4 KiB, `0..=` [`MAX_HW_LARGE_BUDGET`] (default 131072: two 64 KiB units, or eight 16 KiB units, in flight per
    /// context). 0, or a budget below `max_unit_size`, sends every unit above 4 KiB to
    /// software.
    pub fn hw_large_budget(mut self, bytes: usize) -> Self {
        self.hw_large_budget = bytes;
        self
    }
    /// Let the calling thread compress pending units in software while the hardware is
    /// saturated (default on).
    pub fn hybrid(mut self, on: bool) -> Self {
        self.hybrid = on;
        self
    }
    /// Override the number of per-CPU contexts, `1..=`[`MAX_CONTEXTS`] (4096) (default: the
    /// possible CPUs of the machine, at most `MAX_CONTEXTS`).
    pub fn contexts(mut self, n: usize) -> Self {
        self.cpus = Some(n);
        self
    }
    /// Check every field against its documented range and the combinations against each
    /// other ([`PoolBuilder::build`] does it first).
    pub(crate) fn check(&self) -> Result<(), Error> {
        let range = |field, value: u64, min: u64, max: u64| {
            if (min..=max).contains(&value) {
                Ok(())
            } else {
                Err(Error::OutOfRange {
                    field,
                    value,
                    min,
                    max,
                })
            }
        };
        range(
            "hw_batch_size",
            self.hw_batch_size as u64,
            1,
            MAX_HW_BATCH_SIZE as u64,
        )?;
        range(
            "max_unit_size",
            self.max_unit_size as u64,
            1,
            MAX_UNIT_SIZE as u64,
        )?;
        if let Some(n) = self.cpus {
            range("contexts", n as u64, 1, MAX_CONTEXTS as u64)?;
        }
        range(
            "dsa_batch_size",
            self.dsa_batch_size as u64,
            1,
            MAX_DSA_BATCH_SIZE as u64,
        )?;
        range(
            "hw_large_budget",
            self.hw_large_budget as u64,
            0,
            MAX_HW_LARGE_BUDGET as u64,
        )?;
        let us = |d: Duration| u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        range(
            "completion_timeout_us",
            us(self.budgets.completion_timeout),
            us(MIN_COMPLETION_TIMEOUT),
            us(MAX_COMPLETION_TIMEOUT),
        )?;
        range(
            "submit_retries",
            self.budgets.submit_retries.into(),
            0,
            MAX_SUBMIT_RETRIES.into(),
        )?;
        if self.encoder == SoftwareEncoder::Isal {
            if !SoftwareEncoder::isal_available() {
                return Err(Error::Config(
                    "software_encoder Isal needs the `isal` feature (built without it)",
                ));
            }
            if self.codec != Codec::Deflate || self.level != Level::Fast {
                return Err(Error::Config(
                    "software_encoder Isal takes only codec Deflate at level Fast",
                ));
            }
        }
        if let (HwMode::Trained, Some(t)) = (self.hw_mode, &self.training_sample) {
            range(
                "training_sample",
                t.0.len() as u64,
                1,
                MAX_TRAINING_SAMPLE as u64,
            )?;
        }
        if self.codec == Codec::Zstd && self.path == Path::Hardware {
            return Err(Error::CodecNotOnHardware(self.codec.name()));
        }
        Ok(())
    }
}
