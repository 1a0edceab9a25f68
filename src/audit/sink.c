/*
 * Audit sinks: where the writer thread puts encoded records. Files (O_APPEND, whole lines, reopened
 * for rotation, fdatasync), stdout, and syslog collectors over TCP (octet-counted frames, delivery
 * tracked through the bytes the peer acknowledged) and UDP (one datagram per record).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/sockios.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit/audit_int.h"

#define TAIL_SCAN_MAX (64 * 1024)  /* bytes read back when looking for a partial last line */
#define PIPE_CHUNK 4096            /* a pipe with room takes this much without blocking */
#define FILE_CHUNK_MAX (64 * 1024) /* bytes of whole records per write(2) to a file */

/* ---- parsing ----------------------------------------------------------------------------------
 */

static bool parse_port(const char *s, size_t len, char out[8])
{
    unsigned long v = 0;
    if (len == 0 || len > 5)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (unsigned long)(s[i] - '0');
    }
    if (v == 0 || v > 65535)
        return false;
    memcpy(out, s, len);
    out[len] = '\0';
    return true;
}

/* "host:port" or "[v6]:port" (len bytes at s) into s->target / s->port. */
static int parse_hostport(struct sink *sk, const char *s, size_t len, const char *setting,
                          struct mw_error *e)
{
    const char *host = s;
    size_t host_len;
    const char *colon;

    if (len > 0 && s[0] == '[') {
        const char *close = memchr(s, ']', len);
        if (close == NULL || close + 1 >= s + len || close[1] != ':')
            goto out_bad;
        host = s + 1;
        host_len = (size_t)(close - host);
        colon = close + 1;
    } else {
        colon = NULL;
        for (size_t i = len; i > 0; i--)
            if (s[i - 1] == ':') {
                colon = s + i - 1;
                break;
            }
        if (colon == NULL)
            goto out_bad;
        host_len = (size_t)(colon - s);
        if (memchr(s, ':', host_len) != NULL)
            goto out_bad; /* an IPv6 address needs brackets */
    }
    if (host_len == 0 || host_len > 253)
        goto out_bad;
    for (size_t i = 0; i < host_len; i++) {
        char c = host[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-' || c == ':' || c == '_'))
            goto out_bad;
    }
    if (!parse_port(colon + 1, (size_t)(s + len - colon - 1), sk->port))
        goto out_bad;
    sk->target = strndup(host, host_len);
    if (sk->target == NULL)
        return mw_fail(e, MWE_CONFIG, "%s: out of memory", setting);
    return 0;
out_bad:
    return mw_fail(e, MWE_CONFIG,
                   "%s: '%.*s' is not HOST:PORT (a name, an IPv4 address or "
                   "[IPv6], and a port 1-65535)",
                   setting, (int)(len > 64 ? 64 : len), s);
}

static struct sink *sink_alloc(void)
{
    struct sink *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    s->fd = -1;
    buf_init(&s->batch, SIZE_MAX / 2);
    return s;
}

/* Parses one comma-separated list of sinks; see audit_int.h. Main thread. */
int sink_parse_list(const char *list, bool events_only, const char *setting, struct sink **sinks,
                    size_t *n, size_t max, struct mw_error *e)
{
    const char *p = list;
    int rc = 0;

    if (list == NULL)
        goto out;
    while (*p != '\0') {
        const char *end = strchr(p, ',');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        const char *item = p;
        struct sink *sk;

        p = end != NULL ? end + 1 : p + len;
        while (len > 0 && (*item == ' ' || *item == '\t')) {
            item++;
            len--;
        }
        while (len > 0 && (item[len - 1] == ' ' || item[len - 1] == '\t'))
            len--;
        if (len == 0) {
            rc = mw_fail(e, MWE_CONFIG,
                         "%s: empty item in '%.64s' (accepted: a path, stdout, "
                         "syslog+tcp://HOST:PORT, syslog+udp://HOST:PORT, comma-separated)",
                         setting, list);
            goto out;
        }
        if (*n >= max) {
            rc = mw_fail(e, MWE_CONFIG, "%s: more than %zu sinks", setting, max);
            goto out;
        }
        sk = sink_alloc();
        if (sk == NULL) {
            rc = mw_fail(e, MWE_CONFIG, "%s: out of memory", setting);
            goto out;
        }
        sinks[(*n)++] = sk;
        sk->events_only = events_only;
        sk->spec = strndup(item, len);
        if (sk->spec == NULL) {
            rc = mw_fail(e, MWE_CONFIG, "%s: out of memory", setting);
            goto out;
        }
        if (len == 6 && memcmp(item, "stdout", 6) == 0) {
            sk->type = SINK_STDOUT;
        } else if (len > 13 && memcmp(item, "syslog+tcp://", 13) == 0) {
            sk->type = SINK_TCP;
            rc = parse_hostport(sk, item + 13, len - 13, setting, e);
        } else if (len > 13 && memcmp(item, "syslog+udp://", 13) == 0) {
            sk->type = SINK_UDP;
            rc = parse_hostport(sk, item + 13, len - 13, setting, e);
        } else if (memmem(item, len, "://", 3) != NULL) {
            rc = mw_fail(e, MWE_CONFIG,
                         "%s: '%.64s': unknown scheme (accepted: a path, stdout, "
                         "syslog+tcp://HOST:PORT, syslog+udp://HOST:PORT)",
                         setting, sk->spec);
        } else {
            sk->type = SINK_FILE;
            sk->target = strndup(item, len);
            if (sk->target == NULL)
                rc = mw_fail(e, MWE_CONFIG, "%s: out of memory", setting);
        }
        if (rc != 0)
            goto out;
    }
out:
    return rc;
}

/* Frees s (closing it). Main thread. */
void sink_free(struct sink *s)
{
    if (s == NULL)
        return;
    sink_close(s);
    buf_fini(&s->batch);
    free(s->ends);
    free(s->spec);
    free(s->target);
    free(s);
}

/* ---- files ------------------------------------------------------------------------------------
 */

/* Cuts a partial last line (a crash in the middle of a write) so the file holds whole lines. */
static void cut_partial_tail(int fd, const char *path)
{
    struct stat st;
    char buf[4096];
    off_t end, pos;

    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size == 0)
        return;
    end = st.st_size;
    if (pread(fd, buf, 1, end - 1) != 1 || buf[0] == '\n')
        return;
    pos = end;
    while (pos > 0 && end - pos < TAIL_SCAN_MAX) {
        size_t chunk = (size_t)(pos >= (off_t)sizeof(buf) ? (off_t)sizeof(buf) : pos);
        ssize_t got = pread(fd, buf, chunk, pos - (off_t)chunk);
        if (got != (ssize_t)chunk)
            return;
        for (size_t i = chunk; i > 0; i--) {
            if (buf[i - 1] == '\n') {
                off_t keep = pos - (off_t)chunk + (off_t)i;
                if (ftruncate(fd, keep) == 0)
                    log_kv(LOG_WARN, "audit file ended with a partial line: cut it off", "path",
                           path, "#bytes", (long long)(end - keep), NULL);
                return;
            }
        }
        pos -= (off_t)chunk;
    }
    if (pos == 0 && ftruncate(fd, 0) == 0)
        log_kv(LOG_WARN, "audit file held only a partial line: cut it off", "path", path, "#bytes",
               (long long)end, NULL);
}

