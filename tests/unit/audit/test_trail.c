/*
 * Unit tests for src/audit/audit.c and sink.c: the ring and its writer with real sinks (files,
 * /dev/full, TCP and UDP syslog collectors run by the test): nothing lost under concurrency and
 * back-pressure, the block and fail-closed policies, re-sending after a collector restart, log
 * rotation, whole lines after a crash, the security-only sink and the settings' checks.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "audit/audit.h"

static char g_dir[256];

/* ---- helpers ----------------------------------------------------------------------------------
 */

static void path_in_dir(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", g_dir, name);
}

/* Loads a configuration from flags (no .env) and starts a trail; NULL with e on failure. */
static struct audit *start_trail(struct mw_error *e, ...)
{
    char *argv[64];
    char *envp[] = {NULL};
    struct config cfg;
    struct audit *a;
    va_list ap;
    int argc = 0;

    argv[argc++] = "--env-file=";
    argv[argc++] = "--log-level=error";
    va_start(ap, e);
    for (char *s = va_arg(ap, char *); s != NULL; s = va_arg(ap, char *))
        argv[argc++] = s;
    va_end(ap);
    assert_int_equal(config_load(&cfg, argc, argv, 0, envp, e), 0);
    a = audit_new(&cfg, e);
    config_fini(&cfg);
    return a;
}

static void make_record(struct audit_record *r, int i, int kind)
{
    memset(r, 0, sizeof(*r));
    r->kind = kind;
    r->sig = kind == AUDIT_EVENT ? AUDIT_EV_PROBING : AUDIT_SIG_OK;
    r->status = 200;
    r->time_ms = 1764264101123ull + (uint64_t)i;
    r->outcome = "ok";
    snprintf(r->request_id, sizeof(r->request_id), "r-%d", i);
    snprintf(r->method, sizeof(r->method), "%s", "GET");
    snprintf(r->path, sizeof(r->path), "%s", "/api/v1/models");
    snprintf(r->client, sizeof(r->client), "%s", "127.0.0.1");
}

/* The number in a request id "r-<n>" (-1 when malformed). */
static int id_of(const char *s)
{
    char *end = NULL;
    long v;
    if (s == NULL || strncmp(s, "r-", 2) != 0)
        return -1;
    v = strtol(s + 2, &end, 10);
    return end != s + 2 ? (int)v : -1;
}

static struct audit_stats stats(struct audit *a)
{
    struct audit_stats s;
    audit_get_stats(a, &s);
    return s;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Polls until the trail has written `n` records (or 10 s pass). */
static void wait_written(struct audit *a, uint64_t n)
{
    for (int i = 0; i < 2000; i++) {
        struct audit_stats s = stats(a);
        if (s.written >= n && s.pending == 0)
            return;
        sleep_ms(5);
    }
    struct audit_stats s = stats(a);
    fail_msg("written %llu of %llu (pending %llu, failed %llu)", (unsigned long long)s.written,
             (unsigned long long)n, (unsigned long long)s.pending, (unsigned long long)s.failed);
}

/* Reads a file into a malloc'ed NUL-terminated string. */
static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *data;
    long n;
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    data = malloc((size_t)n + 1);
    assert_int_equal(fread(data, 1, (size_t)n, f), (size_t)n);
    data[n] = '\0';
    fclose(f);
    if (len)
        *len = (size_t)n;
    return data;
}

/* Checks a JSON-lines audit file: every line whole and valid; returns the request ids found
 * (seen[i] counts "r-i"). */
static size_t check_json_lines(const char *path, int *seen, int max)
{
    size_t len, lines = 0;
    char *data = slurp(path, &len);
    char *p = data;
    assert_true(len == 0 || data[len - 1] == '\n');
    while (*p) {
        char *nl = strchr(p, '\n');
        json_error_t jerr;
        json_t *o;
        assert_non_null(nl);
        o = json_loadb(p, (size_t)(nl - p), 0, &jerr);
        if (o == NULL)
            fail_msg("%s: line %zu is not JSON: %s", path, lines + 1, jerr.text);
        int i = id_of(json_string_value(json_object_get(o, "request_id")));
        assert_true(i >= 0);
        if (seen != NULL && i >= 0 && i < max)
            seen[i]++;
        json_decref(o);
        lines++;
        p = nl + 1;
    }
    free(data);
    return lines;
}

/* ---- files ------------------------------------------------------------------------------------
 */

