/*
 * Unit tests for src/limit/redis.c: the Redis URL, and the store against a real redis-server
 * started here on a free loopback port: the script's decisions, key expiry, NOSCRIPT recovery,
 * AUTH, a Unix socket, Redis going away (failure, backoff, one transition) and coming back
 * (recovery, stale connections replaced), and exact counts from several threads.
 */
#include <errno.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "limit/limit.h"

extern char **environ;

/* ---- the URL --------------------------------------------------------------------------------- */

static void url_ok(const char *url, struct limit_redis_target *t)
{
    struct mw_error e = {0};
    if (limit_redis_url_parse(url, t, &e) != 0)
        fail_msg("'%s' refused: %s", url, e.msg);
}

static void url_bad(const char *url, const char *expect)
{
    struct mw_error e = {0};
    struct limit_redis_target t;
    assert_int_equal(limit_redis_url_parse(url, &t, &e), MWE_CONFIG);
    if (!strstr(e.msg, expect))
        fail_msg("'%s': message '%s' lacks '%s'", url, e.msg, expect);
    assert_null(strstr(e.msg, "s3cret")); /* never the password */
    assert_int_equal(t.password[0], '\0');
}

static void test_url(void **state)
{
    struct limit_redis_target t;

    (void)state;
    url_ok("redis://127.0.0.1", &t);
    assert_string_equal(t.host, "127.0.0.1");
    assert_int_equal(t.port, 6379);
    assert_int_equal(t.db, 0);
    assert_string_equal(t.password, "");
    url_ok("redis://cache.internal:6380/2", &t);
    assert_string_equal(t.host, "cache.internal");
    assert_int_equal(t.port, 6380);
    assert_int_equal(t.db, 2);
    url_ok("redis://:s3cret@h:1/", &t);
    assert_string_equal(t.user, "");
    assert_string_equal(t.password, "s3cret");
    assert_int_equal(t.port, 1);
    url_ok("redis://app:p%40ss%3Aw%2Fd@[::1]:7000", &t);
    assert_string_equal(t.user, "app");
    assert_string_equal(t.password, "p@ss:w/d");
    assert_string_equal(t.host, "::1");
    assert_int_equal(t.port, 7000);
    url_ok("unix:///run/redis/redis.sock", &t);
    assert_string_equal(t.unix_path, "/run/redis/redis.sock");
    assert_string_equal(t.host, "");
    url_ok("unix:///run/redis.sock?db=3", &t);
    assert_int_equal(t.db, 3);

    url_bad("http://127.0.0.1", "unknown scheme");
    url_bad("redis://", "host");
    url_bad("redis://h:0", "port");
    url_bad("redis://h:65536", "port");
    url_bad("redis://h:12a", "port");
    url_bad("redis://h/x", "database");
    url_bad("redis://h?x=1", "query");
    url_bad("redis://s3cret@h", "[user]:password");
    url_bad("redis://u:@h", "empty password");
    url_bad("redis://:s3cret%zz@h", "percent");
    url_bad("redis://:s3cret%00@h", "percent");
    url_bad("redis://[zz]:1", "IPv6");
    url_bad("redis://[::1", "IPv6");
    url_bad("redis://h st", "space");
    url_bad("redis://h\x01", "control");
    url_bad("unix://relative.sock", "absolute");
    url_bad("unix:///s.sock?db=x", "db=N");
    url_bad(NULL, "no URL");
}

/* ---- a real redis-server --------------------------------------------------------------------- */

static struct {
    pid_t pid;
    int port;
    char dir[64];
    char sock[96];
} srv;

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static int free_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int port;

    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    port = ntohs(a.sin_port);
    close(fd);
    return port;
}

