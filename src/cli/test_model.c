/*
 * `modelwrap test-model DIR`: the model team's regression test. It loads one model folder with
 * its real backend, runs the inputs of its reference.json through the same records decoder the
 * native API uses, and compares every output element with the expected one; for a template-style
 * Python model (answers of any JSON shape), it runs each case's request body and compares the
 * answer with the expected one.
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/core.h"
#include "codec/codec.h"

#define DEFAULT_ABS_TOL 1e-6
#define DEFAULT_REL_TOL 0.0

struct compared {
    size_t out;           /* index in the model's outputs */
    const json_t *expect; /* the file's array of expected values, one per input */
};

struct tmctx {
    struct model *m;
    const char *ref_path;
    double abs_tol, rel_tol;
    size_t n_cmp;
    struct compared cmp[64];
    size_t mismatches;
};

static int usage_error(const char *msg)
{
    fprintf(stderr,
            "modelwrap test-model: %s\nusage: modelwrap test-model DIR [--reference FILE]\n", msg);
    return 2;
}

/* A non-negative number member of tol, or dflt when absent. -1 when it is not one. */
static double tol_member(const json_t *tol, const char *key, double dflt)
{
    const json_t *v = json_object_get(tol, key);

    if (v == NULL)
        return dflt;
    if (!json_is_number(v) || !(json_number_value(v) >= 0) || !isfinite(json_number_value(v)))
        return -1;
    return json_number_value(v);
}

/* Reads "tolerance" ({"absolute": A, "relative": R}, both optional). 0 or 2 (printed). */
static int read_tolerance(struct tmctx *t, const json_t *ref)
{
    const json_t *tol = json_object_get(ref, "tolerance");

    if (tol != NULL && !json_is_object(tol)) {
        fprintf(stderr, "%s: \"tolerance\": expected {\"absolute\": A, \"relative\": R}\n",
                t->ref_path);
        return 2;
    }
    t->abs_tol = tol_member(tol, "absolute", DEFAULT_ABS_TOL);
    t->rel_tol = tol_member(tol, "relative", DEFAULT_REL_TOL);
    if (t->abs_tol < 0 || t->rel_tol < 0) {
        fprintf(stderr, "%s: \"tolerance\": \"absolute\" and \"relative\" must be numbers >= 0\n",
                t->ref_path);
        return 2;
    }
    return 0;
}

/* Reads "tolerance" and "outputs" and picks the outputs to compare. 0 or 2 (printed). */
static int read_reference(struct tmctx *t, const json_t *ref, size_t n_inputs)
{
    const json_t *map = json_object_get(ref, "outputs");
    const struct model_sig *sig = model_get_signature(t->m);
    const char *key;
    const json_t *v;

    if (read_tolerance(t, ref) != 0)
        return 2;
    if (map != NULL && !json_is_object(map)) {
        fprintf(
            stderr,
            "%s: \"outputs\": expected an object {\"<output name>\": \"<member of this file>\"}\n",
            t->ref_path);
        return 2;
    }
    json_object_foreach((json_t *)map, key, v)
    {
        bool known = false;
        for (size_t k = 0; k < sig->n_outputs; k++)
            known = known || strcmp(sig->outputs[k].name, key) == 0;
        if (!known || !json_is_string(v)) {
            fprintf(stderr, "%s: \"outputs\".\"%s\": %s\n", t->ref_path, key,
                    known ? "expected the name of a member of this file"
                          : "the model has no output of that name");
            return 2;
        }
    }
    for (size_t k = 0; k < sig->n_outputs && t->n_cmp < MW_ARRAY_LEN(t->cmp); k++) {
        const char *member = sig->outputs[k].name;
        if (map != NULL) {
            v = json_object_get(map, sig->outputs[k].name);
            if (v == NULL)
                continue;
            member = json_string_value(v);
        }
        v = json_object_get(ref, member);
        if (v == NULL) {
            if (map == NULL)
                continue;
            fprintf(stderr, "%s: no member \"%s\" (the expected values of output '%s')\n",
                    t->ref_path, member, sig->outputs[k].name);
            return 2;
        }
        if (!json_is_array(v) || json_array_size(v) != n_inputs) {
            fprintf(stderr, "%s: \"%s\": expected an array of %zu values, one per input\n",
                    t->ref_path, member, n_inputs);
            return 2;
        }
        t->cmp[t->n_cmp].out = k;
        t->cmp[t->n_cmp].expect = v;
        t->n_cmp++;
    }
    if (t->n_cmp == 0) {
        fprintf(stderr,
                "%s: no expected values for any output of the model (members named after its "
                "outputs, or an \"outputs\" map)\n",
                t->ref_path);
        return 2;
    }
    return 0;
}

