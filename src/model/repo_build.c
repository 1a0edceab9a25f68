/*
 * Building registry snapshots: one builder per repository operation (start-up and SIGHUP
 * rescans, loading one model, unloading one), sharing every unchanged model with the snapshot a
 * reload replaces and keeping the old versions of a model whose new state fails to load.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "model/model_int.h"
#include "model/repo_int.h"

/* ---- building a snapshot --------------------------------------------------------------------- */

/* One model while a snapshot is built. */
struct entry {
    const char *name; /* v[0]->name */
    char *dir;        /* the model folder, for messages */
    size_t n;
    struct model **v; /* newest first, one reference each */
};

struct builder {
    const char *repo_dir;
    struct registry *cur; /* NULL at start-up */
    bool strict;          /* start-up: the first problem fails everything */
    int op;
    const char *target; /* REPO_LOAD / REPO_UNLOAD: the model's name (NUL-terminated copy) */
    struct entry *ent;
    size_t n_ent, cap_ent;
    struct model_state *states;
    size_t n_states, cap_states;
    struct mw_error first; /* the first problem of a lenient build */
    const struct model_opts *defaults;
    struct model_pool *pool;
    const char *rename; /* repo_opts.single_name: the one folder's model is served under it */
    /* ---- what the builders read: the repository and its folders (read once per build) ---- */
    const struct repo_opts *o;
    bool single;             /* o->dir is one model folder */
    const char *single_name; /* the name it is served under; NULL: model.json's */
    const char *parent;      /* the folder holding the model folders: o->dir or parent_own */
    char *parent_own;
    char **folders;
    size_t n_folders;
    struct found f; /* the folder being scanned and loaded */
};

static void entry_release(struct entry *en)
{
    for (size_t i = 0; en->v != NULL && i < en->n; i++)
        model_release(en->v[i]);
    free(en->v);
    free(en->dir);
    memset(en, 0, sizeof(*en));
}

/* Copies err into e (when e is not NULL) and returns its code (MWE_CONFIG when it has none). */
static int set_err(struct mw_error *e, const struct mw_error *err)
{
    if (e != NULL)
        *e = *err;
    return err->code != 0 ? err->code : MWE_CONFIG;
}

void repo_states_free(struct model_state *s, size_t n)
{
    for (size_t i = 0; s != NULL && i < n; i++) {
        free(s[i].name);
        free(s[i].version);
        free(s[i].reason);
    }
    free(s);
}

/* Records a model (version NULL: all of it) that is not served, and why. */
static int add_state(struct builder *b, const char *name, const char *version, const char *reason)
{
    struct model_state *grown;
    size_t cap;

    if (b->n_states == b->cap_states) {
        cap = b->cap_states ? 2 * b->cap_states : 8;
        grown = realloc(b->states, cap * sizeof(*grown));
        if (grown == NULL)
            return MWE_NOMEM;
        b->states = grown;
        b->cap_states = cap;
    }
    b->states[b->n_states].name = strdup(name);
    b->states[b->n_states].version = version != NULL ? strdup(version) : NULL;
    b->states[b->n_states].reason = strdup(reason);
    b->n_states++;
    if (b->states[b->n_states - 1].name == NULL || b->states[b->n_states - 1].reason == NULL ||
        (version != NULL && b->states[b->n_states - 1].version == NULL))
        return MWE_NOMEM;
    return 0;
}

static int add_entry(struct builder *b, struct entry *en)
{
    struct entry *grown;
    size_t cap;

    if (b->n_ent == b->cap_ent) {
        cap = b->cap_ent ? 2 * b->cap_ent : 16;
        grown = realloc(b->ent, cap * sizeof(*grown));
        if (grown == NULL)
            return MWE_NOMEM;
        b->ent = grown;
        b->cap_ent = cap;
    }
    b->ent[b->n_ent++] = *en;
    memset(en, 0, sizeof(*en));
    return 0;
}

