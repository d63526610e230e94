//! VFIO user mode: drive an IAA/DSA PCI function directly from user space, without the kernel's
//! idxd driver (the way SPDK and DPDK do; spec §8.3).
//!
//! Layers, each usable on its own:
//! - [`regs`]: BAR0 offsets, commands, CMDSTS error codes (decoded into [`CmdError`]).
//! - [`Bar0`] / [`PciCommand`]: register access behind traits, implemented by the real mapped
//!   BAR ([`MmioRegion`]) and by the register model (`iaa_model::Bar0Model`).
//! - [`Controller`]: capabilities, group/WQ programming (read-modify-write), ENABLE_DEVICE /
//!   ENABLE_WQ with bounded CMDSTS polling, orderly teardown. Tested over the model.
//! - [`DmaArena`]: pinned memory mapped with VFIO_IOMMU_MAP_DMA; descriptors, completion records
//!   and bounce buffers carry IOVAs. [`SoftIommu`] stands in for the IOMMU in tests.
//! - `iaa_model::ModelVfio`: the same bring-up over `iaa_model::Bar0Model` with the software
//!   device model executing the descriptors, IOVAs checked against a [`SoftIommu`] (tests, CI).
//! - [`VfioPci`] and [`VfioIdxd`]: the real thing (container, group, device, BAR0/BAR2 mapping,
//!   bus master, reset), which needs `/dev/vfio` and a function bound to `vfio-pci`.
//!
//! Without PASID (VFIO mode) the device cannot take page faults or tell processes apart, so only
//! **dedicated WQs** submitted with MOVDIR64B work, every address in a descriptor is an IOVA of
//! mapped memory, and block-on-fault is useless.
//!
//! # The vfio-pci denylist (SPR/EMR parts)
//!
//! Since Linux 6.9 (and stable backports) vfio-pci refuses to bind the Sapphire Rapids / Emerald
//! Rapids DSA (`8086:0b25`) and IAA (`8086:0cfe`): "Due to an erratum with the SPR_DSA and
//! SPR_IAX devices, it is not secure to assign these devices to virtual machines" (kernel commit
//! "VFIO: Add the SPR_DSA and SPR_IAX devices to the denylist"). On such kernels VFIO mode works
//! on these parts only if the administrator loads vfio-pci with `disable_denylist=1`
//! (`modprobe vfio-pci disable_denylist=1`, or `vfio-pci.disable_denylist=1` on the kernel
//! command line), accepting the erratum. Newer device IDs (GNR-D DSA `11fb`, DMR DSA `1212`,
//! DMR IAA `1216`) are not denylisted. [`VFIO_DENYLIST`] lists the IDs; [`VfioError`] says so
//! when a denylisted function is not bound to vfio-pci. See `docs/SETUP.md`.

pub mod bar;
pub mod bringup;
pub mod dma;
pub mod pci;
pub mod regs;

pub use bar::{Bar0, MmioRegion, PciCommand};
pub use bringup::{BringUpError, Controller, DeviceCaps, Plan, PlanError, WqPlan, WqRegs};
pub use dma::{DmaArena, DmaBuf, DmaError, IommuMapper, MappedJobMemory, SoftIommu};
pub use pci::{
    is_denylisted, scan_functions, PciFunction, VfioPci, DSA_DEVICE_IDS, IAA_DEVICE_IDS,
    VFIO_DENYLIST,
};
pub use regs::{CmdError, Command, DeviceRegState};

use std::path::Path;
use std::sync::Arc;

