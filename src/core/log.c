/*
 * log: the operational log, one JSON object per line on stderr. Each line is built in a stack
 * buffer, cut at 8 KiB on a character boundary when too long, and written with one write(2).
 *
 * Bulk lines (log_kv_bulk: the per-request line) may instead go to a per-thread buffer while
 * log_buffer_start() is in effect; a flusher thread writes every buffer every LOG_FLUSH_MS, a full
 * buffer is written by its thread, and any other line a thread logs first writes that thread's
 * buffer, so each thread's lines keep their order. One write(2) per request line was 11 % of the
 * CPU of a trivial model at the default level (docs/BENCHMARKS.md, "Fast paths").
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/core.h"

/* Longest line written, newline included. */
#define LOG_LINE_MAX 8192

static atomic_int log_level = LOG_INFO;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

/* What a truncated line ends with; the leading quote closes a cut string value and is written only
 * then. Its length is the room reserved at the end of every line. */
static const char trunc_tail[] = "\",\"truncated\":true}\n";

struct line {
    char buf[LOG_LINE_MAX];
    size_t len;
    size_t limit; /* content may not pass this: the rest is kept for the tail */
    bool truncated;
    bool open_string; /* a cut value whose closing quote the tail must add */
};

/* Clamps a level into the known range. */
static int level_clamp(int level)
{
    if (level < LOG_ERROR)
        return LOG_ERROR;
    if (level > LOG_DEBUG)
        return LOG_DEBUG;
    return level;
}

/* Sets the process-wide level (clamped to LOG_ERROR..LOG_DEBUG). Thread-safe (atomic). */
void log_set_level(int level)
{
    atomic_store_explicit(&log_level, level_clamp(level), memory_order_relaxed);
}

/* True when a line at level would be written. Thread-safe. */
bool log_enabled(int level)
{
    return level <= atomic_load_explicit(&log_level, memory_order_relaxed);
}

static bool ascii_ieq(const char *a, const char *b)
{
    unsigned char ca;
    unsigned char cb;

    for (;; a++, b++) {
        ca = (unsigned char)*a;
        cb = (unsigned char)*b;
        if (ca >= 'A' && ca <= 'Z')
            ca = (unsigned char)(ca - 'A' + 'a');
        if (ca != cb)
            return false;
        if (ca == '\0')
            return true;
    }
}

/* Parses "error", "warn" (or "warning"), "info", "debug", ASCII case-insensitive. Returns the
 * LOG_* value or -1 when s is NULL or unknown. Thread-safe. */
int log_level_parse(const char *s)
{
    int level = -1;
    size_t i;

    if (s == NULL)
        goto out;
    for (i = 0; i < MW_ARRAY_LEN(level_names); i++) {
        if (ascii_ieq(s, level_names[i])) {
            level = (int)i;
            goto out;
        }
    }
    if (ascii_ieq(s, "warning"))
        level = LOG_WARN;
out:
    return level;
}

static bool put_raw(struct line *l, const char *s, size_t n)
{
    if (n > l->limit - l->len)
        return false;
    memcpy(l->buf + l->len, s, n);
    l->len += n;
    return true;
}

/* Appends the JSON-escaped form of s one character at a time (controls, DEL, C1 and U+2028/U+2029
 * as escapes, like buf_append_json_escaped); stops (returning false) before the
 * first character that does not fit, so a cut never splits an escape or a UTF-8 sequence. */
