/*
 * Models: loads <dir>/model.json (name, version, backend, signature, scheduling options), hands the
 * rest to the backend and starts the model's scheduler; reference counting and shutdown of a
 * model; its public description. The repository (versions, snapshots, reload) is repo.c.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model/model_impl.h"
#include "model/model_int.h"

#define BACKENDS_ACCEPTED "xgboost, plugin, python, sklearn"

static const struct model_opts builtin_defaults = {
    .workers = 0,
    .queue_size = 1024,
    .timeout_ms = 30000,
    .max_records = 10000,
};

/* ---- backends -------------------------------------------------------------------------------- */

/*
 * The backend named by model.json's "backend" value ("xgboost", "plugin"); NULL when unknown or
 * NULL. The result is static. Any thread.
 */
const struct backend_ops *backend_find(const char *name)
{
    const struct backend_ops *ops = NULL;

    if (name == NULL)
        goto out;
    if (strcmp(name, "xgboost") == 0)
        ops = &backend_xgboost;
    else if (strcmp(name, "plugin") == 0)
        ops = &backend_plugin;
    else if (strcmp(name, "python") == 0)
        ops = &backend_python;
    else if (strcmp(name, "sklearn") == 0)
        ops = &backend_sklearn;
out:
    return ops;
}

/* ---- worker events (out-of-process backends) ---------------------------------------------- */

/* Set at start-up and cleared at exit while supervisors may read them: atomics. */
static _Atomic(model_event_fn) event_fn;
static _Atomic(void *) event_ctx;

void model_set_event_hook(model_event_fn fn, void *ctx)
{
    atomic_store(&event_ctx, ctx);
    atomic_store(&event_fn, fn);
}

void model_event(const struct model *m, int instance, const char *what, int sig)
{
    model_event_fn fn = atomic_load(&event_fn);

    if (fn != NULL)
        fn(atomic_load(&event_ctx), m->name, m->version, instance, what, sig);
}

/* ---- helpers --------------------------------------------------------------------------------- */

/* "a/b" as a new string (trailing slashes of a dropped); NULL when out of memory. Any thread. */
char *model_path_join(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *p = NULL;

    while (la > 1 && a[la - 1] == '/')
        la--;
    if (la > SIZE_MAX - lb - 2)
        goto out;
    p = malloc(la + lb + 2);
    if (p == NULL)
        goto out;
    memcpy(p, a, la);
    p[la] = '/';
    memcpy(p + la + 1, b, lb);
    p[la + lb + 1] = '\0';
out:
    return p;
}

/* [A-Za-z0-9_.-]{1,64}, and neither "." nor ".." (they would read as path segments in URLs).
 * s is a slice (len bytes). Any thread. */
bool model_name_ok(const char *s, size_t len)
{
    bool ok = false;

    if (len < 1 || len > MODEL_NAME_MAX)
        goto out;
    if ((len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.'))
        goto out;
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
              ch == '_' || ch == '.' || ch == '-'))
            goto out;
    }
    ok = true;
out:
    return ok;
}

/* Reads the whole regular file at path, at most MODEL_JSON_MAX bytes, into a new buffer that the
 * caller frees. 0, or MWE_CONFIG / MWE_NOMEM with e naming the path. Any thread. */
int model_read_file(const char *path, char **out, size_t *out_len, struct mw_error *e)
{
    int err = mw_file_read(path, MODEL_JSON_MAX, MW_FILE_REGULAR, out, out_len);

    if (err == 0)
        return 0;
    if (err == EINVAL)
        return mw_fail(e, MWE_CONFIG, "%s: not a regular file", path);
    if (err == EFBIG)
        return mw_fail(e, MWE_CONFIG, "%s: larger than %zu bytes", path, MODEL_JSON_MAX);
    if (err == ENOMEM)
        return mw_fail(e, MWE_NOMEM, "%s: out of memory", path);
    return mw_fail(e, MWE_CONFIG, "%s: cannot open: %s", path, strerror(err));
}

/* An optional member matching model_name_ok into *out (a new string the caller frees); absent: a
 * copy of dflt. 0, or MWE_CONFIG / MWE_NOMEM with e naming path and key. Any thread. */
