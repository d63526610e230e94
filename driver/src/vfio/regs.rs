//! BAR0 register map of IAA/DSA (spec §8.1), command codes and CMDSTS error codes (spec §8.2).
//!
//! Offsets and bit positions agree with the kernel's `drivers/dma/idxd/registers.h`, SPDK's
//! `idxd_spec.h` and DPDK; the code here is written from the spec tables, not copied.

use serde::Serialize;
use std::fmt;

/// VERSION (32-bit): 0x100 = 1.0, 0x200 = 2.0.
pub const VERSION: u32 = 0x00;
/// GENCAP (64-bit).
pub const GENCAP: u32 = 0x10;
/// IAACAP (64-bit, IAA 2.0 only: Linux reads it when VERSION >= 0x200;
/// `iaa_descriptors::IaaCap` names its bits, bit 8 = header generation).
pub const IAACAP: u32 = 0x180;
/// WQCAP (64-bit).
pub const WQCAP: u32 = 0x20;
/// GRPCAP (64-bit).
pub const GRPCAP: u32 = 0x30;
/// ENGCAP (64-bit).
pub const ENGCAP: u32 = 0x38;
/// OPCAP (256-bit, four 64-bit words).
pub const OPCAP: u32 = 0x40;
/// TABLE OFFSETS (128-bit): 16-bit fields in units of 0x100 bytes.
pub const TABLE_OFFSETS: u32 = 0x60;
/// GENCFG (32-bit).
pub const GENCFG: u32 = 0x80;
/// GENCTRL (32-bit).
pub const GENCTRL: u32 = 0x88;
/// GENSTS (32-bit).
pub const GENSTS: u32 = 0x90;
/// INTCAUSE (32-bit).
pub const INTCAUSE: u32 = 0x98;
/// CMD (32-bit).
pub const CMD: u32 = 0xA0;
/// CMDSTS (32-bit).
pub const CMDSTS: u32 = 0xA8;
/// CMDCAP (32-bit; present when GENCAP bit 4 is set).
pub const CMDCAP: u32 = 0xB0;
/// SWERR (256-bit).
pub const SWERR: u32 = 0xC0;

/// Unit of the TABLE OFFSETS fields.
pub const TABLE_OFFSET_UNIT: u32 = 0x100;
/// Bytes per group in the group configuration table.
pub const GRPCFG_STRIDE: u32 = 64;
/// Offset of GRPENGCFG inside a group entry.
pub const GRPCFG_ENGINES: u32 = 32;
/// Offset of GRPFLAGS inside a group entry.
pub const GRPCFG_FLAGS: u32 = 40;

/// CMDSTS bit 31: a command is running.
pub const CMDSTS_ACTIVE: u32 = 1 << 31;
/// CMD bit 31: request a completion interrupt (not used: this driver polls).
pub const CMD_REQUEST_INTERRUPT: u32 = 1 << 31;
/// PCI configuration space: command register offset.
pub const PCI_COMMAND: u64 = 0x04;
/// PCI command register: memory space enable.
pub const PCI_COMMAND_MEMORY: u16 = 1 << 1;
/// PCI command register: bus master enable.
pub const PCI_COMMAND_MASTER: u16 = 1 << 2;

/// BAR2 bytes per WQ (four 4 KiB portal pages, spec §6.2).
pub const PORTAL_STRIDE: u64 = 0x4000;

/// Bit field `hi:lo` of `v`.
pub fn bits(v: u64, hi: u32, lo: u32) -> u64 {
    let width = hi - lo + 1;
    let mask = if width >= 64 {
        u64::MAX
    } else {
        (1u64 << width) - 1
    };
    (v >> lo) & mask
}

/// `v` with bit field `hi:lo` replaced by `field` (truncated to the field width).
pub fn set_bits(v: u32, hi: u32, lo: u32, field: u32) -> u32 {
    let width = hi - lo + 1;
    let mask = if width >= 32 {
        u32::MAX
    } else {
        ((1u32 << width) - 1) << lo
    };
    (v & !mask) | ((field << lo) & mask)
}

/// Device state in GENSTS bits 1:0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceRegState {
    /// 0
    Disabled,
    /// 1
    Enabled,
    /// 2
    Draining,
    /// 3
    Halted,
}

impl DeviceRegState {
    /// Decode GENSTS.
    pub fn from_gensts(gensts: u32) -> Self {
        match gensts & 3 {
            0 => DeviceRegState::Disabled,
            1 => DeviceRegState::Enabled,
            2 => DeviceRegState::Draining,
            _ => DeviceRegState::Halted,
        }
    }

