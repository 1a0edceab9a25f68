/*
 * Unit tests for reloads of the model repository (src/model/repo.c): registry_reload shares
 * unchanged models, replaces changed ones, keeps the loaded versions of a model whose new state
 * fails, drops removed folders, honours unload/load, and registry_index reports it all. The pool
 * frees released models on its reaper thread and stops every live model at shutdown. Fake
 * backends, as in test_registry.c.
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
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "model/model_impl.h"

/* ---- fake backends --------------------------------------------------------------------------- */

static atomic_int loads, frees;

/* model.json "fake": "fail" refuses to load; "workers" makes a scheduler (model.c reads it). */
static int fake_load(struct model *m, const json_t *model_json, struct mw_error *e)
{
    const char *mode = json_string_value(json_object_get(model_json, "fake"));
    json_t *sig;
    int rc;

    if (mode != NULL && strcmp(mode, "fail") == 0)
        return mw_fail(e, MWE_CONFIG, "%s/fake.bin: refused", m->dir);
    sig = json_loads("{\"inputs\": [{\"name\": \"x\", \"datatype\": \"FP32\", \"shape\": [-1]}],"
                     " \"outputs\": [{\"name\": \"y\", \"datatype\": \"FP32\", \"shape\": [-1]}]}",
                     0, NULL);
    rc = model_sig_from_json(&m->sig, sig, e);
    json_decref(sig);
    if (rc != 0)
        return rc;
    m->state = malloc(16);
    m->flags = MW_FLAG_THREAD_SAFE;
    atomic_fetch_add(&loads, 1);
    return 0;
}

static int fake_run(struct model *m, struct model_call *c)
{
    int64_t n = c->inputs[0].shape[0];
    float *y = model_call_output(c, 0, 1, &n);

    (void)m;
    return y != NULL ? 0 : MWE_NOMEM;
}

static void fake_free(struct model *m)
{
    free(m->state);
    atomic_fetch_add(&frees, 1);
}

const struct backend_ops backend_xgboost = {"xgboost", fake_load, fake_run, fake_free};
const struct backend_ops backend_plugin = {"plugin", fake_load, fake_run, fake_free};

/* ---- a temporary repository ------------------------------------------------------------------ */

