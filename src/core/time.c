/*
 * time: the clocks the server uses: monotonic nanoseconds for durations and deadlines, wall-clock
 * milliseconds for logs and audit records, and their ISO 8601 UTC form.
 */
#include <stdio.h>
#include <string.h>
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
 * Times whose year does not fit four digits are written as the epoch. Thread-safe: each thread
 * keeps the text of the last second it formatted (every request's audit record and log line need
 * one; gmtime_r takes glibc's time-zone lock and the date needs a printf), so within one second
 * only the milliseconds are written. */
void time_iso8601_ms(uint64_t epoch_ms, char out[32])
{
    static _Thread_local uint64_t cached_secs = UINT64_MAX;
    static _Thread_local char cached[32]; /* "YYYY-MM-DDTHH:MM:SS" */
    struct tm tm;
    time_t secs;
    unsigned ms = (unsigned)(epoch_ms % 1000);
    /* 253402300800 s is 10000-01-01T00:00:00Z: the first instant with a five-digit year. */
    const uint64_t max_secs = UINT64_C(253402300799);

    if (epoch_ms / 1000 > max_secs)
        goto out_epoch;
    if (epoch_ms / 1000 != cached_secs) {
        secs = (time_t)(epoch_ms / 1000);
        if (gmtime_r(&secs, &tm) == NULL)
            goto out_epoch;
        snprintf(cached, sizeof(cached), "%04d-%02d-%02dT%02d:%02d:%02d",
                 (tm.tm_year + 1900) % 10000, (tm.tm_mon + 1) % 100, tm.tm_mday % 100,
                 tm.tm_hour % 100, tm.tm_min % 100, tm.tm_sec % 100);
        cached_secs = epoch_ms / 1000;
    }
    memcpy(out, cached, 19);
    out[19] = '.';
    out[20] = (char)('0' + ms / 100);
    out[21] = (char)('0' + ms / 10 % 10);
    out[22] = (char)('0' + ms % 10);
    out[23] = 'Z';
    out[24] = '\0';
    goto out;
out_epoch:
    snprintf(out, 32, "1970-01-01T00:00:00.000Z");
out:
    return;
}
