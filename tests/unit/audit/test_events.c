/*
 * Unit tests for src/audit/events.c: business hours (parsing, wrap-around, time zones) and the
 * security-event detector: each event fires on its scenario and not on normal traffic, bursts use
 * a sliding window, events are de-duplicated and rate-limited with a summary, threads are safe.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "audit/audit.h"

#define SAT_NOON_MS 1764417600000ull /* 2025-11-29T12:00:00Z, a Saturday */
#define WED_10_MS 1764151200000ull   /* 2025-11-26T10:00:00Z, a Wednesday */

static void base_opts(struct audit_events_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->burst_window_s = 60;
    o->dedup_window_s = 300;
    o->per_minute = 1000;
}

static void request(struct audit_record *r, const char *client, int status, uint64_t t_ms)
{
    memset(r, 0, sizeof(*r));
    r->kind = AUDIT_REQUEST;
    r->status = status;
    r->time_ms = t_ms;
    r->outcome = status < 400 ? "ok" : "refused";
    r->route = "v1_predict";
    r->scope = "predict";
    snprintf(r->client, sizeof(r->client), "%s", client);
    snprintf(r->request_id, sizeof(r->request_id), "req-%s-%d", client, status);
    snprintf(r->path, sizeof(r->path), "%s", "/api/v1/predict");
}

/* Runs the detector on r at now and returns the number of events; out gets them. */
static size_t check(struct audit_events *ev, const struct audit_record *r, uint64_t now,
                    struct audit_record *out)
{
    return audit_events_check(ev, r, now, out);
}

/* ---- business hours ---------------------------------------------------------------------------
 */

static void test_hours_parse_and_contains(void **state)
{
    struct audit_hours h;
    struct mw_error e = {0};

    (void)state;
    assert_int_equal(audit_hours_parse(&h, NULL, &e), 0);
    assert_false(h.set);
    assert_true(audit_hours_contains(&h, 6, 3, 0)); /* not set: always business hours */

    assert_int_equal(audit_hours_parse(&h, "Mon-Fri 08:00-18:00", &e), 0);
    assert_true(h.set);
    assert_true(audit_hours_contains(&h, 3, 10, 0));  /* Wed 10:00 */
    assert_true(audit_hours_contains(&h, 1, 8, 0));   /* Mon 08:00 */
    assert_false(audit_hours_contains(&h, 1, 7, 59)); /* Mon 07:59 */
    assert_true(audit_hours_contains(&h, 5, 17, 59)); /* Fri 17:59 */
    assert_false(audit_hours_contains(&h, 5, 18, 0)); /* end is exclusive */
    assert_false(audit_hours_contains(&h, 6, 12, 0)); /* Sat */
    assert_false(audit_hours_contains(&h, 0, 12, 0)); /* Sun */
    assert_false(audit_hours_contains(&h, 7, 12, 0)); /* out of range */

    /* overnight: runs into the next day (and Sat into Sun, the week wraps) */
    assert_int_equal(audit_hours_parse(&h, "fri 22:00-06:00;  SAT 23:00-01:00", &e), 0);
    assert_true(audit_hours_contains(&h, 5, 23, 0));
    assert_true(audit_hours_contains(&h, 6, 5, 59));
    assert_false(audit_hours_contains(&h, 6, 6, 0));
    assert_false(audit_hours_contains(&h, 5, 21, 59));
    assert_true(audit_hours_contains(&h, 6, 23, 30));
    assert_true(audit_hours_contains(&h, 0, 0, 30));
    assert_false(audit_hours_contains(&h, 0, 1, 0));

    /* day lists, wrapping day ranges, 24:00 */
    assert_int_equal(audit_hours_parse(&h, "Mon,Wed 09:00-10:00; Sat-Mon 10:00-24:00;", &e), 0);
    assert_true(audit_hours_contains(&h, 1, 9, 30));
    assert_false(audit_hours_contains(&h, 2, 9, 30));
    assert_true(audit_hours_contains(&h, 3, 9, 0));
    assert_true(audit_hours_contains(&h, 0, 23, 59)); /* Sun in Sat-Mon */
    assert_true(audit_hours_contains(&h, 1, 23, 59));
    assert_false(audit_hours_contains(&h, 2, 10, 0));

    static const char *const bad[] = {
        "Mon-Fri",           "Mon-Fri 8:00-18:00", "Mon-Fri 08:00-18:60", "Mon-Fri 08:00-25:00",
        "Moo 08:00-18:00",   "Mon-Fri 08:00",      "Mon-Fri 08:00-08:00", "Mon 24:00-01:00",
        "Mon 08:00-09:00 x", "Mon- 08:00-09:00",   "08:00-09:00",         "Mon 08:00-24:01",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        e.msg[0] = '\0';
        if (audit_hours_parse(&h, bad[i], &e) != MWE_CONFIG)
            fail_msg("accepted '%s'", bad[i]);
        assert_false(h.set);
        assert_true(strlen(e.msg) > 0);
    }
}

