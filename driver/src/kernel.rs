//! The kernel path: turn the usable WQs that discovery found ([`crate::sysfs`]) into
//! [`iaa_wq::WorkQueue`]s. A WQ whose portal could be mapped gets MOVDIR64B (dedicated) or ENQCMD
//! (shared) when the CPU has the instruction; otherwise descriptors go through `write(2)` on the
//! WQ's file descriptor, after a NOOP probe has shown that path works.
//!
//! The device model can stand behind this same open + submit code: `iaa_model::ModelNodeOpener`
//! serves fixture WQ nodes through `write(2)`.

use crate::sysfs::{
    CdevOpener, Device, DeviceKind, Inventory, OpenError, ProbeError, UnusableReason,
    WorkQueue as SysfsWq, WqMode as SysfsMode,
};
use iaa_wq::{preferred_portal_method, CpuFeatures, WorkQueue, WqConfig, WqError, WqMode};
use std::path::PathBuf;

/// Errors of the kernel path.
#[derive(Debug, thiserror::Error)]
pub enum KernelError {
    /// Discovery found the WQ unusable.
    #[error("{wq}: {reason}")]
    Unusable {
        /// The WQ.
        wq: String,
        /// Why.
        reason: UnusableReason,
    },
    /// The WQ has no readable size (needed as the credit bound).
    #[error("{wq}: size unknown")]
    NoSize {
        /// The WQ.
        wq: String,
    },
    /// Opening the node failed.
    #[error("{wq}: {error}")]
    Open {
        /// The WQ.
        wq: String,
        /// The error.
        error: OpenError,
    },
    /// The `write(2)` path failed its NOOP probe.
    #[error("{wq}: {error}")]
    Probe {
        /// The WQ.
        wq: String,
        /// The error.
        error: ProbeError,
    },
    /// The submission layer refused the configuration.
    #[error("{wq}: {error}")]
    Wq {
        /// The WQ.
        wq: String,
        /// The error.
        error: WqError,
    },
}

/// An opened WQ of the kernel path.
pub struct KernelWq {
    /// Device name (`iax1`).
    pub device: String,
    /// IAA or DSA.
    pub kind: DeviceKind,
    /// WQ name (`wq1.0`).
    pub sysfs_name: String,
    /// The device's socket, if known.
    pub socket: Option<u32>,
    /// The node opened.
    pub node: PathBuf,
    /// The WQ's `max_transfer_size`, when readable.
    pub max_transfer: Option<u64>,
    /// The WQ's `max_batch_size` (DSA), when readable.
    pub max_batch: Option<u32>,
    /// The submission queue (holds the fd and the portal mapping).
    pub wq: WorkQueue,
}

impl std::fmt::Debug for KernelWq {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KernelWq")
            .field("device", &self.device)
            .field("sysfs_name", &self.sysfs_name)
            .field("node", &self.node)
            .field("method", &self.wq.method())
            .finish()
    }
}

fn wq_mode(m: SysfsMode) -> WqMode {
    match m {
        SysfsMode::Dedicated => WqMode::Dedicated,
        SysfsMode::Shared => WqMode::Shared,
    }
}

/// Open one WQ that discovery marked usable.
pub fn open_wq(
    dev: &Device,
    wq: &SysfsWq,
    opener: &dyn CdevOpener,
    cpu: CpuFeatures,
) -> Result<KernelWq, KernelError> {
    let name = wq.sysfs_name.clone();
    if let Some(reason) = wq.status.reason() {
        return Err(KernelError::Unusable {
            wq: name,
            reason: reason.clone(),
        });
    }
    let mode = wq.mode.map(wq_mode).ok_or_else(|| KernelError::Unusable {
        wq: name.clone(),
        reason: UnusableReason::BadAttribute {
            detail: "mode: missing".into(),
        },
    })?;
    let size = wq
        .size
        .filter(|&s| s > 0)
        .ok_or_else(|| KernelError::NoSize { wq: name.clone() })?;
    let cfg = WqConfig {
        mode,
        size,
        enqcmd_retries: WqConfig::DEFAULT_RETRIES,
    };
    let opened = opener.open(&wq.node).map_err(|error| KernelError::Open {
        wq: name.clone(),
        error,
    })?;
    let method = preferred_portal_method(mode, cpu);
    let wq_err = |error| KernelError::Wq {
        wq: name.clone(),
        error,
    };
    let queue = match (opened.portal().map(|p| (p.as_ptr(), p.len())), method) {
        (Some((ptr, len)), Some(m)) => {
            // SAFETY: `ptr`/`len` describe the portal mapping owned by `opened`, which is moved
            // into the WorkQueue (`keep`) and so stays mapped as long as it.
            unsafe { WorkQueue::with_portal(ptr, len, m, cfg, Some(Box::new(opened))) }
                .map_err(wq_err)?
        }
        _ => {
            // No mapping, or the CPU lacks the instruction: write(2) on the same fd, probed.
            opener
                .probe_write(&opened)
                .map_err(|error| KernelError::Probe {
                    wq: name.clone(),
                    error,
                })?;
            let (_, fd, portal) = opened.into_parts();
            drop(portal);
            WorkQueue::with_write_fd(fd, cfg).map_err(wq_err)?
        }
    };
    // A user WQ of a device with PASID enabled reads through this process's page tables.
    let queue = queue.reading_process_memory(dev.pasid_enabled == Some(true));
    Ok(KernelWq {
        device: dev.name.clone(),
        kind: dev.kind,
        sysfs_name: name,
        socket: dev.socket,
        node: wq.node.clone(),
        max_transfer: wq.max_transfer_size,
        max_batch: wq.max_batch_size,
        wq: queue,
    })
}

