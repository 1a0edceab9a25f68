/*
 * config printing: everything written from the settings table: check-config, the configuration
 * log line, --help and .env.example.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_int.h"

/* Rewrites the URL in value (size bytes) with its userinfo redacted. */
static void redact_userinfo(char *value, size_t size)
{
    char tmp[STRING_MAX + 1];

    snprintf(tmp, sizeof(tmp), "%s", value);
    mw_url_redact(tmp, value, size);
}

static void table_print(const struct setting *tab, size_t n, const void *base, FILE *out)
{
    char value[STRING_MAX + 1];
    size_t i;

    for (i = 0; i < n; i++) {
        setting_format(&tab[i], base, value, sizeof(value));
        if (tab[i].flags & F_USERINFO)
            redact_userinfo(value, sizeof(value));
        if ((tab[i].flags & F_SECRET) && value[0] != '\0')
            fprintf(out, ENV_PREFIX "%s=<redacted>\n", tab[i].name);
        else
            fprintf(out, ENV_PREFIX "%s=%s\n", tab[i].name, value);
    }
}

/* Writes MODELWRAP_NAME=value for every setting in table order (secrets as "<redacted>", unset
 * strings empty). All lines but MODELWRAP_ENV_FILE's read back as a .env file give the same
 * configuration. Borrows cfg and out; any thread. */
void config_print(const struct config *cfg, FILE *out)
{
    table_print(config_settings, CONFIG_N_SETTINGS, cfg, out);
}

/* ---- metrics, tracing, docs ---- */

/* Position of each setting in the table, to pass its key and value to log_msg by name. */
#define LOG_INDEX(NAME, field, type, def, min, max, values, flags, help) LOG_IDX_##NAME,
enum { CONFIG_SETTINGS(LOG_INDEX) LOG_N_SETTINGS };
#undef LOG_INDEX
#define LOG_VALUE_MAX 1024 /* bytes of one value in the log line (the line is cut at 8 KiB) */

/* See config.h. One line, so that a log pipeline sees the whole configuration at once. Borrows
 * cfg; any thread. Out of memory: a line saying so instead. */
void config_log(const struct config *cfg, int level)
{
    char keys[LOG_N_SETTINGS][64];
    char(*vals)[LOG_VALUE_MAX] = NULL;
    size_t i, j;

    if (!log_enabled(level))
        return;
    vals = calloc(LOG_N_SETTINGS, sizeof(*vals));
    if (vals == NULL) {
        log_msg(level, "configuration", "error", "out of memory", NULL);
        return;
    }
    for (i = 0; i < CONFIG_N_SETTINGS; i++) {
        const struct setting *s = &config_settings[i];
        for (j = 0; s->name[j] != '\0' && j + 1 < sizeof(keys[i]); j++)
            keys[i][j] = (s->name[j] >= 'A' && s->name[j] <= 'Z') ? (char)(s->name[j] - 'A' + 'a')
                                                                 : s->name[j];
        keys[i][j] = '\0';
        setting_format(s, cfg, vals[i], sizeof(vals[i]));
        if (s->flags & F_USERINFO)
            redact_userinfo(vals[i], sizeof(vals[i]));
        if ((s->flags & F_SECRET) && vals[i][0] != '\0')
            snprintf(vals[i], sizeof(vals[i]), "<redacted>");
    }
#define LOG_ARG(NAME, field, type, def, min, max, values, flags, help)                              \
    keys[LOG_IDX_##NAME], vals[LOG_IDX_##NAME],
    log_msg(level, "configuration", CONFIG_SETTINGS(LOG_ARG) NULL);
#undef LOG_ARG
    free(vals);
}

/* Writes the settings part of --help: one line per setting with its flag, value shape,
 * environment name, help, default and accepted values. Borrows out; any thread. */
void config_print_help(FILE *out)
{
    size_t flag_w = 0;
    size_t env_w = 0;
    size_t i;

    for (i = 0; i < CONFIG_N_SETTINGS; i++) {
        const struct setting *s = &config_settings[i];
        size_t fl = strlen(s->name) + 2 + 1 + 6; /* --name [BOOL] */
        if (s->type == T_ENUM)
            fl = strlen(s->name) + 3 + strlen(s->values);
        if (fl > flag_w)
            flag_w = fl;
        if (ENV_PREFIX_LEN + strlen(s->name) > env_w)
            env_w = ENV_PREFIX_LEN + strlen(s->name);
    }
    fprintf(out, "Settings (precedence: built-in defaults < .env file < environment < flags):\n");
    for (i = 0; i < CONFIG_N_SETTINGS; i++) {
        const struct setting *s = &config_settings[i];
        static const char *const shape[] = {
            [T_STRING] = "TEXT", [T_BOOL] = "[BOOL]", [T_UINT] = "N",
            [T_SIZE] = "SIZE",   [T_ENUM] = "",       [T_PORT] = "PORT",
        };
        char flag[64];
        char col[128];
        char env[64];
        char acc[128];

        setting_flag_name(s, flag, sizeof(flag));
        snprintf(col, sizeof(col), "%s %s", flag, s->type == T_ENUM ? s->values : shape[s->type]);
        snprintf(env, sizeof(env), ENV_PREFIX "%s", s->name);
        setting_accepted(s, acc, sizeof(acc));
        fprintf(out, "  %-*s  %-*s  %s (default: %s; accepted: %s)\n", (int)flag_w, col, (int)env_w,
                env, s->help, s->def != NULL ? s->def : "unset", acc);
    }
}

/* Writes the text of .env.example: a header, then for every setting that a .env file may hold a
 * "# help (default: X)" line and a commented "#MODELWRAP_NAME=default" line. The committed
 * .env.example must equal this output (a unit test checks). Borrows out; any thread. */
void config_print_env_example(FILE *out)
{
    size_t i;

    fputs("# modelwrap configuration. Copy this file to .env and uncomment the lines you change.\n"
          "# Precedence: built-in defaults < .env file < environment < command-line flags.\n"
          "# Every MODELWRAP_<NAME> also has a flag --<name-with-dashes>:\n"
          "# MODELWRAP_MAX_BODY_BYTES is --max-body-bytes. Unknown MODELWRAP_* names are errors.\n"
          "# The path of this file is set with MODELWRAP_ENV_FILE or --env-file (default ./.env).\n"
          "# Sizes accept k/m/g suffixes (KiB, MiB, GiB). docs/configuration.md lists the\n"
          "# accepted values.\n"
          "# Generated from src/config/config_int.h (config_print_env_example): do not edit by "
          "hand.\n",
          out);
    for (i = 0; i < CONFIG_N_SETTINGS; i++) {
        const struct setting *s = &config_settings[i];
        if (s->flags & F_META)
            continue;
        fprintf(out, "\n# %s (default: %s)\n", s->help, s->def != NULL ? s->def : "unset");
        fprintf(out, "#" ENV_PREFIX "%s=%s\n", s->name, s->def != NULL ? s->def : "");
    }
}
