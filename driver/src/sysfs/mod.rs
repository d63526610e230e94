//! Kernel-path discovery: IAA/DSA devices and work queues from `/sys/bus/dsa/devices`, their
//! character devices under `/dev/iax` and `/dev/dsa`, and the CPU -> socket topology.
//!
//! Everything is read directly from sysfs (no libaccel-config). The roots are configurable
//! ([`Discovery::with_roots`]) so tests run against fixture trees. The text formats are those
//! the kernel's idxd driver prints (`drivers/dma/idxd/sysfs.c`, see [`parse`]).
//!
//! Each WQ gets a [`WqStatus`]: usable (with how descriptors are submitted) or unusable with an
//! [`UnusableReason`] whose `Display` tells the administrator what to do. Usability is decided in
//! two steps: what sysfs says (device and WQ state, type, driver, name, PASID, op_config, max
//! transfer size, node present), then an actual `open` + `mmap` through a [`CdevOpener`], which
//! finds permission problems, busy dedicated WQs and the `mmap` refusal that sends submission to
//! `write(2)`.
//!
//! Probing a dedicated WQ opens and closes it; while it is open the kernel binds it to this
//! process (another opener gets `EBUSY`).

pub mod cmdstatus;
pub mod method;
pub mod open;
pub mod parse;
pub mod status;
pub mod topology;

pub use cmdstatus::decode_cmd_status;
pub use method::{submit_method, CpuSubmit, SubmitMethod};
pub use open::{
    noop_descriptor, probe_write_noop, CdevOpener, FakeOpener, FakeOutcome, OpenError, OpenedWq,
    PortalMapping, ProbeError, RealOpener, SubmissionKind, WRITE_PROBE_BUDGET,
};
pub use parse::OpBitmap;
pub use status::{UnusableReason, WqMode, WqStatus};
pub use topology::Topology;

use parse::{
    parse_bool01, parse_cpulist, parse_dec_i32, parse_dec_u32, parse_dec_u64, parse_hex_u64,
};
use serde::Serialize;
use std::fmt;
use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

/// IAA opcode: decompress (spec §2.2).
pub const OPCODE_DECOMPRESS: u8 = 0x42;
/// IAA opcode: compress (spec §2.2).
pub const OPCODE_COMPRESS: u8 = 0x43;

/// Default minimum WQ `max_transfer_size` this library requires (64 KiB: the largest unit size
/// the batch API is meant for; configurable with [`Discovery::min_transfer_size`]).
pub const DEFAULT_MIN_TRANSFER_SIZE: u64 = 64 * 1024;

/// A problem with one sysfs attribute.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AttrError {
    /// A required attribute file does not exist.
    #[error("{path}: missing")]
    Missing {
        /// The file.
        path: String,
    },
    /// A required attribute could not be read.
    #[error("{path}: unreadable ({message})")]
    Unreadable {
        /// The file.
        path: String,
        /// The I/O error.
        message: String,
    },
    /// The content is not in the kernel's format.
    #[error("{path}: expected {expected}, found {found:?}")]
    Malformed {
        /// The file.
        path: String,
        /// What the kernel prints there.
        expected: &'static str,
        /// What was found (truncated to 64 characters).
        found: String,
    },
}

/// IAA or DSA.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceKind {
    /// In-Memory Analytics Accelerator (`iaxN`, nodes under `/dev/iax`).
    Iaa,
    /// Data Streaming Accelerator (`dsaN`, nodes under `/dev/dsa`).
    Dsa,
}

impl DeviceKind {
    /// The sysfs / `/dev` prefix: `iax` or `dsa`.
    pub fn prefix(self) -> &'static str {
        match self {
            DeviceKind::Iaa => "iax",
            DeviceKind::Dsa => "dsa",
        }
    }
}

/// Device `state` as printed by the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceState {
    /// `disabled`
    Disabled,
    /// `enabled`
    Enabled,
    /// `halted`
    Halted,
    /// `unknown`
    Unknown,
}

