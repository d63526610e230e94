//! A model of the BAR0 register file of an IAA/DSA device: capability registers, the group and
//! WQ configuration tables, and the command interface (CMD / CMDSTS) with the checks the device
//! makes when a device or WQ is enabled, so the VFIO bring-up code is tested without hardware.
//!
//! What it implements (spec §8.1, §8.2, §6.3):
//! - capability registers with SPR values (§0.2) or custom ones ([`Bar0ModelConfig`]);
//! - writes to the group table are ignored while the device is enabled, writes to a WQ's config
//!   while that WQ is enabled, and the WQ state/occupancy dword is read-only;
//! - commands: enable/disable device, drain/abort all, reset device, enable/disable/drain/abort/
//!   reset WQ, drain/abort PASID; any other code (or one not in CMDCAP) fails with 0x01;
//! - CMDSTS stays active for a configurable number of reads, or forever ([`Bar0Model::hang`]),
//!   so the driver's bounded polling is exercised;
//! - a halted device ([`Bar0Model::halt`]) fails every command but reset with 0x03;
//! - configuration checks with the CMDSTS error codes of §8.2.
//!
//! Where the exact hardware order of checks is not public, the model's order is: ENABLE_DEVICE
//! checks already enabled (0x10), bus master (0x12), sum of WQ sizes (0x14), a WQ in two groups
//! (0x16), an engine in two groups (0x17), a group with sized WQs but no engine (0x15), read
//! buffers reserved over the total (0x18). ENABLE_WQ checks the index (0x02), device enabled
//! (0x20), WQ already enabled (0x21), size 0 (0x22), priority 0 (0x23), mode not supported (0x24;
//! shared also needs PASID support), block on fault without GENCAP support (0x25), PASID enable
//! without PASID support (0x26), max batch shift (0x27), max transfer shift (0x28), WQ in no group
//! (0x16).

use iaa_driver::sysfs::DeviceKind;
use iaa_driver::vfio::bar::{Bar0, PciCommand};
use iaa_driver::vfio::regs::{self, bits, wqcfg, Command, DeviceRegState, CMDSTS_ACTIVE};
use std::sync::{Mutex, MutexGuard};

/// Capabilities and layout of the modelled device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bar0ModelConfig {
    /// IAA or DSA (IAA has no batch: max batch shift must be 0).
    pub kind: DeviceKind,
    /// VERSION.
    pub version: u32,
    /// GENCAP.
    pub gencap: u64,
    /// IAACAP at 0x180 (written only when `version` >= 0x200, as on hardware: Linux reads it
    /// only then). [`crate::IAA2_CAP`] for an IAA 2.0 with header generation.
    pub iaacap: u64,
    /// Total WQ entries (WQCAP 15:0).
    pub total_wq_size: u16,
    /// Number of WQs (WQCAP 23:16).
    pub num_wqs: u8,
    /// WQCFG size code (stride = 1 << (5 + code)).
    pub wqcfg_size_code: u8,
    /// WQCAP bit 48.
    pub shared_supported: bool,
    /// WQCAP bit 49.
    pub dedicated_supported: bool,
    /// Groups (GRPCAP 7:0).
    pub num_groups: u8,
    /// Total read buffers (GRPCAP 15:8).
    pub read_buffers: u8,
    /// Engines (ENGCAP 7:0).
    pub num_engines: u8,
    /// OPCAP as four 64-bit words (word 0 = opcodes 0-63).
    pub opcap: [u64; 4],
    /// PASID usable (false in VFIO mode without PASID: shared WQs and PASID enable are refused).
    pub pasid_supported: bool,
    /// Reads of CMDSTS that still show "active" after a command.
    pub busy_reads: u32,
    /// WQCAP bit 54: per-WQ operation config (2.0; needs `wqcfg_size_code` >= 1).
    pub op_config: bool,
    /// BAR0 size in bytes.
    pub bar_len: u32,
}

