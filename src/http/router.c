/*
 * Method + path routing over a static table. Patterns are literal segments and "{name}" captures;
 * matching is exact (no trailing-slash folding: aliases are listed as routes of their own).
 */
#include <string.h>

#include "http/http.h"

/* Matches one pattern against path; fills params. */
static bool pattern_match(const char *pat, const char *path, size_t len, struct slice *params,
                          size_t *n_params)
{
    size_t pi = 0, si = 0, np = 0;
    size_t plen = strlen(pat);

    while (pi < plen && si <= len) {
        if (pat[pi] == '{') {
            const char *close = strchr(pat + pi, '}');
            if (!close)
                return false;
            size_t start = si;
            while (si < len && path[si] != '/')
                si++;
            if (si == start || np >= HTTP_MAX_PARAMS)
                return false;
            params[np++] = (struct slice){path + start, si - start};
            pi = (size_t)(close - pat) + 1;
            continue;
        }
        if (si >= len || pat[pi] != path[si])
            return false;
        pi++;
        si++;
    }
    if (pi != plen || si != len)
        return false;
    *n_params = np;
    return true;
}

int router_match(const struct route *routes, size_t n, unsigned method, const char *path,
                 size_t path_len, const struct route **out, struct slice *params,
                 size_t *n_params, unsigned *allowed)
{
    unsigned allow = 0;
    struct slice tmp[HTTP_MAX_PARAMS];
    size_t ntmp = 0;

    for (size_t i = 0; i < n; i++) {
        const struct route *rt = &routes[i];
        unsigned m = rt->methods;
        if (m & HTTP_GET)
            m |= HTTP_HEAD;
        if (!pattern_match(rt->pattern, path, path_len, tmp, &ntmp))
            continue;
        if (m & method) {
            *out = rt;
            memcpy(params, tmp, ntmp * sizeof(tmp[0]));
            *n_params = ntmp;
            return 0;
        }
        allow |= m;
    }
    *allowed = allow;
    return allow ? MWE_METHOD_NOT_ALLOWED : MWE_NOT_FOUND;
}

void http_methods_str(unsigned methods, char *out, size_t cap)
{
    static const struct {
        unsigned bit;
        const char *name;
    } names[] = {{HTTP_GET, "GET"},         {HTTP_HEAD, "HEAD"},   {HTTP_POST, "POST"},
                 {HTTP_PUT, "PUT"},         {HTTP_DELETE, "DELETE"}, {HTTP_PATCH, "PATCH"},
                 {HTTP_OPTIONS, "OPTIONS"}};
    size_t used = 0;
    if (cap == 0)
        return;
    out[0] = '\0';
    for (size_t i = 0; i < MW_ARRAY_LEN(names); i++) {
        if (!(methods & names[i].bit))
            continue;
        int w = snprintf(out + used, cap - used, "%s%s", used ? ", " : "", names[i].name);
        if (w < 0 || (size_t)w >= cap - used)
            break;
        used += (size_t)w;
    }
}
