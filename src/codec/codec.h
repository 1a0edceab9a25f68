/*
 * codec: the wire codecs of the APIs, beside the model layer rather than inside it. The records
 * codec of the native API (records.c), the Open Inference Protocol's JSON tensors (tensor_json.c)
 * and its binary tensor data extension (binary.c): request bodies into a model call's input
 * tensors, checked against the model's signature, and a completed call's outputs back.
 */
#ifndef MW_CODEC_H
#define MW_CODEC_H

#include <jansson.h>

#include "core/core.h"
#include "model/model.h"

/* ---- records codec (records.c): the native API's JSON ------------------------------------------
 * A model is record-shaped when its inputs are either one [-1, F] numeric tensor with F names (a
 * record is an object with those names) or 1-D [-1] tensors (a record member per input name). */

enum rec_kind {
    REC_NONE = 0,    /* it does not: use the Open Inference Protocol */
    REC_MATRIX = 1,  /* one [-1, F] numeric input whose F columns are named */
    REC_COLUMNS = 2, /* only [-1] inputs, one record member per input */
};

/* How a model of signature sig takes records: the one rule the codec and the OpenAPI document
 * share. Any thread. */
enum rec_kind records_kind(const struct model_sig *sig);

/* Decodes {"data":[{...}, ...]} (already parsed by the caller) into c->inputs. Validates types,
 * finiteness, unknown and missing members, 1 <= records <= max_records. On failure returns
 * MWE_INVALID_INPUT (or MWE_BAD_REQUEST for a body that is not an object with "data") with e->msg
 * naming the place, e.g. "data[3].petal_width: expected a number, got a string". */
int records_decode(struct model_call *c, const json_t *body, unsigned max_records, struct mw_error *e);
/* Appends {"model":..., "model_version":..., "predictions":[...]} for a completed call. */
int records_encode(const struct model_call *c, struct buf *out);

/* ---- Open Inference Protocol tensors (tensor_json.c, binary.c) -------------------------
 * The V2 inference request and response bodies: JSON tensors, and the binary tensor data extension
 * (a JSON header of Inference-Header-Content-Length bytes, then raw little-endian tensors). */

/* One output of the response, in response order. */
struct v2_output {
    size_t index; /* in model->sig.outputs */
    bool binary;  /* sent as binary data after the JSON header */
};

/* What a decoded request asks of the response. Its memory comes from the arena given to the
 * decoder (the request's), never from the call's. */
struct v2_request {
    const char *id; /* the request's "id" (NUL-terminated copy; may hold NULs: use id_len) */
    size_t id_len;
    bool has_id;
    const char *parameters; /* JSON text of the request's "parameters" minus the binary extension's,
                             * echoed in the response; NULL when there are none */
    size_t n_outputs;
    struct v2_output *outputs;
};

/* Decodes a V2 inference request: the JSON header (json_len bytes, not NUL-terminated) and the
 * binary part that followed it (bin_len bytes; NULL/0 for a JSON-only body) into c's inputs
 * (converted to the model's dtypes, in c's arena; the body may be freed after) and req (in meta).
 * Checks names, datatypes and conversions, shapes against the signature (without overflow), data
 * counts, the batch dimension (1..max_batch, equal across inputs for MW_FLAG_BATCH models), every
 * binary length against the bytes present, and the requested outputs. Returns 0, MWE_INVALID_JSON
 * or MWE_BAD_REQUEST with e->msg naming the place ("inputs[0].shape[1]: ..."), or MWE_NOMEM.
 * Thread: the request's, before c is submitted. */
int tensor_decode_request(struct model_call *c, struct arena *meta, const char *json,
                          size_t json_len, const uint8_t *bin, size_t bin_len, unsigned max_batch,
                          struct v2_request *req, struct mw_error *e);
/* A raw binary request (Inference-Header-Content-Length: 0): the whole body is the one input's
 * data; its shape is deduced from the byte count (batch 1 for MW_FLAG_BATCH models; at most one
 * other variable dimension; a BYTES input is one element, the body). Every output is binary. */
int tensor_decode_raw(struct model_call *c, struct arena *meta, const uint8_t *body, size_t len,
                      struct v2_request *req, struct mw_error *e);
/* Appends the response of a completed call: the JSON object, then the binary outputs in order.
 * *header_len gets the JSON object's length and *binary whether binary data follows. On error out
 * is left as it was: MWE_BAD_REQUEST (a BYTES output that is not UTF-8 asked as JSON),
 * MWE_MODEL_FAILED (outputs inconsistent with the signature), MWE_NOMEM / MWE_BODY_TOO_LARGE.
 * Thread: any holding the call, after it completed. */
int tensor_encode_response(const struct model_call *c, const struct v2_request *req,
                           struct buf *out, size_t *header_len, bool *binary, struct mw_error *e);

/* The binary tensor data extension (binary.c). */
/* Parses Inference-Header-Content-Length (decimal digits) against a body of body_len bytes: 0 and
 * *out, or MWE_BAD_REQUEST with e. */
int binary_header_length(struct slice value, size_t body_len, size_t *out, struct mw_error *e);
/* Reads `count` BYTES elements (4-byte little-endian length, then the bytes) that must fill
 * data[0..len) exactly, copying the bytes into a; elems gets count entries. 0, MWE_BAD_REQUEST
 * (where names the input) or MWE_NOMEM. */
int binary_read_bytes(const uint8_t *data, size_t len, size_t count, struct mw_bytes *elems,
                      struct arena *a, const char *where, struct mw_error *e);
/* Converts `count` little-endian elements of dtype `from` at src into dst (dtype `to`, host
 * order). The pair must be dtype_lossless (not BYTES). */
void binary_convert(const uint8_t *src, int from, void *dst, int to, size_t count);
/* Bytes the binary form of `count` elements of t takes (BYTES: 4 + length each); SIZE_MAX when
 * it would overflow or an element is longer than 4 GiB - 1. */
size_t binary_size(const struct mw_tensor *t, size_t count);
/* Appends the binary form of the first `count` elements of t to out. 0, MWE_NOMEM or
 * MWE_BODY_TOO_LARGE (out unchanged then). */
int binary_write(struct buf *out, const struct mw_tensor *t, size_t count);

#endif /* MW_CODEC_H */