    /// Encode into GENSTS bits 1:0.
    pub fn bits(self) -> u32 {
        match self {
            DeviceRegState::Disabled => 0,
            DeviceRegState::Enabled => 1,
            DeviceRegState::Draining => 2,
            DeviceRegState::Halted => 3,
        }
    }
}

/// Commands written to CMD bits 24:20 (spec §8.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Command {
    /// 1
    EnableDevice,
    /// 2
    DisableDevice,
    /// 3
    DrainAll,
    /// 4
    AbortAll,
    /// 5
    ResetDevice,
    /// 6 (operand = WQ index)
    EnableWq,
    /// 7 (operand = WQ bitmap in a block of 16, block number in bits 19:16)
    DisableWq,
    /// 8 (operand as DisableWq)
    DrainWq,
    /// 9 (operand as DisableWq)
    AbortWq,
    /// 10 (operand as DisableWq)
    ResetWq,
    /// 11 (operand = PASID)
    DrainPasid,
    /// 12 (operand = PASID)
    AbortPasid,
    /// 13
    RequestIntHandle,
    /// 14
    ReleaseIntHandle,
}

impl Command {
    /// The 5-bit command code.
    pub fn code(self) -> u32 {
        match self {
            Command::EnableDevice => 1,
            Command::DisableDevice => 2,
            Command::DrainAll => 3,
            Command::AbortAll => 4,
            Command::ResetDevice => 5,
            Command::EnableWq => 6,
            Command::DisableWq => 7,
            Command::DrainWq => 8,
            Command::AbortWq => 9,
            Command::ResetWq => 10,
            Command::DrainPasid => 11,
            Command::AbortPasid => 12,
            Command::RequestIntHandle => 13,
            Command::ReleaseIntHandle => 14,
        }
    }

    /// Decode a 5-bit command code.
    pub fn from_code(code: u32) -> Option<Self> {
        Some(match code {
            1 => Command::EnableDevice,
            2 => Command::DisableDevice,
            3 => Command::DrainAll,
            4 => Command::AbortAll,
            5 => Command::ResetDevice,
            6 => Command::EnableWq,
            7 => Command::DisableWq,
            8 => Command::DrainWq,
            9 => Command::AbortWq,
            10 => Command::ResetWq,
            11 => Command::DrainPasid,
            12 => Command::AbortPasid,
            13 => Command::RequestIntHandle,
            14 => Command::ReleaseIntHandle,
            _ => return None,
        })
    }

    /// The CMD register value for this command with `operand` (20 bits), no interrupt.
    pub fn encode(self, operand: u32) -> u32 {
        ((self.code() & 0x1f) << 20) | (operand & 0xF_FFFF)
    }

    /// Operand of the WQ-bitmap commands (disable/drain/abort/reset WQ) for one WQ.
    pub fn wq_bitmap_operand(wq: u32) -> u32 {
        ((wq / 16) << 16) | (1 << (wq % 16))
    }
}

/// The error byte of CMDSTS (bits 7:0), decoded (spec §8.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CmdError {
    /// 0x01
    InvalidCommand,
    /// 0x02
    InvalidWqIndex,
    /// 0x03
    HardwareError,
    /// 0x10
    DeviceAlreadyEnabled,
    /// 0x11
    ConfigError,
    /// 0x12
    BusMasterDisabled,
    /// 0x13
    PasidPrsUnsupported,
    /// 0x14
    WqSizeSumOutOfRange,
    /// 0x15: a group has WQs but no engine, or engines but no WQ.
    GroupConfig,
    /// 0x16: a WQ is misconfigured for its group (e.g. in no group or in two).
    GroupWqConfig,
    /// 0x17: an engine is misconfigured (e.g. in two groups).
    GroupEngineConfig,
    /// 0x18: read-buffer configuration.
    GroupReadBuffers,
    /// 0x20
    DeviceNotEnabled,
    /// 0x21
    WqAlreadyEnabled,
    /// 0x22
    WqSizeZero,
    /// 0x23
    WqPriorityZero,
    /// 0x24
    WqModeInvalid,
    /// 0x25
    BlockOnFaultInvalid,
    /// 0x26
    PasidEnableInvalid,
    /// 0x27
    MaxBatchInvalid,
    /// 0x28
    MaxTransferInvalid,
    /// 0x2A
    PasidPrivDisabled,
    /// 0x2B
    OccupancyInterruptInvalid,
    /// 0x2C
    AtsMismatch,
    /// 0x31
    DisableDeviceNotEnabled,
    /// 0x32
    WqNotEnabled,
    /// 0x41
    InvalidInterruptIndex,
    /// 0x42
    NoInterruptHandle,
    /// A code not in the table.
    Unknown(u8),
}

