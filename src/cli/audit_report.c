/*
 * `modelwrap audit report`: the periodic access review of the audit trail. Streams JSON-lines
 * and CEF files (plain or gzip-rotated, read through zlib) line by line and summarises per
 * consumer — API key id, token subject, certificate subject — requests, denials by reason, source
 * addresses, after-hours and large requests, models, first and last seen, plus the period's
 * security events. Memory is bounded whatever the input size: fixed tables, an estimate of
 * distinct addresses beyond a few, a capped list of events.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#include "audit/audit.h"
#include "cli/cli_int.h"
#include "config/config.h"

#define CONSUMERS_MAX 65536     /* distinct consumers tracked; more are pooled as "(other)" */
#define REASONS_MAX 16          /* denial reasons per consumer; more are "(other)" */
#define MODELS_MAX 16           /* models listed per consumer; more are counted */
#define ADDR_EXACT 32           /* addresses counted exactly; beyond, a HyperLogLog estimate */
#define HLL_BITS 9              /* 512 registers: about 4.6 % standard error */
#define EVENTS_LISTED 1000      /* security events listed in detail */
#define ID_MAX 256              /* bytes of a consumer id or a name kept */
#define READ_CHUNK (1u << 20)

struct counted {
    char name[64];
    uint64_t n;
};

struct consumer {
    char kind[16];
    char id[ID_MAX];
    uint64_t requests, denials, errors, after_hours, large, events;
    int64_t first_ms, last_ms;
    struct counted reasons[REASONS_MAX];
    size_t n_reasons;
    uint64_t reasons_other;
    char models[MODELS_MAX][64];
    size_t n_models;
    uint64_t models_other;
    uint64_t addr[ADDR_EXACT]; /* hashes of the distinct addresses while few */
    size_t n_addr;
    uint8_t *hll; /* 1 << HLL_BITS registers once n_addr passed ADDR_EXACT */
};

struct event_line {
    int64_t time_ms;
    int signature;
    uint64_t count;
    char name[96], client[64], principal[ID_MAX], message[192];
};

struct event_total {
    int signature;
    char name[96];
    uint64_t events, occurrences;
};

struct report {
    /* options */
    int64_t since_ms, until_ms;
    struct audit_hours hours;
    uint64_t large_bytes, large_records;
    /* counters */
    uint64_t lines, requests, events, malformed, outside;
    int64_t first_ms, last_ms;
    /* consumers: open addressing on a hash of kind + id */
    struct consumer **slots;
    size_t n_consumers;
    struct consumer other;
    /* security events */
    struct event_total totals[64];
    size_t n_totals;
    struct event_line *listed;
    size_t n_listed;
    uint64_t not_listed;
};

/* ---- hashing --------------------------------------------------------------------------------- */

