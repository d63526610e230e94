//! DMA memory for VFIO mode: an arena of pinned, IOMMU-mapped pages from which descriptors,
//! completion records, AECS and bounce buffers are carved, with their IOVAs.
//!
//! Without PASID the device sees IOVAs of the VFIO container, not process addresses (spec §8.3),
//! so every address in a descriptor must point into mapped memory. Caller buffers are not mapped
//! one by one; they are copied into and out of arena buffers ("bounce" copies).
//!
//! Memory the device can write is never turned into a Rust reference while mapped (the device
//! may change it at any time): all access is through raw-pointer copies.

use std::ptr::NonNull;
use std::sync::{Arc, Mutex};

/// DMA arena errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DmaError {
    /// Anonymous memory for the arena could not be mapped.
    #[error("mmap of {len} bytes for DMA failed with errno {errno}")]
    Mmap {
        /// Bytes requested.
        len: usize,
        /// The errno.
        errno: i32,
    },
    /// The IOMMU mapping (VFIO_IOMMU_MAP_DMA) failed.
    #[error("IOMMU map of {len} bytes at IOVA {iova:#x} failed: {message}")]
    Map {
        /// IOVA.
        iova: u64,
        /// Bytes.
        len: usize,
        /// The error.
        message: String,
    },
    /// The IOMMU unmapping failed.
    #[error("IOMMU unmap at IOVA {iova:#x} failed: {message}")]
    Unmap {
        /// IOVA.
        iova: u64,
        /// The error.
        message: String,
    },
    /// The arena is full.
    #[error("DMA arena exhausted: {want} bytes requested, {left} left")]
    Exhausted {
        /// Bytes requested.
        want: usize,
        /// Bytes left.
        left: usize,
    },
    /// Alignment not a power of two, or zero length.
    #[error("invalid DMA allocation: {len} bytes aligned to {align}")]
    BadRequest {
        /// Bytes.
        len: usize,
        /// Alignment.
        align: usize,
    },
    /// A copy larger than the buffer.
    #[error("copy of {len} bytes into a {cap}-byte DMA buffer")]
    TooLarge {
        /// Bytes to copy.
        len: usize,
        /// Buffer size.
        cap: usize,
    },
}

/// Maps process memory into the device's IO address space.
pub trait IommuMapper: Send + Sync {
    /// Map `len` bytes at `vaddr` to `iova`, readable and writable by the device.
    ///
    /// # Safety
    /// `vaddr..vaddr+len` must be a live mapping owned by the caller, not accessed through Rust
    /// references while mapped, and kept alive until [`IommuMapper::unmap`] succeeds.
    unsafe fn map(&self, iova: u64, len: usize, vaddr: *mut u8) -> Result<(), DmaError>;
    /// Remove the mapping made by `map` with the same `iova` and `len`.
    fn unmap(&self, iova: u64, len: usize) -> Result<(), DmaError>;
}

impl IommuMapper for vfio_ioctls::VfioContainer {
    unsafe fn map(&self, iova: u64, len: usize, vaddr: *mut u8) -> Result<(), DmaError> {
        // SAFETY: forwarded contract: the caller guarantees the mapping is live and not
        // referenced, which is exactly vfio_dma_map's precondition.
        unsafe { self.vfio_dma_map(iova, len, vaddr) }.map_err(|e| DmaError::Map {
            iova,
            len,
            message: e.to_string(),
        })
    }

    fn unmap(&self, iova: u64, len: usize) -> Result<(), DmaError> {
        self.vfio_dma_unmap(iova, len).map_err(|e| DmaError::Unmap {
            iova,
            message: e.to_string(),
        })
    }
}

/// A mapper that records mappings and translates IOVAs back to process addresses: it stands in
/// for the IOMMU when the device is the software model (which reads memory by process address).
#[derive(Debug, Default)]
pub struct SoftIommu {
    maps: Mutex<Vec<(u64, usize, usize)>>,
}

impl SoftIommu {
    /// An empty IOMMU.
    pub fn new() -> Self {
        Self::default()
    }

