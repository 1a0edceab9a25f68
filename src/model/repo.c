/*
 * The model repository: scans <dir>/<model>/[<version>/]model.json, applies each model's version
 * policy, builds immutable reference-counted registry snapshots (a reload shares every unchanged
 * model with the snapshot it replaces and keeps the old versions of a model whose new state fails
 * to load), answers the repository index, and runs the pool whose reaper frees released models.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "model/model_impl.h"
#include "model/model_int.h"

#define REGISTRY_MAX_MODELS 1024
#define MODEL_MAX_VERSIONS 256
#define POLICY_EXPECTED                                                                            \
    "expected {\"latest\": N}, {\"all\": {}} or {\"specific\": [\"1\", ...]} (N from 1 to 256)"

/* ---- small helpers --------------------------------------------------------------------------- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Newest first: GNU version order ("10" after "9", "1.10" after "1.9"), reversed. */
static int cmp_version_desc(const void *a, const void *b)
{
    return strverscmp(*(char *const *)b, *(char *const *)a);
}

static void free_strings(char **v, size_t n)
{
    for (size_t i = 0; v != NULL && i < n; i++)
        free(v[i]);
    free(v);
}

/* Is the path a directory / does it exist (following symlinks)? */
static bool is_dir(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool exists(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0;
}

/* dir/sub/model.json exists. */
static bool has_model_json(const char *dir, const char *sub)
{
    char *d = sub != NULL ? model_path_join(dir, sub) : strdup(dir);
    char *mj = d != NULL ? model_path_join(d, "model.json") : NULL;
    bool yes = mj != NULL && exists(mj) && (sub == NULL || is_dir(d));

    free(mj);
    free(d);
    return yes;
}

/*
 * The sorted names of dir's non-hidden entries for which keep(dir, name) holds, at most max of
 * them (more is an error naming what, e.g. "model folders"). 0, MWE_CONFIG or MWE_NOMEM with e.
 */
static int list_dir(const char *dir, bool (*keep)(const char *, const char *), size_t max,
                    const char *what, char ***out, size_t *out_n, struct mw_error *e)
{
    char **names = NULL;
    struct dirent *de;
    size_t n = 0;
    DIR *d;
    int rc = 0;

    *out = NULL;
    *out_n = 0;
    d = opendir(dir);
    if (d == NULL) {
        rc = mw_fail(e, MWE_CONFIG, "%s: cannot open the model folder: %s", dir, strerror(errno));
        goto out;
    }
    names = calloc(max + 1, sizeof(*names));
    if (names == NULL)
        goto out_nomem;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.' || !keep(dir, de->d_name))
            continue;
        if (n == max) {
            rc = mw_fail(e, MWE_CONFIG, "%s: more than %zu %s", dir, max, what);
            goto out_free;
        }
        names[n] = strdup(de->d_name);
        if (names[n] == NULL)
            goto out_nomem;
        n++;
    }
    qsort(names, n, sizeof(*names), cmp_str);
    *out = names;
    *out_n = n;
    names = NULL;
    goto out_free;

out_nomem:
    rc = mw_fail(e, MWE_NOMEM, "%s: out of memory", dir);
out_free:
    free_strings(names, n);
    closedir(d);
out:
    return rc;
}

/* A version folder: a sub-folder holding a model.json. */
static bool keep_version_dir(const char *dir, const char *name)
{
    return has_model_json(dir, name);
}

/* A model folder: a sub-folder holding a model.json or a version folder. */
static bool keep_model_dir(const char *dir, const char *name)
{
    char *sub = model_path_join(dir, name);
    char **versions = NULL;
    size_t n = 0;
    bool yes = false;

    if (sub == NULL || !is_dir(sub))
        goto out;
    if (has_model_json(sub, NULL)) {
        yes = true;
        goto out;
    }
    if (list_dir(sub, keep_version_dir, MODEL_MAX_VERSIONS + 1, "versions", &versions, &n,
                 NULL) == 0)
        yes = n > 0;
    free_strings(versions, n);
out:
    free(sub);
    return yes;
}

/* FNV-1a over bytes. */
/*
 * The model folders of a repository, as names inside *parent: the sub-folders of dir, or for a
 * single-model repository (KServe's --model_dir) dir's own name inside its parent folder (dir is
 * resolved each time, so a reload follows a symbolic link that was switched). *parent is dir or
 * a new string in *parent_own (the caller frees it and *folders). 0, MWE_CONFIG or MWE_NOMEM.
 */