/* One input of the file as a record: an object as it is, an array as the values of the record's
 * members in signature order. New reference, NULL (printed) when the row cannot be one. */
static json_t *row_record(const struct tmctx *t, const json_t *row, size_t r)
{
    const struct model_sig *sig = model_get_signature(t->m);
    const char *const *names = NULL;
    size_t n_names = 0;
    json_t *rec;

    if (json_is_object(row))
        return json_incref((json_t *)row);
    if (!json_is_array(row)) {
        printf("inputs[%zu]: expected an object (a record) or an array of its values\n", r);
        return NULL;
    }
    if (sig->n_inputs == 1 && sig->inputs[0].n_names > 0) {
        names = sig->inputs[0].names;
        n_names = sig->inputs[0].n_names;
    }
    if (names == NULL ? json_array_size(row) != sig->n_inputs : json_array_size(row) != n_names) {
        printf("inputs[%zu]: %zu values, but a record of this model has %zu members\n", r,
               json_array_size(row), names == NULL ? sig->n_inputs : n_names);
        return NULL;
    }
    rec = json_object();
    for (size_t j = 0; rec != NULL && j < json_array_size(row); j++) {
        const char *name = names != NULL ? names[j] : sig->inputs[j].name;
        if (json_object_set(rec, name, json_array_get(row, j)) != 0) {
            json_decref(rec);
            rec = NULL;
        }
    }
    if (rec == NULL)
        printf("inputs[%zu]: out of memory\n", r);
    return rec;
}

/* Appends the leaves of v (nested arrays flattened, in order) to out. */
static int flatten(const json_t *v, json_t *out)
{
    if (!json_is_array(v))
        return json_array_append((json_t *)out, (json_t *)v);
    for (size_t i = 0; i < json_array_size(v); i++) {
        if (flatten(json_array_get(v, i), out) != 0)
            return -1;
    }
    return 0;
}

/* Compares element idx of output tensor o with the expected leaf want; prints a mismatch. */
static bool element_matches(struct tmctx *t, size_t r, const char *oname, const struct mw_tensor *o,
                            size_t idx, const json_t *want)
{
    char got[DTYPE_NUM_CAP], wtext[DTYPE_NUM_CAP], clip[MW_CLIP_CAP];
    double g, w, diff;

    if (o->dtype == MW_BYTES) {
        const struct mw_bytes *b = &((const struct mw_bytes *)o->data)[idx];
        if (json_is_string(want) && json_string_length(want) == b->len &&
            memcmp(json_string_value(want), b->ptr, b->len) == 0)
            return true;
        printf("inputs[%zu]: %s[%zu]: got \"%s\"", r, oname, idx,
               mw_clip(clip, (const char *)b->ptr, b->len));
        if (json_is_string(want))
            printf(", expected \"%s\"\n",
                   mw_clip(clip, json_string_value(want), json_string_length(want)));
        else
            printf(", expected a string in the reference file\n");
        return false;
    }
    if (!dtype_format_number(got, o->dtype, o->data, idx)) {
        printf("inputs[%zu]: %s[%zu]: the output's datatype cannot be compared\n", r, oname, idx);
        return false;
    }
    if (o->dtype == MW_BOOL) {
        if (json_is_boolean(want) && (json_is_true(want) == (strcmp(got, "true") == 0)))
            return true;
        printf("inputs[%zu]: %s[%zu]: got %s, expected %s\n", r, oname, idx, got,
               json_is_boolean(want) ? (json_is_true(want) ? "true" : "false")
                                     : "a boolean in the reference file");
        return false;
    }
    if (strcmp(got, "null") == 0) { /* not finite */
        if (json_is_null(want))
            return true;
        printf("inputs[%zu]: %s[%zu]: got a value that is not finite\n", r, oname, idx);
        return false;
    }
    if (!json_is_number(want)) {
        printf("inputs[%zu]: %s[%zu]: got %s, expected a number in the reference file\n", r, oname,
               idx, got);
        return false;
    }
    g = strtod(got, NULL);
    w = json_number_value(want);
    diff = fabs(g - w);
    if (diff <= t->abs_tol + t->rel_tol * fabs(w))
        return true;
    dtype_format_float(wtext, w, false);
    printf("inputs[%zu]: %s[%zu]: got %s, expected %s (difference %.3g, tolerance %.3g)\n", r,
           oname, idx, got, wtext, diff, t->abs_tol + t->rel_tol * fabs(w));
    return false;
}

