/*
 * The built-in XGBoost backend: loads a booster saved as JSON or UBJSON, checks model.json's
 * signature against it (classifiers: label + probabilities; regressors: prediction) and predicts
 * with XGBoost's thread-safe in-place prediction, one thread per call (nthread = 1).
 *
 * Each model keeps a free list of proxy DMatrix handles (proxy_get/proxy_put): one per call in
 * flight, reused. Without one, XGBoosterPredictFromDense builds a fresh proxy per call whose
 * context re-reads the cgroup CPU quota files: 3 opens, reads and closes per prediction, 22 us of
 * an iris call against 7 us with the proxy (docs/BENCHMARKS.md, "Fast paths"). Not per thread:
 * freeing a handle from a pthread key destructor runs after the thread's C++ thread_local
 * destructors, and XGBoost then registers new ones that are never run (LeakSanitizer saw it).
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <xgboost/c_api.h>

#include "model/model_impl.h"

#define FILE_NAME_MAX 255
#define MAX_FEATURES 1000000u /* sanity bounds on what a model file may claim */
#define MAX_CLASSES 100000u
#define XGB_ERR_MAX 160

enum xgb_kind {
    KIND_MULTI = 0,  /* multi:softprob: [n, C] probabilities */
    KIND_BINARY = 1, /* binary:logistic: [n, 1] probability of class 1 */
    KIND_REG = 2,    /* reg:*: [n, 1] prediction */
};

struct xgb_state {
    BoosterHandle booster;
    char *path; /* m->dir/file, for messages */
    enum xgb_kind kind;
    size_t n_features;
    size_t n_classes; /* 0 for regression */
    char **labels;    /* n_classes class labels, owned */
    size_t *label_lens;
    size_t out_label, out_proba; /* output indices (classifiers) */
    size_t out_pred;             /* output index (regression) */
    pthread_mutex_t proxy_mu;    /* guards proxies */
    struct proxy *proxies; /* free proxy DMatrix handles */
};

struct proxy {
    DMatrixHandle h;
    struct proxy *next;
};

/* A free proxy DMatrix of s, or a new one; NULL when none can be made (XGBoost then builds its own
 * per call: slower, same result). Any thread. */
static struct proxy *proxy_get(struct xgb_state *s)
{
    struct proxy *p;

    pthread_mutex_lock(&s->proxy_mu);
    p = s->proxies;
    if (p != NULL)
        s->proxies = p->next;
    pthread_mutex_unlock(&s->proxy_mu);
    if (p != NULL)
        return p;
    p = malloc(sizeof(*p));
    if (p == NULL)
        return NULL;
    if (XGProxyDMatrixCreate(&p->h) != 0) {
        free(p);
        return NULL;
    }
    return p;
}

/* Gives p (may be NULL) back to s's free list. Any thread. */
static void proxy_put(struct xgb_state *s, struct proxy *p)
{
    if (p == NULL)
        return;
    pthread_mutex_lock(&s->proxy_mu);
    p->next = s->proxies;
    s->proxies = p;
    pthread_mutex_unlock(&s->proxy_mu);
}

/* The prediction configuration: plain values, all trees, strict shapes ([n, groups]). "NaN" is
 * the literal that XGBoost 1.7's own JSON parser accepts for the missing value. XGBoost parses it
 * on every call, so it holds only the members in-place prediction reads (no "training", no
 * blanks: 0.6 us less per call, of about 7). */
static const char PREDICT_CONFIG[] = "{\"type\":0,\"iteration_begin\":0,\"iteration_end\":0,"
                                     "\"strict_shape\":true,\"cache_id\":0,\"missing\":NaN}";

/* XGBGetLastError() (thread-local) reduced to one printable line: without the time stamp, the
 * source location and the stack trace. */
