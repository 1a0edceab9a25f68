/*
 * Unit tests for src/core/arena.c: alignment, chunk growth, large allocations, the max bound and
 * overflow-safe sizes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/core.h"

static void test_alignment_and_no_overlap(void **state)
{
    struct arena a;
    unsigned char *ptrs[500];
    size_t sizes[500];
    size_t i;
    size_t j;

    (void)state;
    arena_init(&a, 0);
    for (i = 0; i < MW_ARRAY_LEN(ptrs); i++) {
        sizes[i] = 1 + (i * 37) % 300;
        ptrs[i] = arena_alloc(&a, sizes[i]);
        assert_non_null(ptrs[i]);
        assert_int_equal((uintptr_t)ptrs[i] % 16, 0);
        memset(ptrs[i], (int)(i & 0xff), sizes[i]);
    }
    for (i = 0; i < MW_ARRAY_LEN(ptrs); i++) {
        for (j = 0; j < sizes[i]; j++)
            assert_int_equal(ptrs[i][j], (unsigned char)(i & 0xff));
    }
    arena_fini(&a);
    assert_null(a.head);
    assert_int_equal(a.total, 0);
}

static void test_bump_is_contiguous(void **state)
{
    struct arena a;
    char *p1;
    char *p2;
    char *p3;

    (void)state;
    arena_init(&a, 0);
    p1 = arena_alloc(&a, 1);
    p2 = arena_alloc(&a, 17);
    p3 = arena_alloc(&a, 0);
    assert_non_null(p1);
    assert_ptr_equal(p2, p1 + 16);
    assert_ptr_equal(p3, p2 + 32);
    assert_int_equal(a.total, 16 + 32 + 16);
    arena_fini(&a);
}

static void test_large_gets_own_chunk(void **state)
{
    struct arena a;
    char *p1;
    char *big;
    char *p2;

    (void)state;
    arena_init(&a, 0);
    p1 = arena_alloc(&a, 16);
    big = arena_alloc(&a, 200000);
    assert_non_null(big);
    assert_int_equal((uintptr_t)big % 16, 0);
    memset(big, 0xab, 200000);
    /* The head chunk's free space is still used after a large allocation. */
    p2 = arena_alloc(&a, 16);
    assert_ptr_equal(p2, p1 + 16);
    assert_int_equal(a.total, 16 + 200000 + 16);
    arena_fini(&a);

    /* A large allocation into an empty arena, then small ones. */
    arena_init(&a, 0);
    big = arena_alloc(&a, 1 << 20);
    assert_non_null(big);
    p1 = arena_alloc(&a, 8);
    assert_non_null(p1);
    assert_true(p1 < big || p1 >= big + (1 << 20));
    arena_fini(&a);
}

static void test_many_chunks(void **state)
{
    struct arena a;
    char *p;
    char *prev = NULL;
    size_t i;
    size_t jumps = 0;

    (void)state;
    arena_init(&a, 0);
    /* 1 MiB in 1000-byte pieces: chunks grow 4, 8, 16, 32, 64 KiB then stay at 64 KiB. */
    for (i = 0; i < 1024; i++) {
        p = arena_alloc(&a, 1000);
        assert_non_null(p);
        memset(p, 1, 1000);
        if (prev != NULL && p != prev + 1008)
            jumps++;
        prev = p;
    }
    assert_int_equal(a.total, 1024 * 1008);
    /* Geometric growth to 64 KiB: about 4 + 7 + 15 + 31 + 14 * 63 pieces, so 18 to 22 chunks;
     * a fixed 4 KiB chunk size would need about 256. */
    assert_in_range(jumps, 12, 30);
    arena_fini(&a);
}

static void test_max_bounds_total(void **state)
{
    struct arena a;

    (void)state;
    arena_init(&a, 64);
    assert_non_null(arena_alloc(&a, 40)); /* 48 */
    assert_non_null(arena_alloc(&a, 16)); /* 64 */
    assert_int_equal(a.total, 64);
    assert_null(arena_alloc(&a, 1));
    assert_int_equal(a.total, 64);
    arena_fini(&a);
    /* Reusable after fini, same max. */
    assert_non_null(arena_alloc(&a, 64));
    assert_null(arena_alloc(&a, 1));
    arena_fini(&a);
}

static void test_overflow(void **state)
{
    struct arena a;

    (void)state;
    arena_init(&a, 0);
    assert_null(arena_alloc(&a, SIZE_MAX));
    assert_null(arena_alloc(&a, SIZE_MAX - 8));
    assert_null(arena_alloc(&a, SIZE_MAX - 100));
    assert_null(arena_calloc(&a, SIZE_MAX / 2, 3));
    assert_null(arena_calloc(&a, (SIZE_MAX >> 4) + 2, 16));
    /* n is a bound, not a length: the copy stops at the NUL. */
    assert_string_equal(arena_strndup(&a, "abc", SIZE_MAX), "abc");
    assert_int_equal(a.total, 16); /* only the strndup above succeeded */
    arena_fini(&a);
}

static void test_calloc_zeroes(void **state)
{
    struct arena a;
    unsigned char *p;
    size_t i;

    (void)state;
    arena_init(&a, 0);
    /* Dirty the first chunk, then reuse fresh memory: still zeroed. */
    p = arena_alloc(&a, 100);
    memset(p, 0xff, 100);
    p = arena_calloc(&a, 25, 40);
    assert_non_null(p);
    for (i = 0; i < 1000; i++)
        assert_int_equal(p[i], 0);
    assert_non_null(arena_calloc(&a, 0, 8));
    arena_fini(&a);
}

static void test_strndup(void **state)
{
    struct arena a;
    const char raw[] = {'a', 'b', 'c', 'd'}; /* no NUL */
    char *s;

    (void)state;
    arena_init(&a, 0);
    s = arena_strndup(&a, raw, 3);
    assert_string_equal(s, "abc");
    s = arena_strndup(&a, raw, sizeof(raw));
    assert_string_equal(s, "abcd");
    s = arena_strndup(&a, "xy\0z", 4);
    assert_string_equal(s, "xy");
    s = arena_strndup(&a, NULL, 0);
    assert_string_equal(s, "");
    assert_null(arena_strndup(&a, NULL, 3));
    arena_fini(&a);

    arena_init(&a, 16);
    assert_null(arena_strndup(&a, "0123456789abcdefg", 17)); /* needs 18 -> 32 bytes */
    assert_non_null(arena_strndup(&a, "0123456789abcde", 15));
    arena_fini(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alignment_and_no_overlap),
        cmocka_unit_test(test_bump_is_contiguous),
        cmocka_unit_test(test_large_gets_own_chunk),
        cmocka_unit_test(test_many_chunks),
        cmocka_unit_test(test_max_bounds_total),
        cmocka_unit_test(test_overflow),
        cmocka_unit_test(test_calloc_zeroes),
        cmocka_unit_test(test_strndup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
