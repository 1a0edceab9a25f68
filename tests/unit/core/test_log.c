/*
 * Unit tests for src/core/log.c: stderr is captured through a pipe, and each line is parsed back
 * with jansson to check the fields, escaping, numbers, levels and 8 KiB truncation.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "core/core.h"

struct capture {
    int pipe_fd[2];
    int saved_stderr;
    char out[65536];
    size_t len;
};

static void capture_begin(struct capture *c)
{
    assert_int_equal(pipe(c->pipe_fd), 0);
    c->saved_stderr = dup(STDERR_FILENO);
    assert_true(c->saved_stderr >= 0);
    assert_true(dup2(c->pipe_fd[1], STDERR_FILENO) >= 0);
    c->len = 0;
}

/* Restores stderr and reads everything written; the pipe (64 KiB) holds a few 8 KiB lines. */
static void capture_end(struct capture *c)
{
    ssize_t r;

    assert_true(dup2(c->saved_stderr, STDERR_FILENO) >= 0);
    close(c->saved_stderr);
    close(c->pipe_fd[1]);
    for (;;) {
        r = read(c->pipe_fd[0], c->out + c->len, sizeof(c->out) - 1 - c->len);
        if (r < 0 && errno == EINTR)
            continue;
        assert_true(r >= 0);
        if (r == 0)
            break;
        c->len += (size_t)r;
    }
    c->out[c->len] = '\0';
    close(c->pipe_fd[0]);
}

static size_t count_lines(const struct capture *c)
{
    size_t i;
    size_t n = 0;

    for (i = 0; i < c->len; i++)
        n += c->out[i] == '\n';
    return n;
}

/* Parses the single line captured; fails the test unless there is exactly one valid object. */
static json_t *parse_one(const struct capture *c)
{
    json_t *j;
    json_error_t err;

    assert_int_equal(count_lines(c), 1);
    assert_int_equal(c->out[c->len - 1], '\n');
    j = json_loadb(c->out, c->len, 0, &err);
    if (j == NULL)
        fail_msg("not JSON (%s): %s", err.text, c->out);
    assert_true(json_is_object(j));
    return j;
}

static void test_basic_line(void **state)
{
    struct capture c;
    json_t *j;
    const char *t;

    (void)state;
    log_set_level(LOG_INFO);
    capture_begin(&c);
    log_msg(LOG_INFO, "model loaded", "model", "iris", "skipped", NULL, "version", "1", NULL);
    capture_end(&c);
    j = parse_one(&c);
    /* Field order is part of the format. */
    assert_memory_equal(c.out, "{\"time\":\"", 9);
    t = json_string_value(json_object_get(j, "time"));
    assert_non_null(t);
    assert_int_equal(strlen(t), 24);
    assert_int_equal(t[10], 'T');
    assert_int_equal(t[23], 'Z');
    assert_string_equal(json_string_value(json_object_get(j, "level")), "info");
    assert_string_equal(json_string_value(json_object_get(j, "msg")), "model loaded");
    assert_string_equal(json_string_value(json_object_get(j, "model")), "iris");
    assert_string_equal(json_string_value(json_object_get(j, "version")), "1");
    assert_null(json_object_get(j, "skipped"));
    assert_null(json_object_get(j, "truncated"));
    assert_int_equal(json_object_size(j), 5);
    json_decref(j);
}

static void test_kv_numbers(void **state)
{
    struct capture c;
    json_t *j;

    (void)state;
    log_set_level(LOG_INFO);
    capture_begin(&c);
    log_kv(LOG_WARN, "request", "#status", 200LL, "path", "/api/v1/predict", "#min", LLONG_MIN,
           "#max", LLONG_MAX, "#neg", -5LL, NULL);
    capture_end(&c);
    j = parse_one(&c);
    assert_string_equal(json_string_value(json_object_get(j, "level")), "warn");
    assert_true(json_is_integer(json_object_get(j, "status")));
    assert_int_equal(json_integer_value(json_object_get(j, "status")), 200);
    assert_string_equal(json_string_value(json_object_get(j, "path")), "/api/v1/predict");
    assert_true(json_integer_value(json_object_get(j, "min")) == LLONG_MIN);
    assert_true(json_integer_value(json_object_get(j, "max")) == LLONG_MAX);
    assert_true(json_integer_value(json_object_get(j, "neg")) == -5);
    assert_null(json_object_get(j, "#status"));
    json_decref(j);

    /* log_msg gives '#' no meaning: the key keeps it and the value is a string. */
    capture_begin(&c);
    log_msg(LOG_ERROR, "x", "#k", "v", NULL);
    capture_end(&c);
    j = parse_one(&c);
    assert_string_equal(json_string_value(json_object_get(j, "#k")), "v");
    assert_string_equal(json_string_value(json_object_get(j, "level")), "error");
    json_decref(j);
}

