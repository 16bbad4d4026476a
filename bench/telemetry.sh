#!/usr/bin/env bash
# Telemetry figures: outbox bytes per device per day at the default cadence (on disk, and as
# WebSocket payload in JSON and in the compact form), the forms decision 0013 weighed, TLS bytes per
# summary exchange through a counting proxy, what saving the open window costs, and the
# controller's cost of ingesting one summary and three events from each of N devices
# (io.edgefleet.bench.TelemetryBench).
#
#   bench/telemetry.sh [--devices N=1000] [--rounds R=5] [--postgres]
#
# Prints a report; takes a few minutes. Builds inside the reactor (nothing is installed to ~/.m2).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
CP="$(mktemp /tmp/edgefleet-bench-cp-XXXXXX)"
trap 'rm -f "$CP"' EXIT
# Formatting checks belong to `verify`, not to running a benchmark. The last module of the reactor
# (bench) writes the class path last, with its siblings' jars from this build.
./mvnw -q -B -pl bench -am package dependency:build-classpath -DskipTests \
  -Dspotless.check.skip=true -Dmdep.outputFile="$CP" -Dmdep.includeScope=runtime
# shellcheck source=../bin/find-jdk.sh
. "$ROOT/bin/find-jdk.sh"
edgefleet_find_jdk
exec "$JAVA_HOME/bin/java" -XX:+UseG1GC -XX:MaxRAMPercentage=50 \
  -Dorg.slf4j.simpleLogger.defaultLogLevel=warn \
  -cp "$ROOT/bench/target/classes:$(cat "$CP")" io.edgefleet.bench.TelemetryBench "$@"
