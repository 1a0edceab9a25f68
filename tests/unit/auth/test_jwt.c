/*
 * Unit tests of JWT verification (src/auth/jwt.c): tokens minted here with Rhonabwy for RSA, EC,
 * EdDSA and HMAC keys, and hand-made attack tokens (alg none, header jwk/jku/x5u, HS256 signed
 * with the RSA public key, tampered parts, malformed base64/JSON), against the hardened verifier.
 */
#include <rhonabwy.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "auth/auth_int.h"

#define ISS "https://issuer.example"
#define AUD "modelwrap-api"

struct keypair {
    jwk_t *priv;
    jwk_t *pub;
};

static struct keypair rsa, rsa_other, ec256, ec384, ed;
static struct jwt_keys *keys; /* rsa ("rsa1"), ec256 ("ec1"), ec384 ("ec2"), ed ("ed1") */
static int64_t now;

static struct jwt_policy policy(void)
{
    struct jwt_policy p = {ISS, AUD, JWT_ASYMMETRIC, 60, 86400, "realm_access.roles"};
    return p;
}

static void gen(struct keypair *kp, int type, unsigned bits, const char *kid)
{
    assert_int_equal(r_jwk_init(&kp->priv), RHN_OK);
    assert_int_equal(r_jwk_init(&kp->pub), RHN_OK);
    assert_int_equal(r_jwk_generate_key_pair(kp->priv, kp->pub, type, bits, kid), RHN_OK);
}

static int setup(void **state)
{
    json_t *jwks;
    size_t skipped = 0;
    struct mw_error e = {0};

    (void)state;
    r_global_init();
    now = (int64_t)time(NULL);
    gen(&rsa, R_KEY_TYPE_RSA, 2048, "rsa1");
    gen(&rsa_other, R_KEY_TYPE_RSA, 2048, "rsa1"); /* an attacker's key with the same kid */
    gen(&ec256, R_KEY_TYPE_EC, 256, "ec1");
    gen(&ec384, R_KEY_TYPE_EC, 384, "ec2");
    gen(&ed, R_KEY_TYPE_EDDSA, 256, "ed1");
    jwks = json_pack("{s:[o,o,o,o]}", "keys", r_jwk_export_to_json_t(rsa.pub),
                     r_jwk_export_to_json_t(ec256.pub), r_jwk_export_to_json_t(ec384.pub),
                     r_jwk_export_to_json_t(ed.pub));
    assert_non_null(jwks);
    keys = jwt_keys_from_jwks(jwks, &skipped, &e);
    json_decref(jwks);
    assert_non_null(keys);
    assert_int_equal(skipped, 0);
    assert_int_equal(keys->n, 4);
    return 0;
}

static void free_pair(struct keypair *kp)
{
    r_jwk_free(kp->priv);
    r_jwk_free(kp->pub);
}

static int teardown(void **state)
{
    (void)state;
    jwt_keys_free(keys);
    free_pair(&rsa);
    free_pair(&rsa_other);
    free_pair(&ec256);
    free_pair(&ec384);
    free_pair(&ed);
    r_global_close();
    return 0;
}

/* Standard claims valid now, plus extra members (borrowed, copied in). */
static json_t *claims(void)
{
    return json_pack("{s:s, s:s, s:s, s:I, s:I, s:s, s:s}", "iss", ISS, "aud", AUD, "sub", "alice",
                     "iat", (json_int_t)now, "exp", (json_int_t)(now + 600), "scope",
                     "predict read openid", "client_id", "cli-1");
}

/* Signs c (consumed) with key under alg and kid (NULL: none); extra header members (consumed)
 * when non-NULL. Returns a heap token (free with r_free). */
static char *mint(jwk_t *key, jwa_alg alg, const char *kid, json_t *c, json_t *extra_header)
{
    jwt_t *jwt = NULL;
    char *token;
    const char *hk;
    json_t *hv;

    assert_int_equal(r_jwt_init(&jwt), RHN_OK);
    assert_int_equal(r_jwt_set_full_claims_json_t(jwt, c), RHN_OK);
    assert_int_equal(r_jwt_set_sign_alg(jwt, alg), RHN_OK);
    if (kid)
        assert_int_equal(r_jwt_set_header_str_value(jwt, "kid", kid), RHN_OK);
    json_object_foreach(extra_header, hk, hv)
    {
        assert_int_equal(r_jwt_set_header_json_t_value(jwt, hk, hv), RHN_OK);
    }
    /* Rhonabwy copies the signing key's own kid into the header: sign with a copy without one,
     * so that the header says exactly what the test chose. */
    jwk_t *anon = r_jwk_copy(key);
    assert_non_null(anon);
    r_jwk_delete_property_str(anon, "kid");
    token = r_jwt_serialize_signed(jwt, anon, 0);
    assert_non_null(token);
    r_jwk_free(anon);
    r_jwt_free(jwt);
    json_decref(c);
    json_decref(extra_header);
    return token;
}

