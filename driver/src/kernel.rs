//! The kernel path: turn the usable WQs that discovery found ([`crate::sysfs`]) into
//! [`iaa_wq::WorkQueue`]s. A WQ whose portal could be mapped gets MOVDIR64B (dedicated) or ENQCMD
//! (shared) when the CPU has the instruction; otherwise descriptors go through `write(2)` on the
//! WQ's file descriptor, after a NOOP probe has shown that path works.
//!
//! [`ModelNodeOpener`] puts the software device model behind that same open + submit code: each
//! "node" is one end of a `SOCK_SEQPACKET` socket pair whose other end a bridge thread reads,
//! pushing every 64-byte descriptor into a model WQ, the way the kernel's `write(2)` handler
//! pushes it into the device. Tests (and CI hosts without IAA) run the kernel path end to end
//! with it. What it does not reproduce: `write(2)` returning `EAGAIN` when a shared WQ is full
//! (the bridge retries instead, for up to [`BRIDGE_RETRY_BUDGET`], then drops the descriptor and
//! counts it), and `mmap` of a portal (user-mode MOVDIR64B/ENQCMD into memory the model watches
//! would need a CPU with those instructions and a trap on the page; not done).

use crate::model::ModelDevice;
use crate::sysfs::{
    probe_write_noop, CdevOpener, Device, DeviceKind, Inventory, OpenError, OpenedWq, ProbeError,
    UnusableReason, WorkQueue as SysfsWq, WqMode as SysfsMode, WRITE_PROBE_BUDGET,
};
use iaa_wq::{preferred_portal_method, CpuFeatures, WorkQueue, WqConfig, WqError, WqMode};
use std::collections::HashMap;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Errors of the kernel path.
#[derive(Debug, thiserror::Error)]
pub enum KernelError {
    /// Discovery found the WQ unusable.
    #[error("{wq}: {reason}")]
    Unusable {
        /// The WQ.
        wq: String,
        /// Why.
        reason: UnusableReason,
    },
    /// The WQ has no readable size (needed as the credit bound).
    #[error("{wq}: size unknown")]
    NoSize {
        /// The WQ.
        wq: String,
    },
    /// Opening the node failed.
    #[error("{wq}: {error}")]
    Open {
        /// The WQ.
        wq: String,
        /// The error.
        error: OpenError,
    },
    /// The `write(2)` path failed its NOOP probe.
    #[error("{wq}: {error}")]
    Probe {
        /// The WQ.
        wq: String,
        /// The error.
        error: ProbeError,
    },
    /// The submission layer refused the configuration.
    #[error("{wq}: {error}")]
    Wq {
        /// The WQ.
        wq: String,
        /// The error.
        error: WqError,
    },
}

/// An opened WQ of the kernel path.
pub struct KernelWq {
    /// Device name (`iax1`).
    pub device: String,
    /// IAA or DSA.
    pub kind: DeviceKind,
    /// WQ name (`wq1.0`).
    pub sysfs_name: String,
    /// The device's socket, if known.
    pub socket: Option<u32>,
    /// The node opened.
    pub node: PathBuf,
    /// The submission queue (holds the fd and the portal mapping).
    pub wq: WorkQueue,
}

impl std::fmt::Debug for KernelWq {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KernelWq")
            .field("device", &self.device)
            .field("sysfs_name", &self.sysfs_name)
            .field("node", &self.node)
            .field("method", &self.wq.method())
            .finish()
    }
}

fn wq_mode(m: SysfsMode) -> WqMode {
    match m {
        SysfsMode::Dedicated => WqMode::Dedicated,
        SysfsMode::Shared => WqMode::Shared,
    }
}

