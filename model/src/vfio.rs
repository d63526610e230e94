//! The VFIO path with the software device model behind it: the BAR0 register model is brought up
//! by the same [`Controller`] code as real hardware; every WQ it enabled becomes a dedicated WQ of
//! a [`ModelDevice`] with the size and max transfer programmed in WQCFG; descriptors carry IOVAs
//! of a [`DmaArena`] mapped through a [`SoftIommu`]. The portal checks each descriptor against the
//! IOMMU the way the real IOMMU would: a descriptor naming memory that is not mapped (a caller
//! buffer that was not bounced, say) is dropped and counted as a DMA fault, instead of being
//! executed.
//!
//! IOVAs are identity-mapped (IOVA = process address, as SPDK does in VA mode), so the model,
//! which reads memory by process address, needs no translation.

use crate::bar0::{Bar0Model, Bar0ModelConfig};
use crate::{ModelConfig, ModelDevice, ModelWqConfig};
use iaa_driver::open::{Backend, WqInfo};
use iaa_driver::vfio::bringup::{Controller, Plan};
use iaa_driver::vfio::dma::{DmaArena, SoftIommu};
use iaa_driver::vfio::{IommuMapper, VfioError};
use iaa_wq::{PortalAccept, SoftPortal, WorkQueue, WqConfig, WqMode};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// A portal that checks descriptor addresses against the IOMMU, then forwards to a model WQ.
struct IommuPortal {
    iommu: Arc<SoftIommu>,
    target: WorkQueue,
    faults: Arc<AtomicU64>,
}

impl IommuPortal {
    fn mapped(&self, desc: &[u8; 64]) -> bool {
        let d = iaa_descriptors::IaaDescriptor::from_bytes(desc);
        let ranges = [
            (d.completion_addr, 64usize),
            (d.src1_addr, d.src1_size as usize),
            (d.dst_addr, d.max_dst_size as usize),
            (d.src2_addr, d.src2_size as usize),
        ];
        ranges
            .iter()
            .filter(|&&(_, len)| len > 0)
            .all(|&(a, len)| self.iommu.translate(a, len).is_some())
    }
}

impl SoftPortal for IommuPortal {
    unsafe fn push(&self, desc: &[u8; 64], _mode: WqMode) -> PortalAccept {
        if !self.mapped(desc) {
            // DMA remapping fault: the device cannot even write a completion record.
            self.faults.fetch_add(1, Ordering::Relaxed);
            return PortalAccept::Accepted;
        }
        // SAFETY: forwarded DMA contract; the addresses were checked to lie in mapped arena
        // memory, which outlives the model (drop order of ModelVfio).
        match unsafe { self.target.submit(desc) } {
            Ok(()) => {
                // Credits are tracked by the outer WorkQueue (the caller's).
                self.target.complete(1);
                PortalAccept::Accepted
            }
            // MOVDIR64B is posted: a refused descriptor is lost, as on hardware.
            Err(_) => PortalAccept::Accepted,
        }
    }
}

/// A device "opened in VFIO mode" whose registers are [`Bar0Model`] and whose engines are the
/// device model.
pub struct ModelVfio {
    // Drop order: WQs, then the model (stops engines), then the arena (IOMMU unmap), then the
    // controller's teardown happens in Drop::drop before all of them.
    wqs: Vec<WorkQueue>,
    model: Arc<ModelDevice>,
    arena: DmaArena,
    iommu: Arc<SoftIommu>,
    faults: Arc<AtomicU64>,
    controller: Controller<Arc<Bar0Model>>,
    bar: Arc<Bar0Model>,
}

impl std::fmt::Debug for ModelVfio {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelVfio")
            .field("wqs", &self.wqs.len())
            .field("arena", &self.arena)
            .finish()
    }
}