static bool put_escaped(struct line *l, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    size_t len = strlen(s);
    size_t i = 0;
    size_t n;
    unsigned cp;
    char esc[6];
    bool ok = true;

    while (ok && i < len) {
        n = 1;
        if (p[i] == '"' || p[i] == '\\') {
            esc[0] = '\\';
            esc[1] = (char)p[i];
            ok = put_raw(l, esc, 2);
        } else if (p[i] == '\n') {
            ok = put_raw(l, "\\n", 2);
        } else if (p[i] == '\r') {
            ok = put_raw(l, "\\r", 2);
        } else if (p[i] == '\t') {
            ok = put_raw(l, "\\t", 2);
        } else if (p[i] < 0x20 || p[i] == 0x7f) {
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[p[i] >> 4];
            esc[5] = hex[p[i] & 0x0F];
            ok = put_raw(l, esc, 6);
        } else if (p[i] < 0x80) {
            ok = put_raw(l, (const char *)p + i, 1);
        } else {
            n = mw_utf8_len(p + i, len - i);
            if (n == 0) {
                n = 1;
                ok = put_raw(l, "\\ufffd", 6);
            } else if ((cp = mw_line_breaking_cp(p + i, n)) != 0) {
                esc[0] = '\\';
                esc[1] = 'u';
                esc[2] = hex[(cp >> 12) & 0x0F];
                esc[3] = hex[(cp >> 8) & 0x0F];
                esc[4] = hex[(cp >> 4) & 0x0F];
                esc[5] = hex[cp & 0x0F];
                ok = put_raw(l, esc, 6);
            } else {
                ok = put_raw(l, (const char *)p + i, n);
            }
        }
        i += n;
    }
    return ok;
}

/* Appends ,"key": ; on failure rolls back to mark and flags the line truncated. */
static bool put_key(struct line *l, const char *key, size_t mark)
{
    bool ok = put_raw(l, ",\"", 2) && put_escaped(l, key) && put_raw(l, "\":", 2);

    if (!ok) {
        l->len = mark;
        l->truncated = true;
    }
    return ok;
}

/* Appends "value". When the value is cut short the string is left open (l->open_string) for the
 * tail to close; when not even the opening quote fits the pair is rolled back to mark. */
static bool put_string(struct line *l, const char *value, size_t mark)
{
    bool ok = put_raw(l, "\"", 1);

    if (!ok) {
        l->len = mark;
        l->truncated = true;
    } else if (!put_escaped(l, value) || !put_raw(l, "\"", 1)) {
        ok = false;
        l->open_string = true;
        l->truncated = true;
    }
    return ok;
}

static void write_all(const char *p, size_t n)
{
    ssize_t w;

    while (n > 0) {
        w = write(STDERR_FILENO, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            break; /* nowhere left to report it */
        }
        p += w;
        n -= (size_t)w;
    }
}

/* ---- per-thread buffers of bulk lines ---------------------------------------------------------
 * Lock order: reg_mu, then a buffer's mu. */

#define LOG_TBUF_SIZE (32 * 1024)
#define LOG_FLUSH_MS 100

struct tbuf {
    pthread_mutex_t mu;
    size_t len;
    struct tbuf *next; /* registry list, under reg_mu */
    char data[LOG_TBUF_SIZE];
};

static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t reg_cv; /* wakes the flusher early to stop; CLOCK_MONOTONIC */
static struct tbuf *reg_head;
static atomic_bool buffering;
static bool flusher_running, flusher_stop;
static pthread_t flusher;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static pthread_key_t tbuf_key;
/* Atomic: the server's I/O threads start (and may log) before log_buffer_start sets it, so a
 * plain bool would be read while the main thread writes it. Release/acquire also publishes
 * tbuf_key to a thread that sees true. */
static atomic_bool tbuf_key_ok;
static _Thread_local struct tbuf *self;

/* Writes t's lines out; t->mu held. */
static void tbuf_drain(struct tbuf *t)
{
    if (t->len > 0) {
        write_all(t->data, t->len);
        t->len = 0;
    }
}

/* Thread exit: the thread's last lines are written and its buffer leaves the registry. */
static void tbuf_destroy(void *p)
{
    struct tbuf *t = p;
    struct tbuf **pp;

    pthread_mutex_lock(&reg_mu);
    for (pp = &reg_head; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == t) {
            *pp = t->next;
            break;
        }
    }
    pthread_mutex_lock(&t->mu);
    tbuf_drain(t);
    pthread_mutex_unlock(&t->mu);
    pthread_mutex_unlock(&reg_mu);
    pthread_mutex_destroy(&t->mu);
    free(t);
    self = NULL;
}

