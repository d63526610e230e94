//! Builds fake sysfs + /dev trees in a temporary directory, laid out like a real host:
//! `sys/devices/pci0000:XX/<bdf>/<iaxN>/...` with `sys/bus/dsa/devices/<name>` symlinks, CPU
//! topology under `sys/devices/system/cpu`, and WQ nodes as regular files under `dev/`.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

pub const SPR_IAA_OP_CAP: &str =
    "00000000,00000000,00000000,00000000,00000000,007f331c,00000000,0000000d";
pub const SPR_DSA_OP_CAP: &str =
    "00000000,00000000,00000000,00000000,00000000,00000000,00000000,00ff01ff";

pub struct Host {
    pub dir: tempfile::TempDir,
}

impl Default for Host {
    fn default() -> Self {
        Self::new()
    }
}

impl Host {
    /// An empty root (no `sys/bus/dsa` at all).
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("sys")).unwrap();
        fs::create_dir_all(dir.path().join("dev")).unwrap();
        Host { dir }
    }

    pub fn sys(&self) -> PathBuf {
        self.dir.path().join("sys")
    }

    pub fn dev(&self) -> PathBuf {
        self.dir.path().join("dev")
    }

    pub fn discovery(&self) -> crate::sysfs::Discovery {
        crate::sysfs::Discovery::with_roots(self.sys(), self.dev())
    }

    pub fn write(&self, rel: impl AsRef<Path>, content: &str) {
        let p = self.sys().join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, format!("{content}\n")).unwrap();
    }

    /// `sys/bus/dsa/devices` (empty).
    pub fn bus(&self) {
        fs::create_dir_all(self.sys().join("bus/dsa/devices")).unwrap();
    }

    /// CPUs with the given packages (index = CPU id), plus one NUMA node per package.
    pub fn cpus(&self, packages: &[u32]) {
        for (cpu, pkg) in packages.iter().enumerate() {
            self.write(
                format!("devices/system/cpu/cpu{cpu}/topology/physical_package_id"),
                &pkg.to_string(),
            );
        }
        let mut pkgs: Vec<u32> = packages.to_vec();
        pkgs.sort_unstable();
        pkgs.dedup();
        for p in pkgs {
            let list: Vec<String> = packages
                .iter()
                .enumerate()
                .filter(|(_, &q)| q == p)
                .map(|(c, _)| c.to_string())
                .collect();
            self.write(
                format!("devices/system/node/node{p}/cpulist"),
                &list.join(","),
            );
        }
    }

    fn pci_dir(bdf: &str) -> String {
        format!("devices/pci0000:{}/{}", &bdf[5..7], bdf)
    }

    /// A device `iaxN`/`dsaN` at PCI function `bdf` with SPR defaults, overridden by `attrs`
    /// (a value of `None` removes the file). `local_cpulist` is written on the PCI function when
    /// given.
    pub fn device(
        &self,
        name: &str,
        bdf: &str,
        numa_node: i32,
        local_cpulist: Option<&str>,
        attrs: &[(&str, Option<&str>)],
    ) {
        self.bus();
        let iaa = name.starts_with("iax");
        let pci = Self::pci_dir(bdf);
        self.write(format!("{pci}/vendor"), "0x8086");
        self.write(
            format!("{pci}/device"),
            if iaa { "0x0cfe" } else { "0x0b25" },
        );
        self.write(format!("{pci}/numa_node"), &numa_node.to_string());
        if let Some(l) = local_cpulist {
            self.write(format!("{pci}/local_cpulist"), l);
        }
        let numa = numa_node.to_string();
        let mut all: Vec<(&str, Option<&str>)> = vec![
            ("version", Some("0x100")),
            ("state", Some("enabled")),
            ("numa_node", Some(numa.as_str())),
            (
                "gen_cap",
                Some(if iaa {
                    "0x71f10901f0105"
                } else {
                    "0x40915f0107"
                }),
            ),
            (
                "op_cap",
                Some(if iaa { SPR_IAA_OP_CAP } else { SPR_DSA_OP_CAP }),
            ),
            ("max_transfer_size", Some("2147483648")),
            ("pasid_enabled", Some("1")),
            ("max_groups", Some("4")),
            ("max_work_queues", Some("8")),
            ("max_work_queues_size", Some("128")),
            ("max_engines", Some(if iaa { "8" } else { "4" })),
            ("cdev_major", Some("511")),
            ("configurable", Some("1")),
        ];
        for (k, v) in attrs {
            all.retain(|(kk, _)| kk != k);
            all.push((k, *v));
        }
        for (k, v) in all {
            if let Some(v) = v {
                self.write(format!("{pci}/{name}/{k}"), v);
            }
        }
        symlink(
            format!("../../../{pci}/{name}"),
            self.sys().join("bus/dsa/devices").join(name),
        )
        .unwrap();
    }

    /// A WQ `wqX.Y` of device `dev_name` (which must already exist at `bdf`), with user-shared
    /// defaults overridden by `attrs`; `node` creates `/dev/<iax|dsa>/wqX.Y`.
    pub fn wq(
        &self,
        dev_name: &str,
        bdf: &str,
        wq: &str,
        attrs: &[(&str, Option<&str>)],
        node: bool,
    ) {
        let pci = Self::pci_dir(bdf);
        let minor = wq.rsplit('.').next().unwrap().to_string();
        let mut all: Vec<(&str, Option<&str>)> = vec![
            ("mode", Some("shared")),
            ("type", Some("user")),
            ("state", Some("enabled")),
            ("size", Some("32")),
            ("threshold", Some("32")),
            ("priority", Some("10")),
            ("max_transfer_size", Some("2097152")),
            ("block_on_fault", Some("1")),
            ("name", Some("app")),
            ("driver_name", Some("user")),
            ("cdev_minor", Some(minor.as_str())),
            ("group_id", Some("0")),
        ];
        for (k, v) in attrs {
            all.retain(|(kk, _)| kk != k);
            all.push((k, *v));
        }
        for (k, v) in all {
            if let Some(v) = v {
                self.write(format!("{pci}/{dev_name}/{wq}/{k}"), v);
            }
        }
        symlink(
            format!("../../../{pci}/{dev_name}/{wq}"),
            self.sys().join("bus/dsa/devices").join(wq),
        )
        .unwrap();
        if node {
            self.node(&dev_name[..3], wq);
        }
    }

    /// A WQ node file `dev/<prefix>/<wq>`.
    pub fn node(&self, prefix: &str, wq: &str) -> PathBuf {
        let d = self.dev().join(prefix);
        fs::create_dir_all(&d).unwrap();
        let p = d.join(wq);
        fs::write(&p, b"").unwrap();
        p
    }
}