/* Runs input r and compares its outputs. Returns the mismatches found (a refused or failed
 * input counts as one). */
static size_t run_row(struct tmctx *t, const json_t *row, size_t r)
{
    struct mw_error e = {0};
    struct model_call *c = NULL;
    json_t *rec = row_record(t, row, r), *body = NULL, *leaves = NULL;
    size_t bad = 0;
    int rc;

    if (rec == NULL)
        return 1;
    body = json_pack("{s:[o]}", "data", rec); /* steals rec */
    c = body != NULL ? model_call_new(t->m, 0) : NULL;
    if (c == NULL) {
        printf("inputs[%zu]: out of memory\n", r);
        bad = 1;
        goto out;
    }
    rc = records_decode(c, body, 1, &e);
    if (rc != 0) {
        printf("inputs[%zu]: the model refuses it: %s\n", r, e.msg);
        bad = 1;
        goto out;
    }
    rc = model_call_run(c);
    if (rc != 0) {
        printf("inputs[%zu]: the model failed: %s\n", r,
               model_call_errmsg(c)[0] != '\0' ? model_call_errmsg(c) : mw_strerror(rc));
        bad = 1;
        goto out;
    }
    for (size_t k = 0; k < t->n_cmp; k++) {
        const struct mw_tensor *o = model_call_output_at(c, t->cmp[k].out);
        const char *oname = model_get_signature(t->m)->outputs[t->cmp[k].out].name;
        size_t n_el = 1;
        for (int32_t d = 0; d < o->ndim; d++)
            n_el *= (size_t)o->shape[d];
        json_decref(leaves);
        leaves = json_array();
        if (leaves == NULL || flatten(json_array_get(t->cmp[k].expect, r), leaves) != 0) {
            printf("inputs[%zu]: out of memory\n", r);
            bad++;
            goto out;
        }
        if (json_array_size(leaves) != n_el) {
            printf("inputs[%zu]: %s: got %zu values, the reference file expects %zu\n", r, oname,
                   n_el, json_array_size(leaves));
            bad++;
            continue;
        }
        for (size_t i = 0; i < n_el; i++)
            bad += !element_matches(t, r, oname, o, i, json_array_get(leaves, i));
    }
out:
    json_decref(leaves);
    if (c != NULL)
        model_call_release(c);
    json_decref(body);
    return bad;
}

/* ---- template-style models: {"cases": [{"request": BODY, "predictions": ANSWER}, ...]} ---- */

/* Compares an answer with the expected value at path: numbers within the tolerance, an expected
 * object on its own members (members it does not list are not compared: a reference may leave
 * out values that change from one training to the next), arrays element by element, anything
 * else equal. Prints each difference; returns how many. */
