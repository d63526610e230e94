//! Device bring-up over any [`Bar0`]: read capabilities, program groups and WQs
//! (read-modify-write, spec §8.1), enable the device and WQs with bounded CMDSTS polling, and tear
//! down in order. The sequence follows the one SPDK and DPDK use in VFIO mode (spec §8.3).

use super::bar::{Bar0, PciCommand};
use super::regs::{self, bits, set_bits, wqcfg, CmdError, Command, DeviceRegState, CMDSTS_ACTIVE};
use crate::sysfs::{DeviceKind, WqMode};
use serde::Serialize;
use std::time::{Duration, Instant};

/// Default time budget for one command (SPDK/DPDK wait in the order of a second).
pub const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_secs(1);

/// What went wrong during bring-up or teardown.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BringUpError {
    /// Registers read as all-ones: the device is gone or the BAR is not mapped.
    #[error("BAR0 reads all-ones: device not responding (unplugged, or BAR0 not mapped)")]
    DeviceGone,
    /// VERSION is not one this driver knows.
    #[error("unsupported device version {0:#x} (expected 0x100 or 0x200)")]
    UnsupportedVersion(u32),
    /// GENCAP bit 31 is clear: the configuration registers are read-only.
    #[error("device configuration is not writable (GENCAP bit 31 clear)")]
    NotConfigurable,
    /// A configuration table lies outside BAR0.
    #[error(
        "{table} table at {offset:#x} (+{need:#x} bytes) does not fit BAR0 of {bar_len:#x} bytes"
    )]
    BadTable {
        /// `GRPCFG` or `WQCFG`.
        table: &'static str,
        /// Its offset.
        offset: u32,
        /// Bytes it needs.
        need: u32,
        /// BAR0 size.
        bar_len: u64,
    },
    /// The device halted and needs a reset this driver cannot do from BAR0.
    #[error("device halted and needs a {0} reset")]
    HaltedNeedsReset(&'static str),
    /// A command completed with an error.
    #[error("{command:?} failed: {error}")]
    Command {
        /// The command.
        command: Command,
        /// The decoded CMDSTS error.
        error: CmdError,
    },
    /// CMDSTS stayed active beyond the time budget.
    #[error("{command:?} still active after {waited:?}")]
    Timeout {
        /// The command.
        command: Command,
        /// How long we waited.
        waited: Duration,
    },
    /// A command reported success but the state registers disagree.
    #[error("after {command:?}: expected {expected}, found {found}")]
    StateMismatch {
        /// The command.
        command: Command,
        /// What was expected.
        expected: &'static str,
        /// What GENSTS/WQCFG showed.
        found: String,
    },
    /// The plan does not fit the device.
    #[error("invalid configuration plan: {0}")]
    Plan(#[from] PlanError),
    /// The PCI command register could not be read or written.
    #[error("PCI config space access failed: {0}")]
    PciConfig(String),
}

/// A configuration plan that the device would refuse, found before touching it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// More WQs than the device has.
    #[error("{planned} WQs planned, device has {max}")]
    TooManyWqs {
        /// WQs in the plan.
        planned: usize,
        /// WQCAP number of WQs.
        max: u32,
    },
    /// More groups than the device has.
    #[error("{planned} groups planned, device has {max}")]
    TooManyGroups {
        /// Groups in the plan.
        planned: usize,
        /// GRPCAP groups.
        max: u32,
    },
    /// A WQ refers to a group that does not exist.
    #[error("WQ {wq}: group {group} does not exist")]
    NoSuchGroup {
        /// WQ index.
        wq: usize,
        /// Group it names.
        group: u8,
    },
    /// An engine bitmap names engines the device does not have.
    #[error("group {group}: engine bitmap {engines:#x} beyond the device's {max} engines")]
    NoSuchEngine {
        /// Group index.
        group: usize,
        /// The bitmap.
        engines: u64,
        /// ENGCAP engines.
        max: u32,
    },
    /// An engine is in two groups.
    #[error("engine {engine} is in more than one group")]
    EngineInTwoGroups {
        /// Engine index.
        engine: u32,
    },
    /// A group holding WQs has no engine.
    #[error("group {group} has WQs but no engine")]
    GroupWithoutEngine {
        /// Group index.
        group: usize,
    },
    /// WQ size 0.
    #[error("WQ {wq}: size 0")]
    SizeZero {
        /// WQ index.
        wq: usize,
    },
    /// Sum of sizes above WQCAP total.
    #[error("sum of WQ sizes {sum} exceeds the device total {total}")]
    SizeSum {
        /// Planned sum.
        sum: u32,
        /// WQCAP total.
        total: u32,
    },
    /// Priority outside 1-15.
    #[error("WQ {wq}: priority {priority} outside 1-15")]
    Priority {
        /// WQ index.
        wq: usize,
        /// The priority.
        priority: u8,
    },
    /// The device does not support this mode.
    #[error(
        "WQ {wq}: {mode:?} mode not supported (shared WQs need PASID, unavailable in VFIO mode)"
    )]
    Mode {
        /// WQ index.
        wq: usize,
        /// The mode.
        mode: WqMode,
    },
    /// Threshold above size.
    #[error("WQ {wq}: threshold {threshold} above size {size}")]
    Threshold {
        /// WQ index.
        wq: usize,
        /// Threshold.
        threshold: u16,
        /// Size.
        size: u16,
    },
    /// Max transfer shift 0 or above GENCAP.
    #[error("WQ {wq}: max transfer shift {shift} outside 1..={max}")]
    MaxTransfer {
        /// WQ index.
        wq: usize,
        /// Planned shift.
        shift: u8,
        /// GENCAP maximum.
        max: u8,
    },
    /// Max batch shift above GENCAP (or non-zero on IAA).
    #[error("WQ {wq}: max batch shift {shift} above {max}")]
    MaxBatch {
        /// WQ index.
        wq: usize,
        /// Planned shift.
        shift: u8,
        /// Maximum (0 on IAA).
        max: u8,
    },
    /// Block on fault without GENCAP support.
    #[error("WQ {wq}: block on fault not supported by the device")]
    BlockOnFault {
        /// WQ index.
        wq: usize,
    },
}

