/*
 * libFuzzer target for the API key file parser: arbitrary bytes -> auth_keyset_parse. When a set
 * is built, every key must be found again by its own hash and carry a valid id and scopes; when
 * not, the error must be a configuration error with a message. Seeds: fuzz/corpus/keyfile/.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mw_error e;
    struct auth_keyset *ks;
    char *copy;

    /* An exact-size heap copy without a NUL: reading past it is an ASan report. */
    copy = malloc(size > 0 ? size : 1);
    if (!copy)
        return 0;
    if (size > 0)
        memcpy(copy, data, size);
    memset(&e, 0, sizeof(e));
    ks = auth_keyset_parse(copy, size, &e);
    if (!ks) {
        if ((e.code != MWE_CONFIG && e.code != MWE_NOMEM) || e.msg[0] == '\0' ||
            memchr(e.msg, '\0', sizeof(e.msg)) == NULL)
            abort();
    } else {
        for (size_t i = 0; i < auth_keyset_count(ks); i++) {
            const struct auth_key *k = auth_keyset_at(ks, i);
            if (auth_keyset_find(ks, k->hash) != k || k->id[0] == '\0' ||
                strlen(k->id) >= sizeof(k->id) || (k->scopes & ~SCOPE_ALL) || k->scopes == 0)
                abort();
        }
        auth_keyset_free(ks);
    }
    free(copy);
    return 0;
}