int model_read_name(const json_t *root, const char *key, const char *dflt, char **out,
                    const char *path, struct mw_error *e)
{
    const json_t *v = json_object_get(root, key);
    int rc = 0;

    if (v != NULL &&
        (!json_is_string(v) || !model_name_ok(json_string_value(v), json_string_length(v)))) {
        rc = mw_fail(e, MWE_CONFIG,
                     "%s: \"%s\": expected a string of 1 to %d characters from [A-Za-z0-9_.-]",
                     path, key, MODEL_NAME_MAX);
        goto out;
    }
    *out = strdup(v != NULL ? json_string_value(v) : dflt);
    if (*out == NULL)
        rc = mw_fail(e, MWE_NOMEM, "%s: out of memory", path);
out:
    return rc;
}

/* An optional unsigned member in [lo, hi] over *out. */
static int read_opt(const json_t *root, const char *key, unsigned lo, unsigned hi, unsigned *out,
                    const char *path, struct mw_error *e)
{
    const json_t *v = json_object_get(root, key);
    json_int_t x;
    int rc = 0;

    if (v == NULL)
        goto out;
    x = json_is_integer(v) ? json_integer_value(v) : -1;
    if (!json_is_integer(v) || x < (json_int_t)lo || x > (json_int_t)hi) {
        rc = mw_fail(e, MWE_CONFIG, "%s: \"%s\": expected an integer from %u to %u", path, key, lo,
                     hi);
        goto out;
    }
    *out = (unsigned)x;
out:
    return rc;
}

/* ---- dynamic batching ---------------------------------------------------------------
 * "dynamic_batching": {"max_batch_size": N, "max_queue_delay_us": D, "preferred_batch_size": [..]}
 * (Triton's names). Off unless present; needs "workers" >= 1 (MW_FLAG_BATCH is checked by
 * sched_new once the backend has loaded). docs/batching.md. */
static int read_batching(const json_t *root, struct batch_opts *o, unsigned workers,
                         const char *path, struct mw_error *e)
{
    const json_t *db = json_object_get(root, "dynamic_batching"), *pref, *v;
    const char *key;
    size_t i;
    int rc = 0;

    o->max = 0;
    o->delay_us = 0;
    o->n_preferred = 0;
    if (db == NULL)
        goto out;
    if (!json_is_object(db)) {
        rc = mw_fail(e, MWE_CONFIG, "%s: \"dynamic_batching\": expected an object", path);
        goto out;
    }
    json_object_foreach((json_t *)db, key, v) {
        if (strcmp(key, "max_batch_size") != 0 && strcmp(key, "max_queue_delay_us") != 0 &&
            strcmp(key, "preferred_batch_size") != 0) {
            rc = mw_fail(e, MWE_CONFIG,
                         "%s: \"dynamic_batching\": unknown member '%.64s' (accepted: "
                         "max_batch_size, max_queue_delay_us, preferred_batch_size)",
                         path, key);
            goto out;
        }
    }
    if (json_object_get(db, "max_batch_size") == NULL) {
        rc = mw_fail(e, MWE_CONFIG, "%s: \"dynamic_batching\": \"max_batch_size\" is required",
                     path);
        goto out;
    }
    if (read_opt(db, "max_batch_size", 1, BATCH_MAX_ROWS, &o->max, path, e) != 0) {
        rc = mw_fail(e, MWE_CONFIG,
                     "%s: \"dynamic_batching\": \"max_batch_size\": expected an integer from 1 "
                     "to %d",
                     path, BATCH_MAX_ROWS);
        goto out;
    }
    if (read_opt(db, "max_queue_delay_us", 0, BATCH_MAX_DELAY_US, &o->delay_us, path, e) != 0) {
        rc = mw_fail(e, MWE_CONFIG,
                     "%s: \"dynamic_batching\": \"max_queue_delay_us\": expected an integer "
                     "from 0 to %d",
                     path, BATCH_MAX_DELAY_US);
        goto out;
    }
    if (workers == 0) {
        rc = mw_fail(e, MWE_CONFIG,
                     "%s: \"dynamic_batching\" needs \"workers\" of 1 or more (calls run inline "
                     "without workers)",
                     path);
        goto out;
    }
    pref = json_object_get(db, "preferred_batch_size");
    if (pref == NULL)
        goto out;
    if (!json_is_array(pref) || json_array_size(pref) > BATCH_MAX_PREFERRED) {
        rc = mw_fail(e, MWE_CONFIG,
                     "%s: \"dynamic_batching\": \"preferred_batch_size\": expected an array of "
                     "at most %d integers",
                     path, BATCH_MAX_PREFERRED);
        goto out;
    }
    json_array_foreach(pref, i, v) {
        json_int_t x = json_is_integer(v) ? json_integer_value(v) : 0;

        if (x < 1 || x > (json_int_t)o->max ||
            (i > 0 && (unsigned)x <= o->preferred[i - 1])) {
            rc = mw_fail(e, MWE_CONFIG,
                         "%s: \"dynamic_batching\": \"preferred_batch_size\"[%zu]: expected "
                         "increasing integers from 1 to max_batch_size (%u)",
                         path, i, o->max);
            goto out;
        }
        o->preferred[i] = (unsigned)x;
        o->n_preferred = (unsigned)i + 1;
    }
out:
    return rc;
}

