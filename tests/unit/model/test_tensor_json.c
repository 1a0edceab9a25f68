/*
 * Unit tests for src/model/tensor_json.c: the Open Inference Protocol request decoder (JSON data of
 * every dtype, conversions into the model's dtypes, nested data, shapes, batches, requested
 * outputs, parameters, binary inputs, raw bodies) with the exact error messages, and the response
 * encoder (JSON and binary outputs).
 */
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "model/model_impl.h"

/* ---- test models ----------------------------------------------------------------------------- */

/* clang-format off */
static struct mw_tensor_spec mixed_in[] = {
    {.name = "b", .dtype = MW_BOOL, .ndim = 1, .shape = {-1}},
    {.name = "u8", .dtype = MW_UINT8, .ndim = 1, .shape = {-1}},
    {.name = "i64", .dtype = MW_INT64, .ndim = 1, .shape = {-1}},
    {.name = "f32", .dtype = MW_FP32, .ndim = 2, .shape = {-1, 2}},
    {.name = "f64", .dtype = MW_FP64, .ndim = 1, .shape = {-1}},
    {.name = "s", .dtype = MW_BYTES, .ndim = 1, .shape = {-1}},
    {.name = "h", .dtype = MW_FP16, .ndim = 1, .shape = {-1}},
    {.name = "u64", .dtype = MW_UINT64, .ndim = 1, .shape = {-1}},
};
static struct mw_tensor_spec mixed_out[] = {
    {.name = "y", .dtype = MW_FP32, .ndim = 1, .shape = {-1}},
    {.name = "s", .dtype = MW_BYTES, .ndim = 1, .shape = {-1}},
    {.name = "h", .dtype = MW_FP16, .ndim = 1, .shape = {-1}},
    {.name = "flag", .dtype = MW_BOOL, .ndim = 2, .shape = {-1, 2}},
    {.name = "i8", .dtype = MW_INT8, .ndim = 1, .shape = {-1}},
    {.name = "u64", .dtype = MW_UINT64, .ndim = 1, .shape = {-1}},
};
static struct mw_tensor_spec iris_in[] = {
    {.name = "x", .dtype = MW_FP32, .ndim = 2, .shape = {-1, 4}},
};
static struct mw_tensor_spec iris_out[] = {
    {.name = "label", .dtype = MW_BYTES, .ndim = 1, .shape = {-1}},
    {.name = "p", .dtype = MW_FP32, .ndim = 2, .shape = {-1, 3}},
};
static struct mw_tensor_spec two_in[] = {
    {.name = "a", .dtype = MW_INT32, .ndim = 2, .shape = {-1, 2}},
    {.name = "t", .dtype = MW_BYTES, .ndim = 1, .shape = {-1}},
};
static struct mw_tensor_spec two_out[] = {
    {.name = "o", .dtype = MW_INT32, .ndim = 1, .shape = {-1}},
};
static struct mw_tensor_spec text_in[] = {
    {.name = "text", .dtype = MW_BYTES, .ndim = 1, .shape = {-1}},
};
static struct mw_tensor_spec img_in[] = {
    {.name = "img", .dtype = MW_UINT16, .ndim = 3, .shape = {2, -1, 3}},
};
/* clang-format on */

static struct model mixed = {
    .name = "mixed",
    .version = "7",
    .sig = {MW_ARRAY_LEN(mixed_in), mixed_in, MW_ARRAY_LEN(mixed_out), mixed_out, NULL},
    .opts = {.max_records = 100},
};
static struct model iris = {
    .name = "iris",
    .version = "1",
    .flags = MW_FLAG_BATCH,
    .sig = {1, iris_in, 2, iris_out, NULL},
    .opts = {.max_records = 3},
};
static struct model two = {
    .name = "two",
    .version = "1",
    .flags = MW_FLAG_BATCH,
    .sig = {2, two_in, 1, two_out, NULL},
    .opts = {.max_records = 10},
};
static struct model text = {.name = "text",
                            .version = "1",
                            .flags = MW_FLAG_BATCH,
                            .sig = {1, text_in, 1, two_out, NULL},
                            .opts = {.max_records = 10}};
static struct model img = {
    .name = "img", .version = "1", .sig = {1, img_in, 1, two_out, NULL}, .opts = {.max_records = 10}};

/* ---- helpers --------------------------------------------------------------------------------- */

struct fx {
    struct model_call *c;
    struct arena meta;
    struct v2_request req;
    struct mw_error e;
};

static struct fx *fx_new(struct model *m)
{
    struct fx *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    f->c = model_call_new(m, 1 << 20);
    assert_non_null(f->c);
    arena_init(&f->meta, 0);
    return f;
}

static void fx_free(struct fx *f)
{
    model_call_release(f->c);
    arena_fini(&f->meta);
    free(f);
}

static int decode(struct fx *f, const char *json)
{
    memset(&f->e, 0, sizeof(f->e));
    return tensor_decode_request(
        f->c, &f->meta, json, strlen(json), NULL, 0,
        f->c->model->opts.max_records ? f->c->model->opts.max_records : 100, &f->req, &f->e);
}

static int decode_bin(struct fx *f, const char *json, const void *bin, size_t bin_len)
{
    memset(&f->e, 0, sizeof(f->e));
    return tensor_decode_request(f->c, &f->meta, json, strlen(json), bin, bin_len,
                                 f->c->model->opts.max_records, &f->req, &f->e);
}

/* Decoding json against m must fail with code and exactly msg. */
static void expect_error(struct model *m, const char *json, int code, const char *msg)
{
    struct fx *f = fx_new(m);
    int rc = decode(f, json);

    if (rc != code || strcmp(f->e.msg, msg) != 0)
        fail_msg("decoding %s\n  got %d \"%s\"\n  want %d \"%s\"", json, rc, f->e.msg, code, msg);
    fx_free(f);
}

static void expect_bin_error(struct model *m, const char *json, const void *bin, size_t len,
                             const char *msg)
{
    struct fx *f = fx_new(m);
    int rc = decode_bin(f, json, bin, len);

    if (rc != MWE_BAD_REQUEST || strcmp(f->e.msg, msg) != 0)
        fail_msg("decoding %s\n  got %d \"%s\"\n  want \"%s\"", json, rc, f->e.msg, msg);
    fx_free(f);
}

