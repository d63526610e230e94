//! Opening a WQ character device (`/dev/iax/wqX.Y`) and mapping its portal page.
//!
//! The kernel maps exactly one page, the WQ's *limited portal*, uncached (spec §7.1). Since the
//! INTEL-SA-01084 fix, SPR devices refuse `mmap` with `EPERM` unless the process has
//! `CAP_SYS_RAWIO`; the WQ is then still usable through `write(2)` of 64-byte descriptors on the
//! same file descriptor, so [`OpenedWq`] keeps the descriptor and reports
//! [`SubmissionKind::Write`].
//!
//! When `mmap` is refused, the `write(2)` path is not assumed to work: it is probed with one NOOP
//! descriptor whose completion record must come back with status "success" within a time budget
//! ([`probe_write_noop`]), as QPL does before falling back to `write(2)`.
//!
//! The [`CdevOpener`] trait separates the system calls from the decisions, so tests inject the
//! `EPERM`/`EBUSY`/`EACCES` outcomes and probe failures with [`FakeOpener`].

use serde::Serialize;
use std::collections::HashMap;
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::ptr::NonNull;
use std::time::{Duration, Instant};

/// Time budget of the `write(2)` NOOP probe (a NOOP completes in microseconds).
pub const WRITE_PROBE_BUDGET: Duration = Duration::from_millis(100);

/// Why the `write(2)` submission probe failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ProbeError {
    /// `write(2)` returned an error (EAGAIN: shared WQ full / retries exhausted; EPERM: caller
    /// is not the opener's mm; EINVAL: descriptor refused).
    #[error("write(2) of a NOOP descriptor failed: {}", std::io::Error::from_raw_os_error(*errno))]
    Write {
        /// The errno.
        errno: i32,
    },
    /// `write(2)` accepted fewer than 64 bytes.
    #[error("write(2) accepted {written} of 64 bytes")]
    Short {
        /// Bytes accepted.
        written: usize,
    },
    /// The completion record did not arrive in time (its memory is deliberately leaked, since
    /// the device may still write it).
    #[error("NOOP not completed within {budget_ms} ms")]
    Timeout {
        /// The budget.
        budget_ms: u64,
    },
    /// The NOOP completed with an error status.
    #[error("NOOP completed with status {status:#04x}")]
    Status {
        /// The status byte.
        status: u8,
    },
}

/// A NOOP descriptor (opcode 0, the same on IAA and DSA) with flags CRAV | RCR and completion
/// record address `completion` (spec §1: flags in bits 23:0 of dword 1, opcode in byte 7,
/// completion address at byte 8); every other byte zero.
pub fn noop_descriptor(completion: u64) -> [u8; 64] {
    const CRAV: u8 = 1 << 2;
    const RCR: u8 = 1 << 3;
    let mut d = [0u8; 64];
    d[4] = CRAV | RCR;
    d[8..16].copy_from_slice(&completion.to_le_bytes());
    d
}

/// A completion record slot, 64-byte aligned (IAA needs 64, DSA 32).
#[repr(C, align(64))]
struct ProbeRecord([u8; 64]);

