/*
 * The model repository as it is on disk: listing folders, the repository's model folders (both
 * layouts, and KServe's single-model folder), and scanning one model folder into the versions its
 * policy selects (repo_int.h).
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "model/model_int.h"
#include "model/repo_int.h"

/* ---- small helpers --------------------------------------------------------------------------- */

int repo_cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Newest first: GNU version order ("10" after "9", "1.10" after "1.9"), reversed. */
static int cmp_version_desc(const void *a, const void *b)
{
    return strverscmp(*(char *const *)b, *(char *const *)a);
}

void repo_free_strings(char **v, size_t n)
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

bool repo_exists(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0;
}

/* dir/sub/model.json exists. */
static bool has_model_json(const char *dir, const char *sub)
{
    char *d = sub != NULL ? model_path_join(dir, sub) : strdup(dir);
    char *mj = d != NULL ? model_path_join(d, "model.json") : NULL;
    bool yes = mj != NULL && repo_exists(mj) && (sub == NULL || is_dir(d));

    free(mj);
    free(d);
    return yes;
}

/*
 * The sorted names of dir's non-hidden entries for which keep(dir, name) holds, at most max of
 * them (more is an error naming what, e.g. "model folders"). 0, MWE_CONFIG or MWE_NOMEM with e.
 */
int repo_list_dir(const char *dir, bool (*keep)(const char *, const char *), size_t max,
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
    qsort(names, n, sizeof(*names), repo_cmp_str);
    *out = names;
    *out_n = n;
    names = NULL;
    goto out_free;

out_nomem:
    rc = mw_fail(e, MWE_NOMEM, "%s: out of memory", dir);
out_free:
    repo_free_strings(names, n);
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
    if (repo_list_dir(sub, keep_version_dir, MODEL_MAX_VERSIONS + 1, "versions", &versions, &n,
                 NULL) == 0)
        yes = n > 0;
    repo_free_strings(versions, n);
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
int repo_folders(const char *dir, bool single, const char **parent, char **parent_own,
                 char ***folders, size_t *n, struct mw_error *e)
{
    char *real = NULL, *slash;
    int rc = 0;

    *parent = dir;
    *parent_own = NULL;
    *folders = NULL;
    *n = 0;
    if (!single)
        return repo_list_dir(dir, keep_model_dir, REGISTRY_MAX_MODELS, "model folders", folders,
                             n, e);
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
        repo_free_strings(*folders, *n);
        *folders = NULL;
        *n = 0;
    }
    free(real);
    return rc;
}


void repo_found_fini(struct found *f)
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
int repo_scan_folder(const char *repo, const char *folder, struct found *f)
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
    if (repo_list_dir(f->dir, keep_version_dir, MODEL_MAX_VERSIONS, "version folders", &subs,
                      &n_subs, &f->err) != 0)
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
    where = repo_exists(top) ? top : f->dir;
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
    if (repo_policy_parse(root, where, &pol, &f->err) != 0)
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
    qsort(cand, n_cand, sizeof(*cand), repo_cmp_str);
    for (size_t i = 1; i < n_cand; i++) {
        if (strcmp(cand[i - 1], cand[i]) == 0) {
            mw_fail(&f->err, MWE_CONFIG,
                    "%s: version '%s' is defined twice (by %s and by the folder %s/%s)", f->dir,
                    cand[i], top, f->dir, cand[i]);
            goto out;
        }
    }
    qsort(cand, n_cand, sizeof(*cand), cmp_version_desc);
    if (repo_policy_select(&pol, cand, n_cand, keep, where, &f->err) != 0)
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
        f->v[k].fp = repo_fingerprint(f->v[k].dir);
    }
    goto out;

out_nomem:
    rc = mw_fail(&f->err, MWE_NOMEM, "%s: out of memory", f->dir ? f->dir : folder);
out:
    repo_policy_fini(&pol);
    json_decref(root);
    free(keep);
    free(cand); /* its strings belong to subs and top_version */
    free(top_version);
    repo_free_strings(subs, n_subs);
    free(top);
    return rc;
}
