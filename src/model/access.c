/*
 * The accessors model.h offers the api and the cli, so that nothing outside src/model/ reads the
 * layout of a model, a call or a registry snapshot (model_impl.h). Each is a plain read.
 */
#include <string.h>

#include "model/model_impl.h"

/* ---- models ---- */

const char *model_get_name(const struct model *m)
{
    return m->name;
}

const char *model_get_version(const struct model *m)
{
    return m->version;
}

const char *model_get_platform(const struct model *m)
{
    return m->platform;
}

const char *model_get_description(const struct model *m)
{
    return m->description;
}

const char *model_get_dir(const struct model *m)
{
    return m->dir;
}

const char *model_get_backend(const struct model *m)
{
    return m->ops != NULL && m->ops->name != NULL ? m->ops->name : "unknown";
}

const struct model_sig *model_get_signature(const struct model *m)
{
    return &m->sig;
}

unsigned model_get_max_records(const struct model *m)
{
    return m->opts.max_records;
}

uint64_t model_get_fingerprint(const struct model *m)
{
    return m->fingerprint;
}

bool model_is_ready(const struct model *m)
{
    return atomic_load(&m->ready);
}

bool model_is_python(const struct model *m)
{
    return backend_is_python(m->ops);
}

bool model_answers_json(const struct model *m)
{
    return m->json_answers;
}

bool model_has_workers(const struct model *m)
{
    return m->sched != NULL;
}

size_t model_queue_pending(const struct model *m)
{
    return m->sched != NULL ? sched_pending(m->sched) : 0;
}

/* ---- calls ---- */

struct model *model_call_model(const struct model_call *c)
{
    return c->model;
}

int model_call_status(const struct model_call *c)
{
    return c->status;
}

const char *model_call_errmsg(const struct model_call *c)
{
    return c->errmsg;
}

void model_call_fail(struct model_call *c, int status)
{
    c->status = status;
}

const char *model_call_answer(const struct model_call *c, size_t *len)
{
    if (len != NULL)
        *len = c->answer != NULL ? c->answer_len : 0;
    return c->answer;
}

const struct mw_tensor *model_call_output_at(const struct model_call *c, size_t i)
{
    return c->outputs != NULL && i < c->n_outputs ? &c->outputs[i] : NULL;
}

bool model_call_rows(const struct model_call *c, uint64_t *rows)
{
    if (c->n_inputs == 0 || c->inputs == NULL || c->inputs[0].ndim < 1 || c->inputs[0].shape[0] < 0)
        return false;
    *rows = (uint64_t)c->inputs[0].shape[0];
    return true;
}

int model_call_set_body(struct model_call *c, const char *body, size_t len)
{
    char *copy = arena_alloc(&c->arena, len + 1);

    if (copy == NULL)
        return MWE_NOMEM;
    if (len > 0)
        memcpy(copy, body, len);
    copy[len] = '\0';
    c->body = copy;
    c->body_len = len;
    return 0;
}

int model_call_set_request_id(struct model_call *c, const char *id)
{
    c->request_id = arena_strndup(&c->arena, id, strlen(id));
    return c->request_id != NULL ? 0 : MWE_NOMEM;
}

void model_call_get_times(const struct model_call *c, struct model_call_times *out)
{
    out->queued_ns = c->t_queued_ns;
    out->started_ns = c->t_started_ns;
    out->done_ns = c->t_done_ns;
    out->batched = c->batched;
    out->batch_rows = c->batch_rows;
}

/* ---- registry snapshots ---- */

size_t registry_count(const struct registry *r)
{
    return r != NULL ? r->n : 0;
}

struct model *registry_model_at(const struct registry *r, size_t i)
{
    return r->models[i];
}

struct model *registry_default(const struct registry *r)
{
    return r != NULL ? r->default_model : NULL;
}

/* Every snapshot repo.c builds lists at least one version per model (version 0 is model i); one
 * without lists serves model i alone. */
size_t registry_n_versions(const struct registry *r, size_t i)
{
    return r->versions != NULL && r->versions[i].n > 0 ? r->versions[i].n : 1;
}

struct model *registry_version_at(const struct registry *r, size_t i, size_t k)
{
    return r->versions != NULL && r->versions[i].n > 0 ? r->versions[i].v[k] : r->models[i];
}

const char *registry_get_dir(const struct registry *r)
{
    return r->dir;
}

size_t registry_versions_count(const struct registry_versions *vs)
{
    return vs != NULL ? vs->n : 0;
}

struct model *registry_versions_at(const struct registry_versions *vs, size_t k)
{
    return vs->v[k];
}
