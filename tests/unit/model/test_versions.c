/*
 * Unit tests for the versioned repository layout (src/model/repo.c, model_load_version): the flat
 * and versioned layouts side by side, version order, every version policy (and Triton's spelling
 * of them), and the start-up errors with their exact messages. The backends are fakes defined
 * here under the library's names, as in test_registry.c.
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

static int fake_load(struct model *m, const json_t *model_json, struct mw_error *e)
{
    const char *mode = json_string_value(json_object_get(model_json, "fake"));
    json_t *sig;
    int rc;

    if (mode != NULL && strcmp(mode, "fail") == 0)
        return mw_fail(e, MWE_CONFIG, "%s/fake.bin: refused", m->dir);
    sig = json_loads("{\"inputs\": [{\"name\": \"x\", \"datatype\": \"FP32\", \"shape\": [-1, 2]}],"
                     " \"outputs\": [{\"name\": \"y\", \"datatype\": \"FP32\", \"shape\": [-1]}]}",
                     0, NULL);
    rc = model_sig_from_json(&m->sig, sig, e);
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
    (void)c;
    return MWE_MODEL_FAILED;
}

static void fake_free(struct model *m)
{
    free(m->state);
    frees++;
}

const struct backend_ops backend_xgboost = {"xgboost", fake_load, fake_run, fake_free};
const struct backend_ops backend_plugin = {"plugin", fake_load, fake_run, fake_free};

/* ---- a temporary repository ------------------------------------------------------------------ */

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
    snprintf(root, sizeof(root), "/tmp/mw-versions-XXXXXX");
    if (mkdtemp(root) == NULL)
        return -1;
    loads = frees = 0;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    nftw(root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return loads == frees ? 0 : -1;
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

#define V "{\"backend\": \"xgboost\"}"

static struct registry *open_ok(void)
{
    struct mw_error e = {0};
    struct registry *r = registry_load(root, NULL, NULL, &e);

    if (r == NULL)
        fail_msg("%s", e.msg);
    return r;
}

static void expect_open_error(const char *want_template)
{
    struct mw_error e = {0};
    struct registry *r = registry_load(root, NULL, NULL, &e);
    char want[1024];
    size_t used = 0;

    for (const char *p = want_template; *p && used + 1 < sizeof(want); p++) {
        if (p[0] == '%' && p[1] == 's') {
            used += (size_t)snprintf(want + used, sizeof(want) - used, "%s", root);
            p++;
        } else {
            want[used++] = *p;
        }
    }
    want[used] = '\0';
    if (r != NULL) {
        registry_release(r);
        fail_msg("registry_load succeeded; expected \"%s\"", want);
    }
    assert_string_equal(e.msg, want);
}

/* "10,2,1": the loaded versions of name, newest first. */
static void expect_versions(const struct registry *r, const char *name, const char *want)
{
    const struct registry_versions *vs = registry_versions_of(r, name, strlen(name));
    char got[256] = "";
    size_t used = 0;

    assert_non_null(vs);
    for (size_t k = 0; k < vs->n; k++)
        used += (size_t)snprintf(got + used, sizeof(got) - used, "%s%s", k ? "," : "",
                                 vs->v[k]->version);
    assert_string_equal(got, want);
    assert_ptr_equal(registry_find(r, name, strlen(name)), vs->v[0]);
}

/* ---- tests ----------------------------------------------------------------------------------- */

static void test_flat_and_versioned(void **state)
{
    struct registry *r;
    struct model *m;

    (void)state;
    put("flat", "{\"backend\": \"xgboost\", \"version\": \"3\"}");
    put("ver/1", V);
    put("ver/2", V);
    put("ver/10", V);
    put("ver/data", "{\"backend\": \"xgboost\"}"); /* any valid name is a version */
    r = open_ok();
    assert_int_equal(r->n, 2);
    expect_versions(r, "flat", "3");
    /* default policy: the newest one; "10" is newer than "2" and "data" (version order) */
    expect_versions(r, "ver", "data");
    m = registry_find(r, "ver", 3);
    assert_string_equal(m->name, "ver");
    assert_string_equal(m->dir + strlen(root), "/ver/data");
    assert_null(registry_find_version(r, "ver", 3, "1", 1));
    assert_non_null(registry_find_version(r, "flat", 4, "3", 1));
    assert_null(registry_find_version(r, "flat", 4, "1", 1));
    assert_null(registry_versions_of(r, "nope", 4));
    assert_null(r->default_model); /* two models, none called iris */
    assert_true(registry_ready(r));
    registry_release(r);
}

static void test_policies(void **state)
{
    struct registry *r;

    (void)state;
    put("m/1", V);
    put("m/2", V);
    put("m/10", V);
    put("m", "{\"version_policy\": {\"all\": {}}}");
    r = open_ok();
    expect_versions(r, "m", "10,2,1");
    assert_int_equal(loads, 3);
    registry_release(r);

    put("m", "{\"version_policy\": {\"latest\": 2}}");
    r = open_ok();
    expect_versions(r, "m", "10,2");
    registry_release(r);

    put("m", "{\"version_policy\": {\"latest\": {\"num_versions\": 5}}}");
    r = open_ok();
    expect_versions(r, "m", "10,2,1");
    registry_release(r);

    put("m", "{\"version_policy\": {\"specific\": [\"1\", \"10\"]}}");
    r = open_ok();
    expect_versions(r, "m", "10,1");
    registry_release(r);

    put("m", "{\"version_policy\": {\"specific\": {\"versions\": [2]}}, \"name\": \"renamed\"}");
    r = open_ok();
    expect_versions(r, "renamed", "2");
    assert_null(registry_find(r, "m", 1));
    registry_release(r);

    put("m", "{\"version_policy\": {\"specific\": [\"3\"]}}");
    expect_open_error("%s/m/model.json: \"version_policy\": no version '3' in the model folder "
                      "(found: 10, 2, 1)");
    for (const char *bad = "{\"latest\": 0}\0{\"latest\": 257}\0{\"latest\": \"1\"}\0"
                           "{\"all\": 1}\0{\"specific\": []}\0{\"specific\": [\"a b\"]}\0"
                           "{\"specific\": [-1]}\0{\"newest\": 1}\0{\"all\": {}, \"latest\": 1}\0"
                           "[]\0";
         *bad; bad += strlen(bad) + 1) {
        char json[128];
        snprintf(json, sizeof(json), "{\"version_policy\": %s}", bad);
        put("m", json);
        expect_open_error("%s/m/model.json: \"version_policy\": expected {\"latest\": N}, "
                          "{\"all\": {}} or {\"specific\": [\"1\", ...]} (N from 1 to 256)");
    }
}

static void test_flat_beside_versions(void **state)
{
    struct registry *r;

    (void)state;
    /* the flat model.json has a backend: it is a version itself, and holds the policy */
    put("iris", "{\"backend\": \"xgboost\", \"version\": \"1\", \"version_policy\": {\"all\": {}}}");
    put("iris/2", V);
    r = open_ok();
    expect_versions(r, "iris", "2,1");
    assert_ptr_equal(r->default_model, registry_find(r, "iris", 4));
    assert_string_equal(registry_find_version(r, "iris", 4, "1", 1)->dir + strlen(root), "/iris");
    registry_release(r);

    /* the default policy keeps the newest: the new folder version replaces the flat one */
    put("iris", "{\"backend\": \"xgboost\"}");
    r = open_ok();
    expect_versions(r, "iris", "2");
    registry_release(r);

    /* both define version 2 */
    put("iris", "{\"backend\": \"xgboost\", \"version\": \"2\"}");
    expect_open_error("%s/iris: version '2' is defined twice (by %s/iris/model.json and by the "
                      "folder %s/iris/2)");
}

static void test_version_errors(void **state)
{
    (void)state;
    put("m/1", "{\"backend\": \"xgboost\", \"version\": \"7\"}");
    expect_open_error("%s/m/1/model.json: \"version\" is '7' but the model folder makes it '1'");
    put("m/1", "{\"backend\": \"xgboost\", \"name\": \"other\"}");
    expect_open_error("%s/m/1/model.json: \"name\" is 'other' but the model folder makes it 'm'");
    put("m/1", "{\"backend\": \"xgboost\", \"version_policy\": {\"all\": {}}}");
    expect_open_error("%s/m/1/model.json: \"version_policy\" belongs in the model's own folder "
                      "(%s/m/1/../model.json), not in a version's");
    put("m/1", "{\"backend\": \"xgboost\", \"fake\": \"fail\"}");
    expect_open_error("%s/m/1/fake.bin: refused");
    put("m/1", "{\"backend\": \"xgboost\", \"name\": \"m\", \"version\": \"1\"}"); /* agreeing */
    put("m/with space", V);
    expect_open_error("%s/m/with space: the folder name is not a valid version (1 to 64 characters "
                      "from [A-Za-z0-9_.-])");
}

static void test_settings_only_model_json(void **state)
{
    struct registry *r;

    (void)state;
    /* a model.json without a backend next to version folders is the model's settings */
    put("x/5", V);
    put("x", "{\"name\": \"xx\", \"description\": \"settings only\"}");
    r = open_ok();
    expect_versions(r, "xx", "5");
    assert_ptr_equal(r->default_model, registry_find(r, "xx", 2)); /* the only model */
    registry_release(r);
    /* without version folders it is the flat model, and its error is model_load's */
    put("y", "{\"name\": \"yy\"}");
    expect_open_error("%s/y/model.json: \"backend\": required (accepted: xgboost, plugin, python, sklearn)");
    put("y", "{\"name\": 3}");
    expect_open_error("%s/y/model.json: \"name\": expected a string of 1 to 64 characters from "
                      "[A-Za-z0-9_.-]");
    put("y", "{\"version_policy\": 3, \"backend\": \"plugin\"}");
    expect_open_error("%s/y/model.json: \"version_policy\": expected {\"latest\": N}, {\"all\": "
                      "{}} or {\"specific\": [\"1\", ...]} (N from 1 to 256)");
}

static void test_model_load_version_direct(void **state)
{
    struct mw_error e = {0};
    struct model *m;
    char dir[256];

    (void)state;
    put("a/b", V);
    snprintf(dir, sizeof(dir), "%s/a/b", root);
    m = model_load_version(dir, "alpha", "2.0", NULL, &e);
    assert_non_null(m);
    assert_string_equal(m->name, "alpha");
    assert_string_equal(m->version, "2.0");
    assert_int_equal(atomic_load(&m->refs), 1);
    model_retain(m);
    model_release(m);
    assert_int_equal(frees, 0);
    model_release(m); /* the last one: no pool, freed inline */
    assert_int_equal(frees, 1);
    assert_null(model_load_version(dir, "a b", "1", NULL, &e));
    assert_null(model_load_version(dir, "a", "..", NULL, &e));
    assert_null(model_load_version(dir, NULL, "1", NULL, &e));
    assert_string_equal(e.msg + strlen(root), "/a/b: invalid model name or version");
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_flat_and_versioned),   T(test_policies),
        T(test_flat_beside_versions), T(test_version_errors),
        T(test_settings_only_model_json), T(test_model_load_version_direct),
    };
#undef T
    log_set_level(LOG_ERROR);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
