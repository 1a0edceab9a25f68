/*
 * Security events: business hours (a minute-of-week bitmap in the process' time zone) and the
 * detector that turns finished requests into events: bursts of authentication failures and of
 * 404s (sliding-window counters per address / principal), after-hours use, large requests, rate
 * and scope violations, over-long tokens; each de-duplicated and all of them rate-limited.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "audit/audit_int.h"

/* ---- business hours ---------------------------------------------------------------------------
 */

static const char *const day_names[7] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

static void skip_blanks(const char **p)
{
    while (**p == ' ' || **p == '\t')
        (*p)++;
}

/* Parses a day name at *p (3 letters, any case); -1 when none. */
static int parse_day(const char **p)
{
    for (int d = 0; d < 7; d++) {
        if (strncasecmp(*p, day_names[d], 3) == 0) {
            *p += 3;
            return d;
        }
    }
    return -1;
}

/* Parses HH:MM (00:00-24:00) at *p into minutes; -1 when malformed. */
static int parse_hhmm(const char **p)
{
    const char *s = *p;
    if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9' || s[2] != ':' || s[3] < '0' ||
        s[3] > '5' || s[4] < '0' || s[4] > '9')
        return -1;
    int h = (s[0] - '0') * 10 + (s[1] - '0');
    int m = (s[3] - '0') * 10 + (s[4] - '0');
    if (h > 24 || (h == 24 && m != 0))
        return -1;
    *p += 5;
    return h * 60 + m;
}

static void set_minute(struct audit_hours *h, int minute_of_week)
{
    int m = minute_of_week % (7 * 1440);
    h->bits[m / 8] |= (uint8_t)(1u << (m % 8));
}

/* Business hours from a spec; see audit.h. No allocation; any thread. */
int audit_hours_parse(struct audit_hours *h, const char *spec, struct mw_error *e)
{
    const char *p = spec;
    int rc = 0;

    memset(h, 0, sizeof(*h));
    if (spec == NULL || spec[0] == '\0')
        goto out;
    for (;;) {
        bool days[7] = {false};
        int start, end;

        skip_blanks(&p);
        /* days: D, D-D, comma lists of them */
        for (;;) {
            int d1 = parse_day(&p);
            int d2;
            if (d1 < 0) {
                rc = mw_fail(e, MWE_CONFIG,
                             "expected a day (Mon Tue Wed Thu Fri Sat Sun) at '%.16s'", p);
                goto out;
            }
            d2 = d1;
            if (*p == '-') {
                p++;
                d2 = parse_day(&p);
                if (d2 < 0) {
                    rc = mw_fail(e, MWE_CONFIG, "expected a day after '-' at '%.16s'", p);
                    goto out;
                }
            }
            /* Mon-Fri, or a wrapping range such as Fri-Mon */
            for (int d = d1;; d = (d + 1) % 7) {
                days[d] = true;
                if (d == d2)
                    break;
            }
            if (*p != ',')
                break;
            p++;
            skip_blanks(&p);
        }
        if (*p != ' ' && *p != '\t') {
            rc = mw_fail(e, MWE_CONFIG,
                         "expected a space and HH:MM-HH:MM after the days at '%.16s'", p);
            goto out;
        }
        skip_blanks(&p);
        start = parse_hhmm(&p);
        if (start < 0 || *p != '-') {
            rc = mw_fail(e, MWE_CONFIG, "expected HH:MM-HH:MM at '%.16s'", p);
            goto out;
        }
        p++;
        end = parse_hhmm(&p);
        if (end < 0 || start == end || start == 1440) {
            rc = mw_fail(e, MWE_CONFIG,
                         "expected HH:MM-HH:MM (start before 24:00, end different "
                         "from start) at '%.16s'",
                         p);
            goto out;
        }
        for (int d = 0; d < 7; d++) {
            if (!days[d])
                continue;
            int from = d * 1440 + start;
            int to = end > start ? d * 1440 + end : (d + 1) * 1440 + end; /* into the next day */
            for (int m = from; m < to; m++)
                set_minute(h, m);
        }
        skip_blanks(&p);
        if (*p == '\0')
            break;
        if (*p != ';') {
            rc = mw_fail(e, MWE_CONFIG, "expected ';' between entries at '%.16s'", p);
            goto out;
        }
        p++;
        skip_blanks(&p);
        if (*p == '\0')
            break;
    }
    static atomic_ulong next_id;
    h->set = true;
    h->id = atomic_fetch_add(&next_id, 1) + 1;
out:
    if (rc != 0)
        memset(h, 0, sizeof(*h));
    return rc;
}

