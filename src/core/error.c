/*
 * error: the accessors of the one error table (MW_ERROR_MAP in core.h): message, stable string id
 * and HTTP status of each MWE_* value, plus mw_fail to fill a struct mw_error.
 */
#include <stdio.h>
#include <string.h>

#include "core/core.h"

struct err_entry {
    const char *code;
    const char *msg;
    int status;
};

/* Indexed by err - (MWE_FIRST_ + 1): the same order as the enum. */
static const struct err_entry err_table[] = {
#define MW_X(name, code, status, msg) {code, msg, status},
    MW_ERROR_MAP(MW_X)
#undef MW_X
};

_Static_assert(MW_ARRAY_LEN(err_table) == (size_t)(MWE_LAST_ - MWE_FIRST_ - 1),
               "error table and enum disagree");

static const struct err_entry *err_lookup(int err)
{
    if (err <= MWE_FIRST_ || err >= MWE_LAST_)
        err = MWE_INTERNAL;
    return &err_table[err - (MWE_FIRST_ + 1)];
}

/* Default message of err; a static string. Out-of-range values (0 included) give MWE_INTERNAL's.
 * Thread-safe. */
const char *mw_strerror(int err)
{
    return err_lookup(err)->msg;
}

/* Stable string id of err ("invalid_json"); a static string. Out-of-range values give
 * "internal_error". Thread-safe. */
const char *mw_errcode(int err)
{
    return err_lookup(err)->code;
}

/* HTTP status of err. Out-of-range values give 500. Thread-safe. */
int mw_errstatus(int err)
{
    return err_lookup(err)->status;
}

/* Cuts s (NUL-terminated) back so it does not end inside a UTF-8 sequence that vsnprintf split. */
static void trim_partial_utf8(char *s, size_t len)
{
    size_t i = len;
    size_t need;
    unsigned char lead;

    /* Walk back over continuation bytes to the last lead byte (at most 3). */
    while (i > 0 && len - i < 4 && ((unsigned char)s[i - 1] & 0xC0) == 0x80)
        i--;
    if (i == 0)
        return;
    lead = (unsigned char)s[i - 1];
    if (lead < 0xC0)
        return; /* ASCII or stray continuation bytes: nothing to fix */
    need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
    if (len - (i - 1) < need)
        s[i - 1] = '\0';
}

/* Sets e->code to code and e->msg to the formatted message (mw_strerror(code) when fmt is NULL),
 * truncated to fit and never inside a UTF-8 sequence. e may be NULL. Returns code. Thread-safe. */
int mw_fail(struct mw_error *e, int code, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (e == NULL)
        goto out;
    e->code = code;
    if (fmt == NULL) {
        snprintf(e->msg, sizeof(e->msg), "%s", mw_strerror(code));
        goto out;
    }
    va_start(ap, fmt);
    n = vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
    va_end(ap);
    if (n < 0) {
        snprintf(e->msg, sizeof(e->msg), "%s", mw_strerror(code));
        goto out;
    }
    if ((size_t)n >= sizeof(e->msg))
        trim_partial_utf8(e->msg, sizeof(e->msg) - 1);
out:
    return code;
}
