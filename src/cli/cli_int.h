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
#include "core/core.h"

/* ---- Debian versions (debver.c) ---- */
/* Whether v is a syntactically valid Debian version ([epoch:]upstream[-revision]). */
bool debver_valid(const char *v);
/* <0, 0, >0 as a sorts before, equal to, after b under Debian's rules (dpkg --compare-versions).
 * Invalid versions compare as strings (and debver_valid tells them apart). */
int debver_cmp(const char *a, const char *b);

/* ---- the Debian security tracker (sbom_check.c) ---- */
/* The value of the CycloneDX property `name` in obj's "properties" ([{"name","value"}], as a
 * component or the document's metadata carries them); NULL when absent. Borrowed from obj. */
const char *sbom_property(const json_t *obj, const char *name);
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

/* ---- audit trail records (audit_parse.c) ---- */
enum { AREC_REQUEST = 1, AREC_EVENT = 2 };

/* The fields of one audit record the access review reads. Strings are {ptr, len} slices (not
 * NUL-terminated, ptr NULL when null or absent) valid until the next parse with the same parser. */
struct arec {
    int type;        /* AREC_REQUEST or AREC_EVENT */
    int64_t time_ms; /* epoch milliseconds */
    int signature;
    int status;
    uint64_t bytes_in, records, count;
    struct slice name, client, principal_kind, principal_id, key_id, client_id, scope, route,
        model, outcome, message;
};

/* The parser's state: the JSON document of the last line, the CEF unescape scratch. */
struct arec_parser {
    json_t *doc;
    char *scratch; /* AREC_LINE_MAX bytes */
};
#define AREC_LINE_MAX 65536 /* bytes of one record line; longer lines are malformed */

int arec_parser_init(struct arec_parser *p);
void arec_parser_fini(struct arec_parser *p);
/* Parses one line (len bytes, no line end, never read past len) of an audit file: a JSON line,
 * a CEF line, or either behind a syslog prefix (what a collector's raw file holds). 0, or -1 when
 * it is not a record (malformed, truncated, another program's line). */
int arec_parse_line(struct arec_parser *p, const char *line, size_t len, struct arec *r);
/* The CEF part alone (line starts at "CEF:"), exposed for the fuzzer. */
int arec_parse_cef(struct arec_parser *p, const char *line, size_t len, struct arec *r);
/* "2026-12-07T23:07:18.263Z" (len bytes) -> epoch milliseconds; false when not that shape. */
bool arec_parse_time(const char *s, size_t len, int64_t *ms);

#endif /* MW_CLI_INT_H */
