/*
 * Unit tests of the API key file (src/auth/keys.c): key generation, the strict parser and its
 * messages, lookup by hash, times, the atomic writer (mode 0600) and the development key file.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "auth/auth.h"

static char dir[64];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/mw-test-keys.XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[128];
    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void hash_hex(const char *key, char out[72])
{
    unsigned char d[32];
    assert_int_equal(auth_sha256(key, strlen(key), d), 0);
    memcpy(out, "sha256:", 7);
    for (int i = 0; i < 32; i++)
        snprintf(out + 7 + 2 * i, 3, "%02x", d[i]);
}

static struct auth_keyset *parse(const char *text, struct mw_error *e)
{
    memset(e, 0, sizeof(*e));
    return auth_keyset_parse(text, strlen(text), e);
}

static void expect_error(const char *text, const char *fragment)
{
    struct mw_error e;
    struct auth_keyset *ks = parse(text, &e);
    if (ks) {
        auth_keyset_free(ks);
        fail_msg("parsed but should not: %s", text);
    }
    assert_int_equal(e.code, MWE_CONFIG);
    if (!strstr(e.msg, fragment))
        fail_msg("'%s' lacks '%s'", e.msg, fragment);
}

static void test_generate(void **state)
{
    char a[AUTH_KEY_LEN + 1], b[AUTH_KEY_LEN + 1];
    (void)state;
    assert_int_equal(auth_key_generate(a), 0);
    assert_int_equal(auth_key_generate(b), 0);
    assert_int_equal(strlen(a), AUTH_KEY_LEN);
    assert_memory_equal(a, "mw_", 3);
    assert_int_equal(
        strspn(a + 3, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"),
        AUTH_KEY_LEN - 3);
    assert_string_not_equal(a, b);
}

static void test_parse_and_find(void **state)
{
    char h1[72], h2[72], text[2048];
    unsigned char d[32];
    struct mw_error e;
    struct auth_keyset *ks;
    const struct auth_key *k;
    (void)state;

    hash_hex("mw_first-key-0123456789abcdef", h1);
    hash_hex("mw_second-key-0123456789abcdef", h2);
    snprintf(text, sizeof(text),
             "{\"version\": 1, \"keys\": ["
             "{\"id\": \"alice\", \"owner\": \"alice@example.org\", \"scopes\": [\"predict\", "
             "\"read\"], \"hash\": \"%s\", \"created\": \"2025-01-02T03:04:05Z\", "
             "\"rate_limit\": \"10/s\", \"burst\": 20},"
             "{\"id\": \"ops\", \"scopes\": [\"admin\", \"metrics\"], \"hash\": \"%s\", "
             "\"expires\": \"2030-01-01T00:00:00Z\", \"revoked\": null}]}",
             h1, h2);
    ks = parse(text, &e);
    assert_non_null(ks);
    assert_int_equal(auth_keyset_count(ks), 2);
    assert_int_equal(auth_sha256("mw_first-key-0123456789abcdef", 29, d), 0);
    k = auth_keyset_find(ks, d);
    assert_non_null(k);
    assert_string_equal(k->id, "alice");
    assert_string_equal(k->owner, "alice@example.org");
    assert_int_equal(k->scopes, SCOPE_PREDICT | SCOPE_READ);
    assert_int_equal(k->created, 1735787045);
    assert_true(k->rate == 10.0);
    assert_int_equal(k->burst, 20);
    assert_int_equal(k->expires, 0);
    assert_int_equal(auth_sha256("mw_second-key-0123456789abcdef", 30, d), 0);
    k = auth_keyset_find(ks, d);
    assert_non_null(k);
    assert_string_equal(k->id, "ops");
    assert_int_equal(k->scopes, SCOPE_ADMIN | SCOPE_METRICS);
    assert_int_equal(k->expires, 1893456000);
    assert_true(k->rate == 0);
    d[31] ^= 1; /* one bit off */
    assert_null(auth_keyset_find(ks, d));
    auth_keyset_free(ks);

    ks = parse("{\"version\":1,\"keys\":[]}", &e);
    assert_non_null(ks);
    assert_int_equal(auth_keyset_count(ks), 0);
    assert_null(auth_keyset_find(ks, d));
    auth_keyset_free(ks);
}

