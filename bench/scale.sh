#!/usr/bin/env bash
# Scale benchmark: one controller process and one simulator process (`edgefleet sim`, N virtual
# devices speaking the real protocol) on this machine, through four scenarios
# (io.edgefleet.bench.ScaleBench):
#   connect  time until 25/50/100 % of N are enrolled and online; controller RSS, heap, CPU,
#            memory per connected device
#   steady   controller CPU at N idle devices; wire bytes per device per day (simulator counters)
#   fan-out  a Git source with one app for every device; one commit announced by a signed push
#            webhook: time from the commit until 50/90/99/100 % run it READY; then a tiny catalog
#            app deployed to '*' and upgraded (default rollout policy), timed the same way
#   storm    kill -9 the controller with N connected and restart it: time until all are back and
#            in sync, peak CPU, gaveUp == 0 and connected == N at the end
#   clusters (only when named: --scenarios clusters [--clusters C], N = 3*C unless --devices)
#            the simulator's devices act as K3s nodes (2 s to fetch a binary, 3 s to start): tags
#            3 devices per pool (clusterpool=pool-<i>), pushes K3s artifacts for two versions,
#            creates one cluster per pool (3..3 servers) and times formation until every cluster
#            is READY (total, p50/p99 per cluster); then creates a profile whose Kubernetes layer
#            bumps the version and times it until every member runs it and every cluster is READY;
#            controller CPU seconds and RSS. Writes bench/results/scale-clusters-<C>-<date>.json
#
#   bench/scale.sh --profile small|full [--devices N] [--link lan|cellular|satellite|flaky]
#                  [--jfr DIR]   (a JFR recording of the controller per scenario, DIR/<scenario>.jfr)
#                  [--attestation]  (devices enroll and attest with a software TPM: the simulator's
#                  --attestation, the controller trusting its EK CA with --tpm-ca; adds activations,
#                  attestations and controller CPU per TPM enrollment (connect) and per attestation
#                  (storm: CPU of the controller process from /proc/PID/stat over the storm divided
#                  by the attestations answered) to the results)
#                  [--steady-seconds S=60] [--scenarios steady,fan-out,storm] [--root DIR]
#                  (--root: the controller and simulator of another checkout's distribution)
#
# small: 1,000 devices (250/500/1,000), 60 s steady window (one heartbeat), about 4 minutes.
# full:  100,000 devices (10k/50k/100k), 60 s steady window; needs a machine of its own (see
#        docs/benchmarks.md).
# Controller: `edgefleet controller --data DIR --listen 127.0.0.1:PORT` (SQLite, heartbeat 60 s, summaries 5 min)
# with -XX:+UseG1GC -XX:MaxRAMPercentage=50 -XX:+ExitOnOutOfMemoryError -Xms512m -Xmx4g; simulator:
# `edgefleet sim` with the launcher's -XX:+UseG1GC -Xmx4g -Xss512k. Both are started from the
# distribution the launcher builds (launcher/target/dist), on the same machine.
# Writes bench/results/scale-<profile>-<date>.json and prints progress.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
PROFILE=small
CLUSTERS=
SCENARIOS=
for ((i = 1; i <= $#; i++)); do
  if [ "${!i}" = "--profile" ]; then j=$((i + 1)); PROFILE="${!j}"; fi
  if [ "${!i}" = "--clusters" ]; then j=$((i + 1)); CLUSTERS="${!j}"; fi
  if [ "${!i}" = "--scenarios" ]; then j=$((i + 1)); SCENARIOS="${!j}"; fi
done
case "$PROFILE" in small|full) ;; *) echo "usage: bench/scale.sh --profile small|full [--devices N]" >&2; exit 2 ;; esac
"$ROOT/edgefleet" --version >/dev/null   # builds the distribution (controller, simulator) on first use
CP="$(mktemp /tmp/edgefleet-bench-cp-XXXXXX)"
trap 'rm -f "$CP"' EXIT
# Formatting checks belong to `verify`, not to running a benchmark. Built inside the reactor
# (nothing is installed to ~/.m2); the last module (bench) writes the class path last.
./mvnw -q -B -pl bench -am package dependency:build-classpath -DskipTests \
  -Dspotless.check.skip=true -Dmdep.outputFile="$CP" -Dmdep.includeScope=runtime
# shellcheck source=../bin/find-jdk.sh
. "$ROOT/bin/find-jdk.sh"
edgefleet_find_jdk
# Each device holds one socket in the simulator and one in the controller.
ulimit -n 1048576 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
echo "open files limit: $(ulimit -n)"
OUT="$ROOT/bench/results/scale-$PROFILE-$(date -u +%Y%m%d).json"
if [ "$SCENARIOS" = "clusters" ]; then
  OUT="$ROOT/bench/results/scale-clusters-${CLUSTERS:-default}-$(date -u +%Y%m%d).json"
fi
"$JAVA_HOME/bin/java" -XX:+UseSerialGC -Xmx256m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn \
  -cp "$ROOT/bench/target/classes:$(cat "$CP")" io.edgefleet.bench.ScaleBench \
  --root "$ROOT" --out "$OUT" "$@"
