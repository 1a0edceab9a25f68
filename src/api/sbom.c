/*
 * The dependency inventory as CycloneDX 1.5 JSON: the shared libraries this process has loaded,
 * resolved to their Debian packages (dpkg-query), the docs page's npm packages (its lock file),
 * and each served model with its backend, runtime, the SHA-256 of its files and, for Python
 * models, the interpreter and every distribution it sees. Shared by `modelwrap sbom` and
 * GET /api/v1/sbom (cached per model snapshot).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <gnutls/crypto.h>
#include <link.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xgboost/c_api.h>

#include "api/api.h"
#include "api/sbom_int.h"

#define DPKG_QUERY "/usr/bin/dpkg-query"
#define DPKG_TIMEOUT_MS 20000
#define DPKG_OUT_MAX (4u << 20)
#define PY_TIMEOUT_MS 20000
#define PY_OUT_MAX (8u << 20)
#define LOCK_MAX (32u << 20)      /* bytes of web/package-lock.json */
#define MODEL_FILES_MAX 10000     /* files hashed per model */
#define MODEL_DEPTH_MAX 8         /* folder depth walked per model */
#define STR_MAX 512               /* bytes of a name or version taken from a subprocess */

static char *const scrubbed_env[] = {"PATH=/usr/bin:/bin", "LC_ALL=C.UTF-8", NULL};

/* ---- small helpers --------------------------------------------------------------------------- */

static bool add(json_t *arr, json_t *v)
{
    return v != NULL && json_array_append_new(arr, v) == 0;
}

static json_t *prop(const char *name, const char *value)
{
    return json_pack("{s:s, s:s}", "name", name, "value", value);
}

/* Percent-encodes s for a purl segment (RFC 3986 unreserved characters stay). */
static void purl_enc(const char *s, char *out, size_t size)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t j = 0;

    for (; *s != '\0' && j + 4 < size; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~') {
            out[j++] = (char)c;
        } else {
            out[j++] = '%';
            out[j++] = hex[c >> 4];
            out[j++] = hex[c & 15];
        }
    }
    out[j] = '\0';
}

int sbom_sha256_file(const char *path, char hex[65])
{
    static const char digits[] = "0123456789abcdef";
    unsigned char md[32];
    unsigned char chunk[65536];
    gnutls_hash_hd_t h;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    int rc = 0;

    if (fd < 0)
        return MWE_IO;
    if (gnutls_hash_init(&h, GNUTLS_DIG_SHA256) < 0) {
        close(fd);
        return MWE_NOMEM;
    }
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            rc = MWE_IO;
        if (n <= 0)
            break;
        gnutls_hash(h, chunk, (size_t)n);
    }
    close(fd);
    gnutls_hash_deinit(h, md);
    for (size_t i = 0; i < 32; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 15];
    }
    hex[64] = '\0';
    return rc;
}

static json_t *sha256_hashes(const char *path)
{
    char hex[65];
    if (sbom_sha256_file(path, hex) != 0)
        return json_array();
    return json_pack("[{s:s, s:s}]", "alg", "SHA-256", "content", hex);
}

/* The os-release field (VERSION_CODENAME, VERSION_ID) into out, "" when unknown. */
static void os_release(const char *field, char *out, size_t size)
{
    FILE *f = fopen("/etc/os-release", "re");
    char line[256];
    size_t fl = strlen(field);

    out[0] = '\0';
    if (f == NULL)
        return;
    while (fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, field, fl) == 0 && line[fl] == '=') {
            char *v = line + fl + 1;
            size_t n;
            if (*v == '"')
                v++;
            n = strcspn(v, "\"\n");
            snprintf(out, size, "%.*s", (int)n, v);
            break;
        }
    }
    fclose(f);
}

/* ---- loaded libraries ------------------------------------------------------------------------ */

struct lib {
    char *path;     /* as the loader names it */
    char *real;     /* realpath */
    char *pkg;      /* "libc6:amd64" once resolved, else NULL */
};

struct libs {
    struct lib *v;
    size_t n, cap;
};

static int on_object(struct dl_phdr_info *info, size_t size, void *data)
{
    struct libs *ls = data;
    char real[PATH_MAX];
    (void)size;

    if (info->dlpi_name == NULL || info->dlpi_name[0] != '/')
        return 0; /* the executable itself ("") and the vDSO */
    for (size_t i = 0; i < ls->n; i++)
        if (strcmp(ls->v[i].path, info->dlpi_name) == 0)
            return 0;
    if (ls->n == ls->cap) {
        size_t cap = ls->cap ? ls->cap * 2 : 64;
        struct lib *v = realloc(ls->v, cap * sizeof(*v));
        if (v == NULL)
            return 1;
        ls->v = v;
        ls->cap = cap;
    }
    ls->v[ls->n].path = strdup(info->dlpi_name);
    ls->v[ls->n].real = strdup(realpath(info->dlpi_name, real) ? real : info->dlpi_name);
    ls->v[ls->n].pkg = NULL;
    if (ls->v[ls->n].path == NULL || ls->v[ls->n].real == NULL) {
        free(ls->v[ls->n].path);
        free(ls->v[ls->n].real);
        return 1;
    }
    ls->n++;
    return 0;
}