/* Index of model `name` among the first n entries of r; SIZE_MAX when absent. */
size_t repo_reg_index(const struct registry *r, const char *name, size_t len)
{
    size_t lo = 0, hi, mid, mlen;
    int c;

    if (r == NULL || (name == NULL && len > 0))
        return SIZE_MAX;
    hi = r->n;
    while (lo < hi) {
        mid = lo + (hi - lo) / 2;
        mlen = strlen(r->models[mid]->name);
        c = len > 0 ? memcmp(name, r->models[mid]->name, len < mlen ? len : mlen) : 0;
        if (c == 0)
            c = (len > mlen) - (len < mlen);
        if (c == 0)
            return mid;
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return SIZE_MAX;
}

/* A copy of cur's entry for name (one more reference on each version), or an empty entry. */
static int carry_over(struct builder *b, const char *name)
{
    size_t i = repo_reg_index(b->cur, name, strlen(name));
    struct entry en = {0};
    int rc = 0;

    if (i == SIZE_MAX)
        goto out;
    en.v = calloc(b->cur->versions[i].n, sizeof(*en.v));
    if (en.v == NULL) {
        rc = MWE_NOMEM;
        goto out;
    }
    for (size_t k = 0; k < b->cur->versions[i].n; k++) {
        en.v[k] = b->cur->versions[i].v[k];
        model_retain(en.v[k]);
        en.n++;
    }
    en.name = en.v[0]->name;
    en.dir = strdup(en.v[0]->dir);
    rc = en.dir == NULL ? MWE_NOMEM : add_entry(b, &en);
    if (rc != 0)
        entry_release(&en);
out:
    return rc;
}

/* The name of cur's model served from folder dir (itself or one of its version folders), for a
 * folder whose model.json became unreadable; NULL when cur has none. */
static const char *name_by_dir(const struct registry *cur, const char *dir)
{
    size_t len = strlen(dir);

    for (size_t i = 0; cur != NULL && i < cur->n; i++) {
        for (size_t k = 0; k < cur->versions[i].n; k++) {
            const char *md = cur->versions[i].v[k]->dir;
            if (strncmp(md, dir, len) == 0 && (md[len] == '\0' || md[len] == '/'))
                return cur->models[i]->name;
        }
    }
    return NULL;
}

/* cur's version `version` of name when it was loaded from dir with fingerprint fp. */
static struct model *unchanged(const struct builder *b, const char *name, const char *version,
                               const char *dir, uint64_t fp)
{
    size_t i = repo_reg_index(b->cur, name, strlen(name));
    struct model *m;

    if (i == SIZE_MAX || fp == 0)
        return NULL;
    for (size_t k = 0; k < b->cur->versions[i].n; k++) {
        m = b->cur->versions[i].v[k];
        if (strcmp(m->version, version) == 0 && strcmp(m->dir, dir) == 0 && m->fingerprint == fp)
            return m;
    }
    return NULL;
}

/* Notes the first problem of a lenient build and logs it. */
static void refuse(struct builder *b, const char *name, const char *version,
                   const struct mw_error *err)
{
    if (b->first.code == 0)
        b->first = *err;
    log_msg(LOG_ERROR,
            b->cur != NULL && repo_reg_index(b->cur, name, strlen(name)) != SIZE_MAX
                ? "model reload refused: the loaded versions keep serving"
                : "model not loaded",
            "model", name, "version", version, "error", err->msg, NULL);
}

/*
 * Loads the versions f selects (sharing cur's unchanged ones unless force) into an entry. On a
 * failure: strict builds return the error; lenient ones record it, release what was loaded and
 * return 1 (the caller falls back to cur's versions).
 */
static int load_found(struct builder *b, const struct found *f, bool force, struct mw_error *e)
{
    struct entry en = {0};
    struct mw_error err = {0};
    struct model *m;
    int rc = 0;

    en.v = calloc(f->n, sizeof(*en.v));
    if (en.v == NULL) {
        rc = mw_fail(e, MWE_NOMEM, "%s: out of memory", f->dir);
        goto out;
    }
    for (size_t i = 0; i < f->n; i++) {
        const struct found_version *fv = &f->v[i];
        m = force ? NULL : unchanged(b, f->name, fv->version, fv->dir, fv->fp);
        if (m != NULL) {
            model_retain(m);
        } else {
            memset(&err, 0, sizeof(err));
            if (!fv->top)
                m = model_load_version(fv->dir, f->name, fv->version, b->defaults, &err);
            else if (b->rename != NULL)
                m = model_load_as(fv->dir, b->rename, b->defaults, &err);
            else
                m = model_load(fv->dir, b->defaults, &err);
            if (m != NULL && fv->top && strcmp(m->version, fv->version) != 0) {
                /* model.json changed between the scan and the load */
                mw_fail(&err, MWE_CONFIG, "%s/model.json changed while it was read", fv->dir);
                model_free(m);
                m = NULL;
            }
            if (m == NULL) {
                if (b->strict) {
                    rc = set_err(e, &err);
                    goto out;
                }
                refuse(b, f->name, fv->version, &err);
                if (add_state(b, f->name, fv->version, err.msg) != 0) {
                    rc = mw_fail(e, MWE_NOMEM, "%s: out of memory", f->dir);
                    goto out;
                }
                rc = 1;
                goto out;
            }
            m->fingerprint = fv->fp;
            if (b->pool != NULL)
                model_pool_link(b->pool, m);
        }
        en.v[en.n++] = m;
    }
    en.name = en.v[0]->name;
    en.dir = strdup(f->dir);
    if (en.dir == NULL || add_entry(b, &en) != 0)
        rc = mw_fail(e, MWE_NOMEM, "%s: out of memory", f->dir);
out:
    entry_release(&en);
    return rc;
}

static int cmp_entry(const void *a, const void *b)
{
    return strcmp(((const struct entry *)a)->name, ((const struct entry *)b)->name);
}

/* Whether name is in the sorted list. */
bool repo_in_sorted(char **list, size_t n, const char *name)
{
    return n > 0 && bsearch(&name, list, n, sizeof(*list), repo_cmp_str) != NULL;
}

/* The unloaded list of the new snapshot: cur's, minus (REPO_LOAD) or plus (REPO_UNLOAD) target. */
static int unloaded_list(const struct builder *b, char ***out, size_t *out_n)
{
    size_t n = b->cur != NULL ? b->cur->n_unloaded : 0, k = 0;
    char **list = calloc(n + 1, sizeof(*list));
    int rc = 0;

    if (list == NULL)
        return MWE_NOMEM;
    for (size_t i = 0; i < n; i++) {
        if (b->op == REPO_LOAD && strcmp(b->cur->unloaded[i], b->target) == 0)
            continue;
        if (b->op == REPO_UNLOAD && strcmp(b->cur->unloaded[i], b->target) == 0)
            continue; /* added again below */
        list[k] = strdup(b->cur->unloaded[i]);
        if (list[k++] == NULL)
            rc = MWE_NOMEM;
    }
    if (b->op == REPO_UNLOAD) {
        list[k] = strdup(b->target);
        if (list[k++] == NULL)
            rc = MWE_NOMEM;
    }
    qsort(list, k, sizeof(*list), repo_cmp_str);
    *out = list;
    *out_n = k;
    return rc;
}

/* Turns the builder's entries into a registry (moving them) with the options of o. */
static struct registry *assemble(struct builder *b, const struct repo_opts *o, bool single,
                                 const char *single_name, struct mw_error *e)
{
    struct registry *r = calloc(1, sizeof(*r));
    char list[160];

    if (r == NULL)
        goto out_nomem;
    atomic_init(&r->refs, 1);
    r->pool = o->pool;
    r->dir = strdup(o->dir);
    r->single = single;
    r->single_name = single_name != NULL ? strdup(single_name) : NULL;
    r->default_name =
        o->default_name != NULL && o->default_name[0] != '\0' ? strdup(o->default_name) : NULL;
    if (o->defaults != NULL) {
        r->defaults = *o->defaults;
        r->has_defaults = true;
    }
    r->models = calloc(b->n_ent + 1, sizeof(*r->models));
    r->versions = calloc(b->n_ent + 1, sizeof(*r->versions));
    if (r->dir == NULL || r->models == NULL || r->versions == NULL ||
        (single_name != NULL && r->single_name == NULL) ||
        (o->default_name != NULL && o->default_name[0] != '\0' && r->default_name == NULL))
        goto out_nomem;
    for (size_t i = 0; i < b->n_ent; i++) {
        r->models[i] = b->ent[i].v[0];
        r->versions[i].n = b->ent[i].n;
        r->versions[i].v = b->ent[i].v;
        r->n++;
        free(b->ent[i].dir);
        memset(&b->ent[i], 0, sizeof(b->ent[i]));
    }
    b->n_ent = 0;
    if (unloaded_list(b, &r->unloaded, &r->n_unloaded) != 0)
        goto out_nomem;
    r->states = b->states;
    r->n_states = b->n_states;
    b->states = NULL;
    b->n_states = 0;
    if (r->default_name != NULL) {
        r->default_model = registry_find(r, r->default_name, strlen(r->default_name));
        if (r->default_model == NULL && b->strict) {
            list[0] = '\0';
            for (size_t i = 0, used = 0; i < r->n; i++) {
                int k = snprintf(list + used, sizeof(list) - used, "%s%s", i ? ", " : "",
                                 r->models[i]->name);
                if (k < 0 || (size_t)k >= sizeof(list) - used) {
                    memcpy(list + sizeof(list) - 4, "...", 4);
                    break;
                }
                used += (size_t)k;
            }
            mw_fail(e, MWE_CONFIG, "MODELWRAP_DEFAULT_MODEL: no model named '%.64s' (loaded: %s)",
                    r->default_name, list);
            goto out_fail;
        }
        if (r->default_model == NULL)
            log_msg(LOG_WARN, "the default model is not loaded: /api/predict answers 404",
                    "model", r->default_name, NULL);
    } else if (r->n == 1) {
        r->default_model = r->models[0];
    } else {
        r->default_model = registry_find(r, "iris", 4);
    }
    return r;

out_nomem:
    mw_fail(e, MWE_NOMEM, "%s: out of memory", o->dir);
out_fail:
    registry_release(r);
    return NULL;
}

/* Handles the entries that share a name: strict builds fail; lenient ones refuse them all and
 * keep cur's versions of that name, if any. */
static int duplicates(struct builder *b, struct mw_error *e)
{
    struct mw_error err = {0};
    char name[MODEL_NAME_MAX + 1];
    size_t i = 0, j;
    int rc = 0;

    if (b->n_ent > 1)
        qsort(b->ent, b->n_ent, sizeof(*b->ent), cmp_entry);
    while (i < b->n_ent) {
        j = i + 1;
        while (j < b->n_ent && strcmp(b->ent[i].name, b->ent[j].name) == 0)
            j++;
        if (j == i + 1) {
            i++;
            continue;
        }
        mw_fail(&err, MWE_CONFIG, "%s: two models named '%s' (in %s and %s)", b->repo_dir,
                b->ent[i].name, b->ent[i].dir, b->ent[i + 1].dir);
        if (b->strict) {
            rc = set_err(e, &err);
            goto out;
        }
        snprintf(name, sizeof(name), "%s", b->ent[i].name);
        refuse(b, name, NULL, &err);
        for (size_t k = i; k < j; k++)
            entry_release(&b->ent[k]);
        memmove(&b->ent[i], &b->ent[j], (b->n_ent - j) * sizeof(*b->ent));
        b->n_ent -= j - i;
        if (add_state(b, name, NULL, err.msg) != 0 || carry_over(b, name) != 0) {
            rc = mw_fail(e, MWE_NOMEM, "out of memory");
            goto out;
        }
        if (b->n_ent > 1)
            qsort(b->ent, b->n_ent, sizeof(*b->ent), cmp_entry);
        i = 0; /* the carried-over entry may sort anywhere: look again from the start */
    }
out:
    return rc;
}

static void builder_fini(struct builder *b)
{
    for (size_t i = 0; i < b->n_ent; i++)
        entry_release(&b->ent[i]);
    free(b->ent);
    repo_states_free(b->states, b->n_states);
    repo_found_fini(&b->f);
    repo_free_strings(b->folders, b->n_folders);
    free(b->parent_own);
}

/* The name a folder's model goes by, without loading it: its model.json's "name" when that is
 * a valid name, else the folder's name. A new string, NULL when out of memory. */
static char *folder_model_name(const char *repo, const char *folder)
{
    char *dir = model_path_join(repo, folder);
    char *top = dir != NULL ? model_path_join(dir, "model.json") : NULL;
    json_t *root = top != NULL && repo_exists(top) ? model_read_json(top, NULL) : NULL;
    const json_t *name = json_object_get(root, "name");
    char *out;

    if (json_is_string(name) && model_name_ok(json_string_value(name), json_string_length(name)))
        out = strdup(json_string_value(name));
    else
        out = strdup(folder);
    json_decref(root);
    free(top);
    free(dir);
    return out;
}

/* folder_model_name, or the name a single-model repository serves its folder under. */
char *repo_served_name(const char *rename, const char *repo, const char *folder)
{
    return rename != NULL ? strdup(rename) : folder_model_name(repo, folder);
}

/* Whether cur's states say name failed in this build (a state was just added for it). */
static bool refused_now(const struct builder *b, const char *name)
{
    for (size_t i = 0; i < b->n_states; i++) {
        if (strcmp(b->states[i].name, name) == 0)
            return true;
    }
    return false;
}

static bool has_entry(const struct builder *b, const char *name)
{
    for (size_t i = 0; i < b->n_ent; i++) {
        if (strcmp(b->ent[i].name, name) == 0)
            return true;
    }
    return false;
}

/* Logs the versions of cur that the new snapshot r no longer serves. */
static void log_unloaded(const struct registry *cur, const struct registry *r)
{
    const struct registry_versions *vs;

    for (size_t i = 0; cur != NULL && i < cur->n; i++) {
        for (size_t k = 0; k < cur->versions[i].n; k++) {
            const struct model *m = cur->versions[i].v[k];
            bool kept = false;
            vs = registry_versions_of(r, m->name, strlen(m->name));
            for (size_t j = 0; vs != NULL && j < vs->n && !kept; j++)
                kept = vs->v[j] == m;
            if (!kept && registry_find_version(r, m->name, strlen(m->name), m->version,
                                               strlen(m->version)) == NULL)
                log_msg(LOG_INFO, "model version unloaded", "model", m->name, "version",
                        m->version, NULL);
        }
    }
}

/* ---- one builder per repository operation ---- */

/* Lists the repository's model folders into b. 0 or the error with e. */
static int read_folders(struct builder *b, struct mw_error *e)
{
    return repo_folders(b->o->dir, b->single, &b->parent, &b->parent_own, &b->folders,
                        &b->n_folders, e);
}

/* Scans folder i into b->f and sets *who to the name of its model: the served name; for a folder
 * that cannot be read, the one cur serves from it (or the folder's name). 0, or -1 with e (a
 * strict build's first problem, out of memory). */
static int scan_one(struct builder *b, size_t i, const char **who, struct mw_error *e)
{
    const struct found *f = &b->f;

    repo_scan_folder(b->parent, b->folders[i], &b->f);
    if (f->err.code != 0 && b->strict) {
        set_err(e, &f->err);
        return -1;
    }
    if (b->rename != NULL && f->name != NULL) {
        free(b->f.name);
        b->f.name = strdup(b->rename);
        if (b->f.name == NULL) {
            mw_fail(e, MWE_NOMEM, "%s: out of memory", b->o->dir);
            return -1;
        }
    }
    *who = f->name;
    if (*who == NULL)
        *who = b->rename;
    if (*who == NULL)
        *who = name_by_dir(b->cur, f->dir != NULL ? f->dir : "");
    if (*who == NULL)
        *who = f->folder != NULL ? f->folder : b->folders[i];
    return 0;
}

/* Keeps cur's states of models other than the target. 0 or MWE_NOMEM. */
static int keep_other_states(struct builder *b)
{
    const struct registry *cur = b->cur;

    for (size_t i = 0; i < cur->n_states; i++) {
        if (strcmp(cur->states[i].name, b->target) != 0 &&
            add_state(b, cur->states[i].name, cur->states[i].version, cur->states[i].reason) !=
                0)
            return MWE_NOMEM;
    }
    return 0;
}

/* The snapshot of what b gathered (entries sorted by name); the first problem of a lenient
 * build goes to e although a snapshot is returned. */
static struct registry *finish(struct builder *b, struct mw_error *e)
{
    struct registry *r;

    if (b->n_ent > 1)
        qsort(b->ent, b->n_ent, sizeof(*b->ent), cmp_entry);
    r = assemble(b, b->o, b->single, b->single_name, e);
    if (r != NULL && b->first.code != 0)
        set_err(e, &b->first);
    if (r != NULL && b->cur != NULL)
        log_unloaded(b->cur, r);
    return r;
}

static struct registry *nomem(const struct builder *b, struct mw_error *e)
{
    mw_fail(e, MWE_NOMEM, "%s: out of memory", b->o->dir);
    return NULL;
}

/* Start-up and SIGHUP: every model folder (but the ones unloaded through the repository API),
 * each version its policy selects. A lenient build keeps cur's versions of a model whose new
 * state is refused; a strict one fails on the first problem. */
static struct registry *build_rescan(struct builder *b, struct mw_error *e)
{
    const struct registry *cur = b->cur;
    const char *who;
    int rc;

    if (read_folders(b, e) != 0)
        return NULL;
    if (b->n_folders == 0) {
        if (cur == NULL)
            mw_fail(e, MWE_CONFIG, "%s: no model found (expected %s/<name>/model.json)",
                    b->o->dir, b->o->dir);
        else
            mw_fail(e, MWE_CONFIG, "%s: no model found: keeping the models that are loaded",
                    b->o->dir);
        return NULL;
    }
    for (size_t i = 0; i < b->n_folders; i++) {
        if (scan_one(b, i, &who, e) != 0)
            return NULL;
        if (cur != NULL && repo_in_sorted(cur->unloaded, cur->n_unloaded, who)) {
            repo_found_fini(&b->f);
            continue;
        }
        if (b->f.err.code != 0) {
            refuse(b, who, NULL, &b->f.err);
            if (add_state(b, who, NULL, b->f.err.msg) != 0)
                return nomem(b, e);
            repo_found_fini(&b->f);
            continue;
        }
        rc = load_found(b, &b->f, false, e);
        if (rc < 0)
            return NULL;
        repo_found_fini(&b->f);
    }
    if (duplicates(b, e) != 0)
        return NULL;
    /* what cur had and this build refused */
    for (size_t i = 0; cur != NULL && i < cur->n; i++) {
        const char *name = cur->models[i]->name;
        if (refused_now(b, name) && !has_entry(b, name) && carry_over(b, name) != 0)
            return nomem(b, e);
    }
    if (b->n_ent == 0 && cur != NULL) {
        if (b->first.code != 0)
            set_err(e, &b->first);
        else
            mw_fail(e, MWE_CONFIG, "%s: no model could be loaded: keeping the loaded models",
                    b->o->dir);
        return NULL;
    }
    return finish(b, e);
}

/* The repository API's load: the target model again from its folder (forced, even when
 * unchanged), the others as cur has them. Any problem of the target fails the build. */
static struct registry *build_load(struct builder *b, struct mw_error *e)
{
    const struct registry *cur = b->cur;
    bool seen_target = false;
    const char *who;
    int rc;

    if (read_folders(b, e) != 0)
        return NULL;
    for (size_t i = 0; i < b->n_folders; i++) {
        if (scan_one(b, i, &who, e) != 0)
            return NULL;
        if (strcmp(who, b->target) != 0) {
            repo_found_fini(&b->f);
            continue;
        }
        seen_target = true;
        if (b->f.err.code != 0) {
            set_err(e, &b->f.err);
            return NULL;
        }
        rc = load_found(b, &b->f, true, e);
        if (rc != 0) {
            if (rc > 0)
                set_err(e, &b->first);
            return NULL;
        }
        repo_found_fini(&b->f);
    }
    if (!seen_target) {
        mw_fail(e, MWE_MODEL_NOT_FOUND, "No model named '%.64s' in the repository.", b->target);
        return NULL;
    }
    if (duplicates(b, e) != 0)
        return NULL;
    for (size_t i = 0; i < cur->n; i++) {
        const char *name = cur->models[i]->name;
        if (strcmp(name, b->target) != 0 && !has_entry(b, name) && carry_over(b, name) != 0)
            return nomem(b, e);
    }
    if (keep_other_states(b) != 0)
        return nomem(b, e);
    return finish(b, e);
}

/* The repository API's unload: cur without the target, which stays unloaded until loaded again.
 * Unknown to cur and to the repository: MWE_MODEL_NOT_FOUND. */
static struct registry *build_unload(struct builder *b, struct mw_error *e)
{
    const struct registry *cur = b->cur;
    bool seen_target = false;
    char *fname;

    for (size_t i = 0; i < cur->n; i++) {
        if (strcmp(cur->models[i]->name, b->target) == 0) {
            seen_target = true;
            continue;
        }
        if (carry_over(b, cur->models[i]->name) != 0)
            return nomem(b, e);
    }
    if (!seen_target && !repo_in_sorted(cur->unloaded, cur->n_unloaded, b->target)) {
        /* not loaded: fine when the repository has it (the unload sticks), else unknown */
        if (read_folders(b, e) != 0)
            return NULL;
        for (size_t i = 0; i < b->n_folders && !seen_target; i++) {
            fname = repo_served_name(b->rename, b->parent, b->folders[i]);
            if (fname == NULL)
                return nomem(b, e);
            seen_target = strcmp(fname, b->target) == 0;
            free(fname);
        }
        if (!seen_target) {
            mw_fail(e, MWE_MODEL_NOT_FOUND, "No model named '%.64s' in the repository.",
                    b->target);
            return NULL;
        }
    }
    if (keep_other_states(b) != 0)
        return nomem(b, e);
    return finish(b, e);
}

typedef struct registry *(*build_fn)(struct builder *b, struct mw_error *e);

static const build_fn builders[] = {
    [REPO_RESCAN] = build_rescan,
    [REPO_LOAD] = build_load,
    [REPO_UNLOAD] = build_unload,
};

/*
 * Behind registry_open and registry_reload: prepares a builder and runs op's. Folders are handled
 * in name order, each scanned then loaded, so a strict build reports the first problem in that
 * order. REPO_LOAD and REPO_UNLOAD need cur.
 */
struct registry *repo_build(struct registry *cur, const struct repo_opts *o, bool single,
                            const char *single_name, int op, const char *target, bool strict,
                            struct mw_error *e)
{
    struct builder b = {0};
    struct registry *r = NULL;

    b.repo_dir = o->dir;
    b.cur = cur;
    b.strict = strict;
    b.op = op;
    b.target = target;
    b.defaults = o->defaults;
    b.pool = o->pool;
    b.rename = single ? single_name : NULL;
    b.o = o;
    b.single = single;
    b.single_name = single_name;
    b.parent = o->dir;
    if (e != NULL)
        memset(e, 0, sizeof(*e));
    if (o->dir == NULL || o->dir[0] == '\0') {
        mw_fail(e, MWE_CONFIG, "model folder: empty path");
        goto out;
    }
    if (op < 0 || (size_t)op >= MW_ARRAY_LEN(builders) || (op != REPO_RESCAN && cur == NULL)) {
        mw_fail(e, MWE_INTERNAL, "repo_build: bad arguments");
        goto out;
    }
    r = builders[op](&b, e);
out:
    builder_fini(&b);
    return r;
}
