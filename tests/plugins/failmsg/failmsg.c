/*
 * failmsg: a test plug-in whose init always fails, with a message that reports what the config
 * accessors returned for the members "s", "n", "b", "j" and "missing", and for "s" read with the
 * wrong type. The host must show that message in the start-up error.
 */
#include <stdio.h>

#include "modelwrap/model.h"

static const char *status_name(int rc)
{
    return rc == MW_OK ? "ok" : rc == MW_ERR_ABSENT ? "absent" : rc == MW_ERR_TYPE ? "type" : "?";
}

__attribute__((visibility("default"))) int mw_plugin_init(const struct mw_host *host,
                                                          struct mw_plugin *p)
{
    const char *s = "", *j = "";
    double n = 0;
    bool b = false;
    int rs, rn, rb, rj, rm, rt;

    MW_PLUGIN_CHECK_IN(host, p);
    rs = host->config_string(p, "s", &s);
    rn = host->config_number(p, "n", &n);
    rb = host->config_bool(p, "b", &b);
    rj = host->config_json(p, "j", &j);
    rm = host->config_string(p, "missing", &s);
    rt = host->config_number(p, "s", &n);
    host->log(NULL, MW_LOG_WARN, "failmsg: about to fail in %s", host->model_dir(p));
    return host->fail(p, "s=%s(%s) n=%g(%s) b=%d(%s) j=%s(%s) missing(%s) s-as-number(%s)", s,
                      status_name(rs), n, status_name(rn), (int)b, status_name(rb), j,
                      status_name(rj), status_name(rm), status_name(rt));
}
