/*
 * API keys: the key file (JSON with only a SHA-256 hash of each key), its strict parser, the
 * immutable key set with a hash index (lookup by the key's hash, constant-time comparison), key
 * generation, and the atomic key file writer used by the CLI and the development key.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "auth/auth.h"

struct auth_keyset {
    size_t n;
    struct auth_key *keys;
    uint32_t *index; /* open addressing over keys[], UINT32_MAX: empty */
    size_t mask;
};

#define EMPTY UINT32_MAX

/* ---- small helpers --------------------------------------------------------------------------- */

int auth_sha256(const void *data, size_t len, unsigned char out[32])
{
    return gnutls_hash_fast(GNUTLS_DIG_SHA256, data, len, out) == 0 ? 0 : MWE_INTERNAL;
}

int auth_key_generate(char out[AUTH_KEY_LEN + 1])
{
    static const char alphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    unsigned char rnd[64];
    size_t n = sizeof(AUTH_KEY_PREFIX) - 1;
    int rc = 0;

    memcpy(out, AUTH_KEY_PREFIX, n);
    while (n < AUTH_KEY_LEN) {
        rc = mw_random(rnd, sizeof(rnd));
        if (rc != 0)
            goto out;
        /* Rejection sampling: 248 = 4 * 62, so every character is uniform. */
        for (size_t i = 0; i < sizeof(rnd) && n < AUTH_KEY_LEN; i++)
            if (rnd[i] < 248)
                out[n++] = alphabet[rnd[i] % 62];
    }
    out[n] = '\0';
out:
    memset(rnd, 0, sizeof(rnd));
    return rc;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

int auth_time_parse(const char *s, int64_t *out)
{
    static const unsigned mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    unsigned v[6] = {0};
    static const unsigned pos[6] = {0, 5, 8, 11, 14, 17};
    static const unsigned len[6] = {4, 2, 2, 2, 2, 2};

    if (!s || strlen(s) != 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
        s[16] != ':' || s[19] != 'Z')
        return MWE_CONFIG;
    for (int i = 0; i < 6; i++) {
        for (unsigned j = 0; j < len[i]; j++) {
            char c = s[pos[i] + j];
            if (!is_digit(c))
                return MWE_CONFIG;
            v[i] = v[i] * 10 + (unsigned)(c - '0');
        }
    }
    if (v[0] < 1970 || v[1] < 1 || v[1] > 12 || v[2] < 1 || v[2] > mdays[v[1] - 1] || v[3] > 23 ||
        v[4] > 59 || v[5] > 59)
        return MWE_CONFIG;
    if (v[1] == 2 && v[2] == 29 && !((v[0] % 4 == 0 && v[0] % 100 != 0) || v[0] % 400 == 0))
        return MWE_CONFIG;
    *out = days_from_civil(v[0], v[1], v[2]) * 86400 + (int64_t)v[3] * 3600 + v[4] * 60 + v[5];
    return 0;
}

void auth_time_format(int64_t t, char out[32])
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (!gmtime_r(&tt, &tm) || strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(out, 32, "1970-01-01T00:00:00Z");
}

static int hex_nibble(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* ---- the key set ----------------------------------------------------------------------------- */

void auth_keyset_free(struct auth_keyset *ks)
{
    if (!ks)
        return;
    free(ks->keys);
    free(ks->index);
    free(ks);
}

size_t auth_keyset_count(const struct auth_keyset *ks)
{
    return ks ? ks->n : 0;
}

const struct auth_key *auth_keyset_at(const struct auth_keyset *ks, size_t i)
{
    return ks && i < ks->n ? &ks->keys[i] : NULL;
}

static size_t slot_of(const unsigned char digest[32])
{
    uint64_t h;
    memcpy(&h, digest, sizeof(h)); /* a SHA-256 is already uniform */
    return (size_t)h;
}

/* Walks the whole probe run and compares every candidate in constant time, so the time taken
 * depends only on the run length at the slot, never on which bytes of a stored hash match. */
const struct auth_key *auth_keyset_find(const struct auth_keyset *ks,
                                        const unsigned char digest[32])
{
    const struct auth_key *found = NULL;

    if (!ks || ks->n == 0)
        return NULL;
    for (size_t i = slot_of(digest) & ks->mask;; i = (i + 1) & ks->mask) {
        uint32_t k = ks->index[i];
        if (k == EMPTY)
            break;
        if (mw_ct_equal(ks->keys[k].hash, digest, 32))
            found = &ks->keys[k];
    }
    return found;
}

/* ---- the parser ------------------------------------------------------------------------------ */

static bool id_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '-' ||
           c == '_' || c == '.' || c == '@';
}

static bool printable_utf8(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f)
            return false;
    }
    return true;
}