/// Capabilities read from BAR0.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceCaps {
    /// VERSION.
    pub version: u32,
    /// GENCAP raw.
    pub gencap: u64,
    /// IAACAP raw (BAR0 0x180), read only on version 2.0 and later devices as Linux does; 0 on
    /// IAA 1.0. Bit 8 = header generation (one-pass dynamic compression).
    pub iaacap: u64,
    /// WQCAP raw.
    pub wqcap: u64,
    /// GRPCAP raw.
    pub grpcap: u64,
    /// ENGCAP raw.
    pub engcap: u64,
    /// OPCAP, word 0 = opcodes 0-63.
    pub opcap: [u64; 4],
    /// Group table offset in bytes.
    pub grpcfg_offset: u32,
    /// WQ table offset in bytes.
    pub wqcfg_offset: u32,
    /// MSI-X permission table offset in bytes.
    pub msix_perm_offset: u32,
    /// Perfmon offset in bytes (0 = none).
    pub perfmon_offset: u32,
    /// Bytes per WQ config entry.
    pub wqcfg_stride: u32,
    /// Total WQ entries.
    pub total_wq_size: u32,
    /// Number of WQs.
    pub num_wqs: u32,
    /// Number of groups.
    pub num_groups: u32,
    /// Number of engines.
    pub num_engines: u32,
    /// Total read buffers.
    pub read_buffers: u32,
    /// GENCAP max transfer shift.
    pub max_transfer_shift: u8,
    /// GENCAP max batch shift.
    pub max_batch_shift: u8,
    /// WQCAP shared mode.
    pub shared_supported: bool,
    /// WQCAP dedicated mode.
    pub dedicated_supported: bool,
    /// GENCAP block on fault.
    pub block_on_fault_supported: bool,
}

