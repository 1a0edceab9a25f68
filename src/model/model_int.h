/*
 * model_int.h: helpers shared by the files of src/model/ only (model.c loads one model folder,
 * repo.c scans the repository and builds registry snapshots). Nobody outside src/model/ includes
 * this header.
 */
#ifndef MW_MODEL_INT_H
#define MW_MODEL_INT_H

#include "model/model_impl.h"

#define MODEL_JSON_MAX ((size_t)1 << 20) /* bytes of model.json */
#define MODEL_NAME_MAX 64                /* name and version: [A-Za-z0-9_.-]{1,64} */

/* "a/b" as a new string (trailing slashes of a dropped); NULL when out of memory. */
char *model_path_join(const char *a, const char *b);
/* [A-Za-z0-9_.-]{1,64}, and neither "." nor "..". */
bool model_name_ok(const char *s, size_t len);
/* The last path segment of dir, as a new string; NULL when out of memory. */
char *model_folder_name(const char *dir);
/* Reads the regular file at path (at most MODEL_JSON_MAX bytes) into a new buffer (*out,
 * *out_len; the caller frees). 0 or MWE_CONFIG / MWE_NOMEM with e naming the path. */
int model_read_file(const char *path, char **out, size_t *out_len, struct mw_error *e);
/* Reads and parses the JSON object at path (duplicate members refused). New reference, or NULL
 * with e ("<path>: <problem> at line L column C", "<path>: expected a JSON object", ...). */
json_t *model_read_json(const char *path, struct mw_error *e);
/* An optional member `key` of root that must match model_name_ok, into *out (a new string; dflt
 * copied when absent). 0 or MWE_CONFIG / MWE_NOMEM with e naming path and key. */
int model_read_name(const json_t *root, const char *key, const char *dflt, char **out,
                    const char *path, struct mw_error *e);

/* The pool side of model_release / model_free (repo.c). */
void model_pool_retire(struct model *m); /* the last reference is gone: queue m for the reaper */
void model_pool_unlink(struct model *m); /* model_free of a pool model: leave the live list */
void model_pool_link(struct model_pool *p, struct model *m); /* a new model joins the pool */

#endif /* MW_MODEL_INT_H */
