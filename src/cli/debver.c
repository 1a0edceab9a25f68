/*
 * Debian version comparison (deb-version(7), the algorithm of dpkg's verrevcmp): [epoch:]upstream
 * [-revision], compared part by part, alternating non-digit runs (letters sort before non-letters,
 * '~' before everything, even the end) and digit runs (numerically).
 */
#include <ctype.h>
#include <string.h>

#include "cli/cli_int.h"

static int order(int c)
{
    if (isdigit(c))
        return 0;
    if (isalpha(c))
        return c;
    if (c == '~')
        return -1;
    if (c != 0)
        return c + 256;
    return 0;
}

/* dpkg's verrevcmp on [a, a_end) and [b, b_end). */
static int verrevcmp(const char *a, const char *a_end, const char *b, const char *b_end)
{
    while (a < a_end || b < b_end) {
        int first_diff = 0;
        while ((a < a_end && !isdigit((unsigned char)*a)) ||
               (b < b_end && !isdigit((unsigned char)*b))) {
            int ac = a < a_end ? order((unsigned char)*a) : 0;
            int bc = b < b_end ? order((unsigned char)*b) : 0;
            if (ac != bc)
                return ac - bc;
            a++;
            b++;
        }
        while (a < a_end && *a == '0')
            a++;
        while (b < b_end && *b == '0')
            b++;
        while (a < a_end && isdigit((unsigned char)*a) && b < b_end &&
               isdigit((unsigned char)*b)) {
            if (!first_diff)
                first_diff = *a - *b;
            a++;
            b++;
        }
        if (a < a_end && isdigit((unsigned char)*a))
            return 1;
        if (b < b_end && isdigit((unsigned char)*b))
            return -1;
        if (first_diff)
            return first_diff;
    }
    return 0;
}

struct parts {
    unsigned long epoch;
    const char *up, *up_end, *rev, *rev_end;
};

static bool split(const char *v, struct parts *p)
{
    const char *colon = strchr(v, ':');
    const char *end = v + strlen(v);
    const char *dash;

    p->epoch = 0;
    if (colon != NULL) {
        if (colon == v)
            return false;
        for (const char *q = v; q < colon; q++) {
            if (!isdigit((unsigned char)*q) || p->epoch > 100000000ul)
                return false;
            p->epoch = p->epoch * 10 + (unsigned long)(*q - '0');
        }
        v = colon + 1;
    }
    dash = strrchr(v, '-');
    p->up = v;
    p->up_end = dash != NULL ? dash : end;
    p->rev = dash != NULL ? dash + 1 : end;
    p->rev_end = end;
    if (p->up == p->up_end || !isdigit((unsigned char)*p->up))
        return false;
    for (const char *q = v; q < end; q++)
        if (!isalnum((unsigned char)*q) && strchr(".+-~:", *q) == NULL)
            return false;
    return true;
}

bool debver_valid(const char *v)
{
    struct parts p;
    return v != NULL && split(v, &p);
}

int debver_cmp(const char *a, const char *b)
{
    struct parts pa, pb;
    int r;

    if (!split(a, &pa) || !split(b, &pb))
        return strcmp(a, b) < 0 ? -1 : strcmp(a, b) > 0;
    if (pa.epoch != pb.epoch)
        return pa.epoch < pb.epoch ? -1 : 1;
    r = verrevcmp(pa.up, pa.up_end, pb.up, pb.up_end);
    if (r == 0)
        r = verrevcmp(pa.rev, pa.rev_end, pb.rev, pb.rev_end);
    return r < 0 ? -1 : r > 0;
}