impl DeviceCaps {
    /// Read and check the capability registers and table offsets.
    pub fn read(bar: &impl Bar0) -> Result<Self, BringUpError> {
        let version = bar.read32(regs::VERSION);
        let gencap = bar.read64(regs::GENCAP);
        if version == u32::MAX && gencap == u64::MAX {
            return Err(BringUpError::DeviceGone);
        }
        if version & 0xff00 == 0 || version > 0x2ff {
            return Err(BringUpError::UnsupportedVersion(version));
        }
        if gencap & (1 << 31) == 0 {
            return Err(BringUpError::NotConfigurable);
        }
        let wqcap = bar.read64(regs::WQCAP);
        let iaacap = if version >= 0x200 && u64::from(regs::IAACAP) + 8 <= bar.len() {
            bar.read64(regs::IAACAP)
        } else {
            0
        };
        let grpcap = bar.read64(regs::GRPCAP);
        let engcap = bar.read64(regs::ENGCAP);
        let mut opcap = [0u64; 4];
        for (i, w) in opcap.iter_mut().enumerate() {
            *w = bar.read64(regs::OPCAP + 8 * i as u32);
        }
        let t0 = bar.read64(regs::TABLE_OFFSETS);
        let t1 = bar.read64(regs::TABLE_OFFSETS + 8);
        let unit = |v: u64| (v as u32 & 0xffff) * regs::TABLE_OFFSET_UNIT;
        let caps = DeviceCaps {
            version,
            gencap,
            iaacap,
            wqcap,
            grpcap,
            engcap,
            opcap,
            grpcfg_offset: unit(t0),
            wqcfg_offset: unit(t0 >> 16),
            msix_perm_offset: unit(t0 >> 32),
            perfmon_offset: unit(t1),
            wqcfg_stride: 1 << (5 + bits(wqcap, 27, 24) as u32),
            total_wq_size: bits(wqcap, 15, 0) as u32,
            num_wqs: bits(wqcap, 23, 16) as u32,
            num_groups: bits(grpcap, 7, 0) as u32,
            num_engines: bits(engcap, 7, 0) as u32,
            read_buffers: bits(grpcap, 15, 8) as u32,
            max_transfer_shift: bits(gencap, 20, 16) as u8,
            max_batch_shift: bits(gencap, 24, 21) as u8,
            shared_supported: wqcap & (1 << 48) != 0,
            dedicated_supported: wqcap & (1 << 49) != 0,
            block_on_fault_supported: gencap & 1 != 0,
        };
        let check = |table: &'static str, offset: u32, need: u32| {
            if offset == 0 || u64::from(offset) + u64::from(need) > bar.len() {
                Err(BringUpError::BadTable {
                    table,
                    offset,
                    need,
                    bar_len: bar.len(),
                })
            } else {
                Ok(())
            }
        };
        check(
            "GRPCFG",
            caps.grpcfg_offset,
            caps.num_groups * regs::GRPCFG_STRIDE,
        )?;
        check("WQCFG", caps.wqcfg_offset, caps.num_wqs * caps.wqcfg_stride)?;
        Ok(caps)
    }

    /// Whether opcode `op` is in OPCAP.
    pub fn supports_opcode(&self, op: u8) -> bool {
        self.opcap[usize::from(op / 64)] & (1 << (op % 64)) != 0
    }

    /// WQCAP bit 54: per-WQ operation configuration (WQCFG dwords 8-15), on 2.0 devices whose
    /// WQCFG entries are at least 64 bytes.
    pub fn op_config_supported(&self) -> bool {
        self.wqcap & (1 << 54) != 0 && self.wqcfg_stride >= 64
    }

    /// IAA (no batch support) or DSA, judged from GENCAP max batch shift.
    pub fn looks_like(&self) -> DeviceKind {
        if self.max_batch_shift == 0 {
            DeviceKind::Iaa
        } else {
            DeviceKind::Dsa
        }
    }
}

