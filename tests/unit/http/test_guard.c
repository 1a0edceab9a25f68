/* Unit tests of the connection guard: the server-wide connection count (idle connections closed
 * first), the per-address connection limit (one count across
 * threads, trusted proxies exempt, a bounded table) and the watchdog that shuts down connections
 * whose request is not received in time. Sockets are socketpairs: a shutdown shows as EOF. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "http/http_int.h"

struct sock {
    int ours; /* given to the guard */
    int peer; /* the "client" end */
};

static struct sock sock_new(void)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    return (struct sock){sv[0], sv[1]};
}

static void sock_close(struct sock *s)
{
    close(s->ours);
    close(s->peer);
}

/* Whether the guard shut our end down: the peer then reads EOF at once. */
static bool was_shut(const struct sock *s)
{
    char c;
    struct timeval tv = {0, 100000};
    setsockopt(s->peer, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return recv(s->peer, &c, 1, 0) == 0;
}

static struct sockaddr_storage addr(const char *text)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    if (strchr(text, ':')) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        assert_int_equal(inet_pton(AF_INET6, text, &a->sin6_addr), 1);
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        assert_int_equal(inet_pton(AF_INET, text, &a->sin_addr), 1);
    }
    return ss;
}

static struct http_conn *open_from(struct conn_guard *g, struct sock *s, const char *ip)
{
    struct sockaddr_storage ss = addr(ip);
    *s = sock_new();
    struct http_conn *c = guard_conn_open(g, s->ours, (struct sockaddr *)&ss);
    assert_non_null(c);
    return c;
}

static void cfg_init(struct config *cfg, unsigned per_ip, unsigned max_conn)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->max_connections_per_ip = per_ip;
    cfg->max_connections = max_conn;
    cfg->receive_timeout_s = 1;
    cfg->idle_timeout_s = 1;
}

static void test_per_address_limit(void **state)
{
    struct config cfg;
    struct proxy_list trusted;
    struct mw_error e = {0};
    struct conn_guard *g;
    struct sock s[8];
    struct http_conn *c[8];
    (void)state;

    cfg_init(&cfg, 2, 64);
    assert_int_equal(proxy_list_parse("10.0.0.0/8", &trusted, &e), 0);
    g = guard_new(&cfg, &trusted, &e);
    assert_non_null(g);

    c[0] = open_from(g, &s[0], "192.0.2.1");
    c[1] = open_from(g, &s[1], "::ffff:192.0.2.1"); /* the same client over IPv6 */
    c[2] = open_from(g, &s[2], "192.0.2.1");
    assert_false(c[0]->refused);
    assert_false(c[1]->refused);
    assert_true(c[2]->refused);
    assert_string_equal(c[1]->peer_text, "192.0.2.1");
    assert_false(was_shut(&s[0]));
    assert_true(was_shut(&s[2]));
    assert_int_equal(guard_refused(g), 1);
    /* other addresses and trusted proxies are not affected */
    c[3] = open_from(g, &s[3], "2001:db8::7");
    c[4] = open_from(g, &s[4], "10.1.1.1");
    c[5] = open_from(g, &s[5], "10.1.1.1");
    c[6] = open_from(g, &s[6], "10.1.1.1");
    assert_false(c[3]->refused);
    assert_true(c[4]->trusted_peer);
    assert_false(c[6]->refused);
    /* a closed connection frees its place; a refused one never held one */
    guard_conn_close(g, c[2]);
    c[2] = open_from(g, &s[7], "192.0.2.1");
    assert_true(c[2]->refused);
    guard_conn_close(g, c[2]);
    guard_conn_close(g, c[0]);
    c[0] = open_from(g, &s[0], "192.0.2.1");
    assert_false(c[0]->refused);

    guard_conn_close(g, c[0]);
    guard_conn_close(g, c[1]);
    for (int i = 3; i <= 6; i++)
        guard_conn_close(g, c[i]);
    for (int i = 0; i < 8; i++)
        sock_close(&s[i]);
    guard_free(g);
    proxy_list_fini(&trusted);
}

/* Many addresses opened and closed in a scrambled order: the table's deletions keep every
 * remaining count reachable. */
