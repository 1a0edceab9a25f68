/*
 * pywire: the frames and shared-memory layout between the server and its Python worker processes
 * (docs/python-workers.md). Requests are written by the server; replies come from a process that
 * runs arbitrary model code, so their decoder (pyw_decode_reply) checks every byte and is fuzzed.
 * Included by backends/python.c and fuzz/fuzz_pywire.c only.
 */
#ifndef MW_PYWIRE_H
#define MW_PYWIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/model_impl.h"

#define PYW_MAGIC 0x5950574Du /* "MWPY" little-endian */
#define PYW_VERSION 1
#define PYW_HDR_LEN 24      /* magic u32, version u16, type u16, seq u64, off u32, len u32 */
#define PYW_FRAME_MAX 65536 /* largest control frame either side sends */
#define PYW_ALIGN 64        /* tensors start on this boundary of the shared memory */
#define PYW_DESC_MAX ((size_t)16 << 20) /* largest reply descriptor (JSON) accepted */

enum pyw_type {
    PYW_INIT = 1,    /* server -> master: JSON configuration */
    PYW_READY = 2,   /* master -> server: {"interface","signature","warnings"} or {"error"} */
    PYW_FORK = 3,    /* server -> master: {"instance","shm_size"} + 2 fds (socket, memfd) */
    PYW_SPAWNED = 4, /* master -> server: {"instance","pid"} */
    PYW_KILL = 5,    /* server -> master: {"pid"}: SIGKILL that instance */
    PYW_EXITED = 6,  /* master -> server: {"pid","status"|"signal"} */
    PYW_RUN = 7,     /* server -> instance: descriptor at [off, off+len) of the request area */
    PYW_RESULT = 8,  /* instance -> server: descriptor at [off, off+len) of the reply area */
    PYW_LOG = 9,     /* either -> server: {"stream","level","text"} */
    PYW_HELLO = 10,  /* instance -> server: {"ok":true,"pid"} or {"error"} once loaded */
    /* The one-request fast path of template models (no descriptors): */
    PYW_RUN_BODY = 11,            /* server -> instance: the body at [off, off+len) of requests */
    PYW_RESULT_JSON = 12,         /* instance -> server: the JSON answer at [off, off+len) */
    PYW_RESULT_JSON_RECYCLE = 13, /* the same, and the instance exits after it */
    /* A merged batch of template requests (no descriptors either way): */
    PYW_RUN_BODIES = 14,           /* server -> instance: the JSON array of the bodies at [off, off+len) */
    PYW_RESULT_JSONS = 15,         /* instance -> server: the answers table at [off, off+len) */
    PYW_RESULT_JSONS_RECYCLE = 16, /* the same, and the instance exits after it */
};

struct pyw_hdr {
    uint32_t magic;
    uint16_t version;
    uint16_t type;
    uint64_t seq;
    uint32_t off;
    uint32_t len;
};

/* Writes h into out (little-endian). */
void pyw_hdr_encode(uint8_t out[PYW_HDR_LEN], const struct pyw_hdr *h);
/* Reads a frame header from the n bytes at p: 0, or -1 when n is short or the magic or version
 * is wrong. Any thread. */
int pyw_hdr_decode(const uint8_t *p, size_t n, struct pyw_hdr *h);

/*
 * Writes the request of calls[0..n) (one item each: the JSON body of a json_answers call, else its
 * input tensors) into the request area (cap bytes at area): data at PYW_ALIGN boundaries, then the
 * descriptor {"items":[...],"batch":b}. *items gets how many calls fit (the first ones; at least
 * 1 or the function fails). 0 with *desc_off and *desc_len set, MWE_BODY_TOO_LARGE when even the
 * first call does not fit, MWE_NOMEM. Thread: the one holding the calls.
 */
int pyw_encode_request(uint8_t *area, size_t cap, struct model_call *const *calls, size_t n,
                       bool batch, size_t *items, size_t *desc_off, size_t *desc_len);

/* The answer of a PYW_RESULT_JSON frame: [off, off + len) of the reply area (area_len bytes at
 * area) must be valid JSON, copied into c's arena as c->answer (c is a json_answers call with a
 * body). 0, MWE_MODEL_FAILED (out of bounds, empty, not JSON, not such a call) or MWE_NOMEM.
 * Never reads outside the area. Any thread holding the call. */
int pyw_decode_answer(const uint8_t *area, size_t area_len, size_t off, size_t len,
                      struct model_call *c);

/*
 * Writes the bodies of calls[0..n) (json_answers calls that all carry a body) into the request area
 * (cap bytes at area) as one JSON array text, "[" body "," body ... "]", for PYW_RUN_BODIES: the
 * bodies are JSON that the server parsed already, so the array is too. *items gets how many
 * calls fit (the first ones), *len the text's length (it starts at offset 0). 0, or
 * MWE_BODY_TOO_LARGE when not even two fit (the caller sends those calls another way).
 */
int pyw_encode_bodies(uint8_t *area, size_t cap, struct model_call *const *calls, size_t n,
                      size_t *items, size_t *len);

/*
 * Decodes the answers table of a PYW_RESULT_JSONS frame at [off, off + len) of the reply area
 * (area_len bytes at area) into calls[0..n) (the calls of the PYW_RUN_BODIES request, in order):
 * u32 count (== n), count u32 lengths, then the answers back to back, each validated JSON and
 * copied into its call's arena (call->answer). The lengths must add up to the table exactly.
 * rc[i] gets 0 or MWE_NOMEM. Returns 0, or -1 when the table is malformed or an answer is not
 * JSON (every rc[i] MWE_MODEL_FAILED: the runner's own encoder cannot write that, so the worker is
 * broken). Never reads outside the area. Any thread holding the calls.
 */
int pyw_decode_answers(const uint8_t *area, size_t area_len, size_t off, size_t len,
                       struct model_call *const *calls, size_t n, int *rc);

/* What a reply said beside the items. */
struct pyw_reply {
    bool unbatchable; /* the merged answer could not be split: the calls ran one by one */
    bool recycle;     /* the instance exits after this reply (max_requests / max_rss) */
};

/* Called for an item that reports a Python exception: index of the call, the traceback text
 * (len bytes, not NUL-terminated, untrusted). */
typedef void (*pyw_error_fn)(void *ctx, size_t index, const char *text, size_t len);

/*
 * Decodes a reply: the descriptor at [desc_off, desc_off + desc_len) of the reply area (area_len
 * bytes at area) and the data it points at, into calls[0..n) (the calls of the request, in
 * order): the JSON answer of a json_answers call with a body (validated JSON, copied into the
 * call's arena: call->answer), else every output tensor of the model's signature (dtype, rank and
 * fixed dimensions checked, lengths checked against the area, copied with model_call_output).
 * rc[i] gets 0, MWE_MODEL_FAILED (an exception: on_error gets the traceback; or an item that does
 * not match) or MWE_NOMEM. Returns 0, or -1 when the descriptor itself is malformed (wrong
 * item count, not JSON, out of bounds): every rc[i] is MWE_MODEL_FAILED then, and the worker
 * should be treated as broken. Never reads outside the area. Any thread holding the calls.
 */
int pyw_decode_reply(const uint8_t *area, size_t area_len, size_t desc_off, size_t desc_len,
                     struct model_call *const *calls, size_t n, int *rc, struct pyw_reply *info,
                     pyw_error_fn on_error, void *ctx);

#endif /* MW_PYWIRE_H */