#define MIXED_OK                                                                                   \
    "{\"id\": \"req-1\", \"parameters\": {\"binary_data_output\": false, \"team\": \"x\","         \
    " \"n\": 3},"                                                                                  \
    " \"inputs\": ["                                                                               \
    "{\"name\": \"f32\", \"shape\": [2, 2], \"datatype\": \"FP32\", \"data\": [[1.5, -2], [0.1, "  \
    "3e38]]},"                                                                                     \
    "{\"name\": \"b\", \"shape\": [3], \"datatype\": \"BOOL\", \"data\": [true, false, true]},"    \
    "{\"name\": \"u8\", \"shape\": [2], \"datatype\": \"UINT8\", \"data\": [0, 255]},"             \
    "{\"name\": \"i64\", \"shape\": [3], \"datatype\": \"INT8\", \"data\": [-128, 0, 127]},"       \
    "{\"name\": \"f64\", \"shape\": [2], \"datatype\": \"FP32\", \"data\": [0.1, 2]},"             \
    "{\"name\": \"s\", \"shape\": [2], \"datatype\": \"BYTES\", \"data\": [\"h\\u00e9\", \"\"]},"  \
    "{\"name\": \"h\", \"shape\": [3], \"datatype\": \"FP32\", \"data\": [0.5, -65504, "           \
    "0.000060975552]},"                                                                            \
    "{\"name\": \"u64\", \"shape\": [1], \"datatype\": \"UINT64\", \"data\": "                     \
    "[9223372036854775807]}"                                                                       \
    "], \"outputs\": [{\"name\": \"s\"}, {\"name\": \"h\", \"parameters\": {\"binary_data\": "     \
    "true}}]}"

/* ---- decoding -------------------------------------------------------------------------------- */

static void test_decode_all_types(void **state)
{
    struct fx *f = fx_new(&mixed);
    const struct mw_tensor *in = f->c->inputs;
    const struct mw_bytes *s;
    const uint16_t *h;

    (void)state;
    if (decode(f, MIXED_OK) != 0)
        fail_msg("%s", f->e.msg);
    /* inputs land in signature order, whatever the request's order */
    assert_int_equal(in[0].ndim, 1);
    assert_int_equal(in[0].shape[0], 3);
    assert_memory_equal(in[0].data, "\1\0\1", 3);
    assert_int_equal(((uint8_t *)in[1].data)[1], 255);
    assert_int_equal(((int64_t *)in[2].data)[0], -128); /* INT8 -> INT64 */
    assert_int_equal(((int64_t *)in[2].data)[2], 127);
    assert_int_equal(in[3].ndim, 2);
    assert_int_equal(in[3].shape[0], 2);
    assert_int_equal(in[3].shape[1], 2);
    assert_true(((float *)in[3].data)[0] == 1.5f);
    assert_true(((float *)in[3].data)[2] == 0.1f);
    assert_true(((float *)in[3].data)[3] == 3e38f);
    /* FP32 request data widened to FP64: the FP32 value, not the decimal */
    assert_true(((double *)in[4].data)[0] == (double)0.1f);
    s = in[5].data;
    assert_int_equal(s[0].len, 3);
    assert_memory_equal(s[0].ptr, "h\xc3\xa9", 3);
    assert_int_equal(s[1].len, 0);
    h = in[6].data;
    assert_int_equal(h[0], 0x3800); /* 0.5 */
    assert_int_equal(h[1], 0xfbff); /* -65504, the lowest FP16 */
    assert_int_equal(h[2], 0x03ff); /* the largest FP16 subnormal */
    assert_true(((uint64_t *)in[7].data)[0] == UINT64_C(9223372036854775807));

    assert_true(f->req.has_id);
    assert_string_equal(f->req.id, "req-1");
    assert_int_equal(f->req.id_len, 5);
    /* binary_data_output is the extension's: not echoed */
    assert_string_equal(f->req.parameters, "{\"team\":\"x\",\"n\":3}");
    assert_int_equal(f->req.n_outputs, 2);
    assert_int_equal(f->req.outputs[0].index, 1);
    assert_false(f->req.outputs[0].binary);
    assert_int_equal(f->req.outputs[1].index, 2);
    assert_true(f->req.outputs[1].binary);
    fx_free(f);
}

static void test_decode_nested_and_defaults(void **state)
{
    struct fx *f = fx_new(&iris);
    const float *x;

    (void)state;
    /* nested exactly as the shape (row-major), no id, no parameters, every output as JSON */
    if (decode(f, "{\"inputs\": [{\"name\": \"x\", \"shape\": [2, 4], \"datatype\": \"FP32\","
                  " \"data\": [[1, 2, 3, 4], [5, 6, 7, 8]]}]}") != 0)
        fail_msg("%s", f->e.msg);
    x = f->c->inputs[0].data;
    for (int i = 0; i < 8; i++)
        assert_true(x[i] == (float)(i + 1));
    assert_false(f->req.has_id);
    assert_null(f->req.parameters);
    assert_int_equal(f->req.n_outputs, 2);
    assert_int_equal(f->req.outputs[1].index, 1);
    assert_false(f->req.outputs[1].binary);
    fx_free(f);

    /* binary_data_output applies to every output; an empty outputs list means all of them */
    f = fx_new(&iris);
    if (decode(f, "{\"parameters\": {\"binary_data_output\": true}, \"outputs\": [],"
                  " \"inputs\": [{\"name\": \"x\", \"shape\": [1, 4], \"datatype\": \"INT16\","
                  " \"data\": [1, 2, 3, 4]}]}") != 0)
        fail_msg("%s", f->e.msg);
    assert_null(f->req.parameters);
    assert_true(f->req.outputs[0].binary && f->req.outputs[1].binary);
    assert_true(((float *)f->c->inputs[0].data)[3] == 4.0f); /* INT16 -> FP32, exact */
    fx_free(f);
}