impl DeviceState {
    fn parse(t: &str) -> Result<Self, &'static str> {
        match t.trim() {
            "disabled" => Ok(DeviceState::Disabled),
            "enabled" => Ok(DeviceState::Enabled),
            "halted" => Ok(DeviceState::Halted),
            "unknown" => Ok(DeviceState::Unknown),
            _ => Err("one of disabled, enabled, halted, unknown"),
        }
    }

    fn word(self) -> &'static str {
        match self {
            DeviceState::Disabled => "disabled",
            DeviceState::Enabled => "enabled",
            DeviceState::Halted => "halted",
            DeviceState::Unknown => "in an unknown state",
        }
    }
}

/// WQ `state` as printed by the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WqState {
    /// `disabled`
    Disabled,
    /// `enabled`
    Enabled,
    /// `unknown`
    Unknown,
}

impl WqState {
    fn parse(t: &str) -> Result<Self, &'static str> {
        match t.trim() {
            "disabled" => Ok(WqState::Disabled),
            "enabled" => Ok(WqState::Enabled),
            "unknown" => Ok(WqState::Unknown),
            _ => Err("one of disabled, enabled, unknown"),
        }
    }
}

/// WQ `type` as printed by the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WqType {
    /// `none`: not configured.
    None,
    /// `kernel`: used by an in-kernel client.
    Kernel,
    /// `user`: exposed as a character device.
    User,
}

impl WqType {
    fn parse(t: &str) -> Result<Self, &'static str> {
        match t.trim() {
            "none" => Ok(WqType::None),
            "kernel" => Ok(WqType::Kernel),
            "user" => Ok(WqType::User),
            _ => Err("one of none, kernel, user"),
        }
    }
}

fn parse_mode(t: &str) -> Result<WqMode, &'static str> {
    match t.trim() {
        "dedicated" => Ok(WqMode::Dedicated),
        "shared" => Ok(WqMode::Shared),
        _ => Err("dedicated or shared"),
    }
}

fn parse_text(t: &str) -> Result<String, &'static str> {
    Ok(t.trim().to_string())
}

/// One work queue (`wqX.Y`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WorkQueue {
    /// sysfs name, e.g. `wq1.0`.
    pub sysfs_name: String,
    /// Device id X of `wqX.Y`.
    pub device_id: u32,
    /// WQ index Y of `wqX.Y`.
    pub index: u32,
    /// `mode`.
    pub mode: Option<WqMode>,
    /// `type`.
    pub wq_type: Option<WqType>,
    /// `state`.
    pub state: Option<WqState>,
    /// `size` (entries).
    pub size: Option<u32>,
    /// `threshold`.
    pub threshold: Option<u32>,
    /// `priority`.
    pub priority: Option<u32>,
    /// `max_transfer_size` in bytes.
    pub max_transfer_size: Option<u64>,
    /// `max_batch_size` (DSA WQs; absent on IAA, which has no batch descriptor).
    pub max_batch_size: Option<u32>,
    /// `block_on_fault`.
    pub block_on_fault: Option<bool>,
    /// `name` (empty string when unset).
    pub name: Option<String>,
    /// `driver_name` (Linux 6.7+; empty when unset).
    pub driver_name: Option<String>,
    /// `op_config` (devices with WQ op config, IAA/DSA 2.0).
    pub op_config: Option<OpBitmap>,
    /// `cdev_minor` (unreadable when the WQ has no char device).
    pub cdev_minor: Option<u32>,
    /// `group_id` (-1 when in no group).
    pub group_id: Option<i32>,
    /// The character device node: the expected `/dev/<iax|dsa>/wqX.Y`, or
    /// `/dev/char/<major>:<minor>` when only that exists.
    pub node: PathBuf,
    /// Attribute problems found while reading.
    pub problems: Vec<AttrError>,
    /// The verdict.
    pub status: WqStatus,
}

impl WorkQueue {
    /// Whether the WQ may run `opcode`: its `op_config` when present, else the device `op_cap`,
    /// else (neither readable) assumed yes.
    pub fn allows(&self, device: &Device, opcode: u8) -> bool {
        match (&self.op_config, &device.op_cap) {
            (Some(cfg), _) => cfg.contains(opcode),
            (None, Some(cap)) => cap.contains(opcode),
            (None, None) => true,
        }
    }
}