/* A string member: NULL when absent; sets *bad when present but not a string. */
static const char *str_member(const json_t *o, const char *name, size_t *len, bool *bad)
{
    const json_t *v = json_object_get(o, name);
    if (!v || json_is_null(v))
        return NULL;
    if (!json_is_string(v)) {
        *bad = true;
        return NULL;
    }
    *len = json_string_length(v);
    return json_string_value(v);
}

static int parse_time_member(const json_t *o, const char *name, size_t idx, int64_t *out,
                             struct mw_error *e)
{
    bool bad = false;
    size_t len = 0;
    const char *s = str_member(o, name, &len, &bad);
    *out = 0;
    if (bad || (s && (len != strlen(s) || auth_time_parse(s, out) != 0)))
        return mw_fail(e, MWE_CONFIG,
                       "keys[%zu].%s: expected a UTC time like 2026-01-31T12:00:00Z or null", idx,
                       name);
    return 0;
}

static int parse_key(const json_t *o, size_t idx, struct auth_key *k, struct mw_error *e)
{
    static const char *const known[] = {"id",      "owner",   "scopes",     "hash", "created",
                                        "expires", "revoked", "rate_limit", "burst"};
    const char *name;
    const json_t *v;
    const char *s;
    size_t len = 0;
    bool bad = false;
    int rc = 0;

    memset(k, 0, sizeof(*k));
    if (!json_is_object(o))
        return mw_fail(e, MWE_CONFIG, "keys[%zu]: expected an object", idx);
    json_object_foreach((json_t *)o, name, v)
    {
        bool ok = false;
        for (size_t i = 0; i < MW_ARRAY_LEN(known); i++)
            ok = ok || strcmp(name, known[i]) == 0;
        if (!ok) {
            char shown[40];
            snprintf(shown, sizeof(shown), "%.32s", name);
            for (char *p = shown; *p; p++)
                if ((unsigned char)*p < 0x20 || *p == 0x7f)
                    *p = '?';
            return mw_fail(e, MWE_CONFIG,
                           "keys[%zu]: unknown member '%s' (accepted: id, owner, "
                           "scopes, hash, created, expires, revoked, rate_limit, burst)",
                           idx, shown);
        }
    }

    s = str_member(o, "id", &len, &bad);
    if (!s || bad || len == 0 || len >= sizeof(k->id) || len != strlen(s)) {
        rc = mw_fail(e, MWE_CONFIG, "keys[%zu].id: expected 1-%zu characters of [A-Za-z0-9._@-]",
                     idx, sizeof(k->id) - 1);
        goto out;
    }
    for (size_t i = 0; i < len; i++) {
        if (!id_char(s[i])) {
            rc =
                mw_fail(e, MWE_CONFIG, "keys[%zu].id: expected 1-%zu characters of [A-Za-z0-9._@-]",
                        idx, sizeof(k->id) - 1);
            goto out;
        }
    }
    memcpy(k->id, s, len + 1);

    s = str_member(o, "owner", &len, &bad);
    if (bad || (s && (len >= sizeof(k->owner) || len != strlen(s) || !printable_utf8(s, len)))) {
        rc = mw_fail(e, MWE_CONFIG,
                     "keys[%zu].owner: expected text of at most %zu bytes without "
                     "control characters",
                     idx, sizeof(k->owner) - 1);
        goto out;
    }
    if (s)
        memcpy(k->owner, s, len + 1);

    v = json_object_get(o, "scopes");
    if (!json_is_array(v) || json_array_size(v) == 0) {
        rc = mw_fail(e, MWE_CONFIG,
                     "keys[%zu].scopes: expected a non-empty array of scope names "
                     "(predict, read, admin, metrics)",
                     idx);
        goto out;
    }
    for (size_t i = 0; i < json_array_size(v); i++) {
        const json_t *sv = json_array_get(v, i);
        unsigned bit =
            json_is_string(sv) ? auth_scope_bit(json_string_value(sv), json_string_length(sv)) : 0;
        if (bit == 0) {
            rc = mw_fail(e, MWE_CONFIG,
                         "keys[%zu].scopes[%zu]: unknown scope (accepted: "
                         "predict, read, admin, metrics)",
                         idx, i);
            goto out;
        }
        k->scopes |= bit;
    }

    s = str_member(o, "hash", &len, &bad);
    if (!s || bad || len != 7 + 64 || memcmp(s, "sha256:", 7) != 0) {
        rc = mw_fail(e, MWE_CONFIG,
                     "keys[%zu].hash: expected \"sha256:\" and 64 lower-case hex "
                     "digits",
                     idx);
        goto out;
    }
    for (size_t i = 0; i < 32; i++) {
        int hi = hex_nibble(s[7 + 2 * i]), lo = hex_nibble(s[8 + 2 * i]);
        if (hi < 0 || lo < 0) {
            rc = mw_fail(e, MWE_CONFIG,
                         "keys[%zu].hash: expected \"sha256:\" and 64 lower-case "
                         "hex digits",
                         idx);
            goto out;
        }
        k->hash[i] = (unsigned char)(hi << 4 | lo);
    }

    rc = parse_time_member(o, "created", idx, &k->created, e);
    if (rc == 0)
        rc = parse_time_member(o, "expires", idx, &k->expires, e);
    if (rc == 0)
        rc = parse_time_member(o, "revoked", idx, &k->revoked, e);
    if (rc != 0)
        goto out;

    s = str_member(o, "rate_limit", &len, &bad);
    if (bad || (s && (len != strlen(s) || rate_parse(s, &k->rate) != 0))) {
        rc = mw_fail(e, MWE_CONFIG,
                     "keys[%zu].rate_limit: expected a rate like \"10/s\", "
                     "\"600/m\" or \"5000/h\"",
                     idx);
        goto out;
    }
    v = json_object_get(o, "burst");
    if (v && !json_is_null(v)) {
        if (!json_is_integer(v) || json_integer_value(v) < 1 ||
            json_integer_value(v) > 1000000000) {
            rc = mw_fail(e, MWE_CONFIG, "keys[%zu].burst: expected an integer 1-1000000000", idx);
            goto out;
        }
        k->burst = (unsigned)json_integer_value(v);
    }
out:
    return rc;
}

