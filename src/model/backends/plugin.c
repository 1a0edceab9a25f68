/*
 * The "plugin" backend: loads a C model plug-in (a shared object built against
 * include/modelwrap/model.h, ABI 2), calls its mw_plugin_init with the host table (struct
 * mw_host), collects what it declares through the host calls (signature, model callbacks), and
 * adapts its run/free to the model module's struct backend_ops. docs/ABI.md is the contract.
 */
#include <dlfcn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "model/model_impl.h"

/* Sanity bound on the tensors a plug-in declares, so a runaway loop cannot grow them forever. */
#define PLUGIN_MAX_TENSORS 1024
/* Longest tensor name, column name or label the host copies (model_sig_copy refuses longer). */
#define PLUGIN_MAX_TEXT 257
/* Longest plug-in log line the host writes. */
#define PLUGIN_MAX_LOG 1024
/* The entry point of ABI 1, recognised only to say that the plug-in must be rebuilt. */
#define ABI1_ENTRY_SYMBOL "mw_model_entry"

/* The least of the sized structs a plug-in may pass: the members every ABI 2 plug-in has. */
#define SIZE_THROUGH(type, member) (offsetof(type, member) + sizeof(((type *)0)->member))
#define MODEL_MIN_SIZE SIZE_THROUGH(struct mw_model, run)
#define TENSOR_INFO_MIN_SIZE SIZE_THROUGH(struct mw_tensor_info, data)

/* A loaded plug-in: what the host keeps for the model's lifetime (m->state). */
struct plugin {
    void *dl;
    void *state; /* the plug-in's, from set_model */
    int (*run)(void *state, const struct mw_host *host, struct mw_call *call);
    void (*free)(void *state);
    char *path; /* resolved .so path, for messages */
    const struct model *m;
};

/* The load in progress: the struct mw_plugin the plug-in sees during mw_plugin_init. */
struct mw_plugin {
    const struct model *m;
    const json_t *config;    /* model.json's "config" object, or NULL */
    json_t *texts;           /* an array keeping config_json's strings alive until init returns */
    struct model_sig staged; /* the declarations so far, strings owned */
    int last_list;           /* 0: nothing added yet, 1: an input, 2: an output */
    bool checked_in;
    bool declare_failed; /* a declaring call was refused: the signature is incomplete */
    bool model_set;
    struct mw_model model; /* as registered, members past the plug-in's size zeroed */
    char name[128], version[64];
    char err[512];
};

/* The model whose plug-in code runs on this thread outside run() (init, free), for log lines. */
static _Thread_local const struct model *log_model;

/* ---- host services: loading ------------------------------------------------------------------ */

static void set_err(struct mw_plugin *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_err(struct mw_plugin *p, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(p->err, sizeof(p->err), fmt, ap);
    va_end(ap);
}

/* Every call but check_in starts here: refuses calls outside init or before the check-in. */
static bool usable(struct mw_plugin *p, const char *what)
{
    if (p == NULL)
        return false;
    if (!p->checked_in) {
        set_err(p, "host->%s was called before host->check_in (use MW_PLUGIN_CHECK_IN first)",
                what);
        return false;
    }
    return true;
}

static int host_check_in(struct mw_plugin *p, uint32_t major, uint32_t minor, uint32_t host_size)
{
    if (p == NULL)
        return MW_ERR_USAGE;
    if (major != MW_ABI_MAJOR) {
        set_err(p, "plug-in ABI major %u, host supports %d (the plug-in is built for ABI %u.%u, "
                   "this host speaks ABI %d.%d: rebuild it against this host's modelwrap/model.h)",
                (unsigned)major, MW_ABI_MAJOR, (unsigned)major, (unsigned)minor, MW_ABI_MAJOR,
                MW_ABI_MINOR);
        return MW_ERR_VERSION;
    }
    /* Any minor and table size of this major is fine: the plug-in tests MW_HOST_HAS itself. */
    (void)host_size;
    p->checked_in = true;
    return MW_OK;
}

static int host_fail(struct mw_plugin *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int host_fail(struct mw_plugin *p, const char *fmt, ...)
{
    va_list ap;

    if (p == NULL || fmt == NULL)
        return MW_ERR_INTERNAL;
    va_start(ap, fmt);
    vsnprintf(p->err, sizeof(p->err), fmt, ap);
    va_end(ap);
    return MW_ERR_INTERNAL;
}

static const char *host_model_dir(struct mw_plugin *p)
{
    if (!usable(p, "model_dir"))
        return NULL;
    return p->m->dir;
}

/* The config member `key`, or NULL (with *rc) when unusable or absent. */
static const json_t *config_get(struct mw_plugin *p, const char *what, const char *key, int *rc)
{
    const json_t *v;

    *rc = MW_ERR_USAGE;
    if (!usable(p, what))
        return NULL;
    if (key == NULL) {
        set_err(p, "host->%s: key is NULL", what);
        return NULL;
    }
    v = p->config != NULL ? json_object_get(p->config, key) : NULL;
    *rc = v != NULL ? MW_OK : MW_ERR_ABSENT;
    return v;
}

static int host_config_string(struct mw_plugin *p, const char *key, const char **out)
{
    int rc;
    const json_t *v = config_get(p, "config_string", key, &rc);

    if (v == NULL || out == NULL)
        return out == NULL && rc == MW_OK ? MW_ERR_USAGE : rc;
    if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v))
        return MW_ERR_TYPE; /* a string with a NUL inside is not one a C plug-in can read */
    *out = json_string_value(v);
    return MW_OK;
}