/* The size of an open file (0 when unknown). */
static uint64_t file_size(int fd)
{
    struct stat st;
    return fstat(fd, &st) == 0 && st.st_size > 0 ? (uint64_t)st.st_size : 0;
}

/* Bytes of the next write to a file: the whole records that fit in FILE_CHUNK_MAX, or the first
 * (remaining) record alone when it is larger. A SIGKILL is noticed between the pages of a
 * write(2), so a kill can tear the record that spans the page being copied; the next start cuts
 * such a partial last line off. Writing only what fits in one page made that rarer but cost two
 * write(2) per ~7 records under load (0.27 per request: the audit writer's largest cost). */
static size_t file_chunk(const struct sink *s)
{
    size_t best = 0;
    for (size_t i = 0; i < s->b_n; i++) {
        size_t end = s->b_cum[i];
        if (end <= s->b_off)
            continue;
        if (end - s->b_off > FILE_CHUNK_MAX)
            break;
        best = end - s->b_off;
    }
    if (best == 0) {
        for (size_t i = 0; i < s->b_n; i++)
            if (s->b_cum[i] > s->b_off)
                return s->b_cum[i] - s->b_off;
        return s->batch.len - s->b_off;
    }
    return best;
}

static int open_file(const char *path)
{
    /* read access too: the tail is read back to find a partial last line */
    int fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);
    if (fd < 0 && errno == EACCES)
        fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);
    if (fd < 0)
        return -errno;
    cut_partial_tail(fd, path);
    return fd;
}

/* ---- sockets ----------------------------------------------------------------------------------
 */