    /// The process address of `iova`, if `iova..iova+len` lies inside one mapping.
    pub fn translate(&self, iova: u64, len: usize) -> Option<*mut u8> {
        let maps = self.maps.lock().unwrap_or_else(|e| e.into_inner());
        maps.iter().find_map(|&(base, size, vaddr)| {
            let off = iova.checked_sub(base)?;
            let end = off.checked_add(len as u64)?;
            (end <= size as u64).then(|| (vaddr + off as usize) as *mut u8)
        })
    }

    /// Number of live mappings.
    pub fn mappings(&self) -> usize {
        self.maps.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

impl IommuMapper for SoftIommu {
    unsafe fn map(&self, iova: u64, len: usize, vaddr: *mut u8) -> Result<(), DmaError> {
        let mut maps = self.maps.lock().unwrap_or_else(|e| e.into_inner());
        let overlaps = maps
            .iter()
            .any(|&(b, s, _)| iova < b + s as u64 && b < iova + len as u64);
        if overlaps {
            return Err(DmaError::Map {
                iova,
                len,
                message: "IOVA range overlaps an existing mapping".into(),
            });
        }
        maps.push((iova, len, vaddr as usize));
        Ok(())
    }

    fn unmap(&self, iova: u64, len: usize) -> Result<(), DmaError> {
        let mut maps = self.maps.lock().unwrap_or_else(|e| e.into_inner());
        let before = maps.len();
        maps.retain(|&(b, s, _)| !(b == iova && s == len));
        if maps.len() == before {
            return Err(DmaError::Unmap {
                iova,
                message: "no such mapping".into(),
            });
        }
        Ok(())
    }
}

/// One contiguous, pinned, IOMMU-mapped region; buffers are carved from it with a bump
/// allocator and live as long as the arena (allocated once, like the pool's contexts).
pub struct DmaArena {
    mapper: Arc<dyn IommuMapper>,
    /// The anonymous mapping (`memmap2`, raw pointers only), `None` once leaked or unmapped.
    map: Option<memmap2::MmapRaw>,
    ptr: NonNull<u8>,
    len: usize,
    iova: u64,
    next: Mutex<usize>,
}

impl std::fmt::Debug for DmaArena {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DmaArena")
            .field("len", &self.len)
            .field("iova", &format_args!("{:#x}", self.iova))
            .finish()
    }
}

// SAFETY: the arena's memory is process-wide; allocation state is behind a mutex and buffer
// contents are only touched through raw-pointer copies.
unsafe impl Send for DmaArena {}
// SAFETY: as above.
unsafe impl Sync for DmaArena {}

impl DmaArena {
    /// Map `len` bytes (rounded up to whole pages) of fresh anonymous memory, pre-faulted, and
    /// map it into the IOMMU at `iova` (`None`: use the process address as IOVA, as SPDK does).
    pub fn new(
        mapper: Arc<dyn IommuMapper>,
        len: usize,
        iova: Option<u64>,
    ) -> Result<Self, DmaError> {
        let page = 4096;
        let len = len
            .checked_add(page - 1)
            .map(|l| l & !(page - 1))
            .filter(|&l| l > 0)
            .ok_or(DmaError::BadRequest { len, align: page })?;
        let map = memmap2::MmapOptions::new()
            .len(len)
            .populate()
            .map_anon()
            .map(memmap2::MmapRaw::from)
            .map_err(|e| DmaError::Mmap {
                len,
                errno: e.raw_os_error().unwrap_or(libc::ENOMEM),
            })?;
        let ptr = NonNull::new(map.as_mut_ptr()).ok_or(DmaError::Mmap {
            len,
            errno: libc::EINVAL,
        })?;
        // Pinned DMA pages must not be copied-on-write into a child after fork.
        // Failure only loses the advice.
        let _ = map.advise(memmap2::Advice::DontFork);
        let iova = iova.unwrap_or(ptr.as_ptr() as u64);
        // SAFETY: the mapping was just created, is owned by this arena, no Rust reference into it
        // exists, and it stays mapped until Drop has unmapped it from the IOMMU.
        // (On failure `map` is dropped, unmapping the region, which nothing references.)
        unsafe { mapper.map(iova, len, ptr.as_ptr()) }?;
        Ok(DmaArena {
            mapper,
            map: Some(map),
            ptr,
            len,
            iova,
            next: Mutex::new(0),
        })
    }

