/*
 * limiter_bench: what one rate-limit decision costs, as the API pays it (limit_take: clock, hash,
 * shard lock, GCRA; or one Redis round trip running the script), per decision (p50, p99, p99.9)
 * and in total across threads, which shows the local limiter has no process-wide lock.
 * Usage: limiter_bench [--threads N] [--keys K] [--decisions N] [--redis redis://host:port]
 * Prints one JSON object per run on stdout. bench/limiter.sh runs it; docs/BENCHMARKS.md has
 * the numbers.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "limit/limit.h"

struct opts {
    unsigned threads;
    unsigned keys;
    unsigned long decisions; /* per thread */
    const char *redis_url;
};

struct worker {
    struct limiter *l;
    const struct opts *o;
    unsigned index;
    uint64_t *lat_ns; /* one per decision */
    unsigned long allowed;
    unsigned long failed;
    uint64_t wall_ns;
};

static pthread_barrier_t start_line;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a;
    uint64_t y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void *run(void *p)
{
    struct worker *w = p;
    struct limit_decision d;
    char key[LIMIT_KEY_MAX];
    char id[32];
    unsigned long i;
    uint64_t t0;
    uint32_t x = 2463534242u ^ (w->index * 2654435761u);

    pthread_barrier_wait(&start_line);
    t0 = now_ns();
    for (i = 0; i < w->o->decisions; i++) {
        size_t len;
        uint64_t a;
        uint64_t b;

        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5; /* xorshift: consumers in random order */
        snprintf(id, sizeof(id), "consumer-%u", x % w->o->keys);
        len = limit_key_build(key, sizeof(key), 'k', id, NULL);
        a = now_ns();
        if (limit_take(w->l, key, len, 0, 0, &d) != 0)
            w->failed++;
        b = now_ns();
        w->allowed += d.allowed;
        w->lat_ns[i] = b - a;
    }
    w->wall_ns = now_ns() - t0;
    return NULL;
}

/* The cost of the two clock reads around each decision, subtracted from the samples. */
static uint64_t clock_overhead(void)
{
    uint64_t samples[10001];
    size_t i;

    for (i = 0; i < MW_ARRAY_LEN(samples); i++) {
        uint64_t a = now_ns();
        uint64_t b = now_ns();
        samples[i] = b - a;
    }
    qsort(samples, MW_ARRAY_LEN(samples), sizeof(samples[0]), cmp_u64);
    return samples[MW_ARRAY_LEN(samples) / 2];
}

static int parse_args(int argc, char **argv, struct opts *o)
{
    int i;

    *o = (struct opts){1, 10000, 1000000, NULL};
    for (i = 1; i < argc; i++) {
        char *end = NULL;
        unsigned long v;
        if (i + 1 >= argc)
            goto out_usage;
        if (strcmp(argv[i], "--redis") == 0) {
            o->redis_url = argv[++i];
            continue;
        }
        errno = 0;
        v = strtoul(argv[i + 1], &end, 10);
        if (errno != 0 || *end != '\0' || v == 0 || v > 100000000ul)
            goto out_usage;
        if (strcmp(argv[i], "--threads") == 0 && v <= 256)
            o->threads = (unsigned)v;
        else if (strcmp(argv[i], "--keys") == 0)
            o->keys = (unsigned)v;
        else if (strcmp(argv[i], "--decisions") == 0)
            o->decisions = v;
        else
            goto out_usage;
        i++;
    }
    return 0;
out_usage:
    fprintf(stderr, "usage: limiter_bench [--threads N] [--keys K] [--decisions N] "
                    "[--redis redis://host:port]\n");
    return 2;
}

int main(int argc, char **argv)
{
    char *cfg_argv[] = {
        "limiter_bench",      "--rate-limit", "1000/s", "--rate-burst", "100", "--redis-url", NULL,
        "--redis-timeout-ms", "1000",         NULL};
    char *envp[] = {"MODELWRAP_ENV_FILE=", NULL};
    struct worker *w = NULL;
    pthread_t *th = NULL;
    struct limit_stats st;
    struct limiter *l = NULL;
    struct config cfg;
    struct mw_error e = {0};
    uint64_t *all = NULL;
    uint64_t overhead;
    uint64_t wall = 0;
    unsigned long allowed = 0;
    unsigned long failed = 0;
    size_t n;
    size_t i;
    struct opts o;
    int ret = 1;

    if (parse_args(argc, argv, &o) != 0)
        return 2;
    signal(SIGPIPE, SIG_IGN);
    log_set_level(LOG_WARN);
    cfg_argv[6] = (char *)(o.redis_url ? o.redis_url : "");
    if (config_load(&cfg, 9, cfg_argv, 1, envp, &e) != 0) {
        fprintf(stderr, "limiter_bench: %s\n", e.msg);
        return 2;
    }
    l = limit_new(&cfg, &e);
    if (!l) {
        fprintf(stderr, "limiter_bench: %s\n", e.msg);
        goto out_config;
    }
    n = (size_t)o.threads * o.decisions;
    w = calloc(o.threads, sizeof(*w));
    th = calloc(o.threads, sizeof(*th));
    all = malloc(n * sizeof(*all));
    if (!w || !th || !all) {
        fprintf(stderr, "limiter_bench: out of memory\n");
        goto out_free;
    }
    overhead = clock_overhead();
    pthread_barrier_init(&start_line, NULL, o.threads);
    for (i = 0; i < o.threads; i++) {
        w[i] = (struct worker){l, &o, (unsigned)i, all + i * o.decisions, 0, 0, 0};
        if (pthread_create(&th[i], NULL, run, &w[i]) != 0) {
            fprintf(stderr, "limiter_bench: cannot start thread %zu\n", i);
            exit(1); /* the others wait at the barrier forever */
        }
    }
    for (i = 0; i < o.threads; i++) {
        pthread_join(th[i], NULL);
        allowed += w[i].allowed;
        failed += w[i].failed;
        if (w[i].wall_ns > wall)
            wall = w[i].wall_ns;
    }
    pthread_barrier_destroy(&start_line);
    for (i = 0; i < n; i++)
        all[i] = all[i] > overhead ? all[i] - overhead : 0;
    qsort(all, n, sizeof(*all), cmp_u64);
    limit_stats(l, &st);
    printf("{\"store\": \"%s\", \"threads\": %u, \"keys\": %u, \"decisions\": %zu, "
           "\"p50_ns\": %llu, \"p99_ns\": %llu, \"p999_ns\": %llu, \"max_ns\": %llu, "
           "\"decisions_per_s\": %.0f, \"allowed\": %lu, \"store_errors\": %lu, "
           "\"clock_overhead_ns\": %llu}\n",
           st.mode, o.threads, o.keys, n, (unsigned long long)all[n / 2],
           (unsigned long long)all[n * 99 / 100], (unsigned long long)all[n * 999 / 1000],
           (unsigned long long)all[n - 1], (double)n * 1e9 / (double)(wall ? wall : 1), allowed,
           failed, (unsigned long long)overhead);
    ret = failed == 0 ? 0 : 1;
out_free:
    free(all);
    free(th);
    free(w);
    limit_free(l);
out_config:
    config_fini(&cfg);
    return ret;
}