static int resolve(const struct sink *s, struct addrinfo **out)
{
    struct addrinfo hints = {0};
    hints.ai_socktype = s->type == SINK_TCP ? SOCK_STREAM : SOCK_DGRAM;
    hints.ai_family = AF_UNSPEC;
    hints.ai_flags = AI_ADDRCONFIG;
    int rc = getaddrinfo(s->target, s->port, &hints, out);
    if (rc == EAI_ADDRFAMILY || rc == EAI_NONAME) {
        hints.ai_flags = 0; /* loopback-only machines: AI_ADDRCONFIG hides 127.0.0.1 */
        rc = getaddrinfo(s->target, s->port, &hints, out);
    }
    return rc;
}

/* TCP/UDP: (re)connects s. 0 when connected or connecting, -errno otherwise. */
int sink_connect(struct sink *s)
{
    struct addrinfo *ai = NULL;
    int fd = -1;
    int err = 0;

    sink_close(s);
    if (resolve(s, &ai) != 0 || ai == NULL) {
        err = -EHOSTUNREACH;
        goto out;
    }
    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
    if (fd < 0) {
        err = -errno;
        goto out;
    }
    if (s->type == SINK_TCP) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
        if (errno != EINPROGRESS) {
            err = -errno;
            goto out_close;
        }
        s->connecting = true;
    }
    s->fd = fd;
    s->conn_bytes = 0;
    goto out;
out_close:
    close(fd);
out:
    if (ai != NULL)
        freeaddrinfo(ai);
    return err;
}

/* TCP: 1 once connected, 0 while connecting, -errno when the connect failed. */
int sink_poll_connect(struct sink *s)
{
    struct pollfd pfd = {s->fd, POLLOUT, 0};
    int soerr = 0;
    socklen_t len = sizeof(soerr);

    if (!s->connecting)
        return 1;
    if (poll(&pfd, 1, 0) <= 0)
        return 0;
    if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0)
        soerr = errno;
    if (soerr != 0) {
        sink_close(s);
        return -soerr;
    }
    s->connecting = false;
    return 1;
}

/* Whether the collector closed its end (FIN or RST seen): writing now would lose the bytes. */
static bool peer_closed(int fd)
{
    char c;
    ssize_t n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0)
        return true;
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
        return true;
    return false; /* a collector has nothing to say; data from it is ignored */
}

/* ---- common -----------------------------------------------------------------------------------
 */

/* Opens s; see audit_int.h. Main thread. */
int sink_open(struct sink *s, size_t cap, struct mw_error *e)
{
    int fd;

    switch (s->type) {
    case SINK_FILE:
        fd = open_file(s->target);
        if (fd < 0)
            return mw_fail(e, MWE_IO, "audit log '%.200s': %s", s->target, strerror(-fd));
        s->fd = fd;
        s->file_off = file_size(fd);
        return 0;
    case SINK_STDOUT:
        s->fd = STDOUT_FILENO;
        return 0;
    case SINK_TCP:
    case SINK_UDP: {
        struct addrinfo *ai = NULL;
        if (s->type == SINK_TCP) {
            s->ends = calloc(cap, sizeof(*s->ends));
            if (s->ends == NULL)
                return mw_fail(e, MWE_NOMEM, "out of memory");
        }
        if (resolve(s, &ai) != 0 || ai == NULL)
            return mw_fail(e, MWE_IO, "audit log '%.200s': cannot resolve '%.100s'", s->spec,
                           s->target);
        freeaddrinfo(ai);
        int rc = sink_connect(s);
        if (rc == 0 && s->type == SINK_TCP && s->connecting) {
            /* Know at start whether the collector answers (fail-closed refuses at once). */
            struct pollfd pfd = {s->fd, POLLOUT, 0};
            poll(&pfd, 1, 2000);
            rc = sink_poll_connect(s);
            rc = rc < 0 ? rc : 0;
        }
        if (rc != 0) {
            s->failing = true;
            s->last_errno = -rc;
            log_kv(LOG_WARN, "audit collector unreachable; records wait in the queue", "sink",
                   s->spec, "error", strerror(-rc), NULL);
        }
        return 0;
    }
    }
    return mw_fail(e, MWE_INTERNAL, "unknown sink type");
}

/* Closes the descriptor (stdout stays open). */
void sink_close(struct sink *s)
{
    if (s->fd >= 0 && s->type != SINK_STDOUT)
        close(s->fd);
    s->fd = -1;
    s->connecting = false;
}

/* Reopens a file sink (rotation): 0 or an errno value; the old file is kept on failure. */
int sink_reopen(struct sink *s)
{
    int fd;
    if (s->type != SINK_FILE)
        return 0;
    fd = open_file(s->target);
    if (fd < 0)
        return -fd;
    if (s->fd >= 0) {
        if (s->dirty)
            fdatasync(s->fd);
        close(s->fd);
    }
    s->fd = fd;
    s->file_off = file_size(fd);
    s->dirty = false;
    return 0;
}

