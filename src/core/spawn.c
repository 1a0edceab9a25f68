/*
 * Short-lived helper processes (dpkg-query, a model's Python interpreter): posix_spawn (never
 * fork of the threaded server) with a given environment, no inherited descriptors, stdout
 * captured up to a bound, a deadline after which the child is killed.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/core.h"

/* Waits for pid until deadline_ns, then kills it. The exit status, -1 when it was killed by a
 * signal, or MW_SPAWN_REAPED_ELSEWHERE when another thread's waitpid(-1) took it first. */
static int reap(pid_t pid, uint64_t deadline_ns)
{
    int status = 0;

    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        if (r < 0 && errno == ECHILD)
            return MW_SPAWN_REAPED_ELSEWHERE;
        if (r < 0 && errno != EINTR)
            return -1;
        if (time_mono_ns() >= deadline_ns) {
            kill(pid, SIGKILL);
            while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
            return -1;
        }
        struct timespec ts = {0, 5 * 1000000L};
        nanosleep(&ts, NULL);
    }
}

int mw_spawn_capture(char *const argv[], char *const envp[], unsigned timeout_ms,
                     struct buf *out, int *exit_status, struct mw_error *e)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    sigset_t none, defaults;
    bool attr_ready = false;
    int pipefd[2] = {-1, -1};
    uint64_t deadline = time_mono_ns() + (uint64_t)timeout_ms * 1000000ull;
    bool fa_ready = false, too_big = false, timed_out = false;
    pid_t pid = -1;
    char chunk[8192];
    int rc = 0;

    *exit_status = -1;
    if (pipe2(pipefd, O_CLOEXEC) != 0) {
        rc = mw_fail(e, MWE_IO, "%s: cannot create a pipe: %s", argv[0], strerror(errno));
        goto out;
    }
    if (posix_spawn_file_actions_init(&fa) != 0) {
        rc = mw_fail(e, MWE_NOMEM, "out of memory");
        goto out;
    }
    fa_ready = true;
    if (posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0) != 0 ||
        posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1) != 0 ||
        posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0) != 0 ||
        posix_spawn_file_actions_addclosefrom_np(&fa, 3) != 0) {
        rc = mw_fail(e, MWE_NOMEM, "out of memory");
        goto out;
    }
    /* The server's threads block SIGTERM/SIGINT/SIGHUP and ignore SIGPIPE; both would be
     * inherited across exec. The child starts with an empty mask and default dispositions. */
    sigemptyset(&none);
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGPIPE);
    sigaddset(&defaults, SIGTERM);
    sigaddset(&defaults, SIGINT);
    sigaddset(&defaults, SIGHUP);
    if (posix_spawnattr_init(&attr) != 0) {
        rc = mw_fail(e, MWE_NOMEM, "out of memory");
        goto out;
    }
    attr_ready = true;
    if (posix_spawnattr_setsigmask(&attr, &none) != 0 ||
        posix_spawnattr_setsigdefault(&attr, &defaults) != 0 ||
        posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF) != 0) {
        rc = mw_fail(e, MWE_NOMEM, "out of memory");
        goto out;
    }
    rc = posix_spawn(&pid, argv[0], &fa, &attr, argv, envp);
    if (rc != 0) {
        pid = -1;
        rc = mw_fail(e, MWE_IO, "%s: cannot start: %s", argv[0], strerror(rc));
        goto out;
    }
    close(pipefd[1]);
    pipefd[1] = -1;
    for (;;) {
        uint64_t now = time_mono_ns();
        struct pollfd pfd = {.fd = pipefd[0], .events = POLLIN, .revents = 0};
        int wait_ms, n;
        ssize_t got;

        if (now >= deadline) {
            timed_out = true;
            break;
        }
        wait_ms = (int)((deadline - now) / 1000000ull) + 1;
        n = poll(&pfd, 1, wait_ms);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            continue; /* the deadline check above ends it */
        got = read(pipefd[0], chunk, sizeof(chunk));
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        if (buf_append(out, chunk, (size_t)got) != 0) {
            too_big = true;
            break;
        }
    }
    if (timed_out || too_big)
        kill(pid, SIGKILL);
    *exit_status = reap(pid, timed_out || too_big ? 0 : deadline);
    pid = -1;
    if (timed_out)
        rc = mw_fail(e, MWE_DEADLINE, "%s: no answer within %u ms", argv[0], timeout_ms);
    else if (too_big)
        rc = mw_fail(e, MWE_IO, "%s: its output is larger than the limit", argv[0]);
out:
    if (pid > 0) {
        kill(pid, SIGKILL);
        reap(pid, 0);
    }
    if (fa_ready)
        posix_spawn_file_actions_destroy(&fa);
    if (attr_ready)
        posix_spawnattr_destroy(&attr);
    if (pipefd[0] >= 0)
        close(pipefd[0]);
    if (pipefd[1] >= 0)
        close(pipefd[1]);
    return rc;
}