struct producer {
    struct audit *a;
    int first, n;
};

static void *produce(void *arg)
{
    struct producer *p = arg;
    struct audit_record r;
    for (int i = p->first; i < p->first + p->n; i++) {
        make_record(&r, i, AUDIT_REQUEST);
        assert_int_equal(audit_emit(p->a, &r), 0);
    }
    return NULL;
}

static void test_file_many_threads(void **state)
{
    enum { THREADS = 4, EACH = 5000, TOTAL = THREADS * EACH };
    char path[300];
    struct mw_error e = {0};
    struct producer p[THREADS];
    pthread_t t[THREADS];
    static int seen[TOTAL];

    (void)state;
    path_in_dir(path, sizeof(path), "many.log");
    /* a small ring: the producers must wait for the writer (block policy) */
    struct audit *a = start_trail(&e, "--audit-log", path, "--audit-queue-size", "64", NULL);
    assert_non_null(a);
    assert_true(audit_admit(a));
    for (int i = 0; i < THREADS; i++) {
        p[i] = (struct producer){a, i * EACH, EACH};
        assert_int_equal(pthread_create(&t[i], NULL, produce, &p[i]), 0);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    wait_written(a, TOTAL);
    struct audit_stats s = stats(a);
    assert_int_equal(s.written, TOTAL);
    assert_int_equal(s.dropped, 0);
    assert_int_equal(s.failed, 0);
    assert_int_equal(s.sinks, 1);
    audit_free(a);
    memset(seen, 0, sizeof(seen));
    assert_int_equal(check_json_lines(path, seen, TOTAL), TOTAL);
    for (int i = 0; i < TOTAL; i++)
        if (seen[i] != 1)
            fail_msg("record r-%d written %d times", i, seen[i]);
}

static void test_cef_file_and_fsync_always(void **state)
{
    char path[300];
    struct mw_error e = {0};
    struct audit_record r;
    size_t len;

    (void)state;
    path_in_dir(path, sizeof(path), "cef.log");
    struct audit *a = start_trail(&e, "--audit-log", path, "--audit-format", "cef", "--audit-fsync",
                                  "always", NULL);
    assert_non_null(a);
    for (int i = 0; i < 10; i++) {
        make_record(&r, i, i == 9 ? AUDIT_EVENT : AUDIT_REQUEST);
        assert_int_equal(audit_emit(a, &r), 0);
    }
    audit_free(a); /* flushes */
    char *data = slurp(path, &len);
    int lines = 0;
    for (char *p = data; *p; lines++) {
        char *nl = strchr(p, '\n');
        assert_non_null(nl);
        assert_int_equal(strncmp(p, "CEF:0|modelwrap|modelwrap|", 26), 0);
        p = nl + 1;
    }
    assert_int_equal(lines, 10);
    assert_non_null(strstr(data, "|260|Path probing|6|"));
    assert_non_null(strstr(data, "externalId=r-9"));
    free(data);
}

static void test_partial_tail_is_cut(void **state)
{
    char path[300];
    struct mw_error e = {0};
    struct audit_record r;
    FILE *f;

    (void)state;
    path_in_dir(path, sizeof(path), "crash.log");
    f = fopen(path, "w");
    fputs("{\"request_id\":\"r-100\"}\n{\"request_id\":\"r-1", f); /* killed mid-line */
    fclose(f);
    struct audit *a = start_trail(&e, "--audit-log", path, NULL);
    assert_non_null(a);
    make_record(&r, 7, AUDIT_REQUEST);
    assert_int_equal(audit_emit(a, &r), 0);
    audit_free(a);
    int seen[200] = {0};
    assert_int_equal(check_json_lines(path, seen, 200), 2);
    assert_int_equal(seen[100], 1);
    assert_int_equal(seen[7], 1);
}

static void test_reopen_for_rotation(void **state)
{
    char path[300], rotated[320];
    struct mw_error e = {0};
    struct audit_record r;
    int seen[10] = {0};

    (void)state;
    path_in_dir(path, sizeof(path), "rotate.log");
    snprintf(rotated, sizeof(rotated), "%s.1", path);
    struct audit *a = start_trail(&e, "--audit-log", path, NULL);
    assert_non_null(a);
    for (int i = 0; i < 5; i++) {
        make_record(&r, i, AUDIT_REQUEST);
        audit_emit(a, &r);
    }
    wait_written(a, 5);
    assert_int_equal(rename(path, rotated), 0);
    audit_reopen(a);
    /* the writer reopens before its next batch: records from now on go to the new file */
    for (int i = 0; i < 200 && access(path, F_OK) != 0; i++)
        sleep_ms(5);
    assert_int_equal(access(path, F_OK), 0);
    for (int i = 5; i < 10; i++) {
        make_record(&r, i, AUDIT_REQUEST);
        audit_emit(a, &r);
    }
    audit_free(a);
    assert_int_equal(check_json_lines(rotated, seen, 10), 5);
    assert_int_equal(check_json_lines(path, seen, 10), 5);
    for (int i = 0; i < 10; i++)
        assert_int_equal(seen[i], 1);
}

static void test_fail_closed_on_dev_full(void **state)
{
    struct mw_error e = {0};
    struct audit_record r;

    (void)state;
    struct audit *a = start_trail(&e, "--audit-log", "/dev/full", "--audit-policy", "fail-closed",
                                  "--audit-queue-size", "16", "--audit-flush-timeout", "0", NULL);
    assert_non_null(a);
    assert_true(audit_admit(a));
    make_record(&r, 0, AUDIT_REQUEST);
    assert_int_equal(audit_emit(a, &r), 0);
    for (int i = 0; i < 2000 && audit_admit(a); i++)
        sleep_ms(5);
    assert_false(audit_admit(a)); /* the sink fails: new requests are refused */
    struct audit_stats s = stats(a);
    assert_int_equal(s.sinks_failing, 1);
    assert_true(s.failed >= 1);
    assert_int_equal(s.pending, 1); /* kept for a retry, not dropped */
    assert_int_equal(s.written, 0);
    /* the ring fills (records of requests already in flight) and then drops, counted */
    for (int i = 1; i < 16; i++) {
        make_record(&r, i, AUDIT_REQUEST);
        assert_int_equal(audit_emit(a, &r), 0);
    }
    make_record(&r, 16, AUDIT_REQUEST);
    assert_int_equal(audit_emit(a, &r), MWE_OVERLOADED);
    s = stats(a);
    assert_int_equal(s.dropped, 1);
    assert_int_equal(s.pending, 16);
    audit_free(a); /* flush timeout 0: gives up at once, counting the 16 as dropped */
}

struct blocked {
    struct audit *a;
    atomic_int done;
    int rc;
};

static void *emit_one(void *arg)
{
    struct blocked *b = arg;
    struct audit_record r;
    make_record(&r, 99, AUDIT_REQUEST);
    b->rc = audit_emit(b->a, &r);
    atomic_store(&b->done, 1);
    return NULL;
}

static void test_block_policy_back_pressure(void **state)
{
    struct mw_error e = {0};
    struct audit_record r;
    struct blocked b;
    pthread_t t;

    (void)state;
    struct audit *a = start_trail(&e, "--audit-log", "/dev/full", "--audit-queue-size", "16",
                                  "--audit-flush-timeout", "1", NULL);
    assert_non_null(a);
    for (int i = 0; i < 16; i++) {
        make_record(&r, i, AUDIT_REQUEST);
        assert_int_equal(audit_emit(a, &r), 0);
    }
    assert_true(audit_admit(a)); /* block policy never refuses */
    b.a = a;
    atomic_store(&b.done, 0);
    assert_int_equal(pthread_create(&t, NULL, emit_one, &b), 0);
    sleep_ms(300);
    assert_int_equal(atomic_load(&b.done), 0); /* waits for room */
    uint64_t t0 = (uint64_t)time(NULL);
    audit_shutdown(a); /* from now on it waits at most the flush timeout (1 s) */
    pthread_join(t, NULL);
    assert_true((uint64_t)time(NULL) - t0 <= 3);
    assert_int_equal(b.rc, MWE_OVERLOADED);
    struct audit_stats s = stats(a);
    assert_int_equal(s.dropped, 1);
    assert_int_equal(s.pending, 16);
    assert_true(s.failed >= 1);
    audit_free(a);
}

static void test_security_sink(void **state)
{
    char main_log[300], sec_log[300], both[700];
    struct mw_error e = {0};
    struct audit_record r;

    (void)state;
    path_in_dir(main_log, sizeof(main_log), "main.log");
    path_in_dir(sec_log, sizeof(sec_log), "security.log");
    snprintf(both, sizeof(both), "%s, %s", sec_log, main_log); /* main.log again: dropped */
    struct audit *a = start_trail(&e, "--audit-log", main_log, "--audit-security-log", both, NULL);
    assert_non_null(a);
    assert_int_equal(stats(a).sinks, 2);
    for (int i = 0; i < 4; i++) {
        make_record(&r, i, i == 2 ? AUDIT_EVENT : AUDIT_REQUEST);
        assert_int_equal(audit_emit(a, &r), 0);
    }
    audit_free(a);
    int seen[4] = {0};
    assert_int_equal(check_json_lines(main_log, seen, 4), 4);
    memset(seen, 0, sizeof(seen));
    assert_int_equal(check_json_lines(sec_log, seen, 4), 1);
    assert_int_equal(seen[2], 1);

    /* A failing security sink does not hold the request records back. */
    unlink(main_log);
    a = start_trail(&e, "--audit-log", main_log, "--audit-security-log", "/dev/full",
                    "--audit-queue-size", "16", "--audit-flush-timeout", "0", NULL);
    assert_non_null(a);
    for (int i = 0; i < 100; i++) {
        make_record(&r, i, AUDIT_REQUEST);
        assert_int_equal(audit_emit(a, &r), 0);
    }
    wait_written(a, 100);
    make_record(&r, 100, AUDIT_EVENT);
    assert_int_equal(audit_emit(a, &r), 0);
    for (int i = 0; i < 2000 && stats(a).sinks_failing == 0; i++)
        sleep_ms(5);
    assert_int_equal(stats(a).sinks_failing, 1);
    audit_free(a);
    assert_int_equal(check_json_lines(main_log, NULL, 0), 101);
}

/* ---- syslog collectors ------------------------------------------------------------------------
 */

static int listen_tcp(uint16_t *port)
{
    struct sockaddr_in sa = {0};
    socklen_t len = sizeof(sa);
    int one = 1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = htons(*port);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(fd, 8), 0);
    getsockname(fd, (struct sockaddr *)&sa, &len);
    *port = ntohs(sa.sin_port);
    return fd;
}

