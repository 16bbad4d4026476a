#!/usr/bin/env bash
# Telemetry figures: outbox bytes per device per day at the default cadence (on disk and as JSON on
# the socket), TLS bytes per summary exchange through a counting proxy, and the controller's cost of
# ingesting one summary and three events from each of N devices (io.edgefleet.bench.TelemetryBench).
#
#   bench/telemetry.sh [--devices N=1000] [--rounds R=5] [--postgres]
#
# Prints a report; takes about a minute.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
# Formatting checks belong to `verify`, not to running a benchmark.
./mvnw -q -B -pl bench -am install -DskipTests -Dspotless.check.skip=true
CP="$(mktemp /tmp/edgefleet-bench-cp-XXXXXX)"
trap 'rm -f "$CP"' EXIT
./mvnw -q -B -pl bench dependency:build-classpath -Dmdep.outputFile="$CP" -Dmdep.includeScope=runtime
# shellcheck source=../bin/find-jdk.sh
. "$ROOT/bin/find-jdk.sh"
edgefleet_find_jdk
exec "$JAVA_HOME/bin/java" -XX:+UseG1GC -XX:MaxRAMPercentage=50 \
  -Dorg.slf4j.simpleLogger.defaultLogLevel=warn \
  -cp "$ROOT/bench/target/classes:$(cat "$CP")" io.edgefleet.bench.TelemetryBench "$@"
