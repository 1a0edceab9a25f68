/*
 * The registry snapshot being served: a core snap holding one reference, lock-free acquisition
 * for requests and other threads, and reloads (SIGHUP, the repository API) that publish a new
 * snapshot without waiting for readers.
 */
#include "model/model_int.h"

/* The snap's free function: drops the reference the snap held. */
static void release_void(void *r)
{
    registry_release(r);
}

void registry_current_init(struct registry_current *c, struct registry *r)
{
    snap_init(&c->snap, r, release_void);
    pthread_mutex_init(&c->reload_lock, NULL);
}

void registry_current_fini(struct registry_current *c)
{
    snap_fini(&c->snap);
    pthread_mutex_destroy(&c->reload_lock);
}

/* The hazard slot keeps the snapshot from being released between the load and the retain; the
 * reader's own reference keeps it afterwards. */
struct registry *registry_current_acquire(struct registry_current *c)
{
    struct snap_ref ref;
    struct registry *r = snap_acquire(&c->snap, &ref);

    if (r != NULL)
        registry_retain(r);
    snap_release(&ref);
    return r;
}

struct registry *registry_current_peek(struct registry_current *c)
{
    return snap_current(&c->snap);
}

int registry_current_reload(struct registry_current *c, int op, const char *name, size_t len,
                            struct registry **published, struct mw_error *e)
{
    struct registry *cur, *next;
    uint64_t t0 = time_mono_ns();
    int rc = 0;

    pthread_mutex_lock(&c->reload_lock);
    cur = snap_current(&c->snap); /* stays alive: only reloads retire it, and we hold the lock */
    next = registry_reload(cur, op, name, len, e);
    if (next == NULL) {
        rc = e != NULL && e->code != 0 ? e->code : MWE_INTERNAL;
        goto out_unlock;
    }
    snap_publish(&c->snap, next);
    if (published != NULL)
        *published = next;
    log_kv(LOG_INFO, "model repository reloaded", "op",
           op == REPO_RESCAN ? "rescan" : op == REPO_LOAD ? "load" : "unload", "#models",
           (long long)next->n, "#duration_us", (long long)((time_mono_ns() - t0) / 1000),
           "default", next->default_model ? next->default_model->name : NULL, NULL);
out_unlock:
    pthread_mutex_unlock(&c->reload_lock);
    return rc;
}
