/*
 * windows: the time windows of the SLA: scheduled outages (during which the API answers 503 with
 * Retry-After at the end of the outage) and support hours. Weekly windows in a fixed UTC offset,
 * or dated UTC intervals; parsed and validated once at start-up.
 */
#include <stdio.h>
#include <string.h>

#include "limit/limit.h"

#define DAY_S 86400
#define WEEK_S (7 * DAY_S)
#define MERGE_STEPS_MAX 64
#define TIME_ABS_MAX (INT64_C(1) << 40) /* about 35000 years either side of 1970 */

static const char *const day_names[7] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};

static const char accepted_text[] =
    "accepted: 'DAYS HH:MM-HH:MM ZONE' with DAYS like Sun, Mon-Fri, Sat,Sun or daily and ZONE UTC, "
    "UTC+HH:MM or UTC-HH:MM; or 'YYYY-MM-DDTHH:MMZ/YYYY-MM-DDTHH:MMZ'; several separated by ';'";

static char lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static int64_t floor_mod(int64_t a, int64_t b)
{
    return a - floor_div(a, b) * b;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian; Howard Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = floor_div(y, 400);
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static unsigned days_in_month(unsigned y, unsigned m)
{
    static const unsigned dm[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : dm[m - 1];
}

/* n digits at s into *out; false unless all are digits. */
static bool digits(const char *s, size_t n, unsigned *out)
{
    unsigned v = 0;
    size_t i;

    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    *out = v;
    return true;
}

/* "HH:MM" (exactly 5 bytes) into seconds of the day; 24:00 only when allow_24. */
static bool parse_hhmm(const char *s, size_t len, bool allow_24, int32_t *out)
{
    unsigned h;
    unsigned m;

    if (len != 5 || s[2] != ':' || !digits(s, 2, &h) || !digits(s + 3, 2, &m) || m > 59)
        return false;
    if (h > 24 || (h == 24 && (!allow_24 || m != 0)))
        return false;
    *out = (int32_t)(h * 3600 + m * 60);
    return true;
}

/* A 3-letter day name into 0 (Monday) .. 6 (Sunday). */
static int day_index(const char *s, size_t len)
{
    int d;

    if (len != 3)
        return -1;
    for (d = 0; d < 7; d++)
        if (lower(s[0]) == day_names[d][0] && lower(s[1]) == day_names[d][1] &&
            lower(s[2]) == day_names[d][2])
            return d;
    return -1;
}

/* DAYS: "daily", or a ','-list of "Mon" or "Mon-Fri" (a range may wrap: Fri-Mon). */
static bool parse_days(const char *s, size_t len, uint8_t *mask)
{
    size_t i = 0;

    *mask = 0;
    if (len == 5 && lower(s[0]) == 'd' && lower(s[1]) == 'a' && lower(s[2]) == 'i' &&
        lower(s[3]) == 'l' && lower(s[4]) == 'y') {
        *mask = 0x7f;
        return true;
    }
    while (i < len) {
        size_t j = i;
        int a;
        int b;

        while (j < len && s[j] != ',')
            j++;
        if (j - i == 3) {
            a = b = day_index(s + i, 3);
        } else if (j - i == 7 && s[i + 3] == '-') {
            a = day_index(s + i, 3);
            b = day_index(s + i + 4, 3);
        } else {
            return false;
        }
        if (a < 0 || b < 0)
            return false;
        for (int d = a;; d = (d + 1) % 7) {
            *mask = (uint8_t)(*mask | (1u << d));
            if (d == b)
                break;
        }
        if (j == len)
            break;
        i = j + 1;
        if (i == len)
            return false; /* a trailing ',' */
    }
    return *mask != 0;
}

/* ZONE: "UTC", "UTC+HH:MM" or "UTC-HH:MM" (at most 14:00). */
static bool parse_zone(const char *s, size_t len, int32_t *offset)
{
    int32_t v;

    if (len < 3 || lower(s[0]) != 'u' || lower(s[1]) != 't' || lower(s[2]) != 'c')
        return false;
    if (len == 3) {
        *offset = 0;
        return true;
    }
    if (len != 9 || (s[3] != '+' && s[3] != '-') || !parse_hhmm(s + 4, 5, false, &v) ||
        v > 14 * 3600)
        return false;
    *offset = s[3] == '-' ? -v : v;
    return true;
}

/* "YYYY-MM-DDTHH:MM[:SS]Z" into Unix seconds. */
static bool parse_instant(const char *s, size_t len, int64_t *out)
{
    unsigned y, mo, d, h, mi, sec = 0;

    if (len != 17 && len != 20)
        return false;
    if (!digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) || s[7] != '-' ||
        !digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't') || !digits(s + 11, 2, &h) ||
        s[13] != ':' || !digits(s + 14, 2, &mi))
        return false;
    if (len == 20 && (s[16] != ':' || !digits(s + 17, 2, &sec)))
        return false;
    if (s[len - 1] != 'Z' && s[len - 1] != 'z')
        return false;
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 ||
        sec > 59)
        return false;
    *out = days_from_civil(y, mo, d) * DAY_S + (int64_t)(h * 3600 + mi * 60 + sec);
    return true;
}