static void test_escaping(void **state)
{
    struct capture c;
    json_t *j;

    (void)state;
    log_set_level(LOG_INFO);
    capture_begin(&c);
    log_msg(LOG_INFO, "quote\" back\\ nl\n", "ke\"y", "tab\t ctl\x01 bad\xff caf\xc3\xa9", NULL);
    capture_end(&c);
    j = parse_one(&c);
    assert_string_equal(json_string_value(json_object_get(j, "msg")), "quote\" back\\ nl\n");
    assert_string_equal(json_string_value(json_object_get(j, "ke\"y")),
                        "tab\t ctl\x01 bad\xef\xbf\xbd caf\xc3\xa9");
    json_decref(j);
}

static void test_levels(void **state)
{
    struct capture c;

    (void)state;
    log_set_level(LOG_WARN);
    assert_true(log_enabled(LOG_ERROR));
    assert_true(log_enabled(LOG_WARN));
    assert_false(log_enabled(LOG_INFO));
    assert_false(log_enabled(LOG_DEBUG));
    capture_begin(&c);
    log_msg(LOG_INFO, "hidden", NULL);
    log_kv(LOG_DEBUG, "hidden", "#n", 1LL, NULL);
    log_msg(LOG_ERROR, "shown", NULL);
    capture_end(&c);
    assert_int_equal(count_lines(&c), 1);
    assert_non_null(strstr(c.out, "\"shown\""));
    assert_null(strstr(c.out, "hidden"));

    log_set_level(LOG_DEBUG);
    assert_true(log_enabled(LOG_DEBUG));
    capture_begin(&c);
    log_msg(LOG_DEBUG, "dbg", NULL);
    capture_end(&c);
    assert_non_null(strstr(c.out, "\"level\":\"debug\""));
    log_set_level(99); /* clamped */
    assert_true(log_enabled(LOG_DEBUG));
    log_set_level(LOG_INFO);
}

static void test_level_parse(void **state)
{
    (void)state;
    assert_int_equal(log_level_parse("error"), LOG_ERROR);
    assert_int_equal(log_level_parse("warn"), LOG_WARN);
    assert_int_equal(log_level_parse("warning"), LOG_WARN);
    assert_int_equal(log_level_parse("info"), LOG_INFO);
    assert_int_equal(log_level_parse("DEBUG"), LOG_DEBUG);
    assert_int_equal(log_level_parse("Info"), LOG_INFO);
    assert_int_equal(log_level_parse(""), -1);
    assert_int_equal(log_level_parse("inf"), -1);
    assert_int_equal(log_level_parse("infos"), -1);
    assert_int_equal(log_level_parse("trace"), -1);
    assert_int_equal(log_level_parse(NULL), -1);
}

static void test_errno_kept(void **state)
{
    struct capture c;

    (void)state;
    log_set_level(LOG_INFO);
    capture_begin(&c);
    errno = ERANGE;
    log_msg(LOG_INFO, "x", NULL);
    assert_int_equal(errno, ERANGE);
    capture_end(&c);
    assert_int_equal(count_lines(&c), 1);
}

/* A long value made of `unit` repeated: the line is cut at 8 KiB, on a character boundary, and
 * stays one valid JSON object flagged truncated. The kept value is a prefix of the decoded value,
 * made of whole units when `whole` (unit is one character). */
static void check_truncated_value(const char *unit, const char *decoded_unit, bool whole)
{
    struct capture c;
    size_t ulen = strlen(unit);
    size_t dlen = strlen(decoded_unit);
    size_t n = 20000 / ulen;
    char *big = malloc(n * ulen + 1);
    const char *v;
    size_t i;
    json_t *j;

    assert_non_null(big);
    for (i = 0; i < n; i++)
        memcpy(big + i * ulen, unit, ulen);
    big[n * ulen] = '\0';
    capture_begin(&c);
    log_msg(LOG_INFO, "big", "value", big, "after", "x", NULL);
    capture_end(&c);
    assert_true(c.len <= 8192);
    assert_true(c.len > 8000);
    j = parse_one(&c);
    assert_true(json_is_true(json_object_get(j, "truncated")));
    assert_null(json_object_get(j, "after"));
    v = json_string_value(json_object_get(j, "value"));
    assert_non_null(v);
    assert_true(strlen(v) > 0);
    if (whole)
        assert_int_equal(strlen(v) % dlen, 0);
    for (i = 0; i < strlen(v); i += dlen)
        assert_memory_equal(v + i, decoded_unit, strlen(v) - i < dlen ? strlen(v) - i : dlen);
    json_decref(j);
    free(big);
}