static void test_decode_structure_errors(void **state)
{
    (void)state;
    expect_error(&iris, "{\"inputs\": [", MWE_INVALID_JSON,
                 "Invalid JSON at line 1, column 12: ']' expected near end of file");
    expect_error(&iris, "{\"id\": 1, \"id\": 2}", MWE_INVALID_JSON,
                 "Invalid JSON at line 1, column 14: duplicate object key near '\"id\"'");
    expect_error(&iris, "[1]", MWE_BAD_REQUEST,
                 "The inference request must be a JSON object, not an array.");
    expect_error(&iris, "{\"id\": 5, \"inputs\": []}", MWE_BAD_REQUEST,
                 "id: expected a string, got a number");
    expect_error(&iris, "{\"inputs\": []}", MWE_BAD_REQUEST,
                 "inputs: expected a non-empty array, got an array");
    expect_error(&iris, "{}", MWE_BAD_REQUEST, "inputs: expected a non-empty array, got nothing");
    expect_error(&iris, "{\"parameters\": [], \"inputs\": [1]}", MWE_BAD_REQUEST,
                 "parameters: expected an object, got an array");
    expect_error(&iris, "{\"parameters\": {\"k\": [1]}, \"inputs\": [1]}", MWE_BAD_REQUEST,
                 "parameters.k: expected a string, number or boolean, got an array");
    expect_error(&iris, "{\"parameters\": {\"binary_data_output\": 1}, \"inputs\": [1]}",
                 MWE_BAD_REQUEST, "parameters.binary_data_output: expected a boolean");
    expect_error(&iris, "{\"inputs\": [1]}", MWE_BAD_REQUEST,
                 "inputs[0]: expected an object, got a number");
    expect_error(&iris, "{\"inputs\": [{}]}", MWE_BAD_REQUEST, "inputs[0].name: expected a string");
    expect_error(&two, "{\"inputs\": [{\"name\": \"zz\\n\"}]}", MWE_BAD_REQUEST,
                 "inputs[0].name: the model has no input 'zz?' (its inputs: a, t)");
    expect_error(&iris,
                 "{\"inputs\": [{\"name\": \"x\", \"shape\": [1, 4], \"datatype\": \"FP32\","
                 " \"data\": [1, 2, 3, 4]}, {\"name\": \"x\"}]}",
                 MWE_BAD_REQUEST, "inputs: 2 inputs given, but the model has 1");
    expect_error(&two,
                 "{\"inputs\": [{\"name\": \"a\", \"shape\": [1, 2], \"datatype\": \"INT32\","
                 " \"data\": [1, 2]}, {\"name\": \"a\"}]}",
                 MWE_BAD_REQUEST, "inputs[1].name: input 'a' is given twice");
    expect_error(&two,
                 "{\"inputs\": [{\"name\": \"a\", \"shape\": [1, 2], \"datatype\": \"INT32\","
                 " \"data\": [1, 2]}]}",
                 MWE_BAD_REQUEST, "inputs: the model's input 't' is missing");
}

static void test_decode_datatype_errors(void **state)
{
    (void)state;
    expect_error(&iris, "{\"inputs\": [{\"name\": \"x\", \"datatype\": \"FLOAT32\"}]}",
                 MWE_BAD_REQUEST,
                 "inputs[0].datatype: unknown datatype 'FLOAT32' (accepted: BOOL, UINT8, UINT16, "
                 "UINT32, UINT64, INT8, INT16, INT32, INT64, FP16, BF16, FP32, FP64, BYTES)");
    expect_error(&iris, "{\"inputs\": [{\"name\": \"x\"}]}", MWE_BAD_REQUEST,
                 "inputs[0].datatype: expected a string (accepted: BOOL, UINT8, UINT16, UINT32, "
                 "UINT64, INT8, INT16, INT32, INT64, FP16, BF16, FP32, FP64, BYTES)");
    expect_error(&iris, "{\"inputs\": [{\"name\": \"x\", \"datatype\": \"FP16\"}]}",
                 MWE_BAD_REQUEST,
                 "inputs[0].datatype: FP16 data cannot be sent as JSON: send it as binary data "
                 "(parameters.binary_data_size, the binary tensor data extension)");
    expect_error(
        &iris, "{\"inputs\": [{\"name\": \"x\", \"datatype\": \"BYTES\"}]}", MWE_BAD_REQUEST,
        "inputs[0].datatype: BYTES cannot be converted to the model's FP32 for input 'x' "
        "(accepted: UINT8, UINT16, UINT32, UINT64, INT8, INT16, INT32, INT64, FP32, FP64)");
    expect_error(&two, "{\"inputs\": [{\"name\": \"t\", \"datatype\": \"BOOL\"}]}", MWE_BAD_REQUEST,
                 "inputs[0].datatype: BOOL cannot be converted to the model's BYTES for input 't' "
                 "(accepted: BYTES)");
    /* binary data: only the lossless pairs */
    expect_error(&iris,
                 "{\"inputs\": [{\"name\": \"x\", \"datatype\": \"INT32\", \"parameters\":"
                 " {\"binary_data_size\": 16}}]}",
                 MWE_BAD_REQUEST,
                 "inputs[0].datatype: INT32 cannot be converted to the model's FP32 for input 'x' "
                 "(accepted as binary data: FP32, FP16, BF16)");
}

static void test_decode_shape_errors(void **state)
{
    (void)state;
    expect_error(&iris, "{\"inputs\": [{\"name\": \"x\", \"datatype\": \"FP32\"}]}",
                 MWE_BAD_REQUEST, "inputs[0].shape: expected an array of integers, got nothing");
    expect_error(&iris, "{\"inputs\": [{\"name\": \"x\", \"datatype\": \"FP32\", \"shape\": [4]}]}",
                 MWE_BAD_REQUEST,
                 "inputs[0].shape: 1 dimensions, but the model's input 'x' has 2: [-1, 4]");
    expect_error(&iris,
                 "{\"inputs\": [{\"name\": \"x\", \"datatype\": \"FP32\", \"shape\": [1, 5]}]}",
                 MWE_BAD_REQUEST,
                 "inputs[0].shape[1]: expected 4 (the model's input 'x' is [-1, 4]), got 5");
    expect_error(&iris,
                 "{\"inputs\": [{\"name\": \"x\", \"datatype\": \"FP32\", \"shape\": [1, -4]}]}",
                 MWE_BAD_REQUEST, "inputs[0].shape[1]: expected a non-negative integer");
    expect_error(&iris,
                 "{\"inputs\": [{\"name\": \"x\", \"datatype\": \"FP32\", \"shape\": [1.5, 4]}]}",
                 MWE_BAD_REQUEST, "inputs[0].shape[0]: expected a non-negative integer");
    /* the batch dimension: 1 to the model's max_records (3) */
    expect_error(&iris,
                 "{\"inputs\": [{\"name\": \"x\", \"datatype\": \"FP32\", \"shape\": [4, 4]}]}",
                 MWE_BAD_REQUEST, "inputs[0].shape[0]: a batch of 4; the model takes 1 to 3");
    expect_error(&iris,
                 "{\"inputs\": [{\"name\": \"x\", \"datatype\": \"FP32\", \"shape\": [0, 4]}]}",
                 MWE_BAD_REQUEST, "inputs[0].shape[0]: a batch of 0; the model takes 1 to 3");
    /* the product of the shape must not overflow */
    expect_error(&img,
                 "{\"inputs\": [{\"name\": \"img\", \"datatype\": \"UINT16\", \"shape\":"
                 " [2, 9223372036854775807, 3]}]}",
                 MWE_BAD_REQUEST, "inputs[0].shape: too many elements");
    /* the batch is shared by every input of a batching model */
    expect_error(&two,
                 "{\"inputs\": [{\"name\": \"a\", \"shape\": [2, 2], \"datatype\": \"INT32\","
                 " \"data\": [1, 2, 3, 4]}, {\"name\": \"t\", \"shape\": [1], \"datatype\":"
                 " \"BYTES\", \"data\": [\"x\"]}]}",
                 MWE_BAD_REQUEST,
                 "inputs: input 't' has a batch of 1 but input 'a' has 2: the model batches every "
                 "input alike");
}

