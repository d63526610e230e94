//! Discovery against fixture trees: the committed one-IAA tree and generated hosts.

use iaa_driver::fixture as common;

use common::{bdf, spr_host, Host};
use iaa_driver::sysfs::{
    Availability, BusState, DeviceKind, DeviceState, Discovery, FakeOpener, FakeOutcome, OpenError,
    ProbeError, SubmissionKind, UnusableReason, WqMode, WqStatus, WqType,
};
use std::path::PathBuf;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

#[test]
fn committed_tree_parses_every_attribute() {
    let root = fixture("spr-one-iaa");
    let inv =
        Discovery::with_roots(root.join("sys"), root.join("dev")).scan_with(&FakeOpener::new());
    assert_eq!(inv.bus, BusState::Present);
    assert_eq!(inv.devices.len(), 1);
    let d = &inv.devices[0];
    assert_eq!(d.name, "iax1");
    assert_eq!(d.kind, DeviceKind::Iaa);
    assert_eq!(d.version, Some(0x100));
    assert_eq!(d.state, Some(DeviceState::Enabled));
    assert_eq!(d.gen_cap, Some(0x0007_1f10_901f_0105));
    assert_eq!(d.max_transfer_size, Some(1 << 31));
    assert_eq!(d.pasid_enabled, Some(true));
    assert_eq!(
        (
            d.max_groups,
            d.max_work_queues,
            d.max_work_queues_size,
            d.max_engines
        ),
        (Some(4), Some(8), Some(128), Some(8))
    );
    assert_eq!(d.cdev_major, Some(511));
    assert_eq!(d.numa_node, Some(0));
    assert_eq!(d.socket, Some(0));
    assert_eq!(d.pci_address.as_deref(), Some("0000:6a:02.0"));
    assert_eq!(d.pci_device_id, Some(0x0cfe));
    let op = d.op_cap.unwrap();
    assert!(op.contains(0x42) && op.contains(0x43) && op.contains(0x00) && !op.contains(0x01));
    assert!(d.problems.is_empty(), "{:?}", d.problems);

    assert_eq!(d.work_queues.len(), 2);
    let w0 = &d.work_queues[0];
    assert_eq!(w0.sysfs_name, "wq1.0");
    assert_eq!((w0.device_id, w0.index), (1, 0));
    assert_eq!(w0.mode, Some(WqMode::Shared));
    assert_eq!(w0.wq_type, Some(WqType::User));
    assert_eq!(
        (w0.size, w0.threshold, w0.priority),
        (Some(96), Some(96), Some(10))
    );
    assert_eq!(w0.max_transfer_size, Some(2 * 1024 * 1024));
    assert_eq!(w0.block_on_fault, Some(true));
    assert_eq!(w0.name.as_deref(), Some("app0"));
    assert_eq!(w0.driver_name.as_deref(), Some("user"));
    assert_eq!(w0.group_id, Some(0));
    assert_eq!(w0.cdev_minor, Some(0));
    assert_eq!(w0.op_config, None);
    assert!(w0.problems.is_empty(), "{:?}", w0.problems);
    assert_eq!(
        w0.status,
        WqStatus::Usable {
            submission: SubmissionKind::MmapPortal,
            mode: WqMode::Shared,
            node: root.join("dev/iax/wq1.0"),
        }
    );
    let w1 = &d.work_queues[1];
    assert_eq!(w1.mode, Some(WqMode::Dedicated));
    assert!(w1.status.is_usable());
    assert_eq!(inv.availability(), Availability::Usable { wqs: 2 });
    assert_eq!(inv.topology.package_of(1), Some(0));
}

#[test]
fn committed_tree_with_real_opener() {
    // Regular files stand in for the nodes: the real open + mmap path succeeds on them.
    let root = fixture("spr-one-iaa");
    let inv = Discovery::with_roots(root.join("sys"), root.join("dev")).scan();
    assert_eq!(inv.usable_iaa_wqs().count(), 2);
}

