/*
 * process.c: the modelwrap_process_* families, read from Linux's /proc at scrape time (CPU time,
 * memory, file descriptors, threads, start time). Linux-only by nature, hence its own file.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "metrics/metrics.h"

struct proc_stat {
    uint64_t utime, stime; /* clock ticks */
    uint64_t threads;
    uint64_t start_ticks; /* since boot */
    uint64_t vsize;       /* bytes */
    uint64_t rss_pages;
};

/* Reads at most cap-1 bytes of a small /proc file into buf (NUL-terminated). */
static int read_small(const char *path, char *buf, size_t cap)
{
    size_t used = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    int rc = 0;

    if (fd < 0)
        return -1;
    while (used + 1 < cap) {
        ssize_t n = read(fd, buf + used, cap - 1 - used);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = -1;
            break;
        }
        if (n == 0)
            break;
        used += (size_t)n;
    }
    buf[used] = '\0';
    close(fd);
    return rc;
}

/* Parses /proc/self/stat: fields after "pid (comm)" (comm may hold spaces and parentheses, so the
 * parse starts after the last ')'). */
static int parse_stat(const char *text, struct proc_stat *ps)
{
    const char *p = strrchr(text, ')');
    unsigned long long v[64];
    size_t n = 0;
    char *end;

    if (p == NULL)
        return -1;
    p++;
    /* p now points at " S ppid ...": field 3 (state) is a letter, numbers follow from field 4. */
    while (*p == ' ')
        p++;
    if (*p == '\0')
        return -1;
    p++; /* the state letter */
    while (n < MW_ARRAY_LEN(v)) {
        while (*p == ' ')
            p++;
        if (*p < '0' || *p > '9') {
            if (*p == '-') { /* a negative field (priority, nice): keep the count right */
                strtoll(p, &end, 10);
                v[n++] = 0;
                p = end;
                continue;
            }
            break;
        }
        errno = 0;
        v[n++] = strtoull(p, &end, 10);
        if (errno != 0 || end == p)
            return -1;
        p = end;
    }
    /* v[0] is field 4 (ppid): field k is v[k - 4]. */
    if (n < 24 - 4 + 1)
        return -1;
    ps->utime = v[14 - 4];
    ps->stime = v[15 - 4];
    ps->threads = v[20 - 4];
    ps->start_ticks = v[22 - 4];
    ps->vsize = v[23 - 4];
    ps->rss_pages = v[24 - 4];
    return 0;
}

/* The boot time (seconds since the epoch) from /proc/stat's "btime" line; 0 when unknown. */
static uint64_t boot_time(void)
{
    char line[512];
    uint64_t bt = 0;
    FILE *f = fopen("/proc/stat", "re");

    if (f == NULL)
        return 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, "btime ", 6) == 0) {
            bt = strtoull(line + 6, NULL, 10);
            break;
        }
    }
    fclose(f);
    return bt;
}

/* Open file descriptors: entries of /proc/self/fd, less the one the listing itself uses. */
static int open_fds(uint64_t *out)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *de;
    uint64_t n = 0;

    if (d == NULL)
        return -1;
    while ((de = readdir(d)) != NULL)
        if (de->d_name[0] != '.')
            n++;
    closedir(d);
    *out = n > 0 ? n - 1 : 0;
    return 0;
}

static int gauge_u64(struct buf *out, const char *name, const char *type, const char *help,
                     uint64_t v)
{
    int rc = metrics_family(out, name, type, help);
    if (rc == 0)
        rc = metrics_sample_u64(out, name, NULL, 0, v);
    return rc;
}

static int gauge_f64(struct buf *out, const char *name, const char *type, const char *help,
                     double v)
{
    int rc = metrics_family(out, name, type, help);
    if (rc == 0)
        rc = metrics_sample_f64(out, name, NULL, 0, v);
    return rc;
}

/* See metrics.h. Thread: any (reads /proc/self, which describes the whole process). */
int metrics_write_process(struct buf *out)
{
    char text[2048];
    struct proc_stat ps;
    struct rlimit rl;
    long tck = sysconf(_SC_CLK_TCK);
    long page = sysconf(_SC_PAGESIZE);
    uint64_t fds = 0, bt;
    int rc = 0;

    if (tck <= 0)
        tck = 100;
    if (page <= 0)
        page = 4096;
    if (read_small("/proc/self/stat", text, sizeof(text)) == 0 && parse_stat(text, &ps) == 0) {
        rc = gauge_f64(out, "modelwrap_process_cpu_seconds_total", "counter",
                       "User and system CPU time of the process, in seconds.",
                       (double)(ps.utime + ps.stime) / (double)tck);
        if (rc == 0)
            rc = gauge_u64(out, "modelwrap_process_resident_memory_bytes", "gauge",
                           "Resident memory of the process, in bytes.",
                           ps.rss_pages * (uint64_t)page);
        if (rc == 0)
            rc = gauge_u64(out, "modelwrap_process_virtual_memory_bytes", "gauge",
                           "Virtual memory of the process, in bytes.", ps.vsize);
        if (rc == 0)
            rc = gauge_u64(out, "modelwrap_process_threads", "gauge", "Threads of the process.",
                           ps.threads);
        bt = boot_time();
        if (rc == 0 && bt > 0)
            rc = gauge_f64(out, "modelwrap_process_start_time_seconds", "gauge",
                           "Start time of the process since the Unix epoch, in seconds.",
                           (double)bt + (double)ps.start_ticks / (double)tck);
    }
    if (rc == 0 && open_fds(&fds) == 0)
        rc = gauge_u64(out, "modelwrap_process_open_fds", "gauge",
                       "Open file descriptors of the process.", fds);
    if (rc == 0 && getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
        rc = gauge_u64(out, "modelwrap_process_max_fds", "gauge",
                       "Maximum number of open file descriptors (soft limit).",
                       (uint64_t)rl.rlim_cur);
    return rc;
}
