/*
 * GET /docs: the interactive documentation page (our own index.html and docs-init.js around the
 * swagger-ui-dist renderer that the build installs from npm). Every file is read into memory at
 * start-up and served from there with a strict Content-Security-Policy: no CDN, no inline script,
 * no file system access at request time, only the names in the table below.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/api.h"

#define DOCS_FILE_MAX (16u << 20)
#define RENDERER_DIR "node_modules/swagger-ui-dist"

/* Nothing but this origin: scripts and styles from files (no inline code, no eval), images from
 * this origin or data: URLs (the renderer's icons), requests to this origin only. */
#define DOCS_CSP                                                                                   \
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "              \
    "font-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; "                   \
    "frame-ancestors 'none'"

static const struct docs_file {
    const char *name; /* URL: /docs/<name>; "" is /docs itself */
    const char *path; /* under MODELWRAP_DOCS_DIR */
    const char *type;
} docs_files[] = {
    {"", "index.html", "text/html; charset=utf-8"},
    {"docs-init.js", "docs-init.js", "text/javascript; charset=utf-8"},
    {"docs.css", "docs.css", "text/css; charset=utf-8"},
    {"swagger-ui-bundle.js", RENDERER_DIR "/swagger-ui-bundle.js",
     "text/javascript; charset=utf-8"},
    {"swagger-ui.css", RENDERER_DIR "/swagger-ui.css", "text/css; charset=utf-8"},
    {"favicon-32x32.png", RENDERER_DIR "/favicon-32x32.png", "image/png"},
};
#define N_DOCS_FILES (sizeof(docs_files) / sizeof(docs_files[0]))

struct api_docs {
    char *data[N_DOCS_FILES];
    size_t len[N_DOCS_FILES];
};

/* See api.h. The names under /docs/ (the page itself excluded), for the OpenAPI document. */
const char *api_docs_file_name(size_t i)
{
    return i + 1 < N_DOCS_FILES ? docs_files[i + 1].name : NULL;
}

/* See api.h. Reads every file of the table from dir. Main thread at start-up. Errors:
 * MWE_CONFIG naming the first file that cannot be read; MWE_NOMEM. */
struct api_docs *api_docs_load(const char *dir, struct mw_error *e)
{
    struct api_docs *d = calloc(1, sizeof(*d));
    char path[4200];
    char reason[128];
    size_t i;

    if (d == NULL) {
        mw_fail(e, MWE_NOMEM, "out of memory for the docs page");
        return NULL;
    }
    for (i = 0; i < N_DOCS_FILES; i++) {
        int err;
        if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, docs_files[i].path) >=
            sizeof(path)) {
            mw_fail(e, MWE_CONFIG, "MODELWRAP_DOCS_DIR: the path is too long");
            goto out_fail;
        }
        err = mw_file_read(path, DOCS_FILE_MAX, MW_FILE_REGULAR, &d->data[i], &d->len[i]);
        if (err == EINVAL)
            err = EISDIR;
        if (err != 0) {
            mw_fail(e, MWE_CONFIG, "MODELWRAP_DOCS_DIR: cannot read '%.300s': %s", path,
                    err == EFBIG ? "larger than 16 MiB" : strerror_r(err, reason, sizeof(reason)));
            goto out_fail;
        }
    }
    return d;

out_fail:
    api_docs_free(d);
    return NULL;
}

/* See api.h. NULL is fine. Main thread, after the servers stopped. */
void api_docs_free(struct api_docs *d)
{
    size_t i;

    if (d == NULL)
        return;
    for (i = 0; i < N_DOCS_FILES; i++)
        free(d->data[i]);
    free(d);
}

/* Answers file i of the table, or 503 when the page is not installed. */
static int serve(struct api *a, struct request *r, size_t i)
{
    struct api_docs *d = a->docs;

    if (d == NULL) {
        http_set_error(r, MWE_NOT_READY,
                       "The documentation page is not installed: run `make build` (npm ci in web/) "
                       "or set MODELWRAP_DOCS_DIR.");
        return HTTP_DONE;
    }
    buf_reset(&r->resp);
    if (buf_append(&r->resp, d->data[i], d->len[i]) != 0) {
        http_set_error(r, MWE_NOMEM, NULL);
        return HTTP_DONE;
    }
    r->status = 200;
    r->content_type = docs_files[i].type;
    http_header_add(r, "Content-Security-Policy", DOCS_CSP);
    http_header_add(r, "Referrer-Policy", "no-referrer");
    http_header_add(r, "Cache-Control", i == 0 ? "no-cache" : "public, max-age=3600");
    return HTTP_DONE;
}

/* GET /docs: the page. I/O thread. */
int api_h_docs(void *ctx, struct request *r)
{
    return serve(ctx, r, 0);
}

/* GET /docs/{file}: one of the page's files by its exact name; anything else is 404. */
int api_h_docs_asset(void *ctx, struct request *r)
{
    size_t i;

    if (r->n_params == 1) {
        for (i = 1; i < N_DOCS_FILES; i++)
            if (slice_eq(r->params[0], docs_files[i].name))
                return serve(ctx, r, i);
    }
    http_set_error(r, MWE_NOT_FOUND, "No such file of the documentation page.");
    return HTTP_DONE;
}
