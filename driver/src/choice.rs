//! Which WQ a CPU submits a unit to.
//!
//! Given the usable IAA WQs and the CPU -> socket map:
//! - every CPU is mapped to one IAA device of its socket (blocks of consecutive CPUs share a
//!   device, as iaa_crypto does);
//! - compress units are spread round-robin over the socket's devices, starting at the CPU's
//!   device ([`Spread::RoundRobin`]); decompress units stay on the CPU's device
//!   ([`Spread::Mapped`]); both are switchable with [`ChoicePolicy`];
//! - a device with two or more usable WQs gets separate compress and decompress WQs: by their
//!   `op_config` when it already separates them, else by name (`*decomp*` for decompress,
//!   `*comp*` for compress), else the first half (rounded up) compresses and the rest
//!   decompresses;
//! - a WQ whose `op_config` lacks an opcode is never picked for it;
//! - a socket with no device for an operation falls back to the devices of other sockets;
//!   devices whose socket is unknown count as local to every socket.
//!
//! All tables are built in [`WqChooser::new`]; [`WqChooser::pick`] only indexes them (no
//! allocation, no locking).

use crate::sysfs::{Inventory, Topology, OPCODE_COMPRESS, OPCODE_DECOMPRESS};
use serde::Serialize;
use std::ops::Range;

/// The two operations a WQ is chosen for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    /// Compression.
    Compress,
    /// Decompression.
    Decompress,
}

impl Op {
    fn idx(self) -> usize {
        match self {
            Op::Compress => 0,
            Op::Decompress => 1,
        }
    }
}

/// How units of one operation are spread over the devices of a socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Spread {
    /// Unit `seq` goes to device `(cpu's device + seq) mod n` of the socket.
    RoundRobin,
    /// Every unit goes to the CPU's own device.
    Mapped,
}

/// Spreading policy per operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ChoicePolicy {
    /// For compression (default [`Spread::RoundRobin`]).
    pub compress: Spread,
    /// For decompression (default [`Spread::Mapped`]).
    pub decompress: Spread,
}

impl Default for ChoicePolicy {
    fn default() -> Self {
        ChoicePolicy {
            compress: Spread::RoundRobin,
            decompress: Spread::Mapped,
        }
    }
}

impl ChoicePolicy {
    fn spread(&self, op: Op) -> Spread {
        match op {
            Op::Compress => self.compress,
            Op::Decompress => self.decompress,
        }
    }
}

/// One usable WQ as the chooser sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WqCandidate {
    /// Device id (N of `iaxN`).
    pub device: u32,
    /// Socket of the device, if known.
    pub socket: Option<u32>,
    /// WQ index within the device.
    pub index: u32,
    /// sysfs name (`wq1.0`).
    pub sysfs_name: String,
    /// The WQ's `name` attribute (used for the compress/decompress naming convention).
    pub name: String,
    /// `op_config` (or the device `op_cap`) allows compress.
    pub can_compress: bool,
    /// `op_config` (or the device `op_cap`) allows decompress.
    pub can_decompress: bool,
}

impl WqCandidate {
    /// The usable IAA WQs of an inventory, in device/WQ order.
    pub fn from_inventory(inv: &Inventory) -> Vec<WqCandidate> {
        Self::of_kind(
            inv,
            crate::sysfs::DeviceKind::Iaa,
            OPCODE_COMPRESS,
            OPCODE_DECOMPRESS,
        )
    }

    /// The usable DSA WQs of an inventory, in device/WQ order, for the DSA operations: each one
    /// is a candidate for both of the chooser's operations when its `op_config` (or the device
    /// `op_cap`) allows CRC generation (opcode 0x10), the DSA operation the pool submits most.
    pub fn from_inventory_dsa(inv: &Inventory) -> Vec<WqCandidate> {
        const OPCODE_CRCGEN: u8 = 0x10;
        Self::of_kind(
            inv,
            crate::sysfs::DeviceKind::Dsa,
            OPCODE_CRCGEN,
            OPCODE_CRCGEN,
        )
    }