/// Open one WQ that discovery marked usable.
pub fn open_wq(
    dev: &Device,
    wq: &SysfsWq,
    opener: &dyn CdevOpener,
    cpu: CpuFeatures,
) -> Result<KernelWq, KernelError> {
    let name = wq.sysfs_name.clone();
    if let Some(reason) = wq.status.reason() {
        return Err(KernelError::Unusable {
            wq: name,
            reason: reason.clone(),
        });
    }
    let mode = wq.mode.map(wq_mode).ok_or_else(|| KernelError::Unusable {
        wq: name.clone(),
        reason: UnusableReason::BadAttribute {
            detail: "mode: missing".into(),
        },
    })?;
    let size = wq
        .size
        .filter(|&s| s > 0)
        .ok_or_else(|| KernelError::NoSize { wq: name.clone() })?;
    let cfg = WqConfig {
        mode,
        size,
        enqcmd_retries: WqConfig::DEFAULT_RETRIES,
    };
    let opened = opener.open(&wq.node).map_err(|error| KernelError::Open {
        wq: name.clone(),
        error,
    })?;
    let method = preferred_portal_method(mode, cpu);
    let wq_err = |error| KernelError::Wq {
        wq: name.clone(),
        error,
    };
    let queue = match (opened.portal().map(|p| (p.as_ptr(), p.len())), method) {
        (Some((ptr, len)), Some(m)) => {
            // SAFETY: `ptr`/`len` describe the portal mapping owned by `opened`, which is moved
            // into the WorkQueue (`keep`) and so stays mapped as long as it.
            unsafe { WorkQueue::with_portal(ptr, len, m, cfg, Some(Box::new(opened))) }
                .map_err(wq_err)?
        }
        _ => {
            // No mapping, or the CPU lacks the instruction: write(2) on the same fd, probed.
            opener
                .probe_write(&opened)
                .map_err(|error| KernelError::Probe {
                    wq: name.clone(),
                    error,
                })?;
            let (_, fd, portal) = opened.into_parts();
            drop(portal);
            WorkQueue::with_write_fd(fd, cfg).map_err(wq_err)?
        }
    };
    Ok(KernelWq {
        device: dev.name.clone(),
        kind: dev.kind,
        sysfs_name: name,
        socket: dev.socket,
        node: wq.node.clone(),
        wq: queue,
    })
}

/// Open every usable IAA WQ of `inv`; failures are returned next to the successes.
pub fn open_iaa_wqs(
    inv: &Inventory,
    opener: &dyn CdevOpener,
    cpu: CpuFeatures,
) -> (Vec<KernelWq>, Vec<KernelError>) {
    let mut ok = Vec::new();
    let mut failed = Vec::new();
    for (d, w) in inv.usable_iaa_wqs() {
        match open_wq(d, w, opener, cpu) {
            Ok(k) => ok.push(k),
            Err(e) => failed.push(e),
        }
    }
    (ok, failed)
}

/// What [`open_host`] found and opened.
#[derive(Debug)]
pub struct HostWqs {
    /// The discovery scan (devices, every WQ's verdict, topology).
    pub inventory: Inventory,
    /// The usable IAA WQs, opened.
    pub wqs: Vec<KernelWq>,
    /// Usable WQs whose open failed after discovery.
    pub failed: Vec<KernelError>,
}

impl HostWqs {
    /// A [`WqChooser`](crate::choice::WqChooser) over the *opened* WQs: its `pick` returns an
    /// index into [`HostWqs::wqs`] (WQs that discovery found usable but that failed to open are
    /// left out).
    pub fn chooser(&self, policy: crate::choice::ChoicePolicy) -> crate::choice::WqChooser {
        let all = crate::choice::WqCandidate::from_inventory(&self.inventory);
        let candidates = self
            .wqs
            .iter()
            .filter_map(|k| all.iter().find(|c| c.sysfs_name == k.sysfs_name).cloned())
            .collect();
        crate::choice::WqChooser::new(candidates, &self.inventory.topology, policy)
    }

    /// Why there is no WQ, in words for a log line (`None` when at least one is open).
    pub fn why_none(&self) -> Option<String> {
        if !self.wqs.is_empty() {
            return None;
        }
        let mut s = self.inventory.availability().to_string();
        for e in &self.failed {
            s.push_str("; ");
            s.push_str(&e.to_string());
        }
        Some(s)
    }
}

/// Scan `/sys` and `/dev` with the real opener and open every usable IAA WQ.
pub fn open_host() -> HostWqs {
    open_with(&crate::sysfs::Discovery::new(), &crate::sysfs::RealOpener)
}

/// Scan with `discovery` and open every usable IAA WQ through `opener`.
pub fn open_with(discovery: &crate::sysfs::Discovery, opener: &dyn CdevOpener) -> HostWqs {
    let inventory = discovery.scan_with(opener);
    let (wqs, failed) = open_iaa_wqs(&inventory, opener, CpuFeatures::get());
    HostWqs {
        inventory,
        wqs,
        failed,
    }
}

/// How long the bridge keeps retrying a descriptor the model refuses (full or disabled shared
/// WQ) before dropping it.
pub const BRIDGE_RETRY_BUDGET: Duration = Duration::from_secs(1);

