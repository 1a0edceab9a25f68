/*
 * The vulnerability check of `modelwrap sbom --check`: each Debian package of the inventory
 * against the Debian security tracker's JSON export (source package -> CVE -> releases ->
 * {status, fixed_version, urgency}), versions compared with Debian's rules.
 */
#include <string.h>

#include "cli/cli_int.h"

/* See cli_int.h. */
const char *sbom_property(const json_t *c, const char *name)
{
    const json_t *props = json_object_get(c, "properties");
    const json_t *p;
    size_t i;

    json_array_foreach(props, i, p) {
        const char *n = json_string_value(json_object_get(p, "name"));
        if (n != NULL && strcmp(n, name) == 0)
            return json_string_value(json_object_get(p, "value"));
    }
    return NULL;
}

/* Whether the tracker's entry for release makes the installed version vulnerable now. */
static bool is_open(const json_t *rel, const char *installed, const char **status,
                    const char **fixed, const char **urgency)
{
    *status = json_string_value(json_object_get(rel, "status"));
    *fixed = json_string_value(json_object_get(rel, "fixed_version"));
    *urgency = json_string_value(json_object_get(rel, "urgency"));
    if (*status == NULL)
        return false;
    /* The tracker's own triage: "unimportant" issues are not security fixes Debian will ship. */
    if (*urgency != NULL && strcmp(*urgency, "unimportant") == 0)
        return false;
    if (strcmp(*status, "open") == 0)
        return true;
    if (strcmp(*status, "resolved") == 0 && *fixed != NULL) {
        /* "0": the release's version was never affected. */
        if (strcmp(*fixed, "0") == 0)
            return false;
        return debver_cmp(installed, *fixed) < 0;
    }
    return false;
}

long sbom_check(const json_t *sbom, const json_t *tracker, const char *release,
                void (*cb)(const struct vuln_hit *h, void *ctx), void *ctx)
{
    const json_t *components = json_object_get(sbom, "components");
    const json_t *c;
    long hits = 0;
    size_t i;

    if (!json_is_object(tracker))
        return -1;
    json_array_foreach(components, i, c) {
        const char *purl = json_string_value(json_object_get(c, "purl"));
        const char *source = sbom_property(c, "debian:source");
        const char *version = sbom_property(c, "debian:source_version");
        const json_t *cves, *cve;
        const char *id;

        if (purl == NULL || strncmp(purl, "pkg:deb/", 8) != 0 || source == NULL || version == NULL)
            continue;
        cves = json_object_get(tracker, source);
        json_object_foreach((json_t *)cves, id, cve) {
            const json_t *rel = json_object_get(json_object_get(cve, "releases"), release);
            struct vuln_hit h = {json_string_value(json_object_get(c, "name")), source, version,
                                 id, NULL, NULL, NULL};
            if (rel == NULL || !is_open(rel, version, &h.status, &h.fixed, &h.urgency))
                continue;
            hits++;
            if (cb != NULL)
                cb(&h, ctx);
        }
    }
    return hits;
}
