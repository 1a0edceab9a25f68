/*
 * auth: who is calling and what they may do. API keys (hashed key file, reloaded atomically),
 * OAuth 2.0 / OpenID Connect JWT bearer tokens (Rhonabwy in its hardened mode, JWKS from a file,
 * a URI or discovery), scopes per route, brute-force blocking, counters for audit and metrics.
 */
#ifndef MW_AUTH_H
#define MW_AUTH_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "core/core.h"

/* ---- principals: who is calling ------------------------------------------------------------- */

enum principal_kind {
    PRINCIPAL_NONE = 0, /* not authenticated (yet) */
    PRINCIPAL_ANONYMOUS = 1, /* MODELWRAP_AUTH=none */
    PRINCIPAL_API_KEY = 2,
    PRINCIPAL_JWT = 3,
    PRINCIPAL_MTLS = 4,
};

/* Who is calling: filled by the authenticate phase, read by authorization, limits, audit and
 * metrics. Plain data, kept in the application's per-request state; never holds a secret. */
struct principal {
    int kind;            /* enum principal_kind */
    char id[128];        /* API key id, JWT sub, certificate subject */
    char client_id[128]; /* JWT client_id / azp */
    char key_id[64];     /* API key id, or the JWT's kid */
    char name[128];      /* display: key owner, JWT name, certificate CN */
    unsigned scopes;     /* SCOPE_* bits */
    double rate;         /* per-principal throughput override, requests/s; 0: the default */
    unsigned burst;      /* per-principal burst override; 0: the default */
};

/* ---- scopes: what a principal may do; each route names the one it needs ---------------------- */

#define SCOPE_PREDICT (1u << 0) /* predict / infer */
#define SCOPE_READ (1u << 1)    /* models, metadata, docs */
#define SCOPE_ADMIN (1u << 2)   /* repository load/unload, reload */
#define SCOPE_METRICS (1u << 3) /* /metrics */
#define SCOPE_ALL (SCOPE_PREDICT | SCOPE_READ | SCOPE_ADMIN | SCOPE_METRICS)

/* The bit of one scope name (len bytes, exact case), or 0 when it names no scope. Thread-safe. */
unsigned auth_scope_bit(const char *name, size_t len);
/* Parses "predict,read" (names separated by commas and/or blanks) into SCOPE_* bits. Returns 0,
 * or MWE_CONFIG with e naming the unknown scope (an empty list is an error too). */
int auth_scopes_parse(const char *list, unsigned *out, struct mw_error *e);
/* Writes "predict,read" for a scope mask into out (NUL-terminated, cut to cap). */
void auth_scopes_str(unsigned scopes, char *out, size_t cap);

/* ---- reason codes (r->outcome) and counters -------------------------------------------------- */

enum auth_reason {
    AUTH_MISSING = 0,        /* "auth.missing" */
    AUTH_INVALID_KEY,        /* "auth.invalid_key" */
    AUTH_EXPIRED_KEY,        /* "auth.expired_key" */
    AUTH_REVOKED_KEY,        /* "auth.revoked_key" */
    AUTH_KEY_IN_QUERY,       /* "auth.key_in_query" */
    AUTH_INVALID_TOKEN,      /* "auth.invalid_token" */
    AUTH_EXPIRED_TOKEN,      /* "auth.expired_token" */
    AUTH_TOKEN_LIFETIME,     /* "auth.token_lifetime" */
    AUTH_INSUFFICIENT_SCOPE, /* "auth.insufficient_scope" */
    AUTH_BLOCKED,            /* "auth.blocked" */
    AUTH_REASON_COUNT
};

/* The agreed reason code of a refusal ("auth.invalid_key"), a static string; NULL when out of
 * range. Thread-safe. */
const char *auth_reason_code(int reason);

/* A copy of the counters (each read atomically; the set is not one instant). For the audit,
 * security-event and metrics modules. */
struct auth_stats {
    uint64_t successes;                   /* requests that authenticated and had the scope */
    uint64_t failures[AUTH_REASON_COUNT]; /* refusals by reason */
    uint64_t blocks;                      /* times an address was blocked for brute force */
    uint64_t keys_loaded;                 /* API keys in the current key set (gauge) */
    uint64_t key_reloads;                 /* key file (re)loads that succeeded */
    uint64_t key_reload_failures;         /* key file reloads refused (old set kept) */
    uint64_t jwks_keys;                   /* verification keys in the current set (gauge) */
    uint64_t jwks_refreshes;              /* JWKS loads or fetches that succeeded */
    uint64_t jwks_refresh_failures;       /* JWKS loads or fetches that failed (old set kept) */
};

struct auth;

/* Reads the counters of a (borrowed) into out. Any thread, lock-free. */
void auth_stats_get(const struct auth *a, struct auth_stats *out);

/* ---- the authentication context -------------------------------------------------------------- */

