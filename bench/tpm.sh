#!/usr/bin/env bash
# TPM figures (decision 0028) on a real software TPM (swtpm):
#   1. latency of sign, quote, credential activation and certify with the agent's Java-marshalled
#      commands against forking tpm2-tools for each call (io.edgefleet.bench.TpmLatencyBench);
#   2. resident memory of two agent processes (the launcher's agent flags) enrolled with one
#      controller and idle: one with --no-tpm, one with its key in the swtpm (--tpm tcp://...).
#
#   bench/tpm.sh [--rounds N=50] [--idle SECONDS=60] [--memory-only]
#
# Needs swtpm, swtpm-tools and tpm2-tools (apt-get install swtpm swtpm-tools tpm2-tools).
# Writes bench/results/tpm-<date>.json and prints a summary.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
ROUNDS=50 IDLE=60 LATENCY=1
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) ROUNDS="$2"; shift 2 ;;
    --idle) IDLE="$2"; shift 2 ;;
    --memory-only) LATENCY=0; shift ;;
    *) echo "usage: bench/tpm.sh [--rounds N] [--idle SECONDS] [--memory-only]" >&2; exit 2 ;;
  esac
done
for c in swtpm swtpm_setup tpm2_quote; do
  command -v "$c" >/dev/null || { echo "cannot run: $c is missing (apt-get install swtpm swtpm-tools tpm2-tools)" >&2; exit 1; }
done
WORK="$(mktemp -d /tmp/edgefleet-bench-tpm-XXXXXX)"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
mkdir -p bench/results
DAY="$(date -u +%Y%m%d)"

# ---- 1. latency ----
# shellcheck source=../bin/find-jdk.sh
. "$ROOT/bin/find-jdk.sh"
edgefleet_find_jdk
echo '{}' >"$WORK/latency.json"
if [ "$LATENCY" = 1 ]; then
CP="$WORK/cp"
./mvnw -q -B -pl bench -am package dependency:build-classpath -DskipTests \
  -Dspotless.check.skip=true -Dmdep.outputFile="$CP" -Dmdep.includeScope=runtime
"$JAVA_HOME/bin/java" -Dtpm.bench.out="$WORK/latency.json" \
  -cp "$ROOT/bench/target/classes:$(cat "$CP")" io.edgefleet.bench.TpmLatencyBench --rounds "$ROUNDS"
fi

# ---- 2. agent memory ----
EF="$ROOT/edgefleet"
"$EF" --version >/dev/null   # builds on first use
PORT=$((20000 + RANDOM % 20000))
TPORT=$((PORT + 10))
mkdir -p "$WORK/tpm/ca" "$WORK/tpm/state"
cat >"$WORK/tpm/localca.conf" <<CONF
statedir=$WORK/tpm/ca
signingkey=$WORK/tpm/ca/signkey.pem
issuercert=$WORK/tpm/ca/issuercert.pem
certserial=$WORK/tpm/ca/certserial
CONF
cat >"$WORK/tpm/setup.conf" <<CONF
create_certs_tool=/usr/bin/swtpm_localca
create_certs_tool_config=$WORK/tpm/localca.conf
create_certs_tool_options=/etc/swtpm-localca.options
active_pcr_banks=sha256
CONF
swtpm_setup --tpm2 --tpmstate "$WORK/tpm/state" --create-ek-cert --create-platform-cert \
  --lock-nvram --config "$WORK/tpm/setup.conf" >"$WORK/tpm/setup.log" 2>&1
swtpm socket --tpm2 --tpmstate dir="$WORK/tpm/state" \
  --server type=tcp,port=$TPORT,bindaddr=127.0.0.1 --ctrl type=tcp,port=$((TPORT + 1)),bindaddr=127.0.0.1 \
  --flags startup-clear >"$WORK/tpm/swtpm.log" 2>&1 &
