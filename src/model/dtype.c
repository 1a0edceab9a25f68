/*
 * Element types: the Open Inference Protocol names ("FP32", "BYTES", ...) of enum mw_dtype, the
 * size of one element, the lossless conversions a request may rely on, and FP16/BF16 <-> float.
 * One table, indexed by the enum value (the ABI fixes the values forever).
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_impl.h"

struct dtype_info {
    const char *name;
    size_t size;
};

static const struct dtype_info dtypes[] = {
    [MW_DTYPE_INVALID] = {"INVALID", 0},
    [MW_BOOL] = {"BOOL", 1},
    [MW_UINT8] = {"UINT8", 1},
    [MW_UINT16] = {"UINT16", 2},
    [MW_UINT32] = {"UINT32", 4},
    [MW_UINT64] = {"UINT64", 8},
    [MW_INT8] = {"INT8", 1},
    [MW_INT16] = {"INT16", 2},
    [MW_INT32] = {"INT32", 4},
    [MW_INT64] = {"INT64", 8},
    [MW_FP32] = {"FP32", 4},
    [MW_FP64] = {"FP64", 8},
    [MW_BYTES] = {"BYTES", sizeof(struct mw_bytes)},
    [MW_FP16] = {"FP16", 2},
    [MW_BF16] = {"BF16", 2},
};

static bool dtype_valid(int dtype)
{
    return dtype > MW_DTYPE_INVALID && (size_t)dtype < MW_ARRAY_LEN(dtypes);
}

/*
 * The enum value of an Open Inference Protocol type name: exact, case-sensitive match of `len`
 * bytes of s (a slice: need not be NUL-terminated; s may be NULL when len is 0). Returns
 * MW_DTYPE_INVALID for anything unknown. Any thread.
 */
int dtype_parse(const char *s, size_t len)
{
    if (s == NULL)
        return MW_DTYPE_INVALID;
    for (int i = MW_DTYPE_INVALID + 1; (size_t)i < MW_ARRAY_LEN(dtypes); i++) {
        const char *name = dtypes[i].name;
        if (strlen(name) == len && memcmp(name, s, len) == 0)
            return i;
    }
    return MW_DTYPE_INVALID;
}

/*
 * The name of a dtype ("FP32"); a static string, never NULL: "INVALID" for an unknown value.
 * Any thread.
 */
const char *dtype_name(int dtype)
{
    return dtype_valid(dtype) ? dtypes[dtype].name : dtypes[MW_DTYPE_INVALID].name;
}

/*
 * Bytes per element (sizeof(struct mw_bytes) for MW_BYTES); 0 for an unknown value. Any thread.
 */
size_t dtype_size(int dtype)
{
    return dtype_valid(dtype) ? dtypes[dtype].size : 0;
}

/* Bits of an integer dtype and whether it is signed; false for anything else. */
static bool int_bits(int dtype, unsigned *bits, bool *is_signed)
{
    switch (dtype) {
    case MW_UINT8:
    case MW_INT8:
        *bits = 8;
        break;
    case MW_UINT16:
    case MW_INT16:
        *bits = 16;
        break;
    case MW_UINT32:
    case MW_INT32:
        *bits = 32;
        break;
    case MW_UINT64:
    case MW_INT64:
        *bits = 64;
        break;
    default:
        return false;
    }
    *is_signed = dtype >= MW_INT8 && dtype <= MW_INT64;
    return true;
}

/*
 * True when every value of dtype `from` has an exact value of dtype `to`, as docs/v2.md lists
 * them: the same dtype; FP16/BF16 -> FP32/FP64; FP32 -> FP64; a narrower integer -> a wider one of
 * the same signedness; an unsigned integer -> a wider signed one. Any thread.
 */
bool dtype_lossless(int from, int to)
{
    unsigned fb = 0, tb = 0;
    bool fs = false, ts = false;

    if (!dtype_valid(from) || !dtype_valid(to))
        return false;
    if (from == to)
        return true;
    if ((from == MW_FP16 || from == MW_BF16) && (to == MW_FP32 || to == MW_FP64))
        return true;
    if (from == MW_FP32 && to == MW_FP64)
        return true;
    if (!int_bits(from, &fb, &fs) || !int_bits(to, &tb, &ts))
        return false;
    if (fs == ts)
        return fb < tb;
    return !fs && ts && fb < tb;
}

