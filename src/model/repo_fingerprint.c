/*
 * Fingerprints of a model's folder (model.json, the model files, a Python model's sources): a
 * reload shares a model whose fingerprint did not change.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "model/model_int.h"
#include "model/repo_int.h"

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

    if (repo_list_dir(dir, keep_file, 4096, "files", &files, &n, NULL) != 0)
        return 0;
    if (depth > 0 && repo_list_dir(dir, keep_source_dir, 256, "folders", &dirs, &nd, NULL) == 0) {
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
        repo_free_strings(dirs, nd);
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
    repo_free_strings(files, n);
    return h != 0 ? h : 1;
}

uint64_t repo_fingerprint(const char *dir)
{
    return fingerprint_at(dir, UINT64_C(0xcbf29ce484222325), FINGERPRINT_DEPTH);
}