static void xgb_error_text(char *out, size_t size)
{
    const char *s = XGBGetLastError();
    size_t n = 0;

    if (s == NULL || *s == '\0')
        s = "unknown XGBoost error";
    if (s[0] == '[') { /* "[17:26:19] " */
        const char *p = strchr(s, ']');
        if (p != NULL && p[1] == ' ')
            s = p + 2;
    }
    const char *colon = strstr(s, ": "); /* "./src/common/json.cc:407: " */
    if (colon != NULL) {
        size_t lead = (size_t)(colon - s);
        if (lead > 0 && memchr(s, ' ', lead) == NULL && memchr(s, ':', lead) != NULL)
            s = colon + 2;
    }
    while (n + 1 < size && s[n] != '\0' && s[n] != '\n') {
        unsigned char c = (unsigned char)s[n];
        out[n] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
        n++;
    }
    while (n > 0 && (out[n - 1] == ' ' || out[n - 1] == ':'))
        n--;
    out[n] = '\0';
}

static void state_free(struct xgb_state *s)
{
    if (s == NULL)
        return;
    while (s->proxies != NULL) {
        struct proxy *p = s->proxies;

        s->proxies = p->next;
        XGDMatrixFree(p->h);
        free(p);
    }
    pthread_mutex_destroy(&s->proxy_mu);
    if (s->booster != NULL)
        XGBoosterFree(s->booster);
    if (s->labels != NULL) {
        for (size_t i = 0; i < s->n_classes; i++)
            free(s->labels[i]);
    }
    free(s->labels);
    free(s->label_lens);
    free(s->path);
    free(s);
}

/* Validates model.json's "file" (a plain file name in dir, .json or .ubj) and builds s->path. */
static int resolve_file(struct xgb_state *s, const struct model *m, const json_t *model_json,
                        struct mw_error *e)
{
    const json_t *jf = json_object_get(model_json, "file");
    const char *name;
    size_t len, dlen;
    struct stat st;

    if (jf == NULL)
        return mw_fail(e, MWE_CONFIG,
                       "%s/model.json: \"file\" is required for the xgboost backend "
                       "(the model file name, e.g. \"model.ubj\")",
                       m->dir);
    if (!json_is_string(jf))
        return mw_fail(e, MWE_CONFIG, "%s/model.json: \"file\" must be a string", m->dir);
    name = json_string_value(jf);
    len = json_string_length(jf);
    if (len == 0 || len > FILE_NAME_MAX || strlen(name) != len)
        return mw_fail(e, MWE_CONFIG,
                       "%s/model.json: \"file\" must be a file name of 1 to %d characters", m->dir,
                       FILE_NAME_MAX);
    if (strchr(name, '/') != NULL || strchr(name, '\\') != NULL || strstr(name, "..") != NULL)
        return mw_fail(e, MWE_CONFIG,
                       "%s/model.json: \"file\" must be a plain file name inside "
                       "the model's folder (no '/' or \"..\"): \"%.64s\"",
                       m->dir, name);
    if (!(len > 5 && strcasecmp(name + len - 5, ".json") == 0) &&
        !(len > 4 && strcasecmp(name + len - 4, ".ubj") == 0))
        return mw_fail(e, MWE_CONFIG,
                       "%s/model.json: \"file\" must name an XGBoost model saved "
                       "as JSON (.json) or UBJSON (.ubj): \"%.64s\"",
                       m->dir, name);

    dlen = strlen(m->dir);
    s->path = malloc(dlen + 1 + len + 1);
    if (s->path == NULL)
        return mw_fail(e, MWE_NOMEM, "%s: out of memory", m->dir);
    memcpy(s->path, m->dir, dlen);
    s->path[dlen] = '/';
    memcpy(s->path + dlen + 1, name, len + 1);

    if (stat(s->path, &st) != 0)
        return mw_fail(e, MWE_CONFIG, "%s: cannot open the model file: %s", s->path,
                       strerror(errno));
    if (!S_ISREG(st.st_mode))
        return mw_fail(e, MWE_CONFIG, "%s: the model file is not a regular file", s->path);
    return 0;
}

