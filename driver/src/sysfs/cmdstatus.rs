//! Decoding the device `cmd_status` sysfs attribute: the status of the last command the idxd
//! driver issued, either a hardware CMDSTS value (spec §8.2) or a driver "soft" error with bit 31
//! set (`enum idxd_scmd_stat` of `linux/idxd.h`, spec §7.3). It tells an administrator why the
//! last `accel-config enable-wq` / `enable-device` failed.

use crate::vfio::CmdError;

/// Words for a `cmd_status` value, `None` for 0 (no error recorded).
pub fn decode_cmd_status(v: u32) -> Option<String> {
    if v == 0 {
        return None;
    }
    if v & 0x8000_0000 == 0 {
        return match CmdError::from_code((v & 0xff) as u8) {
            Some(e) => Some(format!("device command error: {e}")),
            None => Some(format!("device command status {v:#x}")),
        };
    }
    let text = match v {
        0x8000_0010 => "device already enabled",
        0x8000_0020 => "device not enabled",
        0x8000_0021 => "WQ already enabled",
        0x8002_0000 => "DMA device registration error (driver)",
        0x8003_0000 => "WQ has no group",
        0x8004_0000 => "WQ has no name",
        0x8005_0000 => "no SVM support (boot with intel_iommu=on,sm_on)",
        0x8006_0000 => "shared WQ without threshold",
        0x8007_0000 => "WQ portal mapping error (driver)",
        0x8008_0000 => "WQ resource allocation error (driver)",
        0x8009_0000 => "per-CPU counter allocation error (driver)",
        0x800a_0000 => "DMA channel registration error (driver)",
        0x800b_0000 => "char device registration error (driver)",
        0x800c_0000 => "no shared WQ support (platform: ENQCMD/PASID unavailable)",
        0x800d_0000 => "no WQ configured",
        0x800e_0000 => "WQ has no size",
        0x800f_0000 => "WQ privilege not allowed",
        0x8010_0000 => "WQ interrupt setup error (driver)",
        0x8011_0000 => "user WQ without IOMMU SVA (boot with intel_iommu=on,sm_on)",
        0x8012_0000 => "event log setup error (driver)",
        0x8020_0000 => "WQ has no driver name",
        _ => return Some(format!("driver error {v:#x}")),
    };
    Some(format!("driver error: {text} ({v:#x})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_both_kinds() {
        assert_eq!(decode_cmd_status(0), None);
        assert!(decode_cmd_status(0x8011_0000)
            .unwrap()
            .contains("intel_iommu=on,sm_on"));
        assert!(decode_cmd_status(0x8020_0000)
            .unwrap()
            .contains("driver name"));
        assert!(decode_cmd_status(0x23).unwrap().contains("priority"));
        assert!(decode_cmd_status(0x8123_0000)
            .unwrap()
            .contains("0x81230000"));
    }
}