static void libs_free(struct libs *ls)
{
    for (size_t i = 0; i < ls->n; i++) {
        free(ls->v[i].path);
        free(ls->v[i].real);
        free(ls->v[i].pkg);
    }
    free(ls->v);
}

/* The /lib <-> /usr/lib twin of a path (Debian 12 ships most libraries under /lib, merged-/usr
 * systems load them as /usr/lib...). */
static void twin(const char *p, char *out, size_t size)
{
    if (strncmp(p, "/usr/lib", 8) == 0)
        snprintf(out, size, "%s", p + 4);
    else if (strncmp(p, "/lib", 4) == 0)
        snprintf(out, size, "/usr%s", p);
    else
        out[0] = '\0';
}

/* One `dpkg-query -S` for every candidate path; fills lib.pkg. Missing dpkg: nothing resolved. */
static void resolve_packages(struct libs *ls, struct sbom_ctx *cx)
{
    size_t max = ls->n * 4 + 3;
    char **argv = calloc(max, sizeof(*argv));
    char (*paths)[PATH_MAX + 8] = calloc(ls->n * 4, sizeof(*paths));
    struct buf out;
    struct mw_error e = {0};
    size_t argc = 0;
    int status;

    buf_init(&out, DPKG_OUT_MAX);
    if (argv == NULL || paths == NULL || ls->n == 0)
        goto out;
    argv[argc++] = DPKG_QUERY;
    argv[argc++] = "-S";
    for (size_t i = 0; i < ls->n; i++) {
        snprintf(paths[4 * i], sizeof(paths[0]), "%s", ls->v[i].path);
        snprintf(paths[4 * i + 1], sizeof(paths[0]), "%s", ls->v[i].real);
        twin(ls->v[i].path, paths[4 * i + 2], sizeof(paths[0]));
        twin(ls->v[i].real, paths[4 * i + 3], sizeof(paths[0]));
        for (size_t k = 0; k < 4; k++)
            if (paths[4 * i + k][0] != '\0')
                argv[argc++] = paths[4 * i + k];
    }
    argv[argc] = NULL;
    /* dpkg-query exits 1 when some path belongs to no package: the others are still listed. */
    if (mw_spawn_capture(argv, scrubbed_env, DPKG_TIMEOUT_MS, &out, &status, &e) != 0 ||
        out.ptr == NULL) {
        sbom_note(cx, "dpkg-query -S failed: %s", e.msg[0] ? e.msg : "no output");
        goto out;
    }
    /* Lines "pkg[:arch][, pkg2...]: /path". */
    for (char *line = out.ptr; line != NULL && *line != '\0';) {
        char *nl = strchr(line, '\n');
        char *sep;
        if (nl != NULL)
            *nl = '\0';
        sep = strstr(line, ": /");
        if (sep != NULL && strncmp(line, "diversion by", 12) != 0) {
            const char *path = sep + 2;
            size_t pl = strcspn(line, ", ");
            if ((size_t)(sep - line) < pl)
                pl = (size_t)(sep - line);
            for (size_t i = 0; i < ls->n; i++) {
                bool hit = false;
                for (size_t k = 0; k < 4; k++)
                    hit = hit || (paths[4 * i + k][0] != '\0' && strcmp(paths[4 * i + k], path) == 0);
                if (hit && ls->v[i].pkg == NULL)
                    ls->v[i].pkg = strndup(line, pl);
            }
        }
        line = nl != NULL ? nl + 1 : NULL;
    }
out:
    buf_fini(&out);
    free(argv);
    free(paths);
}

struct debpkg {
    char name[128], arch[32], version[128], source[128], source_version[128];
};