/// One WQ of a plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct WqPlan {
    /// Entries (> 0).
    pub size: u16,
    /// Threshold (shared WQs; <= size).
    pub threshold: u16,
    /// Dedicated or shared.
    pub mode: WqMode,
    /// 1-15.
    pub priority: u8,
    /// Block on fault (needs GENCAP bit 0; useless without PRS, i.e. in VFIO mode).
    pub block_on_fault: bool,
    /// log2 of the max transfer size.
    pub max_transfer_shift: u8,
    /// log2 of the max batch size (0 on IAA).
    pub max_batch_shift: u8,
    /// Group the WQ belongs to.
    pub group: u8,
}

/// The configuration to program: WQ `i` of the device is `wqs[i]` (WQs beyond the list stay
/// unconfigured), group `g` has engines `group_engines[g]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// WQs by index.
    pub wqs: Vec<WqPlan>,
    /// Engine bitmap per group.
    pub group_engines: Vec<u64>,
}

impl Plan {
    /// `n` dedicated WQs with the entries split evenly, one WQ per group (as DPDK does, to avoid
    /// reordering between WQs), engines spread round-robin over the groups that have a WQ.
    /// `n` is capped at the number of WQs and groups.
    pub fn dedicated(caps: &DeviceCaps, n: usize) -> Plan {
        let n = n
            .min(caps.num_wqs as usize)
            .min(caps.num_groups as usize)
            .max(1);
        let size = (caps.total_wq_size as usize / n).min(usize::from(u16::MAX)) as u16;
        let wqs = (0..n)
            .map(|i| WqPlan {
                size,
                threshold: 0,
                mode: WqMode::Dedicated,
                priority: 10,
                block_on_fault: false,
                max_transfer_shift: caps.max_transfer_shift,
                max_batch_shift: caps.max_batch_shift,
                group: i as u8,
            })
            .collect();
        let mut group_engines = vec![0u64; n];
        for e in 0..caps.num_engines.min(64) {
            group_engines[e as usize % n] |= 1 << e;
        }
        Plan { wqs, group_engines }
    }

    /// Check the plan against the capabilities (the same rules the device applies).
    pub fn validate(&self, caps: &DeviceCaps) -> Result<(), PlanError> {
        if self.wqs.len() > caps.num_wqs as usize {
            return Err(PlanError::TooManyWqs {
                planned: self.wqs.len(),
                max: caps.num_wqs,
            });
        }
        if self.group_engines.len() > caps.num_groups as usize {
            return Err(PlanError::TooManyGroups {
                planned: self.group_engines.len(),
                max: caps.num_groups,
            });
        }
        let engine_mask = if caps.num_engines >= 64 {
            u64::MAX
        } else {
            (1u64 << caps.num_engines) - 1
        };
        let mut seen = 0u64;
        for (g, &e) in self.group_engines.iter().enumerate() {
            if e & !engine_mask != 0 {
                return Err(PlanError::NoSuchEngine {
                    group: g,
                    engines: e,
                    max: caps.num_engines,
                });
            }
            if seen & e != 0 {
                return Err(PlanError::EngineInTwoGroups {
                    engine: (seen & e).trailing_zeros(),
                });
            }
            seen |= e;
        }
        let mut sum = 0u32;
        for (i, w) in self.wqs.iter().enumerate() {
            let g = usize::from(w.group);
            if g >= self.group_engines.len() {
                return Err(PlanError::NoSuchGroup {
                    wq: i,
                    group: w.group,
                });
            }
            if self.group_engines[g] == 0 {
                return Err(PlanError::GroupWithoutEngine { group: g });
            }
            if w.size == 0 {
                return Err(PlanError::SizeZero { wq: i });
            }
            sum += u32::from(w.size);
            if w.priority == 0 || w.priority > 15 {
                return Err(PlanError::Priority {
                    wq: i,
                    priority: w.priority,
                });
            }
            // VFIO mode runs without PASID: only dedicated WQs can work (spec §8.3).
            let mode_ok = match w.mode {
                WqMode::Dedicated => caps.dedicated_supported,
                WqMode::Shared => false,
            };
            if !mode_ok {
                return Err(PlanError::Mode {
                    wq: i,
                    mode: w.mode,
                });
            }
            if w.threshold > w.size {
                return Err(PlanError::Threshold {
                    wq: i,
                    threshold: w.threshold,
                    size: w.size,
                });
            }
            if w.block_on_fault && !caps.block_on_fault_supported {
                return Err(PlanError::BlockOnFault { wq: i });
            }
            if w.max_transfer_shift == 0 || w.max_transfer_shift > caps.max_transfer_shift {
                return Err(PlanError::MaxTransfer {
                    wq: i,
                    shift: w.max_transfer_shift,
                    max: caps.max_transfer_shift,
                });
            }
            if w.max_batch_shift > caps.max_batch_shift {
                return Err(PlanError::MaxBatch {
                    wq: i,
                    shift: w.max_batch_shift,
                    max: caps.max_batch_shift,
                });
            }
        }
        if sum > caps.total_wq_size {
            return Err(PlanError::SizeSum {
                sum,
                total: caps.total_wq_size,
            });
        }
        Ok(())
    }
}

