#!/usr/bin/env bash
# The TLS handshake benchmark (io.edgefleet.bench.tls.TlsHandshakeBench): the controller's CPU per
# device connection (server-side thread CPU time), full and resumed TLS 1.3 mutual-TLS handshakes,
# with the JDK's JSSE, Conscrypt (BoringSSL) as the JSSE provider, and netty-tcnative (BoringSSL)
# through Netty's OpenSSL engine; whether session tickets resume on another server context (a
# replica, or the controller after a restart); and the public-key operations alone.
#
#   bench/tls-handshake.sh [--rounds N] [--per-round N] [--warmup-rounds N] [--devices N] [--out FILE]
#
# In-process, no network. Writes bench/results/tls-handshake-DATE.json unless --out is given.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
say() { printf '[tls-handshake %s] %s\n' "$(date +%H:%M:%S)" "$*"; }

WORK="$(mktemp -d /tmp/tls-handshake-bench.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT INT TERM
CP="$WORK/classpath"
say "building (bench and what it needs)"
./mvnw -q -B -o -pl bench -am package dependency:build-classpath -DskipTests -Dconsole.skip=true \
  -Djacoco.skip=true -Dspotless.check.skip=true -Dmdep.outputFile="$CP" -Dmdep.includeScope=runtime >/dev/null

# shellcheck source=../bin/find-jdk.sh
. "$ROOT/bin/find-jdk.sh"
edgefleet_find_jdk
say "running TlsHandshakeBench $*"
# The controller's flags (G1, heap from the machine); native access for Conscrypt and netty-tcnative.
"$JAVA_HOME/bin/java" -XX:+UseG1GC -XX:MaxRAMPercentage=50 --enable-native-access=ALL-UNNAMED \
  -Dorg.slf4j.simpleLogger.defaultLogLevel=warn \
  -cp "$ROOT/bench/target/classes:$(cat "$CP")" io.edgefleet.bench.tls.TlsHandshakeBench "$@"
