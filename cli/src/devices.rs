//! `iaa devices`: what IAA/DSA devices and work queues this host has, whether each WQ is usable
//! by this library and why not, how descriptors would be submitted, which path (hardware or
//! software) compression takes, and which DSA WQs the DSA operations use.
//!
//! `--sys-root`/`--dev-root` point it at fixture trees; `--json` prints the same as JSON.

use clap::Args;
use iaa_driver::sysfs::{
    submit_method, Availability, BusState, CpuSubmit, Device, DeviceKind, Discovery, Inventory,
    WorkQueue, WqStatus,
};
use iaa_driver::vfio::{scan_functions, PciFunction};
use serde_json::{json, Value};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;

/// Options of `iaa devices`.
#[derive(Args, Debug, Clone)]
pub struct DevicesArgs {
    /// Print JSON instead of tables.
    #[arg(long)]
    pub json: bool,
    /// Root of sysfs (for fixture trees).
    #[arg(long, default_value = "/sys")]
    pub sys_root: PathBuf,
    /// Root of the device nodes (for fixture trees).
    #[arg(long, default_value = "/dev")]
    pub dev_root: PathBuf,
    /// Smallest WQ max_transfer_size accepted, in bytes.
    #[arg(long)]
    pub min_transfer_size: Option<u64>,
}

/// Run the command: scan and print. The report itself says what is missing; only a failure to
/// write stdout is an error.
pub fn run(args: &DevicesArgs) -> std::io::Result<()> {
    let mut d = Discovery::with_roots(&args.sys_root, &args.dev_root);
    if let Some(m) = args.min_transfer_size {
        d = d.min_transfer_size(m);
    }
    let inv = d.scan();
    let cpu = CpuSubmit::detect();
    let out = if args.json {
        serde_json::to_string_pretty(&to_json(&inv, cpu, args)).map_err(std::io::Error::other)?
    } else {
        render_table(&inv, cpu, args)
    };
    let mut so = std::io::stdout().lock();
    writeln!(so, "{out}")?;
    so.flush()
}

/// One CPU's route with WQ names: `(cpu, package, compress WQs, decompress WQ)`.
type Route = (usize, Option<u32>, Vec<String>, Option<String>);

/// Per CPU, the WQs its compress descriptors go to (round-robin over its package's IAAs) and
/// the WQ its decompress descriptors go to: the pool's own chooser
/// (`iaa_driver::choice::WqChooser`, the kernel's socket policy) over the usable IAA WQs.
pub fn cpu_map(inv: &Inventory) -> Vec<Route> {
    use iaa_driver::choice::{ChoicePolicy, WqCandidate, WqChooser};
    let chooser = WqChooser::new(
        WqCandidate::from_inventory(inv),
        &inv.topology,
        ChoicePolicy::default(),
    );
    let name = |i: usize| chooser.candidates()[i].sysfs_name.clone();
    chooser
        .cpu_map(&inv.topology)
        .into_iter()
        .map(|r| {
            (
                r.cpu,
                r.package,
                r.compress.into_iter().map(name).collect(),
                r.decompress.map(name),
            )
        })
        .collect()
}

/// One DSA WQ as the pool's DSA operations (`iaa::Pool::crc32c`, copy, fill, compare,
/// same-filled) would use it: `(wq, device, socket, batch, note)`.
type DsaRow = (String, String, Option<u32>, String, String);

/// The usable DSA WQs and what the DSA operations do with each: they need the device to work
/// on process memory in place (PASID enabled); batch descriptors only through a mapped portal
/// (through `write(2)` Linux refuses them), up to the WQ's `max_batch_size`.
pub fn dsa_wqs(inv: &Inventory, cpu: CpuSubmit) -> Vec<DsaRow> {
    inv.usable_wqs(DeviceKind::Dsa)
        .map(|(d, w)| {
            let method = submit_method(&w.status, cpu).map(|m| m.name().to_string());
            let through_write = method.as_deref().is_none_or(|m| m.contains("write"));
            let batch = match (w.max_batch_size, through_write) {
                (_, true) => "no (write(2))".to_string(),
                (Some(n), false) if n >= 2 => format!("up to {n}"),
                _ => "no".to_string(),
            };
            let note = if d.pasid_enabled == Some(true) {
                format!(
                    "used, submitted by {}",
                    method.unwrap_or_else(|| "-".into())
                )
            } else {
                "not used: PASID is off, the DSA operations run in software".into()
            };
            (w.sysfs_name.clone(), d.name.clone(), d.socket, batch, note)
        })
        .collect()
}