static int host_config_number(struct mw_plugin *p, const char *key, double *out)
{
    int rc;
    const json_t *v = config_get(p, "config_number", key, &rc);

    if (v == NULL || out == NULL)
        return out == NULL && rc == MW_OK ? MW_ERR_USAGE : rc;
    if (!json_is_number(v))
        return MW_ERR_TYPE;
    *out = json_number_value(v);
    return MW_OK;
}

static int host_config_bool(struct mw_plugin *p, const char *key, bool *out)
{
    int rc;
    const json_t *v = config_get(p, "config_bool", key, &rc);

    if (v == NULL || out == NULL)
        return out == NULL && rc == MW_OK ? MW_ERR_USAGE : rc;
    if (!json_is_boolean(v))
        return MW_ERR_TYPE;
    *out = json_is_true(v);
    return MW_OK;
}

static int host_config_json(struct mw_plugin *p, const char *key, const char **out)
{
    int rc;
    const json_t *v = config_get(p, "config_json", key, &rc);
    char *text;
    json_t *s;

    if (v == NULL || out == NULL)
        return out == NULL && rc == MW_OK ? MW_ERR_USAGE : rc;
    text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    s = text != NULL ? json_string_nocheck(text) : NULL;
    free(text);
    if (s == NULL || json_array_append_new(p->texts, s) != 0)
        return MW_ERR_NOMEM;
    *out = json_string_value(s);
    return MW_OK;
}

static int add_tensor(struct mw_plugin *p, int list, const char *name, int32_t dtype,
                      int32_t ndim, const int64_t *shape)
{
    const char *what = list == 1 ? "input" : "output";
    size_t *n = list == 1 ? &p->staged.n_inputs : &p->staged.n_outputs;
    struct mw_tensor_spec **specs = list == 1 ? &p->staged.inputs : &p->staged.outputs;
    struct mw_tensor_spec *grown, *s;

    if (!usable(p, list == 1 ? "add_input" : "add_output"))
        return MW_ERR_USAGE;
    if (p->model_set) {
        set_err(p, "host->add_%s after host->set_model", what);
        goto out_refused;
    }
    if (name == NULL || name[0] == '\0') {
        set_err(p, "%s %zu has no name", what, *n);
        goto out_refused;
    }
    if (*n >= PLUGIN_MAX_TENSORS) {
        set_err(p, "more than %d %ss", PLUGIN_MAX_TENSORS, what);
        goto out_refused;
    }
    for (size_t i = 0; i < *n; i++) {
        if (strncmp((*specs)[i].name, name, PLUGIN_MAX_TEXT) == 0) {
            set_err(p, "duplicate %s name \"%.*s\"", what, 64, name);
            goto out_refused;
        }
    }
    if (dtype < MW_BOOL || dtype > MW_BF16) {
        set_err(p, "%s \"%.*s\": invalid dtype %d", what, 64, name, (int)dtype);
        goto out_refused;
    }
    if (ndim < 1 || ndim > MW_MAX_DIMS || shape == NULL) {
        set_err(p, "%s \"%.*s\": ndim %d is not in 1..%d", what, 64, name, (int)ndim,
                MW_MAX_DIMS);
        goto out_refused;
    }
    for (int32_t d = 0; d < ndim; d++) {
        if (shape[d] != -1 && shape[d] < 1) {
            set_err(p, "%s \"%.*s\": shape[%d] is %lld (expected -1 or >= 1)", what, 64, name,
                    (int)d, (long long)shape[d]);
            goto out_refused;
        }
    }
    grown = realloc(*specs, (*n + 1) * sizeof(**specs));
    if (grown == NULL)
        goto out_nomem;
    *specs = grown;
    s = &grown[*n];
    memset(s, 0, sizeof(*s));
    s->name = strndup(name, PLUGIN_MAX_TEXT);
    if (s->name == NULL)
        goto out_nomem;
    s->dtype = dtype;
    s->ndim = ndim;
    memcpy(s->shape, shape, (size_t)ndim * sizeof(*shape));
    (*n)++;
    p->last_list = list;
    return MW_OK;

out_nomem:
    set_err(p, "out of memory declaring %s \"%.*s\"", what, 64, name);
    p->declare_failed = true;
    return MW_ERR_NOMEM;
out_refused:
    p->declare_failed = true;
    return MW_ERR_USAGE;
}