static uint64_t fnv1a(uint64_t h, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

static void hll_add(uint8_t *regs, uint64_t h)
{
    size_t idx = (size_t)(h >> (64 - HLL_BITS));
    uint64_t rest = h << HLL_BITS;
    uint8_t rank = (uint8_t)(rest == 0 ? 64 - HLL_BITS + 1 : __builtin_clzll(rest) + 1);
    if (rank > regs[idx])
        regs[idx] = rank;
}

static double hll_estimate(const uint8_t *regs)
{
    const double m = (double)(1u << HLL_BITS);
    double sum = 0;
    size_t zeros = 0;

    for (size_t i = 0; i < (1u << HLL_BITS); i++) {
        sum += ldexp(1.0, -regs[i]);
        zeros += regs[i] == 0;
    }
    double e = (0.7213 / (1 + 1.079 / m)) * m * m / sum;
    if (e <= 2.5 * m && zeros > 0)
        e = m * log(m / (double)zeros); /* linear counting for small cardinalities */
    return e;
}

static void copy_slice(char *dst, size_t cap, struct slice s)
{
    size_t n = s.ptr != NULL ? (s.len < cap - 1 ? s.len : cap - 1) : 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s.ptr[i];
        dst[i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
    dst[n] = '\0';
}

/* ---- consumers ------------------------------------------------------------------------------- */

/* Who a record is: api-key:<key id>, jwt:<subject>, mtls:<certificate subject>, anonymous, or
 * unauthenticated (refused before a principal existed). */
static void who(const struct arec *r, char kind[16], struct slice *id)
{
    struct slice k = r->principal_kind;

    *id = r->principal_id;
    if (slice_eq(k, "api-key")) {
        snprintf(kind, 16, "api-key");
        if (r->key_id.ptr != NULL)
            *id = r->key_id;
    } else if (slice_eq(k, "jwt")) {
        snprintf(kind, 16, "jwt");
    } else if (slice_eq(k, "mtls")) {
        snprintf(kind, 16, "mtls");
    } else if (slice_eq(k, "anonymous")) {
        snprintf(kind, 16, "anonymous");
        id->ptr = NULL;
    } else {
        snprintf(kind, 16, "unauthenticated");
        id->ptr = NULL;
    }
    if (id->ptr == NULL) {
        id->ptr = "";
        id->len = 0;
    }
}

static struct consumer *consumer_get(struct report *rp, const struct arec *r)
{
    char kind[16];
    struct slice id;
    uint64_t h;
    size_t i;

    who(r, kind, &id);
    if (id.len >= ID_MAX)
        id.len = ID_MAX - 1;
    h = fnv1a(fnv1a(0xcbf29ce484222325ull, kind, strlen(kind)), id.ptr, id.len);
    for (i = (size_t)h & (2 * CONSUMERS_MAX - 1);; i = (i + 1) & (2 * CONSUMERS_MAX - 1)) {
        struct consumer *c = rp->slots[i];
        if (c == NULL)
            break;
        if (strcmp(c->kind, kind) == 0 && strlen(c->id) == id.len &&
            memcmp(c->id, id.ptr, id.len) == 0)
            return c;
    }
    if (rp->n_consumers >= CONSUMERS_MAX)
        return &rp->other;
    rp->slots[i] = calloc(1, sizeof(struct consumer));
    if (rp->slots[i] == NULL)
        return &rp->other;
    rp->n_consumers++;
    snprintf(rp->slots[i]->kind, sizeof(rp->slots[i]->kind), "%s", kind);
    copy_slice(rp->slots[i]->id, ID_MAX, id);
    /* Exact bytes for the comparison above (copy_slice may have replaced control bytes). */
    memcpy(rp->slots[i]->id, id.ptr, id.len);
    rp->slots[i]->id[id.len] = '\0';
    rp->slots[i]->first_ms = INT64_MAX;
    rp->slots[i]->last_ms = INT64_MIN;
    return rp->slots[i];
}

static void add_addr(struct consumer *c, struct slice addr)
{
    uint64_t h;

    if (addr.ptr == NULL)
        return;
    h = mw_mix64(fnv1a(0xcbf29ce484222325ull, addr.ptr, addr.len));
    if (c->hll != NULL) {
        hll_add(c->hll, h);
        return;
    }
    for (size_t i = 0; i < c->n_addr; i++)
        if (c->addr[i] == h)
            return;
    if (c->n_addr < ADDR_EXACT) {
        c->addr[c->n_addr++] = h;
        return;
    }
    c->hll = calloc(1u << HLL_BITS, 1);
    if (c->hll == NULL)
        return;
    for (size_t i = 0; i < c->n_addr; i++)
        hll_add(c->hll, c->addr[i]);
    hll_add(c->hll, h);
}

static uint64_t distinct_addrs(const struct consumer *c, bool *estimated)
{
    *estimated = c->hll != NULL;
    return c->hll != NULL ? (uint64_t)llround(hll_estimate(c->hll)) : c->n_addr;
}

static void add_reason(struct consumer *c, struct slice reason)
{
    char name[64];
    copy_slice(name, sizeof(name), reason.ptr != NULL ? reason : (struct slice){"unknown", 7});
    for (size_t i = 0; i < c->n_reasons; i++) {
        if (strcmp(c->reasons[i].name, name) == 0) {
            c->reasons[i].n++;
            return;
        }
    }
    if (c->n_reasons < REASONS_MAX) {
        snprintf(c->reasons[c->n_reasons].name, sizeof(c->reasons[0].name), "%s", name);
        c->reasons[c->n_reasons++].n = 1;
    } else {
        c->reasons_other++;
    }
}

static void add_model(struct consumer *c, struct slice model)
{
    char name[64];
    if (model.ptr == NULL || model.len == 0)
        return;
    copy_slice(name, sizeof(name), model);
    for (size_t i = 0; i < c->n_models; i++)
        if (strcmp(c->models[i], name) == 0)
            return;
    if (c->n_models < MODELS_MAX)
        snprintf(c->models[c->n_models++], sizeof(c->models[0]), "%s", name);
    else
        c->models_other++;
}

/* ---- one record ------------------------------------------------------------------------------ */

static void add_event(struct report *rp, const struct arec *r)
{
    struct event_total *t = NULL;
    uint64_t occ = r->count ? r->count : 1;

    for (size_t i = 0; i < rp->n_totals; i++)
        if (rp->totals[i].signature == r->signature)
            t = &rp->totals[i];
    if (t == NULL && rp->n_totals < MW_ARRAY_LEN(rp->totals)) {
        t = &rp->totals[rp->n_totals++];
        t->signature = r->signature;
        copy_slice(t->name, sizeof(t->name), r->name);
    }
    if (t != NULL) {
        t->events++;
        t->occurrences += occ;
    }
    if (rp->n_listed < EVENTS_LISTED) {
        struct event_line *e = &rp->listed[rp->n_listed++];
        struct slice p = r->principal_id.ptr != NULL ? r->principal_id : r->key_id;
        e->time_ms = r->time_ms;
        e->signature = r->signature;
        e->count = occ;
        copy_slice(e->name, sizeof(e->name), r->name);
        copy_slice(e->client, sizeof(e->client), r->client);
        copy_slice(e->principal, sizeof(e->principal), p);
        copy_slice(e->message, sizeof(e->message), r->message);
    } else {
        rp->not_listed++;
    }
}

static void add_record(struct report *rp, const struct arec *r)
{
    struct consumer *c;

    if (r->time_ms < rp->since_ms || r->time_ms >= rp->until_ms) {
        rp->outside++;
        return;
    }
    if (r->time_ms < rp->first_ms)
        rp->first_ms = r->time_ms;
    if (r->time_ms > rp->last_ms)
        rp->last_ms = r->time_ms;
    c = consumer_get(rp, r);
    if (r->type == AREC_EVENT) {
        rp->events++;
        c->events++;
        add_event(rp, r);
        /* Without business hours of our own, the server's after-hours events say it. */
        if (!rp->hours.set && r->signature == 210)
            c->after_hours += r->count ? r->count : 1;
        return;
    }
    rp->requests++;
    c->requests++;
    if (r->time_ms < c->first_ms)
        c->first_ms = r->time_ms;
    if (r->time_ms > c->last_ms)
        c->last_ms = r->time_ms;
    add_addr(c, r->client);
    if (r->status >= 400 && r->status < 500) {
        c->denials++;
        add_reason(c, r->outcome);
    } else if (r->status >= 500 || r->status == 0) {
        c->errors++;
    } else {
        add_model(c, r->model);
        /* Use, as the server's detector counts it: a served request to a route needing a
         * scope (health probes are not use). */
        if (rp->hours.set && r->scope.ptr != NULL &&
            !audit_hours_contains_time(&rp->hours, (time_t)(r->time_ms / 1000)))
            c->after_hours++;
    }
    if ((rp->large_bytes > 0 && r->bytes_in >= rp->large_bytes) ||
        (rp->large_records > 0 && r->records >= rp->large_records))
        c->large++;
}

/* ---- reading --------------------------------------------------------------------------------- */

static int read_file(struct report *rp, struct arec_parser *ap, const char *path, char *buf,
                     uint64_t *n_records)
{
    gzFile f = strcmp(path, "-") == 0 ? gzdopen(0, "rb") : gzopen(path, "rb");
    size_t have = 0;
    bool skipping = false; /* inside a line longer than AREC_LINE_MAX */

    if (f == NULL) {
        fprintf(stderr, "modelwrap audit report: %s: %s\n", path, strerror(errno ? errno : EIO));
        return MWE_IO;
    }
    gzbuffer(f, 256 * 1024);
    for (;;) {
        int got = gzread(f, buf + have, (unsigned)(READ_CHUNK - have));
        size_t end, pos = 0;
        if (got < 0) {
            int err;
            fprintf(stderr, "modelwrap audit report: %s: %s\n", path, gzerror(f, &err));
            gzclose(f);
            return MWE_IO;
        }
        end = have + (size_t)got;
        if (got == 0 && have > 0 && !skipping) {
            /* The last line has no line end: a record cut by a crash or still being written. */
            rp->lines++;
            rp->malformed++;
        }
        if (got == 0)
            break;
        for (;;) {
            char *nl = memchr(buf + pos, '\n', end - pos);
            struct arec r;
            size_t len;
            if (nl == NULL)
                break;
            len = (size_t)(nl - (buf + pos));
            if (skipping) {
                skipping = false;
            } else {
                rp->lines++;
                if (len > 0 && buf[pos + len - 1] == '\r')
                    len--;
                if (len == 0) {
                    rp->lines--; /* blank lines are not records */
                } else if (arec_parse_line(ap, buf + pos, len, &r) != 0) {
                    rp->malformed++;
                } else {
                    (*n_records)++;
                    add_record(rp, &r);
                }
            }
            pos = (size_t)(nl - buf) + 1;
        }
        have = end - pos;
        if (have > AREC_LINE_MAX) {
            /* No line end in sight: count one malformed line, drop until the next one. */
            if (!skipping) {
                rp->lines++;
                rp->malformed++;
            }
            skipping = true;
            have = 0;
        } else {
            memmove(buf, buf + pos, have);
        }
    }
    gzclose(f);
    return 0;
}

/* ---- options --------------------------------------------------------------------------------- */

/* "7d", "12h", "30m", "90s", "2w" -> seconds; or a date / date-time -> an absolute time. */
static bool parse_when(const char *s, int64_t now_ms, int64_t *ms)
{
    char *end;
    unsigned long long n;
    int64_t t;

    if (arec_parse_time(s, strlen(s), ms))
        return true;
    if (strlen(s) == 10) {
        char full[32];
        snprintf(full, sizeof(full), "%sT00:00:00Z", s);
        if (arec_parse_time(full, strlen(full), ms))
            return true;
    }
    errno = 0;
    n = strtoull(s, &end, 10);
    if (errno != 0 || end == s || end[0] == '\0' || end[1] != '\0' || n > 100000000ull)
        return false;
    switch (end[0]) {
    case 's': t = (int64_t)n; break;
    case 'm': t = (int64_t)n * 60; break;
    case 'h': t = (int64_t)n * 3600; break;
    case 'd': t = (int64_t)n * 86400; break;
    case 'w': t = (int64_t)n * 604800; break;
    default: return false;
    }
    *ms = now_ms - t * 1000;
    return true;
}

/* ---- output ---------------------------------------------------------------------------------- */

static void iso(int64_t ms, char out[32])
{
    if (ms == INT64_MAX || ms == INT64_MIN || ms < 0)
        snprintf(out, 32, "-");
    else
        time_iso8601_ms((uint64_t)ms, out);
}

static int cmp_consumer(const void *a, const void *b)
{
    const struct consumer *x = *(struct consumer *const *)a, *y = *(struct consumer *const *)b;
    int k = strcmp(x->kind, y->kind);
    return k != 0 ? k : strcmp(x->id, y->id);
}

/* Consumers sorted by kind then id, the "(other)" pool last when used. */
static struct consumer **sorted_consumers(struct report *rp, size_t *n)
{
    struct consumer **v = calloc(rp->n_consumers + 1, sizeof(*v));
    size_t k = 0;

    if (v == NULL)
        return NULL;
    for (size_t i = 0; i < 2 * CONSUMERS_MAX; i++)
        if (rp->slots[i] != NULL)
            v[k++] = rp->slots[i];
    qsort(v, k, sizeof(*v), cmp_consumer);
    if (rp->other.requests + rp->other.events > 0)
        v[k++] = &rp->other;
    *n = k;
    return v;
}

static void consumer_name(const struct consumer *c, char *out, size_t size)
{
    if (c->id[0] != '\0')
        snprintf(out, size, "%s:%s", c->kind, c->id);
    else
        snprintf(out, size, "%s", c->kind);
}

static json_t *consumer_json(const struct consumer *c)
{
    char name[ID_MAX + 32], first[32], last[32];
    json_t *reasons = json_object(), *models = json_array();
    bool est;
    uint64_t addrs = distinct_addrs(c, &est);

    consumer_name(c, name, sizeof(name));
    iso(c->first_ms, first);
    iso(c->last_ms, last);
    for (size_t i = 0; i < c->n_reasons; i++)
        json_object_set_new(reasons, c->reasons[i].name, json_integer((json_int_t)c->reasons[i].n));
    if (c->reasons_other)
        json_object_set_new(reasons, "(other)", json_integer((json_int_t)c->reasons_other));
    for (size_t i = 0; i < c->n_models; i++)
        json_array_append_new(models, json_string(c->models[i]));
    return json_pack("{s:s, s:s, s:s, s:I, s:I, s:o, s:I, s:I, s:b, s:I, s:I, s:o, s:I, s:I,"
                     " s:o, s:o}",
                     "consumer", name, "kind", c->kind, "id", c->id, "requests",
                     (json_int_t)c->requests, "denials", (json_int_t)c->denials,
                     "denials_by_reason", reasons, "errors", (json_int_t)c->errors,
                     "distinct_addresses", (json_int_t)addrs, "distinct_addresses_estimated", est,
                     "after_hours_requests", (json_int_t)c->after_hours, "large_requests",
                     (json_int_t)c->large, "models", models, "models_not_listed",
                     (json_int_t)c->models_other, "security_events", (json_int_t)c->events,
                     "first_seen", c->requests ? json_string(first) : json_null(), "last_seen",
                     c->requests ? json_string(last) : json_null());
}

static json_t *report_json(struct report *rp, struct consumer **v, size_t n, json_t *files,
                           const char *hours_spec)
{
    char since[32], until[32], first[32], last[32];
    json_t *consumers = json_array(), *totals = json_array(), *events = json_array();

    iso(rp->since_ms == INT64_MIN ? INT64_MIN : rp->since_ms, since);
    iso(rp->until_ms == INT64_MAX ? INT64_MAX : rp->until_ms, until);
    iso(rp->first_ms, first);
    iso(rp->last_ms, last);
    for (size_t i = 0; i < n; i++)
        json_array_append_new(consumers, consumer_json(v[i]));
    for (size_t i = 0; i < rp->n_totals; i++)
        json_array_append_new(totals,
                              json_pack("{s:i, s:s, s:I, s:I}", "signature",
                                        rp->totals[i].signature, "name", rp->totals[i].name,
                                        "events", (json_int_t)rp->totals[i].events, "occurrences",
                                        (json_int_t)rp->totals[i].occurrences));
    for (size_t i = 0; i < rp->n_listed; i++) {
        const struct event_line *e = &rp->listed[i];
        char t[32];
        iso(e->time_ms, t);
        json_array_append_new(events,
                              json_pack("{s:s, s:i, s:s, s:I, s:s, s:s, s:s}", "time", t,
                                        "signature", e->signature, "name", e->name, "count",
                                        (json_int_t)e->count, "client", e->client, "principal",
                                        e->principal, "message", e->message));
    }
    return json_pack(
        "{s:{s:o, s:o, s:o, s:o}, s:o, s:{s:I, s:I, s:I, s:I, s:I}, s:o, s:o, s:o, s:{s:o, s:o,"
        " s:I}}",
        "period", "since", rp->since_ms == INT64_MIN ? json_null() : json_string(since), "until",
        rp->until_ms == INT64_MAX ? json_null() : json_string(until), "first_record",
        rp->lines && rp->first_ms != INT64_MAX ? json_string(first) : json_null(), "last_record",
        rp->lines && rp->last_ms != INT64_MIN ? json_string(last) : json_null(), "files", files,
        "lines", "total", (json_int_t)rp->lines, "requests", (json_int_t)rp->requests,
        "security_events", (json_int_t)rp->events, "malformed", (json_int_t)rp->malformed,
        "outside_period", (json_int_t)rp->outside, "after_hours",
        hours_spec ? json_pack("{s:s, s:s}", "source", "business hours", "hours", hours_spec)
                   : json_pack("{s:s}", "source", "security events 210"),
        "large_requests",
        json_pack("{s:I, s:I}", "bytes", (json_int_t)rp->large_bytes, "records",
                  (json_int_t)rp->large_records),
        "consumers", consumers, "security_events", "by_signature", totals, "events", events,
        "events_not_listed", (json_int_t)rp->not_listed);
}

static void csv_field(FILE *out, const char *s)
{
    /* RFC 4180 quoting; a leading = + - @ is prefixed with ' against spreadsheet formulas. */
    fputc('"', out);
    if (s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@')
        fputc('\'', out);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', out);
        fputc(*s, out);
    }
    fputc('"', out);
}

static void print_csv(FILE *out, struct consumer **v, size_t n)
{
    fputs("consumer,kind,id,requests,denials,denials_by_reason,errors,distinct_addresses,"
          "after_hours_requests,large_requests,models,security_events,first_seen,last_seen\n",
          out);
    for (size_t i = 0; i < n; i++) {
        const struct consumer *c = v[i];
        char name[ID_MAX + 32], first[32], last[32], reasons[1400] = "", models[1200] = "";
        size_t rl = 0, ml = 0;
        bool est;
        uint64_t addrs = distinct_addrs(c, &est);
        consumer_name(c, name, sizeof(name));
        iso(c->first_ms, first);
        iso(c->last_ms, last);
        for (size_t k = 0; k < c->n_reasons && rl < sizeof(reasons); k++)
            rl += (size_t)snprintf(reasons + rl, sizeof(reasons) - rl, "%s%s:%llu", k ? ";" : "",
                                   c->reasons[k].name, (unsigned long long)c->reasons[k].n);
        for (size_t k = 0; k < c->n_models && ml < sizeof(models); k++)
            ml += (size_t)snprintf(models + ml, sizeof(models) - ml, "%s%s", k ? ";" : "",
                                   c->models[k]);
        csv_field(out, name);
        fputc(',', out);
        csv_field(out, c->kind);
        fputc(',', out);
        csv_field(out, c->id);
        fprintf(out, ",%llu,%llu,", (unsigned long long)c->requests,
                (unsigned long long)c->denials);
        csv_field(out, reasons);
        fprintf(out, ",%llu,%s%llu,%llu,%llu,", (unsigned long long)c->errors, est ? "~" : "",
                (unsigned long long)addrs, (unsigned long long)c->after_hours,
                (unsigned long long)c->large);
        csv_field(out, models);
        fprintf(out, ",%llu,%s,%s\n", (unsigned long long)c->events,
                c->requests ? first : "", c->requests ? last : "");
    }
}

static void print_text(FILE *out, struct report *rp, struct consumer **v, size_t n,
                       const json_t *files, const char *hours_spec)
{
    char a[32], b[32];
    const json_t *f;
    size_t i;

    iso(rp->first_ms, a);
    iso(rp->last_ms, b);
    fprintf(out, "Access review of the audit trail\n");
    if (rp->since_ms != INT64_MIN) {
        iso(rp->since_ms, a);
        fprintf(out, "period: since %s", a);
        if (rp->until_ms != INT64_MAX) {
            iso(rp->until_ms, b);
            fprintf(out, " until %s", b);
        }
        fputc('\n', out);
        iso(rp->first_ms, a);
        iso(rp->last_ms, b);
    }
    fprintf(out, "records: %s .. %s\n", a, b);
    json_array_foreach(files, i, f) {
        fprintf(out, "file: %s (%lld records)\n",
                json_string_value(json_object_get(f, "path")),
                (long long)json_integer_value(json_object_get(f, "records")));
    }
    fprintf(out, "%llu requests, %llu security events, %llu malformed lines skipped, %llu "
                 "records outside the period\n",
            (unsigned long long)rp->requests, (unsigned long long)rp->events,
            (unsigned long long)rp->malformed, (unsigned long long)rp->outside);
    fprintf(out, "after-hours: %s%s\n", hours_spec ? "outside " : "the server's events 210",
            hours_spec ? hours_spec : "");
    fprintf(out, "large: at least %llu bytes or %llu records (0: off)\n\n",
            (unsigned long long)rp->large_bytes, (unsigned long long)rp->large_records);
    fprintf(out, "%-32s %9s %7s %6s %9s %11s %6s  %-24s %-24s %s\n", "consumer", "requests",
            "denied", "errors", "addresses", "after-hours", "large", "first seen", "last seen",
            "models");
    for (i = 0; i < n; i++) {
        const struct consumer *c = v[i];
        char name[ID_MAX + 32], addrs[32];
        bool est;
        uint64_t na = distinct_addrs(c, &est);
        consumer_name(c, name, sizeof(name));
        iso(c->first_ms, a);
        iso(c->last_ms, b);
        snprintf(addrs, sizeof(addrs), "%s%llu", est ? "~" : "", (unsigned long long)na);
        fprintf(out, "%-32s %9llu %7llu %6llu %9s %11llu %6llu  %-24s %-24s", name,
                (unsigned long long)c->requests, (unsigned long long)c->denials,
                (unsigned long long)c->errors, addrs, (unsigned long long)c->after_hours,
                (unsigned long long)c->large, c->requests ? a : "-", c->requests ? b : "-");
        for (size_t k = 0; k < c->n_models; k++)
            fprintf(out, "%s%s", k ? "," : " ", c->models[k]);
        if (c->models_other)
            fprintf(out, " +%llu more", (unsigned long long)c->models_other);
        fputc('\n', out);
        if (c->n_reasons > 0) {
            fprintf(out, "    denied:");
            for (size_t k = 0; k < c->n_reasons; k++)
                fprintf(out, " %s %llu", c->reasons[k].name, (unsigned long long)c->reasons[k].n);
            if (c->reasons_other)
                fprintf(out, " (other) %llu", (unsigned long long)c->reasons_other);
            fputc('\n', out);
        }
    }
    fprintf(out, "\nsecurity events:%s\n", rp->n_totals ? "" : " none");
    for (i = 0; i < rp->n_totals; i++)
        fprintf(out, "  %d %s: %llu events (%llu occurrences)\n", rp->totals[i].signature,
                rp->totals[i].name, (unsigned long long)rp->totals[i].events,
                (unsigned long long)rp->totals[i].occurrences);
    for (i = 0; i < rp->n_listed; i++) {
        const struct event_line *e = &rp->listed[i];
        iso(e->time_ms, a);
        fprintf(out, "  %s %d %s: client %s principal %s: %s\n", a, e->signature, e->name,
                e->client[0] ? e->client : "-", e->principal[0] ? e->principal : "-",
                e->message);
    }
    if (rp->not_listed)
        fprintf(out, "  ... %llu more events not listed (see --format json for the totals)\n",
                (unsigned long long)rp->not_listed);
}

/* ---- the command ----------------------------------------------------------------------------- */

static int usage(void)
{
    fprintf(stderr,
            "usage: modelwrap audit report [--since 7d|DATE] [--until DATE] "
            "[--format text|json|csv]\n"
            "                              [--business-hours SPEC] [--timezone TZ]\n"
            "                              [--large-bytes N] [--large-records N] FILE...\n"
            "FILE: audit files (JSON lines or CEF, plain or .gz, '-' for stdin).\n");
    return 2;
}

int cli_audit(int argc, char **argv, int first, char **envp)
{
    struct config cfg;
    bool cfg_loaded = false;
    struct report *rp = NULL;
    struct arec_parser ap = {NULL, NULL};
    struct mw_error e = {0};
    struct consumer **v = NULL;
    const char *since, *until, *format, *hours, *tz, *lb, *lr;
    bool missing = false;
    int64_t now_ms = (int64_t)time_real_ms();
    char *buf = NULL;
    json_t *files = NULL;
    size_t n = 0;
    int ret = 2;

    if (argc <= first || strcmp(argv[first], "report") != 0)
        return usage();
    first++;
    since = cli_take_option(&argc, argv, first, "since", &missing);
    until = cli_take_option(&argc, argv, first, "until", &missing);
    format = cli_take_option(&argc, argv, first, "format", &missing);
    hours = cli_take_option(&argc, argv, first, "business-hours", &missing);
    tz = cli_take_option(&argc, argv, first, "timezone", &missing);
    lb = cli_take_option(&argc, argv, first, "large-bytes", &missing);
    lr = cli_take_option(&argc, argv, first, "large-records", &missing);
    if (missing || argc <= first)
        return usage();
    if (format == NULL)
        format = "text";
    if (strcmp(format, "text") != 0 && strcmp(format, "json") != 0 && strcmp(format, "csv") != 0) {
        fprintf(stderr, "modelwrap audit report: --format takes text, json or csv\n");
        return 2;
    }
    for (int i = first; i < argc; i++) {
        if (strncmp(argv[i], "--", 2) == 0) {
            fprintf(stderr, "modelwrap audit report: unknown option %s\n", argv[i]);
            return usage();
        }
    }
    rp = calloc(1, sizeof(*rp));
    if (rp == NULL)
        goto out_nomem;
    rp->since_ms = INT64_MIN;
    rp->until_ms = INT64_MAX;
    rp->first_ms = INT64_MAX;
    rp->last_ms = INT64_MIN;
    rp->other.first_ms = INT64_MAX;
    rp->other.last_ms = INT64_MIN;
    snprintf(rp->other.kind, sizeof(rp->other.kind), "(other)");
    if ((since != NULL && !parse_when(since, now_ms, &rp->since_ms)) ||
        (until != NULL && !parse_when(until, now_ms, &rp->until_ms))) {
        fprintf(stderr, "modelwrap audit report: --since/--until take a duration (90m, 12h, 7d, "
                        "2w) or a date (2026-12-01, 2026-12-01T08:00:00Z)\n");
        goto out;
    }
    /* The defaults are the server's: the business hours, zone and large-request thresholds of
     * the environment and .env (MODELWRAP_AUDIT_*), which the flags override. */
    if (config_load(&cfg, 1, argv, 1, envp, &e) != 0) {
        fprintf(stderr, "modelwrap: %s\n", e.msg);
        goto out;
    }
    cfg_loaded = true;
    if (hours == NULL)
        hours = cfg.audit_business_hours;
    if (tz == NULL)
        tz = cfg.audit_timezone;
    if (hours != NULL && hours[0] == '\0')
        hours = NULL;
    if (audit_hours_parse(&rp->hours, hours, &e) != 0 ||
        (tz != NULL && tz[0] != '\0' && audit_timezone_check(tz, &e) != 0)) {
        fprintf(stderr, "modelwrap audit report: %s\n", e.msg);
        goto out;
    }
    /* One thread: the zone is set once, before any localtime_r (as the server does). */
    setenv("TZ", tz != NULL && tz[0] != '\0' ? tz : "UTC", 1);
    tzset();
    rp->large_bytes = cfg.audit_large_request_bytes;
    rp->large_records = cfg.audit_large_request_records;
    if (lb != NULL) {
        char *end;
        rp->large_bytes = strtoull(lb, &end, 10);
        if (end == lb || *end != '\0') {
            fprintf(stderr, "modelwrap audit report: --large-bytes takes a number\n");
            goto out;
        }
    }
    if (lr != NULL) {
        char *end;
        rp->large_records = strtoull(lr, &end, 10);
        if (end == lr || *end != '\0') {
            fprintf(stderr, "modelwrap audit report: --large-records takes a number\n");
            goto out;
        }
    }
    rp->slots = calloc(2 * CONSUMERS_MAX, sizeof(*rp->slots));
    rp->listed = calloc(EVENTS_LISTED, sizeof(*rp->listed));
    buf = malloc(READ_CHUNK + 1);
    files = json_array();
    if (rp->slots == NULL || rp->listed == NULL || buf == NULL || files == NULL ||
        arec_parser_init(&ap) != 0)
        goto out_nomem;
    for (int i = first; i < argc; i++) {
        uint64_t before = rp->malformed, records = 0;
        if (read_file(rp, &ap, argv[i], buf, &records) != 0)
            goto out;
        json_array_append_new(files, json_pack("{s:s, s:I, s:I}", "path", argv[i], "records",
                                               (json_int_t)records, "malformed",
                                               (json_int_t)(rp->malformed - before)));
    }
    v = sorted_consumers(rp, &n);
    if (v == NULL)
        goto out_nomem;
    if (strcmp(format, "json") == 0) {
        json_t *doc = report_json(rp, v, n, json_incref(files), hours);
        if (doc == NULL)
            goto out_nomem;
        json_dumpf(doc, stdout, JSON_INDENT(2));
        fputc('\n', stdout);
        json_decref(doc);
    } else if (strcmp(format, "csv") == 0) {
        print_csv(stdout, v, n);
    } else {
        print_text(stdout, rp, v, n, files, hours);
    }
    if (rp->malformed > 0)
        fprintf(stderr, "modelwrap audit report: %llu malformed lines skipped\n",
                (unsigned long long)rp->malformed);
    ret = fflush(stdout) == 0 ? 0 : 2;
    goto out;
out_nomem:
    fprintf(stderr, "modelwrap audit report: out of memory\n");
out:
    free(v);
    if (rp != NULL) {
        for (size_t i = 0; rp->slots != NULL && i < 2 * CONSUMERS_MAX; i++) {
            if (rp->slots[i] != NULL)
                free(rp->slots[i]->hll);
            free(rp->slots[i]);
        }
        free(rp->other.hll);
        free(rp->slots);
        free(rp->listed);
        free(rp);
    }
    json_decref(files);
    free(buf);
    arec_parser_fini(&ap);
    if (cfg_loaded)
        config_fini(&cfg);
    return ret;
}
