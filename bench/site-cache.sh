#!/usr/bin/env bash
# Site cache benchmark (io.edgefleet.bench.SiteCacheBench): a controller and a site of three real
# agents in one process on this machine, all three needing the same artifact (100 MB of random
# bytes by default). Run once without a site cache (each device fetches from the controller) and
# once with one (the device tagged edgefleet.io/site-cache=true fetches it, its two neighbours fetch
# from it over HTTPS). Prints the WAN bytes of each run - the artifact bytes the controller's device
# route sent, from its /metrics (edgefleet_device_artifact_bytes_total) - and the time until all
# three held it verified; writes bench/results/site-cache-<date>.json.
#
#   bench/site-cache.sh [--mib M]
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
CP="$(mktemp /tmp/edgefleet-bench-cp-XXXXXX)"
trap 'rm -f "$CP"' EXIT
./mvnw -o -q -B -pl bench -am package dependency:build-classpath -DskipTests \
  -Dspotless.check.skip=true -Dconsole.skip=true -Djacoco.skip=true -Dmdep.outputFile="$CP" \
  -Dmdep.includeScope=runtime
# shellcheck source=../bin/find-jdk.sh
. "$ROOT/bin/find-jdk.sh"
edgefleet_find_jdk
OUT="$ROOT/bench/results/site-cache-$(date -u +%Y%m%d).json"
"$JAVA_HOME/bin/java" -Xmx1g -Dorg.slf4j.simpleLogger.defaultLogLevel=warn \
  -cp "$ROOT/bench/target/classes:$(cat "$CP")" io.edgefleet.bench.SiteCacheBench \
  --out "$OUT" "$@"