static void test_decode_data_errors(void **state)
{
    (void)state;
#define IRIS_DATA(d)                                                                               \
    "{\"inputs\": [{\"name\": \"x\", \"datatype\": \"FP32\", \"shape\": [1, 4], \"data\": " d "}]" \
    "}"
    expect_error(&iris, IRIS_DATA("[1, 2, 3]"), MWE_BAD_REQUEST,
                 "inputs[0].data: 3 elements, but shape [1, 4] holds 4");
    expect_error(&iris, IRIS_DATA("[1, 2, 3, 4, 5]"), MWE_BAD_REQUEST,
                 "inputs[0].data: 5 elements, but shape [1, 4] holds 4");
    expect_error(&iris, IRIS_DATA("{}"), MWE_BAD_REQUEST,
                 "inputs[0].data: expected an array (or parameters.binary_data_size for binary "
                 "data), got an object");
    expect_error(&iris, IRIS_DATA("[1, 2, \"3\", 4]"), MWE_BAD_REQUEST,
                 "inputs[0].data[2]: expected a number (FP32), got a string");
    expect_error(&iris, IRIS_DATA("[1, 2, 3, 1e39]"), MWE_BAD_REQUEST,
                 "inputs[0].data[3]: 1e+39 is out of range for FP32");
    /* nested data must follow the shape exactly, even when the flattened count matches */
    expect_error(&iris, IRIS_DATA("[[[[[[[[[1]]]]]]]], 2, 3, 4]"), MWE_BAD_REQUEST,
                 "inputs[0].data: 4 entries, but dimension 0 of shape [1, 4] is 1 (nested data "
                 "must follow the shape exactly; or send it flat)");
    expect_error(&iris, IRIS_DATA("[[1, 2], [3, 4]]"), MWE_BAD_REQUEST,
                 "inputs[0].data: 2 entries, but dimension 0 of shape [1, 4] is 1 (nested data "
                 "must follow the shape exactly; or send it flat)");
    expect_error(&iris, IRIS_DATA("[[1, 2, [3], 4]]"), MWE_BAD_REQUEST,
                 "inputs[0].data[0][2]: nested deeper than the 2 dimensions of shape [1, 4]");
    expect_error(&iris, IRIS_DATA("[1, 2, [3, 4]]"), MWE_BAD_REQUEST,
                 "inputs[0].data[2]: an array inside flat data (ragged or over-nested data is "
                 "refused: send it flat, or nested exactly as shape [1, 4])");
    expect_error(&iris,
                 "{\"inputs\": [{\"name\": \"x\", \"datatype\": \"FP32\", \"shape\": [2, 4], "
                 "\"data\": [[1, 2, 3, 4], 5, 6, 7, 8]}]}",
                 MWE_BAD_REQUEST,
                 "inputs[0].data: 5 entries, but dimension 0 of shape [2, 4] is 2 (nested data "
                 "must follow the shape exactly; or send it flat)");
#undef IRIS_DATA
#define MIXED_ONE(n, t, d)                                                                         \
    "{\"inputs\": [{\"name\": \"" n "\", \"datatype\": \"" t "\", \"shape\": [1], \"data\": [" d   \
    "]}]}"
    expect_error(&mixed, MIXED_ONE("u8", "UINT8", "256"), MWE_BAD_REQUEST,
                 "inputs[0].data[0]: 256 is out of range for UINT8");
    expect_error(&mixed, MIXED_ONE("u8", "UINT8", "-1"), MWE_BAD_REQUEST,
                 "inputs[0].data[0]: -1 is out of range for UINT8");
    expect_error(&mixed, MIXED_ONE("i64", "INT8", "-129"), MWE_BAD_REQUEST,
                 "inputs[0].data[0]: -129 is out of range for INT8");
    expect_error(&mixed, MIXED_ONE("i64", "INT64", "1.5"), MWE_BAD_REQUEST,
                 "inputs[0].data[0]: expected an integer (INT64), got 1.5");
    expect_error(&mixed, MIXED_ONE("i64", "INT64", "true"), MWE_BAD_REQUEST,
                 "inputs[0].data[0]: expected an integer (INT64), got a boolean");
    expect_error(&mixed, MIXED_ONE("b", "BOOL", "1"), MWE_BAD_REQUEST,
                 "inputs[0].data[0]: expected a boolean (BOOL), got a number");
    expect_error(&mixed, MIXED_ONE("s", "BYTES", "1"), MWE_BAD_REQUEST,
                 "inputs[0].data[0]: expected a string (BYTES), got a number");
    /* JSON numbers into another numeric dtype: only exact values. An accepted element lets the
     * decoder go on to the next check: the other inputs are missing. */
#define ACCEPTED MWE_BAD_REQUEST, "inputs: the model's input 'b' is missing"
    expect_error(&mixed, MIXED_ONE("f64", "FP64", "0.1"), ACCEPTED);
    expect_error(&mixed, MIXED_ONE("u8", "FP64", "2.5"), MWE_BAD_REQUEST,
                 "inputs[0].data[0]: 2.5 is not exactly representable as the model's UINT8 "
                 "(input 'u8')");
    expect_error(&mixed, MIXED_ONE("u8", "FP64", "3"), ACCEPTED);
    expect_error(&mixed, MIXED_ONE("i64", "UINT64", "9223372036854775807"), ACCEPTED);
    expect_error(&mixed, MIXED_ONE("h", "FP64", "0.1"), MWE_BAD_REQUEST,
                 "inputs[0].data[0]: 0.1 is not exactly representable as the model's FP16 (input "
                 "'h')");
    expect_error(&mixed, MIXED_ONE("h", "INT32", "65536"), MWE_BAD_REQUEST,
                 "inputs[0].data[0]: 65536 is not exactly representable as the model's FP16 "
                 "(input 'h')");
    expect_error(&mixed, MIXED_ONE("h", "INT32", "2048"), ACCEPTED);
    expect_error(&mixed, MIXED_ONE("u64", "INT64", "-1"), MWE_BAD_REQUEST,
                 "inputs[0].data[0]: -1 is not exactly representable as the model's UINT64 (input "
                 "'u64')");
#undef MIXED_ONE
#undef ACCEPTED
    expect_error(&mixed,
                 "{\"inputs\": [{\"name\": \"f64\", \"datatype\": \"INT64\", \"shape\": [1],"
                 " \"data\": [9007199254740993]}]}",
                 MWE_BAD_REQUEST,
                 "inputs[0].data[0]: 9007199254740993 is not exactly representable as the model's "
                 "FP64 (input 'f64')");
}

