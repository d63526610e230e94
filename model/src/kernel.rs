//! [`ModelNodeOpener`] puts the software device model behind the kernel path's open + submit
//! code (`iaa_driver::kernel`): each "node" is one end of a `SOCK_SEQPACKET` socket pair whose
//! other end a bridge thread reads, pushing every 64-byte descriptor into a model WQ, the way the
//! kernel's `write(2)` handler pushes it into the device. Tests (and CI hosts without IAA) run
//! the kernel path end to end with it. What it does not reproduce: `write(2)` returning `EAGAIN`
//! when a shared WQ is full (the bridge retries instead, for up to [`BRIDGE_RETRY_BUDGET`], then
//! drops the descriptor and counts it), and `mmap` of a portal (user-mode MOVDIR64B/ENQCMD into
//! memory the model watches would need a CPU with those instructions and a trap on the page;
//! not done).

use crate::ModelDevice;
use iaa_driver::sysfs::{
    probe_write_noop, CdevOpener, OpenError, OpenedWq, ProbeError, WRITE_PROBE_BUDGET,
};
use iaa_wq::WorkQueue;
use std::collections::HashMap;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

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

    /// An opener that counts into `stats` (shared with an earlier opener, or kept by a test).
    pub fn with_stats(model: Arc<ModelDevice>, stats: Arc<BridgeStats>) -> Self {
        ModelNodeOpener {
            model,
            nodes: HashMap::new(),
            stats,
        }
    }

    /// Serve `path` with model WQ `index`.
    pub fn serve(mut self, path: impl Into<PathBuf>, index: usize) -> Self {
        self.nodes.insert(path.into(), index);
        self
    }

    /// Bridge counters.
    pub fn stats(&self) -> &Arc<BridgeStats> {
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
