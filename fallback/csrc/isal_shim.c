/* Thin shim over ISA-L's stateless deflate for the optional `isal` feature of iaa-fallback.
 * The caller owns all memory (stream and level buffer), so compress() never allocates. */
#include <stddef.h>
#include <stdint.h>
#include <isa-l/igzip_lib.h>

size_t iaa_fb_isal_stream_size(void) { return sizeof(struct isal_zstream); }

size_t iaa_fb_isal_level_buf_size(void) { return ISAL_DEF_LVL1_DEFAULT; }

/* Raw deflate at level 1 with a (1 << hist_bits)-byte window.
 * Returns 0 and sets *out_len, 1 when the output does not fit, or a negative ISA-L error. */
int iaa_fb_isal_deflate(void *stream_mem, uint8_t *level_buf, size_t level_buf_size,
                        const uint8_t *src, size_t src_len, uint8_t *dst, size_t dst_cap,
                        int hist_bits, size_t *out_len)
{
    struct isal_zstream *s = (struct isal_zstream *)stream_mem;
    if (src_len > UINT32_MAX || dst_cap > UINT32_MAX)
        return ISAL_INVALID_OPERATION;
    isal_deflate_stateless_init(s);
    s->level = 1;
    s->level_buf = level_buf;
    s->level_buf_size = (uint32_t)level_buf_size;
    s->hist_bits = (uint16_t)hist_bits;
    s->gzip_flag = IGZIP_DEFLATE;
    s->end_of_stream = 1;
    s->flush = NO_FLUSH;
    s->next_in = (uint8_t *)src;
    s->avail_in = (uint32_t)src_len;
    s->next_out = dst;
    s->avail_out = (uint32_t)dst_cap;
    int r = isal_deflate_stateless(s);
    if (r == STATELESS_OVERFLOW)
        return 1;
    if (r != COMP_OK)
        return r < 0 ? r : -100;
    *out_len = s->total_out;
    return 0;
}
