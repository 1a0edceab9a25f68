/*
 * Response helpers: JSON bodies, the one error body shape {"error","code","request_id"}, and
 * extra response headers kept in the request's arena.
 */
#include <string.h>

#include "http/http.h"

int http_header_add(struct request *r, const char *name, const char *value)
{
    if (r->n_headers >= HTTP_MAX_RESP_HEADERS)
        return MWE_INTERNAL;
    char *v = arena_strndup(&r->arena, value, strlen(value));
    if (!v)
        return MWE_NOMEM;
    r->headers[r->n_headers].name = name;
    r->headers[r->n_headers].value = v;
    r->n_headers++;
    return 0;
}

void http_set_json(struct request *r, int status)
{
    r->status = status;
    r->content_type = "application/json";
}

void http_set_error(struct request *r, int err, const char *msg)
{
    struct buf *b = &r->resp;

    r->err = err;
    r->status = mw_errstatus(err);
    r->content_type = "application/json";
    buf_reset(b);
    if (!msg)
        msg = mw_strerror(err);
    if (buf_append(b, "{\"error\":\"", 10) != 0 ||
        buf_append_json_escaped(b, msg, strlen(msg)) != 0 ||
        buf_appendf(b, "\",\"code\":\"%s\",\"request_id\":\"", mw_errcode(err)) != 0 ||
        buf_append_json_escaped(b, r->id, strlen(r->id)) != 0 || buf_append(b, "\"}", 2) != 0)
        buf_reset(b); /* out of memory: an empty body with the right status */
}