fn spr_opener(h: &Host) -> FakeOpener {
    FakeOpener::new()
        .with(h.dev().join("iax/wq3.0"), FakeOutcome::MmapDenied)
        .with(
            h.dev().join("iax/wq5.2"),
            FakeOutcome::Fail(OpenError::Busy),
        )
        .with(
            h.dev().join("iax/wq7.1"),
            FakeOutcome::Fail(OpenError::PermissionDenied),
        )
}

#[test]
fn spr_host_exact_verdicts() {
    let h = spr_host();
    let inv = h.discovery().scan_with(&spr_opener(&h));
    assert_eq!(inv.bus, BusState::Present);
    let names: Vec<&str> = inv.devices.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(
        names,
        ["dsa0", "iax1", "dsa2", "iax3", "dsa4", "iax5", "dsa6", "iax7"]
    );
    for d in &inv.devices {
        assert!(d.problems.is_empty(), "{}: {:?}", d.name, d.problems);
        let expect_socket = if d.id < 4 { 0 } else { 1 };
        assert_eq!(d.socket, Some(expect_socket), "{}", d.name);
    }

    let usable: Vec<&str> = inv
        .all_wqs()
        .filter(|(_, w)| w.status.is_usable())
        .map(|(_, w)| w.sysfs_name.as_str())
        .collect();
    assert_eq!(
        usable,
        ["wq1.0", "wq1.1", "wq2.0", "wq3.0", "wq5.0", "wq7.2"]
    );
    let iaa_usable: Vec<&str> = inv
        .usable_iaa_wqs()
        .map(|(_, w)| w.sysfs_name.as_str())
        .collect();
    assert_eq!(iaa_usable, ["wq1.0", "wq1.1", "wq3.0", "wq5.0", "wq7.2"]);

    let status = |n: &str| inv.wq(n).unwrap().1.status.clone();
    let reason = |n: &str| status(n).reason().cloned().unwrap();
    let node = |p: &str| h.dev().join(p);

    assert_eq!(
        status("wq1.1"),
        WqStatus::Usable {
            submission: SubmissionKind::MmapPortal,
            mode: WqMode::Dedicated,
            node: node("iax/wq1.1")
        }
    );
    assert_eq!(
        status("wq3.0"),
        WqStatus::Usable {
            submission: SubmissionKind::Write,
            mode: WqMode::Shared,
            node: node("iax/wq3.0")
        }
    );
    assert_eq!(
        reason("wq1.2"),
        UnusableReason::KernelOwned {
            driver_name: Some("crypto".into())
        }
    );
    assert_eq!(
        reason("wq1.3"),
        UnusableReason::WqDisabled {
            device: "iax1".into(),
            wq: "wq1.3".into(),
            state: "disabled".into(),
            last_error: None,
        }
    );
    assert_eq!(
        reason("wq3.1"),
        UnusableReason::DriverNotUser {
            driver_name: "crypto".into()
        }
    );
    assert_eq!(reason("wq5.1"), UnusableReason::NoName);
    assert_eq!(
        reason("wq5.2"),
        UnusableReason::DedicatedBusy {
            path: node("iax/wq5.2")
        }
    );
    assert_eq!(
        reason("wq5.3"),
        UnusableReason::MaxTransferTooSmall {
            have: 4096,
            need: 64 * 1024
        }
    );
    assert_eq!(
        reason("wq7.0"),
        UnusableReason::NodeMissing {
            path: node("iax/wq7.0")
        }
    );
    assert_eq!(
        reason("wq7.1"),
        UnusableReason::PermissionDenied {
            path: node("iax/wq7.1")
        }
    );
    assert_eq!(
        reason("wq0.0"),
        UnusableReason::KernelOwned {
            driver_name: Some("dmaengine".into())
        }
    );
    assert_eq!(reason("wq4.0"), UnusableReason::NotConfigured);
    assert_eq!(
        reason("wq6.0"),
        UnusableReason::DeviceNotEnabled {
            device: "dsa6".into(),
            state: "disabled".into(),
            last_error: None,
        }
    );

    // wq7.2 allows decompress only.
    let (d7, w72) = inv.wq("wq7.2").unwrap();
    assert!(w72.allows(d7, 0x42) && !w72.allows(d7, 0x43));
    assert_eq!(inv.availability(), Availability::Usable { wqs: 5 });
    assert_eq!(inv.topology.packages(), vec![0, 1]);
}

