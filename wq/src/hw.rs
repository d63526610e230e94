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

/// UMONITOR the cache line of `addr`, then UMWAIT (state C0.1, the lighter one) until it is
/// written, `cycles` TSC cycles pass, or the OS limit (IA32_UMWAIT_CONTROL) ends the wait.
/// The caller re-checks the status after arming the monitor through `still_pending`: a write
/// that landed before UMONITOR would otherwise be missed until the deadline.
///
/// # Safety
/// The CPU supports WAITPKG (CPUID.7.0:ECX[5]); `addr` is a valid address of this process.
#[cfg(target_arch = "x86_64")]
#[inline]
pub(crate) unsafe fn umwait_on(addr: *const u8, cycles: u64, still_pending: impl Fn() -> bool) {
    // umonitor rax = F3 0F AE /6 with ModRM 0xF0 (mod 11, reg 6, rm rax).
    // SAFETY: guaranteed by the caller; UMONITOR only arms address monitoring.
    unsafe {
        core::arch::asm!(".byte 0xf3, 0x0f, 0xae, 0xf0", in("rax") addr, options(nostack, preserves_flags))
    };
    if !still_pending() {
        return;
    }
    // SAFETY: RDTSC has no preconditions on x86_64.
    let deadline = unsafe { core::arch::x86_64::_rdtsc() }.wrapping_add(cycles);
    // umwait ecx = F2 0F AE /6 with ModRM 0xF1 (mod 11, reg 6, rm ecx); EDX:EAX = deadline;
    // ECX bit 0 = 1 selects C0.1. CF reports an OS-limited wake, which we do not need.
    // SAFETY: guaranteed by the caller (WAITPKG present).
    unsafe {
        core::arch::asm!(
            ".byte 0xf2, 0x0f, 0xae, 0xf1",
            in("ecx") 1u32,
            in("eax") deadline as u32,
            in("edx") (deadline >> 32) as u32,
            options(nostack)
        )
    };
}

/// Non-x86 builds have no WAITPKG; the feature check refuses it before this.
#[cfg(not(target_arch = "x86_64"))]
pub(crate) unsafe fn umwait_on(_addr: *const u8, _cycles: u64, _still_pending: impl Fn() -> bool) {
    unreachable!("CpuFeatures never reports WAITPKG off x86_64")
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
