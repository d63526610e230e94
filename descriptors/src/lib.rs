//! Hardware layouts of Intel IAA (In-Memory Analytics Accelerator) and DSA (Data Streaming
//! Accelerator) work descriptors, completion records and AECS, with one builder per operation.
//!
//! Pure data: no I/O and no `unsafe` (the plain-old-data guarantees come from `bytemuck`
//! derives). Every layout agrees byte for byte with the kernel's UAPI header `linux/idxd.h`,
//! which the `iaa-tests` crate proves by compiling that header and comparing sizes, field
//! positions, constants and whole descriptors.
//!
//! ```
//! use iaa_descriptors::{CompressAecs, IaaCompress};
//! let aecs = CompressAecs::fixed();
//! let desc = IaaCompress::new(0x1000, 4096, 0x3000, 4096, 0x5000, 0x6000).build();
//! assert_eq!(desc.flags_opcode, 0x4301_010C); // what Linux iaa_crypto submits
//! assert_eq!(desc.op_flags16, 0x0006);
//! assert_eq!(aecs.num_output_accum_bits, 3);
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod aecs;
pub mod builder;
pub mod dsa;
pub mod flags;
pub mod huffman;
pub mod iaa;
pub mod opcode;
pub mod status;

pub use aecs::{
    CompressAecs, DecompressAecs, HuffEntry, COMPRESS_AECS_SIZE, DECOMPRESS_AECS_SIZE, D_SYMBOLS,
    HISTOGRAM_BYTES, LL_SYMBOLS,
};
pub use builder::{
    DsaBatch, DsaCompare, DsaCrc, DsaDrain, DsaDualcast, DsaFill, DsaMemmove, DsaNoop, IaaCompress,
    IaaCompressStats, IaaCrc64, IaaDecompress, IaaDrain, IaaMemmove, IaaNoop,
};
pub use dsa::{DsaCompletionRecord, DsaDescriptor};
pub use flags::{
    CompressionFlags, Crc64Flags, DecompressionFlags, EndProcessing, EobRule, HeaderGen, IaaCap,
    OpFlags,
};
pub use huffman::{Coverage, DeviceCode, Histogram};
pub use iaa::{IaaCompletionRecord, IaaDescriptor};
pub use opcode::{DsaOpcode, IaaOpcode, OpCap};
pub use status::{
    iaa_class, AnalyticsError, DsaStatus, IaaStatus, ScmdStatus, StatusByte, StatusClass,
};

/// Errors of this crate (building tables; descriptors themselves cannot fail to build).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DescriptorError {
    /// The code lengths do not form a valid prefix code.
    #[error("invalid Huffman code lengths: {0}")]
    InvalidCodeLengths(&'static str),
    /// A dynamic-block header does not fit the 256-byte output accumulator.
    #[error("dynamic block header of {bits} bits does not fit the 2048-bit output accumulator")]
    HeaderTooLong {
        /// Bits needed so far.
        bits: usize,
    },
    /// A statistics output shorter than the 1280-byte histogram.
    #[error("statistics output of {0} bytes, the histogram takes 1280")]
    ShortHistogram(usize),
}