#[test]
fn every_reason_has_distinct_code_and_actionable_text() {
    let h = spr_host();
    let inv = h.discovery().scan_with(&spr_opener(&h));
    let mut codes: Vec<&str> = Vec::new();
    for (_, w) in inv.all_wqs() {
        if let Some(r) = w.status.reason() {
            let text = r.to_string();
            assert!(text.len() > 30, "{text}");
            if !codes.contains(&r.code()) {
                codes.push(r.code());
            }
        }
    }
    codes.sort_unstable();
    assert_eq!(
        codes,
        [
            "dedicated_busy",
            "device_not_enabled",
            "driver_not_user",
            "kernel_owned",
            "max_transfer_too_small",
            "no_name",
            "node_missing",
            "not_configured",
            "permission_denied",
            "wq_disabled"
        ]
    );
    let r = inv
        .wq("wq1.2")
        .unwrap()
        .1
        .status
        .reason()
        .unwrap()
        .to_string();
    assert!(r.contains("crypto") && r.contains("--type=user"), "{r}");
    let r = inv
        .wq("wq7.1")
        .unwrap()
        .1
        .status
        .reason()
        .unwrap()
        .to_string();
    assert!(r.contains("udev") && r.contains("chmod"), "{r}");
}

#[test]
fn halted_device_and_no_pasid() {
    let h = Host::new();
    h.cpus(&[0, 0]);
    h.device("iax1", bdf("iax1"), 0, None, &[("state", Some("halted"))]);
    h.device(
        "iax3",
        bdf("iax3"),
        0,
        None,
        &[("pasid_enabled", Some("0"))],
    );
    h.wq("iax1", bdf("iax1"), "wq1.0", &[], true);
    h.wq("iax3", bdf("iax3"), "wq3.0", &[], true);
    let inv = h.discovery().scan_with(&FakeOpener::new());
    let r1 = inv.wq("wq1.0").unwrap().1.status.reason().cloned().unwrap();
    assert_eq!(
        r1,
        UnusableReason::DeviceHalted {
            device: "iax1".into()
        }
    );
    let r3 = inv.wq("wq3.0").unwrap().1.status.reason().cloned().unwrap();
    assert_eq!(
        r3,
        UnusableReason::NoPasid {
            device: "iax3".into()
        }
    );
    assert!(r3.to_string().contains("intel_iommu=on,sm_on"));
    assert_eq!(inv.availability(), Availability::NoneUsable { user_wqs: 2 });
}

#[test]
fn op_config_without_compression() {
    let h = Host::new();
    h.device("iax1", bdf("iax1"), -1, None, &[]);
    h.wq(
        "iax1",
        bdf("iax1"),
        "wq1.0",
        &[("op_config", Some("0,0,0,0,0,00000010,0,d"))], // CRC64 (0x44) only
        true,
    );
    let inv = h.discovery().scan_with(&FakeOpener::new());
    let (d, w) = inv.wq("wq1.0").unwrap();
    assert_eq!(d.numa_node, None);
    assert_eq!(d.socket, None);
    assert_eq!(
        w.status.reason(),
        Some(&UnusableReason::OpConfigLacksCompression)
    );
}

#[test]
fn char_node_fallback() {
    // Only /dev/char/<major>:<minor> exists (no /dev/iax directory).
    let h = Host::new();
    h.device("iax1", bdf("iax1"), 0, None, &[]);
    h.wq(
        "iax1",
        bdf("iax1"),
        "wq1.0",
        &[("cdev_minor", Some("7"))],
        false,
    );
    let p = h.node("char", "511:7");
    let inv = h.discovery().scan_with(&FakeOpener::new());
    let (_, w) = inv.wq("wq1.0").unwrap();
    assert_eq!(w.node, p);
    assert!(w.status.is_usable());
}

