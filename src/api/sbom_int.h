/*
 * The dependency inventory's internals (sbom.c), exposed to the `sbom` subcommand, the unit
 * tests and nobody else.
 */
#ifndef MW_API_SBOM_INT_H
#define MW_API_SBOM_INT_H

#include <jansson.h>
#include <stdarg.h>

#include "core/core.h"

/* What an inventory run could not see (dpkg missing, an interpreter that did not answer):
 * recorded as metadata properties "modelwrap:inventory_note" and logged. */
struct sbom_ctx {
    json_t *notes;
};
void sbom_note(struct sbom_ctx *cx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* SHA-256 of a file as 64 lower-case hex digits. 0 or MWE_IO / MWE_NOMEM. */
int sbom_sha256_file(const char *path, char hex[65]);
/* Appends the non-dev packages of an npm lock file (v2/v3 "packages") to components. A missing or
 * unreadable lock file is a note, not an error; MWE_NOMEM only. */
int sbom_add_npm(json_t *components, const char *lock_path, struct sbom_ctx *cx);
/* Runs interpreter -I with an inventory script (scrubbed environment, timeout_ms) and returns a
 * "platform" component (name python, its version) whose components are every distribution
 * importlib.metadata sees (pkg:pypi purls); bom-refs start with ref_prefix. NULL with e. The
 * interpreter's answer is untrusted: bounded, parsed with jansson, strings checked. */
json_t *sbom_python_inventory(const char *interpreter, const char *ref_prefix, unsigned timeout_ms,
                              struct mw_error *e);

#endif /* MW_API_SBOM_INT_H */