/// Bus-device-function of the SPR fixture devices: 8 devices, 4 per socket.
pub const SPR_DEVICES: [(&str, &str, i32); 8] = [
    ("dsa0", "0000:6a:01.0", 0),
    ("iax1", "0000:6a:02.0", 0),
    ("dsa2", "0000:6f:01.0", 0),
    ("iax3", "0000:6f:02.0", 0),
    ("dsa4", "0000:e7:01.0", 1),
    ("iax5", "0000:e7:02.0", 1),
    ("dsa6", "0000:ec:01.0", 1),
    ("iax7", "0000:ec:02.0", 1),
];

pub fn bdf(dev: &str) -> &'static str {
    SPR_DEVICES.iter().find(|d| d.0 == dev).unwrap().1
}

/// A dual-socket SPR host: 8 CPUs (0-3 on package 0, 4-7 on package 1), 4 IAA + 4 DSA with a
/// mix of WQ modes, types, states and problems. The expected verdicts are listed in
/// `tests/discovery.rs`.
pub fn spr_host() -> Host {
    let h = Host::new();
    h.cpus(&[0, 0, 0, 0, 1, 1, 1, 1]);
    for (name, bdf, node) in SPR_DEVICES {
        // Socket 0 devices carry local_cpulist; socket 1 devices only numa_node, so both ways of
        // finding the socket are exercised. dsa6 is disabled.
        let local = if node == 0 { Some("0-3") } else { None };
        let attrs: &[(&str, Option<&str>)] = if name == "dsa6" {
            &[("state", Some("disabled"))]
        } else {
            &[]
        };
        h.device(name, bdf, node, local, attrs);
    }
    let b = bdf;
    // iax1: shared user (usable), dedicated user (usable), kernel WQ bound to crypto, disabled.
    h.wq(
        "iax1",
        b("iax1"),
        "wq1.0",
        &[("size", Some("64")), ("threshold", Some("64"))],
        true,
    );
    h.wq(
        "iax1",
        b("iax1"),
        "wq1.1",
        &[("mode", Some("dedicated"))],
        true,
    );
    h.wq(
        "iax1",
        b("iax1"),
        "wq1.2",
        &[
            ("type", Some("kernel")),
            ("driver_name", Some("crypto")),
            ("name", Some("iaa_crypto")),
        ],
        false,
    );
    h.wq(
        "iax1",
        b("iax1"),
        "wq1.3",
        &[("state", Some("disabled"))],
        false,
    );
    // iax3: shared user where mmap is refused (-> write()), user WQ bound to crypto.
    h.wq("iax3", b("iax3"), "wq3.0", &[], true);
    h.wq(
        "iax3",
        b("iax3"),
        "wq3.1",
        &[("driver_name", Some("crypto"))],
        true,
    );
    // iax5: usable shared; no name; dedicated already opened elsewhere; max transfer 4 KiB.
    h.wq("iax5", b("iax5"), "wq5.0", &[], true);
    h.wq("iax5", b("iax5"), "wq5.1", &[("name", Some(""))], true);
    h.wq(
        "iax5",
        b("iax5"),
        "wq5.2",
        &[("mode", Some("dedicated"))],
        true,
    );
    h.wq(
        "iax5",
        b("iax5"),
        "wq5.3",
        &[("max_transfer_size", Some("4096"))],
        true,
    );
    // iax7: node missing; permission denied; decompress-only op_config (usable).
    h.wq("iax7", b("iax7"), "wq7.0", &[], false);
    h.wq("iax7", b("iax7"), "wq7.1", &[], true);
    h.wq(
        "iax7",
        b("iax7"),
        "wq7.2",
        &[(
            "op_config",
            Some("00000000,00000000,00000000,00000000,00000000,00000004,00000000,00000001"),
        )],
        true,
    );
    // DSA: kernel dmaengine WQ, usable user WQ, unconfigured WQ, WQ of a disabled device.
    h.wq(
        "dsa0",
        b("dsa0"),
        "wq0.0",
        &[
            ("type", Some("kernel")),
            ("driver_name", Some("dmaengine")),
            ("name", Some("dmaengine")),
        ],
        false,
    );
    h.wq("dsa2", b("dsa2"), "wq2.0", &[], true);
    h.wq(
        "dsa4",
        b("dsa4"),
        "wq4.0",
        &[
            ("type", Some("none")),
            ("state", Some("disabled")),
            ("name", Some("")),
        ],
        false,
    );
    h.wq(
        "dsa6",
        b("dsa6"),
        "wq6.0",
        &[("state", Some("disabled"))],
        true,
    );
    h
}

