/*
 * textclf: an example modelwrap model plug-in, the C counterpart of the Python template's Model
 * class (state + init + run). A support-ticket classifier: keyword weights per label, summed and
 * turned into probabilities by softmax. Built only against include/modelwrap/model.h and libc.
 */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "modelwrap/model.h"

#define N_LABELS 3
#define MAX_WORD 32      /* longer tokens are not in any vocabulary: skipped */
#define MAX_LINE 256     /* bytes per vocabulary line */
#define MAX_WORDS 100000 /* vocabulary lines */
#define MAX_PATH 4096
#define MAX_WEIGHT 1e6 /* |weight|: keeps the sums finite in float */

static const char *const label_names[N_LABELS] = {"billing", "technical", "account"};

/* The signature: what the Python template declared with type hints. Dimension 0 is the batch. */
static const struct mw_tensor_spec inputs[] = {
    {.name = "description", .dtype = MW_BYTES, .ndim = 1, .shape = {-1}},
};
static const struct mw_tensor_spec outputs[] = {
    {.name = "label", .dtype = MW_BYTES, .ndim = 1, .shape = {-1}},
    {.name = "probabilities",
     .dtype = MW_FP32,
     .ndim = 2,
     .shape = {-1, N_LABELS},
     .n_labels = N_LABELS,
     .labels = label_names},
};

/* One vocabulary word and its weight for each label. */
struct word {
    char text[MAX_WORD + 1];
    float weight[N_LABELS];
    unsigned seen; /* bit per label given in the file, to refuse duplicates */
};

/* The model state: read-only after load, so run() is thread-safe without locks. */
struct textclf {
    size_t n;
    struct word *words; /* sorted by text */
};

/* ---- config: the few members of the flat JSON object the host passes ------------------------ */

static const char *skip_ws(const char *p)
{
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
        p++;
    return p;
}

/* p is at '"'; returns the byte after the closing quote, or NULL when the text ends first. */
static const char *skip_string(const char *p)
{
    for (p++; *p != '"'; p++) {
        if (*p == '\0' || (*p == '\\' && *++p == '\0'))
            return NULL;
    }
    return p + 1;
}

/* Skips one value (nested ones too, up to 64 levels); NULL when malformed. */
static const char *skip_value(const char *p)
{
    int depth = 0;

    do {
        p = skip_ws(p);
        if (*p == '"') {
            p = skip_string(p);
            if (p == NULL)
                return NULL;
        } else if (*p == '{' || *p == '[') {
            if (++depth > 64)
                return NULL;
            p++;
        } else if (*p == '}' || *p == ']') {
            if (--depth < 0)
                return NULL;
            p++;
        } else if (*p == ',' || *p == ':') {
            if (depth == 0)
                return NULL;
            p++;
        } else if (isalnum((unsigned char)*p) || *p == '-' || *p == '+' || *p == '.') {
            while (isalnum((unsigned char)*p) || *p == '-' || *p == '+' || *p == '.')
                p++;
        } else {
            return NULL;
        }
    } while (depth > 0);
    return p;
}

/* Finds top-level member `key` of a JSON object: 1 and its value's text in *val and *len, 0 when
 * it is absent, -1 when the text is not an object. */
static int config_member(const char *json, const char *key, const char **val, size_t *len)
{
    const char *p = skip_ws(json), *k, *end;

    if (*p != '{')
        return -1;
    p = skip_ws(p + 1);
    if (*p == '}')
        return 0;
    for (;;) {
        if (*p != '"')
            return -1;
        k = p + 1;
        p = skip_string(p);
        if (p == NULL)
            return -1;
        end = p - 1;
        p = skip_ws(p);
        if (*p != ':')
            return -1;
        *val = skip_ws(p + 1);
        p = skip_value(*val);
        if (p == NULL)
            return -1;
        if ((size_t)(end - k) == strlen(key) && memcmp(k, key, (size_t)(end - k)) == 0) {
            *len = (size_t)(p - *val);
            return 1;
        }
        p = skip_ws(p);
        if (*p == '}')
            return 0;
        if (*p != ',')
            return -1;
        p = skip_ws(p + 1);
    }
}

/* Decodes a JSON string value (escapes \" \\ \/ only: a file name needs no others). */
static int config_string(const char *val, size_t len, char *out, size_t size)
{
    size_t n = 0;

    if (len < 2 || val[0] != '"' || val[len - 1] != '"')
        return -1;
    for (size_t i = 1; i + 1 < len; i++) {
        char ch = val[i];

        if (ch == '\\') {
            ch = val[++i];
            if (ch != '"' && ch != '\\' && ch != '/')
                return -1;
        }
        if (n + 1 >= size)
            return -1;
        out[n++] = ch;
    }
    out[n] = '\0';
    return n > 0 ? 0 : -1;
}

/* ---- vocabulary ---------------------------------------------------------------------------- */

