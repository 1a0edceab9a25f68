/*
 * The "plugin" backend: loads a C model plug-in (a shared object built against
 * include/modelwrap/model.h), checks its descriptor and signature, and adapts its load/run/free
 * and the host services table (struct mw_host) to the model module's struct backend_ops.
 */
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "model/model_impl.h"

/* The descriptor's fields as of ABI 1.0: a plug-in's desc->size must cover at least these. */
#define DESC_V1_SIZE                                                                               \
    (offsetof(struct mw_model_desc, free) + sizeof(((struct mw_model_desc *)0)->free))
/* Sanity bound on a descriptor's tensor counts, so a corrupt count cannot walk memory for long. */
#define PLUGIN_MAX_TENSORS 1024
/* Longest plug-in log line or error message the host copies. */
#define PLUGIN_MAX_LOG 1024

struct plugin {
    void *dl;
    const struct mw_model_desc *desc;
    void *state; /* the plug-in's, from desc->load */
    char *path;  /* resolved .so path, for messages */
};

/* Set on the loading thread while desc->load runs, so log lines written with a NULL call name the
 * model and the last error line can explain a failed load. */
struct load_ctx {
    const struct model *m;
    char last_error[160];
};
static _Thread_local struct load_ctx *loading;

/* ---- host services ------------------------------------------------------------------------- */

static struct model_call *to_call(struct mw_call *call)
{
    return (struct model_call *)call;
}

static void *host_alloc(struct mw_call *call, size_t nbytes)
{
    if (call == NULL)
        return NULL;
    return arena_alloc(&to_call(call)->arena, nbytes);
}