    /// Carve `len` bytes aligned to `align` (a power of two, at most 4096).
    pub fn alloc(&self, len: usize, align: usize) -> Result<DmaBuf<'_>, DmaError> {
        if len == 0 || !align.is_power_of_two() || align > 4096 {
            return Err(DmaError::BadRequest { len, align });
        }
        let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
        let start = (*next + align - 1) & !(align - 1);
        let end = start
            .checked_add(len)
            .filter(|&e| e <= self.len)
            .ok_or(DmaError::Exhausted {
                want: len,
                left: self.len.saturating_sub(*next),
            })?;
        *next = end;
        Ok(DmaBuf {
            // SAFETY: start < end <= self.len, inside the arena mapping.
            ptr: unsafe { self.ptr.as_ptr().add(start) },
            iova: self.iova + start as u64,
            len,
            _arena: std::marker::PhantomData,
        })
    }

    /// IOVA of the arena start.
    pub fn iova(&self) -> u64 {
        self.iova
    }

    /// Size in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Always false (an arena has at least one page).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes not yet allocated.
    pub fn remaining(&self) -> usize {
        self.len
            .saturating_sub(*self.next.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

impl Drop for DmaArena {
    fn drop(&mut self) {
        // Unmap from the IOMMU first; only if that worked is the memory returned to the system
        // (if the device could still reach it, leaking it is the safe choice).
        // Every DmaBuf borrowed from the arena is gone (lifetime), so nothing points into it.
        if self.mapper.unmap(self.iova, self.len).is_err() {
            std::mem::forget(self.map.take());
        }
    }
}

/// A buffer inside a [`DmaArena`]: a process address and the IOVA to put in descriptors.
#[derive(Debug, Clone, Copy)]
pub struct DmaBuf<'a> {
    ptr: *mut u8,
    iova: u64,
    len: usize,
    _arena: std::marker::PhantomData<&'a DmaArena>,
}

// SAFETY: the buffer only carries an address into the arena (itself Sync); access is by copies.
unsafe impl Send for DmaBuf<'_> {}
// SAFETY: as above.
unsafe impl Sync for DmaBuf<'_> {}

impl DmaBuf<'_> {
    /// The IOVA the device uses.
    pub fn iova(&self) -> u64 {
        self.iova
    }

    /// The process address (for the CPU side: polling, portal submission of descriptors).
    pub fn as_ptr(&self) -> *mut u8 {
        self.ptr
    }

    /// Size in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Always false.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bounce in: copy `src` to the start of the buffer.
    pub fn copy_in(&self, src: &[u8]) -> Result<(), DmaError> {
        if src.len() > self.len {
            return Err(DmaError::TooLarge {
                len: src.len(),
                cap: self.len,
            });
        }
        // SAFETY: `src.len() <= self.len`, the destination is inside the live arena, and the
        // regions cannot overlap (the arena is private anonymous memory the caller cannot hold a
        // slice of).
        unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), self.ptr, src.len()) };
        Ok(())
    }

    /// Bounce out: copy the first `dst.len()` bytes of the buffer to `dst`.
    pub fn copy_out(&self, dst: &mut [u8]) -> Result<(), DmaError> {
        if dst.len() > self.len {
            return Err(DmaError::TooLarge {
                len: dst.len(),
                cap: self.len,
            });
        }
        // SAFETY: as in `copy_in`, reversed.
        unsafe { std::ptr::copy_nonoverlapping(self.ptr, dst.as_mut_ptr(), dst.len()) };
        Ok(())
    }

    /// Zero the buffer.
    pub fn zero(&self) {
        // SAFETY: the whole buffer lies inside the live arena.
        unsafe { std::ptr::write_bytes(self.ptr, 0, self.len) };
    }
}

/// [`iaa_wq::IaaJobMemory`] whose device-visible regions are mapped through an IOMMU at
/// IOVA = process address (VFIO mode), so the descriptors it builds need no translation. The
/// regions are unmapped before the memory is freed; if the device may still write them when
/// this is dropped, both the mapping and the memory are leaked instead.
pub struct MappedJobMemory {
    mem: iaa_wq::IaaJobMemory,
    mapper: Arc<dyn IommuMapper>,
    regions: Vec<(u64, usize)>,
}

