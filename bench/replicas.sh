#!/usr/bin/env bash
# Scale benchmark, replicas mode: R controller replicas on one PostgreSQL and S simulator processes
# (`edgefleet sim`) with N virtual devices in total, spread over the replicas by the bootstrap file
# (every replica's URL; each device starts at a random one and moves on when it fails)
# (io.edgefleet.bench.ReplicaBench). Scenarios, figures per replica and in total:
#   connect   time until 25/50/100 % of N are online (and each replica's own share); CPU seconds,
#             RSS (/proc) per connected device per replica
#   steady    CPU of each replica at N idle devices over the steady window
#   fan-out   a catalog app deployed to '*', then upgraded: time from the upgrade request until
#             50/99/100 % of the devices run it READY
#   storm     kill -9 of every replica with N connected, all restarted: time until all are back
#             connected and online, none lost (gaveUp, connected == N)
#   kill-one  kill -9 of one replica: time until its devices are connected to the others and every
#             device is online again (skipped when the survivors cannot hold N under the open-files
#             limit)
# and the orphan device records (records beyond N) at the end.
#
#   bench/replicas.sh --replicas R --simulators S --devices N [--steady-seconds 60]
#                     [--scenarios steady,fan-out,storm,kill-one] [--phase-timeout-minutes M]
#                     [--root DIR]
#
# Every process must stay under the open-files limit (each device is one socket in its simulator and
# one in its replica): the benchmark refuses N that would not fit and says what to add.
# Replicas: `edgefleet controller --data DIR --listen 127.0.0.1:PORT --database-url
# jdbc:postgresql://... --also-advertise-url URL...` with ScaleBench's controller JVM flags, data
# directories sharing the first replica's keys; PostgreSQL: the embedded server of the testkit.
# Writes bench/results/scale-replicas-<N>-<date>.json and prints progress.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
DEVICES=2000
for ((i = 1; i <= $#; i++)); do
  if [ "${!i}" = "--devices" ]; then j=$((i + 1)); DEVICES="${!j}"; fi
done
"$ROOT/edgefleet" --version >/dev/null   # builds the distribution (controller, simulator) on first use
CP="$(mktemp /tmp/edgefleet-bench-cp-XXXXXX)"
trap 'rm -f "$CP"' EXIT
# Built inside the reactor (nothing is installed to ~/.m2); the last module (bench) writes the
# class path last.
./mvnw -q -B -o -pl bench -am package dependency:build-classpath -DskipTests -Dconsole.skip=true \
  -Djacoco.skip=true -Dspotless.check.skip=true -Dmdep.outputFile="$CP" -Dmdep.includeScope=runtime
# shellcheck source=../bin/find-jdk.sh
. "$ROOT/bin/find-jdk.sh"
edgefleet_find_jdk
ulimit -n 1048576 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
echo "open files limit: $(ulimit -n)"
OUT="$ROOT/bench/results/scale-replicas-$DEVICES-$(date -u +%Y%m%d).json"
"$JAVA_HOME/bin/java" -XX:+UseSerialGC -Xmx256m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn \
  -cp "$ROOT/bench/target/classes:$(cat "$CP")" io.edgefleet.bench.ReplicaBench \
  --root "$ROOT" --out "$OUT" "$@"