/* Whether the local weekday/hour/minute is in business hours (always true when not set). */
bool audit_hours_contains(const struct audit_hours *h, int wday, int hour, int minute)
{
    if (!h->set)
        return true;
    if (wday < 0 || wday > 6 || hour < 0 || hour > 23 || minute < 0 || minute > 59)
        return false;
    int m = wday * 1440 + hour * 60 + minute;
    return (h->bits[m / 8] >> (m % 8)) & 1u;
}

/* Same for an instant, in the process' time zone (localtime_r). Any thread. */
bool audit_hours_contains_time(const struct audit_hours *h, time_t t)
{
    /* localtime_r takes glibc's time zone lock: ask it once a minute per thread, not per request
     * (zone offsets are whole minutes). */
    static _Thread_local unsigned long cached_id;
    static _Thread_local time_t cached_minute;
    static _Thread_local bool cached_in;
    struct tm tm;

    if (!h->set)
        return true;
    if (cached_id == h->id && cached_minute == t / 60)
        return cached_in;
    if (localtime_r(&t, &tm) == NULL)
        return false;
    cached_in = audit_hours_contains(h, tm.tm_wday, tm.tm_hour, tm.tm_min);
    cached_id = h->id;
    cached_minute = t / 60;
    return cached_in;
}

/* A time zone the process can use: "UTC" or a readable tz database file. Any thread. */
int audit_timezone_check(const char *tz, struct mw_error *e)
{
    const char *dir = getenv("TZDIR");
    char path[PATH_MAX];
    struct stat st;

    if (tz == NULL || tz[0] == '\0')
        return mw_fail(e, MWE_CONFIG, "MODELWRAP_AUDIT_TIMEZONE: empty");
    if (strcmp(tz, "UTC") == 0)
        return 0;
    /* A name like "America/Toronto": letters, digits, '_', '-', '+', '/', no "..", not absolute. */
    for (const char *c = tz; *c; c++) {
        bool ok = (*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') ||
                  (*c >= '0' && *c <= '9') || *c == '_' || *c == '-' || *c == '+' || *c == '/';
        if (!ok || (c == tz && *c == '/') || (c[0] == '/' && c[1] == '/'))
            return mw_fail(e, MWE_CONFIG,
                           "MODELWRAP_AUDIT_TIMEZONE: '%.64s' is not a time zone "
                           "name such as America/Toronto or UTC",
                           tz);
    }
    if (strstr(tz, "..") != NULL)
        return mw_fail(e, MWE_CONFIG, "MODELWRAP_AUDIT_TIMEZONE: '%.64s' is not a time zone name",
                       tz);
    snprintf(path, sizeof(path), "%s/%s",
             dir != NULL && dir[0] != '\0' ? dir : "/usr/share/zoneinfo", tz);
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return mw_fail(e, MWE_CONFIG,
                       "MODELWRAP_AUDIT_TIMEZONE: unknown time zone '%.64s' (no %s; "
                       "is tzdata installed?)",
                       tz, path);
    return 0;
}

/* ---- the detector -----------------------------------------------------------------------------
 */

#define STRIPES 16
#define STRIPE_SLOTS 256 /* power of two */
#define PROBES 16

/* Per (signature, key) state: a two-bucket sliding window counter and the dedup state. */
struct ev_entry {
    uint64_t hash; /* 0: free */
    int sig;
    uint64_t win_start_ms; /* start of the current bucket */
    uint64_t cur, prev;    /* occurrences in the current and the previous bucket */
    uint64_t last_emit_ms; /* 0: never emitted */
    uint64_t since_emit;   /* occurrences since the last emission */
    uint64_t touched_ms;
};

struct ev_stripe {
    pthread_mutex_t lock;
    struct ev_entry slots[STRIPE_SLOTS];
};

struct audit_events {
    struct audit_events_opts o;
    struct ev_stripe stripes[STRIPES];
    pthread_mutex_t rate_lock; /* the global token bucket */
    double tokens;
    uint64_t refill_ms;
    uint64_t suppressed_pending; /* held back since the last summary */
    uint64_t suppressed_total;
};

/* A detector; see audit.h. Main thread. */
struct audit_events *audit_events_new(const struct audit_events_opts *opts)
{
    struct audit_events *ev = calloc(1, sizeof(*ev));
    if (ev == NULL)
        return NULL;
    ev->o = *opts;
    if (ev->o.burst_window_s == 0)
        ev->o.burst_window_s = 1;
    if (ev->o.per_minute == 0)
        ev->o.per_minute = 1;
    for (size_t i = 0; i < STRIPES; i++)
        pthread_mutex_init(&ev->stripes[i].lock, NULL);
    pthread_mutex_init(&ev->rate_lock, NULL);
    ev->tokens = ev->o.per_minute;
    return ev;
}

/* Frees a detector; NULL is fine. No thread may still use it. */
void audit_events_free(struct audit_events *ev)
{
    if (ev == NULL)
        return;
    for (size_t i = 0; i < STRIPES; i++)
        pthread_mutex_destroy(&ev->stripes[i].lock);
    pthread_mutex_destroy(&ev->rate_lock);
    free(ev);
}

/* Events held back so far. Any thread. */
uint64_t audit_events_suppressed(struct audit_events *ev)
{
    pthread_mutex_lock(&ev->rate_lock);
    uint64_t n = ev->suppressed_total;
    pthread_mutex_unlock(&ev->rate_lock);
    return n;
}

/* FNV-1a of the signature and the key, never 0. */
static uint64_t key_hash(int sig, const char *key)
{
    uint64_t h = 1469598103934665603ull ^ (uint64_t)(unsigned)sig;
    h *= 1099511628211ull;
    for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
        h ^= *p;
        h *= 1099511628211ull;
    }
    return h != 0 ? h : 1;
}

