/*
 * Debian version comparison (checked against dpkg --compare-versions itself) and the match of an
 * inventory against a security tracker export.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cli/cli_int.h"

static const char *const pairs[][2] = {
    {"1.0", "1.0"},         {"1.0", "1.0-1"},          {"1.0-1", "1.0-2"},
    {"1:1.0", "2.0"},       {"1.0~rc1", "1.0"},        {"1.0~rc1", "1.0~rc2"},
    {"1.0~", "1.0"},        {"1.0~~", "1.0~"},         {"1.0a", "1.0"},
    {"1.0+b1", "1.0"},      {"1.0.1", "1.0a"},         {"2.36-9+deb12u14", "2.36-9+deb12u4"},
    {"2.36-9+deb12u4", "2.36-9+deb12u14"}, {"1:2.66-4+deb12u2", "2.67-1"},
    {"0:1.0", "1.0"},       {"1.0-0", "1.0"},          {"10", "9"},
    {"1.0010", "1.01"},     {"3.7.9-2+deb12u3", "3.7.9-2+deb12u3~bpo"},
    {"7.88.1-10+deb12u5", "7.88.1-10+deb12u12"},   {"1.2.3a~b", "1.2.3a"},
    {"1.0-1ubuntu1", "1.0-1"}, {"2:0.1", "1:9.9"},     {"1.0.", "1.0"},
};

static int dpkg_says(const char *a, const char *b)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "dpkg --compare-versions '%s' lt '%s'", a, b);
    if (system(cmd) == 0)
        return -1;
    snprintf(cmd, sizeof(cmd), "dpkg --compare-versions '%s' eq '%s'", a, b);
    return system(cmd) == 0 ? 0 : 1;
}

static void test_debver_matches_dpkg(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
        int want = dpkg_says(pairs[i][0], pairs[i][1]);
        int got = debver_cmp(pairs[i][0], pairs[i][1]);
        if (want != got)
            fail_msg("%s vs %s: dpkg says %d, debver_cmp %d", pairs[i][0], pairs[i][1], want,
                     got);
        assert_int_equal(debver_cmp(pairs[i][1], pairs[i][0]), -want);
    }
    assert_true(debver_valid("1:2.66-4+deb12u2"));
    assert_false(debver_valid("a1.0"));
    assert_false(debver_valid(":1.0"));
    assert_false(debver_valid("1.0 beta"));
}

static int n_hits;
static char seen[8][64];

static void on_hit(const struct vuln_hit *h, void *ctx)
{
    (void)ctx;
    if (n_hits < 8)
        snprintf(seen[n_hits], sizeof(seen[0]), "%s %s", h->component, h->cve);
    n_hits++;
}

static void test_check(void **state)
{
    json_error_t jerr;
    json_t *sbom = json_loads(
        "{\"components\": ["
        "{\"name\": \"libcap2\", \"purl\": \"pkg:deb/debian/libcap2@1%3A2.66-4\", \"properties\":"
        " [{\"name\": \"debian:source\", \"value\": \"libcap2\"},"
        "  {\"name\": \"debian:source_version\", \"value\": \"1:2.66-4+deb12u2\"}]},"
        "{\"name\": \"libc6\", \"purl\": \"pkg:deb/debian/libc6@2.36-9\", \"properties\":"
        " [{\"name\": \"debian:source\", \"value\": \"glibc\"},"
        "  {\"name\": \"debian:source_version\", \"value\": \"2.36-9+deb12u4\"}]},"
        "{\"name\": \"left-pad\", \"purl\": \"pkg:npm/left-pad@1.0.0\"}]}",
        0, &jerr);
    json_t *tracker = json_loads(
        "{\"glibc\": {"
        "  \"CVE-1\": {\"releases\": {\"bookworm\": {\"status\": \"resolved\", \"fixed_version\":"
        "             \"2.36-9+deb12u14\", \"urgency\": \"medium\"}}},"
        "  \"CVE-2\": {\"releases\": {\"bookworm\": {\"status\": \"resolved\", \"fixed_version\":"
        "             \"2.36-9+deb12u4\", \"urgency\": \"high\"}}},"
        "  \"CVE-3\": {\"releases\": {\"bookworm\": {\"status\": \"open\", \"urgency\":"
        "             \"unimportant\"}}},"
        "  \"CVE-4\": {\"releases\": {\"bookworm\": {\"status\": \"open\", \"urgency\": \"low\"}}},"
        "  \"CVE-5\": {\"releases\": {\"trixie\": {\"status\": \"open\", \"urgency\": \"low\"}}},"
        "  \"CVE-6\": {\"releases\": {\"bookworm\": {\"status\": \"resolved\", \"fixed_version\":"
        "             \"0\", \"urgency\": \"high\"}}}},"
        " \"libcap2\": {"
        "  \"CVE-7\": {\"releases\": {\"bookworm\": {\"status\": \"resolved\", \"fixed_version\":"
        "             \"2.67-1\", \"urgency\": \"high\"}}},"
        "  \"CVE-8\": {\"releases\": {\"bookworm\": {\"status\": \"undetermined\"}}}},"
        " \"left-pad\": {\"CVE-9\": {\"releases\": {\"bookworm\": {\"status\": \"open\"}}}}}",
        0, &jerr);
    json_t *bad = json_loads("[]", 0, &jerr);
    (void)state;

    assert_non_null(sbom);
    assert_non_null(tracker);
    n_hits = 0;
    /* glibc: CVE-1 (deb12u4 < deb12u14, numerically) and CVE-4; not CVE-2 (fixed in the installed
     * version), 3 (unimportant), 5 (another release), 6 (never affected); libcap2's epoch 1 is
     * newer than 2.67-1; undetermined is not open; npm packages are not in Debian's tracker. */
    assert_int_equal(sbom_check(sbom, tracker, "bookworm", on_hit, NULL), 2);
    assert_int_equal(n_hits, 2);
    assert_string_equal(seen[0], "libc6 CVE-1");
    assert_string_equal(seen[1], "libc6 CVE-4");
    assert_int_equal(sbom_check(sbom, tracker, "trixie", NULL, NULL), 1);
    assert_int_equal(sbom_check(sbom, bad, "bookworm", NULL, NULL), -1);
    json_decref(sbom);
    json_decref(tracker);
    json_decref(bad);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_debver_matches_dpkg),
        cmocka_unit_test(test_check),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