static void test_many_keys_all_found(void **state)
{
    /* Enough keys to wrap probe runs around the index. */
    enum { N = 300 };
    char(*keys)[AUTH_KEY_LEN + 1] = malloc(N * sizeof(*keys));
    json_t *doc = json_pack("{s:i, s:[]}", "version", 1, "keys");
    struct mw_error e = {0};
    char id[16];
    (void)state;
    assert_non_null(keys);
    for (int i = 0; i < N; i++) {
        assert_int_equal(auth_key_generate(keys[i]), 0);
        snprintf(id, sizeof(id), "k%d", i);
        json_array_append_new(json_object_get(doc, "keys"),
                              auth_key_json(id, NULL, SCOPE_READ, keys[i], 0, 0, NULL, 0));
    }
    char *text = json_dumps(doc, 0);
    struct auth_keyset *ks = auth_keyset_parse(text, strlen(text), &e);
    assert_non_null(ks);
    for (int i = 0; i < N; i++) {
        unsigned char d[32];
        assert_int_equal(auth_sha256(keys[i], AUTH_KEY_LEN, d), 0);
        const struct auth_key *k = auth_keyset_find(ks, d);
        assert_non_null(k);
        snprintf(id, sizeof(id), "k%d", i);
        assert_string_equal(k->id, id);
    }
    auth_keyset_free(ks);
    free(text);
    json_decref(doc);
    free(keys);
}

static void test_parse_errors(void **state)
{
    char h[72], text[1024];
    (void)state;
    hash_hex("mw_x0123456789abcdef", h);

    expect_error("", "line");
    expect_error("[]", "expected an object");
    expect_error("{\"version\":2,\"keys\":[]}", "version");
    expect_error("{\"version\":1}", "keys: expected an array");
    expect_error("{\"version\":1,\"keys\":[],\"extra\":1}", "unknown top-level");
    expect_error("{\"version\":1,\"version\":1,\"keys\":[]}", "line");
    expect_error("{\"version\":1,\"keys\":[1]}", "keys[0]: expected an object");
    snprintf(text, sizeof(text),
             "{\"version\":1,\"keys\":[{\"id\":\"a\",\"scopes\":[\"read\"],\"hash\":\"%s\","
             "\"scope\":1}]}",
             h);
    expect_error(text, "keys[0]: unknown member 'scope'");
    snprintf(text, sizeof(text),
             "{\"version\":1,\"keys\":[{\"id\":\"a b\",\"scopes\":[\"read\"],\"hash\":\"%s\"}]}",
             h);
    expect_error(text, "keys[0].id");
    snprintf(text, sizeof(text),
             "{\"version\":1,\"keys\":[{\"id\":\"a\",\"scopes\":[\"reed\"],\"hash\":\"%s\"}]}", h);
    expect_error(text, "keys[0].scopes[0]: unknown scope");
    snprintf(text, sizeof(text),
             "{\"version\":1,\"keys\":[{\"id\":\"a\",\"scopes\":[],\"hash\":\"%s\"}]}", h);
    expect_error(text, "keys[0].scopes");
    expect_error("{\"version\":1,\"keys\":[{\"id\":\"a\",\"scopes\":[\"read\"],"
                 "\"hash\":\"sha256:00\"}]}",
                 "keys[0].hash");
    expect_error("{\"version\":1,\"keys\":[{\"id\":\"a\",\"scopes\":[\"read\"],\"hash\":\"sha256:"
                 "ZZ00000000000000000000000000000000000000000000000000000000000000\"}]}",
                 "keys[0].hash");
    snprintf(text, sizeof(text),
             "{\"version\":1,\"keys\":[{\"id\":\"a\",\"scopes\":[\"read\"],\"hash\":\"%s\","
             "\"expires\":\"2025-02-30T00:00:00Z\"}]}",
             h);
    expect_error(text, "keys[0].expires");
    snprintf(text, sizeof(text),
             "{\"version\":1,\"keys\":[{\"id\":\"a\",\"scopes\":[\"read\"],\"hash\":\"%s\","
             "\"rate_limit\":\"fast\"}]}",
             h);
    expect_error(text, "keys[0].rate_limit");
    snprintf(text, sizeof(text),
             "{\"version\":1,\"keys\":[{\"id\":\"a\",\"scopes\":[\"read\"],\"hash\":\"%s\","
             "\"burst\":0}]}",
             h);
    expect_error(text, "keys[0].burst");
    snprintf(text, sizeof(text),
             "{\"version\":1,\"keys\":[{\"id\":\"a\",\"scopes\":[\"read\"],\"hash\":\"%s\"},"
             "{\"id\":\"a\",\"scopes\":[\"read\"],\"hash\":\"%.70s1\"}]}",
             h, h);
    expect_error(text, "keys[1].id: 'a' is used twice");
    snprintf(text, sizeof(text),
             "{\"version\":1,\"keys\":[{\"id\":\"a\",\"scopes\":[\"read\"],\"hash\":\"%s\"},"
             "{\"id\":\"b\",\"scopes\":[\"read\"],\"hash\":\"%s\"}]}",
             h, h);
    expect_error(text, "keys[1].hash: the same hash as key 'a'");
    snprintf(text, sizeof(text),
             "{\"version\":1,\"keys\":[{\"id\":\"a\",\"owner\":\"x\\ny\",\"scopes\":[\"read\"],"
             "\"hash\":\"%s\"}]}",
             h);
    expect_error(text, "keys[0].owner");
}