static int repo_folders(const char *dir, bool single, const char **parent, char **parent_own,
                        char ***folders, size_t *n, struct mw_error *e)
{
    char *real = NULL, *slash;
    int rc = 0;

    *parent = dir;
    *parent_own = NULL;
    *folders = NULL;
    *n = 0;
    if (!single)
        return list_dir(dir, keep_model_dir, REGISTRY_MAX_MODELS, "model folders", folders, n, e);
    real = realpath(dir, NULL);
    if (real == NULL) {
        rc = mw_fail(e, errno == ENOMEM ? MWE_NOMEM : MWE_CONFIG, "%s: %s", dir, strerror(errno));
        goto out;
    }
    slash = strrchr(real, '/');
    if (slash == NULL || slash[1] == '\0') {
        rc = mw_fail(e, MWE_CONFIG, "%s: not a model folder", dir);
        goto out;
    }
    *folders = calloc(1, sizeof(**folders));
    if (*folders == NULL || ((*folders)[0] = strdup(slash + 1)) == NULL)
        goto out_nomem;
    if (slash == real)
        slash++; /* the folder is in "/" */
    *slash = '\0';
    *n = 1;
    if (!keep_model_dir(real, (*folders)[0])) {
        rc = mw_fail(e, MWE_CONFIG, "%s: no model.json and no version folder holding one", dir);
        goto out;
    }
    *parent = *parent_own = real;
    real = NULL;
    goto out;

out_nomem:
    rc = mw_fail(e, MWE_NOMEM, "%s: out of memory", dir);
out:
    if (rc != 0) {
        free_strings(*folders, *n);
        *folders = NULL;
        *n = 0;
    }
    free(real);
    return rc;
}

static uint64_t fnv(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;

    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= UINT64_C(0x100000001b3);
    }
    return h;
}

static bool keep_file(const char *dir, const char *name)
{
    char *p = model_path_join(dir, name);
    struct stat st;
    bool yes = p != NULL && stat(p, &st) == 0 && S_ISREG(st.st_mode);

    free(p);
    return yes;
}

/* True when folder p holds a file called name. */
static bool has_file(const char *p, const char *name)
{
    char *f = model_path_join(p, name);
    struct stat st;
    bool yes = f == NULL || stat(f, &st) == 0; /* out of memory: as if it did (skip it) */

    free(f);
    return yes;
}

/* A sub-folder whose files belong to the model's fingerprint: not hidden, not Python's byte-code
 * cache, not a version folder (those have fingerprints of their own) and not a virtual
 * environment (thousands of files that are not the model's source). */
static bool keep_source_dir(const char *dir, const char *name)
{
    char *p;
    struct stat st;
    bool yes = false;

    if (name[0] == '.' || strcmp(name, "__pycache__") == 0)
        return false;
    p = model_path_join(dir, name);
    if (p != NULL && stat(p, &st) == 0 && S_ISDIR(st.st_mode))
        yes = !has_file(p, "model.json") && !has_file(p, "pyvenv.cfg");
    free(p);
    return yes;
}

#define FINGERPRINT_DEPTH 4 /* sub-folder levels a model's source may use (Python: src/helpers) */

/* A fingerprint of the regular files in dir and, depth levels down, in its source sub-folders
 * (names, sizes, times, inodes): it changes when a file is replaced or written, so that a reload
 * picks up a Python model's edited src/model.py too. 0 when dir cannot be listed (then never
 * equal to a model's: its fingerprint is computed from a readable folder and 0 is avoided). */
static uint64_t fingerprint_at(const char *dir, uint64_t h, int depth)
{
    char **files = NULL, **dirs = NULL, *p;
    size_t n = 0, nd = 0;
    struct stat st;
    uint64_t v[5];

    if (list_dir(dir, keep_file, 4096, "files", &files, &n, NULL) != 0)
        return 0;
    if (depth > 0 && list_dir(dir, keep_source_dir, 256, "folders", &dirs, &nd, NULL) == 0) {
        for (size_t i = 0; i < nd; i++) {
            uint64_t below = 0;

            p = model_path_join(dir, dirs[i]);
            h = fnv(h, dirs[i], strlen(dirs[i]) + 1);
            if (p != NULL)
                below = fingerprint_at(p, h, depth - 1);
            if (below != 0) /* an unreadable sub-folder counts by its name only */
                h = below;
            free(p);
        }
        free_strings(dirs, nd);
    }
    for (size_t i = 0; i < n; i++) {
        p = model_path_join(dir, files[i]);
        if (p == NULL || stat(p, &st) != 0) {
            free(p);
            continue;
        }
        free(p);
        v[0] = (uint64_t)st.st_size;
        v[1] = (uint64_t)st.st_mtim.tv_sec;
        v[2] = (uint64_t)st.st_mtim.tv_nsec;
        v[3] = (uint64_t)st.st_ino;
        v[4] = (uint64_t)st.st_dev;
        h = fnv(h, files[i], strlen(files[i]) + 1);
        h = fnv(h, v, sizeof(v));
    }
    free_strings(files, n);
    return h != 0 ? h : 1;
}

