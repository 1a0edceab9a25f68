/*
 * dotenv: the .env file grammar (src/config/dotenv.c). Depends on core only.
 */
#ifndef MW_CONFIG_DOTENV_H
#define MW_CONFIG_DOTENV_H

#include <stddef.h>

#include "core/core.h"

/* The .env parser, exposed for tests and the fuzzer. Parses `len` bytes of `text` (KEY=VALUE lines;
 * '#' comments; optional "export "; values optionally in single quotes (literal) or double quotes
 * (\n \" \\ escapes); trailing spaces trimmed on unquoted values; inline " #" comment after an
 * unquoted value). Calls cb(key, value, ctx) for each assignment with NUL-terminated copies valid
 * during the call; a non-zero return from cb stops and is returned. Malformed lines return MWE_CONFIG
 * with e naming the line number. Never reads past len. */
typedef int (*dotenv_cb)(const char *key, const char *value, void *ctx);
int dotenv_parse(const char *text, size_t len, dotenv_cb cb, void *ctx, struct mw_error *e);

/* dotenv_parse with the 1-based line number of each assignment, for messages that name it (the
 * settings loader's). Same contract otherwise. */
typedef int (*dotenv_line_cb)(const char *key, const char *value, size_t line, void *ctx);
int dotenv_scan(const char *text, size_t len, dotenv_line_cb cb, void *ctx, struct mw_error *e);

#endif /* MW_CONFIG_DOTENV_H */
