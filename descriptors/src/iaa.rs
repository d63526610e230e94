//! The IAA descriptor and completion record (spec §2.1, §3.1; `struct iax_hw_desc`,
//! `struct iax_completion_record`).

use bytemuck::{Pod, Zeroable};

use crate::status::StatusByte;

/// A 64-byte IAA descriptor, laid out exactly as `struct iax_hw_desc`, 64-byte aligned so it can
/// be the source of MOVDIR64B/ENQCMD without a copy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
#[repr(C, align(64))]
pub struct IaaDescriptor {
    /// Bits 19:0 PASID, 30:20 reserved, 31 privileged.
    pub pasid_priv: u32,
    /// Bits 23:0 operation flags, 31:24 opcode.
    pub flags_opcode: u32,
    /// Completion record address (64-byte aligned).
    pub completion_addr: u64,
    /// Source 1 address.
    pub src1_addr: u64,
    /// Destination address.
    pub dst_addr: u64,
    /// Source 1 size in bytes.
    pub src1_size: u32,
    /// Completion interrupt handle (only with RCI).
    pub int_handle: u16,
    /// Compression, decompression or CRC64 flags, depending on the opcode.
    pub op_flags16: u16,
    /// Source 2 address (AECS or second input).
    pub src2_addr: u64,
    /// Destination capacity in bytes.
    pub max_dst_size: u32,
    /// Source 2 size in bytes.
    pub src2_size: u32,
    /// Filter flags, or compression-2 flags, or the low half of the CRC64 polynomial.
    pub filter_flags: u32,
    /// Number of input elements, or the high half of the CRC64 polynomial.
    pub num_inputs: u32,
}

const _: () = assert!(core::mem::size_of::<IaaDescriptor>() == 64);
const _: () = assert!(core::mem::align_of::<IaaDescriptor>() == 64);

/// Shared accessors of the 8-byte header common to IAA and DSA descriptors.
macro_rules! header_accessors {
    ($t:ty) => {
        impl $t {
            /// The opcode byte.
            pub const fn opcode(&self) -> u8 {
                (self.flags_opcode >> 24) as u8
            }
            /// The 24-bit operation flags.
            pub const fn op_flags(&self) -> $crate::flags::OpFlags {
                $crate::flags::OpFlags(self.flags_opcode & $crate::flags::OpFlags::FIELD_MASK)
            }
            /// Set opcode and operation flags (flags are truncated to 24 bits).
            pub fn set_opcode_flags(&mut self, opcode: u8, flags: $crate::flags::OpFlags) {
                self.flags_opcode =
                    ((opcode as u32) << 24) | (flags.0 & $crate::flags::OpFlags::FIELD_MASK);
            }
            /// The PASID (bits 19:0).
            pub const fn pasid(&self) -> u32 {
                self.pasid_priv & 0x000F_FFFF
            }
            /// The privilege bit.
            pub const fn privileged(&self) -> bool {
                self.pasid_priv >> 31 != 0
            }
            /// Reserved bits 30:20 of the first dword.
            pub const fn header_reserved(&self) -> u32 {
                (self.pasid_priv >> 20) & 0x7FF
            }
            /// The descriptor as 64 bytes.
            pub fn as_bytes(&self) -> &[u8; 64] {
                bytemuck::cast_ref(self)
            }
            /// A descriptor from 64 bytes.
            pub fn from_bytes(b: &[u8; 64]) -> Self {
                bytemuck::pod_read_unaligned(b)
            }
        }
    };
}
pub(crate) use header_accessors;

header_accessors!(IaaDescriptor);

impl IaaDescriptor {
    /// The CRC64 polynomial (bytes 56-63) of a CRC64 descriptor.
    pub const fn crc64_poly(&self) -> u64 {
        (self.filter_flags as u64) | ((self.num_inputs as u64) << 32)
    }
    /// Set the CRC64 polynomial (bytes 56-63).
    pub fn set_crc64_poly(&mut self, poly: u64) {
        self.filter_flags = poly as u32;
        self.num_inputs = (poly >> 32) as u32;
    }
}

/// A 64-byte IAA completion record, laid out exactly as `struct iax_completion_record`.
///
/// The device writes the status byte last; read it with a volatile/atomic load before the other
/// fields (the `wq` crate does this).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
#[repr(C, align(64))]
pub struct IaaCompletionRecord {
    /// Status byte: code in bits 6:0, write-fault flag in bit 7; 0 = not complete.
    pub status: u8,
    /// Analytics error code when the status is 0x0A.
    pub error_code: u8,
    /// Reserved (QPL: fault info in byte 2).
    pub rsvd: u16,
    /// Input bytes consumed.
    pub bytes_completed: u32,
    /// Faulting address for page-fault statuses.
    pub fault_addr: u64,
    /// Offending flag bits for invalid-flags statuses.
    pub invalid_flags: u32,
    /// Reserved.
    pub rsvd2: u32,
    /// Bytes written to the destination.
    pub output_size: u32,
    /// Valid bits in the last output byte.
    pub output_bits: u8,
    /// Reserved.
    pub rsvd3: u8,
    /// XOR checksum of the uncompressed data.
    pub xor_csum: u16,
    /// CRC-32 (or CRC-32C) of the uncompressed data.
    pub crc: u32,
    /// Analytics min / first.
    pub min: u32,
    /// Analytics max / last; CRC64 low half.
    pub max: u32,
    /// Analytics sum; CRC64 high half.
    pub sum: u32,
    /// Reserved.
    pub rsvd4: [u64; 2],
}

const _: () = assert!(core::mem::size_of::<IaaCompletionRecord>() == 64);
const _: () = assert!(core::mem::align_of::<IaaCompletionRecord>() == 64);

impl IaaCompletionRecord {
    /// The status byte decoded.
    pub const fn status_byte(&self) -> StatusByte {
        StatusByte(self.status)
    }
    /// The CRC64 result (bytes 40-47).
    pub const fn crc64(&self) -> u64 {
        (self.max as u64) | ((self.sum as u64) << 32)
    }
    /// Store a CRC64 result (bytes 40-47).
    pub fn set_crc64(&mut self, v: u64) {
        self.max = v as u32;
        self.sum = (v >> 32) as u32;
    }
    /// The record as 64 bytes.
    pub fn as_bytes(&self) -> &[u8; 64] {
        bytemuck::cast_ref(self)
    }
}

/// Kept for readers who search for the kernel's name.
pub type IaxHwDesc = IaaDescriptor;
/// Kept for readers who search for the kernel's name.
pub type IaxCompletionRecord = IaaCompletionRecord;
