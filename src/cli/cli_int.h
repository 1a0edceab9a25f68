/*
 * Helpers private to src/cli (and its tests and fuzzers): Debian versions, the security tracker
 * match, the audit trail parsers.
 */
#ifndef MW_CLI_INT_H
#define MW_CLI_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cli/cli.h"

/* ---- Debian versions (debver.c) ---- */
/* Whether v is a syntactically valid Debian version ([epoch:]upstream[-revision]). */
bool debver_valid(const char *v);
/* <0, 0, >0 as a sorts before, equal to, after b under Debian's rules (dpkg --compare-versions).
 * Invalid versions compare as strings (and debver_valid tells them apart). */
int debver_cmp(const char *a, const char *b);

/* ---- the Debian security tracker (sbom_check.c) ---- */
/* One open vulnerability of an installed package. */
struct vuln_hit {
    const char *component;  /* the binary package (borrowed from the SBOM) */
    const char *source;     /* its source package */
    const char *version;    /* installed source version */
    const char *cve;        /* borrowed from the tracker */
    const char *status;     /* "open" | "resolved" (fixed in a later version) | "undetermined" */
    const char *fixed;      /* fixed_version, NULL when none */
    const char *urgency;    /* NULL when none */
};
/* Matches the Debian packages of sbom (CycloneDX, properties debian:source/_version) against a
 * tracker export (package -> CVE -> {"releases": {release: {status, fixed_version, urgency}}}).
 * Calls cb for each CVE open for the installed version of release; returns how many, or -1 when
 * tracker is not an object. */
long sbom_check(const json_t *sbom, const json_t *tracker, const char *release,
                void (*cb)(const struct vuln_hit *h, void *ctx), void *ctx);

#endif /* MW_CLI_INT_H */
