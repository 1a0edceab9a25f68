/*
 * time: the clocks the server uses: monotonic nanoseconds for durations and deadlines, wall-clock
 * milliseconds for logs and audit records, and their ISO 8601 UTC form.
 */
#include <stdio.h>
#include <time.h>

#include "core/core.h"

/* Nanoseconds on CLOCK_MONOTONIC (arbitrary origin; for durations only). Thread-safe. */
uint64_t time_mono_ns(void)
{
    struct timespec ts;

    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        return 0;
    return (uint64_t)ts.tv_sec * UINT64_C(1000000000) + (uint64_t)ts.tv_nsec;
}

/* Milliseconds since the Unix epoch on CLOCK_REALTIME. Thread-safe. */
uint64_t time_real_ms(void)
{
    struct timespec ts;

    if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
        return 0;
    return (uint64_t)ts.tv_sec * UINT64_C(1000) + (uint64_t)ts.tv_nsec / UINT64_C(1000000);
}

/* Writes epoch_ms as "YYYY-MM-DDTHH:MM:SS.mmmZ" (24 chars + NUL) into out (caller-owned, 32 bytes).
 * Times whose year does not fit four digits are written as the epoch. Thread-safe (gmtime_r). */
void time_iso8601_ms(uint64_t epoch_ms, char out[32])
{
    struct tm tm;
    time_t secs;
    unsigned ms = (unsigned)(epoch_ms % 1000);
    /* 253402300800 s is 10000-01-01T00:00:00Z: the first instant with a five-digit year. */
    const uint64_t max_secs = UINT64_C(253402300799);

    if (epoch_ms / 1000 > max_secs)
        goto out_epoch;
    secs = (time_t)(epoch_ms / 1000);
    if (gmtime_r(&secs, &tm) == NULL)
        goto out_epoch;
    snprintf(out, 32, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", (tm.tm_year + 1900) % 10000,
             (tm.tm_mon + 1) % 100, tm.tm_mday % 100, tm.tm_hour % 100, tm.tm_min % 100,
             tm.tm_sec % 100, ms);
    goto out;
out_epoch:
    snprintf(out, 32, "1970-01-01T00:00:00.000Z");
out:
    return;
}
