//! Opening the device a pool runs on: from what a user chooses ([`Target`]) to a [`Backend`]
//! (the work queues, which CPU submits which operation to which of them, whether the device
//! reads process memory, and what keeps the device up).
//!
//! - [`Target::Auto`]: `IAA_DEVICE` from the environment names the device when set (any
//!   [`Target::Named`] value), otherwise every usable IAA WQ the kernel offers (`/sys/bus/dsa`).
//! - [`Target::Named`]: a name registered with [`register`] (the device model registers `model`
//!   and `vfio-model`), `vfio:DDDD:BB:DD.F` (VFIO user mode), a PCI address `DDDD:BB:DD.F` or a
//!   device name `iax1` (that device's kernel WQs), or a WQ name `wq1.0`.
//! - [`Target::Kernel`]: the kernel's WQs found under other sysfs and `/dev` roots.
//! - [`Target::Vfio`]: a PCI function bound to `vfio-pci`, driven from user space.

use std::any::Any;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use iaa_wq::WorkQueue;

use crate::choice::{ChoicePolicy, Op, WqCandidate, WqChooser};
use crate::kernel::HostWqs;
use crate::sysfs::{Discovery, Inventory, Topology};
use crate::vfio::{IommuMapper, VfioIdxd};

/// Why no backend could be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    /// No usable IAA work queue (the reason in words, for a log line).
    #[error("no IAA work queue: {0}")]
    NoDevice(String),
    /// The name matches nothing this build knows.
    #[error(
        "unknown device {0:?} (expected a registered name such as `model`, `vfio:BDF`, a PCI \
         address, `iaxN` or `wqN.M`)"
    )]
    Unknown(String),
    /// Opening failed.
    #[error("{what}: {message}")]
    Failed {
        /// What was being opened.
        what: String,
        /// The error.
        message: String,
    },
}

/// What the user chose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `IAA_DEVICE` if set, else the kernel's IAA WQs.
    Auto,
    /// By name (see the module documentation).
    Named(String),
    /// The kernel's IAA WQs found under these sysfs and `/dev` roots (containers, test trees).
    Kernel {
        /// Where sysfs is mounted (`/sys`).
        sys_root: PathBuf,
        /// Where the WQ nodes are (`/dev`).
        dev_root: PathBuf,
    },
    /// A PCI function (`0000:6a:02.0`) bound to vfio-pci.
    Vfio(String),
}

/// Dedicated WQs brought up in VFIO mode (capped by the device).
pub const VFIO_WQS: usize = 8;
/// The DMA arena of VFIO mode: the pool maps its own context memory, so it only proves the path.
pub const VFIO_ARENA: usize = 1 << 16;

/// One work queue of a backend and where it sits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WqInfo {
    /// The WQ's name (`wq1.0` on the kernel path, `model/wq0` on the model).
    pub name: String,
    /// The device's socket (package), when known.
    pub socket: Option<u32>,
}

/// What one WQ takes per descriptor (the DSA operations split and batch by it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WqLimits {
    /// Largest transfer of one descriptor, bytes (`max_transfer_size`).
    pub max_transfer: u32,
    /// Largest batch descriptor the pool may submit to it: 0 when it takes none (IAA; a
    /// DSA WQ reached through `write(2)`, where Linux refuses BATCH on devices without safe
    /// user submission).
    pub max_batch: u32,
}

impl WqLimits {
    /// Linux's default `max_transfer_size` (2 MiB) and no batches: what a WQ is assumed to
    /// take when sysfs does not say.
    pub const DEFAULT: WqLimits = WqLimits {
        max_transfer: 2 << 20,
        max_batch: 0,
    };
}

/// What a pool runs on.
pub struct Backend {
    // Field order is drop order: the work queues go before the device that serves them.
    wqs: Arc<[WorkQueue]>,
    info: Vec<WqInfo>,
    limits: Vec<WqLimits>,
    chooser: WqChooser,
    mapper: Option<Arc<dyn IommuMapper>>,
    shares_address_space: bool,
    /// IAACAP of the device(s) (`iaa_descriptors::IaaCap`; the bits every device has), 0 for
    /// an IAA 1.0.
    iaa_cap: u64,
    name: String,
    notes: Vec<String>,
    keep: Vec<Box<dyn Any + Send + Sync>>,
}

impl std::fmt::Debug for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backend")
            .field("name", &self.name)
            .field("wqs", &self.info)
            .field("iommu", &self.mapper.is_some())
            .field("shares_address_space", &self.shares_address_space)
            .finish()
    }
}

