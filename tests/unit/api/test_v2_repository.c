/*
 * Unit tests for src/api/v2_repository.c: the lock-free snapshot pointer of struct api under
 * reloads. Reader threads take and drop references as fast as they can while the main thread
 * reloads a model a few hundred times (each reload frees the previous model on the pool's
 * reaper); every reader must always see a complete, live snapshot (the sanitizer build turns any
 * use after free into a failure), and at the end only the current snapshot's model is alive.
 * Fake backends, as in tests/unit/model/test_registry.c.
 */
#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "api/api.h"
#include "model/model_impl.h"

static atomic_int loads, frees;

static int fake_load(struct model *m, const json_t *model_json, struct mw_error *e)
{
    json_t *sig =
        json_loads("{\"inputs\": [{\"name\": \"x\", \"datatype\": \"FP32\", \"shape\": [-1]}],"
                   " \"outputs\": [{\"name\": \"y\", \"datatype\": \"FP32\", \"shape\": [-1]}]}",
                   0, NULL);
    int rc = model_sig_from_json(&m->sig, sig, e);

    (void)model_json;
    json_decref(sig);
    if (rc != 0)
        return rc;
    m->state = malloc(64);
    memset(m->state, 0x5a, 64);
    atomic_fetch_add(&loads, 1);
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
    memset(m->state, 0, 64);
    free(m->state);
    atomic_fetch_add(&frees, 1);
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

static void put(const char *folder, const char *json)
{
    char path[256];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", root, folder);
    if (mkdir(path, 0700) != 0 && errno != EEXIST)
        fail_msg("mkdir %s", path);
    snprintf(path, sizeof(path), "%s/%s/model.json", root, folder);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs(json, f);
    fclose(f);
}

struct reader {
    struct api *a;
    atomic_bool *stop;
    long reads;
    int bad;
};

static void *reader_main(void *arg)
{
    struct reader *rd = arg;

    while (!atomic_load(rd->stop)) {
        struct registry *r = api_registry_acquire(rd->a);
        struct model *m = registry_find(r, "m", 1);
        /* touch what a request touches: the name, the version, the backend's state */
        if (m == NULL || strcmp(m->name, "m") != 0 || ((unsigned char *)m->state)[63] != 0x5a ||
            !atomic_load(&m->ready) || registry_find(r, "other", 5) == NULL)
            rd->bad++;
        registry_release(r);
        rd->reads++;
    }
    return NULL;
}

static void test_reload_under_readers(void **state)
{
    struct config cfg;
    struct mw_error e = {0};
    struct model_pool *pool = model_pool_new(&e);
    struct repo_opts o = {root, NULL, NULL, pool};
    struct registry *reg;
    struct reader rd[3];
    pthread_t tid[3];
    atomic_bool stop;
    struct api a;

    (void)state;
    memset(&cfg, 0, sizeof(cfg));
    snprintf(root, sizeof(root), "/tmp/mw-api-reload-XXXXXX");
    assert_non_null(mkdtemp(root));
    put("m", "{\"backend\": \"xgboost\"}");
    put("other", "{\"backend\": \"plugin\"}");
    assert_non_null(pool);
    reg = registry_open(&o, &e);
    assert_non_null(reg);
    api_init(&a, &cfg, reg);
    atomic_init(&stop, false);
    for (int i = 0; i < 3; i++) {
        rd[i] = (struct reader){&a, &stop, 0, 0};
        assert_int_equal(pthread_create(&tid[i], NULL, reader_main, &rd[i]), 0);
    }
    for (int i = 0; i < 300; i++) {
        /* a forced load replaces m with a new model every time; "other" stays shared */
        assert_int_equal(api_reload(&a, REPO_LOAD, "m", 1, &e), 0);
        if (i % 50 == 0)
            assert_int_equal(api_reload(&a, REPO_RESCAN, NULL, 0, &e), 0);
    }
    atomic_store(&stop, true);
    for (int i = 0; i < 3; i++) {
        pthread_join(tid[i], NULL);
        assert_int_equal(rd[i].bad, 0);
        assert_true(rd[i].reads > 0);
    }
    assert_ptr_equal(a.reg, registry_current_peek(&a.registry));
    model_pool_flush(pool);
    assert_int_equal(atomic_load(&loads), 2 + 300);
    assert_int_equal(atomic_load(&frees), 300); /* every replaced m, and nothing else */
    assert_int_equal(model_pool_live(pool), 2);
    /* a failed reload publishes nothing */
    reg = registry_current_peek(&a.registry);
    assert_int_equal(api_reload(&a, REPO_UNLOAD, "zzz", 3, &e), MWE_MODEL_NOT_FOUND);
    assert_ptr_equal(registry_current_peek(&a.registry), reg);
    api_fini(&a);
    model_pool_flush(pool);
    assert_int_equal(model_pool_live(pool), 0);
    assert_int_equal(atomic_load(&frees), 302);
    model_pool_free(pool);
    nftw(root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reload_under_readers),
    };

    log_set_level(LOG_WARN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
