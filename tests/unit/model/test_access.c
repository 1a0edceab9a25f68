/*
 * Unit tests for src/model/access.c and src/model/registry_current.c: the accessors through
 * which the api and the cli see models, calls and registry snapshots (they must answer what the
 * definitions in model_impl.h hold), and the current-snapshot pointer under reloads. Fake
 * backends, as in test_versions.c.
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

#include <cmocka.h>

#include "model/model_impl.h"

static int loads, frees;

static int fake_load(struct model *m, const json_t *model_json, struct mw_error *e)
{
    json_t *sig =
        json_loads("{\"inputs\": [{\"name\": \"x\", \"datatype\": \"FP32\", \"shape\": [-1, 2]}],"
                   " \"outputs\": [{\"name\": \"y\", \"datatype\": \"FP32\", \"shape\": [-1]}]}",
                   0, NULL);
    int rc = model_sig_from_json(&m->sig, sig, e);

    (void)model_json;
    json_decref(sig);
    if (rc != 0)
        return rc;
    m->state = malloc(16);
    m->flags = MW_FLAG_THREAD_SAFE | MW_FLAG_BATCH;
    loads++;
    return 0;
}

static int fake_run(struct model *m, struct model_call *c)
{
    (void)m;
    model_call_set_error(c, "no %s", "way");
    return MWE_INVALID_INPUT;
}

static void fake_free(struct model *m)
{
    free(m->state);
    frees++;
}

const struct backend_ops backend_xgboost = {"xgboost", fake_load, fake_run, fake_free};
const struct backend_ops backend_plugin = {"plugin", fake_load, fake_run, fake_free};

static char root[64];

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* Writes root/<rel>/model.json, creating the folders on the way. */
static void put(const char *rel, const char *json)
{
    char path[512];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", root, rel);
    for (char *p = path + strlen(root) + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(path, 0700) != 0 && errno != EEXIST)
                fail_msg("mkdir %s: %s", path, strerror(errno));
            *p = '/';
        }
    }
    if (mkdir(path, 0700) != 0 && errno != EEXIST)
        fail_msg("mkdir %s: %s", path, strerror(errno));
    strncat(path, "/model.json", sizeof(path) - strlen(path) - 1);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs(json, f);
    fclose(f);
}

