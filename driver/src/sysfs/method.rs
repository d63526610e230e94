//! Which instruction or system call would submit descriptors to a usable WQ, given the CPU.

use super::{SubmissionKind, WqMode, WqStatus};
use serde::Serialize;

/// CPU support for the user-mode submission instructions (CPUID.(7,0):ECX bits 28 and 29).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CpuSubmit {
    /// MOVDIR64B (dedicated WQs).
    pub movdir64b: bool,
    /// ENQCMD (shared WQs).
    pub enqcmd: bool,
}

impl CpuSubmit {
    /// Read CPUID (all false on non-x86-64 targets).
    pub fn detect() -> Self {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::x86_64::__cpuid;
            #[allow(unused_unsafe)]
            // SAFETY: CPUID is available on every x86-64 CPU and has no side effects.
            let max_leaf = unsafe { __cpuid(0) }.eax;
            if max_leaf < 7 {
                return CpuSubmit {
                    movdir64b: false,
                    enqcmd: false,
                };
            }
            #[allow(unused_unsafe)]
            // SAFETY: as above; leaf 7 exists (checked).
            let ecx = unsafe { std::arch::x86_64::__cpuid_count(7, 0) }.ecx;
            CpuSubmit {
                movdir64b: ecx & (1 << 28) != 0,
                enqcmd: ecx & (1 << 29) != 0,
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        CpuSubmit {
            movdir64b: false,
            enqcmd: false,
        }
    }
}

/// How descriptors would be submitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SubmitMethod {
    /// MOVDIR64B to the mapped portal (dedicated WQ).
    Movdir64b,
    /// ENQCMD to the mapped portal, with bounded retry (shared WQ).
    Enqcmd,
    /// `write(2)` of descriptors on the WQ file descriptor (the kernel submits them).
    Write,
}

impl SubmitMethod {
    /// Short lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            SubmitMethod::Movdir64b => "movdir64b",
            SubmitMethod::Enqcmd => "enqcmd",
            SubmitMethod::Write => "write",
        }
    }
}

/// The method for a WQ: `None` if unusable. A mapped portal whose instruction the CPU lacks
/// falls back to `write(2)` on the same file descriptor.
pub fn submit_method(status: &WqStatus, cpu: CpuSubmit) -> Option<SubmitMethod> {
    match status {
        WqStatus::Unusable { .. } => None,
        WqStatus::Usable {
            submission: SubmissionKind::Write,
            ..
        } => Some(SubmitMethod::Write),
        WqStatus::Usable {
            submission: SubmissionKind::MmapPortal,
            mode,
            ..
        } => Some(match mode {
            WqMode::Dedicated if cpu.movdir64b => SubmitMethod::Movdir64b,
            WqMode::Shared if cpu.enqcmd => SubmitMethod::Enqcmd,
            _ => SubmitMethod::Write,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sysfs::UnusableReason;
    use std::path::PathBuf;

    #[test]
    fn method_table() {
        let usable = |submission, mode| WqStatus::Usable {
            submission,
            mode,
            node: PathBuf::from("/dev/iax/wq1.0"),
        };
        let all = CpuSubmit {
            movdir64b: true,
            enqcmd: true,
        };
        let none = CpuSubmit {
            movdir64b: false,
            enqcmd: false,
        };
        use SubmissionKind::*;
        use WqMode::*;
        assert_eq!(
            submit_method(&usable(MmapPortal, Dedicated), all),
            Some(SubmitMethod::Movdir64b)
        );
        assert_eq!(
            submit_method(&usable(MmapPortal, Shared), all),
            Some(SubmitMethod::Enqcmd)
        );
        assert_eq!(
            submit_method(&usable(MmapPortal, Shared), none),
            Some(SubmitMethod::Write)
        );
        assert_eq!(
            submit_method(&usable(MmapPortal, Dedicated), none),
            Some(SubmitMethod::Write)
        );
        assert_eq!(
            submit_method(&usable(Write, Dedicated), all),
            Some(SubmitMethod::Write)
        );
        let un = WqStatus::Unusable {
            reason: UnusableReason::NoName,
        };
        assert_eq!(submit_method(&un, all), None);
        // Detection runs and is stable.
        assert_eq!(CpuSubmit::detect(), CpuSubmit::detect());
    }
}