static void test_hours_time_zone(void **state)
{
    struct audit_hours h;
    struct mw_error e = {0};

    (void)state;
    assert_int_equal(audit_hours_parse(&h, "Mon-Fri 08:00-18:00", &e), 0);
    /* the process runs with TZ=UTC (main) */
    assert_false(audit_hours_contains_time(&h, (time_t)(SAT_NOON_MS / 1000)));
    assert_true(audit_hours_contains_time(&h, (time_t)(WED_10_MS / 1000)));
    assert_false(audit_hours_contains_time(&h, (time_t)(WED_10_MS / 1000 + 8 * 3600)));
    /* the per-thread cache of the minute is per parse: re-parsing the same struct changes it */
    assert_false(audit_hours_contains_time(&h, (time_t)(SAT_NOON_MS / 1000)));
    assert_int_equal(audit_hours_parse(&h, "Sat 11:00-13:00", &e), 0);
    assert_true(audit_hours_contains_time(&h, (time_t)(SAT_NOON_MS / 1000)));
    assert_true(audit_hours_contains_time(&h, (time_t)(SAT_NOON_MS / 1000 + 59)));
    assert_false(audit_hours_contains_time(&h, (time_t)(SAT_NOON_MS / 1000 + 3600)));
    /* another zone: noon UTC on Saturday is 07:00 in Toronto (EST, UTC-5) */
    setenv("TZ", "America/Toronto", 1);
    tzset();
    assert_int_equal(audit_hours_parse(&h, "Sat 06:00-08:00", &e), 0);
    assert_true(audit_hours_contains_time(&h, (time_t)(SAT_NOON_MS / 1000)));
    assert_false(audit_hours_contains_time(&h, (time_t)(SAT_NOON_MS / 1000 + 3600)));
    setenv("TZ", "UTC", 1);
    tzset();

    assert_int_equal(audit_timezone_check("UTC", &e), 0);
    assert_int_equal(audit_timezone_check("America/Toronto", &e), 0);
    assert_int_equal(audit_timezone_check("Europe/Paris", &e), 0);
    static const char *const bad[] = {"Nowhere/Atlantis", "../../etc/passwd", "/etc/passwd",
                                      "America//Toronto", "UTC;rm",           "",
                                      "America"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        e.msg[0] = '\0';
        if (audit_timezone_check(bad[i], &e) != MWE_CONFIG)
            fail_msg("accepted time zone '%s'", bad[i]);
        assert_non_null(strstr(e.msg, "MODELWRAP_AUDIT_TIMEZONE"));
    }
}

/* ---- the detector -----------------------------------------------------------------------------
 */

static void test_normal_traffic_raises_nothing(void **state)
{
    struct audit_events_opts o;
    struct audit_events *ev;
    struct audit_record r, out[AUDIT_EVENTS_MAX_PER_CHECK];
    struct mw_error e = {0};

    (void)state;
    base_opts(&o);
    o.auth_failures = 5;
    o.probe_404s = 5;
    o.large_bytes = 100000;
    o.large_records = 100;
    assert_int_equal(audit_hours_parse(&o.hours, "Mon-Fri 08:00-18:00", &e), 0);
    ev = audit_events_new(&o);
    assert_non_null(ev);
    for (int i = 0; i < 5000; i++) {
        uint64_t t = WED_10_MS + (uint64_t)i * 100;
        request(&r, i % 2 ? "10.0.0.1" : "10.0.0.2", i % 500 == 0 ? 404 : 200, t);
        r.bytes_in = 5000;
        r.records = 10;
        if (i % 1000 == 7) {
            r.status = 401; /* a rare failed login is not a burst */
            r.outcome = "auth.invalid_key";
        }
        assert_int_equal(check(ev, &r, t, out), 0);
    }
    /* health probes after hours are not "use" */
    request(&r, "10.0.0.3", 200, SAT_NOON_MS);
    r.scope = NULL;
    r.route = "v1_health";
    assert_int_equal(check(ev, &r, SAT_NOON_MS, out), 0);
    /* neither is a refused request */
    request(&r, "10.0.0.3", 403, SAT_NOON_MS);
    assert_int_equal(check(ev, &r, SAT_NOON_MS, out), 0);
    /* events are not checked again */
    request(&r, "10.0.0.3", 200, SAT_NOON_MS);
    r.kind = AUDIT_EVENT;
    assert_int_equal(check(ev, &r, SAT_NOON_MS, out), 0);
    assert_int_equal(audit_events_suppressed(ev), 0);
    audit_events_free(ev);
}