static int verify(const char *token, struct principal *p, const char **why)
{
    struct jwt_policy pol = policy();
    memset(p, 0, sizeof(*p));
    *why = NULL;
    return jwt_verify(&pol, keys, token, strlen(token), now, p, why);
}

/* Expects status, and when want_why is non-NULL a reason containing it. */
static void expect_why(const char *token, int status, const char *want_why)
{
    struct principal p;
    const char *why = NULL;
    int rc = verify(token, &p, &why);
    if (rc != status)
        fail_msg("expected %d, got %d (%s) for %.80s", status, rc, why ? why : "-", token);
    if (status != JWT_OK)
        assert_non_null(why);
    if (want_why && (!why || !strstr(why, want_why)))
        fail_msg("expected a reason with '%s', got '%s'", want_why, why ? why : "-");
}

static void expect(const char *token, int status)
{
    expect_why(token, status, NULL);
}

/* ---- base64url helpers for hand-made tokens -------------------------------------------------- */

static void b64url(const char *in, size_t len, char *out)
{
    static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        unsigned v = (unsigned char)in[i] << 16;
        if (i + 1 < len)
            v |= (unsigned char)in[i + 1] << 8;
        if (i + 2 < len)
            v |= (unsigned char)in[i + 2];
        out[o++] = t[(v >> 18) & 63];
        out[o++] = t[(v >> 12) & 63];
        if (i + 1 < len)
            out[o++] = t[(v >> 6) & 63];
        if (i + 2 < len)
            out[o++] = t[v & 63];
    }
    out[o] = '\0';
}

/* "<b64(header)>.<b64(payload)>.<sig>" */
static char *raw_token(const char *header, const char *payload, const char *sig)
{
    char *out = malloc(8192);
    char h[2048], p[4096];
    assert_non_null(out);
    b64url(header, strlen(header), h);
    b64url(payload, strlen(payload), p);
    snprintf(out, 8192, "%s.%s.%s", h, p, sig);
    return out;
}

/* ---- tests ----------------------------------------------------------------------------------- */

static void test_valid_per_algorithm(void **state)
{
    static const struct {
        jwa_alg alg;
        struct keypair *kp;
        const char *kid;
    } cases[] = {
        {R_JWA_ALG_RS256, &rsa, "rsa1"},  {R_JWA_ALG_RS384, &rsa, "rsa1"},
        {R_JWA_ALG_RS512, &rsa, "rsa1"},  {R_JWA_ALG_PS256, &rsa, "rsa1"},
        {R_JWA_ALG_ES256, &ec256, "ec1"}, {R_JWA_ALG_ES384, &ec384, "ec2"},
        {R_JWA_ALG_EDDSA, &ed, "ed1"},
    };
    (void)state;
    for (size_t i = 0; i < MW_ARRAY_LEN(cases); i++) {
        char *t = mint(cases[i].kp->priv, cases[i].alg, cases[i].kid, claims(), NULL);
        struct principal p;
        const char *why;
        int rc = verify(t, &p, &why);
        if (rc != JWT_OK)
            fail_msg("case %zu: %s", i, why);
        assert_int_equal(p.kind, PRINCIPAL_JWT);
        assert_string_equal(p.id, "alice");
        assert_string_equal(p.client_id, "cli-1");
        assert_string_equal(p.key_id, cases[i].kid);
        assert_int_equal(p.scopes, SCOPE_PREDICT | SCOPE_READ);
        r_free(t);
    }
}