/* One window (s, len bytes, already trimmed). Returns a short reason on error, else NULL. */
static const char *parse_window(const char *s, size_t len, bool weekly_only, struct limit_window *w)
{
    const char *tok[4];
    size_t tlen[4];
    size_t n = 0;
    size_t i = 0;
    const char *slash = memchr(s, '/', len);
    int32_t end;

    memset(w, 0, sizeof(*w));
    if (len >= sizeof(w->text))
        return "longer than 95 characters";
    memcpy(w->text, s, len);
    w->text[len] = '\0';
    if (slash) {
        if (weekly_only)
            return "only weekly windows are accepted here";
        if (!parse_instant(s, (size_t)(slash - s), &w->from_s) ||
            !parse_instant(slash + 1, len - (size_t)(slash - s) - 1, &w->to_s))
            return "a dated window is YYYY-MM-DDTHH:MM[:SS]Z/YYYY-MM-DDTHH:MM[:SS]Z (UTC)";
        if (w->to_s <= w->from_s)
            return "the end is not after the start";
        return NULL;
    }
    while (i < len) {
        while (i < len && is_blank(s[i]))
            i++;
        if (i == len)
            break;
        if (n == 4)
            return "expected three parts: DAYS HH:MM-HH:MM ZONE";
        tok[n] = s + i;
        while (i < len && !is_blank(s[i]))
            i++;
        tlen[n] = (size_t)(s + i - tok[n]);
        n++;
    }
    if (n != 3)
        return "expected three parts: DAYS HH:MM-HH:MM ZONE";
    w->weekly = true;
    if (!parse_days(tok[0], tlen[0], &w->days))
        return "unknown days (Mon..Sun, a range like Mon-Fri, a list like Sat,Sun, or daily)";
    if (tlen[1] != 11 || tok[1][5] != '-' || !parse_hhmm(tok[1], 5, false, &w->start_s) ||
        !parse_hhmm(tok[1] + 6, 5, true, &end))
        return "the times are HH:MM-HH:MM (00:00-24:00)";
    if (end == w->start_s)
        return "the window is empty (start equals end)";
    w->len_s = end > w->start_s ? end - w->start_s : end + DAY_S - w->start_s;
    if (!parse_zone(tok[2], tlen[2], &w->offset_s))
        return "the zone is UTC, UTC+HH:MM or UTC-HH:MM (at most 14:00)";
    return NULL;
}

/* Parses the list; see limit.h. */
int limit_windows_parse(struct limit_windows *ws, const char *text, bool weekly_only,
                        const char *label, struct mw_error *e)
{
    size_t pos = 0;
    size_t len = text ? strlen(text) : 0;
    size_t k = 0;
    int rc = 0;

    memset(ws, 0, sizeof(*ws));
    while (pos < len && is_blank(text[pos]))
        pos++;
    if (pos == len)
        goto out; /* nothing configured */
    pos = 0;
    for (;;) {
        const char *semi = memchr(text + pos, ';', len - pos);
        size_t end = semi ? (size_t)(semi - text) : len;
        size_t a = pos;
        size_t b = end;
        const char *why;

        k++;
        while (a < b && is_blank(text[a]))
            a++;
        while (b > a && is_blank(text[b - 1]))
            b--;
        if (a == b) {
            rc = mw_fail(e, MWE_CONFIG, "%s: window %zu is empty (%s)", label, k, accepted_text);
            goto out;
        }
        if (ws->n == LIMIT_WINDOWS_MAX) {
            rc = mw_fail(e, MWE_CONFIG, "%s: more than %d windows", label, LIMIT_WINDOWS_MAX);
            goto out;
        }
        why = parse_window(text + a, b - a, weekly_only, &ws->w[ws->n]);
        if (why) {
            char shown[40];
            size_t n = b - a < sizeof(shown) - 4 ? b - a : sizeof(shown) - 4;
            memcpy(shown, text + a, n);
            if (n < b - a)
                memcpy(shown + n, "...", 4);
            else
                shown[n] = '\0';
            rc = mw_fail(e, MWE_CONFIG, "%s: window %zu '%s': %s (%s)", label, k, shown, why,
                         accepted_text);
            goto out;
        }
        ws->n++;
        if (!semi)
            break;
        pos = end + 1;
    }
out:
    if (rc != 0)
        memset(ws, 0, sizeof(*ws));
    return rc;
}

