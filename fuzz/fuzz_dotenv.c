/*
 * libFuzzer target for the .env parser: arbitrary bytes -> dotenv_parse. The callback checks that
 * every key matches [A-Za-z_][A-Za-z0-9_]* and that key and value are NUL-terminated copies no longer
 * than the input; errors must name a line. Seed corpus: fuzz/corpus/dotenv/.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"

struct check {
    size_t size;  /* input bytes */
    size_t pairs; /* assignments seen */
};

static int check_pair(const char *key, const char *value, void *vctx)
{
    struct check *c = vctx;
    size_t klen = strlen(key); /* ASan flags a copy that is not NUL-terminated */
    size_t vlen = strlen(value);
    size_t i;

    if (klen == 0 || klen + vlen > c->size)
        abort();
    if (!((key[0] >= 'A' && key[0] <= 'Z') || (key[0] >= 'a' && key[0] <= 'z') || key[0] == '_'))
        abort();
    for (i = 1; i < klen; i++) {
        char k = key[i];
        if (!((k >= 'A' && k <= 'Z') || (k >= 'a' && k <= 'z') || (k >= '0' && k <= '9') ||
              k == '_'))
            abort();
    }
    c->pairs++;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct check c = {size, 0};
    struct mw_error e;
    char *copy;
    int rc;

    /* An exact-size heap copy: reading one byte past size is an ASan report. */
    copy = malloc(size > 0 ? size : 1);
    if (copy == NULL)
        return 0;
    if (size > 0)
        memcpy(copy, data, size);
    memset(&e, 0, sizeof(e));
    rc = dotenv_parse(copy, size, check_pair, &c, &e);
    if (rc != 0) {
        if (rc != MWE_CONFIG || e.code != MWE_CONFIG || strncmp(e.msg, "line ", 5) != 0 ||
            memchr(e.msg, '\0', sizeof(e.msg)) == NULL)
            abort();
    }
    free(copy);
    return 0;
}