static void *host_output(struct mw_call *call, size_t index, int32_t ndim, const int64_t *shape)
{
    if (call == NULL || shape == NULL)
        return NULL;
    return model_call_output(to_call(call), index, ndim, shape);
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

/* Copies at most dst_size - 1 bytes of a plug-in string without reading past them. */
static void copy_bounded(char *dst, size_t dst_size, const char *src)
{
    size_t n = strnlen(src, dst_size - 1);

    memcpy(dst, src, n);
    dst[n] = '\0';
}

static void host_log(struct mw_call *call, int level, const char *message)
{
    char line[PLUGIN_MAX_LOG];
    const char *model = NULL;
    int lvl = map_level(level);

    if (message == NULL)
        return;
    if (call == NULL && loading != NULL && lvl == LOG_ERROR)
        copy_bounded(loading->last_error, sizeof(loading->last_error), message);
    if (!log_enabled(lvl))
        return;
    if (call != NULL)
        model = to_call(call)->model->name;
    else if (loading != NULL)
        model = loading->m->name;
    copy_bounded(line, sizeof(line), message);
    log_msg(lvl, line, "model", model, "source", "plugin", NULL);
}

static void host_set_error(struct mw_call *call, const char *message)
{
    struct model_call *c = to_call(call);

    if (c == NULL || message == NULL)
        return;
    model_call_set_error(c, "%.*s", (int)strnlen(message, sizeof(c->errmsg) - 1), message);
}

static const struct mw_host host = {
    .size = sizeof(struct mw_host),
    .alloc = host_alloc,
    .output = host_output,
    .log = host_log,
    .set_error = host_set_error,
};

/* ---- descriptor checks --------------------------------------------------------------------- */

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

/* Checks one names/labels list against the spec's last dimension. */
static int check_column_list(const char *path, const char *what, const struct mw_tensor_spec *s,
                             const char *list, size_t n, const char *const *items,
                             struct mw_error *e)
{
    if (n == 0)
        return 0;
    if (items == NULL)
        return mw_fail(e, MWE_CONFIG, "%s: %s \"%s\": %zu %s but the array is NULL", path, what,
                       s->name, n, list);
    if (s->shape[s->ndim - 1] != (int64_t)n)
        return mw_fail(e, MWE_CONFIG, "%s: %s \"%s\": %zu %s but the last dimension is %lld", path,
                       what, s->name, n, list, (long long)s->shape[s->ndim - 1]);
    for (size_t i = 0; i < n; i++) {
        if (items[i] == NULL || items[i][0] == '\0')
            return mw_fail(e, MWE_CONFIG, "%s: %s \"%s\": %s[%zu] is empty", path, what, s->name,
                           list, i);
    }
    return 0;
}

/* Checks n specs of one list (what = "input" or "output"). */
static int check_specs(const char *path, const char *what, const struct mw_tensor_spec *specs,
                       size_t n, uint32_t flags, struct mw_error *e)
{
    int rc;

    if (n < 1 || n > PLUGIN_MAX_TENSORS)
        return mw_fail(e, MWE_CONFIG, "%s: the descriptor declares %zu %ss (expected 1-%d)", path,
                       n, what, PLUGIN_MAX_TENSORS);
    if (specs == NULL)
        return mw_fail(e, MWE_CONFIG, "%s: the descriptor's %ss array is NULL", path, what);
    for (size_t i = 0; i < n; i++) {
        const struct mw_tensor_spec *s = &specs[i];

        if (s->name == NULL || s->name[0] == '\0')
            return mw_fail(e, MWE_CONFIG, "%s: %s %zu has no name", path, what, i);
        for (size_t j = 0; j < i; j++) {
            if (strcmp(specs[j].name, s->name) == 0)
                return mw_fail(e, MWE_CONFIG, "%s: duplicate %s name \"%s\"", path, what, s->name);
        }
        if (s->dtype < MW_BOOL || s->dtype > MW_BF16)
            return mw_fail(e, MWE_CONFIG, "%s: %s \"%s\": invalid dtype %d", path, what, s->name,
                           (int)s->dtype);
        if (s->ndim < 1 || s->ndim > MW_MAX_DIMS)
            return mw_fail(e, MWE_CONFIG, "%s: %s \"%s\": ndim %d is not in 1..%d", path, what,
                           s->name, (int)s->ndim, MW_MAX_DIMS);
        for (int32_t d = 0; d < s->ndim; d++) {
            if (s->shape[d] != -1 && s->shape[d] < 1)
                return mw_fail(e, MWE_CONFIG,
                               "%s: %s \"%s\": shape[%d] is %lld (expected -1 or >= 1)", path, what,
                               s->name, (int)d, (long long)s->shape[d]);
        }
        if ((flags & MW_FLAG_BATCH) && s->shape[0] != -1)
            return mw_fail(
                e, MWE_CONFIG,
                "%s: %s \"%s\": the plug-in accepts a batch but shape[0] is %lld, not -1", path,
                what, s->name, (long long)s->shape[0]);
        rc = check_column_list(path, what, s, "names", s->n_names, s->names, e);
        if (rc == 0)
            rc = check_column_list(path, what, s, "labels", s->n_labels, s->labels, e);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int check_desc(const char *path, const struct mw_model_desc *d, struct mw_error *e)
{
    int rc;

    if (d == NULL)
        return mw_fail(e, MWE_CONFIG, "%s: %s() returned NULL", path, MW_ENTRY_SYMBOL);
    if (d->abi_major != MW_ABI_MAJOR)
        return mw_fail(e, MWE_CONFIG, "%s: plug-in ABI major %u, host supports %u", path,
                       (unsigned)d->abi_major, (unsigned)MW_ABI_MAJOR);
    if (d->size < DESC_V1_SIZE)
        return mw_fail(e, MWE_CONFIG, "%s: descriptor size %u is smaller than ABI %d.0's %zu bytes",
                       path, (unsigned)d->size, MW_ABI_MAJOR, (size_t)DESC_V1_SIZE);
    if (d->load == NULL || d->run == NULL || d->free == NULL)
        return mw_fail(e, MWE_CONFIG, "%s: the descriptor's load, run and free must all be set",
                       path);
    rc = check_specs(path, "input", d->inputs, d->n_inputs, d->flags, e);
    if (rc == 0)
        rc = check_specs(path, "output", d->outputs, d->n_outputs, d->flags, e);
    return rc;
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

/* ---- backend ops --------------------------------------------------------------------------- */

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

static int plugin_load(struct model *m, const json_t *model_json, struct mw_error *e)
{
    struct plugin *pl;
    const json_t *cfg = json_object_get(model_json, "config");
    char *cfg_text = NULL;
    char *platform = NULL;
    struct model_sig sig = {0};
    struct model_sig view;
    struct load_ctx ctx = {.m = m};
    struct mw_error copy_err = {0};
    mw_entry_fn entry;
    void *sym;
    int rc, st;

    pl = calloc(1, sizeof(*pl));
    if (pl == NULL)
        return mw_fail(e, MWE_NOMEM, "%s: out of memory", m->dir);
    rc = resolve_path(m, model_json, &pl->path, e);
    if (rc != 0)
        goto out_free;
    if (cfg != NULL && !json_is_object(cfg)) {
        rc = mw_fail(e, MWE_CONFIG, "%s: model.json's \"config\" must be an object", pl->path);
        goto out_free;
    }
    cfg_text = cfg != NULL ? json_dumps(cfg, JSON_COMPACT) : strdup("{}");
    platform = strdup("modelwrap_plugin");
    if (cfg_text == NULL || platform == NULL) {
        rc = mw_fail(e, MWE_NOMEM, "%s: out of memory", pl->path);
        goto out_free;
    }

    pl->dl = dlopen(pl->path, RTLD_NOW | RTLD_LOCAL);
    if (pl->dl == NULL) {
        rc = mw_fail(e, MWE_CONFIG, "%s: cannot load plug-in: %s", pl->path, dl_reason(pl->path));
        goto out_free;
    }
    sym = dlsym(pl->dl, MW_ENTRY_SYMBOL);
    if (sym == NULL) {
        rc = mw_fail(e, MWE_CONFIG,
                     "%s: no exported %s function (define it with "
                     "__attribute__((visibility(\"default\"))))",
                     pl->path, MW_ENTRY_SYMBOL);
        goto out_close;
    }
    entry = (mw_entry_fn)sym;
    pl->desc = entry();
    rc = check_desc(pl->path, pl->desc, e);
    if (rc != 0)
        goto out_close;

    /* model_sig_copy only reads its source, so the const specs can be viewed as a model_sig. */
    view = (struct model_sig){
        .n_inputs = pl->desc->n_inputs,
        .inputs = (struct mw_tensor_spec *)pl->desc->inputs,
        .n_outputs = pl->desc->n_outputs,
        .outputs = (struct mw_tensor_spec *)pl->desc->outputs,
    };
    rc = model_sig_copy(&sig, &view, &copy_err);
    if (rc != 0) {
        rc = mw_fail(e, rc, "%s: cannot copy the signature: %s", pl->path, copy_err.msg);
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

    /* Everything that can fail is done before load(), so a failed step never needs desc->free. */
    loading = &ctx;
    st = pl->desc->load(&host, m->dir, cfg_text, &pl->state);
    loading = NULL;
    if (st != MW_OK) {
        rc = mw_fail(e, MWE_CONFIG, "%s: plug-in load() failed with status %d%s%s", pl->path, st,
                     ctx.last_error[0] ? ": " : "", ctx.last_error);
        goto out_close;
    }

    model_sig_fini(&m->sig);
    m->sig = sig;
    sig = (struct model_sig){0};
    free(m->platform);
    m->platform = platform;
    platform = NULL;
    m->flags = pl->desc->flags;
    m->state = pl;
    log_msg(LOG_INFO, "plug-in loaded", "model", m->name, "plugin", pl->desc->name,
            "plugin_version", pl->desc->version, "file", pl->path, NULL);
    pl = NULL;
    rc = 0;
    goto out_free;

out_close:
    dlclose(pl->dl);
out_free:
    model_sig_fini(&sig);
    free(platform);
    free(cfg_text);
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

    st = pl->desc->run(pl->state, &host, (struct mw_call *)c, c->inputs, c->n_inputs);
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
    pl->desc->free(pl->state);
    dlclose(pl->dl);
    free(pl->path);
    free(pl);
    m->state = NULL;
}

/* The plug-in backend (model.json "backend": "plugin"). load runs on the main thread at start-up
 * or reload and owns the dlopen handle until free; run may be called from any thread, and
 * concurrently only when the plug-in's descriptor has MW_FLAG_THREAD_SAFE (the model module
 * serialises otherwise). Errors are MWE_CONFIG messages starting with the .so path. */
const struct backend_ops backend_plugin = {
    .name = "plugin",
    .load = plugin_load,
    .run = plugin_run,
    .free = plugin_free,
};