static void test_auth_failure_bursts(void **state)
{
    struct audit_events_opts o;
    struct audit_events *ev;
    struct audit_record r, out[AUDIT_EVENTS_MAX_PER_CHECK];
    uint64_t t = WED_10_MS;

    (void)state;
    base_opts(&o);
    o.auth_failures = 5;
    ev = audit_events_new(&o);
    /* from one address */
    for (int i = 0; i < 4; i++) {
        request(&r, "198.51.100.7", 401, t + (uint64_t)i * 1000);
        r.outcome = "auth.invalid_key";
        assert_int_equal(check(ev, &r, t + (uint64_t)i * 1000, out), 0);
    }
    request(&r, "198.51.100.7", 401, t + 5000);
    snprintf(r.user_agent, sizeof(r.user_agent), "%s", "attacker/1.0");
    assert_int_equal(check(ev, &r, t + 5000, out), 1);
    assert_int_equal(out[0].kind, AUDIT_EVENT);
    assert_int_equal(out[0].sig, AUDIT_EV_AUTH_BURST_ADDR);
    assert_int_equal(out[0].count, 5);
    assert_int_equal(out[0].threshold, 5);
    assert_int_equal(out[0].window_s, 60);
    assert_int_equal(out[0].time_ms, t + 5000);
    assert_string_equal(out[0].client, "198.51.100.7");
    assert_string_equal(out[0].user_agent, "attacker/1.0"); /* the triggering request's context */
    /* the attack goes on: de-duplicated for the dedup window */
    for (int i = 0; i < 100; i++)
        assert_int_equal(check(ev, &r, t + 6000 + (uint64_t)i * 100, out), 0);
    /* another address is another key */
    for (int i = 0; i < 4; i++) {
        request(&r, "198.51.100.8", 401, t);
        assert_int_equal(check(ev, &r, t + 20000, out), 0);
    }
    assert_int_equal(check(ev, &r, t + 20000, out), 1);
    /* after the dedup window, a new burst is reported again */
    uint64_t later = t + 5000 + 301000;
    request(&r, "198.51.100.7", 401, later);
    size_t n = 0;
    for (int i = 0; i < 5; i++)
        n += check(ev, &r, later + (uint64_t)i, out);
    assert_int_equal(n, 1);
    assert_int_equal(out[0].sig, AUDIT_EV_AUTH_BURST_ADDR);

    /* for one principal, from many addresses */
    for (int i = 0; i < 5; i++) {
        char addr[32];
        snprintf(addr, sizeof(addr), "203.0.113.%d", i + 1);
        request(&r, addr, 401, t);
        r.outcome = "auth.revoked_key";
        snprintf(r.principal_id, sizeof(r.principal_id), "%s", "key-7");
        n = check(ev, &r, t + 100000 + (uint64_t)i, out);
        assert_int_equal(n, i == 4 ? 1 : 0);
    }
    assert_int_equal(out[0].sig, AUDIT_EV_AUTH_BURST_PRINCIPAL);
    assert_string_equal(out[0].principal_id, "key-7");
    audit_events_free(ev);
}

static void test_sliding_window(void **state)
{
    struct audit_events_opts o;
    struct audit_events *ev;
    struct audit_record r, out[AUDIT_EVENTS_MAX_PER_CHECK];

    (void)state;
    base_opts(&o);
    o.auth_failures = 5;
    ev = audit_events_new(&o);
    /* one failure every 20 s for ten minutes: 3 per minute, never a burst of 5 */
    for (int i = 0; i < 30; i++) {
        uint64_t t = WED_10_MS + (uint64_t)i * 20000;
        request(&r, "192.0.2.1", 401, t);
        assert_int_equal(check(ev, &r, t, out), 0);
    }
    /* five within ten seconds that straddle a bucket boundary: a burst */
    size_t n = 0;
    uint64_t t0 = WED_10_MS + 30 * 20000 + 55000;
    for (int i = 0; i < 5; i++) {
        request(&r, "192.0.2.1", 401, t0);
        n += check(ev, &r, t0 + (uint64_t)i * 2000, out);
    }
    assert_int_equal(n, 1);
    audit_events_free(ev);
}

