#!/usr/bin/env bash
# The agent's footprint on a device: RSS over time while it runs its Kubernetes runtime with N apps
# from a Git source, and the time from process start to connected. --runtime auto (the default, as
# the package runs it) uses the Kubernetes runtime once the kubeconfig is there, which it is.
#
#   bench/agent-footprint.sh [--duration SECONDS=3600] [--every SECONDS=60] [--apps N=10]
#                            [--runtime auto|kubernetes|none] [--starts N=5] [--agent-dir DIR]
#
# One controller (the launcher's), a throw-away Kubernetes control plane (testkit/k8s/kube-up.sh:
# etcd + kube-apiserver + controller-manager, no kubelet, so the pods stay pending while the agent
# applies, watches and reports them), a local Git repository with N small apps (a ConfigMap, a
# Deployment and a Service each) targeted at the device, and one agent started the way a device
# starts it: by the packaged start script (bin/edgefleet-agent) with the release's jars in a slot
# and the packaged runtime, from the agent bundle built by `./mvnw package` (or --agent-dir, an
# unpacked bundle). Prints RSS (and its anonymous / file-backed split) every --every seconds,
# the start-to-connected time of --starts restarts of the enrolled agent (median and max), and
# writes bench/results/agent-footprint-<date>.json.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DURATION=3600 EVERY=60 APPS=10 RUNTIME=auto STARTS=5 AGENT_DIR=""
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) DURATION="$2"; shift 2 ;;
    --every) EVERY="$2"; shift 2 ;;
    --apps) APPS="$2"; shift 2 ;;
    --runtime) RUNTIME="$2"; shift 2 ;;
    --starts) STARTS="$2"; shift 2 ;;
    --agent-dir) AGENT_DIR="$2"; shift 2 ;;
    *) echo "usage: bench/agent-footprint.sh [--duration S] [--every S] [--apps N] [--runtime auto|kubernetes|none] [--starts N] [--agent-dir DIR]" >&2; exit 2 ;;
  esac
done
EF="$ROOT/edgefleet"
WORK="$(mktemp -d /tmp/edgefleet-footprint-XXXXXX)"
PORT=$((20000 + RANDOM % 20000))
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -n "${AGENT:-}" ] && { kill "$AGENT" 2>/dev/null || true; }
  [ -d "$WORK/k8s" ] && "$ROOT/testkit/k8s/kube-down.sh" "$WORK/k8s" >/dev/null 2>&1 || true
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# The agent as a device runs it: the bundle's start script, slots and runtime.
if [ -z "$AGENT_DIR" ]; then
  BUNDLE="$(ls "$ROOT"/agent-dist/target/edgefleet-agent-*-bundle.tar.gz 2>/dev/null | head -1 || true)"
  if [ -z "$BUNDLE" ]; then
    echo "building the agent bundle (./mvnw package -pl agent-dist -am)..." >&2
    "$ROOT/mvnw" -q -B -pl agent-dist -am package -DskipTests -Dspotless.check.skip=true -Dconsole.skip=true >&2
    BUNDLE="$(ls "$ROOT"/agent-dist/target/edgefleet-agent-*-bundle.tar.gz | head -1)"
  fi
  mkdir -p "$WORK/root"
  tar -xzf "$BUNDLE" -C "$WORK/root"
  AGENT_DIR="$(dirname "$(find "$WORK/root" -path '*/usr/lib/edgefleet-agent/bin/edgefleet-agent' | head -1)")/.."
fi
AGENT_DIR="$(cd "$AGENT_DIR" && pwd)"
[ -x "$AGENT_DIR/bin/edgefleet-agent" ] || { echo "no bin/edgefleet-agent under $AGENT_DIR" >&2; exit 1; }

"$EF" --version >/dev/null   # builds the controller's distribution on first use
"$EF" controller --data "$WORK/controller" --listen "127.0.0.1:$PORT" --kube-port $((PORT + 1)) >"$WORK/controller.log" 2>&1 &
PIDS+=("$!")
for _ in $(seq 1 120); do grep -q " serving https://" "$WORK/controller.log" && break; sleep 0.5; done
export EDGEFLEET_CONFIG="$WORK/controller/cli-config.json"
TOKEN=$("$EF" onboarding create --tag site=footprint --uses 10 -o json | python3 -c 'import json,sys;print(json.load(sys.stdin)["token"])')
mkdir -p "$WORK/conf"
"$EF" onboarding bootstrap --token "$TOKEN" --out "$WORK/conf/bootstrap.json" >/dev/null 2>&1

