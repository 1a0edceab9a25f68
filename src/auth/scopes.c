/*
 * Scopes (what a principal may do; each route names the one it needs) and the agreed reason codes
 * of authentication refusals. Pure functions over static tables.
 */
#include <stdio.h>
#include <string.h>

#include "auth/auth.h"

/* ---- scopes and reasons ---------------------------------------------------------------------- */

static const char *const scope_names[] = {"predict", "read", "admin", "metrics"};

unsigned auth_scope_bit(const char *name, size_t len)
{
    for (size_t i = 0; name && i < MW_ARRAY_LEN(scope_names); i++)
        if (strlen(scope_names[i]) == len && memcmp(scope_names[i], name, len) == 0)
            return 1u << i;
    return 0;
}

int auth_scopes_parse(const char *list, unsigned *out, struct mw_error *e)
{
    const char *p = list ? list : "";
    unsigned bits = 0;
    struct slice item;

    while (mw_list_next(&p, &item)) {
        unsigned bit = auth_scope_bit(item.ptr, item.len);
        if (!bit)
            return mw_fail(e, MWE_CONFIG,
                           "unknown scope '%.*s' (accepted: predict, read, admin, "
                           "metrics)",
                           (int)(item.len > 32 ? 32 : item.len), item.ptr);
        bits |= bit;
    }
    if (!bits)
        return mw_fail(e, MWE_CONFIG, "no scope given (accepted: predict, read, admin, metrics)");
    *out = bits;
    return 0;
}

void auth_scopes_str(unsigned scopes, char *out, size_t cap)
{
    size_t n = 0;
    if (cap == 0)
        return;
    out[0] = '\0';
    for (size_t i = 0; i < MW_ARRAY_LEN(scope_names); i++) {
        if (!(scopes & (1u << i)))
            continue;
        int w = snprintf(out + n, cap - n, "%s%s", n ? "," : "", scope_names[i]);
        if (w < 0 || (size_t)w >= cap - n)
            break;
        n += (size_t)w;
    }
}

const char *auth_reason_code(int reason)
{
    static const char *const codes[AUTH_REASON_COUNT] = {
        [AUTH_MISSING] = "auth.missing",
        [AUTH_INVALID_KEY] = "auth.invalid_key",
        [AUTH_EXPIRED_KEY] = "auth.expired_key",
        [AUTH_REVOKED_KEY] = "auth.revoked_key",
        [AUTH_KEY_IN_QUERY] = "auth.key_in_query",
        [AUTH_INVALID_TOKEN] = "auth.invalid_token",
        [AUTH_EXPIRED_TOKEN] = "auth.expired_token",
        [AUTH_TOKEN_LIFETIME] = "auth.token_lifetime",
        [AUTH_INSUFFICIENT_SCOPE] = "auth.insufficient_scope",
        [AUTH_BLOCKED] = "auth.blocked",
    };
    return reason >= 0 && reason < AUTH_REASON_COUNT ? codes[reason] : NULL;
}
