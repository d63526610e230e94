//! WQ choice on the discovered SPR fixture host, and a proof that `pick` does not allocate.

use iaa_driver::fixture as common;

use iaa_driver::choice::{ChoicePolicy, Op, WqCandidate, WqChooser};
use iaa_driver::sysfs::{FakeOpener, FakeOutcome, OpenError};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

struct Counting;
thread_local! {
    static ALLOCS: Cell<usize> = const { Cell::new(0) };
}
// SAFETY: forwards to the system allocator; the counter is a const-initialised thread-local Cell
// that never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        ALLOCS.with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(p, l) }
    }
}
#[global_allocator]
static A: Counting = Counting;

fn spr_chooser() -> WqChooser {
    let h = common::spr_host();
    let opener = FakeOpener::new()
        .with(h.dev().join("iax/wq3.0"), FakeOutcome::MmapDenied)
        .with(
            h.dev().join("iax/wq5.2"),
            FakeOutcome::Fail(OpenError::Busy),
        )
        .with(
            h.dev().join("iax/wq7.1"),
            FakeOutcome::Fail(OpenError::PermissionDenied),
        );
    let inv = h.discovery().scan_with(&opener);
    WqChooser::new(
        WqCandidate::from_inventory(&inv),
        &inv.topology,
        ChoicePolicy::default(),
    )
}

#[test]
fn spr_inventory_choice() {
    let ch = spr_chooser();
    let names: Vec<&str> = ch
        .candidates()
        .iter()
        .map(|c| c.sysfs_name.as_str())
        .collect();
    assert_eq!(names, ["wq1.0", "wq1.1", "wq3.0", "wq5.0", "wq7.2"]);
    let name = |i: Option<usize>| ch.candidates()[i.unwrap()].sysfs_name.clone();
    // Socket 0: iax1 (wq1.0 compress, wq1.1 decompress by half split) and iax3 (wq3.0).
    let c0: Vec<String> = (0..4).map(|s| name(ch.pick(0, Op::Compress, s))).collect();
    assert_eq!(c0, ["wq1.0", "wq3.0", "wq1.0", "wq3.0"]);
    assert_eq!(name(ch.pick(0, Op::Decompress, 0)), "wq1.1");
    assert_eq!(name(ch.pick(3, Op::Decompress, 0)), "wq3.0");
    // Socket 1: only iax5 compresses (wq7.2 is decompress-only by op_config).
    for s in 0..4 {
        assert_eq!(name(ch.pick(6, Op::Compress, s)), "wq5.0");
    }
    let d1: Vec<String> = (4..8)
        .map(|cpu| name(ch.pick(cpu, Op::Decompress, 0)))
        .collect();
    assert_eq!(d1, ["wq5.0", "wq5.0", "wq7.2", "wq7.2"]);
}

#[test]
fn pick_does_not_allocate() {
    let ch = spr_chooser();
    let before = ALLOCS.with(|c| c.get());
    let mut acc = 0usize;
    for cpu in 0..16 {
        for s in 0..64 {
            acc += ch.pick(cpu, Op::Compress, s).unwrap_or(0);
            acc += ch.pick(cpu, Op::Decompress, s).unwrap_or(0);
        }
    }
    let after = ALLOCS.with(|c| c.get());
    assert!(acc > 0);
    assert_eq!(after, before, "pick() allocated");
}
