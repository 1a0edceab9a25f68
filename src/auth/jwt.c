/*
 * JWT bearer tokens with Rhonabwy in its hardened mode: no key or URL from the token header is
 * ever used (parse with R_PARSE_NONE and R_FLAG_IGNORE_REMOTE), the `kid` must name a configured
 * key, `alg` must be allowed and fit the key, the signature is checked with that explicit key,
 * and every claim is checked here (aud as a string or an array, with a leeway).
 */
#include <math.h>
#include <rhonabwy.h>
#include <string.h>

#include "auth/auth_int.h"

static const struct {
    const char *name;
    unsigned bit;
    jwa_alg ralg;
} algs[] = {
    {"RS256", JWT_RS256, R_JWA_ALG_RS256}, {"RS384", JWT_RS384, R_JWA_ALG_RS384},
    {"RS512", JWT_RS512, R_JWA_ALG_RS512}, {"PS256", JWT_PS256, R_JWA_ALG_PS256},
    {"PS384", JWT_PS384, R_JWA_ALG_PS384}, {"PS512", JWT_PS512, R_JWA_ALG_PS512},
    {"ES256", JWT_ES256, R_JWA_ALG_ES256}, {"ES384", JWT_ES384, R_JWA_ALG_ES384},
    {"ES512", JWT_ES512, R_JWA_ALG_ES512}, {"EdDSA", JWT_EDDSA, R_JWA_ALG_EDDSA},
    {"HS256", JWT_HS256, R_JWA_ALG_HS256},
};

#define RSA_ALGS (JWT_RS256 | JWT_RS384 | JWT_RS512 | JWT_PS256 | JWT_PS384 | JWT_PS512)

/* The bit of an algorithm name (exact case), or 0. Thread-safe. */
unsigned jwt_alg_bit(const char *name)
{
    for (size_t i = 0; name && i < MW_ARRAY_LEN(algs); i++)
        if (strcmp(name, algs[i].name) == 0)
            return algs[i].bit;
    return 0;
}

static jwa_alg ralg_of(unsigned bit)
{
    for (size_t i = 0; i < MW_ARRAY_LEN(algs); i++)
        if (algs[i].bit == bit)
            return algs[i].ralg;
    return R_JWA_ALG_UNKNOWN;
}

/* Parses a comma/blank-separated list of asymmetric algorithm names. HS256 and none are refused
 * here: HS256 is enabled only by its secret file. 0 or MWE_CONFIG with e. */
int jwt_algs_parse(const char *list, unsigned *out, struct mw_error *e)
{
    char name[16];
    unsigned bits = 0;
    const char *p = list ? list : "";
    struct slice item;

    while (mw_list_next(&p, &item)) {
        size_t n = item.len < sizeof(name) ? item.len : sizeof(name) - 1;
        memcpy(name, item.ptr, n);
        name[n] = '\0';
        unsigned bit = jwt_alg_bit(name);
        if (bit == JWT_HS256)
            return mw_fail(e, MWE_CONFIG,
                           "MODELWRAP_JWT_ALGORITHMS: HS256 is enabled only by "
                           "MODELWRAP_JWT_HS256_SECRET_FILE (and never with asymmetric keys)");
        if (bit == 0)
            return mw_fail(e, MWE_CONFIG,
                           "MODELWRAP_JWT_ALGORITHMS: '%s' is not one of RS256, RS384, RS512, "
                           "PS256, PS384, PS512, ES256, ES384, ES512, EdDSA",
                           name);
        bits |= bit;
    }
    if (bits == 0)
        return mw_fail(e, MWE_CONFIG, "MODELWRAP_JWT_ALGORITHMS: no algorithm");
    *out = bits;
    return 0;
}

/* ---- key sets -------------------------------------------------------------------------------- */

void jwt_keys_free(struct jwt_keys *ks)
{
    if (!ks)
        return;
    for (size_t i = 0; i < ks->n; i++)
        r_jwk_free(ks->k[i].jwk);
    free(ks);
}

void jwt_keys_free_void(void *ks)
{
    jwt_keys_free(ks);
}

static bool str_prop_is(jwk_t *jwk, const char *prop, const char *want)
{
    const char *v = r_jwk_get_property_str(jwk, prop);
    return v && strcmp(v, want) == 0;
}