/// Read-back of one WQ's configuration registers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct WqRegs {
    /// Size.
    pub size: u16,
    /// Threshold.
    pub threshold: u16,
    /// Mode.
    pub mode: WqMode,
    /// Priority.
    pub priority: u8,
    /// Block on fault.
    pub block_on_fault: bool,
    /// Max transfer shift.
    pub max_transfer_shift: u8,
    /// Max batch shift.
    pub max_batch_shift: u8,
    /// Occupancy.
    pub occupancy: u16,
    /// State bit: enabled.
    pub enabled: bool,
}

/// Drives one device's BAR0.
#[derive(Debug)]
pub struct Controller<B: Bar0> {
    bar: B,
    caps: DeviceCaps,
    timeout: Duration,
    enabled_wqs: Vec<u32>,
    device_enabled: bool,
}

impl<B: Bar0> Controller<B> {
    /// Read the capabilities of the device behind `bar`.
    pub fn new(bar: B) -> Result<Self, BringUpError> {
        let caps = DeviceCaps::read(&bar)?;
        Ok(Controller {
            bar,
            caps,
            timeout: DEFAULT_COMMAND_TIMEOUT,
            enabled_wqs: Vec::new(),
            device_enabled: false,
        })
    }

    /// Set the time budget of each command.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The capabilities read at creation.
    pub fn caps(&self) -> &DeviceCaps {
        &self.caps
    }

    /// The register BAR.
    pub fn bar(&self) -> &B {
        &self.bar
    }

    /// GENSTS state.
    pub fn state(&self) -> DeviceRegState {
        DeviceRegState::from_gensts(self.bar.read32(regs::GENSTS))
    }

    /// WQs this controller enabled and has not disabled.
    pub fn enabled_wqs(&self) -> &[u32] {
        &self.enabled_wqs
    }

    fn wait_idle(&self, command: Command) -> Result<u32, BringUpError> {
        let start = Instant::now();
        let mut spins = 0u32;
        loop {
            let st = self.bar.read32(regs::CMDSTS);
            if st == u32::MAX {
                return Err(BringUpError::DeviceGone);
            }
            if st & CMDSTS_ACTIVE == 0 {
                return Ok(st);
            }
            let waited = start.elapsed();
            if waited >= self.timeout {
                return Err(BringUpError::Timeout { command, waited });
            }
            spins += 1;
            if spins < 64 {
                std::hint::spin_loop();
            } else {
                std::thread::sleep(Duration::from_micros(10));
            }
        }
    }

