//! Driver overhead through the zero-latency device model: submit + complete per descriptor,
//! against a plain function-call baseline in the same run, with heap allocations counted by a
//! counting global allocator (the hot path must allocate nothing).
//!
//! ```text
//! cargo run --release -p iaa-bench --bin overhead [-- --iters N] [-- --only inline-noop]
//! ```
//! Modes (all through `iaa_wq::WorkQueue` into `iaa_model`):
//! - `inline-noop`: model with 0 engines (the device runs inside `submit`, in this thread):
//!   build NOOP descriptor, submit, poll the record, release. Measures driver + model CPU cost.
//! - `inline-memmove64`: the same with a 64-byte memmove.
//! - `engines-noop-b32`: 1 engine thread; submit 32 NOOPs then poll all 32 (cross-thread).
//!
//! Instructions per descriptor: `overhead --callgrind` runs this program twice under
//! `valgrind --tool=callgrind` (`--only inline-noop` with 20 000 and 40 000 iterations); the
//! difference of the totals divided by the difference of descriptors is instructions per
//! descriptor (start-up cancels out), and `callgrind_annotate --inclusive=yes` gives the model's
//! share (`ModelPortal::push`); the rest is the driver side (descriptor build, wq submit, poll,
//! record slab).

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use iaa_descriptors::{IaaCompletionRecord, IaaDescriptor, IaaMemmove, IaaNoop};
use iaa_model::{ModelConfig, ModelDevice, ModelWqConfig};
use iaa_wq::{IaaRecords, WorkQueue};

struct Counting;
static ALLOCS: AtomicU64 = AtomicU64::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.alloc_zeroed(l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// The baseline: a plain (non-inlined) call that "completes" a descriptor in memory.
#[inline(never)]
fn baseline_call(d: &IaaDescriptor, rec: &mut IaaCompletionRecord) {
    rec.status = 1;
    rec.bytes_completed = d.src1_size;
}

struct Row {
    name: &'static str,
    ns: f64,
    allocs: f64,
    n: u64,
}

fn measure(name: &'static str, n: u64, mut f: impl FnMut(u64)) -> Row {
    // Warm up (first-use allocations such as the thread's model scratch happen here).
    for i in 0..(n / 10).max(1000) {
        f(i);
    }
    let a0 = ALLOCS.load(Ordering::Relaxed);
    let t = Instant::now();
    for i in 0..n {
        f(i);
    }
    let el = t.elapsed();
    let a1 = ALLOCS.load(Ordering::Relaxed);
    Row {
        name,
        ns: el.as_nanos() as f64 / n as f64,
        allocs: (a1 - a0) as f64 / n as f64,
        n,
    }
}

fn inline_wq() -> (std::sync::Arc<ModelDevice>, WorkQueue) {
    let mut cfg = ModelConfig::iaa(0);
    cfg.wqs = vec![ModelWqConfig::shared(64)];
    let dev = ModelDevice::start(cfg).expect("model");
    let wq = dev.wq(0).expect("wq");
    (dev, wq)
}

fn one(wq: &WorkQueue, recs: &mut IaaRecords, d: impl Fn(u64) -> IaaDescriptor) {
    let s = recs.claim().expect("free record");
    let desc = d(recs.addr(s));
    // SAFETY: the record (and the memmove buffers of the caller) outlive the poll below.
    unsafe { wq.submit_iaa(&desc) }.expect("submit");
    let mut spins = 0u32;
    loop {
        if let Some(r) = wq.poll(recs, s) {
            assert_eq!(r.status, 1);
            break;
        }
        spins += 1;
        assert!(spins < 100_000_000, "record never written");
        core::hint::spin_loop();
    }
    recs.release(s).expect("release");
}

/// Total instructions and the model's inclusive share of one callgrind run.
fn callgrind_run(n: u64) -> Result<(u64, u64), String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let out = std::env::temp_dir().join(format!("overhead-cg-{}-{n}.out", std::process::id()));
    let st = std::process::Command::new("valgrind")
        .current_dir(std::env::temp_dir())
        .arg("--tool=callgrind")
        .arg(format!("--callgrind-out-file={}", out.display()))
        .arg(&exe)
        .args(["--only", "inline-noop", "--iters", &n.to_string()])
        .output()
        .map_err(|e| format!("cannot run valgrind: {e}"))?;
    if !st.status.success() {
        return Err(format!(
            "valgrind failed: {}",
            String::from_utf8_lossy(&st.stderr)
        ));
    }
    // Run from the temp dir: callgrind_annotate splits a function's cost between relative and
    // absolute source paths when started inside the source tree.
    let ann = std::process::Command::new("callgrind_annotate")
        .current_dir(std::env::temp_dir())
        .arg("--inclusive=yes")
        .arg(&out)
        .output()
        .map_err(|e| format!("cannot run callgrind_annotate: {e}"))?;
    let _ = std::fs::remove_file(&out);
    let text = String::from_utf8_lossy(&ann.stdout);
    let first_num = |line: &str| -> Option<u64> {
        line.split_whitespace()
            .next()?
            .replace(',', "")
            .parse()
            .ok()
    };
    let total = text
        .lines()
        .find(|l| l.contains("PROGRAM TOTALS"))
        .and_then(first_num)
        .ok_or("no PROGRAM TOTALS in callgrind_annotate output")?;
    let model = text
        .lines()
        .find(|l| l.contains("SoftPortal>::push [") || l.contains("SoftPortal>::push ("))
        .and_then(first_num)
        .ok_or("no ModelPortal::push line in callgrind_annotate output")?;
    Ok((total, model))
}