/* The algorithms a public JWK may verify, from its type and curve, narrowed by its own "alg";
 * 0 with *why when it is unusable. */
static unsigned key_algs(jwk_t *jwk, const char **why)
{
    unsigned bits = 0;
    unsigned int size = 0;
    int type = r_jwk_key_type(jwk, &size, R_FLAG_IGNORE_REMOTE);
    const char *use = r_jwk_get_property_str(jwk, "use");
    const char *alg = r_jwk_get_property_str(jwk, "alg");

    if (type & (R_KEY_TYPE_PRIVATE | R_KEY_TYPE_SYMMETRIC)) {
        *why = "a private or symmetric key (only public keys verify)";
        return 0;
    }
    if (!(type & R_KEY_TYPE_PUBLIC)) {
        *why = "not a valid public key";
        return 0;
    }
    if (use && strcmp(use, "sig") != 0) {
        *why = "a key whose use is not sig";
        return 0;
    }
    if (type & R_KEY_TYPE_RSA) {
        if (size < 2048) {
            *why = "an RSA key shorter than 2048 bits";
            return 0;
        }
        bits = RSA_ALGS;
    } else if (type & R_KEY_TYPE_EC) {
        if (str_prop_is(jwk, "crv", "P-256"))
            bits = JWT_ES256;
        else if (str_prop_is(jwk, "crv", "P-384"))
            bits = JWT_ES384;
        else if (str_prop_is(jwk, "crv", "P-521"))
            bits = JWT_ES512;
    } else if (type & R_KEY_TYPE_EDDSA) {
        if (str_prop_is(jwk, "crv", "Ed25519") || str_prop_is(jwk, "crv", "Ed448"))
            bits = JWT_EDDSA;
    }
    if (bits == 0) {
        *why = "an unsupported key type or curve";
        return 0;
    }
    if (alg) {
        unsigned a = jwt_alg_bit(alg);
        if (!(a & bits)) {
            *why = "a key whose alg does not fit its type";
            return 0;
        }
        bits = a;
    }
    return bits;
}

struct jwt_keys *jwt_keys_from_jwks(const json_t *jwks, size_t *skipped, struct mw_error *e)
{
    struct jwt_keys *ks = NULL;
    const json_t *arr = json_is_object(jwks) ? json_object_get(jwks, "keys") : NULL;
    const char *first_why = NULL;
    size_t n;

    *skipped = 0;
    if (!json_is_array(arr)) {
        mw_fail(e, MWE_CONFIG, "not a JWKS: expected an object with a \"keys\" array");
        goto out;
    }
    n = json_array_size(arr);
    ks = calloc(1, sizeof(*ks) + (n < JWT_KEYS_MAX ? n : JWT_KEYS_MAX) * sizeof(ks->k[0]));
    if (!ks) {
        mw_fail(e, MWE_NOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        const json_t *jk = json_array_get(arr, i);
        const json_t *kid = json_is_object(jk) ? json_object_get(jk, "kid") : NULL;
        const char *why = NULL;
        jwk_t *jwk = NULL;
        unsigned bits = 0;

        if (ks->n >= JWT_KEYS_MAX) {
            why = "more keys than the limit";
        } else if (!json_is_string(kid) || json_string_length(kid) == 0 ||
                   json_string_length(kid) >= sizeof(ks->k[0].kid) ||
                   strlen(json_string_value(kid)) != json_string_length(kid)) {
            why = "a key without a usable kid";
        } else if (r_jwk_init(&jwk) != RHN_OK) {
            why = "out of memory";
        } else if (r_jwk_import_from_json_t(jwk, (json_t *)jk) != RHN_OK) {
            why = "a key Rhonabwy cannot import";
        } else {
            bits = key_algs(jwk, &why);
        }
        for (size_t j = 0; bits && j < ks->n; j++) {
            if (strcmp(ks->k[j].kid, json_string_value(kid)) == 0) {
                why = "a kid used twice";
                bits = 0;
            }
        }
        if (!bits) {
            r_jwk_free(jwk);
            if (!first_why)
                first_why = why;
            (*skipped)++;
            continue;
        }
        struct jwt_key *k = &ks->k[ks->n++];
        memcpy(k->kid, json_string_value(kid), json_string_length(kid) + 1);
        k->algs = bits;
        k->jwk = jwk;
    }
    if (ks->n == 0) {
        mw_fail(e, MWE_CONFIG, "no usable verification key in the JWKS%s%s",
                first_why ? ": skipped " : "", first_why ? first_why : "");
        jwt_keys_free(ks);
        ks = NULL;
        goto out;
    }
    if (first_why)
        mw_fail(e, 0, "skipped %s", first_why);
out:
    return ks;
}

struct jwt_keys *jwt_keys_hmac(const unsigned char *secret, size_t len, struct mw_error *e)
{
    struct jwt_keys *ks = NULL;
    jwk_t *jwk = NULL;