impl Backend {
    /// Work queues of one device with no topology: every CPU may use every WQ for either
    /// operation. `info` names them (same length as `wqs`). The device reads process memory
    /// (as with PASID); see [`Backend::with_iommu`] and [`Backend::requires_bounce`].
    pub fn new(wqs: Vec<WorkQueue>, info: Vec<WqInfo>, name: impl Into<String>) -> Self {
        let candidates = info
            .iter()
            .enumerate()
            .map(|(i, w)| WqCandidate {
                device: 0,
                socket: w.socket,
                index: i as u32,
                sysfs_name: w.name.clone(),
                name: w.name.clone(),
                can_compress: true,
                can_decompress: true,
            })
            .collect();
        let topo = Topology::read(std::path::Path::new("/sys"));
        let chooser = WqChooser::new(candidates, &topo, ChoicePolicy::default());
        Backend {
            limits: vec![WqLimits::DEFAULT; wqs.len()],
            wqs: wqs.into(),
            info,
            chooser,
            mapper: None,
            shares_address_space: true,
            iaa_cap: 0,
            name: name.into(),
            notes: Vec::new(),
            keep: Vec::new(),
        }
    }

    /// The kernel's opened WQs: the socket-aware chooser over them (compress round-robin over
    /// the IAAs of the caller's package, decompress to the IAA mapped to the caller's CPU).
    pub fn from_host(host: HostWqs, what: &str) -> Result<Self, OpenError> {
        if let Some(why) = host.why_none() {
            return Err(OpenError::NoDevice(why));
        }
        let chooser = host.chooser(ChoicePolicy::default());
        let notes = borrow_notes(&host.inventory, &chooser, host.kind);
        let info = host
            .wqs
            .iter()
            .map(|k| WqInfo {
                name: k.sysfs_name.clone(),
                socket: k.socket,
            })
            .collect::<Vec<_>>();
        let name = what.to_string();
        let limits = host
            .wqs
            .iter()
            .map(|k| WqLimits {
                max_transfer: k.max_transfer.map_or(WqLimits::DEFAULT.max_transfer, |m| {
                    m.min(u32::MAX as u64) as u32
                }),
                // Batches only through a portal: Linux refuses BATCH through write(2) on
                // every device marked unsafe for user submission (INTEL-SA-01084).
                max_batch: match k.wq.method() {
                    iaa_wq::SubmitMethod::Write => 0,
                    _ => k.max_batch.unwrap_or(0),
                },
            })
            .collect();
        let wqs: Vec<WorkQueue> = host.wqs.into_iter().map(|k| k.wq).collect();
        // The capability bits every IAA of the host has (sysfs `iaa_cap`, IAA 2.0 only).
        let iaa_cap = host
            .inventory
            .devices
            .iter()
            .filter(|d| d.kind == crate::sysfs::DeviceKind::Iaa)
            .map(|d| d.iaa_cap.unwrap_or(0))
            .reduce(|a, b| a & b)
            .unwrap_or(0);
        // The kernel's user WQs run with the process's PASID: the device reads its memory.
        Ok(Backend {
            wqs: wqs.into(),
            info,
            limits,
            chooser,
            mapper: None,
            shares_address_space: true,
            iaa_cap,
            name,
            notes,
            keep: Vec::new(),
        })
    }

    /// Every buffer the device touches must be mapped through `mapper` (VFIO mode): the device
    /// cannot read process memory, so inputs go through bounce buffers.
    pub fn with_iommu(mut self, mapper: Arc<dyn IommuMapper>) -> Self {
        self.mapper = Some(mapper);
        self.shares_address_space = false;
        self
    }

    /// The device cannot read the caller's memory (a model configured to require bounce
    /// buffers, or VFIO without SVA): inputs are copied into pool memory first.
    pub fn requires_bounce(mut self) -> Self {
        self.shares_address_space = false;
        self
    }

    /// The device's IAACAP (`iaa_descriptors::IaaCap` bits; 0 = IAA 1.0).
    pub fn with_iaa_cap(mut self, cap: u64) -> Self {
        self.iaa_cap = cap;
        self
    }

    /// Set what each WQ takes per descriptor ([`WqLimits`], in [`Backend::wqs`] order; a
    /// shorter list leaves the rest at [`WqLimits::DEFAULT`]).
    pub fn with_limits(mut self, limits: &[WqLimits]) -> Self {
        for (d, l) in self.limits.iter_mut().zip(limits) {
            *d = *l;
        }
        self
    }

    /// What WQ `i` takes per descriptor.
    pub fn limits(&self, i: usize) -> WqLimits {
        self.limits.get(i).copied().unwrap_or(WqLimits::DEFAULT)
    }