#[test]
fn min_transfer_size_is_configurable() {
    let h = spr_host();
    let inv = h
        .discovery()
        .min_transfer_size(4096)
        .scan_with(&spr_opener(&h));
    assert!(inv.wq("wq5.3").unwrap().1.status.is_usable());
    let inv = h
        .discovery()
        .min_transfer_size(4 << 20)
        .scan_with(&spr_opener(&h));
    assert_eq!(
        inv.wq("wq1.0").unwrap().1.status.reason(),
        Some(&UnusableReason::MaxTransferTooSmall {
            have: 2 << 20,
            need: 4 << 20
        })
    );
}

#[test]
fn iaa_without_user_wq() {
    let h = Host::new();
    h.cpus(&[0, 0, 1, 1]);
    h.device("iax1", bdf("iax1"), 0, None, &[]);
    h.device("iax5", bdf("iax5"), 1, None, &[]);
    h.wq(
        "iax1",
        bdf("iax1"),
        "wq1.0",
        &[("type", Some("kernel")), ("driver_name", Some("crypto"))],
        false,
    );
    h.wq(
        "iax5",
        bdf("iax5"),
        "wq5.0",
        &[("type", Some("none")), ("name", Some(""))],
        false,
    );
    let inv = h.discovery().scan_with(&FakeOpener::new());
    assert_eq!(
        inv.availability(),
        Availability::NoUserWq { iaa_devices: 2 }
    );
    assert!(inv
        .availability()
        .to_string()
        .contains("no user work queue"));
    assert_eq!(inv.usable_iaa_wqs().count(), 0);
}

#[test]
fn dsa_only_host() {
    let h = Host::new();
    h.device("dsa0", bdf("dsa0"), 0, None, &[]);
    h.wq("dsa0", bdf("dsa0"), "wq0.0", &[], true);
    let inv = h.discovery().scan_with(&FakeOpener::new());
    assert_eq!(
        inv.availability(),
        Availability::NoIaaDevice { dsa_devices: 1 }
    );
    assert!(inv.wq("wq0.0").unwrap().1.status.is_usable());
}

#[test]
fn driver_not_loaded_and_no_devices() {
    let h = Host::new();
    let inv = h.discovery().scan_with(&FakeOpener::new());
    assert_eq!(inv.bus, BusState::DriverNotLoaded);
    assert_eq!(inv.availability(), Availability::DriverNotLoaded);
    assert!(inv
        .availability()
        .to_string()
        .contains("idxd driver not loaded"));

    h.bus();
    let inv = h.discovery().scan_with(&FakeOpener::new());
    assert_eq!(inv.bus, BusState::NoDevices);
    assert_eq!(inv.availability(), Availability::NoDevices);
    assert!(inv
        .availability()
        .to_string()
        .contains("no IAA/DSA devices"));

    // Only /sys/bus/dsa, without devices/.
    let h2 = Host::new();
    std::fs::create_dir_all(h2.sys().join("bus/dsa")).unwrap();
    assert_eq!(
        h2.discovery().scan_with(&FakeOpener::new()).bus,
        BusState::NoDevices
    );

    // The live-system constructor points at /sys and /dev and never panics, whatever is there.
    let _ = Discovery::new()
        .scan_with(&FakeOpener::new().with_default(FakeOutcome::Fail(OpenError::Busy)));
}

fn bad_attr(inv: &iaa_driver::sysfs::Inventory, wq: &str) -> String {
    match inv.wq(wq).unwrap().1.status.reason() {
        Some(UnusableReason::BadAttribute { detail }) => detail.clone(),
        other => panic!("{wq}: expected BadAttribute, got {other:?}"),
    }
}

