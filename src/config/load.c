/*
 * config loading: the layers of the configuration and their precedence (defaults < .env file <
 * environment < flags), each read through the settings table.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config_int.h"

/* Whether the flag name (without "--", len bytes) is the flag of s. */
static bool flag_matches(const struct setting *s, const char *arg, size_t len)
{
    size_t j;

    for (j = 0; j < len; j++) {
        char c = s->name[j];
        if (c == '\0')
            return false;
        c = c == '_' ? '-' : (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
        if (arg[j] != c)
            return false;
    }
    return s->name[len] == '\0';
}

static const struct setting *find_by_env(const struct setting *tab, size_t n, const char *name,
                                         size_t len)
{
    size_t i;

    if (len <= ENV_PREFIX_LEN || memcmp(name, ENV_PREFIX, ENV_PREFIX_LEN) != 0)
        return NULL;
    for (i = 0; i < n; i++) {
        size_t nl = strlen(tab[i].name);
        if (nl == len - ENV_PREFIX_LEN && memcmp(tab[i].name, name + ENV_PREFIX_LEN, nl) == 0)
            return &tab[i];
    }
    return NULL;
}

static bool has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* ---- the layers ------------------------------------------------------------------------------ */

/* Frees the strings of a settings struct and leaves them NULL. */
static void table_fini(const struct setting *tab, size_t n, void *base)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (tab[i].type == T_STRING) {
            char **p = setting_field(&tab[i], base);
            free(*p);
            *p = NULL;
        }
    }
}

/* Applies the MODELWRAP_* entries of envp (all of them, or only `only` when non-NULL); *hit is set
 * when `only` was found. Unknown MODELWRAP_ names are errors. */
static int apply_env(const struct setting *tab, size_t n, void *base, char **envp,
                     const struct setting *only, bool *hit, struct mw_error *e)
{
    size_t i;
    int rc = 0;

    for (i = 0; envp != NULL && envp[i] != NULL; i++) {
        const char *entry = envp[i];
        const char *eq = strchr(entry, '=');
        const struct setting *s;
        char label[64];

        if (eq == NULL || !has_prefix(entry, ENV_PREFIX))
            continue;
        s = find_by_env(tab, n, entry, (size_t)(eq - entry));
        if (s == NULL) {
            char name[SHOW_MAX + 4];
            char *cut = strndup(entry, (size_t)(eq - entry));
            if (cut == NULL) {
                rc = mw_fail(e, MWE_CONFIG, "environment: out of memory");
                goto out;
            }
            setting_show(cut, name);
            free(cut);
            rc =
                mw_fail(e, MWE_CONFIG, "%s: unknown setting in the environment (see --help)", name);
            goto out;
        }
        if (only != NULL && s != only)
            continue;
        snprintf(label, sizeof(label), ENV_PREFIX "%s", s->name);
        rc = setting_set(s, base, label, eq + 1, e);
        if (rc != 0)
            goto out;
        if (hit != NULL)
            *hit = true;
    }
out:
    return rc;
}

/* Applies the flags argv[first..argc) (all, or only `only` when non-NULL); *hit is set when `only`
 * was found. "--name value", "--name=value"; a bool flag followed by another flag or the end means
 * true. Unknown flags and other arguments are errors. */
