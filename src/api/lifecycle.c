/*
 * Version lifecycle of the unversioned template routes (/api/predict, /api/health): when
 * configured, their answers carry Deprecation (RFC 9745), Sunset (RFC 8594) and a Link to the
 * versioned route that replaces them, so clients see the migration coming.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/api.h"

struct api_lifecycle {
    char deprecation[32]; /* "@1767225600" */
    char sunset[40];      /* "Wed, 01 Jul 2026 00:00:00 GMT", "" when none */
};

/* Parses "YYYY-MM-DD" or "YYYY-MM-DDTHH:MM:SSZ" (UTC) into seconds since the epoch. */
static bool parse_date(const char *s, int64_t *out)
{
    struct tm tm;
    const char *end;
    time_t t;

    memset(&tm, 0, sizeof(tm));
    end = strptime(s, "%Y-%m-%d", &tm);
    if (end == NULL)
        return false;
    if (*end == 'T') {
        end = strptime(end + 1, "%H:%M:%S", &tm);
        if (end == NULL || strcmp(end, "Z") != 0)
            return false;
    } else if (*end != '\0') {
        return false;
    }
    if (tm.tm_year < 70 || tm.tm_year > 8000)
        return false;
    t = timegm(&tm);
    if (t == (time_t)-1)
        return false;
    *out = (int64_t)t;
    return true;
}

static int parse(const struct config *cfg, struct api_lifecycle *lc, struct mw_error *e)
{
    int64_t dep = 0, sun = 0;
    struct tm tm;
    time_t t;

    memset(lc, 0, sizeof(*lc));
    if (cfg->legacy_deprecation == NULL) {
        if (cfg->legacy_sunset != NULL)
            return mw_fail(e, MWE_CONFIG,
                           "MODELWRAP_LEGACY_SUNSET: needs MODELWRAP_LEGACY_DEPRECATION (the "
                           "date the routes are deprecated from)");
        return 0;
    }
    if (!parse_date(cfg->legacy_deprecation, &dep))
        return mw_fail(e, MWE_CONFIG,
                       "MODELWRAP_LEGACY_DEPRECATION: '%.40s' is not a date (accepted: "
                       "YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ, UTC)",
                       cfg->legacy_deprecation);
    snprintf(lc->deprecation, sizeof(lc->deprecation), "@%lld", (long long)dep);
    if (cfg->legacy_sunset == NULL)
        return 0;
    if (!parse_date(cfg->legacy_sunset, &sun))
        return mw_fail(e, MWE_CONFIG,
                       "MODELWRAP_LEGACY_SUNSET: '%.40s' is not a date (accepted: YYYY-MM-DD or "
                       "YYYY-MM-DDTHH:MM:SSZ, UTC)",
                       cfg->legacy_sunset);
    /* RFC 9745 section 3: a Sunset earlier than the Deprecation date is inconsistent. */
    if (sun < dep)
        return mw_fail(e, MWE_CONFIG,
                       "MODELWRAP_LEGACY_SUNSET: '%.40s' is before MODELWRAP_LEGACY_DEPRECATION",
                       cfg->legacy_sunset);
    t = (time_t)sun;
    if (gmtime_r(&t, &tm) == NULL ||
        strftime(lc->sunset, sizeof(lc->sunset), "%a, %d %b %Y %H:%M:%S GMT", &tm) == 0)
        return mw_fail(e, MWE_CONFIG, "MODELWRAP_LEGACY_SUNSET: '%.40s' cannot be shown",
                       cfg->legacy_sunset);
    return 0;
}

int api_lifecycle_check(const struct config *cfg, struct mw_error *e)
{
    struct api_lifecycle lc;
    return parse(cfg, &lc, e);
}

int api_lifecycle_init(struct api *a, struct mw_error *e)
{
    struct api_lifecycle lc;
    int rc = parse(a->cfg, &lc, e);

    if (rc != 0 || lc.deprecation[0] == '\0')
        return rc;
    a->lifecycle = malloc(sizeof(*a->lifecycle));
    if (a->lifecycle == NULL)
        return mw_fail(e, MWE_NOMEM, "out of memory");
    *a->lifecycle = lc;
    return 0;
}

void api_lifecycle_fini(struct api *a)
{
    free(a->lifecycle);
    a->lifecycle = NULL;
}

void api_lifecycle_headers(const struct api *a, struct request *r)
{
    const struct api_lifecycle *lc = a->lifecycle;
    const char *name;

    if (lc == NULL || r->route == NULL)
        return;
    name = r->route->name;
    if (strcmp(name, "template_predict") == 0)
        http_header_add(r, "Link", "</api/v1/predict>; rel=\"successor-version\"");
    else if (strcmp(name, "template_health") == 0)
        http_header_add(r, "Link", "</api/v1/health>; rel=\"successor-version\"");
    else
        return;
    http_header_add(r, "Deprecation", lc->deprecation);
    if (lc->sunset[0] != '\0')
        http_header_add(r, "Sunset", lc->sunset);
}