#[test]
fn malformed_attributes_are_reported_not_panics() {
    let h = Host::new();
    h.cpus(&[0]);
    // Device with a 7-word op_cap: every WQ of it is unusable with that problem.
    h.device(
        "iax1",
        bdf("iax1"),
        0,
        None,
        &[(
            "op_cap",
            Some("00000000,00000000,00000000,00000000,00000000,007f331c,0000000d"),
        )],
    );
    h.wq("iax1", bdf("iax1"), "wq1.0", &[], true);
    // Device with a garbage state.
    h.device("iax3", bdf("iax3"), 0, None, &[("state", Some("on fire"))]);
    h.wq("iax3", bdf("iax3"), "wq3.0", &[], true);
    // Device with the state file missing.
    h.device("iax5", bdf("iax5"), 0, None, &[("state", None)]);
    h.wq("iax5", bdf("iax5"), "wq5.0", &[], true);
    // Good device, bad WQs.
    h.device("iax7", bdf("iax7"), 0, None, &[]);
    h.wq(
        "iax7",
        bdf("iax7"),
        "wq7.0",
        &[("size", Some("lots"))],
        true,
    );
    h.wq("iax7", bdf("iax7"), "wq7.1", &[("mode", None)], true);
    h.wq("iax7", bdf("iax7"), "wq7.2", &[("type", Some("usr"))], true);
    h.wq(
        "iax7",
        bdf("iax7"),
        "wq7.3",
        &[("max_transfer_size", Some("-1"))],
        true,
    );
    h.wq(
        "iax7",
        bdf("iax7"),
        "wq7.4",
        &[("op_config", Some("ffffffff"))],
        true,
    );
    h.wq("iax7", bdf("iax7"), "wq7.5", &[], true);
    // Binary garbage in an attribute.
    std::fs::write(
        h.sys().join("bus/dsa/devices/wq7.5/threshold"),
        [0xffu8, 0xfe, 0x00, 0x41],
    )
    .unwrap();

    let inv = h.discovery().scan_with(&FakeOpener::new());
    let d1 = &inv.devices[0];
    assert_eq!(d1.op_cap, None);
    assert!(bad_attr(&inv, "wq1.0").contains("op_cap"));
    assert!(bad_attr(&inv, "wq1.0").contains("8 comma-separated"));
    assert!(bad_attr(&inv, "wq3.0").contains("on fire"));
    assert!(bad_attr(&inv, "wq5.0").contains("state: missing"));
    assert!(bad_attr(&inv, "wq7.0").contains("size"));
    assert!(bad_attr(&inv, "wq7.0").contains("lots"));
    assert!(bad_attr(&inv, "wq7.1").contains("mode: missing"));
    assert!(bad_attr(&inv, "wq7.2").contains("usr"));
    assert!(bad_attr(&inv, "wq7.3").contains("max_transfer_size"));
    assert!(bad_attr(&inv, "wq7.4").contains("op_config"));
    assert!(bad_attr(&inv, "wq7.5").contains("UTF-8"));
    assert_eq!(inv.usable_iaa_wqs().count(), 0);
    // The text of a bad attribute is still something an admin can act on.
    let r = inv
        .wq("wq7.0")
        .unwrap()
        .1
        .status
        .reason()
        .unwrap()
        .to_string();
    assert!(r.contains("cannot read the WQ configuration"), "{r}");
}

#[test]
fn malformed_topology_is_tolerated() {
    let h = spr_host();
    h.write("devices/system/cpu/cpu2/topology/physical_package_id", "x");
    h.write("devices/system/node/node1/cpulist", "9-1");
    std::fs::create_dir_all(h.sys().join("devices/system/cpu/cpufreq")).unwrap();
    let inv = h.discovery().scan_with(&spr_opener(&h));
    assert_eq!(inv.topology.package_of(2), None);
    assert_eq!(inv.topology.package_of(3), Some(0));
    // Socket-1 devices relied on node1's cpulist, now unreadable: socket unknown.
    assert_eq!(inv.wq("wq5.0").unwrap().0.socket, None);
    assert_eq!(inv.wq("wq1.0").unwrap().0.socket, Some(0));
}

#[test]
fn inventory_serializes_to_json() {
    let h = spr_host();
    let inv = h.discovery().scan_with(&spr_opener(&h));
    let v: serde_json::Value = serde_json::to_value(&inv).unwrap();
    assert_eq!(v["bus"], "present");
    assert_eq!(v["availability"]["availability"], "usable");
    assert_eq!(v["availability"]["wqs"], 5);
    let iax1 = &v["devices"][1];
    assert_eq!(iax1["name"], "iax1");
    assert_eq!(iax1["kind"], "iaa");
    let wq12 = &iax1["work_queues"][2];
    assert_eq!(wq12["status"]["status"], "unusable");
    assert_eq!(wq12["status"]["reason"]["code"], "kernel_owned");
    assert!(wq12["status"]["reason"]["message"]
        .as_str()
        .unwrap()
        .contains("crypto"));
    let wq10 = &iax1["work_queues"][0];
    assert_eq!(wq10["status"]["status"], "usable");
    assert_eq!(wq10["status"]["submission"], "mmap_portal");
    assert_eq!(wq10["status"]["mode"], "shared");
}