static char root[64];
static struct model_pool *pool;

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int setup(void **state)
{
    struct mw_error e = {0};

    (void)state;
    snprintf(root, sizeof(root), "/tmp/mw-reload-XXXXXX");
    if (mkdtemp(root) == NULL)
        return -1;
    atomic_store(&loads, 0);
    atomic_store(&frees, 0);
    pool = model_pool_new(&e);
    return pool != NULL ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    model_pool_free(pool);
    pool = NULL;
    nftw(root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return atomic_load(&loads) == atomic_load(&frees) ? 0 : -1;
}

static void path_of(char *out, size_t cap, const char *rel)
{
    snprintf(out, cap, "%s/%s", root, rel);
}

/* Writes root/<rel>/model.json, creating the folders on the way. */
static void put(const char *rel, const char *json)
{
    char path[512];
    FILE *f;

    path_of(path, sizeof(path), rel);
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

static void rm_rf(const char *rel)
{
    char path[512];

    path_of(path, sizeof(path), rel);
    nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

#define V "{\"backend\": \"xgboost\"}"
#define V2 "{\"backend\": \"xgboost\", \"description\": \"changed\"}"
#define BROKEN "{\"backend\": \"xgboost\", \"fake\": \"fail\"}"

static struct registry *open_ok(void)
{
    struct repo_opts o = {root, NULL, NULL, pool};
    struct mw_error e = {0};
    struct registry *r = registry_open(&o, &e);

    if (r == NULL)
        fail_msg("%s", e.msg);
    return r;
}

/* A RESCAN that must succeed without refusals. */
static struct registry *rescan(struct registry *cur)
{
    struct mw_error e = {0};
    struct registry *r = registry_reload(cur, REPO_RESCAN, NULL, 0, &e);

    if (r == NULL || e.code != 0)
        fail_msg("reload: %s", e.msg);
    return r;
}

static const char *versions(const struct registry *r, const char *name, char *buf, size_t cap)
{
    const struct registry_versions *vs = registry_versions_of(r, name, strlen(name));
    size_t used = 0;

    buf[0] = '\0';
    for (size_t k = 0; vs != NULL && k < vs->n; k++)
        used += (size_t)snprintf(buf + used, cap - used, "%s%s", k ? "," : "", vs->v[k]->version);
    return buf;
}

/* ---- tests ----------------------------------------------------------------------------------- */

static void test_unchanged_models_are_shared(void **state)
{
    struct registry *r1, *r2;
    struct model *a1, *b1;

    (void)state;
    put("a", V);
    put("b/1", V);
    r1 = open_ok();
    a1 = registry_find(r1, "a", 1);
    b1 = registry_find(r1, "b", 1);
    assert_int_equal(model_pool_live(pool), 2);
    r2 = rescan(r1);
    assert_ptr_not_equal(r2, r1);
    assert_ptr_equal(registry_find(r2, "a", 1), a1);
    assert_ptr_equal(registry_find(r2, "b", 1), b1);
    assert_int_equal(atomic_load(&a1->refs), 2);
    assert_int_equal(atomic_load(&loads), 2);
    registry_release(r1);
    model_pool_flush(pool);
    assert_int_equal(atomic_load(&frees), 0);
    assert_int_equal(atomic_load(&a1->refs), 1);

    /* a changed file in a's folder: a is loaded again, b still shared */
    usleep(10000);
    put("a", V2);
    r1 = rescan(r2);
    assert_ptr_not_equal(registry_find(r1, "a", 1), a1);
    assert_string_equal(registry_find(r1, "a", 1)->description, "changed");
    assert_ptr_equal(registry_find(r1, "b", 1), b1);
    assert_int_equal(atomic_load(&loads), 3);
    /* the old a lives as long as a snapshot that has it */
    assert_true(atomic_load(&a1->ready));
    registry_release(r2);
    model_pool_flush(pool);
    assert_int_equal(atomic_load(&frees), 1);
    assert_int_equal(model_pool_live(pool), 2);
    registry_release(r1);
    model_pool_flush(pool);
    assert_int_equal(model_pool_live(pool), 0);
}

static void test_new_version_replaces_old(void **state)
{
    struct registry *r1, *r2, *r3;
    char buf[64];
    struct model *v1;

    (void)state;
    put("m/1", V);
    r1 = open_ok();
    v1 = registry_find(r1, "m", 1);
    put("m/2", V);
    r2 = rescan(r1); /* default policy latest 1: version 2 only */
    assert_string_equal(versions(r2, "m", buf, sizeof(buf)), "2");
    assert_string_equal(versions(r1, "m", buf, sizeof(buf)), "1"); /* r1 is unchanged */
    assert_true(atomic_load(&v1->ready));
    registry_release(r1);
    model_pool_flush(pool);
    assert_int_equal(atomic_load(&frees), 1); /* version 1 is gone with the last snapshot */

    /* a policy for both; then version 2's folder removed */
    put("m", "{\"version_policy\": {\"all\": {}}}");
    r3 = rescan(r2);
    assert_string_equal(versions(r3, "m", buf, sizeof(buf)), "2,1");
    assert_ptr_equal(registry_find_version(r3, "m", 1, "2", 1),
                     registry_find_version(r2, "m", 1, "2", 1));
    registry_release(r2);
    rm_rf("m/2");
    r2 = rescan(r3);
    assert_string_equal(versions(r2, "m", buf, sizeof(buf)), "1");
    registry_release(r3);
    registry_release(r2);
}

static void test_broken_reload_keeps_old(void **state)
{
    struct registry *r1, *r2, *r3;
    struct mw_error e = {0};
    struct model *a1;
    json_t *idx;
    char buf[64], want[512];

    (void)state;
    put("a/1", V);
    put("z", V);
    r1 = open_ok();
    a1 = registry_find(r1, "a", 1);
    put("a/2", BROKEN);
    put("new", BROKEN);
    r2 = registry_reload(r1, REPO_RESCAN, NULL, 0, &e);
    assert_non_null(r2);
    snprintf(want, sizeof(want), "%s/a/2/fake.bin: refused", root);
    assert_string_equal(e.msg, want); /* the first refusal, in folder order */
    assert_ptr_equal(registry_find(r2, "a", 1), a1); /* the old version keeps serving */
    assert_string_equal(versions(r2, "a", buf, sizeof(buf)), "1");
    assert_null(registry_find(r2, "new", 3));
    assert_non_null(registry_find(r2, "z", 1));
    assert_int_equal(r2->n_states, 2);
    assert_string_equal(r2->states[0].name, "a");
    assert_string_equal(r2->states[0].version, "2");
    assert_string_equal(r2->states[0].reason, want);
    assert_string_equal(r2->states[1].name, "new");

    idx = registry_index(r2, false);
    assert_int_equal(json_array_size(idx), 4);
    assert_string_equal(json_string_value(json_object_get(json_array_get(idx, 0), "name")), "a");
    assert_string_equal(json_string_value(json_object_get(json_array_get(idx, 0), "state")),
                        "READY");
    assert_string_equal(json_string_value(json_object_get(json_array_get(idx, 2), "state")),
                        "UNAVAILABLE");
    assert_string_equal(json_string_value(json_object_get(json_array_get(idx, 2), "version")),
                        "2");
    assert_string_equal(json_string_value(json_object_get(json_array_get(idx, 2), "reason")),
                        want);
    json_decref(idx);
    idx = registry_index(r2, true);
    assert_int_equal(json_array_size(idx), 2);
    json_decref(idx);

    /* a model.json that no longer parses: its loaded versions keep serving too */
    put("a", "{not json");
    r3 = registry_reload(r2, REPO_RESCAN, NULL, 0, &e);
    assert_non_null(r3);
    assert_ptr_equal(registry_find(r3, "a", 1), a1);
    snprintf(want, sizeof(want), "%s/a/model.json: string or '}' expected near 'not' at line 1 "
                                 "column 4", root);
    assert_string_equal(e.msg, want);
    registry_release(r1);
    registry_release(r2);
    registry_release(r3);
}

static void test_removed_and_empty(void **state)
{
    struct registry *r1, *r2;
    struct mw_error e = {0};
    char want[256];

    (void)state;
    put("a", V);
    put("b", V);
    r1 = open_ok();
    rm_rf("b");
    r2 = rescan(r1);
    assert_int_equal(r2->n, 1);
    assert_null(registry_find(r2, "b", 1));
    registry_release(r1);
    /* nothing left: the reload is refused and the models stay */
    rm_rf("a");
    assert_null(registry_reload(r2, REPO_RESCAN, NULL, 0, &e));
    snprintf(want, sizeof(want), "%s: no model found: keeping the models that are loaded", root);
    assert_string_equal(e.msg, want);
    /* only broken models: refused as well */
    put("c", BROKEN);
    assert_null(registry_reload(r2, REPO_RESCAN, NULL, 0, &e));
    snprintf(want, sizeof(want), "%s/c/fake.bin: refused", root);
    assert_string_equal(e.msg, want);
    registry_release(r2);
}

static void test_unload_and_load(void **state)
{
    struct registry *r1, *r2, *r3, *r4;
    struct mw_error e = {0};
    struct model *a1;
    json_t *idx;

    (void)state;
    put("a", V);
    put("b", V);
    r1 = open_ok();
    a1 = registry_find(r1, "a", 1);
    r2 = registry_reload(r1, REPO_UNLOAD, "a", 1, &e);
    assert_non_null(r2);
    assert_null(registry_find(r2, "a", 1));
    assert_int_equal(r2->n_unloaded, 1);
    assert_string_equal(r2->unloaded[0], "a");
    /* a rescan keeps it out */
    r3 = rescan(r2);
    assert_null(registry_find(r3, "a", 1));
    idx = registry_index(r3, false);
    assert_int_equal(json_array_size(idx), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(idx, 1), "reason")),
                        "unloaded");
    json_decref(idx);
    /* unloading it again is fine; an unknown model is not */
    r4 = registry_reload(r3, REPO_UNLOAD, "a", 1, &e);
    assert_non_null(r4);
    registry_release(r4);
    assert_null(registry_reload(r3, REPO_UNLOAD, "nope", 4, &e));
    assert_int_equal(e.code, MWE_MODEL_NOT_FOUND);
    assert_string_equal(e.msg, "No model named 'nope' in the repository.");
    assert_null(registry_reload(r3, REPO_LOAD, "nope", 4, &e));
    assert_int_equal(e.code, MWE_MODEL_NOT_FOUND);
    assert_null(registry_reload(r3, REPO_LOAD, "../x", 4, &e));
    assert_int_equal(e.code, MWE_MODEL_NOT_FOUND);
    /* load brings it back, freshly loaded even though nothing changed */
    r4 = registry_reload(r3, REPO_LOAD, "a", 1, &e);
    assert_non_null(r4);
    assert_non_null(registry_find(r4, "a", 1));
    assert_ptr_not_equal(registry_find(r4, "a", 1), a1);
    assert_int_equal(r4->n_unloaded, 0);
    assert_ptr_equal(registry_find(r4, "b", 1), registry_find(r3, "b", 1));
    /* a load that fails changes nothing */
    put("b", BROKEN);
    assert_null(registry_reload(r4, REPO_LOAD, "b", 1, &e));
    assert_int_equal(e.code, MWE_CONFIG);
    assert_non_null(registry_find(r4, "b", 1));
    registry_release(r1);
    registry_release(r2);
    registry_release(r3);
    registry_release(r4);
}

static void test_index_lists_new_folders(void **state)
{
    struct registry *r;
    json_t *idx, *last;

    (void)state;
    put("a", V);
    r = open_ok();
    put("later", "{\"backend\": \"xgboost\", \"name\": \"named-later\"}");
    idx = registry_index(r, false);
    assert_int_equal(json_array_size(idx), 2);
    last = json_array_get(idx, 1);
    assert_string_equal(json_string_value(json_object_get(last, "name")), "named-later");
    assert_string_equal(json_string_value(json_object_get(last, "state")), "UNAVAILABLE");
    assert_non_null(strstr(json_string_value(json_object_get(last, "reason")), "not loaded"));
    assert_null(json_object_get(last, "version"));
    json_decref(idx);
    registry_release(r);
}

static void test_default_model_after_reload(void **state)
{
    struct repo_opts o = {root, "b", NULL, pool};
    struct registry *r1, *r2;
    struct mw_error e = {0};

    (void)state;
    put("a", V);
    put("b", V);
    r1 = registry_open(&o, &e);
    assert_non_null(r1);
    assert_string_equal(r1->default_model->name, "b");
    r2 = registry_reload(r1, REPO_UNLOAD, "b", 1, &e);
    assert_non_null(r2);
    assert_null(r2->default_model); /* allowed, with a warning: /api/predict then 404s */
    assert_string_equal(r2->default_name, "b");
    registry_release(r1);
    registry_release(r2);
}

static void never_done(struct model_call *c, void *ctx)
{
    (void)c;
    (void)ctx;
    fail_msg("done called for a refused call");
}

static void test_pool_shutdown(void **state)
{
    struct repo_opts o = {root, NULL, NULL, pool};
    struct registry *r;
    struct mw_error e = {0};
    struct model *m;
    struct model_call *c;
    int rc;

    (void)state;
    put("w", "{\"backend\": \"xgboost\", \"workers\": 2}");
    r = registry_open(&o, &e);
    assert_non_null(r);
    m = registry_find(r, "w", 1);
    assert_non_null(m->sched);
    model_pool_shutdown(pool);
    assert_false(atomic_load(&m->ready));
    assert_false(registry_ready(r));
    /* the scheduler refuses new calls, and the model is still valid */
    c = model_call_new(m, 0);
    assert_non_null(c);
    rc = model_call_submit(c, never_done, NULL);
    assert_int_equal(rc, MWE_SHUTTING_DOWN);
    model_call_release(c);
    assert_int_equal(model_pool_live(pool), 1);
    registry_release(r);
    model_pool_flush(pool);
    assert_int_equal(model_pool_live(pool), 0);
    assert_int_equal(atomic_load(&frees), 1);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_unchanged_models_are_shared), T(test_new_version_replaces_old),
        T(test_broken_reload_keeps_old),     T(test_removed_and_empty),
        T(test_unload_and_load),             T(test_index_lists_new_folders),
        T(test_default_model_after_reload),  T(test_pool_shutdown),
    };
#undef T
    log_set_level(LOG_ERROR);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