static void test_table(void **state)
{
    struct config cfg;
    struct mw_error e = {0};
    struct conn_guard *g;
    enum { N = 40 };
    struct sock s[N];
    struct http_conn *c[N];
    char ip[32];
    (void)state;

    cfg_init(&cfg, 1, 32); /* a table of 64 slots */
    g = guard_new(&cfg, NULL, &e);
    assert_non_null(g);
    for (int i = 0; i < N; i++) {
        snprintf(ip, sizeof(ip), "198.51.%d.%d", i % 3, i * 7 % 251);
        c[i] = open_from(g, &s[i], ip);
        assert_false(c[i]->refused);
    }
    for (int k = 0; k < N; k += 2) { /* close every other, from both ends */
        int i = (k * 17) % N;
        guard_conn_close(g, c[i]);
        c[i] = NULL;
    }
    for (int i = 0; i < N; i++) {
        struct sock extra;
        struct http_conn *x;
        snprintf(ip, sizeof(ip), "198.51.%d.%d", i % 3, i * 7 % 251);
        x = open_from(g, &extra, ip);
        /* still open: the limit of 1 holds; closed: the place is free again */
        assert_int_equal(x->refused, c[i] != NULL);
        if (c[i] == NULL)
            c[i] = x;
        else
            guard_conn_close(g, x);
        sock_close(&extra);
    }
    /* a full table refuses instead of overflowing */
    {
        struct sock more[40];
        struct http_conn *m[40];
        int refused = 0;
        for (int i = 0; i < 40; i++) {
            snprintf(ip, sizeof(ip), "203.0.113.%d", i + 1);
            m[i] = open_from(g, &more[i], ip);
            refused += m[i]->refused;
        }
        assert_int_equal(refused, N + 40 - 64);
        for (int i = 0; i < 40; i++) {
            guard_conn_close(g, m[i]);
            sock_close(&more[i]);
        }
    }
    for (int i = 0; i < N; i++) {
        guard_conn_close(g, c[i]);
        sock_close(&s[i]);
    }
    guard_free(g);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void test_watchdog(void **state)
{
    struct config cfg;
    struct mw_error e = {0};
    struct conn_guard *g;
    struct sock idle, headers, body, handling;
    struct http_conn *ci, *ch, *cb, *cx;
    uint64_t t0;
    (void)state;

    cfg_init(&cfg, 100, 64);
    cfg.idle_timeout_s = 2;
    g = guard_new(&cfg, NULL, &e);
    assert_non_null(g);
    t0 = guard_now_ns();
    ci = open_from(g, &idle, "192.0.2.10");
    ch = open_from(g, &headers, "192.0.2.11");
    cb = open_from(g, &body, "192.0.2.12");
    cx = open_from(g, &handling, "192.0.2.13");
    guard_conn_request(ch, 10);
    assert_int_equal(ch->uri_len, 10);
    guard_conn_request(cb, 10);
    guard_conn_phase(cb, CONN_BODY);
    guard_conn_request(cx, 10);
    guard_conn_phase(cx, CONN_HANDLING);
    assert_true(guard_deadline_ns(g, ch) >= t0 + 1000000000ull);

    sleep_ms(600); /* nothing is due yet */
    assert_false(was_shut(&headers));
    sleep_ms(1000); /* headers: 1 s */
    assert_true(was_shut(&headers));
    assert_false(was_shut(&idle));
    assert_false(was_shut(&body));
    sleep_ms(2000); /* request line (idle + receive) and body (receive + idle): 3 s */
    assert_true(was_shut(&idle));
    assert_true(was_shut(&body));
    assert_false(was_shut(&handling)); /* a request being handled has no receive deadline */
    assert_int_equal(guard_closed_slow(g), 3);
    /* a new request restarts the clock */
    guard_conn_idle(cx);
    guard_conn_request(cx, 1);
    sleep_ms(500);
    assert_false(was_shut(&handling));

    guard_conn_close(g, ci);
    guard_conn_close(g, ch);
    guard_conn_close(g, cb);
    guard_conn_close(g, cx);
    sock_close(&idle);
    sock_close(&headers);
    sock_close(&body);
    sock_close(&handling);
    guard_free(g);
}

static void test_log_rate(void **state)
{
    atomic_ullong last;
    (void)state;
    atomic_init(&last, 0);
    assert_true(guard_log_ok(&last, 1000000000ull));
    assert_false(guard_log_ok(&last, 1000000000ull));
    assert_true(guard_log_ok(&last, 0) || guard_log_ok(&last, 0));
}

/* The server-wide count: at the limit the connection idle the longest is shut down to make room
 * (and leaves the count at once); busy connections are never taken; with none idle the new one is
 * refused (over_limit; the caller answers it). Closing gives places back exactly. */
static void test_total_limit_closes_idle_first(void **state)
{
    struct config cfg;
    struct mw_error e = {0};
    struct conn_guard *g;
    struct sock s[6];
    struct http_conn *c[6];
    (void)state;

    cfg_init(&cfg, 100, 3);
    g = guard_new(&cfg, NULL, &e);
    assert_non_null(g);
    c[0] = open_from(g, &s[0], "192.0.2.1");
    c[1] = open_from(g, &s[1], "192.0.2.2");
    c[2] = open_from(g, &s[2], "192.0.2.3");
    assert_int_equal(guard_open(g), 3);
    guard_conn_request(c[1], 1); /* c[1] and c[2] are busy receiving a request */
    guard_conn_request(c[2], 1);
    c[3] = open_from(g, &s[3], "192.0.2.4"); /* takes the place of idle c[0] */
    assert_false(c[3]->refused);
    assert_true(c[0]->evicted);
    assert_true(guard_conn_cut(g, c[0]));
    assert_true(was_shut(&s[0]));
    assert_false(was_shut(&s[1]));
    assert_int_equal(guard_open(g), 3);
    guard_conn_request(c[3], 1);
    c[4] = open_from(g, &s[4], "192.0.2.5"); /* nobody idle: refused */
    assert_true(c[4]->refused);
    assert_true(c[4]->over_limit);
    assert_int_equal(guard_open(g), 3);
    /* the evicted one and the refused one closing change nothing; a busy one closing frees one */
    guard_conn_close(g, c[0]);
    guard_conn_close(g, c[4]);
    assert_int_equal(guard_open(g), 3);
    guard_conn_close(g, c[1]);
    assert_int_equal(guard_open(g), 2);
    c[5] = open_from(g, &s[5], "192.0.2.6");
    assert_false(c[5]->refused);
    assert_false(c[2]->evicted);
    assert_int_equal(guard_open(g), 3);
    guard_conn_close(g, c[2]);
    guard_conn_close(g, c[3]);
    guard_conn_close(g, c[5]);
    assert_int_equal(guard_open(g), 0);
    for (int i = 0; i < 6; i++)
        sock_close(&s[i]);
    guard_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_per_address_limit),
        cmocka_unit_test(test_total_limit_closes_idle_first),
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_watchdog),
        cmocka_unit_test(test_log_rate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