/// One IAA or DSA device (`iaxN` / `dsaN`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Device {
    /// sysfs name, e.g. `iax1`.
    pub name: String,
    /// IAA or DSA.
    pub kind: DeviceKind,
    /// N of `iaxN`.
    pub id: u32,
    /// The sysfs directory read.
    pub sysfs_path: PathBuf,
    /// PCI address of the function (`0000:6a:02.0`) if the sysfs link resolves to one.
    pub pci_address: Option<String>,
    /// PCI device id (`0x0cfe` on SPR IAA) if readable.
    pub pci_device_id: Option<u16>,
    /// `version` (0x100 = 1.0, 0x200 = 2.0).
    pub version: Option<u32>,
    /// `state`.
    pub state: Option<DeviceState>,
    /// `numa_node` (None when -1).
    pub numa_node: Option<u32>,
    /// Package (socket) the device is attached to, from the PCI function's `local_cpulist` or
    /// from `numa_node`.
    pub socket: Option<u32>,
    /// `gen_cap` raw value.
    pub gen_cap: Option<u64>,
    /// `iaa_cap` raw value: the IAACAP register (BAR0 0x180) of an IAA 2.0 device, which the
    /// kernel prints as `%#llx` (`iaa_descriptors::IaaCap` names its bits; bit 8 = header
    /// generation). `None` on IAA 1.0, where reading it fails with EOPNOTSUPP, and on DSA.
    pub iaa_cap: Option<u64>,
    /// `op_cap`.
    pub op_cap: Option<OpBitmap>,
    /// `max_transfer_size` in bytes.
    pub max_transfer_size: Option<u64>,
    /// `pasid_enabled`.
    pub pasid_enabled: Option<bool>,
    /// `max_groups`.
    pub max_groups: Option<u32>,
    /// `max_work_queues`.
    pub max_work_queues: Option<u32>,
    /// `max_work_queues_size` (total WQ entries).
    pub max_work_queues_size: Option<u32>,
    /// `max_engines`.
    pub max_engines: Option<u32>,
    /// `cdev_major`.
    pub cdev_major: Option<u32>,
    /// `configurable`.
    pub configurable: Option<bool>,
    /// `cmd_status`: status of the last command the driver issued (0 = none failed).
    pub cmd_status: Option<u32>,
    /// Attribute problems found while reading.
    pub problems: Vec<AttrError>,
    /// Its WQs, by index.
    pub work_queues: Vec<WorkQueue>,
}

/// Whether the idxd bus is there at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BusState {
    /// `/sys/bus/dsa` does not exist: the idxd driver is not loaded.
    DriverNotLoaded,
    /// `/sys/bus/dsa/devices` exists but holds no `iax`/`dsa` device.
    NoDevices,
    /// Devices were found.
    Present,
}

/// The summary answer to "can this library use IAA here?".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "availability", rename_all = "snake_case")]
pub enum Availability {
    /// `/sys/bus/dsa` absent.
    DriverNotLoaded,
    /// No device on the bus.
    NoDevices,
    /// Only DSA devices.
    NoIaaDevice {
        /// DSA devices found.
        dsa_devices: usize,
    },
    /// IAA devices but no WQ of type `user`.
    NoUserWq {
        /// IAA devices found.
        iaa_devices: usize,
    },
    /// User WQs exist but none is usable (see each WQ's reason).
    NoneUsable {
        /// IAA user WQs found.
        user_wqs: usize,
    },
    /// Usable IAA WQs.
    Usable {
        /// How many.
        wqs: usize,
    },
}

impl fmt::Display for Availability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Availability::DriverNotLoaded => write!(
                f,
                "idxd driver not loaded (/sys/bus/dsa is absent): load it with `modprobe idxd` \
                 (kernel config CONFIG_INTEL_IDXD); compression runs in software"
            ),
            Availability::NoDevices => write!(
                f,
                "no IAA/DSA devices: the idxd driver is loaded but found no device (check the BIOS \
                 enables IAA, and `lspci -d 8086:0cfe`); compression runs in software"
            ),
            Availability::NoIaaDevice { dsa_devices } => write!(
                f,
                "no IAA device ({dsa_devices} DSA device(s) only); compression runs in software"
            ),
            Availability::NoUserWq { iaa_devices } => write!(
                f,
                "{iaa_devices} IAA device(s) but no user work queue: configure one with accel-config \
                 (--type=user --driver-name=user, see docs/SETUP.md); compression runs in software"
            ),
            Availability::NoneUsable { user_wqs } => write!(
                f,
                "{user_wqs} IAA user work queue(s), none usable (see the reason of each); \
                 compression runs in software"
            ),
            Availability::Usable { wqs } => write!(f, "{wqs} usable IAA work queue(s)"),
        }
    }
}