/* The folder name of dir (its last path segment) as a new string the caller frees; NULL when out
 * of memory. Any thread. */
char *model_folder_name(const char *dir)
{
    size_t end = strlen(dir), start;

    while (end > 1 && dir[end - 1] == '/')
        end--;
    start = end;
    while (start > 0 && dir[start - 1] != '/')
        start--;
    return strndup(dir + start, end - start);
}

/* Frees what model_load put in m before the backend ran, and m. */
static void model_release_fields(struct model *m)
{
    model_sig_fini(&m->sig);
    free(m->name);
    free(m->version);
    free(m->dir);
    free(m->platform);
    free(m->description);
    free(m);
}

/* A versioned model's name or version from model.json must be the one the layout gives. */
static int check_expected(const char *got, const char *want, const char *key, const char *path,
                          struct mw_error *e)
{
    int rc = 0;

    if (want != NULL && strcmp(got, want) != 0)
        rc = mw_fail(e, MWE_CONFIG, "%s: \"%s\" is '%s' but the model folder makes it '%s'", path,
                     key, got, want);
    return rc;
}

/* Reads model.json's own members into m (everything except the backend's). want_name and
 * want_version are the versioned layout's (NULL: the flat layout's folder name and "1"). */
static int read_model_json(struct model *m, const json_t *root, const char *dir,
                           const char *want_name, const char *want_version, bool name_wins,
                           const struct model_opts *defaults, const char *path, struct mw_error *e)
{
    const json_t *backend, *desc, *sig;
    struct mw_error sub = {0};
    char *folder = NULL;
    int rc = 0;

    folder = want_name != NULL ? strdup(want_name) : model_folder_name(dir);
    if (folder == NULL) {
        rc = mw_fail(e, MWE_NOMEM, "%s: out of memory", path);
        goto out;
    }
    if (json_object_get(root, "name") == NULL && !model_name_ok(folder, strlen(folder))) {
        rc = mw_fail(e, MWE_CONFIG,
                     "%s: the folder name '%.64s' is not a valid model name (1 to %d characters "
                     "from [A-Za-z0-9_.-]): set \"name\"",
                     path, folder, MODEL_NAME_MAX);
        goto out;
    }
    if (name_wins) {
        m->name = folder;
        folder = NULL;
    } else {
        rc = model_read_name(root, "name", folder, &m->name, path, e);
    }
    if (rc == 0 && !name_wins)
        rc = check_expected(m->name, want_name, "name", path, e);
    if (rc != 0)
        goto out;
    rc = model_read_name(root, "version", want_version != NULL ? want_version : "1", &m->version,
                         path, e);
    if (rc == 0)
        rc = check_expected(m->version, want_version, "version", path, e);
    if (rc != 0)
        goto out;
    if (want_version != NULL && json_object_get(root, "version_policy") != NULL) {
        rc = mw_fail(e, MWE_CONFIG,
                     "%s: \"version_policy\" belongs in the model's own folder (%s/../model.json), "
                     "not in a version's",
                     path, dir);
        goto out;
    }

    backend = json_object_get(root, "backend");
    if (backend == NULL) {
        rc = mw_fail(e, MWE_CONFIG, "%s: \"backend\": required (accepted: " BACKENDS_ACCEPTED ")",
                     path);
        goto out;
    }
    m->ops = json_is_string(backend) ? backend_find(json_string_value(backend)) : NULL;
    if (m->ops == NULL) {
        rc = mw_fail(e, MWE_CONFIG,
                     "%s: \"backend\": unknown backend '%.64s' (accepted: " BACKENDS_ACCEPTED ")",
                     path, json_is_string(backend) ? json_string_value(backend) : "(not a string)");
        goto out;
    }
    m->platform = strdup(m->ops == &backend_plugin ? "modelwrap_plugin" : m->ops->name);

    desc = json_object_get(root, "description");
    if (desc != NULL && !json_is_string(desc)) {
        rc = mw_fail(e, MWE_CONFIG, "%s: \"description\": expected a string", path);
        goto out;
    }
    m->description = strdup(desc != NULL ? json_string_value(desc) : "");
    if (m->platform == NULL || m->description == NULL) {
        rc = mw_fail(e, MWE_NOMEM, "%s: out of memory", path);
        goto out;
    }

    m->opts = defaults != NULL ? *defaults : builtin_defaults;
    rc = read_opt(root, "workers", 0, 256, &m->opts.workers, path, e);
    if (rc == 0)
        rc = read_opt(root, "queue_size", 1, 1000000, &m->opts.queue_size, path, e);
    if (rc == 0)
        rc = read_opt(root, "timeout_ms", 1, 3600000, &m->opts.timeout_ms, path, e);
    if (rc == 0)
        rc = read_opt(root, "max_records", 1, 10000000, &m->opts.max_records, path, e);
    /* Python models: one scheduler worker per worker process ("instances"), so that each
     * instance has one batch in flight and no call ever runs on an I/O thread. */
    if (rc == 0 && backend_is_python(m->ops)) {
        m->opts.workers = 1;
        rc = read_opt(root, "instances", 1, 64, &m->opts.workers, path, e);
    }
    /* ---- dynamic batching ---- */
    if (rc == 0)
        rc = read_batching(root, &m->batch, m->opts.workers, path, e);
    if (rc != 0)
        goto out;

    sig = json_object_get(root, "signature");
    if (sig != NULL) {
        rc = model_sig_from_json(&m->sig, sig, &sub);
        if (rc != 0) {
            rc = mw_fail(e, rc, "%s: %s", path, sub.msg);
            goto out;
        }
    }
out:
    free(folder);
    return rc;
}