/* Parses a non-negative decimal integer held in a JSON string (XGBoost's config style). */
static bool config_uint(const json_t *obj, const char *key, unsigned long *out)
{
    const json_t *v = json_object_get(obj, key);
    const char *str;
    char *end;
    unsigned long x;

    if (json_is_integer(v) && json_integer_value(v) >= 0) {
        *out = (unsigned long)json_integer_value(v);
        return true;
    }
    if (!json_is_string(v))
        return false;
    str = json_string_value(v);
    if (!isdigit((unsigned char)str[0]))
        return false;
    errno = 0;
    x = strtoul(str, &end, 10);
    if (errno != 0 || *end != '\0')
        return false;
    *out = x;
    return true;
}

/* Reads the objective, the class count and the target count from the booster's configuration and
 * sets s->kind and s->n_classes. */
static int read_objective(struct xgb_state *s, struct mw_error *e)
{
    bst_ulong len = 0;
    const char *text = NULL;
    char xerr[XGB_ERR_MAX];
    json_error_t jerr;
    json_t *cfg = NULL;
    const json_t *learner, *param;
    const char *obj;
    unsigned long num_class = 0, num_target = 1;
    int rc = MWE_CONFIG;

    if (XGBoosterSaveJsonConfig(s->booster, &len, &text) != 0) {
        xgb_error_text(xerr, sizeof(xerr));
        mw_fail(e, MWE_CONFIG, "%s: cannot read the booster's configuration: %s", s->path, xerr);
        goto out;
    }
    cfg = json_loadb(text, (size_t)len, 0, &jerr);
    learner = json_object_get(cfg, "learner");
    obj = json_string_value(json_object_get(json_object_get(learner, "objective"), "name"));
    param = json_object_get(learner, "learner_model_param");
    if (obj == NULL) {
        mw_fail(e, MWE_CONFIG, "%s: the booster's configuration has no learner.objective.name",
                s->path);
        goto out;
    }
    if (json_object_get(param, "num_target") != NULL &&
        !config_uint(param, "num_target", &num_target)) {
        mw_fail(e, MWE_CONFIG, "%s: the booster's num_target is not a number", s->path);
        goto out;
    }
    if (num_target != 1) {
        mw_fail(e, MWE_CONFIG, "%s: multi-output models (num_target %lu) are not supported",
                s->path, num_target);
        goto out;
    }

    if (strcmp(obj, "multi:softprob") == 0) {
        if (!config_uint(param, "num_class", &num_class) &&
            !config_uint(
                json_object_get(json_object_get(learner, "objective"), "softmax_multiclass_param"),
                "num_class", &num_class)) {
            mw_fail(e, MWE_CONFIG, "%s: the booster's configuration has no num_class", s->path);
            goto out;
        }
        if (num_class < 2 || num_class > MAX_CLASSES) {
            mw_fail(e, MWE_CONFIG, "%s: num_class %lu is out of range (2 to %u)", s->path,
                    num_class, MAX_CLASSES);
            goto out;
        }
        s->kind = KIND_MULTI;
        s->n_classes = (size_t)num_class;
    } else if (strcmp(obj, "multi:softmax") == 0) {
        mw_fail(e, MWE_CONFIG,
                "%s: objective multi:softmax predicts class indices, not "
                "probabilities: train or save the model with objective multi:softprob "
                "(e.g. XGBClassifier's default)",
                s->path);
        goto out;
    } else if (strcmp(obj, "binary:logistic") == 0) {
        s->kind = KIND_BINARY;
        s->n_classes = 2;
    } else if (strncmp(obj, "reg:", 4) == 0) {
        s->kind = KIND_REG;
        s->n_classes = 0;
    } else {
        mw_fail(e, MWE_CONFIG,
                "%s: objective %.64s is not supported (use multi:softprob, "
                "binary:logistic or reg:*)",
                s->path, obj);
        goto out;
    }
    rc = 0;
out:
    json_decref(cfg);
    return rc;
}