impl CmdError {
    /// Decode the CMDSTS error byte; `None` for 0 (success).
    pub fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            0 => return None,
            0x01 => CmdError::InvalidCommand,
            0x02 => CmdError::InvalidWqIndex,
            0x03 => CmdError::HardwareError,
            0x10 => CmdError::DeviceAlreadyEnabled,
            0x11 => CmdError::ConfigError,
            0x12 => CmdError::BusMasterDisabled,
            0x13 => CmdError::PasidPrsUnsupported,
            0x14 => CmdError::WqSizeSumOutOfRange,
            0x15 => CmdError::GroupConfig,
            0x16 => CmdError::GroupWqConfig,
            0x17 => CmdError::GroupEngineConfig,
            0x18 => CmdError::GroupReadBuffers,
            0x20 => CmdError::DeviceNotEnabled,
            0x21 => CmdError::WqAlreadyEnabled,
            0x22 => CmdError::WqSizeZero,
            0x23 => CmdError::WqPriorityZero,
            0x24 => CmdError::WqModeInvalid,
            0x25 => CmdError::BlockOnFaultInvalid,
            0x26 => CmdError::PasidEnableInvalid,
            0x27 => CmdError::MaxBatchInvalid,
            0x28 => CmdError::MaxTransferInvalid,
            0x2A => CmdError::PasidPrivDisabled,
            0x2B => CmdError::OccupancyInterruptInvalid,
            0x2C => CmdError::AtsMismatch,
            0x31 => CmdError::DisableDeviceNotEnabled,
            0x32 => CmdError::WqNotEnabled,
            0x41 => CmdError::InvalidInterruptIndex,
            0x42 => CmdError::NoInterruptHandle,
            c => CmdError::Unknown(c),
        })
    }

    /// The error byte.
    pub fn code(self) -> u8 {
        match self {
            CmdError::InvalidCommand => 0x01,
            CmdError::InvalidWqIndex => 0x02,
            CmdError::HardwareError => 0x03,
            CmdError::DeviceAlreadyEnabled => 0x10,
            CmdError::ConfigError => 0x11,
            CmdError::BusMasterDisabled => 0x12,
            CmdError::PasidPrsUnsupported => 0x13,
            CmdError::WqSizeSumOutOfRange => 0x14,
            CmdError::GroupConfig => 0x15,
            CmdError::GroupWqConfig => 0x16,
            CmdError::GroupEngineConfig => 0x17,
            CmdError::GroupReadBuffers => 0x18,
            CmdError::DeviceNotEnabled => 0x20,
            CmdError::WqAlreadyEnabled => 0x21,
            CmdError::WqSizeZero => 0x22,
            CmdError::WqPriorityZero => 0x23,
            CmdError::WqModeInvalid => 0x24,
            CmdError::BlockOnFaultInvalid => 0x25,
            CmdError::PasidEnableInvalid => 0x26,
            CmdError::MaxBatchInvalid => 0x27,
            CmdError::MaxTransferInvalid => 0x28,
            CmdError::PasidPrivDisabled => 0x2A,
            CmdError::OccupancyInterruptInvalid => 0x2B,
            CmdError::AtsMismatch => 0x2C,
            CmdError::DisableDeviceNotEnabled => 0x31,
            CmdError::WqNotEnabled => 0x32,
            CmdError::InvalidInterruptIndex => 0x41,
            CmdError::NoInterruptHandle => 0x42,
            CmdError::Unknown(c) => c,
        }
    }
}

