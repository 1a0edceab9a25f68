#!/usr/bin/python3
"""Checks deploy/ci/gitlab-ci.yml offline: it parses as YAML (no duplicate keys) and has what GitLab
requires of a pipeline: a list of stages, and for each job (every top-level key that is not a
keyword or a hidden .template) a script, a stage from that list, needs and rules GitLab can read.
`--self-test` first shows that each rule refuses a broken pipeline. Uses Debian's python3-yaml."""
import sys

import yaml

KEYWORDS = {"default", "include", "stages", "variables", "workflow", "image", "services", "cache",
            "before_script", "after_script"}
JOB_KEYS = {"after_script", "allow_failure", "artifacts", "before_script", "cache", "coverage",
            "dependencies", "environment", "except", "extends", "id_tokens", "image", "inherit",
            "interruptible", "needs", "only", "pages", "parallel", "release", "resource_group",
            "retry", "rules", "script", "secrets", "services", "stage", "tags", "timeout",
            "trigger", "variables", "when"}


class UniqueKeyLoader(yaml.SafeLoader):
    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, "duplicate key %r" % key,
                                                        key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep)


def problems_of(text):
    out = []
    try:
        doc = yaml.load(text, Loader=UniqueKeyLoader)
    except yaml.YAMLError as e:
        return ["not valid YAML: %s" % e]
    if not isinstance(doc, dict):
        return ["the pipeline is not a mapping"]
    stages = doc.get("stages")
    if not isinstance(stages, list) or not stages or not all(isinstance(s, str) for s in stages):
        out.append("stages: expected a non-empty list of names")
        stages = []
    jobs = {k: v for k, v in doc.items() if k not in KEYWORDS and not str(k).startswith(".")}
    if not jobs:
        out.append("no job")
    for name, job in jobs.items():
        if not isinstance(job, dict):
            out.append("%s: a job must be a mapping" % name)
            continue
        for key in job:
            if key not in JOB_KEYS:
                out.append("%s: unknown job keyword %r" % (name, key))
        script = job.get("script")
        if "trigger" not in job and "extends" not in job:
            if not (isinstance(script, str) or
                    (isinstance(script, list) and script and
                     all(isinstance(s, str) for s in script))):
                out.append("%s: script: expected a non-empty list of commands" % name)
        if job.get("stage", "test") not in stages:
            out.append("%s: stage %r is not in stages" % (name, job.get("stage", "test")))
        for need in job.get("needs", []):
            need = need.get("job") if isinstance(need, dict) else need
            if need not in jobs:
                out.append("%s: needs %r, which is no job" % (name, need))
        rules = job.get("rules", [])
        if not isinstance(rules, list) or not all(isinstance(r, dict) for r in rules):
            out.append("%s: rules: expected a list of mappings" % name)
        image = job.get("image", doc.get("image"))
        if image is not None and not isinstance(image, (str, dict)):
            out.append("%s: image: expected a name or {name, entrypoint}" % name)
    return out


def self_test(good):
    broken = {
        "a duplicate key": good + "\nstages: [test]\n",
        "a job without script": good + "\nlint:\n  stage: test\n",
        "a job in an unknown stage": good + "\nlint:\n  stage: lint\n  script: [echo ok]\n",
        "a misspelt keyword": good + "\nlint:\n  stage: test\n  scirpt: [true]\n",
        "needs of an unknown job": good + "\nlint:\n  stage: test\n  needs: [nope]\n  script: [echo ok]\n",
        "invalid YAML": good + "\nlint: [\n",
    }
    ok = True
    for label, text in broken.items():
        got = problems_of(text)
        if got:
            print("self-test: %s: refused (%s)" % (label, got[0].splitlines()[0]))
        else:
            print("self-test: %s: ACCEPTED, the check is broken" % label)
            ok = False
    return ok


def main():
    path = "deploy/ci/gitlab-ci.yml"
    args = [a for a in sys.argv[1:] if a != "--self-test"]
    if args:
        path = args[0]
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if "--self-test" in sys.argv and not self_test(text):
        return 1
    got = problems_of(text)
    for p in got:
        print("%s: %s" % (path, p), file=sys.stderr)
    if got:
        return 1
    print("%s: valid YAML with the keys GitLab requires (%d jobs)" %
          (path, len([k for k in yaml.safe_load(text) if k not in KEYWORDS])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