/// Result of a discovery scan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Inventory {
    /// Whether the bus and devices exist.
    pub bus: BusState,
    /// Devices by id.
    pub devices: Vec<Device>,
    /// CPU -> socket map.
    pub topology: Topology,
    /// Problems not tied to one device (e.g. an unreadable bus directory).
    pub problems: Vec<AttrError>,
    /// The summary verdict (same as [`Inventory::availability`]), for JSON output.
    pub availability: Availability,
}

impl Inventory {
    /// All usable WQs of IAA devices.
    pub fn usable_iaa_wqs(&self) -> impl Iterator<Item = (&Device, &WorkQueue)> {
        self.usable_wqs(DeviceKind::Iaa)
    }

    /// The usable WQs of the devices of `kind` (IAA for compression, DSA for the DSA
    /// operations).
    pub fn usable_wqs(&self, kind: DeviceKind) -> impl Iterator<Item = (&Device, &WorkQueue)> {
        self.devices
            .iter()
            .filter(move |d| d.kind == kind)
            .flat_map(|d| d.work_queues.iter().map(move |w| (d, w)))
            .filter(|(_, w)| w.status.is_usable())
    }

    /// All WQs with their device.
    pub fn all_wqs(&self) -> impl Iterator<Item = (&Device, &WorkQueue)> {
        self.devices
            .iter()
            .flat_map(|d| d.work_queues.iter().map(move |w| (d, w)))
    }

    /// Look up a WQ by its sysfs name (`wq1.0`).
    pub fn wq(&self, sysfs_name: &str) -> Option<(&Device, &WorkQueue)> {
        self.all_wqs().find(|(_, w)| w.sysfs_name == sysfs_name)
    }

    /// The summary verdict for compression on IAA.
    pub fn availability(&self) -> Availability {
        compute_availability(self.bus, &self.devices)
    }
}

fn compute_availability(bus: BusState, devices: &[Device]) -> Availability {
    match bus {
        BusState::DriverNotLoaded => return Availability::DriverNotLoaded,
        BusState::NoDevices => return Availability::NoDevices,
        BusState::Present => {}
    }
    let iaa: Vec<&Device> = devices
        .iter()
        .filter(|d| d.kind == DeviceKind::Iaa)
        .collect();
    if iaa.is_empty() {
        return Availability::NoIaaDevice {
            dsa_devices: devices.len(),
        };
    }
    let user_wqs = iaa
        .iter()
        .flat_map(|d| d.work_queues.iter())
        .filter(|w| w.wq_type == Some(WqType::User))
        .count();
    let usable = iaa
        .iter()
        .flat_map(|d| d.work_queues.iter())
        .filter(|w| w.status.is_usable())
        .count();
    if usable > 0 {
        Availability::Usable { wqs: usable }
    } else if user_wqs == 0 {
        Availability::NoUserWq {
            iaa_devices: iaa.len(),
        }
    } else {
        Availability::NoneUsable { user_wqs }
    }
}

/// Reads sysfs and probes the WQ nodes.
#[derive(Debug, Clone)]
pub struct Discovery {
    sys_root: PathBuf,
    dev_root: PathBuf,
    min_transfer_size: u64,
}

impl Default for Discovery {
    fn default() -> Self {
        Self::new()
    }
}

impl Discovery {
    /// Discovery on the live system: `/sys` and `/dev`.
    pub fn new() -> Self {
        Self::with_roots("/sys", "/dev")
    }

    /// Discovery under other roots: `sys_root` stands for `/sys` (holding `bus/dsa/devices` and
    /// `devices/system/cpu`), `dev_root` for `/dev` (holding `iax/` and `dsa/`).
    pub fn with_roots(sys_root: impl Into<PathBuf>, dev_root: impl Into<PathBuf>) -> Self {
        Discovery {
            sys_root: sys_root.into(),
            dev_root: dev_root.into(),
            min_transfer_size: DEFAULT_MIN_TRANSFER_SIZE,
        }
    }

