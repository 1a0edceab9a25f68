/*
 * Tests of the XGBoost backend through the real registry code (model_load): the bundled iris model
 * against Python's reference predictions, JSON and UBJSON files, concurrency, generated outputs,
 * binary and regression boosters trained here, and every load error's message.
 */
#include <setjmp.h> /* cmocka needs these three first */
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <ftw.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <xgboost/c_api.h>

#include "core/core.h"
#include "model/model_impl.h"

#define N_THREADS 8
#define THREAD_ROUNDS 100

/* ---- helpers --------------------------------------------------------------------------------- */

static const struct model_opts OPTS = {
    .workers = 0, .queue_size = 16, .timeout_ms = 5000, .max_records = 1000};

static void src_path(char *out, size_t size, const char *rel)
{
    const char *root = getenv("MW_SOURCE_DIR");

    snprintf(out, size, "%s/%s", root && *root ? root : ".", rel);
}

static char *make_tmpdir(void)
{
    char tmpl[] = "/tmp/mw-test-xgb-XXXXXX";
    char *d = mkdtemp(tmpl);

    assert_non_null(d);
    d = strdup(d);
    assert_non_null(d);
    return d;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void rm_tree(char *dir)
{
    assert_int_equal(nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS), 0);
    free(dir);
}

static void write_file(const char *dir, const char *name, const void *data, size_t len)
{
    char path[512];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static void write_text(const char *dir, const char *name, const char *text)
{
    write_file(dir, name, text, strlen(text));
}

/* The bundled iris model.json with its "file" replaced, and optionally its signature. */
static void write_iris_json(const char *dir, const char *file, const char *signature)
{
    char path[512], *text;
    json_error_t jerr;
    json_t *j;

    src_path(path, sizeof(path), "models/iris/model.json");
    j = json_load_file(path, 0, &jerr);
    assert_non_null(j);
    assert_int_equal(json_object_set_new(j, "file", json_string(file)), 0);
    if (signature != NULL) {
        json_t *sig = json_loads(signature, 0, &jerr);
        assert_non_null(sig);
        assert_int_equal(json_object_set_new(j, "signature", sig), 0);
    }
    text = json_dumps(j, JSON_INDENT(2));
    assert_non_null(text);
    write_text(dir, "model.json", text);
    free(text);
    json_decref(j);
}

/* Saves the bundled iris booster in another format (by extension) into dir/name. */
static void save_iris_as(const char *dir, const char *name)
{
    char src[512], dst[512];
    BoosterHandle b;

    src_path(src, sizeof(src), "models/iris/iris.ubj");
    snprintf(dst, sizeof(dst), "%s/%s", dir, name);
    assert_int_equal(XGBoosterCreate(NULL, 0, &b), 0);
    assert_int_equal(XGBoosterLoadModel(b, src), 0);
    assert_int_equal(XGBoosterSaveModel(b, dst), 0);
    XGBoosterFree(b);
}

/* Loads dir and expects failure with a message that names dir and contains `fragment`. */
static void expect_load_error(const char *dir, const char *fragment)
{
    struct mw_error e;
    struct model *m;

    memset(&e, 0, sizeof(e));
    m = model_load(dir, &OPTS, &e);
    if (m != NULL)
        model_free(m);
    assert_null(m);
    assert_int_not_equal(e.code, 0);
    if (getenv("MW_TEST_VERBOSE") != NULL)
        print_message("load error: %s\n", e.msg);
    if (strstr(e.msg, fragment) == NULL || strstr(e.msg, dir) == NULL)
        fail_msg("message \"%s\" lacks \"%s\" or the path %s", e.msg, fragment, dir);
}

static size_t output_index(const struct model *m, const char *name)
{
    for (size_t i = 0; i < m->sig.n_outputs; i++) {
        if (strcmp(m->sig.outputs[i].name, name) == 0)
            return i;
    }
    fail_msg("no output %s", name);
    return 0;
}

/* Runs m on rows x n_features floats; returns the completed call (caller releases). */
static struct model_call *predict(struct model *m, const float *x, size_t rows, size_t n_features)
{
    struct model_call *c = model_call_new(m, 0);
    float *data;

    assert_non_null(c);
    assert_int_equal(c->n_inputs, 1);
    data = arena_alloc(&c->arena, rows * n_features * sizeof(float));
    assert_non_null(data);
    memcpy(data, x, rows * n_features * sizeof(float));
    c->inputs[0].name = m->sig.inputs[0].name;
    c->inputs[0].dtype = MW_FP32;
    c->inputs[0].ndim = 2;
    c->inputs[0].shape[0] = (int64_t)rows;
    c->inputs[0].shape[1] = (int64_t)n_features;
    c->inputs[0].data = data;
    assert_int_equal(model_call_run(c), 0);
    return c;
}

static bool bytes_eq(const struct mw_bytes *b, const char *s)
{
    return b->len == strlen(s) && memcmp(b->ptr, s, b->len) == 0;
}

/* ---- the reference rows ---------------------------------------------------------------------- */

struct reference {
    size_t rows;
    float *x;     /* rows x 4 */
    double *p;    /* rows x 3 */
    char **label; /* rows */
};

static void reference_load(struct reference *r)
{
    char path[512];
    json_error_t jerr;
    json_t *j, *in, *pr, *lb;

    src_path(path, sizeof(path), "models/iris/reference.json");
    j = json_load_file(path, 0, &jerr);
    assert_non_null(j);
    in = json_object_get(j, "inputs");
    pr = json_object_get(j, "probabilities");
    lb = json_object_get(j, "labels");
    r->rows = json_array_size(in);
    assert_true(r->rows >= 30);
    assert_int_equal(json_array_size(pr), r->rows);
    assert_int_equal(json_array_size(lb), r->rows);
    r->x = calloc(r->rows * 4, sizeof(float));
    r->p = calloc(r->rows * 3, sizeof(double));
    r->label = calloc(r->rows, sizeof(char *));
    assert_true(r->x && r->p && r->label);
    for (size_t i = 0; i < r->rows; i++) {
        json_t *row = json_array_get(in, i), *prow = json_array_get(pr, i);

        assert_int_equal(json_array_size(row), 4);
        assert_int_equal(json_array_size(prow), 3);
        for (size_t k = 0; k < 4; k++)
            r->x[i * 4 + k] = (float)json_number_value(json_array_get(row, k));
        for (size_t k = 0; k < 3; k++)
            r->p[i * 3 + k] = json_number_value(json_array_get(prow, k));
        r->label[i] = strdup(json_string_value(json_array_get(lb, i)));
        assert_non_null(r->label[i]);
    }
    json_decref(j);
}

static void reference_free(struct reference *r)
{
    for (size_t i = 0; i < r->rows; i++)
        free(r->label[i]);
    free(r->label);
    free(r->x);
    free(r->p);
}

/* Checks every reference row, as one batch and one row at a time. */
static void check_reference(struct model *m)
{
    struct reference r;
    size_t il = output_index(m, "label"), ip = output_index(m, "probabilities");

    reference_load(&r);
    for (int single = 0; single < 2; single++) {
        size_t step = single ? 1 : r.rows;

        for (size_t start = 0; start < r.rows; start += step) {
            struct model_call *c = predict(m, r.x + start * 4, step, 4);
            const struct mw_bytes *label = c->outputs[il].data;
            const float *p = c->outputs[ip].data;

            assert_int_equal(c->outputs[ip].ndim, 2);
            assert_int_equal(c->outputs[ip].shape[0], (int64_t)step);
            assert_int_equal(c->outputs[ip].shape[1], 3);
            assert_int_equal(c->outputs[il].shape[0], (int64_t)step);
            for (size_t i = 0; i < step; i++) {
                for (size_t k = 0; k < 3; k++) {
                    double want = r.p[(start + i) * 3 + k];
                    if (fabs((double)p[i * 3 + k] - want) > 1e-6)
                        fail_msg("row %zu class %zu: %.9g, expected %.9g", start + i, k,
                                 (double)p[i * 3 + k], want);
                }
                if (!bytes_eq(&label[i], r.label[start + i]))
                    fail_msg("row %zu: label %.*s, expected %s", start + i, (int)label[i].len,
                             (const char *)label[i].ptr, r.label[start + i]);
            }
            model_call_release(c);
        }
    }
    reference_free(&r);
}

/* ---- boosters trained in the test ------------------------------------------------------------ */

#define TRAIN_ROWS 60
#define TRAIN_FEATURES 3

static void train_data(float *x, float *y, int classes)
{
    for (int i = 0; i < TRAIN_ROWS; i++) {
        for (int k = 0; k < TRAIN_FEATURES; k++)
            x[i * TRAIN_FEATURES + k] = (float)((i * (k + 3) * 7919) % 101) / 10.0f;
        float s = x[i * TRAIN_FEATURES] + 2.0f * x[i * TRAIN_FEATURES + 1];
        y[i] = classes ? (float)((int)s % classes) : s;
    }
}

/* Trains a small booster with `objective` and saves it to dir/name. */
static void train_save(const char *dir, const char *name, const char *objective, int classes)
{
    float x[TRAIN_ROWS * TRAIN_FEATURES], y[TRAIN_ROWS];
    char path[512], nc[16];
    DMatrixHandle d;
    BoosterHandle b;

    train_data(x, y, classes);
    assert_int_equal(XGDMatrixCreateFromMat(x, TRAIN_ROWS, TRAIN_FEATURES, NAN, &d), 0);
    assert_int_equal(XGDMatrixSetFloatInfo(d, "label", y, TRAIN_ROWS), 0);
    assert_int_equal(XGBoosterCreate(&d, 1, &b), 0);
    assert_int_equal(XGBoosterSetParam(b, "objective", objective), 0);
    assert_int_equal(XGBoosterSetParam(b, "nthread", "1"), 0);
    assert_int_equal(XGBoosterSetParam(b, "max_depth", "3"), 0);
    if (classes > 2) {
        snprintf(nc, sizeof(nc), "%d", classes);
        assert_int_equal(XGBoosterSetParam(b, "num_class", nc), 0);
    }
    for (int it = 0; it < 5; it++)
        assert_int_equal(XGBoosterUpdateOneIter(b, it, d), 0);
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    assert_int_equal(XGBoosterSaveModel(b, path), 0);
    XGBoosterFree(b);
    XGDMatrixFree(d);
}

/* Predicts with the C API directly, for comparison: out holds rows x groups floats. */
static void direct_predict(const char *path, const float *x, size_t rows, float *out, size_t groups)
{
    char arr[160];
    const bst_ulong *shape;
    bst_ulong dim;
    const float *res;
    BoosterHandle b;

    assert_int_equal(XGBoosterCreate(NULL, 0, &b), 0);
    assert_int_equal(XGBoosterLoadModel(b, path), 0);
    snprintf(arr, sizeof(arr),
             "{\"data\": [%" PRIuMAX ", true], \"shape\": [%zu, %d], "
             "\"typestr\": \"<f4\", \"version\": 3}",
             (uintmax_t)(uintptr_t)x, rows, TRAIN_FEATURES);
    assert_int_equal(XGBoosterPredictFromDense(
                         b, arr,
                         "{\"type\": 0, \"training\": false, "
                         "\"iteration_begin\": 0, \"iteration_end\": 0, \"strict_shape\": false, "
                         "\"cache_id\": 0, \"missing\": NaN}",
                         NULL, &shape, &dim, &res),
                     0);
    memcpy(out, res, rows * groups * sizeof(float));
    XGBoosterFree(b);
}

static const char SIG3_NO_OUTPUTS[] =
    "{\"inputs\": [{\"name\": \"x\", \"datatype\": \"FP32\", \"shape\": [-1, 3]}]}";

static void write_model_json(const char *dir, const char *file, const char *signature)
{
    char text[2048];

    snprintf(text, sizeof(text),
             "{\"name\": \"t\", \"version\": \"1\", \"backend\": \"xgboost\", "
             "\"file\": \"%s\", \"signature\": %s}",
             file, signature);
    write_text(dir, "model.json", text);
}

/* ---- tests ----------------------------------------------------------------------------------- */

static void test_iris_reference(void **state)
{
    char dir[512];
    struct mw_error e = {0};
    struct model *m;

    (void)state;
    src_path(dir, sizeof(dir), "models/iris");
    m = model_load(dir, &OPTS, &e);
    if (m == NULL)
        fail_msg("model_load: %s", e.msg);
    assert_true(m->flags & MW_FLAG_THREAD_SAFE);
    assert_true(m->flags & MW_FLAG_BATCH);
    assert_int_equal(m->sig.n_inputs, 1);
    assert_int_equal(m->sig.n_outputs, 2);
    assert_int_equal(m->sig.outputs[output_index(m, "probabilities")].n_labels, 3);
    check_reference(m);
    model_free(m);
}

static void test_iris_json_format(void **state)
{
    char *dir = make_tmpdir();
    struct mw_error e = {0};
    struct model *m;

    (void)state;
    save_iris_as(dir, "iris.json");
    write_iris_json(dir, "iris.json", NULL);
    m = model_load(dir, &OPTS, &e);
    if (m == NULL)
        fail_msg("model_load: %s", e.msg);
    check_reference(m);
    model_free(m);
    rm_tree(dir);
}

struct thread_arg {
    struct model *m;
    const struct reference *r;
    const float *expect; /* rows x 3 */
    int mismatches;
};

/* No cmocka assertions off the main thread: failures are counted and checked after join. */
static void *thread_main(void *p)
{
    struct thread_arg *a = p;
    size_t ip = output_index(a->m, "probabilities");

    for (int round = 0; round < THREAD_ROUNDS; round++) {
        size_t rows = 1 + (size_t)round % a->r->rows; /* vary the batch size */
        struct model_call *c = model_call_new(a->m, 0);
        float *data = c ? arena_alloc(&c->arena, rows * 4 * sizeof(float)) : NULL;

        if (data == NULL) {
            a->mismatches++;
            if (c != NULL)
                model_call_release(c);
            continue;
        }
        memcpy(data, a->r->x, rows * 4 * sizeof(float));
        c->inputs[0].name = a->m->sig.inputs[0].name;
        c->inputs[0].dtype = MW_FP32;
        c->inputs[0].ndim = 2;
        c->inputs[0].shape[0] = (int64_t)rows;
        c->inputs[0].shape[1] = 4;
        c->inputs[0].data = data;
        if (model_call_run(c) != 0 ||
            memcmp(c->outputs[ip].data, a->expect, rows * 3 * sizeof(float)) != 0)
            a->mismatches++;
        model_call_release(c);
    }
    return NULL;
}

static void test_iris_threads(void **state)
{
    char dir[512];
    struct mw_error e = {0};
    struct model *m;
    struct reference r;
    struct thread_arg args[N_THREADS];
    pthread_t th[N_THREADS];
    struct model_call *base;
    float *expect;

    (void)state;
    src_path(dir, sizeof(dir), "models/iris");
    m = model_load(dir, &OPTS, &e);
    if (m == NULL)
        fail_msg("model_load: %s", e.msg);
    reference_load(&r);
    base = predict(m, r.x, r.rows, 4);
    expect = malloc(r.rows * 3 * sizeof(float));
    assert_non_null(expect);
    memcpy(expect, base->outputs[output_index(m, "probabilities")].data,
           r.rows * 3 * sizeof(float));
    model_call_release(base);

    for (int t = 0; t < N_THREADS; t++) {
        args[t] = (struct thread_arg){.m = m, .r = &r, .expect = expect};
        assert_int_equal(pthread_create(&th[t], NULL, thread_main, &args[t]), 0);
    }
    for (int t = 0; t < N_THREADS; t++) {
        assert_int_equal(pthread_join(th[t], NULL), 0);
        assert_int_equal(args[t].mismatches, 0);
    }
    free(expect);
    reference_free(&r);
    model_free(m);
}

/* model.json without outputs: the backend fills them in, with labels "0".."2". */
static void test_outputs_filled_in(void **state)
{
    char *dir = make_tmpdir();
    struct mw_error e = {0};
    struct model *m;
    struct model_call *c;
    const float setosa[4] = {5.1f, 3.5f, 1.4f, 0.2f}, virginica[4] = {6.7f, 3.0f, 5.2f, 2.3f};
    float x[8];
    size_t il, ip;
    const struct mw_bytes *label;

    (void)state;
    save_iris_as(dir, "m.ubj");
    write_iris_json(dir, "m.ubj",
                    "{\"inputs\": [{\"name\": \"features\", \"datatype\": \"FP32\", "
                    "\"shape\": [-1, 4]}]}");
    m = model_load(dir, &OPTS, &e);
    if (m == NULL)
        fail_msg("model_load: %s", e.msg);
    assert_int_equal(m->sig.n_outputs, 2);
    il = output_index(m, "label");
    ip = output_index(m, "probabilities");
    assert_int_equal(m->sig.outputs[il].dtype, MW_BYTES);
    assert_int_equal(m->sig.outputs[ip].dtype, MW_FP32);
    assert_int_equal(m->sig.outputs[ip].ndim, 2);
    assert_int_equal(m->sig.outputs[ip].shape[0], -1);
    assert_int_equal(m->sig.outputs[ip].shape[1], 3);
    assert_int_equal(m->sig.outputs[ip].n_labels, 3);
    assert_string_equal(m->sig.outputs[ip].labels[2], "2");
    memcpy(x, setosa, sizeof(setosa));
    memcpy(x + 4, virginica, sizeof(virginica));
    c = predict(m, x, 2, 4);
    label = c->outputs[il].data;
    assert_true(bytes_eq(&label[0], "0"));
    assert_true(bytes_eq(&label[1], "2"));
    model_call_release(c);
    model_free(m);
    rm_tree(dir);
}

/* Declared outputs without labels get "0".."C-1" too; declared order is kept. */
static void test_declared_outputs_without_labels(void **state)
{
    char *dir = make_tmpdir();
    struct mw_error e = {0};
    struct model *m;

    (void)state;
    save_iris_as(dir, "m.ubj");
    write_iris_json(dir, "m.ubj",
                    "{\"inputs\": [{\"name\": \"features\", \"datatype\": \"FP32\", "
                    "\"shape\": [-1, 4]}], \"outputs\": [{\"name\": \"probabilities\", "
                    "\"datatype\": \"FP32\", \"shape\": [-1, 3]}, {\"name\": \"label\", "
                    "\"datatype\": \"BYTES\", \"shape\": [-1]}]}");
    m = model_load(dir, &OPTS, &e);
    if (m == NULL)
        fail_msg("model_load: %s", e.msg);
    assert_string_equal(m->sig.outputs[0].name, "probabilities");
    assert_string_equal(m->sig.outputs[1].name, "label");
    assert_int_equal(m->sig.outputs[0].n_labels, 3);
    assert_string_equal(m->sig.outputs[0].labels[0], "0");
    model_free(m);
    rm_tree(dir);
}

static void test_binary_logistic(void **state)
{
    char *dir = make_tmpdir();
    char path[512];
    struct mw_error e = {0};
    struct model *m;
    struct model_call *c;
    float x[TRAIN_ROWS * TRAIN_FEATURES], y[TRAIN_ROWS], direct[TRAIN_ROWS];
    const float *p;
    const struct mw_bytes *label;

    (void)state;
    train_save(dir, "b.json", "binary:logistic", 2);
    write_model_json(dir, "b.json", SIG3_NO_OUTPUTS);
    m = model_load(dir, &OPTS, &e);
    if (m == NULL)
        fail_msg("model_load: %s", e.msg);
    train_data(x, y, 2);
    snprintf(path, sizeof(path), "%s/b.json", dir);
    direct_predict(path, x, TRAIN_ROWS, direct, 1);
    c = predict(m, x, TRAIN_ROWS, TRAIN_FEATURES);
    p = c->outputs[output_index(m, "probabilities")].data;
    label = c->outputs[output_index(m, "label")].data;
    for (size_t i = 0; i < TRAIN_ROWS; i++) {
        assert_true(p[i * 2 + 1] == direct[i]);
        assert_true(fabsf(p[i * 2] - (1.0f - direct[i])) < 1e-7f);
        assert_true(bytes_eq(&label[i], direct[i] > 0.5f ? "1" : "0"));
    }
    model_call_release(c);
    model_free(m);
    rm_tree(dir);
}

static void test_regression(void **state)
{
    char *dir = make_tmpdir();
    char path[512];
    struct mw_error e = {0};
    struct model *m;
    struct model_call *c;
    float x[TRAIN_ROWS * TRAIN_FEATURES], y[TRAIN_ROWS], direct[TRAIN_ROWS];
    const float *pred;
    bool varied = false;

    (void)state;
    train_save(dir, "r.ubj", "reg:squarederror", 0);
    write_model_json(dir, "r.ubj", SIG3_NO_OUTPUTS);
    m = model_load(dir, &OPTS, &e);
    if (m == NULL)
        fail_msg("model_load: %s", e.msg);
    assert_int_equal(m->sig.n_outputs, 1);
    assert_string_equal(m->sig.outputs[0].name, "prediction");
    assert_int_equal(m->sig.outputs[0].dtype, MW_FP32);
    assert_int_equal(m->sig.outputs[0].ndim, 1);
    assert_int_equal(m->sig.outputs[0].shape[0], -1);
    train_data(x, y, 0);
    snprintf(path, sizeof(path), "%s/r.ubj", dir);
    direct_predict(path, x, TRAIN_ROWS, direct, 1);
    c = predict(m, x, TRAIN_ROWS, TRAIN_FEATURES);
    assert_int_equal(c->outputs[0].ndim, 1);
    assert_int_equal(c->outputs[0].shape[0], TRAIN_ROWS);
    pred = c->outputs[0].data;
    assert_memory_equal(pred, direct, sizeof(direct));
    for (size_t i = 1; i < TRAIN_ROWS; i++)
        varied = varied || pred[i] != pred[0];
    assert_true(varied);
    model_call_release(c);
    model_free(m);

    rm_tree(dir);
}

/* Bad inputs reaching run() are refused with MWE_INVALID_INPUT, never a crash. */
static void test_run_bad_input(void **state)
{
    char dir[512];
    struct mw_error e = {0};
    struct model *m;
    struct model_call *c;
    float *data;

    (void)state;
    src_path(dir, sizeof(dir), "models/iris");
    m = model_load(dir, &OPTS, &e);
    if (m == NULL)
        fail_msg("model_load: %s", e.msg);
    for (int kind = 0; kind < 4; kind++) {
        c = model_call_new(m, 0);
        assert_non_null(c);
        data = arena_calloc(&c->arena, 8, sizeof(float));
        assert_non_null(data);
        c->inputs[0].dtype = MW_FP32;
        c->inputs[0].ndim = 2;
        c->inputs[0].shape[0] = 2;
        c->inputs[0].shape[1] = 4;
        c->inputs[0].data = data;
        if (kind == 0)
            c->inputs[0].shape[1] = 5; /* wrong feature count */
        else if (kind == 1)
            c->inputs[0].ndim = 1;
        else if (kind == 2)
            data[5] = INFINITY;
        else
            c->inputs[0].shape[0] = INT64_MAX; /* absurd row count */
        assert_int_equal(model_call_run(c), MWE_INVALID_INPUT);
        assert_true(c->errmsg[0] != '\0');
        if (kind == 2)
            assert_non_null(strstr(c->errmsg, "[1][1]"));
        model_call_release(c);
    }
    /* NaN is XGBoost's missing value: accepted. */
    {
        const float x[4] = {NAN, 3.5f, 1.4f, 0.2f};
        c = predict(m, x, 1, 4);
        assert_non_null(c->outputs[0].data);
        model_call_release(c);
    }
    model_free(m);
}

static void test_error_missing_file(void **state)
{
    char *dir = make_tmpdir();

    (void)state;
    write_iris_json(dir, "nope.ubj", NULL);
    expect_load_error(dir, "nope.ubj: cannot open the model file");
    rm_tree(dir);
}

static void test_error_file_name(void **state)
{
    char *dir = make_tmpdir();

    (void)state;
    write_iris_json(dir, "../x.ubj", NULL);
    expect_load_error(dir, "plain file name");
    write_iris_json(dir, "..", NULL);
    expect_load_error(dir, "plain file name");
    save_iris_as(dir, "iris.ubj");
    write_iris_json(dir, "iris.model", NULL);
    expect_load_error(dir, "JSON (.json) or UBJSON (.ubj)");
    write_text(dir, "model.json",
               "{\"name\": \"t\", \"version\": \"1\", "
               "\"backend\": \"xgboost\", \"signature\": {\"inputs\": [{\"name\": \"x\", "
               "\"datatype\": \"FP32\", \"shape\": [-1, 4]}]}}");
    expect_load_error(dir, "\"file\" is required");
    rm_tree(dir);
}

static void test_error_feature_count(void **state)
{
    char *dir = make_tmpdir();

    (void)state;
    save_iris_as(dir, "iris.ubj");
    write_iris_json(dir, "iris.ubj",
                    "{\"inputs\": [{\"name\": \"features\", \"datatype\": "
                    "\"FP32\", \"shape\": [-1, 5]}]}");
    expect_load_error(dir, "declares 5 features but the booster");
    expect_load_error(dir, "has 4");
    write_iris_json(dir, "iris.ubj",
                    "{\"inputs\": [{\"name\": \"features\", \"datatype\": "
                    "\"FP64\", \"shape\": [-1, 4]}]}");
    expect_load_error(dir, "datatype FP64");
    rm_tree(dir);
}

static void test_error_outputs(void **state)
{
    char *dir = make_tmpdir();
    static const char in[] = "{\"inputs\": [{\"name\": \"features\", \"datatype\": \"FP32\", "
                             "\"shape\": [-1, 4]}], \"outputs\": ";
    char sig[1024];

    (void)state;
    save_iris_as(dir, "iris.ubj");
    snprintf(sig, sizeof(sig),
             "%s[{\"name\": \"class\", \"datatype\": \"BYTES\", "
             "\"shape\": [-1]}, {\"name\": \"probabilities\", \"datatype\": \"FP32\", "
             "\"shape\": [-1, 3]}]}",
             in);
    write_iris_json(dir, "iris.ubj", sig);
    expect_load_error(dir, "outputs[0] is named \"class\"");

    snprintf(sig, sizeof(sig),
             "%s[{\"name\": \"label\", \"datatype\": \"BYTES\", "
             "\"shape\": [-1]}, {\"name\": \"probabilities\", \"datatype\": \"FP32\", "
             "\"shape\": [-1, 2]}]}",
             in);
    write_iris_json(dir, "iris.ubj", sig);
    expect_load_error(dir, "has shape [-1, 2]; expected [-1, 3]");

    snprintf(sig, sizeof(sig),
             "%s[{\"name\": \"label\", \"datatype\": \"FP32\", "
             "\"shape\": [-1]}, {\"name\": \"probabilities\", \"datatype\": \"FP32\", "
             "\"shape\": [-1, 3]}]}",
             in);
    write_iris_json(dir, "iris.ubj", sig);
    expect_load_error(dir, "\"label\" has datatype FP32; expected BYTES");

    snprintf(sig, sizeof(sig),
             "%s[{\"name\": \"probabilities\", \"datatype\": \"FP32\", \"shape\": [-1, 3]}]}", in);
    write_iris_json(dir, "iris.ubj", sig);
    expect_load_error(dir, "declares 1 (\"probabilities\")");

    snprintf(sig, sizeof(sig),
             "%s[{\"name\": \"label\", \"datatype\": \"BYTES\", "
             "\"shape\": [-1]}, {\"name\": \"probabilities\", \"datatype\": \"FP32\", "
             "\"shape\": [-1, 3]}, {\"name\": \"extra\", \"datatype\": \"FP32\", "
             "\"shape\": [-1]}]}",
             in);
    write_iris_json(dir, "iris.ubj", sig);
    expect_load_error(dir, "declares 3 (\"label\", \"probabilities\", \"extra\"); a "
                           "multi:softprob classifier has exactly two");
    rm_tree(dir);
}

static void test_error_corrupt_model(void **state)
{
    char *dir = make_tmpdir();
    static const char junk[] = "{\"learner\": [1, 2, \x01\x02 garbage";
    uint8_t noise[512];
    FILE *f;
    char src[512];
    size_t n;

    (void)state;
    write_file(dir, "m.json", junk, sizeof(junk) - 1);
    write_iris_json(dir, "m.json", NULL);
    expect_load_error(dir, "m.json: not a valid XGBoost model");

    for (size_t i = 0; i < sizeof(noise); i++)
        noise[i] = (uint8_t)(i * 131 + 7);
    write_file(dir, "m.ubj", noise, sizeof(noise));
    write_iris_json(dir, "m.ubj", NULL);
    expect_load_error(dir, "m.ubj: not a valid XGBoost model");

    /* A truncated copy of the real model. */
    src_path(src, sizeof(src), "models/iris/iris.ubj");
    f = fopen(src, "rb");
    assert_non_null(f);
    {
        uint8_t head[2000];
        n = fread(head, 1, sizeof(head), f);
        assert_int_equal(n, sizeof(head));
        write_file(dir, "t.ubj", head, n);
    }
    fclose(f);
    write_iris_json(dir, "t.ubj", NULL);
    expect_load_error(dir, "t.ubj: not a valid XGBoost model");
    rm_tree(dir);
}

static void test_error_softmax(void **state)
{
    char *dir = make_tmpdir();

    (void)state;
    train_save(dir, "s.ubj", "multi:softmax", 3);
    write_model_json(dir, "s.ubj", SIG3_NO_OUTPUTS);
    expect_load_error(dir, "s.ubj: objective multi:softmax");
    expect_load_error(dir, "multi:softprob");
    rm_tree(dir);
}

static void test_error_regression_outputs(void **state)
{
    char *dir = make_tmpdir();

    (void)state;
    train_save(dir, "r.ubj", "reg:squarederror", 0);
    write_model_json(dir, "r.ubj",
                     "{\"inputs\": [{\"name\": \"x\", \"datatype\": \"FP32\", "
                     "\"shape\": [-1, 3]}], \"outputs\": [{\"name\": \"y\", \"datatype\": "
                     "\"FP32\", \"shape\": [-1]}]}");
    expect_load_error(dir, "exactly one: \"prediction\"");
    rm_tree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_iris_reference),
        cmocka_unit_test(test_iris_json_format),
        cmocka_unit_test(test_iris_threads),
        cmocka_unit_test(test_outputs_filled_in),
        cmocka_unit_test(test_declared_outputs_without_labels),
        cmocka_unit_test(test_binary_logistic),
        cmocka_unit_test(test_regression),
        cmocka_unit_test(test_run_bad_input),
        cmocka_unit_test(test_error_missing_file),
        cmocka_unit_test(test_error_file_name),
        cmocka_unit_test(test_error_feature_count),
        cmocka_unit_test(test_error_outputs),
        cmocka_unit_test(test_error_corrupt_model),
        cmocka_unit_test(test_error_softmax),
        cmocka_unit_test(test_error_regression_outputs),
    };

    log_set_level(LOG_ERROR);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