#[test]
fn mmap_refused_and_write_probe_failing_is_its_own_reason() {
    let h = Host::new();
    h.cpus(&[0, 0]);
    h.device("iax1", bdf("iax1"), 0, None, &[]);
    h.wq("iax1", bdf("iax1"), "wq1.0", &[], true);
    h.wq(
        "iax1",
        bdf("iax1"),
        "wq1.1",
        &[("mode", Some("dedicated"))],
        true,
    );
    h.wq("iax1", bdf("iax1"), "wq1.2", &[], true);
    let opener = FakeOpener::new()
        .with(
            h.dev().join("iax/wq1.0"),
            FakeOutcome::MmapDeniedWriteFails(ProbeError::Write {
                errno: libc::EAGAIN,
            }),
        )
        .with(
            h.dev().join("iax/wq1.1"),
            FakeOutcome::MmapDeniedWriteFails(ProbeError::Timeout { budget_ms: 100 }),
        )
        .with(h.dev().join("iax/wq1.2"), FakeOutcome::MmapDenied);
    let inv = h.discovery().scan_with(&opener);
    let r0 = inv.wq("wq1.0").unwrap().1.status.reason().cloned().unwrap();
    assert_eq!(r0.code(), "write_probe_failed");
    let text = r0.to_string();
    assert!(
        text.contains("CAP_SYS_RAWIO") && text.contains("INTEL-SA-01084"),
        "{text}"
    );
    assert!(matches!(
        inv.wq("wq1.1").unwrap().1.status.reason(),
        Some(UnusableReason::WriteProbeFailed { detail, .. }) if detail.contains("100 ms")
    ));
    // The probe passing keeps the WQ usable through write(2).
    assert_eq!(
        inv.wq("wq1.2").unwrap().1.status,
        WqStatus::Usable {
            submission: SubmissionKind::Write,
            mode: WqMode::Shared,
            node: h.dev().join("iax/wq1.2"),
        }
    );
    assert_eq!(inv.availability(), Availability::Usable { wqs: 1 });
}

fn copy_tree(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let ty = e.file_type().unwrap();
        let dst = to.join(e.file_name());
        if ty.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(e.path()).unwrap(), &dst).unwrap();
        } else if ty.is_dir() {
            copy_tree(&e.path(), &dst);
        } else {
            std::fs::copy(e.path(), &dst).unwrap();
        }
    }
}

fn verdicts(
    inv: &iaa_driver::sysfs::Inventory,
) -> Vec<(String, Option<u32>, bool, Option<&'static str>)> {
    inv.all_wqs()
        .map(|(d, w)| {
            (
                w.sysfs_name.clone(),
                d.socket,
                w.status.is_usable(),
                w.status.reason().map(|r| r.code()),
            )
        })
        .collect()
}

/// Regenerate the committed tree: `cargo test -p iaa-driver --test discovery -- --ignored`.
#[test]
#[ignore = "rewrites tests/fixtures/spr-2s from common::spr_host()"]
fn write_spr_2s_fixture() {
    let h = spr_host();
    let dst = fixture("spr-2s");
    let _ = std::fs::remove_dir_all(&dst);
    copy_tree(h.dir.path(), &dst);
}

#[test]
fn committed_spr_2s_tree_matches_the_generator() {
    // The on-disk copy (used by `iaa devices --sys-root` demos and the CLI tests) gives the
    // same verdicts as the generated host, with the same injected open outcomes.
    let root = fixture("spr-2s");
    let gen = spr_host();
    let committed = Host {
        dir: tempfile::tempdir().unwrap(),
    };
    copy_tree(&root, committed.dir.path());
    let a = gen.discovery().scan_with(&spr_opener(&gen));
    let b = committed.discovery().scan_with(&spr_opener(&committed));
    assert_eq!(verdicts(&a), verdicts(&b));
    assert_eq!(b.devices.len(), 8);
    assert_eq!(b.availability(), Availability::Usable { wqs: 5 });
}

