/*
 * The dependency inventory's pieces that the integration tests cannot reach before the Python
 * backend exists: a Python model's interpreter inventory (a venv, a hanging or lying
 * interpreter), the npm lock file reader and the file hash.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "api/sbom_int.h"

static char g_dir[64];

static int setup(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof(g_dir), "/tmp/mw-sbom-XXXXXX");
    return mkdtemp(g_dir) != NULL ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[128];
    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void write_file(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    chmod(path, mode);
}

static const json_t *find_dist(const json_t *py, const char *name)
{
    const json_t *c;
    size_t i;
    json_array_foreach(json_object_get(py, "components"), i, c) {
        if (strcmp(json_string_value(json_object_get(c, "name")), name) == 0)
            return c;
    }
    return NULL;
}

static void test_system_interpreter(void **state)
{
    struct mw_error e = {0};
    json_t *py = sbom_python_inventory("/usr/bin/python3", "model:m@1", 30000, &e);
    const json_t *np;
    (void)state;

    assert_non_null(py);
    assert_string_equal(json_string_value(json_object_get(py, "type")), "platform");
    assert_string_equal(json_string_value(json_object_get(py, "name")), "python");
    assert_memory_equal(json_string_value(json_object_get(py, "version")), "3.", 2);
    assert_string_equal(json_string_value(json_object_get(py, "bom-ref")), "model:m@1/python");
    /* Debian's python3-numpy is a test dependency: the interpreter sees it. */
    np = find_dist(py, "numpy");
    assert_non_null(np);
    assert_memory_equal(json_string_value(json_object_get(np, "purl")), "pkg:pypi/numpy@", 15);
    json_decref(py);
}

static void test_venv_sees_its_own_distributions(void **state)
{
    char venv[128], cmd[300], info[300], interp[160];
    struct mw_error e = {0};
    const json_t *d;
    json_t *py;
    (void)state;

    snprintf(venv, sizeof(venv), "%s/venv", g_dir);
    snprintf(cmd, sizeof(cmd), "/usr/bin/python3 -m venv --without-pip '%s'", venv);
    assert_int_equal(system(cmd), 0);
    snprintf(cmd, sizeof(cmd),
             "/usr/bin/python3 -c 'import sys; print(\"python%%d.%%d\" %% sys.version_info[:2])'");
    FILE *p = popen(cmd, "r");
    char ver[32] = "";
    assert_non_null(p);
    assert_non_null(fgets(ver, sizeof(ver), p));
    pclose(p);
    ver[strcspn(ver, "\n")] = '\0';
    snprintf(info, sizeof(info), "%s/lib/%s/site-packages/Fake_Dist-1.2.3.dist-info", venv, ver);
    assert_int_equal(mkdir(info, 0755), 0);
    strncat(info, "/METADATA", sizeof(info) - strlen(info) - 1);
    write_file(info, "Metadata-Version: 2.1\nName: Fake_Dist\nVersion: 1.2.3\n", 0644);
    snprintf(interp, sizeof(interp), "%s/bin/python3", venv);

    py = sbom_python_inventory(interp, "model:v@2", 30000, &e);
    assert_non_null(py);
    d = find_dist(py, "Fake_Dist");
    assert_non_null(d);
    assert_string_equal(json_string_value(json_object_get(d, "version")), "1.2.3");
    assert_string_equal(json_string_value(json_object_get(d, "purl")), "pkg:pypi/fake-dist@1.2.3");
    /* A venv without system site packages does not see Debian's numpy. */
    assert_null(find_dist(py, "numpy"));
    json_decref(py);
}

static void test_hanging_interpreter_is_killed(void **state)
{
    char path[128];
    struct mw_error e = {0};
    json_t *py;
    (void)state;

    snprintf(path, sizeof(path), "%s/hang", g_dir);
    write_file(path, "#!/bin/sh\nexec sleep 30\n", 0755);
    py = sbom_python_inventory(path, "model:h@1", 300, &e);
    assert_null(py);
    assert_int_equal(e.code, MWE_DEADLINE);
}

