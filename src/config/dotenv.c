/*
 * dotenv: the bounded parser of .env files (KEY=VALUE lines), apart from the settings it feeds so
 * that its grammar can be read, tested and fuzzed on its own.
 */
#include <stdlib.h>
#include <string.h>

#include "config/dotenv.h"

#define DOTENV_LINE_MAX 65536 /* bytes of one .env line, without its line end */

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

static bool is_key_start(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static bool is_key_char(char c)
{
    return is_key_start(c) || (c >= '0' && c <= '9');
}

/* After a closing quote only blanks and a comment may follow. */
static bool rest_is_comment(const char *p, size_t i, size_t n)
{
    while (i < n && is_blank(p[i]))
        i++;
    return i == n || p[i] == '#';
}

/* Parses one line (p, n bytes, no line end, no NUL) into scratch ("key\0value\0") and calls cb.
 * scratch holds at least n + 2 bytes. */
static int dotenv_line(const char *p, size_t n, size_t line, char *scratch, dotenv_line_cb cb,
                       void *ctx, struct mw_error *e)
{
    size_t i = 0;
    size_t key_start;
    size_t key_len;
    char *value;
    size_t vlen = 0;
    int rc = 0;

    while (i < n && is_blank(p[i]))
        i++;
    if (i == n || p[i] == '#')
        goto out;
    if (n - i > 6 && memcmp(p + i, "export", 6) == 0 && is_blank(p[i + 6])) {
        i += 6;
        while (i < n && is_blank(p[i]))
            i++;
    }
    key_start = i;
    if (i == n || !is_key_start(p[i])) {
        rc = mw_fail(e, MWE_CONFIG,
                     "line %zu: expected KEY=VALUE with KEY like [A-Za-z_][A-Za-z0-9_]*", line);
        goto out;
    }
    while (i < n && is_key_char(p[i]))
        i++;
    key_len = i - key_start;
    while (i < n && is_blank(p[i]))
        i++;
    if (i == n || p[i] != '=') {
        rc =
            mw_fail(e, MWE_CONFIG,
                    "line %zu: expected '=' after the key (KEY like [A-Za-z_][A-Za-z0-9_]*)", line);
        goto out;
    }
    i++;
    while (i < n && is_blank(p[i]))
        i++;
    memcpy(scratch, p + key_start, key_len);
    scratch[key_len] = '\0';
    value = scratch + key_len + 1;

    if (i < n && p[i] == '\'') {
        const char *close = memchr(p + i + 1, '\'', n - i - 1);
        if (close == NULL) {
            rc = mw_fail(e, MWE_CONFIG, "line %zu: unterminated single quote", line);
            goto out;
        }
        vlen = (size_t)(close - (p + i + 1));
        memcpy(value, p + i + 1, vlen);
        i = (size_t)(close - p) + 1;
        if (!rest_is_comment(p, i, n)) {
            rc = mw_fail(e, MWE_CONFIG, "line %zu: unexpected text after the closing quote", line);
            goto out;
        }
    } else if (i < n && p[i] == '"') {
        bool closed = false;
        for (i++; i < n; i++) {
            char c = p[i];
            if (c == '"') {
                closed = true;
                i++;
                break;
            }
            if (c == '\\') {
                if (i + 1 == n)
                    break; /* a backslash at the end: the quote is not closed */
                c = p[++i];
                if (c == 'n') {
                    c = '\n';
                } else if (c != '"' && c != '\\') {
                    char esc[2] = {(unsigned char)c < 0x20 || c == 0x7f ? '?' : c, '\0'};
                    rc = mw_fail(e, MWE_CONFIG,
                                 "line %zu: unknown escape '\\%s' in double quotes "
                                 "(accepted: \\n \\\" \\\\)",
                                 line, esc);
                    goto out;
                }
            }
            value[vlen++] = c;
        }
        if (!closed) {
            rc = mw_fail(e, MWE_CONFIG, "line %zu: unterminated double quote", line);
            goto out;
        }
        if (!rest_is_comment(p, i, n)) {
            rc = mw_fail(e, MWE_CONFIG, "line %zu: unexpected text after the closing quote", line);
            goto out;
        }
    } else {
        /* Unquoted: up to the end or a '#' that follows a blank; trailing blanks trimmed. */
        size_t start = i;
        while (i < n && !(p[i] == '#' && is_blank(p[i - 1])))
            i++;
        while (i > start && is_blank(p[i - 1]))
            i--;
        vlen = i - start;
        memcpy(value, p + start, vlen);
    }
    value[vlen] = '\0';
    rc = cb(scratch, value, line, ctx);
out:
    return rc;
}

/* See dotenv.h. */
int dotenv_scan(const char *text, size_t len, dotenv_line_cb cb, void *ctx,
                       struct mw_error *e)
{
    char *scratch = NULL;
    size_t pos = 0;
    size_t line = 0;
    int rc = 0;

    if (text == NULL && len > 0) {
        rc = mw_fail(e, MWE_CONFIG, "no text");
        goto out;
    }
    scratch = malloc((len < DOTENV_LINE_MAX ? len : DOTENV_LINE_MAX) + 2);
    if (scratch == NULL) {
        rc = mw_fail(e, MWE_CONFIG, "out of memory");
        goto out;
    }
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
        pos = 3; /* a UTF-8 byte order mark */
    while (pos < len) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl != NULL ? (size_t)(nl - text) : len;
        size_t next = nl != NULL ? end + 1 : len;

        line++;
        if (end > pos && text[end - 1] == '\r')
            end--; /* CRLF */
        if (end - pos > DOTENV_LINE_MAX) {
            rc = mw_fail(e, MWE_CONFIG, "line %zu: longer than %d bytes", line, DOTENV_LINE_MAX);
            goto out;
        }
        if (memchr(text + pos, '\0', end - pos) != NULL) {
            rc = mw_fail(e, MWE_CONFIG, "line %zu: contains a NUL byte", line);
            goto out;
        }
        rc = dotenv_line(text + pos, end - pos, line, scratch, cb, ctx, e);
        if (rc != 0)
            goto out;
        pos = next;
    }
out:
    free(scratch);
    return rc;
}

struct dotenv_plain {
    dotenv_cb cb;
    void *ctx;
};

static int dotenv_plain_cb(const char *key, const char *value, size_t line, void *vctx)
{
    struct dotenv_plain *plain = vctx;
    (void)line;
    return plain->cb(key, value, plain->ctx);
}

/* Parses len bytes of .env text (never past len; NUL bytes are errors) and calls cb for each
 * KEY=VALUE with NUL-terminated copies valid during the call. Borrows text; reentrant. Returns 0,
 * cb's non-zero return (parsing stops; e is left to cb), or MWE_CONFIG with e saying
 * "line N: ..." for a malformed line (lines longer than 64 KiB included). */
int dotenv_parse(const char *text, size_t len, dotenv_cb cb, void *ctx, struct mw_error *e)
{
    struct dotenv_plain plain = {cb, ctx};
    return dotenv_scan(text, len, dotenv_plain_cb, &plain, e);
}