/* Reads octet-counted frames from fd until `want` frames arrived or 10 s passed; counts the
 * request ids of their JSON messages into seen. Returns the frames read. */
static int read_frames(int fd, int want, int *seen, int max)
{
    static char buf[1 << 20];
    size_t have = 0;
    int frames = 0;
    for (int rounds = 0; frames < want && rounds < 1000; rounds++) {
        struct pollfd pfd = {fd, POLLIN, 0};
        if (poll(&pfd, 1, 10) <= 0)
            continue;
        ssize_t n = read(fd, buf + have, sizeof(buf) - have - 1);
        if (n <= 0)
            break;
        have += (size_t)n;
        for (;;) {
            char *sp = memchr(buf, ' ', have);
            if (sp == NULL)
                break;
            size_t flen = 0;
            for (char *p = buf; p < sp; p++) {
                assert_true(*p >= '0' && *p <= '9');
                flen = flen * 10 + (size_t)(*p - '0');
            }
            size_t total = (size_t)(sp - buf) + 1 + flen;
            if (have < total)
                break;
            /* <PRI>1 TIMESTAMP HOST APP PROCID MSGID SD MSG */
            char *msg = sp + 1;
            assert_int_equal(strncmp(msg, "<110>1 ", 7), 0);
            char *json = strstr(msg, " audit - {");
            assert_non_null(json);
            json += 9;
            json_t *o = json_loadb(json, (size_t)(buf + total - json), 0, NULL);
            assert_non_null(o);
            int id = id_of(json_string_value(json_object_get(o, "request_id")));
            if (id >= 0 && id < max)
                seen[id]++;
            json_decref(o);
            frames++;
            memmove(buf, buf + total, have - total);
            have -= total;
        }
    }
    return frames;
}

