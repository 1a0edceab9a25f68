/*
 * Unit tests for src/model/backends/pywire.c, the Python worker protocol: frame headers, the
 * request writer (bodies and tensors at aligned offsets, the descriptor last) and the reply
 * decoder, which must refuse every reply that does not match the calls and the signature.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "model/backends/pywire.h"
#include "model/model_impl.h"

#define AREA 8192

static struct model *make_model(const char *sig_json, bool json_answers)
{
    struct model *m = calloc(1, sizeof(*m));
    json_t *j = json_loads(sig_json, 0, NULL);
    struct mw_error e = {0};

    assert_non_null(m);
    assert_non_null(j);
    assert_int_equal(model_sig_from_json(&m->sig, j, &e), 0);
    json_decref(j);
    m->name = "t";
    m->version = "1";
    m->json_answers = json_answers;
    return m;
}

static void free_model(struct model *m)
{
    model_sig_fini(&m->sig);
    free(m);
}

static struct model *tmpl_model(void)
{
    return make_model("{\"inputs\":[{\"name\":\"d\",\"datatype\":\"BYTES\",\"shape\":[-1],"
                      "\"optional\":true}],\"outputs\":[{\"name\":\"predictions\","
                      "\"datatype\":\"BYTES\",\"shape\":[-1]}]}",
                      true);
}

static struct model *tensor_model(void)
{
    return make_model("{\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[-1,2]}],"
                      "\"outputs\":[{\"name\":\"y\",\"datatype\":\"FP32\",\"shape\":[-1,2]},"
                      "{\"name\":\"s\",\"datatype\":\"BYTES\",\"shape\":[-1]}]}",
                      false);
}

/* Writes desc at the start of area (the data a test places after it). */
static size_t put_desc(uint8_t *area, const char *desc)
{
    size_t len = strlen(desc);
    memcpy(area, desc, len);
    return len;
}

static void test_header(void **state)
{
    struct pyw_hdr h = {PYW_MAGIC, PYW_VERSION, PYW_RESULT, 0x0102030405060708ull, 64, 99}, g;
    uint8_t b[PYW_HDR_LEN];

    (void)state;
    pyw_hdr_encode(b, &h);
    assert_int_equal(b[0], 0x4d); /* 'M', little-endian */
    assert_int_equal(pyw_hdr_decode(b, sizeof(b), &g), 0);
    assert_int_equal(g.type, PYW_RESULT);
    assert_true(g.seq == h.seq);
    assert_int_equal(g.off, 64);
    assert_int_equal(g.len, 99);
    assert_int_equal(pyw_hdr_decode(b, sizeof(b) - 1, &g), -1); /* short */
    b[0] ^= 1;
    assert_int_equal(pyw_hdr_decode(b, sizeof(b), &g), -1); /* magic */
    b[0] ^= 1;
    b[4] = 9;
    assert_int_equal(pyw_hdr_decode(b, sizeof(b), &g), -1); /* version */
}

static void test_request(void **state)
{
    struct model *m = tensor_model(), *t = tmpl_model();
    struct model_call *c = model_call_new(m, 0), *b = model_call_new(t, 0);
    struct model_call *calls[2];
    uint8_t *area = calloc(1, AREA);
    float x[4] = {1, 2, 3, 4};
    size_t items = 0, off = 0, len = 0;
    json_t *d, *tens;

    (void)state;
    c->inputs[0].ndim = 2;
    c->inputs[0].shape[0] = 2;
    c->inputs[0].shape[1] = 2;
    c->inputs[0].data = x;
    calls[0] = c;
    assert_int_equal(pyw_encode_request(area, AREA, calls, 1, false, &items, &off, &len), 0);
    assert_int_equal(items, 1);
    assert_int_equal(off % PYW_ALIGN, 0);
    d = json_loadb((const char *)area + off, len, 0, NULL);
    assert_non_null(d);
    tens = json_object_get(json_array_get(json_object_get(d, "items"), 0), "tensors");
    assert_int_equal(json_array_size(tens), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(tens, 0), "dtype")),
                        "FP32");
    {
        json_int_t at = json_integer_value(json_object_get(json_array_get(tens, 0), "off"));
        assert_int_equal(at % PYW_ALIGN, 0);
        assert_memory_equal(area + at, x, sizeof(x));
    }
    json_decref(d);

    /* a template call sends its body; two calls ask for a batch */
    b->body = "{\"data\":[{\"d\":\"a\"}]}";
    b->body_len = strlen(b->body);
    calls[0] = b;
    calls[1] = b;
    assert_int_equal(pyw_encode_request(area, AREA, calls, 2, true, &items, &off, &len), 0);
    assert_int_equal(items, 2);
    d = json_loadb((const char *)area + off, len, 0, NULL);
    assert_true(json_is_true(json_object_get(d, "batch")));
    {
        json_t *pair = json_object_get(json_array_get(json_object_get(d, "items"), 1), "body");
        json_int_t at = json_integer_value(json_array_get(pair, 0));
        assert_int_equal(json_integer_value(json_array_get(pair, 1)), b->body_len);
        assert_memory_equal(area + at, b->body, b->body_len);
    }
    json_decref(d);
    /* an area too small for even one call */
    assert_int_equal(pyw_encode_request(area, 16, calls, 1, false, &items, &off, &len),
                     MWE_BODY_TOO_LARGE);
    /* room for one call of two: the first goes alone */
    assert_int_equal(pyw_encode_request(area, 160, calls, 2, true, &items, &off, &len), 0);
    assert_int_equal(items, 1);

    model_call_release(c);
    model_call_release(b);
    free(area);
    free_model(m);
    free_model(t);
}