static size_t value_diff(const struct tmctx *t, size_t c, const char *path, const json_t *got,
                        const json_t *want)
{
    char sub[256];
    size_t bad = 0;

    if (json_is_number(want) && json_is_number(got)) {
        double w = json_number_value(want), g = json_number_value(got);
        if (fabs(g - w) <= t->abs_tol + t->rel_tol * fabs(w))
            return 0;
        printf("cases[%zu]: %s: got %.17g, expected %.17g (tolerance %.3g)\n", c, path, g, w,
               t->abs_tol + t->rel_tol * fabs(w));
        return 1;
    }
    if (json_is_object(want) && json_is_object(got)) {
        const char *key;
        const json_t *v;
        json_object_foreach((json_t *)want, key, v)
        {
            const json_t *g = json_object_get(got, key);
            snprintf(sub, sizeof(sub), "%s.%s", path, key);
            if (g == NULL) {
                printf("cases[%zu]: %s: missing from the answer\n", c, sub);
                bad++;
            } else
                bad += value_diff(t, c, sub, g, v);
        }
        return bad;
    }
    if (json_is_array(want) && json_is_array(got)) {
        if (json_array_size(got) != json_array_size(want)) {
            printf("cases[%zu]: %s: got %zu entries, expected %zu\n", c, path,
                   json_array_size(got), json_array_size(want));
            return 1;
        }
        for (size_t i = 0; i < json_array_size(want); i++) {
            snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
            bad += value_diff(t, c, sub, json_array_get(got, i), json_array_get(want, i));
        }
        return bad;
    }
    if (json_equal(got, want))
        return 0;
    char *g = json_dumps(got, JSON_COMPACT | JSON_ENCODE_ANY);
    char *w = json_dumps(want, JSON_COMPACT | JSON_ENCODE_ANY);
    char gc[MW_CLIP_CAP], wc[MW_CLIP_CAP];
    printf("cases[%zu]: %s: got %s, expected %s\n", c, path,
           mw_clip(gc, g ? g : "?", g ? strlen(g) : 1), mw_clip(wc, w ? w : "?", w ? strlen(w) : 1));
    free(g);
    free(w);
    return 1;
}

/* Runs case i: its request body exactly as a client would send it to /api/predict (checked
 * against the model's signature first, as the server does), and compares the answer. Returns the
 * mismatches found (a refused or failed request counts as one). */
static size_t run_case(struct tmctx *t, const json_t *kase, size_t i)
{
    const json_t *request = json_object_get(kase, "request");
    const json_t *want = json_object_get(kase, "predictions");
    struct mw_error e = {0};
    struct model_call *c = NULL;
    json_t *got = NULL;
    char *text = NULL;
    const char *answer;
    size_t bad = 1, answer_len;
    bool nomem;
    int rc;

    if (!json_is_object(request) || want == NULL) {
        printf("cases[%zu]: expected {\"request\": {...}, \"predictions\": ...}\n", i);
        return 1;
    }
    text = json_dumps(request, JSON_COMPACT);
    c = text != NULL ? model_call_new(t->m, 0) : NULL;
    if (c == NULL) {
        printf("cases[%zu]: out of memory\n", i);
        goto out;
    }
    nomem = model_call_set_body(c, text, strlen(text)) != 0;
    rc = model_get_signature(t->m)->n_inputs == 0
             ? 0
             : records_decode(c, request, model_get_max_records(t->m), &e);
    if (nomem || rc != 0) {
        printf("cases[%zu]: the model refuses it: %s\n", i, !nomem ? e.msg : "out of memory");
        goto out;
    }
    rc = model_call_run(c);
    answer = model_call_answer(c, &answer_len);
    if (rc != 0 || answer == NULL) {
        printf("cases[%zu]: the model failed: %s\n", i,
               model_call_errmsg(c)[0] != '\0' ? model_call_errmsg(c)
                                               : mw_strerror(rc ? rc : MWE_MODEL_FAILED));
        goto out;
    }
    got = json_loadb(answer, answer_len, JSON_DECODE_ANY, NULL);
    if (got == NULL) {
        printf("cases[%zu]: the answer is not JSON\n", i);
        goto out;
    }
    bad = value_diff(t, i, "predictions", got, want);
out:
    json_decref(got);
    if (c != NULL)
        model_call_release(c);
    free(text);
    return bad;
}

