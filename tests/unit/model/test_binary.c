/*
 * Unit tests for src/model/binary.c, the binary tensor data extension: the header length, BYTES
 * elements (every length checked against the bytes present), the lossless conversions of
 * little-endian data into the model's dtype, and the binary form of output tensors.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "model/model_impl.h"

static struct slice sl(const char *s)
{
    return (struct slice){s, strlen(s)};
}

static void test_header_length(void **state)
{
    struct mw_error e = {0};
    size_t n = 99;

    (void)state;
    assert_int_equal(binary_header_length(sl("0"), 10, &n, &e), 0);
    assert_int_equal(n, 0);
    assert_int_equal(binary_header_length(sl("10"), 10, &n, &e), 0);
    assert_int_equal(n, 10);
    assert_int_equal(binary_header_length(sl("0007"), 10, &n, &e), 0);
    assert_int_equal(n, 7);
    assert_int_equal(binary_header_length(sl("11"), 10, &n, &e), MWE_BAD_REQUEST);
    assert_string_equal(e.msg, "Inference-Header-Content-Length is 11 but the body has only 10 "
                               "bytes");
    n = 5;
    for (const char *bad = "x\0-1\0 1\0001 \0+3\0001.0\0" "99999999999999999999999\0"; *bad;
         bad += strlen(bad) + 1) {
        assert_int_equal(binary_header_length(sl(bad), 100, &n, &e), MWE_BAD_REQUEST);
        assert_string_equal(e.msg, "Inference-Header-Content-Length must be a decimal number of "
                                   "bytes");
        assert_int_equal(n, 5); /* untouched */
    }
    assert_int_equal(binary_header_length((struct slice){NULL, 0}, 100, &n, &e),
                     MWE_BAD_REQUEST);
    assert_int_equal(binary_header_length(sl(""), 100, &n, &e), MWE_BAD_REQUEST);
    /* 20 digits that overflow 64 bits */
    assert_int_equal(binary_header_length(sl("99999999999999999999"), SIZE_MAX, &n, &e),
                     MWE_BAD_REQUEST);
}

static void test_read_bytes(void **state)
{
    static const uint8_t ok[] = {3, 0, 0, 0, 'a', 'b', 'c', 0, 0, 0, 0, 1, 0, 0, 0, 0};
    struct mw_bytes el[4];
    struct mw_error e = {0};
    struct arena a;
    uint8_t buf[32];

    (void)state;
    arena_init(&a, 0);
    memcpy(buf, ok, sizeof(ok));
    assert_int_equal(binary_read_bytes(buf, sizeof(ok), 3, el, &a, "inputs[2]", &e), 0);
    memset(buf, 'X', sizeof(buf)); /* the elements point into a copy */
    assert_int_equal(el[0].len, 3);
    assert_memory_equal(el[0].ptr, "abc", 3);
    assert_int_equal(el[1].len, 0);
    assert_int_equal(el[2].len, 1);
    assert_int_equal(el[2].ptr[0], 0);
    /* zero elements in zero bytes */
    assert_int_equal(binary_read_bytes(ok, 0, 0, el, &a, "inputs[0]", &e), 0);

    /* more elements than 4-byte lengths fit */
    assert_int_equal(binary_read_bytes(ok, 7, 2, el, &a, "inputs[1]", &e), MWE_BAD_REQUEST);
    assert_string_equal(e.msg, "inputs[1]: 7 bytes of binary data cannot hold 2 BYTES elements "
                               "(4 bytes of length each at least)");
    /* a length past the end */
    assert_int_equal(binary_read_bytes(ok, 6, 1, el, &a, "inputs[1]", &e), MWE_BAD_REQUEST);
    assert_string_equal(e.msg, "inputs[1]: BYTES element 0: its length 3 is past the end of the "
                               "input's 6 bytes of binary data");
    /* a huge length (0xffffffff) must not wrap */
    assert_int_equal(binary_read_bytes((const uint8_t *)"\xff\xff\xff\xff" "abcd", 8, 1, el, &a,
                                       "inputs[0]", &e),
                     MWE_BAD_REQUEST);
    assert_string_equal(e.msg, "inputs[0]: BYTES element 0: its length 4294967295 is past the "
                               "end of the input's 8 bytes of binary data");
    /* the second element's length field itself is cut */
    assert_int_equal(binary_read_bytes(ok, 9, 2, el, &a, "inputs[0]", &e), MWE_BAD_REQUEST);
    assert_string_equal(e.msg, "inputs[0]: BYTES element 1: its 4-byte length is past the end of "
                               "the input's 9 bytes of binary data");
    /* bytes left over */
    assert_int_equal(binary_read_bytes(ok, sizeof(ok), 2, el, &a, "inputs[0]", &e),
                     MWE_BAD_REQUEST);
    assert_string_equal(e.msg, "inputs[0]: 5 bytes of binary data left after its 2 BYTES "
                               "elements");
    arena_fini(&a);

    /* an arena too small for the copy */
    arena_init(&a, 16);
    assert_non_null(arena_alloc(&a, 16));
    assert_int_equal(binary_read_bytes(ok, sizeof(ok), 3, el, &a, "inputs[0]", &e), MWE_NOMEM);
    arena_fini(&a);
}

