/*
 * The model repository's registry snapshots: start-up, reloads (each op's builder is in
 * repo_build.c), reference counting and lookups. repo_scan.c, repo_policy.c, repo_fingerprint.c,
 * repo_build.c, repo_index.c and repo_pool.c hold the other responsibilities of the repository.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "model/model_int.h"
#include "model/repo_int.h"

/* ---- the public side ------------------------------------------------------------------------- */

/*
 * Start-up: every model folder of o->dir, each version its policy selects, with o->defaults for
 * options model.json leaves out and o->pool (NULL: none) for the models. The default model is
 * o->default_name (an error when not loaded), else the only model, else "iris", else none.
 * Returns a snapshot with one reference, or NULL on the first problem (folders in name order)
 * with e naming the file; nothing stays loaded then. Main thread.
 */
struct registry *registry_open(const struct repo_opts *o, struct mw_error *e)
{
    if (o == NULL) {
        mw_fail(e, MWE_CONFIG, "model folder: empty path");
        return NULL;
    }
    return repo_build(NULL, o, false, NULL, REPO_RESCAN, NULL, true, e);
}

/* See model.h: registry_open of the one model folder o->dir, served as name (NULL: its own). */
struct registry *registry_open_folder(const struct repo_opts *o, const char *name,
                                      struct mw_error *e)
{
    if (o == NULL) {
        mw_fail(e, MWE_CONFIG, "model folder: empty path");
        return NULL;
    }
    return repo_build(NULL, o, true, name, REPO_RESCAN, NULL, true, e);
}

/*
 * registry_open without a pool: what check-config and the tests use. Same ownership and errors.
 * Main thread.
 */
struct registry *registry_load(const char *dir, const char *default_name,
                               const struct model_opts *defaults, struct mw_error *e)
{
    struct repo_opts o = {dir, default_name, defaults, NULL};

    return registry_open(&o, e);
}

/* See model.h: a new snapshot derived from cur for op, or NULL with e. */
struct registry *registry_reload(struct registry *cur, int op, const char *name, size_t len,
                                 struct mw_error *e)
{
    struct repo_opts o;
    struct registry *r = NULL;
    char *target = NULL;

    if (cur == NULL || op < REPO_RESCAN || op > REPO_UNLOAD) {
        mw_fail(e, MWE_INTERNAL, "registry_reload: bad arguments");
        goto out;
    }
    if (op != REPO_RESCAN) {
        if (name == NULL || !model_name_ok(name, len)) {
            mw_fail(e, MWE_MODEL_NOT_FOUND, "No model named '%.*s' in the repository.",
                    (int)(len > 64 ? 64 : len), name != NULL ? name : "");
            goto out;
        }
        target = strndup(name, len);
        if (target == NULL) {
            mw_fail(e, MWE_NOMEM, "out of memory");
            goto out;
        }
    }
    o.dir = cur->dir;
    o.default_name = cur->default_name;
    o.defaults = cur->has_defaults ? &cur->defaults : NULL;
    o.pool = cur->pool;
    r = repo_build(cur, &o, cur->single, cur->single_name, op, target, false, e);
out:
    free(target);
    return r;
}

/* Takes one more reference on r. Any thread (atomic). */
void registry_retain(struct registry *r)
{
    atomic_fetch_add_explicit(&r->refs, 1, memory_order_relaxed);
}

/*
 * Drops one reference; the last one releases every model of r (freed by the pool's reaper, or
 * inline without a pool, once no other snapshot shares them) and frees r. NULL-safe. Any thread.
 */
void registry_release(struct registry *r)
{
    if (r == NULL || atomic_fetch_sub_explicit(&r->refs, 1, memory_order_acq_rel) != 1)
        return;
    for (size_t i = 0; r->versions != NULL && i < r->n; i++) {
        for (size_t k = 0; k < r->versions[i].n; k++)
            model_release(r->versions[i].v[k]);
        free(r->versions[i].v);
    }
    free(r->versions);
    free(r->models);
    repo_states_free(r->states, r->n_states);
    repo_free_strings(r->unloaded, r->n_unloaded);
    free(r->dir);
    free(r->default_name);
    free(r->single_name);
    free(r);
}

/* registry_release under its historical name. NULL-safe. Any thread. */
void registry_free(struct registry *r)
{
    registry_release(r);
}

/*
 * The newest loaded version of the model whose name is the len bytes at name (a slice, not
 * NUL-terminated), by binary search; NULL when there is none. Borrowed from r. Any thread.
 */
struct model *registry_find(const struct registry *r, const char *name, size_t len)
{
    size_t i = repo_reg_index(r, name, len);

    return i == SIZE_MAX ? NULL : r->models[i];
}

/* Every loaded version of model name (len bytes), newest first; NULL when not loaded. Any thread.
 */
const struct registry_versions *registry_versions_of(const struct registry *r, const char *name,
                                                     size_t len)
{
    size_t i = repo_reg_index(r, name, len);

    return i == SIZE_MAX || r->versions == NULL ? NULL : &r->versions[i];
}

/* Version `version` (vlen bytes) of model name (len bytes); NULL when not loaded. Any thread. */
struct model *registry_find_version(const struct registry *r, const char *name, size_t len,
                                    const char *version, size_t vlen)
{
    const struct registry_versions *vs = registry_versions_of(r, name, len);

    for (size_t k = 0; vs != NULL && version != NULL && k < vs->n; k++) {
        if (strlen(vs->v[k]->version) == vlen && memcmp(vs->v[k]->version, version, vlen) == 0)
            return vs->v[k];
    }
    return NULL;
}

/* True when r has at least one model and every model of r is ready (false for NULL). Any thread.
 */
bool registry_ready(const struct registry *r)
{
    bool ready = r != NULL && r->n > 0;

    for (size_t i = 0; ready && i < r->n; i++) {
        for (size_t k = 0; ready && r->versions != NULL && k < r->versions[i].n; k++)
            ready = atomic_load(&r->versions[i].v[k]->ready);
        ready = ready && atomic_load(&r->models[i]->ready);
    }
    return ready;
}
