/*
 * `modelwrap sbom`: the CycloneDX 1.5 inventory on stdout (api_sbom_build, with the models loaded
 * as `serve` loads them), or with --check TRACKER.json the open vulnerabilities of its Debian
 * packages for this release.
 */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "cli/cli_int.h"
#include "config/config.h"
#include "model/model.h"

#define TRACKER_MAX ((size_t)1 << 30) /* bytes of the tracker export we agree to load */

static void print_hit(const struct vuln_hit *h, void *ctx)
{
    FILE *out = ctx;
    fprintf(out, "%s (source %s %s): %s %s", h->component, h->source, h->version, h->cve,
            h->status);
    if (h->fixed != NULL && strcmp(h->status, "resolved") == 0)
        fprintf(out, ", fixed in %s", h->fixed);
    else
        fprintf(out, ", no fix yet");
    fprintf(out, " (urgency %s)\n", h->urgency ? h->urgency : "unknown");
}

static int check(const json_t *doc, const char *tracker_path, const char *release)
{
    json_error_t jerr;
    json_t *tracker;
    const json_t *c;
    size_t i, n_deb = 0;
    long hits;

    if (release == NULL)
        release = sbom_property(json_object_get(doc, "metadata"), "modelwrap:distro_codename");
    if (release == NULL || strcmp(release, "unknown") == 0) {
        fprintf(stderr, "modelwrap sbom: the Debian release is unknown: give --release NAME\n");
        return 2;
    }
    tracker = json_load_file(tracker_path, 0, &jerr);
    if (tracker == NULL) {
        fprintf(stderr, "modelwrap sbom: %s: line %d: %s\n", tracker_path, jerr.line, jerr.text);
        return 2;
    }
    json_array_foreach(json_object_get(doc, "components"), i, c) {
        const char *purl = json_string_value(json_object_get(c, "purl"));
        n_deb += purl != NULL && strncmp(purl, "pkg:deb/", 8) == 0;
    }
    hits = sbom_check(doc, tracker, release, print_hit, stdout);
    json_decref(tracker);
    if (hits < 0) {
        fprintf(stderr, "modelwrap sbom: %s: not a Debian security tracker export (an object of "
                        "source packages)\n",
                tracker_path);
        return 2;
    }
    if (hits == 0)
        printf("no open vulnerability for %s in %zu Debian packages\n", release, n_deb);
    else
        printf("%ld open vulnerabilit%s for %s in %zu Debian packages\n", hits,
               hits == 1 ? "y" : "ies", release, n_deb);
    return hits > 0 ? 1 : 0;
}

int cli_sbom(int argc, char **argv, int first, char **envp)
{
    struct config cfg;
    struct mw_error e = {0};
    struct model_opts defaults;
    struct registry *reg = NULL;
    bool missing = false;
    const char *tracker = cli_take_option(&argc, argv, first, "check", &missing);
    const char *release = cli_take_option(&argc, argv, first, "release", &missing);
    const char *input = cli_take_option(&argc, argv, first, "sbom", &missing);
    json_t *doc = NULL;
    json_error_t jerr;
    int ret = 2;

    if (missing) {
        fprintf(stderr, "modelwrap sbom: --check, --release and --sbom take a value\n");
        return 2;
    }
    if (config_load(&cfg, argc, argv, first, envp, &e) != 0) {
        fprintf(stderr, "modelwrap: %s\n", e.msg);
        return 2;
    }
    log_set_level(LOG_ERROR);
    if (input != NULL) {
        /* An inventory written earlier (the daily job checks what was deployed). */
        doc = json_load_file(input, JSON_REJECT_DUPLICATES, &jerr);
        if (doc == NULL) {
            fprintf(stderr, "modelwrap sbom: %s: %s\n", input, jerr.text);
            goto out;
        }
    } else {
        cli_model_defaults(&cfg, &defaults);
        reg = cli_open_models(&cfg, &defaults, NULL, &e); /* what serve loads, MODEL_DIR too */
        if (reg == NULL) {
            fprintf(stderr, "modelwrap: %s\n", e.msg);
            goto out;
        }
        doc = api_sbom_build(&cfg, reg, &e);
        if (doc == NULL) {
            fprintf(stderr, "modelwrap sbom: %s\n", e.msg);
            goto out;
        }
    }
    if (tracker != NULL) {
        ret = check(doc, tracker, release);
    } else if (json_dumpf(doc, stdout, JSON_INDENT(2)) != 0 || fputc('\n', stdout) == EOF ||
               fflush(stdout) != 0) {
        fprintf(stderr, "modelwrap sbom: cannot write the document\n");
    } else {
        ret = 0;
    }
out:
    json_decref(doc);
    if (reg != NULL)
        registry_release(reg);
    config_fini(&cfg);
    return ret;
}