static void test_alg_must_fit_the_key(void **state)
{
    (void)state;
    /* ES256 signature with a kid naming the RSA key; RS256 with the EC kid. */
    char *t = mint(ec256.priv, R_JWA_ALG_ES256, "rsa1", claims(), NULL);
    expect_why(t, JWT_INVALID, "does not fit the key");
    r_free(t);
    t = mint(rsa.priv, R_JWA_ALG_RS256, "ec1", claims(), NULL);
    expect_why(t, JWT_INVALID, "does not fit the key");
    r_free(t);
    /* An allowed list without RS512 refuses RS512. */
    t = mint(rsa.priv, R_JWA_ALG_RS512, "rsa1", claims(), NULL);
    struct jwt_policy pol = policy();
    struct principal p;
    const char *why = NULL;
    pol.algs = JWT_RS256;
    assert_int_equal(jwt_verify(&pol, keys, t, strlen(t), now, &p, &why), JWT_INVALID);
    assert_string_equal(why, "alg is not allowed");
    r_free(t);
}

static void test_time_claims(void **state)
{
    json_t *c;
    char *t;
    (void)state;

    c = claims();
    json_object_set_new(c, "exp", json_integer(now - 61));
    json_object_set_new(c, "iat", json_integer(now - 600));
    t = mint(rsa.priv, R_JWA_ALG_RS256, "rsa1", c, NULL);
    expect(t, JWT_EXPIRED);
    r_free(t);

    c = claims(); /* expired 30 s ago: within the 60 s leeway */
    json_object_set_new(c, "exp", json_integer(now - 30));
    json_object_set_new(c, "iat", json_integer(now - 600));
    t = mint(rsa.priv, R_JWA_ALG_RS256, "rsa1", c, NULL);
    expect(t, JWT_OK);
    r_free(t);

    c = claims();
    json_object_set_new(c, "nbf", json_integer(now + 3600));
    t = mint(rsa.priv, R_JWA_ALG_RS256, "rsa1", c, NULL);
    expect_why(t, JWT_INVALID, "nbf");
    r_free(t);

    c = claims();
    json_object_set_new(c, "iat", json_integer(now + 3600));
    json_object_set_new(c, "exp", json_integer(now + 4000));
    t = mint(rsa.priv, R_JWA_ALG_RS256, "rsa1", c, NULL);
    expect_why(t, JWT_INVALID, "iat is in the future");
    r_free(t);

    c = claims(); /* 24 h + 1 s */
    json_object_set_new(c, "exp", json_integer(now + 86401));
    t = mint(rsa.priv, R_JWA_ALG_RS256, "rsa1", c, NULL);
    expect(t, JWT_LIFETIME);
    r_free(t);

    c = claims(); /* exactly 24 h */
    json_object_set_new(c, "exp", json_integer(now + 86400));
    t = mint(rsa.priv, R_JWA_ALG_RS256, "rsa1", c, NULL);
    expect(t, JWT_OK);
    r_free(t);

    c = claims(); /* no iat: exp - now counts */
    json_object_del(c, "iat");
    json_object_set_new(c, "exp", json_integer(now + 90000));
    t = mint(rsa.priv, R_JWA_ALG_RS256, "rsa1", c, NULL);
    expect(t, JWT_LIFETIME);
    r_free(t);

    c = claims();
    json_object_del(c, "exp");
    t = mint(rsa.priv, R_JWA_ALG_RS256, "rsa1", c, NULL);
    expect_why(t, JWT_INVALID, "exp is missing");
    r_free(t);

    c = claims();
    json_object_set_new(c, "exp", json_string("tomorrow"));
    t = mint(rsa.priv, R_JWA_ALG_RS256, "rsa1", c, NULL);
    expect(t, JWT_INVALID);
    r_free(t);
}

static void test_issuer_and_audience(void **state)
{
    json_t *c;
    char *t;
    (void)state;

    c = claims();
    json_object_set_new(c, "iss", json_string(ISS "/"));
    t = mint(rsa.priv, R_JWA_ALG_RS256, "rsa1", c, NULL);
    expect_why(t, JWT_INVALID, "iss");
    r_free(t);

    c = claims();
    json_object_set_new(c, "aud", json_string("someone-else"));
    t = mint(rsa.priv, R_JWA_ALG_RS256, "rsa1", c, NULL);
    expect_why(t, JWT_INVALID, "aud");
    r_free(t);

    c = claims(); /* an array that contains ours */
    json_object_set_new(c, "aud", json_pack("[s,s]", "other", AUD));
    t = mint(rsa.priv, R_JWA_ALG_RS256, "rsa1", c, NULL);
    expect(t, JWT_OK);
    r_free(t);

    c = claims(); /* an array that does not */
    json_object_set_new(c, "aud", json_pack("[s,[s]]", "other", AUD));
    t = mint(rsa.priv, R_JWA_ALG_RS256, "rsa1", c, NULL);
    expect(t, JWT_INVALID);
    r_free(t);

    c = claims();
    json_object_del(c, "aud");
    t = mint(rsa.priv, R_JWA_ALG_RS256, "rsa1", c, NULL);
    expect(t, JWT_INVALID);
    r_free(t);
}

