/*
 * The "python" and "sklearn" backends: a model runs in worker processes, never in the server.
 * The server execs /usr/bin/python3 (or a model's venv) running the runner it embeds
 * (pyrunner.py); the runner imports the model once and forks one process per instance. Each
 * instance has a SOCK_SEQPACKET socket for frames and a memfd for data (pywire.h). A supervisor
 * thread restarts dead instances with backoff. docs/python-workers.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "model/backends/pywire.h"
#include "model/model_impl.h"
#include "model/model_int.h"

#ifndef MW_PYTHON
#define MW_PYTHON "/usr/bin/python3"
#endif

extern const char pyrunner_source[];

#define PY_MAX_INSTANCES 64
#define PY_SHM_DEFAULT ((size_t)64 << 20) /* per instance: request half + reply half */
#define PY_SHM_MAX ((size_t)1 << 32)
#define PY_LOAD_TIMEOUT_MS 120000
#define PY_BACKOFF_MIN_MS 100
#define PY_BACKOFF_MAX_MS 10000
#define PY_STABLE_NS (UINT64_C(30) * 1000000000) /* alive this long: backoff starts over */
#define PY_TICK_MS 50

enum inst_state { PI_DEAD = 0, PI_STARTING = 1, PI_IDLE = 2, PI_BUSY = 3 };

struct pyinst {
    int idx;
    int fd; /* -1 when dead */
    pid_t pid;
    pid_t prev_pid; /* the previous process of this instance (its EXITED may come late) */
    bool prev_expected;
    enum inst_state st;
    uint8_t *shm;
    size_t shm_size;
    uint64_t seq;
    uint8_t *rbuf; /* PYW_FRAME_MAX + 1 bytes for the frames of the call in flight */
    uint64_t restart_at_ns;
    uint64_t started_ns;
    unsigned backoff_ms;
    unsigned gen;
    bool expected_exit; /* recycled or killed by us: no audit event */
};

struct pystate {
    struct model *m;
    char *python;    /* interpreter path */
    char *init_json; /* the INIT frame's configuration */
    unsigned n;
    size_t shm_size;
    unsigned load_timeout_ms;
    pid_t master_pid;
    int master_fd;
    int wake_fd;             /* eventfd: an instance died, the supervisor should look now */
    pthread_mutex_t send_mu; /* frames to the master from several threads */
    pthread_mutex_t mu;
    pthread_cond_t cv; /* an instance became idle, or died */
    struct pyinst inst[PY_MAX_INSTANCES];
    pthread_t sup;
    bool sup_started;
    atomic_bool stop; /* py_free began: the supervisor leaves, waits give up */
    atomic_uint_fast64_t restarts;
    atomic_uint_fast64_t worker_ns;
    atomic_uint live;
    /* Spinning for a fast answer (see SPIN_NS): allowed with more than one CPU; reply_ns is a
     * moving average of the instances' answer times. */
    bool spin_ok;
    atomic_uint_fast64_t reply_ns;
};

/*
 * A call alone on an idle model whose answers come fast waits for its answer by polling the
 * socket for up to SPIN_NS instead of sleeping in poll(): on an idle machine the wake-up of a
 * sleeping thread costs about as much as a trivial model's whole run, and it is paid on every
 * call. Only when nothing else waits (no queued call, no other busy instance), the recent answers
 * came within SPIN_NS, and there is another CPU for the worker: under load the thread sleeps.
 */
#define SPIN_NS (UINT64_C(150) * 1000)

bool model_worker_stats(const struct model *m, struct model_worker_stats *out)
{
    struct pystate *st;

    if (m == NULL || !backend_is_python(m->ops) || m->state == NULL)
        return false;
    st = m->state;
    out->instances = st->n;
    out->live = atomic_load(&st->live);
    out->restarts = atomic_load(&st->restarts);
    out->worker_ns = atomic_load(&st->worker_ns);
    return true;
}

bool backend_is_python(const struct backend_ops *ops)
{
    return ops == &backend_python || ops == &backend_sklearn;
}

/* ---- frames ---------------------------------------------------------------------------------- */

static int send_frame(int fd, uint16_t type, uint64_t seq, uint32_t off, const char *payload,
                      size_t len, const int *fds, size_t n_fds)
{
    uint8_t hdr[PYW_HDR_LEN];
    struct pyw_hdr h = {PYW_MAGIC, PYW_VERSION, type, seq, off, (uint32_t)len};
    struct iovec iov[2];
    struct msghdr msg = {0};
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(2 * sizeof(int))];
    } cbuf;
    ssize_t n;

    /* Without a payload, len is the size of a descriptor in the shared memory. */
    if ((payload != NULL && len > PYW_FRAME_MAX - PYW_HDR_LEN) || len > UINT32_MAX || n_fds > 2)
        return -1;
    pyw_hdr_encode(hdr, &h);
    iov[0].iov_base = hdr;
    iov[0].iov_len = sizeof(hdr);
    iov[1].iov_base = (void *)payload;
    iov[1].iov_len = payload != NULL ? len : 0;
    msg.msg_iov = iov;
    msg.msg_iovlen = payload != NULL ? 2 : 1;
    if (n_fds > 0) {
        struct cmsghdr *cm;
        memset(&cbuf, 0, sizeof(cbuf));
        msg.msg_control = cbuf.buf;
        msg.msg_controllen = CMSG_SPACE(n_fds * sizeof(int));
        cm = CMSG_FIRSTHDR(&msg);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(n_fds * sizeof(int));
        memcpy(CMSG_DATA(cm), fds, n_fds * sizeof(int));
    }
    do
        n = sendmsg(fd, &msg, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    return n < 0 ? -1 : 0;
}

/* Logs a LOG frame's payload (untrusted JSON) as the model's output. */
static void log_output(struct pystate *st, int instance, const uint8_t *p, size_t len)
{
    json_t *j = json_loadb((const char *)p, len, 0, NULL);
    const char *text = json_string_value(json_object_get(j, "text"));
    const char *stream = json_string_value(json_object_get(j, "stream"));
    const char *lvl = json_string_value(json_object_get(j, "level"));
    int level = LOG_INFO;

    if (text != NULL) {
        if (lvl != NULL && strcmp(lvl, "error") == 0)
            level = LOG_ERROR;
        else if (lvl != NULL && strcmp(lvl, "warn") == 0)
            level = LOG_WARN;
        else if (lvl != NULL && strcmp(lvl, "debug") == 0)
            level = LOG_DEBUG;
        log_kv(level, "model output", "model", st->m->name, "#instance", (long long)instance,
               "stream", stream != NULL ? stream : "stdout", "text", text, NULL);
    }
    json_decref(j);
}