/*
 * True for the dtypes that hold numbers (integers and floating point, not BOOL or BYTES).
 * Any thread.
 */
bool dtype_is_number(int dtype)
{
    return (dtype >= MW_UINT8 && dtype <= MW_FP64) || dtype == MW_FP16 || dtype == MW_BF16;
}

/* See model.h. Any thread. */
bool dtype_int_range(int dtype, int64_t *lo, uint64_t *hi)
{
    *lo = 0;
    *hi = 0;
    switch (dtype) {
    case MW_UINT8:
        *hi = UINT8_MAX;
        return true;
    case MW_UINT16:
        *hi = UINT16_MAX;
        return true;
    case MW_UINT32:
        *hi = UINT32_MAX;
        return true;
    case MW_UINT64:
        *hi = UINT64_MAX;
        return true;
    case MW_INT8:
        *lo = INT8_MIN, *hi = INT8_MAX;
        return true;
    case MW_INT16:
        *lo = INT16_MIN, *hi = INT16_MAX;
        return true;
    case MW_INT32:
        *lo = INT32_MIN, *hi = INT32_MAX;
        return true;
    case MW_INT64:
        *lo = INT64_MIN, *hi = INT64_MAX;
        return true;
    default:
        return false;
    }
}

/* See model.h. Any thread. */
const char *mw_json_type_desc(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    case JSON_NULL:
        return "null";
    }
    return "an unknown value";
}

static uint32_t float_bits(float f)
{
    uint32_t u;

    memcpy(&u, &f, sizeof(u));
    return u;
}

static float bits_float(uint32_t u)
{
    float f;

    memcpy(&f, &u, sizeof(f));
    return f;
}

/*
 * The value of IEEE 754 binary16 bits h as a float (exact: every FP16 value is an FP32 value;
 * infinities and NaN included). Any thread.
 */
float dtype_fp16_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t mant = h & 0x3ffu;
    float f;

    if (exp == 0x1f) {
        f = bits_float(sign | 0x7f800000u | (mant << 13));
    } else if (exp != 0) {
        f = bits_float(sign | ((exp + 112u) << 23) | (mant << 13));
    } else {
        /* zero or subnormal: mant * 2^-24, exact in float */
        f = ldexpf((float)mant, -24);
        if (sign != 0)
            f = -f;
    }
    return f;
}

/* The value of bfloat16 bits h as a float (exact: they are the high half of an FP32). */
float dtype_bf16_to_float(uint16_t h)
{
    return bits_float((uint32_t)h << 16);
}

/*
 * The FP16 bits of d when d is exactly an FP16 value (zero, normal, subnormal; +-0 keep their
 * sign); false otherwise (not finite, out of range, or needs rounding). Any thread.
 */
bool dtype_fp16_from_double(double d, uint16_t *out)
{
    float f = (float)d;
    uint32_t u, sign, mant, full;
    int exp;
    unsigned shift;

    if (!isfinite(d) || (double)f != d)
        return false;
    u = float_bits(f);
    sign = (u >> 16) & 0x8000u;
    if ((u & 0x7fffffffu) == 0) {
        *out = (uint16_t)sign;
        return true;
    }
    if (((u >> 23) & 0xffu) == 0)
        return false; /* an FP32 subnormal is far below FP16's smallest value */
    exp = (int)((u >> 23) & 0xffu) - 127;
    mant = u & 0x7fffffu;
    if (exp > 15)
        return false;
    if (exp >= -14) {
        if ((mant & 0x1fffu) != 0)
            return false;
        *out = (uint16_t)(sign | ((uint32_t)(exp + 15) << 10) | (mant >> 13));
        return true;
    }
    if (exp < -24)
        return false;
    /* FP16 subnormal: m * 2^-24 with m < 1024 */
    full = mant | 0x800000u;
    shift = (unsigned)(-1 - exp);
    if ((full & ((1u << shift) - 1u)) != 0)
        return false;
    *out = (uint16_t)(sign | (full >> shift));
    return true;
}