/// Sockets with CPUs but no usable IAA WQ of their own (their CPUs borrow another's).
fn borrowing_sockets(inv: &Inventory) -> Vec<u32> {
    let local: Vec<Option<u32>> = inv.usable_iaa_wqs().map(|(d, _)| d.socket).collect();
    if local.is_empty() || local.contains(&None) {
        return Vec::new();
    }
    inv.topology
        .packages()
        .into_iter()
        .filter(|p| !local.contains(&Some(*p)))
        .collect()
}

/// `hardware` when at least one IAA WQ is usable, else `software`.
fn path_word(inv: &Inventory) -> &'static str {
    match inv.availability() {
        Availability::Usable { .. } => "hardware",
        _ => "software",
    }
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|x| x.to_string()).unwrap_or_else(|| "-".into())
}

fn wq_row(d: &Device, w: &WorkQueue, cpu: CpuSubmit) -> [String; 9] {
    let method = submit_method(&w.status, cpu).map(|m| m.name().to_string());
    let reason = match &w.status {
        WqStatus::Usable { .. } => String::new(),
        WqStatus::Unusable { reason } => reason.to_string(),
    };
    let word = |v: Option<&str>| v.unwrap_or("-").to_string();
    [
        w.sysfs_name.clone(),
        d.name.clone(),
        word(w.mode.map(|m| match m {
            iaa_driver::sysfs::WqMode::Dedicated => "dedicated",
            iaa_driver::sysfs::WqMode::Shared => "shared",
        })),
        word(w.wq_type.map(|t| match t {
            iaa_driver::sysfs::WqType::User => "user",
            iaa_driver::sysfs::WqType::Kernel => "kernel",
            iaa_driver::sysfs::WqType::None => "none",
        })),
        word(w.state.map(|s| match s {
            iaa_driver::sysfs::WqState::Enabled => "enabled",
            iaa_driver::sysfs::WqState::Disabled => "disabled",
            iaa_driver::sysfs::WqState::Unknown => "unknown",
        })),
        opt(w.size),
        if w.status.is_usable() { "yes" } else { "no" }.into(),
        method.unwrap_or_else(|| "-".into()),
        reason,
    ]
}

fn table(out: &mut String, header: &[&str], rows: &[Vec<String>]) {
    let n = header.len();
    let mut width: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate().take(n - 1) {
            width[i] = width[i].max(c.chars().count());
        }
    }
    let line = |out: &mut String, cells: Vec<&str>| {
        let mut l = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == n {
                l.push_str(c);
            } else {
                let _ = write!(l, "{:<w$}  ", c, w = width[i]);
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(out, header.to_vec());
    for r in rows {
        line(out, r.iter().map(String::as_str).collect());
    }
}

/// What VFIO mode could do with a PCI function.
fn vfio_note(f: &PciFunction) -> (bool, String) {
    let deny = if f.denylisted() {
        "; VFIO mode needs `modprobe vfio-pci disable_denylist=1` (SPR/EMR erratum, docs/SETUP.md)"
    } else {
        ""
    };
    match (f.driver.as_deref(), f.iommu_group) {
        (Some("vfio-pci"), Some(_)) => (
            true,
            "ready for VFIO user mode (dedicated WQs, movdir64b, iaa_driver::vfio)".into(),
        ),
        (Some("vfio-pci"), None) => (
            false,
            "bound to vfio-pci but in no IOMMU group: boot with intel_iommu=on".into(),
        ),
        (Some("idxd"), _) => (false, format!("kernel driver idxd (WQs above){deny}")),
        (Some(d), _) => (false, format!("bound to {d}{deny}")),
        (None, _) => (false, format!("no driver{deny}")),
    }
}

fn kind_word(k: Option<DeviceKind>) -> &'static str {
    match k {
        Some(DeviceKind::Iaa) => "IAA",
        Some(DeviceKind::Dsa) => "DSA",
        None => "-",
    }
}