struct auth_keyset *auth_keyset_parse(const char *text, size_t len, struct mw_error *e)
{
    struct auth_keyset *ks = NULL;
    json_error_t jerr;
    json_t *doc = NULL;
    const json_t *keys, *ver;
    const char *name;
    json_t *v;
    size_t n, cap;

    if (len > AUTH_KEYFILE_MAX) {
        mw_fail(e, MWE_CONFIG, "larger than %u bytes", AUTH_KEYFILE_MAX);
        goto out;
    }
    doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!doc) {
        mw_fail(e, MWE_CONFIG, "line %d: %.160s", jerr.line, jerr.text);
        goto out;
    }
    if (!json_is_object(doc)) {
        mw_fail(e, MWE_CONFIG, "expected an object {\"version\": 1, \"keys\": [...]}");
        goto out;
    }
    json_object_foreach(doc, name, v)
    {
        if (strcmp(name, "version") != 0 && strcmp(name, "keys") != 0) {
            mw_fail(e, MWE_CONFIG, "unknown top-level member (accepted: version, keys)");
            goto out;
        }
    }
    ver = json_object_get(doc, "version");
    if (!json_is_integer(ver) || json_integer_value(ver) != 1) {
        mw_fail(e, MWE_CONFIG, "version: expected 1");
        goto out;
    }
    keys = json_object_get(doc, "keys");
    if (!json_is_array(keys)) {
        mw_fail(e, MWE_CONFIG, "keys: expected an array");
        goto out;
    }
    n = json_array_size(keys);
    if (n > AUTH_KEYS_MAX) {
        mw_fail(e, MWE_CONFIG, "keys: more than %d keys", AUTH_KEYS_MAX);
        goto out;
    }
    ks = calloc(1, sizeof(*ks));
    if (!ks)
        goto out_nomem;
    ks->keys = calloc(n ? n : 1, sizeof(*ks->keys));
    for (cap = 8; cap < 2 * n; cap *= 2)
        ;
    ks->index = malloc(cap * sizeof(*ks->index));
    if (!ks->keys || !ks->index)
        goto out_nomem;
    memset(ks->index, 0xff, cap * sizeof(*ks->index));
    ks->mask = cap - 1;
    for (size_t i = 0; i < n; i++) {
        struct auth_key *k = &ks->keys[i];
        if (parse_key(json_array_get(keys, i), i, k, e) != 0)
            goto out_fail;
        size_t slot = slot_of(k->hash) & ks->mask;
        while (ks->index[slot] != EMPTY) {
            const struct auth_key *o = &ks->keys[ks->index[slot]];
            if (memcmp(o->hash, k->hash, 32) == 0) {
                mw_fail(e, MWE_CONFIG, "keys[%zu].hash: the same hash as key '%s'", i, o->id);
                goto out_fail;
            }
            slot = (slot + 1) & ks->mask;
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(ks->keys[j].id, k->id) == 0) {
                mw_fail(e, MWE_CONFIG, "keys[%zu].id: '%s' is used twice", i, k->id);
                goto out_fail;
            }
        }
        ks->index[slot] = (uint32_t)i;
        ks->n = i + 1;
    }
    goto out;