    if (len < 32) {
        mw_fail(e, MWE_CONFIG, "the HS256 secret must be at least 32 bytes");
        goto out;
    }
    ks = calloc(1, sizeof(*ks) + sizeof(ks->k[0]));
    if (!ks || r_jwk_init(&jwk) != RHN_OK ||
        r_jwk_import_from_symmetric_key(jwk, secret, len) != RHN_OK) {
        mw_fail(e, MWE_NOMEM, "cannot import the HS256 secret");
        r_jwk_free(jwk);
        free(ks);
        ks = NULL;
        goto out;
    }
    ks->hmac = true;
    ks->n = 1;
    ks->k[0].algs = JWT_HS256;
    ks->k[0].jwk = jwk;
out:
    return ks;
}

/* ---- claims ---------------------------------------------------------------------------------- */

/* A NumericDate claim: false when absent; *bad when present but not a finite number in range. */
static bool num_claim(const json_t *claims, const char *name, int64_t *out, bool *bad)
{
    const json_t *v = json_object_get(claims, name);
    if (!v)
        return false;
    double d = json_is_integer(v) ? (double)json_integer_value(v)
               : json_is_real(v)  ? json_real_value(v)
                                  : NAN;
    if (!isfinite(d) || d < 0 || d > 1e13) {
        *bad = true;
        return false;
    }
    *out = (int64_t)floor(d);
    return true;
}

/* Copies a string claim into out (cap bytes) when it is a string without NUL or control bytes
 * that fits; false otherwise. */
static bool copy_str(const json_t *v, char *out, size_t cap)
{
    if (!json_is_string(v))
        return false;
    size_t len = json_string_length(v);
    const char *s = json_string_value(v);
    if (len == 0 || len >= cap || strlen(s) != len)
        return false;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    memcpy(out, s, len + 1);
    return true;
}

/* Adds the scopes named in a space-separated string. */
static unsigned scopes_of_words(const char *s, size_t len)
{
    unsigned bits = 0;
    size_t i = 0;
    while (i < len) {
        while (i < len && s[i] == ' ')
            i++;
        size_t start = i;
        while (i < len && s[i] != ' ')
            i++;
        if (i > start)
            bits |= auth_scope_bit(s + start, i - start);
    }
    return bits;
}

/* Scopes named by a claim value: a space-separated string or an array of strings. */
static unsigned scopes_of(const json_t *v)
{
    unsigned bits = 0;
    if (json_is_string(v))
        return scopes_of_words(json_string_value(v), json_string_length(v));
    if (json_is_array(v))
        for (size_t i = 0; i < json_array_size(v); i++) {
            const json_t *x = json_array_get(v, i);
            if (json_is_string(x))
                bits |= auth_scope_bit(json_string_value(x), json_string_length(x));
        }
    return bits;
}

/* The value at a dotted path ("realm_access.roles") in claims, or NULL. */
static const json_t *claim_path(const json_t *claims, const char *path)
{
    char part[128];
    const json_t *v = claims;
    const char *p = path;

    for (int depth = 0; v && *p && depth < 8; depth++) {
        size_t n = strcspn(p, ".");
        if (n == 0 || n >= sizeof(part) || !json_is_object(v))
            return NULL;
        memcpy(part, p, n);
        part[n] = '\0';
        v = json_object_get(v, part);
        p += n;
        if (*p == '.')
            p++;
        else
            return v;
    }
    return NULL;
}

static bool aud_matches(const json_t *aud, const char *want)
{
    size_t wl = strlen(want);
    if (json_is_string(aud))
        return json_string_length(aud) == wl && memcmp(json_string_value(aud), want, wl) == 0;
    if (json_is_array(aud))
        for (size_t i = 0; i < json_array_size(aud); i++) {
            const json_t *x = json_array_get(aud, i);
            if (json_is_string(x) && aud_matches(x, want))
                return true;
        }
    return false;
}

int jwt_check_claims(const struct jwt_policy *pol, const json_t *claims, int64_t now,
                     struct principal *p, const char **why)
{
    int64_t exp = 0, nbf = 0, iat = 0;
    bool bad = false, has_iat;
    const json_t *v;
    int rc = JWT_INVALID;