/* dpkg-query -W for the distinct packages of ls (and extra, may be NULL); *n gets the count. */
static struct debpkg *query_versions(const struct libs *ls, const char *const *extra,
                                     size_t n_extra, size_t *n, struct sbom_ctx *cx)
{
    size_t total = ls->n + n_extra;
    char **argv = calloc(total + 4, sizeof(*argv));
    struct debpkg *pk = calloc(total + 1, sizeof(*pk));
    struct buf out;
    struct mw_error e = {0};
    size_t argc = 0, np = 0;
    int status;

    *n = 0;
    buf_init(&out, DPKG_OUT_MAX);
    if (argv == NULL || pk == NULL)
        goto fail;
    argv[argc++] = DPKG_QUERY;
    argv[argc++] = "-W";
    argv[argc++] = "-f=${Package}\t${Architecture}\t${Version}\t${source:Package}\t"
                   "${source:Version}\n";
    for (size_t i = 0; i < total; i++) {
        const char *p = i < ls->n ? ls->v[i].pkg : extra[i - ls->n];
        bool dup = false;
        if (p == NULL)
            continue;
        for (size_t j = 3; j < argc; j++)
            dup = dup || strcmp(argv[j], p) == 0;
        if (!dup)
            argv[argc++] = (char *)p;
    }
    argv[argc] = NULL;
    if (argc == 3)
        goto done;
    if (mw_spawn_capture(argv, scrubbed_env, DPKG_TIMEOUT_MS, &out, &status, &e) != 0 ||
        out.ptr == NULL) {
        sbom_note(cx, "dpkg-query -W failed: %s", e.msg[0] ? e.msg : "no output");
        goto done;
    }
    for (char *line = out.ptr; line != NULL && *line != '\0' && np < total;) {
        char *nl = strchr(line, '\n');
        char *f[5] = {NULL};
        size_t k = 0;
        if (nl != NULL)
            *nl = '\0';
        for (char *p = line; k < 5; k++) {
            f[k] = p;
            p = strchr(p, '\t');
            if (p == NULL)
                break;
            *p++ = '\0';
        }
        if (k == 4 && f[0][0] != '\0' && f[2][0] != '\0') {
            snprintf(pk[np].name, sizeof(pk[np].name), "%s", f[0]);
            snprintf(pk[np].arch, sizeof(pk[np].arch), "%s", f[1]);
            snprintf(pk[np].version, sizeof(pk[np].version), "%s", f[2]);
            snprintf(pk[np].source, sizeof(pk[np].source), "%s", f[3][0] ? f[3] : f[0]);
            snprintf(pk[np].source_version, sizeof(pk[np].source_version), "%s",
                     f[4][0] ? f[4] : f[2]);
            np++;
        }
        line = nl != NULL ? nl + 1 : NULL;
    }
done:
    buf_fini(&out);
    free(argv);
    *n = np;
    return pk;
fail:
    buf_fini(&out);
    free(argv);
    free(pk);
    return NULL;
}

/* "libc6:amd64" or "libc6" matches package name + arch. */
static bool pkg_matches(const char *spec, const struct debpkg *p)
{
    size_t nl = strlen(p->name);
    if (strncmp(spec, p->name, nl) != 0)
        return false;
    return spec[nl] == '\0' || (spec[nl] == ':' && strcmp(spec + nl + 1, p->arch) == 0);
}

static void deb_purl(const struct debpkg *p, const char *distro, char *out, size_t size)
{
    char name[400], ver[400], src[400];
    purl_enc(p->name, name, sizeof(name));
    purl_enc(p->version, ver, sizeof(ver));
    purl_enc(p->source, src, sizeof(src));
    if (strcmp(p->source, p->name) != 0)
        snprintf(out, size, "pkg:deb/debian/%s@%s?arch=%s&distro=%s&upstream=%s", name, ver,
                 p->arch, distro, src);
    else
        snprintf(out, size, "pkg:deb/debian/%s@%s?arch=%s&distro=%s", name, ver, p->arch, distro);
}

static json_t *deb_component(const struct debpkg *p, const char *distro)
{
    char purl[1400];
    deb_purl(p, distro, purl, sizeof(purl));
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:[o,o,o]}", "type", "library", "bom-ref",
                     purl, "name", p->name, "version", p->version, "purl", purl, "publisher",
                     "Debian", "properties", prop("debian:source", p->source),
                     prop("debian:source_version", p->source_version),
                     prop("debian:architecture", p->arch));
}

/* The components of the loaded libraries; deps gets the refs the binary depends on. xgb_ref
 * (size bytes) gets the ref of libxgboost's component, "" when none. */
static int add_libraries(json_t *components, json_t *deps, struct libs *ls, const char *distro,
                         char *xgb_ref, size_t size, struct sbom_ctx *cx)
{
    size_t n = 0;
    struct debpkg *pk;

    xgb_ref[0] = '\0';
    resolve_packages(ls, cx);
    pk = query_versions(ls, NULL, 0, &n, cx);
    if (pk == NULL)
        return MWE_NOMEM;
    for (size_t i = 0; i < n; i++) {
        json_t *c = deb_component(&pk[i], distro);
        json_t *props = json_object_get(c, "properties");
        const char *ref = json_string_value(json_object_get(c, "bom-ref"));
        for (size_t j = 0; j < ls->n; j++) {
            if (ls->v[j].pkg == NULL || !pkg_matches(ls->v[j].pkg, &pk[i]))
                continue;
            add(props, prop("modelwrap:loaded_file", ls->v[j].real));
            if (strstr(ls->v[j].real, "/libxgboost") != NULL)
                snprintf(xgb_ref, size, "%s", ref);
        }
        if (!add(deps, json_string(ref)) || !add(components, c)) {
            free(pk);
            return MWE_NOMEM;
        }
    }
    free(pk);
    /* Libraries no package owns (a plug-in of the model repository, /usr/local...). */
    for (size_t j = 0; j < ls->n; j++) {
        char ref[PATH_MAX + 8];
        const char *base = strrchr(ls->v[j].real, '/');
        if (ls->v[j].pkg != NULL)
            continue;
        snprintf(ref, sizeof(ref), "file:%s", ls->v[j].real);
        if (!add(deps, json_string(ref)) ||
            !add(components,
                 json_pack("{s:s, s:s, s:s, s:o, s:[o,o]}", "type", "library", "bom-ref", ref,
                           "name", base ? base + 1 : ls->v[j].real, "hashes",
                           sha256_hashes(ls->v[j].real), "properties",
                           prop("modelwrap:loaded_file", ls->v[j].real),
                           prop("modelwrap:package", "none (not installed by a Debian package)"))))
            return MWE_NOMEM;
    }
    return 0;
}