/// Submit one NOOP through `write(2)` on `fd` and wait up to `budget` for its completion record.
/// The record slot is 64-byte aligned, which satisfies both IAA (64) and DSA (32).
pub fn probe_write_noop(fd: BorrowedFd<'_>, budget: Duration) -> Result<(), ProbeError> {
    // The record is written by the device; keep it as a raw heap pointer (never a reference
    // while the device may write it).
    let rec: *mut ProbeRecord = Box::into_raw(Box::new(ProbeRecord([0; 64])));
    let addr = rec as u64;
    let desc = noop_descriptor(addr);
    let free = |rec: *mut ProbeRecord| {
        // SAFETY: `rec` came from Box::into_raw above and is freed once, only when the device
        // is known not to write it any more (completed, or never submitted).
        drop(unsafe { Box::from_raw(rec) });
    };
    // SAFETY: `desc` is a live 64-byte buffer; the fd is borrowed for the call.
    let n = unsafe { libc::write(fd.as_raw_fd(), desc.as_ptr().cast(), desc.len()) };
    if n < 0 {
        free(rec);
        return Err(ProbeError::Write {
            errno: last_errno(),
        });
    }
    if n as usize != desc.len() {
        // The kernel accepts whole 64-byte descriptors, so fewer than 64 bytes means none was
        // submitted and the record is not in use.
        free(rec);
        return Err(ProbeError::Short {
            written: n as usize,
        });
    }
    let start = Instant::now();
    loop {
        // SAFETY: `rec` is live (not freed until here); a volatile byte read of memory the
        // device writes.
        let status = unsafe { std::ptr::addr_of!((*rec).0[0]).read_volatile() };
        if status != 0 {
            std::sync::atomic::fence(std::sync::atomic::Ordering::Acquire);
            free(rec);
            return if status & 0x7f == 1 {
                Ok(())
            } else {
                Err(ProbeError::Status { status })
            };
        }
        if start.elapsed() >= budget {
            // Leak: a late completion must land in memory nobody else owns.
            return Err(ProbeError::Timeout {
                budget_ms: budget.as_millis() as u64,
            });
        }
        std::thread::yield_now();
    }
}

/// Size of the portal mapping the kernel allows (one 4 KiB page).
pub const PORTAL_SIZE: usize = 4096;

/// How descriptors reach the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SubmissionKind {
    /// The portal page is mapped: MOVDIR64B (dedicated) or ENQCMD (shared) from user space.
    MmapPortal,
    /// `mmap` was refused (no `CAP_SYS_RAWIO`); descriptors are submitted with `write(2)` on
    /// the WQ file descriptor and the kernel issues them.
    Write,
}

/// Why opening a WQ failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OpenError {
    /// The node does not exist (`ENOENT`/`ENODEV`/`ENXIO`).
    #[error("device node not found")]
    NotFound,
    /// `open` was refused with `EACCES` or `EPERM` (file permissions).
    #[error("permission denied opening the device node")]
    PermissionDenied,
    /// `EBUSY`: a dedicated WQ is already opened by another file (dedicated WQs take exactly one
    /// opener).
    #[error("dedicated WQ already opened elsewhere (EBUSY)")]
    Busy,
    /// Any other `open` error.
    #[error("open failed with errno {errno}")]
    Open {
        /// The `errno` value.
        errno: i32,
    },
    /// `mmap` failed with something other than `EPERM`.
    #[error("mmap of the portal failed with errno {errno}")]
    Mmap {
        /// The `errno` value.
        errno: i32,
    },
}

impl OpenError {
    /// Classify an `open(2)` errno.
    pub fn from_open_errno(errno: i32) -> Self {
        match errno {
            libc::ENOENT | libc::ENODEV | libc::ENXIO => OpenError::NotFound,
            libc::EACCES | libc::EPERM => OpenError::PermissionDenied,
            libc::EBUSY => OpenError::Busy,
            e => OpenError::Open { errno: e },
        }
    }
}

/// A mapped portal page; unmapped on drop.
///
/// Only a raw pointer is handed out: portal memory is write-only MMIO that must be written with
/// MOVDIR64B/ENQCMD by the `wq` crate, never through Rust references.
#[derive(Debug)]
pub struct PortalMapping {
    ptr: NonNull<u8>,
    len: usize,
    /// The anonymous stand-in's mapping (`memmap2`); `None` for a real portal, which is
    /// unmapped in Drop.
    anon: Option<memmap2::MmapRaw>,
}

// SAFETY: the mapping is process-wide (not tied to the creating thread) and this type only
// exposes its address; whoever writes through it is responsible for synchronisation.
unsafe impl Send for PortalMapping {}
// SAFETY: as above; `&PortalMapping` gives no access to the memory besides the raw address.
unsafe impl Sync for PortalMapping {}

