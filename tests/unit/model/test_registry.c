/*
 * Unit tests for src/model/model.c: model.json loading, the registry and model_describe, on model
 * folders written under a mkdtemp() directory. The real backends are replaced by fakes defined
 * here under the same names (backend_xgboost, backend_plugin): the linker then takes these
 * instead of the library's backends/ objects, so success paths need no model file or plug-in.
 */
#include <errno.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "model/model_impl.h"

/* ---- fake backends --------------------------------------------------------------------------- */

static int loads, frees;

/* model.json member "fake": "fail" (refuses with a message), "silent" (refuses without one),
 * "nosig" (succeeds without a signature); otherwise fills a default signature when none. */
static int fake_load(struct model *m, const json_t *model_json, struct mw_error *e)
{
    const char *mode = json_string_value(json_object_get(model_json, "fake"));
    json_t *sig;
    int rc = 0;

    if (mode != NULL && strcmp(mode, "fail") == 0)
        return mw_fail(e, MWE_CONFIG, "%s/fake.bin: refused", m->dir);
    if (mode != NULL && strcmp(mode, "silent") == 0)
        return MWE_CONFIG;
    if (m->sig.n_inputs == 0 && (mode == NULL || strcmp(mode, "nosig") != 0)) {
        sig =
            json_loads("{\"inputs\": [{\"name\": \"x\", \"datatype\": \"FP32\", \"shape\": [-1, 2],"
                       " \"names\": [\"a\", \"b\"]}], \"outputs\": [{\"name\": \"p\", \"datatype\":"
                       " \"FP32\", \"shape\": [-1, 2], \"labels\": [\"no\", \"yes\"]}]}",
                       0, NULL);
        rc = model_sig_from_json(&m->sig, sig, e);
        json_decref(sig);
        if (rc != 0)
            return rc;
    }
    m->state = malloc(32); /* a leak shows under the sanitizer build if free is skipped */
    m->flags = MW_FLAG_THREAD_SAFE;
    loads++;
    return 0;
}

static int fake_run(struct model *m, struct model_call *c)
{
    (void)m;
    (void)c;
    return MWE_MODEL_FAILED;
}

static void fake_free(struct model *m)
{
    free(m->state);
    m->state = NULL;
    frees++;
}

const struct backend_ops backend_xgboost = {"xgboost", fake_load, fake_run, fake_free};
const struct backend_ops backend_plugin = {"plugin", fake_load, fake_run, fake_free};

/* ---- a temporary model repository ------------------------------------------------------------ */