static int host_add_input(struct mw_plugin *p, const char *name, int32_t dtype, int32_t ndim,
                          const int64_t *shape)
{
    return add_tensor(p, 1, name, dtype, ndim, shape);
}

static int host_add_output(struct mw_plugin *p, const char *name, int32_t dtype, int32_t ndim,
                           const int64_t *shape)
{
    return add_tensor(p, 2, name, dtype, ndim, shape);
}

/* set_names / set_labels: a copy of the list on the tensor added last. */
static int set_list(struct mw_plugin *p, bool labels, size_t n, const char *const *items)
{
    const char *what = labels ? "labels" : "names";
    struct mw_tensor_spec *s;
    char **copy;

    if (!usable(p, labels ? "set_labels" : "set_names"))
        return MW_ERR_USAGE;
    if (p->last_list == 0 || p->model_set) {
        set_err(p, "host->set_%s: call it right after the add_input or add_output it names", what);
        goto out_refused;
    }
    s = p->last_list == 1 ? &p->staged.inputs[p->staged.n_inputs - 1]
                          : &p->staged.outputs[p->staged.n_outputs - 1];
    if ((labels ? s->n_labels : s->n_names) != 0) {
        set_err(p, "\"%s\": %s set twice", s->name, what);
        goto out_refused;
    }
    if (n == 0 || items == NULL || s->shape[s->ndim - 1] != (int64_t)n) {
        set_err(p, "\"%s\": %zu %s but the last dimension is %lld", s->name, n, what,
                (long long)s->shape[s->ndim - 1]);
        goto out_refused;
    }
    copy = calloc(n, sizeof(*copy));
    if (copy == NULL)
        goto out_nomem;
    if (labels) {
        s->labels = (const char *const *)copy;
        s->n_labels = n;
    } else {
        s->names = (const char *const *)copy;
        s->n_names = n;
    }
    for (size_t i = 0; i < n; i++) {
        if (items[i] == NULL || items[i][0] == '\0') {
            set_err(p, "\"%s\": %s[%zu] is empty", s->name, what, i);
            goto out_refused;
        }
        copy[i] = strndup(items[i], PLUGIN_MAX_TEXT);
        if (copy[i] == NULL)
            goto out_nomem;
    }
    return MW_OK;

out_nomem:
    set_err(p, "out of memory copying %s", what);
    p->declare_failed = true;
    return MW_ERR_NOMEM;
out_refused:
    p->declare_failed = true;
    return MW_ERR_USAGE;
}

static int host_set_names(struct mw_plugin *p, size_t n, const char *const *names)
{
    return set_list(p, false, n, names);
}

static int host_set_labels(struct mw_plugin *p, size_t n, const char *const *labels)
{
    return set_list(p, true, n, labels);
}

/* Copies a plug-in string of unknown length into dst without reading past dst's size. */
static void copy_bounded(char *dst, size_t dst_size, const char *src)
{
    size_t n = src != NULL ? strnlen(src, dst_size - 1) : 0;

    if (n > 0)
        memcpy(dst, src, n);
    dst[n] = '\0';
}

