/*
 * Unit tests for src/model/dtype.c and src/model/sig.c: type names and sizes, signature parsing
 * from model.json with the exact messages of each rule, and the checked deep copy used for plug-in
 * descriptors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "model/model_impl.h"

/* Parses `text` as a signature; returns the status and leaves the message in e. */
static int parse(const char *text, struct model_sig *sig, struct mw_error *e)
{
    json_error_t jerr;
    json_t *j = json_loads(text, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
    int rc;

    if (j == NULL)
        fail_msg("test JSON does not parse: %s: %s", text, jerr.text);
    memset(e, 0, sizeof(*e));
    rc = model_sig_from_json(sig, j, e);
    json_decref(j);
    return rc;
}

/* Expects `text` to be refused with exactly `msg`. */
static void expect_error(const char *text, const char *msg)
{
    struct model_sig sig = {0};
    struct mw_error e;

    int rc = parse(text, &sig, &e);
    if (rc != MWE_CONFIG || strcmp(e.msg, msg) != 0)
        fail_msg("for %s\n  expected MWE_CONFIG \"%s\"\n  got %d \"%s\"", text, msg, rc, e.msg);
    assert_int_equal(e.code, MWE_CONFIG);
    assert_int_equal(sig.n_inputs, 0);
    assert_null(sig.inputs);
    assert_int_equal(sig.n_outputs, 0);
    assert_null(sig.outputs);
}

static void test_dtype_names_and_sizes(void **state)
{
    static const struct {
        const char *name;
        int dtype;
        size_t size;
    } cases[] = {
        {"BOOL", MW_BOOL, 1},     {"UINT8", MW_UINT8, 1},
        {"UINT16", MW_UINT16, 2}, {"UINT32", MW_UINT32, 4},
        {"UINT64", MW_UINT64, 8}, {"INT8", MW_INT8, 1},
        {"INT16", MW_INT16, 2},   {"INT32", MW_INT32, 4},
        {"INT64", MW_INT64, 8},   {"FP32", MW_FP32, 4},
        {"FP64", MW_FP64, 8},     {"BYTES", MW_BYTES, sizeof(struct mw_bytes)},
        {"FP16", MW_FP16, 2},     {"BF16", MW_BF16, 2},
    };

    (void)state;
    for (size_t i = 0; i < MW_ARRAY_LEN(cases); i++) {
        assert_int_equal(dtype_parse(cases[i].name, strlen(cases[i].name)), cases[i].dtype);
        assert_string_equal(dtype_name(cases[i].dtype), cases[i].name);
        assert_int_equal(dtype_size(cases[i].dtype), cases[i].size);
    }
    /* Slices: only len bytes count. */
    assert_int_equal(dtype_parse("FP32xyz", 4), MW_FP32);
    assert_int_equal(dtype_parse("FP3", 3), MW_DTYPE_INVALID);
    assert_int_equal(dtype_parse("FP32", 5), MW_DTYPE_INVALID);
    /* Not in the ABI, wrong case, empty, NULL. */
    assert_int_equal(dtype_parse("FP8", 3), MW_DTYPE_INVALID);
    assert_int_equal(dtype_parse("bf16", 4), MW_DTYPE_INVALID);
    assert_int_equal(dtype_parse("fp32", 4), MW_DTYPE_INVALID);
    assert_int_equal(dtype_parse("INVALID", 7), MW_DTYPE_INVALID);
    assert_int_equal(dtype_parse("", 0), MW_DTYPE_INVALID);
    assert_int_equal(dtype_parse(NULL, 0), MW_DTYPE_INVALID);
    assert_string_equal(dtype_name(0), "INVALID");
    assert_string_equal(dtype_name(15), "INVALID");
    assert_string_equal(dtype_name(-1), "INVALID");
    assert_int_equal(dtype_size(0), 0);
    assert_int_equal(dtype_size(15), 0);
    assert_int_equal(dtype_size(-5), 0);
}

static void test_parse_full_signature(void **state)
{
    struct model_sig sig = {0};
    struct mw_error e;

    (void)state;
    assert_int_equal(
        parse(
            "{\"inputs\": [{\"name\": \"features\", \"datatype\": \"FP32\", \"shape\": [-1, 4],"
            "  \"names\": [\"sepal_length\", \"sepal_width\", \"petal_length\", \"petal_width\"]},"
            " {\"name\": \"id\", \"datatype\": \"BYTES\", \"shape\": [-1]}],"
            " \"outputs\": [{\"name\": \"label\", \"datatype\": \"BYTES\", \"shape\": [-1]},"
            "  {\"name\": \"probabilities\", \"datatype\": \"FP32\", \"shape\": [-1, 3],"
            "   \"labels\": [\"setosa\", \"versicolor\", \"virginica\"]}]}",
            &sig, &e),
        0);
    assert_int_equal(sig.n_inputs, 2);
    assert_string_equal(sig.inputs[0].name, "features");
    assert_int_equal(sig.inputs[0].dtype, MW_FP32);
    assert_int_equal(sig.inputs[0].ndim, 2);
    assert_int_equal(sig.inputs[0].shape[0], -1);
    assert_int_equal(sig.inputs[0].shape[1], 4);
    assert_int_equal(sig.inputs[0].n_names, 4);
    assert_string_equal(sig.inputs[0].names[3], "petal_width");
    assert_int_equal(sig.inputs[0].n_labels, 0);
    assert_null(sig.inputs[0].labels);
    assert_string_equal(sig.inputs[1].name, "id");
    assert_int_equal(sig.inputs[1].dtype, MW_BYTES);
    assert_int_equal(sig.inputs[1].ndim, 1);
    assert_int_equal(sig.n_outputs, 2);
    assert_string_equal(sig.outputs[1].name, "probabilities");
    assert_int_equal(sig.outputs[1].n_labels, 3);
    assert_string_equal(sig.outputs[1].labels[0], "setosa");
    assert_string_equal(sig.outputs[1].labels[2], "virginica");
    model_sig_fini(&sig);
    assert_int_equal(sig.n_inputs, 0);
    assert_null(sig.inputs);
    model_sig_fini(&sig); /* twice is harmless */
    model_sig_fini(NULL);
}

static void test_parse_partial_signatures(void **state)
{
    struct model_sig sig = {0};
    struct mw_error e;

    (void)state;
    /* outputs left to the backend */
    assert_int_equal(
        parse("{\"inputs\": [{\"name\": \"x\", \"datatype\": \"INT64\", \"shape\": [8]}]}", &sig,
              &e),
        0);
    assert_int_equal(sig.n_inputs, 1);
    assert_int_equal(sig.n_outputs, 0);
    assert_null(sig.outputs);
    model_sig_fini(&sig);
    /* nothing at all is accepted here; model_load requires inputs and outputs after the backend */
    assert_int_equal(parse("{}", &sig, &e), 0);
    assert_int_equal(sig.n_inputs, 0);
    /* all eight dimensions, large values */
    assert_int_equal(parse("{\"outputs\": [{\"name\": \"t\", \"datatype\": \"UINT8\", \"shape\": "
                           "[-1, 1, 2, 3, 4, 5, 6, 9007199254740993]}]}",
                           &sig, &e),
                     0);
    assert_int_equal(sig.outputs[0].ndim, 8);
    assert_int_equal(sig.outputs[0].shape[7], 9007199254740993LL);
    model_sig_fini(&sig);
}

static void test_parse_errors(void **state)
{
    (void)state;
    expect_error("[]", "signature: expected an object with inputs and outputs");
    expect_error("{\"input\": []}",
                 "signature: unknown member 'input' (accepted: inputs, outputs)");
    expect_error("{\"inputs\": {}}", "signature.inputs: expected a non-empty array");
    expect_error("{\"inputs\": []}", "signature.inputs: expected a non-empty array");
    expect_error("{\"outputs\": [3]}",
                 "signature.outputs[0]: expected an object with name, datatype and shape");
    expect_error("{\"inputs\": [{\"name\": \"x\", \"datatype\": \"FP32\", \"shape\": [1], "
                 "\"dims\": [1]}]}",
                 "signature.inputs[0]: unknown member 'dims' (accepted: name, datatype, shape, "
                 "names, labels, optional)");
    /* name */
    expect_error("{\"inputs\": [{\"datatype\": \"FP32\", \"shape\": [1]}]}",
                 "signature.inputs[0].name: expected a non-empty string of at most 256 bytes");
    expect_error("{\"inputs\": [{\"name\": \"\", \"datatype\": \"FP32\", \"shape\": [1]}]}",
                 "signature.inputs[0].name: expected a non-empty string of at most 256 bytes");
    expect_error("{\"inputs\": [{\"name\": 7, \"datatype\": \"FP32\", \"shape\": [1]}]}",
                 "signature.inputs[0].name: expected a non-empty string of at most 256 bytes");
    expect_error(
        "{\"inputs\": [{\"name\": \"a\\u0000b\", \"datatype\": \"FP32\", \"shape\": [1]}]}",
        "signature.inputs[0].name: expected a non-empty string of at most 256 bytes");
    expect_error("{\"inputs\": [{\"name\": \"a\", \"datatype\": \"FP32\", \"shape\": [1]},"
                 " {\"name\": \"b\", \"datatype\": \"FP32\", \"shape\": [1]},"
                 " {\"name\": \"a\", \"datatype\": \"FP64\", \"shape\": [2]}]}",
                 "signature.inputs[2].name: duplicate 'a' (also signature.inputs[0])");
    /* the same name for an input and an output is fine; twice among outputs is not */
    expect_error("{\"inputs\": [{\"name\": \"a\", \"datatype\": \"FP32\", \"shape\": [1]}],"
                 " \"outputs\": [{\"name\": \"a\", \"datatype\": \"FP32\", \"shape\": [1]},"
                 " {\"name\": \"a\", \"datatype\": \"FP32\", \"shape\": [1]}]}",
                 "signature.outputs[1].name: duplicate 'a' (also signature.outputs[0])");
    /* datatype */
    expect_error("{\"inputs\": [{\"name\": \"x\", \"datatype\": \"FP8\", \"shape\": [1]}]}",
                 "signature.inputs[0].datatype: unknown datatype 'FP8' (accepted: BOOL, UINT8, "
                 "UINT16, UINT32, UINT64, INT8, INT16, INT32, INT64, FP32, FP64, BYTES, FP16, "
                 "BF16)");
    expect_error("{\"inputs\": [{\"name\": \"x\", \"shape\": [1]}]}",
                 "signature.inputs[0].datatype: expected a string (accepted: BOOL, UINT8, "
                 "UINT16, UINT32, UINT64, INT8, INT16, INT32, INT64, FP32, FP64, BYTES, FP16, "
                 "BF16)");
    /* shape */
    expect_error("{\"inputs\": [{\"name\": \"x\", \"datatype\": \"FP32\", \"shape\": [-1, 0]}]}",
                 "signature.inputs[0].shape[1]: expected -1 or a positive integer");
    expect_error("{\"inputs\": [{\"name\": \"x\", \"datatype\": \"FP32\", \"shape\": [-2]}]}",
                 "signature.inputs[0].shape[0]: expected -1 or a positive integer");
    expect_error("{\"inputs\": [{\"name\": \"x\", \"datatype\": \"FP32\", \"shape\": [1, 2.5]}]}",
                 "signature.inputs[0].shape[1]: expected -1 or a positive integer");
    expect_error("{\"inputs\": [{\"name\": \"x\", \"datatype\": \"FP32\", \"shape\": [1, \"4\"]}]}",
                 "signature.inputs[0].shape[1]: expected -1 or a positive integer");
    expect_error("{\"inputs\": [{\"name\": \"x\", \"datatype\": \"FP32\", \"shape\": []}]}",
                 "signature.inputs[0].shape: expected an array of 1 to 8 dimensions");
    expect_error("{\"inputs\": [{\"name\": \"x\", \"datatype\": \"FP32\", \"shape\": "
                 "[1,1,1,1,1,1,1,1,1]}]}",
                 "signature.inputs[0].shape: expected an array of 1 to 8 dimensions");
    expect_error("{\"inputs\": [{\"name\": \"x\", \"datatype\": \"FP32\"}]}",
                 "signature.inputs[0].shape: expected an array of 1 to 8 dimensions");
    /* names and labels */
    expect_error("{\"inputs\": [{\"name\": \"x\", \"datatype\": \"FP32\", \"shape\": [-1, 2], "
                 "\"names\": [\"a\", \"b\", \"c\"]}]}",
                 "signature.inputs[0].names: 3 names for a last dimension of 2");
    expect_error("{\"inputs\": [{\"name\": \"x\", \"datatype\": \"FP32\", \"shape\": [2, -1], "
                 "\"names\": [\"a\", \"b\"]}]}",
                 "signature.inputs[0].names: the last dimension of the shape must be fixed (not "
                 "-1) when names are given");
    expect_error("{\"inputs\": [{\"name\": \"x\", \"datatype\": \"FP32\", \"shape\": [-1, 3], "
                 "\"names\": [\"a\", \"b\", \"a\"]}]}",
                 "signature.inputs[0].names[2]: duplicate 'a' (also names[0])");
    expect_error("{\"inputs\": [{\"name\": \"x\", \"datatype\": \"FP32\", \"shape\": [-1, 2], "
                 "\"names\": [\"a\", \"\"]}]}",
                 "signature.inputs[0].names[1]: expected a non-empty string of at most 256 bytes");
    expect_error("{\"inputs\": [{\"name\": \"x\", \"datatype\": \"FP32\", \"shape\": [-1, 2], "
                 "\"names\": [\"a\", 2]}]}",
                 "signature.inputs[0].names[1]: expected a non-empty string of at most 256 bytes");
    expect_error("{\"inputs\": [{\"name\": \"x\", \"datatype\": \"FP32\", \"shape\": [-1, 2], "
                 "\"names\": \"a,b\"}]}",
                 "signature.inputs[0].names: expected a non-empty array of strings");
    expect_error("{\"outputs\": [{\"name\": \"p\", \"datatype\": \"FP32\", \"shape\": [-1, 2], "
                 "\"labels\": [\"yes\"]}]}",
                 "signature.outputs[0].labels: 1 labels for a last dimension of 2");
    expect_error("{\"outputs\": [{\"name\": \"p\", \"datatype\": \"FP32\", \"shape\": [-1], "
                 "\"labels\": [\"yes\"]}]}",
                 "signature.outputs[0].labels: the last dimension of the shape must be fixed (not "
                 "-1) when labels are given");
    expect_error("{\"outputs\": [{\"name\": \"p\", \"datatype\": \"FP32\", \"shape\": [2], "
                 "\"labels\": [\"yes\", \"yes\"]}]}",
                 "signature.outputs[0].labels[1]: duplicate 'yes' (also labels[0])");
}

static void test_long_lists(void **state)
{
    /* 5000 column names: the duplicate check must be quick and exact. */
    const size_t n = 5000;
    size_t cap = 64 + n * 16;
    char *text = malloc(cap);
    size_t used = 0;
    struct model_sig sig = {0};
    struct mw_error e;

    (void)state;
    assert_non_null(text);
    used += (size_t)snprintf(text + used, cap - used,
                             "{\"inputs\": [{\"name\": \"x\", \"datatype\": \"FP32\", "
                             "\"shape\": [-1, %zu], \"names\": [",
                             n);
    for (size_t i = 0; i < n; i++)
        used += (size_t)snprintf(text + used, cap - used, "%s\"c%zu\"", i ? "," : "", i);
    snprintf(text + used, cap - used, "]}]}");
    assert_int_equal(parse(text, &sig, &e), 0);
    assert_int_equal(sig.inputs[0].n_names, n);
    assert_string_equal(sig.inputs[0].names[4999], "c4999");
    model_sig_fini(&sig);

    /* the same list with "c17" repeated at the end */
    char *tail = strstr(text, "\"c4999\"");
    assert_non_null(tail);
    memcpy(tail, "\"c17\"]}]}", strlen("\"c17\"]}]}") + 1);
    assert_int_equal(parse(text, &sig, &e), MWE_CONFIG);
    assert_string_equal(e.msg, "signature.inputs[0].names[4999]: duplicate 'c17' (also names[17])");
    free(text);

    /* a name one byte too long */
    char longname[300];
    char doc[400];
    memset(longname, 'n', 257);
    longname[257] = '\0';
    snprintf(doc, sizeof(doc),
             "{\"inputs\": [{\"name\": \"%s\", \"datatype\": \"FP32\", \"shape\": [1]}]}",
             longname);
    assert_int_equal(parse(doc, &sig, &e), MWE_CONFIG);
    longname[256] = '\0';
    snprintf(doc, sizeof(doc),
             "{\"inputs\": [{\"name\": \"%s\", \"datatype\": \"FP32\", \"shape\": [1]}]}",
             longname);
    assert_int_equal(parse(doc, &sig, &e), 0);
    model_sig_fini(&sig);
}

static void test_copy(void **state)
{
    static const char *const names[] = {"a", "b"};
    static const char *const labels[] = {"no", "yes"};
    struct mw_tensor_spec in[1] = {
        {.name = "x", .dtype = MW_FP32, .ndim = 2, .shape = {-1, 2}, .n_names = 2, .names = names}};
    struct mw_tensor_spec out[2] = {
        {.name = "p",
         .dtype = MW_FP64,
         .ndim = 2,
         .shape = {-1, 2},
         .n_labels = 2,
         .labels = labels},
        {.name = "label", .dtype = MW_BYTES, .ndim = 1, .shape = {-1}},
    };
    struct model_sig src = {1, in, 2, out, NULL};
    struct model_sig dst = {0};
    struct mw_error e = {0};

    (void)state;
    assert_int_equal(model_sig_copy(&dst, &src, &e), 0);
    assert_int_equal(dst.n_inputs, 1);
    assert_int_equal(dst.n_outputs, 2);
    /* deep: fresh pointers with equal contents */
    assert_ptr_not_equal(dst.inputs[0].name, in[0].name);
    assert_string_equal(dst.inputs[0].name, "x");
    assert_ptr_not_equal(dst.inputs[0].names, names);
    assert_string_equal(dst.inputs[0].names[1], "b");
    assert_string_equal(dst.outputs[0].labels[1], "yes");
    assert_int_equal(dst.outputs[0].dtype, MW_FP64);
    assert_int_equal(dst.outputs[1].shape[0], -1);
    assert_null(dst.outputs[1].names);
    model_sig_fini(&dst);

    /* The same rules as JSON, with the same messages. */
    struct mw_tensor_spec bad = in[0];
    struct model_sig bsrc = {1, &bad, 0, NULL, NULL};
    bad.shape[1] = 0;
    assert_int_equal(model_sig_copy(&dst, &bsrc, &e), MWE_CONFIG);
    assert_string_equal(e.msg, "signature.inputs[0].shape[1]: expected -1 or a positive integer");
    assert_null(dst.inputs);
    bad = in[0];
    bad.ndim = 9;
    assert_int_equal(model_sig_copy(&dst, &bsrc, &e), MWE_CONFIG);
    assert_string_equal(e.msg, "signature.inputs[0].shape: expected an array of 1 to 8 dimensions");
    bad = in[0];
    bad.dtype = 99;
    assert_int_equal(model_sig_copy(&dst, &bsrc, &e), MWE_CONFIG);
    assert_string_equal(e.msg, "signature.inputs[0].datatype: unknown datatype 99");
    bad = in[0];
    bad.name = NULL;
    assert_int_equal(model_sig_copy(&dst, &bsrc, &e), MWE_CONFIG);
    assert_string_equal(
        e.msg, "signature.inputs[0].name: expected a non-empty string of at most 256 bytes");
    bad = in[0];
    bad.names = NULL;
    assert_int_equal(model_sig_copy(&dst, &bsrc, &e), MWE_CONFIG);
    assert_string_equal(e.msg, "signature.inputs[0].names: 2 names declared but the list is NULL");
    static const char *const holey[] = {"a", NULL};
    bad = in[0];
    bad.names = holey;
    assert_int_equal(model_sig_copy(&dst, &bsrc, &e), MWE_CONFIG);
    assert_string_equal(
        e.msg, "signature.inputs[0].names[1]: expected a non-empty string of at most 256 bytes");
    static const char *const twice[] = {"a", "a"};
    bad = in[0];
    bad.names = twice;
    assert_int_equal(model_sig_copy(&dst, &bsrc, &e), MWE_CONFIG);
    assert_string_equal(e.msg, "signature.inputs[0].names[1]: duplicate 'a' (also names[0])");
    static const char *const bad_utf8[] = {"a", "\xff\xfe"};
    bad = in[0];
    bad.names = bad_utf8;
    assert_int_equal(model_sig_copy(&dst, &bsrc, &e), MWE_CONFIG);
    struct mw_tensor_spec two[2] = {in[0], in[0]};
    struct model_sig dup = {2, two, 0, NULL, NULL};
    assert_int_equal(model_sig_copy(&dst, &dup, &e), MWE_CONFIG);
    assert_string_equal(e.msg,
                        "signature.inputs[1].name: duplicate 'x' (also signature.inputs[0])");
    struct model_sig nul = {1, NULL, 0, NULL, NULL};
    assert_int_equal(model_sig_copy(&dst, &nul, &e), MWE_CONFIG);
    assert_string_equal(e.msg, "signature.inputs: 1 tensors declared but the list is NULL");
    assert_null(dst.inputs);
    assert_int_equal(dst.n_inputs, 0);
}

/* "optional": true marks an input that may be null or missing; anything but a boolean is refused. */
static void test_optional_inputs(void **state)
{
    struct model_sig sig = {0}, copy = {0};
    struct mw_error e = {0};
    json_t *j;

    (void)state;
    j = json_loads("{\"inputs\":[{\"name\":\"a\",\"datatype\":\"BYTES\",\"shape\":[-1]},"
                   "{\"name\":\"b\",\"datatype\":\"INT64\",\"shape\":[-1],\"optional\":true}]}",
                   0, NULL);
    assert_int_equal(model_sig_from_json(&sig, j, &e), 0);
    json_decref(j);
    assert_non_null(sig.optional);
    assert_false(sig.optional[0]);
    assert_true(sig.optional[1]);
    assert_int_equal(model_sig_copy(&copy, &sig, &e), 0);
    assert_non_null(copy.optional);
    assert_true(copy.optional[1]);
    model_sig_fini(&copy);
    model_sig_fini(&sig);
    j = json_loads("{\"inputs\":[{\"name\":\"a\",\"datatype\":\"BYTES\",\"shape\":[-1]}]}", 0,
                   NULL);
    assert_int_equal(model_sig_from_json(&sig, j, &e), 0);
    json_decref(j);
    assert_null(sig.optional); /* none optional: no flags at all */
    model_sig_fini(&sig);
    j = json_loads("{\"inputs\":[{\"name\":\"a\",\"datatype\":\"BYTES\",\"shape\":[-1],"
                   "\"optional\":1}]}",
                   0, NULL);
    assert_int_equal(model_sig_from_json(&sig, j, &e), MWE_CONFIG);
    assert_string_equal(e.msg, "signature.inputs[0].optional: expected true or false");
    json_decref(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_optional_inputs),
        cmocka_unit_test(test_dtype_names_and_sizes),
        cmocka_unit_test(test_parse_full_signature),
        cmocka_unit_test(test_parse_partial_signatures),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_long_lists),
        cmocka_unit_test(test_copy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