static bool is_letter(int ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

static int cmp_word(const void *a, const void *b)
{
    return strcmp(((const struct word *)a)->text, ((const struct word *)b)->text);
}

static int cmp_key(const void *key, const void *w)
{
    return strcmp(key, ((const struct word *)w)->text);
}

static int fail(const struct mw_host *host, int status, const char *msg)
{
    host->log(NULL, MW_LOG_ERROR, msg);
    return status;
}

/* Parses one `word<TAB>label<TAB>weight` line into w. Returns NULL or what is wrong. */
static const char *parse_line(char *line, struct word *w)
{
    char *label, *weight, *end;
    size_t n = 0;
    double v;
    int k;

    label = strchr(line, '\t');
    weight = label ? strchr(label + 1, '\t') : NULL;
    if (weight == NULL)
        return "expected word<TAB>label<TAB>weight";
    *label++ = '\0';
    *weight++ = '\0';
    for (n = 0; line[n] != '\0'; n++) {
        if (n >= MAX_WORD || !is_letter(line[n]))
            return "the word must be 1-32 ASCII letters";
        w->text[n] = (char)(line[n] | 0x20); /* ASCII lower case */
    }
    if (n == 0)
        return "the word must be 1-32 ASCII letters";
    w->text[n] = '\0';
    for (k = 0; k < N_LABELS && strcmp(label, label_names[k]) != 0; k++)
        ;
    if (k == N_LABELS)
        return "unknown label (expected billing, technical or account)";
    errno = 0;
    v = strtod(weight, &end);
    if (end == weight || *end != '\0' || errno != 0 || !(v >= -MAX_WEIGHT && v <= MAX_WEIGHT))
        return "the weight must be a number between -1e6 and 1e6";
    memset(w->weight, 0, sizeof(w->weight));
    w->weight[k] = (float)v;
    w->seen = 1u << k;
    return NULL;
}

/* Sorts t->words and merges the lines of one word; refuses a word given twice for one label. */
static int merge_words(const struct mw_host *host, struct textclf *t)
{
    char msg[128];
    size_t out = 0;

    qsort(t->words, t->n, sizeof(*t->words), cmp_word);
    for (size_t i = 0; i < t->n; i++) {
        struct word *w = &t->words[i];

        if (out > 0 && strcmp(t->words[out - 1].text, w->text) == 0) {
            struct word *into = &t->words[out - 1];

            if (into->seen & w->seen) {
                snprintf(msg, sizeof(msg), "vocabulary: word '%s' is given twice for one label",
                         w->text);
                return fail(host, MW_ERR_INTERNAL, msg);
            }
            for (int k = 0; k < N_LABELS; k++)
                into->weight[k] += w->weight[k];
            into->seen |= w->seen;
        } else {
            t->words[out++] = *w;
        }
    }
    t->n = out;
    return MW_OK;
}

static int load_vocabulary(const struct mw_host *host, const char *path, struct textclf *t)
{
    char line[MAX_LINE + 2], msg[MAX_PATH + 128];
    size_t cap = 0, len;
    unsigned long lineno = 0;
    const char *why;
    struct word *grown;
    int rc = MW_ERR_INTERNAL;
    FILE *f;

    f = fopen(path, "r");
    if (f == NULL) {
        snprintf(msg, sizeof(msg), "cannot open the vocabulary %s: %s", path, strerror(errno));
        return fail(host, MW_ERR_INTERNAL, msg);
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        lineno++;
        len = strlen(line);
        if (len > 0 && line[len - 1] == '\n')
            line[--len] = '\0';
        if (len > 0 && line[len - 1] == '\r')
            line[--len] = '\0';
        if (len > MAX_LINE) {
            why = "line longer than 256 bytes";
            goto out_bad_line;
        }
        if (len == 0 || line[0] == '#')
            continue;
        if (t->n == MAX_WORDS) {
            why = "more than 100000 lines";
            goto out_bad_line;
        }
        if (t->n == cap) {
            cap = cap ? cap * 2 : 64;
            grown = realloc(t->words, cap * sizeof(*grown));
            if (grown == NULL) {
                rc = fail(host, MW_ERR_NOMEM, "out of memory reading the vocabulary");
                goto out_close;
            }
            t->words = grown;
        }
        why = parse_line(line, &t->words[t->n]);
        if (why != NULL)
            goto out_bad_line;
        t->n++;
    }
    if (ferror(f)) {
        snprintf(msg, sizeof(msg), "cannot read the vocabulary %s", path);
        rc = fail(host, MW_ERR_INTERNAL, msg);
        goto out_close;
    }
    if (t->n == 0) {
        snprintf(msg, sizeof(msg), "the vocabulary %s has no words", path);
        rc = fail(host, MW_ERR_INTERNAL, msg);
        goto out_close;
    }
    rc = merge_words(host, t);
    goto out_close;

out_bad_line:
    snprintf(msg, sizeof(msg), "%s line %lu: %s", path, lineno, why);
    rc = fail(host, MW_ERR_INTERNAL, msg);
out_close:
    fclose(f);
    return rc;
}

/* ---- the three entry points --------------------------------------------------------------- */

static void textclf_free(void *state)
{
    struct textclf *t = state;

    if (t != NULL)
        free(t->words);
    free(t);
}

static int textclf_load(const struct mw_host *host, const char *dir, const char *config_json,
                        void **state)
{
    char name[MAX_PATH] = "vocabulary.tsv", path[MAX_PATH];
    const char *val;
    size_t len;
    struct textclf *t;
    int found, n, rc;

    found = config_member(config_json, "vocabulary", &val, &len);
    if (found < 0)
        return fail(host, MW_ERR_INTERNAL, "config is not a JSON object");
    if (found == 1 && config_string(val, len, name, sizeof(name)) != 0)
        return fail(host, MW_ERR_INTERNAL, "config.vocabulary: expected a file name");
    if (name[0] == '/')
        n = snprintf(path, sizeof(path), "%s", name);
    else
        n = snprintf(path, sizeof(path), "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= sizeof(path))
        return fail(host, MW_ERR_INTERNAL, "config.vocabulary: the path is too long");

    t = calloc(1, sizeof(*t));
    if (t == NULL)
        return fail(host, MW_ERR_NOMEM, "out of memory");
    rc = load_vocabulary(host, path, t);
    if (rc != MW_OK) {
        textclf_free(t);
        return rc;
    }
    *state = t;
    return MW_OK;
}

/* e^x for -80 <= x <= 0 without libm, so the plug-in needs nothing but libc: e^x = (e^(x/256))^256,
 * with e^(x/256) (|x/256| <= 0.32) from 12 terms of its Taylor series. Relative error < 1e-12. */
static double exp_nonpositive(double x)
{
    double r, term = 1.0, sum = 1.0;

    if (x < -80.0)
        return 0.0; /* below 2e-35 next to the largest term, which is 1 */
    r = x / 256.0;
    for (int i = 1; i <= 12; i++) {
        term *= r / i;
        sum += term;
    }
    for (int i = 0; i < 8; i++)
        sum *= sum;
    return sum;
}

/* Sums the weights of the known words of one description, then softmax and argmax. */
static int classify(const struct textclf *t, struct mw_bytes text, float *prob)
{
    double score[N_LABELS] = {0}, e[N_LABELS], max, sum = 0.0;
    char tok[MAX_WORD + 1];
    size_t n = 0;
    int best = 0;
    bool too_long = false;

    for (size_t i = 0; i <= text.len; i++) {
        int ch = i < text.len ? text.ptr[i] : 0;

        if (is_letter(ch)) {
            if (n < MAX_WORD)
                tok[n++] = (char)(ch | 0x20);
            else
                too_long = true;
            continue;
        }
        if (n > 0 && !too_long) {
            const struct word *w;

            tok[n] = '\0';
            w = bsearch(tok, t->words, t->n, sizeof(*t->words), cmp_key);
            for (int k = 0; w != NULL && k < N_LABELS; k++)
                score[k] += w->weight[k];
        }
        n = 0;
        too_long = false;
    }

    max = score[0];
    for (int k = 1; k < N_LABELS; k++) {
        if (score[k] > max) {
            max = score[k];
            best = k;
        }
    }
    for (int k = 0; k < N_LABELS; k++) {
        e[k] = exp_nonpositive(score[k] - max);
        sum += e[k];
    }
    for (int k = 0; k < N_LABELS; k++)
        prob[k] = (float)(e[k] / sum);
    return best;
}

static int textclf_run(void *state, const struct mw_host *host, struct mw_call *call,
                       const struct mw_tensor *in, size_t n_in)
{
    const struct textclf *t = state;
    const struct mw_bytes *text;
    struct mw_bytes *label;
    float *prob;
    int64_t n;

    if (n_in != 1 || in[0].dtype != MW_BYTES || in[0].ndim != 1 || in[0].shape[0] < 0) {
        host->set_error(call, "description: expected a 1-D BYTES tensor");
        return MW_ERR_INVALID_INPUT;
    }
    n = in[0].shape[0];
    text = in[0].data;
    label = host->output(call, 0, 1, (const int64_t[]){n});
    prob = host->output(call, 1, 2, (const int64_t[]){n, N_LABELS});
    if (label == NULL || prob == NULL)
        return MW_ERR_NOMEM;
    for (int64_t i = 0; i < n; i++) {
        int k = classify(t, text[i], prob + i * N_LABELS);

        label[i].ptr = (const uint8_t *)label_names[k];
        label[i].len = strlen(label_names[k]);
    }
    return MW_OK;
}

static const struct mw_model_desc textclf_desc = {
    .abi_major = MW_ABI_MAJOR,
    .abi_minor = MW_ABI_MINOR,
    .size = sizeof(struct mw_model_desc),
    .flags = MW_FLAG_THREAD_SAFE | MW_FLAG_BATCH,
    .name = "textclf",
    .version = "1.0.0",
    .n_inputs = 1,
    .inputs = inputs,
    .n_outputs = 2,
    .outputs = outputs,
    .load = textclf_load,
    .run = textclf_run,
    .free = textclf_free,
};

/* The plug-in's one exported symbol (MW_ENTRY_SYMBOL): returns the static descriptor. Called once
 * by the host right after dlopen(), on its main thread; never fails. */
__attribute__((visibility("default"))) const struct mw_model_desc *mw_model_entry(void)
{
    return &textclf_desc;
}
