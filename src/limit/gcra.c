/*
 * gcra: the generic cell rate algorithm every limiter here runs (the local table in C, Redis in
 * the same arithmetic in Lua) and the consumer key they share.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "limit/limit.h"

/* Longest span kept: 2^61 ns is about 73 years, far from overflowing now + span. */
#define SPAN_MAX (UINT64_C(1) << 61)

/* Fills g from a rate in requests/s and a burst; see limit.h. Pure. */
void limit_gcra_init(struct gcra *g, double rate, unsigned burst)
{
    double iv;

    if (burst == 0)
        burst = 1;
    g->rate = rate;
    g->burst = burst;
    iv = rate > 0 && isfinite(rate) ? 1e9 / rate : (double)SPAN_MAX;
    if (!(iv >= 1.0))
        iv = 1.0;
    if (iv > (double)SPAN_MAX)
        iv = (double)SPAN_MAX;
    g->interval_ns = (uint64_t)llround(iv);
    if (g->interval_ns == 0)
        g->interval_ns = 1;
    if ((uint64_t)burst > SPAN_MAX / g->interval_ns)
        g->span_ns = SPAN_MAX;
    else
        g->span_ns = g->interval_ns * burst;
}

/* One step of GCRA; see limit.h. A request is allowed when, after it, the theoretical arrival
 * time is at most one span ahead of now. Pure. */
bool limit_gcra_decide(const struct gcra *g, uint64_t *tat, uint64_t now_ns,
                       struct limit_decision *d)
{
    uint64_t t = *tat > now_ns ? *tat : now_ns;
    uint64_t next = t + g->interval_ns;
    uint64_t ahead = next - now_ns;

    d->limit = g->burst;
    if (ahead > g->span_ns) {
        d->allowed = false;
        d->remaining = 0;
        d->retry_ns = ahead - g->span_ns;
        d->reset_ns = t - now_ns;
        return false;
    }
    *tat = next;
    d->allowed = true;
    d->remaining = (unsigned)((g->span_ns - ahead) / g->interval_ns);
    d->reset_ns = ahead;
    d->retry_ns = 0;
    return true;
}

/* Builds "<tag>:<len(a)>:<a><b>" into out; see limit.h. Borrows a and b. Any thread. */
size_t limit_key_build(char *out, size_t cap, char tag, const char *a, const char *b)
{
    size_t la = a ? strlen(a) : 0;
    size_t lb = b ? strlen(b) : 0;
    int n;

    if (cap == 0)
        return 0;
    char head[32]; /* "<tag>:<la>:" without printf: one per request */

    head[0] = tag;
    head[1] = ':';
    n = 2 + (int)fmt_u64(head + 2, la);
    head[n++] = ':';
    if ((size_t)n >= cap || la >= cap - (size_t)n || lb >= cap - (size_t)n - la) {
        out[0] = '\0';
        return 0;
    }
    memcpy(out, head, (size_t)n);
    if (la > 0)
        memcpy(out + n, a, la);
    if (lb > 0)
        memcpy(out + (size_t)n + la, b, lb);
    out[(size_t)n + la + lb] = '\0';
    return (size_t)n + la + lb;
}
