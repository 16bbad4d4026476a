#!/usr/bin/env bash
# JMH micro-benchmarks of the hot paths (io.edgefleet.bench.jmh): Ed25519 sign/verify of a
# desired-state document, selector matching, WebSocket message encode/decode, presence flush of
# 10k/100k devices into SQLite, desired-state recompute of one device with five apps.
#
#   bench/jmh.sh [REGEX] [more JMH options]     e.g. bench/jmh.sh Selector   bench/jmh.sh '' -prof gc
#
# Defaults: 1 fork, 3 warm-up iterations of 1 s, 5 measurements of 1 s, JVM flags of the controller
# (-XX:+UseG1GC -XX:MaxRAMPercentage=50; forks inherit them). Writes bench/results/jmh-<date>.json
# (JMH's JSON) and prints JMH's table. The whole set takes about 6 minutes.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
REGEX="${1:-io.edgefleet.bench.jmh}"
[ -n "$REGEX" ] || REGEX="io.edgefleet.bench.jmh"
shift || true
# Formatting checks belong to `verify`, not to running a benchmark.
./mvnw -q -B -pl bench -am install -DskipTests -Dspotless.check.skip=true
CP="$(mktemp /tmp/edgefleet-bench-cp-XXXXXX)"
trap 'rm -f "$CP"' EXIT
./mvnw -q -B -pl bench dependency:build-classpath -Dmdep.outputFile="$CP" -Dmdep.includeScope=runtime
# shellcheck source=../bin/find-jdk.sh
. "$ROOT/bin/find-jdk.sh"
edgefleet_find_jdk
mkdir -p "$ROOT/bench/results"
OUT="$ROOT/bench/results/jmh-$(date -u +%Y%m%d).json"
"$JAVA_HOME/bin/java" -version 2>&1 | sed -n 2p
exec "$JAVA_HOME/bin/java" -XX:+UseG1GC -XX:MaxRAMPercentage=50 \
  -Dorg.slf4j.simpleLogger.defaultLogLevel=warn \
  -cp "$ROOT/bench/target/classes:$(cat "$CP")" org.openjdk.jmh.Main \
  -f 1 -wi 3 -w 1s -i 5 -r 1s -rf json -rff "$OUT" "$REGEX" "$@"
