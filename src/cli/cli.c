/*
 * Small helpers the library's subcommands share: taking their own options out of argv before the
 * configuration loader (which refuses unknown flags) reads the rest.
 */
#include <string.h>

#include "cli/cli.h"

const char *cli_take_option(int *argc, char **argv, int first, const char *name, bool *missing)
{
    size_t nl = strlen(name);
    const char *value = NULL;
    int i, drop = 0;

    for (i = first; i < *argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) != 0 || strncmp(a + 2, name, nl) != 0)
            continue;
        if (a[2 + nl] == '=') {
            value = a + 3 + nl;
            drop = 1;
        } else if (a[2 + nl] == '\0') {
            if (i + 1 >= *argc) {
                if (missing != NULL)
                    *missing = true;
                drop = 1;
            } else {
                value = argv[i + 1];
                drop = 2;
            }
        } else {
            continue;
        }
        memmove(&argv[i], &argv[i + drop], (size_t)(*argc - i - drop) * sizeof(*argv));
        *argc -= drop;
        argv[*argc] = NULL;
        break;
    }
    return value;
}