/* Idle for this long, an entry holds nothing worth keeping. */
static uint64_t entry_ttl_ms(const struct audit_events *ev)
{
    uint64_t w = 2ull * ev->o.burst_window_s;
    uint64_t d = ev->o.dedup_window_s;
    return (w > d ? w : d) * 1000;
}

/* The entry for (sig, key) in its stripe, created (or a stale one reused) when missing. Called
 * with the stripe locked; never NULL. */
static struct ev_entry *entry_get(struct audit_events *ev, struct ev_stripe *st, uint64_t h,
                                  int sig, uint64_t now)
{
    struct ev_entry *victim = NULL;
    size_t at = (size_t)(h >> 4) & (STRIPE_SLOTS - 1);

    for (size_t i = 0; i < PROBES; i++) {
        struct ev_entry *en = &st->slots[(at + i) & (STRIPE_SLOTS - 1)];
        if (en->hash == h && en->sig == sig)
            return en;
        if (en->hash == 0 || (now > en->touched_ms && now - en->touched_ms > entry_ttl_ms(ev))) {
            if (victim == NULL || victim->hash != 0)
                victim = en;
        } else if (victim == NULL || (victim->hash != 0 && en->touched_ms < victim->touched_ms)) {
            victim = en;
        }
    }
    memset(victim, 0, sizeof(*victim));
    victim->hash = h;
    victim->sig = sig;
    victim->win_start_ms = now;
    victim->touched_ms = now;
    return victim;
}

/* Counts one occurrence in the sliding window; returns the estimated count over the window. */
static uint64_t window_add(struct ev_entry *en, uint64_t now, uint64_t window_ms)
{
    uint64_t elapsed = now >= en->win_start_ms ? now - en->win_start_ms : 0;
    if (elapsed >= 2 * window_ms) {
        en->prev = 0;
        en->cur = 0;
        en->win_start_ms = now;
        elapsed = 0;
    } else if (elapsed >= window_ms) {
        en->prev = en->cur;
        en->cur = 0;
        en->win_start_ms += window_ms;
        elapsed -= window_ms;
    }
    en->cur++;
    /* prev weighted by the part of the previous bucket still inside the window, rounded up (a
     * burst that straddles two buckets must not be missed) */
    return en->cur + (en->prev * (window_ms - elapsed) + window_ms - 1) / window_ms;
}

/* Takes a token from the global bucket; false when the event must be held back. */
static bool rate_take(struct audit_events *ev, uint64_t now, uint64_t *suppressed)
{
    bool ok = false;
    pthread_mutex_lock(&ev->rate_lock);
    if (now > ev->refill_ms) {
        double add = (double)(now - ev->refill_ms) * ev->o.per_minute / 60000.0;
        ev->tokens = ev->tokens + add > ev->o.per_minute ? ev->o.per_minute : ev->tokens + add;
    }
    ev->refill_ms = now;
    if (ev->tokens >= 1.0) {
        ev->tokens -= 1.0;
        ok = true;
        *suppressed = ev->suppressed_pending;
        ev->suppressed_pending = 0;
    } else {
        ev->suppressed_pending++;
        ev->suppressed_total++;
    }
    pthread_mutex_unlock(&ev->rate_lock);
    return ok;
}

struct check {
    struct audit_events *ev;
    const struct audit_record *req;
    uint64_t now;
    struct audit_record *out;
    size_t n;
};

