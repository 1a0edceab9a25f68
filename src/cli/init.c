/*
 * `modelwrap init KIND NAME`: writes a ready model folder (model.json, the model code, a
 * reference.json of example requests and their predictions) from the scaffolds embedded in the
 * binary, so that a model author starts from a file that already serves.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"

#define INIT_PATH_MAX 4096
#define INIT_MAX_WRITTEN 64

enum kind { KIND_PYTHON, KIND_SKLEARN, KIND_PLUGIN };

static const struct {
    enum kind id;
    const char *kind;
    const char *what;
} kinds[] = {
    {KIND_PYTHON, "python",
     "a template-style Python model (src/model.py: class Model, pydantic Record)"},
    {KIND_SKLEARN, "sklearn",
     "a scikit-learn estimator (train.py writes model.joblib and reference.json)"},
    {KIND_PLUGIN, "plugin", "a C model plug-in (model.c against include/modelwrap/model.h)"},
};

/* What was created, newest last, so that a failure can remove it again. */
struct written {
    char paths[INIT_MAX_WRITTEN][INIT_PATH_MAX];
    bool is_dir[INIT_MAX_WRITTEN];
    size_t n;
};

static void usage(FILE *out)
{
    fprintf(out, "usage: modelwrap init KIND NAME [--dir PARENT]\n\n"
                 "Writes the model folder PARENT/NAME (PARENT: the current directory), ready to "
                 "serve. KIND:\n");
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
        fprintf(out, "  %-8s %s\n", kinds[i].kind, kinds[i].what);
    fprintf(out, "NAME: 1-64 of A-Z a-z 0-9 _ . - (not starting with . or -), also the model's "
                 "name.\n");
}

/* The model names the repository accepts ([A-Za-z0-9_.-]{1,64}) that are also plain folder
 * names: no leading '.' (hidden, or a path segment) or '-' (read as an option by the commands
 * the next steps print). */
static bool name_ok(const char *name)
{
    size_t len = strlen(name);
    if (len < 1 || len > 64 || name[0] == '.' || name[0] == '-')
        return false;
    for (size_t i = 0; i < len; i++) {
        char ch = name[i];
        if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
              ch == '_' || ch == '.' || ch == '-'))
            return false;
    }
    return true;
}

static int remember(struct written *w, const char *path, bool is_dir)
{
    if (w->n >= INIT_MAX_WRITTEN)
        return -1;
    snprintf(w->paths[w->n], INIT_PATH_MAX, "%s", path);
    w->is_dir[w->n] = is_dir;
    w->n++;
    return 0;
}

static void undo(const struct written *w)
{
    for (size_t i = w->n; i-- > 0;) {
        if (w->is_dir[i])
            rmdir(w->paths[i]);
        else
            unlink(w->paths[i]);
    }
}

/* Creates every missing parent folder of root/rel (rel's last segment is the file). */
static int make_parents(struct written *w, const char *root, const char *rel)
{
    char path[INIT_PATH_MAX];
    for (const char *s = strchr(rel, '/'); s != NULL; s = strchr(s + 1, '/')) {
        int n = snprintf(path, sizeof(path), "%s/%.*s", root, (int)(s - rel), rel);
        if (n < 0 || (size_t)n >= sizeof(path))
            return -ENAMETOOLONG;
        if (mkdir(path, 0755) == 0) {
            if (remember(w, path, true) != 0)
                return -ENOMEM;
        } else if (errno != EEXIST) {
            return -errno;
        }
    }
    return 0;
}

static int write_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t k = write(fd, p, len);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += k;
        len -= (size_t)k;
    }
    return 0;
}

/* Writes f's bytes with every "@NAME@" replaced by name to a new file (never an existing one,
 * never through a symbolic link). */
static int write_file(const struct scaffold_file *f, const char *path, const char *name)
{
    static const char mark[] = "@NAME@";
    const size_t mlen = sizeof(mark) - 1;
    const char *p = (const char *)f->data, *end = p + f->len;
    mode_t mode = strcmp(f->path, "train.py") == 0 ? 0755 : 0644; /* a script to run */
    int rc = 0;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);

    if (fd < 0)
        return -errno;
    while (rc == 0 && p < end) {
        const char *hit = memmem(p, (size_t)(end - p), mark, mlen);
        const char *stop = hit != NULL ? hit : end;
        rc = write_all(fd, p, (size_t)(stop - p));
        if (rc == 0 && hit != NULL)
            rc = write_all(fd, name, strlen(name));
        p = hit != NULL ? hit + mlen : end;
    }
    if (close(fd) != 0 && rc == 0)
        rc = -errno;
    return rc;
}