/*
 * The bfloat16 bits of d when d is exactly a bfloat16 value; false otherwise (not finite, or its
 * FP32 form has any of the low 16 bits set). Any thread.
 */
bool dtype_bf16_from_double(double d, uint16_t *out)
{
    float f = (float)d;
    uint32_t u;

    if (!isfinite(d) || (double)f != d || !isfinite(f))
        return false;
    u = float_bits(f);
    if ((u & 0xffffu) != 0)
        return false;
    *out = (uint16_t)(u >> 16);
    return true;
}

/* Whether the text reads back as d (through strtof for FP32). */
static bool reads_back(const char *text, double d, bool fp32)
{
    return fp32 ? strtof(text, NULL) == (float)d : strtod(text, NULL) == d;
}

/* Powers of ten exact in double (up to 1e22). */
static const double pow10_tab[] = {1e0, 1e1, 1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                   1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};

/*
 * The FP32 fast path of dtype_format_float for 1e-4 <= |f| < 1e6 (where %g never uses an
 * exponent): the shortest of 6 to 9 significant digits that reads back as f, computed with
 * integer digits instead of snprintf + strtof. It gives up (returns false, and the printf search
 * runs) whenever double arithmetic cannot decide exactly: a scaled value too near a rounding
 * half-way point, or a candidate too near the half-way point between f and a neighbouring float.
 * 0.36 us per value went to the printf search in a 100-record request (docs/BENCHMARKS.md).
 */
static bool format_fp32_fast(char out[DTYPE_NUM_CAP], float f)
{
    double a = fabs((double)f);
    double lo, hi;
    int x = 0;
    size_t n = 0;

    if (!(a >= 1e-4 && a < 1e6))
        return false;
    while (x < 5 && a >= pow10_tab[x + 1]) /* x = floor(log10(a)), -4..5 */
        x++;
    if (a < 1.0) {
        x = -1;
        while (a < 1.0 / pow10_tab[-x] * (1.0 - 1e-15))
            x--;
        if (a * pow10_tab[-x] >= 10.0 || a * pow10_tab[-x] < 1.0)
            return false; /* too close to a power of ten to be sure */
    }
    /* The half-way points to the neighbouring floats, exact in double. */
    lo = ((double)f + (double)nextafterf(f, 0.0f)) / 2;
    hi = ((double)f + (double)nextafterf(f, f > 0 ? INFINITY : -INFINITY)) / 2;
    lo = fabs(lo);
    hi = fabs(hi);
    if (lo > hi) {
        double t = lo;
        lo = hi;
        hi = t;
    }
    for (int p = 6; p <= 9; p++) {
        int k = p - 1 - x; /* the candidate is m / 10^k */
        double scaled, v, frac, margin;
        uint64_t m;
        char digits[24];
        size_t nd;

        if (k < 0 || k > 15)
            return false;
        scaled = a * pow10_tab[k];
        m = (uint64_t)scaled;
        frac = scaled - (double)m;
        if (fabs(frac - 0.5) < 1e-6)
            return false; /* printf's rounding of the exact value is not certain here */
        if (frac > 0.5)
            m++;
        if (m < (uint64_t)pow10_tab[p - 1] || m >= (uint64_t)pow10_tab[p])
            return false; /* rounded up to the next power of ten: let printf do it */
        v = (double)m / pow10_tab[k];
        margin = hi * 1e-12;
        if (fabs(v - lo) < margin || fabs(v - hi) < margin)
            return false;
        if (!(v > lo && v < hi))
            continue; /* does not read back: one more digit */
        /* Text as %.{p}g writes it: fixed notation, trailing zeros and a bare point removed. */
        nd = fmt_u64(digits, m);
        while (nd > 1 && k > 0 && digits[nd - 1] == '0') {
            nd--;
            k--;
        }
        if (f < 0)
            out[n++] = '-';
        if (x < 0) {
            out[n++] = '0';
            out[n++] = '.';
            for (int z = 0; z < -x - 1; z++)
                out[n++] = '0';
            memcpy(out + n, digits, nd);
            n += nd;
        } else {
            size_t int_digits = nd - (size_t)k;
            memcpy(out + n, digits, int_digits);
            n += int_digits;
            if (k > 0) {
                out[n++] = '.';
                memcpy(out + n, digits + int_digits, (size_t)k);
                n += (size_t)k;
            }
        }
        out[n] = '\0';
        return true;
    }
    return false;
}