static redisContext *direct(void)
{
    struct timeval tv = {1, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", srv.port, tv);
    if (c && c->err) {
        redisFree(c);
        c = NULL;
    }
    return c;
}

static void redis_start(void)
{
    char port[16];
    char *argv[] = {"redis-server", "--port",       port,     "--bind",
                    "127.0.0.1",    "--save",       "",       "--appendonly",
                    "no",           "--unixsocket", srv.sock, "--unixsocketperm",
                    "700",          "--dir",        srv.dir,  NULL};
    posix_spawn_file_actions_t fa;
    int i;

    snprintf(port, sizeof(port), "%d", srv.port);
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    if (posix_spawnp(&srv.pid, "redis-server", &fa, NULL, argv, environ) != 0)
        fail_msg("cannot start redis-server (install it: scripts/install-deps.sh test)");
    posix_spawn_file_actions_destroy(&fa);
    for (i = 0; i < 500; i++) {
        redisContext *c = direct();
        if (c) {
            redisReply *r = redisCommand(c, "PING");
            bool ok = r && r->type == REDIS_REPLY_STATUS;
            freeReplyObject(r);
            redisFree(c);
            if (ok)
                return;
        }
        sleep_ms(20);
    }
    fail_msg("redis-server did not answer on port %d", srv.port);
}

static void redis_stop(void)
{
    int st;
    if (srv.pid <= 0)
        return;
    kill(srv.pid, SIGTERM);
    waitpid(srv.pid, &st, 0);
    srv.pid = 0;
}

static int setup(void **state)
{
    (void)state;
    signal(SIGPIPE, SIG_IGN);
    snprintf(srv.dir, sizeof(srv.dir), "/tmp/mw-redis-XXXXXX");
    if (!mkdtemp(srv.dir))
        return -1;
    snprintf(srv.sock, sizeof(srv.sock), "%s/redis.sock", srv.dir);
    srv.port = free_port();
    redis_start();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    redis_stop();
    unlink(srv.sock);
    rmdir(srv.dir);
    return 0;
}

static struct limit_redis *store_new(const char *password, bool unix_socket)
{
    struct limit_redis_opts o;
    struct mw_error e = {0};
    struct limit_redis *r;

    memset(&o, 0, sizeof(o));
    if (unix_socket) {
        snprintf(o.target.unix_path, sizeof(o.target.unix_path), "%s", srv.sock);
    } else {
        snprintf(o.target.host, sizeof(o.target.host), "127.0.0.1");
        o.target.port = (uint16_t)srv.port;
    }
    if (password)
        snprintf(o.target.password, sizeof(o.target.password), "%s", password);
    o.connect_timeout_ms = 500;
    o.timeout_ms = 500;
    o.prefix = "t:";
    r = limit_redis_new(&o, &e);
    assert_non_null(r);
    return r;
}

static int take(struct limit_redis *r, const char *key, const struct gcra *g,
                struct limit_decision *d, int *changed)
{
    char why[256];
    int ch = 0;
    int rc = limit_redis_take(r, key, strlen(key), g, d, &ch, why, sizeof(why));
    if (changed)
        *changed = ch;
    return rc;
}

static void test_decisions(void **state)
{
    struct limit_redis *r = store_new(NULL, false);
    struct limit_decision d;
    struct gcra g;
    redisContext *c;
    redisReply *rep;
    int changed;
    int i;

    (void)state;
    limit_gcra_init(&g, 10, 3);
    for (i = 0; i < 3; i++) {
        assert_int_equal(take(r, "k:1:a", &g, &d, &changed), 0);
        assert_int_equal(changed, 0);
        assert_true(d.allowed);
        assert_int_equal(d.source, LIMIT_SRC_REDIS);
        assert_int_equal(d.limit, 3);
        assert_int_equal(d.remaining, 2 - i);
        assert_true(d.reset_ns > 0 && d.reset_ns <= 300000000u);
    }
    assert_int_equal(take(r, "k:1:a", &g, &d, NULL), 0);
    assert_false(d.allowed);
    assert_int_equal(d.remaining, 0);
    assert_true(d.retry_ns > 0 && d.retry_ns <= 100000000u);
    assert_true(limit_redis_up(r));
    /* The key expires when the bucket is full again: Redis holds active consumers only. */
    c = direct();
    assert_non_null(c);
    rep = redisCommand(c, "PTTL t:k:1:a");
    assert_non_null(rep);
    assert_int_equal(rep->type, REDIS_REPLY_INTEGER);
    assert_true(rep->integer > 0 && rep->integer <= 302);
    freeReplyObject(rep);
    /* SCRIPT FLUSH: the next decision meets NOSCRIPT, loads the script again and succeeds. */
    rep = redisCommand(c, "SCRIPT FLUSH");
    freeReplyObject(rep);
    assert_int_equal(take(r, "k:1:b", &g, &d, &changed), 0);
    assert_true(d.allowed);
    assert_int_equal(changed, 0);
    /* A key of another type is an error of the store, not a crash or a silent allow. */
    rep = redisCommand(c, "HSET t:k:1:w f v");
    freeReplyObject(rep);
    {
        char why[256];
        int ch;
        assert_int_equal(limit_redis_take(r, "k:1:w", 5, &g, &d, &ch, why, sizeof(why)), MWE_IO);
        assert_non_null(strstr(why, "WRONGTYPE"));
        assert_int_equal(ch, -1);
        assert_false(limit_redis_up(r));
        assert_int_equal(take(r, "k:1:c", &g, &d, &ch), 0);
        assert_int_equal(ch, 1);
    }
    redisFree(c);
    limit_redis_free(r);
}

static void test_auth_and_unix(void **state)
{
    struct limit_redis *r;
    struct limit_decision d;
    struct gcra g;
    redisContext *c = direct();
    redisReply *rep;
    char why[256];
    int ch;

    (void)state;
    limit_gcra_init(&g, 1, 1);
    r = store_new(NULL, true);
    assert_int_equal(take(r, "k:1:unix", &g, &d, NULL), 0);
    assert_true(d.allowed);
    limit_redis_free(r);

    assert_non_null(c);
    rep = redisCommand(c, "CONFIG SET requirepass s3cret");
    assert_true(rep && rep->type == REDIS_REPLY_STATUS);
    freeReplyObject(rep);
    r = store_new("s3cret", false);
    assert_int_equal(take(r, "k:1:auth", &g, &d, NULL), 0);
    assert_true(d.allowed);
    limit_redis_free(r);
    r = store_new("wrong", false);
    assert_int_equal(limit_redis_take(r, "k:1:auth", 8, &g, &d, &ch, why, sizeof(why)), MWE_IO);
    assert_non_null(strstr(why, "AUTH"));
    limit_redis_free(r);
    rep = redisCommand(c, "AUTH s3cret");
    freeReplyObject(rep);
    rep = redisCommand(c, "CONFIG SET requirepass %s", "");
    assert_true(rep && rep->type == REDIS_REPLY_STATUS);
    freeReplyObject(rep);
    redisFree(c);
}

static void test_outage_and_recovery(void **state)
{
    struct limit_redis *r = store_new(NULL, false);
    struct limit_decision d;
    struct gcra g;
    int changed = 0;
    int rc = MWE_IO;
    int i;

    (void)state;
    limit_gcra_init(&g, 1000, 1000);
    assert_int_equal(take(r, "k:1:o", &g, &d, &changed), 0);
    redis_stop();
    /* The first decision sees the store go away; the next ones fail without a transition (and,
     * inside the backoff, without trying to connect). */
    assert_int_equal(take(r, "k:1:o", &g, &d, &changed), MWE_IO);
    assert_int_equal(changed, -1);
    assert_false(limit_redis_up(r));
    for (i = 0; i < 50; i++) {
        assert_int_equal(take(r, "k:1:o", &g, &d, &changed), MWE_IO);
        assert_int_equal(changed, 0);
    }
    redis_start();
    /* Back within the backoff (at most 1 s), with exactly one recovery transition. */
    for (i = 0; i < 300 && rc != 0; i++) {
        rc = take(r, "k:1:o", &g, &d, &changed);
        if (rc != 0) {
            assert_int_equal(changed, 0);
            sleep_ms(10);
        }
    }
    assert_int_equal(rc, 0);
    assert_int_equal(changed, 1);
    assert_true(limit_redis_up(r));
    /* A restart behind an open connection: the stale connection is replaced at once, the decision
     * succeeds and nothing is reported. */
    redis_stop();
    redis_start();
    assert_int_equal(take(r, "k:1:o", &g, &d, &changed), 0);
    assert_int_equal(changed, 0);
    assert_true(d.allowed);
    limit_redis_free(r);
}

struct worker_arg {
    struct limit_redis *r;
    const struct gcra *g;
    unsigned allowed;
    unsigned failed;
};

static void *worker(void *p)
{
    struct worker_arg *w = p;
    struct limit_decision d;
    int i;

    for (i = 0; i < 50; i++) {
        if (take(w->r, "k:6:shared", w->g, &d, NULL) != 0)
            w->failed++;
        else
            w->allowed += d.allowed;
    }
    return NULL; /* the thread's connection is freed by the key destructor */
}

static void test_threads_exact(void **state)
{
    struct limit_redis *r = store_new(NULL, false);
    struct worker_arg args[4];
    pthread_t th[4];
    struct gcra g;
    unsigned total = 0;
    int i;

    (void)state;
    limit_gcra_init(&g, 0.01, 60); /* 60 at once, then one per 100 s */
    for (i = 0; i < 4; i++) {
        args[i] = (struct worker_arg){r, &g, 0, 0};
        assert_int_equal(pthread_create(&th[i], NULL, worker, &args[i]), 0);
    }
    for (i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(args[i].failed, 0);
        total += args[i].allowed;
    }
    /* 200 decisions from 4 connections at once: one atomic script each, so exactly 60 pass. */
    assert_int_equal(total, 60);
    limit_redis_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url),
        cmocka_unit_test(test_decisions),
        cmocka_unit_test(test_auth_and_unix),
        cmocka_unit_test(test_threads_exact),
        cmocka_unit_test(test_outage_and_recovery),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
