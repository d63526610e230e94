//! Whether a WQ can be used by this library, and if not, why, in words an administrator can act
//! on.

use super::open::{OpenError, SubmissionKind};
use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};
use std::fmt;
use std::path::PathBuf;

/// Dedicated or shared WQ (sysfs `mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WqMode {
    /// One opener; MOVDIR64B; the submitter bounds its own in-flight count.
    Dedicated,
    /// Many openers; ENQCMD with retry; needs PASID/SVA.
    Shared,
}

/// The usability verdict for one WQ.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum WqStatus {
    /// This library can submit to the WQ.
    Usable {
        /// Portal mapping or `write(2)`.
        submission: SubmissionKind,
        /// Dedicated or shared.
        mode: WqMode,
        /// The character device node that was opened.
        node: PathBuf,
    },
    /// The WQ cannot be used; the reason says what to do.
    Unusable {
        /// Why.
        reason: UnusableReason,
    },
}

impl WqStatus {
    /// Whether the status is [`WqStatus::Usable`].
    pub fn is_usable(&self) -> bool {
        matches!(self, WqStatus::Usable { .. })
    }

    /// The reason, if unusable.
    pub fn reason(&self) -> Option<&UnusableReason> {
        match self {
            WqStatus::Unusable { reason } => Some(reason),
            WqStatus::Usable { .. } => None,
        }
    }
}

/// Why a WQ cannot be used. Each variant's `Display` tells the administrator what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnusableReason {
    /// An attribute needed to decide is missing or not in the kernel's format.
    BadAttribute {
        /// The problem, with the file path.
        detail: String,
    },
    /// The device is halted (hardware or software error).
    DeviceHalted {
        /// Device name, e.g. `iax1`.
        device: String,
    },
    /// The device is not enabled.
    DeviceNotEnabled {
        /// Device name.
        device: String,
        /// The state it reported.
        state: String,
        /// The device's `cmd_status`, decoded, if it records a failure.
        last_error: Option<String>,
    },
    /// WQ type `kernel`: owned by an in-kernel user (iaa_crypto, dmaengine).
    KernelOwned {
        /// The driver the WQ is bound to, if the kernel reports it.
        driver_name: Option<String>,
    },
    /// WQ type `none`: not configured.
    NotConfigured,
    /// A user WQ whose driver is not `user` (e.g. `crypto`, `dmaengine`).
    DriverNotUser {
        /// The bound driver.
        driver_name: String,
    },
    /// The WQ has no name (the kernel refuses to enable a user WQ without one).
    NoName,
    /// The WQ is not enabled.
    WqDisabled {
        /// Device name.
        device: String,
        /// WQ name.
        wq: String,
        /// The state it reported.
        state: String,
        /// The device's `cmd_status`, decoded, if it records a failure (why the last enable
        /// failed).
        last_error: Option<String>,
    },
    /// The device has no PASID/SVA support enabled, so user WQs cannot work.
    NoPasid {
        /// Device name.
        device: String,
    },
    /// The WQ's `op_config` allows neither compress nor decompress.
    OpConfigLacksCompression,
    /// The WQ's maximum transfer size is below what this library needs.
    MaxTransferTooSmall {
        /// The WQ's `max_transfer_size`.
        have: u64,
        /// The minimum this library was configured with.
        need: u64,
    },
    /// The character device node does not exist.
    NodeMissing {
        /// Where it was expected.
        path: PathBuf,
    },
    /// Opening the node was refused by file permissions.
    PermissionDenied {
        /// The node.
        path: PathBuf,
    },
    /// A dedicated WQ is already opened by another process (EBUSY).
    DedicatedBusy {
        /// The node.
        path: PathBuf,
    },
    /// `open` failed for another reason.
    OpenFailed {
        /// The node.
        path: PathBuf,
        /// The `errno`.
        errno: i32,
    },
    /// `mmap` failed with an error other than EPERM.
    MmapFailed {
        /// The node.
        path: PathBuf,
        /// The `errno`.
        errno: i32,
    },
    /// `mmap` was refused (no CAP_SYS_RAWIO) and the `write(2)` NOOP probe failed too.
    WriteProbeFailed {
        /// The node.
        path: PathBuf,
        /// What the probe saw.
        detail: String,
    },
}

impl UnusableReason {
    /// A stable snake_case code for machine-readable output.
    pub fn code(&self) -> &'static str {
        match self {
            UnusableReason::BadAttribute { .. } => "bad_attribute",
            UnusableReason::DeviceHalted { .. } => "device_halted",
            UnusableReason::DeviceNotEnabled { .. } => "device_not_enabled",
            UnusableReason::KernelOwned { .. } => "kernel_owned",
            UnusableReason::NotConfigured => "not_configured",
            UnusableReason::DriverNotUser { .. } => "driver_not_user",
            UnusableReason::NoName => "no_name",
            UnusableReason::WqDisabled { .. } => "wq_disabled",
            UnusableReason::NoPasid { .. } => "no_pasid",
            UnusableReason::OpConfigLacksCompression => "op_config_lacks_compression",
            UnusableReason::MaxTransferTooSmall { .. } => "max_transfer_too_small",
            UnusableReason::NodeMissing { .. } => "node_missing",
            UnusableReason::PermissionDenied { .. } => "permission_denied",
            UnusableReason::DedicatedBusy { .. } => "dedicated_busy",
            UnusableReason::OpenFailed { .. } => "open_failed",
            UnusableReason::MmapFailed { .. } => "mmap_failed",
            UnusableReason::WriteProbeFailed { .. } => "write_probe_failed",
        }
    }

    /// Map an open failure on `path` to a reason.
    pub fn from_open_error(path: PathBuf, e: OpenError) -> Self {
        match e {
            OpenError::NotFound => UnusableReason::NodeMissing { path },
            OpenError::PermissionDenied => UnusableReason::PermissionDenied { path },
            OpenError::Busy => UnusableReason::DedicatedBusy { path },
            OpenError::Open { errno } => UnusableReason::OpenFailed { path, errno },
            OpenError::Mmap { errno } => UnusableReason::MmapFailed { path, errno },
        }
    }
}

