//! Register access behind a trait, so the same bring-up code drives a real memory-mapped BAR0
//! ([`MmioRegion`]) and the register model (`iaa_model::Bar0Model`).

use std::ptr::NonNull;

/// 32- and 64-bit access to a register BAR. Offsets are byte offsets into the BAR; an access
/// outside the BAR (or misaligned) reads all-ones and drops writes, as a PCIe master abort
/// would, instead of touching memory outside the mapping.
pub trait Bar0 {
    /// Size of the BAR in bytes.
    fn len(&self) -> u64;
    /// Whether the BAR has no bytes (never true for a usable BAR).
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Read 32 bits at `off` (4-byte aligned).
    fn read32(&self, off: u32) -> u32;
    /// Write 32 bits at `off` (4-byte aligned).
    fn write32(&self, off: u32, v: u32);
    /// Read 64 bits at `off` (8-byte aligned).
    fn read64(&self, off: u32) -> u64;
    /// Write 64 bits at `off` (8-byte aligned).
    fn write64(&self, off: u32, v: u64);
}

/// The PCI command register of the function (bus master enable), reached through VFIO's config
/// region on real hardware and through a flag in the model.
pub trait PciCommand {
    /// Read the 16-bit PCI command register.
    fn read_command(&self) -> Result<u16, std::io::Error>;
    /// Write the 16-bit PCI command register.
    fn write_command(&self, v: u16) -> Result<(), std::io::Error>;
}

/// A memory-mapped device region (BAR0 registers or BAR2 portals), mapped with `memmap2`
/// (shared, read-write, raw pointers only: MMIO is never behind a Rust reference). Unmapped on
/// drop.
#[derive(Debug)]
pub struct MmioRegion {
    /// Owns the mapping (unmapped when dropped).
    _map: memmap2::MmapRaw,
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: MMIO mappings are process-wide; all access is through volatile reads/writes of
// naturally aligned words, which the device handles atomically.
unsafe impl Send for MmioRegion {}
// SAFETY: as above; `&MmioRegion` only allows volatile word access.
unsafe impl Sync for MmioRegion {}

impl MmioRegion {
    /// Map `len` bytes of `fd` at file offset `offset` (a VFIO region offset) shared,
    /// read-write. Returns the `errno` on failure.
    pub fn map(fd: std::os::fd::BorrowedFd<'_>, offset: u64, len: usize) -> Result<Self, i32> {
        use std::os::fd::AsRawFd;
        let off = libc::off_t::try_from(offset).map_err(|_| libc::EINVAL)?;
        if len == 0 {
            return Err(libc::EINVAL);
        }
        let map = memmap2::MmapOptions::new()
            .offset(off as u64)
            .len(len)
            .map_raw(fd.as_raw_fd())
            .map_err(|e| e.raw_os_error().unwrap_or(libc::EIO))?;
        let ptr = NonNull::new(map.as_mut_ptr()).ok_or(libc::EINVAL)?;
        Ok(MmioRegion {
            _map: map,
            ptr,
            len,
        })
    }

    /// Start address (for portal writes by the `wq` crate: MOVDIR64B needs the raw address).
    pub fn as_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    fn in_bounds(&self, off: u32, size: u32) -> bool {
        off.is_multiple_of(size) && (off as usize).saturating_add(size as usize) <= self.len
    }
}

impl Bar0 for MmioRegion {
    fn len(&self) -> u64 {
        self.len as u64
    }

    fn read32(&self, off: u32) -> u32 {
        if !self.in_bounds(off, 4) {
            return u32::MAX;
        }
        // SAFETY: in bounds and 4-byte aligned (checked above) inside a live device mapping.
        unsafe {
            self.ptr
                .as_ptr()
                .add(off as usize)
                .cast::<u32>()
                .read_volatile()
        }
    }

    fn write32(&self, off: u32, v: u32) {
        if !self.in_bounds(off, 4) {
            return;
        }
        // SAFETY: in bounds and aligned (checked above) inside a live device mapping.
        unsafe {
            self.ptr
                .as_ptr()
                .add(off as usize)
                .cast::<u32>()
                .write_volatile(v)
        }
    }

    fn read64(&self, off: u32) -> u64 {
        if !self.in_bounds(off, 8) {
            return u64::MAX;
        }
        // SAFETY: in bounds and 8-byte aligned (checked above) inside a live device mapping.
        unsafe {
            self.ptr
                .as_ptr()
                .add(off as usize)
                .cast::<u64>()
                .read_volatile()
        }
    }

    fn write64(&self, off: u32, v: u64) {
        if !self.in_bounds(off, 8) {
            return;
        }
        // SAFETY: in bounds and aligned (checked above) inside a live device mapping.
        unsafe {
            self.ptr
                .as_ptr()
                .add(off as usize)
                .cast::<u64>()
                .write_volatile(v)
        }
    }
}

impl<T: Bar0 + ?Sized> Bar0 for &T {
    fn len(&self) -> u64 {
        (**self).len()
    }
    fn read32(&self, off: u32) -> u32 {
        (**self).read32(off)
    }
    fn write32(&self, off: u32, v: u32) {
        (**self).write32(off, v)
    }
    fn read64(&self, off: u32) -> u64 {
        (**self).read64(off)
    }
    fn write64(&self, off: u32, v: u64) {
        (**self).write64(off, v)
    }
}

impl<T: Bar0 + ?Sized> Bar0 for std::sync::Arc<T> {
    fn len(&self) -> u64 {
        (**self).len()
    }
    fn read32(&self, off: u32) -> u32 {
        (**self).read32(off)
    }
    fn write32(&self, off: u32, v: u32) {
        (**self).write32(off, v)
    }
    fn read64(&self, off: u32) -> u64 {
        (**self).read64(off)
    }
    fn write64(&self, off: u32, v: u64) {
        (**self).write64(off, v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn mmio_over_a_file_is_bounds_checked() {
        // A regular file stands in for the device fd: exercises map, volatile access, bounds.
        let f = tempfile::tempfile().unwrap();
        f.set_len(4096).unwrap();
        let r = MmioRegion::map(f.as_fd(), 0, 4096).unwrap();
        assert_eq!(Bar0::len(&r), 4096);
        r.write32(0xA0, 0x0010_0000);
        assert_eq!(r.read32(0xA0), 0x0010_0000);
        r.write64(0x20, 0x1234_5678_9abc_def0);
        assert_eq!(r.read64(0x20), 0x1234_5678_9abc_def0);
        assert_eq!(r.read32(0x20), 0x9abc_def0);
        assert_eq!(r.read32(4096), u32::MAX);
        assert_eq!(r.read32(4094), u32::MAX);
        assert_eq!(r.read64(4), u64::MAX); // misaligned
        r.write32(u32::MAX - 3, 1); // dropped, no fault
        assert_eq!(MmioRegion::map(f.as_fd(), 0, 0).unwrap_err(), libc::EINVAL);
    }
}
