//! Our layouts agree byte for byte with the kernel's UAPI header `<linux/idxd.h>`: sizes, the
//! position and width of every field (bitfields included), every constant, and the exact
//! descriptors Linux `iaa_crypto` submits.

use std::collections::BTreeMap;
use std::ffi::{c_char, CStr};

use bytemuck::Zeroable;
use iaa_descriptors::*;
use iaa_tests as _; // links the C probe

#[repr(C)]
struct ProbeConst {
    name: *const c_char,
    value: u64,
}

#[repr(C)]
struct ProbeImage {
    name: *const c_char,
    size: u32,
    bytes: [u8; 64],
}

extern "C" {
    fn idxd_probe_consts(out: *mut *const ProbeConst) -> usize;
    fn idxd_probe_images(out: *mut *const ProbeImage) -> usize;
    fn idxd_kernel_compress_desc(
        src: u64,
        slen: u32,
        dst: u64,
        dlen: u32,
        aecs: u64,
        comp: u64,
        out: *mut u8,
    );
    fn idxd_kernel_decompress_desc(
        src: u64,
        slen: u32,
        dst: u64,
        dlen: u32,
        comp: u64,
        verify: i32,
        out: *mut u8,
    );
}

fn c_consts() -> BTreeMap<String, u64> {
    let mut p = std::ptr::null();
    // SAFETY: the probe returns a pointer to a static array of `n` entries with static C strings.
    let n = unsafe { idxd_probe_consts(&mut p) };
    // SAFETY: as above.
    let s = unsafe { std::slice::from_raw_parts(p, n) };
    s.iter()
        .map(|c| {
            (
                // SAFETY: every name is a static NUL-terminated string literal.
                unsafe { CStr::from_ptr(c.name) }
                    .to_str()
                    .unwrap()
                    .to_string(),
                c.value,
            )
        })
        .collect()
}

fn c_images() -> BTreeMap<String, Vec<u8>> {
    let mut p = std::ptr::null();
    // SAFETY: the probe returns a pointer to a static array of `n` filled entries.
    let n = unsafe { idxd_probe_images(&mut p) };
    // SAFETY: as above.
    let s = unsafe { std::slice::from_raw_parts(p, n) };
    s.iter()
        .map(|c| {
            // SAFETY: every name is a static NUL-terminated string literal.
            let name = unsafe { CStr::from_ptr(c.name) }
                .to_str()
                .unwrap()
                .to_string();
            (name, c.bytes[..c.size as usize].to_vec())
        })
        .collect()
}