static void test_lying_interpreter_is_refused(void **state)
{
    static const char *const answers[] = {
        "#!/bin/sh\necho not json\n",
        "#!/bin/sh\necho '{\"version\": 3, \"distributions\": []}'\n",
        "#!/bin/sh\necho '{\"version\": \"3.11.2\"}'\n",
        "#!/bin/sh\nexit 3\n",
    };
    char path[128];
    (void)state;

    snprintf(path, sizeof(path), "%s/liar", g_dir);
    for (size_t i = 0; i < sizeof(answers) / sizeof(answers[0]); i++) {
        struct mw_error e = {0};
        write_file(path, answers[i], 0755);
        assert_null(sbom_python_inventory(path, "model:l@1", 10000, &e));
        assert_int_equal(e.code, MWE_IO);
    }
    /* Bad entries are skipped, good ones kept. */
    {
        struct mw_error e = {0};
        json_t *py;
        write_file(path,
                   "#!/bin/sh\necho '{\"version\": \"3.11.2\", \"distributions\": [[\"ok\", "
                   "\"1.0\"], [\"bad\\\\u0001\", \"1\"], [\"\", \"2\"], 7, [\"x\"]]}'\n",
                   0755);
        py = sbom_python_inventory(path, "model:l@1", 10000, &e);
        assert_non_null(py);
        assert_int_equal(json_array_size(json_object_get(py, "components")), 1);
        assert_non_null(find_dist(py, "ok"));
        json_decref(py);
    }
    {
        struct mw_error e = {0};
        assert_null(sbom_python_inventory("/nonexistent/python3", "m", 1000, &e));
        assert_int_equal(e.code, MWE_CONFIG);
    }
}

static void test_npm_lock(void **state)
{
    char path[128];
    struct sbom_ctx cx = {json_array()};
    json_t *comps = json_array();
    const json_t *c;
    (void)state;

    snprintf(path, sizeof(path), "%s/package-lock.json", g_dir);
    write_file(path,
               "{\"lockfileVersion\": 3, \"packages\": {\"\": {\"name\": \"root\"},"
               "\"node_modules/a\": {\"version\": \"1.0.0\", \"license\": \"MIT\", \"integrity\":"
               " \"sha512-z4PhNX7vuL3xVChQ1m2AB9Yg5AULVxXcg/SpIdNs6c5H0NE8XYXysP+DGNKHfuwvY7kxvUdBeoGlODJ6+SfaPg==\"},"
               "\"node_modules/@s/b\": {\"version\": \"2.0.0\"},"
               "\"node_modules/a/node_modules/@s/c\": {\"version\": \"3.0.0+x\"},"
               "\"node_modules/devonly\": {\"version\": \"9\", \"dev\": true}}}",
               0644);
    assert_int_equal(sbom_add_npm(comps, path, &cx), 0);
    assert_int_equal(json_array_size(comps), 3);
    c = json_array_get(comps, 0);
    assert_string_equal(json_string_value(json_object_get(c, "purl")), "pkg:npm/a@1.0.0");
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(json_object_get(c, "hashes"), 0),
                                          "content")),
        "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce"
        "47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e");
    c = json_array_get(comps, 1);
    assert_string_equal(json_string_value(json_object_get(c, "purl")), "pkg:npm/%40s/b@2.0.0");
    assert_string_equal(json_string_value(json_object_get(c, "group")), "@s");
    c = json_array_get(comps, 2);
    assert_string_equal(json_string_value(json_object_get(c, "name")), "c");
    assert_string_equal(json_string_value(json_object_get(c, "purl")), "pkg:npm/%40s/c@3.0.0%2Bx");
    json_decref(comps);

    /* A missing lock file is a note, not a failure. */
    comps = json_array();
    assert_int_equal(sbom_add_npm(comps, "/nonexistent/package-lock.json", &cx), 0);
    assert_int_equal(json_array_size(comps), 0);
    assert_true(json_array_size(cx.notes) >= 1);
    json_decref(comps);
    json_decref(cx.notes);
}

static void test_sha256(void **state)
{
    char path[128], hex[65];
    (void)state;
    snprintf(path, sizeof(path), "%s/abc", g_dir);
    write_file(path, "abc", 0644);
    assert_int_equal(sbom_sha256_file(path, hex), 0);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_int_equal(sbom_sha256_file("/nonexistent", hex), MWE_IO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_system_interpreter),
        cmocka_unit_test(test_venv_sees_its_own_distributions),
        cmocka_unit_test(test_hanging_interpreter_is_killed),
        cmocka_unit_test(test_lying_interpreter_is_refused),
        cmocka_unit_test(test_npm_lock),
        cmocka_unit_test(test_sha256),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
