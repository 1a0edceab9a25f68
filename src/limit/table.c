/*
 * table: the local limiter's memory. A fixed array of 8-way sets of {key hash, arrival time}
 * slots, split into shards with one mutex each, so memory stays bounded however many consumers
 * appear and no lock is shared by the whole process.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "limit/limit.h"

#define WAYS 8         /* slots per set: two cache lines */
#define SHARDS_MAX 256 /* mutexes; a set belongs to exactly one shard */
#define CAPACITY_MAX (UINT64_C(1) << 28)

struct slot {
    uint64_t tag; /* SipHash of the key */
    uint64_t tat; /* theoretical arrival time (monotonic ns); 0: empty */
};

struct set {
    struct slot slot[WAYS];
};

struct shard {
    pthread_mutex_t mu;
    uint64_t allowed;
    uint64_t limited;
    uint64_t evicted;
} __attribute__((aligned(64)));

struct limit_table {
    struct set *sets;
    size_t set_mask;
    struct shard *shards;
    size_t shard_mask;
    uint64_t k0, k1; /* SipHash key, random per table: nobody can aim keys at one set */
};

/* ---- SipHash-2-4 (Aumasson and Bernstein), 64-bit output ------------------------------------- */

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                                                   \
    do {                                                                                           \
        v0 += v1;                                                                                  \
        v1 = ROTL(v1, 13);                                                                         \
        v1 ^= v0;                                                                                  \
        v0 = ROTL(v0, 32);                                                                         \
        v2 += v3;                                                                                  \
        v3 = ROTL(v3, 16);                                                                         \
        v3 ^= v2;                                                                                  \
        v0 += v3;                                                                                  \
        v3 = ROTL(v3, 21);                                                                         \
        v3 ^= v0;                                                                                  \
        v2 += v1;                                                                                  \
        v1 = ROTL(v1, 17);                                                                         \
        v1 ^= v2;                                                                                  \
        v2 = ROTL(v2, 32);                                                                         \
    } while (0)

