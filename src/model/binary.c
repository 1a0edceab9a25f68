/*
 * The binary tensor data extension of the Open Inference Protocol (Triton's): the header length,
 * BYTES elements as a 4-byte little-endian length and the bytes, little-endian numeric tensors
 * converted losslessly into the model's dtype, and the binary form of output tensors. Every length
 * is checked against the bytes actually present before it is used.
 */
#include <stdio.h>
#include <string.h>

#include "model/model_impl.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define HOST_LE 1
#else
#define HOST_LE 0
#endif

/* ---- little-endian loads and stores ---------------------------------------------------------- */

static uint64_t load_le(const uint8_t *p, size_t size)
{
    uint64_t v = 0;

    for (size_t i = size; i > 0; i--)
        v = (v << 8) | p[i - 1];
    return v;
}

static void store_le(uint8_t *p, uint64_t v, size_t size)
{
    for (size_t i = 0; i < size; i++) {
        p[i] = (uint8_t)(v & 0xffu);
        v >>= 8;
    }
}

/* Host-order stores and loads of an unsigned integer of 1, 2, 4 or 8 bytes (unaligned). */
static void store_host(uint8_t *p, uint64_t v, size_t size)
{
    uint8_t b8 = (uint8_t)v;
    uint16_t b16 = (uint16_t)v;
    uint32_t b32 = (uint32_t)v;

    switch (size) {
    case 1:
        memcpy(p, &b8, 1);
        break;
    case 2:
        memcpy(p, &b16, 2);
        break;
    case 4:
        memcpy(p, &b32, 4);
        break;
    default:
        memcpy(p, &v, 8);
        break;
    }
}

static uint64_t load_host(const uint8_t *p, size_t size)
{
    uint8_t b8;
    uint16_t b16;
    uint32_t b32;
    uint64_t b64;

    switch (size) {
    case 1:
        memcpy(&b8, p, 1);
        return b8;
    case 2:
        memcpy(&b16, p, 2);
        return b16;
    case 4:
        memcpy(&b32, p, 4);
        return b32;
    default:
        memcpy(&b64, p, 8);
        return b64;
    }
}

/*
 * Parses the Inference-Header-Content-Length value (1 to 20 decimal digits, nothing else) and
 * checks it against the body: *out gets the JSON header's length. 0, or MWE_BAD_REQUEST with e.
 * Any thread.
 */
int binary_header_length(struct slice value, size_t body_len, size_t *out, struct mw_error *e)
{
    uint64_t n = 0;
    int rc = 0;

    if (value.ptr == NULL || value.len == 0 || value.len > 20)
        goto out_bad;
    for (size_t i = 0; i < value.len; i++) {
        char ch = value.ptr[i];
        if (ch < '0' || ch > '9' || n > (UINT64_MAX - 9) / 10)
            goto out_bad;
        n = n * 10 + (uint64_t)(ch - '0');
    }
    if (n > body_len) {
        rc = mw_fail(e, MWE_BAD_REQUEST,
                     "Inference-Header-Content-Length is %llu but the body has only %zu bytes",
                     (unsigned long long)n, body_len);
        goto out;
    }
    *out = (size_t)n;
    goto out;

out_bad:
    rc = mw_fail(e, MWE_BAD_REQUEST,
                 "Inference-Header-Content-Length must be a decimal number of bytes");
out:
    return rc;
}

/*
 * See model.h. The bytes are copied into a once (elements point into the copy), so data may be
 * freed after. Errors name `where` (e.g. "inputs[1]") and the element. Any thread owning a.
 */
int binary_read_bytes(const uint8_t *data, size_t len, size_t count, struct mw_bytes *elems,
                      struct arena *a, const char *where, struct mw_error *e)
{
    uint8_t *copy;
    size_t pos = 0, n;
    int rc = 0;

    if (count > len / 4) {
        rc = mw_fail(e, MWE_BAD_REQUEST,
                     "%s: %zu bytes of binary data cannot hold %zu BYTES elements (4 bytes of length "
                     "each at least)",
                     where, len, count);
        goto out;
    }
    copy = arena_alloc(a, len > 0 ? len : 1);
    if (copy == NULL) {
        rc = mw_fail(e, MWE_NOMEM, "%s: out of memory for %zu bytes", where, len);
        goto out;
    }
    if (len > 0)
        memcpy(copy, data, len);
    for (size_t i = 0; i < count; i++) {
        if (len - pos < 4) {
            rc = mw_fail(e, MWE_BAD_REQUEST,
                         "%s: BYTES element %zu: its 4-byte length is past the end of the input's "
                         "%zu bytes of binary data",
                         where, i, len);
            goto out;
        }
        n = (size_t)load_le(copy + pos, 4);
        pos += 4;
        if (n > len - pos) {
            rc = mw_fail(e, MWE_BAD_REQUEST,
                         "%s: BYTES element %zu: its length %zu is past the end of the input's %zu "
                         "bytes of binary data",
                         where, i, n, len);
            goto out;
        }
        elems[i].ptr = copy + pos;
        elems[i].len = n;
        pos += n;
    }
    if (pos != len)
        rc = mw_fail(e, MWE_BAD_REQUEST,
                     "%s: %zu bytes of binary data left after its %zu BYTES elements", where,
                     len - pos, count);
out:
    return rc;
}