static int host_set_model(struct mw_plugin *p, const struct mw_model *model)
{
    size_t n;

    if (!usable(p, "set_model"))
        return MW_ERR_USAGE;
    if (p->model_set) {
        set_err(p, "host->set_model called twice");
        return MW_ERR_USAGE;
    }
    if (model == NULL || model->size < MODEL_MIN_SIZE) {
        set_err(p, "host->set_model: struct mw_model is NULL or its size (%u) is below %zu",
                model != NULL ? (unsigned)model->size : 0u, (size_t)MODEL_MIN_SIZE);
        return MW_ERR_USAGE;
    }
    /* Only the members inside the plug-in's size: the rest keep their zero default. */
    n = model->size < sizeof(p->model) ? model->size : sizeof(p->model);
    memset(&p->model, 0, sizeof(p->model));
    memcpy(&p->model, model, n);
    if (p->model.run == NULL) {
        set_err(p, "host->set_model: run is NULL");
        return MW_ERR_USAGE;
    }
    if ((p->model.flags & ~(MW_FLAG_THREAD_SAFE | MW_FLAG_BATCH)) != 0) {
        set_err(p, "host->set_model: unknown flags 0x%x",
                (unsigned)(p->model.flags & ~(MW_FLAG_THREAD_SAFE | MW_FLAG_BATCH)));
        return MW_ERR_USAGE;
    }
    copy_bounded(p->name, sizeof(p->name), p->model.name);
    copy_bounded(p->version, sizeof(p->version), p->model.version);
    p->model_set = true;
    return MW_OK;
}

/* ---- host services: calls -------------------------------------------------------------------- */

static struct model_call *to_call(struct mw_call *call)
{
    return (struct model_call *)call;
}

static int host_input(struct mw_call *call, size_t index, struct mw_tensor_info *out)
{
    struct model_call *c = to_call(call);
    struct mw_tensor_info info;
    const struct mw_tensor *t;
    size_t count = 1;

    if (c == NULL || out == NULL || index >= c->n_inputs || out->size < TENSOR_INFO_MIN_SIZE)
        return MW_ERR_USAGE;
    t = &c->inputs[index];
    for (int32_t d = 0; d < t->ndim; d++)
        count *= (size_t)t->shape[d]; /* the decoders bounded it by the request's bytes */
    info = (struct mw_tensor_info){
        .size = out->size,
        .dtype = t->dtype,
        .ndim = t->ndim,
        .shape = t->shape,
        .data = t->data,
        .count = count,
        .name = t->name,
    };
    /* Never write past what the plug-in was built with. */
    memcpy(out, &info, out->size < sizeof(info) ? out->size : sizeof(info));
    return MW_OK;
}

static void *host_output(struct mw_call *call, size_t index, int32_t ndim, const int64_t *shape)
{
    if (call == NULL || shape == NULL)
        return NULL;
    return model_call_output(to_call(call), index, ndim, shape);
}

static void *host_alloc(struct mw_call *call, size_t nbytes)
{
    if (call == NULL)
        return NULL;
    return arena_alloc(&to_call(call)->arena, nbytes);
}