static void test_decode_outputs_errors(void **state)
{
#define IRIS_OUTS(o)                                                                               \
    "{\"inputs\": [{\"name\": \"x\", \"datatype\": \"FP32\", \"shape\": [1, 4], \"data\": [1, 2, " \
    "3, 4]}], \"outputs\": " o "}"
    (void)state;
    expect_error(&iris, IRIS_OUTS("{}"), MWE_BAD_REQUEST,
                 "outputs: expected an array, got an object");
    expect_error(&iris, IRIS_OUTS("[{\"name\": \"q\"}]"), MWE_BAD_REQUEST,
                 "outputs[0].name: the model has no output 'q' (its outputs: label, p)");
    expect_error(&iris, IRIS_OUTS("[{\"name\": \"p\"}, {\"name\": \"p\"}]"), MWE_BAD_REQUEST,
                 "outputs[1].name: output 'p' is requested twice");
    expect_error(&iris, IRIS_OUTS("[1]"), MWE_BAD_REQUEST,
                 "outputs[0]: expected an object with a \"name\"");
    expect_error(&iris, IRIS_OUTS("[{\"name\": \"p\"}, {\"name\": \"label\"}, {\"name\": \"x\"}]"),
                 MWE_BAD_REQUEST, "outputs: 3 requested, but the model has 2 outputs");
    expect_error(&iris, IRIS_OUTS("[{\"name\": \"p\", \"parameters\": {\"classification\": 2}}]"),
                 MWE_BAD_REQUEST,
                 "outputs[0].parameters.classification: the classification extension is not "
                 "supported");
    expect_error(&iris,
                 IRIS_OUTS("[{\"name\": \"p\", \"parameters\": {\"binary_data\": \"yes\"}}]"),
                 MWE_BAD_REQUEST, "outputs[0].parameters.binary_data: expected a boolean");
#undef IRIS_OUTS
    /* FP16 outputs only as binary data, refused before the model runs */
    expect_error(
        &mixed,
        "{\"inputs\": [{\"name\": \"u8\", \"datatype\": \"UINT8\", \"shape\": [0], \"data\": []}],"
        " \"outputs\": [{\"name\": \"h\"}]}",
        MWE_BAD_REQUEST, "inputs: the model's input 'b' is missing");
    {
        struct fx *f = fx_new(&text);
        int rc = decode(f, "{\"inputs\": [{\"name\": \"text\", \"datatype\": \"BYTES\", \"shape\":"
                           " [1], \"data\": [\"a\"]}]}");
        assert_int_equal(rc, 0);
        fx_free(f);
    }
}

/* A model whose only output is FP16: JSON responses are refused up front. */
static struct mw_tensor_spec half_out[] = {
    {.name = "h", .dtype = MW_FP16, .ndim = 1, .shape = {-1}},
};
static struct model half = {
    .name = "half", .version = "1", .sig = {1, text_in, 1, half_out, NULL}, .opts = {.max_records = 10}};

static void test_decode_half_output(void **state)
{
    struct fx *f;

    (void)state;
    expect_error(&half,
                 "{\"inputs\": [{\"name\": \"text\", \"datatype\": \"BYTES\", \"shape\": [1],"
                 " \"data\": [\"a\"]}]}",
                 MWE_BAD_REQUEST,
                 "outputs: output 'h' is FP16, which JSON cannot carry: ask for it as binary data "
                 "(\"parameters\": {\"binary_data\": true} on the output, or "
                 "\"binary_data_output\": true on the request)");
    f = fx_new(&half);
    assert_int_equal(decode(f, "{\"parameters\": {\"binary_data_output\": true}, \"inputs\":"
                               " [{\"name\": \"text\", \"datatype\": \"BYTES\", \"shape\": [1],"
                               " \"data\": [\"a\"]}]}"),
                     0);
    assert_true(f->req.outputs[0].binary);
    fx_free(f);
}

static void test_decode_binary(void **state)
{
    /* x: FP16 [1, 4] converted to the model's FP32; 8 bytes */
    static const uint8_t half4[] = {0x00, 0x3c, 0x00, 0x40,
                                    0x00, 0xc2, 0x00, 0x7c}; /* 1 2 -3 inf */
    static const uint8_t texts[] = {2, 0, 0, 0, 'h', 'i', 0, 0, 0, 0, 3, 0, 0, 0, 0xff, 0, 'z'};
    uint8_t a_and_t[8 + sizeof(texts)];
    struct fx *f = fx_new(&iris);
    const float *x;
    const struct mw_bytes *t;

    (void)state;
    if (decode_bin(f,
                   "{\"inputs\": [{\"name\": \"x\", \"datatype\": \"FP16\", \"shape\": [1, 4],"
                   " \"parameters\": {\"binary_data_size\": 8}}]}",
                   half4, sizeof(half4)) != 0)
        fail_msg("%s", f->e.msg);
    x = f->c->inputs[0].data;
    assert_true(x[0] == 1.0f && x[1] == 2.0f && x[2] == -3.0f && isinf(x[3]));
    fx_free(f);

    /* two inputs: INT16 widened to INT32, then three BYTES elements (one empty, one binary) */
    memcpy(a_and_t, "\x01\x00\xff\xff\x03\x00\x00\x80", 8);
    memcpy(a_and_t + 8, texts, sizeof(texts));
    f = fx_new(&two);
    if (decode_bin(f,
                   "{\"inputs\": [{\"name\": \"a\", \"datatype\": \"INT16\", \"shape\": [2, 2],"
                   " \"parameters\": {\"binary_data_size\": 8}}, {\"name\": \"t\", \"datatype\":"
                   " \"BYTES\", \"shape\": [3], \"parameters\": {\"binary_data_size\": 17}}]}",
                   a_and_t, sizeof(a_and_t)) == 0)
        fail_msg("the batch differs (2 and 3): expected an error");
    fx_free(f);
    f = fx_new(&two);
    if (decode_bin(f,
                   "{\"inputs\": [{\"name\": \"a\", \"datatype\": \"INT16\", \"shape\": [3, 2],"
                   " \"parameters\": {\"binary_data_size\": 12}}, {\"name\": \"t\", \"datatype\":"
                   " \"BYTES\", \"shape\": [3], \"parameters\": {\"binary_data_size\": 17}}]}",
                   (const uint8_t *)"\x01\x00\xff\xff\x03\x00\x00\x80\x05\x00\x06\x00"
                                    "\x02\x00\x00\x00hi\x00\x00\x00\x00\x03\x00\x00\x00\xff\x00z",
                   29) != 0)
        fail_msg("%s", f->e.msg);
    assert_int_equal(((int32_t *)f->c->inputs[0].data)[0], 1);
    assert_int_equal(((int32_t *)f->c->inputs[0].data)[1], -1);
    assert_int_equal(((int32_t *)f->c->inputs[0].data)[3], -32768);
    assert_int_equal(((int32_t *)f->c->inputs[0].data)[5], 6);
    t = f->c->inputs[1].data;
    assert_int_equal(t[0].len, 2);
    assert_memory_equal(t[0].ptr, "hi", 2);
    assert_int_equal(t[1].len, 0);
    assert_int_equal(t[2].len, 3);
    assert_memory_equal(t[2].ptr, "\xff\0z", 3);
    fx_free(f);

#define X_BIN(n)                                                                                   \
    "{\"inputs\": [{\"name\": \"x\", \"datatype\": \"FP32\", \"shape\": [1, 4], \"parameters\": "  \
    "{\"binary_data_size\": " n "}}]}"
    expect_bin_error(
        &iris, X_BIN("12"), "0123456789ab", 12,
        "inputs[0].parameters.binary_data_size: 12 bytes, but 4 FP32 elements take 16");
    expect_bin_error(&iris, X_BIN("16"), "0123456789ab", 12,
                     "inputs[0].parameters.binary_data_size: 16 bytes, but only 12 bytes of "
                     "binary data are left in the body");
    expect_bin_error(&iris, X_BIN("16"), "0123456789abcdefXY", 18,
                     "The body has 18 bytes of binary data after the JSON header, but the inputs' "
                     "binary_data_size add up to 16");
    expect_bin_error(&iris, X_BIN("-1"), "", 0,
                     "inputs[0].parameters.binary_data_size: expected a non-negative integer");
    expect_bin_error(&iris,
                     "{\"inputs\": [{\"name\": \"x\", \"datatype\": \"FP32\", \"shape\": [1, 4],"
                     " \"data\": [1, 2, 3, 4], \"parameters\": {\"binary_data_size\": 16}}]}",
                     "0123456789abcdef", 16,
                     "inputs[0]: has both \"data\" and parameters.binary_data_size");
    expect_bin_error(&iris, X_BIN("16"), "", 0,
                     "inputs[0].parameters.binary_data_size: 16 bytes, but only 0 bytes of binary "
                     "data are left in the body");
#undef X_BIN
    expect_bin_error(&text,
                     "{\"inputs\": [{\"name\": \"text\", \"datatype\": \"BYTES\", \"shape\": [1],"
                     " \"parameters\": {\"binary_data_size\": 7}}]}",
                     "\x09\0\0\0abc", 7,
                     "inputs[0]: BYTES element 0: its length 9 is past the end of the input's 7 "
                     "bytes of binary data");
    /* JSON data with binary bytes after it and no binary input */
    expect_bin_error(&text,
                     "{\"inputs\": [{\"name\": \"text\", \"datatype\": \"BYTES\", \"shape\": [1],"
                     " \"data\": [\"a\"]}]}",
                     "zz", 2,
                     "The body has 2 bytes of binary data after the JSON header, but the inputs' "
                     "binary_data_size add up to 0");
}

