//! CPU -> package (socket) map, read from
//! `<sys>/devices/system/cpu/cpuN/topology/physical_package_id`, and NUMA node -> CPUs from
//! `<sys>/devices/system/node/nodeN/cpulist`.

use super::parse::{parse_cpulist, parse_dec_i32};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

/// Upper bound on CPU ids we accept from sysfs (a malformed cpulist cannot make us allocate
/// more than this).
pub const MAX_CPUS: usize = 1 << 16;

/// Which CPU belongs to which package (socket), and which CPUs belong to which NUMA node.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Topology {
    /// Index = CPU id; `None` for ids with no readable package (offline or absent CPUs).
    cpu_package: Vec<Option<u32>>,
    /// NUMA node id -> its CPUs.
    node_cpus: BTreeMap<u32, Vec<u32>>,
}

impl Topology {
    /// Build a topology from a CPU -> package table (index = CPU id) and no NUMA information.
    pub fn from_packages(cpu_package: Vec<Option<u32>>) -> Self {
        Topology {
            cpu_package,
            node_cpus: BTreeMap::new(),
        }
    }

    /// Add the CPU list of a NUMA node.
    pub fn with_node(mut self, node: u32, cpus: Vec<u32>) -> Self {
        self.node_cpus.insert(node, cpus);
        self
    }

    /// Read the topology under `sys_root` (normally `/sys`). Missing or unreadable files leave
    /// gaps (`None`) instead of failing: a host without topology information still works, with
    /// every device treated as local to every CPU.
    pub fn read(sys_root: &Path) -> Self {
        let mut cpu_package: Vec<Option<u32>> = Vec::new();
        let cpu_dir = sys_root.join("devices/system/cpu");
        if let Ok(entries) = fs::read_dir(&cpu_dir) {
            for entry in entries.flatten() {
                let name = entry.file_name();
                let Some(id) = name
                    .to_str()
                    .and_then(|n| n.strip_prefix("cpu"))
                    .filter(|d| !d.is_empty() && d.bytes().all(|c| c.is_ascii_digit()))
                    .and_then(|d| d.parse::<usize>().ok())
                else {
                    continue;
                };
                if id >= MAX_CPUS {
                    continue;
                }
                let pkg = fs::read_to_string(entry.path().join("topology/physical_package_id"))
                    .ok()
                    .and_then(|t| parse_dec_i32(&t).ok())
                    .and_then(|v| u32::try_from(v).ok());
                if cpu_package.len() <= id {
                    cpu_package.resize(id + 1, None);
                }
                cpu_package[id] = pkg;
            }
        }
        let mut node_cpus = BTreeMap::new();
        let node_dir = sys_root.join("devices/system/node");
        if let Ok(entries) = fs::read_dir(&node_dir) {
            for entry in entries.flatten() {
                let name = entry.file_name();
                let Some(id) = name
                    .to_str()
                    .and_then(|n| n.strip_prefix("node"))
                    .and_then(|d| d.parse::<u32>().ok())
                else {
                    continue;
                };
                if let Some(cpus) = fs::read_to_string(entry.path().join("cpulist"))
                    .ok()
                    .and_then(|t| parse_cpulist(&t, MAX_CPUS).ok())
                {
                    node_cpus.insert(id, cpus);
                }
            }
        }
        Topology {
            cpu_package,
            node_cpus,
        }
    }

    /// Number of entries in the CPU table (highest CPU id seen + 1).
    pub fn cpu_count(&self) -> usize {
        self.cpu_package.len()
    }

    /// Package (socket) of `cpu`, if known.
    pub fn package_of(&self, cpu: usize) -> Option<u32> {
        self.cpu_package.get(cpu).copied().flatten()
    }

    /// All known packages, ascending.
    pub fn packages(&self) -> Vec<u32> {
        let mut p: Vec<u32> = self.cpu_package.iter().flatten().copied().collect();
        p.sort_unstable();
        p.dedup();
        p
    }

    /// CPUs of package `pkg`, ascending.
    pub fn cpus_of_package(&self, pkg: u32) -> Vec<usize> {
        (0..self.cpu_package.len())
            .filter(|&c| self.cpu_package[c] == Some(pkg))
            .collect()
    }

    /// Package of the first CPU of a list whose package is known.
    pub fn package_of_cpus(&self, cpus: &[u32]) -> Option<u32> {
        cpus.iter().find_map(|&c| self.package_of(c as usize))
    }

    /// Package holding the CPUs of NUMA node `node`, if known.
    pub fn package_of_node(&self, node: u32) -> Option<u32> {
        self.node_cpus
            .get(&node)
            .and_then(|cpus| self.package_of_cpus(cpus))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_queries() {
        let t = Topology::from_packages(vec![Some(0), Some(0), Some(1), None, Some(1)])
            .with_node(1, vec![2, 4]);
        assert_eq!(t.cpu_count(), 5);
        assert_eq!(t.packages(), vec![0, 1]);
        assert_eq!(t.cpus_of_package(1), vec![2, 4]);
        assert_eq!(t.package_of(3), None);
        assert_eq!(t.package_of(99), None);
        assert_eq!(t.package_of_node(1), Some(1));
        assert_eq!(t.package_of_node(7), None);
        assert_eq!(t.package_of_cpus(&[3, 1]), Some(0));
    }
}