impl MappedJobMemory {
    /// Map `mem` (allocated with `pages = true`) through `mapper`.
    pub fn new(mem: iaa_wq::IaaJobMemory, mapper: Arc<dyn IommuMapper>) -> Result<Self, DmaError> {
        let mut regions = Vec::with_capacity(4);
        for (p, len) in mem.device_regions() {
            if !(p as usize).is_multiple_of(4096) || len % 4096 != 0 {
                for &(iova, l) in &regions {
                    let _ = mapper.unmap(iova, l);
                }
                return Err(DmaError::Map {
                    iova: p as u64,
                    len,
                    message: "job memory is not in whole pages (allocate it with pages = true)"
                        .into(),
                });
            }
            // SAFETY: the region is a page-aligned slab of whole pages owned by `mem`, which
            // this value owns from now on; `IaaJobMemory` accesses it only through raw-pointer
            // copies, never references; Drop unmaps it before `mem` frees it, or leaks both.
            if let Err(e) = unsafe { mapper.map(p as u64, len, p) } {
                for &(iova, l) in &regions {
                    let _ = mapper.unmap(iova, l);
                }
                return Err(e);
            }
            regions.push((p as u64, len));
        }
        Ok(MappedJobMemory {
            mem,
            mapper,
            regions,
        })
    }
}

impl std::ops::Deref for MappedJobMemory {
    type Target = iaa_wq::IaaJobMemory;
    fn deref(&self) -> &iaa_wq::IaaJobMemory {
        &self.mem
    }
}

impl std::ops::DerefMut for MappedJobMemory {
    fn deref_mut(&mut self) -> &mut iaa_wq::IaaJobMemory {
        &mut self.mem
    }
}

impl Drop for MappedJobMemory {
    fn drop(&mut self) {
        let deadline = self.mem.drop_deadline();
        if self.mem.settle(deadline) {
            for &(iova, len) in &self.regions {
                let _ = self.mapper.unmap(iova, len);
            }
        } else {
            // Still pending: keep the mapping, and let the memory's own Drop leak it at once.
            self.mem.set_drop_deadline(std::time::Instant::now());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arena_maps_allocates_translates_and_unmaps() {
        let iommu = Arc::new(SoftIommu::new());
        {
            let a = DmaArena::new(iommu.clone(), 10_000, Some(0x1_0000_0000)).unwrap();
            assert_eq!(a.len(), 12288);
            assert_eq!(iommu.mappings(), 1);
            let desc = a.alloc(64, 64).unwrap();
            let rec = a.alloc(64, 64).unwrap();
            let data = a.alloc(4096, 4096).unwrap();
            assert_eq!(desc.iova(), 0x1_0000_0000);
            assert_eq!(rec.iova(), 0x1_0000_0040);
            assert_eq!(data.iova(), 0x1_0000_1000);
            assert_eq!(iommu.translate(data.iova(), 4096), Some(data.as_ptr()));
            assert_eq!(iommu.translate(0x1_0000_3000 - 1, 2), None);
            let msg = b"bounce me";
            data.copy_in(msg).unwrap();
            let mut back = [0u8; 9];
            data.copy_out(&mut back).unwrap();
            assert_eq!(&back, msg);
            assert!(matches!(
                desc.copy_in(&[0u8; 65]),
                Err(DmaError::TooLarge { len: 65, cap: 64 })
            ));
            assert!(matches!(a.alloc(8192, 64), Err(DmaError::Exhausted { .. })));
            assert!(matches!(a.alloc(0, 64), Err(DmaError::BadRequest { .. })));
            assert!(matches!(a.alloc(8, 3), Err(DmaError::BadRequest { .. })));
            // An overlapping second arena is refused by the IOMMU.
            assert!(matches!(
                DmaArena::new(iommu.clone(), 4096, Some(0x1_0000_1000)),
                Err(DmaError::Map { .. })
            ));
        }
        assert_eq!(iommu.mappings(), 0);
    }
}