static void test_scopes_and_identity(void **state)
{
    struct principal p;
    const char *why;
    json_t *c;
    char *t;
    (void)state;

    c = claims(); /* scp array, roles at a dotted path, azp instead of client_id, no sub */
    json_object_del(c, "scope");
    json_object_del(c, "sub");
    json_object_del(c, "client_id");
    json_object_set_new(c, "scp", json_pack("[s,s]", "metrics", "unknown"));
    json_object_set_new(c, "realm_access", json_pack("{s:[s]}", "roles", "admin"));
    json_object_set_new(c, "azp", json_string("svc-7"));
    json_object_set_new(c, "name", json_string("Service Seven"));
    t = mint(rsa.priv, R_JWA_ALG_RS256, "rsa1", c, NULL);
    assert_int_equal(verify(t, &p, &why), JWT_OK);
    assert_int_equal(p.scopes, SCOPE_METRICS | SCOPE_ADMIN);
    assert_string_equal(p.id, "svc-7");
    assert_string_equal(p.client_id, "svc-7");
    assert_string_equal(p.name, "Service Seven");
    r_free(t);

    c = claims(); /* nobody named */
    json_object_del(c, "sub");
    json_object_del(c, "client_id");
    t = mint(rsa.priv, R_JWA_ALG_RS256, "rsa1", c, NULL);
    expect(t, JWT_INVALID);
    r_free(t);

    c = claims(); /* a sub with a NUL inside must not be cut */
    json_object_set_new(c, "sub", json_stringn("al\0ice", 6));
    t = mint(rsa.priv, R_JWA_ALG_RS256, "rsa1", c, NULL);
    expect(t, JWT_INVALID);
    r_free(t);
}

static void test_kid_rules(void **state)
{
    struct principal p;
    const char *why;
    char *t;
    (void)state;

    t = mint(rsa.priv, R_JWA_ALG_RS256, "nope", claims(), NULL);
    assert_int_equal(verify(t, &p, &why), JWT_UNKNOWN_KID);
    r_free(t);
    t = mint(rsa.priv, R_JWA_ALG_RS256, NULL, claims(), NULL);
    expect_why(t, JWT_INVALID, "no kid");
    r_free(t);
    /* The attacker's key under our kid: the signature does not verify. */
    t = mint(rsa_other.priv, R_JWA_ALG_RS256, "rsa1", claims(), NULL);
    assert_int_equal(verify(t, &p, &why), JWT_INVALID);
    assert_string_equal(why, "the signature does not verify");
    r_free(t);
}

static void test_header_keys_refused(void **state)
{
    static const char *const members[] = {"jwk", "jku", "x5u", "x5c", "crit"};
    (void)state;
    for (size_t i = 0; i < MW_ARRAY_LEN(members); i++) {
        json_t *extra = json_object();
        json_t *v = strcmp(members[i], "jwk") == 0    ? r_jwk_export_to_json_t(rsa_other.pub)
                    : strcmp(members[i], "x5c") == 0  ? json_pack("[s]", "MIIB")
                    : strcmp(members[i], "crit") == 0 ? json_pack("[s]", "exp")
                                                      : json_string("http://127.0.0.1:9/evil");
        json_object_set_new(extra, members[i], v);
        /* Signed by the attacker's key, with and without a known kid. */
        char *t = mint(rsa_other.priv, R_JWA_ALG_RS256, "rsa1", claims(), extra);
        struct principal p;
        const char *why;
        assert_int_equal(verify(t, &p, &why), JWT_INVALID);
        assert_non_null(strstr(why, "jku"));
        r_free(t);
    }
}