/*
 * Builds the authentication context from cfg (borrowed; must outlive the context): checks the
 * settings (MODELWRAP_AUTH=none only on a loopback host, JWT settings consistent, HS256 never
 * with asymmetric keys), loads the key file (on a loopback host with auth required and no key
 * file, creates one with a development key and prints it once on stderr), loads or fetches the
 * JWKS (a failed fetch is logged and retried in the background), and starts the background
 * thread that reloads a changed key file and refreshes the JWKS. Main thread, at start-up, with
 * the signal mask already set. NULL with e (MWE_CONFIG, MWE_IO, MWE_NOMEM) on failure.
 */
struct auth *auth_new(const struct config *cfg, struct mw_error *e);
/* The checks of auth_new on the settings alone (no file read, nothing fetched or created), for
 * check-config. 0 or MWE_CONFIG with e naming the setting; logs a warning when MODELWRAP_AUTH=none
 * is accepted behind trusted proxies (MODELWRAP_AUTH_NONE_BEHIND_PROXY). Any thread. */
int auth_config_check(const struct config *cfg, struct mw_error *e);
/* Whether the settings make modelwrap call out (OpenID discovery, JWKS over HTTP(S)). */
bool auth_has_outbound(const struct config *cfg);
/* The forward proxy outbound requests use: MODELWRAP_EGRESS_PROXY, else https_proxy/HTTPS_PROXY
 * from the environment; NULL when none. *source names where it came from. Borrowed; any thread
 * (reads the environment). */
const char *auth_egress_proxy(const struct config *cfg, const char **source);
/* Stops the background thread and frees everything. NULL is fine. Main thread, after the HTTP
 * server stopped (no request may be inside auth_decide). */
void auth_free(struct auth *a);

/* ---- credentials and the transport's facts (the HTTP adapter is src/api/authn.c) ------------ */

/* What the transport verified of a client certificate (mutual TLS): NUL-terminated texts,
 * borrowed for the call. */
struct auth_cert {
    const char *subject;     /* the subject DN, or "sha256:<fingerprint>" */
    const char *cn;          /* "" when none */
    const char *san;         /* the first DNS, URI or e-mail SAN; "" when none */
    const char *fingerprint; /* SHA-256, lowercase hex */
};

/* The principal a verified client certificate stands for: kind PRINCIPAL_MTLS, id = the subject,
 * name = the CN (else the SAN, else the subject), client_id = the SAN, key_id = "x509:" and the
 * start of the fingerprint, scopes = MODELWRAP_TLS_CLIENT_SCOPES. a may be NULL (no scopes). Any
 * thread; no allocation. */
void auth_cert_principal(const struct auth *a, const struct auth_cert *cert, struct principal *p);
/* Whether a reads credentials from the request at all (false with MODELWRAP_AUTH=none). */
bool auth_reads_credentials(const struct auth *a);

/* Reloads the key file and the JWKS file (and asks the background thread to refetch a remote
 * JWKS). A broken file keeps the set in force; the log says why. Main thread (SIGHUP). */
void auth_reload(struct auth *a);

/* ---- the decision, without HTTP (for tests and fuzzers) -------------------------------------- */

/* The credentials a request carries (slices into its headers). */
struct auth_creds;
/* Fills the header part of c from the X-API-Key header, the template's `token` header (used when
 * X-API-Key is absent or blank) and Authorization ({NULL, 0} when absent): blanks trimmed, the
 * token of `Bearer <token>` split off, bad_header set for any other Authorization. Slices point
 * into the given headers. Any thread; no allocation. */
void auth_creds_from_headers(struct auth_creds *c, struct slice x_api_key, struct slice token,
                             struct slice authorization);
/* Whether a query-string argument carries a credential: a name in the list of credential names
 * (case-insensitive), or a value that starts like an API key. */
bool auth_query_is_credential(struct slice name, struct slice value);

struct auth_creds {
    struct slice api_key; /* X-API-Key, or the template's `token` header */
    struct slice bearer;  /* the token of `Authorization: Bearer <token>` */
    bool bad_header;      /* an Authorization header that is not a well-formed Bearer */
    bool in_query;        /* credentials were found in the query string */
    /* A principal the transport already verified (a mutual-TLS client certificate, kind
     * PRINCIPAL_MTLS with its scopes), used when no header credential is present; or NULL. */
    const struct principal *transport;
};

/* The result of auth_decide. */
struct auth_decision {
    int reason;           /* enum auth_reason; meaningful when auth_decide returns non-zero */
    const char *detail;   /* the precise reason for the operational log (static), or NULL */
    unsigned retry_after; /* seconds, for AUTH_BLOCKED */
};

/*
 * Authenticates creds from client address `client` (text; "" when unknown) and checks the scope
 * bit `need` (0: none). On success fills p and returns 0; otherwise returns the MWE_* error to
 * answer (MWE_UNAUTHENTICATED, MWE_INVALID_TOKEN, MWE_BAD_REQUEST, MWE_INSUFFICIENT_SCOPE,
 * MWE_RATE_LIMITED) and fills d. Counts successes, failures and blocks. Any thread, lock-free
 * except when the address is being blocked or fails (per-shard lock of the failure table).
 */
