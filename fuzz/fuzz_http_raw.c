/*
 * libFuzzer target for the whole HTTP transport: raw request bytes go over loopback TCP to an
 * in-process server with the project's handler stack (libmicrohttpd, src/http's framing checks and
 * connection guard, src/api's pipeline with the bundled iris model, authentication off, the audit
 * trail into /dev/null). Each input is one connection: the bytes, then end of input. Checks that
 * every answer is a well-formed HTTP/1.1 response (status line, headers, Content-Length, body) and
 * that every answer is accounted for: the log phase ran for it, or it is a connection-level
 * refusal the transport reported. Seed corpus: fuzz/corpus/http_raw/ (the integration test table,
 * tests/integration/test_http_framing.py).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "api/api.h"
#include "audit/audit.h"
#include "config/config.h"
#include "http/http.h"
#include "model/model.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct {
    struct config cfg;
    struct api api;
    struct http_app app; /* api.app with counting hooks */
    struct http_server *srv;
    struct audit *audit;
    uint16_t port;
    atomic_ulong completed; /* log phases run */
    atomic_ulong conn_events;
} fz;

static void count_complete(void *ctx, struct request *r, bool ok)
{
    fz.api.app.complete(ctx, r, ok);
    atomic_fetch_add(&fz.completed, 1);
}

static void count_conn_event(void *ctx, const struct http_conn_event *ev)
{
    if (ev->reason == NULL || ev->peer == NULL)
        abort();
    fz.api.app.conn_event(ctx, ev);
    atomic_fetch_add(&fz.conn_events, 1);
}

/* The repository's models/ folder, from this file's path. */
static void models_dir(char *out, size_t cap)
{
    const char *slash = strrchr(__FILE__, '/');
    size_t n = slash ? (size_t)(slash - __FILE__) : 0;
    snprintf(out, cap, "%.*s/../models", (int)n, __FILE__);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static char models[4096];
    static char *args[] = {"modelwrap",
                           "serve",
                           "--host",
                           "127.0.0.1",
                           "--port",
                           "0",
                           "--auth",
                           "none",
                           "--audit-log",
                           "/dev/null",
                           "--threads",
                           "2",
                           "--models",
                           models,
                           "--log-level",
                           "error",
                           "--receive-timeout",
                           "5",
                           "--idle-timeout",
                           "5",
                           NULL};
    static char *env[] = {"MODELWRAP_ENV_FILE=/dev/null", NULL};
    static struct model_opts defaults;
    struct mw_error e = {0};
    struct registry *reg;
    struct model_pool *pool;
    struct repo_opts repo;
    (void)argc;
    (void)argv;

    models_dir(models, sizeof(models));
    signal(SIGPIPE, SIG_IGN);
    if (config_load(&fz.cfg, (int)(sizeof(args) / sizeof(args[0]) - 1), args, 2, env, &e) != 0)
        goto out_fail;
    log_set_level(fz.cfg.log_level);
    fz.audit = audit_new(&fz.cfg, &e);
    if (!fz.audit)
        goto out_fail;
    /* as `modelwrap serve` does (src/cli/main.c) */
    defaults.workers = fz.cfg.model_workers;
    defaults.queue_size = fz.cfg.model_queue_size;
    defaults.timeout_ms = fz.cfg.model_timeout_ms;
    defaults.max_records = fz.cfg.max_records;
    pool = model_pool_new(&e);
    repo = (struct repo_opts){fz.cfg.models_dir, fz.cfg.default_model, &defaults, pool};
    reg = pool ? registry_open(&repo, &e) : NULL;
    if (!reg)
        goto out_fail;
    api_init(&fz.api, &fz.cfg, reg);
    fz.api.audit = fz.audit;
    fz.api.auth = auth_new(&fz.cfg, &e);
    if (!fz.api.auth || api_limits_init(&fz.api, &e) != 0 || api_obs_init(&fz.api, &e) != 0)
        goto out_fail;
    fz.app = fz.api.app;
    fz.app.complete = count_complete;
    fz.app.conn_event = count_conn_event;
    fz.srv = http_server_new(&fz.cfg, &fz.app, &e);
    if (!fz.srv)
        goto out_fail;
    fz.api.server = fz.srv;
    fz.port = http_server_port(fz.srv);
    return 0; /* the server lives until the process exits */

out_fail:
    fprintf(stderr, "fuzz_http_raw: cannot start the server: %s\n", e.msg);
    exit(1);
}

/* Parses one response at p (n bytes). Returns its length, or 0 when it is not a well-formed
 * HTTP/1.1 response: a status line, header lines, and a body of its Content-Length (none for 1xx,
 * 204 and 304; none either for an answer to HEAD, which states the length of the body a GET would
 * get: allowed when head_sent and the next bytes are the end or another response). */
