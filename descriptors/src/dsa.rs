//! The DSA descriptor and completion record (spec §5; `struct dsa_hw_desc`,
//! `struct dsa_completion_record`).

use bytemuck::{Pod, Zeroable};

use crate::iaa::header_accessors;
use crate::status::StatusByte;

/// A 64-byte DSA descriptor, laid out exactly as `struct dsa_hw_desc`. The kernel's unions are
/// flattened: `addr1` is `src_addr`/`pattern`/`desc_list_addr`/`rdback_addr`, `addr2` is
/// `dst_addr`/`src2_addr`/`comp_pattern`/`rdback_addr2`, and the 24 op-specific bytes at offset 40
/// have typed accessors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
#[repr(C, align(64))]
pub struct DsaDescriptor {
    /// Bits 19:0 PASID, 30:20 reserved, 31 privileged.
    pub pasid_priv: u32,
    /// Bits 23:0 operation flags, 31:24 opcode.
    pub flags_opcode: u32,
    /// Completion record address (32-byte aligned).
    pub completion_addr: u64,
    /// Source / pattern / descriptor list / readback address 1.
    pub addr1: u64,
    /// Destination / source 2 / compare pattern / readback address 2.
    pub addr2: u64,
    /// Transfer size, or descriptor count for BATCH.
    pub size: u32,
    /// Completion interrupt handle.
    pub int_handle: u16,
    /// Reserved.
    pub rsvd1: u16,
    /// Operation-specific bytes 40..64.
    pub op_specific: [u8; 24],
}

const _: () = assert!(core::mem::size_of::<DsaDescriptor>() == 64);
const _: () = assert!(core::mem::align_of::<DsaDescriptor>() == 64);

header_accessors!(DsaDescriptor);

fn get<const N: usize>(b: &[u8], at: usize) -> [u8; N] {
    let mut o = [0u8; N];
    o.copy_from_slice(&b[at..at + N]);
    o
}

impl DsaDescriptor {
    /// Expected result of a compare (byte 40).
    pub const fn expected_res(&self) -> u8 {
        self.op_specific[0]
    }
    /// Set the expected result of a compare (byte 40).
    pub fn set_expected_res(&mut self, v: u8) {
        self.op_specific[0] = v;
    }
    /// Second destination of a dualcast (bytes 40-47).
    pub fn dest2(&self) -> u64 {
        u64::from_le_bytes(get(&self.op_specific, 0))
    }
    /// Set the second destination of a dualcast.
    pub fn set_dest2(&mut self, v: u64) {
        self.op_specific[0..8].copy_from_slice(&v.to_le_bytes());
    }
    /// CRC seed (bytes 40-43).
    pub fn crc_seed(&self) -> u32 {
        u32::from_le_bytes(get(&self.op_specific, 0))
    }
    /// Set the CRC seed.
    pub fn set_crc_seed(&mut self, v: u32) {
        self.op_specific[0..4].copy_from_slice(&v.to_le_bytes());
    }
    /// CRC seed address (bytes 48-55).
    pub fn seed_addr(&self) -> u64 {
        u64::from_le_bytes(get(&self.op_specific, 8))
    }
    /// Set the CRC seed address.
    pub fn set_seed_addr(&mut self, v: u64) {
        self.op_specific[8..16].copy_from_slice(&v.to_le_bytes());
    }
    /// Delta record address (bytes 40-47).
    pub fn delta_addr(&self) -> u64 {
        u64::from_le_bytes(get(&self.op_specific, 0))
    }
    /// Maximum delta record size (bytes 48-51).
    pub fn max_delta_size(&self) -> u32 {
        u32::from_le_bytes(get(&self.op_specific, 8))
    }
    /// Expected-result mask of create-delta (byte 56).
    pub const fn expected_res_mask(&self) -> u8 {
        self.op_specific[16]
    }
    /// Delta record size of apply-delta (bytes 40-43).
    pub fn delta_rec_size(&self) -> u32 {
        u32::from_le_bytes(get(&self.op_specific, 0))
    }
}

/// A 32-byte DSA completion record, laid out exactly as `struct dsa_completion_record`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
#[repr(C, align(32))]
pub struct DsaCompletionRecord {
    /// Status byte: code in bits 6:0, write-fault flag in bit 7; 0 = not complete.
    pub status: u8,
    /// Compare/DIF result; for memmove page faults the copy direction.
    pub result: u8,
    /// Reserved.
    pub rsvd: u16,
    /// Bytes completed (descriptors completed for BATCH).
    pub bytes_completed: u32,
    /// Faulting address.
    pub fault_addr: u64,
    /// Operation-specific bytes 16..32: invalid flags (24 bits), CRC value, delta record size.
    pub op_specific: [u8; 16],
}

const _: () = assert!(core::mem::size_of::<DsaCompletionRecord>() == 32);
const _: () = assert!(core::mem::align_of::<DsaCompletionRecord>() == 32);

impl DsaCompletionRecord {
    /// The status byte decoded.
    pub const fn status_byte(&self) -> StatusByte {
        StatusByte(self.status)
    }
    /// Offending flags (bits 23:0 of bytes 16-19).
    pub fn invalid_flags(&self) -> u32 {
        u32::from_le_bytes(get(&self.op_specific, 0)) & 0x00FF_FFFF
    }
    /// Set the offending flags.
    pub fn set_invalid_flags(&mut self, v: u32) {
        let keep = self.op_specific[3];
        self.op_specific[0..4].copy_from_slice(&(v & 0x00FF_FFFF).to_le_bytes());
        self.op_specific[3] = keep;
    }
    /// CRC value (bytes 16-23).
    pub fn crc_val(&self) -> u64 {
        u64::from_le_bytes(get(&self.op_specific, 0))
    }
    /// Set the CRC value.
    pub fn set_crc_val(&mut self, v: u64) {
        self.op_specific[0..8].copy_from_slice(&v.to_le_bytes());
    }
    /// Delta record size (bytes 16-19).
    pub fn delta_rec_size(&self) -> u32 {
        u32::from_le_bytes(get(&self.op_specific, 0))
    }
    /// The record as 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        bytemuck::cast_ref(self)
    }
}