/* The cases of a template-style model's reference file. Returns the exit status. */
static int test_cases(struct tmctx *t, const json_t *ref)
{
    const json_t *cases = json_object_get(ref, "cases");
    size_t n = json_array_size(cases);

    if (!model_answers_json(t->m)) {
        fprintf(stderr,
                "%s: \"cases\" (request bodies and whole answers) are for template-style Python "
                "models; this model answers tensors: give \"inputs\" and the expected outputs\n",
                t->ref_path);
        return 2;
    }
    if (read_tolerance(t, ref) != 0)
        return 2;
    for (size_t i = 0; i < n; i++)
        t->mismatches += run_case(t, json_array_get(cases, i), i);
    printf("test-model: %s version %s (%s): %zu cases; tolerance %.3g + %.3g x |expected|: %zu "
           "mismatch%s: %s\n",
           model_get_name(t->m), model_get_version(t->m), model_get_platform(t->m), n, t->abs_tol,
           t->rel_tol, t->mismatches, t->mismatches == 1 ? "" : "es",
           t->mismatches ? "FAILED" : "OK");
    return t->mismatches ? 1 : 0;
}

int cli_test_model(int argc, char **argv, int first)
{
    const struct model_opts defaults = {0, 1024, 30000, 10000};
    struct tmctx t = {0};
    struct mw_error e = {0};
    const char *dir = NULL;
    char *ref_own = NULL;
    const json_t *inputs;
    json_t *ref = NULL;
    json_error_t jerr;
    size_t n = 0;
    int ret = 2;

    for (int i = first; i < argc; i++) {
        if (strcmp(argv[i], "--reference") == 0 && i + 1 < argc)
            t.ref_path = argv[++i];
        else if (strncmp(argv[i], "--reference=", 12) == 0)
            t.ref_path = argv[i] + 12;
        else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf(
                "usage: modelwrap test-model DIR [--reference FILE]\n"
                "Loads the model folder DIR, runs the inputs (or the request bodies of the cases)\n"
                "of DIR/reference.json (or FILE) and compares its outputs with the expected ones\n"
                "(docs/deploy.md, \"Model tests\").\n"
                "Exit status: 0 all match, 1 a mismatch, 2 the model or the file is unusable.\n");
            return 0;
        } else if (argv[i][0] == '-' || dir != NULL)
            return usage_error("unexpected argument");
        else
            dir = argv[i];
    }
    if (dir == NULL)
        return usage_error("the model folder is missing");
    log_set_level(LOG_WARN);
    if (t.ref_path == NULL) {
        size_t len = strlen(dir) + sizeof("/reference.json");
        ref_own = malloc(len);
        if (ref_own == NULL)
            goto out;
        snprintf(ref_own, len, "%s/reference.json", dir);
        t.ref_path = ref_own;
    }
    ref = json_load_file(t.ref_path, JSON_REJECT_DUPLICATES, &jerr);
    if (ref == NULL || !json_is_object(ref)) {
        fprintf(stderr, "%s: %s\n", t.ref_path, ref == NULL ? jerr.text : "expected a JSON object");
        goto out;
    }
    inputs = json_object_get(ref, "inputs");
    n = json_array_size(inputs);
    if (n == 0 && json_array_size(json_object_get(ref, "cases")) == 0) {
        fprintf(stderr,
                "%s: expected a non-empty array \"inputs\" (with the expected outputs) or "
                "\"cases\" (request bodies and answers)\n",
                t.ref_path);
        goto out;
    }
    t.m = model_load(dir, &defaults, &e);
    if (t.m == NULL) {
        fprintf(stderr, "modelwrap test-model: %s\n", e.msg);
        goto out;
    }
    if (n == 0) {
        ret = test_cases(&t, ref);
        goto out;
    }
    if (read_reference(&t, ref, n) != 0)
        goto out;
    for (size_t r = 0; r < n; r++)
        t.mismatches += run_row(&t, json_array_get(inputs, r), r);
    printf("test-model: %s version %s (%s): %zu inputs, outputs", model_get_name(t.m),
           model_get_version(t.m), model_get_platform(t.m), n);
    for (size_t k = 0; k < t.n_cmp; k++)
        printf("%s %s", k ? "," : "", model_get_signature(t.m)->outputs[t.cmp[k].out].name);
    printf("; tolerance %.3g + %.3g x |expected|: %zu mismatch%s: %s\n", t.abs_tol, t.rel_tol,
           t.mismatches, t.mismatches == 1 ? "" : "es", t.mismatches ? "FAILED" : "OK");
    ret = t.mismatches ? 1 : 0;
out:
    if (t.m != NULL)
        model_free(t.m);
    json_decref(ref);
    free(ref_own);
    return ret;
}
