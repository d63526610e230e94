/*
 * Conformance probe: what the kernel's UAPI header <linux/idxd.h> says about the descriptor and
 * completion-record layouts and constants, reported to the Rust test that compares our crate.
 *
 * Field positions are reported as "images": the struct zeroed, the one field set to all ones,
 * the bytes dumped. That covers offset and width of plain fields and bitfields alike.
 */
#include <linux/idxd.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct probe_const { const char *name; uint64_t value; };
struct probe_image { const char *name; uint32_t size; uint8_t bytes[64]; };

#define K(x) { #x, (uint64_t)(x) },
static const struct probe_const consts[] = {
	K(IDXD_SCMD_DEV_ENABLED) K(IDXD_SCMD_DEV_NOT_ENABLED) K(IDXD_SCMD_WQ_ENABLED)
	K(IDXD_SCMD_DEV_DMA_ERR) K(IDXD_SCMD_WQ_NO_GRP) K(IDXD_SCMD_WQ_NO_NAME)
	K(IDXD_SCMD_WQ_NO_SVM) K(IDXD_SCMD_WQ_NO_THRESH) K(IDXD_SCMD_WQ_PORTAL_ERR)
	K(IDXD_SCMD_WQ_RES_ALLOC_ERR) K(IDXD_SCMD_PERCPU_ERR) K(IDXD_SCMD_DMA_CHAN_ERR)
	K(IDXD_SCMD_CDEV_ERR) K(IDXD_SCMD_WQ_NO_SWQ_SUPPORT) K(IDXD_SCMD_WQ_NONE_CONFIGURED)
	K(IDXD_SCMD_WQ_NO_SIZE) K(IDXD_SCMD_WQ_NO_PRIV) K(IDXD_SCMD_WQ_IRQ_ERR)
	K(IDXD_SCMD_WQ_USER_NO_IOMMU) K(IDXD_SCMD_SOFTERR_MASK) K(IDXD_SCMD_SOFTERR_SHIFT)

	K(IDXD_OP_FLAG_FENCE) K(IDXD_OP_FLAG_BOF) K(IDXD_OP_FLAG_CRAV) K(IDXD_OP_FLAG_RCR)
	K(IDXD_OP_FLAG_RCI) K(IDXD_OP_FLAG_CRSTS) K(IDXD_OP_FLAG_CR) K(IDXD_OP_FLAG_CC)
	K(IDXD_OP_FLAG_ADDR1_TCS) K(IDXD_OP_FLAG_ADDR2_TCS) K(IDXD_OP_FLAG_ADDR3_TCS)
	K(IDXD_OP_FLAG_CR_TCS) K(IDXD_OP_FLAG_STORD) K(IDXD_OP_FLAG_DRDBK) K(IDXD_OP_FLAG_DSTS)
	K(IDXD_OP_FLAG_RD_SRC2_AECS) K(IDXD_OP_FLAG_RD_SRC2_2ND) K(IDXD_OP_FLAG_WR_SRC2_AECS_COMP)
	K(IDXD_OP_FLAG_WR_SRC2_AECS_OVFL) K(IDXD_OP_FLAG_SRC2_STS) K(IDXD_OP_FLAG_CRC_RFC3720)

	K(DSA_OPCODE_NOOP) K(DSA_OPCODE_BATCH) K(DSA_OPCODE_DRAIN) K(DSA_OPCODE_MEMMOVE)
	K(DSA_OPCODE_MEMFILL) K(DSA_OPCODE_COMPARE) K(DSA_OPCODE_COMPVAL) K(DSA_OPCODE_CR_DELTA)
	K(DSA_OPCODE_AP_DELTA) K(DSA_OPCODE_DUALCAST) K(DSA_OPCODE_CRCGEN) K(DSA_OPCODE_COPY_CRC)
	K(DSA_OPCODE_DIF_CHECK) K(DSA_OPCODE_DIF_INS) K(DSA_OPCODE_DIF_STRP) K(DSA_OPCODE_DIF_UPDT)
	K(DSA_OPCODE_CFLUSH)

	K(IAX_OPCODE_NOOP) K(IAX_OPCODE_DRAIN) K(IAX_OPCODE_MEMMOVE) K(IAX_OPCODE_DECOMPRESS)
	K(IAX_OPCODE_COMPRESS) K(IAX_OPCODE_CRC64) K(IAX_OPCODE_ZERO_DECOMP_32)
	K(IAX_OPCODE_ZERO_DECOMP_16) K(IAX_OPCODE_ZERO_COMP_32) K(IAX_OPCODE_ZERO_COMP_16)
	K(IAX_OPCODE_SCAN) K(IAX_OPCODE_SET_MEMBER) K(IAX_OPCODE_EXTRACT) K(IAX_OPCODE_SELECT)
	K(IAX_OPCODE_RLE_BURST) K(IAX_OPCODE_FIND_UNIQUE) K(IAX_OPCODE_EXPAND)

	K(DSA_COMP_NONE) K(DSA_COMP_SUCCESS) K(DSA_COMP_SUCCESS_PRED) K(DSA_COMP_PAGE_FAULT_NOBOF)
	K(DSA_COMP_PAGE_FAULT_IR) K(DSA_COMP_BATCH_FAIL) K(DSA_COMP_BATCH_PAGE_FAULT)
	K(DSA_COMP_DR_OFFSET_NOINC) K(DSA_COMP_DR_OFFSET_ERANGE) K(DSA_COMP_DIF_ERR)
	K(DSA_COMP_BAD_OPCODE) K(DSA_COMP_INVALID_FLAGS) K(DSA_COMP_NOZERO_RESERVE)
	K(DSA_COMP_XFER_ERANGE) K(DSA_COMP_DESC_CNT_ERANGE) K(DSA_COMP_DR_ERANGE)
	K(DSA_COMP_OVERLAP_BUFFERS) K(DSA_COMP_DCAST_ERR) K(DSA_COMP_DESCLIST_ALIGN)
	K(DSA_COMP_INT_HANDLE_INVAL) K(DSA_COMP_CRA_XLAT) K(DSA_COMP_CRA_ALIGN)
	K(DSA_COMP_ADDR_ALIGN) K(DSA_COMP_PRIV_BAD) K(DSA_COMP_TRAFFIC_CLASS_CONF)
	K(DSA_COMP_PFAULT_RDBA) K(DSA_COMP_HW_ERR1) K(DSA_COMP_HW_ERR_DRB)
	K(DSA_COMP_TRANSLATION_FAIL)

	K(IAX_COMP_NONE) K(IAX_COMP_SUCCESS) K(IAX_COMP_PAGE_FAULT_IR) K(IAX_COMP_ANALYTICS_ERROR)
	K(IAX_COMP_OUTBUF_OVERFLOW) K(IAX_COMP_BAD_OPCODE) K(IAX_COMP_INVALID_FLAGS)
	K(IAX_COMP_NOZERO_RESERVE) K(IAX_COMP_INVALID_SIZE) K(IAX_COMP_OVERLAP_BUFFERS)
	K(IAX_COMP_INT_HANDLE_INVAL) K(IAX_COMP_CRA_XLAT) K(IAX_COMP_CRA_ALIGN)
	K(IAX_COMP_ADDR_ALIGN) K(IAX_COMP_PRIV_BAD) K(IAX_COMP_TRAFFIC_CLASS_CONF)
	K(IAX_COMP_PFAULT_RDBA) K(IAX_COMP_HW_ERR1) K(IAX_COMP_HW_ERR_DRB)
	K(IAX_COMP_TRANSLATION_FAIL) K(IAX_COMP_PRS_TIMEOUT) K(IAX_COMP_WATCHDOG)
	K(IAX_COMP_INVALID_COMP_FLAG) K(IAX_COMP_INVALID_FILTER_FLAG) K(IAX_COMP_INVALID_INPUT_SIZE)
	K(IAX_COMP_INVALID_NUM_ELEMS) K(IAX_COMP_INVALID_SRC1_WIDTH) K(IAX_COMP_INVALID_INVERT_OUT)

	K(DSA_COMP_STATUS_MASK) K(DSA_COMP_STATUS_WRITE)

	K(sizeof(struct dsa_hw_desc)) K(sizeof(struct iax_hw_desc)) K(sizeof(struct dsa_raw_desc))
	K(sizeof(struct dsa_completion_record)) K(sizeof(struct dsa_raw_completion_record))
	K(sizeof(struct iax_completion_record)) K(sizeof(struct iax_raw_completion_record))
};