static uint64_t load64_le(const unsigned char *p)
{
    return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24 |
           (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 | (uint64_t)p[6] << 48 |
           (uint64_t)p[7] << 56;
}

static uint64_t siphash(uint64_t k0, uint64_t k1, const void *data, size_t len)
{
    const unsigned char *in = data;
    uint64_t v0 = k0 ^ UINT64_C(0x736f6d6570736575);
    uint64_t v1 = k1 ^ UINT64_C(0x646f72616e646f6d);
    uint64_t v2 = k0 ^ UINT64_C(0x6c7967656e657261);
    uint64_t v3 = k1 ^ UINT64_C(0x7465646279746573);
    uint64_t b = (uint64_t)len << 56;
    size_t whole = len - len % 8;
    size_t i;

    for (i = 0; i < whole; i += 8) {
        uint64_t m = load64_le(in + i);
        v3 ^= m;
        SIPROUND;
        SIPROUND;
        v0 ^= m;
    }
    for (i = 0; i < len % 8; i++)
        b |= (uint64_t)in[whole + i] << (8 * i);
    v3 ^= b;
    SIPROUND;
    SIPROUND;
    v0 ^= b;
    v2 ^= 0xff;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    return v0 ^ v1 ^ v2 ^ v3;
}

/* ---- the table ------------------------------------------------------------------------------- */

static size_t pow2_at_least(size_t n)
{
    size_t p = 1;
    while (p < n)
        p <<= 1;
    return p;
}

/* Allocates the table; see limit.h. Main thread (or any: no shared state). */
struct limit_table *limit_table_new(size_t capacity, struct mw_error *e)
{
    struct limit_table *t = calloc(1, sizeof(*t));
    unsigned char key[16];
    size_t n_sets;
    size_t n_shards;
    size_t i;

    if (!t) {
        mw_fail(e, MWE_NOMEM, "out of memory for the rate-limit table");
        goto out;
    }
    if (capacity < WAYS)
        capacity = WAYS;
    if (capacity > CAPACITY_MAX)
        capacity = CAPACITY_MAX;
    n_sets = pow2_at_least((capacity + WAYS - 1) / WAYS);
    n_shards = n_sets < SHARDS_MAX ? n_sets : SHARDS_MAX;
    if (mw_random(key, sizeof(key)) != 0) {
        mw_fail(e, MWE_IO, "no randomness for the rate-limit table's hash key");
        goto out_free;
    }
    t->k0 = load64_le(key);
    t->k1 = load64_le(key + 8);
    t->sets = calloc(n_sets, sizeof(*t->sets));
    t->shards = aligned_alloc(64, n_shards * sizeof(*t->shards));
    if (!t->sets || !t->shards) {
        mw_fail(e, MWE_NOMEM, "out of memory for a rate-limit table of %zu consumers", capacity);
        goto out_free;
    }
    memset(t->shards, 0, n_shards * sizeof(*t->shards));
    t->set_mask = n_sets - 1;
    t->shard_mask = n_shards - 1;
    for (i = 0; i < n_shards; i++)
        pthread_mutex_init(&t->shards[i].mu, NULL);
    goto out;

out_free:
    free(t->sets);
    free(t->shards);
    free(t);
    t = NULL;
out:
    return t;
}

/* Frees t (NULL is fine). No thread may be using it. */
void limit_table_free(struct limit_table *t)
{
    size_t i;

    if (!t)
        return;
    for (i = 0; i <= t->shard_mask; i++)
        pthread_mutex_destroy(&t->shards[i].mu);
    free(t->sets);
    free(t->shards);
    free(t);
}

/* One decision; see limit.h. Under the shard's mutex: a hash, a scan of 8 slots, GCRA. */
void limit_table_take(struct limit_table *t, const void *key, size_t len, const struct gcra *g,
                      uint64_t now_ns, struct limit_decision *d)
{
    uint64_t h = siphash(t->k0, t->k1, key, len);
    size_t si = (size_t)h & t->set_mask;
    struct set *set = &t->sets[si];
    struct shard *sh = &t->shards[si & t->shard_mask];
    struct slot *found = NULL;
    struct slot *free_slot = NULL;
    struct slot *oldest = NULL;
    size_t i;

    if (now_ns == 0)
        now_ns = 1; /* 0 marks an empty slot */
    pthread_mutex_lock(&sh->mu);
    for (i = 0; i < WAYS; i++) {
        struct slot *s = &set->slot[i];
        if (s->tat != 0 && s->tag == h) {
            found = s;
            break;
        }
        if (s->tat <= now_ns) {
            /* Empty, or a consumer whose bucket is full again: exactly like no entry. */
            if (!free_slot)
                free_slot = s;
        } else if (!oldest || s->tat < oldest->tat) {
            oldest = s;
        }
    }
    if (!found) {
        found = free_slot;
        if (!found) {
            found = oldest;
            sh->evicted++;
        }
        found->tag = h;
        found->tat = 0;
    }
    if (limit_gcra_decide(g, &found->tat, now_ns, d))
        sh->allowed++;
    else
        sh->limited++;
    pthread_mutex_unlock(&sh->mu);
    d->source = LIMIT_SRC_LOCAL;
}

/* Slots in t. Any thread. */
size_t limit_table_capacity(const struct limit_table *t)
{
    return (t->set_mask + 1) * WAYS;
}

/* Counts slots whose consumer is not idle at now_ns. Takes each shard's mutex in turn. */
size_t limit_table_active(struct limit_table *t, uint64_t now_ns)
{
    size_t n = 0;
    size_t si;
    size_t i;

    for (si = 0; si <= t->set_mask; si++) {
        struct shard *sh = &t->shards[si & t->shard_mask];
        pthread_mutex_lock(&sh->mu);
        for (i = 0; i < WAYS; i++)
            if (t->sets[si].slot[i].tat > now_ns)
                n++;
        pthread_mutex_unlock(&sh->mu);
    }
    return n;
}

/* Sums the shards' counters (any of the out pointers may be NULL). Takes each shard's mutex. */
void limit_table_counters(struct limit_table *t, uint64_t *allowed, uint64_t *limited,
                          uint64_t *evicted)
{
    uint64_t a = 0, l = 0, v = 0;
    size_t i;

    for (i = 0; i <= t->shard_mask; i++) {
        pthread_mutex_lock(&t->shards[i].mu);
        a += t->shards[i].allowed;
        l += t->shards[i].limited;
        v += t->shards[i].evicted;
        pthread_mutex_unlock(&t->shards[i].mu);
    }
    if (allowed)
        *allowed = a;
    if (limited)
        *limited = l;
    if (evicted)
        *evicted = v;
}