impl PortalMapping {
    /// Map one portal page of `fd` (write-only, shared, pre-faulted). Returns the errno on
    /// failure. With `mmap(2)` directly: `memmap2` maps files readable, and a portal is mapped
    /// `PROT_WRITE` only, as the kernel's and accel-config's own users map it.
    pub fn map(fd: BorrowedFd<'_>) -> Result<Self, i32> {
        // SAFETY: a fresh mapping at an address chosen by the kernel; it does not alias any Rust
        // object. The fd is valid for the duration of the call (borrowed).
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                PORTAL_SIZE,
                libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_POPULATE,
                fd.as_raw_fd(),
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(last_errno());
        }
        NonNull::new(p.cast::<u8>())
            .map(|ptr| PortalMapping {
                ptr,
                len: PORTAL_SIZE,
                anon: None,
            })
            .ok_or(libc::EINVAL)
    }

    /// An anonymous private page standing in for a portal (used by [`FakeOpener`], so the fake
    /// hands out a real mapping with the same lifetime rules).
    pub fn anonymous() -> Result<Self, i32> {
        let map = memmap2::MmapOptions::new()
            .len(PORTAL_SIZE)
            .map_anon()
            .map(memmap2::MmapRaw::from)
            .map_err(|e| e.raw_os_error().unwrap_or(libc::ENOMEM))?;
        let ptr = NonNull::new(map.as_mut_ptr()).ok_or(libc::EINVAL)?;
        Ok(PortalMapping {
            ptr,
            len: PORTAL_SIZE,
            anon: Some(map),
        })
    }

    /// Start address of the portal page.
    pub fn as_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    /// Length of the mapping in bytes (one page).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Always false: a mapping is never empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl Drop for PortalMapping {
    fn drop(&mut self) {
        if self.anon.is_some() {
            return; // memmap2 unmaps it
        }
        // SAFETY: `ptr`/`len` describe the mapping created by `map` and not unmapped
        // elsewhere; no references into it exist (only raw pointers were handed out).
        unsafe {
            libc::munmap(self.ptr.as_ptr().cast(), self.len);
        }
    }
}

/// An opened WQ: the file descriptor and, when `mmap` was allowed, the portal mapping.
#[derive(Debug)]
pub struct OpenedWq {
    path: PathBuf,
    // Field order matters: the mapping is dropped (unmapped) before the fd is closed.
    portal: Option<PortalMapping>,
    fd: OwnedFd,
}

impl OpenedWq {
    /// Assemble from parts (used by [`CdevOpener`] implementations).
    pub fn new(path: PathBuf, fd: OwnedFd, portal: Option<PortalMapping>) -> Self {
        OpenedWq { path, portal, fd }
    }

    /// The WQ file descriptor: `write(2)` submission goes through it (and it must stay open as
    /// long as the portal is used).
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// The mapped portal, if `mmap` was allowed.
    pub fn portal(&self) -> Option<&PortalMapping> {
        self.portal.as_ref()
    }

    /// Path of the node that was opened.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Take it apart: the node path, the fd and the portal mapping (unmap the mapping before
    /// closing the fd, or keep both together).
    pub fn into_parts(self) -> (PathBuf, OwnedFd, Option<PortalMapping>) {
        (self.path, self.fd, self.portal)
    }

    /// How descriptors can be submitted on this WQ.
    pub fn submission(&self) -> SubmissionKind {
        if self.portal.is_some() {
            SubmissionKind::MmapPortal
        } else {
            SubmissionKind::Write
        }
    }
}

/// Opens WQ character devices.
pub trait CdevOpener {
    /// Open `path` read-write and try to map its portal. `mmap` refused with `EPERM` is *not* an
    /// error: the result then has no portal and [`SubmissionKind::Write`].
    fn open(&self, path: &Path) -> Result<OpenedWq, OpenError>;