/* fdatasync of a file sink written since the last one. 0 or -errno. */
int sink_sync(struct sink *s)
{
    if (s->type != SINK_FILE || s->fd < 0 || !s->dirty)
        return 0;
    if (fdatasync(s->fd) != 0 && errno != EINVAL && errno != EROFS)
        return -errno;
    s->dirty = false;
    return 0;
}

/* Index of the first record of the batch not completely inside its first `off` bytes. */
static size_t records_within(const struct sink *s, size_t off)
{
    size_t i = 0;
    while (i < s->b_n && s->b_cum[i] <= off)
        i++;
    return i;
}

/* Writes the rest of the batch; see audit_int.h. Writer thread. */
int sink_write(struct sink *s)
{
    int rc = 0;

    if (s->fd < 0)
        return -ENOTCONN;
    if (s->type == SINK_TCP && s->b_off == 0 && s->batch.len > 0 && peer_closed(s->fd)) {
        sink_close(s);
        return -ECONNRESET;
    }
    while (s->b_off < s->batch.len) {
        size_t left = s->batch.len - s->b_off;
        const char *p = s->batch.ptr + s->b_off;
        ssize_t n;

        switch (s->type) {
        case SINK_FILE:
            n = write(s->fd, p, file_chunk(s));
            break;
        case SINK_STDOUT: {
            /* stdout may be a pipe nobody reads: never block on it for long. */
            struct pollfd pfd = {s->fd, POLLOUT, 0};
            int pr = poll(&pfd, 1, 50);
            if (pr == 0)
                return 0;
            if (pr < 0 && errno != EINTR)
                return -errno;
            if (pr < 0 || (pfd.revents & (POLLERR | POLLHUP | POLLNVAL)) != 0) {
                if (pr > 0)
                    return -EPIPE;
                continue;
            }
            n = write(s->fd, p, left > PIPE_CHUNK ? PIPE_CHUNK : left);
            break;
        }
        case SINK_TCP:
            n = send(s->fd, p, left, MSG_NOSIGNAL | MSG_DONTWAIT);
            break;
        case SINK_UDP: {
            /* one datagram per record: from here to the end of the current record */
            size_t i = records_within(s, s->b_off);
            while (i < s->b_n && s->b_cum[i] == s->b_off)
                i++; /* records without bytes (skipped by the sink) */
            if (i >= s->b_n)
                return 1;
            left = s->b_cum[i] - s->b_off;
            n = send(s->fd, p, left, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n >= 0)
                n = (ssize_t)left; /* a datagram goes whole or not at all */
            break;
        }
        default:
            return -EINVAL;
        }
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                if (s->type == SINK_UDP)
                    return 0;
                rc = 0;
                goto out_progress;
            }
            rc = -errno;
            if (s->type == SINK_TCP)
                sink_close(s);
            goto out_progress;
        }
        if (n == 0 && s->type == SINK_FILE) {
            rc = -ENOSPC;
            goto out_progress;
        }
        s->b_off += (size_t)n;
        if (s->type == SINK_FILE) {
            s->dirty = true;
            s->file_off += (uint64_t)n;
        }
        if (s->type == SINK_TCP)
            s->conn_bytes += (uint64_t)n;
    }
    rc = 1;
out_progress:
    return rc;
}

/* Marks the records whose bytes are all written; see audit_int.h. Writer thread. */
void sink_progress(struct sink *s, size_t cap)
{
    size_t k = records_within(s, s->b_off);
    uint64_t base = s->conn_bytes - s->b_off; /* connection offset where the batch began */

    for (uint64_t idx = s->sent; idx < s->b_start + k; idx++)
        if (s->type == SINK_TCP)
            s->ends[idx % cap] = base + s->b_cum[idx - s->b_start];
    if (s->b_start + k > s->sent)
        s->sent = s->b_start + k;
}

/* Records whose bytes the collector acknowledged are delivered. Writer thread. */
void sink_update_acks(struct sink *s, size_t cap)
{
    int outq = 0;
    uint64_t acked;

    if (s->type != SINK_TCP) {
        s->done = s->sent;
        return;
    }
    if (s->fd < 0 || s->connecting || s->done == s->sent)
        return;
    if (ioctl(s->fd, SIOCOUTQ, &outq) != 0 || outq < 0)
        return;
    acked = s->conn_bytes >= (uint64_t)outq ? s->conn_bytes - (uint64_t)outq : 0;
    while (s->done < s->sent && s->ends[s->done % cap] <= acked)
        s->done++;
}
