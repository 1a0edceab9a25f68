/*
 * textclf: an example modelwrap model plug-in, the C counterpart of the Python template's Model
 * class (state + init + run). A support-ticket classifier: keyword weights per label, summed and
 * turned into probabilities by softmax. Built only against include/modelwrap/model.h, libc and
 * libm; its configuration comes from the host's config accessor.
 */
#include <errno.h>
#include <math.h>
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
static int merge_words(const struct mw_host *host, struct mw_plugin *p, struct textclf *t)
{
    size_t out = 0;

    qsort(t->words, t->n, sizeof(*t->words), cmp_word);
    for (size_t i = 0; i < t->n; i++) {
        struct word *w = &t->words[i];

        if (out > 0 && strcmp(t->words[out - 1].text, w->text) == 0) {
            struct word *into = &t->words[out - 1];

            if (into->seen & w->seen) {
                return host->fail(p, "vocabulary: word '%s' is given twice for one label",
                                  w->text);
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

static int load_vocabulary(const struct mw_host *host, struct mw_plugin *p, const char *path,
                           struct textclf *t)
{
    char line[MAX_LINE + 2];
    size_t cap = 0, len;
    unsigned long lineno = 0;
    const char *why;
    struct word *grown;
    int rc = MW_ERR_INTERNAL;
    FILE *f;

    f = fopen(path, "r");
    if (f == NULL)
        return host->fail(p, "cannot open the vocabulary %s: %s", path, strerror(errno));
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
                host->fail(p, "out of memory reading the vocabulary");
                rc = MW_ERR_NOMEM;
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
        rc = host->fail(p, "cannot read the vocabulary %s", path);
        goto out_close;
    }
    if (t->n == 0) {
        rc = host->fail(p, "the vocabulary %s has no words", path);
        goto out_close;
    }
    rc = merge_words(host, p, t);
    goto out_close;

out_bad_line:
    rc = host->fail(p, "%s line %lu: %s", path, lineno, why);
out_close:
    fclose(f);
    return rc;
}

/* ---- the callbacks and the entry point ---------------------------------------------------- */

static void textclf_free(void *state)
{
    struct textclf *t = state;

    if (t != NULL)
        free(t->words);
    free(t);
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
        e[k] = exp(score[k] - max);
        sum += e[k];
    }
    for (int k = 0; k < N_LABELS; k++)
        prob[k] = (float)(e[k] / sum);
    return best;
}

static int textclf_run(void *state, const struct mw_host *host, struct mw_call *call)
{
    const struct textclf *t = state;
    struct mw_tensor_info in = {.size = sizeof(in)};
    const struct mw_bytes *text;
    struct mw_bytes *label;
    float *prob;
    int64_t n;

    if (host->input(call, 0, &in) != MW_OK || in.dtype != MW_BYTES || in.ndim != 1 ||
        in.shape[0] < 0) {
        host->set_error(call, "description: expected a 1-D BYTES tensor");
        return MW_ERR_INVALID_INPUT;
    }
    n = in.shape[0];
    text = in.data;
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

/* The plug-in's one exported symbol (MW_ENTRY_SYMBOL), called once by the host right after
 * dlopen(), on its main thread: reads config.vocabulary (default vocabulary.tsv, relative to the
 * model's folder), loads it, then declares the signature (what the Python template declares with
 * type hints; dimension 0 is the batch) and the callbacks. */
__attribute__((visibility("default"))) int mw_plugin_init(const struct mw_host *host,
                                                          struct mw_plugin *p)
{
    struct mw_model model = {.size = sizeof(model),
                             .flags = MW_FLAG_THREAD_SAFE | MW_FLAG_BATCH,
                             .name = "textclf",
                             .version = "2.0.0",
                             .run = textclf_run,
                             .free = textclf_free};
    const char *name = "vocabulary.tsv";
    char path[MAX_PATH];
    struct textclf *t;
    int n, rc;

    MW_PLUGIN_CHECK_IN(host, p);
    rc = host->config_string(p, "vocabulary", &name);
    if (rc == MW_ERR_TYPE || (rc == MW_OK && name[0] == '\0'))
        return host->fail(p, "config.vocabulary: expected a file name");
    if (name[0] == '/')
        n = snprintf(path, sizeof(path), "%s", name);
    else
        n = snprintf(path, sizeof(path), "%s/%s", host->model_dir(p), name);
    if (n < 0 || (size_t)n >= sizeof(path))
        return host->fail(p, "config.vocabulary: the path is too long");

    t = calloc(1, sizeof(*t));
    if (t == NULL)
        return host->fail(p, "out of memory");
    rc = load_vocabulary(host, p, path, t);
    if (rc == MW_OK &&
        (host->add_input(p, "description", MW_BYTES, 1, (const int64_t[]){-1}) != MW_OK ||
         host->add_output(p, "label", MW_BYTES, 1, (const int64_t[]){-1}) != MW_OK ||
         host->add_output(p, "probabilities", MW_FP32, 2, (const int64_t[]){-1, N_LABELS}) !=
             MW_OK ||
         host->set_labels(p, N_LABELS, label_names) != MW_OK))
        rc = MW_ERR_INTERNAL; /* the host has set the message */
    if (rc == MW_OK) {
        model.state = t;
        rc = host->set_model(p, &model);
    }
    if (rc != MW_OK)
        textclf_free(t);
    return rc;
}