static void test_decode_raw(void **state)
{
    float four[4] = {5.1f, 3.5f, 1.4f, 0.2f};
    uint16_t img6[12];
    struct fx *f;
    int rc;

    (void)state;
    /* a batching model: batch 1, the rest fixed */
    f = fx_new(&iris);
    rc = tensor_decode_raw(f->c, &f->meta, (const uint8_t *)four, 16, &f->req, &f->e);
    assert_int_equal(rc, 0);
    assert_int_equal(f->c->inputs[0].shape[0], 1);
    assert_int_equal(f->c->inputs[0].shape[1], 4);
    assert_memory_equal(f->c->inputs[0].data, four, 16);
    assert_int_equal(f->req.n_outputs, 2);
    assert_true(f->req.outputs[0].binary && f->req.outputs[1].binary);
    fx_free(f);

    f = fx_new(&iris);
    rc = tensor_decode_raw(f->c, &f->meta, (const uint8_t *)four, 12, &f->req, &f->e);
    assert_int_equal(rc, MWE_BAD_REQUEST);
    assert_string_equal(f->e.msg, "raw binary data: 12 bytes do not make the input 'x' (FP32 "
                                  "[-1, 4], 16 bytes per request)");
    fx_free(f);

    /* one variable dimension, deduced from the size */
    f = fx_new(&img);
    for (int i = 0; i < 12; i++)
        img6[i] = (uint16_t)(i * 1000);
    rc = tensor_decode_raw(f->c, &f->meta, (const uint8_t *)img6, 24, &f->req, &f->e);
    assert_int_equal(rc, 0);
    assert_int_equal(f->c->inputs[0].shape[0], 2);
    assert_int_equal(f->c->inputs[0].shape[1], 2);
    assert_int_equal(f->c->inputs[0].shape[2], 3);
    assert_int_equal(((uint16_t *)f->c->inputs[0].data)[11], 11000);
    fx_free(f);
    f = fx_new(&img);
    rc = tensor_decode_raw(f->c, &f->meta, (const uint8_t *)img6, 10, &f->req, &f->e);
    assert_int_equal(rc, MWE_BAD_REQUEST);
    assert_string_equal(f->e.msg, "raw binary data: 10 bytes do not make the input 'img' (UINT16 "
                                  "[2, -1, 3], 12 bytes per step of the variable dimension)");
    fx_free(f);

    /* BYTES: the body is the one element */
    f = fx_new(&text);
    rc = tensor_decode_raw(f->c, &f->meta, (const uint8_t *)"any\0bytes", 9, &f->req, &f->e);
    assert_int_equal(rc, 0);
    assert_int_equal(f->c->inputs[0].shape[0], 1);
    assert_int_equal(((struct mw_bytes *)f->c->inputs[0].data)[0].len, 9);
    assert_memory_equal(((struct mw_bytes *)f->c->inputs[0].data)[0].ptr, "any\0bytes", 9);
    fx_free(f);

    /* two inputs: not a raw model */
    f = fx_new(&two);
    rc = tensor_decode_raw(f->c, &f->meta, (const uint8_t *)four, 16, &f->req, &f->e);
    assert_int_equal(rc, MWE_BAD_REQUEST);
    assert_string_equal(f->e.msg, "Inference-Header-Content-Length: 0 (raw binary data) needs a "
                                  "model with one input; 'two' has 2");
    fx_free(f);
}

/* ---- encoding -------------------------------------------------------------------------------- */