/// Errors of the VFIO path.
#[derive(Debug, thiserror::Error)]
pub enum VfioError {
    /// No such PCI function in sysfs.
    #[error("no PCI function {bdf} (check `lspci -D -d 8086:0cfe`)")]
    NoSuchFunction {
        /// The address given.
        bdf: String,
    },
    /// The function is not bound to vfio-pci.
    #[error("{bdf} is bound to {} instead of vfio-pci{}",
        driver.as_deref().unwrap_or("no driver"),
        if *denylisted {
            "; its device ID is on the vfio-pci denylist since Linux 6.9 (SPR/EMR erratum), \
             binding needs `modprobe vfio-pci disable_denylist=1` (see docs/SETUP.md)"
        } else {
            "; bind it with driver_override (see docs/SETUP.md)"
        })]
    NotBoundToVfio {
        /// The address.
        bdf: String,
        /// Its current driver.
        driver: Option<String>,
        /// Whether its ID is on the vfio-pci denylist.
        denylisted: bool,
    },
    /// No IOMMU group: the IOMMU is off.
    #[error("{bdf} has no IOMMU group: boot with intel_iommu=on")]
    NoIommuGroup {
        /// The address.
        bdf: String,
    },
    /// `/dev/vfio/vfio` does not exist.
    #[error("/dev/vfio/vfio is absent: load the vfio-pci module")]
    NoVfio,
    /// A VFIO ioctl failed.
    #[error("VFIO {step} failed: {message}")]
    Vfio {
        /// What was being done.
        step: &'static str,
        /// The error.
        message: String,
    },
    /// A BAR cannot be memory-mapped.
    #[error("{bar}: region not mappable")]
    BarNotMappable {
        /// Which BAR.
        bar: &'static str,
    },
    /// Bring-up failed.
    #[error(transparent)]
    BringUp(#[from] BringUpError),
    /// DMA setup failed.
    #[error(transparent)]
    Dma(#[from] DmaError),
}

/// IOVA of the DMA arena when process addresses cannot be used as IOVAs.
pub const FALLBACK_IOVA: u64 = 1 << 32;

/// A device brought up in VFIO mode: dedicated WQs enabled, a DMA arena mapped. Dropping it
/// disables the WQs and the device, then unmaps the DMA memory and the BARs.
#[derive(Debug)]
pub struct VfioIdxd {
    // Drop order matters (see Drop): arena and controller before the PCI function.
    arena: DmaArena,
    controller: Controller<Arc<MmioRegion>>,
    pci: VfioPci,
}

impl VfioIdxd {
    /// Open `bdf`, reset it, bring up `wqs` dedicated WQs (capped by the device) and map a DMA
    /// arena of `dma_bytes`. `sys_root` is the sysfs mount (`/sys`).
    pub fn open(
        sys_root: &Path,
        bdf: &str,
        wqs: usize,
        dma_bytes: usize,
    ) -> Result<Self, VfioError> {
        let pci = VfioPci::open(sys_root, bdf)?;
        pci.reset();
        let mut controller = Controller::new(pci.bar0())?;
        let plan = Plan::dedicated(controller.caps(), wqs);
        controller.bring_up(&plan, &pci)?;
        // IOVA = process address first (as SPDK); if the IOMMU's address width cannot hold it
        // (5-level paging), a fixed IOVA at 4 GiB, above the x86 MSI window.
        let arena = match DmaArena::new(pci.container(), dma_bytes, None)
            .or_else(|_| DmaArena::new(pci.container(), dma_bytes, Some(FALLBACK_IOVA)))
        {
            Ok(a) => a,
            Err(e) => {
                let _ = controller.teardown();
                return Err(e.into());
            }
        };
        Ok(VfioIdxd {
            arena,
            controller,
            pci,
        })
    }

    /// The register controller (capabilities, WQ read-back).
    pub fn controller(&self) -> &Controller<Arc<MmioRegion>> {
        &self.controller
    }

    /// The DMA arena.
    pub fn arena(&self) -> &DmaArena {
        &self.arena
    }

    /// Portal of enabled WQ `wq` (for MOVDIR64B), `None` if not enabled.
    pub fn portal(&self, wq: u32) -> Option<*mut u8> {
        if !self.controller.enabled_wqs().contains(&wq) {
            return None;
        }
        self.pci.portal(wq)
    }

    /// A submission queue on enabled WQ `wq`: MOVDIR64B to its portal page, credits bounded by
    /// the WQ size. The queue keeps BAR2 mapped; after this device is dropped (WQs disabled) its
    /// submissions are discarded by the device. Descriptors must carry IOVAs of [`Self::arena`].
    fn work_queue(&self, wq: u32) -> Result<iaa_wq::WorkQueue, VfioError> {
        let portal = self.portal(wq).ok_or(VfioError::Vfio {
            step: "portal of a WQ that is not enabled",
            message: format!("WQ {wq}"),
        })?;
        let size = u32::from(self.wq_size(wq).unwrap_or(0));
        let keep: Box<dyn std::any::Any + Send + Sync> = Box::new(self.pci.bar2());
        // SAFETY: `portal` is a 4 KiB page inside BAR2 (checked by `portal`), and `keep` holds
        // the BAR2 mapping for the life of the queue.
        unsafe {
            iaa_wq::WorkQueue::with_portal(
                portal,
                4096,
                iaa_wq::SubmitMethod::Movdir64b,
                iaa_wq::WqConfig::dedicated(size),
                Some(keep),
            )
        }
        .map_err(|e| VfioError::Vfio {
            step: "submission queue",
            message: e.to_string(),
        })
    }

    /// Size of enabled WQ `wq` (the in-flight bound for MOVDIR64B submission).
    pub fn wq_size(&self, wq: u32) -> Option<u16> {
        self.controller.wq_regs(wq).map(|r| r.size)
    }

    /// The pool's backend: a submission queue on every enabled WQ, the VFIO container as the
    /// IOMMU every buffer is mapped through (at IOVA = its process address), and the device
    /// kept inside. Consumes the device, so each WQ gets exactly one queue and one set of
    /// credits.
    pub fn into_backend(self, name: String) -> Result<crate::open::Backend, VfioError> {
        let wqs = self
            .controller
            .enabled_wqs()
            .iter()
            .map(|&i| self.work_queue(i))
            .collect::<Result<Vec<_>, _>>()?;
        let info = self
            .controller
            .enabled_wqs()
            .iter()
            .map(|&i| crate::open::WqInfo {
                name: format!("{}/wq{i}", self.pci.function().bdf),
                socket: None,
            })
            .collect();
        let mapper: Arc<dyn IommuMapper> = self.pci.container();
        let iaa_cap = self.controller.caps().iaacap;
        Ok(crate::open::Backend::new(wqs, info, name)
            .with_iommu(mapper)
            .with_iaa_cap(iaa_cap)
            .keep(self))
    }
}

impl Drop for VfioIdxd {
    fn drop(&mut self) {
        // Quiesce the device before its DMA memory is unmapped (the arena field drops next).
        let _ = self.controller.teardown();
    }
}