int auth_decide(struct auth *a, const struct auth_creds *creds, const char *client, unsigned need,
                struct principal *p, struct auth_decision *d);

/* ---- API keys -------------------------------------------------------------------------------- */

#define AUTH_KEY_PREFIX MW_KEY_PREFIX
#define AUTH_KEY_LEN 46             /* "mw_" + 43 base62 characters: 256 bits */
#define AUTH_KEYFILE_MAX (4u << 20) /* bytes of a key file */
#define AUTH_KEYS_MAX 100000        /* keys in a key file */

/* One key of a key set. Plain data; never holds the key itself. */
struct auth_key {
    char id[64];            /* unique name, e.g. "alice-laptop" */
    char owner[128];        /* owner or contact ("" when none) */
    unsigned scopes;        /* SCOPE_* */
    int64_t created;        /* Unix seconds; 0 when unknown */
    int64_t expires;        /* Unix seconds; 0: never */
    int64_t revoked;        /* Unix seconds; 0: not revoked */
    double rate;            /* requests/s override; 0: the default */
    unsigned burst;         /* burst override; 0: the default */
    unsigned char hash[32]; /* SHA-256 of the key */
};

/* An immutable set of keys with a hash index. Built by auth_keyset_parse/load, freed with
 * auth_keyset_free; shared read-only between threads. */
struct auth_keyset;

/* Parses len bytes of key file JSON (never reads past len). NULL with e (MWE_CONFIG, naming the
 * member, e.g. "keys[2].scopes[0]: unknown scope 'x'") or MWE_NOMEM. The caller frees. */
struct auth_keyset *auth_keyset_parse(const char *text, size_t len, struct mw_error *e);
/* Reads and parses the key file at path (a regular file, at most AUTH_KEYFILE_MAX bytes, not
 * writable by others). NULL with e: MWE_IO (e.msg says why; *missing set when it does not exist,
 * when missing is non-NULL) or what auth_keyset_parse says, prefixed with the path. */
struct auth_keyset *auth_keyset_load(const char *path, bool *missing, struct mw_error *e);
void auth_keyset_free(struct auth_keyset *ks);
size_t auth_keyset_count(const struct auth_keyset *ks);
/* The i-th key (file order), borrowed from ks. */
const struct auth_key *auth_keyset_at(const struct auth_keyset *ks, size_t i);
/* The key whose SHA-256 is digest, compared in constant time; NULL when none. Borrowed from ks.
 * No allocation, no lock. */
const struct auth_key *auth_keyset_find(const struct auth_keyset *ks,
                                        const unsigned char digest[32]);

/* SHA-256 of len bytes (GnuTLS). 0 or MWE_INTERNAL. */
int auth_sha256(const void *data, size_t len, unsigned char out[32]);
/* Writes a new random key ("mw_" + 43 base62 characters + NUL) into out (AUTH_KEY_LEN + 1
 * bytes). 0 or MWE_IO. */
int auth_key_generate(char out[AUTH_KEY_LEN + 1]);

/* Parses "2026-01-31T12:00:00Z" (UTC, seconds precision) into Unix seconds. 0 or MWE_CONFIG. */
int auth_time_parse(const char *s, int64_t *out);
/* Writes t as "2026-01-31T12:00:00Z" into out (32 bytes). */
void auth_time_format(int64_t t, char out[32]);

/* One key object for the key file: id, owner (may be NULL), scopes, the SHA-256 of key (the key
 * itself is not kept), created, expires (0: never), rate_limit (NULL: none) and burst (0: none).
 * New reference, NULL when out of memory. */
json_t *auth_key_json(const char *id, const char *owner, unsigned scopes, const char *key,
                      int64_t created, int64_t expires, const char *rate_limit, unsigned burst);
/* Writes the key file document doc (borrowed) to path atomically: an anonymous O_TMPFILE file in
 * the same folder (mkstemp where the filesystem has none), mode 0600, fsync, a temporary name,
 * rename over path, fsync of the folder; a writer killed meanwhile leaves no file behind except in
 * the instant between naming and renaming. Temporaries such a writer left (path + ".tmp." + 6
 * letters or digits) are removed first, so the caller holds the folder lock (`modelwrap keys`) or
 * is the only writer. 0 or MWE_IO with e. */
int auth_keyfile_write(const char *path, const json_t *doc, struct mw_error *e);
/* Creates a key file at path with one key (id, owner, scopes) and copies the key into key_out.
 * Fails with MWE_IO when path exists. For the development key of `make run`. */
int auth_keyfile_create_dev(const char *path, const char *id, const char *owner, unsigned scopes,
                            char key_out[AUTH_KEY_LEN + 1], struct mw_error *e);

/* `modelwrap keys create|list|revoke ...`: argv[first] is the action. Prints to stdout/stderr and
 * returns the process exit status (0 ok, 1 failure, 2 usage). Main thread. */
int auth_keys_cli(int argc, char **argv, int first);

/* True when host (an IP address or "localhost") is a loopback address. */
bool auth_host_is_loopback(const char *host);

#endif /* MW_AUTH_H */
