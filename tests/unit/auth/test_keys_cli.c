/*
 * Unit tests of `modelwrap keys` (src/auth/keys_cli.c): create prints the key once and stores its
 * hash (mode 0600), list never shows keys or hashes, revoke marks a key, and bad arguments are
 * usage errors that leave the file alone.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "auth/auth.h"

static char dir[64];
static char path[128];
static char out_path[128];
static char err_path[128];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/mw-test-keyscli.XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    snprintf(path, sizeof(path), "%s/keys.json", dir);
    snprintf(out_path, sizeof(out_path), "%s/out.txt", dir);
    snprintf(err_path, sizeof(err_path), "%s/err.txt", dir);
    return 0;
}

static int teardown(void **state)
{
    char cmd[128];
    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static char *slurp(const char *p)
{
    FILE *f = fopen(p, "rb");
    char *buf = calloc(1, 65536);
    assert_non_null(f);
    assert_non_null(buf);
    size_t n = fread(buf, 1, 65535, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* Runs `modelwrap keys ARGS... --file path` with stdout and stderr captured; *out and *err get
 * heap copies. Returns the exit status. */
static int run(char **out, char **err, ...)
{
    char *argv[32] = {"modelwrap", "keys"};
    int argc = 2;
    va_list ap;
    const char *a;
    int saved_out = dup(1), saved_err = dup(2);
    int fo = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int fe = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int rc;

    va_start(ap, err);
    while ((a = va_arg(ap, const char *)) != NULL)
        argv[argc++] = (char *)a;
    va_end(ap);
    argv[argc++] = "--file";
    argv[argc++] = path;
    fflush(stdout);
    fflush(stderr);
    dup2(fo, 1);
    dup2(fe, 2);
    rc = auth_keys_cli(argc, argv, 2);
    fflush(stdout);
    fflush(stderr);
    dup2(saved_out, 1);
    dup2(saved_err, 2);
    close(saved_out);
    close(saved_err);
    close(fo);
    close(fe);
    *out = slurp(out_path);
    *err = slurp(err_path);
    return rc;
}

static void test_create_list_revoke(void **state)
{
    char *out, *err, *file;
    char key[AUTH_KEY_LEN + 1];
    struct mw_error e = {0};
    struct stat st;
    unsigned char d[32];
    (void)state;

    assert_int_equal(run(&out, &err, "create", "--id", "alice", "--scopes", "predict,read",
                         "--owner", "alice@example.org", "--expires", "90d", "--rate-limit", "10/s",
                         "--burst", "20", NULL),
                     0);
    /* stdout is the key alone. */
    assert_int_equal(strlen(out), AUTH_KEY_LEN + 1);
    assert_memory_equal(out, "mw_", 3);
    memcpy(key, out, AUTH_KEY_LEN);
    key[AUTH_KEY_LEN] = '\0';
    assert_non_null(strstr(err, "only time the key is shown"));
    free(out);
    free(err);

    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    file = slurp(path);
    assert_null(strstr(file, key));
    free(file);

    struct auth_keyset *ks = auth_keyset_load(path, NULL, &e);
    assert_non_null(ks);
    auth_sha256(key, strlen(key), d);
    const struct auth_key *k = auth_keyset_find(ks, d);
    assert_non_null(k);
    assert_string_equal(k->id, "alice");
    assert_string_equal(k->owner, "alice@example.org");
    assert_int_equal(k->scopes, SCOPE_PREDICT | SCOPE_READ);
    assert_true(k->rate == 10.0);
    assert_int_equal(k->burst, 20);
    int64_t left = k->expires - (int64_t)time(NULL);
    assert_true(left > 89 * 86400 && left <= 90 * 86400);
    auth_keyset_free(ks);

    assert_int_equal(run(&out, &err, "create", "--id", "ops", "--scopes", "admin", "--expires",
                         "2099-01-01", NULL),
                     0);
    free(out);
    free(err);

    /* A duplicate id is refused and the file is unchanged. */
    file = slurp(path);
    assert_int_equal(run(&out, &err, "create", "--id", "alice", "--scopes", "read", NULL), 1);
    assert_non_null(strstr(err, "exists already"));
    char *same = slurp(path);
    assert_string_equal(file, same);
    free(same);
    free(file);
    free(out);
    free(err);

    assert_int_equal(run(&out, &err, "list", NULL), 0);
    assert_non_null(strstr(out, "alice"));
    assert_non_null(strstr(out, "ops"));
    assert_non_null(strstr(out, "predict,read"));
    assert_non_null(strstr(out, "2099-01-01T00:00:00Z"));
    assert_non_null(strstr(out, "10/s,burst=20"));
    assert_null(strstr(out, "sha256"));
    assert_null(strstr(out, "mw_"));
    assert_null(strstr(out, "revoked"));
    free(out);
    free(err);

    assert_int_equal(run(&out, &err, "revoke", "alice", NULL), 0);
    free(out);
    free(err);
    assert_int_equal(run(&out, &err, "list", NULL), 0);
    assert_non_null(strstr(out, "revoked"));
    free(out);
    free(err);
    ks = auth_keyset_load(path, NULL, &e);
    assert_non_null(ks);
    k = auth_keyset_find(ks, d);
    assert_non_null(k);
    assert_true(k->revoked > 0);
    auth_keyset_free(ks);

    assert_int_equal(run(&out, &err, "revoke", "nobody", NULL), 1);
    assert_non_null(strstr(err, "no key named 'nobody'"));
    free(out);
    free(err);
}

static void test_usage_errors(void **state)
{
    char *out, *err;
    (void)state;
    static const char *const bad[][8] = {
        {"create", "--scopes", "read", NULL},
        {"create", "--id", "x", NULL},
        {"create", "--id", "x y", "--scopes", "read", NULL},
        {"create", "--id", "x", "--scopes", "writ", NULL},
        {"create", "--id", "x", "--scopes", "read", "--expires", "soon", NULL},
        {"create", "--id", "x", "--scopes", "read", "--rate-limit", "fast", NULL},
        {"create", "--id", "x", "--scopes", "read", "--burst", "5", NULL},
        {"create", "--id", "x", "--scopes", "read", "--colour", "red", NULL},
        {"frobnicate", NULL},
        {"revoke", NULL},
    };
    for (size_t i = 0; i < MW_ARRAY_LEN(bad); i++) {
        int rc = run(&out, &err, bad[i][0], bad[i][1], bad[i][2], bad[i][3], bad[i][4], bad[i][5],
                     bad[i][6], NULL);
        if (rc != 2)
            fail_msg("case %zu: exit %d, stderr: %s", i, rc, err);
        assert_int_equal(strlen(out), 0);
        free(out);
        free(err);
    }
    assert_int_equal(run(&out, &err, "help", NULL), 0);
    assert_non_null(strstr(out, "usage: modelwrap keys create"));
    free(out);
    free(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_list_revoke),
        cmocka_unit_test(test_usage_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
