/*
 * Model signatures: parses model.json's "signature" member into a struct model_sig, deep-copies a
 * plug-in descriptor's static signature, and checks both with the same rules and messages that
 * name the offending place, e.g. "signature.inputs[0].shape[1]: expected -1 or a positive integer".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_impl.h"

#define SIG_MAX_TENSORS 1024 /* inputs (or outputs) per model */
#define SIG_MAX_TEXT 256     /* bytes in a tensor name, a column name or a label */
#define SIG_WHERE_MAX 48     /* "signature.outputs[1023]" */

/* ---- small helpers --------------------------------------------------------------------------- */

/* 1..SIG_MAX_TEXT bytes, no NUL inside, valid UTF-8 (jansson checks that for us). */
static bool text_ok(const char *s, size_t len)
{
    bool ok = false;
    json_t *probe;

    if (s == NULL || len == 0 || len > SIG_MAX_TEXT || memchr(s, '\0', len) != NULL)
        goto out;
    probe = json_stringn(s, len);
    if (probe == NULL)
        goto out;
    json_decref(probe);
    ok = true;
out:
    return ok;
}

static char *text_dup(const char *s, size_t len)
{
    char *p = malloc(len + 1);

    if (p == NULL)
        goto out;
    memcpy(p, s, len);
    p[len] = '\0';
out:
    return p;
}

struct dup_ent {
    const char *s;
    size_t i;
};

static int dup_ent_cmp(const void *a, const void *b)
{
    const struct dup_ent *x = a, *y = b;
    int c = strcmp(x->s, y->s);

    if (c == 0)
        c = (x->i > y->i) - (x->i < y->i);
    return c;
}

/*
 * Looks for two equal strings among v[0..n). Returns 0 when all differ; 1 with *first < *second
 * the positions of the duplicate whose second occurrence comes earliest; MWE_NOMEM.
 * O(n log n): lists of column names can be long.
 */