static char root[64];

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int setup(void **state)
{
    (void)state;
    snprintf(root, sizeof(root), "/tmp/mw-registry-XXXXXX");
    if (mkdtemp(root) == NULL)
        return -1;
    loads = frees = 0;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    nftw(root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return loads == frees ? 0 : -1; /* every loaded model was freed */
}

/* Writes root/<folder>/<file> (creating the folder) with text. */
static void put(const char *folder, const char *file, const char *text)
{
    char path[512];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", root, folder);
    if (mkdir(path, 0700) != 0 && errno != EEXIST)
        fail_msg("mkdir %s: %s", path, strerror(errno));
    snprintf(path, sizeof(path), "%s/%s/%s", root, folder, file);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void put_model(const char *folder, const char *json)
{
    put(folder, "model.json", json);
}

/* Copies template into out, with each "%s" replaced by root. */
static void with_root(char *out, size_t cap, const char *template)
{
    size_t used = 0, rlen = strlen(root);

    for (const char *p = template; *p != '\0' && used + 1 < cap; p++) {
        if (p[0] == '%' && p[1] == 's' && used + rlen + 1 < cap) {
            memcpy(out + used, root, rlen);
            used += rlen;
            p++;
        } else {
            out[used++] = *p;
        }
    }
    out[used] = '\0';
}

/* registry_load(root) must fail with exactly `want_template` ("%s" stands for root). */
static void expect_registry_error(const char *default_name, const char *want_template)
{
    char want[512];
    struct mw_error e = {0};
    struct registry *r;

    with_root(want, sizeof(want), want_template);
    r = registry_load(root, default_name, NULL, &e);
    if (r != NULL) {
        registry_free(r);
        fail_msg("registry_load succeeded; expected \"%s\"", want);
    }
    if (strcmp(e.msg, want) != 0)
        fail_msg("expected \"%s\"\n     got \"%s\"", want, e.msg);
    assert_int_equal(e.code == MWE_CONFIG || e.code == MWE_NOMEM, 1);
    assert_int_equal(loads, frees);
}

/* ---- tests ----------------------------------------------------------------------------------- */

static void test_missing_dir(void **state)
{
    char dir[128];
    struct mw_error e = {0};

    (void)state;
    snprintf(dir, sizeof(dir), "%s/nope", root);
    assert_null(registry_load(dir, NULL, NULL, &e));
    assert_int_equal(e.code, MWE_CONFIG);
    char want[256];
    snprintf(want, sizeof(want), "%s: cannot open the model folder: No such file or directory",
             dir);
    assert_string_equal(e.msg, want);
    assert_null(registry_load(NULL, NULL, NULL, &e));
    assert_null(registry_load("", NULL, NULL, &e));
    assert_null(model_load(dir, NULL, &e));
    snprintf(want, sizeof(want), "%s/model.json: cannot open: No such file or directory", dir);
    assert_string_equal(e.msg, want);
}

static void test_no_model(void **state)
{
    (void)state;
    expect_registry_error(NULL, "%s: no model found (expected %s/<name>/model.json)");
    /* hidden folders, folders without model.json and files at the top do not count */
    put_model(".hidden", "{\"backend\": \"xgboost\"}");
    put("docs", "readme.txt", "hello");
    put(".", "model.json", "{\"backend\": \"xgboost\"}");
    expect_registry_error(NULL, "%s: no model found (expected %s/<name>/model.json)");
}

static void test_bad_json(void **state)
{
    char prefix[128];
    struct mw_error e = {0};

    (void)state;
    put_model("a", "{\n  \"backend\": \"xgboost\",\n  oops\n}\n");
    assert_null(registry_load(root, NULL, NULL, &e));
    snprintf(prefix, sizeof(prefix), "%s/a/model.json: ", root);
    assert_int_equal(strncmp(e.msg, prefix, strlen(prefix)), 0);
    assert_non_null(strstr(e.msg, " at line 3 column "));

    put_model("a", "{\"backend\": \"xgboost\",\n \"backend\": \"plugin\"}");
    assert_null(registry_load(root, NULL, NULL, &e));
    assert_non_null(strstr(e.msg, "duplicate object key"));
    assert_non_null(strstr(e.msg, " at line 2 column "));

    put_model("a", "[1, 2]");
    expect_registry_error(NULL, "%s/a/model.json: expected a JSON object");
    put_model("a", "");
    assert_null(registry_load(root, NULL, NULL, &e));
    assert_int_equal(strncmp(e.msg, prefix, strlen(prefix)), 0);
}

static void test_backend_member(void **state)
{
    (void)state;
    put_model("a", "{\"backend\": \"nope\"}");
    expect_registry_error(
        NULL, "%s/a/model.json: \"backend\": unknown backend 'nope' (accepted: xgboost, plugin, python, sklearn)");
    put_model("a", "{\"name\": \"a\"}");
    expect_registry_error(NULL,
                          "%s/a/model.json: \"backend\": required (accepted: xgboost, plugin, python, sklearn)");
    put_model("a", "{\"backend\": 3}");
    expect_registry_error(NULL, "%s/a/model.json: \"backend\": unknown backend '(not a string)' "
                                "(accepted: xgboost, plugin, python, sklearn)");
}

static void test_bad_signature(void **state)
{
    (void)state;
    put_model("a", "{\"backend\": \"xgboost\", \"signature\": {\"inputs\": [{\"name\": \"x\","
                   " \"datatype\": \"FP32\", \"shape\": [-1, 0]}]}}");
    expect_registry_error(
        NULL, "%s/a/model.json: signature.inputs[0].shape[1]: expected -1 or a positive integer");
    put_model("a", "{\"backend\": \"xgboost\", \"signature\": [1]}");
    expect_registry_error(NULL,
                          "%s/a/model.json: signature: expected an object with inputs and outputs");
}

static void test_bad_members(void **state)
{
    (void)state;
    put_model("a", "{\"backend\": \"xgboost\", \"name\": \"a b\"}");
    expect_registry_error(NULL,
                          "%s/a/model.json: \"name\": expected a string of 1 to 64 characters from "
                          "[A-Za-z0-9_.-]");
    put_model("a", "{\"backend\": \"xgboost\", \"name\": \"..\"}");
    expect_registry_error(NULL,
                          "%s/a/model.json: \"name\": expected a string of 1 to 64 characters from "
                          "[A-Za-z0-9_.-]");
    put_model("a", "{\"backend\": \"xgboost\", \"version\": 2}");
    expect_registry_error(
        NULL, "%s/a/model.json: \"version\": expected a string of 1 to 64 characters from "
              "[A-Za-z0-9_.-]");
    put_model("a", "{\"backend\": \"xgboost\", \"description\": 5}");
    expect_registry_error(NULL, "%s/a/model.json: \"description\": expected a string");
    put_model("a", "{\"backend\": \"xgboost\", \"workers\": -1}");
    expect_registry_error(NULL, "%s/a/model.json: \"workers\": expected an integer from 0 to 256");
    put_model("a", "{\"backend\": \"xgboost\", \"workers\": \"2\"}");
    expect_registry_error(NULL, "%s/a/model.json: \"workers\": expected an integer from 0 to 256");
    put_model("a", "{\"backend\": \"xgboost\", \"queue_size\": 0}");
    expect_registry_error(NULL,
                          "%s/a/model.json: \"queue_size\": expected an integer from 1 to 1000000");
    put_model("a", "{\"backend\": \"xgboost\", \"timeout_ms\": 1e3}");
    expect_registry_error(NULL,
                          "%s/a/model.json: \"timeout_ms\": expected an integer from 1 to 3600000");
    put_model("a", "{\"backend\": \"xgboost\", \"max_records\": 99999999999}");
    expect_registry_error(
        NULL, "%s/a/model.json: \"max_records\": expected an integer from 1 to 10000000");
    char path[128];
    snprintf(path, sizeof(path), "%s/a/model.json", root);
    assert_int_equal(remove(path), 0);

    /* a folder name that is not a model name needs "name" */
    put_model("bad name", "{\"backend\": \"xgboost\"}");
    expect_registry_error(NULL,
                          "%s/bad name/model.json: the folder name 'bad name' is not a valid model "
                          "name (1 to 64 characters from [A-Za-z0-9_.-]): set \"name\"");
    put_model("bad name", "{\"backend\": \"xgboost\", \"name\": \"good\"}");
    struct mw_error e = {0};
    struct registry *r = registry_load(root, NULL, NULL, &e);
    assert_non_null(r);
    assert_string_equal(r->models[0]->name, "good");
    registry_free(r);
}

static void test_backend_errors(void **state)
{
    (void)state;
    /* the backend's own message is passed on as it is */
    put_model("a", "{\"backend\": \"xgboost\", \"fake\": \"fail\"}");
    expect_registry_error(NULL, "%s/a/fake.bin: refused");
    put_model("a", "{\"backend\": \"xgboost\", \"fake\": \"silent\"}");
    expect_registry_error(NULL, "%s/a/model.json: the xgboost backend failed to load the model");
    /* a backend that leaves the model without a signature: refused, and its state freed */
    put_model("a", "{\"backend\": \"xgboost\", \"fake\": \"nosig\"}");
    expect_registry_error(NULL,
                          "%s/a/model.json: the model declares no inputs (see \"signature\")");
    assert_int_equal(loads, 1);
    assert_int_equal(frees, 1);
    put_model("a", "{\"backend\": \"xgboost\", \"fake\": \"nosig\", \"signature\": {\"inputs\":"
                   " [{\"name\": \"x\", \"datatype\": \"FP32\", \"shape\": [1]}]}}");
    expect_registry_error(NULL,
                          "%s/a/model.json: the model declares no outputs (see \"signature\")");
    /* one good model then a bad one: nothing stays loaded */
    put_model("a", "{\"backend\": \"xgboost\"}");
    put_model("b", "{\"backend\": \"xgboost\", \"fake\": \"fail\"}");
    expect_registry_error(NULL, "%s/b/fake.bin: refused");
    assert_int_equal(loads, 3);
    assert_int_equal(frees, 3);
}

static void test_file_checks(void **state)
{
    char path[256];
    char *big;
    FILE *f;

    (void)state;
    /* model.json larger than 1 MiB (valid JSON otherwise) */
    snprintf(path, sizeof(path), "%s/a", root);
    assert_int_equal(mkdir(path, 0700), 0);
    snprintf(path, sizeof(path), "%s/a/model.json", root);
    big = malloc((1 << 20) + 2);
    assert_non_null(big);
    memset(big, ' ', (1 << 20) + 1);
    memcpy(big, "{\"backend\": \"xgboost\"}", 22);
    f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(big, 1, (1 << 20) + 1, f), (1 << 20) + 1);
    fclose(f);
    expect_registry_error(NULL, "%s/a/model.json: larger than 1048576 bytes");
    /* exactly 1 MiB is fine */
    assert_int_equal(truncate(path, 1 << 20), 0);
    struct mw_error e = {0};
    struct registry *r = registry_load(root, NULL, NULL, &e);
    if (r == NULL)
        fail_msg("%s", e.msg);
    registry_free(r);
    free(big);
    /* model.json that is a folder */
    assert_int_equal(remove(path), 0);
    assert_int_equal(mkdir(path, 0700), 0);
    expect_registry_error(NULL, "%s/a/model.json: not a regular file");
}

static void test_load_ok_and_describe(void **state)
{
    struct mw_error e = {0};
    struct registry *r;
    struct model *m;
    json_t *d, *in0, *out0;

    (void)state;
    put_model("iris2", "{\"backend\": \"xgboost\", \"description\": \"A \\\"test\\\" model\","
                       " \"file\": \"ignored-by-the-core.ubj\"}");
    r = registry_load(root, NULL, NULL, &e);
    if (r == NULL)
        fail_msg("%s", e.msg);
    assert_int_equal(r->n, 1);
    m = r->models[0];
    assert_ptr_equal(r->default_model, m); /* the only model */
    assert_string_equal(m->name, "iris2"); /* the folder name */
    assert_string_equal(m->version, "1");
    assert_string_equal(m->platform, "xgboost");
    assert_string_equal(m->description, "A \"test\" model");
    assert_ptr_equal(m->ops, &backend_xgboost);
    assert_non_null(m->state);
    assert_int_equal(m->flags, MW_FLAG_THREAD_SAFE);
    assert_int_equal(m->opts.workers, 0);
    assert_int_equal(m->opts.queue_size, 1024);
    assert_int_equal(m->opts.timeout_ms, 30000);
    assert_int_equal(m->opts.max_records, 10000);
    assert_null(m->sched);
    assert_true(atomic_load(&m->ready));
    assert_true(registry_ready(r));

    d = model_describe(m);
    assert_non_null(d);
    assert_string_equal(json_string_value(json_object_get(d, "name")), "iris2");
    assert_string_equal(json_string_value(json_object_get(d, "version")), "1");
    assert_string_equal(json_string_value(json_object_get(d, "platform")), "xgboost");
    assert_string_equal(json_string_value(json_object_get(d, "description")), "A \"test\" model");
    assert_true(json_is_true(json_object_get(d, "ready")));
    in0 = json_array_get(json_object_get(d, "inputs"), 0);
    assert_string_equal(json_string_value(json_object_get(in0, "name")), "x");
    assert_string_equal(json_string_value(json_object_get(in0, "datatype")), "FP32");
    assert_int_equal(json_integer_value(json_array_get(json_object_get(in0, "shape"), 0)), -1);
    assert_int_equal(json_integer_value(json_array_get(json_object_get(in0, "shape"), 1)), 2);
    assert_string_equal(json_string_value(json_array_get(json_object_get(in0, "names"), 1)), "b");
    assert_null(json_object_get(in0, "labels"));
    out0 = json_array_get(json_object_get(d, "outputs"), 0);
    assert_string_equal(json_string_value(json_object_get(out0, "name")), "p");
    assert_string_equal(json_string_value(json_array_get(json_object_get(out0, "labels"), 1)),
                        "yes");
    assert_null(json_object_get(out0, "names"));
    json_decref(d);

    atomic_store(&m->ready, false);
    assert_false(registry_ready(r));
    d = model_describe(m);
    assert_true(json_is_false(json_object_get(d, "ready")));
    json_decref(d);
    assert_false(registry_ready(NULL));
    registry_free(r);
    registry_free(NULL);
    model_free(NULL);
}

static void test_model_load_direct(void **state)
{
    char dir[128], want[256];
    struct model_opts defaults = {0, 7, 1234, 55};
    struct mw_error e = {0};
    struct model *m;

    (void)state;
    put_model("p", "{\"backend\": \"plugin\", \"name\": \"pl\", \"version\": \"2.0-rc_1\","
                   " \"workers\": 2, \"timeout_ms\": 700}");
    snprintf(dir, sizeof(dir), "%s/p/", root); /* a trailing slash is fine */
    m = model_load(dir, &defaults, &e);
    if (m == NULL)
        fail_msg("%s", e.msg);
    assert_string_equal(m->name, "pl");
    assert_string_equal(m->version, "2.0-rc_1");
    assert_string_equal(m->platform, "modelwrap_plugin");
    assert_string_equal(m->description, "");
    assert_int_equal(m->opts.workers, 2); /* from the file */
    assert_int_equal(m->opts.timeout_ms, 700);
    assert_int_equal(m->opts.queue_size, 7); /* from the defaults */
    assert_int_equal(m->opts.max_records, 55);
    assert_non_null(m->sched);
    assert_int_equal(sched_pending(m->sched), 0);
    model_free(m);

    put_model("q", "{\"backend\": \"nope\"}");
    snprintf(dir, sizeof(dir), "%s/q/", root);
    assert_null(model_load(dir, NULL, &e));
    snprintf(want, sizeof(want),
             "%s/q/model.json: \"backend\": unknown backend 'nope' (accepted: xgboost, plugin, python, sklearn)",
             root);
    assert_string_equal(e.msg, want);
}

static void test_default_selection(void **state)
{
    struct mw_error e = {0};
    struct registry *r;

    (void)state;
    put_model("a", "{\"backend\": \"xgboost\"}");
    put_model("b", "{\"backend\": \"xgboost\"}");
    r = registry_load(root, NULL, NULL, &e);
    assert_non_null(r);
    assert_null(r->default_model); /* two models, none called iris */
    registry_free(r);

    r = registry_load(root, "b", NULL, &e);
    assert_non_null(r);
    assert_string_equal(r->default_model->name, "b");
    registry_free(r);

    expect_registry_error("zzz", "MODELWRAP_DEFAULT_MODEL: no model named 'zzz' (loaded: a, b)");

    put_model("c", "{\"backend\": \"xgboost\", \"name\": \"iris\"}");
    r = registry_load(root, "", NULL, &e);
    assert_non_null(r);
    assert_string_equal(r->default_model->name, "iris");
    assert_string_equal(r->default_model->dir + strlen(root), "/c");
    registry_free(r);
}

static void test_sorted_find_and_duplicates(void **state)
{
    struct mw_error e = {0};
    struct registry *r;

    (void)state;
    put_model("f1", "{\"backend\": \"xgboost\", \"name\": \"zeta\"}");
    put_model("f2", "{\"backend\": \"xgboost\", \"name\": \"alpha\"}");
    put_model("f3", "{\"backend\": \"plugin\", \"name\": \"mid\"}");
    put_model("f4", "{\"backend\": \"xgboost\", \"name\": \"Mid\"}");
    r = registry_load(root, NULL, NULL, &e);
    if (r == NULL)
        fail_msg("%s", e.msg);
    assert_int_equal(r->n, 4);
    assert_string_equal(r->models[0]->name, "Mid");
    assert_string_equal(r->models[1]->name, "alpha");
    assert_string_equal(r->models[2]->name, "mid");
    assert_string_equal(r->models[3]->name, "zeta");
    /* slices: only len bytes count */
    assert_ptr_equal(registry_find(r, "alphabet", 5), r->models[1]);
    assert_null(registry_find(r, "alphabet", 8));
    assert_null(registry_find(r, "alph", 4));
    assert_ptr_equal(registry_find(r, "zeta", 4), r->models[3]);
    assert_ptr_equal(registry_find(r, "Mid", 3), r->models[0]);
    assert_ptr_equal(registry_find(r, "mid/", 3), r->models[2]);
    assert_null(registry_find(r, "mi", 2));
    assert_null(registry_find(r, "zz", 2));
    assert_null(registry_find(r, "", 0));
    assert_null(registry_find(r, NULL, 0));
    assert_null(registry_find(NULL, "zeta", 4));
    registry_free(r);

    put_model("f5", "{\"backend\": \"xgboost\", \"name\": \"alpha\"}");
    expect_registry_error(NULL, "%s: two models named 'alpha' (in %s/f2 and %s/f5)");
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_missing_dir),       T(test_no_model),          T(test_bad_json),
        T(test_backend_member),    T(test_bad_signature),     T(test_bad_members),
        T(test_backend_errors),    T(test_file_checks),       T(test_load_ok_and_describe),
        T(test_model_load_direct), T(test_default_selection), T(test_sorted_find_and_duplicates),
    };
#undef T
    log_set_level(LOG_ERROR);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
