/*
 * Models and the model repository: loads <dir>/model.json (name, version, backend, signature,
 * scheduling options), hands the rest to the backend, starts the model's scheduler; loads every
 * model folder of the repository into a registry sorted by name, and picks the default model.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model/model.h"

#define MODEL_JSON_MAX ((size_t)1 << 20) /* bytes of model.json */
#define MODEL_NAME_MAX 64                /* name and version: [A-Za-z0-9_.-]{1,64} */
#define REGISTRY_MAX_MODELS 1024
#define BACKENDS_ACCEPTED "xgboost, plugin"

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
out:
    return ops;
}

/* ---- helpers --------------------------------------------------------------------------------- */

/* "a/b" as a new string (trailing slashes of a dropped); NULL when out of memory. */
static char *path_join(const char *a, const char *b)
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

/* [A-Za-z0-9_.-]{1,64}, and neither "." nor ".." (they would read as path segments in URLs). */
static bool name_ok(const char *s, size_t len)
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

/* Reads the whole regular file at path, at most MODEL_JSON_MAX bytes, into a new buffer. */
static int read_file(const char *path, char **out, size_t *out_len, struct mw_error *e)
{
    struct stat st;
    char *buf = NULL, *grown;
    size_t len = 0, cap;
    ssize_t n;
    int fd, rc = 0;

    fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        rc = mw_fail(e, MWE_CONFIG, "%s: cannot open: %s", path, strerror(errno));
        goto out;
    }
    if (fstat(fd, &st) != 0) {
        rc = mw_fail(e, MWE_CONFIG, "%s: cannot read: %s", path, strerror(errno));
        goto out_close;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = mw_fail(e, MWE_CONFIG, "%s: not a regular file", path);
        goto out_close;
    }
    if (st.st_size < 0 || (uint64_t)st.st_size > MODEL_JSON_MAX)
        goto out_too_large;
    cap = (size_t)st.st_size + 1;
    buf = malloc(cap);
    if (buf == NULL)
        goto out_nomem;
    for (;;) {
        if (len == cap) {
            /* The file grew since fstat. */
            if (cap > MODEL_JSON_MAX)
                goto out_too_large;
            cap = cap > MODEL_JSON_MAX / 2 ? MODEL_JSON_MAX + 1 : cap * 2;
            grown = realloc(buf, cap);
            if (grown == NULL)
                goto out_nomem;
            buf = grown;
        }
        n = read(fd, buf + len, cap - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = mw_fail(e, MWE_CONFIG, "%s: cannot read: %s", path, strerror(errno));
            goto out_free;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    *out = buf;
    *out_len = len;
    buf = NULL;
    goto out_close;

out_too_large:
    rc = mw_fail(e, MWE_CONFIG, "%s: larger than %zu bytes", path, MODEL_JSON_MAX);
    goto out_free;
out_nomem:
    rc = mw_fail(e, MWE_NOMEM, "%s: out of memory", path);
out_free:
    free(buf);
out_close:
    close(fd);
out:
    return rc;
}

/* An optional member matching name_ok into *out (a new string); absent: a copy of dflt. */
static int read_name(const json_t *root, const char *key, const char *dflt, char **out,
                     const char *path, struct mw_error *e)
{
    const json_t *v = json_object_get(root, key);
    int rc = 0;

    if (v != NULL &&
        (!json_is_string(v) || !name_ok(json_string_value(v), json_string_length(v)))) {
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

/* The folder name of dir (its last path segment) as a new string. */
static char *folder_name(const char *dir)
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

/* Reads model.json's own members into m (everything except the backend's). */
static int read_model_json(struct model *m, const json_t *root, const char *dir,
                           const struct model_opts *defaults, const char *path, struct mw_error *e)
{
    const json_t *backend, *desc, *sig;
    struct mw_error sub = {0};
    char *folder = NULL;
    int rc = 0;

    folder = folder_name(dir);
    if (folder == NULL) {
        rc = mw_fail(e, MWE_NOMEM, "%s: out of memory", path);
        goto out;
    }
    if (json_object_get(root, "name") == NULL && !name_ok(folder, strlen(folder))) {
        rc = mw_fail(e, MWE_CONFIG,
                     "%s: the folder name '%.64s' is not a valid model name (1 to %d characters "
                     "from [A-Za-z0-9_.-]): set \"name\"",
                     path, folder, MODEL_NAME_MAX);
        goto out;
    }
    rc = read_name(root, "name", folder, &m->name, path, e);
    if (rc != 0)
        goto out;
    rc = read_name(root, "version", "1", &m->version, path, e);
    if (rc != 0)
        goto out;

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

/* ---- models ---------------------------------------------------------------------------------- */

/*
 * Loads the model in folder dir from dir/model.json (at most 1 MiB): its own members, options from
 * defaults (NULL: built-in) overridden by the file, then the backend's load, then the scheduler
 * when opts.workers > 0. Returns the ready model (free with model_free), or NULL with e naming the
 * file and the problem (the backend's own error is passed on as it is), and nothing left behind.
 * A failing backend load must have released what it allocated. Main thread (start-up, reload).
 */
struct model *model_load(const char *dir, const struct model_opts *defaults, struct mw_error *e)
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
    path = path_join(dir, "model.json");
    if (path == NULL) {
        mw_fail(e, MWE_NOMEM, "%s: out of memory", dir);
        goto out;
    }
    if (read_file(path, &text, &len, e) != 0)
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
    m->dir = strdup(dir);
    if (m->dir == NULL) {
        mw_fail(e, MWE_NOMEM, "%s: out of memory", path);
        goto out_fail;
    }
    if (read_model_json(m, root, dir, defaults, path, e) != 0)
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
    if (m->sig.n_inputs == 0 || m->sig.n_outputs == 0) {
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
 * Marks m not ready, stops its scheduler (queued calls still run or expire; blocks until running
 * calls return), frees the backend's state and everything m owns. Calls of m that requesters still
 * hold stay valid (they never touch the model after their done). NULL-safe. Main thread, once no
 * new call can reach m.
 */
void model_free(struct model *m)
{
    if (m == NULL)
        goto out;
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

/* ---- registry -------------------------------------------------------------------------------- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_model(const void *a, const void *b)
{
    return strcmp((*(struct model *const *)a)->name, (*(struct model *const *)b)->name);
}

/* The sorted names of dir's sub-folders that hold a model.json (hidden ones skipped). */
static int list_model_dirs(const char *dir, char ***out, size_t *out_n, struct mw_error *e)
{
    char **names = NULL, *sub = NULL, *mj = NULL;
    size_t n = 0;
    struct dirent *de;
    struct stat st;
    DIR *d;
    int rc = 0;

    d = opendir(dir);
    if (d == NULL) {
        rc = mw_fail(e, MWE_CONFIG, "%s: cannot open the model folder: %s", dir, strerror(errno));
        goto out;
    }
    names = calloc(REGISTRY_MAX_MODELS, sizeof(*names));
    if (names == NULL)
        goto out_nomem;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        sub = path_join(dir, de->d_name);
        mj = sub != NULL ? path_join(sub, "model.json") : NULL;
        if (mj == NULL)
            goto out_nomem;
        if (stat(sub, &st) == 0 && S_ISDIR(st.st_mode) && stat(mj, &st) == 0) {
            if (n == REGISTRY_MAX_MODELS) {
                rc = mw_fail(e, MWE_CONFIG, "%s: more than %d model folders", dir,
                             REGISTRY_MAX_MODELS);
                goto out_free;
            }
            names[n] = strdup(de->d_name);
            if (names[n] == NULL)
                goto out_nomem;
            n++;
        }
        free(sub);
        free(mj);
        sub = mj = NULL;
    }
    qsort(names, n, sizeof(*names), cmp_str);
    *out = names;
    *out_n = n;
    names = NULL;
    goto out_free;

out_nomem:
    rc = mw_fail(e, MWE_NOMEM, "%s: out of memory", dir);
out_free:
    free(sub);
    free(mj);
    if (names != NULL) {
        for (size_t i = 0; i < n; i++)
            free(names[i]);
        free(names);
    }
    closedir(d);
out:
    return rc;
}

/* "a, b, c" (truncated with "...") of the loaded model names, for an error message. */
static void loaded_names(const struct registry *r, char *out, size_t cap)
{
    size_t used = 0;
    int k;

    out[0] = '\0';
    for (size_t i = 0; i < r->n; i++) {
        k = snprintf(out + used, cap - used, "%s%s", i == 0 ? "" : ", ", r->models[i]->name);
        if (k < 0 || (size_t)k >= cap - used) {
            if (cap > 4)
                memcpy(out + cap - 4, "...", 4);
            break;
        }
        used += (size_t)k;
    }
}

/*
 * Loads every immediate sub-folder of dir (sorted by name; names starting with '.' skipped) that
 * holds a model.json, with defaults (NULL: built-in) for options the files leave out. The default
 * model is default_name when given (an error if no model has that name), else the only model,
 * else the one named "iris", else none. Returns the registry (free with registry_free), or NULL on
 * the first failure with e naming the folder or file and the problem; nothing stays loaded then.
 * Main thread (start-up, reload).
 */
struct registry *registry_load(const char *dir, const char *default_name,
                               const struct model_opts *defaults, struct mw_error *e)
{
    struct registry *r = NULL;
    char **names = NULL, *sub;
    char list[160];
    size_t n = 0;

    if (dir == NULL || dir[0] == '\0') {
        mw_fail(e, MWE_CONFIG, "model folder: empty path");
        goto out;
    }
    if (list_model_dirs(dir, &names, &n, e) != 0)
        goto out;
    if (n == 0) {
        mw_fail(e, MWE_CONFIG, "%s: no model found (expected %s/<name>/model.json)", dir, dir);
        goto out;
    }
    r = calloc(1, sizeof(*r));
    if (r == NULL || (r->models = calloc(n, sizeof(*r->models))) == NULL) {
        mw_fail(e, MWE_NOMEM, "%s: out of memory", dir);
        goto out_fail;
    }
    for (size_t i = 0; i < n; i++) {
        sub = path_join(dir, names[i]);
        if (sub == NULL) {
            mw_fail(e, MWE_NOMEM, "%s: out of memory", dir);
            goto out_fail;
        }
        r->models[i] = model_load(sub, defaults, e);
        free(sub);
        if (r->models[i] == NULL)
            goto out_fail;
        r->n++;
    }
    qsort(r->models, r->n, sizeof(*r->models), cmp_model);
    for (size_t i = 1; i < r->n; i++) {
        if (strcmp(r->models[i - 1]->name, r->models[i]->name) == 0) {
            mw_fail(e, MWE_CONFIG, "%s: two models named '%s' (in %s and %s)", dir,
                    r->models[i]->name, r->models[i - 1]->dir, r->models[i]->dir);
            goto out_fail;
        }
    }
    if (default_name != NULL && default_name[0] != '\0') {
        r->default_model = registry_find(r, default_name, strlen(default_name));
        if (r->default_model == NULL) {
            loaded_names(r, list, sizeof(list));
            mw_fail(e, MWE_CONFIG, "MODELWRAP_DEFAULT_MODEL: no model named '%.64s' (loaded: %s)",
                    default_name, list);
            goto out_fail;
        }
    } else if (r->n == 1) {
        r->default_model = r->models[0];
    } else {
        r->default_model = registry_find(r, "iris", 4);
    }
    goto out;

out_fail:
    registry_free(r);
    r = NULL;
out:
    if (names != NULL) {
        for (size_t i = 0; i < n; i++)
            free(names[i]);
        free(names);
    }
    return r;
}

/* Frees every model (stopping their schedulers) and r. NULL-safe. Main thread, once no request
 * can reach r any more. */
void registry_free(struct registry *r)
{
    if (r == NULL)
        goto out;
    for (size_t i = 0; r->models != NULL && i < r->n; i++)
        model_free(r->models[i]);
    free(r->models);
    free(r);
out:
    return;
}

/*
 * The model whose name is the len bytes at name (a slice, not NUL-terminated), by binary search;
 * NULL when there is none. The model is borrowed from r. Any thread.
 */
struct model *registry_find(const struct registry *r, const char *name, size_t len)
{
    struct model *found = NULL;
    size_t lo = 0, hi, mid, mlen;
    int c;

    if (r == NULL || (name == NULL && len > 0))
        goto out;
    hi = r->n;
    while (lo < hi) {
        mid = lo + (hi - lo) / 2;
        mlen = strlen(r->models[mid]->name);
        c = len > 0 ? memcmp(name, r->models[mid]->name, len < mlen ? len : mlen) : 0;
        if (c == 0)
            c = (len > mlen) - (len < mlen);
        if (c == 0) {
            found = r->models[mid];
            goto out;
        }
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
out:
    return found;
}

/* True when every model of r is ready (false for NULL). Any thread. */
bool registry_ready(const struct registry *r)
{
    bool ready = r != NULL && r->n > 0;

    for (size_t i = 0; ready && i < r->n; i++)
        ready = atomic_load(&r->models[i]->ready);
    return ready;
}
