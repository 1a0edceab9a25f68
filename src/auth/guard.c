/*
 * Brute-force protection: authentication failures per client address in a bounded, sharded
 * table. Too many failures within the window block the address for a while. IPv6 addresses are
 * counted per /64 (one subscriber's allocation). Idle entries are reused; when a shard's probe
 * window is full the least recently seen entry is evicted, so memory never grows.
 */
#include <arpa/inet.h>
#include <string.h>

#include "auth/auth_int.h"

/* The 16-byte key of an address text. */
static void addr_key(const char *addr, unsigned char out[16])
{
    struct in_addr a4;
    struct in6_addr a6;

    memset(out, 0, 16);
    if (inet_pton(AF_INET, addr, &a4) == 1) {
        out[10] = 0xff;
        out[11] = 0xff;
        memcpy(out + 12, &a4, 4);
        return;
    }
    if (inet_pton(AF_INET6, addr, &a6) == 1) {
        memcpy(out, &a6, 16);
        if (!(memcmp(out, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0))
            memset(out + 8, 0, 8); /* the /64 */
        return;
    }
    /* Not an address (a Unix socket, empty): a hash of the text, tagged so it cannot equal an
     * address. */
    uint64_t h1 = 0xcbf29ce484222325ull, h2 = 0x84222325cbf29ce4ull;
    for (const unsigned char *p = (const unsigned char *)addr; *p; p++) {
        h1 = (h1 ^ *p) * 0x100000001b3ull;
        h2 = (h2 ^ *p) * 0x100000001b3ull + 1;
    }
    memcpy(out, &h1, 8);
    memcpy(out + 8, &h2, 8);
    out[0] = 0xfe;
    out[1] = 0xed;
}

static uint64_t key_hash(const struct auth_lockout *g, const unsigned char k[16])
{
    uint64_t a, b;
    memcpy(&a, k, 8);
    memcpy(&b, k + 8, 8);
    return mw_mix64(a ^ g->seed) ^ mw_mix64(b + g->seed);
}

/* Prepares g (caller-owned). limit 0 disables blocking. Main thread. */
void auth_lockout_init(struct auth_lockout *g, unsigned limit, unsigned window_s, unsigned block_s)
{
    memset(g, 0, sizeof(*g));
    g->limit = limit;
    g->window_ns = (uint64_t)window_s * 1000000000ull;
    g->block_ns = (uint64_t)block_s * 1000000000ull;
    if (mw_random(&g->seed, sizeof(g->seed)) != 0)
        g->seed = time_mono_ns();
    atomic_init(&g->horizon_ns, 0);
    for (size_t i = 0; i < GUARD_SHARDS; i++)
        pthread_mutex_init(&g->shards[i].mu, NULL);
}

/* Frees the locks. No thread may use g any more. */
void auth_lockout_fini(struct auth_lockout *g)
{
    for (size_t i = 0; i < GUARD_SHARDS; i++)
        pthread_mutex_destroy(&g->shards[i].mu);
}

static bool entry_idle(const struct auth_lockout *g, const struct lockout_entry *e, uint64_t now)
{
    return !e->used || (e->blocked_until_ns <= now && now - e->window_start_ns > g->window_ns);
}

/* The entry of key in shard sh (locked), or NULL. */
static struct lockout_entry *find(struct lockout_shard *sh, size_t home, const unsigned char k[16])
{
    for (size_t i = 0; i < GUARD_PROBE; i++) {
        struct lockout_entry *e = &sh->e[(home + i) % GUARD_SHARD_CAP];
        if (e->used && memcmp(e->addr, k, 16) == 0)
            return e;
    }
    return NULL;
}

/* True when addr is blocked at now; *retry_after_s gets the whole seconds left (at least 1).
 * Lock-free while no address is blocked (the common case); otherwise one shard lock. */
bool auth_lockout_blocked(struct auth_lockout *g, const char *addr, uint64_t now,
                          unsigned *retry_after_s)
{
    unsigned char k[16];
    bool blocked = false;

    if (g->limit == 0 || now >= atomic_load_explicit(&g->horizon_ns, memory_order_acquire))
        return false;
    addr_key(addr, k);
    uint64_t h = key_hash(g, k);
    struct lockout_shard *sh = &g->shards[h % GUARD_SHARDS];
    pthread_mutex_lock(&sh->mu);
    struct lockout_entry *e = find(sh, (size_t)(h >> 8) % GUARD_SHARD_CAP, k);
    if (e && e->blocked_until_ns > now) {
        uint64_t left = e->blocked_until_ns - now;
        *retry_after_s = (unsigned)((left + 999999999ull) / 1000000000ull);
        if (*retry_after_s == 0)
            *retry_after_s = 1;
        blocked = true;
    }
    pthread_mutex_unlock(&sh->mu);
    return blocked;
}

/* Records a failure of addr at now. Returns true when this failure blocks the address (the
 * failure count reached the limit within the window). One shard lock. */
bool auth_lockout_fail(struct auth_lockout *g, const char *addr, uint64_t now)
{
    unsigned char k[16];
    bool blocks = false;

    if (g->limit == 0)
        return false;
    addr_key(addr, k);
    uint64_t h = key_hash(g, k);
    struct lockout_shard *sh = &g->shards[h % GUARD_SHARDS];
    size_t home = (size_t)(h >> 8) % GUARD_SHARD_CAP;
    pthread_mutex_lock(&sh->mu);
    struct lockout_entry *e = find(sh, home, k);
    if (!e) {
        /* A free or idle slot in the probe window, else the least recently seen (preferably not
         * blocked) one. */
        struct lockout_entry *victim = NULL, *victim_blocked = NULL;
        for (size_t i = 0; i < GUARD_PROBE; i++) {
            struct lockout_entry *c = &sh->e[(home + i) % GUARD_SHARD_CAP];
            if (entry_idle(g, c, now)) {
                victim = c;
                break;
            }
            if (c->blocked_until_ns > now) {
                if (!victim_blocked || c->last_ns < victim_blocked->last_ns)
                    victim_blocked = c;
            } else if (!victim || c->last_ns < victim->last_ns) {
                victim = c;
            }
        }
        e = victim ? victim : victim_blocked;
        memset(e, 0, sizeof(*e));
        memcpy(e->addr, k, 16);
        e->used = true;
        e->window_start_ns = now;
    }
    e->last_ns = now;
    if (e->blocked_until_ns > now)
        goto out; /* already blocked: nothing more to count */
    if (now - e->window_start_ns > g->window_ns) {
        e->window_start_ns = now;
        e->failures = 0;
    }
    e->failures++;
    if (e->failures >= g->limit) {
        e->blocked_until_ns = now + g->block_ns;
        e->failures = 0;
        e->window_start_ns = now;
        blocks = true;
        unsigned long long h0 = atomic_load(&g->horizon_ns);
        while (h0 < e->blocked_until_ns &&
               !atomic_compare_exchange_weak(&g->horizon_ns, &h0, e->blocked_until_ns))
            ;
    }
out:
    pthread_mutex_unlock(&sh->mu);
    return blocks;
}
