/*
 * api: the application on top of the transport. The route table (native v1 API, the template's
 * aliases), the request pipeline (route -> [authenticate -> authorize -> limit] -> decode ->
 * infer -> encode -> log) and the handlers.
 */
#ifndef MW_API_H
#define MW_API_H

#include "config/config.h"
#include "http/http.h"
#include "model/model.h"

struct api {
    const struct config *cfg;
    struct registry *reg;
    struct http_app app;
    /* ---- model repository reload (issue 3) ---- */
    /* ---- authentication (issue 4) ---- */
    /* ---- limits (issue 6) ---- */
    /* ---- audit (issue 7) ---- */
    /* ---- metrics, OpenAPI (issue 8) ---- */
};

/* Prepares the application for cfg and reg (both borrowed, must outlive the api). */
void api_init(struct api *a, const struct config *cfg, struct registry *reg);

/* Appends the JSON text of j to b (compact). 0 or MWE_NOMEM / MWE_BODY_TOO_LARGE. */
int api_json_dump(struct buf *b, const json_t *j);
/* Sets a 200 JSON response holding j (consumed: decref'd). */
void api_reply_json(struct request *r, int status, json_t *j);

/* Handlers (handlers_v1.c), used by the route table in api.c. */
int api_h_root(void *ctx, struct request *r);
int api_h_health(void *ctx, struct request *r);
int api_h_health_live(void *ctx, struct request *r);
int api_h_health_ready(void *ctx, struct request *r);
int api_h_template_health(void *ctx, struct request *r);
int api_h_models(void *ctx, struct request *r);
int api_h_model(void *ctx, struct request *r);
int api_h_predict(void *ctx, struct request *r);

/* Completes an asynchronous predict on an I/O thread (called through http_app.finish). */
void api_predict_finish(struct api *a, struct request *r);

#endif /* MW_API_H */