static int n_errors;
static void count_error(void *ctx, size_t index, const char *text, size_t len)
{
    (void)ctx;
    assert_int_equal(index, 0);
    assert_true(len > 0 && text[0] == 'T');
    n_errors++;
}

static void test_reply_json(void **state)
{
    struct model *t = tmpl_model();
    struct model_call *c = model_call_new(t, 0);
    struct pyw_reply info;
    uint8_t *area = calloc(1, AREA);
    int rc[1];
    size_t dl;

    (void)state;
    c->body = "{}";
    c->body_len = 2;
    memcpy(area + 1024, "[1,{\"a\":\"b\"}]", 13);
    dl = put_desc(area, "{\"items\":[{\"json\":[1024,13]}],\"recycle\":true}");
    assert_int_equal(pyw_decode_reply(area, AREA, 0, dl, &c, 1, rc, &info, NULL, NULL), 0);
    assert_int_equal(rc[0], 0);
    assert_true(info.recycle);
    assert_int_equal(c->answer_len, 13);
    assert_memory_equal(c->answer, "[1,{\"a\":\"b\"}]", 13);

    /* not JSON: refused, never sent to a client */
    c->answer = NULL;
    memcpy(area + 1024, "[1,{\"a\":\"b\"]", 12);
    dl = put_desc(area, "{\"items\":[{\"json\":[1024,12]}]}");
    assert_int_equal(pyw_decode_reply(area, AREA, 0, dl, &c, 1, rc, &info, NULL, NULL), 0);
    assert_int_equal(rc[0], MWE_MODEL_FAILED);
    assert_null(c->answer);
    /* out of the area */
    dl = put_desc(area, "{\"items\":[{\"json\":[8190,13]}]}");
    assert_int_equal(pyw_decode_reply(area, AREA, 0, dl, &c, 1, rc, &info, NULL, NULL), 0);
    assert_int_equal(rc[0], MWE_MODEL_FAILED);
    dl = put_desc(area, "{\"items\":[{\"json\":[-1,13]}]}");
    assert_int_equal(pyw_decode_reply(area, AREA, 0, dl, &c, 1, rc, &info, NULL, NULL), 0);
    assert_int_equal(rc[0], MWE_MODEL_FAILED);
    /* an exception: the traceback goes to the callback only */
    dl = put_desc(area, "{\"items\":[{\"error\":\"Traceback: boom\"}]}");
    n_errors = 0;
    assert_int_equal(pyw_decode_reply(area, AREA, 0, dl, &c, 1, rc, &info, count_error, NULL), 0);
    assert_int_equal(rc[0], MWE_MODEL_FAILED);
    assert_int_equal(n_errors, 1);
    /* malformed descriptors: wrong item count, not an object, outside the area */
    dl = put_desc(area, "{\"items\":[]}");
    assert_int_equal(pyw_decode_reply(area, AREA, 0, dl, &c, 1, rc, &info, NULL, NULL), -1);
    assert_int_equal(rc[0], MWE_MODEL_FAILED);
    dl = put_desc(area, "[1]");
    assert_int_equal(pyw_decode_reply(area, AREA, 0, dl, &c, 1, rc, &info, NULL, NULL), -1);
    assert_int_equal(pyw_decode_reply(area, AREA, AREA - 2, 10, &c, 1, rc, &info, NULL, NULL), -1);
    assert_int_equal(pyw_decode_reply(area, AREA, 0, 0, &c, 1, rc, &info, NULL, NULL), -1);

    /* the fast path's answer: the same checks without a descriptor */
    c->answer = NULL;
    memcpy(area + 1024, "{\"a\":[1,2]}", 11);
    assert_int_equal(pyw_decode_answer(area, AREA, 1024, 11, c), 0);
    assert_int_equal(c->answer_len, 11);
    assert_int_equal(pyw_decode_answer(area, AREA, 1024, 11, c), MWE_MODEL_FAILED); /* twice */
    c->answer = NULL;
    assert_int_equal(pyw_decode_answer(area, AREA, 1024, 10, c), MWE_MODEL_FAILED); /* cut */
    assert_int_equal(pyw_decode_answer(area, AREA, AREA - 5, 11, c), MWE_MODEL_FAILED);
    assert_int_equal(pyw_decode_answer(area, AREA, 1024, 0, c), MWE_MODEL_FAILED);
    assert_null(c->answer);
    c->body = NULL; /* not a call that takes an answer */
    assert_int_equal(pyw_decode_answer(area, AREA, 1024, 11, c), MWE_MODEL_FAILED);

    model_call_release(c);
    free(area);
    free_model(t);
}

