/*
 * buf: bounded, growable byte buffers (after curl's dynbuf). Every buffer has a hard maximum so a
 * client can never grow one past a limit; also the JSON string escaper used by every encoder.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

#define BUF_MIN_CAP 64

/* core.h does not mark the va_list form; saying so here lets clang check the forwarding. */
int buf_vappendf(struct buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

/* Prepares an empty buffer (no allocation yet) whose len may never pass max bytes. b is
 * caller-owned. Thread: the caller's. */
void buf_init(struct buf *b, size_t max)
{
    b->ptr = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

/* Frees the memory of b; b stays usable (empty, same max). Thread: the caller's. */
void buf_fini(struct buf *b)
{
    free(b->ptr);
    b->ptr = NULL;
    b->len = 0;
    b->cap = 0;
}

/* Empties b but keeps its memory for reuse. Thread: the caller's. */
void buf_reset(struct buf *b)
{
    b->len = 0;
    if (b->ptr != NULL)
        b->ptr[0] = '\0';
}

/* Makes room for extra more bytes plus the NUL. 0, MWE_BODY_TOO_LARGE or MWE_NOMEM; b unchanged on
 * error. */
static int buf_reserve(struct buf *b, size_t extra)
{
    size_t need;
    size_t cap;
    char *p;
    int rc = 0;

    if (b->len > b->max || extra > b->max - b->len) {
        rc = MWE_BODY_TOO_LARGE;
        goto out;
    }
    need = b->len + extra; /* <= max */
    if (need == SIZE_MAX) {
        rc = MWE_NOMEM; /* no room for the NUL */
        goto out;
    }
    need++;
    if (b->ptr != NULL && need <= b->cap)
        goto out;
    cap = b->cap < BUF_MIN_CAP ? BUF_MIN_CAP : b->cap;
    while (cap < need) {
        if (cap > SIZE_MAX / 2) {
            cap = need;
            break;
        }
        cap *= 2;
    }
    /* Never allocate past what max can use. */
    if (b->max < SIZE_MAX && cap > b->max + 1)
        cap = b->max + 1;
    if (cap < need)
        cap = need;
    p = realloc(b->ptr, cap);
    if (p == NULL) {
        rc = MWE_NOMEM;
        goto out;
    }
    if (b->ptr == NULL)
        p[0] = '\0';
    b->ptr = p;
    b->cap = cap;
out:
    return rc;
}

/* Appends len bytes from data (borrowed; may be NULL when len is 0). Returns 0, MWE_NOMEM, or
 * MWE_BODY_TOO_LARGE when len would pass max; b is unchanged on error. Afterwards ptr is non-NULL
 * and NUL-terminated. Thread: the caller's. */
int buf_append(struct buf *b, const void *data, size_t len)
{
    int rc;

    rc = buf_reserve(b, len);
    if (rc != 0)
        goto out;
    if (len > 0)
        memcpy(b->ptr + b->len, data, len);
    b->len += len;
    b->ptr[b->len] = '\0';
out:
    return rc;
}

/* Appends the NUL-terminated s (borrowed). Same results as buf_append. */
int buf_append_str(struct buf *b, const char *s)
{
    return buf_append(b, s, strlen(s));
}

/* Decimal digits of v, most significant first, into out (>= 20 bytes, no NUL); returns the count.
 * Two digits per division: the per-request audit and log lines hold several integers each. */
size_t fmt_u64(char *out, uint64_t v)
{
    static const char pairs[] = "000102030405060708091011121314151617181920212223242526272829"
                                "303132333435363738394041424344454647484950515253545556575859"
                                "606162636465666768697071727374757677787980818283848586878889"
                                "90919293949596979899";
    char tmp[20];
    size_t n = sizeof(tmp);

    while (v >= 100) {
        unsigned d = (unsigned)(v % 100) * 2;
        v /= 100;
        tmp[--n] = pairs[d + 1];
        tmp[--n] = pairs[d];
    }
    if (v >= 10) {
        unsigned d = (unsigned)v * 2;
        tmp[--n] = pairs[d + 1];
        tmp[--n] = pairs[d];
    } else {
        tmp[--n] = (char)('0' + v);
    }
    memcpy(out, tmp + n, sizeof(tmp) - n);
    return sizeof(tmp) - n;
}

/* Appends v in decimal. Same results as buf_append. */
int buf_append_u64(struct buf *b, uint64_t v)
{
    char d[24];

    return buf_append(b, d, fmt_u64(d, v));
}

size_t fmt_i64(char *out, int64_t v)
{
    if (v >= 0)
        return fmt_u64(out, (uint64_t)v);
    out[0] = '-';
    return 1 + fmt_u64(out + 1, 0 - (uint64_t)v); /* INT64_MIN too */
}

/* Appends v in decimal ("-" first when negative). Same results as buf_append. */
int buf_append_i64(struct buf *b, int64_t v)
{
    char d[24];

    return buf_append(b, d, fmt_i64(d, v));
}

/* printf-style append, never truncated: the buffer grows to hold the whole output. Returns 0,
 * MWE_NOMEM, MWE_BODY_TOO_LARGE (output would pass max) or MWE_INTERNAL (bad format/encoding);
 * b's contents are unchanged on error. Thread: the caller's. */
int buf_vappendf(struct buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    size_t avail;
    int n;
    int rc = 0;

    va_copy(ap2, ap);
    avail = b->ptr != NULL ? b->cap - b->len : 0;
    n = vsnprintf(avail > 0 ? b->ptr + b->len : NULL, avail, fmt, ap);
    if (n < 0) {
        rc = MWE_INTERNAL;
        goto out_restore;
    }
    if ((size_t)n < avail) {
        /* It fitted; still enforce max. */
        if (b->len > b->max || (size_t)n > b->max - b->len) {
            rc = MWE_BODY_TOO_LARGE;
            goto out_restore;
        }
        b->len += (size_t)n;
        goto out;
    }
    if (b->ptr != NULL)
        b->ptr[b->len] = '\0';
    rc = buf_reserve(b, (size_t)n);
    if (rc != 0)
        goto out;
    n = vsnprintf(b->ptr + b->len, b->cap - b->len, fmt, ap2);
    if (n < 0 || (size_t)n >= b->cap - b->len) {
        rc = MWE_INTERNAL;
        goto out_restore;
    }
    b->len += (size_t)n;
    goto out;
out_restore:
    if (b->ptr != NULL)
        b->ptr[b->len] = '\0';
out:
    va_end(ap2);
    return rc;
}

/* Variadic form of buf_vappendf; same contract. */
int buf_appendf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = buf_vappendf(b, fmt, ap);
    va_end(ap);
    return rc;
}

/* See core.h. */
unsigned mw_line_breaking_cp(const unsigned char *s, size_t n)
{
    if (n == 2 && s[0] == 0xC2 && s[1] <= 0x9F)
        return s[1];
    if (n == 3 && s[0] == 0xE2 && s[1] == 0x80 && (s[2] == 0xA8 || s[2] == 0xA9))
        return 0x2000u | (unsigned)(s[2] - 0x80);
    return 0;
}

/* Appends s (len bytes, borrowed, any content) as the body of a JSON string: '"', '\\', control
 * characters (C0, DEL, C1) and U+2028/U+2029 escaped (\n \r \t short, others \uXXXX), other
 * valid UTF-8 passed through, each byte of invalid UTF-8 replaced by \ufffd, so the output is
 * always valid JSON on one line for any reader. Returns 0, MWE_NOMEM or MWE_BODY_TOO_LARGE; b is
 * unchanged on error. Thread: the caller's. */
int buf_append_json_escaped(struct buf *b, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    size_t old_len = b->len;
    size_t i = 0;
    size_t run;
    size_t n;
    char esc[6];
    size_t esc_len;
    int rc = 0;

    /* Make ptr non-NULL and NUL-terminated even for an empty string. */
    rc = buf_reserve(b, 0);
    if (rc != 0)
        goto out;
    while (i < len) {
        /* Copy the longest run of bytes that need no escaping in one go. */
        run = i;
        while (run < len) {
            if (p[run] >= 0x20 && p[run] < 0x7f && p[run] != '"' && p[run] != '\\') {
                run++;
                continue;
            }
            if (p[run] >= 0x80) {
                n = mw_utf8_len(p + run, len - run);
                if (n > 0 && mw_line_breaking_cp(p + run, n) == 0) {
                    run += n;
                    continue;
                }
            }
            break;
        }
        if (run > i) {
            rc = buf_append(b, p + i, run - i);
            if (rc != 0)
                goto out_rollback;
            i = run;
            if (i == len)
                break;
        }
        esc[0] = '\\';
        n = p[i] >= 0x80 ? mw_utf8_len(p + i, len - i) : 0;
        if (n > 0) {
            unsigned cp = mw_line_breaking_cp(p + i, n);
            esc[1] = 'u';
            esc[2] = hex[(cp >> 12) & 0x0F];
            esc[3] = hex[(cp >> 8) & 0x0F];
            esc[4] = hex[(cp >> 4) & 0x0F];
            esc[5] = hex[cp & 0x0F];
            rc = buf_append(b, esc, 6);
            if (rc != 0)
                goto out_rollback;
            i += n;
            continue;
        }
        switch (p[i]) {
        case '"':
        case '\\':
            esc[1] = (char)p[i];
            esc_len = 2;
            break;
        case '\n':
            esc[1] = 'n';
            esc_len = 2;
            break;
        case '\r':
            esc[1] = 'r';
            esc_len = 2;
            break;
        case '\t':
            esc[1] = 't';
            esc_len = 2;
            break;
        default:
            if (p[i] < 0x20 || p[i] == 0x7f) {
                esc[1] = 'u';
                esc[2] = '0';
                esc[3] = '0';
                esc[4] = hex[p[i] >> 4];
                esc[5] = hex[p[i] & 0x0F];
            } else {
                /* An invalid UTF-8 byte. */
                memcpy(esc, "\\ufffd", 6);
            }
            esc_len = 6;
            break;
        }
        rc = buf_append(b, esc, esc_len);
        if (rc != 0)
            goto out_rollback;
        i++;
    }
    goto out;
out_rollback:
    b->len = old_len;
    if (b->ptr != NULL)
        b->ptr[b->len] = '\0';
out:
    return rc;
}
