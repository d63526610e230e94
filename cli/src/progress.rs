//! A minimal progress line on stderr, shown only when stderr is a terminal.

use std::io::{IsTerminal, Write};
use std::time::Instant;

/// Inputs smaller than this get no progress line.
pub const MIN_BYTES: u64 = 64 << 20;

/// A progress line: `\r<label> 42% 120/280 MiB 310 MB/s`.
pub struct Progress {
    label: &'static str,
    total: u64,
    start: Instant,
    last: Option<Instant>,
    enabled: bool,
}

impl Progress {
    /// Enabled when stderr is a terminal and `total` is at least [`MIN_BYTES`].
    pub fn new(label: &'static str, total: u64) -> Progress {
        Progress {
            label,
            total,
            start: Instant::now(),
            last: None,
            enabled: total >= MIN_BYTES && std::io::stderr().is_terminal(),
        }
    }

    /// Reports `done` bytes; redraws at most ten times a second.
    pub fn update(&mut self, done: u64) {
        if !self.enabled {
            return;
        }
        let now = Instant::now();
        if self
            .last
            .is_some_and(|t| now.duration_since(t).as_millis() < 100 && done < self.total)
        {
            return;
        }
        self.last = Some(now);
        let secs = now.duration_since(self.start).as_secs_f64().max(1e-9);
        let pct = (done * 100).checked_div(self.total).unwrap_or(100);
        let _ = write!(
            std::io::stderr(),
            "\r{} {:>3}% {}/{} MiB {:.0} MB/s ",
            self.label,
            pct,
            done >> 20,
            self.total >> 20,
            done as f64 / 1e6 / secs
        );
    }

    /// Ends the line (if one was drawn).
    pub fn finish(&mut self) {
        if self.enabled && self.last.is_some() {
            let _ = writeln!(std::io::stderr());
        }
    }
}