static int accept_one(int lfd)
{
    struct pollfd pfd = {lfd, POLLIN, 0};
    assert_int_equal(poll(&pfd, 1, 10000), 1);
    int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    assert_true(fd >= 0);
    return fd;
}

static void test_tcp_syslog_resends_after_restart(void **state)
{
    char spec[64];
    struct mw_error e = {0};
    struct audit_record r;
    uint16_t port = 0;
    static int seen[300];

    (void)state;
    int lfd = listen_tcp(&port);
    snprintf(spec, sizeof(spec), "syslog+tcp://127.0.0.1:%u", (unsigned)port);
    struct audit *a = start_trail(&e, "--audit-log", spec, "--audit-policy", "fail-closed", NULL);
    assert_non_null(a);
    int cfd = accept_one(lfd);
    for (int i = 0; i < 200; i++) {
        make_record(&r, i, AUDIT_REQUEST);
        assert_int_equal(audit_emit(a, &r), 0);
    }
    memset(seen, 0, sizeof(seen));
    assert_int_equal(read_frames(cfd, 200, seen, 300), 200);
    wait_written(a, 200); /* acknowledged by the collector's TCP */
    for (int i = 0; i < 200; i++)
        assert_int_equal(seen[i], 1);

    /* The collector stops: the records wait, the sink fails, fail-closed refuses. */
    close(cfd);
    close(lfd);
    sleep_ms(20); /* let our FIN reach the writer's socket */
    for (int i = 200; i < 250; i++) {
        make_record(&r, i, AUDIT_REQUEST);
        assert_int_equal(audit_emit(a, &r), 0);
    }
    for (int i = 0; i < 2000 && audit_admit(a); i++)
        sleep_ms(5);
    assert_false(audit_admit(a));
    assert_int_equal(stats(a).sinks_failing, 1);
    assert_int_equal(stats(a).pending, 50);

    /* It comes back on the same port: reconnect (backoff) and re-send. */
    lfd = listen_tcp(&port);
    cfd = accept_one(lfd);
    assert_int_equal(read_frames(cfd, 50, seen, 300), 50);
    wait_written(a, 250);
    for (int i = 0; i < 250; i++)
        if (seen[i] != 1)
            fail_msg("record r-%d delivered %d times", i, seen[i]);
    for (int i = 0; i < 2000 && !audit_admit(a); i++)
        sleep_ms(5);
    assert_true(audit_admit(a));
    assert_int_equal(stats(a).sinks_failing, 0);
    audit_free(a);
    close(cfd);
    close(lfd);
}