    if (!json_is_object(claims)) {
        *why = "the payload is not a JSON object";
        goto out;
    }
    if (!num_claim(claims, "exp", &exp, &bad)) {
        *why = bad ? "exp is not a NumericDate" : "exp is missing";
        goto out;
    }
    if (num_claim(claims, "nbf", &nbf, &bad) && nbf - pol->leeway > now) {
        *why = "nbf is in the future (not yet valid)";
        goto out;
    }
    has_iat = num_claim(claims, "iat", &iat, &bad);
    if (bad) {
        *why = "nbf or iat is not a NumericDate";
        goto out;
    }
    if (has_iat && iat - pol->leeway > now) {
        *why = "iat is in the future";
        goto out;
    }
    if (exp + pol->leeway <= now) {
        *why = "the token expired (exp)";
        rc = JWT_EXPIRED;
        goto out;
    }
    if ((has_iat ? exp - iat : exp - now) > pol->max_lifetime) {
        *why = has_iat ? "the token lives longer than MODELWRAP_JWT_MAX_LIFETIME (exp - iat)"
                       : "the token lives longer than MODELWRAP_JWT_MAX_LIFETIME (exp - now)";
        rc = JWT_LIFETIME;
        goto out;
    }
    v = json_object_get(claims, "iss");
    if (!json_is_string(v) || json_string_length(v) != strlen(pol->issuer) ||
        memcmp(json_string_value(v), pol->issuer, json_string_length(v)) != 0) {
        *why = "iss is not the configured issuer";
        goto out;
    }
    if (!aud_matches(json_object_get(claims, "aud"), pol->audience)) {
        *why = "aud does not contain the configured audience";
        goto out;
    }

