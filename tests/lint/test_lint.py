"""scripts/lint.sh on made-up trees: each rule fails on a bad sample and stays quiet on the
near-misses that real code contains (snprintf, strtok_r, mkstemp's XXXXXX, a module's own private
header)."""
import os
import subprocess
import textwrap

import pytest

LINT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts", "lint.sh")

CLEAN = {
    "src/core/util.c": """\
        /* Bounded formatting; the template keeps mkstemp's XXXXXX. */
        #include <stdio.h>
        #include <string.h>
        #include <time.h>
        #include "core/core.h"
        static int f(char *out, size_t n, char *s, struct tm *tm, time_t t)
        {
            char *save;
            char tmpl[] = "/tmp/mw.XXXXXX";
            (void)tmpl;
            gmtime_r(&t, tm);
            strtok_r(s, ",", &save);
            return snprintf(out, n, "%s", s);
        }
        """,
    "src/model/model_int.h": "/* private to model */\n",
    "src/model/repo.c": '#include "model/model_int.h"\n#include "http/http.h"\n',
    "src/model/backends/python.c": '#include "../model_int.h"\n',
    "tests/unit/model/test_repo.c": '#include "model/model_int.h"\n#include "http/http_int.h"\n',
}


def make_tree(tmp_path, extra):
    files = dict(CLEAN)
    files.update(extra)
    for rel, text in files.items():
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text))
    return tmp_path


def lint(tree):
    return subprocess.run(["bash", LINT, str(tree)], capture_output=True, text=True, timeout=60)


def test_clean_tree_passes(tmp_path):
    r = lint(make_tree(tmp_path, {}))
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.startswith("lint: 5 files clean")


@pytest.mark.parametrize("rel,text,rule,line", [
    ("src/core/a.c", "int x;\n/* retries twice (issue 12) */\n", "ticket-marker", 2),
    ("tests/integration/test_a.py", "# see issue #7 for why\n", "ticket-marker", 1),
    ("include/modelwrap/a.h", "/* Issue 3: keep the order */\n", "ticket-marker", 1),
    ("src/core/a.c", "/* TODO: free this */\n", "todo", 1),
    ("scripts/a.sh", "echo ok\n# FIXME quoting\n", "todo", 2),
    ("plugins/p/p.c", "int y; /* XXX */\n", "todo", 1),
    ("src/core/a.c", "void f(char *d) { sprintf(d, \"%d\", 1); }\n", "banned-call", 1),
    ("src/core/a.c", "void f(char *d) { strcpy(d, \"x\"); }\n", "banned-call", 1),
    ("src/core/a.c", "void f(char *d) { strcat(d, \"x\"); }\n", "banned-call", 1),
    ("src/core/a.c", "void f(char *d) { (void)strtok(d, \",\"); }\n", "banned-call", 1),
    ("src/core/a.c", "int f(const char *d) { return atoi (d); }\n", "banned-call", 1),
    ("src/core/a.c", "void f(char *d) { gets(d); }\n", "banned-call", 1),
    ("src/core/a.c", "void f(void) { system(\"ls\"); }\n", "banned-call", 1),
    ("src/core/a.c", "int f(void) {\n  return rand();\n}\n", "banned-call", 2),
    ("plugins/p/p.c", "void f(char *d) { strncpy(d, \"x\", 1); }\n", "banned-call", 1),
    ("src/api/a.c", '#include "model/model_int.h"\n', "private-include", 1),
    ("src/api/a.c", '#include "core/core.h"\n#include "auth/auth_impl.h"\n', "private-include", 2),
    ("src/api/a.c", '#include "limit/internal/table.h"\n', "private-include", 1),
    ("src/api/x/a.c", '#  include "../../http/http_int.h"\n', "private-include", 1),
])
def test_rule_fails_on_bad_sample(tmp_path, rel, text, rule, line):
    r = lint(make_tree(tmp_path, {rel: text}))
    assert r.returncode == 1, r.stdout + r.stderr
    findings = [l for l in r.stdout.splitlines() if l]
    assert findings == [f"{rel}:{line}: {rule}: " + text.splitlines()[line - 1].strip()]
    assert "lint: FAILED" in r.stderr


def test_banned_calls_only_in_shipped_code(tmp_path):
    # Tests and benchmarks may use the convenient forms.
    r = lint(make_tree(tmp_path, {"tests/unit/core/test_a.c": "void f(char *d) { sprintf(d, \"x\"); }\n",
                                  "bench/b.c": "int f(const char *s) { return atoi(s); }\n"}))
    assert r.returncode == 0, r.stdout + r.stderr


def test_real_tree_is_clean():
    r = subprocess.run(["bash", LINT], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr


def test_declared_friend_may_include_the_private_header(tmp_path):
    # CMakeLists.txt's MW_FRIENDS_<m> is the one list both the build and the lint read.
    tree = make_tree(tmp_path, {
        "CMakeLists.txt": "set(MW_FRIENDS_codec model/model_impl.h)\n",
        "src/model/model_impl.h": "/* the definitions */\n",
        "src/codec/records.c": '#include "model/model_impl.h"\n'})
    assert lint(tree).returncode == 0
    (tmp_path / "src/api").mkdir()
    (tmp_path / "src/api/a.c").write_text('#include "model/model_impl.h"\n')
    r = lint(tree)
    assert r.returncode == 1
    assert [l for l in r.stdout.splitlines() if l] == [
        'src/api/a.c:1: private-include: #include "model/model_impl.h"']
