//! The model's only door to memory: it reads and writes at the process virtual addresses a
//! descriptor names, as a device with SVA does. Every function here is `unsafe` and small.
//!
//! # Contract (what makes these accesses sound)
//! The submitter calls `iaa_wq::WorkQueue::submit` (an `unsafe fn`) and promises there that
//! every address in the descriptor is valid for the access its operation makes, and that the
//! CPU leaves that memory alone until the completion record's status is non-zero — or forever,
//! if it never is: a unit whose wait timed out has its record and buffers quarantined by
//! `iaa_wq::RecordSlab::quarantine` until the model is seen done with it. The model, in turn,
//! touches descriptor memory only between taking a descriptor and storing its status byte, and
//! refuses overlapping source/destination ranges before making slices of them (status 0x16).

use std::sync::atomic::{fence, AtomicU8, Ordering};

/// An address range that cannot be a valid buffer (null with a non-zero length, or wrapping).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BadRange;

fn check(addr: u64, len: usize) -> Result<(), BadRange> {
    if len == 0 {
        return Ok(());
    }
    if addr == 0 || addr.checked_add(len as u64).is_none() || addr > usize::MAX as u64 {
        return Err(BadRange);
    }
    Ok(())
}

/// `len` bytes at `addr` to read.
///
/// # Safety
/// The module contract: `addr..addr+len` is readable and not written by anyone while the slice
/// lives.
pub(crate) unsafe fn src<'a>(addr: u64, len: usize) -> Result<&'a [u8], BadRange> {
    check(addr, len)?;
    if len == 0 {
        return Ok(&[]);
    }
    // SAFETY: valid and unaliased for writes by the module contract; non-null, no wrap (checked).
    Ok(unsafe { std::slice::from_raw_parts(addr as usize as *const u8, len) })
}

/// `len` bytes at `addr` to write.
///
/// # Safety
/// The module contract: `addr..addr+len` is writable and accessed by nobody else while the
/// slice lives (in particular it does not overlap any other slice the model holds).
pub(crate) unsafe fn dst<'a>(addr: u64, len: usize) -> Result<&'a mut [u8], BadRange> {
    check(addr, len)?;
    if len == 0 {
        return Ok(&mut []);
    }
    // SAFETY: valid and exclusive by the module contract; non-null, no wrap (checked).
    Ok(unsafe { std::slice::from_raw_parts_mut(addr as usize as *mut u8, len) })
}

/// Copy `len` bytes from `from` to `to`; the ranges may overlap (memmove).
///
/// # Safety
/// The module contract: both ranges valid, nobody else touches them during the copy.
pub(crate) unsafe fn copy(from: u64, to: u64, len: usize) -> Result<(), BadRange> {
    check(from, len)?;
    check(to, len)?;
    if len > 0 {
        // SAFETY: both ranges valid (contract); `copy` allows overlap.
        unsafe { std::ptr::copy(from as usize as *const u8, to as usize as *mut u8, len) };
    }
    Ok(())
}

/// Read a plain-data value (e.g. an AECS) at `addr`, any alignment.
///
/// # Safety
/// The module contract: `size_of::<T>()` readable bytes at `addr`.
pub(crate) unsafe fn read_pod<T: bytemuck::Pod>(addr: u64) -> Result<T, BadRange> {
    check(addr, core::mem::size_of::<T>())?;
    // SAFETY: readable (contract); T is Pod so any bytes are valid; unaligned read.
    Ok(unsafe { (addr as usize as *const T).read_unaligned() })
}

/// Write a plain-data value at `addr`, any alignment.
///
/// # Safety
/// The module contract: `size_of::<T>()` writable bytes at `addr`.
pub(crate) unsafe fn write_pod<T: bytemuck::Pod>(addr: u64, v: &T) -> Result<(), BadRange> {
    check(addr, core::mem::size_of::<T>())?;
    // SAFETY: writable (contract); unaligned write.
    unsafe { (addr as usize as *mut T).write_unaligned(*v) };
    Ok(())
}

/// Write a completion record the way hardware does: every byte but the status byte first, then
/// a release fence, then the status byte (atomic store, release). A reader that sees a non-zero
/// status with an acquire load sees the whole record and all output written before.
///
/// # Safety
/// The module contract: `rec.len()` writable bytes at `addr`, polled by the submitter only
/// through atomic loads of byte 0.
pub(crate) unsafe fn write_record(addr: u64, rec: &[u8]) -> Result<(), BadRange> {
    check(addr, rec.len())?;
    if rec.is_empty() {
        return Ok(());
    }
    let p = addr as usize as *mut u8;
    // SAFETY: bytes 1.. are writable (contract) and not read until the status is non-zero.
    unsafe { std::ptr::copy_nonoverlapping(rec.as_ptr().add(1), p.add(1), rec.len() - 1) };
    fence(Ordering::Release);
    // SAFETY: byte 0 is the status byte, accessed atomically by both sides.
    unsafe { &*(p as *const AtomicU8) }.store(rec[0], Ordering::Release);
    Ok(())
}

/// Why a source could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReadError {
    /// The range cannot be a buffer (null, wrapping).
    BadRange,
    /// Not mapped readable from this byte on: the device's page fault.
    Fault(u64),
}

/// Copy the `len` source bytes at `addr` into `buf` (resized to `len`; it keeps its capacity
/// from job to job, so a warm engine does not allocate). The read goes through
/// `process_vm_readv` on this process, so an address that is no longer mapped (a caller's
/// buffer freed after its unit was abandoned) gives `Fault` as a device's page fault would,
/// instead of crashing the process; only where that call is refused (some seccomp profiles)
/// is the memory read directly, under the module contract.
pub(crate) fn read_into(addr: u64, len: usize, buf: &mut Vec<u8>) -> Result<(), ReadError> {
    check(addr, len).map_err(|_| ReadError::BadRange)?;
    buf.clear();
    buf.resize(len, 0);
    if len == 0 {
        return Ok(());
    }
    let local = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: len,
    };
    let remote = libc::iovec {
        iov_base: addr as usize as *mut libc::c_void,
        iov_len: len,
    };
    // SAFETY: `local` names `buf`'s `len` initialised bytes, written by the kernel only; the
    // remote range is only read, by the kernel, which checks the mapping and reports what it
    // could not read instead of faulting.
    let n = unsafe { libc::process_vm_readv(libc::getpid(), &local, 1, &remote, 1, 0) };
    if n == len as isize {
        return Ok(());
    }
    if n >= 0 {
        return Err(ReadError::Fault(addr + n as u64));
    }
    match std::io::Error::last_os_error().raw_os_error() {
        Some(libc::EFAULT) => Err(ReadError::Fault(addr)),
        _ => {
            // The call is not allowed here: read directly, as before.
            // SAFETY: the module contract (the submitter keeps the source readable).
            let src = unsafe { src(addr, len) }.map_err(|_| ReadError::BadRange)?;
            buf.copy_from_slice(src);
            Ok(())
        }
    }
}