    /// Issue one command and wait (bounded) for it; returns CMDSTS result bits 23:8.
    pub fn command(&self, command: Command, operand: u32) -> Result<u32, BringUpError> {
        // Only one command at a time: wait for any previous one first.
        self.wait_idle(command)?;
        self.bar.write32(regs::CMD, command.encode(operand));
        let st = self.wait_idle(command)?;
        match CmdError::from_code((st & 0xff) as u8) {
            None => Ok((st >> 8) & 0xffff),
            Some(error) => Err(BringUpError::Command { command, error }),
        }
    }

    /// RESET_DEVICE: back to disabled with all configuration cleared.
    pub fn reset(&mut self) -> Result<(), BringUpError> {
        self.command(Command::ResetDevice, 0)?;
        self.enabled_wqs.clear();
        self.device_enabled = false;
        self.expect_state(Command::ResetDevice, DeviceRegState::Disabled)
    }

    fn expect_state(&self, command: Command, want: DeviceRegState) -> Result<(), BringUpError> {
        let found = self.state();
        if found != want {
            return Err(BringUpError::StateMismatch {
                command,
                expected: match want {
                    DeviceRegState::Disabled => "device disabled",
                    DeviceRegState::Enabled => "device enabled",
                    DeviceRegState::Draining => "device draining",
                    DeviceRegState::Halted => "device halted",
                },
                found: format!("{found:?}"),
            });
        }
        Ok(())
    }

    fn wq_off(&self, wq: u32, dw: u32) -> u32 {
        self.caps.wqcfg_offset + wq * self.caps.wqcfg_stride + 4 * dw
    }

    fn grp_off(&self, g: u32, off: u32) -> u32 {
        self.caps.grpcfg_offset + g * regs::GRPCFG_STRIDE + off
    }