/* Writes "[-1, 4]" into out. */
static void shape_text(char *out, size_t size, int32_t ndim, const int64_t *shape)
{
    size_t n = 0;
    int w = snprintf(out, size, "[");

    if (w > 0)
        n = (size_t)w;
    for (int32_t i = 0; i < ndim && i < MW_MAX_DIMS && n < size; i++) {
        w = snprintf(out + n, size - n, "%s%" PRId64, i ? ", " : "", shape[i]);
        if (w < 0)
            break;
        n += (size_t)w;
    }
    if (n < size)
        snprintf(out + n, size - n, "]");
}

/* The signature must declare exactly one FP32 input of shape [-1, F]. */
static int check_input(const struct xgb_state *s, const struct model *m, struct mw_error *e)
{
    const struct mw_tensor_spec *in;
    char shp[96];

    if (m->sig.n_inputs != 1)
        return mw_fail(e, MWE_CONFIG,
                       "%s/model.json: signature.inputs must declare exactly one "
                       "input (FP32, shape [-1, %zu]); it declares %zu",
                       m->dir, s->n_features, m->sig.n_inputs);
    in = &m->sig.inputs[0];
    if (in->dtype != MW_FP32)
        return mw_fail(e, MWE_CONFIG,
                       "%s/model.json: input \"%.64s\" has datatype %s; the "
                       "xgboost backend takes FP32",
                       m->dir, in->name ? in->name : "", dtype_name(in->dtype));
    shape_text(shp, sizeof(shp), in->ndim, in->shape);
    if (in->ndim != 2 || in->shape[0] != -1)
        return mw_fail(e, MWE_CONFIG,
                       "%s/model.json: input \"%.64s\" has shape %s; expected "
                       "[-1, %zu] (rows x features)",
                       m->dir, in->name ? in->name : "", shp, s->n_features);
    if (in->shape[1] < 0 || (uint64_t)in->shape[1] != (uint64_t)s->n_features)
        return mw_fail(e, MWE_CONFIG,
                       "%s/model.json: input \"%.64s\" declares %" PRId64
                       " features but the booster %s has %zu",
                       m->dir, in->name ? in->name : "", in->shape[1], s->path, s->n_features);
    if (in->n_names != 0 && in->n_names != s->n_features)
        return mw_fail(e, MWE_CONFIG,
                       "%s/model.json: input \"%.64s\" has %zu feature names for %zu features",
                       m->dir, in->name ? in->name : "", in->n_names, s->n_features);
    return 0;
}

/* Compares one declared output with what the booster produces; the message says what differs. */
static int check_output(const struct model *m, size_t i, const struct mw_tensor_spec *o, int dtype,
                        int32_t ndim, const int64_t *shape, struct mw_error *e)
{
    char got[96], want[96];

    if (o->dtype != dtype)
        return mw_fail(e, MWE_CONFIG,
                       "%s/model.json: outputs[%zu] \"%s\" has datatype %s; expected %s", m->dir, i,
                       o->name, dtype_name(o->dtype), dtype_name(dtype));
    shape_text(got, sizeof(got), o->ndim, o->shape);
    shape_text(want, sizeof(want), ndim, shape);
    if (o->ndim != ndim || memcmp(o->shape, shape, (size_t)ndim * sizeof(*shape)) != 0)
        return mw_fail(e, MWE_CONFIG,
                       "%s/model.json: outputs[%zu] \"%s\" has shape %s; expected %s", m->dir, i,
                       o->name, got, want);
    return 0;
}

static const char *kind_text(enum xgb_kind kind)
{
    switch (kind) {
    case KIND_MULTI:
        return "multi:softprob classifier";
    case KIND_BINARY:
        return "binary:logistic classifier";
    default:
        return "regression model";
    }
}

/* Checks declared outputs (names, datatypes, shapes, label count) and records their order and the
 * class labels. Sets *need_labels when "probabilities" was declared without labels. */
