/*
 * libFuzzer target for the token-handling path: the first byte picks a mode, the rest is input.
 * 0: a bearer token against an RSA + EC JWKS (jwt_verify: shape, Rhonabwy parse in hardened mode,
 * header rules, signature, claims); 1: the same in HS256 mode; 2: a claims document straight into
 * jwt_check_claims. Checks that every refusal has a reason and that an accepted token names a
 * caller. Seeds (fuzz/corpus/jwt/) hold valid tokens signed by the keys whose public halves are
 * below, so the fuzzer starts past the signature check.
 */
#include <rhonabwy.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth_int.h"

#define NOW 1700000000 /* the seeds were minted for this time */

static const char jwks_text[] =
    "{\"keys\":[{\"kty\":\"RSA\",\"key_ops\":[\"verify\"],\"n\":\"vhbg_kDdgTfSTrxdCdXwMWVO"
    "MPxA4uiV_SvHYXi1vBMUgCCQ7hsnTeoRptBlpSOcU9mOgYPmzcyQqThtmcyPznurf2IrrDjR"
    "QuIxLYucqQi0RwWKOMIqRu8fYcWNoQyTy5P4JIzkUVSp8DEL9UCgZdVFC4_3j-AE2cRUXTH9"
    "eMzQbJG4Ir_iP7kS_aeIZaXnCV7yjV8c462xEKhZB1M3Ik5aZ41uRLuZp5Bs19mOLFBqaX65"
    "HC8iZoL-x6ROuaT5aNtVFL21HcXPrWURXnrxqICSOInKfs7ExE_YMouYqIV0DaqYAOQOsSZY"
    "MS9Iz8gtV6e6d5qk4kA4ljm0Iau_Jw\",\"e\":\"AQAB\",\"kid\":\"fz-rsa\",\"use\":\"sig\"},{"
    "\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"cZkHF5oVrNGH2ktWJAlOJIj6zbK4tbOK-fJnbMZ_my"
    "M\",\"y\":\"vc9DEiiMPV4ghqKblWoTMsdOoPkC_FpO62S3KYxxsXY\",\"kid\":\"fz-ec\"}]}";

static const unsigned char secret[] = "fuzz-secret-0123456789abcdef0123456789";

static struct jwt_keys *asym;
static struct jwt_keys *hmac;

static void init(void)
{
    struct mw_error e = {0};
    json_error_t jerr;
    size_t skipped = 0;
    json_t *doc;

    r_global_init();
    doc = json_loads(jwks_text, 0, &jerr);
    if (!doc)
        abort();
    asym = jwt_keys_from_jwks(doc, &skipped, &e);
    json_decref(doc);
    hmac = jwt_keys_hmac(secret, sizeof(secret) - 1, &e);
    if (!asym || asym->n != 2 || !hmac)
        abort();
}

static void check(int rc, const struct principal *p, const char *why)
{
    if (rc == JWT_OK) {
        if (p->kind != PRINCIPAL_JWT || p->id[0] == '\0' || strlen(p->id) >= sizeof(p->id))
            abort();
    } else if (!why || rc < JWT_INVALID || rc > JWT_UNKNOWN_KID) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct jwt_policy pol = {"https://issuer.fuzz", "fuzz-api", JWT_ASYMMETRIC, 60, 86400,
                             "realm_access.roles"};
    struct principal p;
    const char *why = NULL;
    char *copy;
    int rc;

    if (!asym)
        init();
    if (size < 1)
        return 0;
    /* An exact-size heap copy without a NUL: reading past it is an ASan report. */
    copy = malloc(size - 1 > 0 ? size - 1 : 1);
    if (!copy)
        return 0;
    memcpy(copy, data + 1, size - 1);
    memset(&p, 0, sizeof(p));
    switch (data[0] % 3) {
    case 0:
        rc = jwt_verify(&pol, asym, copy, size - 1, NOW, &p, &why);
        check(rc, &p, why);
        break;
    case 1:
        pol.algs = JWT_HS256;
        rc = jwt_verify(&pol, hmac, copy, size - 1, NOW, &p, &why);
        check(rc, &p, why);
        break;
    default: {
        json_error_t jerr;
        json_t *claims = json_loadb(copy, size - 1, JSON_REJECT_DUPLICATES, &jerr);
        if (claims) {
            rc = jwt_check_claims(&pol, claims, NOW, &p, &why);
            check(rc, &p, why);
            json_decref(claims);
        }
        break;
    }
    }
    free(copy);
    return 0;
}