    /// The usable WQs of the `kind` devices, `can_compress` / `can_decompress` from whether they
    /// allow opcode `first` / `second`.
    fn of_kind(
        inv: &Inventory,
        kind: crate::sysfs::DeviceKind,
        first: u8,
        second: u8,
    ) -> Vec<WqCandidate> {
        inv.usable_wqs(kind)
            .map(|(d, w)| WqCandidate {
                device: d.id,
                socket: d.socket,
                index: w.index,
                sysfs_name: w.sysfs_name.clone(),
                name: w.name.clone().unwrap_or_default(),
                can_compress: w.allows(d, first),
                can_decompress: w.allows(d, second),
            })
            .collect()
    }
}

/// Precomputed WQ choice tables.
#[derive(Debug, Clone)]
pub struct WqChooser {
    candidates: Vec<WqCandidate>,
    policy: ChoicePolicy,
    /// Distinct device ids, in table order.
    devices: Vec<u32>,
    /// Flat list of candidate indices; `dev_wqs[op][dev]` is a range into it.
    wq_flat: Vec<usize>,
    dev_wqs: [Vec<Range<usize>>; 2],
    /// Flat list of device positions; `socket_devs[op][slot]` is a range into it. The last slot
    /// is the global list (all devices that can do the op).
    dev_flat: Vec<usize>,
    socket_devs: [Vec<Range<usize>>; 2],
    /// Per CPU: socket slot (index into `socket_devs[op]`), and per op its position (rank) in
    /// that slot's device list.
    cpu_slot: [Vec<usize>; 2],
    cpu_rank: [Vec<usize>; 2],
}

impl WqChooser {
    /// Build the tables.
    pub fn new(candidates: Vec<WqCandidate>, topology: &Topology, policy: ChoicePolicy) -> Self {
        // Distinct devices, ordered by (socket, id).
        let mut devices: Vec<(Option<u32>, u32)> =
            candidates.iter().map(|c| (c.socket, c.device)).collect();
        devices.sort_unstable();
        devices.dedup();
        let dev_socket: Vec<Option<u32>> = devices.iter().map(|d| d.0).collect();
        let devices: Vec<u32> = devices.iter().map(|d| d.1).collect();

        // Roles per candidate.
        let roles = assign_roles(&candidates);

        let mut wq_flat = Vec::new();
        let mut dev_wqs: [Vec<Range<usize>>; 2] = [Vec::new(), Vec::new()];
        for op in 0..2 {
            for &dev in &devices {
                let start = wq_flat.len();
                let mut members: Vec<usize> = (0..candidates.len())
                    .filter(|&i| candidates[i].device == dev && roles[i][op])
                    .collect();
                members.sort_by_key(|&i| candidates[i].index);
                wq_flat.extend(members);
                dev_wqs[op].push(start..wq_flat.len());
            }
        }

        // Sockets: from the topology and from the devices.
        let mut sockets = topology.packages();
        sockets.extend(dev_socket.iter().flatten());
        sockets.sort_unstable();
        sockets.dedup();

        let mut dev_flat = Vec::new();
        let mut socket_devs: [Vec<Range<usize>>; 2] = [Vec::new(), Vec::new()];
        for op in 0..2 {
            let has_op = |d: usize| !dev_wqs[op][d].is_empty();
            let global: Vec<usize> = (0..devices.len()).filter(|&d| has_op(d)).collect();
            for &s in &sockets {
                let local: Vec<usize> = (0..devices.len())
                    .filter(|&d| has_op(d) && dev_socket[d].unwrap_or(s) == s)
                    .collect();
                // Fall back to every device when the socket has none for this op.
                let list = if local.is_empty() { &global } else { &local };
                let start = dev_flat.len();
                dev_flat.extend_from_slice(list);
                socket_devs[op].push(start..dev_flat.len());
            }
            let start = dev_flat.len();
            dev_flat.extend_from_slice(&global);
            socket_devs[op].push(start..dev_flat.len());
        }

        // CPUs: socket slot, and a block mapping of the socket's CPUs onto its devices.
        let ncpu = topology.cpu_count();
        let global_slot = sockets.len();
        let mut cpu_slot: [Vec<usize>; 2] = [vec![global_slot; ncpu], vec![global_slot; ncpu]];
        let mut cpu_rank: [Vec<usize>; 2] = [vec![0; ncpu], vec![0; ncpu]];
        for op in 0..2 {
            for (slot, &s) in sockets.iter().enumerate() {
                let cpus = topology.cpus_of_package(s);
                let ndev = socket_devs[op][slot].len();
                for (pos, &cpu) in cpus.iter().enumerate() {
                    cpu_slot[op][cpu] = slot;
                    cpu_rank[op][cpu] = if ndev == 0 {
                        0
                    } else {
                        pos * ndev / cpus.len()
                    };
                }
            }
            for cpu in 0..ncpu {
                if cpu_slot[op][cpu] == global_slot {
                    let n = socket_devs[op][global_slot].len().max(1);
                    cpu_rank[op][cpu] = cpu % n;
                }
            }
        }

        WqChooser {
            candidates,
            policy,
            devices,
            wq_flat,
            dev_wqs,
            dev_flat,
            socket_devs,
            cpu_slot,
            cpu_rank,
        }
    }

