/*
 * Version policies: model.json's "version_policy" ({"latest": N}, {"all": {}}, {"specific": [...]}
 * and Triton's forms) and the versions each one selects.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "model/model_int.h"
#include "model/repo_int.h"

/* ---- version policies ------------------------------------------------------------------------ */

void repo_policy_fini(struct policy *p)
{
    repo_free_strings(p->specific, p->n_specific);
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
int repo_policy_parse(const json_t *root, const char *path, struct policy *p,
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
    repo_policy_fini(p);
    rc = mw_fail(e, MWE_CONFIG, "%s: \"version_policy\": " POLICY_EXPECTED, path);
out:
    return rc;
}


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
int repo_policy_select(const struct policy *p, char **cand, size_t n, bool *keep,
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