static void test_forged_tokens(void **state)
{
    char payload[512];
    char *t;
    (void)state;

    snprintf(payload, sizeof(payload),
             "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"x\",\"exp\":%lld}",
             (long long)now + 600);
    /* alg none, with and without a signature part. */
    t = raw_token("{\"alg\":\"none\",\"kid\":\"rsa1\"}", payload, "");
    expect_why(t, JWT_INVALID, "compact JWS");
    free(t);
    t = raw_token("{\"alg\":\"none\",\"kid\":\"rsa1\"}", payload, "AAAA");
    expect_why(t, JWT_INVALID, NULL);
    free(t);
    t = raw_token("{\"alg\":\"None\",\"kid\":\"rsa1\"}", payload, "AAAA");
    expect(t, JWT_INVALID);
    free(t);

    /* HS256 signed with the RSA public key as the HMAC secret. */
    {
        char *pem = NULL;
        unsigned char buf[4096];
        size_t len = sizeof(buf);
        jwk_t *hk = NULL;
        assert_int_equal(r_jwk_export_to_pem_der(rsa.pub, R_FORMAT_PEM, buf, &len, 0), RHN_OK);
        assert_int_equal(r_jwk_init(&hk), RHN_OK);
        assert_int_equal(r_jwk_import_from_symmetric_key(hk, buf, len), RHN_OK);
        t = mint(hk, R_JWA_ALG_HS256, "rsa1", claims(), NULL);
        expect_why(t, JWT_INVALID, "alg is not allowed");
        /* Even when HS256 is on the allow-list, the RSA key never verifies HS256. */
        struct jwt_policy pol = policy();
        struct principal p;
        const char *why;
        pol.algs |= JWT_HS256;
        assert_int_equal(jwt_verify(&pol, keys, t, strlen(t), now, &p, &why), JWT_INVALID);
        assert_string_equal(why, "alg does not fit the key named by kid");
        r_free(t);
        r_jwk_free(hk);
        free(pem);
    }

    /* Tampered payload and signature of a valid token. */
    {
        char *good = mint(rsa.priv, R_JWA_ALG_RS256, "rsa1", claims(), NULL);
        char *bad = strdup(good);
        char *dot1 = strchr(bad, '.');
        char *dot2 = strchr(dot1 + 1, '.');
        expect(good, JWT_OK);
        dot1[5] = dot1[5] == 'A' ? 'B' : 'A';
        expect(bad, JWT_INVALID);
        memcpy(bad, good, strlen(good) + 1);
        dot2[10] = dot2[10] == 'A' ? 'B' : 'A';
        expect_why(bad, JWT_INVALID, "signature");
        memcpy(bad, good, strlen(good) + 1);
        bad[strlen(bad) - 3] = '\0'; /* a cut signature */
        expect(bad, JWT_INVALID);
        free(bad);
        r_free(good);
    }

    /* Malformed shapes, base64 and JSON. */
    expect("", JWT_INVALID);
    expect("abc", JWT_INVALID);
    expect("a.b", JWT_INVALID);
    expect("a..c", JWT_INVALID);
    expect("a.b.c.d.e", JWT_INVALID);
    expect("ey!.ey.sig", JWT_INVALID);
    expect("eyJhbGciOiJSUzI1NiJ9.bm90IGpzb24.c2ln", JWT_INVALID);          /* payload "not json" */
    t = raw_token("{\"alg\":\"RS256\",\"kid\":\"rsa1\"", payload, "c2ln"); /* header cut */
    expect(t, JWT_INVALID);
    free(t);
    t = raw_token("[1,2]", payload, "c2ln");
    expect(t, JWT_INVALID);
    free(t);
}

static void test_size_limit(void **state)
{
    json_t *c = claims();
    char *big = malloc(16384);
    char *t;
    struct principal p;
    const char *why;
    (void)state;
    memset(big, 'x', 16000);
    big[16000] = '\0';
    json_object_set_new(c, "padding", json_string(big));
    t = mint(rsa.priv, R_JWA_ALG_RS256, "rsa1", c, NULL);
    assert_true(strlen(t) > JWT_MAX_BYTES);
    assert_int_equal(verify(t, &p, &why), JWT_INVALID);
    assert_string_equal(why, "the token is longer than 8192 bytes");
    r_free(t);
    free(big);
}