out_nomem:
    mw_fail(e, MWE_NOMEM, "out of memory");
out_fail:
    auth_keyset_free(ks);
    ks = NULL;
out:
    json_decref(doc);
    return ks;
}

struct auth_keyset *auth_keyset_load(const char *path, bool *missing, struct mw_error *e)
{
    struct auth_keyset *ks = NULL;
    char *text = NULL;
    size_t len = 0;
    char why[128];
    struct mw_error pe = {0};
    int err;

    if (missing)
        *missing = false;
    err = mw_file_read(path, AUTH_KEYFILE_MAX, MW_FILE_REGULAR | MW_FILE_NOT_WORLD_WRITABLE, &text,
                       &len);
    if (err != 0) {
        if (err == ENOENT && missing)
            *missing = true;
        if (err == EPERM)
            mw_fail(e, MWE_IO, "%s: refused: the file is writable by other users (chmod 600)",
                    path);
        else if (err == EFBIG)
            mw_fail(e, MWE_IO, "%s: larger than %u bytes", path, AUTH_KEYFILE_MAX);
        else if (err == EINVAL)
            mw_fail(e, MWE_IO, "%s: not a regular file", path);
        else
            mw_fail(e, MWE_IO, "%s: %s", path, strerror_r(err, why, sizeof(why)));
        goto out;
    }
    ks = auth_keyset_parse(text, len, &pe);
    if (!ks)
        mw_fail(e, pe.code ? pe.code : MWE_CONFIG, "%s: %s", path, pe.msg);
out:
    free(text);
    return ks;
}

/* ---- writing --------------------------------------------------------------------------------- */

static int dump_to_fd(const char *buffer, size_t size, void *data)
{
    int fd = *(int *)data;
    while (size > 0) {
        ssize_t w = write(fd, buffer, size);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        buffer += w;
        size -= (size_t)w;
    }
    return 0;
}

#define TMP_TAG ".tmp."
#define TMP_RAND 6 /* characters after TMP_TAG, as mkstemp's XXXXXX */