AGENT_ARGS="--serial FOOTPRINT-1 --no-qr --runtime $RUNTIME"
if [ "$RUNTIME" != none ]; then
  echo "starting a Kubernetes control plane..." >&2
  EDGEFLEET_KUBE_OWNER_PID=$$ "$ROOT/testkit/k8s/kube-up.sh" "$WORK/k8s" >"$WORK/kube-up.log" 2>&1
  AGENT_ARGS="$AGENT_ARGS --kubeconfig $WORK/k8s/kubeconfig"
  # N small apps in a local Git repository, targeted at the device.
  REPO="$WORK/repo"
  mkdir -p "$REPO"
  git -C "$REPO" init -q -b main
  for i in $(seq 1 "$APPS"); do
    mkdir -p "$REPO/apps/app-$i"
    cat >"$REPO/apps/app-$i/app.yaml" <<EOF
apiVersion: v1
kind: ConfigMap
metadata: {name: app-$i-config, namespace: default}
data: {greeting: "hello from app $i", level: info}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: app-$i, namespace: default}
spec:
  replicas: 1
  selector: {matchLabels: {app: app-$i}}
  template:
    metadata: {labels: {app: app-$i}}
    spec:
      containers:
        - name: web
          image: registry.example/app-$i:1.0
          ports: [{containerPort: 8080}]
          envFrom: [{configMapRef: {name: app-$i-config}}]
---
apiVersion: v1
kind: Service
metadata: {name: app-$i, namespace: default}
spec:
  selector: {app: app-$i}
  ports: [{port: 80, targetPort: 8080}]
EOF
  done
  git -C "$REPO" add -A
  git -C "$REPO" -c user.name=bench -c user.email=bench@example.org commit -q -m "$APPS apps"
  "$EF" repos add footprint --url "file://$REPO" --branch main --target site=footprint >/dev/null
fi

export EDGEFLEET_HOME="$AGENT_DIR" EDGEFLEET_CONF="$WORK/conf" EDGEFLEET_STATE="$WORK/state"
export EDGEFLEET_AGENT_ARGS="$AGENT_ARGS"
start_agent() {
  "$AGENT_DIR/bin/edgefleet-agent" >>"$WORK/agent.log" 2>&1 &
  AGENT=$!
}
# The JVM of the agent: the start script itself once it exec'd the JVM, else its child.
agent_jvm() {
  if [ "$(cat "/proc/$AGENT/comm" 2>/dev/null)" = java ]; then echo "$AGENT"; else pgrep -P "$AGENT" java 2>/dev/null | head -1 || true; fi
}
stop_agent() {
  kill "$AGENT" 2>/dev/null || true
  wait "$AGENT" 2>/dev/null || true
  AGENT=""
}
connected_count() { grep -c "^connected to " "$WORK/agent.log" 2>/dev/null || true; }

echo "enrolling the agent..." >&2
start_agent
for _ in $(seq 1 240); do [ "$(connected_count)" -ge 1 ] && break; sleep 0.5; done
[ "$(connected_count)" -ge 1 ] || { echo "the agent did not connect; its log:" >&2; tail -30 "$WORK/agent.log" >&2; exit 1; }
# On JDK 25 the first run records the slot's class cache and ends once the agent has proven itself;
# the start script then starts it again from the cache. Measure starts only after that, as a device
# sees them: stopping the recording run early would leave the agent without a cache.
if [ "$("$AGENT_DIR"/runtime/bin/java -XX:+PrintFlagsFinal -version 2>/dev/null | grep -c ' AOTCache ')" -ge 1 ]; then
  echo "waiting for the class cache to be recorded..." >&2
  for _ in $(seq 1 600); do
    [ -n "$(find "$WORK" -name '*.aot' -size +1k 2>/dev/null | head -1)" ] && [ "$(connected_count)" -ge 2 ] && break
    sleep 0.5
  done
  [ -n "$(find "$WORK" -name '*.aot' -size +1k 2>/dev/null | head -1)" ] \
    && echo "class cache: $(du -m "$(find "$WORK" -name '*.aot' | head -1)" | cut -f1) MiB" \
    || echo "no class cache was recorded (the agent runs without one)" >&2
