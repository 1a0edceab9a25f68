/*
 * redis: the limiter's shared store. One hiredis connection per thread (thread-local), connect and
 * command timeouts, reconnection with backoff, and one atomic Lua script per decision that runs
 * the same GCRA as the local table on Redis's own clock, so replicas never read-modify-write.
 */
#include <errno.h>
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "limit/limit.h"

#define PREFIX_MAX 128
#define BACKOFF_MIN_MS 50u
#define BACKOFF_MAX_MS 1000u

/*
 * The decision, on Redis's clock in microseconds (TIME; Lua numbers are doubles, exact to 2^53).
 * KEYS[1]: the consumer; ARGV[1]: the emission interval; ARGV[2]: the span (burst * interval).
 * Returns {allowed, remaining, reset_us, retry_us}. The key expires when the bucket is full again,
 * so Redis memory follows the active consumers only.
 */
static const char script[] =
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000000 + tonumber(t[2])\n"
    "local iv = tonumber(ARGV[1])\n"
    "local span = tonumber(ARGV[2])\n"
    "local tat = tonumber(redis.call('GET', KEYS[1]) or 0) or 0\n"
    "if tat < now then tat = now end\n"
    "local nxt = tat + iv\n"
    "local ahead = nxt - now\n"
    "if ahead > span then\n"
    "  return {0, 0, math.ceil(tat - now), math.ceil(ahead - span)}\n"
    "end\n"
    "redis.call('SET', KEYS[1], string.format('%.3f', nxt), 'PX',\n"
    "           string.format('%d', math.ceil(ahead / 1000) + 1))\n"
    "return {1, math.floor((span - ahead) / iv + 1e-6), math.ceil(ahead), 0}\n";

/* A thread's connection. */
struct conn {
    redisContext *ctx; /* NULL: not connected */
    char sha[41];      /* the script's SHA1 as SCRIPT LOAD returned it on this connection */
    uint64_t next_try_ns;
    unsigned backoff_ms;
};

struct limit_redis {
    struct limit_redis_target t;
    struct timeval connect_tv;
    struct timeval cmd_tv;
    char prefix[PREFIX_MAX + 1];
    size_t prefix_len;
    pthread_key_t key;
    atomic_int up; /* 1 until a decision fails, then 0 until one succeeds */
};

/* ---- the URL --------------------------------------------------------------------------------- */

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decodes len bytes of s into out (cap bytes with the NUL). false when malformed, too long
 * or decoding to a NUL. */
static bool pct_decode(const char *s, size_t len, char *out, size_t cap)
{
    size_t i;
    size_t j = 0;

    for (i = 0; i < len; i++) {
        char c = s[i];
        if (c == '%') {
            int hi;
            int lo;
            if (i + 2 >= len)
                return false;
            hi = hexval(s[i + 1]);
            lo = hexval(s[i + 2]);
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
                return false;
            c = (char)(hi * 16 + lo);
            i += 2;
        }
        if (j + 1 >= cap)
            return false;
        out[j++] = c;
    }
    out[j] = '\0';
    return true;
}

/* Parses 1-10 digits into *out within [min, max]. */
static bool parse_uint(const char *s, size_t len, unsigned long min, unsigned long max,
                       unsigned long *out)
{
    unsigned long v = 0;
    size_t i;

    if (len == 0 || len > 10)
        return false;
    for (i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (unsigned long)(s[i] - '0');
    }
    if (v < min || v > max)
        return false;
    *out = v;
    return true;
}

static bool host_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_';
}

