/*
 * Unit tests of the config loader: defaults, each precedence layer (.env < environment < flags),
 * every setting type's parsing and exact error text, unknown names, the .env file rules, and that
 * .env.example and docs/configuration.md match the settings table.
 * The config sources are included (not linked) so that their table engine can also run on a test
 * table with a bool and a secret setting, types that no production setting uses yet.
 */
#include "config/settings.c"
#include "config/load.c"
#include "config/print.c"

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

static char g_source_dir[4096]; /* the repository (cwd at start, or MW_SOURCE_DIR) */
static char g_tmp_dir[64];      /* each test runs in this empty directory */

/* ---- helpers --------------------------------------------------------------------------------- */

static void write_file(const char *path, const char *text, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static void write_env(const char *text)
{
    write_file(".env", text, strlen(text));
}

/* Reads a whole file into a NUL-terminated heap string (NULL when it cannot be read). */
static char *read_all(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *data = NULL;
    size_t len = 0;
    size_t cap = 0;

    if (f == NULL)
        return NULL;
    for (;;) {
        size_t got;
        if (cap - len < 4096) {
            cap = cap * 2 + 8192;
            data = realloc(data, cap);
            assert_non_null(data);
        }
        got = fread(data + len, 1, cap - len - 1, f);
        len += got;
        if (got == 0)
            break;
    }
    fclose(f);
    data[len] = '\0';
    return data;
}

/* argv and envp are NULL-terminated lists; argv gets a program name in front. */
static int load(struct config *cfg, const char *const *args, const char *const *env,
                struct mw_error *e)
{
    char *argv[32] = {"modelwrap"};
    int argc = 1;

    memset(e, 0, sizeof(*e));
    for (; args != NULL && *args != NULL; args++)
        argv[argc++] = (char *)*args;
    return config_load(cfg, argc, argv, 1, (char **)env, e);
}

/* Expects loading to fail with exactly msg, and cfg to be freed. */
static void expect_fail(const char *const *args, const char *const *env, const char *msg)
{
    struct config cfg;
    struct mw_error e;

    assert_int_equal(load(&cfg, args, env, &e), MWE_CONFIG);
    assert_int_equal(e.code, MWE_CONFIG);
    assert_string_equal(e.msg, msg);
    assert_null(cfg.host);
    assert_null(cfg.models_dir);
    assert_null(cfg.env_file);
}

/* Loads with one environment entry and expects success. */
static void load_env1(struct config *cfg, const char *entry)
{
    const char *env[] = {entry, NULL};
    struct mw_error e;

    assert_int_equal(load(cfg, NULL, env, &e), 0);
}

#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})

/* ---- fixtures -------------------------------------------------------------------------------- */

static int group_setup(void **state)
{
    const char *src = getenv("MW_SOURCE_DIR");

    (void)state;
    if (src != NULL)
        snprintf(g_source_dir, sizeof(g_source_dir), "%s", src);
    else if (getcwd(g_source_dir, sizeof(g_source_dir)) == NULL)
        return -1;
    snprintf(g_tmp_dir, sizeof(g_tmp_dir), "/tmp/mw-test-config.XXXXXX");
    if (mkdtemp(g_tmp_dir) == NULL || chdir(g_tmp_dir) != 0)
        return -1;
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    unlink(".env");
    unlink("other.env");
    return (chdir(g_source_dir) == 0 && rmdir(g_tmp_dir) == 0) ? 0 : -1;
}

static int test_teardown(void **state)
{
    (void)state;
    unlink(".env");
    unlink("other.env");
    return 0;
}

/* ---- defaults and precedence ----------------------------------------------------------------- */

static void test_defaults(void **state)
{
    struct config cfg;
    struct mw_error e;

    (void)state;
    assert_int_equal(load(&cfg, NULL, NULL, &e), 0); /* no ./.env here: fine */
    assert_string_equal(cfg.env_file, "./.env");
    assert_string_equal(cfg.host, "127.0.0.1");
    assert_int_equal(cfg.port, 8000);
    assert_int_equal(cfg.threads, 0);
    assert_int_equal(cfg.io_model, IO_REUSEPORT);
    assert_string_equal(cfg.models_dir, "./models");
    assert_null(cfg.default_model);
    assert_int_equal(cfg.model_workers, 0);
    assert_int_equal(cfg.model_queue_size, 1024);
    assert_int_equal(cfg.model_timeout_ms, 30000);
    assert_int_equal(cfg.max_records, 10000);
    assert_int_equal(cfg.max_body_bytes, 1048576);
    assert_int_equal(cfg.max_header_bytes, 16384);
    assert_int_equal(cfg.max_connections, 1024);
    assert_int_equal(cfg.max_connections_per_ip, 256);
    assert_int_equal(cfg.idle_timeout_s, 30);
    assert_int_equal(cfg.drain_timeout_s, 10);
    assert_int_equal(cfg.log_level, LOG_INFO);
    config_fini(&cfg);
    assert_null(cfg.host);
    config_fini(&cfg); /* twice is fine */
}

static void test_precedence(void **state)
{
    struct config cfg;
    struct mw_error e;
    const char *env[] = {"MODELWRAP_PORT=2", "MODELWRAP_THREADS=5", "PATH=/bin", NULL};

    (void)state;
    write_env("MODELWRAP_PORT=1\nMODELWRAP_THREADS=4\nMODELWRAP_IDLE_TIMEOUT=7\nOTHER=x\n");
    /* .env over defaults */
    assert_int_equal(load(&cfg, NULL, NULL, &e), 0);
    assert_int_equal(cfg.port, 1);
    assert_int_equal(cfg.threads, 4);
    assert_int_equal(cfg.idle_timeout_s, 7);
    assert_int_equal(cfg.drain_timeout_s, 10);
    config_fini(&cfg);
    /* environment over .env */
    assert_int_equal(load(&cfg, NULL, env, &e), 0);
    assert_int_equal(cfg.port, 2);
    assert_int_equal(cfg.threads, 5);
    assert_int_equal(cfg.idle_timeout_s, 7);
    config_fini(&cfg);
    /* flags over the environment, both forms; the last flag wins */
    assert_int_equal(load(&cfg, ARGS("--port", "3", "--threads=6", "--port=9"), env, &e), 0);
    assert_int_equal(cfg.port, 9);
    assert_int_equal(cfg.threads, 6);
    assert_int_equal(cfg.idle_timeout_s, 7);
    config_fini(&cfg);
}

static void test_first_arg(void **state)
{
    char *argv[] = {"modelwrap", "serve", "--port", "1234", NULL};
    struct config cfg;
    struct mw_error e;

    (void)state;
    assert_int_equal(config_load(&cfg, 4, argv, 2, NULL, &e), 0);
    assert_int_equal(cfg.port, 1234);
    config_fini(&cfg);
    /* "serve" is not a flag: it must not be read when first_arg skips it, and is refused if not */
    assert_int_equal(config_load(&cfg, 4, argv, 1, NULL, &e), MWE_CONFIG);
    assert_string_equal(e.msg,
                        "'serve': unexpected argument (settings are --name VALUE or --name=VALUE)");
}

/* ---- types ----------------------------------------------------------------------------------- */

static void test_port(void **state)
{
    struct config cfg;

    (void)state;
    load_env1(&cfg, "MODELWRAP_PORT=0");
    assert_int_equal(cfg.port, 0);
    config_fini(&cfg);
    load_env1(&cfg, "MODELWRAP_PORT=65535");
    assert_int_equal(cfg.port, 65535);
    config_fini(&cfg);
    expect_fail(NULL, ARGS("MODELWRAP_PORT=abc"),
                "MODELWRAP_PORT: 'abc' is not a port (accepted: 0-65535)");
    expect_fail(NULL, ARGS("MODELWRAP_PORT=65536"),
                "MODELWRAP_PORT: '65536' is not a port (accepted: 0-65535)");
    expect_fail(NULL, ARGS("MODELWRAP_PORT=-1"),
                "MODELWRAP_PORT: '-1' is not a port (accepted: 0-65535)");
    expect_fail(NULL, ARGS("MODELWRAP_PORT= 80"),
                "MODELWRAP_PORT: ' 80' is not a port (accepted: 0-65535)");
    expect_fail(NULL, ARGS("MODELWRAP_PORT="),
                "MODELWRAP_PORT: '' is not a port (accepted: 0-65535)");
    expect_fail(ARGS("--port", "+80"), NULL, "--port: '+80' is not a port (accepted: 0-65535)");
}

static void test_uint(void **state)
{
    struct config cfg;

    (void)state;
    load_env1(&cfg, "MODELWRAP_THREADS=256");
    assert_int_equal(cfg.threads, 256);
    config_fini(&cfg);
    load_env1(&cfg, "MODELWRAP_MODEL_TIMEOUT_MS=3600000");
    assert_int_equal(cfg.model_timeout_ms, 3600000);
    config_fini(&cfg);
    load_env1(&cfg, "MODELWRAP_DRAIN_TIMEOUT=0");
    assert_int_equal(cfg.drain_timeout_s, 0);
    config_fini(&cfg);
    expect_fail(NULL, ARGS("MODELWRAP_THREADS=257"),
                "MODELWRAP_THREADS: '257' is out of range (accepted: 0-256)");
    expect_fail(NULL, ARGS("MODELWRAP_THREADS=12a"),
                "MODELWRAP_THREADS: '12a' is not an integer (accepted: 0-256)");
    expect_fail(NULL, ARGS("MODELWRAP_THREADS=99999999999999999999999"),
                "MODELWRAP_THREADS: '99999999999999999999999' is out of range (accepted: 0-256)");
    expect_fail(ARGS("--model-queue-size=0"), NULL,
                "--model-queue-size: '0' is out of range (accepted: 1-1000000)");
    expect_fail(ARGS("--idle-timeout", "0x10"), NULL,
                "--idle-timeout: '0x10' is not an integer (accepted: 1-3600)");
}

static void test_size(void **state)
{
    static const struct {
        const char *text;
        size_t bytes;
    } ok[] = {
        {"1", 1},        {"1k", 1024},       {"1K", 1024},       {"2m", 2097152},
        {"3M", 3145728}, {"1g", 1073741824}, {"1G", 1073741824}, {"1073741824", 1073741824},
        {"0001", 1},
    };
    struct config cfg;
    size_t i;

    (void)state;
    for (i = 0; i < MW_ARRAY_LEN(ok); i++) {
        char entry[64];
        snprintf(entry, sizeof(entry), "MODELWRAP_MAX_BODY_BYTES=%s", ok[i].text);
        load_env1(&cfg, entry);
        assert_int_equal(cfg.max_body_bytes, ok[i].bytes);
        config_fini(&cfg);
    }
    expect_fail(ARGS("--max-body-bytes", "12x"), NULL,
                "--max-body-bytes: '12x' is not a size (accepted: integer bytes or with k/m/g "
                "suffix, 1-1073741824)");
    expect_fail(ARGS("--max-body-bytes=k"), NULL,
                "--max-body-bytes: 'k' is not a size (accepted: integer bytes or with k/m/g "
                "suffix, 1-1073741824)");
    expect_fail(ARGS("--max-body-bytes=1kk"), NULL,
                "--max-body-bytes: '1kk' is not a size (accepted: integer bytes or with k/m/g "
                "suffix, 1-1073741824)");
    expect_fail(ARGS("--max-body-bytes=1 k"), NULL,
                "--max-body-bytes: '1 k' is not a size (accepted: integer bytes or with k/m/g "
                "suffix, 1-1073741824)");
    expect_fail(ARGS("--max-body-bytes=2g"), NULL,
                "--max-body-bytes: '2g' is out of range (accepted: integer bytes or with k/m/g "
                "suffix, 1-1073741824)");
    expect_fail(ARGS("--max-body-bytes=0"), NULL,
                "--max-body-bytes: '0' is out of range (accepted: integer bytes or with k/m/g "
                "suffix, 1-1073741824)");
    expect_fail(ARGS("--max-body-bytes=99999999999999999g"), NULL,
                "--max-body-bytes: '99999999999999999g' is out of range (accepted: integer bytes "
                "or with k/m/g suffix, 1-1073741824)");
    expect_fail(NULL, ARGS("MODELWRAP_MAX_HEADER_BYTES=1023"),
                "MODELWRAP_MAX_HEADER_BYTES: '1023' is out of range (accepted: integer bytes or "
                "with k/m/g suffix, 1024-1048576)");
    load_env1(&cfg, "MODELWRAP_MAX_HEADER_BYTES=1k");
    assert_int_equal(cfg.max_header_bytes, 1024);
    config_fini(&cfg);
}

static void test_enum(void **state)
{
    struct config cfg;

    (void)state;
    load_env1(&cfg, "MODELWRAP_LOG_LEVEL=debug");
    assert_int_equal(cfg.log_level, LOG_DEBUG);
    config_fini(&cfg);
    load_env1(&cfg, "MODELWRAP_LOG_LEVEL=ERROR");
    assert_int_equal(cfg.log_level, LOG_ERROR);
    config_fini(&cfg);
    load_env1(&cfg, "MODELWRAP_IO_MODEL=pool");
    assert_int_equal(cfg.io_model, IO_POOL);
    config_fini(&cfg);
    write_env("# settings\nMODELWRAP_PORT=8001\nMODELWRAP_LOG_LEVEL=loud\n");
    expect_fail(NULL, NULL,
                ".env line 3: MODELWRAP_LOG_LEVEL: 'loud' is not one of error|warn|info|debug");
    unlink(".env");
    expect_fail(ARGS("--io-model", "threads"), NULL,
                "--io-model: 'threads' is not one of reuseport|pool");
    expect_fail(ARGS("--log-level=inf"), NULL,
                "--log-level: 'inf' is not one of error|warn|info|debug");
}

static void test_string(void **state)
{
    struct config cfg;
    struct mw_error e;
    char long_value[4200];
    char expected[256];

    (void)state;
    load_env1(&cfg, "MODELWRAP_DEFAULT_MODEL=iris");
    assert_string_equal(cfg.default_model, "iris");
    config_fini(&cfg);
    write_env("MODELWRAP_DEFAULT_MODEL=iris\nMODELWRAP_HOST=\"0.0.0.0\"\n");
    load_env1(&cfg, "MODELWRAP_DEFAULT_MODEL="); /* empty: back to unset */
    assert_null(cfg.default_model);
    assert_string_equal(cfg.host, "0.0.0.0");
    config_fini(&cfg);
    expect_fail(NULL, ARGS("MODELWRAP_HOST="),
                "MODELWRAP_HOST: '' is empty (accepted: non-empty text)");
    expect_fail(ARGS("--models="), NULL, "--models: '' is empty (accepted: non-empty text)");
    expect_fail(ARGS("--models", "a\tb"), NULL,
                "--models: 'a?b' contains a control character (accepted: non-empty text)");
    memset(long_value, 'h', sizeof(long_value) - 1);
    long_value[sizeof(long_value) - 1] = '\0';
    /* The error quotes the first 48 bytes only. */
    snprintf(expected, sizeof(expected), "--host: '%.48s...' is longer than 4096 bytes",
             long_value);
    expect_fail(ARGS("--host", long_value), NULL, expected);
    long_value[4096] = '\0';
    assert_int_equal(load(&cfg, ARGS("--host", long_value), NULL, &e), 0);
    assert_int_equal(strlen(cfg.host), 4096);
    config_fini(&cfg);
}

/* A table with the types and flags that no production setting uses yet. */
struct tcfg {
    bool verbose;
    char *token;
    unsigned n;
};

static const struct setting ttab[] = {
    {"VERBOSE", T_BOOL, "false", 0, 0, NULL, 0, offsetof(struct tcfg, verbose), "v"},
    {"TOKEN", T_STRING, NULL, 0, 0, NULL, F_SECRET | F_EMPTY_OK, offsetof(struct tcfg, token), "t"},
    {"N", T_UINT, "1", 0, 10, NULL, 0, offsetof(struct tcfg, n), "n"},
};

static int tload(struct tcfg *t, const char *const *args, const char *const *env,
                 struct mw_error *e)
{
    char *argv[16];
    int argc = 0;

    memset(t, 0, sizeof(*t));
    memset(e, 0, sizeof(*e));
    for (; args != NULL && *args != NULL; args++)
        argv[argc++] = (char *)*args;
    return table_load(ttab, MW_ARRAY_LEN(ttab), t, argc, argv, 0, (char **)env, e);
}

static void test_bool(void **state)
{
    static const char *const truthy[] = {"true", "TRUE", "1", "yes", "Yes", "on", "ON"};
    static const char *const falsy[] = {"false", "False", "0", "no", "NO", "off", "Off"};
    struct tcfg t;
    struct mw_error e;
    size_t i;

    (void)state;
    assert_int_equal(tload(&t, NULL, NULL, &e), 0);
    assert_false(t.verbose);
    for (i = 0; i < MW_ARRAY_LEN(truthy); i++) {
        char entry[64];
        snprintf(entry, sizeof(entry), "MODELWRAP_VERBOSE=%s", truthy[i]);
        assert_int_equal(tload(&t, NULL, ARGS(entry), &e), 0);
        assert_true(t.verbose);
        snprintf(entry, sizeof(entry), "--verbose=%s", falsy[i]);
        assert_int_equal(tload(&t, ARGS(entry), ARGS("MODELWRAP_VERBOSE=1"), &e), 0);
        assert_false(t.verbose);
    }
    /* A bool flag without a value means true: at the end, or before another flag. */
    assert_int_equal(tload(&t, ARGS("--verbose"), NULL, &e), 0);
    assert_true(t.verbose);
    assert_int_equal(tload(&t, ARGS("--verbose", "--n", "3"), ARGS("MODELWRAP_VERBOSE=no"), &e), 0);
    assert_true(t.verbose);
    assert_int_equal(t.n, 3);
    assert_int_equal(tload(&t, ARGS("--verbose", "off", "--n=4"), NULL, &e), 0);
    assert_false(t.verbose);
    assert_int_equal(t.n, 4);
    assert_int_equal(tload(&t, ARGS("--verbose", "maybe"), NULL, &e), MWE_CONFIG);
    assert_string_equal(
        e.msg, "--verbose: 'maybe' is not a boolean (accepted: true|false|1|0|yes|no|on|off)");
    assert_int_equal(tload(&t, NULL, ARGS("MODELWRAP_VERBOSE=2"), &e), MWE_CONFIG);
    assert_string_equal(e.msg, "MODELWRAP_VERBOSE: '2' is not a boolean "
                               "(accepted: true|false|1|0|yes|no|on|off)");
    assert_int_equal(tload(&t, ARGS("--verbose="), NULL, &e), MWE_CONFIG);
    /* A non-bool flag without a value is an error. */
    assert_int_equal(tload(&t, ARGS("--n", "--verbose"), NULL, &e), MWE_CONFIG);
    assert_string_equal(e.msg, "--n: missing value (accepted: 0-10)");
}

static void test_secret_redacted(void **state)
{
    struct tcfg t;
    struct mw_error e;
    char *text = NULL;
    size_t len = 0;
    FILE *out;

    (void)state;
    assert_int_equal(tload(&t, ARGS("--token", "s3cr3t"), NULL, &e), 0);
    assert_string_equal(t.token, "s3cr3t");
    out = open_memstream(&text, &len);
    assert_non_null(out);
    table_print(ttab, MW_ARRAY_LEN(ttab), &t, out);
    fclose(out);
    assert_string_equal(text,
                        "MODELWRAP_VERBOSE=false\nMODELWRAP_TOKEN=<redacted>\nMODELWRAP_N=1\n");
    assert_null(strstr(text, "s3cr3t"));
    free(text);
    table_fini(ttab, MW_ARRAY_LEN(ttab), &t);
    assert_null(t.token);
}

/* ---- names and the .env file ----------------------------------------------------------------- */

static void test_unknown_names(void **state)
{
    struct config cfg;
    struct mw_error e;

    (void)state;
    expect_fail(ARGS("--prot", "80"), NULL, "--prot: unknown flag (see --help)");
    expect_fail(ARGS("--prot=80"), NULL, "--prot: unknown flag (see --help)");
    expect_fail(ARGS("--PORT=80"), NULL, "--PORT: unknown flag (see --help)");
    expect_fail(ARGS("--max_body_bytes=80"), NULL, "--max_body_bytes: unknown flag (see --help)");
    expect_fail(ARGS("-p"), NULL,
                "'-p': unexpected argument (settings are --name VALUE or --name=VALUE)");
    expect_fail(ARGS("--"), NULL,
                "'--': unexpected argument (settings are --name VALUE or --name=VALUE)");
    expect_fail(ARGS("--port"), NULL, "--port: missing value (accepted: 0-65535)");
    expect_fail(NULL, ARGS("MODELWRAP_PROT=80"),
                "MODELWRAP_PROT: unknown setting in the environment (see --help)");
    expect_fail(NULL, ARGS("MODELWRAP_="),
                "MODELWRAP_: unknown setting in the environment (see --help)");
    /* (MODELWRAP_TLS_CERT is a setting now; an invented name stands in for it) */
    write_env("MODELWRAP_PORT=1\nMODELWRAP_TLS_CERTIFICATE=/x.pem\n");
    expect_fail(NULL, NULL,
                ".env line 2: MODELWRAP_TLS_CERTIFICATE: unknown setting (see --help)");
    /* Other names are not ours: ignored in the .env file and the environment. */
    write_env("PATH=/nowhere\nmodelwrap_port=1\nMODELWRAPPER=1\n");
    assert_int_equal(load(&cfg, NULL, ARGS("HOME=/root", "MODELWRAP", "LANG=C"), &e), 0);
    assert_int_equal(cfg.port, 8000);
    config_fini(&cfg);
}

static void test_env_file(void **state)
{
    struct config cfg;
    struct mw_error e;

    (void)state;
    /* A named file that is missing is an error, by flag or environment. */
    expect_fail(ARGS("--env-file", "/nonexistent/x.env"), NULL,
                "--env-file: cannot read '/nonexistent/x.env': No such file or directory");
    expect_fail(NULL, ARGS("MODELWRAP_ENV_FILE=/nonexistent/y.env"),
                "MODELWRAP_ENV_FILE: cannot read '/nonexistent/y.env': No such file or directory");
    expect_fail(ARGS("--env-file=."), NULL, "--env-file: cannot read '.': Is a directory");
    /* The flag beats the environment; the named file replaces ./.env. */
    write_env("MODELWRAP_PORT=1\n");
    write_file("other.env", "MODELWRAP_PORT=2\n", 17);
    assert_int_equal(
        load(&cfg, ARGS("--env-file=other.env"), ARGS("MODELWRAP_ENV_FILE=/nonexistent/y.env"), &e),
        0);
    assert_int_equal(cfg.port, 2);
    assert_string_equal(cfg.env_file, "other.env");
    config_fini(&cfg);
    /* Empty: read no file at all. */
    assert_int_equal(load(&cfg, NULL, ARGS("MODELWRAP_ENV_FILE="), &e), 0);
    assert_int_equal(cfg.port, 8000);
    assert_null(cfg.env_file);
    config_fini(&cfg);
    /* The .env file cannot name another .env file. */
    write_env("MODELWRAP_ENV_FILE=other.env\n");
    expect_fail(NULL, NULL,
                ".env line 1: MODELWRAP_ENV_FILE: cannot be set in a .env file (use the "
                "environment or --env-file)");
    /* Syntax errors name the file and the line. */
    write_env("MODELWRAP_PORT=1\r\nMODELWRAP_HOST=\"open\r\n");
    expect_fail(NULL, NULL, ".env line 2: unterminated double quote");
    write_file("other.env", "A=1\nB\n", 6);
    expect_fail(ARGS("--env-file", "other.env"), NULL,
                "other.env line 2: expected '=' after the key (KEY like [A-Za-z_][A-Za-z0-9_]*)");
}

static void test_env_file_size_limit(void **state)
{
    size_t len = 1024 * 1024;
    char *text = malloc(len + 1);
    struct config cfg;
    struct mw_error e;

    (void)state;
    assert_non_null(text);
    /* Exactly 1 MiB of comment lines: accepted. */
    memset(text, '#', len + 1);
    for (size_t i = 1000; i < len; i += 1000)
        text[i] = '\n';
    write_file(".env", text, len);
    assert_int_equal(load(&cfg, NULL, NULL, &e), 0);
    config_fini(&cfg);
    /* One byte more: refused. */
    write_file(".env", text, len + 1);
    expect_fail(NULL, NULL, "MODELWRAP_ENV_FILE: './.env' is larger than 1048576 bytes");
    free(text);
}

/* ---- output ---------------------------------------------------------------------------------- */

__attribute__((noinline)) static char *capture_print(const struct config *cfg)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);

    assert_non_null(out);
    config_print(cfg, out);
    fclose(out);
    return text;
}