static struct probe_image images[128];
static size_t n_images;

static void record(const char *name, const void *p, size_t size)
{
	if (n_images >= sizeof(images) / sizeof(images[0]) || size > 64)
		return;
	images[n_images].name = name;
	images[n_images].size = (uint32_t)size;
	memcpy(images[n_images].bytes, p, size);
	n_images++;
}

/* A plain (addressable) field: set all its bytes. */
#define F(T, f) do { struct T d; memset(&d, 0, sizeof d); \
	memset((void *)&d.f, 0xff, sizeof d.f); record(#T "." #f, &d, sizeof d); } while (0)
/* A bitfield: assigning -1 sets exactly its bits. */
#define B(T, f) do { struct T d; memset(&d, 0, sizeof d); \
	d.f = -1; record(#T "." #f, &d, sizeof d); } while (0)

static void fill_images(void)
{
	if (n_images)
		return;
	B(iax_hw_desc, pasid); B(iax_hw_desc, rsvd); B(iax_hw_desc, priv);
	B(iax_hw_desc, flags); B(iax_hw_desc, opcode);
	F(iax_hw_desc, completion_addr); F(iax_hw_desc, src1_addr); F(iax_hw_desc, dst_addr);
	F(iax_hw_desc, src1_size); F(iax_hw_desc, int_handle); F(iax_hw_desc, compr_flags);
	F(iax_hw_desc, decompr_flags); F(iax_hw_desc, src2_addr); F(iax_hw_desc, max_dst_size);
	F(iax_hw_desc, src2_size); F(iax_hw_desc, filter_flags); F(iax_hw_desc, num_inputs);

	F(iax_completion_record, status); F(iax_completion_record, error_code);
	F(iax_completion_record, rsvd); F(iax_completion_record, bytes_completed);
	F(iax_completion_record, fault_addr); F(iax_completion_record, invalid_flags);
	F(iax_completion_record, rsvd2); F(iax_completion_record, output_size);
	F(iax_completion_record, output_bits); F(iax_completion_record, rsvd3);
	F(iax_completion_record, xor_csum); F(iax_completion_record, crc);
	F(iax_completion_record, min); F(iax_completion_record, max);
	F(iax_completion_record, sum); F(iax_completion_record, rsvd4);

	B(dsa_hw_desc, pasid); B(dsa_hw_desc, rsvd); B(dsa_hw_desc, priv);
	B(dsa_hw_desc, flags); B(dsa_hw_desc, opcode);
	F(dsa_hw_desc, completion_addr); F(dsa_hw_desc, src_addr); F(dsa_hw_desc, rdback_addr);
	F(dsa_hw_desc, pattern); F(dsa_hw_desc, desc_list_addr); F(dsa_hw_desc, dst_addr);
	F(dsa_hw_desc, rdback_addr2); F(dsa_hw_desc, src2_addr); F(dsa_hw_desc, comp_pattern);
	F(dsa_hw_desc, xfer_size); F(dsa_hw_desc, desc_count); F(dsa_hw_desc, int_handle);
	F(dsa_hw_desc, rsvd1); F(dsa_hw_desc, expected_res); F(dsa_hw_desc, delta_addr);
	F(dsa_hw_desc, max_delta_size); F(dsa_hw_desc, expected_res_mask);
	F(dsa_hw_desc, delta_rec_size); F(dsa_hw_desc, dest2); F(dsa_hw_desc, crc_seed);
	F(dsa_hw_desc, seed_addr); F(dsa_hw_desc, op_specific);

	F(dsa_completion_record, status); F(dsa_completion_record, result);
	F(dsa_completion_record, dif_status); F(dsa_completion_record, rsvd);
	F(dsa_completion_record, bytes_completed); F(dsa_completion_record, fault_addr);
	B(dsa_completion_record, invalid_flags); B(dsa_completion_record, rsvd2);
	F(dsa_completion_record, delta_rec_size); F(dsa_completion_record, crc_val);
	F(dsa_completion_record, op_specific);
}

size_t idxd_probe_consts(const struct probe_const **out)
{
	*out = consts;
	return sizeof(consts) / sizeof(consts[0]);
}

size_t idxd_probe_images(const struct probe_image **out)
{
	fill_images();
	*out = images;
	return n_images;
}

/* Compression/decompression flag values of drivers/crypto/intel/iaa/iaa_crypto.h (not UAPI). */
#define IAA_COMP_FLUSH_OUTPUT		0x0002
#define IAA_COMP_APPEND_EOB		0x0004
#define IAA_DECOMP_ENABLE		0x0001
#define IAA_DECOMP_FLUSH_OUTPUT		0x0002
#define IAA_DECOMP_CHECK_FOR_EOB	0x0004
#define IAA_DECOMP_STOP_ON_EOB		0x0008
#define IAA_DECOMP_SUPPRESS_OUTPUT	0x0200
#define IAA_AECS_COMP_SIZE		1568

/* The compress descriptor iaa_crypto's iaa_compress() builds in fixed mode. */
void idxd_kernel_compress_desc(uint64_t src, uint32_t slen, uint64_t dst, uint32_t dlen,
			       uint64_t aecs, uint64_t comp, uint8_t out[64])
{
	struct iax_hw_desc d;
	memset(&d, 0, sizeof d);
	d.opcode = IAX_OPCODE_COMPRESS;
	d.flags = IDXD_OP_FLAG_CRAV | IDXD_OP_FLAG_RCR | IDXD_OP_FLAG_RD_SRC2_AECS | IDXD_OP_FLAG_CC;
	d.compr_flags = IAA_COMP_FLUSH_OUTPUT | IAA_COMP_APPEND_EOB;
	d.priv = 0;
	d.src1_addr = src;
	d.src1_size = slen;
	d.dst_addr = dst;
	d.max_dst_size = dlen;
	d.src2_addr = aecs;
	d.src2_size = IAA_AECS_COMP_SIZE;
	d.completion_addr = comp;
	memcpy(out, &d, 64);
}

/* The decompress descriptor of iaa_decompress(), and of iaa_compress_verify() when verify != 0. */
void idxd_kernel_decompress_desc(uint64_t src, uint32_t slen, uint64_t dst, uint32_t dlen,
				 uint64_t comp, int verify, uint8_t out[64])
{
	struct iax_hw_desc d;
	memset(&d, 0, sizeof d);
	d.opcode = IAX_OPCODE_DECOMPRESS;
	d.flags = IDXD_OP_FLAG_CRAV | IDXD_OP_FLAG_RCR | IDXD_OP_FLAG_CC;
	d.decompr_flags = IAA_DECOMP_ENABLE | IAA_DECOMP_FLUSH_OUTPUT | IAA_DECOMP_CHECK_FOR_EOB |
			  IAA_DECOMP_STOP_ON_EOB;
	if (verify)
		d.decompr_flags |= IAA_DECOMP_SUPPRESS_OUTPUT;
	d.priv = 0;
	d.src1_addr = src;
	d.src1_size = slen;
	d.dst_addr = dst;
	d.max_dst_size = dlen;
	d.completion_addr = comp;
	memcpy(out, &d, 64);
}