/* Parses the URL; see limit.h. The password is never copied into e. */
int limit_redis_url_parse(const char *url, struct limit_redis_target *t, struct mw_error *e)
{
    static const char accepted[] =
        "(accepted: redis://[[user]:password@]host[:port][/db] or unix:///path[?db=N])";
    const char *p;
    const char *end;
    const char *at = NULL;
    const char *hp;
    const char *q;
    unsigned long v;
    size_t i;
    int rc = 0;

    memset(t, 0, sizeof(*t));
    t->port = 6379;
    if (!url) {
        rc = mw_fail(e, MWE_CONFIG, "no URL %s", accepted);
        goto out;
    }
    for (i = 0; url[i] != '\0'; i++) {
        unsigned char c = (unsigned char)url[i];
        if (c <= 0x20 || c >= 0x7f) {
            rc = mw_fail(e, MWE_CONFIG, "a space, control or non-ASCII byte in the URL %s",
                         accepted);
            goto out;
        }
    }
    if (strncmp(url, "unix://", 7) == 0) {
        p = url + 7;
        q = strchr(p, '?');
        end = q ? q : p + strlen(p);
        if (*p != '/' || (size_t)(end - p) >= sizeof(t->unix_path) || end - p < 2) {
            rc = mw_fail(e, MWE_CONFIG,
                         "the socket path must be absolute and shorter than %zu "
                         "bytes %s",
                         sizeof(t->unix_path), accepted);
            goto out;
        }
        memcpy(t->unix_path, p, (size_t)(end - p));
        if (q) {
            if (strncmp(q, "?db=", 4) != 0 || !parse_uint(q + 4, strlen(q + 4), 0, 1000000, &v)) {
                rc =
                    mw_fail(e, MWE_CONFIG, "the only query is ?db=N with N 0-1000000 %s", accepted);
                goto out;
            }
            t->db = (unsigned)v;
        }
        goto out;
    }
    if (strncmp(url, "redis://", 8) != 0) {
        rc = mw_fail(e, MWE_CONFIG, "unknown scheme %s", accepted);
        goto out;
    }
    p = url + 8;
    end = p + strcspn(p, "/?#");
    if (*end == '?' || *end == '#') {
        rc = mw_fail(e, MWE_CONFIG, "query strings and fragments are not accepted %s", accepted);
        goto out;
    }
    for (q = p; q < end; q++)
        if (*q == '@')
            at = q;
    hp = p;
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        if (!colon) {
            rc = mw_fail(e, MWE_CONFIG, "credentials must be [user]:password before '@' %s",
                         accepted);
            goto out;
        }
        if (!pct_decode(p, (size_t)(colon - p), t->user, sizeof(t->user)) ||
            !pct_decode(colon + 1, (size_t)(at - colon - 1), t->password, sizeof(t->password))) {
            rc = mw_fail(e, MWE_CONFIG,
                         "malformed or too long user or password (percent-escape "
                         "reserved characters) %s",
                         accepted);
            goto out;
        }
        if (t->password[0] == '\0') {
            rc = mw_fail(e, MWE_CONFIG, "an empty password %s", accepted);
            goto out;
        }
        hp = at + 1;
    }
    /* host[:port], the host possibly an [IPv6] literal */
    if (*hp == '[') {
        const char *close = memchr(hp, ']', (size_t)(end - hp));
        if (!close || close - hp - 1 < 2 || (size_t)(close - hp - 1) >= sizeof(t->host)) {
            rc = mw_fail(e, MWE_CONFIG, "malformed [IPv6] host %s", accepted);
            goto out;
        }
        for (q = hp + 1; q < close; q++) {
            if (hexval(*q) < 0 && *q != ':' && *q != '.') {
                rc = mw_fail(e, MWE_CONFIG, "malformed [IPv6] host %s", accepted);
                goto out;
            }
        }
        memcpy(t->host, hp + 1, (size_t)(close - hp - 1));
        q = close + 1;
    } else {
        for (q = hp; q < end && *q != ':'; q++) {
            if (!host_char(*q)) {
                rc = mw_fail(e, MWE_CONFIG, "malformed host %s", accepted);
                goto out;
            }
        }
        if (q == hp || (size_t)(q - hp) >= sizeof(t->host)) {
            rc = mw_fail(e, MWE_CONFIG, "missing or too long host %s", accepted);
            goto out;
        }
        memcpy(t->host, hp, (size_t)(q - hp));
    }
    if (q < end) {
        if (*q != ':' || !parse_uint(q + 1, (size_t)(end - q - 1), 1, 65535, &v)) {
            rc = mw_fail(e, MWE_CONFIG, "the port must be 1-65535 %s", accepted);
            goto out;
        }
        t->port = (uint16_t)v;
    }
    if (*end == '/' && end[1] != '\0') {
        if (!parse_uint(end + 1, strlen(end + 1), 0, 1000000, &v)) {
            rc = mw_fail(e, MWE_CONFIG, "the database must be a number 0-1000000 %s", accepted);
            goto out;
        }
        t->db = (unsigned)v;
    }
out:
    if (rc != 0)
        memset(t, 0, sizeof(*t));
    return rc;
}

