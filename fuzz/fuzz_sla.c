/*
 * libFuzzer target for the SLA's text settings: the time-window list of MODELWRAP_SLA_OUTAGES and
 * MODELWRAP_SLA_SUPPORT_HOURS (limit_windows_parse, then the active / next-occurrence arithmetic at
 * several instants) and the MODELWRAP_REDIS_URL parser. The first byte picks the parser. Seed
 * corpus: fuzz/corpus/sla/.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "limit/limit.h"

static void check_windows(const struct limit_windows *ws, const uint8_t *data, size_t size)
{
    static const int64_t fixed[] = {0,      1,         1795921200, 1768010400, 253402300799,
                                    -86400, INT64_MAX, INT64_MIN};
    int64_t t;
    size_t i;
    size_t k;

    if (ws->n > LIMIT_WINDOWS_MAX)
        abort();
    for (i = 0; i < ws->n; i++) {
        const struct limit_window *w = &ws->w[i];
        if (memchr(w->text, '\0', sizeof(w->text)) == NULL || w->text[0] == '\0')
            abort();
        if (w->weekly &&
            (w->days == 0 || w->days > 0x7f || w->len_s < 1 || w->len_s > 86400 || w->start_s < 0 ||
             w->start_s >= 86400 || w->offset_s > 14 * 3600 || w->offset_s < -14 * 3600))
            abort();
        if (!w->weekly && w->to_s <= w->from_s)
            abort();
    }
    for (k = 0; k < MW_ARRAY_LEN(fixed) + 1; k++) {
        int64_t until = 0;
        if (k < MW_ARRAY_LEN(fixed)) {
            t = fixed[k];
        } else {
            uint64_t v = 0;
            memcpy(&v, data, size < sizeof(v) ? size : sizeof(v));
            t = (int64_t)(v % UINT64_C(253402300800));
        }
        if (limit_windows_active(ws, t, &until) && t > -(INT64_C(1) << 39) &&
            t < (INT64_C(1) << 39) && until <= t)
            abort();
        for (i = 0; i < ws->n; i++) {
            int64_t s = 0;
            int64_t e = 0;
            if (limit_window_next(&ws->w[i], t, &s, &e) && t > -(INT64_C(1) << 39) &&
                t < (INT64_C(1) << 39) && (e <= s || e <= t))
                abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct limit_windows ws;
    struct limit_redis_target t;
    struct mw_error e;
    char *text;
    int rc;

    if (size == 0)
        return 0;
    text = malloc(size); /* the bytes after the selector, NUL-terminated: exactly size bytes */
    if (!text)
        return 0;
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    memset(&e, 0, sizeof(e));
    switch (data[0] % 3) {
    case 0:
    case 1:
        rc = limit_windows_parse(&ws, text, data[0] % 3 == 1, "MODELWRAP_SLA_OUTAGES", &e);
        if (rc != 0 &&
            (rc != MWE_CONFIG || ws.n != 0 || strncmp(e.msg, "MODELWRAP_SLA_OUTAGES: ", 23) != 0))
            abort();
        if (rc == 0)
            check_windows(&ws, data + 1, size - 1);
        break;
    default:
        rc = limit_redis_url_parse(text, &t, &e);
        if (rc != 0 && (rc != MWE_CONFIG || t.host[0] || t.password[0] || t.unix_path[0]))
            abort();
        if (rc == 0 && ((t.host[0] == '\0') == (t.unix_path[0] == '\0') || t.port == 0 ||
                        memchr(t.password, '\0', sizeof(t.password)) == NULL ||
                        memchr(t.host, '\0', sizeof(t.host)) == NULL))
            abort();
        break;
    }
    if (memchr(e.msg, '\0', sizeof(e.msg)) == NULL)
        abort();
    free(text);
    return 0;
}
