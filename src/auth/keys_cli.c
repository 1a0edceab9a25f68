/*
 * `modelwrap keys create|list|revoke`: manages the API key file. A new key is printed once and
 * only its SHA-256 is stored; `list` never shows keys or hashes. Every change is validated by the
 * server's own parser, then written atomically (temporary file, mode 0600, rename) under a lock.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "auth/auth.h"

extern char **environ;

static void usage(FILE *out)
{
    fprintf(out,
            "usage: modelwrap keys create --id NAME --scopes predict,read [--owner TEXT]\n"
            "                             [--expires 90d|12h|2026-12-31|never]\n"
            "                             [--rate-limit 10/s [--burst 20]] [--file PATH]\n"
            "       modelwrap keys list [--file PATH]\n"
            "       modelwrap keys revoke ID [--file PATH]\n\n"
            "The key file is MODELWRAP_API_KEYS_FILE (environment or .env; default ./keys.json)\n"
            "unless --file names another. `create` prints the new key once on stdout: only its\n"
            "SHA-256 is stored. A running server picks up every change within a second.\n"
            "Scopes: predict, read, admin, metrics.\n");
}

struct opts {
    const char *action;
    const char *file;
    const char *id;
    const char *owner;
    const char *scopes;
    const char *expires;
    const char *rate_limit;
    const char *burst;
    const char *positional;
};

/* Parses argv[first..]: the action, then --name value / --name=value flags and at most one
 * positional argument. 0 or 2 (usage error, printed). */
static int parse_opts(int argc, char **argv, int first, struct opts *o)
{
    static const struct {
        const char *name;
        size_t off;
    } flags[] = {
        {"file", offsetof(struct opts, file)},
        {"id", offsetof(struct opts, id)},
        {"owner", offsetof(struct opts, owner)},
        {"scopes", offsetof(struct opts, scopes)},
        {"expires", offsetof(struct opts, expires)},
        {"rate-limit", offsetof(struct opts, rate_limit)},
        {"burst", offsetof(struct opts, burst)},
    };

    memset(o, 0, sizeof(*o));
    if (first >= argc) {
        usage(stderr);
        return 2;
    }
    o->action = argv[first];
    for (int i = first + 1; i < argc; i++) {
        const char *arg = argv[i];
        const char *value = NULL;
        size_t nlen;
        bool found = false;

        if (strncmp(arg, "--", 2) != 0) {
            if (o->positional) {
                fprintf(stderr, "modelwrap keys: unexpected argument '%s'\n", arg);
                return 2;
            }
            o->positional = arg;
            continue;
        }
        arg += 2;
        nlen = strcspn(arg, "=");
        if (arg[nlen] == '=')
            value = arg + nlen + 1;
        for (size_t f = 0; f < MW_ARRAY_LEN(flags); f++) {
            if (strlen(flags[f].name) != nlen || strncmp(flags[f].name, arg, nlen) != 0)
                continue;
            if (!value) {
                if (i + 1 >= argc) {
                    fprintf(stderr, "modelwrap keys: --%s needs a value\n", flags[f].name);
                    return 2;
                }
                value = argv[++i];
            }
            *(const char **)((char *)o + flags[f].off) = value;
            found = true;
        }
        if (!found) {
            fprintf(stderr, "modelwrap keys: unknown flag '--%.*s'\n", (int)nlen, arg);
            usage(stderr);
            return 2;
        }
    }
    return 0;
}

/* "90d", "12h", "30m", "3600s", "2w", "2026-12-31", "2026-12-31T00:00:00Z" or "never" (0). */
static int parse_expiry(const char *s, int64_t now, int64_t *out)
{
    char full[32];
    char *end = NULL;

    if (strcmp(s, "never") == 0) {
        *out = 0;
        return 0;
    }
    if (strlen(s) == 10 && s[4] == '-' && s[7] == '-') {
        snprintf(full, sizeof(full), "%sT00:00:00Z", s);
        return auth_time_parse(full, out);
    }
    if (strlen(s) == 20)
        return auth_time_parse(s, out);
    if (!(*s >= '0' && *s <= '9'))
        return MWE_CONFIG;
    errno = 0;
    unsigned long long n = strtoull(s, &end, 10);
    int64_t unit = 0;
    if (errno == 0 && end && end[0] && !end[1]) {
        switch (*end) {
        case 's':
            unit = 1;
            break;
        case 'm':
            unit = 60;
            break;
        case 'h':
            unit = 3600;
            break;
        case 'd':
            unit = 86400;
            break;
        case 'w':
            unit = 7 * 86400;
            break;
        default:
            break;
        }
    }
    if (unit == 0 || n == 0 || n > 36500ull * 86400 / (unsigned long long)unit)
        return MWE_CONFIG;
    *out = now + (int64_t)n * unit;
    return 0;
}

