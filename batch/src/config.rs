//! Pool configuration: [`PoolBuilder`] and the choices it takes.

use std::sync::Arc;
use std::time::Duration;

use iaa_driver::model::{ModelConfig, ModelDevice};
use iaa_driver::vfio::IommuQueues;
use iaa_wq::WorkQueue;

use crate::error::Error;
use crate::pool::Pool;

/// Most per-CPU contexts a pool has ([`PoolBuilder::contexts`]; the default, one per possible
/// CPU, is capped at this too).
pub const MAX_CONTEXTS: usize = 4096;
/// Largest [`PoolBuilder::hw_batch_size`].
pub const MAX_HW_BATCH_SIZE: usize = 1024;
/// Largest [`PoolBuilder::max_unit_size`] (16 MiB).
pub const MAX_UNIT_SIZE: usize = 16 << 20;
/// Shortest [`Budgets::completion_timeout`].
pub const MIN_COMPLETION_TIMEOUT: Duration = Duration::from_micros(1);
/// Longest [`Budgets::completion_timeout`].
pub const MAX_COMPLETION_TIMEOUT: Duration = Duration::from_secs(60);
/// Largest [`Budgets::submit_retries`].
pub const MAX_SUBMIT_RETRIES: u32 = 1 << 20;

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

/// Which work queue(s) of the device the pool's contexts submit to (hardware path).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WqChoice {
    /// Spread the contexts over every WQ of the device (context `c` uses WQ `c % n`).
    #[default]
    Spread,
    /// Every context uses WQ `i`, `0..` the device's WQ count (a WQ the device does not have
    /// makes the device unusable: [`Error::NoDevice`] with [`Path::Hardware`], software with
    /// [`Path::Auto`]).
    Index(usize),
    /// The kernel's split (iaa_crypto `g_comp_wqs_per_iaa`): the last `compress_wqs` WQs take
    /// compress jobs, each call going to the next of them in turn (spreads compression); the
    /// other WQs take decompress jobs, context `c` on the `c % n`-th. A device with fewer than
    /// `compress_wqs + 1` WQs has generic WQs (as [`WqChoice::Spread`]).
    SplitOps {
        /// WQs reserved for compression: any number (a device with at most this many WQs
        /// runs with generic WQs).
        compress_wqs: usize,
    },
}

/// Which device the hardware path uses.
#[derive(Clone, Default)]
pub enum Device {
    /// `IAA_DEVICE=model` selects the software device model shaped by the environment
    /// (`IAA_MODEL_ENGINES`, `IAA_MODEL_WQ_SIZE`, `IAA_MODEL_WQ_MODE`, `IAA_MODEL_FIXED_NS`,
    /// `IAA_MODEL_NS_PER_KIB`); `IAA_DEVICE=vfio:DDDD:BB:DD.F` drives that PCI function (bound
    /// to vfio-pci) in VFIO user mode; `IAA_DEVICE=vfio-model` the same VFIO bring-up over the
    /// register model with the device model behind it; otherwise the kernel's IAA work queues
    /// (`/dev/iax/wqX.Y` of type user, found through `/sys/bus/dsa`) are opened, all of them.
    #[default]
    Auto,
    /// Work queues the caller opened (e.g. with `iaa_driver::kernel::open_with`), with a name
    /// for `describe()`. Keep whatever serves them alive as long as the pool.
    Queues(Arc<[WorkQueue]>, String),
    /// Start a device model with this configuration (owned by the pool).
    Model(ModelConfig),
    /// Use an already started device model (the caller keeps a handle, e.g. to inject faults).
    SharedModel(Arc<ModelDevice>),
    /// A device in VFIO user mode (`iaa_driver::vfio::VfioIdxd::into_queues`, or
    /// `ModelVfio::into_queues` over the models): dedicated WQs, and every buffer of every
    /// context mapped through the device's IOMMU at IOVA = its process address.
    Iommu(Arc<IommuQueues>),
}

impl std::fmt::Debug for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Device::Auto => f.write_str("Auto"),
            Device::Model(c) => f.debug_tuple("Model").field(c).finish(),
            Device::SharedModel(d) => f.debug_tuple("SharedModel").field(d.cfg()).finish(),
            Device::Queues(q, name) => write!(f, "Queues({} WQs, {name})", q.len()),
            Device::Iommu(q) => write!(f, "Iommu({} WQs, {})", q.wqs.len(), q.name),
        }
    }
}

/// Builder of a [`Pool`]. Every option has a default; `Pool::builder().build()` gives an
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
    pub(crate) hybrid: bool,
    pub(crate) cpus: Option<usize>,
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
            wq: WqChoice::Spread,
            device: Device::Auto,
            spread_over_cores: false,
            hw_batch_size: 8,
            max_unit_size: 4096,
            hybrid: true,
            cpus: None,
        }
    }
}

impl PoolBuilder {
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
    /// Capacity of each per-context hardware output buffer, i.e. the largest unit (compress
    /// input or decompress output) the hardware path takes (default 4096), `1..=`
    /// [`MAX_UNIT_SIZE`] (16 MiB). Larger units go to software. Software-only pools allocate no
    /// such buffers (but verify-after-compress allocates one of this size per context).
    pub fn max_unit_size(mut self, n: usize) -> Self {
        self.max_unit_size = n;
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
    /// Build the pool: discover the device (unless `Path::Software`) and allocate every
    /// per-CPU context.
    pub fn build(self) -> Result<Pool, Error> {
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
        if self.codec == Codec::Zstd && self.path == Path::Hardware {
            return Err(Error::CodecNotOnHardware(self.codec.name()));
        }
        Pool::from_builder(self)
    }
}