    /// Check that `write(2)` submission works on `wq` (called when `mmap` was refused).
    fn probe_write(&self, wq: &OpenedWq) -> Result<(), ProbeError>;
}

/// The real opener: `open(2)` with `O_RDWR | O_CLOEXEC`, then `mmap` of one page.
#[derive(Debug, Clone, Copy, Default)]
pub struct RealOpener;

impl CdevOpener for RealOpener {
    fn open(&self, path: &Path) -> Result<OpenedWq, OpenError> {
        let mut c_path = path.as_os_str().as_bytes().to_vec();
        if c_path.contains(&0) {
            return Err(OpenError::NotFound);
        }
        c_path.push(0);
        // SAFETY: `c_path` is NUL-terminated and lives across the call.
        let raw = unsafe { libc::open(c_path.as_ptr().cast(), libc::O_RDWR | libc::O_CLOEXEC) };
        if raw < 0 {
            return Err(OpenError::from_open_errno(last_errno()));
        }
        // SAFETY: `raw` is a freshly opened descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        match PortalMapping::map(fd.as_fd()) {
            Ok(m) => Ok(OpenedWq::new(path.to_path_buf(), fd, Some(m))),
            Err(libc::EPERM) => Ok(OpenedWq::new(path.to_path_buf(), fd, None)),
            Err(errno) => Err(OpenError::Mmap { errno }),
        }
    }

    fn probe_write(&self, wq: &OpenedWq) -> Result<(), ProbeError> {
        probe_write_noop(wq.fd(), WRITE_PROBE_BUDGET)
    }
}

fn last_errno() -> i32 {
    std::io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}

/// What [`FakeOpener`] does for one path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FakeOutcome {
    /// Open succeeds and the portal maps (an anonymous page stands in for it).
    Mapped,
    /// Open succeeds, `mmap` is refused with `EPERM` (no `CAP_SYS_RAWIO`), the `write(2)`
    /// NOOP probe succeeds.
    MmapDenied,
    /// `mmap` refused with `EPERM` and the `write(2)` probe fails with this error.
    MmapDeniedWriteFails(ProbeError),
    /// Open fails with this error.
    Fail(OpenError),
}

/// A test double for [`CdevOpener`]: opens the (regular) file at the path to get a real fd, so a
/// missing node still reports [`OpenError::NotFound`], then applies the outcome configured for
/// that path (default [`FakeOutcome::Mapped`]).
#[derive(Debug, Clone, Default)]
pub struct FakeOpener {
    outcomes: HashMap<PathBuf, FakeOutcome>,
    default: Option<FakeOutcome>,
}

impl FakeOpener {
    /// A fake where every existing node opens and maps.
    pub fn new() -> Self {
        Self::default()
    }

    /// Set the outcome for one path.
    pub fn with(mut self, path: impl Into<PathBuf>, outcome: FakeOutcome) -> Self {
        self.outcomes.insert(path.into(), outcome);
        self
    }

    /// Set the outcome for paths without their own entry.
    pub fn with_default(mut self, outcome: FakeOutcome) -> Self {
        self.default = Some(outcome);
        self
    }
}

impl CdevOpener for FakeOpener {
    fn open(&self, path: &Path) -> Result<OpenedWq, OpenError> {
        let outcome = self
            .outcomes
            .get(path)
            .or(self.default.as_ref())
            .cloned()
            .unwrap_or(FakeOutcome::Mapped);
        if let FakeOutcome::Fail(e) = outcome {
            return Err(e);
        }
        let file = File::open(path)
            .map_err(|e| OpenError::from_open_errno(e.raw_os_error().unwrap_or(libc::ENOENT)))?;
        let fd = OwnedFd::from(file);
        let portal = match outcome {
            FakeOutcome::Mapped => {
                Some(PortalMapping::anonymous().map_err(|errno| OpenError::Mmap { errno })?)
            }
            _ => None,
        };
        Ok(OpenedWq::new(path.to_path_buf(), fd, portal))
    }