/* ---- connections ----------------------------------------------------------------------------- */

static void conn_close(struct conn *c)
{
    if (c->ctx)
        redisFree(c->ctx);
    c->ctx = NULL;
}

/* pthread key destructor: a thread that used the store exits. */
static void conn_destroy(void *p)
{
    struct conn *c = p;
    conn_close(c);
    free(c);
}

static struct conn *conn_get(struct limit_redis *r)
{
    struct conn *c = pthread_getspecific(r->key);
    if (c)
        return c;
    c = calloc(1, sizeof(*c));
    if (c && pthread_setspecific(r->key, c) != 0) {
        free(c);
        c = NULL;
    }
    return c;
}

static struct timeval ms_tv(unsigned ms)
{
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
    return tv;
}

/* Runs one command; returns the reply (caller frees) or NULL with why set. An error reply is
 * returned as a reply. *io_errno: errno right after an I/O failure, else 0. */
static redisReply *command(redisContext *ctx, int argc, const char **argv, const size_t *lens,
                           char *why, size_t cap, int *io_errno)
{
    redisReply *reply;

    errno = 0;
    reply = redisCommandArgv(ctx, argc, argv, lens);
    if (io_errno)
        *io_errno = reply ? 0 : errno;
    if (!reply)
        snprintf(why, cap, "%s", ctx->err ? ctx->errstr : "no reply");
    return reply;
}

/* SCRIPT LOAD on c: sets c->sha. 0 or MWE_IO. */
static int load_script(struct conn *c, char *why, size_t cap)
{
    const char *argv[3] = {"SCRIPT", "LOAD", script};
    size_t lens[3] = {6, 4, sizeof(script) - 1};
    redisReply *reply = command(c->ctx, 3, argv, lens, why, cap, NULL);
    int rc = MWE_IO;

    if (!reply)
        goto out;
    if (reply->type == REDIS_REPLY_STRING && reply->len == 40) {
        memcpy(c->sha, reply->str, 40);
        c->sha[40] = '\0';
        rc = 0;
    } else {
        snprintf(why, cap, "SCRIPT LOAD: %s",
                 reply->type == REDIS_REPLY_ERROR && reply->str ? reply->str : "unexpected reply");
    }
    freeReplyObject(reply);
out:
    return rc;
}

/* Expects +OK from a command; 0 or MWE_IO. */
static int command_ok(redisContext *ctx, int argc, const char **argv, const size_t *lens,
                      const char *what, char *why, size_t cap)
{
    redisReply *reply = command(ctx, argc, argv, lens, why, cap, NULL);
    int rc = MWE_IO;

    if (!reply)
        goto out;
    if (reply->type == REDIS_REPLY_STATUS && reply->str && strcmp(reply->str, "OK") == 0)
        rc = 0;
    else
        snprintf(why, cap, "%s: %s", what,
                 reply->type == REDIS_REPLY_ERROR && reply->str ? reply->str : "unexpected reply");
    freeReplyObject(reply);
out:
    return rc;
}

/* Connects c: timeouts, AUTH, SELECT, SCRIPT LOAD. 0 or MWE_IO with why; c->ctx NULL then. */
static int conn_open(struct limit_redis *r, struct conn *c, char *why, size_t cap)
{
    redisContext *ctx;
    char db[16];
    int rc = MWE_IO;

    if (r->t.unix_path[0])
        ctx = redisConnectUnixWithTimeout(r->t.unix_path, r->connect_tv);
    else
        ctx = redisConnectWithTimeout(r->t.host, r->t.port, r->connect_tv);
    if (!ctx) {
        snprintf(why, cap, "connect: out of memory");
        goto out;
    }
    c->ctx = ctx;
    if (ctx->err) {
        snprintf(why, cap, "connect: %s", ctx->errstr);
        goto out_close;
    }
    if (redisSetTimeout(ctx, r->cmd_tv) != REDIS_OK) {
        snprintf(why, cap, "cannot set the command timeout");
        goto out_close;
    }
    if (r->t.password[0]) {
        const char *argv[3] = {"AUTH", r->t.user, r->t.password};
        size_t lens[3] = {4, strlen(r->t.user), strlen(r->t.password)};
        if (r->t.user[0])
            rc = command_ok(ctx, 3, argv, lens, "AUTH", why, cap);
        else
            rc = command_ok(ctx, 2, (const char *[]){"AUTH", r->t.password},
                            (const size_t[]){4, lens[2]}, "AUTH", why, cap);
        if (rc != 0)
            goto out_close;
    }
    if (r->t.db != 0) {
        snprintf(db, sizeof(db), "%u", r->t.db);
        rc = command_ok(ctx, 2, (const char *[]){"SELECT", db}, (const size_t[]){6, strlen(db)},
                        "SELECT", why, cap);
        if (rc != 0)
            goto out_close;
    }
    rc = load_script(c, why, cap);
    if (rc != 0)
        goto out_close;
    goto out;

out_close:
    rc = MWE_IO;
    conn_close(c);
out:
    return rc;
}