static void fill_mixed_outputs(struct model_call *c, const char *str, size_t str_len)
{
    int64_t s1[1] = {2}, s2[2] = {2, 2};
    float *y = model_call_output(c, 0, 1, s1);
    struct mw_bytes *s = model_call_output(c, 1, 1, s1);
    uint16_t *h = model_call_output(c, 2, 1, s1);
    uint8_t *flag = model_call_output(c, 3, 2, s2);
    int8_t *i8 = model_call_output(c, 4, 1, s1);
    uint64_t *u64 = model_call_output(c, 5, 1, s1);

    assert_true(y && s && h && flag && i8 && u64);
    y[0] = 0.1f;
    y[1] = NAN;
    s[0] = (struct mw_bytes){(const uint8_t *)str, str_len};
    s[1] = (struct mw_bytes){NULL, 0};
    h[0] = 0x3c00; /* 1.0 */
    h[1] = 0xc000; /* -2.0 */
    flag[0] = 1;
    flag[1] = 0;
    flag[2] = 7; /* any non-zero byte is true */
    flag[3] = 0;
    i8[0] = -128;
    i8[1] = 5;
    u64[0] = UINT64_MAX;
    u64[1] = 0;
}

static void test_encode_json_and_binary(void **state)
{
    struct fx *f = fx_new(&mixed);
    struct buf out;
    size_t header_len = 0;
    bool binary = true;
    struct v2_output outs[4] = {{1, false}, {3, false}, {5, false}, {2, true}};
    static const char want_json[] =
        "{\"model_name\":\"mixed\",\"model_version\":\"7\",\"id\":\"a\\\"b\","
        "\"parameters\":{\"k\":1},\"outputs\":["
        "{\"name\":\"s\",\"datatype\":\"BYTES\",\"shape\":[2],\"data\":[\"caf\xc3\xa9\\n\",\"\"]},"
        "{\"name\":\"flag\",\"datatype\":\"BOOL\",\"shape\":[2,2],\"data\":[true,false,true,false]}"
        ","
        "{\"name\":\"u64\",\"datatype\":\"UINT64\",\"shape\":[2],\"data\":[18446744073709551615,0]}"
        ","
        "{\"name\":\"h\",\"datatype\":\"FP16\",\"shape\":[2],\"parameters\":{\"binary_data_size\":"
        "4}}"
        "]}";

    (void)state;
    fill_mixed_outputs(f->c, "caf\xc3\xa9\n", 6);
    f->req.has_id = true;
    f->req.id = "a\"b";
    f->req.id_len = 3;
    f->req.parameters = "{\"k\":1}";
    f->req.outputs = outs;
    f->req.n_outputs = 4;
    buf_init(&out, 1 << 20);
    assert_int_equal(buf_append(&out, "X", 1), 0); /* appended after what is there */
    assert_int_equal(tensor_encode_response(f->c, &f->req, &out, &header_len, &binary, &f->e), 0);
    assert_true(binary);
    assert_int_equal(header_len, strlen(want_json));
    assert_int_equal(out.len, 1 + header_len + 4);
    assert_memory_equal(out.ptr + 1, want_json, header_len);
    assert_memory_equal(out.ptr + 1 + header_len, "\x00\x3c\x00\xc0", 4);

    /* all JSON: numbers print shortest, NaN as null; no binary */
    buf_reset(&out);
    outs[0] = (struct v2_output){0, false};
    outs[1] = (struct v2_output){4, false};
    f->req.n_outputs = 2;
    f->req.has_id = false;
    f->req.parameters = NULL;
    assert_int_equal(tensor_encode_response(f->c, &f->req, &out, &header_len, &binary, &f->e), 0);
    assert_false(binary);
    assert_int_equal(header_len, out.len);
    assert_string_equal(out.ptr, "{\"model_name\":\"mixed\",\"model_version\":\"7\",\"outputs\":["
                                 "{\"name\":\"y\",\"datatype\":\"FP32\",\"shape\":[2],\"data\":"
                                 "[0.1,null]},{\"name\":\"i8\",\"datatype\":\"INT8\",\"shape\":[2],"
                                 "\"data\":[-128,5]}]}");
    buf_fini(&out);
    fx_free(f);
}

static void test_encode_errors(void **state)
{
    struct fx *f = fx_new(&mixed);
    struct v2_output outs[2] = {{1, false}, {1, true}};
    struct buf out;
    size_t header_len;
    bool binary;

    (void)state;
    fill_mixed_outputs(f->c, "bad \xff utf-8", 11);
    f->req.outputs = outs;
    f->req.n_outputs = 1;
    buf_init(&out, 1 << 20);
    assert_int_equal(buf_append(&out, "keep", 4), 0);
    assert_int_equal(tensor_encode_response(f->c, &f->req, &out, &header_len, &binary, &f->e),
                     MWE_BAD_REQUEST);
    assert_string_equal(f->e.msg, "Output 's' holds bytes that are not UTF-8 text, which JSON "
                                  "cannot carry: ask for it as binary data (\"parameters\": "
                                  "{\"binary_data\": true})");
    assert_int_equal(out.len, 4); /* rolled back */
    assert_string_equal(out.ptr, "keep");
    /* as binary data the same bytes are fine */
    f->req.outputs = &outs[1];
    assert_int_equal(tensor_encode_response(f->c, &f->req, &out, &header_len, &binary, &f->e), 0);
    assert_int_equal(out.len, 4 + header_len + 4 + 11 + 4);
    assert_memory_equal(out.ptr + 4 + header_len, "\x0b\0\0\0bad \xff utf-8\0\0\0\0", 19);
    /* a BYTES element with a NULL pointer and a length: the model is at fault */
    ((struct mw_bytes *)f->c->outputs[1].data)[1] = (struct mw_bytes){NULL, 3};
    buf_reset(&out);
    assert_int_equal(tensor_encode_response(f->c, &f->req, &out, &header_len, &binary, &f->e),
                     MWE_MODEL_FAILED);
    assert_int_equal(out.len, 0);
    /* a response bounded by the buffer's maximum */
    buf_fini(&out);
    buf_init(&out, 16);
    outs[0].binary = false;
    f->req.outputs = outs;
    ((struct mw_bytes *)f->c->outputs[1].data)[0] = (struct mw_bytes){(const uint8_t *)"ok", 2};
    ((struct mw_bytes *)f->c->outputs[1].data)[1] = (struct mw_bytes){NULL, 0};
    assert_int_equal(tensor_encode_response(f->c, &f->req, &out, &header_len, &binary, &f->e),
                     MWE_BODY_TOO_LARGE);
    assert_int_equal(out.len, 0);
    buf_fini(&out);
    fx_free(f);
}

/* Floats print as the shortest text that reads back exactly; -0 keeps its sign; no NaN in JSON. */
static struct mw_tensor_spec float_out[] = {
    {.name = "f", .dtype = MW_FP32, .ndim = 1, .shape = {-1}},
    {.name = "d", .dtype = MW_FP64, .ndim = 1, .shape = {-1}},
};
static struct model floats = {.name = "floats",
                              .version = "1",
                              .sig = {1, text_in, 2, float_out, NULL},
                              .opts = {.max_records = 10}};