/* The key file path: --file, else MODELWRAP_API_KEYS_FILE from the environment or .env. NULL
 * with a message printed. The result is heap memory. */
static char *key_file_path(const struct opts *o)
{
    struct config cfg;
    struct mw_error e = {0};
    char *argv0[] = {"modelwrap", NULL};
    char *path;

    if (o->file)
        return strdup(o->file);
    if (config_load(&cfg, 1, argv0, 1, environ, &e) != 0) {
        fprintf(stderr, "modelwrap keys: %s\n", e.msg);
        return NULL;
    }
    path = cfg.api_keys_file ? strdup(cfg.api_keys_file) : NULL;
    if (!cfg.api_keys_file)
        fprintf(stderr, "modelwrap keys: MODELWRAP_API_KEYS_FILE is empty: API keys are disabled "
                        "(give --file PATH)\n");
    config_fini(&cfg);
    return path;
}

/* Locks the folder of path (flock) so that two `keys` commands do not lose each other's change.
 * Returns the descriptor (close it to unlock) or -1 with a message. */
static int lock_dir(const char *path)
{
    char *copy = strdup(path);
    int fd = -1;

    if (!copy)
        return -1;
    fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || flock(fd, LOCK_EX) != 0) {
        fprintf(stderr, "modelwrap keys: cannot lock the folder of %s: %s\n", path,
                strerror(errno));
        if (fd >= 0)
            close(fd);
        fd = -1;
    }
    free(copy);
    return fd;
}

/* Loads the key file as a JSON document (validated by the server's parser). A missing file gives
 * an empty document when create_ok. NULL with a message printed. */
static json_t *load_doc(const char *path, bool create_ok)
{
    struct mw_error e = {0};
    struct auth_keyset *ks;
    json_error_t jerr;
    bool missing = false;
    json_t *doc = NULL;

    ks = auth_keyset_load(path, &missing, &e);
    if (!ks) {
        if (missing && create_ok)
            return json_pack("{s:i, s:[]}", "version", 1, "keys");
        fprintf(stderr, "modelwrap keys: %s\n", e.msg);
        return NULL;
    }
    auth_keyset_free(ks);
    doc = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (!doc)
        fprintf(stderr, "modelwrap keys: %s: %s\n", path, jerr.text);
    return doc;
}

/* Validates doc with the server's parser and writes it atomically. 0 or 1 with a message. */
static int save_doc(const char *path, const json_t *doc)
{
    struct mw_error e = {0};
    struct auth_keyset *ks;
    char *text = json_dumps(doc, JSON_COMPACT);
    int rc = 1;

    if (!text) {
        fprintf(stderr, "modelwrap keys: out of memory\n");
        goto out;
    }
    ks = auth_keyset_parse(text, strlen(text), &e);
    if (!ks) {
        fprintf(stderr, "modelwrap keys: refusing to write an invalid key file: %s\n", e.msg);
        goto out;
    }
    auth_keyset_free(ks);
    if (auth_keyfile_write(path, doc, &e) != 0) {
        fprintf(stderr, "modelwrap keys: %s\n", e.msg);
        goto out;
    }
    rc = 0;
out:
    free(text);
    return rc;
}

static json_t *find_key(json_t *keys, const char *id, size_t *index)
{
    for (size_t i = 0; i < json_array_size(keys); i++) {
        json_t *k = json_array_get(keys, i);
        const char *kid = json_string_value(json_object_get(k, "id"));
        if (kid && strcmp(kid, id) == 0) {
            if (index)
                *index = i;
            return k;
        }
    }
    return NULL;
}