PIDS+=("$!")
"$EF" controller --data "$WORK/controller" --listen "127.0.0.1:$PORT" >"$WORK/controller.log" 2>&1 &
PIDS+=("$!")
for _ in $(seq 1 120); do grep -q " serving https://" "$WORK/controller.log" && break; sleep 0.5; done
export EDGEFLEET_CONFIG="$WORK/controller/cli-config.json"
TOKEN=$("$EF" onboarding create --tag site=bench --uses 2 -o json | python3 -c 'import json,sys;print(json.load(sys.stdin)["token"])')
"$EF" onboarding bootstrap --token "$TOKEN" --out "$WORK/bootstrap.json" 2>/dev/null
"$EF" agent --bootstrap "$WORK/bootstrap.json" --state "$WORK/soft" --serial BENCH-SOFT --no-tpm --no-qr \
  --runtime none >"$WORK/soft.log" 2>&1 &
SOFT=$!
PIDS+=("$SOFT")
"$EF" agent --bootstrap "$WORK/bootstrap.json" --state "$WORK/tpmagent" --serial BENCH-TPM \
  --tpm "tcp://127.0.0.1:$TPORT" --no-qr --runtime none >"$WORK/tpm.log" 2>&1 &
TPM=$!
PIDS+=("$TPM")
for _ in $(seq 1 240); do
  grep -q "connected to" "$WORK/soft.log" && grep -q "connected to" "$WORK/tpm.log" && break
  sleep 0.5
done
grep -q "connected to" "$WORK/tpm.log" || { echo "the TPM agent did not connect:"; tail -20 "$WORK/tpm.log"; exit 1; }
[ -f "$WORK/tpmagent/tpm-key.json" ] && [ ! -f "$WORK/tpmagent/device.key" ] || { echo "the TPM agent has no TPM key"; exit 1; }
echo "both agents connected; idling ${IDLE}s ..."
samples_soft=() samples_tpm=()
for i in 1 2 3; do
  sleep $((IDLE / 3))
  samples_soft+=("$(rss_kb "$SOFT")")
  samples_tpm+=("$(rss_kb "$TPM")")
done
median() { printf '%s\n' "$@" | sort -n | sed -n 2p; }
soft_kb=$(median "${samples_soft[@]}")
tpm_kb=$(median "${samples_tpm[@]}")
classes() { "$JAVA_HOME/bin/jcmd" "$1" PerfCounter.print | awk -F= '/java.cls.loadedClasses=/ {print $2}'; }
soft_classes=$(classes "$SOFT"); tpm_classes=$(classes "$TPM")
echo "classes loaded: software key $soft_classes, TPM key $tpm_classes"
echo "agent RSS idle (median of 3 samples): software key $((soft_kb / 1024)) MiB ($soft_kb KiB), TPM key $((tpm_kb / 1024)) MiB ($tpm_kb KiB), difference $(( (tpm_kb - soft_kb) )) KiB"

out="$ROOT/bench/results/tpm-$DAY.json"
[ -f "$out" ] && out="$ROOT/bench/results/tpm-$DAY-$(date -u +%H%M).json"
python3 - "$WORK/latency.json" "$out" "$soft_kb" "$tpm_kb" "$IDLE" "$soft_classes" "$tpm_classes" <<'PY'
import json, sys, subprocess, datetime
lat = json.load(open(sys.argv[1]))
res = {
  "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
  "swtpm": subprocess.run(["swtpm", "--version"], capture_output=True, text=True).stdout.strip(),
  "latency": lat,
  "agentRssKiBIdle": {"software": int(sys.argv[3]), "tpm": int(sys.argv[4]), "idleSeconds": int(sys.argv[5])},
  "agentLoadedClasses": {"software": int(sys.argv[6]), "tpm": int(sys.argv[7])},
}
if not lat:
  del res["latency"]
json.dump(res, open(sys.argv[2], "w"), indent=2)
print("wrote", sys.argv[2])
PY