/// Group table offset used by the model (TABLE OFFSETS field 0, in 0x100 units).
pub const MODEL_GRPCFG_UNITS: u16 = 0x4;
/// WQ table offset used by the model.
pub const MODEL_WQCFG_UNITS: u16 = 0x8;
/// MSI-X permission table offset used by the model.
pub const MODEL_MSIX_PERM_UNITS: u16 = 0xC;

impl Bar0ModelConfig {
    /// SPR IAA 1.0 (values of spec §0.2): 8 WQs, 128 entries, 4 groups, 8 engines; PASID off
    /// (VFIO mode).
    pub fn spr_iaa() -> Self {
        Bar0ModelConfig {
            kind: DeviceKind::Iaa,
            version: 0x100,
            gencap: 0x0007_1f10_901f_0105,
            iaacap: 0,
            total_wq_size: 128,
            num_wqs: 8,
            wqcfg_size_code: 0,
            shared_supported: true,
            dedicated_supported: true,
            num_groups: 4,
            read_buffers: 96,
            num_engines: 8,
            // opcodes 0, 2, 3 | 0x42-0x44, 0x48, 0x49, 0x4c, 0x4d, 0x50-0x56
            opcap: [0xd, 0x007f_331c, 0, 0],
            pasid_supported: false,
            busy_reads: 2,
            op_config: false,
            bar_len: 0x2000,
        }
    }

    /// An IAA 2.0 (Granite Rapids shape, unconfirmed: the SPR values with VERSION 0x200, 64-byte WQCFG
    /// entries with per-WQ operation config, and IAACAP [`crate::IAA2_CAP`] with header
    /// generation).
    pub fn gnr_iaa() -> Self {
        Bar0ModelConfig {
            version: 0x200,
            iaacap: crate::IAA2_CAP,
            wqcfg_size_code: 1,
            op_config: true,
            ..Self::spr_iaa()
        }
    }

    /// SPR DSA 1.0: 8 WQs, 128 entries, 4 groups, 4 engines, batch up to 1024.
    pub fn spr_dsa() -> Self {
        Bar0ModelConfig {
            kind: DeviceKind::Dsa,
            gencap: 0x0040_915f_0107,
            num_engines: 4,
            opcap: [0x00ff_01ff, 0, 0, 0],
            ..Self::spr_iaa()
        }
    }

    fn wqcfg_stride(&self) -> u32 {
        1 << (5 + u32::from(self.wqcfg_size_code))
    }
}

/// One executed command, as the model saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandRecord {
    /// The command, or `None` for an unknown code.
    pub command: Option<Command>,
    /// The operand (CMD bits 19:0).
    pub operand: u32,
    /// The CMDSTS error byte it produced.
    pub error: u8,
}

#[derive(Debug)]
struct State {
    words: Vec<u32>,
    bus_master: bool,
    command_memory: bool,
    busy_left: u32,
    hung: bool,
    pending_status: u32,
    log: Vec<CommandRecord>,
    ignored_cmd_writes: u32,
    /// Words RESET_DEVICE sets instead of 0 (`poke32_reset_default`).
    reset_defaults: Vec<(usize, u32)>,
    injected: Vec<(Command, u8)>,
}

/// The register-file model. Thread-safe (`&self` access through a mutex).
#[derive(Debug)]
pub struct Bar0Model {
    cfg: Bar0ModelConfig,
    state: Mutex<State>,
}

impl Bar0Model {
    /// A device in the state after reset: disabled, all WQ/group config zero, bus master off.
    pub fn new(cfg: Bar0ModelConfig) -> Self {
        // Backing store covers the BAR and both tables even when a (test) configuration makes the
        // BAR too small for them: accesses beyond `bar_len` are refused at the Bar0 boundary,
        // the model's own table walks stay in bounds.
        let tables_end = u32::from(MODEL_WQCFG_UNITS) * regs::TABLE_OFFSET_UNIT
            + u32::from(cfg.num_wqs) * cfg.wqcfg_stride();
        let groups_end = u32::from(MODEL_GRPCFG_UNITS) * regs::TABLE_OFFSET_UNIT
            + u32::from(cfg.num_groups) * regs::GRPCFG_STRIDE;
        let words =
            vec![0u32; (cfg.bar_len.max(tables_end).max(groups_end).max(0x400) / 4) as usize];
        let m = Bar0Model {
            state: Mutex::new(State {
                words,
                bus_master: false,
                command_memory: false,
                busy_left: 0,
                hung: false,
                pending_status: 0,
                log: Vec::new(),
                ignored_cmd_writes: 0,
                reset_defaults: Vec::new(),
                injected: Vec::new(),
            }),
            cfg,
        };
        {
            let mut s = m.lock();
            m.init_caps(&mut s);
        }
        m
    }