impl fmt::Display for CmdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            CmdError::InvalidCommand => "invalid command",
            CmdError::InvalidWqIndex => "invalid WQ index",
            CmdError::HardwareError => "hardware error",
            CmdError::DeviceAlreadyEnabled => "device already enabled",
            CmdError::ConfigError => "unspecified configuration error",
            CmdError::BusMasterDisabled => {
                "PCI bus master enable is 0 (set it in the PCI command register)"
            }
            CmdError::PasidPrsUnsupported => "PASID or PRS allocation value unsupported",
            CmdError::WqSizeSumOutOfRange => "sum of WQ sizes is larger than WQCAP total WQ size",
            CmdError::GroupConfig => "invalid group configuration: a group has no WQ or no engine",
            CmdError::GroupWqConfig => "invalid group configuration: WQ misconfigured",
            CmdError::GroupEngineConfig => "invalid group configuration: engine misconfigured",
            CmdError::GroupReadBuffers => "invalid group configuration: read buffers",
            CmdError::DeviceNotEnabled => "device not enabled",
            CmdError::WqAlreadyEnabled => "WQ already enabled",
            CmdError::WqSizeZero => "WQ size is 0",
            CmdError::WqPriorityZero => "WQ priority is 0 (must be 1-15)",
            CmdError::WqModeInvalid => "invalid WQ mode",
            CmdError::BlockOnFaultInvalid => "invalid block-on-fault setting",
            CmdError::PasidEnableInvalid => "invalid PASID enable",
            CmdError::MaxBatchInvalid => "invalid max batch size",
            CmdError::MaxTransferInvalid => "invalid max transfer size",
            CmdError::PasidPrivDisabled => "PCIe PASID privilege disabled",
            CmdError::OccupancyInterruptInvalid => "invalid occupancy interrupt",
            CmdError::AtsMismatch => "ATS setting mismatch",
            CmdError::DisableDeviceNotEnabled => "device not enabled (disable)",
            CmdError::WqNotEnabled => "WQ not enabled",
            CmdError::InvalidInterruptIndex => "invalid interrupt index",
            CmdError::NoInterruptHandle => "no interrupt handle available",
            CmdError::Unknown(c) => return write!(f, "unknown CMDSTS error 0x{c:02x}"),
        };
        write!(f, "{text} (CMDSTS error 0x{:02x})", self.code())
    }
}

/// WQCFG dword indices and fields (spec §6.3).
pub mod wqcfg {
    /// Dword 0: bits 15:0 size.
    pub const SIZE_DW: u32 = 0;
    /// Dword 1: bits 15:0 threshold.
    pub const THRESHOLD_DW: u32 = 1;
    /// Dword 2: mode (bit 0), block on fault (1), priority (7:4), PASID (27:8), PASID enable (28).
    pub const MODE_DW: u32 = 2;
    /// Dword 3: max transfer shift (4:0), max batch shift (8:5).
    pub const XFER_DW: u32 = 3;
    /// Dword 6: occupancy (15:0), state (31:30).
    pub const STATE_DW: u32 = 6;
    /// Dwords 8-15: operation config, one bit per opcode (2.0 devices, WQCAP bit 54).
    pub const OP_CONFIG_DW: u32 = 8;
    /// Dword 2 bit 0: 1 = dedicated.
    pub const MODE_DEDICATED: u32 = 1 << 0;
    /// Dword 2 bit 1.
    pub const BLOCK_ON_FAULT: u32 = 1 << 1;
    /// Dword 2 bit 28.
    pub const PASID_ENABLE: u32 = 1 << 28;
    /// WQ state field value "enabled" (dword 6 bits 31:30).
    pub const STATE_ENABLED: u32 = 1;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_encoding() {
        assert_eq!(Command::EnableDevice.encode(0), 0x0010_0000);
        assert_eq!(Command::EnableWq.encode(3), 0x0060_0003);
        assert_eq!(Command::wq_bitmap_operand(0), 1);
        assert_eq!(Command::wq_bitmap_operand(17), (1 << 16) | 2);
        for c in 1..=14 {
            assert_eq!(Command::from_code(c).unwrap().code(), c);
        }
        assert_eq!(Command::from_code(0), None);
        assert_eq!(Command::from_code(15), None);
    }

    #[test]
    fn error_codes_round_trip() {
        assert_eq!(CmdError::from_code(0), None);
        for c in 1..=255u8 {
            let e = CmdError::from_code(c).unwrap();
            assert_eq!(e.code(), c);
            assert!(!e.to_string().is_empty());
        }
        assert_eq!(CmdError::from_code(0x23), Some(CmdError::WqPriorityZero));
        assert!(CmdError::BusMasterDisabled.to_string().contains("0x12"));
    }

    #[test]
    fn bit_helpers() {
        assert_eq!(bits(0x0007_1f10_901f_0105, 20, 16), 0x1f);
        assert_eq!(bits(u64::MAX, 63, 0), u64::MAX);
        assert_eq!(set_bits(0xffff_ffff, 7, 4, 0x3), 0xffff_ff3f);
        assert_eq!(set_bits(0, 15, 0, 0x1_0080), 0x80);
    }
}