/* A merged template batch: the bodies as one JSON array, the answers as one length table. */
static void put_u32le(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static void test_bodies_and_answers(void **state)
{
    struct model *t = tmpl_model();
    struct model_call *c[3];
    uint8_t *area = calloc(1, AREA);
    const char *bodies[3] = {"{\"data\":[1]}", "{\"data\":[2,3]}", "{\"data\":[]}"};
    const char *want = "[{\"data\":[1]},{\"data\":[2,3]},{\"data\":[]}]";
    size_t items = 0, len = 0;
    int rc[3];

    (void)state;
    for (int i = 0; i < 3; i++) {
        c[i] = model_call_new(t, 4096);
        c[i]->body = bodies[i];
        c[i]->body_len = strlen(bodies[i]);
    }
    assert_int_equal(pyw_encode_bodies(area, AREA, c, 3, &items, &len), 0);
    assert_int_equal(items, 3);
    assert_int_equal(len, strlen(want));
    assert_memory_equal(area, want, len);
    /* Room for two bodies only: the first two go, as a shorter array. */
    assert_int_equal(pyw_encode_bodies(area, 30, c, 3, &items, &len), 0);
    assert_int_equal(items, 2);
    assert_memory_equal(area, "[{\"data\":[1]},{\"data\":[2,3]}]", len);
    /* Not even two: the caller uses the descriptor path. */
    assert_int_equal(pyw_encode_bodies(area, 20, c, 3, &items, &len), MWE_BODY_TOO_LARGE);

    /* the answers table: count, lengths, answers back to back */
    memset(area, 0, AREA);
    put_u32le(area + 100, 3);
    put_u32le(area + 104, 3);
    put_u32le(area + 108, 7);
    put_u32le(area + 112, 2);
    memcpy(area + 116, "[1]{\"a\":2}{}", 12);
    assert_int_equal(pyw_decode_answers(area, AREA, 100, 28, c, 3, rc), 0);
    assert_int_equal(rc[0], 0);
    assert_int_equal(rc[1], 0);
    assert_int_equal(rc[2], 0);
    assert_memory_equal(c[0]->answer, "[1]", 3);
    assert_memory_equal(c[1]->answer, "{\"a\":2}", 7);
    assert_int_equal(c[2]->answer_len, 2);
    /* Each refusal: the table says so for every call, and no answer is taken twice. */
    assert_int_equal(pyw_decode_answers(area, AREA, 100, 28, c, 3, rc), -1);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(rc[i], MWE_MODEL_FAILED);
        c[i]->answer = NULL;
    }
    assert_int_equal(pyw_decode_answers(area, AREA, 100, 28, c, 2, rc), -1); /* count != n */
    assert_int_equal(pyw_decode_answers(area, AREA, 100, 29, c, 3, rc), -1); /* bytes left over */
    for (int i = 0; i < 3; i++)
        c[i]->answer = NULL;
    assert_int_equal(pyw_decode_answers(area, AREA, 100, 27, c, 3, rc), -1); /* cut short */
    for (int i = 0; i < 3; i++)
        c[i]->answer = NULL;
    assert_int_equal(pyw_decode_answers(area, 120, 100, 28, c, 3, rc), -1); /* outside the area */
    assert_int_equal(pyw_decode_answers(area, AREA, 100, 8, c, 3, rc), -1);  /* no room for lengths */
    put_u32le(area + 108, 0xFFFFFFF0u);                                       /* a huge length */
    assert_int_equal(pyw_decode_answers(area, AREA, 100, 28, c, 3, rc), -1);
    for (int i = 0; i < 3; i++)
        c[i]->answer = NULL;
    put_u32le(area + 108, 7);
    memcpy(area + 116, "[1]{\"a\":2 {}", 12); /* the second answer is not JSON */
    assert_int_equal(pyw_decode_answers(area, AREA, 100, 28, c, 3, rc), -1);
    assert_int_equal(rc[0], MWE_MODEL_FAILED);
    assert_int_equal(rc[2], MWE_MODEL_FAILED);

    for (int i = 0; i < 3; i++)
        model_call_release(c[i]);
    free(area);
    free_model(t);
}