    /// The candidates, in the order [`WqChooser::pick`] indexes them.
    pub fn candidates(&self) -> &[WqCandidate] {
        &self.candidates
    }

    /// The policy in use.
    pub fn policy(&self) -> ChoicePolicy {
        self.policy
    }

    fn slot_and_rank(&self, cpu: usize, op: usize) -> (usize, usize) {
        let global = self.socket_devs[op].len() - 1;
        match (self.cpu_slot[op].get(cpu), self.cpu_rank[op].get(cpu)) {
            (Some(&s), Some(&r)) => (s, r),
            _ => {
                let n = self.socket_devs[op][global].len().max(1);
                (global, cpu % n)
            }
        }
    }

    /// The device id CPU `cpu` is mapped to for `op`, if any device can do `op`.
    pub fn device_for_cpu(&self, cpu: usize, op: Op) -> Option<u32> {
        let o = op.idx();
        let (slot, rank) = self.slot_and_rank(cpu, o);
        let list = &self.dev_flat[self.socket_devs[o][slot].clone()];
        list.get(rank % list.len().max(1)).map(|&d| self.devices[d])
    }

    /// The WQ for unit number `seq` of a batch submitted from CPU `cpu`: an index into
    /// [`WqChooser::candidates`], or `None` when no WQ can do `op`. Does not allocate.
    pub fn pick(&self, cpu: usize, op: Op, seq: usize) -> Option<usize> {
        let o = op.idx();
        let (slot, rank) = self.slot_and_rank(cpu, o);
        let list = &self.dev_flat[self.socket_devs[o][slot].clone()];
        let n = list.len();
        if n == 0 {
            return None;
        }
        let (dev_pos, wq_turn) = match self.policy.spread(op) {
            Spread::RoundRobin => ((rank + seq) % n, (rank + seq) / n),
            Spread::Mapped => (rank % n, seq),
        };
        let wqs = &self.wq_flat[self.dev_wqs[o][list[dev_pos]].clone()];
        if wqs.is_empty() {
            return None;
        }
        Some(wqs[wq_turn % wqs.len()])
    }
}

/// Where one CPU's descriptors go: what `iaa devices` prints as `cpu_map`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CpuRoute {
    /// The CPU id.
    pub cpu: usize,
    /// Its package (socket), when the topology says.
    pub package: Option<u32>,
    /// The WQs its compress descriptors go to, round-robin, in turn order (indices into
    /// [`WqChooser::candidates`]).
    pub compress: Vec<usize>,
    /// The WQ its decompress descriptors go to (the first, when its IAA has several).
    pub decompress: Option<usize>,
}