    /// The device's IAACAP: the bits every device of the backend has (0 = IAA 1.0, no header
    /// generation).
    pub fn iaa_cap(&self) -> u64 {
        self.iaa_cap
    }

    /// Keep `obj` (the device object) alive as long as the backend; it drops after the WQs.
    pub fn keep(mut self, obj: impl Any + Send + Sync) -> Self {
        self.keep.push(Box::new(obj));
        self
    }

    /// Replace the WQ chooser (a caller that knows the topology better).
    pub fn with_chooser(mut self, chooser: WqChooser) -> Self {
        self.chooser = chooser;
        self
    }

    /// The work queues.
    pub fn wqs(&self) -> &Arc<[WorkQueue]> {
        &self.wqs
    }

    /// Name and socket of each WQ, in [`Backend::wqs`] order.
    pub fn info(&self) -> &[WqInfo] {
        &self.info
    }

    /// Which CPU submits which operation to which WQ (indices into [`Backend::wqs`]).
    pub fn chooser(&self) -> &WqChooser {
        &self.chooser
    }

    /// The WQ for unit `seq` of `op` submitted from `cpu` (no allocation, no lock).
    pub fn pick(&self, cpu: usize, op: Op, seq: usize) -> usize {
        self.chooser
            .pick(cpu, op, seq)
            .filter(|&i| i < self.wqs.len())
            .unwrap_or(seq % self.wqs.len().max(1))
    }

    /// VFIO mode: the IOMMU every context maps its device memory through.
    pub fn mapper(&self) -> Option<&Arc<dyn IommuMapper>> {
        self.mapper.as_ref()
    }

    /// Whether the device reads process memory directly (the kernel's user WQs with PASID, the
    /// model), so descriptors may name the caller's input without a copy: no IOMMU mapping is
    /// required, no bounce was asked for, and every WQ says its device reads process memory.
    pub fn shares_address_space(&self) -> bool {
        self.shares_address_space
            && self.mapper.is_none()
            && self.wqs.iter().all(|w| w.reads_process_memory())
    }

    /// What the device is, for messages.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Things an administrator should know (a socket borrowing another socket's IAA).
    pub fn notes(&self) -> &[String] {
        &self.notes
    }
}

/// Lines for the sockets that have CPUs but no IAA of their own for an operation.
fn borrow_notes(
    inv: &Inventory,
    chooser: &WqChooser,
    kind: crate::sysfs::DeviceKind,
) -> Vec<String> {
    let what = match kind {
        crate::sysfs::DeviceKind::Iaa => "IAA",
        crate::sysfs::DeviceKind::Dsa => "DSA",
    };
    let mut notes = Vec::new();
    let local: Vec<Option<u32>> = chooser.candidates().iter().map(|c| c.socket).collect();
    if local.iter().any(|s| s.is_none()) {
        return notes;
    }
    for pkg in inv.topology.packages() {
        if !local.contains(&Some(pkg)) {
            notes.push(format!(
                "socket {pkg} has no usable {what} WQ: its CPUs borrow the nearest other socket's"
            ));
        }
    }
    notes
}

/// Opens a backend; the device model's providers implement it, and so may a test.
pub trait Provider: Send + Sync {
    /// Open (or start) the device.
    fn open(&self) -> Result<Backend, OpenError>;
}

impl<F: Fn() -> Result<Backend, OpenError> + Send + Sync> Provider for F {
    fn open(&self) -> Result<Backend, OpenError> {
        self()
    }
}

type Registry = RwLock<HashMap<String, Arc<dyn Provider>>>;

fn registry() -> &'static Registry {
    static REGISTRY: std::sync::OnceLock<Registry> = std::sync::OnceLock::new();
    REGISTRY.get_or_init(|| RwLock::new(HashMap::new()))
}

/// Make `name` (compared without case) open through `provider`, for [`Target::Named`] and
/// `IAA_DEVICE`. A later registration of the same name replaces the earlier one.
pub fn register(name: &str, provider: Arc<dyn Provider>) {
    let mut map = match registry().write() {
        Ok(m) => m,
        Err(poisoned) => poisoned.into_inner(),
    };
    map.insert(name.to_ascii_lowercase(), provider);
}

/// Make `name` (compared without case) open a DSA backend through `provider`, for
/// [`open_dsa`] (the device model registers `model`).
pub fn register_dsa(name: &str, provider: Arc<dyn Provider>) {
    register(&format!("{DSA_KEY}{name}"), provider);
}

/// Registry keys of DSA providers start with this (no device name contains a NUL).
const DSA_KEY: &str = "\0dsa:";