static void test_reply_tensors(void **state)
{
    struct model *m = tensor_model();
    struct model_call *c = model_call_new(m, 0);
    struct pyw_reply info;
    uint8_t *area = calloc(1, AREA);
    float y[4] = {1.5f, 2, 3, 4};
    const struct mw_bytes *s;
    int rc[1];
    size_t dl;
    static const char good[] =
        "{\"items\":[{\"tensors\":[{\"dtype\":\"FP32\",\"shape\":[2,2],\"off\":1024,\"len\":16},"
        "{\"dtype\":\"BYTES\",\"shape\":[2],\"off\":2048,\"len\":11}]}]}";

    (void)state;
    memcpy(area + 1024, y, sizeof(y));
    memcpy(area + 2048,
           "\x01\x00\x00\x00"
           "a"
           "\x02\x00\x00\x00"
           "bc",
           11);
    dl = put_desc(area, good);
    assert_int_equal(pyw_decode_reply(area, AREA, 0, dl, &c, 1, rc, &info, NULL, NULL), 0);
    assert_int_equal(rc[0], 0);
    assert_int_equal(c->outputs[0].shape[0], 2);
    assert_memory_equal(c->outputs[0].data, y, sizeof(y));
    s = c->outputs[1].data;
    assert_int_equal(s[0].len, 1);
    assert_int_equal(s[1].len, 2);
    assert_memory_equal(s[1].ptr, "bc", 2);
    model_call_release(c);

    static const char *const bad[] = {
        /* a dtype other than the signature's */
        "{\"items\":[{\"tensors\":[{\"dtype\":\"FP64\",\"shape\":[2,2],\"off\":1024,\"len\":32},"
        "{\"dtype\":\"BYTES\",\"shape\":[2],\"off\":2048,\"len\":11}]}]}",
        /* a fixed dimension that differs */
        "{\"items\":[{\"tensors\":[{\"dtype\":\"FP32\",\"shape\":[4,1],\"off\":1024,\"len\":16},"
        "{\"dtype\":\"BYTES\",\"shape\":[2],\"off\":2048,\"len\":11}]}]}",
        /* a length that is not the shape's */
        "{\"items\":[{\"tensors\":[{\"dtype\":\"FP32\",\"shape\":[2,2],\"off\":1024,\"len\":12},"
        "{\"dtype\":\"BYTES\",\"shape\":[2],\"off\":2048,\"len\":11}]}]}",
        /* BYTES elements longer than the tensor */
        "{\"items\":[{\"tensors\":[{\"dtype\":\"FP32\",\"shape\":[2,2],\"off\":1024,\"len\":16},"
        "{\"dtype\":\"BYTES\",\"shape\":[2],\"off\":2048,\"len\":9}]}]}",
        /* trailing bytes after the BYTES elements */
        "{\"items\":[{\"tensors\":[{\"dtype\":\"FP32\",\"shape\":[2,2],\"off\":1024,\"len\":16},"
        "{\"dtype\":\"BYTES\",\"shape\":[2],\"off\":2048,\"len\":12}]}]}",
        /* an element count that overflows */
        "{\"items\":[{\"tensors\":[{\"dtype\":\"FP32\",\"shape\":[2147483647,2147483647],"
        "\"off\":1024,\"len\":16},{\"dtype\":\"BYTES\",\"shape\":[2],\"off\":2048,\"len\":11}]}]}",
        /* too few outputs */
        "{\"items\":[{\"tensors\":[{\"dtype\":\"FP32\",\"shape\":[2,2],\"off\":1024,\"len\":16}]}]"
        "}",
        /* a JSON answer for a tensor model */
        "{\"items\":[{\"json\":[1024,1]}]}",
        /* past the end of the area */
        "{\"items\":[{\"tensors\":[{\"dtype\":\"FP32\",\"shape\":[2,2],\"off\":8190,\"len\":16},"
        "{\"dtype\":\"BYTES\",\"shape\":[2],\"off\":2048,\"len\":11}]}]}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(area, ' ', 1000);
        c = model_call_new(m, 0);
        dl = put_desc(area, bad[i]);
        assert_int_equal(pyw_decode_reply(area, AREA, 0, dl, &c, 1, rc, &info, NULL, NULL), 0);
        assert_int_equal(rc[0], MWE_MODEL_FAILED);
        model_call_release(c);
    }
    free(area);
    free_model(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header),
        cmocka_unit_test(test_request),
        cmocka_unit_test(test_reply_json),
        cmocka_unit_test(test_bodies_and_answers),
        cmocka_unit_test(test_reply_tensors),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
