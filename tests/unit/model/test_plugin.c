/*
 * Tests of the C plug-in backend (ABI 2) through model_load: the example textclf and minimal
 * plug-ins, the testkit plug-in's behaviours (and what run() sees of its call: request id,
 * deadline, cancellation), the config accessors, a plug-in built against a smaller host table,
 * and every load error's message (wrong ABI major, an ABI 1 plug-in, missing symbol, bad
 * signature, a failed init's own message, not an ELF file, missing file, signature mismatch).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <ftw.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/core.h"
#include "model/model_impl.h"

static const struct model_opts OPTS = {
    .workers = 0, .queue_size = 16, .timeout_ms = 5000, .max_records = 1000};

/* ---- helpers --------------------------------------------------------------------------------- */

struct fixture {
    char dir[64];    /* the mkdtemp() folder */
    char build[448]; /* MW_BUILD_DIR */
    char source[448];
};

/* Copies realpath(path) into out (absolute, as the tests link files into the temporary folder). */
static int absolute(const char *path, char *out, size_t size)
{
    char *abs = realpath(path, NULL);
    int n;

    if (abs == NULL)
        return -1;
    n = snprintf(out, size, "%s", abs);
    free(abs);
    return n > 0 && (size_t)n < size ? 0 : -1;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    const char *build = getenv("MW_BUILD_DIR");
    const char *source = getenv("MW_SOURCE_DIR");

    if (f == NULL)
        return -1;
    if (build == NULL || absolute(build, f->build, sizeof(f->build)) != 0) {
        fprintf(stderr, "MW_BUILD_DIR must name the build folder (the plug-ins' .so files)\n");
        goto out_fail;
    }
    if (absolute(source && *source ? source : ".", f->source, sizeof(f->source)) != 0)
        goto out_fail;
    snprintf(f->dir, sizeof(f->dir), "/tmp/mw-test-plugin-XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        goto out_fail;
    *state = f;
    return 0;

out_fail:
    free(f);
    return -1;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    int rc = nftw(f->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);

    free(f);
    return rc;
}

/* Makes the model folder <tmp>/<name> and returns its path (static storage, one at a time). */
static const char *model_dir(const struct fixture *f, const char *name)
{
    static char path[256];

    snprintf(path, sizeof(path), "%s/%s", f->dir, name);
    assert_int_equal(mkdir(path, 0700), 0);
    return path;
}

static void write_text(const char *dir, const char *name, const char *text)
{
    char path[512];
    FILE *fp;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    fp = fopen(path, "w");
    assert_non_null(fp);
    assert_int_equal(fputs(text, fp) >= 0, 1);
    assert_int_equal(fclose(fp), 0);
}

/* Absolute path of a built plug-in: "plugins/textclf.so" or "test-plugins/badabi.so". */
static void so_path(const struct fixture *f, const char *rel, char *out, size_t size)
{
    snprintf(out, size, "%s/%s", f->build, rel);
    if (access(out, R_OK) != 0)
        fail_msg("%s is missing: build the plug-in targets first", out);
}

/* Writes <tmp>/<name>/model.json for backend "plugin" with the given "file" and extra members
 * (a JSON fragment starting with ',' or ""), then loads it. */
static struct model *load_with(const struct fixture *f, const char *name, const char *file,
                               const char *extra, struct mw_error *e)
{
    const char *dir = model_dir(f, name);
    char json[2048];

    snprintf(json, sizeof(json), "{\"name\": \"%s\", \"backend\": \"plugin\", \"file\": \"%s\"%s}",
             name, file, extra);
    write_text(dir, "model.json", json);
    memset(e, 0, sizeof(*e));
    return model_load(dir, &OPTS, e);
}

/* Loads a model that must fail and checks the message holds every fragment (NULL-terminated). */
static void expect_load_error(const struct fixture *f, const char *name, const char *file,
                              const char *extra, ...)
{
    struct mw_error e;
    struct model *m = load_with(f, name, file, extra, &e);
    const char *frag;
    va_list ap;

    if (m != NULL)
        model_free(m);
    assert_null(m);
    assert_int_not_equal(e.code, 0);
    va_start(ap, extra);
    while ((frag = va_arg(ap, const char *)) != NULL) {
        if (strstr(e.msg, frag) == NULL)
            fail_msg("error \"%s\" lacks \"%s\"", e.msg, frag);
    }
    va_end(ap);
}

/* A testkit call with x of shape [rows, 2]. */
static struct model_call *testkit_call(struct model *m, const float *x, int64_t rows)
{
    struct model_call *c = model_call_new(m, 0);
    float *data;

    assert_non_null(c);
    assert_int_equal(c->n_inputs, 1);
    data = arena_calloc(&c->arena, (size_t)rows * 2, sizeof(float));
    assert_non_null(data);
    memcpy(data, x, (size_t)rows * 2 * sizeof(float));
    c->inputs[0] = (struct mw_tensor){
        .name = "x", .dtype = MW_FP32, .ndim = 2, .shape = {rows, 2}, .data = data};
    return c;
}

static struct model *load_testkit(const struct fixture *f, const char *name, const char *extra)
{
    char so[512];
    struct mw_error e;
    struct model *m;

    so_path(f, "plugins/testkit.so", so, sizeof(so));
    m = load_with(f, name, so, extra, &e);
    if (m == NULL)
        fail_msg("testkit did not load: %s", e.msg);
    return m;
}

/* ---- textclf --------------------------------------------------------------------------------- */

/* The shipped plugins/textclf/model.json, next to links to the built .so and the vocabulary. */
static void test_textclf_classifies(void **state)
{
    const struct fixture *f = *state;
    static const char *const texts[] = {
        "I was CHARGED twice on my last invoice, please refund me!",
        "The app crashes with an error every time I upload a file.",
        "I forgot my password and my account is locked; I cannot log in.",
    };
    static const char *const expect[] = {"billing", "technical", "account"};
    char so[512], src[512], link[512];
    const char *dir = model_dir(f, "textclf");
    struct mw_error e = {0};
    struct model_call *c;
    struct mw_bytes *in, *label;
    const float *prob;
    struct model *m;

    so_path(f, "plugins/textclf.so", so, sizeof(so));
    snprintf(link, sizeof(link), "%s/textclf.so", dir);
    assert_int_equal(symlink(so, link), 0);
    snprintf(src, sizeof(src), "%s/plugins/textclf/vocabulary.tsv", f->source);
    snprintf(link, sizeof(link), "%s/vocabulary.tsv", dir);
    assert_int_equal(symlink(src, link), 0);
    snprintf(src, sizeof(src), "%s/plugins/textclf/model.json", f->source);
    snprintf(link, sizeof(link), "%s/model.json", dir);
    assert_int_equal(symlink(src, link), 0);

    m = model_load(dir, &OPTS, &e);
    if (m == NULL)
        fail_msg("textclf did not load: %s", e.msg);
    assert_string_equal(m->platform, "modelwrap_plugin");
    assert_int_equal(m->flags, MW_FLAG_THREAD_SAFE | MW_FLAG_BATCH);
    assert_int_equal(m->sig.n_inputs, 1);
    assert_string_equal(m->sig.inputs[0].name, "description");
    assert_int_equal(m->sig.inputs[0].dtype, MW_BYTES);
    assert_int_equal(m->sig.n_outputs, 2);
    assert_string_equal(m->sig.outputs[1].name, "probabilities");
    assert_int_equal(m->sig.outputs[1].n_labels, 3);
    assert_string_equal(m->sig.outputs[1].labels[2], "account");

    c = model_call_new(m, 0);
    assert_non_null(c);
    in = arena_calloc(&c->arena, 3, sizeof(*in));
    assert_non_null(in);
    for (size_t i = 0; i < 3; i++)
        in[i] = (struct mw_bytes){(const uint8_t *)texts[i], strlen(texts[i])};
    c->inputs[0] = (struct mw_tensor){
        .name = "description", .dtype = MW_BYTES, .ndim = 1, .shape = {3}, .data = in};
    assert_int_equal(model_call_run(c), 0);

    label = c->outputs[0].data;
    prob = c->outputs[1].data;
    assert_non_null(label);
    assert_non_null(prob);
    assert_int_equal(c->outputs[1].ndim, 2);
    assert_int_equal(c->outputs[1].shape[0], 3);
    assert_int_equal(c->outputs[1].shape[1], 3);
    for (size_t i = 0; i < 3; i++) {
        const float *p = prob + 3 * i;
        float sum = p[0] + p[1] + p[2];
        size_t want = i; /* expect[i] is label number i */

        assert_int_equal(label[i].len, strlen(expect[i]));
        assert_memory_equal(label[i].ptr, expect[i], label[i].len);
        assert_true(sum > 0.9999f && sum < 1.0001f);
        for (size_t k = 0; k < 3; k++)
            assert_true(k == want || p[want] > p[k]);
        assert_true(p[want] > 0.9f);
    }
    model_call_release(c);
    model_free(m);
}

/* The "config" member reaches load(): an absolute vocabulary with words the shipped one lacks. */
static void test_textclf_config_vocabulary(void **state)
{
    const struct fixture *f = *state;
    /* Two "zork" between a non-ASCII byte and a NUL; the 36-letter word is too long to count. */
    static const char text[] = "zork\xff\x00ZORK zorkzorkzorkzorkzorkzorkzorkzorkzork";
    const double total = exp(2.0) + 1.0 + exp(6.0);
    char so[512], extra[512];
    struct mw_error e;
    struct model_call *c;
    struct mw_bytes *in, *label;
    const float *prob;
    struct model *m;

    write_text(f->dir, "vocab-custom.tsv", "zork\taccount\t3\nzork\tbilling\t1\n");
    so_path(f, "plugins/textclf.so", so, sizeof(so));
    snprintf(extra, sizeof(extra),
             ", \"config\": {\"other\": [1, {\"a\": \"}\"}], "
             "\"vocabulary\": \"%s/vocab-custom.tsv\"}",
             f->dir);
    m = load_with(f, "custom", so, extra, &e);
    if (m == NULL)
        fail_msg("textclf did not load: %s", e.msg);
    c = model_call_new(m, 0);
    assert_non_null(c);
    in = arena_calloc(&c->arena, 1, sizeof(*in));
    assert_non_null(in);
    in[0] = (struct mw_bytes){(const uint8_t *)text, sizeof(text) - 1};
    c->inputs[0] = (struct mw_tensor){
        .name = "description", .dtype = MW_BYTES, .ndim = 1, .shape = {1}, .data = in};
    assert_int_equal(model_call_run(c), 0);
    label = c->outputs[0].data;
    prob = c->outputs[1].data;
    assert_int_equal(label[0].len, 7);
    assert_memory_equal(label[0].ptr, "account", 7);
    /* scores: billing 2, technical 0, account 6: softmax by hand */
    assert_true(fabs(prob[0] - exp(2.0) / total) < 1e-6);
    assert_true(fabs(prob[1] - 1.0 / total) < 1e-6);
    assert_true(fabs(prob[2] - exp(6.0) / total) < 1e-6);
    model_call_release(c);
    model_free(m);
}

static void test_textclf_bad_vocabulary(void **state)
{
    const struct fixture *f = *state;
    char so[512], extra[512];

    so_path(f, "plugins/textclf.so", so, sizeof(so));
    write_text(f->dir, "vocab-bad.tsv", "# comment\nrefund\tbilling\t2\ncrash\tsupport\t1\n");
    snprintf(extra, sizeof(extra), ", \"config\": {\"vocabulary\": \"%s/vocab-bad.tsv\"}", f->dir);
    expect_load_error(f, "badvocab", so, extra, so, "init failed", "line 3: unknown label", NULL);
    expect_load_error(f, "novocab", so, "", "init failed", "cannot open the vocabulary",
                      "vocabulary.tsv", NULL);
}

/* ---- testkit --------------------------------------------------------------------------------- */

static void test_testkit_doubles(void **state)
{
    static const float x[] = {1.0f, 2.0f, -3.5f, 0.25f};
    struct model *m = load_testkit(*state, "double", ", \"config\": {\"delay_ms\": 1}");
    struct model_call *c = testkit_call(m, x, 2);
    const float *y;

    assert_int_equal(model_call_run(c), 0);
    y = c->outputs[0].data;
    assert_non_null(y);
    assert_int_equal(c->outputs[0].ndim, 2);
    assert_int_equal(c->outputs[0].shape[0], 2);
    assert_int_equal(c->outputs[0].shape[1], 2);
    for (size_t i = 0; i < 4; i++)
        assert_true(y[i] == 2.0f * x[i]);
    model_call_release(c);
    model_free(m);
}

static void test_testkit_errors(void **state)
{
    static const float unlucky[] = {1.0f, 13.0f};
    static const float internal[] = {666.0f, 1.0f, 2.0f, 3.0f};
    static const float forgets[] = {777.0f, 0.0f};
    struct model *m = load_testkit(*state, "errors", "");
    struct model_call *c;

    c = testkit_call(m, unlucky, 1);
    assert_int_equal(model_call_run(c), MWE_INVALID_INPUT);
    assert_string_equal(c->errmsg, "unlucky number");
    model_call_release(c);

    c = testkit_call(m, internal, 2);
    assert_int_equal(model_call_run(c), MWE_MODEL_FAILED);
    model_call_release(c);

    c = testkit_call(m, forgets, 1);
    assert_int_equal(model_call_run(c), MWE_MODEL_FAILED);
    assert_null(c->outputs[0].data);
    model_call_release(c);
    model_free(m);
}

static void test_testkit_config_errors(void **state)
{
    const struct fixture *f = *state;
    char so[512];

    so_path(f, "plugins/testkit.so", so, sizeof(so));
    /* The plug-in's logged reason is part of the message. */
    expect_load_error(f, "failload", so, ", \"config\": {\"fail_load\": true}", so,
                      "init failed with status -2", "fail_load is true", NULL);
    expect_load_error(f, "baddelay", so, ", \"config\": {\"delay_ms\": -5}", "delay_ms", NULL);
    expect_load_error(f, "cfgtype", so, ", \"config\": [1]", so, "\"config\" must be an object",
                      NULL);
}

/* ---- load errors ----------------------------------------------------------------------------- */

static void test_bad_plugins(void **state)
{
    const struct fixture *f = *state;
    char so[512], msg[600];

    so_path(f, "test-plugins/badabi.so", so, sizeof(so));
    snprintf(msg, sizeof(msg), "%s: plug-in init failed with status %d: plug-in ABI major 3, "
             "host supports 2", so, MW_ERR_VERSION);
    expect_load_error(f, "badabi", so, "", msg, "built for ABI 3.0", "speaks ABI 2.0", NULL);

    so_path(f, "test-plugins/abi1.so", so, sizeof(so));
    snprintf(msg, sizeof(msg), "%s: plug-in ABI major 1, host supports 2", so);
    expect_load_error(f, "abi1", so, "", msg, "mw_model_entry", NULL);

    so_path(f, "test-plugins/nosym.so", so, sizeof(so));
    expect_load_error(f, "nosym", so, "", so, "no exported mw_plugin_init function", NULL);

    so_path(f, "test-plugins/nocheckin.so", so, sizeof(so));
    snprintf(msg, sizeof(msg), "%s: plug-in init failed with status %d: host->add_input was called "
             "before host->check_in", so, MW_ERR_USAGE);
    expect_load_error(f, "nocheckin", so, "", msg, NULL);

    so_path(f, "test-plugins/badsig.so", so, sizeof(so));
    expect_load_error(f, "badsig", so, "", so, "duplicate input name \"x\"", NULL);
}

/* The message of a failed init, set through host->fail, is the start-up error's reason; the
 * config accessors give each type, tell an absent key from a mistyped one, and give raw JSON. */
static void test_init_failure_message_and_config(void **state)
{
    const struct fixture *f = *state;
    char so[512], msg[1024];

    so_path(f, "test-plugins/failmsg.so", so, sizeof(so));
    snprintf(msg, sizeof(msg),
             "%s: plug-in init failed with status -2: s=str(ok) n=1.5(ok) b=1(ok) "
             "j=[1,{\"a\":null}](ok) missing(absent) s-as-number(type)",
             so);
    expect_load_error(f, "failmsg", so,
                      ", \"config\": {\"s\": \"str\", \"n\": 1.5, \"b\": true, "
                      "\"j\": [1, {\"a\": null}]}",
                      msg, NULL);
    /* Without a config object every key is absent. */
    expect_load_error(f, "failmsg2", so, "", "s=(absent) n=0(absent) b=0(absent) j=(absent)",
                      NULL);
}

static void test_not_a_plugin(void **state)
{
    const struct fixture *f = *state;
    char so[512], missing[512];

    snprintf(so, sizeof(so), "%s/text.so", f->dir);
    write_text(f->dir, "text.so",
               "This is a text file that someone renamed to .so.\n"
               "It is long enough to be read as an ELF header and fail.\n");
    expect_load_error(f, "textso", so, "", so, "cannot load plug-in", "invalid ELF header", NULL);

    snprintf(missing, sizeof(missing), "%s/missing/nothing.so", f->dir);
    expect_load_error(f, "missing", missing, "", missing, "cannot load plug-in", "No such file",
                      NULL);
    /* A relative "file" is resolved against the model's folder, never the library path. */
    expect_load_error(f, "relative", "libc.so.6", "", "/relative/libc.so.6: cannot load plug-in",
                      NULL);
    expect_load_error(f, "nofile", "", "", "\"file\"", NULL);
}

static void test_signature_must_match(void **state)
{
    const struct fixture *f = *state;
    char so[512];
    struct mw_error e;
    struct model *m;

    so_path(f, "plugins/testkit.so", so, sizeof(so));
    expect_load_error(f, "sigshape", so,
                      ", \"signature\": {\"inputs\": [{\"name\": \"x\", \"datatype\": \"FP32\", "
                      "\"shape\": [-1, 3]}], \"outputs\": [{\"name\": \"y\", \"datatype\": "
                      "\"FP32\", \"shape\": [-1, 2]}]}",
                      so, "differs from the plug-in's", "input 0", "[-1, 3]", "[-1, 2]", NULL);
    expect_load_error(f, "signame", so,
                      ", \"signature\": {\"inputs\": [{\"name\": \"x\", \"datatype\": \"FP32\", "
                      "\"shape\": [-1, 2]}], \"outputs\": [{\"name\": \"z\", \"datatype\": "
                      "\"FP32\", \"shape\": [-1, 2]}]}",
                      so, "output 0", "\"z\"", NULL);
    expect_load_error(f, "sigcount", so,
                      ", \"signature\": {\"inputs\": [{\"name\": \"x\", \"datatype\": \"FP32\", "
                      "\"shape\": [-1, 2]}, {\"name\": \"w\", \"datatype\": \"FP32\", \"shape\": "
                      "[-1]}], \"outputs\": [{\"name\": \"y\", \"datatype\": \"FP32\", \"shape\": "
                      "[-1, 2]}]}",
                      so, "declares 2 inputs, the plug-in 1", NULL);

    /* An equal signature loads, and the plug-in's copy (with its column names) replaces it. */
    m = load_with(f, "sigok", so,
                  ", \"signature\": {\"inputs\": [{\"name\": \"x\", \"datatype\": \"FP32\", "
                  "\"shape\": [-1, 2]}], \"outputs\": [{\"name\": \"y\", \"datatype\": "
                  "\"FP32\", \"shape\": [-1, 2]}]}",
                  &e);
    if (m == NULL)
        fail_msg("an equal signature was refused: %s", e.msg);
    assert_int_equal(m->sig.inputs[0].n_names, 2);
    assert_string_equal(m->sig.inputs[0].names[1], "b");
    model_free(m);
}

/* ---- ABI 2: minimal, smaller host tables, what run() sees of its call --------------------------- */

static void test_minimal(void **state)
{
    const struct fixture *f = *state;
    static const double x[] = {1.5, -2.0, 0.0};
    char so[512];
    struct mw_error e;
    struct model_call *c;
    struct model *m;
    double *data;
    const double *y;

    so_path(f, "plugins/minimal.so", so, sizeof(so));
    m = load_with(f, "minimal", so, ", \"config\": {\"scale\": 3}", &e);
    if (m == NULL)
        fail_msg("minimal did not load: %s", e.msg);
    assert_int_equal(m->flags, MW_FLAG_THREAD_SAFE | MW_FLAG_BATCH);
    assert_string_equal(m->sig.inputs[0].name, "x");
    assert_int_equal(m->sig.outputs[0].dtype, MW_FP64);
    c = model_call_new(m, 0);
    assert_non_null(c);
    data = arena_calloc(&c->arena, 3, sizeof(double));
    assert_non_null(data);
    memcpy(data, x, sizeof(x));
    c->inputs[0] =
        (struct mw_tensor){.name = "x", .dtype = MW_FP64, .ndim = 1, .shape = {3}, .data = data};
    assert_int_equal(model_call_run(c), 0);
    y = c->outputs[0].data;
    for (size_t i = 0; i < 3; i++)
        assert_true(y[i] == 3.0 * x[i]);
    model_call_release(c);
    model_free(m);
    expect_load_error(f, "minbad", so, ", \"config\": {\"scale\": \"3\"}",
                      "config.scale: expected a number", NULL);
}

/* A plug-in built against a smaller host table and shorter sized structs still loads and runs:
 * the host accepts its smaller size, writes no more of struct mw_tensor_info than it declared
 * (oldhost checks a canary) and reads no more of struct mw_model (it has no free member). */
static void test_smaller_host_table(void **state)
{
    const struct fixture *f = *state;
    static const float x[] = {1.0f, -1.5f};
    char so[512];
    struct mw_error e;
    struct model_call *c;
    struct model *m;
    float *data;
    const float *y;

    so_path(f, "test-plugins/oldhost.so", so, sizeof(so));
    m = load_with(f, "oldhost", so, "", &e);
    if (m == NULL)
        fail_msg("oldhost did not load: %s", e.msg);
    c = model_call_new(m, 0);
    assert_non_null(c);
    data = arena_calloc(&c->arena, 2, sizeof(float));
    assert_non_null(data);
    memcpy(data, x, sizeof(x));
    c->inputs[0] =
        (struct mw_tensor){.name = "x", .dtype = MW_FP32, .ndim = 1, .shape = {2}, .data = data};
    if (model_call_run(c) != 0)
        fail_msg("oldhost failed: %s", c->errmsg);
    y = c->outputs[0].data;
    assert_true(y[0] == 2.0f && y[1] == -0.5f);
    model_call_release(c);
    model_free(m);
}

/* MW_HOST_HAS tells a table that ends before a member from one that holds it. */
static void test_host_has(void **state)
{
    struct mw_host h = {.size = (uint32_t)offsetof(struct mw_host, is_cancelled)};

    (void)state;
    assert_true(MW_HOST_HAS(&h, deadline_ns));
    assert_false(MW_HOST_HAS(&h, is_cancelled));
    assert_false(MW_HOST_HAS(&h, log));
    h.size = (uint32_t)sizeof(h);
    assert_true(MW_HOST_HAS(&h, log));
}

/* run() sees the call's request id and deadline (testkit's 99 answers y[0] = 1 when it has one),
 * and is_cancelled once the deadline passed (testkit's 55 waits for it, then fails). */
static void test_call_context(void **state)
{
    static const float probe[] = {99.0f, 1.0f};
    static const float wait[] = {55.0f, 1.0f};
    struct model *m = load_testkit(*state, "context", "");
    struct model_call *c;
    const float *y;

    c = testkit_call(m, probe, 1);
    assert_int_equal(model_call_run(c), 0);
    y = c->outputs[0].data;
    assert_true(y[0] == 0.0f && y[1] == 1.0f); /* an inline call has no deadline */
    model_call_release(c);

    c = testkit_call(m, probe, 1);
    c->request_id = "req-ctx-1";
    c->deadline_ns = time_mono_ns() + UINT64_C(60000000000);
    assert_int_equal(model_call_run(c), 0);
    y = c->outputs[0].data;
    assert_true(y[0] == 1.0f);
    model_call_release(c);

    /* Already past its deadline: testkit's wait ends at the first check, and the call fails. */
    c = testkit_call(m, wait, 1);
    c->deadline_ns = time_mono_ns() - 1;
    assert_int_equal(model_call_run(c), MWE_MODEL_FAILED);
    model_call_release(c);
    model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_textclf_classifies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_textclf_config_vocabulary, setup, teardown),
        cmocka_unit_test_setup_teardown(test_textclf_bad_vocabulary, setup, teardown),
        cmocka_unit_test_setup_teardown(test_testkit_doubles, setup, teardown),
        cmocka_unit_test_setup_teardown(test_testkit_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_testkit_config_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_plugins, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_a_plugin, setup, teardown),
        cmocka_unit_test_setup_teardown(test_signature_must_match, setup, teardown),
        cmocka_unit_test_setup_teardown(test_init_failure_message_and_config, setup, teardown),
        cmocka_unit_test_setup_teardown(test_minimal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_smaller_host_table, setup, teardown),
        cmocka_unit_test(test_host_has),
        cmocka_unit_test_setup_teardown(test_call_context, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
