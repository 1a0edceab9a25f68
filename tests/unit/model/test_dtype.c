/*
 * Unit tests for src/model/dtype.c's ABI 1.1 additions: FP16 and BF16 (names, sizes, exact
 * conversions both ways, every FP16 value round-tripped) and the table of lossless conversions
 * that requests may rely on.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "model/model_impl.h"

static void test_names(void **state)
{
    (void)state;
    assert_int_equal(MW_FP16, 13);
    assert_int_equal(MW_BF16, 14);
    assert_int_equal(MW_ABI_MAJOR, 2);
    assert_int_equal(dtype_parse("FP16", 4), MW_FP16);
    assert_int_equal(dtype_parse("BF16", 4), MW_BF16);
    assert_string_equal(dtype_name(MW_FP16), "FP16");
    assert_string_equal(dtype_name(MW_BF16), "BF16");
    assert_int_equal(dtype_size(MW_FP16), 2);
    assert_int_equal(dtype_size(MW_BF16), 2);
    assert_true(dtype_is_number(MW_FP16) && dtype_is_number(MW_BF16));
    assert_true(dtype_is_number(MW_UINT8) && dtype_is_number(MW_FP64));
    assert_false(dtype_is_number(MW_BOOL) || dtype_is_number(MW_BYTES) || dtype_is_number(0) ||
                 dtype_is_number(15));
}

static void test_fp16(void **state)
{
    uint16_t h;
    int finite = 0;

    (void)state;
    assert_true(dtype_fp16_to_float(0x3c00) == 1.0f);
    assert_true(dtype_fp16_to_float(0xc000) == -2.0f);
    assert_true(dtype_fp16_to_float(0x7bff) == 65504.0f);
    assert_true(dtype_fp16_to_float(0x0001) == ldexpf(1.0f, -24));
    assert_true(dtype_fp16_to_float(0x0400) == ldexpf(1.0f, -14));
    assert_true(isinf(dtype_fp16_to_float(0x7c00)));
    assert_true(isnan(dtype_fp16_to_float(0x7e00)));
    assert_true(signbit(dtype_fp16_to_float(0x8000)));

    /* every finite FP16 value converts back to its own bits */
    for (uint32_t bits = 0; bits <= 0xffff; bits++) {
        float f = dtype_fp16_to_float((uint16_t)bits);
        if (!isfinite(f))
            continue;
        finite++;
        if (!dtype_fp16_from_double((double)f, &h) || h != bits)
            fail_msg("FP16 0x%04x (%g) did not round-trip: 0x%04x", bits, (double)f, h);
    }
    assert_int_equal(finite, 63488); /* 2^16 - 2 * 1024 infinities and NaNs */

    /* values that need rounding, or are out of range, are refused */
    assert_false(dtype_fp16_from_double(0.1, &h));
    assert_false(dtype_fp16_from_double(65505.0, &h));
    assert_false(dtype_fp16_from_double(65536.0, &h));
    assert_false(dtype_fp16_from_double(ldexp(1.0, -25), &h));
    assert_false(dtype_fp16_from_double(ldexp(3.0, -25), &h)); /* between two subnormals */
    assert_false(dtype_fp16_from_double(1.0 + ldexp(1.0, -11), &h));
    assert_false(dtype_fp16_from_double(INFINITY, &h));
    assert_false(dtype_fp16_from_double(NAN, &h));
    assert_false(dtype_fp16_from_double(1e-40, &h)); /* an FP32 subnormal */
    assert_true(dtype_fp16_from_double(1.0 + ldexp(1.0, -10), &h));
    assert_int_equal(h, 0x3c01);
    assert_true(dtype_fp16_from_double(-0.0, &h));
    assert_int_equal(h, 0x8000);
}

static void test_bf16(void **state)
{
    uint16_t h;

    (void)state;
    assert_true(dtype_bf16_to_float(0x3f80) == 1.0f);
    assert_true(dtype_bf16_to_float(0xbfc0) == -1.5f);
    assert_true(dtype_bf16_from_double(-1.5, &h));
    assert_int_equal(h, 0xbfc0);
    assert_true(dtype_bf16_from_double(ldexp(1.0, 127), &h));
    assert_int_equal(h, 0x7f00);
    assert_false(dtype_bf16_from_double(0.1, &h));
    assert_false(dtype_bf16_from_double(1.0 + ldexp(1.0, -8), &h));
    assert_false(dtype_bf16_from_double(1e39, &h));
    assert_false(dtype_bf16_from_double(NAN, &h));
    assert_true(dtype_bf16_from_double(1.0 + ldexp(1.0, -7), &h));
    assert_int_equal(h, 0x3f81);
}

static void test_lossless(void **state)
{
    static const struct {
        int from, to;
        bool ok;
    } cases[] = {
        {MW_FP32, MW_FP32, true},   {MW_BYTES, MW_BYTES, true}, {MW_BOOL, MW_BOOL, true},
        {MW_FP16, MW_FP32, true},   {MW_FP16, MW_FP64, true},   {MW_BF16, MW_FP32, true},
        {MW_BF16, MW_FP64, true},   {MW_FP32, MW_FP64, true},   {MW_INT8, MW_INT16, true},
        {MW_INT8, MW_INT64, true},  {MW_INT32, MW_INT64, true}, {MW_UINT8, MW_UINT64, true},
        {MW_UINT8, MW_INT16, true}, {MW_UINT16, MW_INT32, true}, {MW_UINT32, MW_INT64, true},
        /* refused */
        {MW_FP64, MW_FP32, false},  {MW_FP32, MW_FP16, false},  {MW_FP16, MW_BF16, false},
        {MW_BF16, MW_FP16, false},  {MW_INT16, MW_INT8, false}, {MW_INT8, MW_UINT16, false},
        {MW_UINT8, MW_INT8, false}, {MW_UINT64, MW_INT64, false}, {MW_INT32, MW_FP32, false},
        {MW_INT8, MW_FP64, false},  {MW_BOOL, MW_UINT8, false}, {MW_UINT8, MW_BOOL, false},
        {MW_BYTES, MW_UINT8, false}, {MW_FP32, MW_INT64, false}, {0, 0, false},
        {MW_FP32, 15, false},
    };

    (void)state;
    for (size_t i = 0; i < MW_ARRAY_LEN(cases); i++) {
        if (dtype_lossless(cases[i].from, cases[i].to) != cases[i].ok)
            fail_msg("dtype_lossless(%s, %s) should be %d", dtype_name(cases[i].from),
                     dtype_name(cases[i].to), cases[i].ok);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_fp16),
        cmocka_unit_test(test_bf16),
        cmocka_unit_test(test_lossless),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
