/*
 * file: reading a whole small file (settings, keys, certificates, model descriptions, docs) into
 * memory with a size cap, so a file that is larger than expected, or grows while it is read, can
 * never make the server allocate more than the cap.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/core.h"

/* See core.h. */
int mw_file_read(const char *path, size_t max, unsigned flags, char **out, size_t *len)
{
    struct stat st;
    char *data = NULL;
    char *grown;
    size_t used = 0;
    size_t cap;
    size_t limit;
    int oflags = O_RDONLY | O_CLOEXEC;
    int fd;
    int err = 0;

    *out = NULL;
    *len = 0;
    if (max > SIZE_MAX / 2)
        return EINVAL;
    /* Refused anyway when not regular, so a FIFO must not block the open. */
    if (flags & MW_FILE_REGULAR)
        oflags |= O_NONBLOCK;
    fd = open(path, oflags);
    if (fd < 0)
        return errno;
    if (fstat(fd, &st) != 0) {
        err = errno;
        goto out_fd;
    }
    if ((flags & MW_FILE_REGULAR) && !S_ISREG(st.st_mode)) {
        err = EINVAL;
        goto out_fd;
    }
    if ((flags & MW_FILE_NOT_WORLD_WRITABLE) && (st.st_mode & S_IWOTH)) {
        err = EPERM;
        goto out_fd;
    }
    if (S_ISREG(st.st_mode) && st.st_size > 0 && (uint64_t)st.st_size > max) {
        err = EFBIG;
        goto out_fd;
    }
    /* One byte past max tells a file that grew past the cap from one that ends at it. */
    limit = max + 1;
    cap = S_ISREG(st.st_mode) && st.st_size > 0 ? (size_t)st.st_size + 1 : 4096;
    if (cap > limit)
        cap = limit;
    data = malloc(cap + 1);
    if (data == NULL) {
        err = ENOMEM;
        goto out_fd;
    }
    for (;;) {
        ssize_t got;

        if (used == cap) {
            if (cap == limit) {
                err = EFBIG;
                goto out_fd;
            }
            cap = cap > limit / 2 ? limit : cap * 2;
            grown = realloc(data, cap + 1);
            if (grown == NULL) {
                err = ENOMEM;
                goto out_fd;
            }
            data = grown;
        }
        got = read(fd, data + used, cap - used);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            err = errno;
            goto out_fd;
        }
        if (got == 0)
            break;
        used += (size_t)got;
    }
    data[used] = '\0';
    *out = data;
    *len = used;
    data = NULL;
out_fd:
    close(fd);
    free(data);
    return err;
}