static int cmd_create(const struct opts *o, const char *path)
{
    char key[AUTH_KEY_LEN + 1] = "";
    struct mw_error e = {0};
    unsigned scopes = 0;
    unsigned long burst = 0;
    double rate = 0;
    int64_t now = (int64_t)time(NULL), expires = 0;
    json_t *doc = NULL, *k = NULL;
    char when[32], scope_text[64];
    int rc = 2, lock = -1;

    if (!o->id || !o->scopes || o->positional) {
        fprintf(stderr, "modelwrap keys create: --id and --scopes are required\n");
        usage(stderr);
        goto out;
    }
    if (strlen(o->id) == 0 || strlen(o->id) > 63 ||
        strspn(o->id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._@-") !=
            strlen(o->id)) {
        fprintf(stderr, "modelwrap keys create: --id: expected 1-63 characters of "
                        "[A-Za-z0-9._@-]\n");
        goto out;
    }
    if (auth_scopes_parse(o->scopes, &scopes, &e) != 0) {
        fprintf(stderr, "modelwrap keys create: --scopes: %s\n", e.msg);
        goto out;
    }
    if (o->expires && parse_expiry(o->expires, now, &expires) != 0) {
        fprintf(stderr,
                "modelwrap keys create: --expires: '%s' is not a duration (90d, 12h, "
                "30m, 2w), a date (2026-12-31), a UTC time or never\n",
                o->expires);
        goto out;
    }
    if (o->rate_limit && rate_parse(o->rate_limit, &rate) != 0) {
        fprintf(stderr,
                "modelwrap keys create: --rate-limit: '%s' is not a rate like 10/s, "
                "600/m or 5000/h\n",
                o->rate_limit);
        goto out;
    }
    if (o->burst) {
        char *end = NULL;
        errno = 0;
        burst = strtoul(o->burst, &end, 10);
        if (errno || !end || *end || burst < 1 || burst > 1000000000 || o->burst[0] == '-' ||
            !o->rate_limit) {
            fprintf(stderr, "modelwrap keys create: --burst: expected an integer 1-1000000000, "
                            "with --rate-limit\n");
            goto out;
        }
    }
    if (o->owner && strlen(o->owner) > 127) {
        fprintf(stderr, "modelwrap keys create: --owner: at most 127 bytes\n");
        goto out;
    }
    rc = 1;
    lock = lock_dir(path);
    if (lock < 0)
        goto out;
    doc = load_doc(path, true);
    if (!doc)
        goto out;
    if (find_key(json_object_get(doc, "keys"), o->id, NULL)) {
        fprintf(stderr, "modelwrap keys create: a key named '%s' exists already in %s\n", o->id,
                path);
        goto out;
    }
    if (auth_key_generate(key) != 0) {
        fprintf(stderr, "modelwrap keys create: no randomness from the kernel\n");
        goto out;
    }
    k = auth_key_json(o->id, o->owner, scopes, key, now, expires, o->rate_limit, (unsigned)burst);
    if (!k || json_array_append_new(json_object_get(doc, "keys"), k) != 0) {
        fprintf(stderr, "modelwrap keys create: out of memory\n");
        goto out;
    }
    if (save_doc(path, doc) != 0)
        goto out;
    auth_scopes_str(scopes, scope_text, sizeof(scope_text));
    if (expires)
        auth_time_format(expires, when);
    fprintf(stderr,
            "Created key '%s' (scopes %s; expires %s) in %s.\n"
            "This is the only time the key is shown: store it now.\n",
            o->id, scope_text, expires ? when : "never", path);
    printf("%s\n", key);
    fflush(stdout);
    rc = 0;
out:
    memset(key, 0, sizeof(key));
    json_decref(doc);
    if (lock >= 0)
        close(lock);
    return rc;
}

static int cmd_list(const struct opts *o, const char *path)
{
    struct mw_error e = {0};
    struct auth_keyset *ks;
    int64_t now = (int64_t)time(NULL);

    if (o->positional || o->id || o->scopes || o->owner || o->expires || o->rate_limit ||
        o->burst) {
        usage(stderr);
        return 2;
    }
    ks = auth_keyset_load(path, NULL, &e);
    if (!ks) {
        fprintf(stderr, "modelwrap keys: %s\n", e.msg);
        return 1;
    }
    printf("%-24s %-9s %-28s %-21s %-21s %-14s %s\n", "ID", "STATUS", "SCOPES", "CREATED",
           "EXPIRES", "RATE", "OWNER");
    for (size_t i = 0; i < auth_keyset_count(ks); i++) {
        const struct auth_key *k = auth_keyset_at(ks, i);
        char scopes[64], created[32] = "-", expires[32] = "never", rate[48] = "-";
        const char *status = k->revoked                          ? "revoked"
                             : (k->expires && k->expires <= now) ? "expired"
                                                                 : "active";
        auth_scopes_str(k->scopes, scopes, sizeof(scopes));
        if (k->created)
            auth_time_format(k->created, created);
        if (k->expires)
            auth_time_format(k->expires, expires);
        if (k->rate > 0)
            snprintf(rate, sizeof(rate), k->burst ? "%g/s,burst=%u" : "%g/s", k->rate, k->burst);
        printf("%-24s %-9s %-28s %-21s %-21s %-14s %s\n", k->id, status, scopes, created, expires,
               rate, k->owner);
    }
    auth_keyset_free(ks);
    return 0;
}

static int cmd_revoke(const struct opts *o, const char *path)
{
    char when[32];
    size_t idx = 0;
    json_t *doc = NULL, *k;
    int rc = 1, lock = -1;

    if (!o->positional || o->id || o->scopes || o->owner || o->expires || o->rate_limit ||
        o->burst) {
        fprintf(stderr, "modelwrap keys revoke: give the key's ID\n");
        usage(stderr);
        return 2;
    }
    lock = lock_dir(path);
    if (lock < 0)
        goto out;
    doc = load_doc(path, false);
    if (!doc)
        goto out;
    k = find_key(json_object_get(doc, "keys"), o->positional, &idx);
    if (!k) {
        fprintf(stderr, "modelwrap keys revoke: no key named '%s' in %s\n", o->positional, path);
        goto out;
    }
    if (json_is_string(json_object_get(k, "revoked"))) {
        fprintf(stderr, "Key '%s' was revoked already (%s).\n", o->positional,
                json_string_value(json_object_get(k, "revoked")));
        rc = 0;
        goto out;
    }
    auth_time_format((int64_t)time(NULL), when);
    if (json_object_set_new(k, "revoked", json_string(when)) != 0) {
        fprintf(stderr, "modelwrap keys revoke: out of memory\n");
        goto out;
    }
    if (save_doc(path, doc) != 0)
        goto out;
    fprintf(stderr, "Revoked key '%s' in %s; a running server refuses it within a second.\n",
            o->positional, path);
    rc = 0;
out:
    json_decref(doc);
    if (lock >= 0)
        close(lock);
    return rc;
}

int auth_keys_cli(int argc, char **argv, int first)
{
    struct opts o;
    char *path = NULL;
    int rc = parse_opts(argc, argv, first, &o);

    if (rc != 0)
        goto out;
    if (strcmp(o.action, "help") == 0 || strcmp(o.action, "--help") == 0 ||
        strcmp(o.action, "-h") == 0) {
        usage(stdout);
        goto out;
    }
    if (strcmp(o.action, "create") != 0 && strcmp(o.action, "list") != 0 &&
        strcmp(o.action, "revoke") != 0) {
        fprintf(stderr, "modelwrap keys: unknown action '%s'\n", o.action);
        usage(stderr);
        rc = 2;
        goto out;
    }
    path = key_file_path(&o);
    if (!path) {
        rc = 1;
        goto out;
    }
    log_set_level(LOG_WARN);
    if (strcmp(o.action, "create") == 0)
        rc = cmd_create(&o, path);
    else if (strcmp(o.action, "list") == 0)
        rc = cmd_list(&o, path);
    else
        rc = cmd_revoke(&o, path);
out:
    free(path);
    return rc;
}
