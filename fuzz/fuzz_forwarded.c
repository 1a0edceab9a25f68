/*
 * libFuzzer target for the trusted-proxy code: the forwarding headers (Forwarded, X-Forwarded-For,
 * X-Forwarded-Proto), the CIDR list parser and the IP address parser. Input: lines whose first
 * byte says what the rest is: 'F' Forwarded, 'X' X-Forwarded-For, 'P' X-Forwarded-Proto, 'T' the
 * trusted list (default 10.0.0.0/8, fd00::/8). Each value is an exact-size heap copy, so a read
 * past its end is an ASan report. Seed corpus: fuzz/corpus/forwarded/.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_int.h"

#define MAX_VALUES (3 * PROXY_MAX_LINES + 8)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct proxy_headers h;
    struct proxy_list pl;
    struct mw_error e;
    struct ipaddr peer;
    struct ipaddr client;
    char *values[MAX_VALUES];
    size_t n_values = 0;
    char *trusted = NULL;
    char text[IPADDR_TEXT_MAX];
    int proto = -1;
    size_t pos = 0;

    memset(&h, 0, sizeof(h));
    while (pos < size && n_values < MAX_VALUES) {
        const uint8_t *nl = memchr(data + pos, '\n', size - pos);
        size_t end = nl ? (size_t)(nl - data) : size;
        size_t len = end > pos ? end - pos - 1 : 0;
        if (end > pos) {
            char kind = (char)data[pos];
            char *v = malloc(len ? len : 1);
            if (!v)
                break;
            memcpy(v, data + pos + 1, len);
            values[n_values++] = v;
            if (kind == 'F')
                proxy_headers_add(&h, "Forwarded", 9, v, len);
            else if (kind == 'X')
                proxy_headers_add(&h, "X-Forwarded-For", 15, v, len);
            else if (kind == 'P')
                proxy_headers_add(&h, "X-Forwarded-Proto", 17, v, len);
            else if (kind == 'T' && !trusted && (trusted = malloc(len + 1)) != NULL) {
                memcpy(trusted, v, len);
                trusted[len] = '\0';
            }
            /* the address parser on every value */
            if (ipaddr_parse(v, len, &client)) {
                ipaddr_format(&client, text, sizeof(text));
                if (text[0] == '\0' || (client.family != 4 && client.family != 6))
                    abort();
            }
        }
        pos = end + 1;
    }
    memset(&e, 0, sizeof(e));
    if (proxy_list_parse(trusted ? trusted : "10.0.0.0/8, fd00::/8", &pl, &e) != 0) {
        if (e.code != MWE_CONFIG && e.code != MWE_NOMEM)
            abort();
        if (pl.n != 0 || pl.v != NULL)
            abort();
        proxy_list_parse("10.0.0.0/8", &pl, &e);
    }
    if (!ipaddr_parse("10.0.0.1", 8, &peer))
        abort();
    for (int mode = PROXY_HEADER_XFF; mode <= PROXY_HEADER_FORWARDED; mode++) {
        proxy_resolve(&pl, &peer, &h, mode, &client, &proto);
        if ((client.family != 4 && client.family != 6) || proto < PROXY_PROTO_UNKNOWN ||
            proto > PROXY_PROTO_HTTPS)
            abort();
    }
    ipaddr_format(&client, text, sizeof(text));
    if (text[0] == '\0')
        abort();
    proxy_list_fini(&pl);
    free(trusted);
    for (size_t i = 0; i < n_values; i++)
        free(values[i]);
    return 0;
}