static void test_truncation(void **state)
{
    (void)state;
    log_set_level(LOG_INFO);
    check_truncated_value("a", "a", true);
    check_truncated_value("\xc3\xa9", "\xc3\xa9", true);                 /* 2-byte character */
    check_truncated_value("\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80", true); /* 4-byte character */
    check_truncated_value("\"", "\"", true);                             /* 2-byte escape */
    check_truncated_value("\x01", "\x01", true);                         /* 6-byte escape */
    check_truncated_value("\xff", "\xef\xbf\xbd", true);                 /* invalid -> \ufffd */
    check_truncated_value("\xc2\x85", "\xc2\x85", true);                 /* NEL -> \u0085 */
    check_truncated_value("ab\xe2\x82\xac", "ab\xe2\x82\xac", false);    /* mixed widths */
}

/* DEL, the C1 controls and U+2028/U+2029 never reach a log line raw: collectors split on them. */
static void test_line_breaking_characters_escaped(void **state)
{
    struct capture c;
    json_t *j;

    (void)state;
    log_set_level(LOG_INFO);
    capture_begin(&c);
    log_msg(LOG_INFO, "m", "path",
            "/a\xc2\x85"
            "b\xe2\x80\xa8"
            "c\xe2\x80\xa9"
            "d\x7f\xc2\x9f",
            NULL);
    capture_end(&c);
    assert_null(memmem(c.out, c.len, "\xc2\x85", 2));
    assert_null(memmem(c.out, c.len, "\xc2\x9f", 2));
    assert_null(memmem(c.out, c.len, "\xe2\x80\xa8", 3));
    assert_null(memmem(c.out, c.len, "\xe2\x80\xa9", 3));
    assert_null(memchr(c.out, 0x7f, c.len));
    assert_non_null(memmem(c.out, c.len, "\\u0085b\\u2028c\\u2029d\\u007f\\u009f", 32));
    j = parse_one(&c);
    assert_string_equal(json_string_value(json_object_get(j, "path")), "/a\xc2\x85"
                                                                       "b\xe2\x80\xa8"
                                                                       "c\xe2\x80\xa9"
                                                                       "d\x7f\xc2\x9f");
    json_decref(j);
}

static void test_truncation_in_msg_and_pairs(void **state)
{
    struct capture c;
    char *big = malloc(10001);
    char val[1001];
    json_t *j;

    (void)state;
    assert_non_null(big);
    memset(big, 'm', 10000);
    big[10000] = '\0';
    capture_begin(&c);
    log_msg(LOG_INFO, big, "k", "v", NULL);
    capture_end(&c);
    assert_true(c.len <= 8192);
    j = parse_one(&c);
    assert_true(json_is_true(json_object_get(j, "truncated")));
    assert_null(json_object_get(j, "k"));
    assert_true(strlen(json_string_value(json_object_get(j, "msg"))) > 8000);
    json_decref(j);

    /* Many pairs: whole pairs are kept, the one that does not fit is cut. */
    memset(val, 'v', 1000);
    val[1000] = '\0';
    capture_begin(&c);
    log_kv(LOG_INFO, "pairs", "a", val, "b", val, "c", val, "d", val, "e", val, "f", val, "g", val,
           "h", val, "i", val, "#j", 1LL, NULL);
    capture_end(&c);
    assert_true(c.len <= 8192);
    j = parse_one(&c);
    assert_true(json_is_true(json_object_get(j, "truncated")));
    assert_string_equal(json_string_value(json_object_get(j, "a")), val);
    assert_string_equal(json_string_value(json_object_get(j, "h")), val);
    assert_true(strlen(json_string_value(json_object_get(j, "i"))) < 1000);
    assert_null(json_object_get(j, "j"));
    json_decref(j);
    free(big);
}

/* ---- buffered bulk lines: stderr goes to a temporary file (more than a pipe holds) ---- */

struct file_capture {
    int saved_stderr;
    int fd;
};

static void file_capture_begin(struct file_capture *c)
{
    char path[] = "/tmp/mw-test-log-XXXXXX";

    c->fd = mkstemp(path);
    assert_true(c->fd >= 0);
    unlink(path);
    c->saved_stderr = dup(STDERR_FILENO);
    assert_true(c->saved_stderr >= 0);
    assert_true(dup2(c->fd, STDERR_FILENO) >= 0);
}