static bool is_signed_int(int dtype)
{
    return dtype >= MW_INT8 && dtype <= MW_INT64;
}

/* Element i of `from` at src as a double (floating-point sources only). */
static double load_float(const uint8_t *src, int from, size_t i)
{
    uint64_t bits;
    float f;
    double d;

    switch (from) {
    case MW_FP16:
        return (double)dtype_fp16_to_float((uint16_t)load_le(src + 2 * i, 2));
    case MW_BF16:
        return (double)dtype_bf16_to_float((uint16_t)load_le(src + 2 * i, 2));
    case MW_FP32:
        bits = load_le(src + 4 * i, 4);
        {
            uint32_t b32 = (uint32_t)bits;
            memcpy(&f, &b32, sizeof(f));
        }
        return (double)f;
    default:
        bits = load_le(src + 8 * i, 8);
        memcpy(&d, &bits, sizeof(d));
        return d;
    }
}

/*
 * See model.h. Same dtype: a copy (BOOL bytes normalised to 0/1). Otherwise element by element:
 * integers are sign- or zero-extended, FP16/BF16/FP32 widened. The pair must be dtype_lossless and
 * not BYTES (the caller checked). Any thread.
 */
void binary_convert(const uint8_t *src, int from, void *dst, int to, size_t count)
{
    size_t fs = dtype_size(from), ts = dtype_size(to);
    uint8_t *out = dst;
    uint64_t u;
    int64_t sv;
    unsigned shift;

    if (from == to && from == MW_BOOL) {
        for (size_t i = 0; i < count; i++)
            out[i] = src[i] != 0;
        return;
    }
    if (from == to && HOST_LE) {
        if (count > 0)
            memcpy(dst, src, count * fs);
        return;
    }
    for (size_t i = 0; i < count; i++) {
        if (to == MW_FP32) {
            float f = (float)load_float(src, from, i);
            memcpy(out + 4 * i, &f, sizeof(f));
        } else if (to == MW_FP64) {
            double d = load_float(src, from, i);
            memcpy(out + 8 * i, &d, sizeof(d));
        } else {
            u = load_le(src + i * fs, fs);
            if (is_signed_int(from) && fs < 8) {
                shift = (unsigned)(64 - 8 * fs);
                sv = (int64_t)(u << shift) >> shift; /* sign-extend */
                u = (uint64_t)sv;
            }
            store_host(out + i * ts, u, ts); /* the low ts bytes: exact by dtype_lossless */
        }
    }
}

/*
 * See model.h: bytes of the binary form of count elements of t; SIZE_MAX when it overflows, a
 * BYTES element is longer than UINT32_MAX or is NULL with a length. Any thread.
 */
size_t binary_size(const struct mw_tensor *t, size_t count)
{
    const struct mw_bytes *b = t->data;
    size_t total = 0, es;

    if (t->dtype != MW_BYTES) {
        es = t->dtype == MW_BOOL ? 1 : dtype_size(t->dtype);
        if (es == 0 || (count > 0 && count > SIZE_MAX / es))
            return SIZE_MAX;
        return count * es;
    }
    for (size_t i = 0; i < count; i++) {
        if (b[i].len > UINT32_MAX || (b[i].ptr == NULL && b[i].len > 0) ||
            b[i].len > SIZE_MAX - 4 - total)
            return SIZE_MAX;
        total += 4 + b[i].len;
    }
    return total;
}

/*
 * See model.h. Numeric data is written little-endian, BOOL as 0/1 bytes, BYTES as length + bytes.
 * On error out is unchanged. Thread: the one owning out.
 */
int binary_write(struct buf *out, const struct mw_tensor *t, size_t count)
{
    size_t start = out->len, es = dtype_size(t->dtype), size = binary_size(t, count);
    const uint8_t *d = t->data;
    uint8_t tmp[256];
    int rc = 0;

    if (size == SIZE_MAX) {
        rc = MWE_MODEL_FAILED;
        goto out;
    }
    if (t->dtype == MW_BYTES) {
        const struct mw_bytes *b = t->data;
        for (size_t i = 0; rc == 0 && i < count; i++) {
            store_le(tmp, (uint64_t)b[i].len, 4);
            rc = buf_append(out, tmp, 4);
            if (rc == 0 && b[i].len > 0)
                rc = buf_append(out, b[i].ptr, b[i].len);
        }
    } else if (t->dtype == MW_BOOL || !HOST_LE) {
        for (size_t i = 0; rc == 0 && i < count;) {
            size_t n = 0;
            while (i < count && n + es <= sizeof(tmp)) {
                if (t->dtype == MW_BOOL)
                    tmp[n] = d[i] != 0;
                else
                    store_le(tmp + n, load_host(d + i * es, es), es);
                n += es;
                i++;
            }
            rc = buf_append(out, tmp, n);
        }
    } else if (size > 0) {
        rc = buf_append(out, d, size);
    }
    if (rc != 0 && out->ptr != NULL) {
        out->len = start;
        out->ptr[start] = '\0';
    }
out:
    return rc;
}
