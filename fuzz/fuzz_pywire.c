/*
 * libFuzzer target for the Python worker reply decoders (pyw_decode_reply, pyw_decode_answer) and
 * frame headers: a worker runs model code, so every byte it writes is hostile. Input: one
 * configuration byte (model kind, number of calls, fast path), then the reply area; the descriptor
 * is the area's bytes up to the first NUL (offsets in it point anywhere in the area); the fast
 * path's answer range comes from the area's first three bytes. Seed corpus: fuzz/corpus/pywire/.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model/backends/pywire.h"
#include "model/model_impl.h"

#define MAX_CALLS 4

static struct model *make_model(const char *sig_json, bool json_answers)
{
    struct model *m = calloc(1, sizeof(*m));
    json_t *j = json_loads(sig_json, 0, NULL);
    struct mw_error e = {0};

    if (m == NULL || j == NULL || model_sig_from_json(&m->sig, j, &e) != 0)
        abort();
    json_decref(j);
    m->name = "fuzz";
    m->version = "1";
    m->json_answers = json_answers;
    return m;
}

static void on_error(void *ctx, size_t index, const char *text, size_t len)
{
    volatile char sink = len > 0 ? text[0] : 0;
    (void)ctx;
    (void)index;
    (void)sink;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct model *tmpl, *tens;
    struct model_call *calls[MAX_CALLS];
    int rc[MAX_CALLS];
    struct pyw_reply info;
    struct pyw_hdr h;
    const uint8_t *area, *nul;
    struct model *m;
    size_t n, area_len, desc_len;

    if (tmpl == NULL) {
        tmpl = make_model("{\"inputs\":[{\"name\":\"description\",\"datatype\":\"BYTES\","
                          "\"shape\":[-1]}],\"outputs\":[{\"name\":\"predictions\","
                          "\"datatype\":\"BYTES\",\"shape\":[-1]}]}",
                          true);
        tens = make_model("{\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[-1,2]}],"
                          "\"outputs\":[{\"name\":\"y\",\"datatype\":\"FP32\",\"shape\":[-1,2]},"
                          "{\"name\":\"label\",\"datatype\":\"BYTES\",\"shape\":[-1]},"
                          "{\"name\":\"p\",\"datatype\":\"INT64\",\"shape\":[-1,3]}]}",
                          false);
    }
    if (size < 1)
        return 0;
    pyw_hdr_decode(data, size, &h);
    m = (data[0] & 1) ? tens : tmpl;
    n = 1 + ((data[0] >> 1) & 3);
    area = data + 1;
    area_len = size - 1;
    nul = memchr(area, 0, area_len);
    desc_len = nul != NULL ? (size_t)(nul - area) : area_len;
    for (size_t i = 0; i < n; i++) {
        calls[i] = model_call_new(m, (size_t)1 << 20);
        if (calls[i] == NULL)
            abort();
        if (m == tmpl && ((i % 2) == 0 || (data[0] & 16))) {
            calls[i]->body = "{\"data\":[]}";
            calls[i]->body_len = 11;
        }
    }
    if (data[0] & 16) {
        /* RESULT_JSONS: the whole area is the answers table of a merged batch */
        pyw_decode_answers(area, area_len, 0, area_len, calls, n, rc);
    } else if (data[0] & 8) {
        /* RESULT_JSON: the first bytes say where the answer is (offset, length) */
        size_t off = area_len > 0 ? area[0] : 0, len = area_len > 1 ? area[1] : 0;
        rc[0] = pyw_decode_answer(area, area_len, off, len * 64 + (area_len > 2 ? area[2] : 0),
                                  calls[0]);
        for (size_t i = 1; i < n; i++)
            rc[i] = MWE_MODEL_FAILED;
    } else {
        pyw_decode_reply(area, area_len, 0, desc_len, calls, n, rc, &info, on_error, NULL);
    }
    for (size_t i = 0; i < n; i++) {
        if (rc[i] == 0 && calls[i]->answer != NULL) {
            json_t *j = json_loadb(calls[i]->answer, calls[i]->answer_len, JSON_DECODE_ANY, NULL);
            if (j == NULL)
                abort(); /* the decoder promised valid JSON */
            json_decref(j);
        }
        model_call_release(calls[i]);
    }
    return 0;
}
