/*
 * libFuzzer target for the access review's record parsers: arbitrary bytes -> arec_parse_line
 * (JSON lines through jansson, CEF through cli/audit_parse.c, either behind a syslog header) and
 * arec_parse_cef directly. Every string slice of a parsed record must lie inside the input or the
 * parser's scratch, and no slice may be longer than the input. Seed corpus:
 * fuzz/corpus/audit_parse/.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_int.h"

static void check_slice(struct slice s, const uint8_t *data, size_t size, const char *scratch)
{
    const char *p = s.ptr;
    if (p == NULL)
        return;
    if (s.len > size)
        abort();
    if (p >= (const char *)data && p + s.len <= (const char *)data + size)
        return;
    if (p >= scratch && p + s.len <= scratch + AREC_LINE_MAX)
        return;
    /* JSON strings live in the parser's jansson document: readable (ASan checks) and bounded. */
    if (memchr(p, '\0', s.len + 1) == NULL)
        abort();
}

static void check(const struct arec *r, const struct arec_parser *ap, const uint8_t *data,
                  size_t size)
{
    const struct slice *all[] = {&r->name,    &r->client, &r->principal_kind, &r->principal_id,
                                 &r->key_id,  &r->client_id, &r->scope,       &r->route,
                                 &r->model,   &r->outcome, &r->message};
    if (r->type != AREC_REQUEST && r->type != AREC_EVENT)
        abort();
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        check_slice(*all[i], data, size, ap->scratch);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct arec_parser ap;
    struct arec r;

    if (ap.scratch == NULL && arec_parser_init(&ap) != 0)
        abort();
    if (arec_parse_line(&ap, (const char *)data, size, &r) == 0)
        check(&r, &ap, data, size);
    if (size >= 4 && memcmp(data, "CEF:", 4) == 0 && size <= AREC_LINE_MAX &&
        arec_parse_cef(&ap, (const char *)data, size, &r) == 0)
        check(&r, &ap, data, size);
    return 0;
}
