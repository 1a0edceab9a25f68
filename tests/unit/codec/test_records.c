/*
 * Unit tests of the records codec (src/codec/records.c): decoding {"data":[...]} against hand-built
 * signatures (an iris-shaped [-1, 4] model and a 1-D model of every dtype), every error message,
 * and encoding predictions (labels, arrays, nested, non-finite, BYTES, float round trips).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec.h"
#include "model/model_impl.h"

/* ---- models built by hand -------------------------------------------------------------------- */

/* clang-format off */
static const char *const iris_names[] = {"sepal_length", "sepal_width", "petal_length",
                                         "petal_width"};
static const char *const iris_labels[] = {"setosa", "versicolor", "virginica"};

static struct mw_tensor_spec iris_in[] = {
    {.name = "input", .dtype = MW_FP32, .ndim = 2, .shape = {-1, 4}, .n_names = 4,
     .names = iris_names},
};
static struct mw_tensor_spec iris_out[] = {
    {.name = "label", .dtype = MW_INT64, .ndim = 1, .shape = {-1}},
    {.name = "probabilities", .dtype = MW_FP32, .ndim = 2, .shape = {-1, 3}, .n_labels = 3,
     .labels = iris_labels},
};

/* Every dtype as a 1-D input; the outputs echo the inputs (same names and types). */
#define MIXED_SPECS                                                                                \
    {.name = "age", .dtype = MW_UINT8, .ndim = 1, .shape = {-1}},                                  \
    {.name = "name", .dtype = MW_BYTES, .ndim = 1, .shape = {-1}},                                 \
    {.name = "member", .dtype = MW_BOOL, .ndim = 1, .shape = {-1}},                                \
    {.name = "score", .dtype = MW_FP64, .ndim = 1, .shape = {-1}},                                 \
    {.name = "ratio", .dtype = MW_FP32, .ndim = 1, .shape = {-1}},                                 \
    {.name = "i8", .dtype = MW_INT8, .ndim = 1, .shape = {-1}},                                    \
    {.name = "i16", .dtype = MW_INT16, .ndim = 1, .shape = {-1}},                                  \
    {.name = "i32", .dtype = MW_INT32, .ndim = 1, .shape = {-1}},                                  \
    {.name = "i64", .dtype = MW_INT64, .ndim = 1, .shape = {-1}},                                  \
    {.name = "u16", .dtype = MW_UINT16, .ndim = 1, .shape = {-1}},                                 \
    {.name = "u32", .dtype = MW_UINT32, .ndim = 1, .shape = {-1}},                                 \
    {.name = "u64", .dtype = MW_UINT64, .ndim = 1, .shape = {-1}}

static struct mw_tensor_spec mixed_in[] = {MIXED_SPECS};
static struct mw_tensor_spec mixed_out[] = {MIXED_SPECS};
/* clang-format on */

/* A record of the mixed model with every member valid; tests replace one member. */
#define MIXED_OK                                                                                   \
    "\"age\":30,\"name\":\"ann\",\"member\":true,\"score\":2.5,\"ratio\":0.5,\"i8\":-128,"         \
    "\"i16\":-32768,\"i32\":2147483647,\"i64\":-9223372036854775808,\"u16\":65535,"                \
    "\"u32\":4294967295,\"u64\":9223372036854775807"

static const char *const shape_labels[] = {"a\"q", "b\\s"};
static struct mw_tensor_spec shapes_in[] = {
    {.name = "x", .dtype = MW_FP64, .ndim = 1, .shape = {-1}},
};
static struct mw_tensor_spec shapes_out[] = {
    {.name = "vec", .dtype = MW_FP64, .ndim = 2, .shape = {-1, 3}},
    {.name = "grid", .dtype = MW_INT32, .ndim = 3, .shape = {-1, 2, 2}},
    {.name = "raw\n", .dtype = MW_BYTES, .ndim = 1, .shape = {-1}},
    {.name = "na", .dtype = MW_FP32, .ndim = 1, .shape = {-1}},
    {.name = "lab",
     .dtype = MW_UINT64,
     .ndim = 2,
     .shape = {-1, 2},
     .n_labels = 2,
     .labels = shape_labels},
};

static struct model iris, mixed, shapes;

static void model_setup(struct model *m, const char *name, struct mw_tensor_spec *in, size_t nin,
                        struct mw_tensor_spec *out, size_t nout)
{
    memset(m, 0, sizeof(*m));
    m->name = (char *)name;
    m->version = (char *)"1";
    m->sig.n_inputs = nin;
    m->sig.inputs = in;
    m->sig.n_outputs = nout;
    m->sig.outputs = out;
    m->opts.max_records = 10000;
    pthread_mutex_init(&m->run_lock, NULL);
}

static int setup_models(void **state)
{
    (void)state;
    model_setup(&iris, "iris", iris_in, 1, iris_out, 2);
    model_setup(&mixed, "mixed", mixed_in, MW_ARRAY_LEN(mixed_in), mixed_out,
                MW_ARRAY_LEN(mixed_out));
    model_setup(&shapes, "shapes", shapes_in, 1, shapes_out, MW_ARRAY_LEN(shapes_out));
    return 0;
}

static int teardown_models(void **state)
{
    (void)state;
    pthread_mutex_destroy(&iris.run_lock);
    pthread_mutex_destroy(&mixed.run_lock);
    pthread_mutex_destroy(&shapes.run_lock);
    return 0;
}

/* ---- helpers --------------------------------------------------------------------------------- */

