/*
 * Unit tests for src/limit/limiter.c: the limiter built from the configuration: setting errors,
 * "off", per-consumer overrides, the local store, Redis unreachable in fail-closed and fail-open
 * (the local limit divided by the replica count, one log line per transition), the counters and
 * the global concurrency limit.
 */
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "limit/limit.h"

#define ARGS(...) ((char *[]){"modelwrap", __VA_ARGS__, NULL})

static struct config cfg;

static void load(char **argv)
{
    char *envp[] = {"MODELWRAP_ENV_FILE=", NULL};
    struct mw_error e = {0};
    int argc = 0;

    while (argv[argc])
        argc++;
    if (config_load(&cfg, argc, argv, 1, envp, &e) != 0)
        fail_msg("config: %s", e.msg);
}

static struct limiter *build(char **argv)
{
    struct mw_error e = {0};
    struct limiter *l;

    load(argv);
    l = limit_new(&cfg, &e);
    if (!l)
        fail_msg("limit_new: %s", e.msg);
    return l;
}

static void build_bad(char **argv, const char *expect)
{
    struct mw_error e = {0};

    load(argv);
    assert_null(limit_new(&cfg, &e));
    assert_int_equal(e.code, MWE_CONFIG);
    if (!strstr(e.msg, expect))
        fail_msg("message '%s' lacks '%s'", e.msg, expect);
    assert_null(strstr(e.msg, "hunter2"));
    config_fini(&cfg);
}

static int take(struct limiter *l, const char *key, double rate, unsigned burst,
                struct limit_decision *d)
{
    return limit_take(l, key, strlen(key), rate, burst, d);
}

static int closed_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int port;

    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    port = ntohs(a.sin_port);
    close(fd); /* nobody listens there now: connections are refused at once */
    return port;
}

static void test_bad_settings(void **state)
{
    (void)state;
    build_bad(ARGS("--rate-limit", "100/x"), "MODELWRAP_RATE_LIMIT: '100/x' is not a throughput");
    build_bad(ARGS("--rate-limit", "0/s"), "accepted: N/s");
    build_bad(ARGS("--rate-limit", "-5/s"), "MODELWRAP_RATE_LIMIT");
    build_bad(ARGS("--redis-url", "http://:hunter2@h"), "MODELWRAP_REDIS_URL: unknown scheme");
    build_bad(ARGS("--redis-url", "redis://:hunter2@h:99999"), "MODELWRAP_REDIS_URL: the port");
}

static void test_off_and_overrides(void **state)
{
    struct limiter *l = build(ARGS("--rate-limit", "OFF"));
    struct limit_decision d;
    struct limit_stats st;
    double rate;
    unsigned burst;
    int i;

    (void)state;
    limit_default(l, &rate, &burst);
    assert_true(rate == 0);
    for (i = 0; i < 1000; i++) {
        assert_int_equal(take(l, "a:9:127.0.0.1", 0, 0, &d), 0);
        assert_true(d.allowed);
        assert_int_equal(d.limit, 0);
        assert_int_equal(d.source, LIMIT_SRC_NONE);
    }
    /* A key's own limit applies even when the default is off. */
    assert_int_equal(take(l, "k:3:big", 1, 2, &d), 0);
    assert_true(d.allowed);
    assert_int_equal(d.limit, 2);
    assert_int_equal(take(l, "k:3:big", 1, 2, &d), 0);
    assert_int_equal(take(l, "k:3:big", 1, 2, &d), 0);
    assert_false(d.allowed);
    limit_stats(l, &st);
    assert_string_equal(st.mode, "off");
    assert_int_equal(st.allowed, 2);
    assert_int_equal(st.limited, 1);
    limit_free(l);
    config_fini(&cfg);
}

static void test_local(void **state)
{
    struct limiter *l = build(ARGS("--rate-limit", "2/s", "--rate-burst", "3"));
    struct limit_decision d;
    struct limit_stats st;
    int i;

    (void)state;
    for (i = 0; i < 3; i++) {
        assert_int_equal(take(l, "k:1:a", 0, 0, &d), 0);
        assert_true(d.allowed);
        assert_int_equal(d.source, LIMIT_SRC_LOCAL);
        assert_int_equal(d.limit, 3);
        assert_int_equal(d.remaining, (unsigned)(2 - i));
    }
    assert_int_equal(take(l, "k:1:a", 0, 0, &d), 0);
    assert_false(d.allowed);
    assert_true(d.retry_ns > 0 && d.retry_ns <= 500000000u);
    /* An override: this key may send 5 at once. */
    for (i = 0; i < 5; i++) {
        assert_int_equal(take(l, "k:1:b", 0, 5, &d), 0);
        assert_true(d.allowed);
        assert_int_equal(d.limit, 5);
    }
    assert_int_equal(take(l, "k:1:b", 0, 5, &d), 0);
    assert_false(d.allowed);
    /* NaN or negative overrides fall back to the default. */
    assert_int_equal(take(l, "k:1:c", -1, 0, &d), 0);
    assert_int_equal(d.limit, 3);
    limit_stats(l, &st);
    assert_string_equal(st.mode, "local");
    assert_true(st.store_up);
    assert_int_equal(st.allowed, 9);
    assert_int_equal(st.limited, 2);
    assert_int_equal(st.store_errors, 0);
    limit_free(l);
    config_fini(&cfg);
}

