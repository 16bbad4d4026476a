#!/usr/bin/env bash
# Enrollment benchmark (io.edgefleet.bench.EnrollmentBench): the controller's CPU per device
# enrollment. A controller process (SQLite by default, PostgreSQL with --postgres) answers a warm-up
# of enrollments, then N more are timed; requests (keys, CSRs) are built beforehand and sent over
# kept-alive TLS connections, so the figure excludes the TLS handshake (bench/tls-handshake.sh).
#
#   bench/enrollment.sh [--devices N=5000] [--warmup N=2000] [--concurrency N=8] [--postgres]
#                       [--out FILE]
#
# Writes bench/results/enrollment-<database>-DATE.json unless --out is given.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
WORK="$(mktemp -d /tmp/enrollment-bench.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT INT TERM
CP="$WORK/classpath"
echo "[enrollment] building (bench and what it needs)"
./mvnw -q -B -o -pl bench -am package dependency:build-classpath -DskipTests -Dconsole.skip=true \
  -Djacoco.skip=true -Dspotless.check.skip=true -Dmdep.outputFile="$CP" -Dmdep.includeScope=runtime >/dev/null
# shellcheck source=../bin/find-jdk.sh
. "$ROOT/bin/find-jdk.sh"
edgefleet_find_jdk
DB=sqlite
OUT=
for ((i = 1; i <= $#; i++)); do
  if [ "${!i}" = "--postgres" ]; then DB=postgresql; fi
  if [ "${!i}" = "--out" ]; then OUT="given"; fi
done
ARGS=("$@")
if [ -z "$OUT" ]; then
  ARGS+=(--out "$ROOT/bench/results/enrollment-$DB-$(date -u +%Y%m%d).json")
fi
# The test class path holds the controller: ControllerProcess starts it from there.
"$JAVA_HOME/bin/java" -XX:+UseSerialGC -Xmx1g -Dorg.slf4j.simpleLogger.defaultLogLevel=warn \
  -cp "$ROOT/bench/target/classes:$(cat "$CP")" io.edgefleet.bench.EnrollmentBench "${ARGS[@]}"