static json_t *parse(const char *text)
{
    json_error_t jerr;
    json_t *j = json_loads(text, JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (j == NULL)
        fail_msg("test JSON does not parse: %s: %s", jerr.text, text);
    return j;
}

/* Decodes text against m; returns the code, keeps the call in *out (or frees it when out NULL). */
static int decode(struct model *m, const char *text, unsigned max, struct mw_error *e,
                  struct model_call **out)
{
    struct model_call *c = model_call_new(m, 0);
    json_t *body = parse(text);
    int rc;

    assert_non_null(c);
    memset(e, 0, sizeof(*e));
    rc = records_decode(c, body, max, e);
    json_decref(body);
    if (out != NULL)
        *out = c;
    else
        model_call_release(c);
    return rc;
}

static void expect_error(struct model *m, const char *text, unsigned max, int code, const char *msg)
{
    struct mw_error e;
    int rc = decode(m, text, max, &e, NULL);
    assert_int_equal(rc, code);
    assert_int_equal(e.code, code);
    assert_string_equal(e.msg, msg);
}

/* A mixed-model body whose record index `bad` has member `member` replaced by `value`. */
static void mixed_body(char *out, size_t cap, size_t rows, size_t bad, const char *member,
                       const char *value)
{
    size_t r, n = 0;

    n += (size_t)snprintf(out + n, cap - n, "{\"data\":[");
    for (r = 0; r < rows; r++) {
        json_t *rec = parse("{" MIXED_OK "}");
        char *s;
        if (r == bad)
            json_object_set_new(rec, member, parse(value));
        s = json_dumps(rec, JSON_COMPACT | JSON_ENCODE_ANY);
        assert_non_null(s);
        n += (size_t)snprintf(out + n, cap - n, "%s%s", r ? "," : "", s);
        free(s);
        json_decref(rec);
    }
    n += (size_t)snprintf(out + n, cap - n, "]}");
    assert_true(n < cap);
}

static void expect_mixed_error(size_t rows, size_t bad, const char *member, const char *value,
                               const char *msg)
{
    char body[8192];
    mixed_body(body, sizeof(body), rows, bad, member, value);
    expect_error(&mixed, body, 100, MWE_INVALID_INPUT, msg);
}

static void expect_mixed_ok(const char *member, const char *value, struct model_call **out)
{
    char body[4096];
    struct mw_error e;
    int rc;

    mixed_body(body, sizeof(body), 1, 0, member, value);
    rc = decode(&mixed, body, 100, &e, out);
    if (rc != 0)
        fail_msg("%s=%s refused: %s", member, value, e.msg);
}

static size_t mixed_index(const char *name)
{
    size_t i;
    for (i = 0; i < MW_ARRAY_LEN(mixed_in); i++) {
        if (strcmp(mixed_in[i].name, name) == 0)
            return i;
    }
    fail_msg("no input %s", name);
    return 0;
}

/* ---- decode: success ------------------------------------------------------------------------- */

static void test_iris_decode(void **state)
{
    struct mw_error e;
    struct model_call *c;
    const float *x;

    (void)state;
    assert_int_equal(decode(&iris,
                            "{\"data\":[{\"sepal_length\":5.1,\"sepal_width\":3.5,"
                            "\"petal_length\":1.4,\"petal_width\":0.2},"
                            "{\"petal_width\":2,\"petal_length\":5,\"sepal_width\":-3,"
                            "\"sepal_length\":6.5e1}]}",
                            10, &e, &c),
                     0);
    assert_int_equal(c->inputs[0].dtype, MW_FP32);
    assert_int_equal(c->inputs[0].ndim, 2);
    assert_int_equal(c->inputs[0].shape[0], 2);
    assert_int_equal(c->inputs[0].shape[1], 4);
    assert_string_equal(c->inputs[0].name, "input");
    x = c->inputs[0].data;
    assert_true(x[0] == 5.1f && x[1] == 3.5f && x[2] == 1.4f && x[3] == 0.2f);
    /* members in any order land in signature order; integers are fine for FP32 */
    assert_true(x[4] == 65.0f && x[5] == -3.0f && x[6] == 5.0f && x[7] == 2.0f);
    model_call_release(c);
}

static void test_mixed_decode_all_types(void **state)
{
    struct mw_error e;
    struct model_call *c;

    (void)state;
    assert_int_equal(decode(&mixed, "{\"data\":[{" MIXED_OK "},{" MIXED_OK "}]}", 2, &e, &c), 0);
    assert_int_equal(c->inputs[0].ndim, 1);
    assert_int_equal(c->inputs[0].shape[0], 2);
    assert_int_equal(((uint8_t *)c->inputs[mixed_index("age")].data)[1], 30);
    assert_int_equal(((uint8_t *)c->inputs[mixed_index("member")].data)[0], 1);
    assert_true(((double *)c->inputs[mixed_index("score")].data)[0] == 2.5);
    assert_true(((float *)c->inputs[mixed_index("ratio")].data)[0] == 0.5f);
    assert_int_equal(((int8_t *)c->inputs[mixed_index("i8")].data)[0], -128);
    assert_int_equal(((int16_t *)c->inputs[mixed_index("i16")].data)[0], -32768);
    assert_int_equal(((int32_t *)c->inputs[mixed_index("i32")].data)[0], 2147483647);
    assert_true(((int64_t *)c->inputs[mixed_index("i64")].data)[0] == INT64_MIN);
    assert_int_equal(((uint16_t *)c->inputs[mixed_index("u16")].data)[0], 65535);
    assert_true(((uint32_t *)c->inputs[mixed_index("u32")].data)[0] == UINT32_MAX);
    assert_true(((uint64_t *)c->inputs[mixed_index("u64")].data)[0] == (uint64_t)INT64_MAX);
    {
        const struct mw_bytes *b = c->inputs[mixed_index("name")].data;
        assert_int_equal(b[1].len, 3);
        assert_memory_equal(b[1].ptr, "ann", 3);
    }
    model_call_release(c);
}

static void test_integer_boundaries(void **state)
{
    struct model_call *c;

    (void)state;
    expect_mixed_ok("i8", "127", &c);
    assert_int_equal(((int8_t *)c->inputs[mixed_index("i8")].data)[0], 127);
    model_call_release(c);
    /* a real without a fraction is an integer */
    expect_mixed_ok("i32", "-7.0", &c);
    assert_int_equal(((int32_t *)c->inputs[mixed_index("i32")].data)[0], -7);
    model_call_release(c);
    /* 2^63 fits UINT64 only as a real (jansson's integers are int64) */
    expect_mixed_ok("u64", "9.2233720368547758e18", &c);
    assert_true(((uint64_t *)c->inputs[mixed_index("u64")].data)[0] == (uint64_t)1 << 63);
    model_call_release(c);
    expect_mixed_ok("i64", "9223372036854775807", &c);
    assert_true(((int64_t *)c->inputs[mixed_index("i64")].data)[0] == INT64_MAX);
    model_call_release(c);
    expect_mixed_ok("member", "false", &c);
    assert_int_equal(((uint8_t *)c->inputs[mixed_index("member")].data)[0], 0);
    model_call_release(c);
    expect_mixed_ok("ratio", "3.4028234663852886e38", &c);
    assert_true(((float *)c->inputs[mixed_index("ratio")].data)[0] == 3.4028234663852886e38f);
    model_call_release(c);
}

static void test_integer_ranges(void **state)
{
    (void)state;
    expect_mixed_error(6, 5, "age", "300", "data[5].age: expected an integer in [0, 255], got 300");
    expect_mixed_error(1, 0, "age", "-1", "data[0].age: expected an integer in [0, 255], got -1");
    expect_mixed_error(1, 0, "i8", "-129",
                       "data[0].i8: expected an integer in [-128, 127], got -129");
    expect_mixed_error(1, 0, "i8", "128",
                       "data[0].i8: expected an integer in [-128, 127], got 128");
    expect_mixed_error(1, 0, "i16", "32768",
                       "data[0].i16: expected an integer in [-32768, 32767], got 32768");
    expect_mixed_error(1, 0, "u16", "65536",
                       "data[0].u16: expected an integer in [0, 65535], got 65536");
    expect_mixed_error(1, 0, "i32", "-2147483649",
                       "data[0].i32: expected an integer in [-2147483648, 2147483647], got "
                       "-2147483649");
    expect_mixed_error(1, 0, "u32", "4294967296",
                       "data[0].u32: expected an integer in [0, 4294967295], got 4294967296");
    expect_mixed_error(1, 0, "u64", "-1",
                       "data[0].u64: expected an integer in [0, 18446744073709551615], got -1");
    expect_mixed_error(1, 0, "u64", "1.8446744073709552e19",
                       "data[0].u64: expected an integer in [0, 18446744073709551615], got "
                       "1.8446744073709552e+19");
    expect_mixed_error(1, 0, "i64", "-9.3e18",
                       "data[0].i64: expected an integer in [-9223372036854775808, "
                       "9223372036854775807], got -9.3e+18");
    expect_mixed_error(1, 0, "i64", "9.2233720368547758e18",
                       "data[0].i64: expected an integer in [-9223372036854775808, "
                       "9223372036854775807], got 9.223372036854776e+18");
    /* a fraction is not an integer */
    expect_mixed_error(1, 0, "i32", "1.5",
                       "data[0].i32: expected an integer in [-2147483648, 2147483647], got 1.5");
    expect_mixed_error(1, 0, "age", "\"7\"",
                       "data[0].age: expected an integer in [0, 255], got a string");
}

static void test_type_errors(void **state)
{
    static const char *const values[][2] = {
        {"\"5\"", "a string"},  {"null", "null"},    {"true", "a boolean"},
        {"false", "a boolean"}, {"{}", "an object"}, {"[1]", "an array"},
    };
    char body[512], msg[256];
    size_t i;

    (void)state;
    for (i = 0; i < MW_ARRAY_LEN(values); i++) {
        snprintf(body, sizeof(body),
                 "{\"data\":[%s{\"sepal_length\":1,\"sepal_width\":2,\"petal_length\":3,"
                 "\"petal_width\":%s}]}",
                 "{\"sepal_length\":1,\"sepal_width\":2,\"petal_length\":3,\"petal_width\":4},"
                 "{\"sepal_length\":1,\"sepal_width\":2,\"petal_length\":3,\"petal_width\":4},"
                 "{\"sepal_length\":1,\"sepal_width\":2,\"petal_length\":3,\"petal_width\":4},",
                 values[i][0]);
        snprintf(msg, sizeof(msg), "data[3].petal_width: expected a number, got %s", values[i][1]);
        expect_error(&iris, body, 10, MWE_INVALID_INPUT, msg);
    }
    expect_mixed_error(1, 0, "member", "1", "data[0].member: expected a boolean, got a number");
    expect_mixed_error(1, 0, "name", "7", "data[0].name: expected a string, got a number");
    expect_mixed_error(1, 0, "score", "[]", "data[0].score: expected a number, got an array");
    expect_mixed_error(1, 0, "ratio", "1e300",
                       "data[0].ratio: expected a number within FP32 range, got 1e+300");
}

static void test_structure_errors(void **state)
{
    (void)state;
    expect_error(&iris, "[1,2]", 10, MWE_BAD_REQUEST, "body: expected a JSON object");
    expect_error(&iris, "\"data\"", 10, MWE_BAD_REQUEST, "body: expected a JSON object");
    expect_error(&iris, "{\"data\":[],\"x\":1}", 10, MWE_INVALID_INPUT,
                 "unknown member 'x' (expected: data)");
    expect_error(&iris, "{\"records\":[]}", 10, MWE_INVALID_INPUT,
                 "unknown member 'records' (expected: data)");
    expect_error(&iris, "{}", 10, MWE_INVALID_INPUT, "data: expected an array of records");
    expect_error(&iris, "{\"data\":{}}", 10, MWE_INVALID_INPUT,
                 "data: expected an array of records");
    expect_error(&iris, "{\"data\":null}", 10, MWE_INVALID_INPUT,
                 "data: expected an array of records");
    expect_error(&iris, "{\"data\":[]}", 10, MWE_INVALID_INPUT, "data: expected at least 1 record");
    expect_error(&iris, "{\"data\":[{}, []]}", 10, MWE_INVALID_INPUT,
                 "data[0]: missing member 'sepal_length'");
    expect_error(&iris,
                 "{\"data\":[{\"sepal_length\":1,\"sepal_width\":2,\"petal_length\":3,"
                 "\"petal_width\":4},[]]}",
                 10, MWE_INVALID_INPUT, "data[1]: expected an object, got an array");
    expect_error(&iris, "{\"data\":[7]}", 10, MWE_INVALID_INPUT,
                 "data[0]: expected an object, got a number");
    expect_error(&iris,
                 "{\"data\":[{\"sepal_length\":1,\"petal_length\":3,\"petal_width\":4,"
                 "\"colour\":\"red\"}]}",
                 10, MWE_INVALID_INPUT, "data[0]: missing member 'sepal_width'");
    expect_error(&iris,
                 "{\"data\":[{\"sepal_length\":1,\"sepal_width\":2,\"petal_length\":3,"
                 "\"petal_width\":4},{\"sepal_length\":1,\"sepal_width\":2,\"petal_length\":3,"
                 "\"petal_width\":4},{\"sepal_length\":1,\"sepal_width\":2,\"petal_length\":3,"
                 "\"petal_width\":4,\"colour\":\"red\"}]}",
                 10, MWE_INVALID_INPUT, "data[2]: unknown member 'colour'");
    /* structure before values: the unknown member is reported, not the bad value */
    expect_error(&iris,
                 "{\"data\":[{\"sepal_length\":\"x\",\"sepal_width\":2,\"petal_length\":3,"
                 "\"petal_width\":4,\"colour\":1}]}",
                 10, MWE_INVALID_INPUT, "data[0]: unknown member 'colour'");
    /* the first error stops decoding */
    expect_mixed_error(3, 1, "age", "\"x\"",
                       "data[1].age: expected an integer in [0, 255], got a string");
    expect_mixed_error(2, 0, "colour", "1", "data[0]: unknown member 'colour'");
}

static void test_hostile_member_names(void **state)
{
    char body[1024], name[301];
    struct mw_error e;

    (void)state;
    memset(name, 'x', 300);
    name[300] = '\0';
    snprintf(body, sizeof(body), "{\"%s\":1}", name);
    assert_int_equal(decode(&iris, body, 10, &e, NULL), MWE_INVALID_INPUT);
    assert_true(strlen(e.msg) < 120);
    assert_non_null(strstr(e.msg, "xxx...' (expected: data)"));
    /* control characters inside a key never reach the message raw */
    expect_error(&iris, "{\"a\\u0001b\\n\\u007f\":1}", 10, MWE_INVALID_INPUT,
                 "unknown member 'a?b?\?' (expected: data)");
    /* a prefix or an extension of a signature name is unknown */
    expect_error(&iris,
                 "{\"data\":[{\"sepal_length\":1,\"sepal_width\":2,\"petal_length\":3,"
                 "\"petal_width\":4,\"petal_widt\":5}]}",
                 10, MWE_INVALID_INPUT, "data[0]: unknown member 'petal_widt'");
    expect_error(&iris,
                 "{\"data\":[{\"sepal_length\":1,\"sepal_width\":2,\"petal_length\":3,"
                 "\"petal_width\":4,\"petal_width \":5}]}",
                 10, MWE_INVALID_INPUT, "data[0]: unknown member 'petal_width '");
    /* a cut never splits a UTF-8 sequence: 63 ASCII bytes then 2-byte characters */
    memset(name, 'y', 63);
    snprintf(name + 63, sizeof(name) - 63, "\\u00e9\\u00e9\\u00e9");
    snprintf(body, sizeof(body), "{\"%s\":1}", name);
    assert_int_equal(decode(&iris, body, 10, &e, NULL), MWE_INVALID_INPUT);
    assert_non_null(strstr(e.msg, "yyy...'"));
}

static void test_bytes_with_nul(void **state)
{
    struct model_call *c;
    const struct mw_bytes *b;

    (void)state;
    expect_mixed_ok("name", "\"a\\u0000b\\u0000\"", &c);
    b = c->inputs[mixed_index("name")].data;
    assert_int_equal(b[0].len, 4);
    assert_memory_equal(b[0].ptr, "a\0b\0", 4);
    model_call_release(c);
    expect_mixed_ok("name", "\"\"", &c);
    b = c->inputs[mixed_index("name")].data;
    assert_int_equal(b[0].len, 0);
    assert_non_null(b[0].ptr);
    model_call_release(c);
}

static void test_not_record_shaped(void **state)
{
    static const char *const names3[] = {"a", "b", "c"};
    struct mw_tensor_spec bad[] = {
        {.name = "t", .dtype = MW_FP32, .ndim = 2, .shape = {-1, 4}},
        {.name = "t",
         .dtype = MW_BYTES,
         .ndim = 2,
         .shape = {-1, 3},
         .n_names = 3,
         .names = names3},
        {.name = "t", .dtype = MW_FP32, .ndim = 2, .shape = {-1, 4}, .n_names = 3, .names = names3},
        {.name = "t",
         .dtype = MW_FP32,
         .ndim = 3,
         .shape = {-1, 3, 1},
         .n_names = 3,
         .names = names3},
        {.name = "t", .dtype = MW_FP32, .ndim = 1, .shape = {5}},
    };
    struct mw_tensor_spec two[] = {
        {.name = "a", .dtype = MW_FP32, .ndim = 1, .shape = {-1}},
        {.name = "b", .dtype = MW_FP32, .ndim = 2, .shape = {-1, 3}, .n_names = 3, .names = names3},
    };
    struct model m;
    size_t i;

    (void)state;
    for (i = 0; i < MW_ARRAY_LEN(bad); i++) {
        model_setup(&m, "m", &bad[i], 1, iris_out, 2);
        expect_error(&m, "{\"data\":[{\"a\":1,\"b\":2,\"c\":3}]}", 10, MWE_INVALID_INPUT,
                     "model 'm' does not take records; use /v2/models/m/infer");
        pthread_mutex_destroy(&m.run_lock);
    }
    model_setup(&m, "m", two, 2, iris_out, 2);
    expect_error(&m, "{\"data\":[{\"a\":1,\"b\":2,\"c\":3}]}", 10, MWE_INVALID_INPUT,
                 "model 'm' does not take records; use /v2/models/m/infer");
    pthread_mutex_destroy(&m.run_lock);
    /* a [-1, 3] named BOOL... is not numeric either, but a [-1, -1] named FP64 is fine */
    two[1].dtype = MW_FP64;
    two[1].shape[1] = -1;
    model_setup(&m, "m", &two[1], 1, iris_out, 2);
    {
        struct mw_error e;
        assert_int_equal(decode(&m, "{\"data\":[{\"a\":1,\"b\":2,\"c\":3}]}", 10, &e, NULL), 0);
    }
    pthread_mutex_destroy(&m.run_lock);
}

/* {"data":[n iris records]} */
static json_t *iris_records(size_t n)
{
    json_t *data = json_array();
    size_t i;

    for (i = 0; i < n; i++)
        json_array_append_new(data,
                              json_pack("{s:f,s:f,s:f,s:i}", "sepal_length", 5.0, "sepal_width",
                                        3.0, "petal_length", 1.5, "petal_width", (int)(i % 7)));
    return json_pack("{s:o}", "data", data);
}

static void test_max_records(void **state)
{
    struct model_call *c;
    struct mw_error e;
    json_t *body;

    (void)state;
    body = iris_records(10000);
    c = model_call_new(&iris, 0);
    assert_int_equal(records_decode(c, body, 10000, &e), 0);
    assert_int_equal(c->inputs[0].shape[0], 10000);
    assert_true(((float *)c->inputs[0].data)[9999 * 4 + 3] == (float)(9999 % 7));
    model_call_release(c);
    json_decref(body);

    body = iris_records(10001);
    c = model_call_new(&iris, 0);
    assert_int_equal(records_decode(c, body, 10000, &e), MWE_INVALID_INPUT);
    assert_string_equal(e.msg, "data: 10001 records, at most 10000 allowed");
    model_call_release(c);
    json_decref(body);

    body = iris_records(12001);
    c = model_call_new(&iris, 0);
    assert_int_equal(records_decode(c, body, 10000, &e), MWE_INVALID_INPUT);
    assert_string_equal(e.msg, "data: 12001 records, at most 10000 allowed");
    model_call_release(c);
    json_decref(body);
}

static void test_arena_limit(void **state)
{
    struct model_call *c;
    struct mw_error e;
    json_t *body = iris_records(5000);

    (void)state;
    c = model_call_new(&iris, 4096);
    assert_non_null(c);
    assert_int_equal(records_decode(c, body, 10000, &e), MWE_NOMEM);
    model_call_release(c);
    json_decref(body);
}

/* A model with 512 named FP64 columns fed empty records: the records are refused on their
 * members before records x fields (4 MiB of FP64 for 1000 records) is allocated. */
static void test_wide_model_empty_records_allocate_nothing(void **state)
{
    static char names_buf[512][8];
    static const char *names[512];
    struct mw_tensor_spec in = {.name = "x",
                                .dtype = MW_FP64,
                                .ndim = 2,
                                .shape = {-1, 512},
                                .n_names = 512,
                                .names = names};
    struct model wide;
    struct model_call *c;
    struct mw_error e;
    struct buf text;
    json_t *body;

    (void)state;
    for (size_t i = 0; i < 512; i++) {
        snprintf(names_buf[i], sizeof(names_buf[i]), "f%zu", i);
        names[i] = names_buf[i];
    }
    model_setup(&wide, "wide", &in, 1, iris_out, 2);
    buf_init(&text, 1 << 20);
    assert_int_equal(buf_append_str(&text, "{\"data\":[{}"), 0);
    for (int i = 1; i < 1000; i++)
        assert_int_equal(buf_append_str(&text, ",{}"), 0);
    assert_int_equal(buf_append_str(&text, "]}"), 0);
    body = parse(text.ptr);
    c = model_call_new(&wide, model_call_budget(text.len));
    assert_non_null(c);
    assert_int_equal(records_decode(c, body, 10000, &e), MWE_INVALID_INPUT);
    assert_string_equal(e.msg, "data[0]: missing member 'f0'");
    assert_true(c->arena.total < 4096); /* the call's own arrays only */
    model_call_release(c);
    json_decref(body);
    buf_fini(&text);
    pthread_mutex_destroy(&wide.run_lock);
}

/* ---- encode ---------------------------------------------------------------------------------- */

static void test_encode_iris(void **state)
{
    struct model_call *c = model_call_new(&iris, 0);
    int64_t shape[2] = {2, 3};
    int64_t *label;
    float *p;
    struct buf out;

    (void)state;
    label = model_call_output(c, 0, 1, shape);
    p = model_call_output(c, 1, 2, shape);
    assert_non_null(label);
    assert_non_null(p);
    label[0] = 0;
    label[1] = 2;
    p[0] = 0.9f, p[1] = 0.1f, p[2] = 0.0f;
    p[3] = 0.25f, p[4] = 1e-7f, p[5] = 1.0f / 3.0f;
    buf_init(&out, 1 << 20);
    assert_int_equal(buf_append(&out, "x", 1), 0);
    assert_int_equal(records_encode(c, &out), 0);
    assert_string_equal(out.ptr,
                        "x{\"model\":\"iris\",\"model_version\":\"1\",\"predictions\":["
                        "{\"label\":0,\"probabilities\":{\"setosa\":0.9,\"versicolor\":0.1,"
                        "\"virginica\":0}},"
                        "{\"label\":2,\"probabilities\":{\"setosa\":0.25,\"versicolor\":1e-07,"
                        "\"virginica\":0.33333334}}]}");
    buf_fini(&out);
    model_call_release(c);
}

static void test_encode_shapes(void **state)
{
    struct model_call *c = model_call_new(&shapes, 0);
    int64_t s_vec[2] = {2, 3}, s_grid[3] = {2, 2, 2}, s_1[1] = {2}, s_lab[2] = {2, 2};
    double *vec;
    int32_t *grid;
    struct mw_bytes *raw;
    float *na;
    uint64_t *lab;
    struct buf out;
    json_t *parsed;
    json_error_t jerr;
    size_t i;

    (void)state;
    vec = model_call_output(c, 0, 2, s_vec);
    grid = model_call_output(c, 1, 3, s_grid);
    raw = model_call_output(c, 2, 1, s_1);
    na = model_call_output(c, 3, 1, s_1);
    lab = model_call_output(c, 4, 2, s_lab);
    assert_true(vec && grid && raw && na && lab);
    for (i = 0; i < 6; i++)
        vec[i] = (double)i + 0.5;
    vec[5] = 0.1;
    for (i = 0; i < 8; i++)
        grid[i] = (int32_t)i - 4;
    grid[7] = INT32_MIN;
    raw[0].ptr = (const uint8_t *)"ok\"\xff\xfe\x00z";
    raw[0].len = 7;
    raw[1].ptr = NULL; /* an untouched element encodes as "" */
    raw[1].len = 0;
    na[0] = NAN;
    na[1] = -INFINITY;
    lab[0] = UINT64_MAX;
    lab[1] = 0;
    lab[2] = 1;
    lab[3] = (uint64_t)1 << 63;

    buf_init(&out, 1 << 20);
    assert_int_equal(records_encode(c, &out), 0);
    parsed = json_loadb(out.ptr, out.len, JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, &jerr);
    if (parsed == NULL)
        fail_msg("encoded JSON does not parse: %s: %s", jerr.text, out.ptr);
    json_decref(parsed);
    assert_non_null(strstr(out.ptr, "{\"vec\":[0.5,1.5,2.5],\"grid\":[[-4,-3],[-2,-1]],"
                                    "\"raw\\n\":\"ok\\\""));
    assert_non_null(strstr(out.ptr, "\"na\":null,\"lab\":{\"a\\\"q\":18446744073709551615,"
                                    "\"b\\\\s\":0}}"));
    assert_non_null(strstr(out.ptr, "{\"vec\":[3.5,4.5,0.1],\"grid\":[[0,1],[2,-2147483648]],"
                                    "\"raw\\n\":\"\",\"na\":null,\"lab\":{\"a\\\"q\":1,"
                                    "\"b\\\\s\":9223372036854775808}}]}"));
    /* invalid UTF-8 from the model is never copied raw */
    assert_null(memchr(out.ptr, 0xff, out.len));
    buf_fini(&out);
    model_call_release(c);
}

static void test_encode_errors(void **state)
{
    struct model_call *c;
    int64_t s2[1] = {2}, s3[2] = {3, 3};
    struct buf out;

    (void)state;
    /* outputs disagree on the number of rows */
    c = model_call_new(&iris, 0);
    assert_non_null(model_call_output(c, 0, 1, s2));
    assert_non_null(model_call_output(c, 1, 2, s3));
    buf_init(&out, 1 << 20);
    assert_int_equal(buf_append(&out, "keep", 4), 0);
    assert_int_equal(records_encode(c, &out), MWE_MODEL_FAILED);
    assert_int_equal(out.len, 4);
    assert_string_equal(out.ptr, "keep");
    buf_fini(&out);
    model_call_release(c);

    /* the buffer's max is propagated and out is left as it was */
    c = model_call_new(&iris, 0);
    s3[0] = 2;
    assert_non_null(model_call_output(c, 0, 1, s2));
    assert_non_null(model_call_output(c, 1, 2, s3));
    buf_init(&out, 40);
    assert_int_equal(buf_append(&out, "keep", 4), 0);
    assert_int_equal(records_encode(c, &out), MWE_BODY_TOO_LARGE);
    assert_int_equal(out.len, 4);
    assert_string_equal(out.ptr, "keep");
    buf_fini(&out);
    model_call_release(c);

    /* more columns than labels, and a BYTES element with a NULL pointer, are model failures */
    {
        static struct mw_tensor_spec odd_out[] = {
            {.name = "p",
             .dtype = MW_FP32,
             .ndim = 2,
             .shape = {-1, -1},
             .n_labels = 2,
             .labels = shape_labels},
            {.name = "b", .dtype = MW_BYTES, .ndim = 1, .shape = {-1}},
        };
        struct model m;
        int64_t s13[2] = {1, 3}, s12[2] = {1, 2};
        struct mw_bytes *b;

        model_setup(&m, "odd", shapes_in, 1, odd_out, 2);
        buf_init(&out, 1 << 20);
        c = model_call_new(&m, 0);
        assert_non_null(model_call_output(c, 0, 2, s13));
        assert_non_null(model_call_output(c, 1, 1, s13));
        assert_int_equal(records_encode(c, &out), MWE_MODEL_FAILED);
        assert_int_equal(out.len, 0);
        model_call_release(c);

        c = model_call_new(&m, 0);
        assert_non_null(model_call_output(c, 0, 2, s12));
        b = model_call_output(c, 1, 1, s12);
        assert_non_null(b);
        assert_int_equal(records_encode(c, &out), 0);
        assert_string_equal(out.ptr, "{\"model\":\"odd\",\"model_version\":\"1\",\"predictions\":"
                                     "[{\"p\":{\"a\\\"q\":0,\"b\\\\s\":0},\"b\":\"\"}]}");
        buf_reset(&out);
        b[0].len = 1;
        assert_int_equal(records_encode(c, &out), MWE_MODEL_FAILED);
        assert_int_equal(out.len, 0);
        buf_fini(&out);
        model_call_release(c);
        pthread_mutex_destroy(&m.run_lock);
    }
}

/* Encodes values as a one-column FP32 or FP64 output of `shapes`-like model and reads each back. */
static void test_float_round_trip(void **state)
{
    static struct mw_tensor_spec f_out[] = {
        {.name = "v", .dtype = MW_FP32, .ndim = 1, .shape = {-1}},
        {.name = "w", .dtype = MW_FP64, .ndim = 1, .shape = {-1}},
    };
    enum { N = 10000 };
    struct model m;
    struct model_call *c;
    int64_t shape[1] = {N};
    float *v;
    double *w;
    struct buf out;
    const char *p;
    size_t i, nf = 0, nd = 0;

    (void)state;
    model_setup(&m, "f", shapes_in, 1, f_out, 2);
    c = model_call_new(&m, 0);
    v = model_call_output(c, 0, 1, shape);
    w = model_call_output(c, 1, 1, shape);
    assert_true(v && w);
    srand(12345);
    for (i = 0; i < N; i++) {
        uint32_t bits;
        uint64_t dbits;
        do {
            bits = ((uint32_t)rand() << 16) ^ (uint32_t)rand() ^ ((uint32_t)rand() << 30);
            memcpy(&v[i], &bits, sizeof(bits));
        } while (!isfinite(v[i]));
        do {
            dbits = ((uint64_t)bits << 32) ^ ((uint64_t)rand() << 20) ^ (uint64_t)rand() ^
                    ((uint64_t)rand() << 42);
            memcpy(&w[i], &dbits, sizeof(dbits));
        } while (!isfinite(w[i]));
    }
    v[0] = 0.1f, v[1] = 1.0f, v[2] = -0.0f, v[3] = 3.4028235e38f, v[4] = 1.4e-45f;
    buf_init(&out, 64u << 20);
    assert_int_equal(records_encode(c, &out), 0);
    assert_non_null(strstr(out.ptr, "[{\"v\":0.1,"));
    assert_non_null(strstr(out.ptr, "{\"v\":1,"));
    for (p = strstr(out.ptr, "{\"v\":"); p != NULL; p = strstr(p, "{\"v\":")) {
        char *end;
        float f;
        double d;
        p += 5;
        f = strtof(p, &end);
        assert_ptr_not_equal(end, p);
        assert_memory_equal(&f, &v[nf], sizeof(f));
        nf++;
        p = strstr(p, ",\"w\":");
        assert_non_null(p);
        p += 5;
        d = strtod(p, &end);
        assert_memory_equal(&d, &w[nd], sizeof(d));
        nd++;
    }
    assert_int_equal(nf, N);
    assert_int_equal(nd, N);
    buf_fini(&out);
    model_call_release(c);
    pthread_mutex_destroy(&m.run_lock);
}

/* Decodes records of the mixed model, copies the inputs to its identical outputs, and checks the
 * encoded predictions equal the records. */
static void test_decode_encode_round_trip(void **state)
{
    const char *text = "{\"data\":[{" MIXED_OK "},"
                       "{\"age\":0,\"name\":\"\\u00e9t\\u00e9 \\\"x\\\"\",\"member\":false,"
                       "\"score\":-1e-300,\"ratio\":-0.125,\"i8\":127,\"i16\":32767,"
                       "\"i32\":-2147483648,\"i64\":9223372036854775807,\"u16\":0,\"u32\":0,"
                       "\"u64\":0}]}";
    json_t *body = parse(text), *enc;
    struct model_call *c = model_call_new(&mixed, 0);
    struct mw_error e;
    struct buf out;
    json_error_t jerr;
    size_t i;

    (void)state;
    assert_int_equal(records_decode(c, body, 10, &e), 0);
    for (i = 0; i < c->n_inputs; i++) {
        void *dst = model_call_output(c, i, c->inputs[i].ndim, c->inputs[i].shape);
        assert_non_null(dst);
        memcpy(dst, c->inputs[i].data, 2 * dtype_size(c->inputs[i].dtype));
    }
    buf_init(&out, 1 << 20);
    assert_int_equal(records_encode(c, &out), 0);
    enc = json_loadb(out.ptr, out.len, 0, &jerr);
    assert_non_null(enc);
    assert_string_equal(json_string_value(json_object_get(enc, "model")), "mixed");
    assert_string_equal(json_string_value(json_object_get(enc, "model_version")), "1");
    if (!json_equal(json_object_get(enc, "predictions"), json_object_get(body, "data")))
        fail_msg("round trip differs: %s", out.ptr);
    json_decref(enc);
    json_decref(body);
    buf_fini(&out);
    model_call_release(c);
}

/* Optional members (a Python model's Optional[...] fields): null or missing is a zero / empty
 * element; a wrong type is still refused; required members are still required. */
static void test_optional_members(void **state)
{
    static struct mw_tensor_spec in[] = {
        {.name = "text", .dtype = MW_BYTES, .ndim = 1, .shape = {-1}},
        {.name = "prio", .dtype = MW_INT64, .ndim = 1, .shape = {-1}},
        {.name = "flag", .dtype = MW_BOOL, .ndim = 1, .shape = {-1}},
    };
    bool optional[] = {false, true, true};
    struct model m;
    struct mw_error e;
    struct model_call *c;

    (void)state;
    model_setup(&m, "opt", in, 3, shapes_out, 1);
    m.sig.optional = optional;
    assert_int_equal(decode(&m,
                            "{\"data\":[{\"text\":\"a\",\"prio\":3,\"flag\":true},"
                            "{\"text\":\"b\",\"prio\":null},{\"text\":\"c\"}]}",
                            10, &e, &c),
                     0);
    assert_int_equal(c->inputs[1].shape[0], 3);
    assert_true(((int64_t *)c->inputs[1].data)[0] == 3);
    assert_true(((int64_t *)c->inputs[1].data)[1] == 0);
    assert_true(((int64_t *)c->inputs[1].data)[2] == 0);
    assert_int_equal(((uint8_t *)c->inputs[2].data)[0], 1);
    assert_int_equal(((uint8_t *)c->inputs[2].data)[2], 0);
    model_call_release(c);
    expect_error(&m, "{\"data\":[{\"prio\":1}]}", 10, MWE_INVALID_INPUT,
                 "data[0]: missing member 'text'");
    expect_error(&m, "{\"data\":[{\"text\":null}]}", 10, MWE_INVALID_INPUT,
                 "data[0].text: expected a string, got null");
    expect_error(&m, "{\"data\":[{\"text\":\"a\",\"prio\":\"high\"}]}", 10,
                 MWE_INVALID_INPUT,
                 "data[0].prio: expected an integer in [-9223372036854775808, "
                 "9223372036854775807], got a string");
    expect_error(&m, "{\"data\":[{\"text\":\"a\",\"other\":1}]}", 10, MWE_INVALID_INPUT,
                 "data[0]: unknown member 'other'");
    pthread_mutex_destroy(&m.run_lock);
}

/* The one rule for record-shaped models; FP16/BF16 are numbers the codec does not read. */
static void test_records_kind(void **state)
{
    static const char *const cols[] = {"a", "b"};
    struct mw_tensor_spec in[2] = {
        {.name = "x", .dtype = MW_FP32, .ndim = 2, .shape = {-1, 2}, .n_names = 2, .names = cols},
        {.name = "y", .dtype = MW_BYTES, .ndim = 1, .shape = {-1}},
    };
    struct model_sig sig = {.n_inputs = 1, .inputs = in};

    (void)state;
    assert_int_equal(records_kind(&sig), REC_MATRIX);
    in[0].shape[1] = 3; /* names do not match the columns */
    assert_int_equal(records_kind(&sig), REC_NONE);
    in[0].shape[1] = -1;
    assert_int_equal(records_kind(&sig), REC_MATRIX);
    in[0].dtype = MW_BOOL;
    assert_int_equal(records_kind(&sig), REC_NONE);
    for (int dt = MW_FP16; dt <= MW_BF16; dt++) {
        assert_true(dtype_is_number(dt));
        in[0].dtype = dt;
        assert_int_equal(records_kind(&sig), REC_NONE);
    }
    in[0] = (struct mw_tensor_spec){.name = "x", .dtype = MW_BOOL, .ndim = 1, .shape = {-1}};
    sig.n_inputs = 2;
    assert_int_equal(records_kind(&sig), REC_COLUMNS);
    in[1].dtype = MW_FP16;
    assert_int_equal(records_kind(&sig), REC_NONE);
    in[1].dtype = MW_INT64;
    in[1].shape[0] = 4;
    assert_int_equal(records_kind(&sig), REC_NONE);
    sig.n_inputs = 0;
    assert_int_equal(records_kind(&sig), REC_NONE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_optional_members),
        cmocka_unit_test(test_iris_decode),
        cmocka_unit_test(test_mixed_decode_all_types),
        cmocka_unit_test(test_integer_boundaries),
        cmocka_unit_test(test_integer_ranges),
        cmocka_unit_test(test_type_errors),
        cmocka_unit_test(test_structure_errors),
        cmocka_unit_test(test_hostile_member_names),
        cmocka_unit_test(test_bytes_with_nul),
        cmocka_unit_test(test_not_record_shaped),
        cmocka_unit_test(test_max_records),
        cmocka_unit_test(test_arena_limit),
        cmocka_unit_test(test_wide_model_empty_records_allocate_nothing),
        cmocka_unit_test(test_encode_iris),
        cmocka_unit_test(test_encode_shapes),
        cmocka_unit_test(test_encode_errors),
        cmocka_unit_test(test_float_round_trip),
        cmocka_unit_test(test_decode_encode_round_trip),
        cmocka_unit_test(test_records_kind),
    };
    return cmocka_run_group_tests(tests, setup_models, teardown_models);
}