static void test_times(void **state)
{
    int64_t t = 0;
    char out[32];
    (void)state;
    assert_int_equal(auth_time_parse("1970-01-01T00:00:00Z", &t), 0);
    assert_int_equal(t, 0);
    assert_int_equal(auth_time_parse("2024-02-29T23:59:59Z", &t), 0);
    assert_int_equal(t, 1709251199);
    auth_time_format(t, out);
    assert_string_equal(out, "2024-02-29T23:59:59Z");
    assert_int_equal(auth_time_parse("2023-02-29T00:00:00Z", &t), MWE_CONFIG);
    assert_int_equal(auth_time_parse("2024-13-01T00:00:00Z", &t), MWE_CONFIG);
    assert_int_equal(auth_time_parse("2024-01-01 00:00:00Z", &t), MWE_CONFIG);
    assert_int_equal(auth_time_parse("2024-01-01T00:00:00", &t), MWE_CONFIG);
    assert_int_equal(auth_time_parse("2024-01-01T24:00:00Z", &t), MWE_CONFIG);
    assert_int_equal(auth_time_parse(NULL, &t), MWE_CONFIG);
}

static void test_write_load_and_modes(void **state)
{
    char path[128], key[AUTH_KEY_LEN + 1];
    struct mw_error e = {0};
    struct stat st;
    bool missing = false;
    struct auth_keyset *ks;
    (void)state;

    snprintf(path, sizeof(path), "%s/keys.json", dir);
    assert_null(auth_keyset_load(path, &missing, &e));
    assert_true(missing);
    assert_int_equal(e.code, MWE_IO);

    assert_int_equal(
        auth_keyfile_create_dev(path, "dev", "me", SCOPE_PREDICT | SCOPE_READ, key, &e), 0);
    assert_int_equal(strlen(key), AUTH_KEY_LEN);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    /* Only the hash is stored. */
    {
        FILE *f = fopen(path, "r");
        char buf[4096];
        size_t n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[n] = '\0';
        assert_null(strstr(buf, key));
        assert_null(strstr(buf, key + 3));
        assert_non_null(strstr(buf, "sha256:"));
    }
    ks = auth_keyset_load(path, &missing, &e);
    assert_non_null(ks);
    assert_false(missing);
    unsigned char d[32];
    auth_sha256(key, strlen(key), d);
    assert_non_null(auth_keyset_find(ks, d));
    assert_int_equal(auth_keyset_find(ks, d)->scopes, SCOPE_PREDICT | SCOPE_READ);
    auth_keyset_free(ks);

    /* Never overwritten by a second development key. */
    assert_int_equal(auth_keyfile_create_dev(path, "dev", "me", SCOPE_READ, key, &e), MWE_IO);

    /* World-writable files are refused. */
    assert_int_equal(chmod(path, 0666), 0);
    assert_null(auth_keyset_load(path, NULL, &e));
    assert_non_null(strstr(e.msg, "writable by other users"));
    assert_int_equal(chmod(path, 0600), 0);

    /* A broken file names the path and the member. */
    {
        FILE *f = fopen(path, "w");
        fputs("{\"version\":1,\"keys\":[{\"id\":\"x\"}]}", f);
        fclose(f);
        assert_null(auth_keyset_load(path, NULL, &e));
        assert_non_null(strstr(e.msg, path));
        assert_non_null(strstr(e.msg, "keys[0].scopes"));
    }
    unlink(path);
}