/* ---- npm packages of the docs page ----------------------------------------------------------- */

static int b64val(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* "sha512-<base64>" -> {"alg":"SHA-512","content":hex}; NULL when not that shape. */
static json_t *integrity_hash(const char *integrity)
{
    static const char digits[] = "0123456789abcdef";
    const char *alg = NULL, *b64 = NULL;
    unsigned char raw[64];
    char hex[129];
    size_t want, nraw = 0;
    unsigned acc = 0;
    int bits = 0;

    if (integrity == NULL)
        return NULL;
    if (strncmp(integrity, "sha512-", 7) == 0) {
        alg = "SHA-512", b64 = integrity + 7, want = 64;
    } else if (strncmp(integrity, "sha256-", 7) == 0) {
        alg = "SHA-256", b64 = integrity + 7, want = 32;
    } else if (strncmp(integrity, "sha1-", 5) == 0) {
        alg = "SHA-1", b64 = integrity + 5, want = 20;
    } else {
        return NULL;
    }
    for (; *b64 != '\0' && *b64 != '=' && *b64 != ' '; b64++) {
        int v = b64val(*b64);
        if (v < 0)
            return NULL;
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (nraw == sizeof(raw))
                return NULL;
            raw[nraw++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    if (nraw != want)
        return NULL;
    for (size_t i = 0; i < nraw; i++) {
        hex[2 * i] = digits[raw[i] >> 4];
        hex[2 * i + 1] = digits[raw[i] & 15];
    }
    hex[2 * nraw] = '\0';
    return json_pack("{s:s, s:s}", "alg", alg, "content", hex);
}

int sbom_add_npm(json_t *components, const char *lock_path, struct sbom_ctx *cx)
{
    json_error_t jerr;
    json_t *lock = json_load_file(lock_path, JSON_REJECT_DUPLICATES, &jerr);
    const json_t *pkgs;
    const char *key;
    json_t *p;
    struct stat st;

    if (stat(lock_path, &st) == 0 && (size_t)st.st_size > LOCK_MAX) {
        json_decref(lock);
        sbom_note(cx, "%s: larger than %u bytes, not read", lock_path, LOCK_MAX);
        return 0;
    }
    if (lock == NULL) {
        sbom_note(cx, "%s: %s", lock_path, jerr.text);
        return 0;
    }
    pkgs = json_object_get(lock, "packages");
    json_object_foreach((json_t *)pkgs, key, p) {
        const char *nm = strstr(key, "node_modules/");
        const char *version = json_string_value(json_object_get(p, "version"));
        const char *license = json_string_value(json_object_get(p, "license"));
        char group[256] = "", purl[1300], enc_name[400], enc_group[400], enc_ver[400], full[512];
        json_t *c, *h;

        if (nm == NULL || version == NULL || json_is_true(json_object_get(p, "dev")))
            continue;
        /* The last node_modules/ names the package: "node_modules/a/node_modules/@s/b". */
        for (const char *q = nm; (q = strstr(q, "node_modules/")) != NULL; q += 13)
            nm = q;
        nm += 13;
        snprintf(full, sizeof(full), "%s", nm);
        if (full[0] == '@' && strchr(full, '/') != NULL) {
            size_t gl = (size_t)(strchr(full, '/') - full);
            snprintf(group, sizeof(group), "%.*s", (int)gl, full);
            nm = full + gl + 1;
        } else {
            nm = full;
        }
        purl_enc(nm, enc_name, sizeof(enc_name));
        purl_enc(group, enc_group, sizeof(enc_group));
        purl_enc(version, enc_ver, sizeof(enc_ver));
        snprintf(purl, sizeof(purl), "pkg:npm/%s%s%s@%s", enc_group, group[0] ? "/" : "",
                 enc_name, enc_ver);
        c = json_pack("{s:s, s:s, s:s, s:s, s:s, s:[o]}", "type", "library", "bom-ref", purl,
                      "name", nm, "version", version, "purl", purl, "properties",
                      prop("modelwrap:used_by", "the /docs page (web/)"));
        if (c == NULL)
            goto nomem;
        if (group[0] != '\0')
            json_object_set_new(c, "group", json_string(group));
        h = integrity_hash(json_string_value(json_object_get(p, "integrity")));
        if (h != NULL)
            json_object_set_new(c, "hashes", json_pack("[o]", h));
        if (license != NULL)
            json_object_set_new(c, "licenses",
                                json_pack("[{s:{s:s}}]", "license", "name", license));
        if (!add(components, c))
            goto nomem;
    }
    json_decref(lock);
    return 0;
nomem:
    json_decref(lock);
    return MWE_NOMEM;
}

/* ---- models ---------------------------------------------------------------------------------- */

struct walk {
    json_t *files;
    const char *root;
    size_t n;
    bool truncated;
};

static void walk_dir(struct walk *w, const char *dir, int depth)
{
    DIR *d;
    struct dirent *de;

    if (depth > MODEL_DEPTH_MAX)
        return;
    d = opendir(dir);
    if (d == NULL)
        return;
    while ((de = readdir(d)) != NULL) {
        char path[PATH_MAX];
        struct stat st;
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >= (int)sizeof(path))
            continue;
        if (lstat(path, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            walk_dir(w, path, depth + 1);
        } else if (S_ISREG(st.st_mode)) {
            if (w->n >= MODEL_FILES_MAX) {
                w->truncated = true;
                continue;
            }
            w->n++;
            add(w->files, json_pack("{s:s, s:s, s:o}", "type", "file", "name",
                                    path + strlen(w->root) + 1, "hashes", sha256_hashes(path)));
        }
    }
    closedir(d);
}

static int cmp_name(const void *a, const void *b)
{
    const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    return strcmp(json_string_value(json_object_get(x, "name")),
                  json_string_value(json_object_get(y, "name")));
}

/* The files of the model's folder, sorted by path, as "file" components. */
static json_t *model_files(const char *dir, bool *truncated)
{
    struct walk w = {json_array(), dir, 0, false};
    json_t *sorted;
    json_t **v;
    size_t n;

    if (w.files == NULL)
        return NULL;
    walk_dir(&w, dir, 0);
    *truncated = w.truncated;
    n = json_array_size(w.files);
    v = calloc(n ? n : 1, sizeof(*v));
    sorted = json_array();
    if (v == NULL || sorted == NULL) {
        free(v);
        json_decref(sorted);
        json_decref(w.files);
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        v[i] = json_array_get(w.files, i);
    qsort(v, n, sizeof(*v), cmp_name);
    for (size_t i = 0; i < n; i++)
        json_array_append(sorted, v[i]);
    free(v);
    json_decref(w.files);
    return sorted;
}

/* The interpreter of a Python model: model.json "python": {"venv": DIR} -> DIR/bin/python3
 * (DIR relative to the model's folder unless absolute), else /usr/bin/python3. */
static void python_interpreter(const char *model_dir, const json_t *mj, char *out, size_t size)
{
    const char *venv = json_string_value(json_object_get(json_object_get(mj, "python"), "venv"));

    if (venv == NULL || venv[0] == '\0')
        snprintf(out, size, "/usr/bin/python3");
    else if (venv[0] == '/')
        snprintf(out, size, "%s/bin/python3", venv);
    else
        snprintf(out, size, "%s/%s/bin/python3", model_dir, venv);
}

/* A short string from untrusted output: a JSON string of 1..STR_MAX bytes without control
 * characters, else NULL. */
static const char *clean_str(const json_t *v)
{
    const char *s = json_string_value(v);
    size_t n;

    if (s == NULL)
        return NULL;
    n = json_string_length(v);
    if (n == 0 || n > STR_MAX || strlen(s) != n)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return NULL;
    return s;
}

static const char py_script[] =
    "import sys, json, importlib.metadata as m\n"
    "d = {}\n"
    "for dist in m.distributions():\n"
    "    n = dist.metadata['Name']\n"
    "    if n and n not in d:\n"
    "        d[n] = dist.version\n"
    "print(json.dumps({'version': '%d.%d.%d' % sys.version_info[:3],\n"
    "    'implementation': sys.implementation.name,\n"
    "    'distributions': sorted([k, v] for k, v in d.items())}))\n";

json_t *sbom_python_inventory(const char *interpreter, const char *ref_prefix, unsigned timeout_ms,
                              struct mw_error *e)
{
    char *argv[] = {(char *)interpreter, "-I", "-c", (char *)py_script, NULL};
    struct buf out;
    json_t *doc = NULL, *res = NULL, *comps;
    json_error_t jerr;
    const json_t *dists, *d;
    const char *ver;
    size_t i;
    int status = -1;
    char ref[4400];

    buf_init(&out, PY_OUT_MAX);
    if (access(interpreter, X_OK) != 0) {
        mw_fail(e, MWE_CONFIG, "%.300s: no such interpreter", interpreter);
        goto out;
    }
    if (mw_spawn_capture(argv, scrubbed_env, timeout_ms, &out, &status, e) != 0)
        goto out;
    /* A host-wide SIGCHLD reaper may have taken the exit status: the answer is then judged on
     * its own (it must parse below). */
    if (status != 0 && status != MW_SPAWN_REAPED_ELSEWHERE) {
        mw_fail(e, MWE_IO, "%.300s: exited with status %d", interpreter, status);
        goto out;
    }
    doc = json_loadb(out.ptr ? out.ptr : "", out.len, JSON_REJECT_DUPLICATES, &jerr);
    ver = clean_str(json_object_get(doc, "version"));
    dists = json_object_get(doc, "distributions");
    if (doc == NULL || ver == NULL || !json_is_array(dists)) {
        mw_fail(e, MWE_IO, "%.300s: unexpected answer to the inventory script", interpreter);
        goto out;
    }
    snprintf(ref, sizeof(ref), "%s/python", ref_prefix);
    comps = json_array();
    res = json_pack("{s:s, s:s, s:s, s:s, s:[o,o], s:o}", "type", "platform", "bom-ref", ref,
                    "name", "python", "version", ver, "properties",
                    prop("modelwrap:interpreter", interpreter),
                    prop("modelwrap:implementation",
                         clean_str(json_object_get(doc, "implementation"))
                             ? clean_str(json_object_get(doc, "implementation"))
                             : "unknown"),
                    "components", comps);
    if (res == NULL)
        goto nomem;
    json_array_foreach(dists, i, d) {
        const char *name = clean_str(json_array_get(d, 0));
        const char *dv = clean_str(json_array_get(d, 1));
        char norm[STR_MAX + 1], enc_name[3 * STR_MAX + 1], enc_ver[3 * STR_MAX + 1], purl[3200];
        size_t j;
        if (name == NULL || dv == NULL)
            continue;
        /* PEP 503 normalisation for the purl: lower case, runs of -_. as one '-'. */
        for (j = 0; name[j] != '\0'; j++)
            norm[j] = (name[j] == '_' || name[j] == '.') ? '-'
                      : (name[j] >= 'A' && name[j] <= 'Z') ? (char)(name[j] - 'A' + 'a')
                                                          : name[j];
        norm[j] = '\0';
        purl_enc(norm, enc_name, sizeof(enc_name));
        purl_enc(dv, enc_ver, sizeof(enc_ver));
        snprintf(purl, sizeof(purl), "pkg:pypi/%s@%s", enc_name, enc_ver);
        snprintf(ref, sizeof(ref), "%s/%s", ref_prefix, purl);
        if (!add(comps, json_pack("{s:s, s:s, s:s, s:s, s:s}", "type", "library", "bom-ref",
                                  ref, "name", name, "version", dv, "purl", purl)))
            goto nomem;
    }
    goto out;
nomem:
    json_decref(res);
    res = NULL;
    mw_fail(e, MWE_NOMEM, "out of memory");
out:
    json_decref(doc);
    buf_fini(&out);
    return res;
}

static json_t *model_component(const struct model *m, const char *xgb_ref, json_t *deps,
                               struct sbom_ctx *cx)
{
    char ref[700], path[PATH_MAX], runtime[64] = "";
    const char *backend = model_get_backend(m);
    json_t *mj, *c, *props, *files;
    json_error_t jerr;
    bool truncated = false;
    const char *declared;

    snprintf(ref, sizeof(ref), "model:%s@%s", model_get_name(m),
             model_get_version(m) ? model_get_version(m) : "-");
    snprintf(path, sizeof(path), "%s/model.json", model_get_dir(m));
    mj = json_load_file(path, 0, &jerr);
    declared = json_string_value(json_object_get(mj, "backend"));
    files = model_files(model_get_dir(m), &truncated);
    c = json_pack("{s:s, s:s, s:s, s:s, s:[o], s:o}", "type", "machine-learning-model", "bom-ref",
                  ref, "name", model_get_name(m), "version",
                  model_get_version(m) ? model_get_version(m) : "", "properties",
                  prop("modelwrap:backend", declared ? declared : backend), "components",
                  files ? files : json_array());
    if (c == NULL) {
        json_decref(mj);
        return NULL;
    }
    props = json_object_get(c, "properties");
    if (model_get_description(m) != NULL)
        json_object_set_new(c, "description", json_string(model_get_description(m)));
    if (truncated)
        add(props, prop("modelwrap:files_truncated", "more than 10000 files: the first listed"));
    if (strcmp(backend, "xgboost") == 0) {
        int ma = 0, mi = 0, pa = 0;
        XGBoostVersion(&ma, &mi, &pa);
        snprintf(runtime, sizeof(runtime), "%d.%d.%d", ma, mi, pa);
        add(props, prop("modelwrap:runtime", "xgboost"));
        add(props, prop("modelwrap:runtime_version", runtime));
        if (xgb_ref[0] != '\0')
            add(deps, json_pack("{s:s, s:[s]}", "ref", ref, "dependsOn", xgb_ref));
    } else if (strcmp(backend, "plugin") == 0) {
        snprintf(runtime, sizeof(runtime), "%d.%d", MW_ABI_MAJOR, MW_ABI_MINOR);
        add(props, prop("modelwrap:runtime", "modelwrap plug-in ABI"));
        add(props, prop("modelwrap:runtime_version", runtime));
    }
    if (declared != NULL && (strcmp(declared, "python") == 0 || strcmp(declared, "sklearn") == 0)) {
        char interp[PATH_MAX];
        struct mw_error e = {0};
        json_t *py;
        python_interpreter(model_get_dir(m), mj, interp, sizeof(interp));
        py = sbom_python_inventory(interp, ref, PY_TIMEOUT_MS, &e);
        if (py != NULL) {
            add(props, prop("modelwrap:runtime", "python"));
            add(props, prop("modelwrap:runtime_version",
                            json_string_value(json_object_get(py, "version"))));
            add(json_object_get(c, "components"), py);
        } else {
            add(props, prop("modelwrap:runtime", "python"));
            add(props, prop("modelwrap:inventory_error", e.msg));
            sbom_note(cx, "model %s: %s", model_get_name(m), e.msg);
        }
    }
    json_decref(mj);
    return c;
}

/* ---- the document ---------------------------------------------------------------------------- */

void sbom_note(struct sbom_ctx *cx, const char *fmt, ...)
{
    va_list ap;
    char msg[512];

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (cx != NULL && cx->notes != NULL)
        add(cx->notes, json_pack("{s:s, s:s}", "name", "modelwrap:inventory_note", "value", msg));
    log_msg(LOG_WARN, "dependency inventory incomplete", "detail", msg, NULL);
}

static void uuid_v4(char out[37])
{
    unsigned char b[16];
    if (mw_random(b, sizeof(b)) != 0)
        memset(b, 0, sizeof(b));
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
             b[13], b[14], b[15]);
}

json_t *api_sbom_build(const struct config *cfg, const struct registry *reg, struct mw_error *e)
{
    struct sbom_ctx cx = {json_array()};
    struct libs ls = {0};
    json_t *doc = NULL, *components = json_array(), *bin_deps = json_array(),
           *deps = json_array();
    char id[37], urn[48], now[32], exe[PATH_MAX], codename[64], version_id[32], distro[64],
        lock[PATH_MAX], xgb_ref[1400];
    ssize_t n;

    if (cx.notes == NULL || components == NULL || bin_deps == NULL || deps == NULL)
        goto nomem;
    os_release("VERSION_CODENAME", codename, sizeof(codename));
    os_release("VERSION_ID", version_id, sizeof(version_id));
    snprintf(distro, sizeof(distro), "debian-%s", version_id[0] ? version_id : "unknown");
    if (dl_iterate_phdr(on_object, &ls) != 0)
        goto nomem;
    if (add_libraries(components, bin_deps, &ls, distro, xgb_ref, sizeof(xgb_ref), &cx) != 0)
        goto nomem;
    if (cfg->docs_dir != NULL) {
        snprintf(lock, sizeof(lock), "%s/package-lock.json", cfg->docs_dir);
        if (sbom_add_npm(components, lock, &cx) != 0)
            goto nomem;
    }
    for (size_t i = 0; i < registry_count(reg); i++) {
        size_t nv = registry_n_versions(reg, i);
        for (size_t j = 0; j < nv; j++) {
            const struct model *m = registry_version_at(reg, i, j);
            if (!add(components, model_component(m, xgb_ref, deps, &cx)))
                goto nomem;
        }
    }
    n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    exe[n > 0 ? n : 0] = '\0';
    uuid_v4(id);
    snprintf(urn, sizeof(urn), "urn:uuid:%s", id);
    time_iso8601_ms(time_real_ms(), now);
    if (!add(deps, json_pack("{s:s, s:O}", "ref", "modelwrap", "dependsOn", bin_deps)))
        goto nomem;
    /* metadata.properties: the distribution, then what could not be inventoried. */
    if (json_array_insert_new(cx.notes, 0, prop("modelwrap:distro", distro)) != 0 ||
        json_array_insert_new(cx.notes, 1, prop("modelwrap:distro_codename",
                                                codename[0] ? codename : "unknown")) != 0)
        goto nomem;
    doc = json_pack(
        "{s:s, s:s, s:s, s:i, s:{s:s, s:{s:[{s:s, s:s, s:s}]}, s:{s:s, s:s, s:s, s:s, s:o}, s:o},"
        " s:o, s:o}",
        "bomFormat", "CycloneDX", "specVersion", "1.5", "serialNumber", urn, "version", 1,
        "metadata", "timestamp", now, "tools", "components", "type", "application", "name",
        "modelwrap", "version", MW_VERSION, "component", "type", "application", "bom-ref",
        "modelwrap", "name", "modelwrap", "version", MW_VERSION, "hashes",
        exe[0] ? sha256_hashes(exe) : json_array(), "properties", cx.notes, "components",
        components, "dependencies", deps);
    cx.notes = components = deps = NULL; /* json_pack's "o" took them, on failure too */
    if (doc == NULL)
        goto nomem;
    json_decref(bin_deps);
    libs_free(&ls);
    return doc;
nomem:
    json_decref(cx.notes);
    json_decref(components);
    json_decref(bin_deps);
    json_decref(deps);
    libs_free(&ls);
    mw_fail(e, MWE_NOMEM, "out of memory");
    return NULL;
}

/* ---- GET /api/v1/sbom ------------------------------------------------------------------------ */

/* The last document served, for the model snapshot it describes: building it spawns dpkg-query
 * and interpreters and hashes every model file, so it is rebuilt only when the models change. */
struct api_sbom {
    pthread_mutex_t lock;
    char *key;  /* the snapshot's models: name, version, fingerprint */
    char *text; /* the document */
    size_t len;
};

int api_sbom_init(struct api *a, struct mw_error *e)
{
    a->sbom = calloc(1, sizeof(*a->sbom));
    if (a->sbom == NULL)
        return mw_fail(e, MWE_NOMEM, "out of memory");
    pthread_mutex_init(&a->sbom->lock, NULL);
    return 0;
}

void api_sbom_fini(struct api *a)
{
    if (a->sbom == NULL)
        return;
    pthread_mutex_destroy(&a->sbom->lock);
    free(a->sbom->key);
    free(a->sbom->text);
    free(a->sbom);
    a->sbom = NULL;
}

static char *snapshot_key(const struct registry *reg)
{
    struct buf b;
    char *out;

    buf_init(&b, 16u << 20);
    for (size_t i = 0; i < registry_count(reg); i++) {
        size_t nv = registry_n_versions(reg, i);
        for (size_t j = 0; j < nv; j++) {
            const struct model *m = registry_version_at(reg, i, j);
            const char *version = model_get_version(m);
            buf_appendf(&b, "%s\x1f%s\x1f%llx\x1e", model_get_name(m), version ? version : "",
                        (unsigned long long)model_get_fingerprint(m));
        }
    }
    out = strdup(b.ptr ? b.ptr : "");
    buf_fini(&b);
    return out;
}

static int dump_to_buf(const char *buffer, size_t size, void *data)
{
    return buf_append(data, buffer, size) == 0 ? 0 : -1;
}

/* GET /api/v1/sbom (scope admin). I/O thread; the first request after a model change waits for
 * the inventory (about a second), the others copy the cached document. */
int api_h_sbom(void *ctx, struct request *r)
{
    struct api *a = ctx;
    const struct registry *reg = api_registry(a, r);
    struct mw_error e = {0};
    char *key;
    int rc = 0;

    if (a->sbom == NULL) {
        http_set_error(r, MWE_NOT_READY, NULL);
        return HTTP_DONE;
    }
    key = snapshot_key(reg);
    if (key == NULL) {
        http_set_error(r, MWE_NOMEM, NULL);
        return HTTP_DONE;
    }
    pthread_mutex_lock(&a->sbom->lock);
    if (a->sbom->text == NULL || strcmp(a->sbom->key, key) != 0) {
        json_t *doc = api_sbom_build(a->cfg, reg, &e);
        struct buf b;
        buf_init(&b, 256u << 20);
        if (doc == NULL || json_dump_callback(doc, dump_to_buf, &b, JSON_COMPACT) != 0) {
            rc = MWE_NOMEM;
            buf_fini(&b);
        } else {
            free(a->sbom->text);
            free(a->sbom->key);
            a->sbom->text = b.ptr; /* the buffer's memory, taken over */
            a->sbom->len = b.len;
            a->sbom->key = key;
            key = NULL;
        }
        json_decref(doc);
    }
    if (rc == 0) {
        buf_reset(&r->resp);
        rc = buf_append(&r->resp, a->sbom->text, a->sbom->len);
    }
    pthread_mutex_unlock(&a->sbom->lock);
    free(key);
    if (rc != 0) {
        http_set_error(r, MWE_NOMEM, NULL);
        return HTTP_DONE;
    }
    http_set_json(r, 200);
    r->content_type = "application/vnd.cyclonedx+json";
    return HTTP_DONE;
}