    /// Require WQs to accept transfers of at least `bytes` (default
    /// [`DEFAULT_MIN_TRANSFER_SIZE`]).
    pub fn min_transfer_size(mut self, bytes: u64) -> Self {
        self.min_transfer_size = bytes;
        self
    }

    /// Scan and probe with the real opener (opens and maps each candidate WQ node once).
    pub fn scan(&self) -> Inventory {
        self.scan_with(&RealOpener)
    }

    /// Scan, probing WQ nodes through `opener`.
    pub fn scan_with(&self, opener: &dyn CdevOpener) -> Inventory {
        let topology = Topology::read(&self.sys_root);
        let bus_dir = self.sys_root.join("bus/dsa");
        let mut problems = Vec::new();
        if !bus_dir.is_dir() {
            return self.finish(BusState::DriverNotLoaded, Vec::new(), topology, problems);
        }
        let devices_dir = bus_dir.join("devices");
        let entries = match fs::read_dir(&devices_dir) {
            Ok(e) => e,
            Err(e) if e.kind() == ErrorKind::NotFound => {
                return self.finish(BusState::NoDevices, Vec::new(), topology, problems)
            }
            Err(e) => {
                problems.push(AttrError::Unreadable {
                    path: devices_dir.display().to_string(),
                    message: e.to_string(),
                });
                return self.finish(BusState::NoDevices, Vec::new(), topology, problems);
            }
        };
        let mut dev_entries: Vec<(DeviceKind, u32, PathBuf)> = Vec::new();
        let mut wq_entries: Vec<(u32, u32, String, PathBuf)> = Vec::new();
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if let Some((kind, id)) = parse_device_name(name) {
                dev_entries.push((kind, id, entry.path()));
            } else if let Some((dev, idx)) = parse_wq_name(name) {
                wq_entries.push((dev, idx, name.to_string(), entry.path()));
            }
        }
        dev_entries.sort_by_key(|&(_, id, _)| id);
        wq_entries.sort_by_key(|&(d, i, _, _)| (d, i));
        let mut devices: Vec<Device> = dev_entries
            .into_iter()
            .map(|(kind, id, path)| self.read_device(kind, id, path, &topology))
            .collect();
        for (dev_id, idx, name, path) in wq_entries {
            if let Some(dev) = devices.iter_mut().find(|d| d.id == dev_id) {
                let wq = self.read_wq(dev, dev_id, idx, name, &path, opener);
                dev.work_queues.push(wq);
            }
        }
        let bus = if devices.is_empty() {
            BusState::NoDevices
        } else {
            BusState::Present
        };
        self.finish(bus, devices, topology, problems)
    }

    fn finish(
        &self,
        bus: BusState,
        devices: Vec<Device>,
        topology: Topology,
        problems: Vec<AttrError>,
    ) -> Inventory {
        let availability = compute_availability(bus, &devices);
        Inventory {
            bus,
            devices,
            topology,
            problems,
            availability,
        }
    }

    fn read_device(&self, kind: DeviceKind, id: u32, path: PathBuf, topo: &Topology) -> Device {
        let mut problems = Vec::new();
        let mut r = AttrReader {
            dir: &path,
            problems: &mut problems,
        };
        let version = r
            .get("version", parse_hex_u64, false)
            .and_then(|v| u32::try_from(v).ok());
        let state = r.get("state", DeviceState::parse, true);
        let numa_node = r
            .get("numa_node", parse_dec_i32, false)
            .and_then(|n| u32::try_from(n).ok());
        let gen_cap = r.get("gen_cap", parse_hex_u64, false);
        // Readable only on IAA >= 2.0 (the kernel returns EOPNOTSUPP below version 2).
        let iaa_cap = if kind == DeviceKind::Iaa && version.is_some_and(|v| v >= 0x200) {
            r.get("iaa_cap", parse_hex_u64, false)
        } else {
            None
        };
        let op_cap = r.get("op_cap", OpBitmap::parse, false);
        let max_transfer_size = r.get("max_transfer_size", parse_dec_u64, false);
        let pasid_enabled = r.get("pasid_enabled", parse_bool01, true);
        let max_groups = r.get("max_groups", parse_dec_u32, false);
        let max_work_queues = r.get("max_work_queues", parse_dec_u32, false);
        let max_work_queues_size = r.get("max_work_queues_size", parse_dec_u32, false);
        let max_engines = r.get("max_engines", parse_dec_u32, false);
        let cdev_major = r.get("cdev_major", parse_dec_u32, false);
        let configurable = r.get("configurable", parse_bool01, false);
        let cmd_status = r
            .get("cmd_status", parse_hex_u64, false)
            .and_then(|v| u32::try_from(v).ok());

        // The bus entry is a link to .../<pci function>/<iaxN>; the PCI function directory holds
        // local_cpulist and the PCI ids.
        let pci_dir = fs::canonicalize(&path)
            .ok()
            .and_then(|p| p.parent().map(Path::to_path_buf));
        let pci_address = pci_dir
            .as_ref()
            .and_then(|p| p.file_name())
            .and_then(|n| n.to_str())
            .filter(|n| looks_like_pci_address(n))
            .map(str::to_string);
        let (local_cpus, pci_device_id) = match (&pci_dir, &pci_address) {
            (Some(dir), Some(_)) => (
                fs::read_to_string(dir.join("local_cpulist"))
                    .ok()
                    .and_then(|t| parse_cpulist(&t, topology::MAX_CPUS).ok()),
                fs::read_to_string(dir.join("device"))
                    .ok()
                    .and_then(|t| parse_hex_u64(&t).ok())
                    .and_then(|v| u16::try_from(v).ok()),
            ),
            _ => (None, None),
        };
        let socket = local_cpus
            .as_deref()
            .and_then(|c| topo.package_of_cpus(c))
            .or_else(|| numa_node.and_then(|n| topo.package_of_node(n)));

        Device {
            name: format!("{}{}", kind.prefix(), id),
            kind,
            id,
            sysfs_path: path,
            pci_address,
            pci_device_id,
            version,
            state,
            numa_node,
            socket,
            gen_cap,
            iaa_cap,
            op_cap,
            max_transfer_size,
            pasid_enabled,
            max_groups,
            max_work_queues,
            max_work_queues_size,
            max_engines,
            cdev_major,
            configurable,
            cmd_status,
            problems,
            work_queues: Vec::new(),
        }
    }

    fn read_wq(
        &self,
        dev: &Device,
        dev_id: u32,
        index: u32,
        sysfs_name: String,
        path: &Path,
        opener: &dyn CdevOpener,
    ) -> WorkQueue {
        let mut problems = Vec::new();
        let mut r = AttrReader {
            dir: path,
            problems: &mut problems,
        };
        let mode = r.get("mode", parse_mode, true);
        let wq_type = r.get("type", WqType::parse, true);
        let state = r.get("state", WqState::parse, true);
        let size = r.get("size", parse_dec_u32, false);
        let threshold = r.get("threshold", parse_dec_u32, false);
        let priority = r.get("priority", parse_dec_u32, false);
        let max_transfer_size = r.get("max_transfer_size", parse_dec_u64, false);
        let max_batch_size = if dev.kind == DeviceKind::Dsa {
            r.get("max_batch_size", parse_dec_u32, false)
        } else {
            None
        };
        let block_on_fault = r.get("block_on_fault", parse_bool01, false);
        let name = r.get("name", parse_text, true);
        let driver_name = r.get("driver_name", parse_text, false);
        let op_config = r.get("op_config", OpBitmap::parse, false);
        let cdev_minor = r.get("cdev_minor", parse_dec_u32, false);
        let group_id = r.get("group_id", parse_dec_i32, false);

        let node = self.node_path(dev, &sysfs_name, cdev_minor);
        let mut wq = WorkQueue {
            sysfs_name,
            device_id: dev_id,
            index,
            mode,
            wq_type,
            state,
            size,
            threshold,
            priority,
            max_transfer_size,
            max_batch_size,
            block_on_fault,
            name,
            driver_name,
            op_config,
            cdev_minor,
            group_id,
            node,
            problems,
            status: WqStatus::Unusable {
                reason: UnusableReason::NotConfigured,
            },
        };
        wq.status = match self.static_check(dev, &wq) {
            Err(reason) => WqStatus::Unusable { reason },
            Ok(mode) => match opener.open(&wq.node) {
                Ok(opened) => match opened.submission() {
                    SubmissionKind::Write => match opener.probe_write(&opened) {
                        Ok(()) => WqStatus::Usable {
                            submission: SubmissionKind::Write,
                            mode,
                            node: wq.node.clone(),
                        },
                        Err(e) => WqStatus::Unusable {
                            reason: UnusableReason::WriteProbeFailed {
                                path: wq.node.clone(),
                                detail: e.to_string(),
                            },
                        },
                    },
                    SubmissionKind::MmapPortal => WqStatus::Usable {
                        submission: SubmissionKind::MmapPortal,
                        mode,
                        node: wq.node.clone(),
                    },
                },
                Err(e) => WqStatus::Unusable {
                    reason: UnusableReason::from_open_error(wq.node.clone(), e),
                },
            },
        };
        wq
    }

    /// `/dev/<prefix>/wqX.Y`, or `/dev/char/<major>:<minor>` when only that one exists.
    fn node_path(&self, dev: &Device, sysfs_name: &str, minor: Option<u32>) -> PathBuf {
        let primary = self.dev_root.join(dev.kind.prefix()).join(sysfs_name);
        if primary.symlink_metadata().is_err() {
            if let (Some(major), Some(minor)) = (dev.cdev_major, minor) {
                let alt = self.dev_root.join("char").join(format!("{major}:{minor}"));
                if alt.symlink_metadata().is_ok() {
                    return alt;
                }
            }
        }
        primary
    }

    /// Everything sysfs can tell, in the order an administrator has to fix things. Returns the
    /// WQ mode when nothing blocks.
    fn static_check(&self, dev: &Device, wq: &WorkQueue) -> Result<WqMode, UnusableReason> {
        let bad = |e: &AttrError| UnusableReason::BadAttribute {
            detail: e.to_string(),
        };
        if let Some(e) = dev.problems.first() {
            return Err(bad(e));
        }
        if let Some(e) = wq.problems.first() {
            return Err(bad(e));
        }
        let missing = |attr: &str| UnusableReason::BadAttribute {
            detail: format!("{}: missing", attr),
        };
        match dev.state.ok_or_else(|| missing("device state"))? {
            DeviceState::Enabled => {}
            DeviceState::Halted => {
                return Err(UnusableReason::DeviceHalted {
                    device: dev.name.clone(),
                })
            }
            s => {
                return Err(UnusableReason::DeviceNotEnabled {
                    device: dev.name.clone(),
                    state: s.word().to_string(),
                    last_error: dev.cmd_status.and_then(decode_cmd_status),
                })
            }
        }
        let driver = wq.driver_name.clone().filter(|d| !d.is_empty());
        match wq.wq_type.ok_or_else(|| missing("WQ type"))? {
            WqType::Kernel => {
                return Err(UnusableReason::KernelOwned {
                    driver_name: driver,
                })
            }
            WqType::None => return Err(UnusableReason::NotConfigured),
            WqType::User => {}
        }
        if let Some(d) = driver.filter(|d| d != "user") {
            return Err(UnusableReason::DriverNotUser { driver_name: d });
        }
        if wq.name.as_deref().unwrap_or("").is_empty() {
            return Err(UnusableReason::NoName);
        }
        match wq.state.ok_or_else(|| missing("WQ state"))? {
            WqState::Enabled => {}
            WqState::Disabled => {
                return Err(UnusableReason::WqDisabled {
                    device: dev.name.clone(),
                    wq: wq.sysfs_name.clone(),
                    state: "disabled".to_string(),
                    last_error: dev.cmd_status.and_then(decode_cmd_status),
                })
            }
            WqState::Unknown => {
                return Err(UnusableReason::WqDisabled {
                    device: dev.name.clone(),
                    wq: wq.sysfs_name.clone(),
                    state: "in an unknown state".to_string(),
                    last_error: dev.cmd_status.and_then(decode_cmd_status),
                })
            }
        }
        if dev.pasid_enabled != Some(true) {
            return Err(UnusableReason::NoPasid {
                device: dev.name.clone(),
            });
        }
        if dev.kind == DeviceKind::Iaa
            && !wq.allows(dev, OPCODE_COMPRESS)
            && !wq.allows(dev, OPCODE_DECOMPRESS)
        {
            return Err(UnusableReason::OpConfigLacksCompression);
        }
        if let Some(have) = wq.max_transfer_size {
            if have < self.min_transfer_size {
                return Err(UnusableReason::MaxTransferTooSmall {
                    have,
                    need: self.min_transfer_size,
                });
            }
        }
        let mode = wq.mode.ok_or_else(|| missing("WQ mode"))?;
        if wq.node.symlink_metadata().is_err() {
            return Err(UnusableReason::NodeMissing {
                path: wq.node.clone(),
            });
        }
        Ok(mode)
    }
}