static void test_tcp_collector_down_at_start(void **state)
{
    char spec[64];
    struct mw_error e = {0};
    uint16_t port = 0;

    (void)state;
    int lfd = listen_tcp(&port);
    close(lfd); /* a port nobody listens on */
    snprintf(spec, sizeof(spec), "syslog+tcp://127.0.0.1:%u", (unsigned)port);
    struct audit *a = start_trail(&e, "--audit-log", spec, "--audit-policy", "fail-closed",
                                  "--audit-flush-timeout", "0", NULL);
    assert_non_null(a); /* starts, but refuses requests until the collector answers */
    assert_false(audit_admit(a));
    audit_free(a);
}

static void test_udp_syslog(void **state)
{
    char spec[64];
    struct mw_error e = {0};
    struct audit_record r;
    struct sockaddr_in sa = {0};
    socklen_t len = sizeof(sa);
    int seen[20] = {0};

    (void)state;
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    getsockname(fd, (struct sockaddr *)&sa, &len);
    snprintf(spec, sizeof(spec), "syslog+udp://127.0.0.1:%u", (unsigned)ntohs(sa.sin_port));
    struct audit *a = start_trail(&e, "--audit-log", spec, "--audit-format", "cef", NULL);
    assert_non_null(a);
    for (int i = 0; i < 20; i++) {
        make_record(&r, i, AUDIT_REQUEST);
        assert_int_equal(audit_emit(a, &r), 0);
    }
    for (int got = 0; got < 20; got++) {
        char buf[8192];
        struct pollfd pfd = {fd, POLLIN, 0};
        assert_int_equal(poll(&pfd, 1, 10000), 1);
        ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);
        assert_true(n > 0);
        buf[n] = '\0';
        assert_int_equal(strncmp(buf, "<110>1 2025-11-27T17:21:41.", 27), 0); /* no octet count */
        char *cef = strstr(buf, " audit - CEF:0|modelwrap|");
        assert_non_null(cef);
        char *id = strstr(cef, "externalId=r-");
        assert_non_null(id);
        int i = id_of(id + 11);
        assert_true(i >= 0 && i < 20);
        seen[i]++;
    }
    for (int i = 0; i < 20; i++)
        assert_int_equal(seen[i], 1);
    audit_free(a);
    close(fd);
}

/* ---- settings ---------------------------------------------------------------------------------
 */