    /// Program the group and WQ tables from `plan` without validating it (so tests can hand the
    /// device a bad plan and see its error); indices beyond the device are refused. WQ fields
    /// this driver does not own are preserved (read-modify-write); unused groups and WQs are
    /// zeroed.
    pub fn write_config(&self, plan: &Plan) -> Result<(), BringUpError> {
        if plan.wqs.len() > self.caps.num_wqs as usize {
            return Err(PlanError::TooManyWqs {
                planned: plan.wqs.len(),
                max: self.caps.num_wqs,
            }
            .into());
        }
        if plan.group_engines.len() > self.caps.num_groups as usize {
            return Err(PlanError::TooManyGroups {
                planned: plan.group_engines.len(),
                max: self.caps.num_groups,
            }
            .into());
        }
        for g in 0..self.caps.num_groups {
            let mut wq_bits = [0u64; 4];
            for (i, w) in plan.wqs.iter().enumerate() {
                if u32::from(w.group) == g && i < 256 {
                    wq_bits[i / 64] |= 1 << (i % 64);
                }
            }
            for (k, b) in wq_bits.iter().enumerate() {
                self.bar.write64(self.grp_off(g, 8 * k as u32), *b);
            }
            let engines = plan.group_engines.get(g as usize).copied().unwrap_or(0);
            self.bar
                .write64(self.grp_off(g, regs::GRPCFG_ENGINES), engines);
            // Traffic classes A = B = 1 (what Linux writes on version <= 2 devices); read
            // buffers allowed (27:20) = the device's total (GRPCAP 15:8) split evenly over the
            // groups that have engines (the kernel writes the total for one group, SPDK splits
            // it), so no group runs without read buffers; progress limits left at 0.
            let flags_off = self.grp_off(g, regs::GRPCFG_FLAGS);
            let old = self.bar.read64(flags_off);
            let active = plan
                .group_engines
                .iter()
                .filter(|&&e| e != 0)
                .count()
                .max(1) as u32;
            let allowed = u64::from((self.caps.read_buffers / active).min(0xff));
            let new = (old & !0x3f & !(0xff << 20)) | 1 | (1 << 3) | (allowed << 20);
            self.bar
                .write64(flags_off, if engines == 0 { old & !0x3f } else { new });
        }
        for wq in 0..self.caps.num_wqs {
            let p = plan.wqs.get(wq as usize);
            let rmw = |dw: u32, f: &dyn Fn(u32) -> u32| {
                let off = self.wq_off(wq, dw);
                let old = self.bar.read32(off);
                self.bar.write32(off, f(old));
            };
            let (size, thr, dedicated, bof, prio, xfer, batch) = match p {
                Some(w) => (
                    u32::from(w.size),
                    u32::from(w.threshold),
                    u32::from(w.mode == WqMode::Dedicated),
                    u32::from(w.block_on_fault),
                    u32::from(w.priority),
                    u32::from(w.max_transfer_shift),
                    u32::from(w.max_batch_shift),
                ),
                None => (0, 0, 0, 0, 0, 0, 0),
            };
            rmw(wqcfg::SIZE_DW, &|v| set_bits(v, 15, 0, size));
            rmw(wqcfg::THRESHOLD_DW, &|v| set_bits(v, 15, 0, thr));
            rmw(wqcfg::MODE_DW, &|v| {
                let v = set_bits(v, 0, 0, dedicated);
                let v = set_bits(v, 1, 1, bof);
                let v = set_bits(v, 7, 4, prio);
                // PASID disabled in VFIO mode: PASID field and enable cleared.
                let v = set_bits(v, 27, 8, 0);
                set_bits(v, 28, 28, 0)
            });
            rmw(wqcfg::XFER_DW, &|v| {
                let v = set_bits(v, 4, 0, xfer);
                set_bits(v, 8, 5, batch)
            });
            // IAA/DSA 2.0 (WQCAP bit 54): each WQ has its own operation config (WQCFG dwords
            // 8-15, one bit per opcode) and refuses what it does not list. Write the device's
            // OPCAP there, as the kernel does, so a planned WQ accepts every operation.
            if p.is_some() && self.caps.op_config_supported() {
                for (k, word) in self.caps.opcap.iter().enumerate() {
                    let off = self.wq_off(wq, wqcfg::OP_CONFIG_DW + 2 * k as u32);
                    self.bar.write32(off, *word as u32);
                    self.bar.write32(off + 4, (*word >> 32) as u32);
                }
            }
        }
        Ok(())
    }

    /// Read back WQ `wq`'s registers.
    pub fn wq_regs(&self, wq: u32) -> Option<WqRegs> {
        if wq >= self.caps.num_wqs {
            return None;
        }
        let d = |dw| self.bar.read32(self.wq_off(wq, dw));
        let (d0, d1, d2, d3, d6) = (d(0), d(1), d(2), d(3), d(6));
        Some(WqRegs {
            size: d0 as u16,
            threshold: d1 as u16,
            mode: if d2 & wqcfg::MODE_DEDICATED != 0 {
                WqMode::Dedicated
            } else {
                WqMode::Shared
            },
            priority: ((d2 >> 4) & 0xf) as u8,
            block_on_fault: d2 & wqcfg::BLOCK_ON_FAULT != 0,
            max_transfer_shift: (d3 & 0x1f) as u8,
            max_batch_shift: ((d3 >> 5) & 0xf) as u8,
            occupancy: d6 as u16,
            enabled: (d6 >> 30) == wqcfg::STATE_ENABLED,
        })
    }

    /// ENABLE_DEVICE and check GENSTS.
    pub fn enable_device(&mut self) -> Result<(), BringUpError> {
        self.command(Command::EnableDevice, 0)?;
        self.expect_state(Command::EnableDevice, DeviceRegState::Enabled)?;
        self.device_enabled = true;
        Ok(())
    }