static void test_probing(void **state)
{
    struct audit_events_opts o;
    struct audit_events *ev;
    struct audit_record r, out[AUDIT_EVENTS_MAX_PER_CHECK];

    (void)state;
    base_opts(&o);
    o.probe_404s = 20;
    ev = audit_events_new(&o);
    for (int i = 0; i < 19; i++) {
        request(&r, "192.0.2.50", 404, WED_10_MS);
        snprintf(r.path, sizeof(r.path), "/wp-admin/%d.php", i);
        r.route = NULL;
        r.scope = NULL;
        assert_int_equal(check(ev, &r, WED_10_MS + (uint64_t)i * 10, out), 0);
    }
    assert_int_equal(check(ev, &r, WED_10_MS + 500, out), 1);
    assert_int_equal(out[0].sig, AUDIT_EV_PROBING);
    assert_int_equal(out[0].count, 20);
    assert_int_equal(out[0].threshold, 20);
    /* bounded memory: a hundred thousand single 404s from distinct addresses */
    for (int i = 0; i < 100000; i++) {
        char addr[32];
        snprintf(addr, sizeof(addr), "10.%d.%d.%d", (i >> 16) & 255, (i >> 8) & 255, i & 255);
        request(&r, addr, 404, WED_10_MS);
        assert_int_equal(check(ev, &r, WED_10_MS + 1000, out), 0);
    }
    audit_events_free(ev);
}

static void test_single_occurrence_events(void **state)
{
    struct audit_events_opts o;
    struct audit_events *ev;
    struct audit_record r, out[AUDIT_EVENTS_MAX_PER_CHECK];
    uint64_t t = WED_10_MS;

    (void)state;
    base_opts(&o);
    o.large_bytes = 1000;
    o.large_records = 50;
    ev = audit_events_new(&o);

    request(&r, "192.0.2.9", 200, t);
    r.bytes_in = 999;
    r.records = 49;
    assert_int_equal(check(ev, &r, t, out), 0);
    r.bytes_in = 1000;
    assert_int_equal(check(ev, &r, t, out), 1);
    assert_int_equal(out[0].sig, AUDIT_EV_LARGE_BYTES);
    assert_int_equal(out[0].count, 1);
    assert_int_equal(out[0].threshold, 1000);
    r.bytes_in = 10;
    r.records = 50;
    assert_int_equal(check(ev, &r, t, out), 1);
    assert_int_equal(out[0].sig, AUDIT_EV_LARGE_RECORDS);
    assert_int_equal(out[0].threshold, 50);
    /* repeated within the dedup window: counted, reported with the next event */
    r.records = 0;
    r.bytes_in = 5000;
    assert_int_equal(check(ev, &r, t + 1000, out), 0);
    assert_int_equal(check(ev, &r, t + 2000, out), 0);
    assert_int_equal(check(ev, &r, t + 301000, out), 1);
    assert_int_equal(out[0].sig, AUDIT_EV_LARGE_BYTES);
    assert_int_equal(out[0].count, 3);
    assert_int_equal(out[0].window_s, 300);

    /* outcomes set by authentication and limits, or the error codes when no outcome is set */
    static const struct {
        const char *outcome;
        int status;
        int sig;
    } cases[] = {
        {"limit.rate", 429, AUDIT_EV_RATE_LIMIT},
        {"rate_limited", 429, AUDIT_EV_RATE_LIMIT},
        {"auth.insufficient_scope", 403, AUDIT_EV_SCOPE},
        {"insufficient_scope", 403, AUDIT_EV_SCOPE},
        {"auth.token_lifetime", 401, AUDIT_EV_TOKEN_LIFETIME},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char who[32];
        snprintf(who, sizeof(who), "principal-%zu", i);
        request(&r, "192.0.2.10", cases[i].status, t);
        r.outcome = cases[i].outcome;
        snprintf(r.principal_id, sizeof(r.principal_id), "%s", who);
        assert_int_equal(check(ev, &r, t, out), 1);
        assert_int_equal(out[0].sig, cases[i].sig);
        assert_string_equal(out[0].principal_id, who);
        /* the same principal again: de-duplicated */
        assert_int_equal(check(ev, &r, t + 10, out), 0);
    }
    /* other refusals are not these events */
    request(&r, "192.0.2.10", 403, t);
    r.outcome = "auth.blocked";
    assert_int_equal(check(ev, &r, t, out), 0);
    audit_events_free(ev);
}