/* Waits until deadline_ns for one frame on fd into buf (PYW_FRAME_MAX + 1 bytes). Returns its
 * length (>= PYW_HDR_LEN, header checked into *h), 0 on EOF or a broken frame, -1 on timeout. */
static ssize_t recv_frame(int fd, uint8_t *buf, struct pyw_hdr *h, uint64_t deadline_ns,
                          uint64_t spin_until_ns)
{
    struct pollfd pfd = {fd, POLLIN, 0};
    uint64_t now;
    ssize_t n;
    int pr, ms;

    while (spin_until_ns != 0) {
        n = recv(fd, buf, PYW_FRAME_MAX + 1, MSG_DONTWAIT);
        if (n > 0)
            goto got;
        if (n == 0 || (errno != EAGAIN && errno != EINTR))
            return 0;
        now = time_mono_ns();
        if (now >= spin_until_ns || now >= deadline_ns)
            break;
    }
    for (;;) {
        now = time_mono_ns();
        if (deadline_ns != UINT64_MAX && now >= deadline_ns)
            return -1;
        ms = deadline_ns == UINT64_MAX ? -1 : (int)((deadline_ns - now + 999999) / 1000000);
        pr = poll(&pfd, 1, ms);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr < 0)
            return 0;
        if (pr == 0)
            continue;
        n = recv(fd, buf, PYW_FRAME_MAX + 1, MSG_DONTWAIT);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        break;
    }
got:
    if (n <= 0 || n > PYW_FRAME_MAX || pyw_hdr_decode(buf, (size_t)n, h) != 0)
        return 0;
    return n;
}

/* An EXITED frame from the master: an instance process ended. Logs it and raises the security
 * event unless the server ended it on purpose (recycling, deadline). mu not held. */
static void handle_exited(struct pystate *st, const uint8_t *p, size_t len)
{
    json_t *j = json_loadb((const char *)p, len, 0, NULL);
    pid_t pid = (pid_t)json_integer_value(json_object_get(j, "pid"));
    int sig = (int)json_integer_value(json_object_get(j, "signal"));
    int status = (int)json_integer_value(json_object_get(j, "status"));
    bool expected = true;
    int idx = -1;

    json_decref(j);
    if (pid <= 0)
        return;
    pthread_mutex_lock(&st->mu);
    for (unsigned i = 0; i < st->n; i++) {
        struct pyinst *in = &st->inst[i];
        if (in->pid == pid) {
            idx = (int)i;
            expected = in->expected_exit || atomic_load(&st->stop);
        } else if (in->prev_pid == pid) {
            idx = (int)i;
            expected = in->prev_expected || atomic_load(&st->stop);
        }
    }
    pthread_mutex_unlock(&st->mu);
    if (idx < 0)
        return;
    log_kv(expected ? LOG_INFO : LOG_ERROR, "python model instance exited", "model", st->m->name,
           "#instance", (long long)idx, "#pid", (long long)pid, "#signal", (long long)sig,
           "#status", (long long)status, NULL);
    if (!expected)
        model_event(st->m, idx, "python_worker_died", sig);
}

/* Waits for a frame of type want (0: any) on fd, logging LOG frames meanwhile. *payload / *len
 * point into buf. 1: got it; 0: EOF / broken / other type; -1: timeout. */
static int wait_type(struct pystate *st, int instance, int fd, uint8_t *buf, uint16_t want,
                     uint64_t deadline_ns, uint64_t spin_until_ns, struct pyw_hdr *h,
                     const uint8_t **payload, size_t *len)
{
    ssize_t n;

    for (;;) {
        n = recv_frame(fd, buf, h, deadline_ns, spin_until_ns);
        if (n <= 0)
            return (int)n;
        if (h->type == PYW_LOG) {
            log_output(st, instance, buf + PYW_HDR_LEN, (size_t)n - PYW_HDR_LEN);
            continue;
        }
        if (h->type == PYW_EXITED) {
            handle_exited(st, buf + PYW_HDR_LEN, (size_t)n - PYW_HDR_LEN);
            continue;
        }
        *payload = buf + PYW_HDR_LEN;
        *len = (size_t)n - PYW_HDR_LEN;
        return want == 0 || h->type == want ? 1 : 0;
    }
}

/* wait_type that gives up when the model is being freed (a slow per-instance load must not
 * hold up a shutdown for the whole load timeout). */
static int wait_type_or_stop(struct pystate *st, int instance, int fd, uint8_t *buf, uint16_t want,
                             uint64_t deadline_ns, struct pyw_hdr *h, const uint8_t **payload,
                             size_t *len)
{
    uint64_t step;
    int got;

    for (;;) {
        step = time_mono_ns() + UINT64_C(100) * 1000000;
        got = wait_type(st, instance, fd, buf, want, step < deadline_ns ? step : deadline_ns, 0,
                        h, payload, len);
        if (got != -1 || time_mono_ns() >= deadline_ns || atomic_load(&st->stop))
            return got;
    }
}

/* The last line of a traceback ("RuntimeError: ..."), for a start-up error message. */
static void last_line(const char *tb, char *out, size_t cap)
{
    size_t len = strlen(tb), end, start;

    end = len;
    while (end > 0 && (tb[end - 1] == '\n' || tb[end - 1] == ' '))
        end--;
    start = end;
    while (start > 0 && tb[start - 1] != '\n')
        start--;
    snprintf(out, cap, "%.*s", (int)(end - start), tb + start);
}

/* ---- the master process ---------------------------------------------------------------------- */

/* A memfd holding the runner's source, for the worker to read on fd 4 (so that its command line
 * stays short in `ps`). -1 on failure. */
static int runner_fd(void)
{
    size_t len = strlen(pyrunner_source), done = 0;
    ssize_t n;
    int fd = memfd_create("modelwrap-runner", MFD_CLOEXEC);

    while (fd >= 0 && done < len) {
        n = write(fd, pyrunner_source + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            close(fd);
            fd = -1;
            break;
        }
        done += (size_t)n;
    }
    if (fd >= 0 && lseek(fd, 0, SEEK_SET) != 0) { /* the worker reads from the start */
        close(fd);
        fd = -1;
    }
    return fd;
}

/* Execs the runner with a scrubbed environment and only its socket (fd 3) and its source (fd 4,
 * closed by the runner first thing). 0 or -1 with e. */