impl WqChooser {
    /// The route of every CPU of `topology` (the same tables [`WqChooser::pick`] reads).
    pub fn cpu_map(&self, topology: &Topology) -> Vec<CpuRoute> {
        let turns = self.candidates.len().max(1) * self.devices.len().max(1);
        (0..topology.cpu_count())
            .filter(|&cpu| topology.package_of(cpu).is_some())
            .map(|cpu| {
                let mut compress = Vec::new();
                for seq in 0..turns {
                    if let Some(w) = self.pick(cpu, Op::Compress, seq) {
                        if !compress.contains(&w) {
                            compress.push(w);
                        }
                    }
                }
                CpuRoute {
                    cpu,
                    package: topology.package_of(cpu),
                    compress,
                    decompress: self.pick(cpu, Op::Decompress, 0),
                }
            })
            .collect()
    }
}

/// `[compress, decompress]` role of each candidate.
fn assign_roles(c: &[WqCandidate]) -> Vec<[bool; 2]> {
    let mut roles: Vec<[bool; 2]> = c
        .iter()
        .map(|w| [w.can_compress, w.can_decompress])
        .collect();
    let mut devices: Vec<u32> = c.iter().map(|w| w.device).collect();
    devices.sort_unstable();
    devices.dedup();
    for dev in devices {
        let mut members: Vec<usize> = (0..c.len()).filter(|&i| c[i].device == dev).collect();
        members.sort_by_key(|&i| c[i].index);
        if members.len() < 2 {
            continue;
        }
        let op_config_separates = members.iter().any(|&i| roles[i][0] != roles[i][1]);
        if op_config_separates {
            continue;
        }
        let tag = |i: usize| {
            let n = c[i].name.to_ascii_lowercase();
            if n.contains("decomp") {
                Some(1)
            } else if n.contains("comp") {
                Some(0)
            } else {
                None
            }
        };
        let tagged = members.iter().any(|&i| tag(i).is_some());
        if tagged {
            for &i in &members {
                if let Some(t) = tag(i) {
                    roles[i][1 - t] = false;
                }
            }
        } else {
            let half = members.len().div_ceil(2);
            for (k, &i) in members.iter().enumerate() {
                if k < half {
                    roles[i][1] = false;
                } else {
                    roles[i][0] = false;
                }
            }
        }
        // Never take an operation away from a device that could do it.
        #[allow(clippy::needless_range_loop)] // `op` indexes the inner role arrays
        for op in 0..2 {
            let allowed = |i: usize| {
                if op == 0 {
                    c[i].can_compress
                } else {
                    c[i].can_decompress
                }
            };
            if !members.iter().any(|&i| roles[i][op]) {
                for &i in &members {
                    roles[i][op] = allowed(i);
                }
            }
        }
    }
    roles
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cand(device: u32, socket: Option<u32>, index: u32, name: &str) -> WqCandidate {
        WqCandidate {
            device,
            socket,
            index,
            sysfs_name: format!("wq{device}.{index}"),
            name: name.to_string(),
            can_compress: true,
            can_decompress: true,
        }
    }

    /// 8 CPUs: 0-3 on package 0, 4-7 on package 1.
    fn topo() -> Topology {
        Topology::from_packages(vec![
            Some(0),
            Some(0),
            Some(0),
            Some(0),
            Some(1),
            Some(1),
            Some(1),
            Some(1),
        ])
    }

    /// Two single-WQ devices per socket: 1, 3 on socket 0; 5, 7 on socket 1.
    fn four_devices() -> Vec<WqCandidate> {
        vec![
            cand(1, Some(0), 0, "a"),
            cand(3, Some(0), 0, "a"),
            cand(5, Some(1), 0, "a"),
            cand(7, Some(1), 0, "a"),
        ]
    }

    fn dev_of(ch: &WqChooser, i: Option<usize>) -> u32 {
        ch.candidates()[i.unwrap()].device
    }

    #[test]
    fn compress_round_robin_within_socket() {
        let ch = WqChooser::new(four_devices(), &topo(), ChoicePolicy::default());
        let seq: Vec<u32> = (0..6)
            .map(|s| dev_of(&ch, ch.pick(0, Op::Compress, s)))
            .collect();
        assert_eq!(seq, [1, 3, 1, 3, 1, 3]);
        // CPU 2 is mapped to device 3, so its round robin starts there.
        let seq: Vec<u32> = (0..4)
            .map(|s| dev_of(&ch, ch.pick(2, Op::Compress, s)))
            .collect();
        assert_eq!(seq, [3, 1, 3, 1]);
        let seq: Vec<u32> = (0..4)
            .map(|s| dev_of(&ch, ch.pick(5, Op::Compress, s)))
            .collect();
        assert_eq!(seq, [5, 7, 5, 7]);
    }

    #[test]
    fn decompress_stays_on_mapped_device() {
        let ch = WqChooser::new(four_devices(), &topo(), ChoicePolicy::default());
        let mapped: Vec<u32> = (0..8)
            .map(|cpu| ch.device_for_cpu(cpu, Op::Decompress).unwrap())
            .collect();
        assert_eq!(mapped, [1, 1, 3, 3, 5, 5, 7, 7]);
        for (cpu, &dev) in mapped.iter().enumerate() {
            for s in 0..5 {
                assert_eq!(dev_of(&ch, ch.pick(cpu, Op::Decompress, s)), dev);
            }
        }
    }

    #[test]
    fn policy_is_switchable() {
        let p = ChoicePolicy {
            compress: Spread::Mapped,
            decompress: Spread::RoundRobin,
        };
        let ch = WqChooser::new(four_devices(), &topo(), p);
        assert_eq!(ch.policy(), p);
        for s in 0..4 {
            assert_eq!(dev_of(&ch, ch.pick(6, Op::Compress, s)), 7);
        }
        let d: Vec<u32> = (0..4)
            .map(|s| dev_of(&ch, ch.pick(6, Op::Decompress, s)))
            .collect();
        assert_eq!(d, [7, 5, 7, 5]);
    }

    #[test]
    fn two_wqs_split_half_half() {
        let c = vec![cand(1, Some(0), 0, "app"), cand(1, Some(0), 1, "app")];
        let ch = WqChooser::new(c, &topo(), ChoicePolicy::default());
        for s in 0..4 {
            assert_eq!(ch.pick(0, Op::Compress, s), Some(0));
            assert_eq!(ch.pick(0, Op::Decompress, s), Some(1));
        }
        // Three WQs: two compress (alternating), one decompress.
        let c = vec![
            cand(1, Some(0), 0, "x"),
            cand(1, Some(0), 1, "x"),
            cand(1, Some(0), 2, "x"),
        ];
        let ch = WqChooser::new(c, &topo(), ChoicePolicy::default());
        let comp: Vec<usize> = (0..4)
            .map(|s| ch.pick(0, Op::Compress, s).unwrap())
            .collect();
        assert_eq!(comp, [0, 1, 0, 1]);
        assert_eq!(ch.pick(0, Op::Decompress, 0), Some(2));
        assert_eq!(ch.pick(0, Op::Decompress, 1), Some(2));
    }

    #[test]
    fn name_convention_wins_over_order() {
        let c = vec![
            cand(1, Some(0), 0, "decompress"),
            cand(1, Some(0), 1, "app-comp"),
        ];
        let ch = WqChooser::new(c, &topo(), ChoicePolicy::default());
        assert_eq!(ch.pick(0, Op::Compress, 0), Some(1));
        assert_eq!(ch.pick(0, Op::Decompress, 0), Some(0));
        // A name tag on one WQ only: the untagged one serves both.
        let c = vec![cand(1, Some(0), 0, "app"), cand(1, Some(0), 1, "DECOMP")];
        let ch = WqChooser::new(c, &topo(), ChoicePolicy::default());
        let comp: Vec<usize> = (0..3)
            .map(|s| ch.pick(0, Op::Compress, s).unwrap())
            .collect();
        assert_eq!(comp, [0, 0, 0]);
        let dec: Vec<usize> = (0..2)
            .map(|s| ch.pick(0, Op::Decompress, s).unwrap())
            .collect();
        assert_eq!(dec, [0, 1]);
        // Both tagged decompress: compress is not lost.
        let c = vec![
            cand(1, Some(0), 0, "decomp0"),
            cand(1, Some(0), 1, "decomp1"),
        ];
        let ch = WqChooser::new(c, &topo(), ChoicePolicy::default());
        assert!(ch.pick(0, Op::Compress, 0).is_some());
    }

    #[test]
    fn op_config_is_respected() {
        let mut c = vec![
            cand(1, Some(0), 0, "a"),
            cand(1, Some(0), 1, "b"),
            cand(3, Some(0), 0, "c"),
        ];
        c[0].can_compress = false; // wq1.0 decompress only
        c[1].can_decompress = false; // wq1.1 compress only
        c[2].can_compress = false; // device 3 cannot compress at all
        let ch = WqChooser::new(c, &topo(), ChoicePolicy::default());
        for cpu in 0..8 {
            for s in 0..6 {
                assert_eq!(ch.pick(cpu, Op::Compress, s), Some(1), "cpu {cpu} seq {s}");
                let d = ch.pick(cpu, Op::Decompress, s).unwrap();
                assert!(d == 0 || d == 2);
            }
        }
    }

    #[test]
    fn socket_without_device_falls_back() {
        let c = vec![cand(1, Some(0), 0, "a"), cand(3, Some(0), 0, "a")];
        let ch = WqChooser::new(c, &topo(), ChoicePolicy::default());
        let from_s1: Vec<u32> = (0..4)
            .map(|s| dev_of(&ch, ch.pick(4, Op::Compress, s)))
            .collect();
        assert_eq!(from_s1, [1, 3, 1, 3]);
        assert!(ch.device_for_cpu(7, Op::Decompress).is_some());
    }

    #[test]
    fn unknown_cpu_and_unknown_socket() {
        // Device with unknown socket is local to every socket.
        let c = vec![cand(1, None, 0, "a"), cand(5, Some(1), 0, "a")];
        let ch = WqChooser::new(c, &topo(), ChoicePolicy::default());
        assert_eq!(ch.device_for_cpu(0, Op::Decompress), Some(1));
        let s1: Vec<u32> = (0..4)
            .map(|s| dev_of(&ch, ch.pick(4, Op::Compress, s)))
            .collect();
        assert!(s1.contains(&1) && s1.contains(&5));
        // CPU beyond the topology still gets a WQ.
        assert!(ch.pick(1000, Op::Compress, 3).is_some());
        assert!(ch.pick(1000, Op::Decompress, 0).is_some());
        // No topology at all.
        let ch = WqChooser::new(
            four_devices(),
            &Topology::default(),
            ChoicePolicy::default(),
        );
        let all: Vec<u32> = (0..4)
            .map(|s| dev_of(&ch, ch.pick(0, Op::Compress, s)))
            .collect();
        assert_eq!(all, [1, 3, 5, 7]);
    }

    #[test]
    fn no_candidates() {
        let ch = WqChooser::new(Vec::new(), &topo(), ChoicePolicy::default());
        assert_eq!(ch.pick(0, Op::Compress, 0), None);
        assert_eq!(ch.pick(99, Op::Decompress, 0), None);
        assert_eq!(ch.device_for_cpu(0, Op::Compress), None);
        let mut c = vec![cand(1, Some(0), 0, "a")];
        c[0].can_compress = false;
        let ch = WqChooser::new(c, &topo(), ChoicePolicy::default());
        assert_eq!(ch.pick(0, Op::Compress, 0), None);
        assert_eq!(ch.pick(0, Op::Decompress, 0), Some(0));
    }

    #[test]
    fn uneven_cpu_blocks() {
        // 3 CPUs on one socket, 2 devices: blocks [0,0,1].
        let t = Topology::from_packages(vec![Some(0), Some(0), Some(0)]);
        let c = vec![cand(1, Some(0), 0, "a"), cand(3, Some(0), 0, "a")];
        let ch = WqChooser::new(c, &t, ChoicePolicy::default());
        let m: Vec<u32> = (0..3)
            .map(|cpu| ch.device_for_cpu(cpu, Op::Decompress).unwrap())
            .collect();
        assert_eq!(m, [1, 1, 3]);
    }
}
