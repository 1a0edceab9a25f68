/*
 * config settings: the one table of settings (CONFIG_SETTINGS, config_int.h) and what each value
 * means: parsing and validating a value of each type, and formatting it back.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config_int.h"

/* Each field must have the C type its setting type stores. */
#define TYPE_OK_T_STRING(x) _Generic((x), char * : 1, default : 0)
#define TYPE_OK_T_BOOL(x) _Generic((x), bool : 1, default : 0)
#define TYPE_OK_T_UINT(x) _Generic((x), unsigned : 1, default : 0)
#define TYPE_OK_T_SIZE(x) _Generic((x), size_t : 1, default : 0)
#define TYPE_OK_T_PORT(x) _Generic((x), uint16_t : 1, default : 0)
#define TYPE_OK_T_ENUM(x) (sizeof(x) == sizeof(int))
#define CHECK_FIELD(NAME, field, type, def, min, max, values, flags, help)                         \
    _Static_assert(TYPE_OK_##type(((struct config *)0)->field), #field " is not a " #type);
CONFIG_SETTINGS(CHECK_FIELD)
#undef CHECK_FIELD

/* Enum and log level indices are the positions in the values list. */
_Static_assert(IO_REUSEPORT == 0 && IO_POOL == 1, "IO_MODEL values order");
_Static_assert(LOG_ERROR == 0 && LOG_WARN == 1 && LOG_INFO == 2 && LOG_DEBUG == 3,
               "LOG_LEVEL values order");

const struct setting config_settings[CONFIG_N_SETTINGS] = {
#define ROW(NAME, field, type, def, min, max, values, flags, help)                                 \
    {#NAME, type, def, min, max, values, flags, offsetof(struct config, field), help},
    CONFIG_SETTINGS(ROW)
#undef ROW
};

/* ---- small helpers --------------------------------------------------------------------------- */

/* Writes "--max-body-bytes" for "MAX_BODY_BYTES". */
void setting_flag_name(const struct setting *s, char *out, size_t size)
{
    size_t i = 0;
    size_t j;

    if (size < 3)
        return;
    out[i++] = '-';
    out[i++] = '-';
    for (j = 0; s->name[j] != '\0' && i + 1 < size; j++) {
        char c = s->name[j];
        out[i++] = c == '_' ? '-' : (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    out[i] = '\0';
}

/* Copies at most SHOW_MAX bytes of v for an error message: control bytes become '?', a cut value
 * ends in "...". out must hold SHOW_MAX + 4 bytes. */
void setting_show(const char *v, char *out)
{
    size_t i;

    for (i = 0; v[i] != '\0' && i < SHOW_MAX; i++) {
        unsigned char c = (unsigned char)v[i];
        out[i] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
    }
    if (v[i] != '\0') {
        memcpy(out + i, "...", 3);
        i += 3;
    }
    out[i] = '\0';
}

/* Case-insensitive ASCII comparison of s with the len bytes at t. */
static bool eq_nocase_n(const char *s, const char *t, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++) {
        char a = s[i];
        char b = t[i];
        if (a == '\0')
            return false;
        if (a >= 'A' && a <= 'Z')
            a = (char)(a - 'A' + 'a');
        if (b >= 'A' && b <= 'Z')
            b = (char)(b - 'A' + 'a');
        if (a != b)
            return false;
    }
    return s[len] == '\0';
}

/* Position of v (case-insensitive) in the "a|b|c" list, or -1. */
static int list_index(const char *list, const char *v)
{
    const char *p = list;
    int idx = 0;

    for (;;) {
        const char *bar = strchr(p, '|');
        size_t len = bar != NULL ? (size_t)(bar - p) : strlen(p);
        if (eq_nocase_n(v, p, len))
            return idx;
        if (bar == NULL)
            return -1;
        p = bar + 1;
        idx++;
    }
}

/* Writes item idx of the "a|b|c" list to out ("" when out of range). */
static void list_item(const char *list, int idx, char *out, size_t size)
{
    const char *p = list;
    size_t len;

    while (idx > 0 && p != NULL) {
        p = strchr(p, '|');
        if (p != NULL)
            p++;
        idx--;
    }
    if (p == NULL || idx < 0 || size == 0) {
        if (size > 0)
            out[0] = '\0';
        return;
    }
    len = strcspn(p, "|");
    if (len >= size)
        len = size - 1;
    memcpy(out, p, len);
    out[len] = '\0';
}

/* Parses 1-20 decimal digits (nothing else) into *out; *overflow is set when they do not fit. */
static bool parse_digits(const char *s, size_t len, unsigned long long *out, bool *overflow)
{
    unsigned long long v = 0;
    size_t i;

    *overflow = false;
    if (len == 0)
        return false;
    for (i = 0; i < len; i++) {
        unsigned d;
        if (s[i] < '0' || s[i] > '9')
            return false;
        d = (unsigned)(s[i] - '0');
        if (v > (ULLONG_MAX - d) / 10)
            *overflow = true;
        else
            v = v * 10 + d;
    }
    *out = v;
    return true;
}

/* What a setting accepts, as shown in errors, --help and the docs. */
void setting_accepted(const struct setting *s, char *out, size_t size)
{
    switch (s->type) {
    case T_STRING:
        snprintf(out, size, "%s",
                 (s->flags & F_EMPTY_OK) ? "text; empty = unset" : "non-empty text");
        break;
    case T_BOOL:
        snprintf(out, size, "%s", BOOL_VALUES);
        break;
    case T_UINT:
    case T_PORT:
        snprintf(out, size, "%llu-%llu", s->min, s->max);
        break;
    case T_SIZE:
        snprintf(out, size, "integer bytes or with k/m/g suffix, %llu-%llu", s->min, s->max);
        break;
    case T_ENUM:
        snprintf(out, size, "%s", s->values);
        break;
    }
}

/* ---- setting values -------------------------------------------------------------------------- */

void *setting_field(const struct setting *s, void *base)
{
    return (char *)base + s->off;
}

static const void *cfield_of(const struct setting *s, const void *base)
{
    return (const char *)base + s->off;
}

/* Sets s in base from the text val. label names the source ("MODELWRAP_PORT", "--port",
 * ".env line 3: MODELWRAP_PORT"). Returns 0 or MWE_CONFIG with e. */
int setting_set(const struct setting *s, void *base, const char *label, const char *val,
                struct mw_error *e)
{
    char acc[128];
    char shown[SHOW_MAX + 4];
    void *field = setting_field(s, base);
    size_t len = strlen(val);
    unsigned long long v = 0;
    unsigned long long mult = 1;
    bool overflow = false;
    int rc = 0;

    setting_accepted(s, acc, sizeof(acc));
    setting_show(val, shown);
    switch (s->type) {
    case T_STRING: {
        char *copy = NULL;
        size_t i;

        if (len > STRING_MAX) {
            rc = mw_fail(e, MWE_CONFIG, "%s: '%s' is longer than %d bytes", label, shown,
                         STRING_MAX);
            goto out;
        }
        for (i = 0; i < len; i++) {
            unsigned char c = (unsigned char)val[i];
            if (c < 0x20 || c == 0x7f) {
                rc = mw_fail(e, MWE_CONFIG, "%s: '%s' contains a control character (accepted: %s)",
                             label, shown, acc);
                goto out;
            }
        }
        if (len == 0 && !(s->flags & F_EMPTY_OK)) {
            rc = mw_fail(e, MWE_CONFIG, "%s: '' is empty (accepted: %s)", label, acc);
            goto out;
        }
        if (len > 0) {
            copy = strdup(val);
            if (copy == NULL) {
                rc = mw_fail(e, MWE_CONFIG, "%s: out of memory", label);
                goto out;
            }
        }
        free(*(char **)field);
        *(char **)field = copy;
        break;
    }
    case T_BOOL: {
        int idx = list_index(BOOL_VALUES, val);
        if (idx < 0) {
            rc = mw_fail(e, MWE_CONFIG, "%s: '%s' is not a boolean (accepted: %s)", label, shown,
                         acc);
            goto out;
        }
        *(bool *)field = idx % 2 == 0; /* true|false|1|0|yes|no|on|off: even entries are true */
        break;
    }
    case T_UINT:
    case T_PORT:
        if (!parse_digits(val, len, &v, &overflow)) {
            rc = mw_fail(e, MWE_CONFIG, "%s: '%s' is not %s (accepted: %s)", label, shown,
                         s->type == T_PORT ? "a port" : "an integer", acc);
            goto out;
        }
        if (overflow || v < s->min || v > s->max) {
            rc = mw_fail(e, MWE_CONFIG, "%s: '%s' is %s (accepted: %s)", label, shown,
                         s->type == T_PORT ? "not a port" : "out of range", acc);
            goto out;
        }
        if (s->type == T_PORT)
            *(uint16_t *)field = (uint16_t)v;
        else
            *(unsigned *)field = (unsigned)v;
        break;
    case T_SIZE:
        if (len > 0) {
            switch (val[len - 1]) {
            case 'k':
            case 'K':
                mult = 1024ull;
                break;
            case 'm':
            case 'M':
                mult = 1024ull * 1024;
                break;
            case 'g':
            case 'G':
                mult = 1024ull * 1024 * 1024;
                break;
            default:
                break;
            }
        }
        if (!parse_digits(val, mult > 1 ? len - 1 : len, &v, &overflow)) {
            rc = mw_fail(e, MWE_CONFIG, "%s: '%s' is not a size (accepted: %s)", label, shown, acc);
            goto out;
        }
        if (overflow || v > ULLONG_MAX / mult || v * mult < s->min || v * mult > s->max) {
            rc = mw_fail(e, MWE_CONFIG, "%s: '%s' is out of range (accepted: %s)", label, shown,
                         acc);
            goto out;
        }
        *(size_t *)field = (size_t)(v * mult);
        break;
    case T_ENUM: {
        int idx = list_index(s->values, val);
        if (idx < 0) {
            rc = mw_fail(e, MWE_CONFIG, "%s: '%s' is not one of %s", label, shown, s->values);
            goto out;
        }
        memcpy(field, &idx, sizeof(idx));
        break;
    }
    }
out:
    return rc;
}

/* Writes the value of s in base as text (NULL strings as ""). */
void setting_format(const struct setting *s, const void *base, char *out, size_t size)
{
    const void *field = cfield_of(s, base);
    int idx;

    switch (s->type) {
    case T_STRING: {
        const char *str = *(char *const *)field;
        snprintf(out, size, "%s", str != NULL ? str : "");
        break;
    }
    case T_BOOL:
        snprintf(out, size, "%s", *(const bool *)field ? "true" : "false");
        break;
    case T_UINT:
        snprintf(out, size, "%u", *(const unsigned *)field);
        break;
    case T_PORT:
        snprintf(out, size, "%u", (unsigned)*(const uint16_t *)field);
        break;
    case T_SIZE:
        snprintf(out, size, "%zu", *(const size_t *)field);
        break;
    case T_ENUM:
        memcpy(&idx, field, sizeof(idx));
        list_item(s->values, idx, out, size);
        break;
    }
}