/// Every constant the header defines, with our value for it.
fn our_consts() -> Vec<(&'static str, u64)> {
    use DsaOpcode as D;
    use IaaOpcode as I;
    let s = |x: ScmdStatus| x as u32 as u64;
    let f = |x: OpFlags| x.0 as u64;
    let ds = |x: DsaStatus| x as u8 as u64;
    let is = |x: IaaStatus| x as u8 as u64;
    vec![
        ("IDXD_SCMD_DEV_ENABLED", s(ScmdStatus::DevEnabled)),
        ("IDXD_SCMD_DEV_NOT_ENABLED", s(ScmdStatus::DevNotEnabled)),
        ("IDXD_SCMD_WQ_ENABLED", s(ScmdStatus::WqEnabled)),
        ("IDXD_SCMD_DEV_DMA_ERR", s(ScmdStatus::DevDmaErr)),
        ("IDXD_SCMD_WQ_NO_GRP", s(ScmdStatus::WqNoGrp)),
        ("IDXD_SCMD_WQ_NO_NAME", s(ScmdStatus::WqNoName)),
        ("IDXD_SCMD_WQ_NO_SVM", s(ScmdStatus::WqNoSvm)),
        ("IDXD_SCMD_WQ_NO_THRESH", s(ScmdStatus::WqNoThresh)),
        ("IDXD_SCMD_WQ_PORTAL_ERR", s(ScmdStatus::WqPortalErr)),
        ("IDXD_SCMD_WQ_RES_ALLOC_ERR", s(ScmdStatus::WqResAllocErr)),
        ("IDXD_SCMD_PERCPU_ERR", s(ScmdStatus::PercpuErr)),
        ("IDXD_SCMD_DMA_CHAN_ERR", s(ScmdStatus::DmaChanErr)),
        ("IDXD_SCMD_CDEV_ERR", s(ScmdStatus::CdevErr)),
        ("IDXD_SCMD_WQ_NO_SWQ_SUPPORT", s(ScmdStatus::WqNoSwqSupport)),
        (
            "IDXD_SCMD_WQ_NONE_CONFIGURED",
            s(ScmdStatus::WqNoneConfigured),
        ),
        ("IDXD_SCMD_WQ_NO_SIZE", s(ScmdStatus::WqNoSize)),
        ("IDXD_SCMD_WQ_NO_PRIV", s(ScmdStatus::WqNoPriv)),
        ("IDXD_SCMD_WQ_IRQ_ERR", s(ScmdStatus::WqIrqErr)),
        ("IDXD_SCMD_WQ_USER_NO_IOMMU", s(ScmdStatus::WqUserNoIommu)),
        ("IDXD_SCMD_SOFTERR_MASK", ScmdStatus::SOFTERR_MASK as u64),
        ("IDXD_SCMD_SOFTERR_SHIFT", ScmdStatus::SOFTERR_SHIFT as u64),
        ("IDXD_OP_FLAG_FENCE", f(OpFlags::FENCE)),
        ("IDXD_OP_FLAG_BOF", f(OpFlags::BOF)),
        ("IDXD_OP_FLAG_CRAV", f(OpFlags::CRAV)),
        ("IDXD_OP_FLAG_RCR", f(OpFlags::RCR)),
        ("IDXD_OP_FLAG_RCI", f(OpFlags::RCI)),
        ("IDXD_OP_FLAG_CRSTS", f(OpFlags::CRSTS)),
        ("IDXD_OP_FLAG_CR", f(OpFlags::CR)),
        ("IDXD_OP_FLAG_CC", f(OpFlags::CC)),
        ("IDXD_OP_FLAG_ADDR1_TCS", f(OpFlags::ADDR1_TCS)),
        ("IDXD_OP_FLAG_ADDR2_TCS", f(OpFlags::ADDR2_TCS)),
        ("IDXD_OP_FLAG_ADDR3_TCS", f(OpFlags::ADDR3_TCS)),
        ("IDXD_OP_FLAG_CR_TCS", f(OpFlags::CR_TCS)),
        ("IDXD_OP_FLAG_STORD", f(OpFlags::STORD)),
        ("IDXD_OP_FLAG_DRDBK", f(OpFlags::DRDBK)),
        ("IDXD_OP_FLAG_DSTS", f(OpFlags::DSTS)),
        ("IDXD_OP_FLAG_RD_SRC2_AECS", f(OpFlags::RD_SRC2_AECS)),
        ("IDXD_OP_FLAG_RD_SRC2_2ND", f(OpFlags::RD_SRC2_2ND)),
        (
            "IDXD_OP_FLAG_WR_SRC2_AECS_COMP",
            f(OpFlags::WR_SRC2_AECS_COMP),
        ),
        (
            "IDXD_OP_FLAG_WR_SRC2_AECS_OVFL",
            f(OpFlags::WR_SRC2_AECS_OVFL),
        ),
        ("IDXD_OP_FLAG_SRC2_STS", f(OpFlags::SRC2_STS)),
        ("IDXD_OP_FLAG_CRC_RFC3720", f(OpFlags::CRC_RFC3720)),
        ("DSA_OPCODE_NOOP", D::Noop as u64),
        ("DSA_OPCODE_BATCH", D::Batch as u64),
        ("DSA_OPCODE_DRAIN", D::Drain as u64),
        ("DSA_OPCODE_MEMMOVE", D::Memmove as u64),
        ("DSA_OPCODE_MEMFILL", D::Memfill as u64),
        ("DSA_OPCODE_COMPARE", D::Compare as u64),
        ("DSA_OPCODE_COMPVAL", D::CompareValue as u64),
        ("DSA_OPCODE_CR_DELTA", D::CreateDelta as u64),
        ("DSA_OPCODE_AP_DELTA", D::ApplyDelta as u64),
        ("DSA_OPCODE_DUALCAST", D::Dualcast as u64),
        ("DSA_OPCODE_CRCGEN", D::CrcGenerate as u64),
        ("DSA_OPCODE_COPY_CRC", D::CopyCrc as u64),
        ("DSA_OPCODE_DIF_CHECK", D::DifCheck as u64),
        ("DSA_OPCODE_DIF_INS", D::DifInsert as u64),
        ("DSA_OPCODE_DIF_STRP", D::DifStrip as u64),
        ("DSA_OPCODE_DIF_UPDT", D::DifUpdate as u64),
        ("DSA_OPCODE_CFLUSH", D::CacheFlush as u64),
        ("IAX_OPCODE_NOOP", I::Noop as u64),
        ("IAX_OPCODE_DRAIN", I::Drain as u64),
        ("IAX_OPCODE_MEMMOVE", I::Memmove as u64),
        ("IAX_OPCODE_DECOMPRESS", I::Decompress as u64),
        ("IAX_OPCODE_COMPRESS", I::Compress as u64),
        ("IAX_OPCODE_CRC64", I::Crc64 as u64),
        ("IAX_OPCODE_ZERO_DECOMP_32", I::ZeroDecompress32 as u64),
        ("IAX_OPCODE_ZERO_DECOMP_16", I::ZeroDecompress16 as u64),
        ("IAX_OPCODE_ZERO_COMP_32", I::ZeroCompress32 as u64),
        ("IAX_OPCODE_ZERO_COMP_16", I::ZeroCompress16 as u64),
        ("IAX_OPCODE_SCAN", I::Scan as u64),
        ("IAX_OPCODE_SET_MEMBER", I::SetMembership as u64),
        ("IAX_OPCODE_EXTRACT", I::Extract as u64),
        ("IAX_OPCODE_SELECT", I::Select as u64),
        ("IAX_OPCODE_RLE_BURST", I::RleBurst as u64),
        ("IAX_OPCODE_FIND_UNIQUE", I::FindUnique as u64),
        ("IAX_OPCODE_EXPAND", I::Expand as u64),
        ("DSA_COMP_NONE", ds(DsaStatus::None)),
        ("DSA_COMP_SUCCESS", ds(DsaStatus::Success)),
        ("DSA_COMP_SUCCESS_PRED", ds(DsaStatus::SuccessPred)),
        ("DSA_COMP_PAGE_FAULT_NOBOF", ds(DsaStatus::PageFaultNobof)),
        ("DSA_COMP_PAGE_FAULT_IR", ds(DsaStatus::PageFaultIr)),
        ("DSA_COMP_BATCH_FAIL", ds(DsaStatus::BatchFail)),
        ("DSA_COMP_BATCH_PAGE_FAULT", ds(DsaStatus::BatchPageFault)),
        ("DSA_COMP_DR_OFFSET_NOINC", ds(DsaStatus::DrOffsetNoinc)),
        ("DSA_COMP_DR_OFFSET_ERANGE", ds(DsaStatus::DrOffsetErange)),
        ("DSA_COMP_DIF_ERR", ds(DsaStatus::DifErr)),
        ("DSA_COMP_BAD_OPCODE", ds(DsaStatus::BadOpcode)),
        ("DSA_COMP_INVALID_FLAGS", ds(DsaStatus::InvalidFlags)),
        ("DSA_COMP_NOZERO_RESERVE", ds(DsaStatus::NozeroReserve)),
        ("DSA_COMP_XFER_ERANGE", ds(DsaStatus::XferErange)),
        ("DSA_COMP_DESC_CNT_ERANGE", ds(DsaStatus::DescCntErange)),
        ("DSA_COMP_DR_ERANGE", ds(DsaStatus::DrErange)),
        ("DSA_COMP_OVERLAP_BUFFERS", ds(DsaStatus::OverlapBuffers)),
        ("DSA_COMP_DCAST_ERR", ds(DsaStatus::DcastErr)),
        ("DSA_COMP_DESCLIST_ALIGN", ds(DsaStatus::DesclistAlign)),
        ("DSA_COMP_INT_HANDLE_INVAL", ds(DsaStatus::IntHandleInval)),
        ("DSA_COMP_CRA_XLAT", ds(DsaStatus::CraXlat)),
        ("DSA_COMP_CRA_ALIGN", ds(DsaStatus::CraAlign)),
        ("DSA_COMP_ADDR_ALIGN", ds(DsaStatus::AddrAlign)),
        ("DSA_COMP_PRIV_BAD", ds(DsaStatus::PrivBad)),
        (
            "DSA_COMP_TRAFFIC_CLASS_CONF",
            ds(DsaStatus::TrafficClassConf),
        ),
        ("DSA_COMP_PFAULT_RDBA", ds(DsaStatus::PfaultRdba)),
        ("DSA_COMP_HW_ERR1", ds(DsaStatus::HwErr1)),
        ("DSA_COMP_HW_ERR_DRB", ds(DsaStatus::HwErrDrb)),
        ("DSA_COMP_TRANSLATION_FAIL", ds(DsaStatus::TranslationFail)),
        ("IAX_COMP_NONE", is(IaaStatus::None)),
        ("IAX_COMP_SUCCESS", is(IaaStatus::Success)),
        ("IAX_COMP_PAGE_FAULT_IR", is(IaaStatus::PageFaultIr)),
        ("IAX_COMP_ANALYTICS_ERROR", is(IaaStatus::AnalyticsError)),
        ("IAX_COMP_OUTBUF_OVERFLOW", is(IaaStatus::OutbufOverflow)),
        ("IAX_COMP_BAD_OPCODE", is(IaaStatus::BadOpcode)),
        ("IAX_COMP_INVALID_FLAGS", is(IaaStatus::InvalidFlags)),
        ("IAX_COMP_NOZERO_RESERVE", is(IaaStatus::NozeroReserve)),
        ("IAX_COMP_INVALID_SIZE", is(IaaStatus::InvalidSize)),
        ("IAX_COMP_OVERLAP_BUFFERS", is(IaaStatus::OverlapBuffers)),
        ("IAX_COMP_INT_HANDLE_INVAL", is(IaaStatus::IntHandleInval)),
        ("IAX_COMP_CRA_XLAT", is(IaaStatus::CraXlat)),
        ("IAX_COMP_CRA_ALIGN", is(IaaStatus::CraAlign)),
        ("IAX_COMP_ADDR_ALIGN", is(IaaStatus::AddrAlign)),
        ("IAX_COMP_PRIV_BAD", is(IaaStatus::PrivBad)),
        (
            "IAX_COMP_TRAFFIC_CLASS_CONF",
            is(IaaStatus::TrafficClassConf),
        ),
        ("IAX_COMP_PFAULT_RDBA", is(IaaStatus::PfaultRdba)),
        ("IAX_COMP_HW_ERR1", is(IaaStatus::HwErr1)),
        ("IAX_COMP_HW_ERR_DRB", is(IaaStatus::HwErrDrb)),
        ("IAX_COMP_TRANSLATION_FAIL", is(IaaStatus::TranslationFail)),
        ("IAX_COMP_PRS_TIMEOUT", is(IaaStatus::PrsTimeout)),
        ("IAX_COMP_WATCHDOG", is(IaaStatus::Watchdog)),
        ("IAX_COMP_INVALID_COMP_FLAG", is(IaaStatus::InvalidCompFlag)),
        (
            "IAX_COMP_INVALID_FILTER_FLAG",
            is(IaaStatus::InvalidFilterFlag),
        ),
        (
            "IAX_COMP_INVALID_INPUT_SIZE",
            is(IaaStatus::InvalidInputSize),
        ),
        ("IAX_COMP_INVALID_NUM_ELEMS", is(IaaStatus::InvalidNumElems)),
        (
            "IAX_COMP_INVALID_SRC1_WIDTH",
            is(IaaStatus::InvalidSrc1Width),
        ),
        (
            "IAX_COMP_INVALID_INVERT_OUT",
            is(IaaStatus::InvalidInvertOut),
        ),
        ("DSA_COMP_STATUS_MASK", status::STATUS_CODE_MASK as u64),
        ("DSA_COMP_STATUS_WRITE", status::STATUS_WRITE_FAULT as u64),
        (
            "sizeof(struct dsa_hw_desc)",
            std::mem::size_of::<DsaDescriptor>() as u64,
        ),
        (
            "sizeof(struct iax_hw_desc)",
            std::mem::size_of::<IaaDescriptor>() as u64,
        ),
        (
            "sizeof(struct dsa_raw_desc)",
            std::mem::size_of::<DsaDescriptor>() as u64,
        ),
        (
            "sizeof(struct dsa_completion_record)",
            std::mem::size_of::<DsaCompletionRecord>() as u64,
        ),
        (
            "sizeof(struct dsa_raw_completion_record)",
            std::mem::size_of::<DsaCompletionRecord>() as u64,
        ),
        (
            "sizeof(struct iax_completion_record)",
            std::mem::size_of::<IaaCompletionRecord>() as u64,
        ),
        (
            "sizeof(struct iax_raw_completion_record)",
            std::mem::size_of::<IaaCompletionRecord>() as u64,
        ),
    ]
}