static void make_event(struct check *c, int sig, uint64_t count, uint64_t threshold,
                       unsigned window_s)
{
    struct audit_record *o;
    if (c->n >= AUDIT_EVENTS_MAX_PER_CHECK)
        return;
    o = &c->out[c->n++];
    *o = *c->req;
    o->kind = AUDIT_EVENT;
    o->sig = sig;
    o->time_ms = c->now;
    o->count = count;
    o->threshold = threshold;
    o->window_s = window_s;
}

/* One occurrence of sig for key. threshold > 0: a burst (the event fires when the sliding count
 * reaches it); 0: every occurrence is an event. Dedup and the global rate limit apply to both. */
static void occur(struct check *c, int sig, const char *key, uint64_t threshold,
                  uint64_t report_threshold)
{
    struct audit_events *ev = c->ev;
    uint64_t h = key_hash(sig, key);
    struct ev_stripe *st = &ev->stripes[h % STRIPES];
    uint64_t window_ms = (uint64_t)ev->o.burst_window_s * 1000;
    uint64_t dedup_ms = (uint64_t)ev->o.dedup_window_s * 1000;
    uint64_t count = 0, suppressed = 0;
    bool fire = false;

    pthread_mutex_lock(&st->lock);
    struct ev_entry *en = entry_get(ev, st, h, sig, c->now);
    if (c->now > en->touched_ms)
        en->touched_ms = c->now;
    uint64_t in_window = window_add(en, c->now, window_ms);
    en->since_emit++;
    /* Clocks of different threads may be read slightly out of order: never "due" backwards. */
    bool due = en->last_emit_ms == 0 ||
               (c->now >= en->last_emit_ms && c->now - en->last_emit_ms >= dedup_ms);
    if ((threshold == 0 || in_window >= threshold) && due) {
        if (rate_take(ev, c->now, &suppressed)) {
            fire = true;
            count = threshold > 0 ? in_window : en->since_emit;
            en->last_emit_ms = c->now;
            en->since_emit = 0;
        }
    }
    pthread_mutex_unlock(&st->lock);
    if (suppressed > 0)
        make_event(c, AUDIT_EV_SUPPRESSED, suppressed, 0, 0);
    if (fire)
        make_event(c, sig, count, report_threshold,
                   threshold > 0 ? ev->o.burst_window_s : ev->o.dedup_window_s);
}

static bool outcome_is(const struct audit_record *r, const char *a, const char *b)
{
    return r->outcome != NULL && (strcmp(r->outcome, a) == 0 || (b && strcmp(r->outcome, b) == 0));
}

/* Runs the rules on one finished request; see audit.h. Any thread. */
size_t audit_events_check(struct audit_events *ev, const struct audit_record *req, uint64_t now_ms,
                          struct audit_record *out)
{
    struct check c = {ev, req, now_ms, out, 0};
    const struct audit_events_opts *o = &ev->o;
    /* Events about one caller are keyed by its principal when known, else by its address. */
    const char *who = req->principal_id[0] != '\0' ? req->principal_id : req->client;

    if (req->kind != AUDIT_REQUEST || now_ms == 0)
        return 0;
    if (req->status == 401 && o->auth_failures > 0) {
        occur(&c, AUDIT_EV_AUTH_BURST_ADDR, req->client, o->auth_failures, o->auth_failures);
        if (req->principal_id[0] != '\0')
            occur(&c, AUDIT_EV_AUTH_BURST_PRINCIPAL, req->principal_id, o->auth_failures,
                  o->auth_failures);
    }
    if (outcome_is(req, "auth.token_lifetime", NULL))
        occur(&c, AUDIT_EV_TOKEN_LIFETIME, who, 0, 0);
    if (outcome_is(req, "auth.insufficient_scope", "insufficient_scope"))
        occur(&c, AUDIT_EV_SCOPE, who, 0, 0);
    if (outcome_is(req, "limit.rate", "rate_limited"))
        occur(&c, AUDIT_EV_RATE_LIMIT, who, 0, 0);
    if (req->status == 404 && o->probe_404s > 0)
        occur(&c, AUDIT_EV_PROBING, req->client, o->probe_404s, o->probe_404s);
    if (o->large_bytes > 0 && req->bytes_in >= o->large_bytes)
        occur(&c, AUDIT_EV_LARGE_BYTES, who, 0, o->large_bytes);
    if (o->large_records > 0 && req->records >= o->large_records)
        occur(&c, AUDIT_EV_LARGE_RECORDS, who, 0, o->large_records);
    /* After-hours *use*: answered requests to routes that need a scope (probes of health
     * endpoints are not use). */
    if (o->hours.set && req->scope != NULL && req->status >= 200 && req->status < 400 &&
        !audit_hours_contains_time(&o->hours, (time_t)(req->time_ms / 1000)))
        occur(&c, AUDIT_EV_AFTER_HOURS, who, 0, 0);
    return c.n;
}