static void host_set_error(struct mw_call *call, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void host_set_error(struct mw_call *call, const char *fmt, ...)
{
    struct model_call *c = to_call(call);
    char msg[sizeof(c->errmsg)];
    va_list ap;

    if (c == NULL || fmt == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    model_call_set_error(c, "%s", msg);
}

static const char *host_request_id(struct mw_call *call)
{
    struct model_call *c = to_call(call);

    return c != NULL && c->request_id != NULL ? c->request_id : "";
}

static uint64_t host_deadline_ns(struct mw_call *call)
{
    struct model_call *c = to_call(call);

    return c != NULL ? c->deadline_ns : 0;
}

static bool host_is_cancelled(struct mw_call *call)
{
    struct model_call *c = to_call(call);

    if (c == NULL)
        return false;
    if (atomic_load(&c->state) == CALL_EXPIRED)
        return true;
    return c->deadline_ns != 0 && time_mono_ns() >= c->deadline_ns;
}

static int map_level(int level)
{
    if (level <= MW_LOG_ERROR)
        return LOG_ERROR;
    if (level == MW_LOG_WARN)
        return LOG_WARN;
    if (level == MW_LOG_INFO)
        return LOG_INFO;
    return LOG_DEBUG;
}

static void host_log(struct mw_call *call, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void host_log(struct mw_call *call, int level, const char *fmt, ...)
{
    char line[PLUGIN_MAX_LOG];
    const struct model_call *c = to_call(call);
    const struct model *m = c != NULL ? c->model : log_model;
    int lvl = map_level(level);
    va_list ap;

    if (fmt == NULL || !log_enabled(lvl))
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    log_msg(lvl, line, "model", m != NULL ? m->name : NULL, "source", "plugin", "request_id",
            c != NULL ? c->request_id : NULL, NULL);
}

static const struct mw_host host = {
    .size = sizeof(struct mw_host),
    .abi_major = MW_ABI_MAJOR,
    .abi_minor = MW_ABI_MINOR,
    .check_in = host_check_in,
    .fail = host_fail,
    .model_dir = host_model_dir,
    .config_string = host_config_string,
    .config_number = host_config_number,
    .config_bool = host_config_bool,
    .config_json = host_config_json,
    .add_input = host_add_input,
    .add_output = host_add_output,
    .set_names = host_set_names,
    .set_labels = host_set_labels,
    .set_model = host_set_model,
    .input = host_input,
    .output = host_output,
    .alloc = host_alloc,
    .set_error = host_set_error,
    .request_id = host_request_id,
    .deadline_ns = host_deadline_ns,
    .is_cancelled = host_is_cancelled,
    .log = host_log,
};

/* ---- signature checks ------------------------------------------------------------------------ */

/* "[-1, 2]" for messages: room for MW_MAX_DIMS 20-digit dimensions, separators and brackets. */
#define SHAPE_TEXT_MAX (MW_MAX_DIMS * 22 + 3)

/* Formats a shape whose ndim is already checked to be 1..MW_MAX_DIMS (so nothing truncates). */
static void format_shape(char out[SHAPE_TEXT_MAX], int32_t ndim, const int64_t *shape)
{
    size_t len = 1;

    out[0] = '[';
    for (int32_t i = 0; i < ndim; i++)
        len += (size_t)snprintf(out + len, SHAPE_TEXT_MAX - len, "%s%lld", i ? ", " : "",
                                (long long)shape[i]);
    snprintf(out + len, SHAPE_TEXT_MAX - len, "]");
}

/* What set_model's flags require of the declared signature, once everything is declared. */
static int check_declared(const char *path, const struct mw_plugin *p, struct mw_error *e)
{
    const struct model_sig *s = &p->staged;

    if (s->n_inputs == 0 || s->n_outputs == 0)
        return mw_fail(e, MWE_CONFIG,
                       "%s: the plug-in declares %zu inputs and %zu outputs (expected 1-%d each)",
                       path, s->n_inputs, s->n_outputs, PLUGIN_MAX_TENSORS);
    for (int list = 0; list < 2 && (p->model.flags & MW_FLAG_BATCH); list++) {
        size_t n = list == 0 ? s->n_inputs : s->n_outputs;
        const struct mw_tensor_spec *specs = list == 0 ? s->inputs : s->outputs;

        for (size_t i = 0; i < n; i++) {
            if (specs[i].shape[0] != -1)
                return mw_fail(
                    e, MWE_CONFIG,
                    "%s: %s \"%s\": the plug-in accepts a batch but shape[0] is %lld, not -1", path,
                    list == 0 ? "input" : "output", specs[i].name, (long long)specs[i].shape[0]);
        }
    }
    return 0;
}

/* Compares one list of model.json's signature with the plug-in's (name, dtype, shape). */
static int compare_specs(const char *path, const char *what, const struct mw_tensor_spec *decl,
                         size_t n_decl, const struct mw_tensor_spec *mine, size_t n_mine,
                         struct mw_error *e)
{
    char a[SHAPE_TEXT_MAX], b[SHAPE_TEXT_MAX];

    if (n_decl != n_mine)
        return mw_fail(e, MWE_CONFIG,
                       "%s: model.json's signature declares %zu %ss, the plug-in %zu", path, n_decl,
                       what, n_mine);
    for (size_t i = 0; i < n_decl; i++) {
        const struct mw_tensor_spec *x = &decl[i], *y = &mine[i];
        bool same = strcmp(x->name, y->name) == 0 && x->dtype == y->dtype && x->ndim == y->ndim;

        for (int32_t d = 0; same && d < x->ndim; d++)
            same = x->shape[d] == y->shape[d];
        if (same)
            continue;
        format_shape(a, x->ndim, x->shape);
        format_shape(b, y->ndim, y->shape);
        return mw_fail(e, MWE_CONFIG,
                       "%s: model.json's signature differs from the plug-in's: %s %zu is "
                       "\"%s\" %s %s in model.json, \"%s\" %s %s in the plug-in",
                       path, what, i, x->name, dtype_name(x->dtype), a, y->name,
                       dtype_name(y->dtype), b);
    }
    return 0;
}

/* ---- backend ops ----------------------------------------------------------------------------- */

/* dlerror() text without a leading "<path>: " (glibc repeats the file name). */
static const char *dl_reason(const char *path)
{
    const char *msg = dlerror();
    size_t n = strlen(path);

    if (msg == NULL)
        return "unknown error";
    if (strncmp(msg, path, n) == 0 && msg[n] == ':' && msg[n + 1] == ' ')
        return msg + n + 2;
    return msg;
}

static int resolve_path(const struct model *m, const json_t *model_json, char **out,
                        struct mw_error *e)
{
    const json_t *f = json_object_get(model_json, "file");
    const char *file;
    size_t len, dlen;
    char *p;

    if (!json_is_string(f))
        return mw_fail(e, MWE_CONFIG, "%s/model.json: \"file\": required, the plug-in's .so path",
                       m->dir);
    file = json_string_value(f);
    len = json_string_length(f);
    if (len == 0 || len != strlen(file) || len > 4095)
        return mw_fail(e, MWE_CONFIG,
                       "%s/model.json: \"file\": expected a non-empty path of at most 4095 bytes",
                       m->dir);
    if (file[0] == '/') {
        p = strdup(file);
    } else {
        dlen = strlen(m->dir);
        p = malloc(dlen + 1 + len + 1);
        if (p != NULL) {
            memcpy(p, m->dir, dlen);
            p[dlen] = '/';
            memcpy(p + dlen + 1, file, len + 1);
        }
    }
    if (p == NULL)
        return mw_fail(e, MWE_NOMEM, "%s/model.json: out of memory", m->dir);
    *out = p;
    return 0;
}

/* Looks up and calls the entry point; on success *ld holds the declarations. */
static int call_init(struct plugin *pl, struct mw_plugin *ld, struct mw_error *e)
{
    mw_init_fn init;
    void *sym;
    int st;

    sym = dlsym(pl->dl, MW_ENTRY_SYMBOL);
    if (sym == NULL && dlsym(pl->dl, ABI1_ENTRY_SYMBOL) != NULL)
        return mw_fail(e, MWE_CONFIG,
                       "%s: plug-in ABI major 1, host supports %d (it exports %s, not %s: rebuild "
                       "it against this host's modelwrap/model.h)",
                       pl->path, MW_ABI_MAJOR, ABI1_ENTRY_SYMBOL, MW_ENTRY_SYMBOL);
    if (sym == NULL)
        return mw_fail(e, MWE_CONFIG,
                       "%s: no exported %s function (define it with "
                       "__attribute__((visibility(\"default\"))))",
                       pl->path, MW_ENTRY_SYMBOL);
    *(void **)&init = sym;
    log_model = ld->m;
    st = init(&host, ld);
    log_model = NULL;
    if (st != MW_OK) {
        ld->model_set = false; /* a failed init released its state itself: no free() */
        return mw_fail(e, MWE_CONFIG, "%s: plug-in init failed with status %d: %s", pl->path, st,
                       ld->err[0] ? ld->err : "(the plug-in set no message)");
    }
    if (!ld->checked_in)
        return mw_fail(e, MWE_CONFIG,
                       "%s: plug-in init returned without checking in (MW_PLUGIN_CHECK_IN)",
                       pl->path);
    if (ld->declare_failed)
        return mw_fail(e, MWE_CONFIG, "%s: plug-in init ignored a refused declaration: %s",
                       pl->path, ld->err);
    if (!ld->model_set)
        return mw_fail(e, MWE_CONFIG, "%s: plug-in init returned MW_OK without host->set_model",
                       pl->path);
    return 0;
}

static int plugin_load(struct model *m, const json_t *model_json, struct mw_error *e)
{
    struct plugin *pl;
    const json_t *cfg = json_object_get(model_json, "config");
    struct mw_plugin ld = {.m = m, .config = cfg};
    struct model_sig sig = {0};
    struct mw_error copy_err = {0};
    char *platform = NULL;
    bool inited = false;
    int rc;

    pl = calloc(1, sizeof(*pl));
    ld.texts = json_array();
    if (pl == NULL || ld.texts == NULL) {
        free(pl);
        json_decref(ld.texts);
        return mw_fail(e, MWE_NOMEM, "%s: out of memory", m->dir);
    }
    pl->m = m;
    rc = resolve_path(m, model_json, &pl->path, e);
    if (rc != 0)
        goto out_free;
    if (cfg != NULL && !json_is_object(cfg)) {
        rc = mw_fail(e, MWE_CONFIG, "%s: model.json's \"config\" must be an object", pl->path);
        goto out_free;
    }
    platform = strdup("modelwrap_plugin");
    if (platform == NULL) {
        rc = mw_fail(e, MWE_NOMEM, "%s: out of memory", pl->path);
        goto out_free;
    }

    pl->dl = dlopen(pl->path, RTLD_NOW | RTLD_LOCAL);
    if (pl->dl == NULL) {
        rc = mw_fail(e, MWE_CONFIG, "%s: cannot load plug-in: %s", pl->path, dl_reason(pl->path));
        goto out_free;
    }
    rc = call_init(pl, &ld, e);
    inited = ld.model_set;
    if (rc != 0)
        goto out_close;
    rc = check_declared(pl->path, &ld, e);
    if (rc != 0)
        goto out_close;
    rc = model_sig_copy(&sig, &ld.staged, &copy_err);
    if (rc != 0) {
        rc = mw_fail(e, rc, "%s: the plug-in's signature: %s", pl->path, copy_err.msg);
        goto out_close;
    }
    if (m->sig.n_inputs > 0 || m->sig.n_outputs > 0) {
        rc = compare_specs(pl->path, "input", m->sig.inputs, m->sig.n_inputs, sig.inputs,
                           sig.n_inputs, e);
        if (rc == 0)
            rc = compare_specs(pl->path, "output", m->sig.outputs, m->sig.n_outputs, sig.outputs,
                               sig.n_outputs, e);
        if (rc != 0)
            goto out_close;
    }

    pl->state = ld.model.state;
    pl->run = ld.model.run;
    pl->free = ld.model.free;
    model_sig_fini(&m->sig);
    m->sig = sig;
    sig = (struct model_sig){0};
    free(m->platform);
    m->platform = platform;
    platform = NULL;
    m->flags = ld.model.flags;
    m->state = pl;
    log_msg(LOG_INFO, "plug-in loaded", "model", m->name, "plugin", ld.name, "plugin_version",
            ld.version, "file", pl->path, NULL);
    pl = NULL;
    rc = 0;
    goto out_free;

out_close:
    /* A plug-in that registered its model gets its free() even when the host refuses it after. */
    if (inited && ld.model.free != NULL) {
        log_model = m;
        ld.model.free(ld.model.state);
        log_model = NULL;
    }
    dlclose(pl->dl);
out_free:
    model_sig_fini(&ld.staged);
    json_decref(ld.texts);
    model_sig_fini(&sig);
    free(platform);
    if (pl != NULL) {
        free(pl->path);
        free(pl);
    }
    return rc;
}

static int plugin_run(struct model *m, struct model_call *c)
{
    struct plugin *pl = m->state;
    int st;

    st = pl->run(pl->state, &host, (struct mw_call *)c);
    if (st == MW_OK)
        return 0;
    if (st == MW_ERR_INVALID_INPUT) {
        if (c->errmsg[0] == '\0')
            model_call_set_error(c, "The model rejected the input.");
        return MWE_INVALID_INPUT;
    }
    log_kv(LOG_ERROR, "plug-in run() failed", "model", m->name, "#status", (long long)st, NULL);
    return MWE_MODEL_FAILED;
}

static void plugin_free(struct model *m)
{
    struct plugin *pl = m->state;

    if (pl == NULL)
        return;
    if (pl->free != NULL) {
        log_model = m;
        pl->free(pl->state);
        log_model = NULL;
    }
    dlclose(pl->dl);
    free(pl->path);
    free(pl);
    m->state = NULL;
}

/* The plug-in backend (model.json "backend": "plugin"). load runs on the main thread at start-up
 * or reload and owns the dlopen handle until free; run may be called from any thread, and
 * concurrently only when the plug-in registered MW_FLAG_THREAD_SAFE (the model module serialises
 * otherwise). Errors are MWE_CONFIG messages starting with the .so path. */
const struct backend_ops backend_plugin = {
    .name = "plugin",
    .load = plugin_load,
    .run = plugin_run,
    .free = plugin_free,
};