static void test_hmac_mode(void **state)
{
    static const unsigned char secret[] = "0123456789abcdef0123456789abcdef-secret";
    struct mw_error e = {0};
    struct jwt_keys *hk = jwt_keys_hmac(secret, sizeof(secret) - 1, &e);
    struct jwt_policy pol = policy();
    struct principal p;
    const char *why = NULL;
    jwk_t *sk = NULL;
    char *t;
    (void)state;

    assert_non_null(hk);
    assert_null(jwt_keys_hmac(secret, 31, &e)); /* too short */
    pol.algs = JWT_HS256;
    assert_int_equal(r_jwk_init(&sk), RHN_OK);
    assert_int_equal(r_jwk_import_from_symmetric_key(sk, secret, sizeof(secret) - 1), RHN_OK);
    t = mint(sk, R_JWA_ALG_HS256, NULL, claims(), NULL);
    assert_int_equal(jwt_verify(&pol, hk, t, strlen(t), now, &p, &why), JWT_OK);
    r_free(t);
    /* An RS256 token is refused in HS256 mode. */
    t = mint(rsa.priv, R_JWA_ALG_RS256, "rsa1", claims(), NULL);
    assert_int_equal(jwt_verify(&pol, hk, t, strlen(t), now, &p, &why), JWT_INVALID);
    r_free(t);
    r_jwk_free(sk);
    jwt_keys_free(hk);
}

static void test_jwks_import_rules(void **state)
{
    struct mw_error e = {0};
    size_t skipped = 0;
    jwk_t *small_priv = NULL, *small_pub = NULL;
    json_t *doc;
    struct jwt_keys *ks;
    (void)state;

    assert_int_equal(r_jwk_init(&small_priv), RHN_OK);
    assert_int_equal(r_jwk_init(&small_pub), RHN_OK);
    assert_int_equal(r_jwk_generate_key_pair(small_priv, small_pub, R_KEY_TYPE_RSA, 1024, "small"),
                     RHN_OK);
    json_t *nokid = r_jwk_export_to_json_t(ec256.pub);
    json_object_del(nokid, "kid");
    json_t *enc = r_jwk_export_to_json_t(ec384.pub);
    json_object_set_new(enc, "use", json_string("enc"));
    json_object_set_new(enc, "kid", json_string("enc1"));
    json_t *wrongalg = r_jwk_export_to_json_t(ec256.pub);
    json_object_set_new(wrongalg, "alg", json_string("RS256"));
    json_object_set_new(wrongalg, "kid", json_string("wa"));
    doc = json_pack("{s:[o,o,o,o,o,o]}", "keys", r_jwk_export_to_json_t(rsa.priv),
                    r_jwk_export_to_json_t(small_pub), nokid, enc, wrongalg,
                    r_jwk_export_to_json_t(ed.pub));
    ks = jwt_keys_from_jwks(doc, &skipped, &e);
    assert_non_null(ks);
    assert_int_equal(ks->n, 1); /* only the Ed25519 key */
    assert_int_equal(skipped, 5);
    assert_string_equal(ks->k[0].kid, "ed1");
    jwt_keys_free(ks);
    json_decref(doc);

    doc = json_pack("{s:[]}", "keys");
    assert_null(jwt_keys_from_jwks(doc, &skipped, &e));
    assert_non_null(strstr(e.msg, "no usable"));
    json_decref(doc);
    doc = json_pack("[]");
    assert_null(jwt_keys_from_jwks(doc, &skipped, &e));
    json_decref(doc);
    r_jwk_free(small_priv);
    r_jwk_free(small_pub);
}

static void test_algs_parse(void **state)
{
    struct mw_error e = {0};
    unsigned bits = 0;
    (void)state;
    assert_int_equal(jwt_algs_parse("RS256, ES256,EdDSA", &bits, &e), 0);
    assert_int_equal(bits, JWT_RS256 | JWT_ES256 | JWT_EDDSA);
    assert_int_equal(jwt_algs_parse("RS256,HS256", &bits, &e), MWE_CONFIG);
    assert_non_null(strstr(e.msg, "HS256_SECRET_FILE"));
    assert_int_equal(jwt_algs_parse("none", &bits, &e), MWE_CONFIG);
    assert_int_equal(jwt_algs_parse("", &bits, &e), MWE_CONFIG);
    assert_int_equal(jwt_algs_parse("rs256", &bits, &e), MWE_CONFIG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_per_algorithm), cmocka_unit_test(test_alg_must_fit_the_key),
        cmocka_unit_test(test_time_claims),         cmocka_unit_test(test_issuer_and_audience),
        cmocka_unit_test(test_scopes_and_identity), cmocka_unit_test(test_kid_rules),
        cmocka_unit_test(test_header_keys_refused), cmocka_unit_test(test_forged_tokens),
        cmocka_unit_test(test_size_limit),          cmocka_unit_test(test_hmac_mode),
        cmocka_unit_test(test_jwks_import_rules),   cmocka_unit_test(test_algs_parse),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