static bool is_alnum(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/* Whether name is a temporary of the key file called base: base + ".tmp." + 6 alphanumerics. */
static bool is_stale_tmp(const char *name, const char *base)
{
    size_t bl = strlen(base), tl = sizeof(TMP_TAG) - 1;

    if (strlen(name) != bl + tl + TMP_RAND || memcmp(name, base, bl) != 0 ||
        memcmp(name + bl, TMP_TAG, tl) != 0)
        return false;
    for (size_t i = bl + tl; name[i] != '\0'; i++)
        if (!is_alnum((unsigned char)name[i]))
            return false;
    return true;
}

/* Removes the temporaries of path that a writer killed between link and rename left behind (they
 * hold key hashes). The caller holds the folder's lock, so no live writer owns one. */
static void clean_stale(const char *dir, const char *base)
{
    struct dirent *d;
    DIR *dp = opendir(dir);
    int dfd;

    if (dp == NULL)
        return;
    dfd = dirfd(dp);
    while ((d = readdir(dp)) != NULL) {
        if (is_stale_tmp(d->d_name, base) && unlinkat(dfd, d->d_name, 0) == 0)
            log_kv(LOG_WARN, "removed a stale temporary key file", "dir", dir, "file", d->d_name,
                   NULL);
    }
    closedir(dp);
}

/* A fresh name path + ".tmp." + 6 random alphanumerics into tmp (cap bytes). */
static int tmp_name(char *tmp, size_t cap, const char *path)
{
    static const char alphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    unsigned char rnd[TMP_RAND];
    size_t n;

    if (mw_random(rnd, sizeof(rnd)) != 0)
        return -1;
    n = (size_t)snprintf(tmp, cap, "%s" TMP_TAG, path);
    if (n + TMP_RAND >= cap)
        return -1;
    for (size_t i = 0; i < TMP_RAND; i++)
        tmp[n + i] = alphabet[rnd[i] % 62];
    tmp[n + TMP_RAND] = '\0';
    return 0;
}

/* Gives the anonymous O_TMPFILE file fd the name tmp: linkat with AT_EMPTY_PATH needs
 * CAP_DAC_READ_SEARCH, /proc/self/fd works for anyone when /proc is mounted. */
static int link_anon(int fd, const char *tmp)
{
    char proc[64];

    if (linkat(fd, "", AT_FDCWD, tmp, AT_EMPTY_PATH) == 0)
        return 0;
    snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
    return linkat(AT_FDCWD, proc, AT_FDCWD, tmp, AT_SYMLINK_FOLLOW);
}

/* See auth.h. The document is written to an anonymous file (O_TMPFILE) in path's folder, so a
 * writer killed while writing leaves nothing; it gets a temporary name only once complete and
 * synced, just before the rename. Filesystems without O_TMPFILE get mkstemp's named file. Either
 * way, temporaries a killed writer left are removed first (the caller holds the folder lock). */
int auth_keyfile_write(const char *path, const json_t *doc, struct mw_error *e)
{
    char why[128];
    char *dir_copy = NULL, *base_copy = NULL;
    char *tmp = NULL;
    const char *dir;
    size_t plen = strlen(path), cap = plen + sizeof(TMP_TAG) + TMP_RAND + 1;
    bool anon = false, named = false;
    int fd = -1, dfd = -1;
    int rc = 0;

    tmp = malloc(cap);
    dir_copy = strdup(path);
    base_copy = strdup(path);
    if (!tmp || !dir_copy || !base_copy) {
        rc = mw_fail(e, MWE_NOMEM, "out of memory");
        goto out;
    }
    dir = dirname(dir_copy);
    clean_stale(dir, basename(base_copy));
    fd = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
    anon = fd >= 0;
    if (!anon) {
        snprintf(tmp, cap, "%s" TMP_TAG "XXXXXX", path);
        fd = mkstemp(tmp);
        if (fd < 0) {
            rc = mw_fail(e, MWE_IO, "%s: cannot create a temporary file: %s", path,
                         strerror_r(errno, why, sizeof(why)));
            goto out;
        }
        named = true;
    }
    if (fchmod(fd, 0600) != 0 ||
        json_dump_callback(doc, dump_to_fd, &fd, JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0 ||
        dump_to_fd("\n", 1, &fd) != 0 || fsync(fd) != 0) {
        rc = mw_fail(e, MWE_IO, "%s: cannot write: %s", path, strerror_r(errno, why, sizeof(why)));
        goto out_unlink;
    }
    for (int tries = 0; anon && !named && tries < 8; tries++) {
        if (tmp_name(tmp, cap, path) != 0) {
            rc = mw_fail(e, MWE_IO, "%s: no randomness from the kernel", path);
            goto out_unlink;
        }
        if (link_anon(fd, tmp) == 0)
            named = true;
        else if (errno != EEXIST)
            break;
    }
    if (!named) {
        rc = mw_fail(e, MWE_IO, "%s: cannot name the temporary file: %s", path,
                     strerror_r(errno, why, sizeof(why)));
        goto out_unlink;
    }
    if (close(fd) != 0) {
        fd = -1;
        rc = mw_fail(e, MWE_IO, "%s: cannot write: %s", path, strerror_r(errno, why, sizeof(why)));
        goto out_unlink;
    }
    fd = -1;
    if (rename(tmp, path) != 0) {
        rc =
            mw_fail(e, MWE_IO, "%s: cannot replace: %s", path, strerror_r(errno, why, sizeof(why)));
        goto out_unlink;
    }
    dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    goto out;
out_unlink:
    if (named)
        unlink(tmp);
out:
    if (fd >= 0)
        close(fd);
    free(tmp);
    free(dir_copy);
    free(base_copy);
    return rc;
}

json_t *auth_key_json(const char *id, const char *owner, unsigned scopes, const char *key,
                      int64_t created, int64_t expires, const char *rate_limit, unsigned burst)
{
    static const char *const names[] = {"predict", "read", "admin", "metrics"};
    unsigned char digest[32];
    char hash[7 + 64 + 1];
    char when[32];
    json_t *o = json_object();
    json_t *arr = json_array();

    if (!o || !arr || auth_sha256(key, strlen(key), digest) != 0)
        goto out_fail;
    memcpy(hash, "sha256:", 7);
    for (size_t i = 0; i < 32; i++)
        snprintf(hash + 7 + 2 * i, 3, "%02x", digest[i]);
    for (size_t i = 0; i < MW_ARRAY_LEN(names); i++)
        if (scopes & (1u << i))
            json_array_append_new(arr, json_string(names[i]));
    json_object_set_new(o, "id", json_string(id));
    if (owner && *owner)
        json_object_set_new(o, "owner", json_string(owner));
    json_object_set_new(o, "scopes", arr);
    arr = NULL;
    json_object_set_new(o, "hash", json_string(hash));
    auth_time_format(created, when);
    json_object_set_new(o, "created", json_string(when));
    if (expires) {
        auth_time_format(expires, when);
        json_object_set_new(o, "expires", json_string(when));
    }
    if (rate_limit)
        json_object_set_new(o, "rate_limit", json_string(rate_limit));
    if (burst)
        json_object_set_new(o, "burst", json_integer(burst));
    memset(digest, 0, sizeof(digest));
    return o;
out_fail:
    json_decref(arr);
    json_decref(o);
    return NULL;
}

int auth_keyfile_create_dev(const char *path, const char *id, const char *owner, unsigned scopes,
                            char key_out[AUTH_KEY_LEN + 1], struct mw_error *e)
{
    struct stat st;
    json_t *doc = NULL;
    json_t *k = NULL;
    int rc = 0;

    if (stat(path, &st) == 0 || errno != ENOENT) {
        rc = mw_fail(e, MWE_IO, "%s: exists already", path);
        goto out;
    }
    rc = auth_key_generate(key_out);
    if (rc != 0) {
        mw_fail(e, rc, "no randomness from the kernel");
        goto out;
    }
    k = auth_key_json(id, owner, scopes, key_out, (int64_t)time(NULL), 0, NULL, 0);
    doc = json_pack("{s:i, s:[]}", "version", 1, "keys");
    if (!k || !doc || json_array_append_new(json_object_get(doc, "keys"), k) != 0) {
        k = NULL;
        rc = mw_fail(e, MWE_NOMEM, "out of memory");
        goto out;
    }
    k = NULL;
    rc = auth_keyfile_write(path, doc, e);
out:
    json_decref(k);
    json_decref(doc);
    if (rc != 0)
        memset(key_out, 0, AUTH_KEY_LEN + 1);
    return rc;
}