#[test]
fn every_constant_agrees_with_the_kernel_header() {
    let c = c_consts();
    let ours = our_consts();
    let mut mismatches = Vec::new();
    for (name, v) in &ours {
        match c.get(*name) {
            Some(cv) if cv == v => {}
            Some(cv) => mismatches.push(format!("{name}: kernel {cv:#x}, ours {v:#x}")),
            None => mismatches.push(format!("{name}: not reported by the C probe")),
        }
    }
    for name in c.keys() {
        if !ours.iter().any(|(n, _)| n == name) {
            mismatches.push(format!(
                "{name}: the kernel defines it, we have no value for it"
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "constant mismatches:\n{}",
        mismatches.join("\n")
    );
}

/// The probe must not silently miss a constant the installed header defines: every enum member
/// and `#define` of `linux/idxd.h` is in the probe (so also compared above).
#[test]
fn the_probe_covers_every_constant_of_the_installed_header() {
    let header = std::fs::read_to_string("/usr/include/linux/idxd.h").expect("linux/idxd.h");
    let c = c_consts();
    let mut missing = Vec::new();
    let mut in_enum = false;
    for line in header.lines() {
        let t = line.trim();
        if t.starts_with("enum ") {
            in_enum = true;
            continue;
        }
        if in_enum && t.starts_with('}') {
            in_enum = false;
            continue;
        }
        let name = if in_enum {
            t.split(['=', ',', ' ']).next().unwrap_or("")
        } else if let Some(rest) = t.strip_prefix("#define ") {
            rest.split_whitespace().next().unwrap_or("")
        } else {
            ""
        };
        if name.is_empty() || name.starts_with("_USR_IDXD_H") || name.starts_with("/*") {
            continue;
        }
        if !c.contains_key(name) {
            missing.push(name.to_string());
        }
    }
    assert!(
        missing.is_empty(),
        "constants in linux/idxd.h the probe does not compare: {missing:?}"
    );
}

/// Our struct zeroed with one field set to all ones, for each kernel field name.
fn our_image(name: &str) -> Option<Vec<u8>> {
    fn iaa(f: impl Fn(&mut IaaDescriptor)) -> Vec<u8> {
        let mut d = IaaDescriptor::zeroed();
        f(&mut d);
        d.as_bytes().to_vec()
    }
    fn iaacr(f: impl Fn(&mut IaaCompletionRecord)) -> Vec<u8> {
        let mut d = IaaCompletionRecord::zeroed();
        f(&mut d);
        d.as_bytes().to_vec()
    }
    fn dsa(f: impl Fn(&mut DsaDescriptor)) -> Vec<u8> {
        let mut d = DsaDescriptor::zeroed();
        f(&mut d);
        d.as_bytes().to_vec()
    }
    fn dsacr(f: impl Fn(&mut DsaCompletionRecord)) -> Vec<u8> {
        let mut d = DsaCompletionRecord::zeroed();
        f(&mut d);
        d.as_bytes().to_vec()
    }
    fn ones(b: &mut [u8]) {
        b.fill(0xFF)
    }
    Some(match name {
        "iax_hw_desc.pasid" => iaa(|d| d.pasid_priv = 0x000F_FFFF),
        "iax_hw_desc.rsvd" => iaa(|d| d.pasid_priv = 0x7FF0_0000),
        "iax_hw_desc.priv" => iaa(|d| d.pasid_priv = 0x8000_0000),
        "iax_hw_desc.flags" => iaa(|d| d.set_opcode_flags(0, OpFlags(!0))),
        "iax_hw_desc.opcode" => iaa(|d| d.set_opcode_flags(0xFF, OpFlags(0))),
        "iax_hw_desc.completion_addr" => iaa(|d| d.completion_addr = !0),
        "iax_hw_desc.src1_addr" => iaa(|d| d.src1_addr = !0),
        "iax_hw_desc.dst_addr" => iaa(|d| d.dst_addr = !0),
        "iax_hw_desc.src1_size" => iaa(|d| d.src1_size = !0),
        "iax_hw_desc.int_handle" => iaa(|d| d.int_handle = !0),
        "iax_hw_desc.compr_flags" | "iax_hw_desc.decompr_flags" => iaa(|d| d.op_flags16 = !0),
        "iax_hw_desc.src2_addr" => iaa(|d| d.src2_addr = !0),
        "iax_hw_desc.max_dst_size" => iaa(|d| d.max_dst_size = !0),
        "iax_hw_desc.src2_size" => iaa(|d| d.src2_size = !0),
        "iax_hw_desc.filter_flags" => iaa(|d| d.filter_flags = !0),
        "iax_hw_desc.num_inputs" => iaa(|d| d.num_inputs = !0),

        "iax_completion_record.status" => iaacr(|d| d.status = !0),
        "iax_completion_record.error_code" => iaacr(|d| d.error_code = !0),
        "iax_completion_record.rsvd" => iaacr(|d| d.rsvd = !0),
        "iax_completion_record.bytes_completed" => iaacr(|d| d.bytes_completed = !0),
        "iax_completion_record.fault_addr" => iaacr(|d| d.fault_addr = !0),
        "iax_completion_record.invalid_flags" => iaacr(|d| d.invalid_flags = !0),
        "iax_completion_record.rsvd2" => iaacr(|d| d.rsvd2 = !0),
        "iax_completion_record.output_size" => iaacr(|d| d.output_size = !0),
        "iax_completion_record.output_bits" => iaacr(|d| d.output_bits = !0),
        "iax_completion_record.rsvd3" => iaacr(|d| d.rsvd3 = !0),
        "iax_completion_record.xor_csum" => iaacr(|d| d.xor_csum = !0),
        "iax_completion_record.crc" => iaacr(|d| d.crc = !0),
        "iax_completion_record.min" => iaacr(|d| d.min = !0),
        "iax_completion_record.max" => iaacr(|d| d.max = !0),
        "iax_completion_record.sum" => iaacr(|d| d.sum = !0),
        "iax_completion_record.rsvd4" => iaacr(|d| d.rsvd4 = [!0; 2]),

        "dsa_hw_desc.pasid" => dsa(|d| d.pasid_priv = 0x000F_FFFF),
        "dsa_hw_desc.rsvd" => dsa(|d| d.pasid_priv = 0x7FF0_0000),
        "dsa_hw_desc.priv" => dsa(|d| d.pasid_priv = 0x8000_0000),
        "dsa_hw_desc.flags" => dsa(|d| d.set_opcode_flags(0, OpFlags(!0))),
        "dsa_hw_desc.opcode" => dsa(|d| d.set_opcode_flags(0xFF, OpFlags(0))),
        "dsa_hw_desc.completion_addr" => dsa(|d| d.completion_addr = !0),
        "dsa_hw_desc.src_addr"
        | "dsa_hw_desc.rdback_addr"
        | "dsa_hw_desc.pattern"
        | "dsa_hw_desc.desc_list_addr" => dsa(|d| d.addr1 = !0),
        "dsa_hw_desc.dst_addr"
        | "dsa_hw_desc.rdback_addr2"
        | "dsa_hw_desc.src2_addr"
        | "dsa_hw_desc.comp_pattern" => dsa(|d| d.addr2 = !0),
        "dsa_hw_desc.xfer_size" | "dsa_hw_desc.desc_count" => dsa(|d| d.size = !0),
        "dsa_hw_desc.int_handle" => dsa(|d| d.int_handle = !0),
        "dsa_hw_desc.rsvd1" => dsa(|d| d.rsvd1 = !0),
        "dsa_hw_desc.expected_res" => dsa(|d| d.set_expected_res(!0)),
        "dsa_hw_desc.delta_addr" => dsa(|d| ones(&mut d.op_specific[0..8])),
        "dsa_hw_desc.max_delta_size" => dsa(|d| ones(&mut d.op_specific[8..12])),
        "dsa_hw_desc.expected_res_mask" => dsa(|d| d.op_specific[16] = !0),
        "dsa_hw_desc.delta_rec_size" => dsa(|d| ones(&mut d.op_specific[0..4])),
        "dsa_hw_desc.dest2" => dsa(|d| d.set_dest2(!0)),
        "dsa_hw_desc.crc_seed" => dsa(|d| d.set_crc_seed(!0)),
        "dsa_hw_desc.seed_addr" => dsa(|d| d.set_seed_addr(!0)),
        "dsa_hw_desc.op_specific" => dsa(|d| ones(&mut d.op_specific)),

        "dsa_completion_record.status" => dsacr(|d| d.status = !0),
        "dsa_completion_record.result" | "dsa_completion_record.dif_status" => {
            dsacr(|d| d.result = !0)
        }
        "dsa_completion_record.rsvd" => dsacr(|d| d.rsvd = !0),
        "dsa_completion_record.bytes_completed" => dsacr(|d| d.bytes_completed = !0),
        "dsa_completion_record.fault_addr" => dsacr(|d| d.fault_addr = !0),
        "dsa_completion_record.invalid_flags" => dsacr(|d| d.set_invalid_flags(!0)),
        "dsa_completion_record.rsvd2" => dsacr(|d| d.op_specific[3] = !0),
        "dsa_completion_record.delta_rec_size" => dsacr(|d| ones(&mut d.op_specific[0..4])),
        "dsa_completion_record.crc_val" => dsacr(|d| d.set_crc_val(!0)),
        "dsa_completion_record.op_specific" => dsacr(|d| ones(&mut d.op_specific)),
        _ => return None,
    })
}

#[test]
fn every_field_sits_where_the_kernel_puts_it() {
    let images = c_images();
    assert!(
        images.len() >= 70,
        "probe reported only {} fields",
        images.len()
    );
    let mut errors = Vec::new();
    for (name, kernel) in &images {
        match our_image(name) {
            None => errors.push(format!("{name}: we have no field for it")),
            Some(ours) if &ours != kernel => errors.push(format!(
                "{name}:\n  kernel {kernel:02x?}\n  ours   {ours:02x?}"
            )),
            Some(_) => {}
        }
    }
    assert!(
        errors.is_empty(),
        "field layout mismatches:\n{}",
        errors.join("\n")
    );
}

#[test]
fn kernel_fixed_compress_descriptor_equals_ours() {
    let (src, slen, dst, dlen, aecs, comp) = (
        0x7f00_1234_5000u64,
        4096u32,
        0x7f00_9876_0000u64,
        8192u32,
        0x7f00_aaaa_0040u64,
        0x7f00_bbbb_0000u64,
    );
    let mut kernel = [0u8; 64];
    // SAFETY: the C function writes exactly 64 bytes into the buffer.
    unsafe { idxd_kernel_compress_desc(src, slen, dst, dlen, aecs, comp, kernel.as_mut_ptr()) };
    let ours = IaaCompress::new(src, slen, dst, dlen, aecs, comp).build();
    assert_eq!(ours.as_bytes(), &kernel);
    // Spec §2.5 values, spelled out.
    assert_eq!(
        u32::from_le_bytes(kernel[4..8].try_into().unwrap()),
        0x4301_010C
    );
    assert_eq!(
        u16::from_le_bytes(kernel[38..40].try_into().unwrap()),
        0x0006
    );
    assert_eq!(u32::from_le_bytes(kernel[52..56].try_into().unwrap()), 1568);
}

#[test]
fn kernel_decompress_and_verify_descriptors_equal_ours() {
    let (src, slen, dst, dlen, comp) = (0x1000u64, 1234u32, 0x2000u64, 4096u32, 0x3040u64);
    for verify in [0, 1] {
        let mut kernel = [0u8; 64];
        // SAFETY: the C function writes exactly 64 bytes into the buffer.
        unsafe {
            idxd_kernel_decompress_desc(src, slen, dst, dlen, comp, verify, kernel.as_mut_ptr())
        };
        let ours = IaaDecompress::new(src, slen, dst, dlen, comp)
            .eob_rule(EobRule::StopAndCheckAnyEob)
            .suppress_output(verify == 1)
            .build();
        assert_eq!(ours.as_bytes(), &kernel, "verify={verify}");
        let expect = if verify == 1 { 0x020F } else { 0x000F };
        assert_eq!(
            u16::from_le_bytes(kernel[38..40].try_into().unwrap()),
            expect
        );
    }
}
