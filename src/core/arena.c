/*
 * arena: the per-request bump allocator (after h2o and nginx pools). Memory comes from chunks that
 * grow geometrically from 4 KiB to 64 KiB; large requests get a chunk of their own; everything is
 * freed at once by arena_fini.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

#define ARENA_ALIGN ((size_t)16)
#define ARENA_CHUNK_MIN ((size_t)4096)
#define ARENA_CHUNK_MAX ((size_t)65536)

struct arena_chunk {
    struct arena_chunk *next;
    size_t size; /* usable bytes in data */
    size_t used;
    size_t step; /* size of the arena's latest ordinary chunk when this one was made; 0: none */
    _Alignas(16) unsigned char data[];
};

_Static_assert(offsetof(struct arena_chunk, data) % 16 == 0, "chunk data must be 16-aligned");

/* Rounds n up to ARENA_ALIGN; false on overflow. */
static bool align_up(size_t n, size_t *out)
{
    if (n > SIZE_MAX - (ARENA_ALIGN - 1))
        return false;
    *out = (n + ARENA_ALIGN - 1) & ~(ARENA_ALIGN - 1);
    return true;
}

/* A new chunk with size usable bytes (a multiple of 16), or NULL. */
static struct arena_chunk *chunk_new(size_t size, size_t step)
{
    struct arena_chunk *c = NULL;
    size_t bytes;

    /* No object may be larger than PTRDIFF_MAX; refuse before asking malloc. */
    if (size > (size_t)PTRDIFF_MAX - sizeof(struct arena_chunk) - ARENA_ALIGN)
        goto out;
    bytes = sizeof(struct arena_chunk) + size;
    if (!align_up(bytes, &bytes))
        goto out;
    c = aligned_alloc(ARENA_ALIGN, bytes);
    if (c == NULL)
        goto out;
    c->next = NULL;
    c->size = size;
    c->used = 0;
    c->step = step;
out:
    return c;
}

/* Prepares an empty arena; max bounds the bytes handed out (0: no bound). a is caller-owned; no
 * allocation happens until the first arena_alloc. Thread: the caller's. */
void arena_init(struct arena *a, size_t max)
{
    a->head = NULL;
    a->total = 0;
    a->max = max;
}

/* Frees every chunk; pointers from the arena become invalid. The arena stays usable with the same
 * max. Thread: the caller's (an arena is not shared between threads). */
void arena_fini(struct arena *a)
{
    struct arena_chunk *c = a->head;
    struct arena_chunk *next;

    while (c != NULL) {
        next = c->next;
        free(c);
        c = next;
    }
    a->head = NULL;
    a->total = 0;
}

/* Returns n bytes (at least 1 is reserved when n is 0), 16-byte aligned, owned by the arena and
 * valid until arena_fini; uninitialised. total grows by n rounded up to 16. NULL when out of memory
 * or when total would pass max (then the arena is unchanged). Thread: the caller's. */
void *arena_alloc(struct arena *a, size_t n)
{
    struct arena_chunk *head = a->head;
    struct arena_chunk *c;
    size_t need;
    size_t next_size;
    size_t step;
    void *p = NULL;

    if (!align_up(n == 0 ? 1 : n, &need))
        goto out;
    if (need > SIZE_MAX - a->total)
        goto out;
    if (a->max != 0 && a->total + need > a->max)
        goto out;
    if (head != NULL && head->size - head->used >= need) {
        c = head;
        goto out_take;
    }
    step = head != NULL ? head->step : 0;
    next_size = step == 0 ? ARENA_CHUNK_MIN : step * 2;
    if (next_size > ARENA_CHUNK_MAX)
        next_size = ARENA_CHUNK_MAX;
    if (need > next_size / 2) {
        /* Large: a chunk of its own, behind the head so the head's free space stays in use. */
        c = chunk_new(need, step);
        if (c == NULL)
            goto out;
        if (head != NULL) {
            c->next = head->next;
            head->next = c;
        } else {
            a->head = c;
        }
        goto out_take;
    }
    c = chunk_new(next_size, next_size);
    if (c == NULL)
        goto out;
    c->next = head;
    a->head = c;
out_take:
    p = c->data + c->used;
    c->used += need;
    a->total += need;
out:
    return p;
}

/* Like arena_alloc for count elements of size bytes, zeroed. NULL when count * size overflows, out
 * of memory or past max. Thread: the caller's. */
void *arena_calloc(struct arena *a, size_t count, size_t size)
{
    void *p = NULL;
    size_t n;

    if (size != 0 && count > SIZE_MAX / size)
        goto out;
    n = count * size;
    p = arena_alloc(a, n);
    if (p != NULL)
        memset(p, 0, n == 0 ? 1 : n);
out:
    return p;
}

/* Copies at most n bytes of s, stopping early at a NUL, and NUL-terminates the copy. s is borrowed
 * (may be NULL only when n is 0). The copy belongs to the arena. NULL when out of memory or past
 * max. Thread: the caller's. */
char *arena_strndup(struct arena *a, const char *s, size_t n)
{
    size_t len = 0;
    char *p = NULL;

    if (n > 0) {
        if (s == NULL)
            goto out;
        len = strnlen(s, n);
    }
    if (len == SIZE_MAX)
        goto out;
    p = arena_alloc(a, len + 1);
    if (p == NULL)
        goto out;
    if (len > 0)
        memcpy(p, s, len);
    p[len] = '\0';
out:
    return p;
}
