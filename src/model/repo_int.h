/*
 * repo_int.h: what the files of the model repository (repo*.c) share: folder scanning, version
 * policies, fingerprints and the snapshot builder. Nobody outside src/model/ includes it.
 */
#ifndef MW_REPO_INT_H
#define MW_REPO_INT_H

#include "model/model_impl.h"

#define REGISTRY_MAX_MODELS 1024
#define MODEL_MAX_VERSIONS 256
#define POLICY_EXPECTED                                                                            \
    "expected {\"latest\": N}, {\"all\": {}} or {\"specific\": [\"1\", ...]} (N from 1 to 256)"

/* ---- small helpers (repo_scan.c) ---- */

/* qsort comparison of char * (strcmp order). */
int repo_cmp_str(const void *a, const void *b);
/* Frees n strings of v and v (NULL-safe). */
void repo_free_strings(char **v, size_t n);
bool repo_exists(const char *path);
/* The sorted names of dir's non-hidden entries for which keep(dir, name) holds, at most max of
 * them (more is an error naming what, e.g. "model folders"). 0, MWE_CONFIG or MWE_NOMEM with e. */
int repo_list_dir(const char *dir, bool (*keep)(const char *, const char *), size_t max,
                  const char *what, char ***out, size_t *out_n, struct mw_error *e);
/* The model folders of a repository, as names inside *parent: the sub-folders of dir, or for a
 * single-model repository (KServe's --model_dir) dir's own name inside its parent folder. *parent
 * is dir or a new string in *parent_own (the caller frees it and *folders). 0, MWE_CONFIG or
 * MWE_NOMEM. */
int repo_folders(const char *dir, bool single, const char **parent, char **parent_own,
                 char ***folders, size_t *n, struct mw_error *e);

/* ---- fingerprints (repo_fingerprint.c) ---- */

/* Of the files of a model's folder that its model depends on. */
uint64_t repo_fingerprint(const char *dir);

/* ---- version policies (repo_policy.c) ---- */

enum policy_kind { POLICY_LATEST = 0, POLICY_ALL = 1, POLICY_SPECIFIC = 2 };

struct policy {
    int kind;
    size_t latest;   /* POLICY_LATEST */
    char **specific; /* POLICY_SPECIFIC: version names */
    size_t n_specific;
};

void repo_policy_fini(struct policy *p);
/* Reads root's optional "version_policy" (path names model.json) into p (default: latest 1).
 * 0 or MWE_CONFIG / MWE_NOMEM with e. */
int repo_policy_parse(const json_t *root, const char *path, struct policy *p,
                      struct mw_error *e);
/* Marks keep[i] for the candidate versions cand[0..n) (newest first) that p selects. 0, or
 * MWE_CONFIG with e (path naming the model) when a "specific" version is missing. */
int repo_policy_select(const struct policy *p, char **cand, size_t n, bool *keep,
                       const char *path, struct mw_error *e);

/* ---- scanning one model folder (repo_scan.c) ---- */

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

void repo_found_fini(struct found *f);
/* Scans <repo>/<folder> into f (which the caller finis): its name, and the versions its policy
 * selects with their fingerprints; f->err says why the folder cannot be served. Returns
 * f->err.code. */
int repo_scan_folder(const char *repo, const char *folder, struct found *f);

/* ---- snapshots (repo_build.c) ---- */

void repo_states_free(struct model_state *s, size_t n);
/* Index of the model named by the len bytes at name in r (sorted), r->n when absent. */
size_t repo_reg_index(const struct registry *r, const char *name, size_t len);
/* name is among the n sorted strings of list. */
bool repo_in_sorted(char **list, size_t n, const char *name);
/* The name a repository folder's model is served under (rename when set); a new string, NULL
 * when out of memory. */
char *repo_served_name(const char *rename, const char *repo, const char *folder);
/* A new snapshot for op (enum repo_op) derived from cur (NULL at start-up), from repository o
 * (single: o->dir is one model folder served as single_name); target names the model of
 * REPO_LOAD / REPO_UNLOAD. strict: the first problem fails everything (start-up). NULL with e;
 * see registry_reload for what a lenient build reports. */
struct registry *repo_build(struct registry *cur, const struct repo_opts *o, bool single,
                            const char *single_name, int op, const char *target, bool strict,
                            struct mw_error *e);

#endif /* MW_REPO_INT_H */
