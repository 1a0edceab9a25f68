/*
 * libFuzzer target for the business-hours parser of MODELWRAP_AUDIT_BUSINESS_HOURS
 * (audit_hours_parse: "Mon-Fri 08:00-18:00; Sat 10:00-14:00"): the input, cut at its first NUL.
 * A refusal is MWE_CONFIG with a message and leaves nothing set; an accepted non-empty spec sets
 * at least one minute, audit_hours_contains answers from exactly those minutes (and false out of
 * range), and the entries are independent: the minutes of "A; B" are those of A and of B parsed
 * alone. Seeds: fuzz/corpus/hours/.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"

static struct audit_hours whole, first, rest; /* 1.3 KiB each: off the fuzzer's stack */

static void parse(struct audit_hours *h, const char *spec, bool must_parse)
{
    struct mw_error e;
    int rc;

    memset(&e, 0, sizeof(e));
    rc = audit_hours_parse(h, spec, &e);
    if (rc != 0) {
        static const struct audit_hours zero;
        if (must_parse || rc != MWE_CONFIG || e.code != rc || e.msg[0] == '\0' ||
            memcmp(h, &zero, sizeof(zero)) != 0)
            abort();
    }
}

static size_t minutes(const struct audit_hours *h)
{
    size_t n = 0;

    for (int d = 0; d < 7; d++)
        for (int hh = 0; hh < 24; hh++)
            for (int mm = 0; mm < 60; mm++) {
                int m = d * 1440 + hh * 60 + mm;
                bool bit = (h->bits[m / 8] >> (m % 8)) & 1u;
                if (audit_hours_contains(h, d, hh, mm) != (bit || !h->set))
                    abort();
                n += bit;
            }
    return n;
}

/* libFuzzer entry point: data is borrowed for the call; never fails (returns 0); a broken
 * invariant aborts. Single-threaded. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *spec = malloc(size + 1);
    char *semi, *tail;

    if (spec == NULL)
        abort();
    memcpy(spec, data, size);
    spec[size] = '\0';
    parse(&whole, spec, false);
    if (!whole.set) {
        if (minutes(&whole) != 0)
            abort();
        goto out;
    }
    if (minutes(&whole) == 0 || audit_hours_contains(&whole, 7, 0, 0) ||
        audit_hours_contains(&whole, 0, 24, 0) || audit_hours_contains(&whole, -1, 0, 0))
        abort();
    semi = strchr(spec, ';');
    if (semi == NULL)
        goto out;
    *semi = '\0';
    tail = semi + 1;
    parse(&first, spec, true);
    if (tail[strspn(tail, " \t")] == '\0')
        memset(&rest, 0, sizeof(rest));
    else
        parse(&rest, tail, true);
    for (size_t i = 0; i < sizeof(whole.bits); i++)
        if (whole.bits[i] != (first.bits[i] | rest.bits[i]))
            abort();
out:
    free(spec);
    return 0;
}