static size_t one_response(const char *p, size_t n, unsigned *status, bool head_sent)
{
    const char *end = NULL;
    const char *line;
    size_t clen = 0;
    bool have_clen = false;

    for (size_t i = 0; i + 3 < n; i++)
        if (memcmp(p + i, "\r\n\r\n", 4) == 0) {
            end = p + i;
            break;
        }
    if (!end || n < 13 || memcmp(p, "HTTP/1.1 ", 9) != 0)
        return 0;
    if (p[9] < '1' || p[9] > '5' || p[10] < '0' || p[10] > '9' || p[11] < '0' || p[11] > '9' ||
        p[12] != ' ')
        return 0;
    *status = (unsigned)((p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0'));
    line = memchr(p, '\n', (size_t)(end - p));
    while (line && line < end) {
        const char *next = memchr(line + 1, '\n', (size_t)(end + 2 - line - 1));
        const char *h = line + 1;
        size_t hl = next ? (size_t)(next - h) : 0;
        const char *colon = memchr(h, ':', hl);
        if (!next || hl < 2 || h[hl - 1] != '\r' || !colon || colon == h)
            return 0;
        if ((size_t)(colon - h) == 14 && strncasecmp(h, "Content-Length", 14) == 0) {
            const char *v = colon + 1;
            while (*v == ' ')
                v++;
            clen = 0;
            for (; *v >= '0' && *v <= '9'; v++)
                clen = clen * 10 + (size_t)(*v - '0');
            have_clen = true;
        }
        line = next;
        if (next + 2 >= end + 2)
            break;
    }
    size_t head = (size_t)(end + 4 - p);
    if (*status < 200 || *status == 204 || *status == 304)
        return head;
    if (head_sent && (head == n || (n - head >= 9 && memcmp(p + head, "HTTP/1.1 ", 9) == 0)))
        return head;
    if (!have_clen || head + clen > n)
        return 0;
    return head + clen;
}

/* libmicrohttpd 0.9.75 answers a malformed or too large Content-Length with its status line and
 * headers twice (docs/security.md): the first copy's "body" starts with the second status line. */
static bool mhd_doubled(const char *p, size_t n)
{
    const char *end = NULL;
    for (size_t i = 0; i + 3 < n; i++)
        if (memcmp(p + i, "\r\n\r\n", 4) == 0) {
            end = p + i + 4;
            break;
        }
    return end && (size_t)(n - (size_t)(end - p)) > 9 && memcmp(end, "HTTP/1.1 4", 10) == 0 &&
           (memcmp(p, "HTTP/1.1 400", 12) == 0 || memcmp(p, "HTTP/1.1 413", 12) == 0);
}

/* Whether p..p+n is a sequence of whole answers (nothing, or each one complete). */
static bool whole_answers(const char *p, size_t n, bool head_sent)
{
    size_t pos = 0;
    while (pos < n) {
        unsigned status = 0;
        size_t len;
        if (mhd_doubled(p + pos, n - pos))
            return true;
        len = one_response(p + pos, n - pos, &status, head_sent);
        if (len == 0)
            return false;
        pos += len;
    }
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char in[1 << 20];
    struct sockaddr_in sa;
    size_t got = 0;
    size_t pos = 0;
    unsigned long responses = 0;
    unsigned long before_c = atomic_load(&fz.completed);
    unsigned long before_e = atomic_load(&fz.conn_events);
    bool head_sent = memmem(data, size, "HEAD", 4) != NULL;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    if (fd < 0)
        abort();
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons(fz.port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
        abort();
    for (size_t off = 0; off < size;) {
        ssize_t w = send(fd, data + off, size - off, MSG_NOSIGNAL);
        if (w <= 0)
            break; /* the server refused early and closed */
        off += (size_t)w;
    }
    shutdown(fd, SHUT_WR);
    /* Read until the server closes, or (libmicrohttpd keeps a half-closed keep-alive connection
     * until its idle timeout) until nothing is in flight, what arrived is whole answers, and the
     * line has been quiet a while; an answer cut short gets up to 5 s to complete. */
    for (int quiet = 0, waited = 0; quiet < 2;) {
        struct pollfd pfd = {fd, POLLIN, 0};
        int pr = poll(&pfd, 1, 5);
        if (pr == 0) {
            bool idle = http_server_inflight(fz.srv) == 0 &&
                        (whole_answers(in, got, head_sent) || ++waited > 1000);
            quiet = idle ? quiet + 1 : 0;
            continue;
        }
        ssize_t r = pr > 0 ? recv(fd, in + got, sizeof(in) - got, 0) : -1;
        if (r <= 0)
            break; /* end or reset */
        quiet = 0;
        got += (size_t)r;
        if (got == sizeof(in))
            abort(); /* more answer than any request can cause */
    }
    close(fd);

    while (pos < got) {
        unsigned status = 0;
        size_t n;
        if (mhd_doubled(in + pos, got - pos)) {
            responses++;
            break; /* libmicrohttpd closes after it */
        }
        n = one_response(in + pos, got - pos, &status, head_sent);
        if (n == 0) {
            fprintf(stderr, "malformed answer at %zu of %zu bytes:\n%.*s\n", pos, got,
                    (int)(got - pos > 400 ? 400 : got - pos), in + pos);
            abort();
        }
        if (status >= 200) /* "100 Continue" is not an answer */
            responses++;
        pos += n;
    }
    /* Every answer was accounted for: a log phase ran for it (after the answer was sent, so
     * wait for the in-flight count to drop) or the transport reported a refusal. */
    unsigned long traced = 0;
    for (int i = 0; i < 2000; i++) {
        traced =
            (atomic_load(&fz.completed) - before_c) + (atomic_load(&fz.conn_events) - before_e);
        if (traced >= responses && http_server_inflight(fz.srv) == 0)
            break;
        usleep(1000);
    }
    if (traced < responses) {
        fprintf(stderr, "%lu answers, %lu traced\n", responses, traced);
        abort();
    }
    return 0;
}