static int find_duplicate(const char *const *v, size_t n, size_t *first, size_t *second)
{
    struct dup_ent *ents = NULL;
    int rc = 0;

    if (n < 2)
        goto out;
    ents = calloc(n, sizeof(*ents));
    if (ents == NULL) {
        rc = MWE_NOMEM;
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        ents[i] = (struct dup_ent){v[i], i};
    qsort(ents, n, sizeof(*ents), dup_ent_cmp);
    for (size_t i = 1; i < n; i++) {
        if (strcmp(ents[i - 1].s, ents[i].s) != 0)
            continue;
        if (rc == 0 || ents[i].i < *second) {
            *first = ents[i - 1].i;
            *second = ents[i].i;
            rc = 1;
        }
    }
    free(ents);
out:
    return rc;
}

static void free_list(size_t n, const char *const *list)
{
    for (size_t i = 0; list != NULL && i < n; i++)
        free((void *)list[i]);
    free((void *)list);
}

static void spec_fini(struct mw_tensor_spec *spec)
{
    free((void *)spec->name);
    free_list(spec->n_names, spec->names);
    free_list(spec->n_labels, spec->labels);
    memset(spec, 0, sizeof(*spec));
}

static void specs_free(struct mw_tensor_spec *specs, size_t n)
{
    for (size_t i = 0; specs != NULL && i < n; i++)
        spec_fini(&specs[i]);
    free(specs);
}

/* ---- checks shared by the JSON and the copy paths -------------------------------------------- */

static int check_shape(const struct mw_tensor_spec *spec, const char *where, struct mw_error *e)
{
    int rc = 0;

    if (spec->ndim < 1 || spec->ndim > MW_MAX_DIMS) {
        rc = mw_fail(e, MWE_CONFIG, "%s.shape: expected an array of 1 to %d dimensions", where,
                     MW_MAX_DIMS);
        goto out;
    }
    for (int32_t d = 0; d < spec->ndim; d++) {
        if (spec->shape[d] != -1 && spec->shape[d] < 1) {
            rc = mw_fail(e, MWE_CONFIG, "%s.shape[%d]: expected -1 or a positive integer", where,
                         (int)d);
            goto out;
        }
    }
out:
    return rc;
}

/* A "names" or "labels" list already copied into the spec: its count against the last dimension,
 * and uniqueness. Each element was checked while it was copied. */
static int check_list(const struct mw_tensor_spec *spec, const char *where, const char *member,
                      size_t n, const char *const *list, struct mw_error *e)
{
    int64_t last = spec->shape[spec->ndim - 1];
    size_t first = 0, second = 0;
    int rc = 0;

    if (last == -1) {
        rc = mw_fail(e, MWE_CONFIG,
                     "%s.%s: the last dimension of the shape must be fixed (not -1) when %s are "
                     "given",
                     where, member, member);
        goto out;
    }
    if ((uint64_t)last != n) {
        rc = mw_fail(e, MWE_CONFIG, "%s.%s: %zu %s for a last dimension of %lld", where, member, n,
                     member, (long long)last);
        goto out;
    }
    rc = find_duplicate(list, n, &first, &second);
    if (rc < 0) {
        rc = mw_fail(e, rc, "%s.%s: out of memory", where, member);
        goto out;
    }
    if (rc > 0) {
        rc = mw_fail(e, MWE_CONFIG, "%s.%s[%zu]: duplicate '%s' (also %s[%zu])", where, member,
                     second, list[second], member, first);
        goto out;
    }
out:
    return rc;
}

/* Names unique among one list of tensors (the inputs, or the outputs). */
static int check_unique_specs(const struct mw_tensor_spec *specs, size_t n, const char *list,
                              struct mw_error *e)
{
    const char **names = calloc(n ? n : 1, sizeof(*names));
    size_t first = 0, second = 0;
    int rc = 0;

    if (names == NULL) {
        rc = mw_fail(e, MWE_NOMEM, "signature.%s: out of memory", list);
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        names[i] = specs[i].name;
    rc = find_duplicate(names, n, &first, &second);
    if (rc < 0) {
        rc = mw_fail(e, rc, "signature.%s: out of memory", list);
        goto out_free;
    }
    if (rc > 0) {
        rc = mw_fail(e, MWE_CONFIG,
                     "signature.%s[%zu].name: duplicate '%s' (also signature.%s[%zu])", list,
                     second, names[second], list, first);
        goto out_free;
    }
out_free:
    free(names);
out:
    return rc;
}

/* ---- JSON -> spec ---------------------------------------------------------------------------- */

static const char *const spec_members[] = {"name", "datatype", "shape", "names", "labels",
                                           "optional"};

/* "BOOL, UINT8, ..., BYTES, FP16, BF16" into out; false when it does not fit. */
static bool accepted_dtypes(char *out, size_t cap)
{
    size_t used = 0;
    bool ok = false;

    out[0] = '\0';
    for (int t = MW_BOOL; t <= MW_BF16; t++) {
        int n = snprintf(out + used, cap - used, "%s%s", t == MW_BOOL ? "" : ", ", dtype_name(t));
        if (n < 0 || (size_t)n >= cap - used)
            goto out;
        used += (size_t)n;
    }
    ok = true;
out:
    return ok;
}

/* Parses spec.<member> ("names" or "labels"). The list belongs to the spec as soon as it is
 * allocated (*n_out, *list_out), so spec_fini frees a partly filled one. */
static int parse_list_json(struct mw_tensor_spec *spec, const json_t *arr, const char *where,
                           const char *member, size_t *n_out, const char *const **list_out,
                           struct mw_error *e)
{
    char **list;
    size_t n;
    int rc = 0;

    if (!json_is_array(arr) || json_array_size(arr) == 0) {
        rc = mw_fail(e, MWE_CONFIG, "%s.%s: expected a non-empty array of strings", where, member);
        goto out;
    }
    n = json_array_size(arr);
    list = calloc(n, sizeof(*list));
    if (list == NULL) {
        rc = mw_fail(e, MWE_NOMEM, "%s.%s: out of memory", where, member);
        goto out;
    }
    *list_out = (const char *const *)list;
    *n_out = n;
    for (size_t i = 0; i < n; i++) {
        const json_t *v = json_array_get(arr, i);
        if (!json_is_string(v) || !text_ok(json_string_value(v), json_string_length(v))) {
            rc = mw_fail(e, MWE_CONFIG,
                         "%s.%s[%zu]: expected a non-empty string of at most %d bytes", where,
                         member, i, SIG_MAX_TEXT);
            goto out;
        }
        list[i] = text_dup(json_string_value(v), json_string_length(v));
        if (list[i] == NULL) {
            rc = mw_fail(e, MWE_NOMEM, "%s.%s: out of memory", where, member);
            goto out;
        }
    }
    rc = check_list(spec, where, member, n, *list_out, e);
out:
    return rc;
}

/* Parses one {"name","datatype","shape",["names"],["labels"]} into spec (empty on entry; partly
 * filled on failure, freed by the caller). */
static int parse_spec_json(struct mw_tensor_spec *spec, const json_t *js, const char *where,
                           struct mw_error *e)
{
    const json_t *name, *dt, *shape, *names, *labels, *val;
    const char *key;
    char accepted[128];
    int rc = 0;

    if (!json_is_object(js)) {
        rc = mw_fail(e, MWE_CONFIG, "%s: expected an object with name, datatype and shape", where);
        goto out;
    }
    json_object_foreach((json_t *)js, key, val)
    {
        bool known = false;
        for (size_t i = 0; i < MW_ARRAY_LEN(spec_members); i++)
            known = known || strcmp(key, spec_members[i]) == 0;
        if (!known) {
            rc = mw_fail(e, MWE_CONFIG,
                         "%s: unknown member '%.64s' (accepted: name, datatype, shape, names, "
                         "labels, optional)",
                         where, key);
            goto out;
        }
    }

    name = json_object_get(js, "name");
    if (!json_is_string(name) || !text_ok(json_string_value(name), json_string_length(name))) {
        rc = mw_fail(e, MWE_CONFIG, "%s.name: expected a non-empty string of at most %d bytes",
                     where, SIG_MAX_TEXT);
        goto out;
    }
    spec->name = text_dup(json_string_value(name), json_string_length(name));
    if (spec->name == NULL) {
        rc = mw_fail(e, MWE_NOMEM, "%s.name: out of memory", where);
        goto out;
    }

    if (!accepted_dtypes(accepted, sizeof(accepted))) {
        rc = mw_fail(e, MWE_INTERNAL, "%s.datatype: the list of datatypes is too long", where);
        goto out;
    }
    dt = json_object_get(js, "datatype");
    if (!json_is_string(dt)) {
        rc = mw_fail(e, MWE_CONFIG, "%s.datatype: expected a string (accepted: %s)", where,
                     accepted);
        goto out;
    }
    spec->dtype = dtype_parse(json_string_value(dt), json_string_length(dt));
    if (spec->dtype == MW_DTYPE_INVALID) {
        rc = mw_fail(e, MWE_CONFIG, "%s.datatype: unknown datatype '%.32s' (accepted: %s)", where,
                     json_string_value(dt), accepted);
        goto out;
    }

    shape = json_object_get(js, "shape");
    if (!json_is_array(shape) || json_array_size(shape) < 1 ||
        json_array_size(shape) > MW_MAX_DIMS) {
        rc = mw_fail(e, MWE_CONFIG, "%s.shape: expected an array of 1 to %d dimensions", where,
                     MW_MAX_DIMS);
        goto out;
    }
    spec->ndim = (int32_t)json_array_size(shape);
    for (int32_t d = 0; d < spec->ndim; d++) {
        const json_t *dim = json_array_get(shape, (size_t)d);
        if (!json_is_integer(dim)) {
            rc = mw_fail(e, MWE_CONFIG, "%s.shape[%d]: expected -1 or a positive integer", where,
                         (int)d);
            goto out;
        }
        spec->shape[d] = (int64_t)json_integer_value(dim);
    }
    rc = check_shape(spec, where, e);
    if (rc != 0)
        goto out;

    names = json_object_get(js, "names");
    if (names != NULL) {
        rc = parse_list_json(spec, names, where, "names", &spec->n_names, &spec->names, e);
        if (rc != 0)
            goto out;
    }
    labels = json_object_get(js, "labels");
    if (labels != NULL) {
        rc = parse_list_json(spec, labels, where, "labels", &spec->n_labels, &spec->labels, e);
        if (rc != 0)
            goto out;
    }
    val = json_object_get(js, "optional");
    if (val != NULL && !json_is_boolean(val)) {
        rc = mw_fail(e, MWE_CONFIG, "%s.optional: expected true or false", where);
        goto out;
    }
out:
    return rc;
}

/* Parses signature.<list> (absent: n 0). The specs belong to *specs_out / *n_out as soon as they
 * are allocated: on failure the caller frees what was built. */
static int parse_specs_json(const json_t *signature, const char *list, size_t *n_out,
                            struct mw_tensor_spec **specs_out, struct mw_error *e)
{
    const json_t *arr = json_object_get(signature, list);
    struct mw_tensor_spec *specs;
    char where[SIG_WHERE_MAX];
    size_t n;
    int rc = 0;

    if (arr == NULL)
        goto out;
    if (!json_is_array(arr) || json_array_size(arr) == 0) {
        rc = mw_fail(e, MWE_CONFIG, "signature.%s: expected a non-empty array", list);
        goto out;
    }
    n = json_array_size(arr);
    if (n > SIG_MAX_TENSORS) {
        rc = mw_fail(e, MWE_CONFIG, "signature.%s: %zu tensors, at most %d are allowed", list, n,
                     SIG_MAX_TENSORS);
        goto out;
    }
    specs = calloc(n, sizeof(*specs));
    if (specs == NULL) {
        rc = mw_fail(e, MWE_NOMEM, "signature.%s: out of memory", list);
        goto out;
    }
    *specs_out = specs;
    *n_out = n;
    for (size_t i = 0; i < n; i++) {
        snprintf(where, sizeof(where), "signature.%s[%zu]", list, i);
        rc = parse_spec_json(&specs[i], json_array_get(arr, i), where, e);
        if (rc != 0)
            goto out;
    }
    rc = check_unique_specs(specs, n, list, e);
out:
    return rc;
}

/*
 * Parses model.json's "signature" object ({"inputs":[spec...], "outputs":[spec...]}; each member
 * optional, so that a backend may fill in what is missing, and non-empty when present). sig must be
 * empty on entry; on success it owns heap copies of every string (free with model_sig_fini); on
 * failure it is left unchanged and e says where and what, e.g. "signature.inputs[0].shape[1]:
 * expected -1 or a positive integer". Returns 0, MWE_CONFIG or MWE_NOMEM. Any thread; signature
 * is borrowed.
 */
int model_sig_from_json(struct model_sig *sig, const json_t *signature, struct mw_error *e)
{
    struct model_sig tmp = {0};
    const json_t *val;
    const char *key;
    int rc = 0;

    if (!json_is_object(signature)) {
        rc = mw_fail(e, MWE_CONFIG, "signature: expected an object with inputs and outputs");
        goto out;
    }
    json_object_foreach((json_t *)signature, key, val)
    {
        if (strcmp(key, "inputs") != 0 && strcmp(key, "outputs") != 0) {
            rc = mw_fail(e, MWE_CONFIG,
                         "signature: unknown member '%.64s' (accepted: inputs, outputs)", key);
            goto out;
        }
    }
    rc = parse_specs_json(signature, "inputs", &tmp.n_inputs, &tmp.inputs, e);
    if (rc != 0)
        goto out_fini;
    rc = parse_specs_json(signature, "outputs", &tmp.n_outputs, &tmp.outputs, e);
    if (rc != 0)
        goto out_fini;
    /* "optional" inputs (a record member that may be null or missing) */
    for (size_t i = 0; i < tmp.n_inputs; i++) {
        const json_t *spec = json_array_get(json_object_get(signature, "inputs"), i);
        if (!json_is_true(json_object_get(spec, "optional")))
            continue;
        if (tmp.optional == NULL)
            tmp.optional = calloc(tmp.n_inputs, sizeof(*tmp.optional));
        if (tmp.optional == NULL) {
            rc = mw_fail(e, MWE_NOMEM, "signature.inputs: out of memory");
            goto out_fini;
        }
        tmp.optional[i] = true;
    }
    *sig = tmp;
    goto out;

out_fini:
    model_sig_fini(&tmp);
out:
    return rc;
}

/* ---- deep copy ------------------------------------------------------------------------------- */

static int copy_list(struct mw_tensor_spec *dst, const char *where, const char *member, size_t n,
                     const char *const *src, size_t *n_out, const char *const **list_out,
                     struct mw_error *e)
{
    char **list;
    int rc = 0;

    if (n == 0)
        goto out;
    if (src == NULL) {
        rc = mw_fail(e, MWE_CONFIG, "%s.%s: %zu %s declared but the list is NULL", where, member, n,
                     member);
        goto out;
    }
    list = calloc(n, sizeof(*list));
    if (list == NULL) {
        rc = mw_fail(e, MWE_NOMEM, "%s.%s: out of memory", where, member);
        goto out;
    }
    *list_out = (const char *const *)list;
    *n_out = n;
    for (size_t i = 0; i < n; i++) {
        size_t len = src[i] != NULL ? strnlen(src[i], SIG_MAX_TEXT + 1) : 0;
        if (!text_ok(src[i], len)) {
            rc = mw_fail(e, MWE_CONFIG,
                         "%s.%s[%zu]: expected a non-empty string of at most %d bytes", where,
                         member, i, SIG_MAX_TEXT);
            goto out;
        }
        list[i] = text_dup(src[i], len);
        if (list[i] == NULL) {
            rc = mw_fail(e, MWE_NOMEM, "%s.%s: out of memory", where, member);
            goto out;
        }
    }
    rc = check_list(dst, where, member, n, *list_out, e);
out:
    return rc;
}

static int copy_spec(struct mw_tensor_spec *dst, const struct mw_tensor_spec *src,
                     const char *where, struct mw_error *e)
{
    size_t len = src->name != NULL ? strnlen(src->name, SIG_MAX_TEXT + 1) : 0;
    int rc = 0;

    if (!text_ok(src->name, len)) {
        rc = mw_fail(e, MWE_CONFIG, "%s.name: expected a non-empty string of at most %d bytes",
                     where, SIG_MAX_TEXT);
        goto out;
    }
    dst->name = text_dup(src->name, len);
    if (dst->name == NULL) {
        rc = mw_fail(e, MWE_NOMEM, "%s.name: out of memory", where);
        goto out;
    }
    if (dtype_size(src->dtype) == 0) {
        rc = mw_fail(e, MWE_CONFIG, "%s.datatype: unknown datatype %d", where, (int)src->dtype);
        goto out;
    }
    dst->dtype = src->dtype;
    dst->ndim = src->ndim;
    if (src->ndim >= 1 && src->ndim <= MW_MAX_DIMS)
        memcpy(dst->shape, src->shape, (size_t)src->ndim * sizeof(src->shape[0]));
    rc = check_shape(dst, where, e);
    if (rc != 0)
        goto out;
    rc = copy_list(dst, where, "names", src->n_names, src->names, &dst->n_names, &dst->names, e);
    if (rc != 0)
        goto out;
    rc = copy_list(dst, where, "labels", src->n_labels, src->labels, &dst->n_labels, &dst->labels,
                   e);
out:
    return rc;
}

static int copy_specs(const struct mw_tensor_spec *src, size_t n, const char *list, size_t *n_out,
                      struct mw_tensor_spec **specs_out, struct mw_error *e)
{
    struct mw_tensor_spec *specs;
    char where[SIG_WHERE_MAX];
    int rc = 0;

    if (n == 0)
        goto out;
    if (src == NULL) {
        rc = mw_fail(e, MWE_CONFIG, "signature.%s: %zu tensors declared but the list is NULL", list,
                     n);
        goto out;
    }
    if (n > SIG_MAX_TENSORS) {
        rc = mw_fail(e, MWE_CONFIG, "signature.%s: %zu tensors, at most %d are allowed", list, n,
                     SIG_MAX_TENSORS);
        goto out;
    }
    specs = calloc(n, sizeof(*specs));
    if (specs == NULL) {
        rc = mw_fail(e, MWE_NOMEM, "signature.%s: out of memory", list);
        goto out;
    }
    *specs_out = specs;
    *n_out = n;
    for (size_t i = 0; i < n; i++) {
        snprintf(where, sizeof(where), "signature.%s[%zu]", list, i);
        rc = copy_spec(&specs[i], &src[i], where, e);
        if (rc != 0)
            goto out;
    }
    rc = check_unique_specs(specs, n, list, e);
out:
    return rc;
}

/*
 * Deep copy of src into dst (which must be empty), checked with the same rules and messages as
 * model_sig_from_json: used for a plug-in descriptor's static signature, whose memory belongs to
 * the plug-in. Returns 0 (dst owns heap copies; free with model_sig_fini), or MWE_CONFIG /
 * MWE_NOMEM with e naming the place (dst unchanged). Any thread; src is borrowed.
 */
int model_sig_copy(struct model_sig *dst, const struct model_sig *src, struct mw_error *e)
{
    struct model_sig tmp = {0};
    int rc;

    rc = copy_specs(src->inputs, src->n_inputs, "inputs", &tmp.n_inputs, &tmp.inputs, e);
    if (rc != 0)
        goto out_fini;
    rc = copy_specs(src->outputs, src->n_outputs, "outputs", &tmp.n_outputs, &tmp.outputs, e);
    if (rc != 0)
        goto out_fini;
    if (src->optional != NULL && tmp.n_inputs > 0) {
        tmp.optional = calloc(tmp.n_inputs, sizeof(*tmp.optional));
        if (tmp.optional == NULL) {
            rc = mw_fail(e, MWE_NOMEM, "signature.inputs: out of memory");
            goto out_fini;
        }
        memcpy(tmp.optional, src->optional, tmp.n_inputs * sizeof(*tmp.optional));
    }
    *dst = tmp;
    goto out;

out_fini:
    model_sig_fini(&tmp);
out:
    return rc;
}

/*
 * Frees everything a signature filled by model_sig_from_json / model_sig_copy owns (a partly built
 * one too) and zeroes it. NULL-safe. The caller must be its only user.
 */
void model_sig_fini(struct model_sig *sig)
{
    if (sig != NULL) {
        specs_free(sig->inputs, sig->n_inputs);
        specs_free(sig->outputs, sig->n_outputs);
        free(sig->optional);
        memset(sig, 0, sizeof(*sig));
    }
}
