#!/usr/bin/env bash
# What one hostile alert receiver costs the controller (io.edgefleet.bench.HostileReceiverBench):
# a real controller process notifies two webhook receivers of the same alert, one hostile, one
# healthy; reports the controller's RSS before, at its peak and after, how long the healthy
# receiver waited, and how many alert evaluations completed meanwhile.
#
#   bench/hostile-receiver.sh [--hostile huge|drip] [--body-mb N=300] [--drip-seconds N=90]
#                             [--window S=20] [--compare REV]
#
# huge: the hostile receiver answers 500 with a body of N MiB, written as fast as the socket
#       takes it.
# drip: it answers 500 with a body of N bytes, one per second.
# --compare REV: first the same run against the distribution of git revision REV (exported with
#       `git archive` into a temporary directory and built there), then against this checkout's.
#
# The controller runs from a distribution directory (launcher/target/dist) with the launcher's
# controller flags and --alert-interval 1s; the receivers and one enrolling agent run in the
# benchmark's JVM. Everything is built inside the Maven reactor: nothing is installed into ~/.m2.
# Writes bench/results/hostile-receiver-<mode>-<label>-<date>.json; takes 1-5 minutes per run.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
COMPARE=""
ARGS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --compare) COMPARE="$2"; shift 2 ;;
    --hostile|--body-mb|--drip-seconds|--window) ARGS+=("$1" "$2"); shift 2 ;;
    *) echo "usage: bench/hostile-receiver.sh [--hostile huge|drip] [--body-mb N] [--drip-seconds N] [--window S] [--compare REV]" >&2; exit 2 ;;
  esac
done
"$ROOT/edgefleet" --version >/dev/null   # builds launcher/target/dist when sources changed
CP="$(mktemp /tmp/edgefleet-bench-cp-XXXXXX)"
BASE=""
cleanup() { rm -f "$CP"; [ -z "$BASE" ] || rm -rf "$BASE"; }
trap cleanup EXIT
# One reactor run packages the modules and writes each one's classpath to the same file; the
# bench module comes last, so the file ends up holding its classpath (reactor jars, not ~/.m2).
./mvnw -q -B -pl bench -am package dependency:build-classpath -DskipTests \
  -Dspotless.check.skip=true -Dmdep.outputFile="$CP" -Dmdep.includeScope=runtime
# shellcheck source=../bin/find-jdk.sh
. "$ROOT/bin/find-jdk.sh"
edgefleet_find_jdk
run() {
  "$JAVA_HOME/bin/java" -XX:+UseSerialGC -Xmx512m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn \
    -cp "$ROOT/bench/target/classes:$(cat "$CP")" io.edgefleet.bench.HostileReceiverBench \
    --root "$ROOT" "$@" "${ARGS[@]}"
}
if [ -n "$COMPARE" ]; then
  REV="$(git rev-parse --short "$COMPARE")"
  BASE="$(mktemp -d /tmp/edgefleet-base-XXXXXX)"
  echo "building the distribution of $COMPARE ($REV) in $BASE..."
  git archive "$REV" | tar -x -C "$BASE"
  "$BASE/edgefleet" --version >/dev/null
  run --dist "$BASE/launcher/target/dist" --label "$REV"
fi
run --dist "$ROOT/launcher/target/dist" --label "$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . || echo -dirty)"
