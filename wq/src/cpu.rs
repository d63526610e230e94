//! CPU features that decide which submission instruction may run, read once with CPUID.

use std::sync::OnceLock;

/// The CPU features the work queue cares about (CPUID leaf 7, sub-leaf 0, ECX).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct CpuFeatures {
    /// MOVDIR64B (ECX bit 28): 64-byte direct store, the dedicated-WQ submission.
    pub movdir64b: bool,
    /// ENQCMD (ECX bit 29): enqueue command, the shared-WQ submission. Set only when the
    /// kernel also lists `enqcmd` in `/proc/cpuinfo` ([`kernel_enables_enqcmd`]): kernels 5.13
    /// to 5.17 disable it (no PASID is given to the process, so ENQCMD would fault), and
    /// submission then uses `write(2)`.
    pub enqcmd: bool,
    /// WAITPKG (ECX bit 5): UMONITOR/UMWAIT/TPAUSE.
    pub waitpkg: bool,
}

/// Bit positions in CPUID.(EAX=7,ECX=0):ECX.
const ECX_WAITPKG: u32 = 5;
const ECX_MOVDIR64B: u32 = 28;
const ECX_ENQCMD: u32 = 29;

impl CpuFeatures {
    /// Decode the ECX value of CPUID leaf 7 sub-leaf 0.
    pub const fn from_leaf7_ecx(ecx: u32) -> Self {
        CpuFeatures {
            movdir64b: ecx & (1 << ECX_MOVDIR64B) != 0,
            enqcmd: ecx & (1 << ECX_ENQCMD) != 0,
            waitpkg: ecx & (1 << ECX_WAITPKG) != 0,
        }
    }

    /// The features of the CPU this process runs on, detected on first use and cached.
    pub fn get() -> CpuFeatures {
        static CACHE: OnceLock<CpuFeatures> = OnceLock::new();
        *CACHE.get_or_init(|| {
            let mut f = detect();
            if f.enqcmd {
                f.enqcmd = std::fs::read_to_string("/proc/cpuinfo")
                    .is_ok_and(|s| kernel_enables_enqcmd(&s));
            }
            f
        })
    }
}

/// Whether the kernel lets processes use ENQCMD: the `flags` line of `/proc/cpuinfo` lists
/// `enqcmd` (the kernel clears the feature when it does not support PASIDs for user space).
pub fn kernel_enables_enqcmd(cpuinfo: &str) -> bool {
    cpuinfo
        .lines()
        .filter(|l| l.starts_with("flags"))
        .filter_map(|l| l.split_once(':'))
        .any(|(_, flags)| flags.split_whitespace().any(|f| f == "enqcmd"))
}

#[cfg(target_arch = "x86_64")]
#[allow(unused_unsafe)] // the CPUID intrinsics are safe fns on newer toolchains
fn detect() -> CpuFeatures {
    use core::arch::x86_64::{__cpuid, __cpuid_count};
    // SAFETY: CPUID exists on every x86_64 CPU; leaf 0 gives the highest leaf, and leaf 7 is only
    // queried when it exists.
    let max_leaf = unsafe { __cpuid(0) }.eax;
    if max_leaf < 7 {
        return CpuFeatures::default();
    }
    // SAFETY: as above; leaf 7 is supported (checked).
    let ecx = unsafe { __cpuid_count(7, 0) }.ecx;
    CpuFeatures::from_leaf7_ecx(ecx)
}

#[cfg(not(target_arch = "x86_64"))]
fn detect() -> CpuFeatures {
    CpuFeatures::default()
}

/// The CPU the calling thread runs on now (`sched_getcpu`), or `None` when the kernel cannot
/// say. The thread may migrate right after; callers use it as a hint (which per-CPU context to
/// try first), never as a lock.
pub fn current_cpu() -> Option<usize> {
    // SAFETY: sched_getcpu takes no arguments and only reads the current CPU number.
    let c = unsafe { libc::sched_getcpu() };
    usize::try_from(c).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enqcmd_needs_the_kernels_flag() {
        let spr = "processor\t: 0\nflags\t\t: fpu vme movdiri movdir64b enqcmd fsrm\n";
        assert!(kernel_enables_enqcmd(spr));
        // 5.13-5.17: the CPU has it (CPUID) but the kernel cleared it.
        let off = "processor\t: 0\nflags\t\t: fpu vme movdiri movdir64b fsrm\n";
        assert!(!kernel_enables_enqcmd(off));
        assert!(!kernel_enables_enqcmd("flags : enqcmdx\n"));
        assert!(!kernel_enables_enqcmd(""));
    }

    #[test]
    fn decodes_leaf7_bits() {
        assert_eq!(CpuFeatures::from_leaf7_ecx(0), CpuFeatures::default());
        let f = CpuFeatures::from_leaf7_ecx(1 << 28);
        assert!(f.movdir64b && !f.enqcmd && !f.waitpkg);
        let f = CpuFeatures::from_leaf7_ecx(1 << 29);
        assert!(!f.movdir64b && f.enqcmd && !f.waitpkg);
        let f = CpuFeatures::from_leaf7_ecx(1 << 5);
        assert!(!f.movdir64b && !f.enqcmd && f.waitpkg);
        // Neighbouring bits (MOVDIRI = 27) do not count.
        assert_eq!(CpuFeatures::from_leaf7_ecx(1 << 27), CpuFeatures::default());
    }

    #[test]
    fn detection_is_cached_and_stable() {
        assert_eq!(CpuFeatures::get(), CpuFeatures::get());
        assert_eq!(CpuFeatures::get(), detect());
    }
}