/// IAAs of [`two_socket_interleaved`]: `(name, PCI address, NUMA node = package)`, 4 per socket.
pub const INTERLEAVED_IAAS: [(&str, &str, i32); 8] = [
    ("iax1", "0000:6a:02.0", 0),
    ("iax3", "0000:6f:02.0", 0),
    ("iax5", "0000:74:02.0", 0),
    ("iax7", "0000:79:02.0", 0),
    ("iax9", "0000:e7:02.0", 1),
    ("iax11", "0000:ec:02.0", 1),
    ("iax13", "0000:f1:02.0", 1),
    ("iax15", "0000:f6:02.0", 1),
];

/// One IAA (`iax1`, one socket, two CPUs) with two enabled user WQs: `wq1.0` shared (size 32,
/// threshold 32) and `wq1.1` dedicated (size 16), each with its node under `dev/iax/`.
pub fn one_iaa_two_wqs() -> Host {
    let h = Host::new();
    h.cpus(&[0, 0]);
    h.device("iax1", bdf("iax1"), 0, None, &[]);
    h.wq(
        "iax1",
        bdf("iax1"),
        "wq1.0",
        &[("size", Some("32")), ("threshold", Some("32"))],
        true,
    );
    h.wq(
        "iax1",
        bdf("iax1"),
        "wq1.1",
        &[("mode", Some("dedicated")), ("size", Some("16"))],
        true,
    );
    h
}

/// A fixture sysfs/dev tree with one DSA (`dsa0`) and two user WQs, `wq0.0` shared (size 32)
/// and `wq0.1` dedicated (size 16), each with `max_batch_size` 32 and a node under `dev/dsa/`:
/// the DSA operations over `write(2)`, which takes no batch descriptor.
pub fn one_dsa_two_wqs() -> Host {
    let h = Host::new();
    h.cpus(&[0, 0]);
    h.device("dsa0", bdf("dsa0"), 0, None, &[]);
    let batch = ("max_batch_size", Some("32"));
    h.wq(
        "dsa0",
        bdf("dsa0"),
        "wq0.0",
        &[("size", Some("32")), batch],
        true,
    );
    h.wq(
        "dsa0",
        bdf("dsa0"),
        "wq0.1",
        &[("mode", Some("dedicated")), ("size", Some("16")), batch],
        true,
    );
    h
}

/// DSAs of [`two_socket_dsas`]: `(name, PCI address, NUMA node = package)`, 2 per socket.
pub const INTERLEAVED_DSAS: [(&str, &str, i32); 4] = [
    ("dsa0", "0000:6a:01.0", 0),
    ("dsa2", "0000:6f:01.0", 0),
    ("dsa4", "0000:e7:01.0", 1),
    ("dsa6", "0000:ec:01.0", 1),
];

/// A 2-socket host numbered as [`two_socket_interleaved`] (even CPUs on package 0, odd on
/// package 1) with 2 DSAs per socket, each with one enabled shared user WQ `wqN.0` (size 32)
/// and its node under `dev/dsa/`: the socket policy of the DSA operations.
pub fn two_socket_dsas() -> Host {
    let h = Host::new();
    h.cpus(&[0, 1, 0, 1, 0, 1, 0, 1]);
    for (name, bdf, node) in INTERLEAVED_DSAS {
        h.device(name, bdf, node, None, &[]);
        h.wq(name, bdf, &format!("wq{}.0", &name[3..]), &[], true);
    }
    h
}

/// A 2-socket Sapphire Rapids host as the kernel numbers it: 8 CPUs interleaved between the
/// packages (even CPUs on package 0, odd on package 1), 4 IAAs per socket, each with one
/// enabled shared user WQ `wqN.0` (size 32) and its node under `dev/iax/`.
pub fn two_socket_interleaved() -> Host {
    let h = Host::new();
    h.cpus(&[0, 1, 0, 1, 0, 1, 0, 1]);
    for (name, bdf, node) in INTERLEAVED_IAAS {
        h.device(name, bdf, node, None, &[]);
        h.wq(name, bdf, &format!("wq{}.0", &name[3..]), &[], true);
    }
    h
}