fi

# Start-to-connected of the enrolled agent: from the start script's exec to "connected to".
stop_agent
TIMES=() CPUS=()
TICK=$(getconf CLK_TCK)
# CPU time of the agent's JVM when it reports connected (user + system): unlike the wall time, a
# busy machine barely changes it.
jvm_cpu_ms() {
  local j; j=$(agent_jvm)
  [ -n "$j" ] && awk -v t="$TICK" '{print int(($14 + $15) * 1000 / t)}' "/proc/$j/stat" 2>/dev/null || echo 0
}
for i in $(seq 1 "$STARTS"); do
  before=$(connected_count)
  t0=$(date +%s%N)
  start_agent
  while [ "$(connected_count)" -le "$before" ]; do sleep 0.01; done
  t1=$(date +%s%N)
  CPUS+=("$(jvm_cpu_ms)")
  TIMES+=("$(( (t1 - t0) / 1000000 ))")
  [ "$i" -lt "$STARTS" ] && stop_agent
done
SORTED=$(printf '%s\n' "${TIMES[@]}" | sort -n | tr '\n' ' ')
MEDIAN=$(printf '%s\n' "${TIMES[@]}" | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}')
MAX=$(printf '%s\n' "${TIMES[@]}" | sort -n | tail -1)
echo "start to connected (ms, $STARTS starts): $SORTED (median $MEDIAN, max $MAX)"
CPU_SORTED=$(printf '%s\n' "${CPUS[@]}" | sort -n | tr '\n' ' ')
CPU_MEDIAN=$(printf '%s\n' "${CPUS[@]}" | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}')
echo "CPU time to connected (ms, user + system): $CPU_SORTED (median $CPU_MEDIAN)"

if [ "$RUNTIME" != none ]; then
  echo "waiting for the $APPS apps to be applied..." >&2
  for _ in $(seq 1 600); do
    n=$(kubectl --kubeconfig "$WORK/k8s/kubeconfig" get deployments -n default -o name 2>/dev/null | wc -l || echo 0)
    [ "$n" -ge "$APPS" ] && break
    sleep 1
  done 2>/dev/null || true
fi

JVM=$(agent_jvm)
[ -n "$JVM" ] || { echo "the agent's JVM is not running" >&2; exit 1; }
printf '%8s %10s %10s %10s\n' "seconds" "RSS MiB" "anon MiB" "file MiB"
SAMPLES=""
t=0
while :; do
  read -r rss anon file < <(awk '/^VmRSS/{r=$2} /^RssAnon/{a=$2} /^RssFile/{f=$2} END{print r, a, f}' "/proc/$JVM/status")
  awk -v t="$t" -v r="$rss" -v a="$anon" -v f="$file" 'BEGIN{printf "%8d %10.1f %10.1f %10.1f\n", t, r/1024, a/1024, f/1024}'
  SAMPLES="$SAMPLES{\"seconds\":$t,\"rssKiB\":$rss,\"anonKiB\":$anon,\"fileKiB\":$file},"
  [ "$t" -ge "$DURATION" ] && break
  sleep "$EVERY"
  t=$((t + EVERY))
  kill -0 "$JVM" 2>/dev/null || { echo "the agent's JVM exited; its log:" >&2; tail -30 "$WORK/agent.log" >&2; exit 1; }
done
mkdir -p "$ROOT/bench/results"
OUT="$ROOT/bench/results/agent-footprint-$(date +%Y%m%dT%H%M%SZ).json"
cat >"$OUT" <<EOF
{"runtime":"$RUNTIME","apps":$APPS,"durationSeconds":$DURATION,
 "startToConnectedMs":[$(IFS=,; echo "${TIMES[*]}")],"startToConnectedMedianMs":$MEDIAN,"cpuToConnectedMs":[$(IFS=,; echo "${CPUS[*]}")],
 "rss":[${SAMPLES%,}]}
EOF
echo "wrote $OUT"