static uint64_t fingerprint(const char *dir)
{
    return fingerprint_at(dir, UINT64_C(0xcbf29ce484222325), FINGERPRINT_DEPTH);
}

/* ---- version policies ------------------------------------------------------------------------ */

enum policy_kind { POLICY_LATEST = 0, POLICY_ALL = 1, POLICY_SPECIFIC = 2 };

struct policy {
    int kind;
    size_t latest;   /* POLICY_LATEST */
    char **specific; /* POLICY_SPECIFIC: version names */
    size_t n_specific;
};

static void policy_fini(struct policy *p)
{
    free_strings(p->specific, p->n_specific);
    memset(p, 0, sizeof(*p));
}

/* One element of "specific": a version string, or a non-negative integer (Triton's form). */
static char *specific_version(const json_t *v)
{
    char num[24];

    if (json_is_string(v) && model_name_ok(json_string_value(v), json_string_length(v)))
        return strdup(json_string_value(v));
    if (json_is_integer(v) && json_integer_value(v) >= 0) {
        snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return strdup(num);
    }
    return NULL;
}

/* Parses root's "version_policy" (absent: latest 1) into p. 0 or MWE_CONFIG / MWE_NOMEM. */
static int policy_parse(const json_t *root, const char *path, struct policy *p,
                        struct mw_error *e)
{
    const json_t *vp = root != NULL ? json_object_get(root, "version_policy") : NULL;
    const json_t *v, *list;
    const char *key;
    json_int_t n;
    int rc = 0;

    memset(p, 0, sizeof(*p));
    p->kind = POLICY_LATEST;
    p->latest = 1;
    if (vp == NULL)
        goto out;
    if (!json_is_object(vp) || json_object_size(vp) != 1)
        goto out_bad;
    json_object_foreach((json_t *)vp, key, v) {
        if (strcmp(key, "latest") == 0) {
            if (json_is_object(v) && json_object_size(v) == 1)
                v = json_object_get(v, "num_versions");
            n = json_is_integer(v) ? json_integer_value(v) : 0;
            if (n < 1 || n > MODEL_MAX_VERSIONS)
                goto out_bad;
            p->latest = (size_t)n;
        } else if (strcmp(key, "all") == 0) {
            if (!json_is_object(v))
                goto out_bad;
            p->kind = POLICY_ALL;
        } else if (strcmp(key, "specific") == 0) {
            list = json_is_object(v) && json_object_size(v) == 1 ? json_object_get(v, "versions")
                                                                 : v;
            if (!json_is_array(list) || json_array_size(list) < 1 ||
                json_array_size(list) > MODEL_MAX_VERSIONS)
                goto out_bad;
            p->kind = POLICY_SPECIFIC;
            p->specific = calloc(json_array_size(list), sizeof(*p->specific));
            if (p->specific == NULL) {
                rc = mw_fail(e, MWE_NOMEM, "%s: out of memory", path);
                goto out;
            }
            for (size_t i = 0; i < json_array_size(list); i++) {
                p->specific[i] = specific_version(json_array_get(list, i));
                if (p->specific[i] == NULL)
                    goto out_bad;
                p->n_specific++;
            }
        } else {
            goto out_bad;
        }
    }
    goto out;

out_bad:
    policy_fini(p);
    rc = mw_fail(e, MWE_CONFIG, "%s: \"version_policy\": " POLICY_EXPECTED, path);
out:
    return rc;
}

/* ---- scanning one model folder --------------------------------------------------------------- */

struct found_version {
    char *version;
    char *dir; /* the folder holding its model.json */
    bool top;  /* the model folder's own model.json (flat layout) */
    uint64_t fp;
};

/* One folder of the repository as it is now. */
struct found {
    char *folder; /* the folder's name */
    char *dir;    /* <repository>/<folder> */
    char *name;   /* the model's name; NULL when the scan failed before knowing it */
    size_t n;     /* the versions the policy selects, newest first */
    struct found_version *v;
    struct mw_error err; /* err.code != 0: the folder cannot be served as it is */
};

static void found_fini(struct found *f)
{
    for (size_t i = 0; f->v != NULL && i < f->n; i++) {
        free(f->v[i].version);
        free(f->v[i].dir);
    }
    free(f->v);
    free(f->folder);
    free(f->dir);
    free(f->name);
    memset(f, 0, sizeof(*f));
}

/* "1, 2, 3" of the candidate versions into out (truncated with "..."). */
static void version_list(char **versions, size_t n, char *out, size_t cap)
{
    size_t used = 0;
    int k;

    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        k = snprintf(out + used, cap - used, "%s%s", i == 0 ? "" : ", ", versions[i]);
        if (k < 0 || (size_t)k >= cap - used) {
            if (cap > 4)
                memcpy(out + cap - 4, "...", 4);
            break;
        }
        used += (size_t)k;
    }
}