static int setup(void **state)
{
    (void)state;
    snprintf(root, sizeof(root), "/tmp/mw-access-XXXXXX");
    if (mkdtemp(root) == NULL)
        return -1;
    loads = frees = 0;
    put("b", "{\"version_policy\": {\"all\": {}}}");
    put("b/1", "{\"backend\": \"xgboost\"}");
    put("b/2", "{\"backend\": \"xgboost\"}");
    put("a", "{\"backend\": \"plugin\", \"version\": \"7\", \"max_records\": 5,"
             " \"description\": \"ay\"}");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    nftw(root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return loads == frees ? 0 : -1;
}

/* Iteration, default model, versions and every model getter against the definitions. */
static void test_registry_and_model_accessors(void **state)
{
    struct mw_error e = {0};
    struct registry *r = registry_load(root, "b", NULL, &e);
    const struct registry_versions *vs;
    struct model *a, *b;

    (void)state;
    if (r == NULL)
        fail_msg("%s", e.msg);
    assert_int_equal(registry_count(r), 2);
    assert_int_equal(registry_count(NULL), 0);
    assert_null(registry_default(NULL));
    a = registry_model_at(r, 0);
    b = registry_model_at(r, 1);
    assert_ptr_equal(a, r->models[0]);
    assert_string_equal(model_get_name(a), "a");
    assert_string_equal(model_get_name(b), "b");
    assert_ptr_equal(registry_default(r), b);
    assert_string_equal(registry_get_dir(r), root);
    /* versions: newest first, version 0 is the model itself */
    assert_int_equal(registry_n_versions(r, 0), 1);
    assert_int_equal(registry_n_versions(r, 1), 2);
    assert_ptr_equal(registry_version_at(r, 1, 0), b);
    assert_string_equal(model_get_version(registry_version_at(r, 1, 0)), "2");
    assert_string_equal(model_get_version(registry_version_at(r, 1, 1)), "1");
    vs = registry_versions_of(r, "b", 1);
    assert_int_equal(registry_versions_count(vs), 2);
    assert_ptr_equal(registry_versions_at(vs, 1), registry_version_at(r, 1, 1));
    assert_int_equal(registry_versions_count(NULL), 0);
    /* model getters */
    assert_string_equal(model_get_version(a), "7");
    assert_string_equal(model_get_backend(a), "plugin");
    assert_string_equal(model_get_backend(b), "xgboost");
    assert_string_equal(model_get_platform(a), a->platform);
    assert_string_equal(model_get_description(a), "ay");
    assert_ptr_equal(model_get_description(b), b->description);
    assert_string_equal(model_get_dir(a), a->dir);
    assert_ptr_equal(model_get_signature(a), &a->sig);
    assert_int_equal(model_get_signature(a)->n_inputs, 1);
    assert_int_equal(model_get_max_records(a), 5);
    assert_true(model_get_max_records(b) != 5);
    assert_true(model_get_fingerprint(a) == a->fingerprint);
    assert_true(model_get_fingerprint(a) != model_get_fingerprint(b));
    assert_true(model_is_ready(a));
    atomic_store(&a->ready, false);
    assert_false(model_is_ready(a));
    atomic_store(&a->ready, true);
    assert_false(model_is_python(a));
    assert_false(model_answers_json(a));
    assert_false(model_has_workers(a));
    assert_int_equal(model_queue_pending(a), 0);
    registry_release(r);
}

/* A call's status, message, rows, body, request id and times. */
static void test_call_accessors(void **state)
{
    struct mw_error e = {0};
    struct registry *r = registry_load(root, "b", NULL, &e);
    struct model_call_times t;
    struct model_call *c;
    uint64_t rows = 99;
    size_t len = 1;

    (void)state;
    assert_non_null(r);
    c = model_call_new(registry_model_at(r, 0), 0);
    assert_non_null(c);
    assert_ptr_equal(model_call_model(c), registry_model_at(r, 0));
    /* no shape yet: no batch dimension */
    c->inputs[0].ndim = 0;
    assert_false(model_call_rows(c, &rows));
    assert_int_equal(rows, 99);
    c->inputs[0].ndim = 2;
    c->inputs[0].shape[0] = 3;
    c->inputs[0].shape[1] = 2;
    assert_true(model_call_rows(c, &rows));
    assert_int_equal(rows, 3);
    c->inputs[0].shape[0] = -1;
    assert_false(model_call_rows(c, &rows));
    assert_int_equal(model_call_set_body(c, "{\"a\":1}", 7), 0);
    assert_string_equal(c->body, "{\"a\":1}");
    assert_int_equal(c->body_len, 7);
    assert_int_equal(model_call_set_request_id(c, "req-1"), 0);
    assert_string_equal(c->request_id, "req-1");
    assert_null(model_call_answer(c, &len));
    assert_int_equal(len, 0);
    assert_string_equal(model_call_errmsg(c), "");
    assert_int_equal(model_call_run(c), MWE_INVALID_INPUT);
    assert_int_equal(model_call_status(c), MWE_INVALID_INPUT);
    assert_string_equal(model_call_errmsg(c), "no way");
    model_call_fail(c, MWE_OVERLOADED);
    assert_int_equal(model_call_status(c), MWE_OVERLOADED);
    assert_null(model_call_output_at(c, 5));
    c->t_queued_ns = 1;
    c->t_started_ns = 2;
    c->t_done_ns = 3;
    c->batched = true;
    c->batch_rows = 8;
    model_call_get_times(c, &t);
    assert_int_equal(t.queued_ns, 1);
    assert_int_equal(t.started_ns, 2);
    assert_int_equal(t.done_ns, 3);
    assert_true(t.batched);
    assert_int_equal(t.batch_rows, 8);
    model_call_release(c);
    registry_release(r);
}

/* The current snapshot: acquire gives a reference, a reload publishes, a failed one does not,
 * and fini releases the last snapshot. */
static void test_registry_current(void **state)
{
    struct mw_error e = {0};
    struct registry *r = registry_load(root, "b", NULL, &e), *held, *published = NULL;
    struct registry_current cur;

    (void)state;
    assert_non_null(r);
    registry_current_init(&cur, r);
    held = registry_current_acquire(&cur);
    assert_ptr_equal(held, r);
    assert_int_equal(atomic_load(&r->refs), 2);
    assert_int_equal(registry_current_reload(&cur, REPO_LOAD, "a", 1, &published, &e), 0);
    assert_non_null(published);
    assert_ptr_not_equal(published, r);
    assert_ptr_equal(registry_current_peek(&cur), published);
    /* the old snapshot lost the pointer's reference; ours keeps it alive */
    assert_int_equal(atomic_load(&r->refs), 1);
    assert_string_equal(model_get_name(registry_model_at(held, 0)), "a");
    registry_release(held);
    assert_int_equal(registry_current_reload(&cur, REPO_UNLOAD, "zz", 2, NULL, &e),
                     MWE_MODEL_NOT_FOUND);
    assert_ptr_equal(registry_current_peek(&cur), published);
    registry_current_fini(&cur);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_registry_and_model_accessors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_call_accessors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_registry_current, setup, teardown),
    };

    log_set_level(LOG_WARN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
