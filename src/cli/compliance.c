/*
 * `modelwrap compliance`: loads the configuration and the models as `serve` would, then prints
 * the checklist evaluation (api_compliance_report) as text or JSON.
 */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "audit/audit.h"
#include "cli/cli.h"
#include "config/config.h"
#include "model/model.h"

static void print_text(const json_t *doc, FILE *out)
{
    const json_t *items = json_object_get(doc, "items");
    const json_t *it;
    size_t i;

    fprintf(out, "modelwrap compliance: %s\n\n", json_string_value(json_object_get(doc, "checklist")));
    json_array_foreach(items, i, it) {
        const char *st = json_string_value(json_object_get(it, "status"));
        const json_t *settings = json_object_get(it, "settings");
        const char *label = strcmp(st, "met") == 0       ? "met    "
                            : strcmp(st, "not_met") == 0 ? "NOT MET"
                                                         : "n/a    ";
        const json_t *sv;
        size_t j;

        fprintf(out, "[%s] %s (%s)\n          %s\n          settings:", label,
                json_string_value(json_object_get(it, "title")),
                json_string_value(json_object_get(it, "id")),
                json_string_value(json_object_get(it, "detail")));
        json_array_foreach(settings, j, sv) fprintf(out, " %s", json_string_value(sv));
        fputc('\n', out);
    }
    fprintf(out, "\nresult: %lld met, %lld not met, %lld not applicable\n",
            (long long)json_integer_value(json_object_get(json_object_get(doc, "summary"), "met")),
            (long long)json_integer_value(
                json_object_get(json_object_get(doc, "summary"), "not_met")),
            (long long)json_integer_value(
                json_object_get(json_object_get(doc, "summary"), "not_applicable")));
}

int cli_compliance(int argc, char **argv, int first, char **envp)
{
    struct config cfg;
    struct mw_error e = {0};
    struct model_opts defaults;
    struct registry *reg = NULL;
    bool missing = false;
    const char *format = cli_take_option(&argc, argv, first, "format", &missing);
    size_t unmet = 0;
    json_t *doc = NULL;
    int ret = 2;

    if (missing || (format != NULL && strcmp(format, "text") != 0 && strcmp(format, "json") != 0)) {
        fprintf(stderr, "modelwrap compliance: --format takes text or json\n");
        return 2;
    }
    if (config_load(&cfg, argc, argv, first, envp, &e) != 0) {
        fprintf(stderr, "modelwrap: %s\n", e.msg);
        return 2;
    }
    log_set_level(LOG_ERROR);
    if (auth_config_check(&cfg, &e) != 0 || api_sla_check(&cfg, &e) != 0 ||
        audit_config_check(&cfg, &e) != 0 || api_lifecycle_check(&cfg, &e) != 0) {
        fprintf(stderr, "modelwrap: %s\n", e.msg);
        goto out;
    }
    cli_model_defaults(&cfg, &defaults);
    reg = cli_open_models(&cfg, &defaults, NULL, &e); /* what serve loads, MODEL_DIR too */
    if (reg == NULL) {
        fprintf(stderr, "modelwrap: %s\n", e.msg);
        goto out;
    }
    doc = api_compliance_report(&cfg, reg, &unmet);
    if (doc == NULL) {
        fprintf(stderr, "modelwrap: out of memory\n");
        goto out;
    }
    if (format != NULL && strcmp(format, "json") == 0) {
        json_dumpf(doc, stdout, JSON_INDENT(2));
        fputc('\n', stdout);
    } else {
        print_text(doc, stdout);
    }
    ret = fflush(stdout) == 0 ? (unmet > 0 ? 1 : 0) : 2;
out:
    json_decref(doc);
    if (reg != NULL)
        registry_release(reg);
    config_fini(&cfg);
    return ret;
}