/* Keeps the versions p selects among the candidates (sorted newest first), in that order. */
static int policy_select(const struct policy *p, char **cand, size_t n, bool *keep,
                         const char *path, struct mw_error *e)
{
    char list[128];
    bool hit;
    int rc = 0;

    for (size_t i = 0; i < n; i++)
        keep[i] = p->kind == POLICY_ALL || (p->kind == POLICY_LATEST && i < p->latest);
    for (size_t j = 0; p->kind == POLICY_SPECIFIC && j < p->n_specific; j++) {
        hit = false;
        for (size_t i = 0; i < n; i++) {
            if (strcmp(cand[i], p->specific[j]) == 0) {
                keep[i] = hit = true;
                break;
            }
        }
        if (!hit) {
            version_list(cand, n, list, sizeof(list));
            rc = mw_fail(e, MWE_CONFIG,
                         "%s: \"version_policy\": no version '%s' in the model folder (found: %s)",
                         path, p->specific[j], list);
            goto out;
        }
    }
out:
    return rc;
}

/*
 * Scans <repo>/<folder>: its model.json (a version itself when it has a "backend" or there is no
 * version folder; otherwise the model's settings), its version folders, the name, the version
 * policy, and the fingerprint of each selected version. Problems go to f->err (the folder is then
 * not servable); only MWE_NOMEM is returned.
 */
static int scan_folder(const char *repo, const char *folder, struct found *f)
{
    char *top = NULL, **subs = NULL, **cand = NULL, *top_version = NULL, *where;
    bool *keep = NULL, top_is_version = false;
    size_t n_subs = 0, n_cand = 0, k;
    struct policy pol = {0};
    json_t *root = NULL;
    int rc = 0;

    memset(f, 0, sizeof(*f));
    f->folder = strdup(folder);
    f->dir = model_path_join(repo, folder);
    top = f->dir != NULL ? model_path_join(f->dir, "model.json") : NULL;
    if (f->folder == NULL || top == NULL)
        goto out_nomem;
    if (list_dir(f->dir, keep_version_dir, MODEL_MAX_VERSIONS, "version folders", &subs, &n_subs,
                 &f->err) != 0)
        goto out;
    for (size_t i = 0; i < n_subs; i++) {
        if (!model_name_ok(subs[i], strlen(subs[i]))) {
            mw_fail(&f->err, MWE_CONFIG,
                    "%s/%.64s: the folder name is not a valid version (1 to %d characters from "
                    "[A-Za-z0-9_.-])",
                    f->dir, subs[i], MODEL_NAME_MAX);
            goto out;
        }
    }
    where = exists(top) ? top : f->dir;
    if (where == top) {
        root = model_read_json(top, &f->err);
        if (root == NULL)
            goto out;
        top_is_version = json_object_get(root, "backend") != NULL || n_subs == 0;
    }
    if ((root == NULL || json_object_get(root, "name") == NULL) &&
        !model_name_ok(folder, strlen(folder))) {
        mw_fail(&f->err, MWE_CONFIG,
                "%s: the folder name '%.64s' is not a valid model name (1 to %d characters from "
                "[A-Za-z0-9_.-]): set \"name\"",
                where, folder, MODEL_NAME_MAX);
        goto out;
    }
    if (model_read_name(root, "name", folder, &f->name, where, &f->err) != 0)
        goto out;
    if (top_is_version &&
        model_read_name(root, "version", "1", &top_version, top, &f->err) != 0)
        goto out;
    if (policy_parse(root, where, &pol, &f->err) != 0)
        goto out;

    /* candidates: the flat model.json's version and the version folders */
    cand = calloc(n_subs + 1, sizeof(*cand));
    keep = calloc(n_subs + 1, sizeof(*keep));
    if (cand == NULL || keep == NULL)
        goto out_nomem;
    if (top_is_version)
        cand[n_cand++] = top_version;
    for (size_t i = 0; i < n_subs; i++)
        cand[n_cand++] = subs[i];
    qsort(cand, n_cand, sizeof(*cand), cmp_str);
    for (size_t i = 1; i < n_cand; i++) {
        if (strcmp(cand[i - 1], cand[i]) == 0) {
            mw_fail(&f->err, MWE_CONFIG,
                    "%s: version '%s' is defined twice (by %s and by the folder %s/%s)", f->dir,
                    cand[i], top, f->dir, cand[i]);
            goto out;
        }
    }
    qsort(cand, n_cand, sizeof(*cand), cmp_version_desc);
    if (policy_select(&pol, cand, n_cand, keep, where, &f->err) != 0)
        goto out;

    f->v = calloc(n_cand, sizeof(*f->v));
    if (f->v == NULL)
        goto out_nomem;
    for (size_t i = 0; i < n_cand; i++) {
        if (!keep[i])
            continue;
        k = f->n;
        f->v[k].top = top_is_version && cand[i] == top_version;
        f->v[k].version = strdup(cand[i]);
        f->v[k].dir = f->v[k].top ? strdup(f->dir) : model_path_join(f->dir, cand[i]);
        f->n++;
        if (f->v[k].version == NULL || f->v[k].dir == NULL)
            goto out_nomem;
        f->v[k].fp = fingerprint(f->v[k].dir);
    }
    goto out;

out_nomem:
    rc = mw_fail(&f->err, MWE_NOMEM, "%s: out of memory", f->dir ? f->dir : folder);
out:
    policy_fini(&pol);
    json_decref(root);
    free(keep);
    free(cand); /* its strings belong to subs and top_version */
    free(top_version);
    free_strings(subs, n_subs);
    free(top);
    return rc;
}

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