    p->kind = PRINCIPAL_JWT;
    p->id[0] = p->client_id[0] = p->name[0] = '\0';
    v = json_object_get(claims, "sub");
    if (v && !copy_str(v, p->id, sizeof(p->id))) {
        *why = "sub is not a short printable string";
        goto out;
    }
    v = json_object_get(claims, "client_id");
    if (!v)
        v = json_object_get(claims, "azp");
    if (v && !copy_str(v, p->client_id, sizeof(p->client_id))) {
        *why = "client_id/azp is not a short printable string";
        goto out;
    }
    if (!p->id[0] && !p->client_id[0]) {
        *why = "neither sub nor client_id/azp names the caller";
        goto out;
    }
    if (!p->id[0])
        memcpy(p->id, p->client_id, sizeof(p->id));
    if (!copy_str(json_object_get(claims, "name"), p->name, sizeof(p->name)))
        copy_str(json_object_get(claims, "preferred_username"), p->name, sizeof(p->name));
    p->scopes =
        scopes_of(json_object_get(claims, "scope")) | scopes_of(json_object_get(claims, "scp"));
    if (pol->roles_claim && *pol->roles_claim)
        p->scopes |= scopes_of(claim_path(claims, pol->roles_claim));
    p->rate = 0;
    p->burst = 0;
    rc = JWT_OK;
out:
    if (rc != JWT_OK) {
        /* A refused token names nobody, even after a valid signature: the audit record of the
         * refusal must not carry a principal of kind jwt built from claims that were refused. */
        p->kind = PRINCIPAL_NONE;
        p->id[0] = p->client_id[0] = p->name[0] = '\0';
        p->scopes = 0;
    }
    return rc;
}

/* ---- the token ------------------------------------------------------------------------------- */

static bool b64url_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

/* A compact JWS: three non-empty base64url parts. */
static bool jws_shape(const char *t, size_t len)
{
    size_t dots = 0, run = 0;
    for (size_t i = 0; i < len; i++) {
        if (t[i] == '.') {
            if (run == 0)
                return false;
            dots++;
            run = 0;
        } else if (b64url_char(t[i])) {
            run++;
        } else {
            return false;
        }
    }
    return dots == 2 && run > 0;
}

int jwt_verify(const struct jwt_policy *pol, const struct jwt_keys *keys, const char *token,
               size_t len, int64_t now, struct principal *p, const char **why)
{
    static const char *const refused_headers[] = {"jwk", "jku", "x5u", "x5c", "crit"};
    jwt_t *jwt = NULL;
    json_t *header = NULL;
    json_t *claims = NULL;
    const struct jwt_key *key = NULL;
    const json_t *v;
    const char *alg_name, *kid = NULL;
    unsigned alg;
    int rc = JWT_INVALID;

    if (len > JWT_MAX_BYTES) {
        *why = "the token is longer than 8192 bytes";
        goto out;
    }
    if (!jws_shape(token, len)) {
        *why = "not a compact JWS (three base64url parts)";
        goto out;
    }
    if (!keys || keys->n == 0) {
        *why = "no verification key is loaded (JWKS unavailable)";
        rc = JWT_UNKNOWN_KID;
        goto out;
    }
    if (r_jwt_init(&jwt) != RHN_OK) {
        *why = "out of memory";
        goto out;
    }
    if (r_jwt_advanced_parsen(jwt, token, len, R_PARSE_NONE, R_FLAG_IGNORE_REMOTE) != RHN_OK ||
        r_jwt_get_type(jwt) != R_JWT_TYPE_SIGN) {
        *why = "malformed token (base64url, JSON or type)";
        goto out;
    }
    header = r_jwt_get_full_header_json_t(jwt);
    if (!json_is_object(header)) {
        *why = "malformed header";
        goto out;
    }
    for (size_t i = 0; i < MW_ARRAY_LEN(refused_headers); i++) {
        if (json_object_get(header, refused_headers[i])) {
            *why = "the header carries jwk, jku, x5u, x5c or crit (refused, nothing fetched)";
            goto out;
        }
    }
    v = json_object_get(header, "alg");
    alg_name = json_is_string(v) ? json_string_value(v) : NULL;
    alg = jwt_alg_bit(alg_name);
    if (!alg || !(alg & pol->algs)) {
        *why = "alg is not allowed";
        goto out;
    }
    if (r_jwt_get_sign_alg(jwt) != ralg_of(alg)) {
        *why = "alg mismatch";
        goto out;
    }
    v = json_object_get(header, "kid");
    if (v) {
        if (!json_is_string(v)) {
            *why = "kid is not a string";
            goto out;
        }
        kid = json_string_value(v);
    }
    if (keys->hmac) {
        key = &keys->k[0];
    } else {
        if (!kid) {
            *why = "the header has no kid";
            goto out;
        }
        for (size_t i = 0; i < keys->n; i++)
            if (strcmp(keys->k[i].kid, kid) == 0)
                key = &keys->k[i];
        if (!key) {
            *why = "unknown kid";
            rc = JWT_UNKNOWN_KID;
            goto out;
        }
    }
    if (!(key->algs & alg)) {
        *why = "alg does not fit the key named by kid";
        goto out;
    }
    if (r_jwt_verify_signature(jwt, key->jwk, R_FLAG_IGNORE_REMOTE) != RHN_OK) {
        *why = "the signature does not verify";
        goto out;
    }
    claims = r_jwt_get_full_claims_json_t(jwt);
    rc = jwt_check_claims(pol, claims, now, p, why);
    if (rc == JWT_OK) {
        size_t kl = kid ? strlen(kid) : 0;
        if (kl >= sizeof(p->key_id))
            kl = sizeof(p->key_id) - 1;
        memcpy(p->key_id, kid ? kid : "", kl);
        p->key_id[kl] = '\0';
    }
out:
    json_decref(claims);
    json_decref(header);
    r_jwt_free(jwt);
    return rc;
}