static void test_scopes(void **state)
{
    struct mw_error e = {0};
    unsigned s = 0;
    char out[64];
    (void)state;
    assert_int_equal(auth_scope_bit("predict", 7), SCOPE_PREDICT);
    assert_int_equal(auth_scope_bit("read", 4), SCOPE_READ);
    assert_int_equal(auth_scope_bit("readx", 4), SCOPE_READ);
    assert_int_equal(auth_scope_bit("Read", 4), 0);
    assert_int_equal(auth_scope_bit("rea", 3), 0);
    assert_int_equal(auth_scopes_parse("predict, read", &s, &e), 0);
    assert_int_equal(s, SCOPE_PREDICT | SCOPE_READ);
    assert_int_equal(auth_scopes_parse("predict,writ", &s, &e), MWE_CONFIG);
    assert_non_null(strstr(e.msg, "'writ'"));
    assert_int_equal(auth_scopes_parse(" , ", &s, &e), MWE_CONFIG);
    auth_scopes_str(SCOPE_ALL, out, sizeof(out));
    assert_string_equal(out, "predict,read,admin,metrics");
    auth_scopes_str(SCOPE_METRICS, out, sizeof(out));
    assert_string_equal(out, "metrics");
}

static void test_loopback(void **state)
{
    (void)state;
    assert_true(auth_host_is_loopback("127.0.0.1"));
    assert_true(auth_host_is_loopback("127.9.8.7"));
    assert_true(auth_host_is_loopback("::1"));
    assert_true(auth_host_is_loopback("[::1]"));
    assert_true(auth_host_is_loopback("::ffff:127.0.0.1"));
    assert_true(auth_host_is_loopback("localhost"));
    assert_false(auth_host_is_loopback("0.0.0.0"));
    assert_false(auth_host_is_loopback("::"));
    assert_false(auth_host_is_loopback("10.0.0.1"));
    assert_false(auth_host_is_loopback("128.0.0.1"));
    assert_false(auth_host_is_loopback("localhost.example.com"));
    assert_false(auth_host_is_loopback(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_generate),
        cmocka_unit_test(test_parse_and_find),
        cmocka_unit_test(test_many_keys_all_found),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_times),
        cmocka_unit_test(test_write_load_and_modes),
        cmocka_unit_test(test_scopes),
        cmocka_unit_test(test_loopback),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