impl ModelVfio {
    /// Bring up `wqs` dedicated WQs on a modelled IAA with `cfg` registers, start a model with
    /// `engines` engine threads behind them, and map a DMA arena of `dma_bytes`.
    pub fn open(
        cfg: Bar0ModelConfig,
        wqs: usize,
        engines: usize,
        dma_bytes: usize,
    ) -> Result<Self, VfioError> {
        let bar = Arc::new(Bar0Model::new(cfg));
        let mut controller = Controller::new(bar.clone())?;
        let plan = Plan::dedicated(controller.caps(), wqs);
        controller.bring_up(&plan, &*bar)?;
        let enabled: Vec<_> = controller
            .enabled_wqs()
            .iter()
            .filter_map(|&i| controller.wq_regs(i))
            .collect();
        let mut model_cfg = ModelConfig::iaa(engines);
        // The executing device has the capabilities the driver read from its registers.
        model_cfg.iaa_cap = controller.caps().iaacap;
        model_cfg.wqs = enabled
            .iter()
            .map(|r| ModelWqConfig {
                max_transfer: 1u32
                    .checked_shl(u32::from(r.max_transfer_shift))
                    .unwrap_or(u32::MAX),
                ..ModelWqConfig::dedicated(u32::from(r.size))
            })
            .collect();
        let model = ModelDevice::start(model_cfg).map_err(|e| VfioError::Vfio {
            step: "start device model",
            message: e.to_string(),
        })?;
        let iommu = Arc::new(SoftIommu::new());
        let arena = DmaArena::new(iommu.clone(), dma_bytes, None)?;
        let faults = Arc::new(AtomicU64::new(0));
        let mut queues = Vec::new();
        for (k, &i) in controller.enabled_wqs().iter().enumerate() {
            let size = controller
                .wq_regs(i)
                .map(|r| u32::from(r.size))
                .unwrap_or(1);
            let target = model.wq(k).map_err(|e| VfioError::Vfio {
                step: "model WQ",
                message: e.to_string(),
            })?;
            let portal = Arc::new(IommuPortal {
                iommu: iommu.clone(),
                target,
                faults: faults.clone(),
            });
            let q = WorkQueue::with_model(portal, WqConfig::dedicated(size)).map_err(|e| {
                VfioError::Vfio {
                    step: "work queue",
                    message: e.to_string(),
                }
            })?;
            queues.push(q);
        }
        Ok(ModelVfio {
            wqs: queues,
            model,
            arena,
            iommu,
            faults,
            controller,
            bar,
        })
    }

    /// The submission queue of the `k`-th enabled WQ.
    pub fn wq(&self, k: usize) -> Option<&WorkQueue> {
        self.wqs.get(k)
    }

    /// Number of enabled WQs.
    pub fn wq_count(&self) -> usize {
        self.wqs.len()
    }

    /// The DMA arena (buffers with IOVAs).
    pub fn arena(&self) -> &DmaArena {
        &self.arena
    }

    /// The IOMMU.
    pub fn iommu(&self) -> &SoftIommu {
        &self.iommu
    }

    /// Descriptors dropped because they named unmapped memory.
    pub fn dma_faults(&self) -> u64 {
        self.faults.load(Ordering::Relaxed)
    }

    /// The register controller.
    pub fn controller(&self) -> &Controller<Arc<Bar0Model>> {
        &self.controller
    }

    /// The register model (shared: it outlives this device for inspection).
    pub fn registers(&self) -> Arc<Bar0Model> {
        self.bar.clone()
    }

    /// The device model.
    pub fn model(&self) -> &Arc<ModelDevice> {
        &self.model
    }

    /// The pool's backend: the enabled WQs' submission queues with the soft IOMMU as the
    /// mapper; this device is kept inside. Take [`ModelVfio::fault_counter`] and
    /// [`ModelVfio::iommu_arc`] first to watch DMA faults and mappings afterwards.
    pub fn into_backend(mut self, name: String) -> Backend {
        let wqs = std::mem::take(&mut self.wqs);
        let info = (0..wqs.len())
            .map(|i| WqInfo {
                name: format!("vfio-model/wq{i}"),
                socket: None,
            })
            .collect();
        let mapper: Arc<dyn IommuMapper> = self.iommu.clone();
        let cap = self.registers().config().iaacap;
        Backend::new(wqs, info, name)
            .with_iommu(mapper)
            .with_iaa_cap(cap)
            .keep(self)
    }

    /// The same queues handed over without the IOMMU (a negative control for tests): a pool
    /// on it maps nothing, so every descriptor names unmapped memory and is dropped.
    pub fn into_unmapped_backend(mut self, name: String) -> Backend {
        let wqs = std::mem::take(&mut self.wqs);
        let info = (0..wqs.len())
            .map(|i| WqInfo {
                name: format!("vfio-model/wq{i}"),
                socket: None,
            })
            .collect();
        Backend::new(wqs, info, name).requires_bounce().keep(self)
    }

    /// The shared counter of descriptors dropped for naming unmapped memory.
    pub fn fault_counter(&self) -> Arc<AtomicU64> {
        self.faults.clone()
    }

    /// The soft IOMMU, shared.
    pub fn iommu_arc(&self) -> Arc<SoftIommu> {
        self.iommu.clone()
    }
}

impl Drop for ModelVfio {
    fn drop(&mut self) {
        // Disable WQs and device first (as on hardware), then the fields drop: queues, model
        // (engines stop), arena (IOMMU unmap).
        let _ = self.controller.teardown();
    }
}
