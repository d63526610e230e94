//! The real VFIO side: a PCI function bound to `vfio-pci`, opened through a VFIO container and
//! group with `vfio-ioctls`; BAR0 and BAR2 mapped; the PCI command register reached through the
//! config region; device reset (VFIO_DEVICE_RESET, FLR when the function supports it).

use super::bar::{MmioRegion, PciCommand};
use super::regs;
use super::VfioError;
use std::fs::File;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use vfio_bindings::bindings::vfio::{
    VFIO_PCI_BAR0_REGION_INDEX, VFIO_PCI_BAR2_REGION_INDEX, VFIO_PCI_CONFIG_REGION_INDEX,
    VFIO_REGION_INFO_FLAG_MMAP,
};
use vfio_ioctls::{VfioContainer, VfioDevice, VfioOps, VfioRegionInfoCap};

/// How many bytes from the start of a region can be memory-mapped: the whole region, or, when
/// VFIO reports a sparse mmap (e.g. the MSI-X table carved out of a BAR on kernels without
/// MSI-X-mappable support), the sparse area that starts at offset 0. `None` if nothing at offset
/// 0 is mappable.
pub fn mappable_prefix(size: u64, caps: &[VfioRegionInfoCap]) -> Option<u64> {
    let sparse = caps.iter().find_map(|c| match c {
        VfioRegionInfoCap::SparseMmap(s) => Some(s),
        _ => None,
    });
    let len = match sparse {
        None => size,
        Some(s) => s
            .areas
            .iter()
            .find(|a| a.offset == 0)
            .map(|a| a.size.min(size))?,
    };
    (len > 0).then_some(len)
}

/// PCI IDs that vfio-pci refuses since Linux 6.9 (spec §8.4): SPR/EMR DSA and IAA, because of
/// an erratum that makes assigning them to untrusted users insecure.
pub const VFIO_DENYLIST: [(u16, u16); 2] = [(0x8086, 0x0b25), (0x8086, 0x0cfe)];

/// Whether `vendor:device` is on the vfio-pci denylist.
pub fn is_denylisted(vendor: u16, device: u16) -> bool {
    VFIO_DENYLIST.contains(&(vendor, device))
}

/// Known IAA PCI device IDs (vendor 8086): SPR/EMR, DMR, PTL, WCL (spec §0.1).
pub const IAA_DEVICE_IDS: [u16; 4] = [0x0cfe, 0x1216, 0xb02d, 0xfd2d];
/// Known DSA PCI device IDs (vendor 8086): SPR/EMR, GNR-D, DMR.
pub const DSA_DEVICE_IDS: [u16; 3] = [0x0b25, 0x11fb, 0x1212];

/// Every IAA/DSA PCI function under `<sys_root>/bus/pci/devices`, whatever driver it is bound
/// to, sorted by address. An unreadable directory gives an empty list.
pub fn scan_functions(sys_root: &Path) -> Vec<PciFunction> {
    let Ok(entries) = std::fs::read_dir(sys_root.join("bus/pci/devices")) else {
        return Vec::new();
    };
    let mut v: Vec<PciFunction> = entries
        .flatten()
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .filter_map(|bdf| PciFunction::read(sys_root, &bdf).ok())
        .filter(|f| f.kind().is_some())
        .collect();
    v.sort_by(|a, b| a.bdf.cmp(&b.bdf));
    v
}

/// What sysfs says about a PCI function, checked before any VFIO call.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PciFunction {
    /// `0000:6a:02.0`
    pub bdf: String,
    /// `<sys>/bus/pci/devices/<bdf>`
    pub sysfs_path: PathBuf,
    /// PCI vendor id.
    pub vendor: u16,
    /// PCI device id.
    pub device: u16,
    /// The bound driver (`vfio-pci`, `idxd`, ...), if any.
    pub driver: Option<String>,
    /// The IOMMU group number, if the function has one.
    pub iommu_group: Option<u32>,
}

fn read_hex16(p: &Path) -> Option<u16> {
    let t = std::fs::read_to_string(p).ok()?;
    let t = t.trim();
    u16::from_str_radix(t.strip_prefix("0x").unwrap_or(t), 16).ok()
}

fn link_name(p: &Path) -> Option<String> {
    std::fs::read_link(p)
        .ok()?
        .file_name()?
        .to_str()
        .map(str::to_string)
}

