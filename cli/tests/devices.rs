//! `iaa devices --json` over a 2-socket fixture tree (4 IAAs per socket, CPUs of the two
//! packages interleaved in numbering): the `cpu_map` says, per CPU, which WQs its compressions
//! go to (the WQs of its package's IAAs) and which WQ its decompressions go to (the IAA mapped
//! to it). `batch/tests/sockets.rs` proves the pool submits exactly there.

mod common;

use iaa_driver::fixture::{two_socket_interleaved, INTERLEAVED_IAAS};

fn socket_of_wq(wq: &str) -> u64 {
    let dev = format!("iax{}", &wq[2..wq.find('.').unwrap()]);
    INTERLEAVED_IAAS.iter().find(|d| d.0 == dev).unwrap().2 as u64
}

#[test]
fn cpu_map_over_a_two_socket_interleaved_host() {
    let h = two_socket_interleaved();
    let out = common::iaa()
        .args(["devices", "--json", "--sys-root"])
        .arg(h.sys())
        .arg("--dev-root")
        .arg(h.dev())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let map = v["cpu_map"].as_array().expect("cpu_map array");
    assert_eq!(map.len(), 8, "{map:?}");
    let mut decomp = std::collections::BTreeSet::new();
    for e in map {
        let cpu = e["cpu"].as_u64().unwrap();
        let package = e["package"].as_u64().unwrap();
        assert_eq!(package, cpu % 2, "interleaved numbering: {e}");
        let comp: Vec<&str> = e["compress"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w.as_str().unwrap())
            .collect();
        assert_eq!(comp.len(), 4, "the 4 IAAs of the package: {e}");
        assert!(comp.iter().all(|w| socket_of_wq(w) == package), "{e}");
        let dec = e["decompress"].as_str().unwrap();
        assert_eq!(socket_of_wq(dec), package, "{e}");
        decomp.insert(dec.to_string());
    }
    // 4 CPUs per package over 4 IAAs: each IAA decompresses for one CPU.
    assert_eq!(decomp.len(), 8, "{decomp:?}");
    assert_eq!(v["borrowing_sockets"], serde_json::json!([]));
    // The text form prints the same table.
    let text = common::iaa()
        .args(["devices", "--sys-root"])
        .arg(h.sys())
        .arg("--dev-root")
        .arg(h.dev())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("DECOMPRESS"), "{text}");
}

#[test]
fn a_socket_without_an_iaa_borrows_and_says_so() {
    let h = iaa_driver::fixture::Host::new();
    h.cpus(&[0, 1, 0, 1]);
    h.device("iax1", "0000:6a:02.0", 0, None, &[]);
    h.wq("iax1", "0000:6a:02.0", "wq1.0", &[], true);
    let out = common::iaa()
        .args(["devices", "--json", "--sys-root"])
        .arg(h.sys())
        .arg("--dev-root")
        .arg(h.dev())
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["borrowing_sockets"], serde_json::json!([1]));
    for e in v["cpu_map"].as_array().unwrap() {
        assert_eq!(e["decompress"], "wq1.0", "{e}");
        assert_eq!(e["compress"], serde_json::json!(["wq1.0"]), "{e}");
    }
}
