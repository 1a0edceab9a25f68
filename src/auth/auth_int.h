/*
 * Private to src/auth: the brute-force failure table, the JWT verifier, the JWKS fetcher and the
 * authentication context itself. Nobody outside src/auth (and its tests/fuzzers) includes it.
 */
#ifndef MW_AUTH_INT_H
#define MW_AUTH_INT_H

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <time.h>

#include "auth/auth.h"

/* ---- brute-force protection: failures per client address within a window --------------------- */

#define GUARD_SHARDS 16
#define GUARD_SHARD_CAP 256 /* addresses per shard: 4096 in all */
#define GUARD_PROBE 16      /* slots searched from an address's home slot */

struct lockout_entry {
    unsigned char addr[16]; /* IPv4-mapped IPv6, an IPv6 /64, or a hash of other text */
    bool used;
    uint32_t failures;
    uint64_t window_start_ns;
    uint64_t blocked_until_ns;
    uint64_t last_ns;
};

struct lockout_shard {
    pthread_mutex_t mu;
    struct lockout_entry e[GUARD_SHARD_CAP];
} __attribute__((aligned(64)));

struct auth_lockout {
    unsigned limit; /* failures that block; 0: never block */
    uint64_t window_ns;
    uint64_t block_ns;
    uint64_t seed;
    atomic_ullong horizon_ns; /* no address is blocked at or after this time */
    struct lockout_shard shards[GUARD_SHARDS];
};

void auth_lockout_init(struct auth_lockout *g, unsigned limit, unsigned window_s, unsigned block_s);
void auth_lockout_fini(struct auth_lockout *g);
/* True when addr is blocked at now_ns; *retry_after_s gets the seconds left (at least 1). No lock
 * while no address is blocked. */
bool auth_lockout_blocked(struct auth_lockout *g, const char *addr, uint64_t now_ns,
                          unsigned *retry_after_s);
/* Records one failure of addr at now_ns; true when it starts a block. */
bool auth_lockout_fail(struct auth_lockout *g, const char *addr, uint64_t now_ns);

/* ---- JWT verification ------------------------------------------------------------------------ */

/* Algorithms, as bits of an allow-list. */
enum jwt_alg {
    JWT_RS256 = 1u << 0,
    JWT_RS384 = 1u << 1,
    JWT_RS512 = 1u << 2,
    JWT_PS256 = 1u << 3,
    JWT_PS384 = 1u << 4,
    JWT_PS512 = 1u << 5,
    JWT_ES256 = 1u << 6,
    JWT_ES384 = 1u << 7,
    JWT_ES512 = 1u << 8,
    JWT_EDDSA = 1u << 9,
    JWT_HS256 = 1u << 10,
};
#define JWT_ASYMMETRIC 0x3ffu

/* The bit of an algorithm name ("RS256"), or 0. */
unsigned jwt_alg_bit(const char *name);
/* Parses "RS256,ES256" into bits of asymmetric algorithms. 0 or MWE_CONFIG with e. */
int jwt_algs_parse(const char *list, unsigned *out, struct mw_error *e);

#define JWT_MAX_BYTES 8192 /* a longer token is refused before parsing */
#define JWT_KEYS_MAX 64    /* verification keys kept from one JWKS */

struct jwt_key {
    char kid[128];
    unsigned algs; /* algorithms this key may verify (key type, curve, the JWK's own alg) */
    void *jwk;     /* jwk_t *, read-only once published */
};

/* An immutable set of verification keys. */
struct jwt_keys {
    size_t n;
    bool hmac; /* one symmetric key, no kid needed */
    struct jwt_key k[];
};

/* Builds a key set from a JWKS document ({"keys": [...]}, borrowed). Keys without a kid, private
 * or symmetric keys, RSA keys under 2048 bits and keys not for signatures are skipped (counted in
 * *skipped, the first reason in e->msg). NULL with e when no usable key remains or the document
 * is malformed. */
struct jwt_keys *jwt_keys_from_jwks(const json_t *jwks, size_t *skipped, struct mw_error *e);
/* A set holding one HS256 secret (at least 32 bytes). NULL with e. */
struct jwt_keys *jwt_keys_hmac(const unsigned char *secret, size_t len, struct mw_error *e);
void jwt_keys_free(struct jwt_keys *ks);
/* The free function for struct snap. */
void jwt_keys_free_void(void *ks);

struct jwt_policy {
    const char *issuer;      /* exact `iss` */
    const char *audience;    /* must be `aud` or among it */
    unsigned algs;           /* allowed jwt_alg bits */
    int64_t leeway;          /* seconds of clock skew for exp/nbf/iat */
    int64_t max_lifetime;    /* seconds */
    const char *roles_claim; /* dotted path to roles that name scopes; NULL: none */
};

enum jwt_status {
    JWT_OK = 0,
    JWT_INVALID = 1,
    JWT_EXPIRED = 2,
    JWT_LIFETIME = 3,
    JWT_UNKNOWN_KID = 4, /* well-formed, allowed alg, but no configured key has its kid */
};

/*
 * Verifies a compact JWS token (len bytes, not NUL-terminated) against keys and pol at Unix time
 * now: shape, header (alg allowed and matching the key, a known kid, no jwk/jku/x5u/x5c/crit),
 * signature (Rhonabwy, the explicit key, remote keys ignored), then the claims
 * (jwt_check_claims). Fills p on JWT_OK; *why gets a static precise reason otherwise. Any
 * thread; keys is only read.
 */