#[test]
fn cmd_status_explains_why_enable_failed() {
    let h = Host::new();
    h.cpus(&[0]);
    // The last `accel-config enable-wq` failed: user WQ without IOMMU SVA.
    h.device(
        "iax1",
        bdf("iax1"),
        0,
        None,
        &[("cmd_status", Some("0x80110000"))],
    );
    h.wq(
        "iax1",
        bdf("iax1"),
        "wq1.0",
        &[("state", Some("disabled"))],
        true,
    );
    // A device whose enable failed in hardware (bus master off, CMDSTS 0x12).
    h.device(
        "iax3",
        bdf("iax3"),
        0,
        None,
        &[("state", Some("disabled")), ("cmd_status", Some("0x12"))],
    );
    h.wq("iax3", bdf("iax3"), "wq3.0", &[], true);
    h.device("iax5", bdf("iax5"), 0, None, &[("cmd_status", Some("0"))]);
    h.wq(
        "iax5",
        bdf("iax5"),
        "wq5.0",
        &[("state", Some("disabled"))],
        true,
    );
    let inv = h.discovery().scan_with(&FakeOpener::new());
    assert_eq!(inv.devices[0].cmd_status, Some(0x8011_0000));
    let r = inv
        .wq("wq1.0")
        .unwrap()
        .1
        .status
        .reason()
        .unwrap()
        .to_string();
    assert!(
        r.contains("accel-config enable-wq iax1/wq1.0") && r.contains("intel_iommu=on,sm_on"),
        "{r}"
    );
    let r = inv
        .wq("wq3.0")
        .unwrap()
        .1
        .status
        .reason()
        .unwrap()
        .to_string();
    assert!(r.contains("bus master") && r.contains("0x12"), "{r}");
    let r = inv
        .wq("wq5.0")
        .unwrap()
        .1
        .status
        .reason()
        .unwrap()
        .to_string();
    assert!(!r.contains("last command"), "{r}");
}

fn files_under(dir: &std::path::Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let ty = e.file_type().unwrap();
        if ty.is_dir() {
            files_under(&e.path(), out);
        } else if ty.is_file() {
            out.push(e.path());
        }
    }
}

#[test]
fn random_attribute_garbage_never_panics() {
    let h = spr_host();
    let mut files = Vec::new();
    files_under(&h.sys().join("devices"), &mut files);
    files.sort();
    let originals: Vec<Vec<u8>> = files.iter().map(|f| std::fs::read(f).unwrap()).collect();
    let garbage: [&[u8]; 10] = [
        b"",
        b"\n",
        b"-1\n",
        b"0x\n",
        b"99999999999999999999999\n",
        b"\xff\xfe\x00",
        b"enabled\0disabled",
        b"0,0,0\n",
        b"1-\n",
        b"   \n",
    ];
    let mut s: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    for _round in 0..25 {
        let picked: Vec<usize> = (0..6).map(|_| next() as usize % files.len()).collect();
        for &i in &picked {
            std::fs::write(&files[i], garbage[next() as usize % garbage.len()]).unwrap();
        }
        let inv = h.discovery().scan_with(&spr_opener(&h));
        // Every WQ has a verdict; reasons render; JSON serialises.
        for (_, w) in inv.all_wqs() {
            if let Some(r) = w.status.reason() {
                assert!(!r.to_string().is_empty());
            }
        }
        serde_json::to_string(&inv).unwrap();
        let _ = inv.availability().to_string();
        for &i in &picked {
            std::fs::write(&files[i], &originals[i]).unwrap();
        }
    }
    // Restored: the original verdicts are back.
    let inv = h.discovery().scan_with(&spr_opener(&h));
    assert_eq!(inv.availability(), Availability::Usable { wqs: 5 });
}
