/* Tiny shim over ISA-L's igzip for the benchmark peer "ISA-L level 1".
 * Raw deflate (no zlib/gzip wrapper), one-shot (stateless) calls, state allocated once. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <isa-l.h>

struct iaa_isal_deflater {
    struct isal_zstream stream;
    uint8_t *level_buf;
    uint32_t level_buf_size;
};

void *iaa_isal_deflater_new(void)
{
    struct iaa_isal_deflater *d = calloc(1, sizeof(*d));
    if (!d)
        return NULL;
    d->level_buf_size = ISAL_DEF_LVL1_DEFAULT;
    d->level_buf = malloc(d->level_buf_size);
    if (!d->level_buf) {
        free(d);
        return NULL;
    }
    return d;
}

void iaa_isal_deflater_free(void *p)
{
    struct iaa_isal_deflater *d = p;
    if (!d)
        return;
    free(d->level_buf);
    free(d);
}

/* Returns the compressed length, or -1 when dst is too small or ISA-L reports an error. */
long long iaa_isal_deflate(void *p, const uint8_t *src, size_t src_len, uint8_t *dst,
                           size_t dst_cap, int level, int hist_bits)
{
    struct iaa_isal_deflater *d = p;
    if (src_len > UINT32_MAX || dst_cap > UINT32_MAX)
        return -1;
    isal_deflate_stateless_init(&d->stream);
    d->stream.next_in = (uint8_t *)src;
    d->stream.avail_in = (uint32_t)src_len;
    d->stream.next_out = dst;
    d->stream.avail_out = (uint32_t)dst_cap;
    d->stream.level = (uint32_t)level;
    d->stream.level_buf = d->level_buf;
    d->stream.level_buf_size = d->level_buf_size;
    d->stream.end_of_stream = 1;
    d->stream.flush = NO_FLUSH;
    d->stream.gzip_flag = IGZIP_DEFLATE;
    d->stream.hist_bits = (uint16_t)hist_bits;
    if (isal_deflate_stateless(&d->stream) != COMP_OK)
        return -1;
    return (long long)d->stream.total_out;
}

void *iaa_isal_inflater_new(void)
{
    return calloc(1, sizeof(struct inflate_state));
}

void iaa_isal_inflater_free(void *p)
{
    free(p);
}

/* Returns the decompressed length, or -1 on any error (corrupt input, output too small). */
long long iaa_isal_inflate(void *p, const uint8_t *src, size_t src_len, uint8_t *dst,
                           size_t dst_cap)
{
    struct inflate_state *s = p;
    if (src_len > UINT32_MAX || dst_cap > UINT32_MAX)
        return -1;
    isal_inflate_init(s);
    s->next_in = (uint8_t *)src;
    s->avail_in = (uint32_t)src_len;
    s->next_out = dst;
    s->avail_out = (uint32_t)dst_cap;
    s->crc_flag = ISAL_DEFLATE;
    if (isal_inflate_stateless(s) != ISAL_DECOMP_OK)
        return -1;
    return (long long)s->total_out;
}