/* What the file holds now (malloc'd, NUL-terminated); stderr stays captured. */
static char *file_capture_read(struct file_capture *c)
{
    off_t size = lseek(c->fd, 0, SEEK_END);
    char *p;

    assert_true(size >= 0);
    p = malloc((size_t)size + 1);
    assert_non_null(p);
    assert_int_equal(pread(c->fd, p, (size_t)size, 0), size);
    p[size] = '\0';
    return p;
}

static void file_capture_end(struct file_capture *c)
{
    assert_true(dup2(c->saved_stderr, STDERR_FILENO) >= 0);
    close(c->saved_stderr);
    close(c->fd);
}

#define BULK_LINES 3000

static void *bulk_writer(void *arg)
{
    long long id = (long long)(intptr_t)arg;

    for (long long i = 0; i < BULK_LINES; i++) {
        log_kv_bulk(LOG_INFO, "request", "#thread", id, "#i", i, NULL);
        if (i == BULK_LINES / 2) /* a direct line writes the thread's buffer first */
            log_kv(LOG_WARN, "direct", "#thread", id, "#i", i, NULL);
    }
    return NULL; /* the thread's exit writes its last lines */
}

/* Two threads x 3000 lines (about 8 buffers each): every line arrives whole and valid, each
 * thread's lines in order, the direct line between its neighbours. */
static void test_bulk_buffered_lines(void **state)
{
    struct file_capture c;
    pthread_t th[2];
    long long next[2] = {0, 0};
    size_t lines = 0;
    char *text, *line, *save = NULL;

    (void)state;
    log_set_level(LOG_INFO);
    file_capture_begin(&c);
    assert_int_equal(log_buffer_start(), 0);
    for (intptr_t k = 0; k < 2; k++)
        assert_int_equal(pthread_create(&th[k], NULL, bulk_writer, (void *)k), 0);
    for (int k = 0; k < 2; k++)
        pthread_join(th[k], NULL);
    log_buffer_stop();
    text = file_capture_read(&c);
    file_capture_end(&c);
    for (line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
        json_error_t err;
        json_t *j = json_loads(line, 0, &err);
        long long t, i;
        const char *msg;

        assert_non_null(j);
        msg = json_string_value(json_object_get(j, "msg"));
        t = json_integer_value(json_object_get(j, "thread"));
        i = json_integer_value(json_object_get(j, "i"));
        assert_true(t == 0 || t == 1);
        if (strcmp(msg, "direct") == 0) {
            assert_int_equal(i, BULK_LINES / 2);
            assert_int_equal(next[t], BULK_LINES / 2 + 1); /* after its bulk line i, before i+1 */
        } else {
            assert_string_equal(msg, "request");
            assert_int_equal(i, next[t]);
            next[t]++;
            lines++;
        }
        json_decref(j);
    }
    assert_int_equal(lines, 2 * BULK_LINES);
    assert_int_equal(next[0], BULK_LINES);
    assert_int_equal(next[1], BULK_LINES);
    free(text);
}

/* Without log_buffer_stop, the flusher writes a buffered line by itself (waits up to 10 s). */
static void test_bulk_flusher(void **state)
{
    struct file_capture c;
    char *text = NULL;

    (void)state;
    log_set_level(LOG_INFO);
    file_capture_begin(&c);
    assert_int_equal(log_buffer_start(), 0);
    log_kv_bulk(LOG_INFO, "request", "path", "/flushed-by-timer", NULL);
    for (int i = 0; i < 1000; i++) {
        const struct timespec ten_ms = {0, 10 * 1000 * 1000};

        free(text);
        text = file_capture_read(&c);
        if (strstr(text, "/flushed-by-timer") != NULL)
            break;
        nanosleep(&ten_ms, NULL);
    }
    assert_non_null(strstr(text, "/flushed-by-timer"));
    free(text);
    log_buffer_stop();
    /* Stopped: bulk lines are direct again. */
    log_kv_bulk(LOG_INFO, "request", "path", "/direct-again", NULL);
    text = file_capture_read(&c);
    file_capture_end(&c);
    assert_non_null(strstr(text, "/direct-again"));
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic_line),
        cmocka_unit_test(test_kv_numbers),
        cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_levels),
        cmocka_unit_test(test_level_parse),
        cmocka_unit_test(test_errno_kept),
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_truncation_in_msg_and_pairs),
        cmocka_unit_test(test_line_breaking_characters_escaped),
        cmocka_unit_test(test_bulk_buffered_lines),
        cmocka_unit_test(test_bulk_flusher),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