/* Runs fn with stderr sent to a temporary file; returns how many lines contain needle. */
static int count_log_lines(void (*fn)(struct limiter *), struct limiter *l, const char *needle)
{
    char path[] = "/tmp/mw-limiter-log-XXXXXX";
    int fd = mkstemp(path);
    int saved = dup(2);
    char buf[65536];
    ssize_t n;
    int count = 0;
    char *p;

    assert_true(fd >= 0 && saved >= 0);
    dup2(fd, 2);
    fn(l);
    dup2(saved, 2);
    close(saved);
    lseek(fd, 0, SEEK_SET);
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    unlink(path);
    assert_true(n >= 0);
    buf[n] = '\0';
    for (p = buf; (p = strstr(p, needle)) != NULL; p++)
        count++;
    return count;
}

static void closed_decisions(struct limiter *l)
{
    struct limit_decision d;
    int i;

    for (i = 0; i < 20; i++) {
        assert_int_equal(take(l, "k:1:a", 0, 0, &d), MWE_RATE_LIMIT_UNAVAILABLE);
        assert_false(d.allowed);
        assert_int_equal(d.retry_ns, 1000000000u);
    }
}

static void test_fail_closed(void **state)
{
    char url[64];
    struct limiter *l;
    struct limit_stats st;

    (void)state;
    snprintf(url, sizeof(url), "redis://127.0.0.1:%d", closed_port());
    l = build(ARGS("--redis-url", url, "--redis-failure-mode", "fail-closed"));
    assert_int_equal(count_log_lines(closed_decisions, l, "rate-limit store unavailable"), 1);
    limit_stats(l, &st);
    assert_string_equal(st.mode, "redis");
    assert_string_equal(st.failure_mode, "fail-closed");
    assert_false(st.store_up);
    assert_int_equal(st.store_errors, 20);
    assert_int_equal(st.store_rejected, 20);
    assert_int_equal(st.fallback, 0);
    assert_int_equal(st.allowed, 0);
    limit_free(l);
    config_fini(&cfg);
}

static void open_decisions(struct limiter *l)
{
    struct limit_decision d;
    int i;

    /* 40/s with a burst of 8 over 4 replicas: this one allows 2 at once, 10/s. */
    for (i = 0; i < 2; i++) {
        assert_int_equal(take(l, "k:1:a", 0, 0, &d), 0);
        assert_true(d.allowed);
        assert_int_equal(d.source, LIMIT_SRC_FALLBACK);
        assert_int_equal(d.limit, 2);
    }
    assert_int_equal(take(l, "k:1:a", 0, 0, &d), 0);
    assert_false(d.allowed);
    assert_true(d.retry_ns > 0 && d.retry_ns <= 100000000u);
    /* An override is divided the same way: burst 9 over 4 replicas is 3. */
    for (i = 0; i < 3; i++) {
        assert_int_equal(take(l, "k:1:b", 0, 9, &d), 0);
        assert_true(d.allowed);
    }
    assert_int_equal(take(l, "k:1:b", 0, 9, &d), 0);
    assert_false(d.allowed);
}

static void test_fail_open(void **state)
{
    char url[64];
    struct limiter *l;
    struct limit_stats st;

    (void)state;
    snprintf(url, sizeof(url), "redis://127.0.0.1:%d/1", closed_port());
    l = build(ARGS("--redis-url", url, "--rate-limit", "40/s", "--rate-burst", "8",
                   "--redis-replicas", "4", "--redis-connect-timeout-ms", "100"));
    assert_int_equal(count_log_lines(open_decisions, l, "rate-limit store unavailable"), 1);
    limit_stats(l, &st);
    assert_string_equal(st.failure_mode, "fail-open");
    assert_false(st.store_up);
    assert_int_equal(st.store_errors, 7);
    assert_int_equal(st.fallback, 7);
    assert_int_equal(st.store_rejected, 0);
    assert_int_equal(st.allowed, 5);
    assert_int_equal(st.limited, 2);
    limit_free(l);
    config_fini(&cfg);
}

static void test_concurrency(void **state)
{
    struct limiter *l = build(ARGS("--max-concurrency", "2"));
    struct limit_stats st;
    int i;

    (void)state;
    assert_true(limit_enter(l));
    assert_true(limit_enter(l));
    assert_false(limit_enter(l));
    assert_false(limit_enter(l));
    limit_stats(l, &st);
    assert_int_equal(st.in_flight, 2);
    assert_int_equal(st.concurrency_rejected, 2);
    assert_int_equal(st.max_concurrency, 2);
    limit_leave(l);
    assert_true(limit_enter(l));
    limit_leave(l);
    limit_leave(l);
    limit_stats(l, &st);
    assert_int_equal(st.in_flight, 0);
    limit_free(l);
    config_fini(&cfg);

    l = build(ARGS("--max-concurrency", "0"));
    for (i = 0; i < 10000; i++)
        assert_true(limit_enter(l));
    limit_stats(l, &st);
    assert_int_equal(st.concurrency_rejected, 0);
    limit_free(l);
    config_fini(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_settings), cmocka_unit_test(test_off_and_overrides),
        cmocka_unit_test(test_local),        cmocka_unit_test(test_fail_closed),
        cmocka_unit_test(test_fail_open),    cmocka_unit_test(test_concurrency),
    };
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
