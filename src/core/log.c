/*
 * log: the operational log, one JSON object per line on stderr. Each line is built in a stack
 * buffer, cut at 8 KiB on a character boundary when too long, and written with one write(2).
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
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

/* Length of the valid UTF-8 sequence at s, or 0 (same rules as buf_append_json_escaped). */
static size_t utf8_len(const unsigned char *s, size_t len)
{
    unsigned char c = s[0];
    unsigned char lo = 0x80;
    unsigned char hi = 0xBF;
    size_t n;
    size_t i;

    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        lo = c == 0xE0 ? 0xA0 : 0x80;
        hi = c == 0xED ? 0x9F : 0xBF;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        lo = c == 0xF0 ? 0x90 : 0x80;
        hi = c == 0xF4 ? 0x8F : 0xBF;
    } else {
        return 0;
    }
    if (len < n || s[1] < lo || s[1] > hi)
        return 0;
    for (i = 2; i < n; i++) {
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    }
    return n;
}

/* Appends the JSON-escaped form of s one character at a time; stops (returning false) before the
 * first character that does not fit, so a cut never splits an escape or a UTF-8 sequence. */
static bool put_escaped(struct line *l, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    size_t len = strlen(s);
    size_t i = 0;
    size_t n;
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
        } else if (p[i] < 0x20) {
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[p[i] >> 4];
            esc[5] = hex[p[i] & 0x0F];
            ok = put_raw(l, esc, 6);
        } else if (p[i] < 0x80) {
            ok = put_raw(l, (const char *)p + i, 1);
        } else {
            n = utf8_len(p + i, len - i);
            if (n == 0) {
                n = 1;
                ok = put_raw(l, "\\ufffd", 6);
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

static void log_line(int level, const char *msg, bool numbers, va_list ap)
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
    write_all(l.buf, l.len);
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
        log_line(level, msg, false, ap);
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
        log_line(level, msg, true, ap);
        va_end(ap);
    }
}