static int spawn_master(struct pystate *st, struct mw_error *e)
{
    static char *const envp[] = {
        "PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C.UTF-8",       "LC_ALL=C.UTF-8",
        "PYTHONDONTWRITEBYTECODE=1",         "PYTHONUNBUFFERED=1", NULL};
    static char boot[] = "import os;f=os.fdopen(4,'rb');s=f.read();f.close();"
                         "exec(compile(s,'modelwrap-runner.py','exec'))";
    /* -I: no PYTHON* variables, no user site, no script folder on sys.path; -B: no byte-code
     * files written into the model's folder (they would change its reload fingerprint). */
    char *argv[] = {st->python, "-I", "-B", "-c", boot, NULL};
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    sigset_t none, all;
    int sv[2], child, src = -1, err, rc = -1;
    pid_t pid;

    src = runner_fd();
    if (src >= 0 && src <= 4) {
        /* 0-4 are the child's own: move it above them before the file actions run. */
        int moved = fcntl(src, F_DUPFD_CLOEXEC, 10);
        close(src);
        src = moved;
    }
    if (src < 0) {
        mw_fail(e, MWE_CONFIG, "%s: cannot prepare the Python worker: %s", st->m->name,
                strerror(errno));
        goto out;
    }
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
        mw_fail(e, MWE_CONFIG, "%s: socketpair: %s", st->m->name, strerror(errno));
        goto out;
    }
    child = sv[1];
    if (child <= 4) {
        /* dup2(3, 3) would leave FD_CLOEXEC set on the channel, and 0-2 and 4 are the child's
         * (a server started with a closed stdin gets low numbers). */
        child = fcntl(sv[1], F_DUPFD_CLOEXEC, 10);
        close(sv[1]);
        if (child < 0) {
            close(sv[0]);
            mw_fail(e, MWE_CONFIG, "%s: fcntl: %s", st->m->name, strerror(errno));
            goto out;
        }
    }
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, child, 3);
    posix_spawn_file_actions_adddup2(&fa, src, 4);
    posix_spawn_file_actions_addclosefrom_np(&fa, 5);
    posix_spawnattr_init(&attr);
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
                                        POSIX_SPAWN_SETPGROUP);
    err = posix_spawn(&pid, st->python, &fa, &attr, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    close(child);
    close(src);
    src = -1;
    if (err != 0) {
        close(sv[0]);
        mw_fail(e, MWE_CONFIG, "%s: cannot start %s: %s", st->m->name, st->python, strerror(err));
        goto out;
    }
    st->master_pid = pid;
    st->master_fd = sv[0];
    if (send_frame(st->master_fd, PYW_INIT, 0, 0, st->init_json, strlen(st->init_json), NULL, 0) !=
        0) {
        mw_fail(e, MWE_CONFIG, "%s: cannot talk to the Python worker: %s", st->m->name,
                strerror(errno));
        goto out;
    }
    rc = 0;
out:
    if (src >= 0)
        close(src);
    return rc;
}

/* Closes the master's socket (it then kills its instances and exits), waits up to 2 s, then
 * kills its process group (the instances too) and reaps it. */
