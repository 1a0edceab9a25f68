/*
 * The repository extension's index: every model and version of the repository with its state,
 * from a snapshot and the repository folder as it is now.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "model/model_int.h"
#include "model/repo_int.h"

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
        repo_in_sorted(r->unloaded, r->n_unloaded, name))
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
            name = repo_served_name(r->single_name, parent, folders[i]);
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
    repo_free_strings(folders, n_folders);
    free(parent_own);
    if (rc != 0) {
        json_decref(arr);
        arr = NULL;
    }
    return arr;
}