    fn probe_write(&self, wq: &OpenedWq) -> Result<(), ProbeError> {
        match self.outcomes.get(wq.path()).or(self.default.as_ref()) {
            Some(FakeOutcome::MmapDeniedWriteFails(e)) => Err(e.clone()),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_classes() {
        assert_eq!(
            OpenError::from_open_errno(libc::ENOENT),
            OpenError::NotFound
        );
        assert_eq!(
            OpenError::from_open_errno(libc::EACCES),
            OpenError::PermissionDenied
        );
        assert_eq!(
            OpenError::from_open_errno(libc::EPERM),
            OpenError::PermissionDenied
        );
        assert_eq!(OpenError::from_open_errno(libc::EBUSY), OpenError::Busy);
        assert_eq!(
            OpenError::from_open_errno(libc::EIO),
            OpenError::Open { errno: libc::EIO }
        );
    }

    #[test]
    fn real_opener_missing_node() {
        let r = RealOpener.open(Path::new("/nonexistent/iax/wq9.9"));
        assert_eq!(r.unwrap_err(), OpenError::NotFound);
    }

    #[test]
    fn real_opener_regular_file_maps() {
        // A regular file can be opened and a shared page of it mapped: exercises the real
        // open + mmap + munmap path without a device.
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("wq0.0");
        std::fs::write(&p, vec![0u8; PORTAL_SIZE]).unwrap();
        let w = RealOpener.open(&p).unwrap();
        assert_eq!(w.submission(), SubmissionKind::MmapPortal);
        assert_eq!(w.portal().unwrap().len(), PORTAL_SIZE);
        assert!(w.fd().as_raw_fd() >= 0);
        assert_eq!(w.path(), p.as_path());
    }

    #[test]
    fn noop_layout() {
        let d = noop_descriptor(0x1234_5678_9abc_de40);
        assert_eq!(d[7], 0, "opcode NOOP");
        assert_eq!(
            u32::from_le_bytes([d[4], d[5], d[6], 0]),
            0x0c,
            "CRAV | RCR"
        );
        assert_eq!(&d[8..16], &0x1234_5678_9abc_de40u64.to_le_bytes());
        assert!(d[..4].iter().chain(&d[16..]).all(|&b| b == 0));
    }

    #[test]
    fn write_probe_over_non_devices() {
        // /dev/null accepts the write but nothing completes: timeout (record leaked on purpose).
        let null = File::options().write(true).open("/dev/null").unwrap();
        let e = probe_write_noop(null.as_fd(), Duration::from_millis(5));
        assert_eq!(e, Err(ProbeError::Timeout { budget_ms: 5 }));
        // A read-only fd: write fails with EBADF.
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("wq");
        std::fs::write(&p, b"").unwrap();
        let ro = File::open(&p).unwrap();
        let e = probe_write_noop(ro.as_fd(), Duration::from_millis(5));
        assert_eq!(e, Err(ProbeError::Write { errno: libc::EBADF }));
        assert!(e.unwrap_err().to_string().contains("write(2)"));
    }

    #[test]
    fn fake_outcomes() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        let b = dir.path().join("b");
        std::fs::write(&a, b"").unwrap();
        std::fs::write(&b, b"").unwrap();
        let f = FakeOpener::new().with(&b, FakeOutcome::MmapDenied);
        assert_eq!(f.open(&a).unwrap().submission(), SubmissionKind::MmapPortal);
        let wb = f.open(&b).unwrap();
        assert_eq!(wb.submission(), SubmissionKind::Write);
        assert!(wb.portal().is_none());
        assert_eq!(
            f.open(&dir.path().join("c")).unwrap_err(),
            OpenError::NotFound
        );
        let busy = FakeOpener::new().with_default(FakeOutcome::Fail(OpenError::Busy));
        assert_eq!(busy.open(&a).unwrap_err(), OpenError::Busy);
    }
}
