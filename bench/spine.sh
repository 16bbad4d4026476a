#!/usr/bin/env bash
# Spine figures with real processes: one controller process, N agent processes (each its own JVM
# with the launcher's agent flags). Reports time until N/N online, controller RSS with N agents,
# one agent's RSS after it has been idle, and bytes on the wire per heartbeat exchange.
#
#   bench/spine.sh [N=50] [IDLE_SECONDS=60]
#
# Writes bench/results/spine-<date>.json and prints a summary.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
N="${1:-50}"
IDLE="${2:-60}"
EF="$ROOT/edgefleet"
WORK="$(mktemp -d /tmp/edgefleet-bench-spine-XXXXXX)"
PORT=$((20000 + RANDOM % 20000))
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }

"$EF" --version >/dev/null   # builds on first use
"$EF" controller --data "$WORK/controller" --listen "127.0.0.1:$PORT" --enrollments-per-address 100000 >"$WORK/controller.log" 2>&1 &
CTL=$!
PIDS+=("$CTL")
for _ in $(seq 1 120); do grep -q " serving https://" "$WORK/controller.log" && break; sleep 0.5; done
export EDGEFLEET_CONFIG="$WORK/controller/cli-config.json"
TOKEN=$("$EF" onboarding create --tag site=bench --uses "$N" --per-minute 100000 -o json | python3 -c 'import json,sys;print(json.load(sys.stdin)["token"])')
"$EF" onboarding bootstrap --token "$TOKEN" --out "$WORK/bootstrap.json" 2>/dev/null

start=$(date +%s.%N)
for i in $(seq 1 "$N"); do
  "$EF" agent --bootstrap "$WORK/bootstrap.json" --state "$WORK/agents/$i" --serial "BENCH-$i" --no-qr \
    >"$WORK/agent-$i.log" 2>&1 &
  PIDS+=("$!")
done
online=0
for _ in $(seq 1 600); do
  online=$("$EF" devices list --status ONLINE -o json | python3 -c 'import json,sys;print(len(json.load(sys.stdin)))')
  [ "$online" -ge "$N" ] && break
  sleep 0.5
done
end=$(date +%s.%N)
to_online=$(python3 -c "print(round($end - $start, 1))")
echo "online: $online/$N after ${to_online}s (agent processes started at t=0)"

echo "idling ${IDLE}s at the default 30 s heartbeat ..."
sleep "$IDLE"
ctl_rss=$(rss_kb "$CTL")
agent_pid="${PIDS[1]}"
agent_rss=$(rss_kb "$agent_pid")
echo "controller RSS with $N agents: $((ctl_rss / 1024)) MiB; one agent RSS after ${IDLE}s idle: $((agent_rss / 1024)) MiB"

# Bytes per heartbeat: a separate controller+agent pair with a 1 s heartbeat; the kernel's TCP
# counters of the agent's socket over 20 heartbeats give payload bytes (TLS records included) and
# segments (each adds 52 bytes of IPv4+TCP headers with timestamps on the wire).
PORT2=$((PORT + 1))
"$EF" controller --data "$WORK/controller2" --listen "127.0.0.1:$PORT2" --heartbeat 1s >"$WORK/controller2.log" 2>&1 &
PIDS+=("$!")
for _ in $(seq 1 120); do grep -q " serving https://" "$WORK/controller2.log" && break; sleep 0.5; done
export EDGEFLEET_CONFIG="$WORK/controller2/cli-config.json"
TOKEN2=$("$EF" onboarding create -o json | python3 -c 'import json,sys;print(json.load(sys.stdin)["token"])')
"$EF" onboarding bootstrap --token "$TOKEN2" --out "$WORK/bootstrap2.json" 2>/dev/null
"$EF" agent --bootstrap "$WORK/bootstrap2.json" --state "$WORK/agent-hb" --no-qr >"$WORK/agent-hb.log" 2>&1 &
HB=$!
PIDS+=("$HB")
for _ in $(seq 1 120); do grep -q "connected to" "$WORK/agent-hb.log" && break; sleep 0.5; done
sleep 3
counters() {
  ss -tinH state established "( dport = :$PORT2 )" | tr ' ' '\n' |
    awk -F: '/^bytes_sent:/ {s=$2} /^bytes_received:/ {r=$2} /^segs_out:/ {o=$2} /^segs_in:/ {i=$2} END {print s+0, r+0, o+0, i+0}'
}
read -r s0 r0 o0 i0 < <(counters)
sleep 20
read -r s1 r1 o1 i1 < <(counters)
beats=20
sent=$(( (s1 - s0) / beats )); recv=$(( (r1 - r0) / beats ))
segs=$(python3 -c "print(round(($o1 - $o0 + $i1 - $i0) / $beats, 2))")
wire=$(python3 -c "print(round($sent + $recv + ($o1 - $o0 + $i1 - $i0) / $beats * 52))")
echo "per heartbeat: agent sends ${sent} B, receives ${recv} B of TLS payload in ${segs} segments; ~${wire} B on the wire"
per_day=$(python3 -c "print(round($wire * 2880 / 1024))")
echo "at the default 30 s heartbeat: ~${per_day} KiB per device per day"

mkdir -p "$ROOT/bench/results"
out="$ROOT/bench/results/spine-$(date -u +%Y%m%d).json"
cat >"$out" <<JSON
{
  "date": "$(date -u +%FT%TZ)",
  "machine": "$(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)",
  "jvm": "$("$(. "$ROOT/bin/find-jdk.sh"; edgefleet_find_jdk; echo "$JAVA_HOME")/bin/java" -version 2>&1 | head -n 1 | tr -d '"')",
  "agents": $N,
  "secondsUntilAllOnline": $to_online,
  "controllerRssMiB": $((ctl_rss / 1024)),
  "agentRssMiBAfterIdle": $((agent_rss / 1024)),
  "idleSeconds": $IDLE,
  "heartbeatPayloadBytesSent": $sent,
  "heartbeatPayloadBytesReceived": $recv,
  "heartbeatSegments": $segs,
  "heartbeatWireBytes": $wire,
  "idleKiBPerDeviceDayAt30s": $per_day
}
JSON
echo "wrote $out"