fn parse_device_name(name: &str) -> Option<(DeviceKind, u32)> {
    let (kind, rest) = if let Some(r) = name.strip_prefix("iax") {
        (DeviceKind::Iaa, r)
    } else if let Some(r) = name.strip_prefix("dsa") {
        (DeviceKind::Dsa, r)
    } else {
        return None;
    };
    if rest.is_empty() || !rest.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    rest.parse().ok().map(|id| (kind, id))
}

fn parse_wq_name(name: &str) -> Option<(u32, u32)> {
    let rest = name.strip_prefix("wq")?;
    let (d, i) = rest.split_once('.')?;
    let ok = |s: &str| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit());
    if !ok(d) || !ok(i) {
        return None;
    }
    Some((d.parse().ok()?, i.parse().ok()?))
}

fn looks_like_pci_address(n: &str) -> bool {
    // dddd:bb:dd.f
    let b = n.as_bytes();
    b.len() == 12 && b[4] == b':' && b[7] == b':' && b[10] == b'.'
}

/// Reads attributes of one sysfs directory, recording problems.
struct AttrReader<'a> {
    dir: &'a Path,
    problems: &'a mut Vec<AttrError>,
}

impl AttrReader<'_> {
    /// Read and parse `name`. A missing or unreadable optional attribute yields `None` silently
    /// (older kernels lack some; some return errors such as ENXIO by design); a missing required
    /// one, or malformed content of any, is recorded as a problem.
    fn get<T>(
        &mut self,
        name: &str,
        parse: impl Fn(&str) -> Result<T, &'static str>,
        required: bool,
    ) -> Option<T> {
        let path = self.dir.join(name);
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) => {
                if required {
                    self.problems.push(if e.kind() == ErrorKind::NotFound {
                        AttrError::Missing {
                            path: path.display().to_string(),
                        }
                    } else {
                        AttrError::Unreadable {
                            path: path.display().to_string(),
                            message: e.to_string(),
                        }
                    });
                }
                return None;
            }
        };
        let malformed = |expected: &'static str, bytes: &[u8]| AttrError::Malformed {
            path: path.display().to_string(),
            expected,
            found: String::from_utf8_lossy(bytes)
                .trim_end()
                .chars()
                .take(64)
                .collect(),
        };
        let Ok(text) = std::str::from_utf8(&bytes) else {
            self.problems.push(malformed("UTF-8 text", &bytes));
            return None;
        };
        match parse(text) {
            Ok(v) => Some(v),
            Err(expected) => {
                self.problems.push(malformed(expected, &bytes));
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(parse_device_name("iax1"), Some((DeviceKind::Iaa, 1)));
        assert_eq!(parse_device_name("dsa10"), Some((DeviceKind::Dsa, 10)));
        assert_eq!(parse_device_name("iax"), None);
        assert_eq!(parse_device_name("iaxx"), None);
        assert_eq!(parse_wq_name("wq1.0"), Some((1, 0)));
        assert_eq!(parse_wq_name("wq1."), None);
        assert_eq!(parse_wq_name("engine1.0"), None);
        assert!(looks_like_pci_address("0000:6a:02.0"));
        assert!(!looks_like_pci_address("pci0000:6a"));
    }
}
