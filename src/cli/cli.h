/*
 * cli: the subcommands that live in the library (compliance, sbom, audit report) so that tests
 * and fuzzers reach their parsers; src/cli/main.c dispatches to them.
 */
#ifndef MW_CLI_H
#define MW_CLI_H

#include <stdbool.h>
#include <stddef.h>

/* Removes "--NAME VALUE" / "--NAME=VALUE" from argv[first..argc) (in place, order kept) and
 * returns VALUE (borrowed from argv), or NULL when absent; *argc shrinks. A "--NAME" without a
 * value sets *missing. Main thread. */
const char *cli_take_option(int *argc, char **argv, int first, const char *name, bool *missing);

/* `modelwrap compliance [--format text|json] [--flag value ...]`: exit status 0 when every
 * applicable item is met, 1 when one is not, 2 for a bad configuration. */
int cli_compliance(int argc, char **argv, int first, char **envp);
/* `modelwrap sbom [--check TRACKER.json] [--release NAME] [--flag value ...]`: 0, 1 when
 * --check finds an open vulnerability, 2 on errors. */
int cli_sbom(int argc, char **argv, int first, char **envp);
/* `modelwrap audit report [--since DURATION] [--until DATE] [--format text|json|csv]
 * [--business-hours SPEC] [--timezone TZ] [--large-bytes N] [--large-records N] FILE...`
 * (defaults: the MODELWRAP_AUDIT_* settings of the environment and .env): 0, or 2 on errors. */
int cli_audit(int argc, char **argv, int first, char **envp);

#endif /* MW_CLI_H */