static int check_outputs(struct xgb_state *s, const struct model *m, bool *need_labels,
                         struct mw_error *e)
{
    const struct model_sig *sig = &m->sig;
    const int64_t vec[1] = {-1};
    const int64_t mat[2] = {-1, (int64_t)s->n_classes};
    bool seen_label = false, seen_proba = false;
    char names[160];
    size_t n = 0;

    *need_labels = false;
    names[0] = '\0';
    for (size_t i = 0; i < sig->n_outputs && n < sizeof(names); i++) {
        int w = snprintf(names + n, sizeof(names) - n, "%s\"%.32s\"", i ? ", " : "",
                         sig->outputs[i].name ? sig->outputs[i].name : "");
        if (w < 0)
            break;
        n += (size_t)w;
    }

    if (s->kind == KIND_REG) {
        if (sig->n_outputs != 1 || sig->outputs[0].name == NULL ||
            strcmp(sig->outputs[0].name, "prediction") != 0)
            return mw_fail(e, MWE_CONFIG,
                           "%s/model.json: signature.outputs declares %zu (%s); a "
                           "regression model has exactly one: \"prediction\" (FP32 [-1])",
                           m->dir, sig->n_outputs, names);
        s->out_pred = 0;
        return check_output(m, 0, &sig->outputs[0], MW_FP32, 1, vec, e);
    }