/// Open every usable IAA WQ of `inv`; failures are returned next to the successes.
pub fn open_iaa_wqs(
    inv: &Inventory,
    opener: &dyn CdevOpener,
    cpu: CpuFeatures,
) -> (Vec<KernelWq>, Vec<KernelError>) {
    open_wqs_where(inv, DeviceKind::Iaa, opener, cpu, &|_| true)
}

/// Open the usable WQs of the `kind` devices of `inv` that `keep` accepts.
fn open_wqs_where(
    inv: &Inventory,
    kind: DeviceKind,
    opener: &dyn CdevOpener,
    cpu: CpuFeatures,
    keep: &dyn Fn((&Device, &SysfsWq)) -> bool,
) -> (Vec<KernelWq>, Vec<KernelError>) {
    let mut ok = Vec::new();
    let mut failed = Vec::new();
    for (d, w) in inv.usable_wqs(kind).filter(|&dw| keep(dw)) {
        match open_wq(d, w, opener, cpu) {
            Ok(k) => ok.push(k),
            Err(e) => failed.push(e),
        }
    }
    (ok, failed)
}

/// What [`open_host`] found and opened.
#[derive(Debug)]
pub struct HostWqs {
    /// The discovery scan (devices, every WQ's verdict, topology).
    pub inventory: Inventory,
    /// The kind of device whose WQs were opened (IAA for compression, DSA for the DSA
    /// operations).
    pub kind: DeviceKind,
    /// The usable WQs of that kind, opened.
    pub wqs: Vec<KernelWq>,
    /// Usable WQs whose open failed after discovery.
    pub failed: Vec<KernelError>,
}

impl HostWqs {
    /// A [`WqChooser`](crate::choice::WqChooser) over the *opened* WQs: its `pick` returns an
    /// index into [`HostWqs::wqs`] (WQs that discovery found usable but that failed to open are
    /// left out).
    pub fn chooser(&self, policy: crate::choice::ChoicePolicy) -> crate::choice::WqChooser {
        let all = match self.kind {
            DeviceKind::Iaa => crate::choice::WqCandidate::from_inventory(&self.inventory),
            DeviceKind::Dsa => crate::choice::WqCandidate::from_inventory_dsa(&self.inventory),
        };
        let candidates = self
            .wqs
            .iter()
            .filter_map(|k| all.iter().find(|c| c.sysfs_name == k.sysfs_name).cloned())
            .collect();
        crate::choice::WqChooser::new(candidates, &self.inventory.topology, policy)
    }

    /// Why there is no WQ, in words for a log line (`None` when at least one is open).
    pub fn why_none(&self) -> Option<String> {
        if !self.wqs.is_empty() {
            return None;
        }
        let mut s = match self.kind {
            DeviceKind::Iaa => self.inventory.availability().to_string(),
            DeviceKind::Dsa => {
                let devs = self.inventory.devices.iter();
                let dsa = devs.filter(|d| d.kind == DeviceKind::Dsa).count();
                format!(
                    "no usable DSA WQ ({dsa} DSA device(s); a usable WQ is enabled, of type user)"
                )
            }
        };
        for e in &self.failed {
            s.push_str("; ");
            s.push_str(&e.to_string());
        }
        Some(s)
    }
}

/// Scan `/sys` and `/dev` with the real opener and open every usable IAA WQ.
pub fn open_host() -> HostWqs {
    open_with(&crate::sysfs::Discovery::new(), &crate::sysfs::RealOpener)
}

/// Scan with `discovery` and open every usable IAA WQ through `opener`.
pub fn open_with(discovery: &crate::sysfs::Discovery, opener: &dyn CdevOpener) -> HostWqs {
    open_filtered(discovery, opener, &|_| true)
}

/// Scan with `discovery` and open, through `opener`, the usable IAA WQs `keep` accepts (one
/// device, one WQ).
pub fn open_filtered(
    discovery: &crate::sysfs::Discovery,
    opener: &dyn CdevOpener,
    keep: &dyn Fn((&Device, &SysfsWq)) -> bool,
) -> HostWqs {
    open_kind(discovery, opener, DeviceKind::Iaa, keep)
}

/// Scan with `discovery` and open, through `opener`, the usable WQs of the `kind` devices that
/// `keep` accepts.
pub fn open_kind(
    discovery: &crate::sysfs::Discovery,
    opener: &dyn CdevOpener,
    kind: DeviceKind,
    keep: &dyn Fn((&Device, &SysfsWq)) -> bool,
) -> HostWqs {
    let inventory = discovery.scan_with(opener);
    let (wqs, failed) = open_wqs_where(&inventory, kind, opener, CpuFeatures::get(), keep);
    HostWqs {
        inventory,
        kind,
        wqs,
        failed,
    }
}