static void tbuf_key_init(void)
{
    pthread_condattr_t ca;

    atomic_store_explicit(&tbuf_key_ok, pthread_key_create(&tbuf_key, tbuf_destroy) == 0,
                          memory_order_release);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&reg_cv, &ca);
    pthread_condattr_destroy(&ca);
}

/* The calling thread's buffer, made on first use; NULL when none can be made (lines are then
 * written directly). */
static struct tbuf *tbuf_self(void)
{
    struct tbuf *t = self;

    if (t != NULL || !atomic_load_explicit(&tbuf_key_ok, memory_order_acquire))
        return t;
    t = malloc(sizeof(*t));
    if (t == NULL)
        return NULL;
    pthread_mutex_init(&t->mu, NULL);
    t->len = 0;
    if (pthread_setspecific(tbuf_key, t) != 0) {
        pthread_mutex_destroy(&t->mu);
        free(t);
        return NULL;
    }
    pthread_mutex_lock(&reg_mu);
    t->next = reg_head;
    reg_head = t;
    pthread_mutex_unlock(&reg_mu);
    self = t;
    return t;
}

/* Writes every registered buffer; reg_mu held. With try, skips a buffer whose lock is held (the
 * exit path, where its owner may never release it). */
static void tbuf_drain_registered(bool try)
{
    for (struct tbuf *t = reg_head; t != NULL; t = t->next) {
        if (try ? pthread_mutex_trylock(&t->mu) != 0 : pthread_mutex_lock(&t->mu) != 0)
            continue;
        tbuf_drain(t);
        pthread_mutex_unlock(&t->mu);
    }
}

/* tbuf_drain_registered under reg_mu (tried only, with try). */
static void tbuf_drain_all(bool try)
{
    if (try ? pthread_mutex_trylock(&reg_mu) != 0 : pthread_mutex_lock(&reg_mu) != 0)
        return;
    tbuf_drain_registered(try);
    pthread_mutex_unlock(&reg_mu);
}

static void *flusher_main(void *arg)
{
    struct timespec ts;

    (void)arg;
    pthread_mutex_lock(&reg_mu);
    while (!flusher_stop) {
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += LOG_FLUSH_MS * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&reg_cv, &reg_mu, &ts);
        tbuf_drain_registered(false);
    }
    pthread_mutex_unlock(&reg_mu);
    return NULL;
}

static void drain_at_exit(void)
{
    tbuf_drain_all(true);
}

/* Starts buffering bulk lines (see the top of this file). Returns 0, or MWE_INTERNAL when the
 * flusher thread cannot start (lines are then written directly). Main thread, once. */
int log_buffer_start(void)
{
    static bool atexit_done;

    pthread_once(&key_once, tbuf_key_init);
    if (!tbuf_key_ok || flusher_running)
        return tbuf_key_ok ? 0 : MWE_INTERNAL;
    flusher_stop = false;
    if (pthread_create(&flusher, NULL, flusher_main, NULL) != 0)
        return MWE_INTERNAL;
    flusher_running = true;
    if (!atexit_done)
        atexit_done = atexit(drain_at_exit) == 0;
    atomic_store(&buffering, true);
    return 0;
}

/* Stops buffering and writes every buffered line. Main thread; a no-op when not started. */
void log_buffer_stop(void)
{
    if (!flusher_running)
        return;
    atomic_store(&buffering, false);
    pthread_mutex_lock(&reg_mu);
    flusher_stop = true;
    pthread_cond_signal(&reg_cv);
    pthread_mutex_unlock(&reg_mu);
    pthread_join(flusher, NULL);
    flusher_running = false;
    tbuf_drain_all(false);
}

/* Writes a finished line: into the thread's buffer when bulk and buffering, otherwise directly
 * (after the thread's buffered lines). */
