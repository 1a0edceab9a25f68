/*
 * Unit tests for src/core/file.c: whole-file reads with a size cap.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/core.h"

static char dir[] = "/tmp/mw_test_file_XXXXXX";

static void path_of(char out[256], const char *name)
{
    snprintf(out, 256, "%s/%s", dir, name);
}

static void write_file(const char *name, const char *data, size_t len, mode_t mode)
{
    char p[256];
    int fd;

    path_of(p, name);
    fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    assert_int_equal(fchmod(fd, mode), 0);
    close(fd);
}

static int setup(void **state)
{
    (void)state;
    return mkdtemp(dir) != NULL ? 0 : -1;
}

static int teardown(void **state)
{
    const char *names[] = {"exact", "over", "empty", "ww", "nul", "fifo"};
    char p[256];

    (void)state;
    for (size_t i = 0; i < MW_ARRAY_LEN(names); i++) {
        path_of(p, names[i]);
        unlink(p);
    }
    return rmdir(dir);
}

static void test_reads_up_to_max(void **state)
{
    char p[256];
    char *data = (char *)1;
    size_t len = 99;

    (void)state;
    write_file("exact", "0123456789", 10, 0600);
    path_of(p, "exact");
    assert_int_equal(mw_file_read(p, 10, MW_FILE_REGULAR, &data, &len), 0);
    assert_int_equal(len, 10);
    assert_memory_equal(data, "0123456789", 11); /* NUL-terminated */
    free(data);

    assert_int_equal(mw_file_read(p, 9, 0, &data, &len), EFBIG);
    assert_null(data);
    assert_int_equal(len, 0);

    write_file("empty", "", 0, 0600);
    path_of(p, "empty");
    assert_int_equal(mw_file_read(p, 10, MW_FILE_REGULAR, &data, &len), 0);
    assert_int_equal(len, 0);
    assert_int_equal(data[0], '\0');
    free(data);

    write_file("nul", "a\0b", 3, 0600);
    path_of(p, "nul");
    assert_int_equal(mw_file_read(p, 3, 0, &data, &len), 0);
    assert_int_equal(len, 3);
    assert_memory_equal(data, "a\0b", 4);
    free(data);
}

/* Files whose size fstat does not report are still bounded by max. */
static void test_unknown_size_is_capped(void **state)
{
    char *data = NULL;
    size_t len = 0;

    (void)state;
    assert_int_equal(mw_file_read("/proc/self/status", 1 << 20, 0, &data, &len), 0);
    assert_true(len > 0);
    assert_non_null(strstr(data, "Name:"));
    free(data);
    assert_int_equal(mw_file_read("/proc/self/status", 8, 0, &data, &len), EFBIG);
    assert_null(data);
    /* /proc files are regular with size 0: read until EOF, still capped */
    assert_int_equal(mw_file_read("/proc/self/status", 8, MW_FILE_REGULAR, &data, &len), EFBIG);
    assert_null(data);
}

static void test_refusals(void **state)
{
    char p[256];
    char *data = NULL;
    size_t len = 0;

    (void)state;
    path_of(p, "missing");
    assert_int_equal(mw_file_read(p, 10, 0, &data, &len), ENOENT);
    assert_null(data);
    assert_int_equal(mw_file_read(dir, 10, MW_FILE_REGULAR, &data, &len), EINVAL);
    assert_int_equal(mw_file_read(dir, 10, 0, &data, &len), EISDIR);

    path_of(p, "fifo");
    assert_int_equal(mkfifo(p, 0600), 0);
    /* without a writer a blocking open would hang; MW_FILE_REGULAR refuses it at once */
    assert_int_equal(mw_file_read(p, 10, MW_FILE_REGULAR, &data, &len), EINVAL);

    write_file("ww", "x", 1, 0666);
    path_of(p, "ww");
    assert_int_equal(mw_file_read(p, 10, MW_FILE_REGULAR | MW_FILE_NOT_WORLD_WRITABLE, &data,
                                  &len),
                     EPERM);
    assert_null(data);
    assert_int_equal(mw_file_read(p, 10, MW_FILE_REGULAR, &data, &len), 0);
    free(data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reads_up_to_max),
        cmocka_unit_test(test_unknown_size_is_capped),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