fn callgrind() -> Result<(), String> {
    let (n1, n2) = (20_000u64, 40_000u64);
    // measure() also runs max(n / 10, 1000) warm-up iterations.
    let d1 = n1 + (n1 / 10).max(1000);
    let d2 = n2 + (n2 / 10).max(1000);
    let (t1, m1) = callgrind_run(n1)?;
    let (t2, m2) = callgrind_run(n2)?;
    let per = |a: u64, b: u64| (b as f64 - a as f64) / (d2 - d1) as f64;
    let total = per(t1, t2);
    let model = per(m1, m2);
    println!("callgrind, inline model, NOOP submit+poll ({d1} and {d2} descriptors):");
    println!("  instructions/descriptor total        {total:8.1}");
    println!("  of which the model (device side)     {model:8.1}");
    println!(
        "  driver side (wq + descriptors + app)  {:8.1}",
        total - model
    );
    Ok(())
}

fn main() {
    if std::env::args().nth(1).as_deref() == Some("--callgrind") {
        if let Err(e) = callgrind() {
            eprintln!("{e}");
            std::process::exit(1);
        }
        return;
    }
    let mut iters: u64 = 2_000_000;
    let mut only: Option<String> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--iters" => iters = args.next().and_then(|v| v.parse().ok()).expect("--iters N"),
            "--only" => only = args.next(),
            _ => {
                eprintln!("usage: overhead [--iters N] [--only inline-noop|inline-memmove64|engines-noop-b32|baseline]");
                std::process::exit(2);
            }
        }
    }
    let want = |m: &str| only.as_deref().is_none_or(|o| o == m);
    let mut rows = Vec::new();

    if want("baseline") {
        let d = IaaNoop::new(0x1000).build();
        let mut rec = IaaCompletionRecord::default_zeroed();
        rows.push(measure("baseline: plain fn call", iters, |_| {
            baseline_call(black_box(&d), black_box(&mut rec));
        }));
    }
    if want("inline-noop") {
        let (_dev, wq) = inline_wq();
        let mut recs = IaaRecords::new(4).expect("records");
        rows.push(measure("inline model: NOOP submit+poll", iters, |_| {
            one(&wq, &mut recs, |c| IaaNoop::new(c).build());
        }));
    }
    if want("inline-memmove64") {
        let (_dev, wq) = inline_wq();
        let mut recs = IaaRecords::new(4).expect("records");
        let src = [7u8; 64];
        let mut dst = [0u8; 64];
        let (sa, da) = (src.as_ptr() as u64, dst.as_mut_ptr() as u64);
        rows.push(measure("inline model: 64 B memmove", iters, |_| {
            one(&wq, &mut recs, |c| IaaMemmove::new(sa, da, 64, c).build());
        }));
        assert_eq!(black_box(dst), src);
    }
    if want("engines-noop-b32") {
        let mut cfg = ModelConfig::iaa(1);
        cfg.wqs = vec![ModelWqConfig::shared(64)];
        let dev = ModelDevice::start(cfg).expect("model");
        let wq = dev.wq(0).expect("wq");
        let mut recs = IaaRecords::new(32).expect("records");
        let mut slots = Vec::with_capacity(32);
        let batches = (iters / 32).max(1);
        let r = measure("1 engine thread: 32 NOOPs/batch", batches, |_| {
            for _ in 0..32 {
                let s = recs.claim().expect("free");
                let d = IaaNoop::new(recs.addr(s)).build();
                // SAFETY: records outlive the polls below.
                unsafe { wq.submit_iaa(&d) }.expect("submit");
                slots.push(s);
            }
            for s in slots.drain(..) {
                // Spin, then yield (iaa_wq::Waiter): the engine thread needs a CPU too.
                match wq.wait(&recs, s, std::time::Duration::from_secs(10)) {
                    iaa_wq::WaitOutcome::Done(r) => assert_eq!(r.status, 1),
                    iaa_wq::WaitOutcome::TimedOut => panic!("record never written"),
                }
                recs.release(s).expect("release");
            }
        });
        rows.push(Row {
            name: r.name,
            ns: r.ns / 32.0,
            allocs: r.allocs / 32.0,
            n: r.n * 32,
        });
    }

    let base = rows
        .iter()
        .find(|r| r.name.starts_with("baseline"))
        .map(|r| r.ns);
    println!(
        "{:<36} {:>12} {:>14} {:>12} {:>10}",
        "mode", "descriptors", "ns/descriptor", "vs baseline", "allocs/desc"
    );
    for r in &rows {
        let vs = base
            .map(|b| format!("{:.1}x", r.ns / b))
            .unwrap_or_else(|| "-".into());
        println!(
            "{:<36} {:>12} {:>14.1} {:>12} {:>10.4}",
            r.name, r.n, r.ns, vs, r.allocs
        );
    }
    if rows
        .iter()
        .any(|r| r.allocs > 0.0 && !r.name.starts_with("baseline"))
    {
        eprintln!("warning: the driver path allocated on the hot path");
        std::process::exit(1);
    }
}

trait Zeroed {
    fn default_zeroed() -> Self;
}
impl Zeroed for IaaCompletionRecord {
    fn default_zeroed() -> Self {
        bytemuck::Zeroable::zeroed()
    }
}
