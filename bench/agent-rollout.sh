#!/usr/bin/env bash
# Agent rollout benchmark (io.edgefleet.bench.AgentRolloutBench): a controller and N simulated
# devices (default 1,000) in one process on this machine. A signed agent release (an 8 MiB jar of
# random bytes by default, so gzip cannot shrink it) is pushed and rolled out to every device with
# the policy "canary: 10, waves: [10%, 40%, 50%], successThreshold: 98%, progressDeadline: 10m".
# Every device downloads the release from the controller in 1 MiB ranges, checks its digest and
# signature, stages it, switches slots, reconnects as the new agent and confirms it.
# Prints (and writes to bench/results/agent-rollout-<N>-<date>.json): the push time, the time from
# the rollout's start until the first device confirmed, until all did, and until the rollout
# SUCCEEDED.
#
#   bench/agent-rollout.sh [--devices N] [--release-mib M]
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
DEVICES=1000
for ((i = 1; i <= $#; i++)); do
  if [ "${!i}" = "--devices" ]; then j=$((i + 1)); DEVICES="${!j}"; fi
done
CP="$(mktemp /tmp/edgefleet-bench-cp-XXXXXX)"
trap 'rm -f "$CP"' EXIT
./mvnw -q -B -pl bench -am package dependency:build-classpath -DskipTests \
  -Dspotless.check.skip=true -Dconsole.skip=true -Dmdep.outputFile="$CP" -Dmdep.includeScope=runtime
# shellcheck source=../bin/find-jdk.sh
. "$ROOT/bin/find-jdk.sh"
edgefleet_find_jdk
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
OUT="$ROOT/bench/results/agent-rollout-$DEVICES-$(date -u +%Y%m%d).json"
"$JAVA_HOME/bin/java" -XX:+UseG1GC -Xmx3g -Dorg.slf4j.simpleLogger.defaultLogLevel=warn \
  -cp "$ROOT/bench/target/classes:$(cat "$CP")" io.edgefleet.bench.AgentRolloutBench \
  --out "$OUT" "$@"