/* See model_int.h. */
int model_json_parse(const char *text, size_t len, const char *dir, const char *want_name,
                     const char *want_version, struct mw_error *e)
{
    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    struct model *m = NULL;
    int rc;

    if (root == NULL) {
        rc = mw_fail(e, MWE_CONFIG, "model.json: %s at line %d column %d", jerr.text, jerr.line,
                     jerr.column);
    } else if (!json_is_object(root)) {
        rc = mw_fail(e, MWE_CONFIG, "model.json: expected a JSON object");
    } else if ((m = calloc(1, sizeof(*m))) == NULL) {
        rc = mw_fail(e, MWE_NOMEM, "model.json: out of memory");
    } else {
        rc = read_model_json(m, root, dir, want_name, want_version, false, NULL, "model.json", e);
        model_release_fields(m);
    }
    json_decref(root);
    return rc;
}

/* ---- models ---------------------------------------------------------------------------------- */

/* model_load and model_load_version: want_name / want_version NULL for the flat layout. */
static struct model *load_model(const char *dir, const char *want_name, const char *want_version,
                                bool name_wins, const struct model_opts *defaults,
                                struct mw_error *e)
{
    struct model *m = NULL;
    char *path = NULL, *text = NULL;
    json_t *root = NULL;
    json_error_t jerr;
    size_t len = 0;
    bool loaded = false, lock_ready = false;
    int rc;

