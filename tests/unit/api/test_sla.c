/*
 * Unit tests for src/api/sla.c: validation of the SLA settings (what check-config and start-up
 * refuse, with the setting named) and the SLA document built from the same values the limits
 * enforce.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "api/api.h"

#define ARGS(...) ((char *[]){"modelwrap", __VA_ARGS__, NULL})
#define SUN_0300 INT64_C(1795921200) /* 2026-11-29T03:00:00Z, a Sunday */

static int load(struct config *cfg, char **argv)
{
    char *envp[] = {"MODELWRAP_ENV_FILE=", NULL};
    struct mw_error e = {0};
    int argc = 0;

    while (argv[argc])
        argc++;
    return config_load(cfg, argc, argv, 1, envp, &e);
}

static void check_bad(char **argv, const char *expect)
{
    struct config cfg;
    struct mw_error e = {0};
    struct api a;

    assert_int_equal(load(&cfg, argv), 0);
    assert_int_equal(api_sla_check(&cfg, &e), MWE_CONFIG);
    if (!strstr(e.msg, expect))
        fail_msg("message '%s' lacks '%s'", e.msg, expect);
    /* Start-up refuses the same, and leaves nothing behind. */
    api_init(&a, &cfg, NULL);
    memset(&e, 0, sizeof(e));
    assert_int_equal(api_limits_init(&a, &e), MWE_CONFIG);
    assert_true(strstr(e.msg, expect) != NULL);
    assert_null(a.limiter);
    assert_null(a.sla);
    api_limits_fini(&a);
    config_fini(&cfg);
}

static void test_validation(void **state)
{
    struct config cfg;
    struct mw_error e = {0};

    (void)state;
    assert_int_equal(load(&cfg, ARGS("--sla-availability", "99.99")), 0);
    assert_int_equal(api_sla_check(&cfg, &e), 0);
    config_fini(&cfg);
    check_bad(ARGS("--sla-availability", "0"), "MODELWRAP_SLA_AVAILABILITY: '0'");
    check_bad(ARGS("--sla-availability", "100.1"), "MODELWRAP_SLA_AVAILABILITY");
    check_bad(ARGS("--sla-availability", "99."), "MODELWRAP_SLA_AVAILABILITY");
    check_bad(ARGS("--sla-availability", ".9"), "MODELWRAP_SLA_AVAILABILITY");
    check_bad(ARGS("--sla-availability", "99.9%"), "MODELWRAP_SLA_AVAILABILITY");
    check_bad(ARGS("--sla-availability", "1e2"), "MODELWRAP_SLA_AVAILABILITY");
    check_bad(ARGS("--sla-outages", "Sun 02:00-04:00"), "MODELWRAP_SLA_OUTAGES: window 1");
    check_bad(ARGS("--sla-support-hours", "2026-01-01T00:00Z/2026-01-02T00:00Z"),
              "MODELWRAP_SLA_SUPPORT_HOURS: window 1");
    check_bad(ARGS("--sla-contact-email", "a@b"), "MODELWRAP_SLA_CONTACT_EMAIL");
    check_bad(ARGS("--sla-contact-email", "a b@example.org"), "MODELWRAP_SLA_CONTACT_EMAIL");
    check_bad(ARGS("--sla-contact-email", "@example.org"), "MODELWRAP_SLA_CONTACT_EMAIL");
    check_bad(ARGS("--sla-contact-url", "example.org"), "MODELWRAP_SLA_CONTACT_URL");
    check_bad(ARGS("--sla-contact-url", "https://"), "MODELWRAP_SLA_CONTACT_URL");
    check_bad(ARGS("--sla-contact-url", "javascript:alert(1)"), "MODELWRAP_SLA_CONTACT_URL");
    check_bad(ARGS("--rate-limit", "fast"), "MODELWRAP_RATE_LIMIT: 'fast'");
    check_bad(ARGS("--redis-url", "redis://h:1/x"), "MODELWRAP_REDIS_URL");
}

static void test_document(void **state)
{
    struct config cfg;
    struct mw_error e = {0};
    struct api a;
    json_t *doc;
    json_t *w;

    (void)state;
    assert_int_equal(
        load(&cfg, ARGS("--rate-limit", "2.5/s", "--rate-burst", "7", "--max-body-bytes", "64k",
                        "--sla-outages", "Sun 02:00-04:00 UTC;Sun 04:00-05:00 UTC",
                        "--sla-contact-name", "Ops", "--sla-contact-url", "https://example.org/ops",
                        "--sla-availability", "99.5", "--redis-url", "redis://127.0.0.1:1")),
        0);
    api_init(&a, &cfg, NULL);
    assert_int_equal(api_limits_init(&a, &e), 0);
    doc = api_sla_document(&a, SUN_0300);
    assert_non_null(doc);
    assert_true(json_real_value(json_object_get(json_object_get(doc, "availability"),
                                                "target_percent")) == 99.5);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(doc, "throughput"), "limit")), "2.5/s");
    assert_true(json_real_value(json_object_get(json_object_get(doc, "throughput"),
                                                "requests_per_second")) == 2.5);
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(doc, "throughput"), "burst")), 7);
    assert_true(json_is_true(
        json_object_get(json_object_get(doc, "throughput"), "shared_across_replicas")));
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(doc, "message_size"), "max_body_bytes")),
        65536);
    assert_true(
        json_is_null(json_object_get(json_object_get(doc, "concurrency"), "max_in_flight")));
    /* Sunday 03:00 is inside the first window, which the second extends to 05:00. */
    w = json_object_get(doc, "scheduled_outages");
    assert_true(json_is_true(json_object_get(w, "in_outage_now")));
    assert_string_equal(json_string_value(json_object_get(w, "until")), "2026-11-29T05:00:00.000Z");
    assert_int_equal(json_array_size(json_object_get(w, "windows")), 2);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(w, "windows"), 0), "next_start")),
                        "2026-11-29T02:00:00.000Z");
    /* Support hours are the default Mon-Fri 09:00-17:00 UTC: closed on a Sunday. */
    assert_true(json_is_false(json_object_get(json_object_get(doc, "support_hours"), "open_now")));
    /* The contact carries only what is set; the OpenAPI contact is the same object. */
    assert_int_equal(json_object_size(json_object_get(doc, "contact")), 2);
    {
        json_t *c = api_sla_contact(&cfg);
        assert_true(json_equal(c, json_object_get(doc, "contact")));
        json_decref(c);
    }
    json_decref(doc);
    api_limits_fini(&a);
    api_limits_fini(&a); /* twice is fine */
    assert_null(api_sla_document(&a, SUN_0300));
    config_fini(&cfg);

    /* Limits off: the document says so. */
    assert_int_equal(load(&cfg, ARGS("--rate-limit", "off", "--sla-support-hours", "")), 0);
    api_init(&a, &cfg, NULL);
    assert_int_equal(api_limits_init(&a, &e), 0);
    doc = api_sla_document(&a, SUN_0300);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(doc, "throughput"), "limit")), "off");
    assert_true(json_is_null(json_object_get(json_object_get(doc, "support_hours"), "schedule")));
    assert_true(
        json_is_false(json_object_get(json_object_get(doc, "scheduled_outages"), "in_outage_now")));
    json_decref(doc);
    api_limits_fini(&a);
    config_fini(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_validation),
        cmocka_unit_test(test_document),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