static int apply_flags(const struct setting *tab, size_t n, void *base, int argc, char **argv,
                       int first, const struct setting *only, bool *hit, struct mw_error *e)
{
    char shown[SHOW_MAX + 4];
    int i;
    int rc = 0;

    for (i = first < 0 ? 0 : first; i < argc && argv != NULL && argv[i] != NULL; i++) {
        const char *arg = argv[i];
        const char *name;
        const char *eq;
        const char *val;
        const struct setting *s = NULL;
        size_t name_len;
        size_t k;
        char label[64];

        if (!has_prefix(arg, "--") || arg[2] == '\0') {
            setting_show(arg, shown);
            rc = mw_fail(e, MWE_CONFIG,
                         "'%s': unexpected argument (settings are --name VALUE or --name=VALUE)",
                         shown);
            goto out;
        }
        name = arg + 2;
        eq = strchr(name, '=');
        name_len = eq != NULL ? (size_t)(eq - name) : strlen(name);
        for (k = 0; k < n && s == NULL; k++)
            if (flag_matches(&tab[k], name, name_len))
                s = &tab[k];
        if (s == NULL) {
            char *cut = strndup(arg, name_len + 2);
            if (cut == NULL) {
                rc = mw_fail(e, MWE_CONFIG, "flags: out of memory");
                goto out;
            }
            setting_show(cut, shown);
            free(cut);
            rc = mw_fail(e, MWE_CONFIG, "%s: unknown flag (see --help)", shown);
            goto out;
        }
        setting_flag_name(s, label, sizeof(label));
        if (eq != NULL) {
            val = eq + 1;
        } else if (i + 1 < argc && argv[i + 1] != NULL && !has_prefix(argv[i + 1], "--")) {
            val = argv[++i];
        } else if (s->type == T_BOOL) {
            val = "true";
        } else {
            char acc[128];
            setting_accepted(s, acc, sizeof(acc));
            rc = mw_fail(e, MWE_CONFIG, "%s: missing value (accepted: %s)", label, acc);
            goto out;
        }
        if (only != NULL && s != only)
            continue;
        rc = setting_set(s, base, label, val, e);
        if (rc != 0)
            goto out;
        if (hit != NULL)
            *hit = true;
    }
out:
    return rc;
}

struct envfile_ctx {
    const struct setting *tab;
    size_t n;
    void *base;
    const char *shown_path; /* for messages: ".env" for "./.env" */
    struct mw_error *e;
    bool cb_failed; /* the error in e comes from the callback, already labelled */
};

/* Applies one KEY=VALUE of the .env file: MODELWRAP_ names must be known settings. */
static int envfile_assign(const char *key, const char *value, size_t line, void *vctx)
{
    struct envfile_ctx *ctx = vctx;
    const struct setting *s;
    char label[192];
    char name[SHOW_MAX + 4];
    int rc = 0;

    if (!has_prefix(key, ENV_PREFIX))
        goto out;
    s = find_by_env(ctx->tab, ctx->n, key, strlen(key));
    setting_show(key, name);
    if (s == NULL) {
        rc = mw_fail(ctx->e, MWE_CONFIG, "%s line %zu: %s: unknown setting (see --help)",
                     ctx->shown_path, line, name);
        goto out_failed;
    }
    if (s->flags & F_META) {
        char flag[64];
        setting_flag_name(s, flag, sizeof(flag));
        rc = mw_fail(ctx->e, MWE_CONFIG,
                     "%s line %zu: %s: cannot be set in a .env file (use the environment or %s)",
                     ctx->shown_path, line, name, flag);
        goto out_failed;
    }
    snprintf(label, sizeof(label), "%s line %zu: %s", ctx->shown_path, line, name);
    rc = setting_set(s, ctx->base, label, value, ctx->e);
    if (rc != 0)
        goto out_failed;
    goto out;
out_failed:
    ctx->cb_failed = true;
out:
    return rc;
}

/* Reads and applies the .env file named by the F_META setting ef. explicit: named by the
 * environment or a flag (then a missing file is an error); label names that source. */
