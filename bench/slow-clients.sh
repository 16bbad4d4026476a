#!/usr/bin/env bash
# Slow-client benchmark: a controller process from this tree's distribution, /healthz probed on
# fresh TLS connections every 200 ms (10 s timeout) for 10 s without load, then while N clients
# (default 500) each announce a 60,000-byte enrollment body and send one byte every 5 s
# (io.edgefleet.bench.SlowClientsBench).
#
#   bench/slow-clients.sh [--clients N] [--seconds S] [--root DIR]
#
# --root measures the distribution of another checkout (built with its ./edgefleet first), for a
# before/after comparison with the same client. Writes bench/results/slow-clients-<date>.json.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
TARGET="$ROOT"
for ((i = 1; i <= $#; i++)); do
  if [ "${!i}" = "--root" ]; then j=$((i + 1)); TARGET="$(cd "${!j}" && pwd)"; fi
done
"$TARGET/edgefleet" --version >/dev/null   # builds that distribution on first use
./mvnw -q -B -pl bench -am install -DskipTests -Dspotless.check.skip=true
CP="$(mktemp /tmp/edgefleet-bench-cp-XXXXXX)"
trap 'rm -f "$CP"' EXIT
./mvnw -q -B -pl bench dependency:build-classpath -Dmdep.outputFile="$CP" -Dmdep.includeScope=runtime
# shellcheck source=../bin/find-jdk.sh
. "$ROOT/bin/find-jdk.sh"
edgefleet_find_jdk
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
ARGS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --root) shift 2 ;;
    *) ARGS+=("$1"); shift ;;
  esac
done
OUT="$ROOT/bench/results/slow-clients-$(date -u +%Y%m%d-%H%M%S).json"
"$JAVA_HOME/bin/java" -XX:+UseSerialGC -Xmx512m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn \
  -cp "$ROOT/bench/target/classes:$(cat "$CP")" io.edgefleet.bench.SlowClientsBench \
  --root "$TARGET" --out "$OUT" "${ARGS[@]}"
echo "wrote $OUT"