fn render_functions(out: &mut String, funcs: &[PciFunction]) {
    if funcs.is_empty() {
        return;
    }
    let rows: Vec<Vec<String>> = funcs
        .iter()
        .map(|f| {
            vec![
                f.bdf.clone(),
                kind_word(f.kind()).into(),
                format!("{:04x}", f.device),
                f.driver.clone().unwrap_or_else(|| "-".into()),
                opt(f.iommu_group),
                vfio_note(f).1,
            ]
        })
        .collect();
    out.push('\n');
    table(
        out,
        &["PCI FUNCTION", "KIND", "ID", "DRIVER", "IOMMU", "VFIO"],
        &rows,
    );
}

/// The human-readable report.
pub fn render_table(inv: &Inventory, cpu: CpuSubmit, args: &DevicesArgs) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "sysfs: {}   device nodes: {}   CPU: movdir64b={} enqcmd={}",
        args.sys_root.display(),
        args.dev_root.display(),
        if cpu.movdir64b { "yes" } else { "no" },
        if cpu.enqcmd { "yes" } else { "no" },
    );
    match inv.bus {
        BusState::DriverNotLoaded => {
            let _ = writeln!(
                out,
                "No IAA/DSA device: {}/bus/dsa is absent, the idxd driver is not loaded.",
                args.sys_root.display()
            );
        }
        BusState::NoDevices => {
            let _ = writeln!(out, "No IAA/DSA device on the dsa bus.");
        }
        BusState::Present => {
            out.push('\n');
            let rows: Vec<Vec<String>> = inv
                .devices
                .iter()
                .map(|d| {
                    vec![
                        d.name.clone(),
                        match d.kind {
                            iaa_driver::sysfs::DeviceKind::Iaa => "IAA".into(),
                            iaa_driver::sysfs::DeviceKind::Dsa => "DSA".into(),
                        },
                        opt(d.pci_address.clone()),
                        opt(d.pci_device_id.map(|i| format!("{i:04x}"))),
                        opt(d.socket),
                        opt(d.numa_node),
                        opt(d.state.map(|s| format!("{s:?}").to_lowercase())),
                        opt(d.version.map(|v| format!("{v:#x}"))),
                        header_gen(d).into(),
                        opt(d.pasid_enabled.map(|p| if p { "yes" } else { "no" })),
                        d.work_queues.len().to_string(),
                    ]
                })
                .collect();
            table(
                &mut out,
                &[
                    "DEVICE", "KIND", "PCI", "ID", "SOCKET", "NUMA", "STATE", "VERSION", "HDRGEN",
                    "PASID", "WQS",
                ],
                &rows,
            );
            let wq_rows: Vec<Vec<String>> = inv
                .all_wqs()
                .map(|(d, w)| wq_row(d, w, cpu).to_vec())
                .collect();
            out.push('\n');
            if wq_rows.is_empty() {
                out.push_str("No work queues.\n");
            } else {
                table(
                    &mut out,
                    &[
                        "WQ", "DEVICE", "MODE", "TYPE", "STATE", "SIZE", "USABLE", "SUBMIT",
                        "REASON",
                    ],
                    &wq_rows,
                );
            }
            for d in &inv.devices {
                for p in &d.problems {
                    let _ = writeln!(out, "warning: {}: {p}", d.name);
                }
            }
        }
    }
    let routes = cpu_map(inv);
    if !routes.is_empty() && routes.iter().any(|r| r.3.is_some() || !r.2.is_empty()) {
        out.push('\n');
        let rows: Vec<Vec<String>> = routes
            .iter()
            .map(|(cpu, pkg, comp, dec)| {
                vec![
                    cpu.to_string(),
                    opt(*pkg),
                    comp.join(" "),
                    dec.clone().unwrap_or_else(|| "-".into()),
                ]
            })
            .collect();
        table(
            &mut out,
            &["CPU", "PACKAGE", "COMPRESS", "DECOMPRESS"],
            &rows,
        );
    }
    for s in borrowing_sockets(inv) {
        let _ = writeln!(
            out,
            "note: socket {s} has no usable IAA WQ: its CPUs use the other sockets' IAAs"
        );
    }
    let dsa = dsa_wqs(inv, cpu);
    out.push('\n');
    if dsa.is_empty() {
        out.push_str(
            "DSA operations (CRC-32C, copy, fill, compare, same-filled): no usable DSA WQ, they \
             run in software.\n",
        );
    } else {
        let rows: Vec<Vec<String>> = dsa
            .iter()
            .map(|(wq, dev, socket, batch, note)| {
                vec![
                    wq.clone(),
                    dev.clone(),
                    opt(*socket),
                    batch.clone(),
                    note.clone(),
                ]
            })
            .collect();
        table(
            &mut out,
            &["DSA WQ", "DEVICE", "SOCKET", "BATCH", "DSA OPERATIONS"],
            &rows,
        );
    }
    for p in &inv.problems {
        let _ = writeln!(out, "warning: {p}");
    }
    render_functions(&mut out, &scan_functions(&args.sys_root));
    let _ = writeln!(out, "\n{}.", inv.availability());
    let _ = write!(
        out,
        "Path: {}{}",
        path_word(inv),
        if path_word(inv) == "software" {
            " (compression and decompression run on the CPU; see docs/SETUP.md to configure IAA, \
             or set IAA_DEVICE=model to exercise the hardware path on the software device model)"
        } else {
            ""
        }
    );
    out
}

