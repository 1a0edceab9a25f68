/*
 * URL redaction: the userinfo of a URL (user:password@) is a credential; this is the one place
 * that turns such a URL into the form that may be printed or logged.
 */
#include <stdio.h>
#include <string.h>

#include "core/core.h"

/* See core.h. */
void mw_url_redact(const char *url, char *out, size_t size)
{
    const char *auth = strstr(url, "://");
    const char *at, *end;

    if (size == 0)
        return;
    auth = auth != NULL ? auth + 3 : url;
    end = auth + strcspn(auth, "/?#");
    at = memchr(auth, '@', (size_t)(end - auth));
    /* The last '@' of the authority ends the userinfo (a password may hold '@'). */
    while (at != NULL) {
        const char *next = memchr(at + 1, '@', (size_t)(end - at - 1));
        if (next == NULL)
            break;
        at = next;
    }
    if (at == NULL) {
        snprintf(out, size, "%s", url);
        return;
    }
    snprintf(out, size, "%.*s<redacted>%s", (int)(auth - url), url, at);
}