static void test_encode_float_formats(void **state)
{
    static const float fv[] = {0.1f,  0.99185115f, 16777217.0f, FLT_MAX,
                               -0.0f, 1e-45f,      2.5f,        INFINITY};
    static const double dv[] = {0.1, 1.0 / 3.0, DBL_MAX, 5e-324, -0.0, 1e22, 123456789.125, NAN};
    struct fx *f = fx_new(&floats);
    struct v2_output outs[2] = {{0, false}, {1, false}};
    int64_t n = 8;
    float *fo = model_call_output(f->c, 0, 1, &n);
    double *dd = model_call_output(f->c, 1, 1, &n);
    struct buf out;
    size_t header_len;
    bool binary;
    json_t *j, *data;

    (void)state;
    assert_true(fo && dd);
    memcpy(fo, fv, sizeof(fv));
    memcpy(dd, dv, sizeof(dv));
    f->req.outputs = outs;
    f->req.n_outputs = 2;
    buf_init(&out, 1 << 16);
    assert_int_equal(tensor_encode_response(f->c, &f->req, &out, &header_len, &binary, &f->e), 0);
    assert_non_null(strstr(out.ptr, "\"data\":[0.1,0.99185115,16777216,3.4028235e+38,-0.0,"
                                    "1.4013e-45,2.5,null]"));
    assert_non_null(strstr(out.ptr, "\"data\":[0.1,0.3333333333333333,1.7976931348623157e+308,"));
    assert_non_null(strstr(out.ptr, ",-0.0,1e+22,123456789.125,null]"));
    j = json_loads(out.ptr, 0, NULL);
    assert_non_null(j);
    data = json_object_get(json_array_get(json_object_get(j, "outputs"), 1), "data");
    for (size_t i = 0; i < 7; i++) /* every finite value reads back exactly */
        assert_true(json_number_value(json_array_get(data, i)) == dv[i]);
    data = json_object_get(json_array_get(json_object_get(j, "outputs"), 0), "data");
    for (size_t i = 0; i < 7; i++)
        assert_true((float)json_number_value(json_array_get(data, i)) == fv[i]);
    json_decref(j);
    buf_fini(&out);
    fx_free(f);
}

/* Whole numbers take a path without printf: the text must be what the %g search gives. */
static void test_format_whole_numbers(void **state)
{
    static const double v[] = {
        0,   1,    -1,     3,   42,        -42,      999999,       -999999,
        1e6, -1e6, 123456, 7.5, 1e6 - 0.5, 16777216, 4294967296.0, -2147483648.0};
    char got[DTYPE_NUM_CAP], want[DTYPE_NUM_CAP];

    (void)state;
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        for (int fp32 = 0; fp32 <= 1; fp32++) {
            double d = fp32 ? (double)(float)v[i] : v[i];
            int n = fp32 ? 6 : 15;

            dtype_format_float(got, d, fp32);
            /* the reference: the shortest %.Ng that reads back, from 6 (FP32) or 15 (FP64) digits
             */
            for (;; n++) {
                snprintf(want, sizeof(want), "%.*g", n, d);
                if (fp32 ? strtof(want, NULL) == (float)d : strtod(want, NULL) == d)
                    break;
            }
            assert_string_equal(got, want);
        }
    }
}

/* The shortest %.Ng that reads back, N from 6 (FP32) or 15 (FP64): what dtype_format_float must
 * print for any finite non-zero value. */
static void reference_format(char *want, size_t cap, double d, bool fp32)
{
    for (int n = fp32 ? 6 : 15;; n++) {
        snprintf(want, cap, "%.*g", n, d);
        if (fp32 ? strtof(want, NULL) == (float)d : strtod(want, NULL) == d)
            return;
    }
}

/* FP32 values in [1e-4, 1e6) take a path without printf: the text must be the reference's for
 * every value tried: random bit patterns over the range, the edges of every decade, and values
 * next to them. */
static void test_format_fp32_fast_path(void **state)
{
    static const float edges[] = {1e-4f,     1e-3f,    1e-2f,     0.1f, 1.0f,        10.0f,
                                  100.0f,    1e3f,     1e4f,      1e5f, 999999.94f,  0.5f,
                                  0.25f,     0.125f,   1.5f,      2.5f, 0.99185115f, 0.005437f,
                                  0.002712f, 3.0e+38f, 123456.7f, 0.3f};
    char got[DTYPE_NUM_CAP], want[DTYPE_NUM_CAP];
    uint64_t x = UINT64_C(0x2545f4914f6cdd1d);
    const float lo = 1e-4f, hi = 1e6f;
    uint32_t lo_bits, hi_bits;
    int rounds = getenv("MW_SANITIZED") ? 200000 : 2000000;

    (void)state;
    memcpy(&lo_bits, &lo, 4);
    memcpy(&hi_bits, &hi, 4);
    for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++) {
        for (int dir = -3; dir <= 3; dir++) {
            float f = edges[i];
            for (int k = 0; k < (dir < 0 ? -dir : dir); k++)
                f = nextafterf(f, dir < 0 ? 0.0f : INFINITY);
            for (int sign = 0; sign <= 1; sign++) {
                double d = sign ? -(double)f : (double)f;
                dtype_format_float(got, d, true);
                reference_format(want, sizeof(want), d, true);
                assert_string_equal(got, want);
            }
        }
    }
    for (int i = 0; i < rounds; i++) {
        uint32_t bits;
        float f;

        x ^= x << 13; /* xorshift64 */
        x ^= x >> 7;
        x ^= x << 17;
        bits = lo_bits + (uint32_t)(x % (hi_bits - lo_bits));
        memcpy(&f, &bits, 4);
        if (x & (UINT64_C(1) << 40))
            f = -f;
        dtype_format_float(got, (double)f, true);
        reference_format(want, sizeof(want), (double)f, true);
        assert_string_equal(got, want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_all_types),
        cmocka_unit_test(test_decode_nested_and_defaults),
        cmocka_unit_test(test_decode_structure_errors),
        cmocka_unit_test(test_decode_datatype_errors),
        cmocka_unit_test(test_decode_shape_errors),
        cmocka_unit_test(test_decode_data_errors),
        cmocka_unit_test(test_decode_outputs_errors),
        cmocka_unit_test(test_decode_half_output),
        cmocka_unit_test(test_decode_binary),
        cmocka_unit_test(test_decode_raw),
        cmocka_unit_test(test_encode_json_and_binary),
        cmocka_unit_test(test_encode_errors),
        cmocka_unit_test(test_encode_float_formats),
        cmocka_unit_test(test_format_whole_numbers),
        cmocka_unit_test(test_format_fp32_fast_path),
    };

    log_set_level(LOG_ERROR);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
