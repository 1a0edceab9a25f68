/*
 * mw_spawn_capture: the helper processes of the dependency inventory start clean (no inherited
 * descriptor, empty signal mask, default dispositions, only the given environment), their output
 * is bounded and a hanging one is killed at the deadline.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/core.h"

static char *const env[] = {"PATH=/usr/bin:/bin", "ONLY=this", NULL};

static int run(const char *script, size_t max, unsigned timeout_ms, struct buf *out, int *status,
               struct mw_error *e)
{
    char *argv[] = {"/bin/sh", "-c", (char *)script, NULL};
    buf_init(out, max);
    return mw_spawn_capture(argv, env, timeout_ms, out, status, e);
}

static void test_clean_child(void **state)
{
    struct mw_error e = {0};
    struct buf out;
    sigset_t block;
    int status = -1;
    int leak = open("/dev/null", O_RDONLY); /* no O_CLOEXEC: must still not reach the child */
    (void)state;

    assert_true(leak > 2);
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &block, NULL);
    signal(SIGPIPE, SIG_IGN);
    assert_int_equal(run("ls /proc/self/fd | tr '\\n' ' '; echo; "
                         "grep -E '^Sig(Blk|Ign)' /proc/self/status; env",
                         65536, 10000, &out, &status, &e),
                     0);
    assert_int_equal(status, 0);
    assert_non_null(out.ptr);
    /* 0, 1, 2 and the descriptor ls reads /proc/self/fd with. */
    assert_non_null(strstr(out.ptr, "0 1 2 3 \n"));
    assert_non_null(strstr(out.ptr, "SigBlk:\t0000000000000000"));
    {
        /* SIGPIPE (13: bit 12) must not be ignored; glibc's own real-time signals may be. */
        const char *ign = strstr(out.ptr, "SigIgn:\t");
        unsigned long long mask;
        assert_non_null(ign);
        assert_int_equal(sscanf(ign + 8, "%llx", &mask), 1);
        assert_int_equal(mask & (1ull << (SIGPIPE - 1)), 0);
    }
    assert_non_null(strstr(out.ptr, "ONLY=this"));
    assert_null(strstr(out.ptr, "HOME="));
    buf_fini(&out);
    close(leak);
    signal(SIGPIPE, SIG_DFL);
    pthread_sigmask(SIG_UNBLOCK, &block, NULL);
}

static void test_exit_status_deadline_and_bound(void **state)
{
    struct mw_error e = {0};
    struct buf out;
    int status = -1;
    uint64_t t0;
    (void)state;

    assert_int_equal(run("echo hi; exit 7", 1024, 10000, &out, &status, &e), 0);
    assert_int_equal(status, 7);
    assert_string_equal(out.ptr, "hi\n");
    buf_fini(&out);

    t0 = time_mono_ns();
    assert_int_equal(run("exec sleep 30", 1024, 200, &out, &status, &e), MWE_DEADLINE);
    assert_true(time_mono_ns() - t0 < 10ull * 1000000000ull);
    buf_fini(&out);

    memset(&e, 0, sizeof(e));
    assert_int_equal(run("yes", 4096, 10000, &out, &status, &e), MWE_IO);
    assert_true(out.len <= 4096);
    buf_fini(&out);

    memset(&e, 0, sizeof(e));
    {
        char *argv[] = {"/nonexistent/tool", NULL};
        buf_init(&out, 1024);
        assert_int_equal(mw_spawn_capture(argv, env, 1000, &out, &status, &e), MWE_IO);
        buf_fini(&out);
    }
}

static void *reaper(void *arg)
{
    int st;
    (void)arg;
    /* A host that reaps every child (a SIGCHLD-style reaper thread) takes the helper's status. */
    while (waitpid(-1, &st, 0) < 0 && errno == EINTR)
        ;
    return NULL;
}

static void test_reaped_elsewhere(void **state)
{
    struct mw_error e = {0};
    struct buf out;
    pthread_t t;
    int status = 0;
    (void)state;

    assert_int_equal(pthread_create(&t, NULL, reaper, NULL), 0);
    /* stdout closes at once, the process lives on a little: the reaper's blocking wait wins. */
    assert_int_equal(run("echo done; exec >&-; sleep 0.3", 1024, 10000, &out, &status, &e), 0);
    pthread_join(t, NULL);
    assert_string_equal(out.ptr, "done\n");
    /* Usually the reaper wins; when this thread's own poll came first the status is known. Never
     * "killed" (-1): the helper ended normally either way. */
    assert_true(status == MW_SPAWN_REAPED_ELSEWHERE || status == 0);
    buf_fini(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clean_child),
        cmocka_unit_test(test_exit_status_deadline_and_bound),
        cmocka_unit_test(test_reaped_elsewhere),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