static void test_print(void **state)
{
    struct config cfg;
    struct mw_error e;
    char *text;
    char *again;

    (void)state;
    assert_int_equal(load(&cfg, ARGS("--io-model=POOL", "--max-body-bytes=2k"), NULL, &e), 0);
    text = capture_print(&cfg);
    /* One line per setting of the table, in table order, each NAME=value. */
    {
        const char *p = text;
#define EXPECT_LINE(NAME, field, type, def, min, max, values, flags, help)                         \
    assert_true(strncmp(p, "MODELWRAP_" #NAME "=", strlen("MODELWRAP_" #NAME "=")) == 0);          \
    p = strchr(p, '\n');                                                                           \
    assert_non_null(p);                                                                            \
    p++;
        CONFIG_SETTINGS(EXPECT_LINE)
#undef EXPECT_LINE
        assert_string_equal(p, "");
    }
    /* The values given, and defaults for the rest. */
    assert_non_null(strstr(text, "\nMODELWRAP_IO_MODEL=pool\n"));
    assert_non_null(strstr(text, "\nMODELWRAP_MAX_BODY_BYTES=2048\n"));
    assert_non_null(strstr(text, "\nMODELWRAP_PORT=8000\n"));
    assert_non_null(strstr(text, "\nMODELWRAP_DEFAULT_MODEL=\n"));
    assert_non_null(strstr(text, "\nMODELWRAP_LOG_LEVEL=info\n"));
    assert_true(strncmp(text, "MODELWRAP_ENV_FILE=./.env\n", 26) == 0);
    config_fini(&cfg);
    /* Without its first line (ENV_FILE) the output is a .env file that gives the same config. */
    write_env(strchr(text, '\n') + 1);
    assert_int_equal(load(&cfg, NULL, NULL, &e), 0);
    again = capture_print(&cfg);
    assert_string_equal(again, text);
    config_fini(&cfg);
    free(again);
    free(text);
}

static void test_help(void **state)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    size_t i;

    (void)state;
    assert_non_null(out);
    config_print_help(out);
    fclose(out);
    for (i = 0; i < CONFIG_N_SETTINGS; i++) {
        char flag[64];
        char env[64];
        char start[80];
        char line[1024];
        const char *p;
        size_t n;

        setting_flag_name(&config_settings[i], flag, sizeof(flag));
        snprintf(start, sizeof(start), "  %s ", flag);
        snprintf(env, sizeof(env), "  MODELWRAP_%s ", config_settings[i].name);
        p = strstr(text, start);
        assert_non_null(p);
        n = strcspn(p, "\n");
        assert_true(n < sizeof(line));
        memcpy(line, p, n);
        line[n] = '\0';
        assert_non_null(strstr(line, env));
        assert_non_null(strstr(line, config_settings[i].help));
    }
    assert_non_null(strstr(text, "--max-body-bytes SIZE"));
    assert_non_null(strstr(text, "(default: unset; accepted: text; empty = unset)"));
    free(text);
}

static void test_env_example_is_current(void **state)
{
    char path[4200];
    char *committed;
    char *generated = NULL;
    bool same;
    size_t len = 0;
    FILE *out = open_memstream(&generated, &len);

    (void)state;
    assert_non_null(out);
    config_print_env_example(out);
    fclose(out);
    snprintf(path, sizeof(path), "%s/.env.example", g_source_dir);
    committed = read_all(path);
    same = committed != NULL && strcmp(committed, generated) == 0;
    free(committed);
    if (!same) {
        free(generated);
        fail_msg("%s differs from config_print_env_example(): regenerate it from the table in "
                 "src/config/config_int.h",
                 path);
    }
    /* And it loads: every line is a comment. */
    write_env(generated);
    {
        struct config cfg;
        struct mw_error e;
        assert_int_equal(load(&cfg, NULL, NULL, &e), 0);
        config_fini(&cfg);
    }
    free(generated);
}

/* The row of docs/configuration.md for s: | `ENV` | `--flag` | `default` | accepted | help | */
static void doc_row(const struct setting *s, char *out, size_t size)
{
    char flag[64];
    char acc[128];
    char acc_md[256];
    char def[128];
    size_t i;
    size_t j = 0;

    setting_flag_name(s, flag, sizeof(flag));
    setting_accepted(s, acc, sizeof(acc));
    for (i = 0; acc[i] != '\0' && j + 2 < sizeof(acc_md); i++) {
        if (acc[i] == '|')
            acc_md[j++] = '\\';
        acc_md[j++] = acc[i];
    }
    acc_md[j] = '\0';
    if (s->def != NULL)
        snprintf(def, sizeof(def), "`%s`", s->def);
    else
        snprintf(def, sizeof(def), "unset");
    snprintf(out, size, "| `MODELWRAP_%s` | `%s` | %s | %s | %s |\n", s->name, flag, def, acc_md,
             s->help);
}

static void test_docs_are_current(void **state)
{
    char path[4200];
    char row[1024];
    char *docs;
    size_t i;

    (void)state;
    snprintf(path, sizeof(path), "%s/docs/configuration.md", g_source_dir);
    docs = read_all(path);
    assert_non_null(docs);
    for (i = 0; i < CONFIG_N_SETTINGS; i++) {
        doc_row(&config_settings[i], row, sizeof(row));
        if (strstr(docs, row) == NULL) {
            free(docs);
            fail_msg("docs/configuration.md lacks the row: %s", row);
        }
    }
    free(docs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_defaults, test_teardown),
        cmocka_unit_test_teardown(test_precedence, test_teardown),
        cmocka_unit_test_teardown(test_first_arg, test_teardown),
        cmocka_unit_test_teardown(test_port, test_teardown),
        cmocka_unit_test_teardown(test_uint, test_teardown),
        cmocka_unit_test_teardown(test_size, test_teardown),
        cmocka_unit_test_teardown(test_enum, test_teardown),
        cmocka_unit_test_teardown(test_string, test_teardown),
        cmocka_unit_test_teardown(test_bool, test_teardown),
        cmocka_unit_test_teardown(test_secret_redacted, test_teardown),
        cmocka_unit_test_teardown(test_unknown_names, test_teardown),
        cmocka_unit_test_teardown(test_env_file, test_teardown),
        cmocka_unit_test_teardown(test_env_file_size_limit, test_teardown),
        cmocka_unit_test_teardown(test_print, test_teardown),
        cmocka_unit_test_teardown(test_help, test_teardown),
        cmocka_unit_test_teardown(test_env_example_is_current, test_teardown),
        cmocka_unit_test_teardown(test_docs_are_current, test_teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