static void emit(const char *p, size_t n, bool bulk)
{
    struct tbuf *t = self;

    if (bulk && atomic_load_explicit(&buffering, memory_order_relaxed))
        t = tbuf_self();
    if (t == NULL) {
        write_all(p, n);
        return;
    }
    pthread_mutex_lock(&t->mu);
    if (bulk && atomic_load_explicit(&buffering, memory_order_relaxed) && n <= LOG_TBUF_SIZE) {
        if (n > LOG_TBUF_SIZE - t->len)
            tbuf_drain(t);
        memcpy(t->data + t->len, p, n);
        t->len += n;
    } else {
        tbuf_drain(t);
        write_all(p, n);
    }
    pthread_mutex_unlock(&t->mu);
}

static void log_line(int level, const char *msg, bool numbers, bool bulk, va_list ap)
{
    struct line l;
    char now[32];
    char num[32];
    const char *key;
    const char *value;
    long long ll;
    size_t mark;
    int saved_errno = errno;
    int n;

    l.len = 0;
    l.limit = sizeof(l.buf) - (sizeof(trunc_tail) - 1);
    l.truncated = false;
    l.open_string = false;
    time_iso8601_ms(time_real_ms(), now);
    n = snprintf(l.buf, l.limit, "{\"time\":\"%s\",\"level\":\"%s\",\"msg\":", now,
                 level_names[level_clamp(level)]);
    if (n < 0 || (size_t)n + 1 >= l.limit) /* the msg's opening quote must fit too */
        goto out;
    l.len = (size_t)n;
    if (!put_string(&l, msg != NULL ? msg : "", l.len))
        goto out_finish;
    for (;;) {
        key = va_arg(ap, const char *);
        if (key == NULL)
            break;
        mark = l.len;
        if (numbers && key[0] == '#') {
            ll = va_arg(ap, long long);
            n = (int)fmt_i64(num, (int64_t)ll);
            if (!put_key(&l, key + 1, mark))
                goto out_finish;
            if (!put_raw(&l, num, (size_t)n)) {
                l.len = mark;
                l.truncated = true;
                goto out_finish;
            }
            continue;
        }
        value = va_arg(ap, const char *);
        if (value == NULL)
            continue;
        if (!put_key(&l, key, mark) || !put_string(&l, value, mark))
            goto out_finish;
    }
out_finish:
    /* The limit kept room for the longer of the two tails. */
    if (l.truncated) {
        if (l.open_string)
            l.buf[l.len++] = '"';
        memcpy(l.buf + l.len, trunc_tail + 1, sizeof(trunc_tail) - 2);
        l.len += sizeof(trunc_tail) - 2;
    } else {
        memcpy(l.buf + l.len, "}\n", 2);
        l.len += 2;
    }
    emit(l.buf, l.len, bulk);
out:
    errno = saved_errno;
}

/* Writes one line at level when log_enabled(level): msg, then (key, value) string pairs ended by a
 * NULL key; a NULL value skips its pair. All strings are borrowed and JSON-escaped. Never fails
 * visibly and keeps errno. Thread-safe: one write(2) per line. */
void log_msg(int level, const char *msg, ...)
{
    va_list ap;

    if (log_enabled(level)) {
        va_start(ap, msg);
        log_line(level, msg, false, false, ap);
        va_end(ap);
    }
}

/* Like log_msg, but a key starting with '#' takes a long long value (pass 200LL, not 200), written
 * as a JSON number under the key without the '#'. Thread-safe. */
void log_kv(int level, const char *msg, ...)
{
    va_list ap;

    if (log_enabled(level)) {
        va_start(ap, msg);
        log_line(level, msg, true, false, ap);
        va_end(ap);
    }
}

/* Like log_kv, for a line of which many are written (one per request): buffered while
 * log_buffer_start() is in effect, so it reaches stderr within LOG_FLUSH_MS. Thread-safe. */
void log_kv_bulk(int level, const char *msg, ...)
{
    va_list ap;

    if (log_enabled(level)) {
        va_start(ap, msg);
        log_line(level, msg, true, true, ap);
        va_end(ap);
    }
}
