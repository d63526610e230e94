//! Where the driver reads whether a device can generate headers (IAA 2.0): IAACAP in BAR0
//! (VFIO), read as Linux does only on version 2.0, and the kernel's sysfs attribute `iaa_cap`
//! (kernel WQs), absent (EOPNOTSUPP) on IAA 1.0.

use std::sync::Arc;

use iaa_descriptors::IaaCap;
use iaa_driver::fixture::Host;
use iaa_driver::vfio::Controller;
use iaa_model::{Bar0Model, Bar0ModelConfig, IAA2_CAP};

#[test]
fn vfio_reads_iaacap_on_iaa_2_only() {
    let gnr = Arc::new(Bar0Model::new(Bar0ModelConfig::gnr_iaa()));
    let c = Controller::new(gnr).unwrap();
    assert_eq!(c.caps().version, 0x200);
    assert_eq!(c.caps().iaacap, IAA2_CAP);
    assert!(IaaCap(c.caps().iaacap).contains(IaaCap::HEADER_GEN));

    let spr = Arc::new(Bar0Model::new(Bar0ModelConfig::spr_iaa()));
    let c = Controller::new(spr).unwrap();
    assert_eq!(c.caps().iaacap, 0);
    // A 1.0 device is not asked even if the offset held something.
    let odd = Bar0ModelConfig {
        iaacap: IAA2_CAP,
        ..Bar0ModelConfig::spr_iaa()
    };
    let c = Controller::new(Arc::new(Bar0Model::new(odd))).unwrap();
    assert_eq!(c.caps().iaacap, 0);
}

#[test]
fn sysfs_iaa_cap_is_read_on_iaa_2_only() {
    let h = Host::new();
    h.cpus(&[0, 0]);
    h.device(
        "iax1",
        "0000:6a:02.0",
        0,
        Some("0-1"),
        &[("version", Some("0x200")), ("iaa_cap", Some("0x1ff"))],
    );
    h.device("iax3", "0000:e7:02.0", 0, Some("0-1"), &[]);
    let inv = h.discovery().scan();
    let by = |n: &str| inv.devices.iter().find(|d| d.name == n).unwrap();
    assert_eq!(by("iax1").iaa_cap, Some(0x1ff));
    assert!(IaaCap(by("iax1").iaa_cap.unwrap()).contains(IaaCap::HEADER_GEN));
    assert_eq!(by("iax3").iaa_cap, None);
}

#[test]
fn vfio_model_runs_with_the_capabilities_it_reports() {
    // Bring-up over the IAA 2.0 register file (64-byte WQCFG, op config) works, and the model
    // behind it executes with the IAACAP the driver read.
    let v = iaa_model::ModelVfio::open(Bar0ModelConfig::gnr_iaa(), 1, 0, 1 << 20).unwrap();
    assert_eq!(v.controller().caps().iaacap, IAA2_CAP);
    assert_eq!(v.model().cfg().iaa_cap, IAA2_CAP);
    let v = iaa_model::ModelVfio::open(Bar0ModelConfig::spr_iaa(), 1, 0, 1 << 20).unwrap();
    assert_eq!(v.model().cfg().iaa_cap, 0);
}