    if (dir == NULL || dir[0] == '\0') {
        mw_fail(e, MWE_CONFIG, "model folder: empty path");
        goto out;
    }
    path = model_path_join(dir, "model.json");
    if (path == NULL) {
        mw_fail(e, MWE_NOMEM, "%s: out of memory", dir);
        goto out;
    }
    if (model_read_file(path, &text, &len, e) != 0)
        goto out;
    root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        mw_fail(e, MWE_CONFIG, "%s: %s at line %d column %d", path, jerr.text, jerr.line,
                jerr.column);
        goto out;
    }
    if (!json_is_object(root)) {
        mw_fail(e, MWE_CONFIG, "%s: expected a JSON object", path);
        goto out;
    }
    m = calloc(1, sizeof(*m));
    if (m == NULL) {
        mw_fail(e, MWE_NOMEM, "%s: out of memory", path);
        goto out;
    }
    atomic_init(&m->ready, false);
    atomic_init(&m->refs, 1);
    m->dir = strdup(dir);
    if (m->dir == NULL) {
        mw_fail(e, MWE_NOMEM, "%s: out of memory", path);
        goto out_fail;
    }
    if (read_model_json(m, root, dir, want_name, want_version, name_wins, defaults, path, e) !=
        0)
        goto out_fail;
    if (m->ops->load == NULL) {
        mw_fail(e, MWE_CONFIG, "%s: the %s backend cannot load models", path, m->ops->name);
        goto out_fail;
    }
    if (e != NULL) {
        e->code = 0;
        e->msg[0] = '\0';
    }
    rc = m->ops->load(m, root, e);
    if (rc != 0) {
        /* A backend that failed without saying why still gets a message naming the file. */
        if (e != NULL && e->msg[0] == '\0')
            mw_fail(e, rc, "%s: the %s backend failed to load the model", path, m->ops->name);
        goto out_fail;
    }
    loaded = true;
    /* A template-style Python model without a signature takes any JSON object. */
    if ((m->sig.n_inputs == 0 && !m->json_answers) || m->sig.n_outputs == 0) {
        mw_fail(e, MWE_CONFIG, "%s: the model declares no %s (see \"signature\")", path,
                m->sig.n_inputs == 0 ? "inputs" : "outputs");
        goto out_fail;
    }
    if (pthread_mutex_init(&m->run_lock, NULL) != 0) {
        mw_fail(e, MWE_NOMEM, "%s: out of memory", path);
        goto out_fail;
    }
    lock_ready = true;
    if (m->opts.workers > 0) {
        m->sched = sched_new(m, e);
        if (m->sched == NULL)
            goto out_fail;
    }
    atomic_store(&m->ready, true);
    log_kv(LOG_INFO, "model loaded", "model", m->name, "version", m->version, "platform",
           m->platform, "dir", m->dir, "#workers", (long long)m->opts.workers, NULL);
    goto out;

out_fail:
    if (loaded && m->ops->free != NULL)
        m->ops->free(m);
    if (lock_ready)
        pthread_mutex_destroy(&m->run_lock);
    model_release_fields(m);
    m = NULL;
out:
    json_decref(root);
    free(text);
    free(path);
    return m;
}

/*
 * Loads the model in folder dir from dir/model.json (at most 1 MiB): its own members, options from
 * defaults (NULL: built-in) overridden by the file, then the backend's load, then the scheduler
 * when opts.workers > 0. Returns the ready model with one reference (model_release, or model_free
 * when it was never shared), or NULL with e naming the file and the problem (the backend's own
 * error is passed on as it is), and nothing left behind. A failing backend load must have released
 * what it allocated. Main thread, or the thread running a reload.
 */
struct model *model_load(const char *dir, const struct model_opts *defaults, struct mw_error *e)
{
    return load_model(dir, NULL, NULL, false, defaults, e);
}

/*
 * model_load for <repository>/<name>/<version>/: the model is called `name` and is version
 * `version` (both must pass model_name_ok); model.json may repeat them but not contradict them,
 * and may not hold "version_policy". Same ownership, errors and thread as model_load.
 */
struct model *model_load_version(const char *dir, const char *name, const char *version,
                                 const struct model_opts *defaults, struct mw_error *e)
{
    struct model *m = NULL;

    if (name == NULL || version == NULL || !model_name_ok(name, strlen(name)) ||
        !model_name_ok(version, strlen(version))) {
        mw_fail(e, MWE_CONFIG, "%s: invalid model name or version", dir ? dir : "(null)");
        goto out;
    }
    m = load_model(dir, name, version, false, defaults, e);
out:
    return m;
}

/*
 * model_load of the flat layout under the name `name` (model_name_ok): model.json's "name" is not
 * read. Same ownership, errors and thread as model_load.
 */
struct model *model_load_as(const char *dir, const char *name, const struct model_opts *defaults,
                            struct mw_error *e)
{
    if (name == NULL || !model_name_ok(name, strlen(name))) {
        mw_fail(e, MWE_CONFIG, "%s: invalid model name", dir ? dir : "(null)");
        return NULL;
    }
    return load_model(dir, name, NULL, true, defaults, e);
}

/*
 * Marks m not ready, stops its scheduler (queued calls still run or expire; blocks until running
 * calls return), frees the backend's state and everything m owns, whatever its reference count.
 * Calls of m that requesters still hold stay valid (they never touch the model after their done).
 * NULL-safe. Any thread but m's own workers, once no new call can reach m (the pool's reaper for
 * shared models).
 */
void model_free(struct model *m)
{
    if (m == NULL)
        goto out;
    if (m->pool != NULL)
        model_pool_unlink(m);
    atomic_store(&m->ready, false);
    sched_free(m->sched);
    m->sched = NULL;
    if (m->ops != NULL && m->ops->free != NULL)
        m->ops->free(m);
    pthread_mutex_destroy(&m->run_lock);
    model_release_fields(m);
out:
    return;
}