enum { EVAL_OK = 0, EVAL_FAILED = 1, EVAL_STALE = 2 };

/* One EVALSHA (SCRIPT LOAD and again on NOSCRIPT). EVAL_STALE: the connection broke in a way a
 * fresh connection may fix (the server closed it or reset it); c is closed then and on
 * EVAL_FAILED when the connection is unusable. */
static int eval(struct limit_redis *r, struct conn *c, const char *key, size_t len,
                const struct gcra *g, struct limit_decision *d, char *why, size_t cap)
{
    char full[PREFIX_MAX + LIMIT_KEY_MAX];
    char iv[48];
    char span[48];
    const char *argv[6];
    size_t lens[6];
    redisReply *reply = NULL;
    int io_errno = 0;
    int attempt;
    int rc = EVAL_FAILED;

    if (len > LIMIT_KEY_MAX) {
        snprintf(why, cap, "key too long");
        goto out;
    }
    memcpy(full, r->prefix, r->prefix_len);
    memcpy(full + r->prefix_len, key, len);
    snprintf(iv, sizeof(iv), "%.3f", (double)g->interval_ns / 1000.0);
    snprintf(span, sizeof(span), "%.3f", (double)g->span_ns / 1000.0);
    for (attempt = 0; attempt < 2; attempt++) {
        argv[0] = "EVALSHA";
        argv[1] = c->sha;
        argv[2] = "1";
        argv[3] = full;
        argv[4] = iv;
        argv[5] = span;
        lens[0] = 7;
        lens[1] = 40;
        lens[2] = 1;
        lens[3] = r->prefix_len + len;
        lens[4] = strlen(iv);
        lens[5] = strlen(span);
        reply = command(c->ctx, 6, argv, lens, why, cap, &io_errno);
        if (!reply) {
            bool stale = c->ctx->err == REDIS_ERR_EOF ||
                         (c->ctx->err == REDIS_ERR_IO && io_errno != EAGAIN &&
                          io_errno != EWOULDBLOCK && io_errno != EINTR && io_errno != 0);
            conn_close(c);
            rc = stale ? EVAL_STALE : EVAL_FAILED;
            goto out;
        }
        if (reply->type == REDIS_REPLY_ERROR && reply->str &&
            strncmp(reply->str, "NOSCRIPT", 8) == 0 && attempt == 0) {
            /* The script cache was flushed (SCRIPT FLUSH, a restart behind a proxy). */
            freeReplyObject(reply);
            reply = NULL;
            if (load_script(c, why, cap) != 0) {
                if (c->ctx && c->ctx->err)
                    conn_close(c);
                goto out;
            }
            continue;
        }
        break;
    }
    if (reply->type == REDIS_REPLY_ERROR) {
        snprintf(why, cap, "EVALSHA: %s", reply->str ? reply->str : "error");
        goto out;
    }
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 4) {
        snprintf(why, cap, "EVALSHA: unexpected reply");
        goto out;
    }
    for (size_t i = 0; i < 4; i++) {
        if (reply->element[i]->type != REDIS_REPLY_INTEGER || reply->element[i]->integer < 0) {
            snprintf(why, cap, "EVALSHA: unexpected reply");
            goto out;
        }
    }
    d->allowed = reply->element[0]->integer == 1;
    d->limit = g->burst;
    d->remaining = reply->element[1]->integer > (long long)g->burst
                       ? g->burst
                       : (unsigned)reply->element[1]->integer;
    d->reset_ns = (uint64_t)reply->element[2]->integer * 1000u;
    d->retry_ns = (uint64_t)reply->element[3]->integer * 1000u;
    if (!d->allowed && d->retry_ns == 0)
        d->retry_ns = 1000;
    d->source = LIMIT_SRC_REDIS;
    rc = EVAL_OK;