static void test_after_hours(void **state)
{
    struct audit_events_opts o;
    struct audit_events *ev;
    struct audit_record r, out[AUDIT_EVENTS_MAX_PER_CHECK];
    struct mw_error e = {0};

    (void)state;
    base_opts(&o);
    assert_int_equal(audit_hours_parse(&o.hours, "Mon-Fri 08:00-18:00", &e), 0);
    ev = audit_events_new(&o);
    request(&r, "192.0.2.20", 200, WED_10_MS);
    snprintf(r.principal_id, sizeof(r.principal_id), "%s", "analyst");
    assert_int_equal(check(ev, &r, WED_10_MS, out), 0);
    request(&r, "192.0.2.20", 200, SAT_NOON_MS);
    snprintf(r.principal_id, sizeof(r.principal_id), "%s", "analyst");
    assert_int_equal(check(ev, &r, SAT_NOON_MS, out), 1);
    assert_int_equal(out[0].sig, AUDIT_EV_AFTER_HOURS);
    assert_string_equal(out[0].principal_id, "analyst");
    assert_int_equal(check(ev, &r, SAT_NOON_MS + 1000, out), 0); /* dedup */
    snprintf(r.principal_id, sizeof(r.principal_id), "%s", "other");
    assert_int_equal(check(ev, &r, SAT_NOON_MS + 1000, out), 1);
    audit_events_free(ev);
}

static void test_rate_limit_and_summary(void **state)
{
    struct audit_events_opts o;
    struct audit_events *ev;
    struct audit_record r, out[AUDIT_EVENTS_MAX_PER_CHECK];
    size_t n = 0;

    (void)state;
    base_opts(&o);
    o.large_bytes = 10;
    o.per_minute = 3;
    o.dedup_window_s = 0;
    ev = audit_events_new(&o);
    for (int i = 0; i < 10; i++) {
        char addr[32];
        snprintf(addr, sizeof(addr), "192.0.2.%d", 100 + i);
        request(&r, addr, 200, WED_10_MS);
        r.bytes_in = 100;
        n += check(ev, &r, WED_10_MS + (uint64_t)i, out);
    }
    assert_int_equal(n, 3);
    assert_int_equal(audit_events_suppressed(ev), 7);
    /* a minute later the bucket is full again: the next event brings the summary first */
    request(&r, "192.0.2.200", 200, WED_10_MS);
    r.bytes_in = 100;
    n = check(ev, &r, WED_10_MS + 61000, out);
    assert_int_equal(n, 2);
    assert_int_equal(out[0].sig, AUDIT_EV_SUPPRESSED);
    assert_int_equal(out[0].count, 7);
    assert_int_equal(out[1].sig, AUDIT_EV_LARGE_BYTES);
    /* and only once */
    n = check(ev, &r, WED_10_MS + 61001, out);
    assert_int_equal(n, 1);
    assert_int_equal(out[0].sig, AUDIT_EV_LARGE_BYTES);
    audit_events_free(ev);
}

struct hammer {
    struct audit_events *ev;
    int id;
    size_t events;
};

static void *hammer_main(void *arg)
{
    struct hammer *h = arg;
    struct audit_record r, out[AUDIT_EVENTS_MAX_PER_CHECK];
    char addr[32];
    snprintf(addr, sizeof(addr), "10.9.9.%d", h->id);
    for (int i = 0; i < 20000; i++) {
        request(&r, i % 2 ? addr : "10.8.8.8", i % 3 ? 401 : 404, WED_10_MS);
        h->events += audit_events_check(h->ev, &r, WED_10_MS + (uint64_t)i, out);
    }
    return NULL;
}

static void test_threads(void **state)
{
    struct audit_events_opts o;
    struct hammer h[4];
    pthread_t t[4];
    size_t total = 0;

    (void)state;
    base_opts(&o);
    o.auth_failures = 10;
    o.probe_404s = 10;
    struct audit_events *ev = audit_events_new(&o);
    for (int i = 0; i < 4; i++) {
        h[i] = (struct hammer){ev, i, 0};
        assert_int_equal(pthread_create(&t[i], NULL, hammer_main, &h[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        total += h[i].events;
    }
    /* each own address: one auth burst and one probing event; the shared one: one of each */
    assert_int_equal(total, 4 * 2 + 2);
    audit_events_free(ev);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hours_parse_and_contains),
        cmocka_unit_test(test_hours_time_zone),
        cmocka_unit_test(test_normal_traffic_raises_nothing),
        cmocka_unit_test(test_auth_failure_bursts),
        cmocka_unit_test(test_sliding_window),
        cmocka_unit_test(test_probing),
        cmocka_unit_test(test_single_occurrence_events),
        cmocka_unit_test(test_after_hours),
        cmocka_unit_test(test_rate_limit_and_summary),
        cmocka_unit_test(test_threads),
    };
    setenv("TZ", "UTC", 1);
    tzset();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