/* The kind's first step, its format filled with the folder (a literal per kind, so that the
 * compiler checks every format). */
static void print_step(enum kind id, const char *root)
{
    switch (id) {
    case KIND_PYTHON:
        printf("edit %s/src/model.py: init() loads, run() predicts; keep Record in step", root);
        break;
    case KIND_SKLEARN:
        printf("/usr/bin/python3 %s/train.py   # writes model.joblib and reference.json", root);
        break;
    case KIND_PLUGIN:
        printf("cc -std=c11 -O2 -Wall -shared -fPIC -I%s/include -o %s/model.so %s/model.c", root,
               root, root);
        break;
    }
}

int cli_init(int argc, char **argv, int first)
{
    const char *kind = NULL, *name = NULL, *parent = ".";
    char root[INIT_PATH_MAX], path[INIT_PATH_MAX];
    struct written *w = NULL;
    size_t k, n_files = 0;
    int rc, n;
    int ret = 2;

    for (int i = first; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc) {
            parent = argv[++i];
        } else if (strncmp(argv[i], "--dir=", 6) == 0) {
            parent = argv[i] + 6;
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            fprintf(stderr, "modelwrap init: unknown option '%s'\n\n", argv[i]);
            usage(stderr);
            return 2;
        } else if (kind == NULL) {
            kind = argv[i];
        } else if (name == NULL) {
            name = argv[i];
        } else {
            fprintf(stderr, "modelwrap init: unexpected argument '%s'\n\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (kind == NULL || name == NULL) {
        usage(stderr);
        return 2;
    }
    for (k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++)
        if (strcmp(kinds[k].kind, kind) == 0)
            break;
    if (k == sizeof(kinds) / sizeof(kinds[0])) {
        fprintf(stderr, "modelwrap init: unknown kind '%.64s' (python, sklearn or plugin)\n", kind);
        return 2;
    }
    if (!name_ok(name)) {
        fprintf(stderr,
                "modelwrap init: '%.64s' is not a safe model name: 1-64 of A-Z a-z 0-9 _ . -, "
                "not starting with . or -\n",
                name);
        return 2;
    }
    n = snprintf(root, sizeof(root), "%s/%s", parent, name);
    if (n < 0 || (size_t)n >= sizeof(root) - 256) {
        fprintf(stderr, "modelwrap init: the folder path is too long\n");
        return 2;
    }
    w = calloc(1, sizeof(*w));
    if (w == NULL) {
        fprintf(stderr, "modelwrap init: out of memory\n");
        return 2;
    }
    /* mkdir refuses an existing folder (and anything else at that path): never overwrite. */
    if (mkdir(root, 0755) != 0) {
        if (errno == EEXIST)
            fprintf(stderr, "modelwrap init: %s already exists; nothing was written\n", root);
        else
            fprintf(stderr, "modelwrap init: cannot create %s: %s\n", root, strerror(errno));
        goto out;
    }
    if (remember(w, root, true) != 0)
        goto out_undo;
    for (size_t i = 0; i < scaffold_n_files; i++) {
        const struct scaffold_file *f = &scaffold_files[i];
        if (strcmp(f->kind, kind) != 0)
            continue;
        rc = make_parents(w, root, f->path);
        if (rc == 0) {
            n = snprintf(path, sizeof(path), "%s/%s", root, f->path);
            rc = n < 0 || (size_t)n >= sizeof(path) ? -ENAMETOOLONG : 0;
        }
        if (rc == 0)
            rc = remember(w, path, false) != 0 ? -ENOMEM : write_file(f, path, name);
        if (rc != 0) {
            fprintf(stderr, "modelwrap init: cannot write %s/%s: %s\n", root, f->path,
                    strerror(-rc));
            goto out_undo;
        }
        n_files++;
    }
    printf("wrote %s: %s, %zu files\nnext:\n  ", root, kinds[k].what, n_files);
    print_step(kinds[k].id, root);
    printf("\n  modelwrap serve --models %s\n  POST {\"data\": [...]} to /api/v1/models/%s/predict "
           "(%s/reference.json has examples)\n",
           parent, name, root);
    ret = 0;
    goto out;

out_undo:
    undo(w);
out:
    free(w);
    return ret;
}