out:
    if (reply)
        freeReplyObject(reply);
    return rc;
}

/* ---- the store ------------------------------------------------------------------------------- */

/* Creates the store; see limit.h. */
struct limit_redis *limit_redis_new(const struct limit_redis_opts *o, struct mw_error *e)
{
    struct limit_redis *r = NULL;
    size_t plen = o->prefix ? strlen(o->prefix) : 0;

    if (plen > PREFIX_MAX) {
        mw_fail(e, MWE_CONFIG, "the Redis key prefix is longer than %d bytes", PREFIX_MAX);
        goto out;
    }
    r = calloc(1, sizeof(*r));
    if (!r) {
        mw_fail(e, MWE_NOMEM, "out of memory");
        goto out;
    }
    if (pthread_key_create(&r->key, conn_destroy) != 0) {
        mw_fail(e, MWE_NOMEM, "no thread-local key left for the Redis connections");
        free(r);
        r = NULL;
        goto out;
    }
    r->t = o->target;
    r->connect_tv = ms_tv(o->connect_timeout_ms ? o->connect_timeout_ms : 1);
    r->cmd_tv = ms_tv(o->timeout_ms ? o->timeout_ms : 1);
    if (plen > 0)
        memcpy(r->prefix, o->prefix, plen);
    r->prefix_len = plen;
    atomic_init(&r->up, 1);
out:
    return r;
}

/* Frees the store and the calling thread's connection; see limit.h. */
void limit_redis_free(struct limit_redis *r)
{
    struct conn *c;

    if (!r)
        return;
    c = pthread_getspecific(r->key);
    if (c) {
        pthread_setspecific(r->key, NULL);
        conn_destroy(c);
    }
    pthread_key_delete(r->key);
    explicit_bzero(r->t.password, sizeof(r->t.password));
    free(r);
}

/* Whether the last decision that reached the store succeeded (any thread). Borrows r; lock-free. */
bool limit_redis_up(const struct limit_redis *r)
{
    return atomic_load_explicit(&((struct limit_redis *)r)->up, memory_order_relaxed) == 1;
}

static void backoff(struct conn *c, uint64_t now_ns)
{
    c->backoff_ms = c->backoff_ms == 0 ? BACKOFF_MIN_MS : c->backoff_ms * 2;
    if (c->backoff_ms > BACKOFF_MAX_MS)
        c->backoff_ms = BACKOFF_MAX_MS;
    c->next_try_ns = now_ns + (uint64_t)c->backoff_ms * 1000000u;
}

/* One decision in Redis; see limit.h. */
int limit_redis_take(struct limit_redis *r, const void *key, size_t len, const struct gcra *g,
                     struct limit_decision *d, int *changed, char *why, size_t cap)
{
    struct conn *c = conn_get(r);
    bool fresh = false;
    int st = EVAL_FAILED;
    int rc = MWE_IO;

    *changed = 0;
    why[0] = '\0';
    if (!c) {
        snprintf(why, cap, "out of memory");
        goto out;
    }
    if (!c->ctx) {
        /* Wait out the backoff, unless another thread has seen the store come back. */
        if (time_mono_ns() < c->next_try_ns && !limit_redis_up(r)) {
            snprintf(why, cap, "reconnecting (backoff)");
            goto out;
        }
        if (conn_open(r, c, why, cap) != 0) {
            backoff(c, time_mono_ns());
            goto out_down;
        }
        fresh = true;
    }
    st = eval(r, c, key, len, g, d, why, cap);
    if (st == EVAL_STALE && !fresh) {
        /* A connection from before a restart of Redis: one fresh attempt. */
        if (conn_open(r, c, why, cap) == 0)
            st = eval(r, c, key, len, g, d, why, cap);
    }
    if (st != EVAL_OK) {
        if (!c->ctx)
            backoff(c, time_mono_ns());
        goto out_down;
    }
    c->backoff_ms = 0;
    c->next_try_ns = 0;
    if (atomic_exchange_explicit(&r->up, 1, memory_order_relaxed) == 0)
        *changed = 1;
    rc = 0;
    goto out;

out_down:
    if (atomic_exchange_explicit(&r->up, 0, memory_order_relaxed) == 1)
        *changed = -1;
out:
    return rc;
}
