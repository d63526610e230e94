//! The few instructions that talk to a real portal. Each is one tiny function; callers check
//! [`crate::CpuFeatures`] first and never reach these on a CPU that lacks the instruction.
//! They cannot run on machines without a device, so everything around them is unit-tested
//! instead (offset rotation, credits, retry bounds, feature checks).

/// Store fence: every earlier store (descriptor, AECS, source data, zeroed record) is globally
/// visible before the following portal write (spec §6.4 step 2).
#[inline(always)]
pub(crate) fn store_fence() {
    core::sync::atomic::fence(core::sync::atomic::Ordering::Release);
    #[cfg(target_arch = "x86_64")]
    // SAFETY: SFENCE has no operands and no preconditions; SSE is part of the x86_64 baseline.
    unsafe {
        core::arch::x86_64::_mm_sfence()
    };
}

/// MOVDIR64B: a posted 64-byte write of `*src` to the portal address `dst`.
///
/// # Safety
/// The CPU supports MOVDIR64B; `dst` is 64-byte aligned inside a mapped portal page; `src`
/// points to 64 readable bytes.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(crate) unsafe fn movdir64b(dst: *mut u8, src: *const [u8; 64]) {
    // movdir64b rax, [rdx] = 66 0F 38 F8 /r with ModRM 0x02 (reg = rax, rm = [rdx]).
    // SAFETY: guaranteed by the caller (see the function's contract).
    unsafe {
        core::arch::asm!(
            ".byte 0x66, 0x0f, 0x38, 0xf8, 0x02",
            in("rax") dst,
            in("rdx") src,
            options(nostack, preserves_flags)
        )
    };
}

/// ENQCMD: a non-posted 64-byte enqueue of `*src` to the portal `dst`. Returns `true` when the
/// device accepted it, `false` when it answered "retry" (ZF = 1).
///
/// # Safety
/// The CPU supports ENQCMD; `dst` is 64-byte aligned inside a mapped shared-WQ portal page;
/// `src` points to 64 readable bytes; the process has a PASID (the idxd cdev open gave it one).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(crate) unsafe fn enqcmd(dst: *mut u8, src: *const [u8; 64]) -> bool {
    let retry: u8;
    // enqcmd rax, [rdx] = F2 0F 38 F8 /r with ModRM 0x02; ZF = 1 means "retry".
    // SAFETY: guaranteed by the caller (see the function's contract).
    unsafe {
        core::arch::asm!(
            ".byte 0xf2, 0x0f, 0x38, 0xf8, 0x02",
            "setz {r}",
            r = out(reg_byte) retry,
            in("rax") dst,
            in("rdx") src,
            options(nostack)
        )
    };
    retry == 0
}

/// Non-x86 builds have no portal instructions; the feature check refuses them before this.
#[cfg(not(target_arch = "x86_64"))]
pub(crate) unsafe fn movdir64b(_dst: *mut u8, _src: *const [u8; 64]) {
    unreachable!("CpuFeatures never reports MOVDIR64B off x86_64")
}

/// Non-x86 builds have no portal instructions; the feature check refuses them before this.
#[cfg(not(target_arch = "x86_64"))]
pub(crate) unsafe fn enqcmd(_dst: *mut u8, _src: *const [u8; 64]) -> bool {
    unreachable!("CpuFeatures never reports ENQCMD off x86_64")
}

/// `write(2)` of one 64-byte descriptor to the WQ's character device (the kernel submits it).
/// Returns the raw result of `write`.
pub(crate) fn write_desc(fd: std::os::fd::BorrowedFd<'_>, desc: &[u8; 64]) -> isize {
    use std::os::fd::AsRawFd;
    // SAFETY: `desc` is 64 readable bytes for the duration of the call; the fd is open (it is
    // borrowed from an OwnedFd the work queue keeps).
    unsafe { libc::write(fd.as_raw_fd(), desc.as_ptr().cast(), 64) }
}