/* Takes one more reference on m. Any thread (atomic). */
void model_retain(struct model *m)
{
    atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
}

/*
 * Drops one reference; the last one frees m: queued to the pool's reaper thread when m belongs to
 * a pool (never blocks), model_free inline otherwise. NULL-safe. Any thread (atomic).
 */
void model_release(struct model *m)
{
    if (m == NULL || atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) != 1)
        return;
    if (m->pool != NULL)
        model_pool_retire(m);
    else
        model_free(m);
}

/*
 * Marks m not ready and stops its scheduler for good: queued calls run or expire (their
 * requesters get an answer), later submissions get MWE_SHUTTING_DOWN. m itself stays valid until
 * its last release. Main thread, holding a reference (graceful shutdown).
 */
void model_shutdown(struct model *m)
{
    atomic_store(&m->ready, false);
    if (m->sched != NULL)
        sched_shutdown(m->sched);
}

static json_t *strings_json(size_t n, const char *const *list)
{
    json_t *arr = json_array();

    for (size_t i = 0; arr != NULL && i < n; i++) {
        if (json_array_append_new(arr, json_string(list[i])) != 0) {
            json_decref(arr);
            arr = NULL;
        }
    }
    return arr;
}

static json_t *specs_json(size_t n, const struct mw_tensor_spec *specs)
{
    json_t *arr = json_array(), *o, *shape;
    int rc = arr == NULL;

    for (size_t i = 0; rc == 0 && i < n; i++) {
        const struct mw_tensor_spec *sp = &specs[i];
        o = json_object();
        shape = json_array();
        rc |= json_array_append_new(arr, o);
        rc |= json_object_set_new(o, "name", json_string(sp->name));
        rc |= json_object_set_new(o, "datatype", json_string(dtype_name(sp->dtype)));
        rc |= json_object_set_new(o, "shape", shape);
        for (int32_t d = 0; rc == 0 && d < sp->ndim; d++)
            rc |= json_array_append_new(shape, json_integer((json_int_t)sp->shape[d]));
        if (sp->n_names > 0)
            rc |= json_object_set_new(o, "names", strings_json(sp->n_names, sp->names));
        if (sp->n_labels > 0)
            rc |= json_object_set_new(o, "labels", strings_json(sp->n_labels, sp->labels));
    }
    if (rc != 0) {
        json_decref(arr);
        arr = NULL;
    }
    return arr;
}

/*
 * The model's public description: {"name","version","platform","description","ready","inputs":
 * [{"name","datatype","shape",["names"],["labels"]}], "outputs":[...]}. A new reference (the
 * caller decrefs); NULL when out of memory. Any thread (the model is immutable once loaded).
 */
json_t *model_describe(const struct model *m)
{
    json_t *o = json_object();
    int rc = o == NULL;

    if (rc != 0)
        goto out;
    rc |= json_object_set_new(o, "name", json_string(m->name));
    rc |= json_object_set_new(o, "version", json_string(m->version));
    rc |= json_object_set_new(o, "platform", json_string(m->platform ? m->platform : ""));
    rc |= json_object_set_new(o, "description", json_string(m->description ? m->description : ""));
    rc |= json_object_set_new(o, "ready", json_boolean(atomic_load(&((struct model *)m)->ready)));
    rc |= json_object_set_new(o, "inputs", specs_json(m->sig.n_inputs, m->sig.inputs));
    rc |= json_object_set_new(o, "outputs", specs_json(m->sig.n_outputs, m->sig.outputs));
    if (rc != 0) {
        json_decref(o);
        o = NULL;
    }
out:
    return o;
}

/*
 * Reads and parses the JSON object at path with model_load's messages ("<path>: <text> at line L
 * column C", "<path>: expected a JSON object", and model_read_file's). New reference the caller
 * decrefs, or NULL with e. Any thread.
 */
json_t *model_read_json(const char *path, struct mw_error *e)
{
    json_t *root = NULL;
    json_error_t jerr;
    char *text = NULL;
    size_t len = 0;

    if (model_read_file(path, &text, &len, e) != 0)
        goto out;
    root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        mw_fail(e, MWE_CONFIG, "%s: %s at line %d column %d", path, jerr.text, jerr.line,
                jerr.column);
        goto out;
    }
    if (!json_is_object(root)) {
        mw_fail(e, MWE_CONFIG, "%s: expected a JSON object", path);
        json_decref(root);
        root = NULL;
    }
out:
    free(text);
    return root;
}