impl fmt::Display for UnusableReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UnusableReason::BadAttribute { detail } => write!(
                f,
                "cannot read the WQ configuration ({detail}); check the kernel's idxd driver version"
            ),
            UnusableReason::DeviceHalted { device } => write!(
                f,
                "device {device} is halted after an error; reset it with \
                 `accel-config disable-device {device}` then `accel-config enable-device {device}` \
                 (see dmesg for the cause)"
            ),
            UnusableReason::DeviceNotEnabled {
                device,
                state,
                last_error,
            } => {
                write!(
                    f,
                    "device {device} is {state}; configure it and run `accel-config enable-device {device}`"
                )?;
                if let Some(e) = last_error {
                    write!(f, " (last command: {e})")?;
                }
                Ok(())
            }
            UnusableReason::KernelOwned { driver_name } => {
                let owner = match driver_name.as_deref() {
                    Some(d) if !d.is_empty() => format!(" (bound to `{d}`)"),
                    _ => String::new(),
                };
                write!(
                    f,
                    "WQ type is kernel{owner}: it belongs to an in-kernel user such as iaa_crypto or \
                     dmaengine; configure a separate WQ with --type=user --driver-name=user"
                )
            }
            UnusableReason::NotConfigured => write!(
                f,
                "WQ is not configured (type none); configure it with `accel-config config-wq \
                 --type=user --driver-name=user --name=<app> ...`"
            ),
            UnusableReason::DriverNotUser { driver_name } => write!(
                f,
                "WQ is bound to driver `{driver_name}`, not `user`; reconfigure it with \
                 --driver-name=user to get a /dev node for applications"
            ),
            UnusableReason::NoName => write!(
                f,
                "WQ has no name; user WQs need one: `accel-config config-wq --name=<app> ...`"
            ),
            UnusableReason::WqDisabled {
                device,
                wq,
                state,
                last_error,
            } => {
                write!(
                    f,
                    "WQ is {state}; enable it with `accel-config enable-wq {device}/{wq}`"
                )?;
                if let Some(e) = last_error {
                    write!(f, " (last command: {e})")?;
                }
                Ok(())
            }
            UnusableReason::NoPasid { device } => write!(
                f,
                "device {device} has PASID/SVA disabled (pasid_enabled=0), so user WQs cannot work; \
                 boot the kernel with intel_iommu=on,sm_on (IOMMU scalable mode)"
            ),
            UnusableReason::OpConfigLacksCompression => write!(
                f,
                "WQ op_config allows neither compress (0x43) nor decompress (0x42); set op_config \
                 to include them"
            ),
            UnusableReason::MaxTransferTooSmall { have, need } => write!(
                f,
                "WQ max_transfer_size is {have} bytes, below the {need} bytes this library needs; \
                 set --max-transfer-size={need} or more"
            ),
            UnusableReason::NodeMissing { path } => write!(
                f,
                "device node {} does not exist; check that the WQ is enabled with the `user` driver \
                 and that udev created the node",
                path.display()
            ),
            UnusableReason::PermissionDenied { path } => write!(
                f,
                "permission denied opening {}; add a udev rule or `chmod`/`chgrp` the node so this \
                 user can open it read-write",
                path.display()
            ),
            UnusableReason::DedicatedBusy { path } => write!(
                f,
                "dedicated WQ {} is already opened by another process (EBUSY); a dedicated WQ has \
                 one opener: use a shared WQ or another dedicated WQ",
                path.display()
            ),
            UnusableReason::OpenFailed { path, errno } => write!(
                f,
                "opening {} failed: {}",
                path.display(),
                std::io::Error::from_raw_os_error(*errno)
            ),
            UnusableReason::MmapFailed { path, errno } => write!(
                f,
                "mapping the portal of {} failed: {}",
                path.display(),
                std::io::Error::from_raw_os_error(*errno)
            ),
            UnusableReason::WriteProbeFailed { path, detail } => write!(
                f,
                "mmap of {} was refused (the process lacks CAP_SYS_RAWIO, required since \
                 INTEL-SA-01084) and the write(2) fallback failed a NOOP probe ({detail}); grant \
                 CAP_SYS_RAWIO (`setcap cap_sys_rawio+ep <binary>`) or check the kernel supports \
                 write(2) submission (Linux 6.9+ or a stable backport)",
                path.display()
            ),
        }
    }
}

impl Serialize for UnusableReason {
    /// Serialised as `{"code": "...", "message": "..."}`.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("UnusableReason", 2)?;
        st.serialize_field("code", self.code())?;
        st.serialize_field("message", &self.to_string())?;
        st.end()
    }
}