static void states_free(struct model_state *s, size_t n)
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
static size_t reg_index(const struct registry *r, const char *name, size_t len)
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
    size_t i = reg_index(b->cur, name, strlen(name));
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
    size_t i = reg_index(b->cur, name, strlen(name));
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
            b->cur != NULL && reg_index(b->cur, name, strlen(name)) != SIZE_MAX
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
static bool in_sorted(char **list, size_t n, const char *name)
{
    return n > 0 && bsearch(&name, list, n, sizeof(*list), cmp_str) != NULL;
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
    qsort(list, k, sizeof(*list), cmp_str);
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
    states_free(b->states, b->n_states);
}

/* The name a folder's model goes by, without loading it: its model.json's "name" when that is
 * a valid name, else the folder's name. A new string, NULL when out of memory. */
static char *folder_model_name(const char *repo, const char *folder)
{
    char *dir = model_path_join(repo, folder);
    char *top = dir != NULL ? model_path_join(dir, "model.json") : NULL;
    json_t *root = top != NULL && exists(top) ? model_read_json(top, NULL) : NULL;
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
static char *served_name(const char *rename, const char *repo, const char *folder)
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

/*
 * The one builder behind registry_open and registry_reload. Folders are handled in name order, each
 * scanned then loaded, so a strict build reports the first problem in that order.
 */
static struct registry *build(struct registry *cur, const struct repo_opts *o, bool single,
                              const char *single_name, int op, const char *target, bool strict,
                              struct mw_error *e)
{
    struct builder b = {0};
    struct registry *r = NULL;
    char **folders = NULL, *fname, *parent_own = NULL;
    const char *parent = o->dir;
    size_t n_folders = 0;
    struct found f = {0};
    bool seen_target = false;
    int rc;

    b.repo_dir = o->dir;
    b.cur = cur;
    b.strict = strict;
    b.op = op;
    b.target = target;
    b.defaults = o->defaults;
    b.pool = o->pool;
    b.rename = single ? single_name : NULL;
    if (e != NULL)
        memset(e, 0, sizeof(*e));
    if (o->dir == NULL || o->dir[0] == '\0') {
        mw_fail(e, MWE_CONFIG, "model folder: empty path");
        goto out;
    }

    if (op == REPO_UNLOAD) {
        for (size_t i = 0; i < cur->n; i++) {
            if (strcmp(cur->models[i]->name, target) == 0) {
                seen_target = true;
                continue;
            }
            if (carry_over(&b, cur->models[i]->name) != 0)
                goto out_nomem;
        }
        if (!seen_target && !in_sorted(cur->unloaded, cur->n_unloaded, target)) {
            /* not loaded: fine when the repository has it (the unload sticks), else unknown */
            if (repo_folders(o->dir, single, &parent, &parent_own, &folders, &n_folders, e) !=
                0)
                goto out;
            for (size_t i = 0; i < n_folders && !seen_target; i++) {
                fname = served_name(b.rename, parent, folders[i]);
                if (fname == NULL)
                    goto out_nomem;
                seen_target = strcmp(fname, target) == 0;
                free(fname);
            }
            if (!seen_target) {
                mw_fail(e, MWE_MODEL_NOT_FOUND, "No model named '%.64s' in the repository.",
                        target);
                goto out;
            }
        }
        for (size_t i = 0; i < cur->n_states; i++) {
            if (strcmp(cur->states[i].name, target) != 0 &&
                add_state(&b, cur->states[i].name, cur->states[i].version,
                          cur->states[i].reason) != 0)
                goto out_nomem;
        }
        goto out_assemble;
    }

    if (repo_folders(o->dir, single, &parent, &parent_own, &folders, &n_folders, e) != 0)
        goto out;
    if (n_folders == 0 && op == REPO_RESCAN) {
        if (cur == NULL)
            mw_fail(e, MWE_CONFIG, "%s: no model found (expected %s/<name>/model.json)", o->dir,
                    o->dir);
        else
            mw_fail(e, MWE_CONFIG, "%s: no model found: keeping the models that are loaded",
                    o->dir);
        goto out;
    }
    for (size_t i = 0; i < n_folders; i++) {
        const char *who;
        scan_folder(parent, folders[i], &f);
        if (f.err.code != 0 && strict) {
            set_err(e, &f.err);
            goto out;
        }
        if (b.rename != NULL && f.name != NULL) {
            free(f.name);
            f.name = strdup(b.rename);
            if (f.name == NULL)
                goto out_nomem;
        }
        /* the model's name; for a folder that cannot be read, the one cur serves from it */
        who = f.name;
        if (who == NULL)
            who = b.rename;
        if (who == NULL)
            who = name_by_dir(cur, f.dir != NULL ? f.dir : "");
        if (who == NULL)
            who = f.folder != NULL ? f.folder : folders[i];
        if (op == REPO_LOAD && strcmp(who, target) != 0) {
            found_fini(&f);
            continue;
        }
        if (op == REPO_LOAD)
            seen_target = true;
        if (op == REPO_RESCAN && cur != NULL && in_sorted(cur->unloaded, cur->n_unloaded, who)) {
            found_fini(&f);
            continue;
        }
        if (f.err.code != 0) {
            if (op == REPO_LOAD) {
                set_err(e, &f.err);
                goto out;
            }
            refuse(&b, who, NULL, &f.err);
            if (add_state(&b, who, NULL, f.err.msg) != 0)
                goto out_nomem;
            found_fini(&f);
            continue;
        }
        rc = load_found(&b, &f, op == REPO_LOAD, e);
        if (rc < 0 || (rc > 0 && op == REPO_LOAD)) {
            if (rc > 0)
                set_err(e, &b.first);
            goto out;
        }
        found_fini(&f);
    }
    if (op == REPO_LOAD && !seen_target) {
        mw_fail(e, MWE_MODEL_NOT_FOUND, "No model named '%.64s' in the repository.", target);
        goto out;
    }
    if (duplicates(&b, e) != 0)
        goto out;

    /* what cur had and this build does not replace */
    for (size_t i = 0; cur != NULL && i < cur->n; i++) {
        const char *name = cur->models[i]->name;
        bool keep = op == REPO_LOAD ? strcmp(name, target) != 0 : refused_now(&b, name);
        if (keep && !has_entry(&b, name) && carry_over(&b, name) != 0)
            goto out_nomem;
    }
    for (size_t i = 0; cur != NULL && op == REPO_LOAD && i < cur->n_states; i++) {
        if (strcmp(cur->states[i].name, target) != 0 &&
            add_state(&b, cur->states[i].name, cur->states[i].version, cur->states[i].reason) !=
                0)
            goto out_nomem;
    }
    if (b.n_ent == 0 && op == REPO_RESCAN && cur != NULL) {
        if (b.first.code != 0)
            set_err(e, &b.first);
        else
            mw_fail(e, MWE_CONFIG, "%s: no model could be loaded: keeping the loaded models",
                    o->dir);
        goto out;
    }
out_assemble:
    if (b.n_ent > 1)
        qsort(b.ent, b.n_ent, sizeof(*b.ent), cmp_entry);
    r = assemble(&b, o, single, single_name, e);
    if (r != NULL && b.first.code != 0)
        set_err(e, &b.first);
    if (r != NULL && cur != NULL)
        log_unloaded(cur, r);
    goto out;

out_nomem:
    mw_fail(e, MWE_NOMEM, "%s: out of memory", o->dir);
out:
    found_fini(&f);
    free_strings(folders, n_folders);
    free(parent_own);
    builder_fini(&b);
    return r;
}

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
    return build(NULL, o, false, NULL, REPO_RESCAN, NULL, true, e);
}

