//! Completion records turned into typed outcomes, for the model's fault tests to match on
//! (the driver itself classifies with `iaa_descriptors::iaa_class`).
#![allow(dead_code)]

use iaa_descriptors::{
    AnalyticsError, DsaCompletionRecord, DsaStatus, IaaCompletionRecord, IaaStatus, StatusByte,
};

/// What an IAA completion means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IaaOutcome {
    /// Success (status 0x01).
    Success {
        /// Bytes written to the destination.
        output_size: u32,
        /// Valid bits in the last output byte.
        output_bits: u8,
        /// Input bytes consumed.
        bytes_completed: u32,
        /// CRC-32 / CRC-32C of the uncompressed data.
        crc: u32,
        /// XOR checksum of the uncompressed data.
        xor_checksum: u16,
    },
    /// Page fault with block-on-fault off (0x03 / 0x83): touch the page at `addr` (read, or
    /// read-and-write-back when `write`) and resubmit the whole descriptor; no partial output.
    PageFault {
        /// The faulting address.
        addr: u64,
        /// The fault was on a write.
        write: bool,
    },
    /// Decompress output buffer full (0x0B): retry with a larger destination.
    OutputOverflow {
        /// Bytes written.
        output_size: u32,
        /// Input bytes consumed.
        bytes_completed: u32,
    },
    /// Compressed output does not fit (0x0A / error 0x19): store the unit raw or use software.
    CompressOverflow,
    /// The input is not valid for the device (0x0A with an analytics error): software may still
    /// handle it (e.g. error 17, a back-reference beyond the 4 KiB history).
    BadInput {
        /// Analytics error code (byte 1).
        error_code: u8,
        /// Decoded, if defined.
        error: Option<AnalyticsError>,
    },
    /// The descriptor was malformed: a driver bug (0x10, 0x11, 0x12, 0x13, 0x16, 0x1B, 0x1C,
    /// 0x30...). Never resubmitted as is.
    BadDescriptor {
        /// The status code.
        status: u8,
        /// Offending operation flags (for 0x11).
        invalid_flags: u32,
    },
    /// The device failed (0x04, 0x20, 0x24, undefined codes...): software fallback.
    DeviceFault {
        /// The status code.
        status: u8,
    },
}

/// Classify an IAA completion record (status byte must be non-zero).
pub fn iaa_outcome(rec: &IaaCompletionRecord) -> IaaOutcome {
    let sb = StatusByte(rec.status);
    match sb.iaa() {
        Some(IaaStatus::Success) => IaaOutcome::Success {
            output_size: rec.output_size,
            output_bits: rec.output_bits,
            bytes_completed: rec.bytes_completed,
            crc: rec.crc,
            xor_checksum: rec.xor_csum,
        },
        Some(IaaStatus::PageFaultNoBof) => IaaOutcome::PageFault {
            addr: rec.fault_addr,
            write: sb.write_fault(),
        },
        Some(IaaStatus::OutbufOverflow) => IaaOutcome::OutputOverflow {
            output_size: rec.output_size,
            bytes_completed: rec.bytes_completed,
        },
        Some(IaaStatus::AnalyticsError) => {
            let error = AnalyticsError::from_code(rec.error_code);
            match error {
                Some(AnalyticsError::UnrecoverableOutputOverflow) => IaaOutcome::CompressOverflow,
                Some(e) if e.class() == iaa_descriptors::StatusClass::DeviceFault => {
                    IaaOutcome::DeviceFault { status: sb.code() }
                }
                _ => IaaOutcome::BadInput {
                    error_code: rec.error_code,
                    error,
                },
            }
        }
        Some(s) if s.class() == iaa_descriptors::StatusClass::BadDescriptor => {
            IaaOutcome::BadDescriptor {
                status: sb.code(),
                invalid_flags: rec.invalid_flags,
            }
        }
        _ => IaaOutcome::DeviceFault { status: sb.code() },
    }
}

/// What a DSA completion means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DsaOutcome {
    /// Success (0x01), or success with a false predicate (0x02, `predicate_false`).
    Success {
        /// Compare result byte.
        result: u8,
        /// Bytes completed (first difference of a compare; descriptors of a batch).
        bytes_completed: u32,
        /// CRC value (CRC operations).
        crc: u64,
        /// Status 0x02.
        predicate_false: bool,
    },
    /// Page fault with block-on-fault off (0x03/0x83): `bytes_completed` were done; resume
    /// from there after touching `addr`.
    PageFault {
        /// The faulting address.
        addr: u64,
        /// The fault was on a write.
        write: bool,
        /// Bytes done before the fault.
        bytes_completed: u32,
    },
    /// A batch with at least one failed descriptor (0x05): look at the individual records.
    BatchFailed {
        /// Descriptors processed.
        completed: u32,
    },
    /// Malformed descriptor.
    BadDescriptor {
        /// The status code.
        status: u8,
        /// Offending operation flags (for 0x11).
        invalid_flags: u32,
    },
    /// Device failure.
    DeviceFault {
        /// The status code.
        status: u8,
    },
}

