/*
 * Credential extraction: the API key of X-API-Key (or the template's `token` header), the token of
 * `Authorization: Bearer <token>`, and credentials misplaced in the query string. Pure functions
 * over slices; the HTTP adapter that feeds them is src/api/authn.c.
 */
#include <string.h>

#include "auth/auth.h"
#include "auth/auth_int.h"

static const char *const query_names[] = {"api_key",   "apikey", "api-key", "x-api-key",
                                          "x_api_key", "key",    "token",   "access_token",
                                          "id_token",  "jwt",    "auth",    "authorization"};

bool auth_query_is_credential(struct slice name, struct slice value)
{
    for (size_t i = 0; i < MW_ARRAY_LEN(query_names); i++)
        if (slice_eq_nocase(name, query_names[i]))
            return true;
    /* an API key under any name */
    return value.len > 3 && memcmp(value.ptr, AUTH_KEY_PREFIX, 3) == 0;
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* Splits `Authorization: Bearer <token>`; anything else sets bad_header. */
void auth_parse_authorization(struct slice h, struct auth_creds *c)
{
    size_t i = 0;

    if (h.len == 0)
        return;
    if (h.len < 7 || !slice_eq_nocase((struct slice){h.ptr, 6}, "bearer") || !is_blank(h.ptr[6])) {
        c->bad_header = true;
        return;
    }
    for (i = 7; i < h.len && is_blank(h.ptr[i]); i++)
        ;
    size_t end = h.len;
    while (end > i && is_blank(h.ptr[end - 1]))
        end--;
    if (end == i) {
        c->bad_header = true;
        return;
    }
    for (size_t j = i; j < end; j++) {
        if (is_blank(h.ptr[j])) {
            c->bad_header = true;
            return;
        }
    }
    c->bearer = (struct slice){h.ptr + i, end - i};
}

static struct slice trimmed(struct slice s)
{
    while (s.len > 0 && is_blank(s.ptr[0])) {
        s.ptr++;
        s.len--;
    }
    while (s.len > 0 && is_blank(s.ptr[s.len - 1]))
        s.len--;
    return s;
}

void auth_creds_from_headers(struct auth_creds *c, struct slice x_api_key, struct slice token,
                             struct slice authorization)
{
    c->api_key = trimmed(x_api_key);
    if (c->api_key.len == 0)
        c->api_key = trimmed(token);
    auth_parse_authorization(authorization, c);
}
