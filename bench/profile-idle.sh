#!/usr/bin/env bash
# Idle profile of the controller: one controller process and N simulated devices (default 1,000)
# on loopback; once all are connected and after a settling pause, a JFR recording ("profile"
# settings) of the controller and its CPU share over the same window.
#
#   bench/profile-idle.sh [--devices N=1000] [--settle SECONDS=10] [--window SECONDS=40]
#
# Prints the controller's CPU share of one core over the window and the top frames; the recording
# stays in bench/results/idle-<date>.jfr (open it with `jfr print` or JDK Mission Control).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
DEVICES=1000 SETTLE=10 WINDOW=40
while [ $# -gt 0 ]; do
  case "$1" in
    --devices) DEVICES="$2"; shift 2 ;;
    --settle) SETTLE="$2"; shift 2 ;;
    --window) WINDOW="$2"; shift 2 ;;
    *) echo "usage: bench/profile-idle.sh [--devices N] [--settle S] [--window S]" >&2; exit 2 ;;
  esac
done
"$ROOT/edgefleet" --version >/dev/null   # builds the distribution on first use
# shellcheck source=../bin/find-jdk.sh
. "$ROOT/bin/find-jdk.sh"
edgefleet_find_jdk
J="$JAVA_HOME/bin"
LIB="$ROOT/launcher/target/dist/lib/*"
WORK="$(mktemp -d /tmp/edgefleet-idle-XXXXXX)"
PORT=$((20000 + RANDOM % 20000))
cleanup() { kill "${SPID:-}" "${CPID:-}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
"$J/java" -Xmx1g -XX:+UseG1GC --enable-native-access=ALL-UNNAMED -cp "$LIB" \
  io.edgefleet.launcher.Main controller --data "$WORK/c" --listen "127.0.0.1:$PORT" >"$WORK/c.log" 2>&1 &
CPID=$!
for _ in $(seq 1 60); do curl -skf "https://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 1; done
ADMIN="$(cat "$WORK/c/admin-token")"
api() { curl -skf -H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' "$@"; }
TOKEN="$(api -d '{"tags":{"fleet":"sim"},"maxUses":1000000}' "https://127.0.0.1:$PORT/api/v1/onboarding-tokens" \
  | python3 -c 'import sys,json;print(json.load(sys.stdin)["token"])')"
api -d "{\"token\":\"$TOKEN\"}" "https://127.0.0.1:$PORT/api/v1/onboarding-tokens/bootstrap" >"$WORK/boot.json"
"$J/java" -Xmx4g -XX:+UseG1GC --enable-native-access=ALL-UNNAMED -cp "$LIB" io.edgefleet.launcher.Main sim \
  --bootstrap "$WORK/boot.json" --devices "$DEVICES" --state "$WORK/s" --stats "$WORK/stats.json" \
  --source-addresses 127.0.0.2-127.0.0.20 >"$WORK/s.log" 2>&1 &
SPID=$!
echo "waiting for $DEVICES devices to connect..."
for _ in $(seq 1 600); do
  c="$(python3 -c "import json;print(json.load(open('$WORK/stats.json'))['connected'])" 2>/dev/null || echo 0)"
  [ "$c" -ge "$DEVICES" ] && break
  sleep 1
done
sleep "$SETTLE"
mkdir -p bench/results
JFR="$ROOT/bench/results/idle-$(date +%Y%m%d).jfr"
"$J/jcmd" "$CPID" JFR.start name=idle settings=profile duration="${WINDOW}s" filename="$JFR" >/dev/null
T0="$(awk '{print $14+$15}' "/proc/$CPID/stat")"
sleep "$WINDOW"
T1="$(awk '{print $14+$15}' "/proc/$CPID/stat")"
sleep 2
TICKS="$(getconf CLK_TCK)"
python3 -c "print('controller CPU over ${WINDOW} s with $DEVICES idle devices: %.1f %% of a core' % (($T1-$T0)/$TICKS/$WINDOW*100))"
echo "CPU per thread (jdk.ThreadCPULoad, highest user share):"
"$J/jfr" print --events jdk.ThreadCPULoad "$JFR" | grep -E 'eventThread|user' | paste - - \
  | sort -t= -k2 -rn | head -8
echo "recording: $JFR"
