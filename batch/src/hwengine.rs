//! The hardware half of the batch engine.

use crate::engine::Job;
use crate::pool::{Held, Pool};

impl Job<'_, '_> {
    pub(crate) fn hw_step(&mut self, _pool: &Pool, held: &mut Held<'_>) {
        if let Some(h) = held.guard.hw.as_mut() {
            match *h {}
        }
    }
    pub(crate) fn hw_abandon(&mut self, _pool: &Pool, held: &mut Held<'_>) {
        if let Some(h) = held.guard.hw.as_mut() {
            match *h {}
        }
    }
}