static int apply_env_file(const struct setting *tab, size_t n, void *base, const struct setting *ef,
                          bool explicit, const char *label, struct mw_error *e)
{
    const char *path = *(char **)setting_field(ef, base);
    char shown_path[SHOW_MAX + 4];
    char reason[128];
    struct envfile_ctx ctx;
    char *text = NULL;
    size_t len = 0;
    int err;
    int rc = 0;

    if (path == NULL)
        goto out;
    setting_show(has_prefix(path, "./") && path[2] != '\0' ? path + 2 : path, shown_path);
    err = mw_file_read(path, ENV_FILE_MAX, 0, &text, &len);
    if (err == ENOENT && !explicit)
        goto out;
    if (err == EFBIG) {
        setting_show(path, shown_path);
        rc = mw_fail(e, MWE_CONFIG, "%s: '%s' is larger than %d bytes", label, shown_path,
                     ENV_FILE_MAX);
        goto out;
    }
    if (err != 0) {
        setting_show(path, shown_path);
        rc = mw_fail(e, MWE_CONFIG, "%s: cannot read '%s': %s", label, shown_path,
                     strerror_r(err, reason, sizeof(reason)));
        goto out;
    }
    ctx = (struct envfile_ctx){tab, n, base, shown_path, e, false};
    rc = dotenv_scan(text, len, envfile_assign, &ctx, e);
    if (rc != 0 && !ctx.cb_failed && e != NULL) {
        /* e says "line 3: ..." from the parser: name the file too. */
        char msg[sizeof(e->msg)];
        memcpy(msg, e->msg, sizeof(msg));
        mw_fail(e, rc, "%s %s", shown_path, msg);
    }
out:
    free(text);
    return rc;
}

/* Loads a settings struct (zeroed by the caller) from the table: defaults < .env < environment <
 * flags. On error the struct is freed again. */
static int table_load(const struct setting *tab, size_t n, void *base, int argc, char **argv,
                      int first, char **envp, struct mw_error *e)
{
    const struct setting *ef = NULL;
    size_t i;
    int rc = 0;

    for (i = 0; i < n; i++) {
        char label[64];
        if (tab[i].def == NULL)
            continue;
        snprintf(label, sizeof(label), "default of " ENV_PREFIX "%s", tab[i].name);
        rc = setting_set(&tab[i], base, label, tab[i].def, e);
        if (rc != 0)
            goto out;
    }
    for (i = 0; i < n; i++)
        if (tab[i].flags & F_META)
            ef = &tab[i];
    if (ef != NULL) {
        /* The .env path comes first, from the environment and flags only. */
        bool by_env = false;
        bool by_flag = false;
        char label[64];

        rc = apply_env(tab, n, base, envp, ef, &by_env, e);
        if (rc != 0)
            goto out;
        rc = apply_flags(tab, n, base, argc, argv, first, ef, &by_flag, e);
        if (rc != 0)
            goto out;
        if (by_flag)
            setting_flag_name(ef, label, sizeof(label));
        else
            snprintf(label, sizeof(label), ENV_PREFIX "%s", ef->name);
        rc = apply_env_file(tab, n, base, ef, by_env || by_flag, label, e);
        if (rc != 0)
            goto out;
    }
    rc = apply_env(tab, n, base, envp, NULL, NULL, e);
    if (rc != 0)
        goto out;
    rc = apply_flags(tab, n, base, argc, argv, first, NULL, NULL, e);
out:
    if (rc != 0)
        table_fini(tab, n, base);
    return rc;
}


/* Fills cfg (overwritten, not freed first) from defaults, the .env file, envp, argv[first_arg..].
 * Owns nothing passed in; cfg's strings are owned by cfg until config_fini. Reentrant: no global
 * state, call from any thread (normally the main thread at start-up and reload). Returns 0, or
 * MWE_CONFIG with one line in e naming the source, the value and what is accepted; cfg is then
 * already freed (all strings NULL). */
int config_load(struct config *cfg, int argc, char **argv, int first_arg, char **envp,
                struct mw_error *e)
{
    memset(cfg, 0, sizeof(*cfg));
    return table_load(config_settings, CONFIG_N_SETTINGS, cfg, argc, argv, first_arg, envp, e);
}

/* Frees cfg's strings and leaves them NULL; safe to call twice. Main thread, no errors. */
void config_fini(struct config *cfg)
{
    table_fini(config_settings, CONFIG_N_SETTINGS, cfg);
}