    /// The configuration it was built with.
    pub fn config(&self) -> &Bar0ModelConfig {
        &self.cfg
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A poisoned lock only means a test thread panicked; the registers are still coherent.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn init_caps(&self, s: &mut State) {
        let c = &self.cfg;
        let mut set64 = |off: u32, v: u64| {
            let i = (off / 4) as usize;
            s.words[i] = v as u32;
            s.words[i + 1] = (v >> 32) as u32;
        };
        set64(regs::GENCAP, c.gencap);
        let wqcap = u64::from(c.total_wq_size)
            | (u64::from(c.num_wqs) << 16)
            | (u64::from(c.wqcfg_size_code & 0xf) << 24)
            | (u64::from(c.shared_supported) << 48)
            | (u64::from(c.dedicated_supported) << 49)
            | (1 << 51)
            | (1 << 52)
            | (u64::from(c.op_config) << 54);
        set64(regs::WQCAP, wqcap);
        set64(
            regs::GRPCAP,
            u64::from(c.num_groups) | (u64::from(c.read_buffers) << 8),
        );
        set64(regs::ENGCAP, u64::from(c.num_engines));
        for (i, w) in c.opcap.iter().enumerate() {
            set64(regs::OPCAP + 8 * i as u32, *w);
        }
        set64(
            regs::TABLE_OFFSETS,
            u64::from(MODEL_GRPCFG_UNITS)
                | (u64::from(MODEL_WQCFG_UNITS) << 16)
                | (u64::from(MODEL_MSIX_PERM_UNITS) << 32),
        );
        set64(regs::TABLE_OFFSETS + 8, 0);
        if c.version >= 0x200 && regs::IAACAP + 8 <= c.bar_len {
            set64(regs::IAACAP, c.iaacap);
        }
        s.words[(regs::VERSION / 4) as usize] = c.version;
        // Commands 1-12 supported.
        s.words[(regs::CMDCAP / 4) as usize] = 0x1ffe;
    }

    fn grp_base(&self, g: u32) -> u32 {
        u32::from(MODEL_GRPCFG_UNITS) * regs::TABLE_OFFSET_UNIT + g * regs::GRPCFG_STRIDE
    }

    fn wq_base(&self, wq: u32) -> u32 {
        u32::from(MODEL_WQCFG_UNITS) * regs::TABLE_OFFSET_UNIT + wq * self.cfg.wqcfg_stride()
    }

    fn wq_dw(&self, s: &State, wq: u32, dw: u32) -> u32 {
        s.words[((self.wq_base(wq) + 4 * dw) / 4) as usize]
    }

    fn set_wq_dw(&self, s: &mut State, wq: u32, dw: u32, v: u32) {
        let i = ((self.wq_base(wq) + 4 * dw) / 4) as usize;
        s.words[i] = v;
    }

    fn grp_q(&self, s: &State, g: u32, off: u32) -> u64 {
        let i = ((self.grp_base(g) + off) / 4) as usize;
        u64::from(s.words[i]) | (u64::from(s.words[i + 1]) << 32)
    }

    fn dev_state(&self, s: &State) -> DeviceRegState {
        DeviceRegState::from_gensts(s.words[(regs::GENSTS / 4) as usize])
    }

    fn set_dev_state(&self, s: &mut State, st: DeviceRegState) {
        let i = (regs::GENSTS / 4) as usize;
        s.words[i] = (s.words[i] & !3) | st.bits();
    }

    fn wq_enabled(&self, s: &State, wq: u32) -> bool {
        bits(u64::from(self.wq_dw(s, wq, wqcfg::STATE_DW)), 31, 30) == 1
    }

    fn set_wq_enabled(&self, s: &mut State, wq: u32, on: bool) {
        let v = if on { wqcfg::STATE_ENABLED << 30 } else { 0 };
        self.set_wq_dw(s, wq, wqcfg::STATE_DW, v);
    }

    /// Which region an offset belongs to, for write filtering.
    fn classify(&self, off: u32) -> Region {
        let grp_lo = self.grp_base(0);
        let grp_hi = self.grp_base(u32::from(self.cfg.num_groups));
        let wq_lo = self.wq_base(0);
        let wq_hi = self.wq_base(u32::from(self.cfg.num_wqs));
        if off == regs::CMD {
            Region::Cmd
        } else if off == regs::GENCFG || off == regs::GENCTRL {
            Region::Rw
        } else if (regs::SWERR..regs::SWERR + 4).contains(&off) {
            Region::Swerr
        } else if (grp_lo..grp_hi).contains(&off) {
            Region::Group
        } else if (wq_lo..wq_hi).contains(&off) {
            let rel = off - wq_lo;
            Region::Wq {
                wq: rel / self.cfg.wqcfg_stride(),
                dw: (rel % self.cfg.wqcfg_stride()) / 4,
            }
        } else {
            Region::ReadOnly
        }
    }

    fn write_word(&self, s: &mut State, off: u32, v: u32) {
        match self.classify(off) {
            Region::ReadOnly => {}
            Region::Rw => s.words[(off / 4) as usize] = v,
            Region::Swerr => {
                // Write 1 to clear valid/overflow.
                s.words[(off / 4) as usize] &= !(v & 3);
            }
            Region::Group => {
                if self.dev_state(s) != DeviceRegState::Enabled {
                    s.words[(off / 4) as usize] = v;
                }
            }
            Region::Wq { wq, dw } => {
                if dw != wqcfg::STATE_DW && !self.wq_enabled(s, wq) {
                    s.words[(off / 4) as usize] = v;
                }
            }
            Region::Cmd => self.start_command(s, v),
        }
    }

    fn start_command(&self, s: &mut State, v: u32) {
        if s.busy_left > 0 || s.hung {
            // One command at a time: a write while active is dropped.
            s.ignored_cmd_writes += 1;
            return;
        }
        s.words[(regs::CMD / 4) as usize] = v;
        let code = (v >> 20) & 0x1f;
        let operand = v & 0xF_FFFF;
        let command = Command::from_code(code);
        let supported = s.words[(regs::CMDCAP / 4) as usize] & (1 << code) != 0;
        let injected = command.and_then(|c| {
            let i = s.injected.iter().position(|&(ic, _)| ic == c)?;
            Some(s.injected.remove(i).1)
        });
        let error = match (command, injected) {
            (Some(_), Some(code)) if code != 0 => code,
            (Some(c), _) if supported => self.execute(s, c, operand),
            _ => 0x01,
        };
        s.log.push(CommandRecord {
            command,
            operand,
            error,
        });
        s.pending_status = u32::from(error);
        s.busy_left = self.cfg.busy_reads;
        let i = (regs::CMDSTS / 4) as usize;
        s.words[i] = if s.busy_left > 0 {
            CMDSTS_ACTIVE
        } else {
            s.pending_status
        };
    }

    fn wq_list(&self, operand: u32) -> Result<Vec<u32>, u8> {
        let block = (operand >> 16) & 0xf;
        let mask = operand & 0xffff;
        let list: Vec<u32> = (0..16)
            .filter(|b| mask & (1 << b) != 0)
            .map(|b| block * 16 + b)
            .collect();
        if list.is_empty() || list.iter().any(|&w| w >= u32::from(self.cfg.num_wqs)) {
            return Err(0x02);
        }
        Ok(list)
    }

    fn execute(&self, s: &mut State, c: Command, operand: u32) -> u8 {
        let st = self.dev_state(s);
        if st == DeviceRegState::Halted && c != Command::ResetDevice {
            return 0x03;
        }
        match c {
            Command::EnableDevice => self.enable_device(s),
            Command::DisableDevice => {
                if st != DeviceRegState::Enabled {
                    return 0x31;
                }
                for wq in 0..u32::from(self.cfg.num_wqs) {
                    self.set_wq_enabled(s, wq, false);
                }
                self.set_dev_state(s, DeviceRegState::Disabled);
                0
            }
            Command::DrainAll | Command::AbortAll | Command::DrainPasid | Command::AbortPasid => {
                if st != DeviceRegState::Enabled {
                    return 0x20;
                }
                0
            }
            Command::ResetDevice => {
                let (lo, hi) = (
                    self.grp_base(0) / 4,
                    self.wq_base(u32::from(self.cfg.num_wqs)) / 4,
                );
                for w in &mut s.words[lo as usize..hi as usize] {
                    *w = 0;
                }
                for off in [regs::GENCFG, regs::GENCTRL, regs::GENSTS, regs::INTCAUSE] {
                    s.words[(off / 4) as usize] = 0;
                }
                for k in 0..8 {
                    s.words[(regs::SWERR / 4 + k) as usize] = 0;
                }
                for (i, v) in s.reset_defaults.clone() {
                    if let Some(w) = s.words.get_mut(i) {
                        *w = v;
                    }
                }
                0
            }
            Command::EnableWq => self.enable_wq(s, operand),
            Command::DisableWq | Command::DrainWq | Command::AbortWq | Command::ResetWq => {
                let list = match self.wq_list(operand) {
                    Ok(l) => l,
                    Err(e) => return e,
                };
                if c == Command::ResetWq {
                    for &wq in &list {
                        for dw in 0..6 {
                            self.set_wq_dw(s, wq, dw, 0);
                        }
                        self.set_wq_enabled(s, wq, false);
                    }
                    return 0;
                }
                if st != DeviceRegState::Enabled {
                    return 0x20;
                }
                if list.iter().any(|&wq| !self.wq_enabled(s, wq)) {
                    return 0x32;
                }
                if c == Command::DisableWq {
                    for wq in list {
                        self.set_wq_enabled(s, wq, false);
                    }
                }
                0
            }
            Command::RequestIntHandle | Command::ReleaseIntHandle => 0x01,
        }
    }

    fn group_of_wq(&self, s: &State, wq: u32) -> Vec<u32> {
        (0..u32::from(self.cfg.num_groups))
            .filter(|&g| {
                let q = self.grp_q(s, g, 8 * (wq / 64));
                q & (1 << (wq % 64)) != 0
            })
            .collect()
    }

    fn enable_device(&self, s: &mut State) -> u8 {
        if self.dev_state(s) == DeviceRegState::Enabled {
            return 0x10;
        }
        if !s.bus_master {
            return 0x12;
        }
        let nwq = u32::from(self.cfg.num_wqs);
        let sum: u32 = (0..nwq)
            .map(|wq| self.wq_dw(s, wq, wqcfg::SIZE_DW) & 0xffff)
            .sum();
        if sum > u32::from(self.cfg.total_wq_size) {
            return 0x14;
        }
        if (0..nwq).any(|wq| self.group_of_wq(s, wq).len() > 1) {
            return 0x16;
        }
        let ng = u32::from(self.cfg.num_groups);
        let engines = u32::from(self.cfg.num_engines).min(64);
        for e in 0..engines {
            let n = (0..ng)
                .filter(|&g| self.grp_q(s, g, regs::GRPCFG_ENGINES) & (1 << e) != 0)
                .count();
            if n > 1 {
                return 0x17;
            }
        }
        let engine_mask = 1u64
            .checked_shl(engines)
            .map_or(u64::MAX, |b| b.wrapping_sub(1));
        let mut reserved = 0u64;
        for g in 0..ng {
            let engines = self.grp_q(s, g, regs::GRPCFG_ENGINES);
            let has_sized_wq = (0..nwq).any(|wq| {
                self.group_of_wq(s, wq).contains(&g)
                    && self.wq_dw(s, wq, wqcfg::SIZE_DW) & 0xffff > 0
            });
            if engines & !engine_mask != 0 {
                return 0x17;
            }
            if has_sized_wq && engines == 0 {
                return 0x15;
            }
            reserved += bits(self.grp_q(s, g, regs::GRPCFG_FLAGS), 15, 8);
        }
        if reserved > u64::from(self.cfg.read_buffers) {
            return 0x18;
        }
        self.set_dev_state(s, DeviceRegState::Enabled);
        0
    }

    fn enable_wq(&self, s: &mut State, wq: u32) -> u8 {
        if wq >= u32::from(self.cfg.num_wqs) {
            return 0x02;
        }
        if self.dev_state(s) != DeviceRegState::Enabled {
            return 0x20;
        }
        if self.wq_enabled(s, wq) {
            return 0x21;
        }
        let size = self.wq_dw(s, wq, wqcfg::SIZE_DW) & 0xffff;
        let dw2 = self.wq_dw(s, wq, wqcfg::MODE_DW);
        let dw3 = self.wq_dw(s, wq, wqcfg::XFER_DW);
        if size == 0 {
            return 0x22;
        }
        if (dw2 >> 4) & 0xf == 0 {
            return 0x23;
        }
        let dedicated = dw2 & wqcfg::MODE_DEDICATED != 0;
        let mode_ok = if dedicated {
            self.cfg.dedicated_supported
        } else {
            self.cfg.shared_supported && self.cfg.pasid_supported
        };
        if !mode_ok {
            return 0x24;
        }
        if dw2 & wqcfg::BLOCK_ON_FAULT != 0 && self.cfg.gencap & 1 == 0 {
            return 0x25;
        }
        if dw2 & wqcfg::PASID_ENABLE != 0 && !self.cfg.pasid_supported {
            return 0x26;
        }
        let max_batch = bits(self.cfg.gencap, 24, 21) as u32;
        let batch = (dw3 >> 5) & 0xf;
        if (self.cfg.kind == DeviceKind::Iaa && batch != 0) || batch > max_batch {
            return 0x27;
        }
        let max_xfer = bits(self.cfg.gencap, 20, 16) as u32;
        let xfer = dw3 & 0x1f;
        if xfer == 0 || xfer > max_xfer {
            return 0x28;
        }
        if self.group_of_wq(s, wq).len() != 1 {
            return 0x16;
        }
        self.set_wq_enabled(s, wq, true);
        0
    }

    // ----- test and model hooks -----

    /// Put the device in the halted state (as after a hardware error); reset type software.
    pub fn halt(&self) {
        let mut s = self.lock();
        self.set_dev_state(&mut s, DeviceRegState::Halted);
    }

    /// Queue an outcome for the next execution of `command`: a non-zero `code` makes it fail with
    /// that CMDSTS error without effect (e.g. 0x03, hardware error); 0 lets it run normally (so
    /// queueing `0, 0, 0x03` fails the third execution).
    pub fn inject_error(&self, command: Command, code: u8) {
        self.lock().injected.push((command, code));
    }

    /// Make CMDSTS stay active forever (a hung command engine), or end that.
    pub fn hang(&self, on: bool) {
        let mut s = self.lock();
        s.hung = on;
        if on {
            s.words[(regs::CMDSTS / 4) as usize] = CMDSTS_ACTIVE;
        }
    }

    /// Write a word bypassing the write rules, and make it the word's value after every
    /// RESET_DEVICE too (a device whose reset leaves reserved or foreign bits set), so tests
    /// can preset state that a bring-up (which always resets first) still finds.
    pub fn poke32_reset_default(&self, off: u32, v: u32) {
        self.poke32(off, v);
        let mut s = self.lock();
        s.reset_defaults.push(((off / 4) as usize, v));
    }

    /// Write a word bypassing the write rules (to preset reserved bits in tests).
    pub fn poke32(&self, off: u32, v: u32) {
        let mut s = self.lock();
        if let Some(w) = s.words.get_mut((off / 4) as usize) {
            *w = v;
        }
    }

    /// Every command executed so far.
    pub fn command_log(&self) -> Vec<CommandRecord> {
        self.lock().log.clone()
    }

    /// CMD writes dropped because a command was still active.
    pub fn ignored_cmd_writes(&self) -> u32 {
        self.lock().ignored_cmd_writes
    }

    /// Whether WQ `wq` is enabled.
    pub fn is_wq_enabled(&self, wq: u32) -> bool {
        wq < u32::from(self.cfg.num_wqs) && self.wq_enabled(&self.lock(), wq)
    }

    /// Device state (GENSTS).
    pub fn device_state(&self) -> DeviceRegState {
        self.dev_state(&self.lock())
    }

    /// Bus master enable as last written to the PCI command register.
    pub fn bus_master(&self) -> bool {
        self.lock().bus_master
    }

    /// Dword `dw` of WQ `wq`'s config (0 for an out-of-range WQ).
    pub fn wq_config_dword(&self, wq: u32, dw: u32) -> u32 {
        if wq >= u32::from(self.cfg.num_wqs) || dw >= self.cfg.wqcfg_stride() / 4 {
            return 0;
        }
        self.wq_dw(&self.lock(), wq, dw)
    }
}

#[derive(Debug, Clone, Copy)]
enum Region {
    ReadOnly,
    Rw,
    Swerr,
    Group,
    Wq { wq: u32, dw: u32 },
    Cmd,
}

impl Bar0 for Bar0Model {
    fn len(&self) -> u64 {
        u64::from(self.cfg.bar_len)
    }