    /// ENABLE_WQ and check the WQ state bits.
    pub fn enable_wq(&mut self, wq: u32) -> Result<(), BringUpError> {
        self.command(Command::EnableWq, wq)?;
        match self.wq_regs(wq) {
            Some(r) if r.enabled => {
                self.enabled_wqs.push(wq);
                Ok(())
            }
            _ => Err(BringUpError::StateMismatch {
                command: Command::EnableWq,
                expected: "WQ enabled",
                found: "WQ state bits not set".into(),
            }),
        }
    }

    /// DISABLE_WQ for one WQ.
    pub fn disable_wq(&mut self, wq: u32) -> Result<(), BringUpError> {
        self.command(Command::DisableWq, Command::wq_bitmap_operand(wq))?;
        self.enabled_wqs.retain(|&w| w != wq);
        Ok(())
    }

    /// DISABLE_DEVICE.
    pub fn disable_device(&mut self) -> Result<(), BringUpError> {
        self.command(Command::DisableDevice, 0)?;
        self.device_enabled = false;
        self.enabled_wqs.clear();
        self.expect_state(Command::DisableDevice, DeviceRegState::Disabled)
    }

    /// Make sure PCI bus mastering (and memory decoding) is on.
    pub fn ensure_bus_master(pci: &dyn PciCommand) -> Result<(), BringUpError> {
        let cmd = pci
            .read_command()
            .map_err(|e| BringUpError::PciConfig(e.to_string()))?;
        let want = cmd | regs::PCI_COMMAND_MASTER | regs::PCI_COMMAND_MEMORY;
        if want != cmd {
            pci.write_command(want)
                .map_err(|e| BringUpError::PciConfig(e.to_string()))?;
        }
        Ok(())
    }

    /// The whole sequence of spec §8.3: bus master on, the plan validated, RESET_DEVICE (always),
    /// validate and program the plan, enable the device, enable every planned WQ. On failure,
    /// whatever was enabled is disabled again before the error is returned.
    pub fn bring_up(&mut self, plan: &Plan, pci: &dyn PciCommand) -> Result<(), BringUpError> {
        Self::ensure_bus_master(pci)?;
        let gensts = self.bar.read32(regs::GENSTS);
        if gensts == u32::MAX {
            return Err(BringUpError::DeviceGone);
        }
        let state = DeviceRegState::from_gensts(gensts);
        if state == DeviceRegState::Halted {
            match bits(u64::from(gensts), 3, 2) {
                0 => {}
                1 => return Err(BringUpError::HaltedNeedsReset("function-level (FLR)")),
                2 => return Err(BringUpError::HaltedNeedsReset("warm")),
                _ => return Err(BringUpError::HaltedNeedsReset("cold")),
            }
        }
        plan.validate(&self.caps)?;
        // Always RESET_DEVICE before programming, as SPDK does: a device that reads disabled
        // may still hold a previous user's group and WQ configuration, and VFIO_DEVICE_RESET
        // (whose result the caller cannot check) may not have cleared it.
        self.reset()?;
        self.write_config(plan)?;
        let r = self.enable_all(plan);
        if r.is_err() {
            let _ = self.teardown();
        }
        r
    }

    fn enable_all(&mut self, plan: &Plan) -> Result<(), BringUpError> {
        self.enable_device()?;
        for wq in 0..plan.wqs.len() as u32 {
            self.enable_wq(wq)?;
        }
        Ok(())
    }

    /// Disable every WQ this controller enabled, then the device. Keeps going after an error
    /// and returns the first one.
    pub fn teardown(&mut self) -> Result<(), BringUpError> {
        let mut first = None;
        for wq in self.enabled_wqs.clone() {
            if let Err(e) = self.disable_wq(wq) {
                first.get_or_insert(e);
            }
        }
        self.enabled_wqs.clear();
        if self.device_enabled {
            if let Err(e) = self.disable_device() {
                first.get_or_insert(e);
            }
        }
        match first {
            None => Ok(()),
            Some(e) => Err(e),
        }
    }
}