static void test_convert(void **state)
{
    static const uint8_t i8[] = {0x80, 0xff, 0x00, 0x7f};
    static const uint8_t u16[] = {0xff, 0xff, 0x01, 0x00};
    static const uint8_t f16[] = {0x00, 0x3c, 0x01, 0x00, 0x00, 0xfc}; /* 1, 2^-24, -inf */
    static const uint8_t bf16[] = {0xc0, 0x3f, 0x80, 0xbf};             /* 1.5, -1 */
    static const uint8_t b[] = {0, 1, 2, 255};
    int64_t out64[4];
    int32_t out32[4];
    uint64_t outu64[4];
    float outf[4];
    double outd[4];
    uint8_t outb[4];
    float f = 0.1f;
    uint8_t fb[4];

    (void)state;
    binary_convert(i8, MW_INT8, out64, MW_INT64, 4);
    assert_int_equal(out64[0], -128);
    assert_int_equal(out64[1], -1);
    assert_int_equal(out64[3], 127);
    binary_convert(i8, MW_INT8, out32, MW_INT32, 4);
    assert_int_equal(out32[0], -128);
    binary_convert(u16, MW_UINT16, out32, MW_INT32, 2); /* unsigned -> wider signed */
    assert_int_equal(out32[0], 65535);
    assert_int_equal(out32[1], 1);
    binary_convert(u16, MW_UINT16, outu64, MW_UINT64, 2);
    assert_true(outu64[0] == 65535);
    binary_convert(f16, MW_FP16, outf, MW_FP32, 3);
    assert_true(outf[0] == 1.0f);
    assert_true(outf[1] == ldexpf(1.0f, -24));
    assert_true(isinf(outf[2]) && outf[2] < 0);
    binary_convert(f16, MW_FP16, outd, MW_FP64, 2);
    assert_true(outd[1] == ldexp(1.0, -24));
    binary_convert(bf16, MW_BF16, outf, MW_FP32, 2);
    assert_true(outf[0] == 1.5f && outf[1] == -1.0f);
    memcpy(fb, &f, 4); /* little-endian host */
    binary_convert(fb, MW_FP32, outd, MW_FP64, 1);
    assert_true(outd[0] == (double)0.1f);
    binary_convert(b, MW_BOOL, outb, MW_BOOL, 4); /* BOOL bytes normalised */
    assert_memory_equal(outb, "\0\1\1\1", 4);
    binary_convert((const uint8_t *)"\x01\x02\x03\x04\x05\x06\x07\x08", MW_UINT64, outu64,
                   MW_UINT64, 1);
    assert_true(outu64[0] == UINT64_C(0x0807060504030201));
}

static void test_size_and_write(void **state)
{
    struct mw_bytes el[3] = {{(const uint8_t *)"hey", 3}, {NULL, 0}, {(const uint8_t *)"\0", 1}};
    struct mw_tensor t = {.name = "t", .dtype = MW_BYTES, .ndim = 1, .shape = {3}, .data = el};
    int16_t v[3] = {1, -2, 300};
    uint8_t flags[3] = {0, 9, 1};
    struct buf out;

    (void)state;
    assert_int_equal(binary_size(&t, 3), 4 + 3 + 4 + 0 + 4 + 1);
    buf_init(&out, 1 << 16);
    assert_int_equal(binary_write(&out, &t, 3), 0);
    assert_int_equal(out.len, 16);
    assert_memory_equal(out.ptr, "\3\0\0\0hey\0\0\0\0\1\0\0\0\0", 16);

    t.dtype = MW_INT16;
    t.data = v;
    assert_int_equal(binary_size(&t, 3), 6);
    buf_reset(&out);
    assert_int_equal(binary_write(&out, &t, 3), 0);
    assert_memory_equal(out.ptr, "\x01\x00\xfe\xff\x2c\x01", 6);

    t.dtype = MW_BOOL;
    t.data = flags;
    buf_reset(&out);
    assert_int_equal(binary_write(&out, &t, 3), 0);
    assert_memory_equal(out.ptr, "\0\1\1", 3);

    /* a NULL BYTES element with a length is refused, and nothing is written */
    el[1] = (struct mw_bytes){NULL, 2};
    t.dtype = MW_BYTES;
    t.data = el;
    assert_int_equal(binary_size(&t, 3), SIZE_MAX);
    buf_reset(&out);
    assert_int_equal(buf_append(&out, "k", 1), 0);
    assert_int_equal(binary_write(&out, &t, 3), MWE_MODEL_FAILED);
    assert_int_equal(out.len, 1);
    buf_fini(&out);

    /* a bounded buffer: the write fails whole */
    el[1] = (struct mw_bytes){NULL, 0};
    buf_init(&out, 10);
    assert_int_equal(binary_write(&out, &t, 3), MWE_BODY_TOO_LARGE);
    assert_int_equal(out.len, 0);
    buf_fini(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_length),
        cmocka_unit_test(test_read_bytes),
        cmocka_unit_test(test_convert),
        cmocka_unit_test(test_size_and_write),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