/* The shortest %.Ng (N from 6 to 9 for FP32, 15 to 17 for FP64) that reads back as d: the search
 * starts in the middle (model outputs mostly need 8 or 16 digits) and the longest needs no check
 * (9 and 17 digits always read back). "-0.0" for negative zero, "null" when not finite. */
void dtype_format_float(char out[DTYPE_NUM_CAP], double d, bool fp32)
{
    int mid = fp32 ? 7 : 16;
    char alt[DTYPE_NUM_CAP];

    if (!isfinite(d)) {
        memcpy(out, "null", 5);
        return;
    }
    if (d == 0 && signbit(d)) {
        memcpy(out, "-0.0", 5); /* "-0" reads back as the integer 0 in many parsers */
        return;
    }
    if (d > -1e6 && d < 1e6 && d == (double)(int32_t)d) {
        /* What %.6g prints for these (the shortest form, tried second below), without printf
         * and read-back: class ids, counts and other whole-number outputs are common. */
        out[fmt_i64(out, (int64_t)d)] = '\0';
        return;
    }
    if (fp32 && format_fp32_fast(out, (float)d))
        return;
    snprintf(out, DTYPE_NUM_CAP, "%.*g", mid, d);
    if (reads_back(out, d, fp32)) {
        snprintf(alt, DTYPE_NUM_CAP, "%.*g", mid - 1, d);
        if (reads_back(alt, d, fp32))
            memcpy(out, alt, DTYPE_NUM_CAP);
        return;
    }
    if (fp32) {
        snprintf(out, DTYPE_NUM_CAP, "%.8g", d);
        if (reads_back(out, d, fp32))
            return;
    }
    snprintf(out, DTYPE_NUM_CAP, "%.*g", fp32 ? 9 : 17, d);
}

bool dtype_format_number(char out[DTYPE_NUM_CAP], int dtype, const void *d, size_t i)
{
    switch (dtype) {
    case MW_BOOL:
        snprintf(out, DTYPE_NUM_CAP, "%s", ((const uint8_t *)d)[i] ? "true" : "false");
        return true;
    case MW_UINT8:
        snprintf(out, DTYPE_NUM_CAP, "%u", (unsigned)((const uint8_t *)d)[i]);
        return true;
    case MW_UINT16:
        snprintf(out, DTYPE_NUM_CAP, "%u", (unsigned)((const uint16_t *)d)[i]);
        return true;
    case MW_UINT32:
        snprintf(out, DTYPE_NUM_CAP, "%" PRIu32, ((const uint32_t *)d)[i]);
        return true;
    case MW_UINT64:
        snprintf(out, DTYPE_NUM_CAP, "%" PRIu64, ((const uint64_t *)d)[i]);
        return true;
    case MW_INT8:
        snprintf(out, DTYPE_NUM_CAP, "%d", (int)((const int8_t *)d)[i]);
        return true;
    case MW_INT16:
        snprintf(out, DTYPE_NUM_CAP, "%d", (int)((const int16_t *)d)[i]);
        return true;
    case MW_INT32:
        snprintf(out, DTYPE_NUM_CAP, "%" PRId32, ((const int32_t *)d)[i]);
        return true;
    case MW_INT64:
        snprintf(out, DTYPE_NUM_CAP, "%" PRId64, ((const int64_t *)d)[i]);
        return true;
    case MW_FP32:
        dtype_format_float(out, (double)((const float *)d)[i], true);
        return true;
    case MW_FP64:
        dtype_format_float(out, ((const double *)d)[i], false);
        return true;
    case MW_FP16:
        dtype_format_float(out, (double)dtype_fp16_to_float(((const uint16_t *)d)[i]), true);
        return true;
    case MW_BF16:
        dtype_format_float(out, (double)dtype_bf16_to_float(((const uint16_t *)d)[i]), true);
        return true;
    default:
        return false;
    }
}