static void check_rejected(const char *flag, const char *value, const char *needle)
{
    char *argv[] = {"--env-file=", (char *)flag, (char *)value};
    char *envp[] = {NULL};
    struct config cfg;
    struct mw_error e = {0};
    assert_int_equal(config_load(&cfg, 3, argv, 0, envp, &e), 0);
    if (audit_config_check(&cfg, &e) != MWE_CONFIG)
        fail_msg("%s %s was accepted", flag, value);
    if (strstr(e.msg, needle) == NULL)
        fail_msg("%s %s: message '%s' lacks '%s'", flag, value, e.msg, needle);
    config_fini(&cfg);
}

static void test_settings(void **state)
{
    char *argv[] = {"--env-file=", "--audit-format", "cef",   "--audit-policy",
                    "fail-closed", "--audit-fsync",  "always"};
    char *envp[] = {NULL};
    struct config cfg;
    struct mw_error e = {0};

    (void)state;
    assert_int_equal(config_load(&cfg, 7, argv, 0, envp, &e), 0);
    assert_int_equal(cfg.audit_format, AUDIT_FORMAT_CEF);
    assert_int_equal(cfg.audit_policy, AUDIT_POLICY_FAIL_CLOSED);
    assert_int_equal(cfg.audit_fsync, AUDIT_FSYNC_ALWAYS);
    assert_string_equal(cfg.audit_log, "stdout");
    assert_string_equal(cfg.audit_timezone, "UTC");
    assert_int_equal(audit_config_check(&cfg, &e), 0);
    config_fini(&cfg);

    check_rejected("--audit-log", "syslog+tcp://collector", "HOST:PORT");
    check_rejected("--audit-log", "syslog+tcp://collector:99999", "HOST:PORT");
    check_rejected("--audit-log", "syslog+udp://::1:514", "HOST:PORT");
    check_rejected("--audit-log", "syslog+tcp://[::1:514", "HOST:PORT");
    check_rejected("--audit-log", "syslog+tcp://a b:514", "HOST:PORT");
    check_rejected("--audit-log", "https://siem.example/x", "unknown scheme");
    check_rejected("--audit-log", "stdout,,/tmp/a", "empty item");
    check_rejected("--audit-log", "stdout, stdout", "listed twice");
    check_rejected("--audit-log", " , ", "MODELWRAP_AUDIT_LOG");
    check_rejected("--audit-security-log", "ftp://x", "MODELWRAP_AUDIT_SECURITY_LOG");
    check_rejected("--audit-business-hours", "weekdays", "MODELWRAP_AUDIT_BUSINESS_HOURS");
    check_rejected("--audit-timezone", "Mars/Olympus_Mons", "MODELWRAP_AUDIT_TIMEZONE");

    /* valid lists, IPv6 in brackets */
    char *ok[] = {"--env-file=",
                  "--audit-log",
                  "stdout , syslog+tcp://[::1]:6514,syslog+udp://localhost:514, ./a.log",
                  "--audit-business-hours",
                  "Mon-Fri 08:00-18:00",
                  "--audit-timezone",
                  "America/Toronto"};
    assert_int_equal(config_load(&cfg, 7, ok, 0, envp, &e), 0);
    if (audit_config_check(&cfg, &e) != 0)
        fail_msg("%s", e.msg);
    config_fini(&cfg);

    /* a file that cannot be opened stops the start */
    struct audit *a = start_trail(&e, "--audit-log", "/nonexistent-dir/audit.log", NULL);
    assert_null(a);
    assert_non_null(strstr(e.msg, "/nonexistent-dir/audit.log"));
}

static int setup(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof(g_dir), "/tmp/mw-audit-test-XXXXXX");
    assert_non_null(mkdtemp(g_dir));
    return 0;
}

static int teardown(void **state)
{
    char cmd[320];
    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_dir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_file_many_threads),
        cmocka_unit_test(test_cef_file_and_fsync_always),
        cmocka_unit_test(test_partial_tail_is_cut),
        cmocka_unit_test(test_reopen_for_rotation),
        cmocka_unit_test(test_fail_closed_on_dev_full),
        cmocka_unit_test(test_block_policy_back_pressure),
        cmocka_unit_test(test_security_sink),
        cmocka_unit_test(test_tcp_syslog_resends_after_restart),
        cmocka_unit_test(test_tcp_collector_down_at_start),
        cmocka_unit_test(test_udp_syslog),
        cmocka_unit_test(test_settings),
    };
    log_set_level(LOG_ERROR);
    return cmocka_run_group_tests(tests, setup, teardown);
}