fn registered(name: &str) -> Option<Arc<dyn Provider>> {
    let map = match registry().read() {
        Ok(m) => m,
        Err(poisoned) => poisoned.into_inner(),
    };
    map.get(&name.to_ascii_lowercase()).cloned()
}

/// Open what `target` names.
pub fn open(target: &Target) -> Result<Backend, OpenError> {
    match target {
        Target::Auto => match std::env::var("IAA_DEVICE") {
            Ok(v) if !v.trim().is_empty() && !v.trim().eq_ignore_ascii_case("auto") => {
                open_named(v.trim()).map(|b| {
                    let name = format!("{} (IAA_DEVICE={})", b.name, v.trim());
                    Backend { name, ..b }
                })
            }
            _ => kernel(
                crate::sysfs::DeviceKind::Iaa,
                Discovery::new(),
                |_| true,
                false,
                "kernel WQs",
            ),
        },
        Target::Named(n) => open_named(n.trim()),
        Target::Kernel { sys_root, dev_root } => kernel(
            crate::sysfs::DeviceKind::Iaa,
            Discovery::with_roots(sys_root.clone(), dev_root.clone()),
            |_| true,
            false,
            "kernel WQs",
        ),
        Target::Vfio(bdf) => vfio(bdf),
    }
}

/// Open the DSA work queues `target` names, for the DSA operations (CRC-32C, copy, fill,
/// compare, same-filled pages):
/// - [`Target::Auto`]: with `IAA_DEVICE` set, the DSA that name implies (`model`: the DSA
///   model; a kernel device name or PCI address: the host's kernel DSA WQs), otherwise every
///   usable kernel DSA WQ (`/dev/dsa/wqX.Y`, of type user, found through `/sys/bus/dsa`).
/// - [`Target::Named`]: a name registered with [`register_dsa`] (`model`), `dsaN` (that DSA's
///   kernel WQs), `wqN.M` (that kernel DSA WQ), or an IAA name (`iaxN`, a PCI address), which
///   selects the host's kernel DSA WQs.
/// - [`Target::Kernel`]: the kernel DSA WQs under those roots.
/// - [`Target::Vfio`]: not for DSA: the DSA operations read and write the caller's memory in
///   place, which needs the kernel's PASID (shared virtual addressing).
pub fn open_dsa(target: &Target) -> Result<Backend, OpenError> {
    let all = |_: (&crate::sysfs::Device, &crate::sysfs::WorkQueue)| true;
    match target {
        Target::Auto => match std::env::var("IAA_DEVICE") {
            Ok(v) if !v.trim().is_empty() && !v.trim().eq_ignore_ascii_case("auto") => {
                open_dsa_named(v.trim())
            }
            _ => kernel(
                crate::sysfs::DeviceKind::Dsa,
                Discovery::new(),
                all,
                false,
                "kernel DSA WQs",
            ),
        },
        Target::Named(n) => open_dsa_named(n.trim()),
        Target::Kernel { sys_root, dev_root } => kernel(
            crate::sysfs::DeviceKind::Dsa,
            Discovery::with_roots(sys_root.clone(), dev_root.clone()),
            all,
            false,
            "kernel DSA WQs",
        ),
        Target::Vfio(bdf) => Err(OpenError::NoDevice(format!(
            "VFIO {bdf}: the DSA operations need the kernel's DSA WQs (PASID), not VFIO"
        ))),
    }
}

fn open_dsa_named(n: &str) -> Result<Backend, OpenError> {
    if let Some(p) = registered(&format!("{DSA_KEY}{n}")) {
        return p.open();
    }
    let lower = n.to_ascii_lowercase();
    if lower.starts_with("vfio") {
        return Err(OpenError::NoDevice(format!(
            "{n}: the DSA operations need the kernel's DSA WQs (PASID), not VFIO"
        )));
    }
    if lower == "model" {
        return Err(OpenError::Failed {
            what: n.into(),
            message: "the device model is not built in (the `iaa` crate's feature `model`)".into(),
        });
    }
    if n.starts_with("dsa") && n.len() > 3 && n[3..].bytes().all(|c| c.is_ascii_digit()) {
        let dev = n.to_string();
        return kernel(
            crate::sysfs::DeviceKind::Dsa,
            Discovery::new(),
            move |(d, _)| d.name == dev,
            true,
            n,
        );
    }
    if n.starts_with("wq") && n.contains('.') {
        let wq = n.to_string();
        let keep =
            move |(_, w): (&crate::sysfs::Device, &crate::sysfs::WorkQueue)| w.sysfs_name == wq;
        return kernel(
            crate::sysfs::DeviceKind::Dsa,
            Discovery::new(),
            keep,
            true,
            n,
        );
    }
    if is_pci_address(n) || n.starts_with("iax") {
        // An IAA chosen for compression: the DSA operations use the host's DSA WQs.
        return kernel(
            crate::sysfs::DeviceKind::Dsa,
            Discovery::new(),
            |_| true,
            false,
            "kernel DSA WQs",
        );
    }
    Err(OpenError::Unknown(n.into()))
}