/* The latest end among w's occurrences that contain t; false when none does. */
static bool window_contains(const struct limit_window *w, int64_t t, int64_t *end)
{
    bool hit = false;
    int d;

    if (!w->weekly) {
        if (t >= w->from_s && t < w->to_s) {
            *end = w->to_s;
            return true;
        }
        return false;
    }
    int64_t local = t + w->offset_s;
    int64_t days = floor_div(local, DAY_S);
    int64_t sow = floor_mod(days + 3, 7) * DAY_S + (local - days * DAY_S); /* 1970-01-01: Thu */
    for (d = 0; d < 7; d++) {
        if (!(w->days & (1u << d)))
            continue;
        int64_t delta = floor_mod(sow - ((int64_t)d * DAY_S + w->start_s), WEEK_S);
        if (delta < w->len_s) {
            int64_t e = t + (w->len_s - delta);
            if (!hit || e > *end)
                *end = e;
            hit = true;
        }
    }
    return hit;
}

static int64_t clamp_time(int64_t t)
{
    return t > TIME_ABS_MAX ? TIME_ABS_MAX : t < -TIME_ABS_MAX ? -TIME_ABS_MAX : t;
}

/* Whether now_s is inside a window, and until when; see limit.h. Following windows that overlap
 * or touch stops after 64 steps or a week, whichever comes first (an always-on schedule). */
bool limit_windows_active(const struct limit_windows *ws, int64_t now_s, int64_t *until_s)
{
    int64_t until = 0;
    bool active = false;
    size_t i;
    int step;

    now_s = clamp_time(now_s);
    for (i = 0; i < ws->n; i++) {
        int64_t end;
        if (window_contains(&ws->w[i], now_s, &end) && (!active || end > until)) {
            until = end;
            active = true;
        }
    }
    for (step = 0; active && step < MERGE_STEPS_MAX && until - now_s < WEEK_S; step++) {
        int64_t next = until;
        for (i = 0; i < ws->n; i++) {
            int64_t end;
            if (window_contains(&ws->w[i], until, &end) && end > next)
                next = end;
        }
        if (next == until)
            break;
        until = next;
    }
    if (active && until_s)
        *until_s = until;
    return active;
}

/* The current or next occurrence of w; see limit.h. */
bool limit_window_next(const struct limit_window *w, int64_t now_s, int64_t *start_s,
                       int64_t *end_s)
{
    int64_t end;
    int d;

    now_s = clamp_time(now_s);
    if (!w->weekly) {
        if (now_s >= w->to_s)
            return false;
        *start_s = w->from_s;
        *end_s = w->to_s;
        return true;
    }
    if (window_contains(w, now_s, &end)) {
        *end_s = end;
        *start_s = end - w->len_s;
        return true;
    }
    int64_t local = now_s + w->offset_s;
    int64_t days = floor_div(local, DAY_S);
    int64_t sow = floor_mod(days + 3, 7) * DAY_S + (local - days * DAY_S);
    int64_t best = -1;
    for (d = 0; d < 7; d++) {
        if (!(w->days & (1u << d)))
            continue;
        int64_t ahead = floor_mod((int64_t)d * DAY_S + w->start_s - sow, WEEK_S);
        if (best < 0 || ahead < best)
            best = ahead;
    }
    if (best < 0)
        return false;
    *start_s = now_s + best;
    *end_s = *start_s + w->len_s;
    return true;
}