int jwt_verify(const struct jwt_policy *pol, const struct jwt_keys *keys, const char *token,
               size_t len, int64_t now, struct principal *p, const char **why);
/* Checks the claims object (borrowed) and fills p (id, client_id, name, scopes). */
int jwt_check_claims(const struct jwt_policy *pol, const json_t *claims, int64_t now,
                     struct principal *p, const char **why);

/* ---- egress proxy (egress.c) ------------------------------------------------------------------ */

/* The forward proxy of outbound requests, resolved once at start-up (auth_new). */
struct egress {
    char *proxy;     /* NULL: direct connections */
    char *noproxy;   /* no_proxy/NO_PROXY, "" for none */
    char *shown;     /* proxy with its userinfo redacted: the only form logged */
    const char *source; /* the setting or environment variable it came from (static) */
    char *secret[2]; /* decoded user and password, blanked out of libcurl's messages */
};
/* Resolves the proxy from cfg->egress_proxy, else https_proxy/HTTPS_PROXY (and no_proxy/NO_PROXY)
 * and validates it. 0, or MWE_CONFIG with e naming the source (credentials redacted). Main thread
 * (reads the environment). egress_fini frees; safe on a zeroed struct. */
int egress_init(struct egress *eg, const struct config *cfg, struct mw_error *e);
void egress_fini(struct egress *eg);
/* Sets the proxy options of a libcurl handle: eg's proxy, or none at all (NULL eg or no proxy:
 * the environment is not read again). Any thread. */
void egress_apply(const struct egress *eg, CURL *c);
/* Blanks eg's proxy credentials out of msg (in place), before it reaches a log or an error. */
void egress_scrub(const struct egress *eg, char *msg);

/* ---- JWKS fetching --------------------------------------------------------------------------- */

#define JWKS_FETCH_MAX (1u << 20) /* bytes of a discovery document or JWKS */

/* Checks that url may be fetched: https, or http to a loopback host. 0 or MWE_CONFIG with e
 * (label names the setting). */
int jwks_url_check(const char *label, const char *url, struct mw_error *e);
/* GETs url (checked with jwks_url_check first) with TLS verification, timeouts, no redirects and
 * a size limit, through eg's proxy (NULL: direct), and parses the JSON body. NULL with e (MWE_IO). Any thread (libcurl initialised
 * by auth_new). */
json_t *jwks_http_get_json(const char *url, const struct egress *eg, struct mw_error *e);
/* Fetches the JWKS: from jwks_uri when non-NULL, else through the issuer's discovery document
 * (whose `issuer` must equal issuer). Returns the JWKS document or NULL with e. */
json_t *jwks_fetch(const char *issuer, const char *jwks_uri, const struct egress *eg,
                   struct mw_error *e);
/* Reads a JSON file of at most JWKS_FETCH_MAX bytes. NULL with e. */
json_t *jwks_read_file(const char *path, struct mw_error *e);

/* Splits an Authorization header value h (a slice, not NUL-terminated; empty: no header) as
 * `Bearer <token>` (scheme in any case, blanks around the token): sets c->bearer to the token (a
 * slice of h), or c->bad_header for anything else. Leaves c's other members alone. Any thread. */
void auth_parse_authorization(struct slice h, struct auth_creds *c);

/* ---- the authentication context (auth.c; read by decide.c) ---------------------------------- */

enum jwks_source { JWKS_NONE = 0, JWKS_FILE, JWKS_REMOTE, JWKS_HMAC };

struct file_id {
    bool exists;
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
    struct timespec ctime;
};

struct auth {
    struct snap keys; /* struct auth_keyset * */
    struct snap jwks; /* struct jwt_keys * */
    struct auth_lockout lockout;
    const struct config *cfg;
    int mode; /* enum auth_mode */
    unsigned cert_scopes; /* MODELWRAP_TLS_CLIENT_SCOPES: what a verified client certificate gets */
    bool jwt_enabled;
    int jwks_source; /* enum jwks_source */
    struct jwt_policy pol;
    struct egress egress; /* the forward proxy of the JWKS and discovery fetches */

    pthread_mutex_t reload_mu; /* serialises reloads: SIGHUP and the background thread */
    struct file_id keys_id;
    struct file_id jwks_file_id;

    pthread_t thread;
    bool thread_started;
    int wake[2]; /* the request path writes a byte to ask for a JWKS refresh */
    atomic_bool stop;
    atomic_ullong last_trigger_ns;
    uint64_t ttl_ns;
    uint64_t min_interval_ns;

    atomic_ullong successes;
    atomic_ullong failures[AUTH_REASON_COUNT];
    atomic_ullong blocks;
    atomic_ullong keys_loaded;
    atomic_ullong key_reloads;
    atomic_ullong key_reload_failures;
    atomic_ullong jwks_keys;
    atomic_ullong jwks_refreshes;
    atomic_ullong jwks_refresh_failures;
};

/* Asks the background thread for a JWKS refresh (an unknown kid), at most once per minimum
 * interval. Any thread. */
void auth_jwks_want_refresh(struct auth *a);

#endif /* MW_AUTH_INT_H */