static void stop_master(struct pystate *st)
{
    int status;
    pid_t r = 0;

    /* Under send_mu: a worker thread may be sending a KILL (kill_instance). */
    pthread_mutex_lock(&st->send_mu);
    if (st->master_fd >= 0) {
        close(st->master_fd);
        st->master_fd = -1;
    }
    pthread_mutex_unlock(&st->send_mu);
    if (st->master_pid <= 0)
        return;
    for (int i = 0; i < 200; i++) {
        r = waitpid(st->master_pid, &status, WNOHANG);
        if (r != 0)
            break;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    kill(-st->master_pid, SIGKILL);
    if (r == 0)
        waitpid(st->master_pid, &status, 0);
    st->master_pid = -1;
}

/* Waits for the master's READY. At load (first) it fills the model's signature and interface
 * from it; a restarted master (supervisor thread) must report what the model was loaded with,
 * since request threads read the signature meanwhile without a lock. */
static int await_ready(struct pystate *st, bool first, struct mw_error *e)
{
    struct model *m = st->m;
    uint8_t *buf = malloc(PYW_FRAME_MAX + 1);
    const uint8_t *p = NULL;
    struct pyw_hdr h;
    struct model_sig sig = {0};
    struct mw_error sub = {0};
    json_t *j = NULL, *w;
    const char *iface, *err;
    char line[200];
    size_t len = 0, i;
    int got, rc = -1;

    if (buf == NULL) {
        mw_fail(e, MWE_NOMEM, "%s: out of memory", m->name);
        goto out;
    }
    got = wait_type_or_stop(st, -1, st->master_fd, buf, PYW_READY,
                            time_mono_ns() + (uint64_t)st->load_timeout_ms * 1000000, &h, &p, &len);
    if (got != 1) {
        mw_fail(e, MWE_CONFIG, "%s: the Python worker %s before loading the model", m->name,
                got < 0 ? "timed out" : "exited");
        goto out;
    }
    j = json_loadb((const char *)p, len, JSON_REJECT_DUPLICATES, NULL);
    err = json_string_value(json_object_get(j, "error"));
    if (err != NULL) {
        log_kv(LOG_ERROR, "python model failed to load", "model", m->name, "traceback", err, NULL);
        last_line(err, line, sizeof(line));
        mw_fail(e, MWE_CONFIG, "%s/model.json: the model failed to load: %s", m->dir, line);
        goto out;
    }
    iface = json_string_value(json_object_get(j, "interface"));
    if (iface == NULL || !json_is_object(json_object_get(j, "signature"))) {
        mw_fail(e, MWE_CONFIG, "%s: the Python worker sent a malformed READY", m->name);
        goto out;
    }
    json_array_foreach(json_object_get(j, "warnings"), i, w)
    {
        if (json_is_string(w))
            log_msg(LOG_WARN, "python model", "model", m->name, "warning", json_string_value(w),
                    NULL);
    }
    if (model_sig_from_json(&sig, json_object_get(j, "signature"), &sub) != 0) {
        mw_fail(e, MWE_CONFIG, "%s/model.json: %s", m->dir, sub.msg);
        goto out;
    }
    if (!first) {
        bool same = sig.n_inputs == m->sig.n_inputs && sig.n_outputs == m->sig.n_outputs &&
                    m->json_answers == (strcmp(iface, "template") == 0);
        model_sig_fini(&sig);
        if (!same) {
            mw_fail(e, MWE_CONFIG, "%s: the restarted Python worker reports another model",
                    m->name);
            goto out;
        }
        rc = 0;
        goto out;
    }
    /* model.json's signature, if any, was parsed by model.c; the worker echoes it (with the
     * template's default output), else derives one. */
    model_sig_fini(&m->sig);
    m->sig = sig;
    m->json_answers = strcmp(iface, "template") == 0;
    rc = 0;
out:
    json_decref(j);
    free(buf);
    return rc;
}

/* ---- instances ------------------------------------------------------------------------------- */

/* Asks the master to SIGKILL instance pid (which it checks is its child). Any thread. */
static void kill_instance(struct pystate *st, pid_t pid)
{
    char msg[64];
    int n = snprintf(msg, sizeof(msg), "{\"pid\":%ld}", (long)pid);

    if (pid <= 0 || n <= 0)
        return;
    pthread_mutex_lock(&st->send_mu);
    if (st->master_fd >= 0)
        send_frame(st->master_fd, PYW_KILL, 0, 0, msg, (size_t)n, NULL, 0);
    pthread_mutex_unlock(&st->send_mu);
}

/* Marks instance k dead (mu held) and schedules its restart. */
static void mark_dead(struct pystate *st, struct pyinst *in, bool expected)
{
    uint64_t now = time_mono_ns();

    if (in->fd >= 0)
        close(in->fd);
    in->fd = -1;
    if (in->st == PI_IDLE || in->st == PI_BUSY)
        atomic_fetch_sub(&st->live, 1);
    in->st = PI_DEAD;
    in->gen++;
    if (expected) {
        in->backoff_ms = 0;
        in->restart_at_ns = now;
    } else {
        if (in->started_ns != 0 && now - in->started_ns > PY_STABLE_NS)
            in->backoff_ms = 0;
        in->backoff_ms =
            in->backoff_ms == 0
                ? PY_BACKOFF_MIN_MS
                : (in->backoff_ms * 2 > PY_BACKOFF_MAX_MS ? PY_BACKOFF_MAX_MS : in->backoff_ms * 2);
        in->restart_at_ns = now + (uint64_t)in->backoff_ms * 1000000;
    }
    in->expected_exit = expected;
    /* Recycling and deadline kills restart at once: the model stays ready meanwhile (calls wait
     * for the replacement, see acquire). */
    if (atomic_load(&st->live) == 0 && !atomic_load(&st->stop) && !expected)
        atomic_store(&st->m->ready, false);
    pthread_cond_broadcast(&st->cv);
    if (st->wake_fd >= 0) {
        uint64_t one = 1;
        ssize_t w = write(st->wake_fd, &one, sizeof(one));
        (void)w; /* a full counter already wakes the supervisor */
    }
}

/* Starts instance k: a memfd and a socketpair handed to the master, which forks; waits for the
 * instance's HELLO. Supervisor thread (or load). 0 or -1 (logged). */
static int fork_instance(struct pystate *st, struct pyinst *in, struct mw_error *e)
{
    struct model *m = st->m;
    uint8_t *buf = malloc(PYW_FRAME_MAX + 1);
    const uint8_t *p = NULL;
    struct pyw_hdr h;
    char name[64], msg[128];
    int sv[2] = {-1, -1}, memfd = -1, fds[2], got, n, rc = -1;
    void *map = MAP_FAILED;
    size_t len = 0;
    json_t *j = NULL;
    uint64_t deadline = time_mono_ns() + (uint64_t)st->load_timeout_ms * 1000000;

    if (buf == NULL)
        goto out_fail;
    snprintf(name, sizeof(name), "modelwrap-%s-%d", m->name, in->idx);
    memfd = memfd_create(name, MFD_CLOEXEC);
    if (memfd < 0 || ftruncate(memfd, (off_t)st->shm_size) != 0)
        goto out_fail;
    map = mmap(NULL, st->shm_size, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
    if (map == MAP_FAILED)
        goto out_fail;
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
        goto out_fail;
    n = snprintf(msg, sizeof(msg), "{\"instance\":%d,\"shm_size\":%zu}", in->idx, st->shm_size);
    fds[0] = sv[1];
    fds[1] = memfd;
    pthread_mutex_lock(&st->send_mu);
    rc =
        st->master_fd >= 0 ? send_frame(st->master_fd, PYW_FORK, 0, 0, msg, (size_t)n, fds, 2) : -1;
    pthread_mutex_unlock(&st->send_mu);
    close(sv[1]);
    sv[1] = -1;
    close(memfd);
    memfd = -1;
    if (rc != 0)
        goto out_fail;
    rc = -1;
    /* A SPAWNED of an earlier FORK that timed out may still come: wait for this instance's. */
    for (;;) {
        got = wait_type_or_stop(st, -1, st->master_fd, buf, PYW_SPAWNED, deadline, &h, &p, &len);
        if (got != 1)
            goto out_fail;
        j = json_loadb((const char *)p, len, 0, NULL);
        if (json_integer_value(json_object_get(j, "instance")) == in->idx)
            break;
        json_decref(j);
        j = NULL;
    }
    pthread_mutex_lock(&st->mu);
    in->prev_pid = in->pid;
    in->prev_expected = in->expected_exit;
    in->pid = (pid_t)json_integer_value(json_object_get(j, "pid"));
    pthread_mutex_unlock(&st->mu);
    json_decref(j);
    j = NULL;
    got = wait_type_or_stop(st, in->idx, sv[0], buf, PYW_HELLO, deadline, &h, &p, &len);
    if (got != 1) {
        if (got < 0)
            kill_instance(st, in->pid);
        goto out_fail;
    }
    j = json_loadb((const char *)p, len, 0, NULL);
    if (!json_is_true(json_object_get(j, "ok"))) {
        const char *tb = json_string_value(json_object_get(j, "error"));
        log_kv(LOG_ERROR, "python model instance failed to load", "model", m->name, "#instance",
               (long long)in->idx, "traceback", tb != NULL ? tb : "(none)", NULL);
        goto out_fail;
    }
    if (in->shm != NULL)
        munmap(in->shm, in->shm_size);
    in->shm = map;
    in->shm_size = st->shm_size;
    map = MAP_FAILED;
    pthread_mutex_lock(&st->mu);
    in->fd = sv[0];
    sv[0] = -1;
    in->st = PI_IDLE;
    in->started_ns = time_mono_ns();
    in->expected_exit = false;
    atomic_fetch_add(&st->live, 1);
    if (!atomic_load(&st->stop))
        atomic_store(&m->ready, true);
    pthread_cond_broadcast(&st->cv);
    pthread_mutex_unlock(&st->mu);
    rc = 0;
    goto out;

out_fail:
    mw_fail(e, MWE_CONFIG, "%s: instance %d of the Python worker did not start", m->name, in->idx);
    pthread_mutex_lock(&st->mu);
    in->st = PI_STARTING; /* so that mark_dead does not count it live */
    mark_dead(st, in, false);
    pthread_mutex_unlock(&st->mu);
out:
    json_decref(j);
    if (map != MAP_FAILED)
        munmap(map, st->shm_size);
    if (memfd >= 0)
        close(memfd);
    if (sv[0] >= 0)
        close(sv[0]);
    if (sv[1] >= 0)
        close(sv[1]);
    free(buf);
    return rc;
}

/* ---- the supervisor -------------------------------------------------------------------------- */

/* Handles the master's spontaneous frames (EXITED: an instance died; LOG) for up to one tick,
 * returning early when an instance died (wake_fd). */
static void master_frames(struct pystate *st, uint8_t *buf)
{
    struct pyw_hdr h;
    ssize_t n;
    uint64_t count;

    for (int k = 0; k < 64; k++) {
        struct pollfd pf[2] = {{st->master_fd, POLLIN, 0}, {st->wake_fd, POLLIN, 0}};
        int pr = poll(pf, 2, PY_TICK_MS);

        if (pr <= 0)
            return;
        if (pf[1].revents & POLLIN) {
            n = read(st->wake_fd, &count, sizeof(count));
            (void)n;
            return;
        }
        n = recv_frame(st->master_fd, buf, &h, time_mono_ns() + (uint64_t)PY_TICK_MS * 1000000, 0);
        if (n < 0)
            return;
        if (n == 0) {
            /* The master is gone: every instance dies with it (PR_SET_PDEATHSIG). */
            log_msg(LOG_ERROR, "python worker master exited", "model", st->m->name, NULL);
            model_event(st->m, -1, "python_worker_died", 0);
            stop_master(st);
            return;
        }
        if (h.type == PYW_LOG) {
            log_output(st, -1, buf + PYW_HDR_LEN, (size_t)n - PYW_HDR_LEN);
        } else if (h.type == PYW_EXITED) {
            handle_exited(st, buf + PYW_HDR_LEN, (size_t)n - PYW_HDR_LEN);
        }
    }
}

static void *supervisor_main(void *arg)
{
    struct pystate *st = arg;
    uint8_t *buf = malloc(PYW_FRAME_MAX + 1);
    struct mw_error e = {0};
    struct pollfd pf[PY_MAX_INSTANCES];
    unsigned gens[PY_MAX_INSTANCES], idx[PY_MAX_INSTANCES], np;
    uint64_t now, master_at = 0;
    unsigned master_backoff = 0;

    if (buf == NULL)
        return NULL;
    pthread_mutex_lock(&st->mu);
    while (!atomic_load(&st->stop)) {
        pthread_mutex_unlock(&st->mu);
        now = time_mono_ns();
        if (st->master_fd < 0) {
            struct timespec ts = {0, PY_TICK_MS * 1000000L};
            if (now >= master_at) {
                pthread_mutex_lock(&st->mu);
                for (unsigned i = 0; i < st->n; i++)
                    if (st->inst[i].st == PI_IDLE)
                        mark_dead(st, &st->inst[i], false);
                pthread_mutex_unlock(&st->mu);
                if (spawn_master(st, &e) != 0 || await_ready(st, false, &e) != 0) {
                    log_msg(LOG_ERROR, "python worker restart failed", "model", st->m->name,
                            "error", e.msg, NULL);
                    stop_master(st);
                    master_backoff = master_backoff == 0 ? PY_BACKOFF_MIN_MS
                                                         : (master_backoff * 2 > PY_BACKOFF_MAX_MS
                                                                ? PY_BACKOFF_MAX_MS
                                                                : master_backoff * 2);
                    master_at = time_mono_ns() + (uint64_t)master_backoff * 1000000;
                } else {
                    master_backoff = 0;
                    atomic_fetch_add(&st->restarts, 1);
                }
            }
            nanosleep(&ts, NULL);
            pthread_mutex_lock(&st->mu);
            continue;
        }
        master_frames(st, buf);
        /* Restart dead instances whose backoff passed. */
        for (unsigned i = 0; i < st->n && st->master_fd >= 0; i++) {
            struct pyinst *in = &st->inst[i];
            bool go;

            pthread_mutex_lock(&st->mu);
            go =
                in->st == PI_DEAD && time_mono_ns() >= in->restart_at_ns && !atomic_load(&st->stop);
            if (go)
                in->st = PI_STARTING;
            pthread_mutex_unlock(&st->mu);
            if (go) {
                if (fork_instance(st, in, &e) == 0) {
                    atomic_fetch_add(&st->restarts, 1);
                    log_kv(LOG_INFO, "python model instance restarted", "model", st->m->name,
                           "#instance", (long long)i, NULL);
                }
            }
        }
        /* Idle instances whose socket hung up died between calls. */
        np = 0;
        pthread_mutex_lock(&st->mu);
        for (unsigned i = 0; i < st->n; i++) {
            if (st->inst[i].st == PI_IDLE) {
                pf[np].fd = st->inst[i].fd;
                pf[np].events = 0;
                pf[np].revents = 0;
                gens[np] = st->inst[i].gen;
                idx[np++] = i;
            }
        }
        pthread_mutex_unlock(&st->mu);
        if (np > 0 && poll(pf, np, 0) > 0) {
            pthread_mutex_lock(&st->mu);
            for (unsigned k = 0; k < np; k++) {
                struct pyinst *in = &st->inst[idx[k]];
                if ((pf[k].revents & (POLLHUP | POLLERR)) && in->st == PI_IDLE &&
                    in->gen == gens[k])
                    mark_dead(st, in, in->expected_exit);
            }
            pthread_mutex_unlock(&st->mu);
        }
        pthread_mutex_lock(&st->mu);
    }
    pthread_mutex_unlock(&st->mu);
    free(buf);
    return NULL;
}

/* ---- calls ----------------------------------------------------------------------------------- */

struct err_ctx {
    struct pystate *st;
    int instance;
    struct model_call *const *calls;
};

static void on_exception(void *ctx, size_t index, const char *text, size_t len)
{
    struct err_ctx *x = ctx;
    char *copy = strndup(text, len > 65536 ? 65536 : len);

    log_kv(LOG_ERROR, "python model raised an exception", "model", x->st->m->name, "#instance",
           (long long)x->instance, "request_id",
           x->calls[index]->request_id != NULL ? x->calls[index]->request_id : "", "traceback",
           copy != NULL ? copy : "(out of memory)", NULL);
    free(copy);
}

/* Takes an idle instance (mu not held). NULL with *rc MWE_MODEL_UNAVAILABLE when none is live,
 * MWE_DEADLINE when none came free before deadline_ns. *alone: no other instance is busy. */
static struct pyinst *acquire(struct pystate *st, uint64_t deadline_ns, int *rc, bool *alone)
{
    struct pyinst *got = NULL;
    struct timespec ts;

    pthread_mutex_lock(&st->mu);
    for (;;) {
        bool any = false;
        for (unsigned i = 0; i < st->n && got == NULL; i++) {
            const struct pyinst *in = &st->inst[i];
            if (in->st == PI_IDLE)
                got = &st->inst[i];
            /* Worth waiting for: one that will be free, or is being replaced right now
             * (recycled, killed past a deadline, or already restarting). */
            any = any || in->st == PI_BUSY || in->st == PI_STARTING ||
                  (in->st == PI_DEAD && in->expected_exit);
        }
        if (got != NULL) {
            got->st = PI_BUSY;
            *alone = true;
            for (unsigned i = 0; i < st->n; i++)
                *alone = *alone && (&st->inst[i] == got || st->inst[i].st != PI_BUSY);
            break;
        }
        if (!any || atomic_load(&st->stop)) {
            *rc = MWE_MODEL_UNAVAILABLE;
            break;
        }
        if (time_mono_ns() >= deadline_ns) {
            *rc = MWE_DEADLINE;
            break;
        }
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 10 * 1000 * 1000;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&st->cv, &st->mu, &ts);
    }
    pthread_mutex_unlock(&st->mu);
    return got;
}

/* Runs calls[0..n) as one request on one instance; rc[i] gets each call's status. */
static void exchange(struct pystate *st, struct model_call *const *calls, size_t n, bool batch,
                     int *rc, size_t *done)
{
    struct model *m = st->m;
    struct pyinst *in;
    const uint8_t *p;
    struct pyw_hdr h;
    struct pyw_reply info = {0};
    struct err_ctx ex;
    uint64_t deadline = UINT64_MAX, t0, spin = 0, took;
    size_t items = 0, doff = 0, dlen = 0, half, len;
    int err = 0, got;
    bool dead = false, expected = false, broken = false, alone = false;
    /* One template request: the body goes as it is and the answer comes back as it is, with no
     * descriptor to write or parse on either side (the common case of an unbatched model). */
    bool fast = n == 1 && m->json_answers && calls[0]->body != NULL;
    /* A merged batch of template requests: the bodies go as one JSON array, the answers come
     * back as one table; the runner answers with a descriptor when the merged run cannot split. */
    bool bodies = !fast && batch && n > 1 && m->json_answers;
    uint16_t type;

    for (size_t i = 0; bodies && i < n; i++)
        bodies = calls[i]->body != NULL;

    for (size_t i = 0; i < n; i++) {
        uint64_t d = calls[i]->deadline_ns != 0
                         ? calls[i]->deadline_ns
                         : time_mono_ns() + (uint64_t)m->opts.timeout_ms * 1000000;
        if (d < deadline)
            deadline = d;
    }
    *done = n;
    in = acquire(st, deadline, &err, &alone);
    if (in == NULL)
        goto out_all;
    half = in->shm_size / 2;
    if (fast) {
        err = calls[0]->body_len <= half ? 0 : MWE_BODY_TOO_LARGE;
        if (err == 0 && calls[0]->body_len > 0)
            memcpy(in->shm, calls[0]->body, calls[0]->body_len);
        items = 1;
        dlen = calls[0]->body_len;
    } else {
        if (bodies && pyw_encode_bodies(in->shm, half, calls, n, &items, &dlen) != 0)
            bodies = false; /* fewer than two fit: the descriptor path sends what fits */
        if (!bodies)
            err = pyw_encode_request(in->shm, half, calls, n, batch, &items, &doff, &dlen);
    }
    if (err != 0)
        goto out_release;
    *done = items;
    in->seq++;
    t0 = time_mono_ns();
    if (st->spin_ok && alone && atomic_load(&st->reply_ns) < SPIN_NS &&
        sched_pending(m->sched) == 0)
        spin = t0 + SPIN_NS;
    type = fast ? PYW_RUN_BODY : bodies ? PYW_RUN_BODIES : PYW_RUN;
    if (send_frame(in->fd, type, in->seq, (uint32_t)doff, NULL, dlen, NULL, 0) != 0) {
        err = MWE_MODEL_UNAVAILABLE;
        dead = true;
        goto out_release;
    }
    for (;;) {
        got = wait_type(st, in->idx, in->fd, in->rbuf, 0, deadline, spin, &h, &p, &len);
        if (got != 1 || h.seq == in->seq)
            break;
    }
    /* Only the answers this request allows; anything else breaks the protocol. */
    if (got == 1 && h.type != PYW_RESULT &&
        !(fast && (h.type == PYW_RESULT_JSON || h.type == PYW_RESULT_JSON_RECYCLE)) &&
        !(bodies && (h.type == PYW_RESULT_JSONS || h.type == PYW_RESULT_JSONS_RECYCLE)))
        got = 0;
    took = time_mono_ns() - t0;
    atomic_fetch_add(&st->worker_ns, took);
    /* A moving average over about eight answers (one writer at a time is not guaranteed: a lost
     * update only delays the average). */
    atomic_store(&st->reply_ns, atomic_load(&st->reply_ns) - atomic_load(&st->reply_ns) / 8 + took / 8);
    for (size_t i = 0; i < items; i++)
        calls[i]->worker_ns = took;
    if (got < 0) {
        log_kv(LOG_ERROR, "python model instance missed the deadline: killed", "model", m->name,
               "#instance", (long long)in->idx, "request_id",
               calls[0]->request_id != NULL ? calls[0]->request_id : "", NULL);
        kill_instance(st, in->pid);
        model_event(m, in->idx, "python_worker_killed", SIGKILL);
        err = MWE_DEADLINE;
        dead = true;
        expected = true;
        goto out_release;
    }
    if (got == 0) {
        log_kv(LOG_ERROR, "python model instance died during a call", "model", m->name, "#instance",
               (long long)in->idx, "request_id",
               calls[0]->request_id != NULL ? calls[0]->request_id : "", NULL);
        /* EOF, or a frame that breaks the protocol: make sure the process is gone. */
        kill_instance(st, in->pid);
        err = MWE_MODEL_UNAVAILABLE;
        dead = true;
        goto out_release;
    }
    ex.st = st;
    ex.instance = in->idx;
    ex.calls = calls;
    if (h.type == PYW_RESULT_JSON || h.type == PYW_RESULT_JSON_RECYCLE) {
        rc[0] = pyw_decode_answer(in->shm + half, in->shm_size - half, h.off, h.len, calls[0]);
        info.recycle = h.type == PYW_RESULT_JSON_RECYCLE;
        /* The runner's json.dumps cannot write what the decoder refuses. */
        broken = rc[0] == MWE_MODEL_FAILED;
    } else if (h.type != PYW_RESULT) {
        broken = pyw_decode_answers(in->shm + half, in->shm_size - half, h.off, h.len, calls,
                                    items, rc) != 0;
        info.recycle = h.type == PYW_RESULT_JSONS_RECYCLE;
    } else {
        broken = pyw_decode_reply(in->shm + half, in->shm_size - half, h.off, h.len, calls, items,
                                  rc, &info, on_exception, &ex) != 0;
    }
    if (broken) {
        log_kv(LOG_ERROR, "python model instance sent a malformed reply: killed", "model", m->name,
               "#instance", (long long)in->idx, NULL);
        kill_instance(st, in->pid);
        dead = true;
        expected = true;
    }
    if (info.unbatchable && !atomic_exchange(&m->batch_off, true))
        log_msg(LOG_WARN,
                "python model: run() did not answer one entry per record (or "
                "{\"predictions\": [...]}): batching is off for this model",
                "model", m->name, NULL);
    if (info.recycle) {
        dead = true;
        expected = true;
    }
    goto out_unlock;

out_release:
out_all:
    for (size_t i = 0; i < *done; i++)
        rc[i] = err;
out_unlock:
    if (in != NULL) {
        pthread_mutex_lock(&st->mu);
        if (dead) {
            mark_dead(st, in, expected);
            in->expected_exit = expected;
        } else {
            in->st = PI_IDLE;
            pthread_cond_broadcast(&st->cv);
        }
        pthread_mutex_unlock(&st->mu);
    }
}

static int py_run(struct model *m, struct model_call *c)
{
    struct pystate *st = m->state;
    size_t done = 0;
    int rc = MWE_MODEL_FAILED;

    exchange(st, &c, 1, false, &rc, &done);
    return rc;
}

/* m->run_many of template models: the runner merges the records of the calls into one run()
 * and splits the answer by position (docs/python-workers.md); once it could not, every later
 * batch goes one call at a time. */
static void py_run_many(struct model *m, struct model_call **calls, size_t n, int *rc)
{
    struct pystate *st = m->state;
    size_t off = 0, done;
    bool batch = !atomic_load(&m->batch_off);

    while (off < n) {
        done = 0;
        exchange(st, calls + off, batch ? n - off : 1, batch, rc + off, &done);
        off += done > 0 ? done : 1;
    }
}

/* ---- load / free ----------------------------------------------------------------------------- */

static int read_uint(const json_t *root, const char *key, uint64_t lo, uint64_t hi, uint64_t dflt,
                     uint64_t *out, const char *path, struct mw_error *e)
{
    const json_t *v = json_object_get(root, key);
    json_int_t x;

    *out = dflt;
    if (v == NULL)
        return 0;
    x = json_is_integer(v) ? json_integer_value(v) : -1;
    if (x < 0 || (uint64_t)x < lo || (uint64_t)x > hi)
        return mw_fail(e, MWE_CONFIG, "%s: \"%s\": expected an integer from %llu to %llu", path,
                       key, (unsigned long long)lo, (unsigned long long)hi);
    *out = (uint64_t)x;
    return 0;
}

/* A relative path of model.json, inside the model's folder. */
static bool rel_path_ok(const char *s)
{
    return s != NULL && s[0] != '\0' && s[0] != '/' && strstr(s, "..") == NULL;
}

static void py_free(struct model *m);

static int load(struct model *m, const json_t *mj, bool sklearn, struct mw_error *e)
{
    struct pystate *st = NULL;
    const json_t *py = json_object_get(mj, "python"), *file = json_object_get(mj, "file");
    const json_t *load_mode = json_object_get(mj, "load"), *v;
    const json_t *busy_poll = json_object_get(mj, "busy_poll");
    json_t *init = NULL;
    char path[512];
    uint64_t instances, max_rss, max_requests, shm, load_ms;
    size_t i;
    int rc = MWE_CONFIG;

    snprintf(path, sizeof(path), "%s/model.json", m->dir);
    if (!json_is_string(file) || !rel_path_ok(json_string_value(file))) {
        mw_fail(e, MWE_CONFIG, "%s: \"file\": expected a path inside the model folder", path);
        goto out;
    }
    /* model.c read "instances" (1 to 64) into the scheduler's workers: one per process. */
    instances = m->opts.workers;
    if (instances < 1 || instances > PY_MAX_INSTANCES) {
        mw_fail(e, MWE_CONFIG, "%s: \"instances\": expected an integer from 1 to %d", path,
                PY_MAX_INSTANCES);
        goto out;
    }
    if (read_uint(mj, "max_rss", 0, UINT64_C(1) << 48, 0, &max_rss, path, e) != 0 ||
        read_uint(mj, "max_requests", 0, UINT32_MAX, 0, &max_requests, path, e) != 0 ||
        read_uint(mj, "shm_bytes", 1 << 20, PY_SHM_MAX, PY_SHM_DEFAULT, &shm, path, e) != 0 ||
        read_uint(mj, "load_timeout_ms", 1000, 3600000, PY_LOAD_TIMEOUT_MS, &load_ms, path, e) != 0)
        goto out;
    if (busy_poll != NULL && !json_is_boolean(busy_poll)) {
        mw_fail(e, MWE_CONFIG, "%s: \"busy_poll\": expected true or false", path);
        goto out;
    }
    if (load_mode != NULL && !(json_is_string(load_mode) &&
                               (strcmp(json_string_value(load_mode), "fork") == 0 ||
                                strcmp(json_string_value(load_mode), "per-instance") == 0))) {
        mw_fail(e, MWE_CONFIG, "%s: \"load\": expected \"fork\" or \"per-instance\"", path);
        goto out;
    }
    if (py != NULL && !json_is_object(py)) {
        mw_fail(e, MWE_CONFIG, "%s: \"python\": expected an object with venv and path", path);
        goto out;
    }
    st = calloc(1, sizeof(*st));
    if (st == NULL)
        goto out_nomem;
    st->m = m;
    st->n = (unsigned)instances;
    {
        cpu_set_t cpus;
        st->spin_ok = !json_is_false(busy_poll) && sched_getaffinity(0, sizeof(cpus), &cpus) == 0 &&
                      CPU_COUNT(&cpus) > 1;
    }
    st->shm_size = (size_t)shm / 2 * 2;
    st->load_timeout_ms = (unsigned)load_ms;
    st->master_fd = -1;
    st->master_pid = -1;
    st->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (st->wake_fd < 0) {
        free(st);
        st = NULL;
        goto out_nomem;
    }
    for (i = 0; i < PY_MAX_INSTANCES; i++) {
        st->inst[i].idx = (int)i;
        st->inst[i].fd = -1;
    }
    for (i = 0; i < instances; i++) {
        st->inst[i].rbuf = malloc(PYW_FRAME_MAX + 1);
        if (st->inst[i].rbuf == NULL) {
            for (size_t k = 0; k < i; k++)
                free(st->inst[k].rbuf);
            close(st->wake_fd);
            free(st);
            st = NULL;
            goto out_nomem;
        }
    }
    pthread_mutex_init(&st->mu, NULL);
    pthread_mutex_init(&st->send_mu, NULL);
    pthread_cond_init(&st->cv, NULL); /* CLOCK_REALTIME: acquire's short timed waits */
    m->state = st;

    v = py != NULL ? json_object_get(py, "venv") : NULL;
    if (v != NULL) {
        char *venv, *bin;
        if (!json_is_string(v)) {
            mw_fail(e, MWE_CONFIG, "%s: \"python\".\"venv\": expected a path", path);
            goto out_free;
        }
        venv = json_string_value(v)[0] == '/' ? strdup(json_string_value(v))
                                              : model_path_join(m->dir, json_string_value(v));
        bin = venv != NULL ? model_path_join(venv, "bin/python") : NULL;
        free(venv);
        if (bin == NULL)
            goto out_nomem_free;
        if (access(bin, X_OK) != 0) {
            mw_fail(e, MWE_CONFIG, "%s: \"python\".\"venv\": %s is not executable", path, bin);
            free(bin);
            goto out_free;
        }
        st->python = bin;
    } else {
        st->python = strdup(MW_PYTHON);
        if (st->python == NULL)
            goto out_nomem_free;
    }
    v = py != NULL ? json_object_get(py, "path") : NULL;
    if (v != NULL) {
        const json_t *p;
        if (!json_is_array(v)) {
            mw_fail(e, MWE_CONFIG, "%s: \"python\".\"path\": expected an array of folders", path);
            goto out_free;
        }
        json_array_foreach(v, i, p)
        {
            if (!json_is_string(p) || !rel_path_ok(json_string_value(p))) {
                mw_fail(e, MWE_CONFIG,
                        "%s: \"python\".\"path\"[%zu]: expected a folder inside the model folder",
                        path, i);
                goto out_free;
            }
        }
    }
    /* "o" steals: the path list is a new reference either way. */
    init = json_pack("{s:s, s:s, s:s, s:s, s:O, s:o, s:s, s:I, s:I, s:I, s:b}", "dir", m->dir, "name",
                     m->name, "version", m->version, "backend", sklearn ? "sklearn" : "python",
                     "model_json", mj, "path", v != NULL ? json_incref((json_t *)v) : json_array(),
                     "load", load_mode != NULL ? json_string_value(load_mode) : "fork", "instances",
                     (json_int_t)instances, "max_rss", (json_int_t)max_rss, "max_requests",
                     (json_int_t)max_requests, "spin", st->spin_ok);
    st->init_json = init != NULL ? json_dumps(init, JSON_COMPACT) : NULL;
    json_decref(init);
    if (st->init_json == NULL)
        goto out_nomem_free;
    if (strlen(st->init_json) > PYW_FRAME_MAX - PYW_HDR_LEN) {
        mw_fail(e, MWE_CONFIG, "%s: too large for the Python worker (at most %d bytes)", path,
                PYW_FRAME_MAX - PYW_HDR_LEN - 512);
        goto out_free;
    }
    if (spawn_master(st, e) != 0 || await_ready(st, true, e) != 0)
        goto out_free;
    for (i = 0; i < st->n; i++) {
        st->inst[i].st = PI_STARTING;
        if (fork_instance(st, &st->inst[i], e) != 0)
            goto out_free;
    }
    if (m->sig.n_inputs == 0 && !m->json_answers) {
        mw_fail(e, MWE_CONFIG, "%s: the model declares no inputs (see \"signature\")", path);
        goto out_free;
    }
    if (m->sig.n_inputs == 0)
        log_msg(LOG_WARN,
                "python model has no signature: its inputs are not validated (any JSON object "
                "is accepted)",
                "model", m->name, NULL);
    m->flags = MW_FLAG_THREAD_SAFE;
    {
        bool batch = m->sig.n_inputs > 0;
        for (size_t k = 0; k < m->sig.n_inputs + m->sig.n_outputs; k++) {
            const struct mw_tensor_spec *sp =
                k < m->sig.n_inputs ? &m->sig.inputs[k] : &m->sig.outputs[k - m->sig.n_inputs];
            batch = batch && sp->ndim >= 1 && sp->shape[0] == -1;
        }
        if (batch)
            m->flags |= MW_FLAG_BATCH;
    }
    if (m->json_answers)
        m->run_many = py_run_many;
    {
        /* Signals belong to the main thread (sigwait), as for the scheduler's threads. */
        sigset_t all, old;
        int err;

        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        err = pthread_create(&st->sup, NULL, supervisor_main, st);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (err != 0) {
            mw_fail(e, MWE_INTERNAL, "%s: cannot start the supervisor thread", path);
            goto out_free;
        }
    }
    st->sup_started = true;
    rc = 0;
    goto out;

out_nomem_free:
    mw_fail(e, MWE_NOMEM, "%s: out of memory", path);
out_free:
    py_free(m);
    goto out;
out_nomem:
    rc = mw_fail(e, MWE_NOMEM, "%s: out of memory", path);
out:
    return rc;
}

static int py_load(struct model *m, const json_t *mj, struct mw_error *e)
{
    return load(m, mj, false, e);
}

static int sk_load(struct model *m, const json_t *mj, struct mw_error *e)
{
    return load(m, mj, true, e);
}

static void py_free(struct model *m)
{
    struct pystate *st = m->state;

    if (st == NULL)
        return;
    pthread_mutex_lock(&st->mu);
    atomic_store(&st->stop, true);
    pthread_cond_broadcast(&st->cv);
    pthread_mutex_unlock(&st->mu);
    if (st->sup_started)
        pthread_join(st->sup, NULL);
    for (unsigned i = 0; i < PY_MAX_INSTANCES; i++) {
        struct pyinst *in = &st->inst[i];
        if (in->fd >= 0)
            close(in->fd);
        in->fd = -1;
        if (in->shm != NULL)
            munmap(in->shm, in->shm_size);
        in->shm = NULL;
        free(in->rbuf);
        in->rbuf = NULL;
    }
    stop_master(st);
    pthread_cond_destroy(&st->cv);
    pthread_mutex_destroy(&st->mu);
    pthread_mutex_destroy(&st->send_mu);
    if (st->wake_fd >= 0)
        close(st->wake_fd);
    free(st->python);
    free(st->init_json);
    free(st);
    m->state = NULL;
}

const struct backend_ops backend_python = {
    .name = "python",
    .load = py_load,
    .run = py_run,
    .free = py_free,
};

const struct backend_ops backend_sklearn = {
    .name = "sklearn",
    .load = sk_load,
    .run = py_run,
    .free = py_free,
};