/// Classify a DSA completion record (status byte must be non-zero).
pub fn dsa_outcome(rec: &DsaCompletionRecord) -> DsaOutcome {
    let sb = StatusByte(rec.status);
    match sb.dsa() {
        Some(s @ (DsaStatus::Success | DsaStatus::SuccessPred)) => DsaOutcome::Success {
            result: rec.result,
            bytes_completed: rec.bytes_completed,
            crc: rec.crc_val(),
            predicate_false: s == DsaStatus::SuccessPred,
        },
        Some(DsaStatus::PageFaultNobof) => DsaOutcome::PageFault {
            addr: rec.fault_addr,
            write: sb.write_fault(),
            bytes_completed: rec.bytes_completed,
        },
        Some(DsaStatus::BatchFail) => DsaOutcome::BatchFailed {
            completed: rec.bytes_completed,
        },
        Some(s) if s.class() == iaa_descriptors::StatusClass::BadDescriptor => {
            DsaOutcome::BadDescriptor {
                status: sb.code(),
                invalid_flags: rec.invalid_flags(),
            }
        }
        _ => DsaOutcome::DeviceFault { status: sb.code() },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytemuck::Zeroable;

    fn iaa(status: u8, err: u8) -> IaaCompletionRecord {
        let mut r = IaaCompletionRecord::zeroed();
        r.status = status;
        r.error_code = err;
        r.fault_addr = 0x1000;
        r.invalid_flags = 0x20;
        r
    }

    #[test]
    fn iaa_classes() {
        assert!(matches!(
            iaa_outcome(&iaa(1, 0)),
            IaaOutcome::Success { .. }
        ));
        assert_eq!(
            iaa_outcome(&iaa(0x83, 0)),
            IaaOutcome::PageFault {
                addr: 0x1000,
                write: true
            }
        );
        assert_eq!(
            iaa_outcome(&iaa(0x03, 0)),
            IaaOutcome::PageFault {
                addr: 0x1000,
                write: false
            }
        );
        assert!(matches!(
            iaa_outcome(&iaa(0x0B, 0)),
            IaaOutcome::OutputOverflow { .. }
        ));
        assert_eq!(iaa_outcome(&iaa(0x0A, 0x19)), IaaOutcome::CompressOverflow);
        assert_eq!(
            iaa_outcome(&iaa(0x0A, 17)),
            IaaOutcome::BadInput {
                error_code: 17,
                error: Some(AnalyticsError::BadDistance)
            }
        );
        for s in [0x10, 0x11, 0x12, 0x13, 0x16, 0x1B, 0x1C, 0x30, 0x31] {
            assert!(
                matches!(iaa_outcome(&iaa(s, 0)), IaaOutcome::BadDescriptor { status, .. } if status == s),
                "{s:#x}"
            );
        }
        for s in [0x04, 0x20, 0x24, 0x3F] {
            assert_eq!(
                iaa_outcome(&iaa(s, 0)),
                IaaOutcome::DeviceFault { status: s }
            );
        }
    }

    #[test]
    fn dsa_classes() {
        let mut r = DsaCompletionRecord::zeroed();
        r.status = 2;
        assert!(matches!(
            dsa_outcome(&r),
            DsaOutcome::Success {
                predicate_false: true,
                ..
            }
        ));
        r.status = 0x83;
        r.bytes_completed = 7;
        assert!(matches!(
            dsa_outcome(&r),
            DsaOutcome::PageFault {
                write: true,
                bytes_completed: 7,
                ..
            }
        ));
        r.status = 0x05;
        assert_eq!(dsa_outcome(&r), DsaOutcome::BatchFailed { completed: 7 });
        r.status = 0x17;
        assert!(matches!(
            dsa_outcome(&r),
            DsaOutcome::BadDescriptor { status: 0x17, .. }
        ));
        r.status = 0x20;
        assert_eq!(dsa_outcome(&r), DsaOutcome::DeviceFault { status: 0x20 });
    }
}