    fn read32(&self, off: u32) -> u32 {
        if !off.is_multiple_of(4) || off >= self.cfg.bar_len {
            return u32::MAX;
        }
        let mut s = self.lock();
        if off == regs::CMDSTS && !s.hung && s.busy_left > 0 {
            s.busy_left -= 1;
            if s.busy_left == 0 {
                let st = s.pending_status;
                s.words[(regs::CMDSTS / 4) as usize] = st;
            }
            return CMDSTS_ACTIVE;
        }
        s.words[(off / 4) as usize]
    }

    fn write32(&self, off: u32, v: u32) {
        if !off.is_multiple_of(4) || off >= self.cfg.bar_len {
            return;
        }
        let mut s = self.lock();
        self.write_word(&mut s, off, v);
    }

    fn read64(&self, off: u32) -> u64 {
        if !off.is_multiple_of(8) || off.saturating_add(8) > self.cfg.bar_len {
            return u64::MAX;
        }
        let s = self.lock();
        let i = (off / 4) as usize;
        u64::from(s.words[i]) | (u64::from(s.words[i + 1]) << 32)
    }

    fn write64(&self, off: u32, v: u64) {
        if !off.is_multiple_of(8) || off.saturating_add(8) > self.cfg.bar_len {
            return;
        }
        let mut s = self.lock();
        self.write_word(&mut s, off, v as u32);
        self.write_word(&mut s, off + 4, (v >> 32) as u32);
    }
}

impl PciCommand for Bar0Model {
    fn read_command(&self) -> Result<u16, std::io::Error> {
        let s = self.lock();
        let mut v = 0;
        if s.command_memory {
            v |= regs::PCI_COMMAND_MEMORY;
        }
        if s.bus_master {
            v |= regs::PCI_COMMAND_MASTER;
        }
        Ok(v)
    }

    fn write_command(&self, v: u16) -> Result<(), std::io::Error> {
        let mut s = self.lock();
        s.command_memory = v & regs::PCI_COMMAND_MEMORY != 0;
        s.bus_master = v & regs::PCI_COMMAND_MASTER != 0;
        Ok(())
    }
}