impl PciFunction {
    /// Read `<sys_root>/bus/pci/devices/<bdf>`.
    pub fn read(sys_root: &Path, bdf: &str) -> Result<Self, VfioError> {
        let sysfs_path = sys_root.join("bus/pci/devices").join(bdf);
        if !sysfs_path.exists() {
            return Err(VfioError::NoSuchFunction {
                bdf: bdf.to_string(),
            });
        }
        let vendor = read_hex16(&sysfs_path.join("vendor")).unwrap_or(0);
        let device = read_hex16(&sysfs_path.join("device")).unwrap_or(0);
        Ok(PciFunction {
            bdf: bdf.to_string(),
            driver: link_name(&sysfs_path.join("driver")),
            iommu_group: link_name(&sysfs_path.join("iommu_group")).and_then(|g| g.parse().ok()),
            sysfs_path,
            vendor,
            device,
        })
    }

    /// IAA or DSA, from the PCI ID; `None` for other functions.
    pub fn kind(&self) -> Option<crate::sysfs::DeviceKind> {
        if self.vendor != 0x8086 {
            None
        } else if IAA_DEVICE_IDS.contains(&self.device) {
            Some(crate::sysfs::DeviceKind::Iaa)
        } else if DSA_DEVICE_IDS.contains(&self.device) {
            Some(crate::sysfs::DeviceKind::Dsa)
        } else {
            None
        }
    }

    /// Whether vfio-pci refuses this ID (spec §8.4).
    pub fn denylisted(&self) -> bool {
        is_denylisted(self.vendor, self.device)
    }

    /// The checks VFIO would otherwise fail on with a less helpful error: bound to vfio-pci,
    /// in an IOMMU group. The denylist is reported when the function is not bound, since that is
    /// when it bites (vfio-pci refuses to bind it).
    pub fn check_ready(&self) -> Result<(), VfioError> {
        if self.driver.as_deref() != Some("vfio-pci") {
            return Err(VfioError::NotBoundToVfio {
                bdf: self.bdf.clone(),
                driver: self.driver.clone(),
                denylisted: is_denylisted(self.vendor, self.device),
            });
        }
        if self.iommu_group.is_none() {
            return Err(VfioError::NoIommuGroup {
                bdf: self.bdf.clone(),
            });
        }
        Ok(())
    }
}

/// An opened VFIO PCI function with BAR0 and BAR2 mapped.
pub struct VfioPci {
    // Drop order: the BAR mappings first, then the device, then the container.
    bar0: Arc<MmioRegion>,
    bar2: Arc<MmioRegion>,
    config: File,
    config_offset: u64,
    device: VfioDevice,
    container: Arc<VfioContainer>,
    function: PciFunction,
}

impl std::fmt::Debug for VfioPci {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VfioPci")
            .field("function", &self.function)
            .field("bar0", &self.bar0)
            .field("bar2", &self.bar2)
            .finish()
    }
}