    if (sig->n_outputs != 2)
        return mw_fail(e, MWE_CONFIG,
                       "%s/model.json: signature.outputs declares %zu (%s); a %s "
                       "has exactly two: \"label\" (BYTES [-1]) and \"probabilities\" (FP32 "
                       "[-1, %zu])",
                       m->dir, sig->n_outputs, names, kind_text(s->kind), s->n_classes);
    for (size_t i = 0; i < 2; i++) {
        const struct mw_tensor_spec *o = &sig->outputs[i];
        int rc;

        if (o->name != NULL && strcmp(o->name, "label") == 0 && !seen_label) {
            seen_label = true;
            s->out_label = i;
            rc = check_output(m, i, o, MW_BYTES, 1, vec, e);
        } else if (o->name != NULL && strcmp(o->name, "probabilities") == 0 && !seen_proba) {
            seen_proba = true;
            s->out_proba = i;
            rc = check_output(m, i, o, MW_FP32, 2, mat, e);
            if (rc == 0 && o->n_labels == 0)
                *need_labels = true;
            else if (rc == 0 && o->n_labels != s->n_classes)
                rc = mw_fail(e, MWE_CONFIG,
                             "%s/model.json: outputs[%zu] \"probabilities\" has "
                             "%zu labels; the booster has %zu classes",
                             m->dir, i, o->n_labels, s->n_classes);
        } else {
            rc = mw_fail(e, MWE_CONFIG,
                         "%s/model.json: outputs[%zu] is named \"%.64s\"; a %s "
                         "has exactly \"label\" and \"probabilities\"",
                         m->dir, i, o->name ? o->name : "", kind_text(s->kind));
        }
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* Fills s->labels from the declared labels, or "0".."C-1" when there are none. */
static int set_labels(struct xgb_state *s, const struct model *m, bool declared, struct mw_error *e)
{
    s->labels = calloc(s->n_classes, sizeof(*s->labels));
    s->label_lens = calloc(s->n_classes, sizeof(*s->label_lens));
    if (s->labels == NULL || s->label_lens == NULL)
        return mw_fail(e, MWE_NOMEM, "%s: out of memory", s->path);
    for (size_t k = 0; k < s->n_classes; k++) {
        char num[24];
        const char *src = num;

        if (declared)
            src = m->sig.outputs[s->out_proba].labels[k];
        else
            snprintf(num, sizeof(num), "%zu", k);
        s->labels[k] = strdup(src ? src : "");
        if (s->labels[k] == NULL)
            return mw_fail(e, MWE_NOMEM, "%s: out of memory", s->path);
        s->label_lens[k] = strlen(s->labels[k]);
    }
    return 0;
}

static json_t *spec_json(const char *name, const char *dtype, int64_t dim1,
                         const struct xgb_state *s, bool with_labels)
{
    json_t *o =
        json_pack("{s:s, s:s, s:[I]}", "name", name, "datatype", dtype, "shape", (json_int_t)-1);
    json_t *labels;

    if (o == NULL)
        return NULL;
    if (dim1 > 0 && json_array_append_new(json_object_get(o, "shape"), json_integer(dim1)) != 0)
        goto out_fail;
    if (with_labels) {
        labels = json_array();
        if (labels == NULL || json_object_set_new(o, "labels", labels) != 0)
            goto out_fail;
        for (size_t k = 0; k < s->n_classes; k++) {
            if (json_array_append_new(labels, json_stringn(s->labels[k], s->label_lens[k])) != 0)
                goto out_fail;
        }
    }
    return o;
out_fail:
    json_decref(o);
    return NULL;
}

/* Replaces m->sig with model.json's inputs plus the outputs this booster produces (used when
 * model.json omits the outputs or the class labels). Goes through model_sig_from_json so that the
 * signature's memory is owned exactly as the registry expects. */
static int fill_outputs(struct xgb_state *s, struct model *m, const json_t *model_json,
                        struct mw_error *e)
{
    const json_t *inputs = json_object_get(json_object_get(model_json, "signature"), "inputs");
    json_t *sig = NULL, *outs = NULL;
    struct model_sig tmp;
    struct mw_error sub;
    int rc = MWE_NOMEM;

    memset(&tmp, 0, sizeof(tmp));
    memset(&sub, 0, sizeof(sub));
    if (inputs == NULL) {
        rc = mw_fail(e, MWE_CONFIG, "%s/model.json: signature.inputs is required", m->dir);
        goto out;
    }
    outs = json_array();
    if (outs == NULL)
        goto out_nomem;
    if (s->kind == KIND_REG) {
        if (json_array_append_new(outs, spec_json("prediction", "FP32", 0, s, false)) != 0)
            goto out_nomem;
    } else {
        json_t *pair[2];
        bool declared = m->sig.n_outputs == 2;
        size_t il = declared ? s->out_label : 0, ip = declared ? s->out_proba : 1;

        s->out_label = il;
        s->out_proba = ip;
        pair[il] = spec_json("label", "BYTES", 0, s, false);
        pair[ip] = spec_json("probabilities", "FP32", (int64_t)s->n_classes, s, true);
        if (json_array_append_new(outs, pair[0]) != 0) {
            json_decref(pair[1]);
            goto out_nomem;
        }
        if (json_array_append_new(outs, pair[1]) != 0)
            goto out_nomem;
    }
    sig = json_pack("{s:O, s:O}", "inputs", inputs, "outputs", outs);
    if (sig == NULL)
        goto out_nomem;
    rc = model_sig_from_json(&tmp, sig, &sub);
    if (rc != 0) {
        mw_fail(e, rc, "%s/model.json: %s", m->dir, sub.msg);
        goto out;
    }
    model_sig_fini(&m->sig);
    m->sig = tmp;
    rc = 0;
    goto out;
out_nomem:
    rc = mw_fail(e, MWE_NOMEM, "%s: out of memory", s->path);
out:
    json_decref(outs);
    json_decref(sig);
    return rc;
}

/* backend_ops.load: see src/model/model.h. Runs on the main thread at start-up or reload. Owns
 * nothing of m but m->state (and m->sig when it has to fill in the outputs). Returns 0, or
 * MWE_CONFIG / MWE_NOMEM with e naming the file: model.json for signature problems, the model
 * file for booster problems. */
static int xgb_load(struct model *m, const json_t *model_json, struct mw_error *e)
{
    struct xgb_state *s = calloc(1, sizeof(*s));
    char xerr[XGB_ERR_MAX];
    bst_ulong nf = 0;
    bool need_labels = false;
    int rc;

    if (s == NULL || pthread_mutex_init(&s->proxy_mu, NULL) != 0) {
        free(s);
        return mw_fail(e, MWE_NOMEM, "%s: out of memory", m->dir);
    }
    rc = resolve_file(s, m, model_json, e);
    if (rc != 0)
        goto out_fail;

    rc = MWE_CONFIG;
    if (XGBoosterCreate(NULL, 0, &s->booster) != 0) {
        s->booster = NULL;
        xgb_error_text(xerr, sizeof(xerr));
        mw_fail(e, MWE_CONFIG, "%s: cannot create a booster: %s", s->path, xerr);
        goto out_fail;
    }
    if (XGBoosterLoadModel(s->booster, s->path) != 0) {
        xgb_error_text(xerr, sizeof(xerr));
        mw_fail(e, MWE_CONFIG, "%s: not a valid XGBoost model: %s", s->path, xerr);
        goto out_fail;
    }
    if (XGBoosterSetParam(s->booster, "nthread", "1") != 0) {
        xgb_error_text(xerr, sizeof(xerr));
        mw_fail(e, MWE_CONFIG, "%s: cannot set nthread: %s", s->path, xerr);
        goto out_fail;
    }
    if (XGBoosterGetNumFeature(s->booster, &nf) != 0) {
        xgb_error_text(xerr, sizeof(xerr));
        mw_fail(e, MWE_CONFIG, "%s: cannot read the number of features: %s", s->path, xerr);
        goto out_fail;
    }
    if (nf < 1 || nf > MAX_FEATURES) {
        mw_fail(e, MWE_CONFIG, "%s: the booster has %llu features (1 to %u supported)", s->path,
                (unsigned long long)nf, MAX_FEATURES);
        goto out_fail;
    }
    s->n_features = (size_t)nf;
    rc = read_objective(s, e);
    if (rc != 0)
        goto out_fail;
    rc = check_input(s, m, e);
    if (rc != 0)
        goto out_fail;

    if (m->sig.n_outputs == 0) {
        need_labels = true;
    } else {
        rc = check_outputs(s, m, &need_labels, e);
        if (rc != 0)
            goto out_fail;
    }
    if (s->kind != KIND_REG) {
        rc = set_labels(s, m, !need_labels, e);
        if (rc != 0)
            goto out_fail;
    }
    if (m->sig.n_outputs == 0 || need_labels) {
        rc = fill_outputs(s, m, model_json, e);
        if (rc != 0)
            goto out_fail;
    }

    m->state = s;
    m->flags = MW_FLAG_THREAD_SAFE | MW_FLAG_BATCH;
    return 0;
out_fail:
    state_free(s);
    return rc;
}

/* Appends the NUL-terminated s at *p. */
static void put(char **p, const char *s)
{
    size_t n = strlen(s);

    memcpy(*p, s, n);
    *p += n;
}

/* The __array_interface__ JSON of a C-contiguous FP32 [rows, cols] matrix at x, without printf
 * (one per prediction): {"data":[<address>,true],"shape":[<rows>,<cols>],"typestr":"<f4",
 * "version":3}. out holds at least 160 bytes (3 numbers of at most 20 digits and 64 of text). */
static void array_interface(char out[160], const float *x, size_t rows, size_t cols)
{
    char *p = out;

    put(&p, "{\"data\":[");
    p += fmt_u64(p, (uint64_t)(uintptr_t)x);
    put(&p, ",true],\"shape\":[");
    p += fmt_u64(p, rows);
    *p++ = ',';
    p += fmt_u64(p, cols);
    put(&p, "],\"typestr\":\"<f4\",\"version\":3}");
    *p = '\0';
}

/* backend_ops.run: see src/model/model.h. Any thread, concurrently: reads only immutable state;
 * XGBoost keeps its prediction buffer per thread and we copy out of it before returning. Returns
 * 0, MWE_INVALID_INPUT (with the call's error set), MWE_NOMEM or MWE_MODEL_FAILED (logged). */
static int xgb_run(struct model *m, struct model_call *call)
{
    struct xgb_state *s = m->state;
    struct proxy *px = NULL;
    const struct mw_tensor *in;
    const float *x;
    const bst_ulong *oshape = NULL;
    bst_ulong odim = 0;
    const float *res = NULL;
    char arr[160], xerr[XGB_ERR_MAX];
    size_t rows, groups = s->kind == KIND_MULTI ? s->n_classes : 1;
    int rc = MWE_INVALID_INPUT;

    if (call->n_inputs != 1 || call->inputs == NULL) {
        model_call_set_error(call, "expected one input, got %zu", call->n_inputs);
        goto out;
    }
    in = &call->inputs[0];
    if (in->dtype != MW_FP32 || in->ndim != 2 || in->shape[1] < 0 ||
        (uint64_t)in->shape[1] != (uint64_t)s->n_features || in->shape[0] < 1) {
        model_call_set_error(call, "inputs[0]: expected FP32 of shape [n, %zu] with n >= 1",
                             s->n_features);
        goto out;
    }
    if ((uint64_t)in->shape[0] > SIZE_MAX / sizeof(float) / s->n_features / (groups + 1) ||
        in->data == NULL) {
        model_call_set_error(call, "inputs[0]: too many rows");
        goto out;
    }
    rows = (size_t)in->shape[0];
    x = in->data;
    for (size_t i = 0; i < rows * s->n_features; i++) {
        if (isinf(x[i])) { /* NaN is XGBoost's missing value; infinities are mistakes */
            model_call_set_error(call, "inputs[0][%zu][%zu]: infinite value", i / s->n_features,
                                 i % s->n_features);
            goto out;
        }
    }

    rc = MWE_MODEL_FAILED;
    array_interface(arr, x, rows, s->n_features);
    px = proxy_get(s);
    if (XGBoosterPredictFromDense(s->booster, arr, PREDICT_CONFIG, px ? px->h : NULL, &oshape,
                                  &odim, &res) != 0) {
        xgb_error_text(xerr, sizeof(xerr));
        log_msg(LOG_ERROR, "xgboost prediction failed", "model", m->name, "error", xerr, NULL);
        goto out;
    }
    if (res == NULL || oshape == NULL || odim != 2 || oshape[0] != rows || oshape[1] != groups) {
        log_msg(LOG_ERROR, "xgboost prediction has an unexpected shape", "model", m->name, NULL);
        goto out;
    }

    rc = MWE_NOMEM;
    if (s->kind == KIND_REG) {
        const int64_t shape[1] = {(int64_t)rows};
        float *out = model_call_output(call, s->out_pred, 1, shape);

        if (out == NULL)
            goto out;
        memcpy(out, res, rows * sizeof(float));
    } else {
        const int64_t lshape[1] = {(int64_t)rows};
        const int64_t pshape[2] = {(int64_t)rows, (int64_t)s->n_classes};
        struct mw_bytes *label = model_call_output(call, s->out_label, 1, lshape);
        float *proba = model_call_output(call, s->out_proba, 2, pshape);

        if (label == NULL || proba == NULL)
            goto out;
        for (size_t r = 0; r < rows; r++) {
            float *p = proba + r * s->n_classes;
            size_t best = 0;

            if (s->kind == KIND_BINARY) {
                p[1] = res[r];
                p[0] = 1.0f - res[r];
            } else {
                memcpy(p, res + r * s->n_classes, s->n_classes * sizeof(float));
            }
            for (size_t k = 1; k < s->n_classes; k++) {
                if (p[k] > p[best])
                    best = k;
            }
            label[r].ptr = (const uint8_t *)s->labels[best];
            label[r].len = s->label_lens[best];
        }
    }
    rc = 0;
out:
    proxy_put(s, px); /* after the copy: the result may live in XGBoost state */
    return rc;
}

/* backend_ops.free: see src/model/model.h. Called once after the last run(). */
static void xgb_free(struct model *m)
{
    state_free(m->state);
    m->state = NULL;
}

const struct backend_ops backend_xgboost = {
    .name = "xgboost",
    .load = xgb_load,
    .run = xgb_run,
    .free = xgb_free,
};
