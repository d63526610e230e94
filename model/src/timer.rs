//! Completion timer of the latency model: engines execute a descriptor at once (that CPU work
//! is real) and hand its record to this timer, which makes it visible at the modelled deadline.
//! The timer sleeps until a few microseconds before the earliest deadline (timer slack set to
//! 1 ns) and spins only the rest, so modelled device time costs the host almost no CPU.

use std::cmp::{Ordering as CmpOrdering, Reverse};
use std::collections::BinaryHeap;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use super::exec::Done;

/// Spin (instead of sleeping) when the next deadline is this close.
pub(crate) const SPIN: Duration = Duration::from_micros(5);

/// A record waiting for its deadline.
pub(crate) struct Pending {
    pub deadline: Instant,
    pub seq: u64,
    pub wq: usize,
    pub drain: bool,
    pub done: Done,
}

impl PartialEq for Pending {
    fn eq(&self, o: &Self) -> bool {
        (self.deadline, self.seq) == (o.deadline, o.seq)
    }
}
impl Eq for Pending {}
impl PartialOrd for Pending {
    fn partial_cmp(&self, o: &Self) -> Option<CmpOrdering> {
        Some(self.cmp(o))
    }
}
impl Ord for Pending {
    fn cmp(&self, o: &Self) -> CmpOrdering {
        (self.deadline, self.seq).cmp(&(o.deadline, o.seq))
    }
}

/// Records ordered by deadline.
pub(crate) struct Timer {
    pub heap: Mutex<BinaryHeap<Reverse<Pending>>>,
    pub cv: Condvar,
}

impl Timer {
    pub(crate) fn new(capacity: usize) -> Self {
        Timer {
            heap: Mutex::new(BinaryHeap::with_capacity(capacity)),
            cv: Condvar::new(),
        }
    }

    /// Queue a record; wakes the timer thread when it is the new earliest deadline.
    pub(crate) fn schedule(&self, p: Pending) {
        let mut h = self.heap.lock().unwrap_or_else(|e| e.into_inner());
        let earliest = match h.peek() {
            None => true,
            Some(Reverse(first)) => p.deadline < first.deadline,
        };
        h.push(Reverse(p));
        drop(h);
        if earliest {
            self.cv.notify_one();
        }
    }
}

/// Make this thread's sleeps precise (Linux timer slack defaults to 50 us).
pub(crate) fn precise_sleeps() {
    // SAFETY: PR_SET_TIMERSLACK takes an integer argument and only affects this thread.
    unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong, 0, 0, 0);
    }
}