fn open_named(n: &str) -> Result<Backend, OpenError> {
    if let Some(p) = registered(n) {
        return p.open();
    }
    if let Some(bdf) = n.strip_prefix("vfio:") {
        return vfio(bdf);
    }
    let lower = n.to_ascii_lowercase();
    if lower == "model" || lower == "vfio-model" {
        return Err(OpenError::Failed {
            what: n.into(),
            message: "the device model is not built in (the `iaa` crate's feature `model`)".into(),
        });
    }
    if is_pci_address(n) {
        let bdf = n.to_string();
        return kernel(
            crate::sysfs::DeviceKind::Iaa,
            Discovery::new(),
            move |(d, _)| d.pci_address.as_deref() == Some(bdf.as_str()),
            true,
            n,
        );
    }
    if n.starts_with("iax") && n[3..].bytes().all(|c| c.is_ascii_digit()) && n.len() > 3 {
        let dev = n.to_string();
        return kernel(
            crate::sysfs::DeviceKind::Iaa,
            Discovery::new(),
            move |(d, _)| d.name == dev,
            true,
            n,
        );
    }
    if n.starts_with("wq") && n.contains('.') {
        let wq = n.to_string();
        return kernel(
            crate::sysfs::DeviceKind::Iaa,
            Discovery::new(),
            move |(_, w)| w.sysfs_name == wq,
            true,
            n,
        );
    }
    Err(OpenError::Unknown(n.into()))
}

/// `DDDD:BB:DD.F`.
fn is_pci_address(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 12
        && b[4] == b':'
        && b[7] == b':'
        && b[10] == b'.'
        && b.iter()
            .enumerate()
            .all(|(i, c)| matches!(i, 4 | 7 | 10) || c.is_ascii_hexdigit())
}

/// Open the usable WQs of `kind` that `keep` accepts; `filtered` says `keep` selects by name, so
/// an empty result is reported as that name matching nothing.
fn kernel(
    kind: crate::sysfs::DeviceKind,
    discovery: Discovery,
    keep: impl Fn((&crate::sysfs::Device, &crate::sysfs::WorkQueue)) -> bool,
    filtered: bool,
    what: &str,
) -> Result<Backend, OpenError> {
    let host = crate::kernel::open_kind(&discovery, &crate::sysfs::RealOpener, kind, &keep);
    if host.wqs.is_empty() && host.failed.is_empty() && filtered {
        // The filter matched nothing: say which name, and what the host has.
        let (k, have) = match kind {
            crate::sysfs::DeviceKind::Iaa => ("IAA", host.inventory.availability().to_string()),
            crate::sysfs::DeviceKind::Dsa => ("DSA", host.why_none().unwrap_or_default()),
        };
        return Err(OpenError::NoDevice(format!(
            "{what}: no usable {k} WQ of that name ({have})"
        )));
    }
    Backend::from_host(host, what)
}

fn vfio(bdf: &str) -> Result<Backend, OpenError> {
    let fail = |e: crate::vfio::VfioError| OpenError::Failed {
        what: format!("VFIO {bdf}"),
        message: e.to_string(),
    };
    VfioIdxd::open(std::path::Path::new("/sys"), bdf, VFIO_WQS, VFIO_ARENA)
        .and_then(|dev| dev.into_backend(format!("VFIO {bdf}")))
        .map_err(fail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pci_addresses() {
        assert!(is_pci_address("0000:6a:02.0"));
        assert!(!is_pci_address("0000:6a:02"));
        assert!(!is_pci_address("iax1"));
        assert!(!is_pci_address("0000:6g:02.0"));
    }

    #[test]
    fn unknown_names_are_an_error() {
        assert!(matches!(
            open(&Target::Named("no-such-thing".into())),
            Err(OpenError::Unknown(_))
        ));
        assert!(matches!(
            open(&Target::Named("model".into())),
            Err(OpenError::Failed { .. })
        ));
    }

    #[test]
    fn registered_names_open_through_their_provider() {
        register(
            "Unit-Test-Device",
            Arc::new(|| Err(OpenError::NoDevice("from the provider".into()))),
        );
        assert_eq!(
            open(&Target::Named("unit-test-device".into())).unwrap_err(),
            OpenError::NoDevice("from the provider".into())
        );
    }
}