impl VfioPci {
    /// Open `bdf` (which must be bound to vfio-pci): container, group, device; map BAR0 and
    /// BAR2.
    pub fn open(sys_root: &Path, bdf: &str) -> Result<Self, VfioError> {
        let function = PciFunction::read(sys_root, bdf)?;
        function.check_ready()?;
        if !Path::new("/dev/vfio/vfio").exists() {
            return Err(VfioError::NoVfio);
        }
        let container = Arc::new(VfioContainer::new(None).map_err(|e| VfioError::Vfio {
            step: "open container /dev/vfio/vfio",
            message: e.to_string(),
        })?);
        let ops: Arc<dyn VfioOps> = container.clone();
        let device =
            VfioDevice::new(&function.sysfs_path, ops, false).map_err(|e| VfioError::Vfio {
                step: "open group and device",
                message: e.to_string(),
            })?;
        // A second descriptor for the device, owned as a File for pread/pwrite/mmap.
        // SAFETY: the raw fd belongs to `device`, which outlives this borrow; it is only
        // duplicated here.
        let config = unsafe { BorrowedFd::borrow_raw(device.as_raw_fd()) }
            .try_clone_to_owned()
            .map(File::from)
            .map_err(|e| VfioError::Vfio {
                step: "dup device fd",
                message: e.to_string(),
            })?;
        let map_bar = |index: u32, name: &'static str| -> Result<Arc<MmioRegion>, VfioError> {
            let size = device.get_region_size(index);
            if device.get_region_flags(index) & VFIO_REGION_INFO_FLAG_MMAP == 0 {
                return Err(VfioError::BarNotMappable { bar: name });
            }
            let len = mappable_prefix(size, &device.get_region_caps(index))
                .and_then(|l| usize::try_from(l).ok())
                .ok_or(VfioError::BarNotMappable { bar: name })?;
            let offset = device.get_region_offset(index);
            use std::os::fd::AsFd;
            MmioRegion::map(config.as_fd(), offset, len)
                .map(Arc::new)
                .map_err(|errno| VfioError::Vfio {
                    step: name,
                    message: std::io::Error::from_raw_os_error(errno).to_string(),
                })
        };
        let bar0 = map_bar(VFIO_PCI_BAR0_REGION_INDEX, "mmap BAR0")?;
        let bar2 = map_bar(VFIO_PCI_BAR2_REGION_INDEX, "mmap BAR2")?;
        let config_offset = device.get_region_offset(VFIO_PCI_CONFIG_REGION_INDEX);
        Ok(VfioPci {
            bar0,
            bar2,
            config,
            config_offset,
            device,
            container,
            function,
        })
    }

    /// The PCI function.
    pub fn function(&self) -> &PciFunction {
        &self.function
    }

    /// BAR0 (registers).
    pub fn bar0(&self) -> Arc<MmioRegion> {
        self.bar0.clone()
    }

    /// The unlimited MSI-X portal page of WQ `wq` in BAR2 (page 0 of its 16 KiB slot, the one
    /// SPDK/DPDK submit to), if inside BAR2.
    pub fn portal(&self, wq: u32) -> Option<*mut u8> {
        let off = u64::from(wq) * regs::PORTAL_STRIDE;
        if off + 4096 > super::bar::Bar0::len(&*self.bar2) {
            return None;
        }
        // SAFETY: `off + 4096 <= len` (checked above), so the page lies inside the mapping.
        Some(unsafe { self.bar2.as_ptr().add(off as usize) })
    }

    /// BAR2 (portals), shared so a submission queue can keep the mapping alive.
    pub fn bar2(&self) -> Arc<MmioRegion> {
        self.bar2.clone()
    }

    /// The container, for DMA mapping ([`super::DmaArena`]).
    pub fn container(&self) -> Arc<VfioContainer> {
        self.container.clone()
    }

    /// VFIO_DEVICE_RESET (function-level reset if the function supports reset).
    pub fn reset(&self) {
        self.device.reset();
    }
}

impl PciCommand for VfioPci {
    fn read_command(&self) -> Result<u16, std::io::Error> {
        let mut b = [0u8; 2];
        self.config
            .read_exact_at(&mut b, self.config_offset + regs::PCI_COMMAND)?;
        Ok(u16::from_le_bytes(b))
    }

    fn write_command(&self, v: u16) -> Result<(), std::io::Error> {
        self.config
            .write_all_at(&v.to_le_bytes(), self.config_offset + regs::PCI_COMMAND)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vfio_ioctls::{VfioRegionInfoCapSparseMmap, VfioRegionSparseMmapArea};

    #[test]
    fn mappable_prefix_rules() {
        assert_eq!(mappable_prefix(0x10000, &[]), Some(0x10000));
        assert_eq!(mappable_prefix(0, &[]), None);
        let sparse = |areas: &[(u64, u64)]| {
            vec![VfioRegionInfoCap::SparseMmap(VfioRegionInfoCapSparseMmap {
                areas: areas
                    .iter()
                    .map(|&(offset, size)| VfioRegionSparseMmapArea { offset, size })
                    .collect(),
            })]
        };
        assert_eq!(
            mappable_prefix(0x10000, &sparse(&[(0x3000, 0xd000), (0, 0x2000)])),
            Some(0x2000)
        );
        assert_eq!(mappable_prefix(0x10000, &sparse(&[(0x3000, 0xd000)])), None);
        assert_eq!(
            mappable_prefix(0x10000, &[VfioRegionInfoCap::MsixMappable]),
            Some(0x10000)
        );
    }

    #[test]
    fn denylist_ids() {
        assert!(is_denylisted(0x8086, 0x0cfe) && is_denylisted(0x8086, 0x0b25));
        assert!(!is_denylisted(0x8086, 0x1216) && !is_denylisted(0x8086, 0x1212));
    }
}