/// Whether an IAA generates dynamic headers itself (IAACAP bit 8, the sysfs `iaa_cap` of an
/// IAA 2.0): "yes", "no" (an IAA 1.0, or 2.0 without it), "-" for DSA or an unreadable value.
fn header_gen(d: &Device) -> &'static str {
    const HEADER_GEN: u64 = 1 << 8;
    match (d.kind, d.version, d.iaa_cap) {
        (DeviceKind::Dsa, _, _) => "-",
        (_, _, Some(c)) if c & HEADER_GEN != 0 => "yes",
        (_, Some(v), _) if v < 0x200 => "no",
        (_, _, Some(_)) => "no",
        _ => "-",
    }
}

/// The JSON report.
pub fn to_json(inv: &Inventory, cpu: CpuSubmit, args: &DevicesArgs) -> Value {
    let devices: Vec<Value> = inv
        .devices
        .iter()
        .map(|d| {
            let wqs: Vec<Value> = d
                .work_queues
                .iter()
                .map(|w| {
                    let mut v = serde_json::to_value(w).unwrap_or(Value::Null);
                    if let Value::Object(m) = &mut v {
                        m.insert("usable".into(), json!(w.status.is_usable()));
                        m.insert(
                            "submit_method".into(),
                            json!(submit_method(&w.status, cpu).map(|x| x.name())),
                        );
                        m.insert("reason".into(), json!(w.status.reason()));
                    }
                    v
                })
                .collect();
            let mut v = serde_json::to_value(d).unwrap_or(Value::Null);
            if let Value::Object(m) = &mut v {
                m.insert("work_queues".into(), Value::Array(wqs));
            }
            v
        })
        .collect();
    json!({
        "sys_root": args.sys_root,
        "dev_root": args.dev_root,
        "cpu": cpu,
        "bus": inv.bus,
        "availability": inv.availability(),
        "summary": inv.availability().to_string(),
        "path": path_word(inv),
        "devices": devices,
        "pci_functions": scan_functions(&args.sys_root)
            .iter()
            .map(|f| {
                let (ready, note) = vfio_note(f);
                json!({
                    "bdf": f.bdf,
                    "kind": f.kind(),
                    "vendor": format!("{:04x}", f.vendor),
                    "device": format!("{:04x}", f.device),
                    "driver": f.driver,
                    "iommu_group": f.iommu_group,
                    "vfio_denylisted": f.denylisted(),
                    "vfio_ready": ready,
                    "note": note,
                })
            })
            .collect::<Vec<_>>(),
        "cpu_map": cpu_map(inv)
            .into_iter()
            .map(|(cpu, package, compress, decompress)| {
                json!({
                    "cpu": cpu,
                    "package": package,
                    "compress": compress,
                    "decompress": decompress,
                })
            })
            .collect::<Vec<_>>(),
        "borrowing_sockets": borrowing_sockets(inv),
        "dsa_wqs": dsa_wqs(inv, cpu)
            .into_iter()
            .map(|(wq, device, socket, batch, note)| {
                json!({
                    "wq": wq,
                    "device": device,
                    "socket": socket,
                    "batch": batch,
                    "used": note.starts_with("used"),
                    "note": note,
                })
            })
            .collect::<Vec<_>>(),
        "problems": inv.problems,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../driver/tests/fixtures/spr-one-iaa")
    }

    fn args(root: &std::path::Path, json: bool) -> DevicesArgs {
        DevicesArgs {
            json,
            sys_root: root.join("sys"),
            dev_root: root.join("dev"),
            min_transfer_size: None,
        }
    }

    fn scan(a: &DevicesArgs) -> Inventory {
        Discovery::with_roots(&a.sys_root, &a.dev_root).scan()
    }

    const CPU: CpuSubmit = CpuSubmit {
        movdir64b: true,
        enqcmd: false,
    };

    #[test]
    fn dsa_wqs_for_the_dsa_operations() {
        let h = iaa_driver::fixture::one_dsa_two_wqs();
        let root = h.sys().parent().unwrap().to_path_buf();
        let a = args(&root, false);
        let inv = scan(&a);
        let t = render_table(&inv, CPU, &a);
        let line = |wq: &str| {
            t.lines()
                .find(|l| l.starts_with(wq) && l.contains("used"))
                .unwrap_or_else(|| panic!("{wq} in {t}"))
                .to_string()
        };
        assert!(t.contains("DSA WQ"), "{t}");
        // Without ENQCMD the shared WQ takes write(2), so no batches; the dedicated one
        // MOVDIR64B, batches up to its max_batch_size.
        assert!(line("wq0.0").contains("no (write(2))"), "{t}");
        assert!(line("wq0.1").contains("up to 32"), "{t}");
        let v = to_json(&inv, CPU, &a);
        let d = v["dsa_wqs"].as_array().unwrap();
        assert_eq!(d.len(), 2);
        assert_eq!(d[0]["wq"], "wq0.0");
        assert_eq!(d[0]["used"], true);
        // Without PASID the DSA operations stay in software.
        h.write("bus/dsa/devices/dsa0/pasid_enabled", "0");
        let inv = scan(&a);
        let v = to_json(&inv, CPU, &a);
        let d = v["dsa_wqs"].as_array().unwrap();
        assert!(d.iter().all(|w| w["used"] == false), "{d:?}");
    }

    #[test]
    fn header_generation_column() {
        let h = iaa_driver::fixture::Host::new();
        h.cpus(&[0, 0]);
        h.device(
            "iax1",
            "0000:6a:02.0",
            0,
            Some("0-1"),
            &[("version", Some("0x200")), ("iaa_cap", Some("0x1ff"))],
        );
        h.device("iax3", "0000:e7:02.0", 0, Some("0-1"), &[]);
        h.device("dsa0", "0000:6a:01.0", 0, Some("0-1"), &[]);
        let a = DevicesArgs {
            json: false,
            sys_root: h.sys(),
            dev_root: h.dev(),
            min_transfer_size: None,
        };
        let inv = scan(&a);
        let t = render_table(&inv, CPU, &a);
        let col = |dev: &str| -> String {
            let head: Vec<&str> = t
                .lines()
                .find(|l| l.starts_with("DEVICE"))
                .unwrap()
                .split_whitespace()
                .collect();
            let i = head.iter().position(|c| *c == "HDRGEN").unwrap();
            let row: Vec<&str> = t
                .lines()
                .find(|l| l.starts_with(dev))
                .unwrap()
                .split_whitespace()
                .collect();
            row[i].to_string()
        };
        assert_eq!(col("iax1"), "yes", "{t}");
        assert_eq!(col("iax3"), "no", "{t}");
        assert_eq!(col("dsa0"), "-", "{t}");
        let v = to_json(&inv, CPU, &a);
        let iax1 = v["devices"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["name"] == "iax1")
            .unwrap();
        assert_eq!(iax1["iaa_cap"], 0x1ff);
    }

    #[test]
    fn table_over_fixture_tree() {
        let a = args(&fixture(), false);
        let inv = scan(&a);
        let t = render_table(&inv, CPU, &a);
        assert!(t.contains("iax1") && t.contains("0000:6a:02.0"), "{t}");
        let wq10 = t.lines().find(|l| l.starts_with("wq1.0")).unwrap();
        let cols: Vec<&str> = wq10.split_whitespace().collect();
        // Shared WQ with a mapped portal but no ENQCMD on this (pretend) CPU: write(2).
        assert_eq!(
            cols,
            ["wq1.0", "iax1", "shared", "user", "enabled", "96", "yes", "write"]
        );
        let wq11 = t.lines().find(|l| l.starts_with("wq1.1")).unwrap();
        assert!(
            wq11.contains("dedicated") && wq11.contains("movdir64b"),
            "{wq11}"
        );
        assert!(t.contains("2 usable IAA work queue(s)"), "{t}");
        assert!(t.ends_with("Path: hardware"), "{t}");
    }

    #[test]
    fn two_socket_spr_fixture() {
        // 4 IAA + 4 DSA on 2 sockets, mixed WQ modes and types (driver/tests/fixtures/spr-2s).
        let root =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../driver/tests/fixtures/spr-2s");
        let a = args(&root, false);
        let inv = scan(&a);
        let t = render_table(&inv, CPU, &a);
        let row = |wq: &str| {
            t.lines()
                .find(|l| l.starts_with(&format!("{wq} ")))
                .unwrap_or_else(|| panic!("{wq} missing:\n{t}"))
                .to_string()
        };
        assert!(row("wq1.1").contains("movdir64b"));
        assert!(row("wq1.2").contains("kernel") && row("wq1.2").contains("crypto"));
        assert!(row("wq1.3").contains("disabled") && row("wq1.3").contains(" no "));
        assert!(row("wq6.0").contains("dsa6 is disabled"));
        assert!(row("wq7.0").contains("does not exist"));
        assert!(row("wq5.3").contains("max_transfer_size"));
        let iaa_rows = t
            .lines()
            .filter(|l| l.starts_with("iax") && l.contains(" IAA "))
            .count();
        let dsa_rows = t
            .lines()
            .filter(|l| l.starts_with("dsa") && l.contains(" DSA "))
            .count();
        assert_eq!((iaa_rows, dsa_rows), (4, 4));
        assert!(t.contains("7 usable IAA work queue(s)"), "{t}");
        let v = to_json(&inv, CPU, &a);
        let sockets: Vec<u64> = v["devices"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["socket"].as_u64().unwrap())
            .collect();
        assert_eq!(sockets, [0, 0, 0, 0, 1, 1, 1, 1]);
    }

    #[test]
    fn pci_functions_and_vfio_readiness() {
        let t = Scratch::new("pci");
        copy_dir(&fixture(), t.path());
        let sys = t.path().join("sys");
        let bus = sys.join("bus/pci/devices");
        std::fs::create_dir_all(&bus).unwrap();
        std::os::unix::fs::symlink(
            "../../../devices/pci0000:6a/0000:6a:02.0",
            bus.join("0000:6a:02.0"),
        )
        .unwrap();
        std::fs::create_dir_all(sys.join("bus/pci/drivers/idxd")).unwrap();
        std::os::unix::fs::symlink(
            "../../../bus/pci/drivers/idxd",
            sys.join("devices/pci0000:6a/0000:6a:02.0/driver"),
        )
        .unwrap();
        let a = args(t.path(), false);
        let inv = scan(&a);
        let out = render_table(&inv, CPU, &a);
        let row = out
            .lines()
            .find(|l| l.starts_with("0000:6a:02.0"))
            .unwrap_or_else(|| panic!("{out}"));
        assert!(
            row.contains("idxd") && row.contains("disable_denylist=1"),
            "{row}"
        );
        let v = to_json(&inv, CPU, &a);
        let f = &v["pci_functions"][0];
        assert_eq!(f["bdf"], "0000:6a:02.0");
        assert_eq!(f["kind"], "iaa");
        assert_eq!(f["vfio_denylisted"], true);
        assert_eq!(f["vfio_ready"], false);
    }

    #[test]
    fn json_over_fixture_tree() {
        let a = args(&fixture(), true);
        let inv = scan(&a);
        let v = to_json(&inv, CPU, &a);
        assert_eq!(v["path"], "hardware");
        assert_eq!(v["availability"]["availability"], "usable");
        let wq = &v["devices"][0]["work_queues"][1];
        assert_eq!(wq["sysfs_name"], "wq1.1");
        assert_eq!(wq["usable"], true);
        assert_eq!(wq["submit_method"], "movdir64b");
        assert_eq!(wq["reason"], Value::Null);
        assert_eq!(v["cpu"]["enqcmd"], false);
    }

    /// A scratch directory removed on drop.
    struct Scratch(PathBuf);
    impl Scratch {
        fn new(tag: &str) -> Self {
            let p = std::env::temp_dir().join(format!(
                "iaa-devices-{tag}-{}-{:?}",
                std::process::id(),
                std::thread::current().id()
            ));
            let _ = std::fs::remove_dir_all(&p);
            std::fs::create_dir_all(&p).unwrap();
            Scratch(p)
        }
        fn path(&self) -> &std::path::Path {
            &self.0
        }
    }
    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn unusable_wq_shows_reason() {
        // A copy of the fixture with wq1.1 disabled.
        let t = Scratch::new("disabled");
        copy_dir(&fixture(), t.path());
        let state = t
            .path()
            .join("sys/devices/pci0000:6a/0000:6a:02.0/iax1/wq1.1/state");
        std::fs::write(&state, "disabled\n").unwrap();
        let a = args(t.path(), false);
        let inv = scan(&a);
        let out = render_table(&inv, CPU, &a);
        let wq11 = out.lines().find(|l| l.starts_with("wq1.1")).unwrap();
        assert!(
            wq11.contains(" no ") && wq11.contains("accel-config enable-wq"),
            "{wq11}"
        );
        let v = to_json(&inv, CPU, &a);
        assert_eq!(
            v["devices"][0]["work_queues"][1]["reason"]["code"],
            "wq_disabled"
        );
        assert_eq!(
            v["devices"][0]["work_queues"][1]["submit_method"],
            Value::Null
        );
    }

    #[test]
    fn empty_host_says_software_and_why() {
        let t = Scratch::new("empty");
        std::fs::create_dir_all(t.path().join("sys")).unwrap();
        let a = args(t.path(), false);
        let inv = scan(&a);
        let out = render_table(&inv, CPU, &a);
        assert!(out.contains("bus/dsa is absent"), "{out}");
        assert!(out.contains("idxd driver not loaded"), "{out}");
        assert!(out.contains("Path: software"), "{out}");
        let v = to_json(&inv, CPU, &a);
        assert_eq!(v["path"], "software");
        assert_eq!(v["availability"]["availability"], "driver_not_loaded");
        assert_eq!(v["devices"], json!([]));
    }

    fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
        std::fs::create_dir_all(to).unwrap();
        for e in std::fs::read_dir(from).unwrap() {
            let e = e.unwrap();
            let ty = e.file_type().unwrap();
            let dst = to.join(e.file_name());
            if ty.is_symlink() {
                std::os::unix::fs::symlink(std::fs::read_link(e.path()).unwrap(), &dst).unwrap();
            } else if ty.is_dir() {
                copy_dir(&e.path(), &dst);
            } else {
                std::fs::copy(e.path(), &dst).unwrap();
            }
        }
    }
}