/* See model.h: registry_open of the one model folder o->dir, served as name (NULL: its own). */
struct registry *registry_open_folder(const struct repo_opts *o, const char *name,
                                      struct mw_error *e)
{
    if (o == NULL) {
        mw_fail(e, MWE_CONFIG, "model folder: empty path");
        return NULL;
    }
    return build(NULL, o, true, name, REPO_RESCAN, NULL, true, e);
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
    r = build(cur, &o, cur->single, cur->single_name, op, target, false, e);
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
    states_free(r->states, r->n_states);
    free_strings(r->unloaded, r->n_unloaded);
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
    size_t i = reg_index(r, name, len);

    return i == SIZE_MAX ? NULL : r->models[i];
}

/* Every loaded version of model name (len bytes), newest first; NULL when not loaded. Any thread.
 */
const struct registry_versions *registry_versions_of(const struct registry *r, const char *name,
                                                     size_t len)
{
    size_t i = reg_index(r, name, len);

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

static int index_add(json_t *arr, const char *name, const char *version, bool ready,
                     const char *reason)
{
    json_t *o = json_object();
    int rc = o == NULL;

    rc |= json_array_append_new(arr, o);
    rc |= json_object_set_new(o, "name", json_string(name));
    if (version != NULL)
        rc |= json_object_set_new(o, "version", json_string(version));
    rc |= json_object_set_new(o, "state", json_string(ready ? "READY" : "UNAVAILABLE"));
    rc |= json_object_set_new(o, "reason", json_string(reason));
    return rc;
}

/* Whether r knows name in any way (served, refused, unloaded). */
static bool known(const struct registry *r, const char *name)
{
    if (registry_find(r, name, strlen(name)) != NULL ||
        in_sorted(r->unloaded, r->n_unloaded, name))
        return true;
    for (size_t i = 0; i < r->n_states; i++) {
        if (strcmp(r->states[i].name, name) == 0)
            return true;
    }
    return false;
}

/* See model.h. Reads the repository folder (names only) for the models r does not know. Any
 * thread; the folder listing may block briefly. */
json_t *registry_index(const struct registry *r, bool ready_only)
{
    json_t *arr = json_array();
    char **folders = NULL, *name, *parent_own = NULL;
    const char *parent;
    size_t n_folders = 0;
    int rc = arr == NULL;

    for (size_t i = 0; rc == 0 && i < r->n; i++) {
        for (size_t k = 0; rc == 0 && k < r->versions[i].n; k++) {
            const struct model *m = r->versions[i].v[k];
            bool ready = atomic_load(&((struct model *)m)->ready);
            if (!ready_only || ready)
                rc = index_add(arr, m->name, m->version, ready, ready ? "" : "shutting down");
        }
    }
    if (ready_only)
        goto out;
    for (size_t i = 0; rc == 0 && i < r->n_states; i++)
        rc = index_add(arr, r->states[i].name, r->states[i].version, false, r->states[i].reason);
    for (size_t i = 0; rc == 0 && i < r->n_unloaded; i++)
        rc = index_add(arr, r->unloaded[i], NULL, false, "unloaded");
    if (rc == 0 && repo_folders(r->dir, r->single, &parent, &parent_own, &folders, &n_folders,
                                NULL) == 0) {
        for (size_t i = 0; rc == 0 && i < n_folders; i++) {
            name = served_name(r->single_name, parent, folders[i]);
            if (name == NULL)
                rc = 1;
            else if (!known(r, name))
                rc = index_add(arr, name, NULL, false,
                               "not loaded: added after the last reload (SIGHUP or "
                               "POST /v2/repository/models/<name>/load)");
            free(name);
        }
    }
out:
    free_strings(folders, n_folders);
    free(parent_own);
    if (rc != 0) {
        json_decref(arr);
        arr = NULL;
    }
    return arr;
}

/* ---- the pool -------------------------------------------------------------------------------- */

struct model_pool {
    pthread_mutex_t mu;
    pthread_cond_t work_cv; /* the reaper: a model to free, or stop */
    pthread_cond_t idle_cv; /* model_pool_flush: the reaper finished one */
    struct model *live;     /* every linked model not yet retired, through pool_prev/next */
    size_t n_live;
    struct model *dead_head, *dead_tail;
    size_t busy; /* models the reaper is freeing right now */
    bool stop;
    pthread_t reaper;
};

static void *reaper_main(void *arg)
{
    struct model_pool *p = arg;
    struct model *m;

    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (p->dead_head == NULL && !p->stop)
            pthread_cond_wait(&p->work_cv, &p->mu);
        if (p->dead_head == NULL)
            break;
        m = p->dead_head;
        p->dead_head = m->dead_next;
        if (p->dead_head == NULL)
            p->dead_tail = NULL;
        m->dead_next = NULL;
        p->busy++;
        pthread_mutex_unlock(&p->mu);
        log_msg(LOG_DEBUG, "model freed", "model", m->name, "version", m->version, NULL);
        model_free(m); /* stops its scheduler: may wait for a call still running */
        pthread_mutex_lock(&p->mu);
        p->busy--;
        pthread_cond_broadcast(&p->idle_cv);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/*
 * A pool with its reaper thread (which blocks every signal). NULL with e (MWE_NOMEM /
 * MWE_INTERNAL) when it cannot start. Main thread.
 */
struct model_pool *model_pool_new(struct mw_error *e)
{
    struct model_pool *p = calloc(1, sizeof(*p));
    sigset_t all, old;
    int err;

    if (p == NULL) {
        mw_fail(e, MWE_NOMEM, "out of memory");
        goto out;
    }
    if (pthread_mutex_init(&p->mu, NULL) != 0) {
        free(p);
        p = NULL;
        mw_fail(e, MWE_NOMEM, "out of memory");
        goto out;
    }
    pthread_cond_init(&p->work_cv, NULL);
    pthread_cond_init(&p->idle_cv, NULL);
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    err = pthread_create(&p->reaper, NULL, reaper_main, p);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (err != 0) {
        mw_fail(e, MWE_INTERNAL, "cannot start the model reaper thread: %s", strerror(err));
        pthread_cond_destroy(&p->idle_cv);
        pthread_cond_destroy(&p->work_cv);
        pthread_mutex_destroy(&p->mu);
        free(p);
        p = NULL;
        goto out;
    }
    pthread_setname_np(p->reaper, "mw-reaper");
out:
    return p;
}

/* Adds a freshly loaded m (not yet shared) to p's live list. Thread running the reload. */
void model_pool_link(struct model_pool *p, struct model *m)
{
    pthread_mutex_lock(&p->mu);
    m->pool = p;
    m->pool_prev = NULL;
    m->pool_next = p->live;
    if (p->live != NULL)
        p->live->pool_prev = m;
    p->live = m;
    p->n_live++;
    pthread_mutex_unlock(&p->mu);
}

/* Unlinks m from its pool's live list (pool lock held). */
static void unlink_locked(struct model_pool *p, struct model *m)
{
    if (m->pool_prev != NULL)
        m->pool_prev->pool_next = m->pool_next;
    else
        p->live = m->pool_next;
    if (m->pool_next != NULL)
        m->pool_next->pool_prev = m->pool_prev;
    m->pool_prev = m->pool_next = NULL;
    m->pool = NULL;
    p->n_live--;
}

/* m's last reference is gone: it leaves the live list and waits for the reaper. Any thread;
 * never blocks beyond the pool lock. */
void model_pool_retire(struct model *m)
{
    struct model_pool *p = m->pool;

    pthread_mutex_lock(&p->mu);
    unlink_locked(p, m);
    m->dead_next = NULL;
    if (p->dead_tail != NULL)
        p->dead_tail->dead_next = m;
    else
        p->dead_head = m;
    p->dead_tail = m;
    pthread_cond_signal(&p->work_cv);
    pthread_mutex_unlock(&p->mu);
}

/* model_free of a model still in the live list (a failed build, a test). Any thread. */
void model_pool_unlink(struct model *m)
{
    struct model_pool *p = m->pool;

    pthread_mutex_lock(&p->mu);
    unlink_locked(p, m);
    pthread_mutex_unlock(&p->mu);
}

/* See model.h. Takes a reference on each live model (skipping those whose count already reached
 * zero: the reaper stops them), then shuts them down outside the lock. Main thread. */
void model_pool_shutdown(struct model_pool *p)
{
    struct model **list = NULL, *m;
    size_t n = 0;
    int refs;

    if (p == NULL)
        return;
    pthread_mutex_lock(&p->mu);
    list = calloc(p->n_live + 1, sizeof(*list));
    for (m = p->live; list != NULL && m != NULL; m = m->pool_next) {
        refs = atomic_load(&m->refs);
        while (refs > 0 && !atomic_compare_exchange_weak(&m->refs, &refs, refs + 1))
            ;
        if (refs > 0)
            list[n++] = m;
    }
    pthread_mutex_unlock(&p->mu);
    if (list == NULL) {
        log_msg(LOG_ERROR, "out of memory stopping the models", NULL);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        model_shutdown(list[i]);
        model_release(list[i]);
    }
    free(list);
}

/* Waits until every model queued for the reaper so far has been freed. Any thread but the
 * reaper. */
void model_pool_flush(struct model_pool *p)
{
    pthread_mutex_lock(&p->mu);
    while (p->dead_head != NULL || p->busy > 0)
        pthread_cond_wait(&p->idle_cv, &p->mu);
    pthread_mutex_unlock(&p->mu);
}

/* Models linked and not yet retired. Any thread. */
size_t model_pool_live(struct model_pool *p)
{
    size_t n;

    pthread_mutex_lock(&p->mu);
    n = p->n_live;
    pthread_mutex_unlock(&p->mu);
    return n;
}

/* See model.h. Main thread at exit, once no other thread releases models. */
void model_pool_free(struct model_pool *p)
{
    struct model *m, *next;

    if (p == NULL)
        return;
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    pthread_cond_signal(&p->work_cv);
    pthread_mutex_unlock(&p->mu);
    pthread_join(p->reaper, NULL);
    for (m = p->live; m != NULL; m = next) {
        next = m->pool_next;
        m->pool = NULL;
        m->pool_prev = m->pool_next = NULL;
    }
    if (p->n_live > 0)
        log_kv(LOG_WARN, "models still referenced when the pool stopped", "#count",
               (long long)p->n_live, NULL);
    pthread_cond_destroy(&p->idle_cv);
    pthread_cond_destroy(&p->work_cv);
    pthread_mutex_destroy(&p->mu);
    free(p);
}