/// Counters of a [`ModelNodeOpener`].
#[derive(Debug, Default)]
pub struct BridgeStats {
    /// Descriptors forwarded into the model.
    pub forwarded: AtomicU64,
    /// Descriptors dropped after [`BRIDGE_RETRY_BUDGET`] of refusals.
    pub dropped: AtomicU64,
    /// Reads that were not exactly 64 bytes (ignored, as the kernel rejects them).
    pub malformed: AtomicU64,
}

/// A [`CdevOpener`] whose WQ nodes are served by a [`ModelDevice`] through `write(2)`.
pub struct ModelNodeOpener {
    model: Arc<ModelDevice>,
    nodes: HashMap<PathBuf, usize>,
    stats: Arc<BridgeStats>,
}

impl std::fmt::Debug for ModelNodeOpener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelNodeOpener")
            .field("nodes", &self.nodes)
            .finish()
    }
}

impl ModelNodeOpener {
    /// An opener that serves no node yet.
    pub fn new(model: Arc<ModelDevice>) -> Self {
        ModelNodeOpener {
            model,
            nodes: HashMap::new(),
            stats: Arc::new(BridgeStats::default()),
        }
    }

    /// Serve `path` with model WQ `index`.
    pub fn serve(mut self, path: impl Into<PathBuf>, index: usize) -> Self {
        self.nodes.insert(path.into(), index);
        self
    }

    /// Bridge counters.
    pub fn stats(&self) -> &BridgeStats {
        &self.stats
    }
}

fn errno() -> i32 {
    std::io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}

fn seqpacket_pair() -> Result<(OwnedFd, OwnedFd), i32> {
    let mut fds = [0i32; 2];
    // SAFETY: `fds` is a valid 2-element array for the kernel to fill.
    let r = unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC,
            0,
            fds.as_mut_ptr(),
        )
    };
    if r != 0 {
        return Err(errno());
    }
    // SAFETY: both descriptors were just created and are owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

fn bridge(server: OwnedFd, queue: WorkQueue, stats: Arc<BridgeStats>) {
    let mut buf = [0u8; 128];
    loop {
        // SAFETY: `buf` is a live writable buffer of the given length; the fd is owned here.
        let n = unsafe { libc::recv(server.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n == 0 {
            return; // client closed: the WQ was dropped
        }
        if n < 0 {
            if errno() == libc::EINTR {
                continue;
            }
            return;
        }
        if n != 64 {
            stats.malformed.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        let mut desc = [0u8; 64];
        desc.copy_from_slice(&buf[..64]);
        let start = Instant::now();
        // Counted before the submission: the model may execute the descriptor, and its
        // submitter see the record, before this thread runs again.
        stats.forwarded.fetch_add(1, Ordering::Relaxed);
        loop {
            // SAFETY: the descriptor was written by a submitter of this process through
            // `WorkQueue::submit` on the client side, whose contract (every address valid and
            // untouched until the record is written) carries over unchanged: the bridge only
            // moves the 64 bytes.
            match unsafe { queue.submit(&desc) } {
                Ok(()) => {
                    // The kernel does not track completions of write(2) submissions; credits
                    // are the client's business.
                    queue.complete(1);
                    break;
                }
                Err(_) if start.elapsed() < BRIDGE_RETRY_BUDGET => {
                    std::thread::sleep(Duration::from_micros(20));
                }
                Err(_) => {
                    stats.forwarded.fetch_sub(1, Ordering::Relaxed);
                    stats.dropped.fetch_add(1, Ordering::Relaxed);
                    break;
                }
            }
        }
    }
}

impl CdevOpener for ModelNodeOpener {
    fn open(&self, path: &Path) -> Result<OpenedWq, OpenError> {
        let index = *self.nodes.get(path).ok_or(OpenError::NotFound)?;
        let queue = self.model.wq(index).map_err(|_| OpenError::Open {
            errno: libc::ENODEV,
        })?;
        let (client, server) = seqpacket_pair().map_err(|errno| OpenError::Open { errno })?;
        let stats = Arc::clone(&self.stats);
        std::thread::Builder::new()
            .name(format!("iaa-bridge-{index}"))
            .spawn(move || bridge(server, queue, stats))
            .map_err(|e| OpenError::Open {
                errno: e.raw_os_error().unwrap_or(libc::EAGAIN),
            })?;
        // mmap is "refused": the model has no portal page, so submission is write(2).
        Ok(OpenedWq::new(path.to_path_buf(), client, None))
    }

    fn probe_write(&self, wq: &OpenedWq) -> Result<(), ProbeError> {
        probe_write_noop(wq.fd().as_fd(), WRITE_PROBE_BUDGET)
    }
}
